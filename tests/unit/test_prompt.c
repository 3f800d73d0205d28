#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prompt.h"

/* A literal and its length, NUL bytes inside included. */
#define BYTES(s) s, sizeof(s) - 1

/* ---- names ---- */

static enum prompt_name_kind classify(const char *filename, char *name,
				      size_t namelen, char *err)
{
	return prompt_classify_name(filename, name, namelen, err, 256);
}

Test(prompt_name, plain_prompt_submits)
{
	char name[256], err[256];

	cr_assert_eq(classify("job.prompt", name, sizeof(name), err), PROMPT_NAME_PROMPT);
	cr_assert_str_eq(name, "job");
	cr_assert_eq(classify("cat piano.prompt", name, sizeof(name), err), PROMPT_NAME_PROMPT);
	cr_assert_str_eq(name, "cat piano");
	cr_assert_eq(classify("a.prompt.prompt", name, sizeof(name), err), PROMPT_NAME_PROMPT);
	cr_assert_str_eq(name, "a.prompt");
	cr_assert_eq(classify("x", name, sizeof(name), err), PROMPT_NAME_SCRATCH);
	cr_assert_eq(classify("café.prompt", name, sizeof(name), err), PROMPT_NAME_PROMPT);
	cr_assert_str_eq(name, "café");
	cr_assert_eq(classify("newer.prompt", name, sizeof(name), err), PROMPT_NAME_PROMPT);
	cr_assert_str_eq(name, "newer");
	cr_assert_eq(classify("a.b.prompt", name, sizeof(name), err), PROMPT_NAME_PROMPT);
	cr_assert_str_eq(name, "a.b");
}

Test(prompt_name, scratch_names)
{
	static const char *const scratch[] = {
		"4913", ".job.prompt.swp", "job.prompt~", ".goutputstream-ABC",
		"job.prompt.tmp", "notes.txt", "x.PROMPT", "x.Prompt", "prompt",
		"job.error", "", ".prompt.swp", "#job.prompt#", "job.prompt ",
		"job.promp", ".#job.prompt.1234", "job.prompt.bak",
		NULL,
	};
	char name[64], err[256];

	for (int i = 0; scratch[i]; i++) {
		strcpy(name, "junk");
		strcpy(err, "junk");
		cr_assert_eq(classify(scratch[i], name, sizeof(name), err),
			     PROMPT_NAME_SCRATCH, "'%s'", scratch[i]);
		cr_assert_str_eq(name, "");
		cr_assert_str_eq(err, "");
	}
	cr_assert_eq(classify(NULL, name, sizeof(name), err), PROMPT_NAME_SCRATCH);
}

static void assert_refused(const char *filename, const char *reason)
{
	char name[300], err[256];

	strcpy(name, "junk");
	cr_assert_eq(classify(filename, name, sizeof(name), err),
		     PROMPT_NAME_REFUSED, "'%s'", filename);
	cr_assert_str_eq(err, reason, "'%s': %s", filename, err);
	cr_assert_str_eq(name, "");
}

Test(prompt_name, refused_names)
{
	assert_refused(".prompt", "task name is empty");
	assert_refused("new.prompt", "task name 'new' is reserved");
	assert_refused(".job.prompt", "task names may not start with '.'");
	assert_refused("..prompt", "task names may not start with '.'");
	assert_refused("...prompt", "task names may not start with '.'");
	assert_refused("a\nb.prompt", "task names may not contain control characters");
	assert_refused("job\n.prompt", "task names may not contain control characters");
	assert_refused("a\tb.prompt", "task names may not contain control characters");
	assert_refused("a\rb.prompt", "task names may not contain control characters");
	assert_refused("\x01.prompt", "task names may not contain control characters");
	assert_refused("a\x7f.prompt", "task names may not contain control characters");
	assert_refused("a\x1b[31m.prompt", "task names may not contain control characters");
	assert_refused("a/b.prompt", "task names may not contain '/'");
}

Test(prompt_name, new_is_case_sensitive)
{
	char name[64], err[256];

	cr_assert_eq(classify("New.prompt", name, sizeof(name), err), PROMPT_NAME_PROMPT);
	cr_assert_str_eq(name, "New");
}

Test(prompt_name, long_names)
{
	char filename[256], name[256], err[256];

	/* The longest file name Linux allows: the task name is 248 bytes. */
	memset(filename, 'a', 248);
	strcpy(filename + 248, ".prompt");
	cr_assert_eq(strlen(filename), 255);
	cr_assert_eq(classify(filename, name, sizeof(name), err), PROMPT_NAME_PROMPT);
	cr_assert_eq(strlen(name), 248);
	cr_assert_eq(memcmp(name, filename, 248), 0);

	/* A buffer one byte short of the name and its NUL refuses. */
	cr_assert_eq(classify(filename, name, 248, err), PROMPT_NAME_REFUSED);
	cr_assert_str_eq(err, "task name is too long");
	cr_assert_eq(classify(filename, name, 249, err), PROMPT_NAME_PROMPT);
	cr_assert_eq(classify("job.prompt", NULL, 0, err), PROMPT_NAME_REFUSED);
}

Test(prompt_name, err_buffer_optional)
{
	char name[64];

	cr_assert_eq(prompt_classify_name("new.prompt", name, sizeof(name), NULL, 0),
		     PROMPT_NAME_REFUSED);
	cr_assert_eq(prompt_classify_name("x.prompt", name, sizeof(name), NULL, 0),
		     PROMPT_NAME_PROMPT);
}

/* ---- value checks ---- */

Test(prompt_values, booleans)
{
	static const char *const yes[] = { "true", "TRUE", "True", "yes", "YES",
					   "on", "On", "1", NULL };
	static const char *const no[] = { "false", "FALSE", "no", "No", "off",
					  "OFF", "0", NULL };
	static const char *const neither[] = { "", "2", "y", "n", "t", "f",
					       " true", "true ", "enable",
					       "-1", "01", NULL };

	for (int i = 0; yes[i]; i++)
		cr_assert_eq(prompt_parse_bool(yes[i]), 1, "%s", yes[i]);
	for (int i = 0; no[i]; i++)
		cr_assert_eq(prompt_parse_bool(no[i]), 0, "%s", no[i]);
	for (int i = 0; neither[i]; i++)
		cr_assert_eq(prompt_parse_bool(neither[i]), -1, "%s", neither[i]);
	cr_assert_eq(prompt_parse_bool(NULL), -1);
}

Test(prompt_values, models)
{
	static const char *const known[] = {
		"veo-3.1", "veo-3.1-fl", "veo-3.1-fast", "veo-3.1-fast-fl",
		"veo-3.1-landscape", "veo-3.1-landscape-fl",
		"veo-3.1-landscape-fast", "veo-3.1-landscape-fast-fl", NULL,
	};

	for (int i = 0; known[i]; i++)
		cr_assert(prompt_model_known(known[i]), "%s", known[i]);
	cr_assert_not(prompt_model_known("veo-4"));
	cr_assert_not(prompt_model_known("VEO-3.1"));
	cr_assert_not(prompt_model_known(""));
	cr_assert_not(prompt_model_known(NULL));
}

Test(prompt_values, seconds_and_sizes)
{
	cr_assert(prompt_seconds_valid("4"));
	cr_assert(prompt_seconds_valid("6"));
	cr_assert(prompt_seconds_valid("8"));
	cr_assert(prompt_seconds_valid("12"));
	cr_assert_not(prompt_seconds_valid("8s"));
	cr_assert_not(prompt_seconds_valid("08"));
	cr_assert_not(prompt_seconds_valid("10"));
	cr_assert_not(prompt_seconds_valid(""));
	cr_assert_not(prompt_seconds_valid(NULL));

	cr_assert(prompt_size_valid("16x9"));
	cr_assert(prompt_size_valid("9x16"));
	cr_assert(prompt_size_valid("1280x720"));
	cr_assert(prompt_size_valid("720x1280"));
	cr_assert(prompt_size_valid("1024x1792"));
	cr_assert(prompt_size_valid("1792x1024"));
	cr_assert_not(prompt_size_valid("16:9"));
	cr_assert_not(prompt_size_valid("1920x1080"));
	cr_assert_not(prompt_size_valid("1280X720"));
	cr_assert_not(prompt_size_valid(""));
	cr_assert_not(prompt_size_valid(NULL));
}

/* ---- parsing ---- */

struct parsed {
	struct prompt_spec spec;
	int rc;
	char warn[256];
	char err[256];
};

static struct parsed parse_bytes(const char *buf, size_t len)
{
	struct parsed p;

	memset(p.warn, 'x', sizeof(p.warn) - 1);
	p.warn[sizeof(p.warn) - 1] = '\0';
	strcpy(p.err, "stale");
	p.rc = prompt_parse(buf, len, &p.spec, p.warn, sizeof(p.warn),
			    p.err, sizeof(p.err));
	return p;
}

static struct parsed parse(const char *text)
{
	return parse_bytes(text, strlen(text));
}

static void assert_ok(struct parsed *p, const char *text)
{
	cr_assert_eq(p->rc, 0, "rejected: %s", p->err);
	cr_assert_str_eq(p->err, "");
	cr_assert_str_eq(p->spec.text, text);
}

static void assert_fails(const char *input, const char *reason)
{
	struct parsed p = parse(input);

	cr_assert_eq(p.rc, -1, "accepted: '%s'", input);
	cr_assert_str_eq(p.err, reason, "'%s' gave '%s'", input, p.err);
	cr_assert_null(p.spec.text);
	cr_assert_null(p.spec.model);
	cr_assert_null(p.spec.seconds);
	cr_assert_null(p.spec.size);
	cr_assert_null(p.spec.image);
	cr_assert_eq(p.spec.watermark, -1);
	cr_assert_null(p.spec.resolution);
	cr_assert_null(p.spec.negative_prompt);
	prompt_spec_free(&p.spec);
}

Test(prompt_parse, plain_text)
{
	struct parsed p = parse("cat piano\n");

	assert_ok(&p, "cat piano");
	cr_assert_str_eq(p.warn, "");
	cr_assert_null(p.spec.model);
	cr_assert_null(p.spec.seconds);
	cr_assert_null(p.spec.size);
	cr_assert_null(p.spec.image);
	cr_assert_eq(p.spec.watermark, -1);
	prompt_spec_free(&p.spec);
	cr_assert_null(p.spec.text);
	prompt_spec_free(&p.spec);
}

Test(prompt_parse, text_is_trimmed_inside_kept)
{
	struct parsed p = parse("\n\n  \tA cow.\n\n  It dances.  \n\n\n");

	assert_ok(&p, "A cow.\n\n  It dances.");
	prompt_spec_free(&p.spec);
}

Test(prompt_parse, full_front_matter)
{
	struct parsed p = parse("---\n"
				"model: veo-3.1-fast\n"
				"seconds: 8\n"
				"size: 9x16\n"
				"image: /home/me/cow.png\n"
				"watermark: false\n"
				"---\n"
				"A cheerful cow doing the Kemusan dance\n");

	assert_ok(&p, "A cheerful cow doing the Kemusan dance");
	/* The provider's own spelling is sent, with a word in the log. */
	cr_assert(strstr(p.warn, "outside OpenAI's spec"), "%s", p.warn);
	cr_assert_str_eq(p.spec.model, "veo-3.1-fast");
	cr_assert_str_eq(p.spec.seconds, "8");
	cr_assert_str_eq(p.spec.size, "9x16");
	cr_assert_str_eq(p.spec.image, "/home/me/cow.png");
	cr_assert_eq(p.spec.watermark, 0);
	prompt_spec_free(&p.spec);
}

Test(prompt_parse, front_matter_spacing_comments_quotes)
{
	struct parsed p = parse("---   \n"
				"# options for this take\n"
				"\n"
				"   model   :   \"veo-3.1\"   \n"
				"  # indented comment\n"
				"seconds: '12'\n"
				"size:1792x1024\n"
				"image: https://example.com/a:b.png?x=1\n"
				"watermark: YES\n"
				"---\t\n"
				"text");

	assert_ok(&p, "text");
	cr_assert_str_eq(p.spec.model, "veo-3.1");
	cr_assert_str_eq(p.spec.seconds, "12");
	cr_assert_str_eq(p.spec.size, "1792x1024");
	cr_assert_str_eq(p.spec.image, "https://example.com/a:b.png?x=1");
	cr_assert_eq(p.spec.watermark, 1);
	prompt_spec_free(&p.spec);
}

Test(prompt_parse, quoted_image_keeps_inner_spaces)
{
	struct parsed p = parse("---\nimage: \" /tmp/my cow.png \"\n---\nx");

	assert_ok(&p, "x");
	cr_assert_str_eq(p.spec.image, " /tmp/my cow.png ");
	prompt_spec_free(&p.spec);
}

Test(prompt_parse, unmatched_quotes_are_kept)
{
	struct parsed p = parse("---\nimage: \"/tmp/cow.png'\n---\nx");

	assert_ok(&p, "x");
	cr_assert_str_eq(p.spec.image, "\"/tmp/cow.png'");
	prompt_spec_free(&p.spec);
}

Test(prompt_parse, empty_front_matter)
{
	struct parsed p = parse("---\n---\nhello");

	assert_ok(&p, "hello");
	cr_assert_null(p.spec.model);
	prompt_spec_free(&p.spec);
}

Test(prompt_parse, closing_fence_at_end_without_newline)
{
	assert_fails("---\nseconds: 4\n---", "prompt is empty");
	assert_fails("---\nseconds: 4\n---\n\n  \n", "prompt is empty");
}

Test(prompt_parse, crlf)
{
	struct parsed p = parse("---\r\n"
				"model: veo-3.1-landscape\r\n"
				"seconds: 6\r\n"
				"watermark: on\r\n"
				"---\r\n"
				"line one\r\n"
				"line two\r\n");

	assert_ok(&p, "line one\nline two");
	cr_assert_str_eq(p.spec.model, "veo-3.1-landscape");
	cr_assert_str_eq(p.spec.seconds, "6");
	cr_assert_eq(p.spec.watermark, 1);
	prompt_spec_free(&p.spec);
}

Test(prompt_parse, bom)
{
	struct parsed p = parse("\xef\xbb\xbf---\nsize: 16x9\n---\nhi");

	assert_ok(&p, "hi");
	cr_assert_str_eq(p.spec.size, "16x9");
	prompt_spec_free(&p.spec);

	p = parse("\xef\xbb\xbfplain");
	assert_ok(&p, "plain");
	prompt_spec_free(&p.spec);

	p = parse("\xef\xbb\xbf\r\n---\r\nsize: 16x9\r\n---\r\nhi\r\n");
	assert_ok(&p, "---\nsize: 16x9\n---\nhi");
	cr_assert_null(p.spec.size);
	prompt_spec_free(&p.spec);

	assert_fails("\xef\xbb\xbf", "prompt is empty");
}

Test(prompt_parse, not_front_matter_unless_first_line)
{
	struct parsed p = parse("\n---\nmodel: veo-3.1\n---\ntext");

	assert_ok(&p, "---\nmodel: veo-3.1\n---\ntext");
	cr_assert_null(p.spec.model);
	prompt_spec_free(&p.spec);

	p = parse(" ---\nmodel: x\n---\ntext");
	assert_ok(&p, "---\nmodel: x\n---\ntext");
	prompt_spec_free(&p.spec);

	p = parse("----\nmodel: x\n----\ntext");
	assert_ok(&p, "----\nmodel: x\n----\ntext");
	cr_assert_null(p.spec.model);
	prompt_spec_free(&p.spec);

	p = parse("--- title\ntext");
	assert_ok(&p, "--- title\ntext");
	prompt_spec_free(&p.spec);
}

Test(prompt_parse, second_block_is_text)
{
	struct parsed p = parse("---\nseconds: 4\n---\n---\nseconds: 8\n---\nhi");

	assert_ok(&p, "---\nseconds: 8\n---\nhi");
	cr_assert_str_eq(p.spec.seconds, "4");
	prompt_spec_free(&p.spec);

	p = parse("---\n---\nmodel: nope\n---\n");
	assert_ok(&p, "model: nope\n---");
	cr_assert_null(p.spec.model);
	prompt_spec_free(&p.spec);
}

Test(prompt_parse, fence_with_trailing_space_closes)
{
	struct parsed p = parse("---\nseconds: 12\n--- \t \r\nbody\n");

	assert_ok(&p, "body");
	cr_assert_str_eq(p.spec.seconds, "12");
	prompt_spec_free(&p.spec);
}

Test(prompt_parse, unterminated)
{
	assert_fails("---", "front matter is not closed with ---");
	assert_fails("---\n", "front matter is not closed with ---");
	assert_fails("---\r\n", "front matter is not closed with ---");
	assert_fails("---\nmodel: veo-3.1\nA cow dancing\n",
		     "front matter line 3: expected 'key: value'");
	assert_fails("---\nmodel: veo-3.1\n", "front matter is not closed with ---");
	assert_fails("---\nmodel: veo-3.1\n# no end\n\n",
		     "front matter is not closed with ---");
	assert_fails("---\nmodel: veo-3.1\n ---\n",
		     "front matter line 3: expected 'key: value'");
	assert_fails("---\nmodel: veo-3.1\n----\n",
		     "front matter line 3: expected 'key: value'");
}

Test(prompt_parse, unknown_keys)
{
	assert_fails("---\nfoo: bar\n---\nx",
		     "unknown front matter key 'foo' (known: model, seconds, size, image, watermark, resolution, negative_prompt)");
	assert_fails("---\nModel: veo-3.1\n---\nx",
		     "unknown front matter key 'Model' (known: model, seconds, size, image, watermark, resolution, negative_prompt)");
	assert_fails("---\nduration: 8\n---\nx",
		     "unknown front matter key 'duration' (known: model, seconds, size, image, watermark, resolution, negative_prompt)");
	assert_fails("---\nprompt: hi\n---\nx",
		     "unknown front matter key 'prompt' (known: model, seconds, size, image, watermark, resolution, negative_prompt)");
	assert_fails("---\nmy key: 1\n---\nx",
		     "unknown front matter key 'my key' (known: model, seconds, size, image, watermark, resolution, negative_prompt)");
}

Test(prompt_parse, unknown_key_is_quoted_safely)
{
	char input[400];
	struct parsed p;

	strcpy(input, "---\n");
	memset(input + 4, 'k', 200);
	strcpy(input + 204, ": v\n---\nx");
	p = parse(input);
	cr_assert_eq(p.rc, -1);
	cr_assert(strstr(p.err, "unknown front matter key 'kkkk"), "%s", p.err);
	cr_assert(strstr(p.err, "...' (known: "), "%s", p.err);
	cr_assert_lt(strlen(p.err), 200);

	p = parse("---\na\x01" "b: 1\n---\nx");
	cr_assert_eq(p.rc, -1);
	cr_assert_str_eq(p.err, "unknown front matter key 'a?b' (known: model, seconds, size, image, watermark, resolution, negative_prompt)");
}

Test(prompt_parse, repeated_keys)
{
	assert_fails("---\nseconds: 4\nseconds: 4\n---\nx",
		     "front matter key 'seconds' is repeated (line 3)");
	assert_fails("---\nmodel: veo-3.1\nsize: 16x9\n\nmodel: veo-3.1\n---\nx",
		     "front matter key 'model' is repeated (line 5)");
	assert_fails("---\nwatermark: no\nwatermark: no\n---\nx",
		     "front matter key 'watermark' is repeated (line 3)");
	assert_fails("---\nimage: a.png\nimage: b.png\n---\nx",
		     "front matter key 'image' is repeated (line 3)");
	assert_fails("---\nsize: 9x16\nsize: 9x16\n---\nx",
		     "front matter key 'size' is repeated (line 3)");
}

Test(prompt_parse, line_without_colon)
{
	assert_fails("---\nmodel veo-3.1\n---\nx",
		     "front matter line 2: expected 'key: value'");
	assert_fails("---\r\n# c\r\n\r\nseconds 8\r\n---\r\nx",
		     "front matter line 4: expected 'key: value'");
	assert_fails("---\n: 8\n---\nx", "front matter line 2: expected 'key: value'");
	assert_fails("\xef\xbb\xbf---\nwhat\n---\nx",
		     "front matter line 2: expected 'key: value'");
}

Test(prompt_parse, bad_seconds)
{
	assert_fails("---\nseconds: 10\n---\nx", "seconds must be 4, 6, 8 or 12, not '10'");
	assert_fails("---\nseconds: 8s\n---\nx", "seconds must be 4, 6, 8 or 12, not '8s'");
	assert_fails("---\nseconds: 8.0\n---\nx", "seconds must be 4, 6, 8 or 12, not '8.0'");
	assert_fails("---\nseconds:\n---\nx", "seconds must be 4, 6, 8 or 12, not ''");
	assert_fails("---\nseconds: ''\n---\nx", "seconds must be 4, 6, 8 or 12, not ''");
	assert_fails("---\nseconds: -8\n---\nx", "seconds must be 4, 6, 8 or 12, not '-8'");
}

Test(prompt_parse, good_seconds)
{
	static const char *const ok[] = { "4", "6", "8", "12", NULL };
	char input[64];

	for (int i = 0; ok[i]; i++) {
		struct parsed p;

		snprintf(input, sizeof(input), "---\nseconds: %s\n---\nx", ok[i]);
		p = parse(input);
		assert_ok(&p, "x");
		cr_assert_str_eq(p.spec.seconds, ok[i]);
		prompt_spec_free(&p.spec);
	}
}

Test(prompt_parse, sizes)
{
	static const char *const ok[] = { "16x9", "9x16", "1280x720", "720x1280",
					  "1024x1792", "1792x1024", NULL };
	char input[64];

	for (int i = 0; ok[i]; i++) {
		struct parsed p;

		snprintf(input, sizeof(input), "---\nsize: \"%s\"\n---\nx", ok[i]);
		p = parse(input);
		assert_ok(&p, "x");
		cr_assert_str_eq(p.spec.size, ok[i]);
		prompt_spec_free(&p.spec);
	}
	assert_fails("---\nsize: 16:9\n---\nx",
		     "size must be one of 16x9, 9x16, 1280x720, 720x1280, 1024x1792, 1792x1024, not '16:9'");
	assert_fails("---\nsize: 1920x1080\n---\nx",
		     "size must be one of 16x9, 9x16, 1280x720, 720x1280, 1024x1792, 1792x1024, not '1920x1080'");
	assert_fails("---\nsize:\n---\nx",
		     "size must be one of 16x9, 9x16, 1280x720, 720x1280, 1024x1792, 1792x1024, not ''");
}

Test(prompt_parse, watermark_values)
{
	static const struct { const char *v; int want; } cases[] = {
		{ "true", 1 }, { "False", 0 }, { "yes", 1 }, { "no", 0 },
		{ "on", 1 }, { "OFF", 0 }, { "1", 1 }, { "0", 0 }, { "'no'", 0 },
	};
	char input[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct parsed p;

		snprintf(input, sizeof(input), "---\nwatermark: %s\n---\nx", cases[i].v);
		p = parse(input);
		assert_ok(&p, "x");
		cr_assert_eq(p.spec.watermark, cases[i].want, "%s", cases[i].v);
		prompt_spec_free(&p.spec);
	}
	assert_fails("---\nwatermark: maybe\n---\nx",
		     "watermark must be true or false, not 'maybe'");
	assert_fails("---\nwatermark:\n---\nx", "watermark must be true or false, not ''");
}

Test(prompt_parse, models)
{
	struct parsed p = parse("---\nmodel: veo-4\n---\nx");

	assert_ok(&p, "x");
	cr_assert_str_eq(p.spec.model, "veo-4");
	cr_assert_str_eq(p.warn, "unknown model 'veo-4' passed through");
	prompt_spec_free(&p.spec);

	p = parse("---\nmodel: veo-3.1-landscape-fast-fl\n---\nx");
	assert_ok(&p, "x");
	cr_assert_str_eq(p.warn, "");
	prompt_spec_free(&p.spec);

	assert_fails("---\nmodel:\n---\nx", "model is empty");
	assert_fails("---\nmodel: \"\"\n---\nx", "model is empty");
	assert_fails("---\nmodel: veo 3.1\n---\nx",
		     "model 'veo 3.1' is not a model name (printable ASCII, no spaces)");
	assert_fails("---\nmodel: veo\t3\n---\nx",
		     "model 'veo?3' is not a model name (printable ASCII, no spaces)");
	assert_fails("---\nmodel: vëo\n---\nx",
		     "model 'vëo' is not a model name (printable ASCII, no spaces)");
}

Test(prompt_parse, warn_buffer_optional)
{
	struct prompt_spec spec;
	char err[128];

	cr_assert_eq(prompt_parse(BYTES("---\nmodel: veo-9\n---\nx"), &spec, NULL, 0,
				  err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(spec.model, "veo-9");
	prompt_spec_free(&spec);
	cr_assert_eq(prompt_parse("", 0, &spec, NULL, 0, NULL, 0), -1);
	cr_assert_eq(prompt_parse(NULL, 0, &spec, NULL, 0, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "prompt is empty");
}

Test(prompt_parse, image)
{
	struct parsed p = parse("---\nimage: https://example.com/cow.png\n---\nx");

	assert_ok(&p, "x");
	cr_assert_str_eq(p.spec.image, "https://example.com/cow.png");
	prompt_spec_free(&p.spec);

	p = parse("---\nimage: C:\\cow.png\n---\nx");
	assert_ok(&p, "x");
	cr_assert_str_eq(p.spec.image, "C:\\cow.png");
	prompt_spec_free(&p.spec);

	assert_fails("---\nimage:\n---\nx", "image is empty");
	assert_fails("---\nimage: ''\n---\nx", "image is empty");
}

Test(prompt_parse, error_after_good_keys_frees_them)
{
	/* Run under ASan/valgrind: nothing from the earlier keys may leak. */
	assert_fails("---\nmodel: veo-7\nimage: a.png\nsize: 16x9\nseconds: 8\n"
		     "watermark: no\nbogus: 1\n---\nx",
		     "unknown front matter key 'bogus' (known: model, seconds, size, image, watermark, resolution, negative_prompt)");
	assert_fails("---\nmodel: veo-3.1\n---\n   \n", "prompt is empty");
}

Test(prompt_parse, empty_text)
{
	assert_fails("", "prompt is empty");
	assert_fails(" \t\r\n\n\v\f  ", "prompt is empty");
	assert_fails("---\nmodel: veo-3.1\n---\n", "prompt is empty");
	assert_fails("\r\n\r\n", "prompt is empty");
}

static char *repeat(const char *unit, size_t times, size_t *lenp)
{
	size_t ulen = strlen(unit);
	char *buf = malloc(ulen * times + 1);

	cr_assert_not_null(buf);
	for (size_t i = 0; i < times; i++)
		memcpy(buf + i * ulen, unit, ulen);
	buf[ulen * times] = '\0';
	if (lenp)
		*lenp = ulen * times;
	return buf;
}

Test(prompt_parse, length_limit_ascii)
{
	size_t len;
	char *buf = repeat("a", PROMPT_MAX_CHARS, &len);
	struct parsed p = parse_bytes(buf, len);

	cr_assert_eq(p.rc, 0, "%s", p.err);
	cr_assert_eq(strlen(p.spec.text), PROMPT_MAX_CHARS);
	prompt_spec_free(&p.spec);
	free(buf);

	buf = repeat("a", PROMPT_MAX_CHARS + 1, &len);
	p = parse_bytes(buf, len);
	cr_assert_eq(p.rc, -1);
	cr_assert_str_eq(p.err, "prompt is 32001 characters; the limit is 32000");
	free(buf);
}

Test(prompt_parse, length_limit_multibyte)
{
	size_t len;
	char *buf = repeat("é", PROMPT_MAX_CHARS, &len);
	struct parsed p = parse_bytes(buf, len);

	cr_assert_eq(len, 2 * PROMPT_MAX_CHARS);
	cr_assert_eq(p.rc, 0, "%s", p.err);
	cr_assert_eq(strlen(p.spec.text), len);
	prompt_spec_free(&p.spec);
	free(buf);

	buf = repeat("😀", PROMPT_MAX_CHARS + 1, &len);
	p = parse_bytes(buf, len);
	cr_assert_eq(p.rc, -1);
	cr_assert_str_eq(p.err, "prompt is 32001 characters; the limit is 32000");
	free(buf);

	buf = repeat("猫", PROMPT_MAX_CHARS, &len);
	p = parse_bytes(buf, len);
	cr_assert_eq(p.rc, 0, "%s", p.err);
	prompt_spec_free(&p.spec);
	free(buf);
}

Test(prompt_parse, length_counts_after_trim_and_front_matter)
{
	char *body = repeat("b", PROMPT_MAX_CHARS, NULL);
	size_t len = strlen(body) + 200;
	char *buf = malloc(len);
	struct parsed p;

	cr_assert_not_null(buf);
	len = (size_t)snprintf(buf, len, "---\nseconds: 4\n---\n\n   %s  \n\n", body);
	p = parse_bytes(buf, len);
	cr_assert_eq(p.rc, 0, "%s", p.err);
	cr_assert_str_eq(p.spec.text, body);
	prompt_spec_free(&p.spec);
	free(buf);
	free(body);
}

Test(prompt_parse, crlf_counts_as_one_character)
{
	size_t len;
	/* 16000 lines of "a\r\n": 32000 characters once the CRs go, and the
	 * last line break is trimmed, leaving 31999. */
	char *buf = repeat("a\r\n", 16000, &len);
	struct parsed p = parse_bytes(buf, len);

	cr_assert_eq(p.rc, 0, "%s", p.err);
	cr_assert_eq(strlen(p.spec.text), 31999);
	cr_assert_null(strchr(p.spec.text, '\r'));
	prompt_spec_free(&p.spec);
	free(buf);
}

Test(prompt_parse, lone_cr_is_kept)
{
	struct parsed p = parse("a\rb");

	assert_ok(&p, "a\rb");
	prompt_spec_free(&p.spec);
}

Test(prompt_parse, ten_megabytes_fast)
{
	size_t len;
	char *buf = repeat("0123456789", 1024 * 1024, &len);
	clock_t start = clock();
	struct parsed p = parse_bytes(buf, len);
	double secs = (double)(clock() - start) / CLOCKS_PER_SEC;

	cr_assert_eq(p.rc, -1);
	cr_assert_str_eq(p.err, "prompt is 10485760 characters; the limit is 32000");
	cr_assert_lt(secs, 5.0, "took %.2fs", secs);
	free(buf);
}

Test(prompt_parse, ten_megabytes_of_newlines_fast)
{
	size_t len;
	char *buf = repeat("\n", 10 * 1024 * 1024, &len);
	clock_t start = clock();
	struct parsed p;

	buf[0] = '-';
	buf[1] = '-';
	buf[2] = '-';
	/* An open front matter followed by millions of blank lines. */
	p = parse_bytes(buf, len);
	cr_assert_eq(p.rc, -1);
	cr_assert_str_eq(p.err, "front matter is not closed with ---");
	cr_assert_lt((double)(clock() - start) / CLOCKS_PER_SEC, 5.0);
	free(buf);
}

Test(prompt_parse, huge_front_matter_value)
{
	size_t len;
	char *junk = repeat("z", 5 * 1024 * 1024, &len);
	size_t buflen = len + 64;
	char *buf = malloc(buflen);
	struct parsed p;

	cr_assert_not_null(buf);
	buflen = (size_t)snprintf(buf, buflen, "---\nsize: %s\n---\nx", junk);
	p = parse_bytes(buf, buflen);
	cr_assert_eq(p.rc, -1);
	cr_assert(strncmp(p.err, "size must be one of", 19) == 0, "%s", p.err);
	cr_assert_lt(strlen(p.err), 200);
	free(buf);
	free(junk);
}

static void assert_bytes_fail(const char *buf, size_t len, const char *reason)
{
	struct parsed p = parse_bytes(buf, len);

	cr_assert_eq(p.rc, -1, "accepted, wanted '%s'", reason);
	cr_assert_str_eq(p.err, reason);
	cr_assert_null(p.spec.text);
}

Test(prompt_parse, nul_bytes)
{
	static const char bin[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

	assert_bytes_fail(BYTES("cat\0piano"), "prompt contains a NUL byte (byte 3)");
	assert_bytes_fail(BYTES("\0"), "prompt contains a NUL byte (byte 0)");
	assert_bytes_fail(BYTES("cat piano\0"), "prompt contains a NUL byte (byte 9)");
	assert_bytes_fail(bin, sizeof(bin) - 1, "prompt is not valid UTF-8 (byte 0)");
	assert_bytes_fail(BYTES("---\nmodel: a\0b\n---\nx"),
			  "prompt contains a NUL byte (byte 12)");
}

Test(prompt_parse, invalid_utf8)
{
	/* overlong encodings of '/' and of NUL */
	assert_bytes_fail(BYTES("ab\xc0\xaf"), "prompt is not valid UTF-8 (byte 2)");
	assert_bytes_fail(BYTES("\xc1\xbf"), "prompt is not valid UTF-8 (byte 0)");
	assert_bytes_fail(BYTES("x\xc0\x80y"), "prompt is not valid UTF-8 (byte 1)");
	assert_bytes_fail(BYTES("xyz\xe0\x80\xaf"), "prompt is not valid UTF-8 (byte 3)");
	assert_bytes_fail(BYTES("\xf0\x80\x80\xaf"), "prompt is not valid UTF-8 (byte 0)");
	/* UTF-16 surrogates U+D800 and U+DFFF */
	assert_bytes_fail(BYTES("ok \xed\xa0\x80"), "prompt is not valid UTF-8 (byte 3)");
	assert_bytes_fail(BYTES("\xed\xbf\xbf"), "prompt is not valid UTF-8 (byte 0)");
	/* past U+10FFFF */
	assert_bytes_fail(BYTES("\xf4\x90\x80\x80"), "prompt is not valid UTF-8 (byte 0)");
	assert_bytes_fail(BYTES("\xf5\x80\x80\x80"), "prompt is not valid UTF-8 (byte 0)");
	/* truncated sequences, at the end and in the middle */
	assert_bytes_fail(BYTES("cat \xc3"), "prompt is not valid UTF-8 (byte 4)");
	assert_bytes_fail(BYTES("cat \xe2\x82"), "prompt is not valid UTF-8 (byte 4)");
	assert_bytes_fail(BYTES("\xf0\x9f\x98 x"), "prompt is not valid UTF-8 (byte 0)");
	assert_bytes_fail(BYTES("a\xe2\x82z"), "prompt is not valid UTF-8 (byte 1)");
	/* bytes that never appear, lone continuation bytes */
	assert_bytes_fail(BYTES("hello \xff"), "prompt is not valid UTF-8 (byte 6)");
	assert_bytes_fail(BYTES("\xfe"), "prompt is not valid UTF-8 (byte 0)");
	assert_bytes_fail(BYTES("a\x80"), "prompt is not valid UTF-8 (byte 1)");
	assert_bytes_fail(BYTES("caf\xe9"), "prompt is not valid UTF-8 (byte 3)");
	/* UTF-16 with a BOM is not UTF-8 either */
	assert_bytes_fail(BYTES("\xff\xfeh\0i\0"), "prompt is not valid UTF-8 (byte 0)");
	/* a bad byte in the front matter is found as well */
	assert_bytes_fail(BYTES("---\nmodel: \xff\n---\nx"), "prompt is not valid UTF-8 (byte 11)");
}

Test(prompt_parse, valid_utf8_edges)
{
	/* U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFD, U+10000, U+10FFFF */
	const char *s = "\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80"
			"\xef\xbf\xbd\xf0\x90\x80\x80\xf4\x8f\xbf\xbf";
	struct parsed p = parse(s);

	assert_ok(&p, s);
	prompt_spec_free(&p.spec);
}

Test(prompt_parse, reads_only_len_bytes)
{
	/* Buffers come from a write cache without a terminating NUL; under
	 * ASan a read past len is caught. */
	static const char *const inputs[] = {
		"---\nseconds: 4\n---\nhello", "---\nseconds: 4", "caf\xc3\xa9",
		"caf\xc3", "\xef\xbb", "-", "--", "---", NULL,
	};

	for (int i = 0; inputs[i]; i++) {
		size_t len = strlen(inputs[i]);
		char *buf = malloc(len);
		struct parsed p;

		cr_assert_not_null(buf);
		memcpy(buf, inputs[i], len);
		p = parse_bytes(buf, len);
		prompt_spec_free(&p.spec);
		free(buf);
	}
}

/* OpenAI's spec takes 720x1280, 1280x720, 1024x1792, 1792x1024 and 4, 8,
 * 12 s; other values the provider takes are sent with a warning. */
Test(prompt_parse, values_outside_openais_spec_warn_but_are_sent)
{
	struct parsed p = parse("---\nsize: 1280x720\nseconds: 8\n---\na cow\n");

	assert_ok(&p, "a cow");
	cr_assert_str_eq(p.warn, "");
	prompt_spec_free(&p.spec);
	p = parse("---\nseconds: 6\n---\na cow\n");
	assert_ok(&p, "a cow");
	cr_assert(strstr(p.warn, "seconds 6"), "%s", p.warn);
	cr_assert_str_eq(p.spec.seconds, "6");
	prompt_spec_free(&p.spec);
	p = parse("---\nsize: 16x9\n---\na cow\n");
	assert_ok(&p, "a cow");
	cr_assert(strstr(p.warn, "size 16x9"), "%s", p.warn);
	cr_assert_str_eq(p.spec.size, "16x9");
	prompt_spec_free(&p.spec);
}

/* ---- resolution and negative_prompt ---- */

Test(prompt_values, resolutions)
{
	cr_assert(prompt_resolution_valid("720p"));
	cr_assert(prompt_resolution_valid("1080p"));
	cr_assert_not(prompt_resolution_valid("1080P"));
	cr_assert_not(prompt_resolution_valid("4k"));
	cr_assert_not(prompt_resolution_valid("1080"));
	cr_assert_not(prompt_resolution_valid(""));
	cr_assert_not(prompt_resolution_valid(NULL));
}

Test(prompt_parse, resolution_and_negative_prompt)
{
	struct parsed p = parse("---\nresolution: 1080p\nnegative_prompt: blurry, low quality\n"
				"---\na cow\n");

	assert_ok(&p, "a cow");
	cr_assert_str_eq(p.warn, "");
	cr_assert_str_eq(p.spec.resolution, "1080p");
	cr_assert_str_eq(p.spec.negative_prompt, "blurry, low quality");
	prompt_spec_free(&p.spec);
	cr_assert_null(p.spec.resolution);
	cr_assert_null(p.spec.negative_prompt);
}

Test(prompt_parse, resolution_is_stored_lower_case)
{
	static const char *const in[] = { "720P", "720p", "1080P", "'1080p'", "\"720P\"", NULL };
	static const char *const want[] = { "720p", "720p", "1080p", "1080p", "720p" };
	char input[64];

	for (int i = 0; in[i]; i++) {
		struct parsed p;

		snprintf(input, sizeof(input), "---\nresolution: %s\n---\nx", in[i]);
		p = parse(input);
		assert_ok(&p, "x");
		cr_assert_str_eq(p.spec.resolution, want[i], "%s", in[i]);
		prompt_spec_free(&p.spec);
	}
}

Test(prompt_parse, bad_resolution)
{
	assert_fails("---\nresolution: 4k\n---\nx", "resolution must be 720p or 1080p, not '4k'");
	assert_fails("---\nresolution: 4K\n---\nx", "resolution must be 720p or 1080p, not '4K'");
	assert_fails("---\nresolution: 1080\n---\nx",
		     "resolution must be 720p or 1080p, not '1080'");
	assert_fails("---\nresolution: 1920x1080\n---\nx",
		     "resolution must be 720p or 1080p, not '1920x1080'");
	assert_fails("---\nresolution:\n---\nx", "resolution must be 720p or 1080p, not ''");
	assert_fails("---\nresolution: ''\n---\nx", "resolution must be 720p or 1080p, not ''");
	assert_fails("---\nresolution: 720p\nresolution: 720p\n---\nx",
		     "front matter key 'resolution' is repeated (line 3)");
	assert_fails("---\nResolution: 720p\n---\nx",
		     "unknown front matter key 'Resolution' (known: model, seconds, size, image, "
		     "watermark, resolution, negative_prompt)");
}

Test(prompt_parse, empty_negative_prompt_is_none)
{
	struct parsed p = parse("---\nnegative_prompt:\n---\nx");

	assert_ok(&p, "x");
	cr_assert_null(p.spec.negative_prompt);
	prompt_spec_free(&p.spec);
	p = parse("---\nnegative_prompt: \"\"  \n---\nx");
	assert_ok(&p, "x");
	cr_assert_null(p.spec.negative_prompt);
	prompt_spec_free(&p.spec);
	/* said once, even if it says nothing */
	assert_fails("---\nnegative_prompt:\nnegative_prompt: fog\n---\nx",
		     "front matter key 'negative_prompt' is repeated (line 3)");
}

Test(prompt_parse, negative_prompt_keeps_its_text)
{
	struct parsed p = parse("---\nnegative_prompt: \" people: none, # not a comment \"\n"
				"---\nx");

	assert_ok(&p, "x");
	cr_assert_str_eq(p.spec.negative_prompt, " people: none, # not a comment ");
	prompt_spec_free(&p.spec);
	p = parse("---\nnegative_prompt: brouillard, \xc3\xa9" "clairs\tet pluie \xf0\x9f\x8c\xa7\r\n"
		  "---\nx");
	assert_ok(&p, "x");
	cr_assert_str_eq(p.spec.negative_prompt,
			 "brouillard, \xc3\xa9" "clairs\tet pluie \xf0\x9f\x8c\xa7");
	prompt_spec_free(&p.spec);
}

Test(prompt_parse, negative_prompt_limits)
{
	char buf[PROMPT_NEGATIVE_MAX + 64];
	char want[128];
	struct parsed p;
	int n;

	/* exactly the limit */
	n = snprintf(buf, sizeof(buf), "---\nnegative_prompt: %0*d\n---\nx",
		     PROMPT_NEGATIVE_MAX, 0);
	p = parse_bytes(buf, (size_t)n);
	assert_ok(&p, "x");
	cr_assert_eq(strlen(p.spec.negative_prompt), PROMPT_NEGATIVE_MAX);
	prompt_spec_free(&p.spec);
	/* one byte more */
	n = snprintf(buf, sizeof(buf), "---\nnegative_prompt: %0*d\n---\nx",
		     PROMPT_NEGATIVE_MAX + 1, 0);
	snprintf(want, sizeof(want), "negative_prompt is %d bytes; the limit is %d",
		 PROMPT_NEGATIVE_MAX + 1, PROMPT_NEGATIVE_MAX);
	assert_fails(buf, want);
	/* bytes, not characters: 500 two-byte characters fit, 501 do not */
	char *two = repeat("\xc3\xa9", 501, NULL);
	char *big = malloc(strlen(two) + 64);
	snprintf(big, strlen(two) + 64, "---\nnegative_prompt: %s\n---\nx", two);
	assert_fails(big, "negative_prompt is 1002 bytes; the limit is 1000");
	snprintf(big, strlen(two) + 64, "---\nnegative_prompt: %s\n---\nx", two + 2);
	p = parse(big);
	assert_ok(&p, "x");
	prompt_spec_free(&p.spec);
	free(big);
	free(two);
	/* control characters: never a hidden part of what is sent */
	assert_fails("---\nnegative_prompt: fog\x1b[2J\n---\nx",
		     "negative_prompt may not contain control characters");
	assert_fails("---\nnegative_prompt: fog\rrain\n---\nx",
		     "negative_prompt may not contain control characters");
}

Test(prompt_parse, huge_negative_prompt_is_refused_quickly)
{
	size_t len;
	char *junk = repeat("z", 5 * 1024 * 1024, &len);
	size_t buflen = len + 64;
	char *buf = malloc(buflen);
	struct parsed p;

	cr_assert_not_null(buf);
	buflen = (size_t)snprintf(buf, buflen, "---\nnegative_prompt: %s\n---\nx", junk);
	p = parse_bytes(buf, buflen);
	cr_assert_eq(p.rc, -1);
	cr_assert_str_eq(p.err, "negative_prompt is 5242880 bytes; the limit is 1000");
	cr_assert_null(p.spec.negative_prompt);
	free(buf);
	free(junk);
}

Test(prompt_parse, non_utf8_negative_prompt)
{
	/* The whole file is checked before any of it is read. */
	assert_bytes_fail(BYTES("---\nnegative_prompt: caf\xe9\n---\nx"),
			  "prompt is not valid UTF-8 (byte 24)");
	assert_bytes_fail(BYTES("---\nnegative_prompt: a\0b\n---\nx"),
			  "prompt contains a NUL byte (byte 22)");
}

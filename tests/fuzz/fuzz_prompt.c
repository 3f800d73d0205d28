/* Prompt files and names in new/ come straight from users' editors: any
 * bytes at all. Besides memory safety, checks what prompt.h promises about
 * accepted specs and the reasons that reach status files. */
#include "fuzz.h"
#include "prompt.h"

#include <stdlib.h>
#include <string.h>

#define REASON_LEN 512

static void check_one_line(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == cap || memchr(s, '\n', n))
		abort();
}

static void check_spec(const struct prompt_spec *p)
{
	size_t n;

	if (!p->text || !p->text[0])
		abort();
	n = strlen(p->text);
	/* trimmed */
	if (strchr(" \t\r\n", p->text[0]) || strchr(" \t\r\n", p->text[n - 1]))
		abort();
	if (p->seconds && !prompt_seconds_valid(p->seconds))
		abort();
	if (p->size && !prompt_size_valid(p->size))
		abort();
	if (p->watermark < -1 || p->watermark > 1)
		abort();
	if (p->resolution && !prompt_resolution_valid(p->resolution))
		abort();
	/* one line, bounded, never empty (empty means none) */
	if (p->negative_prompt) {
		n = strlen(p->negative_prompt);
		if (!n || n > PROMPT_NEGATIVE_MAX || strchr(p->negative_prompt, '\n') ||
		    strchr(p->negative_prompt, '\r'))
			abort();
	}
}

static void fuzz_parse(const uint8_t *data, size_t size)
{
	struct prompt_spec spec;
	char warn[REASON_LEN] = "", err[REASON_LEN] = "";
	int rc;

	memset(&spec, 0, sizeof(spec));
	rc = prompt_parse((const char *)data, size, &spec, warn, sizeof(warn),
			  err, sizeof(err));
	if (rc == 0) {
		check_spec(&spec);
		if (spec.model && !prompt_model_known(spec.model) && !warn[0])
			abort();
	} else if (rc == -1) {
		if (!err[0])
			abort();
		check_one_line(err, sizeof(err));
	} else {
		abort();
	}
	check_one_line(warn, sizeof(warn));
	prompt_spec_free(&spec);
}

static void fuzz_name(const char *filename)
{
	char name[256], err[REASON_LEN] = "";
	enum prompt_name_kind kind;
	size_t flen = strlen(filename), slen = strlen(PROMPT_SUFFIX);

	memset(name, 0x5a, sizeof(name));
	kind = prompt_classify_name(filename, name, sizeof(name), err, sizeof(err));
	switch (kind) {
	case PROMPT_NAME_PROMPT:
		if (flen <= slen || strcmp(filename + flen - slen, PROMPT_SUFFIX))
			abort();
		if (strnlen(name, sizeof(name)) == sizeof(name) || !name[0] ||
		    name[0] == '.' || !strcmp(name, "new") || strchr(name, '/'))
			abort();
		for (const unsigned char *p = (const unsigned char *)name; *p; p++)
			if (*p < 0x20 || *p == 0x7f)
				abort();
		break;
	case PROMPT_NAME_REFUSED:
		if (!err[0])
			abort();
		check_one_line(err, sizeof(err));
		break;
	case PROMPT_NAME_SCRATCH:
		break;
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	fuzz_parse(data, size);
	/* File names are C strings without '/'; the input up to its first NUL
	 * stands for one. */
	s = fuzz_strndup(data, size);
	if (!strchr(s, '/'))
		fuzz_name(s);
	prompt_parse_bool(s);
	prompt_model_known(s);
	prompt_seconds_valid(s);
	prompt_size_valid(s);
	free(s);
	return 0;
}

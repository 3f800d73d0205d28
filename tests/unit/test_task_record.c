/* record.json read back: what veofs writes, and what a damaged disk may
 * hold instead. */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "task.h"
#include "task_record.h"
#include "video_object.h"

/* As task_store writes it (JSON_INDENT(1) | JSON_SORT_KEYS). */
static const char full[] =
	"{\n"
	" \"api_completed\": true,\n"
	" \"changed\": 1767225700,\n"
	" \"created\": 1767225600,\n"
	" \"id\": \"video_68d7512d07848190b3e45da0ecbebcde\",\n"
	" \"image_file\": \"image.png\",\n"
	" \"model\": \"sora-2\",\n"
	" \"progress\": 100,\n"
	" \"ranges_ok\": true,\n"
	" \"reason\": \"first line\\nsecond line\",\n"
	" \"seconds\": \"8\",\n"
	" \"size\": \"1280x720\",\n"
	" \"source_hash\": \"00c0ffee12345678\",\n"
	" \"state\": \"completed\",\n"
	" \"submit\": \"done\",\n"
	" \"version\": 1,\n"
	" \"video_size\": 123456,\n"
	" \"video_synced\": 65536,\n"
	" \"watermark\": false\n"
	"}";

static struct task *t;
static char err[256];

static void setup(void)
{
	t = task_new("job");
	cr_assert_not_null(t);
	err[0] = '\0';
}

static void teardown(void)
{
	task_unref(t);
}

TestSuite(task_record, .init = setup, .fini = teardown);

static int parse_n(const char *text, size_t len)
{
	task_unref(t);
	t = task_new("job");
	err[0] = '\0';
	return task_record_parse(text, len, t, err, sizeof(err));
}

static int parse(const char *text)
{
	return parse_n(text, strlen(text));
}

static void assert_refused(const char *text, size_t len, const char *why)
{
	cr_assert_eq(parse_n(text, len), -EINVAL, "accepted: %.*s", (int)len, text);
	cr_assert(err[0], "no reason for: %.*s", (int)len, text);
	cr_assert_null(strchr(err, '\n'), "%s", err);
	if (why)
		cr_assert(strstr(err, why), "reason '%s' for: %.*s", err, (int)len, text);
}

static void refuse(const char *text, const char *why)
{
	assert_refused(text, strlen(text), why);
}

Test(task_record, every_field_of_a_written_record)
{
	cr_assert_eq(parse(full), 0, "%s", err);
	cr_assert_str_eq(t->model, "sora-2");
	cr_assert_str_eq(t->seconds, "8");
	cr_assert_str_eq(t->size, "1280x720");
	cr_assert_eq(t->watermark, 0);
	cr_assert_null(t->image_url);
	cr_assert_str_eq(t->image_file, "image.png");
	cr_assert_eq(t->source_hash, 0x00c0ffee12345678ULL);
	cr_assert_eq(t->created, 1767225600);
	cr_assert_eq(t->changed, 1767225700);
	cr_assert_eq(t->state, TASK_COMPLETED);
	cr_assert_eq(t->submit, SUBMIT_DONE);
	cr_assert(t->api_completed);
	cr_assert_eq(t->progress, 100);
	cr_assert_str_eq(t->id, "video_68d7512d07848190b3e45da0ecbebcde");
	cr_assert_str_eq(t->reason, "first line\nsecond line");
	cr_assert_eq(t->video_size, 123456);
	cr_assert_eq(t->video_shown_size, 123456);
	cr_assert_eq(t->video_synced, 65536);
	cr_assert(t->ranges_ok);
	/* written before the front matter had them: none */
	cr_assert_null(t->resolution);
	cr_assert_null(t->negative_prompt);
}

Test(task_record, resolution_and_negative_prompt)
{
	cr_assert_eq(parse("{\"resolution\":\"1080p\",\"negative_prompt\":\"blurry, \\u00e9\"}"),
		     0, "%s", err);
	cr_assert_str_eq(t->resolution, "1080p");
	cr_assert_str_eq(t->negative_prompt, "blurry, \xc3\xa9");
	/* what the front matter would refuse is none, as an unknown state */
	cr_assert_eq(parse("{\"resolution\":\"4k\",\"negative_prompt\":\"\"}"), 0, "%s", err);
	cr_assert_null(t->resolution);
	cr_assert_null(t->negative_prompt);
	cr_assert_eq(parse("{\"resolution\":1080,\"negative_prompt\":null}"), 0, "%s", err);
	cr_assert_null(t->resolution);
	cr_assert_null(t->negative_prompt);
	cr_assert_eq(parse("{\"resolution\":\"1080P\"}"), 0, "%s", err);
	cr_assert_null(t->resolution);
}

Test(task_record, an_empty_object_is_a_fresh_pending_task)
{
	cr_assert_eq(parse("{}"), 0, "%s", err);
	cr_assert_eq(t->state, TASK_PENDING);
	cr_assert_eq(t->submit, SUBMIT_NONE);
	cr_assert_null(t->id);
	cr_assert_null(t->model);
	cr_assert_eq(t->progress, 0);
	cr_assert_eq(t->video_size, -1);
	cr_assert_eq(t->video_synced, 0);
	cr_assert(!t->api_completed);
}

Test(task_record, what_is_no_json_object)
{
	assert_refused("", 0, "not valid JSON");
	assert_refused("   \n", 4, "not valid JSON");
	assert_refused("[1,2,3]", 7, "not a JSON object");
	assert_refused("\"record\"", 8, "not valid JSON");
	assert_refused("null", 4, "not valid JSON");
	assert_refused("{} {}", 5, "not valid JSON");
	assert_refused("{\"state\":\"queued\",\"state\":\"failed\"}", 36, "not valid JSON");
	static const char nul[] = "{\"state\":\0\"queued\"}";
	assert_refused(nul, sizeof(nul) - 1, "not valid JSON");
	static const char ctl[] = "{\"state\x01\x1b[2J\":1";
	assert_refused(ctl, sizeof(ctl) - 1, "not valid JSON");
}

Test(task_record, every_cut_of_a_written_record_is_refused)
{
	size_t n = strlen(full);
	for (size_t len = 0; len < n; len++)
		assert_refused(full, len, "not valid JSON");
}

Test(task_record, image_file_names_only_the_tasks_image)
{
	static const char *const bad[] = {
		"{\"image_file\":\"../../../.ssh/id_rsa\"}",
		"{\"image_file\":\"/etc/passwd\"}",
		"{\"image_file\":\"image.png/../../x\"}",
		"{\"image_file\":\"prompt\"}",
		"{\"image_file\":\"image.\"}",
		"{\"image_file\":\"image.png.part\"}",
		"{\"image_file\":\"image.abcdefghi\"}",
		"{\"image_file\":\"\"}",
		"{\"image_file\":7}",
		"{\"image_file\":[\"image.png\"]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refuse(bad[i], "image_file");
	cr_assert_eq(parse("{\"image_file\":\"image.webp\"}"), 0);
	cr_assert_str_eq(t->image_file, "image.webp");
	cr_assert_eq(parse("{\"image_file\":null}"), 0);
	cr_assert_null(t->image_file);
}

Test(task_record, id_is_a_provider_id)
{
	char long_id[1100] = "{\"id\":\"";
	memset(long_id + 7, 'a', VIDEO_ID_MAX + 1);
	strcpy(long_id + 7 + VIDEO_ID_MAX + 1, "\"}");
	static const char *const bad[] = {
		"{\"id\":\"video\\n1\"}", "{\"id\":\"\"}", "{\"id\":42}", "{\"id\":\"a\\u007f\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refuse(bad[i], "id");
	refuse(long_id, "id");
	long_id[7 + VIDEO_ID_MAX] = '"';
	long_id[7 + VIDEO_ID_MAX + 1] = '}';
	long_id[7 + VIDEO_ID_MAX + 2] = '\0';
	cr_assert_eq(parse(long_id), 0, "%s", err);
	cr_assert_eq(strlen(t->id), VIDEO_ID_MAX);
	/* Any string a provider sent: never a path here, only a JSON string. */
	cr_assert_eq(parse("{\"id\":\"../x a/b\"}"), 0, "%s", err);
	cr_assert_str_eq(t->id, "../x a/b");
	cr_assert_eq(parse("{\"id\":\"task:1.2-3_x\"}"), 0);
	cr_assert_str_eq(t->id, "task:1.2-3_x");
}

Test(task_record, numbers_out_of_range_are_brought_in)
{
	cr_assert_eq(parse("{\"progress\":1000000000000000000,\"video_size\":-7,"
			   "\"video_synced\":-1,\"created\":-5,\"changed\":-1}"), 0);
	cr_assert_eq(t->progress, 100);
	cr_assert_eq(t->video_size, -1);
	cr_assert_eq(t->video_shown_size, -1);
	cr_assert_eq(t->video_synced, 0);
	cr_assert_eq(t->created, 0);
	cr_assert_eq(t->changed, 0);
	cr_assert_eq(parse("{\"progress\":-3,\"video_size\":\"big\",\"video_synced\":1.5}"), 0);
	cr_assert_eq(t->progress, 0);
	cr_assert_eq(t->video_size, -1);
	cr_assert_eq(t->video_synced, 0);
	cr_assert_eq(parse("{\"progress\":\"50\"}"), 0);
	cr_assert_eq(t->progress, 0);
	cr_assert_eq(parse("{\"video_size\":9223372036854775807}"), 0);
	cr_assert_eq(t->video_size, INT64_MAX);
}

Test(task_record, unknown_words_fall_back)
{
	cr_assert_eq(parse("{\"state\":\"exploded\",\"submit\":\"maybe\"}"), 0);
	cr_assert_eq(t->state, TASK_PENDING);
	cr_assert_eq(t->submit, SUBMIT_NONE);
	cr_assert_eq(parse("{\"state\":\"COMPLETED\",\"submit\":7}"), 0);
	cr_assert_eq(t->state, TASK_PENDING);
	cr_assert_eq(parse("{\"state\":\"completed\",\"api_completed\":false}"), 0);
	cr_assert(t->api_completed);
	cr_assert_eq(parse("{\"state\":\"sending\",\"submit\":\"sending\"}"), 0);
	cr_assert_eq(t->submit, SUBMIT_SENDING);
}

Test(task_record, source_hash_is_hex_or_nothing)
{
	static const struct { const char *json; uint64_t want; } cases[] = {
		{ "{\"source_hash\":\"00000000000000ff\"}", 0xff },
		{ "{\"source_hash\":\"FFFFFFFFFFFFFFFF\"}", UINT64_MAX },
		{ "{\"source_hash\":\"1ffffffffffffffff\"}", 0 },
		{ "{\"source_hash\":\"-1\"}", 0 },
		{ "{\"source_hash\":\"0x10\"}", 0 },
		{ "{\"source_hash\":\" 10\"}", 0 },
		{ "{\"source_hash\":\"zz\"}", 0 },
		{ "{\"source_hash\":255}", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(parse(cases[i].json), 0, "%s", cases[i].json);
		cr_assert_eq(t->source_hash, cases[i].want, "%s", cases[i].json);
	}
}

Test(task_record, strings_with_a_nul_are_refused_not_cut_short)
{
	/* "image.p" would pass if the string stopped at its NUL */
	refuse("{\"image_file\":\"image.p\\u0000/../x\"}", "not valid JSON");
	refuse("{\"id\":\"v\\u0000/x\"}", "not valid JSON");
	refuse("{\"model\":\"sora-2\\u0000-pro\"}", "not valid JSON");
	cr_assert_eq(parse("{\"seconds\":\"\",\"size\":12}"), 0);
	cr_assert_null(t->seconds);
	cr_assert_null(t->size);
}

/* Shared mounts and the trash: the prompt's writer and the trash fields. */
Test(task_record, owner_and_trash_fields)
{
	static const char rec[] = "{\"state\": \"queued\", \"owner_uid\": 65534, "
				  "\"owner_gid\": 100, \"trashed_from\": \"cat\", "
				  "\"trashed_at\": 1767225600}";

	cr_assert_eq(task_record_parse(rec, strlen(rec), t, err, sizeof(err)), 0, "%s", err);
	cr_assert(t->owned);
	cr_assert_eq(t->owner_uid, 65534);
	cr_assert_eq(t->owner_gid, 100);
	cr_assert_str_eq(t->trashed_from, "cat");
	cr_assert_eq(t->trashed_at, 1767225600);
}

Test(task_record, no_owner_is_the_mounts_user_and_bad_trash_names_are_none)
{
	static const char rec[] = "{\"state\": \"queued\", \"owner_uid\": -3, "
				  "\"trashed_from\": \"a/b\"}";

	cr_assert_eq(task_record_parse(rec, strlen(rec), t, err, sizeof(err)), 0, "%s", err);
	cr_assert_not(t->owned);
	cr_assert_str_eq(t->trashed_from, "");
	cr_assert_eq(t->trashed_at, 0);
}

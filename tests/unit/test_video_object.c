#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "video_object.h"

/* ---- states ---- */

struct spelling {
	const char *text;
	enum video_status state;
	const char *reason;
};

static const struct spelling spellings[] = {
	{ "queued", VIDEO_QUEUED, NULL },
	{ "pending", VIDEO_QUEUED, NULL },
	{ "submitted", VIDEO_QUEUED, NULL },
	{ "not_started", VIDEO_QUEUED, NULL },
	{ "created", VIDEO_QUEUED, NULL },
	/* new-api's relay (relay/channel/task/sora/adaptor.go) */
	{ "not_start", VIDEO_QUEUED, NULL },
	{ "notstarted", VIDEO_QUEUED, NULL },
	{ "preparing", VIDEO_QUEUED, NULL },
	{ "starting", VIDEO_QUEUED, NULL },
	{ "unknown", VIDEO_QUEUED, NULL },
	{ "complete", VIDEO_COMPLETED, NULL },
	{ "fail", VIDEO_FAILED, NULL },
	{ "in_progress", VIDEO_IN_PROGRESS, NULL },
	{ "processing", VIDEO_IN_PROGRESS, NULL },
	{ "running", VIDEO_IN_PROGRESS, NULL },
	{ "started", VIDEO_IN_PROGRESS, NULL },
	{ "generating", VIDEO_IN_PROGRESS, NULL },
	{ "completed", VIDEO_COMPLETED, NULL },
	{ "succeeded", VIDEO_COMPLETED, NULL },
	{ "success", VIDEO_COMPLETED, NULL },
	{ "finished", VIDEO_COMPLETED, NULL },
	{ "done", VIDEO_COMPLETED, NULL },
	{ "failed", VIDEO_FAILED, NULL },
	{ "failure", VIDEO_FAILED, NULL },
	{ "error", VIDEO_FAILED, NULL },
	{ "cancelled", VIDEO_FAILED, "cancelled" },
	{ "canceled", VIDEO_FAILED, "cancelled" },
	{ "expired", VIDEO_FAILED, "expired" },
};

#define NSPELLINGS (sizeof(spellings) / sizeof(spellings[0]))

static void upper(char *s)
{
	for (; *s; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
}

static void capitalise(char *s)
{
	bool start = true;

	for (; *s; s++) {
		if (start && *s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
		start = *s == '_' || *s == '-' || *s == ' ';
	}
}

static void replace_underscore(char *s, char with)
{
	for (; *s; s++)
		if (*s == '_')
			*s = with;
}

static void assert_spelling(const char *text, const struct spelling *want)
{
	enum video_status state = VIDEO_QUEUED;
	const char *reason = "stale";

	cr_assert(video_status_normalize(text, &state, &reason), "'%s'", text);
	cr_assert_eq(state, want->state, "'%s'", text);
	if (want->reason)
		cr_assert_str_eq(reason, want->reason, "'%s'", text);
	else
		cr_assert_null(reason, "'%s'", text);
}

Test(video_status, every_spelling_in_every_case)
{
	static const char seps[] = { '_', '-', ' ' };
	char buf[64];

	for (size_t i = 0; i < NSPELLINGS; i++) {
		for (size_t k = 0; k < sizeof(seps); k++) {
			strcpy(buf, spellings[i].text);
			replace_underscore(buf, seps[k]);
			assert_spelling(buf, &spellings[i]);
			upper(buf);
			assert_spelling(buf, &spellings[i]);
			strcpy(buf, spellings[i].text);
			replace_underscore(buf, seps[k]);
			capitalise(buf);
			assert_spelling(buf, &spellings[i]);
		}
	}
}

Test(video_status, mixed_case_and_padding)
{
	const struct spelling in_progress = { "", VIDEO_IN_PROGRESS, NULL };
	const struct spelling cancelled = { "", VIDEO_FAILED, "cancelled" };

	assert_spelling("In-Progress", &in_progress);
	assert_spelling("iN pRoGrEsS", &in_progress);
	assert_spelling(" in_progress ", &in_progress);
	assert_spelling("CANCELED", &cancelled);
}

Test(video_status, unknown_spellings)
{
	static const char *const unknown[] = {
		"", "queue", "inprogress", "in__progress", "waiting",
		"cancel", "paused", "in_progress_", "_queued",
		"a-very-long-status-string-that-goes-on-and-on-and-on", NULL,
	};
	enum video_status state = VIDEO_COMPLETED;
	const char *reason = "stale";

	for (int i = 0; unknown[i]; i++) {
		cr_assert_not(video_status_normalize(unknown[i], &state, &reason),
			      "'%s'", unknown[i]);
		cr_assert_null(reason);
		cr_assert_eq(state, VIDEO_COMPLETED);
	}
	cr_assert_not(video_status_normalize(NULL, &state, &reason));
	cr_assert(video_status_normalize("done", NULL, NULL));
}

/* ---- video objects ---- */

struct parsed {
	struct video_object v;
	int rc;
	char err[256];
};

static struct parsed parse(const char *json)
{
	struct parsed p;

	strcpy(p.err, "stale");
	p.rc = video_object_parse(json, strlen(json), &p.v, p.err, sizeof(p.err));
	return p;
}

static void assert_rejected(const char *json, const char *reason)
{
	struct parsed p = parse(json);

	cr_assert_eq(p.rc, -1, "accepted: %s", json);
	cr_assert_str_eq(p.err, reason, "%s gave '%s'", json, p.err);
	cr_assert_null(p.v.id);
	cr_assert_null(p.v.error);
	cr_assert_null(p.v.model);
	video_object_free(&p.v);
}

Test(video_object, openai_shape)
{
	struct parsed p = parse(
		"{\"id\":\"video_68d7512d07848190\",\"object\":\"video\","
		"\"model\":\"veo-3.1\",\"status\":\"in_progress\",\"progress\":33,"
		"\"created_at\":1758941485,\"seconds\":\"8\",\"size\":\"1280x720\","
		"\"completed_at\":null,\"expires_at\":null,\"error\":null,"
		"\"remixed_from_video_id\":null,\"extra\":{\"nested\":[1,2,3]}}");

	cr_assert_eq(p.rc, 0, "%s", p.err);
	cr_assert_str_eq(p.err, "");
	cr_assert_str_eq(p.v.id, "video_68d7512d07848190");
	cr_assert(p.v.has_state);
	cr_assert_eq(p.v.state, VIDEO_IN_PROGRESS);
	cr_assert_eq(p.v.progress, 33);
	cr_assert_null(p.v.error);
	cr_assert_str_eq(p.v.model, "veo-3.1");
	cr_assert_eq(p.v.created_at, 1758941485LL);
	video_object_free(&p.v);
	cr_assert_null(p.v.id);
	video_object_free(&p.v);
}

Test(video_object, failed_with_error_object)
{
	struct parsed p = parse("{\"id\":\"v1\",\"status\":\"failed\","
				"\"error\":{\"code\":\"moderation_blocked\","
				"\"message\":\"content policy violation\"}}");

	cr_assert_eq(p.rc, 0, "%s", p.err);
	cr_assert_eq(p.v.state, VIDEO_FAILED);
	cr_assert_str_eq(p.v.error, "content policy violation");
	video_object_free(&p.v);

	p = parse("{\"id\":\"v1\",\"status\":\"failed\","
		  "\"error\":{\"code\":\"moderation_blocked\"}}");
	cr_assert_str_eq(p.v.error, "moderation_blocked");
	video_object_free(&p.v);

	p = parse("{\"id\":\"v1\",\"status\":\"failed\",\"error\":{\"code\":429}}");
	cr_assert_str_eq(p.v.error, "429");
	video_object_free(&p.v);

	p = parse("{\"id\":\"v1\",\"status\":\"failed\","
		  "\"error\":{\"message\":\"\",\"code\":\"quota\"}}");
	cr_assert_str_eq(p.v.error, "quota");
	video_object_free(&p.v);
}

Test(video_object, error_string_and_missing)
{
	struct parsed p = parse("{\"id\":\"v1\",\"status\":\"FAILURE\",\"error\":\"boom\"}");

	cr_assert_eq(p.v.state, VIDEO_FAILED);
	cr_assert_str_eq(p.v.error, "boom");
	video_object_free(&p.v);

	p = parse("{\"id\":\"v1\",\"status\":\"failed\"}");
	cr_assert_eq(p.rc, 0);
	cr_assert_eq(p.v.state, VIDEO_FAILED);
	cr_assert_null(p.v.error);
	video_object_free(&p.v);

	p = parse("{\"id\":\"v1\",\"status\":\"failed\",\"error\":null}");
	cr_assert_null(p.v.error);
	video_object_free(&p.v);

	p = parse("{\"id\":\"v1\",\"status\":\"failed\",\"error\":{}}");
	cr_assert_null(p.v.error);
	video_object_free(&p.v);

	p = parse("{\"id\":\"v1\",\"status\":\"failed\",\"error\":42}");
	cr_assert_null(p.v.error);
	video_object_free(&p.v);
}

Test(video_object, failure_reason_fallbacks)
{
	struct parsed p = parse("{\"id\":\"v1\",\"status\":\"failed\","
				"\"failure_reason\":\"safety filter\",\"message\":\"x\"}");

	cr_assert_str_eq(p.v.error, "safety filter");
	video_object_free(&p.v);

	p = parse("{\"id\":\"v1\",\"status\":\"error\",\"fail_reason\":\"quota\"}");
	cr_assert_str_eq(p.v.error, "quota");
	video_object_free(&p.v);

	p = parse("{\"id\":\"v1\",\"status\":\"failed\",\"message\":\"upstream timeout\"}");
	cr_assert_str_eq(p.v.error, "upstream timeout");
	video_object_free(&p.v);

	/* the error field wins over the fallbacks */
	p = parse("{\"id\":\"v1\",\"status\":\"failed\",\"error\":\"first\","
		  "\"failure_reason\":\"second\"}");
	cr_assert_str_eq(p.v.error, "first");
	video_object_free(&p.v);

	/* a message on a job that has not failed is not an error */
	p = parse("{\"id\":\"v1\",\"status\":\"processing\",\"message\":\"success\","
		  "\"failure_reason\":\"nope\"}");
	cr_assert_null(p.v.error);
	video_object_free(&p.v);
}

Test(video_object, cancel_and_expire_reasons)
{
	struct parsed p = parse("{\"id\":\"v1\",\"status\":\"Canceled\"}");

	cr_assert_eq(p.v.state, VIDEO_FAILED);
	cr_assert_str_eq(p.v.error, "cancelled");
	video_object_free(&p.v);

	p = parse("{\"id\":\"v1\",\"status\":\"cancelled\"}");
	cr_assert_str_eq(p.v.error, "cancelled");
	video_object_free(&p.v);

	p = parse("{\"id\":\"v1\",\"status\":\"EXPIRED\"}");
	cr_assert_eq(p.v.state, VIDEO_FAILED);
	cr_assert_str_eq(p.v.error, "expired");
	video_object_free(&p.v);

	p = parse("{\"id\":\"v1\",\"status\":\"cancelled\",\"error\":\"by user\"}");
	cr_assert_str_eq(p.v.error, "by user");
	video_object_free(&p.v);
}

Test(video_object, every_status_spelling)
{
	char json[128];

	for (size_t i = 0; i < NSPELLINGS; i++) {
		struct parsed p;

		snprintf(json, sizeof(json), "{\"id\":\"x\",\"status\":\"%s\"}",
			 spellings[i].text);
		p = parse(json);
		cr_assert_eq(p.rc, 0);
		cr_assert(p.v.has_state, "%s", json);
		cr_assert_eq(p.v.state, spellings[i].state, "%s", json);
		video_object_free(&p.v);
	}
}

Test(video_object, unknown_or_odd_status)
{
	struct parsed p = parse("{\"id\":\"v1\",\"status\":\"paused\",\"progress\":5}");

	cr_assert_eq(p.rc, 0);
	cr_assert_not(p.v.has_state);
	cr_assert_eq(p.v.progress, 5);
	video_object_free(&p.v);

	p = parse("{\"id\":\"v1\",\"status\":3}");
	cr_assert_eq(p.rc, 0);
	cr_assert_not(p.v.has_state);
	video_object_free(&p.v);

	p = parse("{\"id\":\"v1\",\"status\":null}");
	cr_assert_not(p.v.has_state);
	video_object_free(&p.v);
}

Test(video_object, missing_keys)
{
	struct parsed p = parse("{}");

	cr_assert_eq(p.rc, 0, "%s", p.err);
	cr_assert_null(p.v.id);
	cr_assert_not(p.v.has_state);
	cr_assert_eq(p.v.progress, -1);
	cr_assert_null(p.v.error);
	cr_assert_null(p.v.model);
	cr_assert_eq(p.v.created_at, 0);
	video_object_free(&p.v);

	p = parse("{\"object\":\"video\",\"whatever\":true}");
	cr_assert_eq(p.rc, 0);
	cr_assert_null(p.v.id);
	video_object_free(&p.v);
}

Test(video_object, task_id_and_numeric_ids)
{
	struct parsed p = parse("{\"task_id\":\"abc-123\",\"status\":\"submitted\"}");

	cr_assert_str_eq(p.v.id, "abc-123");
	cr_assert_eq(p.v.state, VIDEO_QUEUED);
	video_object_free(&p.v);

	/* Where both are strings they name the task alike; task_id wins. */
	p = parse("{\"id\":\"first\",\"task_id\":\"second\"}");
	cr_assert_str_eq(p.v.id, "second");
	video_object_free(&p.v);

	p = parse("{\"id\":null,\"task_id\":\"second\"}");
	cr_assert_str_eq(p.v.id, "second");
	video_object_free(&p.v);

	p = parse("{\"id\":1234567890123}");
	cr_assert_eq(p.rc, 0, "%s", p.err);
	cr_assert_str_eq(p.v.id, "1234567890123");
	video_object_free(&p.v);

	p = parse("{\"task_id\":77}");
	cr_assert_str_eq(p.v.id, "77");
	video_object_free(&p.v);

	/* Gemini's operation names are ids too. */
	p = parse("{\"id\":\"models/veo:op.1_A-z\"}");
	cr_assert_eq(p.rc, 0, "%s", p.err);
	cr_assert_str_eq(p.v.id, "models/veo:op.1_A-z");
	video_object_free(&p.v);

	p = parse("{\"id\":\"op:1.2_A-z\"}");
	cr_assert_eq(p.rc, 0, "%s", p.err);
	cr_assert_str_eq(p.v.id, "op:1.2_A-z");
	video_object_free(&p.v);
}

Test(video_object, invalid_ids)
{
	char json[1200];
	char id[1100];

	assert_rejected("{\"id\":\"\"}", "invalid id in answer");
	assert_rejected("{\"id\":\"a\\nb\"}", "invalid id in answer");
	assert_rejected("{\"id\":\"a\\tb\"}", "invalid id in answer");
	assert_rejected("{\"id\":\"a\\u007fb\"}", "invalid id in answer");
	assert_rejected("{\"id\":\"a\\u0000b\"}", "invalid id in answer");
	assert_rejected("{\"id\":1.5}", "invalid id in answer");
	assert_rejected("{\"id\":true}", "invalid id in answer");
	assert_rejected("{\"id\":{\"v\":1}}", "invalid id in answer");
	assert_rejected("{\"id\":[\"a\"]}", "invalid id in answer");
	assert_rejected("{\"data\":{\"id\":\"x\\ny\"}}", "invalid id in answer");

	memset(id, 'a', VIDEO_ID_MAX + 1);
	id[VIDEO_ID_MAX + 1] = '\0';
	snprintf(json, sizeof(json), "{\"id\":\"%s\"}", id);
	assert_rejected(json, "invalid id in answer");

	id[VIDEO_ID_MAX] = '\0';
	{
		struct parsed p;

		snprintf(json, sizeof(json), "{\"id\":\"%s\"}", id);
		p = parse(json);
		cr_assert_eq(p.rc, 0, "%s", p.err);
		cr_assert_eq(strlen(p.v.id), VIDEO_ID_MAX);
		video_object_free(&p.v);
	}
}

/* OpenAI's spec allows any string as an id (a mock server in dynamic mode
 * answers "amet id eiusmod"); LiteLLM's are "video_" and standard base64.
 * They are kept byte for byte: escaping is the URL's business. */
Test(video_object, any_id_a_provider_may_send_is_kept_byte_for_byte)
{
	static const char *const ids[] = {
		"amet id eiusmod", "a/b", "../etc/passwd", "..", ".", "a?b", "a%2fb", "a#b",
		"caf\xc3\xa9", " ab",
		"video_bGl0ZWxsbTpjdXN0b21fbGxtX3Byb3ZpZGVyOmdlbWluaTttb2RlbF9pZDp2ZW8tMy4x"
		"LWdlbmVyYXRlLXByZXZpZXc7dmlkZW9faWQ6bW9kZWxzL3Zlby0zLjEvb3BlcmF0aW9ucy9hYmMrL2Q9",
	};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		json_t *o = json_pack("{s:s}", "id", ids[i]);
		char *text = json_dumps(o, 0);
		struct parsed p = parse(text);

		cr_assert_eq(p.rc, 0, "%s: %s", ids[i], p.err);
		cr_assert_str_eq(p.v.id, ids[i]);
		video_object_free(&p.v);
		free(text);
		json_decref(o);
	}
}

/* new-api's task DTO: "id" is its database row, "task_id" the task. */
Test(video_object, new_api_task_dto)
{
	struct parsed p = parse("{\"code\":\"success\",\"message\":\"\",\"data\":{\"id\":42,"
				"\"task_id\":\"task_abc\",\"status\":\"SUCCESS\",\"progress\":\"100%\","
				"\"result_url\":\"https://cdn.example.com/v/abc.mp4\","
				"\"fail_reason\":\"\"}}");

	cr_assert_eq(p.rc, 0, "%s", p.err);
	cr_assert_str_eq(p.v.id, "task_abc");
	cr_assert_eq(p.v.state, VIDEO_COMPLETED);
	cr_assert_eq(p.v.progress, 100);
	cr_assert_str_eq(p.v.video_url, "https://cdn.example.com/v/abc.mp4");
	video_object_free(&p.v);
	p = parse("{\"code\":\"success\",\"data\":{\"id\":43,\"task_id\":\"task_x\","
		  "\"status\":\"FAILURE\",\"fail_reason\":\"content policy\"}}");
	cr_assert_eq(p.v.state, VIDEO_FAILED);
	cr_assert_str_eq(p.v.error, "content policy");
	video_object_free(&p.v);
}

Test(video_object, the_video_link_where_a_status_names_it)
{
	static const struct {
		const char *json, *url;
	} cases[] = {
		{ "{\"id\":\"v\",\"status\":\"completed\",\"video_url\":\"https://h/a.mp4\"}", "https://h/a.mp4" },
		{ "{\"id\":\"v\",\"status\":\"completed\",\"download_url\":\"http://h/b\"}", "http://h/b" },
		{ "{\"id\":\"v\",\"status\":\"completed\",\"content_url\":\"https://h/c\"}", "https://h/c" },
		{ "{\"id\":\"v\",\"status\":\"completed\",\"unsigned_urls\":[\"https://h/d\"]}", "https://h/d" },
		{ "{\"id\":\"v\",\"status\":\"completed\",\"data\":{\"videos\":[{\"url\":\"https://h/e\"}]}}", "https://h/e" },
		{ "{\"id\":\"v\",\"status\":\"completed\",\"videos\":[{\"url\":\"https://h/f\"}]}", "https://h/f" },
		{ "{\"id\":\"v\",\"status\":\"completed\",\"video_url\":\"file:///etc/passwd\"}", NULL },
		{ "{\"id\":\"v\",\"status\":\"completed\",\"video_url\":\"https://h/a b\"}", NULL },
		{ "{\"id\":\"v\",\"status\":\"completed\"}", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct parsed p = parse(cases[i].json);

		cr_assert_eq(p.rc, 0, "%s", p.err);
		if (cases[i].url)
			cr_assert_str_eq(p.v.video_url, cases[i].url, "%s", cases[i].json);
		else
			cr_assert_null(p.v.video_url, "%s", cases[i].json);
		video_object_free(&p.v);
	}
}

Test(video_object, an_unknown_status_word_is_kept_as_it_came)
{
	struct parsed p = parse("{\"id\":\"v\",\"status\":\"WAITING\"}");

	cr_assert_eq(p.rc, 0);
	cr_assert_not(p.v.has_state);
	cr_assert_str_eq(p.v.status_word, "WAITING");
	video_object_free(&p.v);
	p = parse("{\"id\":\"v\",\"status\":\"queued\"}");
	cr_assert_null(p.v.status_word);
	video_object_free(&p.v);
}

Test(video_object, progress_forms)
{
	static const struct { const char *value; int want; } cases[] = {
		{ "42", 42 }, { "\"42\"", 42 }, { "42.7", 42 }, { "\"42.7\"", 42 },
		{ "-5", 0 }, { "\"-5\"", 0 }, { "250", 100 }, { "250.5", 100 },
		{ "null", -1 }, { "0", 0 }, { "100", 100 }, { "99.99", 99 },
		{ "\"42%\"", 42 }, { "\" 7 \"", 7 }, { "\"abc\"", -1 },
		{ "\"\"", -1 }, { "\"42abc\"", -1 }, { "true", -1 }, { "[]", -1 },
		{ "{}", -1 }, { "\"nan\"", -1 }, { "\"inf\"", -1 },
		{ "\"1e400\"", -1 }, { "1e300", 100 }, { "-1e300", 0 },
		{ "9223372036854775807", 100 }, { "-9223372036854775807", 0 },
	};
	char json[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct parsed p;

		snprintf(json, sizeof(json), "{\"id\":\"v\",\"progress\":%s}",
			 cases[i].value);
		p = parse(json);
		cr_assert_eq(p.rc, 0, "%s: %s", json, p.err);
		cr_assert_eq(p.v.progress, cases[i].want, "%s gave %d", json,
			     p.v.progress);
		video_object_free(&p.v);
	}
}

Test(video_object, created_forms)
{
	static const struct { const char *json; long long want; } cases[] = {
		{ "{\"created_at\":1700000000}", 1700000000LL },
		{ "{\"created\":1700000001}", 1700000001LL },
		{ "{\"created_at\":\"1700000002\"}", 1700000002LL },
		{ "{\"created\":\"1700000003\"}", 1700000003LL },
		{ "{\"created_at\":1700000004,\"created\":5}", 1700000004LL },
		{ "{\"created_at\":null,\"created\":6}", 6 },
		{ "{\"created_at\":1700000007.9}", 1700000007LL },
		{ "{\"created_at\":\"2025-01-01T00:00:00Z\"}", 0 },
		{ "{\"created_at\":true}", 0 },
		{ "{}", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct parsed p = parse(cases[i].json);

		cr_assert_eq(p.rc, 0, "%s: %s", cases[i].json, p.err);
		cr_assert_eq(p.v.created_at, cases[i].want, "%s gave %lld",
			     cases[i].json, p.v.created_at);
		video_object_free(&p.v);
	}
}

Test(video_object, data_wrapper)
{
	struct parsed p = parse("{\"code\":0,\"message\":\"success\",\"data\":"
				"{\"task_id\":\"t-9\",\"status\":\"SUCCESS\","
				"\"progress\":\"100%\",\"model\":\"veo-3.1-fast\","
				"\"created\":1700000000}}");

	cr_assert_eq(p.rc, 0, "%s", p.err);
	cr_assert_str_eq(p.v.id, "t-9");
	cr_assert_eq(p.v.state, VIDEO_COMPLETED);
	cr_assert_eq(p.v.progress, 100);
	cr_assert_str_eq(p.v.model, "veo-3.1-fast");
	cr_assert_eq(p.v.created_at, 1700000000LL);
	cr_assert_null(p.v.error);
	video_object_free(&p.v);

	p = parse("{\"data\":{\"id\":\"w\",\"status\":\"failed\","
		  "\"error\":{\"message\":\"nope\"}}}");
	cr_assert_str_eq(p.v.id, "w");
	cr_assert_str_eq(p.v.error, "nope");
	video_object_free(&p.v);
}

Test(video_object, data_is_not_unwrapped_when_top_level_has_fields)
{
	struct parsed p = parse("{\"id\":\"outer\",\"data\":{\"id\":\"inner\"}}");

	cr_assert_str_eq(p.v.id, "outer");
	video_object_free(&p.v);

	p = parse("{\"status\":\"queued\",\"data\":{\"id\":\"inner\"}}");
	cr_assert_null(p.v.id);
	cr_assert_eq(p.v.state, VIDEO_QUEUED);
	video_object_free(&p.v);

	p = parse("{\"data\":[{\"id\":\"inner\"}]}");
	cr_assert_eq(p.rc, 0);
	cr_assert_null(p.v.id);
	video_object_free(&p.v);

	p = parse("{\"data\":\"x\"}");
	cr_assert_eq(p.rc, 0);
	cr_assert_null(p.v.id);
	video_object_free(&p.v);
}

Test(video_object, not_an_object)
{
	assert_rejected("[]", "answer is not a JSON object");
	assert_rejected("[{\"id\":\"a\"}]", "answer is not a JSON object");
	assert_rejected("42", "answer is not a JSON object");
	assert_rejected("\"queued\"", "answer is not a JSON object");
	assert_rejected("null", "answer is not a JSON object");
}

static void assert_not_json(const char *text, size_t len)
{
	struct video_object v;
	char err[256];

	cr_assert_eq(video_object_parse(text, len, &v, err, sizeof(err)), -1);
	cr_assert(strncmp(err, "answer is not valid JSON: ", 26) == 0, "%s", err);
	cr_assert_gt(strlen(err), 26);
	for (const char *c = err; *c; c++)
		cr_assert((unsigned char)*c >= 0x20, "control character in '%s'", err);
	cr_assert_null(v.id);
	video_object_free(&v);
}

Test(video_object, not_json)
{
	static const char *const bad[] = {
		"", "   ", "<html><body>502 Bad Gateway</body></html>",
		"{\"id\":\"v1\",\"status\":\"queu", "{\"id\":\"v1\",", "{",
		"{\"id\":\"v1\"} trailing", "{'id':'v1'}", "{\"id\":\"\x01\n\"}",
		"{\"id\":\"\xff\"}", NULL,
	};

	for (int i = 0; bad[i]; i++)
		assert_not_json(bad[i], strlen(bad[i]));
	assert_not_json("{\"id\":\"v1\"}", 5);
	assert_not_json(NULL, 0);
}

Test(video_object, empty_answer_says_so)
{
	assert_rejected("", "answer is not valid JSON: empty answer");
	assert_rejected(" \r\n\t", "answer is not valid JSON: empty answer");
	assert_rejected("<html>", "answer is not valid JSON: invalid token near '<'");
}

Test(video_object, unterminated_buffer)
{
	/* Bodies come from the network without a terminating NUL. */
	char *buf = malloc(13);
	struct video_object v;
	char err[128];

	cr_assert_not_null(buf);
	memcpy(buf, "{\"id\":\"abc\"}", 12);
	buf[12] = 'X';
	cr_assert_eq(video_object_parse(buf, 12, &v, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(v.id, "abc");
	video_object_free(&v);
	memset(buf, ' ', 13);
	cr_assert_eq(video_object_parse(buf, 13, &v, err, sizeof(err)), -1);
	free(buf);
}

Test(video_object, err_buffer_optional)
{
	struct video_object v;

	cr_assert_eq(video_object_parse("nope", 4, &v, NULL, 0), -1);
	cr_assert_eq(video_object_parse("{\"id\":\"a\\nb\"}", 13, &v, NULL, 0), -1);
	cr_assert_eq(video_object_parse("{\"id\":\"ab\"}", 11, &v, NULL, 0), 0);
	cr_assert_str_eq(v.id, "ab");
	video_object_free(&v);
}

Test(video_object, error_text_is_sanitised)
{
	struct parsed p = parse("{\"id\":\"v\",\"status\":\"failed\",\"error\":"
				"{\"message\":\"\\n  line one\\r\\nline\\ttwo\\u0007\\u0085end  \\n\"}}");

	/* Line breaks stay (the first line is the status, all of them the
	 * error file); every other control character goes. */
	cr_assert_str_eq(p.v.error, "line one\nline two end");
	video_object_free(&p.v);

	p = parse("{\"id\":\"v\",\"status\":\"failed\",\"error\":\"\\n\\t \\r\"}");
	cr_assert_null(p.v.error);
	video_object_free(&p.v);

	p = parse("{\"id\":\"v\",\"status\":\"failed\",\"error\":\"\\n\","
		  "\"failure_reason\":\"real reason\"}");
	cr_assert_str_eq(p.v.error, "real reason");
	video_object_free(&p.v);

	p = parse("{\"id\":\"v\",\"model\":\"veo\\n3\"}");
	cr_assert_str_eq(p.v.model, "veo 3");
	video_object_free(&p.v);
}

static char *big_json(const char *before, const char *unit, size_t times,
		      const char *after)
{
	size_t ulen = strlen(unit), blen = strlen(before), alen = strlen(after);
	char *s = malloc(blen + ulen * times + alen + 1);
	char *o = s;

	cr_assert_not_null(s);
	memcpy(o, before, blen);
	o += blen;
	for (size_t i = 0; i < times; i++, o += ulen)
		memcpy(o, unit, ulen);
	memcpy(o, after, alen + 1);
	return s;
}

Test(video_object, huge_strings_are_capped)
{
	char *json = big_json("{\"id\":\"v\",\"status\":\"failed\",\"error\":{\"message\":\"",
			      "x", 1 << 20, "\"}}");
	struct parsed p = parse(json);

	cr_assert_eq(p.rc, 0, "%s", p.err);
	cr_assert_eq(strlen(p.v.error), 500);
	video_object_free(&p.v);
	free(json);

	/* cut on a character boundary: 'é' is two bytes */
	json = big_json("{\"id\":\"v\",\"status\":\"failed\",\"error\":\"a", "é",
			100000, "\"}");
	p = parse(json);
	cr_assert_eq(p.rc, 0, "%s", p.err);
	cr_assert_eq(strlen(p.v.error), 499);
	cr_assert_eq((unsigned char)p.v.error[497], 0xc3);
	cr_assert_eq((unsigned char)p.v.error[498], 0xa9);
	video_object_free(&p.v);
	free(json);

	json = big_json("{\"id\":\"", "a", 1 << 20, "\"}");
	p = parse(json);
	cr_assert_eq(p.rc, -1);
	cr_assert_str_eq(p.err, "invalid id in answer");
	video_object_free(&p.v);
	free(json);

	json = big_json("{\"id\":\"v\",\"model\":\"", "m", 1 << 16, "\"}");
	p = parse(json);
	cr_assert_eq(strlen(p.v.model), 500);
	video_object_free(&p.v);
	free(json);
}

/* ---- error bodies ---- */

static void assert_message(const char *body, const char *want)
{
	char *got = api_error_message(body, strlen(body));

	if (want)
		cr_assert_str_eq(got ? got : "(null)", want, "%s", body);
	else
		cr_assert_null(got, "%s gave '%s'", body, got);
	free(got);
}

Test(api_error_message, shapes)
{
	assert_message("{\"error\":{\"message\":\"Invalid API key\",\"type\":\"auth\","
		       "\"code\":\"invalid_api_key\"}}", "Invalid API key");
	assert_message("{\"error\":{\"code\":\"invalid_api_key\"}}", "invalid_api_key");
	assert_message("{\"error\":{\"code\":401}}", "401");
	assert_message("{\"error\":\"Unauthorized\"}", "Unauthorized");
	assert_message("{\"message\":\"rate limited\"}", "rate limited");
	assert_message("{\"detail\":\"Not Found\"}", "Not Found");
	assert_message("{\"detail\":[{\"loc\":[\"body\",\"size\"],\"msg\":\"bad size\"}]}",
		       "bad size");
	assert_message("{\"error\":{\"code\":\"c\"},\"message\":\"m\"}", "m");
	assert_message("{\"error\":{\"message\":\"first\"},\"message\":\"second\","
		       "\"detail\":\"third\"}", "first");
	assert_message("{\"message\":\"m\",\"detail\":\"d\"}", "m");
	assert_message("{\"error\":{\"message\":\"multi\\nline\\u001b[31m\"}}",
		       "multi line [31m");
}

Test(api_error_message, nothing_to_say)
{
	assert_message("", NULL);
	assert_message("Bad Gateway", NULL);
	assert_message("<html>502</html>", NULL);
	assert_message("[\"error\"]", NULL);
	assert_message("\"error\"", NULL);
	assert_message("{}", NULL);
	assert_message("{\"error\":null}", NULL);
	assert_message("{\"error\":{}}", NULL);
	assert_message("{\"error\":{\"message\":42}}", NULL);
	assert_message("{\"message\":\"\"}", NULL);
	assert_message("{\"detail\":{\"x\":1}}", NULL);
	assert_message("{\"error\":{\"message\":\"trunc", NULL);
	cr_assert_null(api_error_message(NULL, 0));
}

Test(api_error_message, huge_message_capped)
{
	char *json = big_json("{\"error\":{\"message\":\"", "y", 1 << 20, "\"}}");
	char *msg = api_error_message(json, strlen(json));

	cr_assert_not_null(msg);
	cr_assert_eq(strlen(msg), 500);
	free(msg);
	free(json);
}

/* ---- content URLs ---- */

static void assert_url(const char *body, const char *want)
{
	char *got = api_content_url(body, strlen(body));

	if (want)
		cr_assert_str_eq(got ? got : "(null)", want, "%s", body);
	else
		cr_assert_null(got, "%s gave '%s'", body, got);
	free(got);
}

Test(api_content_url, shapes)
{
	assert_url("{\"url\":\"https://cdn.example.com/v.mp4?sig=1\"}",
		   "https://cdn.example.com/v.mp4?sig=1");
	assert_url("{\"video_url\":\"http://cdn.example.com/v.mp4\"}",
		   "http://cdn.example.com/v.mp4");
	assert_url("{\"download_url\":\"https://d.example.com/x\"}",
		   "https://d.example.com/x");
	assert_url("{\"data\":{\"url\":\"https://e.example.com/y\"}}",
		   "https://e.example.com/y");
	assert_url("{\"data\":[{\"url\":\"https://e.example.com/z\"}]}",
		   "https://e.example.com/z");
	assert_url("{\"url\":\"HTTPS://cdn.example.com/v\"}", "HTTPS://cdn.example.com/v");
	assert_url("{\"url\":\"https://a.example/1\",\"video_url\":\"https://b.example/2\"}",
		   "https://a.example/1");
	assert_url("{\"url\":\"ftp://x/y\",\"video_url\":\"https://b.example/2\"}",
		   "https://b.example/2");
	assert_url("{\"url\":\"bad\",\"data\":{\"url\":\"https://c.example/3\"}}",
		   "https://c.example/3");
}

Test(api_content_url, refused)
{
	assert_url("", NULL);
	assert_url("\x00\x00\x00\x18" "ftypmp42", NULL);
	assert_url("{}", NULL);
	assert_url("[\"https://x.example/\"]", NULL);
	assert_url("{\"url\":null}", NULL);
	assert_url("{\"url\":42}", NULL);
	assert_url("{\"url\":\"\"}", NULL);
	assert_url("{\"url\":\"https://\"}", NULL);
	assert_url("{\"url\":\"file:///etc/passwd\"}", NULL);
	assert_url("{\"url\":\"ftp://x.example/v.mp4\"}", NULL);
	assert_url("{\"url\":\"/relative/v.mp4\"}", NULL);
	assert_url("{\"url\":\"javascript:alert(1)\"}", NULL);
	assert_url("{\"url\":\"https://x.example/a b\"}", NULL);
	assert_url("{\"url\":\"https://x.example/a\\nb\"}", NULL);
	assert_url("{\"data\":{\"video\":\"https://x.example/\"}}", NULL);
	assert_url("{\"url\":\"https://x.example/v\"", NULL);
	cr_assert_null(api_content_url(NULL, 0));
}

Test(api_content_url, binary_body)
{
	static const char mp4[] = "\x00\x00\x00\x18" "ftypmp42\x00\x00\x00\x00";
	char *url = api_content_url(mp4, sizeof(mp4) - 1);

	cr_assert_null(url);
}

/* An escaped NUL is valid JSON: a failure message holding one still makes
 * the task fail, with the NUL gone from the text. */
Test(video_object, escaped_nul_in_an_error_is_taken)
{
	const char *text = "{\"id\":\"v1\",\"status\":\"failed\","
			   "\"error\":{\"message\":\"bad\\u0000 thing\"}}";
	struct video_object v;
	char err[256];

	cr_assert_eq(video_object_parse(text, strlen(text), &v, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(v.state, VIDEO_FAILED);
	cr_assert_not_null(v.error);
	cr_assert_eq(strlen(v.error) > 0, true);
	video_object_free(&v);
}

/* Error bodies of any type show their first line. */
Test(api_error_text, json_text_and_html)
{
	static const struct {
		const char *body, *want;
	} cases[] = {
		{ "{\"error\":{\"message\":\"quota exhausted\"}}", "quota exhausted" },
		{ "Forbidden: this key may not use veo-3.1\nmore detail\n",
		  "Forbidden: this key may not use veo-3.1" },
		{ "\n\n   \r\n  upstream timed out  \n", "upstream timed out" },
		{ "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad "
		  "Gateway</h1></center><hr><center>nginx</center></body></html>",
		  "502 Bad Gateway" },
		{ "<html><body>\n<h1>Service\tUnavailable</h1>\n</body></html>",
		  "Service Unavailable" },
		{ "{\"status\":\"error\"}", NULL },
		{ "   \n\n", NULL },
		{ "\x1b[31mred\x1b[0m alert", "[31mred [0m alert" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = api_error_text(cases[i].body, strlen(cases[i].body));

		if (cases[i].want)
			cr_assert_str_eq(got ? got : "(null)", cases[i].want, "%s", cases[i].body);
		else
			cr_assert_null(got, "%s gave %s", cases[i].body, got);
		free(got);
	}
	cr_assert_null(api_error_text(NULL, 0));
}

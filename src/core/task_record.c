/* Reading record.json: see task_record.h. */
#include "task_record.h"
#include "prompt.h"
#include "video_object.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define IMAGE_EXT_MAX 8

/* A non-empty string without an embedded NUL, else NULL. */
static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	const char *s;

	if (!json_is_string(v) || !json_string_length(v))
		return NULL;
	s = json_string_value(v);
	return strlen(s) == json_string_length(v) ? s : NULL;
}

/* Present with a value, as opposed to absent or null. */
static bool present(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return v && !json_is_null(v);
}

static long long jint(json_t *o, const char *key, long long dflt)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

/* The provider's id, as the API parser accepts it (video_object.h). */
static bool id_ok(const char *s)
{
	return video_id_valid(s, strlen(s));
}

/* The reference image is opened, listed and uploaded by this name, in the
 * task's directory: "image." and a short alphanumeric extension, nothing
 * that could name another file. */
static bool image_file_ok(const char *s)
{
	size_t n;

	if (strncmp(s, "image.", 6))
		return false;
	s += 6;
	n = strlen(s);
	if (n == 0 || n > IMAGE_EXT_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

/* 1 to 16 hex digits; anything else is no hash (0). */
static uint64_t hash_of(const char *s)
{
	uint64_t h = 0;
	size_t n = 0;

	for (; *s; s++, n++) {
		int d;
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return 0;
		if (n == 16)
			return 0;
		h = h << 4 | (uint64_t)d;
	}
	return h;
}

static enum submit_phase submit_of(const char *v)
{
	if (v && !strcmp(v, "sending"))
		return SUBMIT_SENDING;
	if (v && !strcmp(v, "done"))
		return SUBMIT_DONE;
	return SUBMIT_NONE;
}

/* Who wrote the prompt (absent in older records: the mount's user), and
 * whether the task is in the mount's trash. */
static void record_owner_and_trash(json_t *o, struct task *t)
{
	long long uid = jint(o, "owner_uid", -1), gid = jint(o, "owner_gid", -1);

	t->owned = uid >= 0 && uid <= 0xfffffffeLL && gid >= 0 && gid <= 0xfffffffeLL;
	t->owner_uid = t->owned ? (uint32_t)uid : 0;
	t->owner_gid = t->owned ? (uint32_t)gid : 0;
	const char *from = jstr(o, "trashed_from");

	snprintf(t->trashed_from, sizeof(t->trashed_from), "%s",
		 from && strlen(from) < sizeof(t->trashed_from) && !strchr(from, '/') ? from : "");
	t->trashed_at = t->trashed_from[0] ? jint(o, "trashed_at", 0) : 0;
}

int task_record_parse(const char *json, size_t len, struct task *t,
		      char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *v;
	long long n;
	int st;

	if (!o) {
		snprintf(err, errlen, "not valid JSON: %s (line %d)", jerr.text, jerr.line);
		/* jansson's text quotes the input; keep the reason one line */
		for (char *p = err; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
		return -EINVAL;
	}
	if (!json_is_object(o)) {
		snprintf(err, errlen, "not a JSON object");
		json_decref(o);
		return -EINVAL;
	}
	v = jstr(o, "image_file");
	if (present(o, "image_file") && (!v || !image_file_ok(v))) {
		snprintf(err, errlen, "image_file is not an image of the task");
		json_decref(o);
		return -EINVAL;
	}
	task_set_str(&t->image_file, v);
	v = jstr(o, "id");
	if (present(o, "id") && (!v || !id_ok(v))) {
		snprintf(err, errlen, "id is not a provider task id");
		json_decref(o);
		return -EINVAL;
	}
	task_set_str(&t->id, v);

	task_set_str(&t->model, jstr(o, "model"));
	task_set_str(&t->seconds, jstr(o, "seconds"));
	task_set_str(&t->size, jstr(o, "size"));
	t->watermark = json_is_true(json_object_get(o, "watermark"));
	task_set_str(&t->image_url, jstr(o, "image_url"));
	/* Both optional: records written before they existed have neither.
	 * A resolution the front matter would refuse falls back to none, as
	 * an unknown state does. */
	v = jstr(o, "resolution");
	task_set_str(&t->resolution, prompt_resolution_valid(v) ? v : NULL);
	task_set_str(&t->negative_prompt, jstr(o, "negative_prompt"));
	v = jstr(o, "source_hash");
	t->source_hash = v ? hash_of(v) : 0;
	n = jint(o, "created", 0);
	t->created = n > 0 ? n : 0;
	n = jint(o, "changed", 0);
	t->changed = n > 0 ? n : 0;
	st = task_state_parse(jstr(o, "state"));
	t->state = st < 0 ? TASK_PENDING : (enum task_state)st;
	t->submit = submit_of(jstr(o, "submit"));
	n = jint(o, "progress", 0);
	t->progress = n < 0 ? 0 : n > 100 ? 100 : (int)n;
	/* Records older than these keys knew progress whenever it moved. */
	t->progress_seen = json_is_true(json_object_get(o, "progress_seen")) || t->progress > 0;
	t->progress_estimated = json_is_true(json_object_get(o, "progress_estimated"));
	n = jint(o, "accepted_at", 0);
	t->accepted_at = n > 0 ? n : 0;
	t->api_completed = json_is_true(json_object_get(o, "api_completed")) ||
			   t->state == TASK_COMPLETED;
	task_set_str(&t->reason, jstr(o, "reason"));
	task_set_str(&t->video_link, jstr(o, "video_link"));
	/* A cancel the provider has not confirmed yet is asked again. */
	t->cancel_requested = json_is_true(json_object_get(o, "cancel_requested")) &&
			      t->state != TASK_FAILED && t->state != TASK_COMPLETED;
	n = jint(o, "video_size", -1);
	t->video_size = n >= 0 ? n : -1;
	t->video_shown_size = t->video_size;
	n = jint(o, "video_synced", 0);
	t->video_synced = n > 0 ? n : 0;
	t->ranges_ok = json_is_true(json_object_get(o, "ranges_ok"));
	record_owner_and_trash(o, t);
	t->video_webm = jstr(o, "video_type") && !strcmp(jstr(o, "video_type"), "webm");
	json_decref(o);
	return 0;
}

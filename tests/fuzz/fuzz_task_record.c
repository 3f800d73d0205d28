/* record.json comes back from disk, where a crash, a full disk or a hand
 * edit may have damaged it. Besides memory safety (and no leak of the
 * strings a refused record had already set) the fuzzer checks what
 * task_record_parse promises: fields within their ranges, an image_file
 * that names only the task's own image, an id that is safe in paths and
 * URLs, and a one-line reason for every refusal. */
#include "fuzz.h"
#include "task.h"
#include "task_record.h"
#include "video_object.h"

#include <stdlib.h>
#include <string.h>

static void check_nonempty(const char *s)
{
	if (s && !s[0])
		abort();
}

static void check_image_file(const char *s)
{
	if (!s)
		return;
	if (strncmp(s, "image.", 6) || !s[6] || strlen(s) > 6 + 8)
		abort();
	for (const char *p = s + 6; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", *p))
			abort();
}

static void check_id(const char *id)
{
	if (!id)
		return;
	if (!id[0] || strlen(id) > VIDEO_ID_MAX)
		abort();
	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct task *t = task_new("fuzz");
	char err[256] = "";

	if (!t)
		abort();
	if (task_record_parse((const char *)data, size, t, err, sizeof(err)) == 0) {
		if (t->progress < 0 || t->progress > 100)
			abort();
		if ((unsigned)t->state > TASK_FAILED)
			abort();
		if ((unsigned)t->submit > SUBMIT_DONE)
			abort();
		if (t->state == TASK_COMPLETED && !t->api_completed)
			abort();
		if (t->video_size < -1 || t->video_shown_size != t->video_size ||
		    t->video_synced < 0 || t->created < 0 || t->changed < 0)
			abort();
		check_image_file(t->image_file);
		check_id(t->id);
		check_nonempty(t->model);
		check_nonempty(t->seconds);
		check_nonempty(t->size);
		check_nonempty(t->image_url);
		check_nonempty(t->reason);
	} else {
		if (!err[0])
			abort();
		for (const char *p = err; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				abort();
	}
	task_unref(t);
	return 0;
}

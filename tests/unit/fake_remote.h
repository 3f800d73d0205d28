/* An in-memory provider behind struct remote, for testing the engine and
 * the drop box without a network: jobs whose state the test moves
 * explicitly, scripted failures per call, counters of what was asked, and
 * gates that make calls hang until the test lets them go. Thread-safe. */
#ifndef VEOFS_FAKE_REMOTE_H
#define VEOFS_FAKE_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "remote.h"
#include "task_state.h"
#include "test_support.h"
#include "video_object.h"

enum fake_op { FAKE_CREATE, FAKE_GET, FAKE_CONTENT, FAKE_REMOVE, FAKE_LIST, FAKE_OPS };

#define FAKE_ALL (-1)
#define FAKE_DEFAULT_VIDEO_SIZE (300 * 1024)

struct fake_remote;

struct fake_remote *fake_remote_new(void);
/* The struct remote to hand to the engine; remote_destroy() on it frees the
 * fake too, as does fake_remote_free(). */
struct remote *fake_remote_remote(struct fake_remote *f);
void fake_remote_free(struct fake_remote *f);

/* ---- scripted answers: each applies to the next call of op, in order ---- */

enum fake_kind {
	FAKE_FAIL,        /* fail with the fields below */
	FAKE_ANSWER,      /* succeed with body (create/get) */
	FAKE_SHORT_BODY,  /* content: send `after` bytes, then fail as cut short */
	FAKE_STALL,       /* content: send `after` bytes, then hang at the gate */
};

struct fake_script {
	enum fake_kind kind;
	int http_status;
	bool not_received;
	bool retryable;
	long retry_after_ms;     /* -1 when absent */
	const char *reason;      /* copied; NULL for a default */
	const char *body;        /* copied; NULL for none */
	int64_t after;           /* FAKE_SHORT_BODY, FAKE_STALL */
};

void fake_remote_script(struct fake_remote *f, enum fake_op op, const struct fake_script *s);
/* Nothing reached the provider (connection refused, DNS, TLS). */
void fake_remote_fail_not_received(struct fake_remote *f, enum fake_op op);
/* The request went out, then the connection died: no HTTP status. */
void fake_remote_fail_after_sending(struct fake_remote *f, enum fake_op op);
/* An HTTP error answer; retryable as remote_http judges the status (and
 * 404/400 on content), body e.g. {"error":{"message":"..."}} or NULL. */
void fake_remote_fail_http(struct fake_remote *f, enum fake_op op, int status,
			   long retry_after_ms, const char *body);
/* A success answer with exactly this body (e.g. an object without an id). */
void fake_remote_answer(struct fake_remote *f, enum fake_op op, const char *body);
void fake_remote_short_body(struct fake_remote *f, int64_t after);
void fake_remote_stall_content(struct fake_remote *f, int64_t after);

/* Run fn inside the next creates, before they answer and outside the
 * fake's lock, with the create's watch (NULL when the caller gave none):
 * a streamed create's progress, text and ids, as the chat route sends. */
typedef void (*fake_create_hook)(const struct remote_create_watch *watch, void *arg);
void fake_remote_on_create(struct fake_remote *f, fake_create_hook fn, void *arg);

/* Give the fake the optional list op (GET /videos, newest first, pages of
 * at most the limit asked, has_more and last_id as the API has them);
 * before the engine is made. Scripts for FAKE_LIST apply to it. */
void fake_remote_enable_list(struct fake_remote *f);

/* ---- jobs ---- */

/* Size of the video of jobs created from now on. */
void fake_remote_set_video_size(struct fake_remote *f, int64_t size);
/* Whether content honours Range (default true). */
void fake_remote_set_ranges(struct fake_remote *f, bool honoured);
/* Bytes per on_data call (default 16 KiB) and a pause before each chunk. */
void fake_remote_set_chunk(struct fake_remote *f, size_t bytes, int delay_ms);
/* Jobs start queued at 0%. */
int fake_remote_job_count(struct fake_remote *f);
/* The id of the index-th created job; false when there is none. */
bool fake_remote_job_id(struct fake_remote *f, int index, char *buf, size_t len);
int fake_remote_job_set(struct fake_remote *f, const char *id, enum task_state state,
			int progress);
/* Failed, with error {"code","message":error}; error NULL: no error key;
 * as_string: "error":"<error>" instead of an object. */
int fake_remote_job_fail(struct fake_remote *f, const char *id, const char *error,
			 bool as_string);
/* Answer this status spelling instead of the state's own name. */
int fake_remote_job_status_text(struct fake_remote *f, const char *id, const char *text);
int64_t fake_remote_job_video_size(struct fake_remote *f, const char *id);
/* The video's bytes: deterministic per job id and offset. */
void fake_video_bytes(const char *id, int64_t off, void *buf, size_t len);

/* ---- what was asked ---- */

int fake_remote_calls(struct fake_remote *f, enum fake_op op);
/* Wait until at least n calls of op were made (started); returns the count. */
int fake_remote_wait_calls(struct fake_remote *f, enum fake_op op, int n, int timeout_ms);
/* Monotonic ms (scheduler's now_ms) when the index-th call of op started;
 * -1 when there was none. */
int64_t fake_remote_call_time(struct fake_remote *f, enum fake_op op, int index);

struct fake_create_call {
	char *model, *prompt, *seconds, *size, *watermark, *image_path, *image_url;
	char *resolution, *negative_prompt;
	bool image_readable;     /* image_path could be read at call time */
	size_t image_len;
};
/* Valid until the fake is freed; NULL when there was no such call. */
const struct fake_create_call *fake_remote_create_call(struct fake_remote *f, int index);

struct fake_content_call {
	char id[64];
	int64_t offset, length;
	long timeout_ms;
	bool range_honoured;
};
/* Copies up to max calls in order; returns how many there were. */
int fake_remote_content_calls(struct fake_remote *f, struct fake_content_call *out, int max);

/* ---- gates ---- */

/* Make the next count calls of op (FAKE_ALL: every call) hang until
 * fake_remote_release(). A held content call with a timeout_ms gives up
 * after it, as the real one does. */
void fake_remote_hold(struct fake_remote *f, enum fake_op op, int count);
void fake_remote_release(struct fake_remote *f, enum fake_op op);
void fake_remote_release_all(struct fake_remote *f);
/* Wait until n calls of op are hanging; returns how many are. */
int fake_remote_wait_held(struct fake_remote *f, enum fake_op op, int n, int timeout_ms);

#endif

/* The API's video object, parsed leniently: gateways differ in spelling. */
#ifndef VEOFS_VIDEO_OBJECT_H
#define VEOFS_VIDEO_OBJECT_H

#include <stdbool.h>
#include <stddef.h>

enum task_state {
	TASK_PENDING = 0,   /* accepted locally, not yet by the API */
	TASK_QUEUED,
	TASK_IN_PROGRESS,
	TASK_COMPLETED,
	TASK_FAILED,
};

const char *task_state_name(enum task_state s);
/* Parses our own names back ("pending", ...); -1 if unknown. */
int task_state_parse(const char *s);

/* Map any status spelling (queued, pending, submitted, processing, running,
 * in_progress, succeeded, success, finished, completed, failed, failure,
 * error, cancelled, canceled, expired; any case, '-' or ' ' for '_') to a
 * state. Returns false for an unknown spelling. *reason is set to a static
 * reason for failure-like spellings that carry one ("cancelled",
 * "expired"), otherwise NULL. */
bool video_status_normalize(const char *status, enum task_state *state,
			    const char **reason);

struct video_object {
	char *id;          /* "id", else "task_id"; NULL if neither */
	bool has_state;
	enum task_state state;
	int progress;      /* 0..100, -1 when absent */
	char *error;       /* failure reason text, NULL when none given */
	char *model;
	long long created_at; /* "created_at", else "created"; 0 when absent */
};

/* Parse a JSON video object. Unknown keys are ignored; missing keys
 * tolerated; a number given as a string ("42") is accepted for progress.
 * Returns -1 with a reason in err when the text is not a JSON object. */
int video_object_parse(const char *json, size_t len, struct video_object *out,
		       char *err, size_t errlen);
void video_object_free(struct video_object *v);

/* The human-readable message in an API error body: error.message,
 * error (a string), message, detail; else NULL. Caller frees. */
char *api_error_message(const char *body, size_t len);

/* When a /content answer is JSON {"url": "..."} (or data.url / video_url),
 * return that URL (caller frees), else NULL. */
char *api_content_url(const char *body, size_t len);

#endif

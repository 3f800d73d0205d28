/* The API's video object, parsed leniently: gateways differ in spelling. */
#ifndef VEOFS_VIDEO_OBJECT_H
#define VEOFS_VIDEO_OBJECT_H

#include <stdbool.h>
#include <stddef.h>

/* Where the provider says a video stands. The provider's "pending" is
 * VIDEO_QUEUED: it has the job. */
enum video_status {
	VIDEO_QUEUED = 1,
	VIDEO_IN_PROGRESS,
	VIDEO_COMPLETED,
	VIDEO_FAILED,
};

/* Map any status spelling (queued, pending, submitted, preparing, starting,
 * not_start, processing, running, in_progress, succeeded, success, finished,
 * complete(d), fail(ed), failure, error, cancelled, canceled, expired, ...;
 * any case, '-' or ' ' for '_') to a state. Returns false for an unknown spelling. *reason is set to a static
 * reason for failure-like spellings that carry one ("cancelled",
 * "expired"), otherwise NULL. */
bool video_status_normalize(const char *status, enum video_status *state,
			    const char **reason);

/* Whether s (n bytes) can be a provider's task id. OpenAI's spec allows any
 * string, LiteLLM sends base64 with '=', '+' and '/' (often 180-260
 * bytes): anything non-empty up to VIDEO_ID_MAX bytes without control
 * characters is one. An id is kept byte for byte, percent-encoded in URLs,
 * stored as a JSON string and never used as a file name. */
#define VIDEO_ID_MAX 1024
bool video_id_valid(const char *s, size_t n);

struct video_object {
	char *id;          /* "id", else "task_id"; NULL if neither */
	bool has_state;
	enum video_status state;
	char *status_text; /* the status as it came (cleaned); NULL if none */
	char *status_word; /* the same, only when it is a spelling we do not know */
	char *video_url;   /* a link to the finished video, where the object
			      names one (see video_link in video_object.c) */
	int progress;      /* 0..100, -1 when absent */
	char *error;       /* failure reason text, line breaks kept; NULL when none given */
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

/* What an error answer of any type says: api_error_message for JSON, else
 * the first line of a text body or an HTML page's title, cleaned for a
 * one-line file. NULL when there is nothing readable. Caller frees. */
char *api_error_text(const char *body, size_t len);

/* When a /content answer is JSON {"url": "..."} (or data.url / video_url),
 * return that URL (caller frees), else NULL. */
char *api_content_url(const char *body, size_t len);

#endif

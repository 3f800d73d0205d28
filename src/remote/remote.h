/* The provider behind a small interface, so file-system logic can be tested
 * against a fake as well as over HTTP (remote_http.c). Every call is bounded
 * in time and safe to make from several threads at once. */
#ifndef VEOFS_REMOTE_H
#define VEOFS_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REMOTE_REASON_MAX 256

struct remote_result {
	int http_status;       /* 0 when no HTTP answer arrived */
	/* True only when the provider certainly did not receive the request
	 * (no connection, or the connection failed before the request was
	 * fully sent): the one case where a create may be sent again. */
	bool not_received;
	/* True for answers that say "try again later": 429, 5xx, timeouts,
	 * resets; for /content also 404/400 "not ready". */
	bool retryable;
	long retry_after_ms;   /* Retry-After, retry-after-ms or
				  openai-poll-after-ms; -1 when absent */
	char reason[REMOTE_REASON_MAX]; /* human-readable, never holds the key */
	char *body;            /* create/get: the answer's body (malloc) */
	size_t body_len;
};

/* Frees the body and resets every field (retry_after_ms to -1). Every op
 * starts by clearing res, so it must be zero-initialised or cleared before
 * its first use; clear it once more when done. */
void remote_result_clear(struct remote_result *res);
/* Replace the key, bearer tokens and sk- keys in res's reason and body by
 * [redacted]: whatever a provider says may echo what it was sent, and it
 * is shown to every user of the mount. Every implementation calls it on
 * every result it returns. */
void remote_result_redact(struct remote_result *res, const char *key);

/* What a create that streams its answer (the chat route, which holds one
 * request open for the whole generation) reports while it runs. Called on
 * the create's own thread, never under a lock of the remote's; any may be
 * NULL. */
struct remote_create_watch {
	void *ctx;
	/* Progress scraped from the reply, 0..100: an estimate, never lower
	 * than the one before. */
	void (*on_progress)(void *ctx, int percent);
	/* One line of the reply's text (no newline): the only diagnostic the
	 * route gives, so it goes to the task's events. */
	void (*on_text)(void *ctx, const char *line);
	/* The reply named the task: an id, or (pollable) a URL the remote's
	 * get can poll if the stream drops. Called once per new value, the
	 * moment it appears; the caller saves it before the stream goes on. */
	void (*on_id)(void *ctx, const char *id, bool pollable);
};

struct remote_create {
	const char *model;
	const char *prompt;
	const char *seconds;
	const char *size;
	const char *watermark;        /* "true"/"false" or NULL to omit */
	const char *image_path;       /* file uploaded as input_reference */
	const char *image_url;        /* or a URL sent as the input_reference string */
	const char *resolution;       /* "720p"/"1080p" or NULL (front matter) */
	const char *negative_prompt;  /* or NULL (front matter) */
	const struct remote_create_watch *watch; /* or NULL */
};

/* Receives a download. on_start is called once, before any data, with the
 * size of the whole video (-1 if unknown) and whether the server honoured
 * the requested range. Returning non-zero from either callback aborts the
 * transfer (the call then fails with reason "aborted"). on_data always
 * receives bytes from the requested offset on; when the server ignored the
 * range they run to the end of the video instead of stopping at length. */
struct remote_sink {
	void *ctx;
	int (*on_start)(void *ctx, int64_t total_size, bool range_honoured);
	int (*on_data)(void *ctx, const void *buf, size_t len);
};

struct remote;

struct remote_ops {
	/* POST /videos. 0 when a video object came back (res->body). */
	int (*create)(struct remote *r, const struct remote_create *req,
		      struct remote_result *res);
	/* GET /videos/{id}. 0 when a video object came back (res->body). */
	int (*get)(struct remote *r, const char *id, struct remote_result *res);
	/* GET /videos/{id}/content[?variant=VARIANT] from byte offset; length
	 * -1 means to the end. Checks status, Content-Type (JSON is never
	 * passed to the sink; a JSON {"url"} answer is followed) and the byte
	 * count against Content-Length. timeout_ms bounds the whole exchange
	 * (0: only the stall timeout of api.timeout applies). 0 on success. */
	int (*content)(struct remote *r, const char *id, const char *variant,
		       int64_t offset, int64_t length, long timeout_ms,
		       const struct remote_sink *sink, struct remote_result *res);
	/* Optional. GET a link to the finished video that a status object
	 * named (a gateway without /content): as content, from byte offset;
	 * the key goes only to the API's own origin. */
	int (*content_link)(struct remote *r, const char *url, int64_t offset,
			    int64_t length, long timeout_ms,
			    const struct remote_sink *sink, struct remote_result *res);
	/* DELETE /videos/{id}, for cancel. */
	int (*remove)(struct remote *r, const char *id, struct remote_result *res);
	/* Optional (NULL: the provider cannot list). GET /videos?limit=LIMIT
	 * &order=desc[&after=AFTER]: one page of the provider's videos,
	 * newest first. 0 when a 2xx answer came back (res->body, not yet
	 * checked to be a list); a provider without the route answers 404,
	 * 405 or 501 in res->http_status. */
	int (*list)(struct remote *r, const char *after, int limit,
		    struct remote_result *res);
	/* Optional. veofs is stopping: polls and downloads in flight give up
	 * at once; a create in flight is let finish. */
	void (*stop)(struct remote *r);
	void (*destroy)(struct remote *r);
};

struct remote {
	const struct remote_ops *ops;
	void *impl;
};

struct remote_http_options {
	const char *base_url;   /* e.g. http://127.0.0.1:8080/v1 */
	const char *api_key;    /* may be NULL for the simulator */
	int timeout_s;          /* one exchange; connect timeout is shorter */
	/* A download slower than this many bytes/s for timeout_s is cut (and
	 * resumed later by the caller); 0 for the default of 1 byte/s. */
	long min_download_rate;
	/* NULL: the key goes as "Authorization: Bearer KEY". Else the name
	 * of a header of its own ("x-goog-api-key"); redirects are then
	 * followed by hand so it never reaches another origin. */
	const char *key_header;
};

/* The libcurl implementation. NULL with a reason in err on failure. */
struct remote *remote_http_new(const struct remote_http_options *o,
			       char *err, size_t errlen);

static inline void remote_destroy(struct remote *r)
{
	if (r)
		r->ops->destroy(r);
}

#endif

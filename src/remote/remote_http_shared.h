/* The libcurl plumbing of remote_http.c, for the other protocols' remote
 * implementations (remote_gemini.c, remote_openrouter.c): one handle per
 * thread, shared DNS/TLS/connections, the key only to base_url's origin,
 * retryable and not_received judged the same way, downloads checked the
 * same way (status, Content-Type, Content-Length, ranges, a JSON {"url"}
 * followed once). Every result comes back redacted. */
#ifndef VEOFS_REMOTE_HTTP_SHARED_H
#define VEOFS_REMOTE_HTTP_SHARED_H

#include "remote.h"

/* r must come from remote_http_new. base_url without a trailing '/'. */
const char *remote_http_base_url(const struct remote *r);

/* METHOD url (absolute, or a path under base_url) with an optional JSON
 * body (POST when body is non-NULL unless method says otherwise). 0 for a
 * 2xx answer with its body in res->body; -1 otherwise, with retryable and,
 * for a body, not_received set as for a create. */
int remote_http_json(struct remote *r, const char *method, const char *url,
		     const char *body, struct remote_result *res);

/* What remote_http_stream hands its caller while an answer streams in. */
struct remote_http_stream_cb {
	void *ctx;
	/* Once, before the first body byte of a 2xx answer (or at its end
	 * when it had none): the status and Content-Type ("" when none). */
	void (*on_start)(void *ctx, int status, const char *content_type);
	/* Body bytes of a 2xx answer as they arrive, never buffered here.
	 * Non-zero stops reading: the caller has what it needs (a last
	 * event, an error); the call then returns as for a whole answer. */
	int (*on_data)(void *ctx, const char *data, size_t len);
};

/* POST json_body to url (absolute, or a path under base_url) and stream
 * the answer into cb: for a reply held open for minutes (the chat route).
 * Every byte is liveness: silence_s seconds without one cut the exchange
 * ("no data for N s"); total_s bounds it all (api.timeout does not apply).
 * A redirect is not followed (it could send the POST again) and a stop of
 * the remote cuts the exchange at once ("veofs is stopping").
 *
 * 0 when a 2xx answer was read to its end or on_data stopped it. -1
 * otherwise: res->http_status 0 when no response header arrived at all,
 * else the status; for a non-2xx answer the reason "HTTP N: message" and
 * its body (bounded) in res->body; not_received as for a create; the
 * result redacted. */
int remote_http_stream(struct remote *r, const char *url, const char *json_body,
		       long silence_s, long total_s,
		       const struct remote_http_stream_cb *cb,
		       struct remote_result *res);

/* Download url (absolute, or a path under base_url) into sink, as the
 * content op does. */
int remote_http_fetch(struct remote *r, const char *url, int64_t offset,
		      int64_t length, long timeout_ms,
		      const struct remote_sink *sink, struct remote_result *res);

/* Percent-encode every byte but the unreserved ones (and '/' when
 * keep_slash); a "." or ".." segment has its dots encoded. Caller frees. */
char *remote_http_escape(const char *s, bool keep_slash);

#endif

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

/* Download url (absolute, or a path under base_url) into sink, as the
 * content op does. */
int remote_http_fetch(struct remote *r, const char *url, int64_t offset,
		      int64_t length, long timeout_ms,
		      const struct remote_sink *sink, struct remote_result *res);

/* Percent-encode every byte but the unreserved ones (and '/' when
 * keep_slash); a "." or ".." segment has its dots encoded. Caller frees. */
char *remote_http_escape(const char *s, bool keep_slash);

#endif

/* The protocols besides OpenAI's (api.protocol): each is a remote of its
 * own, on remote_http.c's plumbing, that hands the engine OpenAI-shaped
 * video objects (video_object.c), so nothing above the seam changes. */
#ifndef VEOFS_REMOTE_PROTOCOLS_H
#define VEOFS_REMOTE_PROTOCOLS_H

#include <stddef.h>

#include "remote.h"

/* Google's Gemini API (remote_gemini.c). The key goes as x-goog-api-key. */
struct remote *remote_gemini_new(const struct remote_http_options *o,
				 char *err, size_t errlen);
/* The model name sent: veo-3.1 -> veo-3.1-generate-preview, ...; a name
 * already the Gemini API's own is sent as written. */
const char *remote_gemini_model(const char *model);
/* "16:9", "9:16" or NULL (the provider's default) for a size. */
const char *remote_gemini_aspect(const char *size, const char *model);

/* OpenRouter's video API (remote_openrouter.c). */
struct remote *remote_openrouter_new(const struct remote_http_options *o,
				     char *err, size_t errlen);
/* veo-3.1 -> google/veo-3.1, ...; a name with a '/' is sent as written. */
const char *remote_openrouter_model(const char *model, char *buf, size_t len);

/* The OpenAI Chat Completions route of routers (flow2api, sora2api, APIYI,
 * laozhang...), api.protocol = chat (remote_chat.c): one streamed POST
 * {base}/chat/completions holds the whole generation, its progress and
 * link in free text. Billed even when the generation fails, and never
 * resumable: a create past the answer's headers is never sent again. */
struct remote_chat_options {
	int silence_limit_s; /* cut a reply silent this long; 0: 120 */
	int total_limit_s;   /* cut a reply still going after this; 0: 900 */
};
struct remote *remote_chat_new(const struct remote_http_options *o,
			       const struct remote_chat_options *co,
			       char *err, size_t errlen);
/* The model sent: as written ("veo-3.1-landscape-fast"), veo-3.1 when
 * none. The route has no size field: the routers name orientation (and
 * speed) in the model, so a portrait size with a name that says nothing
 * of orientation is still sent as written, and the router's default
 * orientation applies. */
const char *remote_chat_model(const char *model, const char *size);

/* What each protocol on remote_http.c's plumbing is made of: the HTTP
 * remote it sends through and its own copy of the key, to redact what
 * comes back. A protocol's struct begins with one (remote_protocols.c). */
struct remote_over_http {
	struct remote base;
	struct remote *http;
	char *key;
};
/* Make p (zeroed, the first member of impl) a remote with ops whose key
 * goes in key_header (NULL: Authorization: Bearer). -1 with err. */
int remote_over_http_init(struct remote_over_http *p, const struct remote_ops *ops,
			  void *impl, const struct remote_http_options *o,
			  const char *key_header, char *err, size_t errlen);
/* ops.stop for any of them: polls and downloads in flight give up. */
void remote_over_http_stop(struct remote *r);
/* Frees what init made (not p itself); the key is wiped first. */
void remote_over_http_fini(struct remote_over_http *p);

/* Helpers (remote_protocols.c). Callers free what they get. */
char *remote_base64(const unsigned char *p, size_t n);
/* Standard or URL-safe, padding and whitespace ignored; NULL if not base64. */
unsigned char *remote_unbase64(const char *s, size_t *outlen);
const char *remote_image_mime(const char *path);
/* A regular file of at most 20 MB; NULL with a reason in why. */
char *remote_read_image(const char *path, size_t *len, char *why, size_t whylen);

#endif

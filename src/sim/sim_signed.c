/* The redirect dialect's second listener: /content answers 302 to
 *   http://HOST:PORT2/signed/ID.mp4?expires=T&signature=HEX
 * on another port, the way object stores hand out pre-signed URLs. Like
 * them it refuses (403) a request that carries an Authorization header,
 * a wrong signature or an expired one, so a client must drop the API key
 * when it follows the redirect. The answer is the job's video, ranges
 * included. */
#include "sim_internal.h"

#include <netdb.h>
#include <sys/socket.h>

#define SIGNED_TTL 3600

static uint64_t signature(struct sim *s, const char *id, long long expires)
{
	char buf[32];
	uint64_t h = fnv1a_update(0xcbf29ce484222325ULL ^ s->sign_key, id,
				  strlen(id));

	snprintf(buf, sizeof(buf), ":%lld", expires);
	return splitmix64(fnv1a_update(h, buf, strlen(buf)));
}

char *signed_url(struct sim *s, const char *id)
{
	char enc[3 * ID_MAX];
	long long expires = (long long)time(NULL) + SIGNED_TTL;
	char *url;

	url_encode(id, enc, sizeof(enc));
	if (asprintf(&url, "%s/signed/%s.mp4?expires=%lld&signature=%016" PRIx64,
		     s->signed_root, enc, expires,
		     signature(s, id, expires)) < 0)
		return NULL;
	return url;
}

static void refuse(struct sim *s, struct answer *a, const char *why)
{
	count_locked(s, &s->count.signed_refused);
	answer_text(a, 403, "application/xml",
		    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>"
		    "<Code>AccessDenied</Code>");
	/* The reason goes after the code, as storage services say it. */
	if (a->body) {
		char *full;

		if (asprintf(&full, "%s<Message>%s</Message></Error>\n", a->body,
			     why) >= 0) {
			free(a->body);
			a->body = full;
			a->len = strlen(full);
		}
	}
}

static void do_signed(struct sim *s, struct MHD_Connection *c, struct req *r,
		      struct answer *a)
{
	const char *exp = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
						      "expires");
	const char *sig = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
						      "signature");
	char want[20];
	long long expires;
	struct job j;

	count_locked(s, &s->count.signed_requests);
	if (MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					MHD_HTTP_HEADER_AUTHORIZATION) ||
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-goog-api-key")) {
		refuse(s, a, "Only one auth mechanism allowed; only the signature "
		       "query parameters may be given, not an Authorization header");
		return;
	}
	if (!exp || !sig) {
		refuse(s, a, "Query-string authentication requires the expires "
		       "and signature parameters");
		return;
	}
	expires = atoll(exp);
	snprintf(want, sizeof(want), "%016" PRIx64, signature(s, r->id, expires));
	if (strcmp(sig, want) != 0) {
		refuse(s, a, "The request signature we calculated does not match "
		       "the signature you provided");
		return;
	}
	if (expires < (long long)time(NULL)) {
		refuse(s, a, "Request has expired");
		return;
	}
	if (video_state(s, r->id, &j) != 1) {
		answer_text(a, 404, "application/xml",
			    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>"
			    "<Code>NoSuchKey</Code></Error>\n");
		return;
	}
	answer_video(s, c, r->id, j.clip, a);
}

static enum MHD_Result on_signed(void *cls, struct MHD_Connection *c,
				 const char *url, const char *method,
				 const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls)
{
	struct sim *s = cls;
	struct answer a = { 0 };
	struct req r = { .s = s, .route = R_SIGNED, .method = method };
	size_t len = strlen(url);

	if (!*con_cls) {	/* headers first; no body is expected */
		*con_cls = s;
		return MHD_YES;
	}
	*upload_data_size = 0;
	snprintf(r.url, sizeof(r.url), "%s", url);
	r.head = method_is(method, "HEAD");
	if (!method_is(method, "GET") && !r.head) {
		answer_text(&a, 405, "text/plain", "method not allowed\n");
		a.allow = "GET, HEAD";
	} else if (strncmp(url, "/signed/", 8) != 0 || len < 13 ||
		   strcmp(url + len - 4, ".mp4") != 0 ||
		   !copy_id(r.id, url + 8, len - 12)) {
		answer_text(&a, 404, "text/plain", "not found\n");
	} else {
		if (!delay(s, s->opt.latency_ms))
			return MHD_NO;
		do_signed(s, c, &r, &a);
	}
	return send_answer(s, c, &r, &a);
}

int signed_start(struct sim *s, char *err, size_t errlen)
{
	struct sockaddr_storage ss = { 0 };
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV }, *res;
	unsigned int flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD |
			     MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC;
	const char *host = s->opt.listen_host;
	int rc;

	rc = getaddrinfo(host, "0", &hints, &res);
	if (rc != 0) {
		set_err(err, errlen, "cannot resolve '%s': %s", host,
			gai_strerror(rc));
		return -1;
	}
	memcpy(&ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* Its address is known before any server thread reads it. */
	int port = 0, lfd = sim_listen(&ss, &port);
	if (lfd < 0) {
		set_err(err, errlen, "cannot listen on %s for signed URLs", host);
		return -1;
	}
	snprintf(s->signed_root, sizeof(s->signed_root), strchr(host, ':') ?
		 "http://[%s]:%d" : "http://%s:%d", host, port);
	s->signed_daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_signed, s,
					    MHD_OPTION_LISTEN_SOCKET, lfd, MHD_OPTION_END);
	if (!s->signed_daemon) {
		close(lfd);
		set_err(err, errlen, "cannot listen on %s for signed URLs", host);
		return -1;
	}
	return 0;
}

void signed_stop(struct sim *s)
{
	if (s->signed_daemon)
		MHD_stop_daemon(s->signed_daemon);
	s->signed_daemon = NULL;
}

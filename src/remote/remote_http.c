/* The provider over HTTP, with libcurl.
 *
 * Each calling thread keeps one easy handle (reset between requests, so its
 * connection cache survives) and all handles of one remote share DNS,
 * connections and TLS sessions through a CURLSH, so a connection opened by
 * the poller can be reused by a downloader.
 *
 * The key only travels as a bearer token that libcurl sends to the host it
 * was given, never to another host, port or scheme after a redirect; a
 * JSON {"url"} from /content is fetched with the key only when it points
 * back at base_url's origin. */
#include "remote.h"
#include "remote_http_shared.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "http_headers.h"
#include "log.h"
#include "video_object.h"

#ifndef VEOFS_VERSION
#define VEOFS_VERSION "dev"
#endif

#define CONNECT_TIMEOUT_MAX_S 10
#define MAX_REDIRECTS 5L
#define OBJECT_BODY_MAX (4u << 20)  /* create/get answers: small JSON */
#define CONTENT_JSON_MAX (64u << 10) /* JSON or error pages from /content */

struct thread_handle;

/* CURL_MAX_READ_SIZE, the largest receive buffer curl takes. */
#define DOWNLOAD_BUFFER (512L * 1024)

struct http_remote {
	struct remote base;
	char *base_url;    /* no trailing '/' */
	char *api_key;     /* NULL when none */
	char *key_line;    /* "NAME: KEY" when the key goes in a header of its
			      own (key_header), else NULL: Bearer */
	int timeout_s;
	long min_download_rate; /* bytes/s a download may not stay below */
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_key_t handle_key;
	bool has_key;
	pthread_mutex_t handles_lock;
	struct thread_handle *handles; /* every thread's handle, for destroy */
	atomic_bool stopping;          /* abandon polls and downloads */
};

struct thread_handle {
	CURL *curl;
	struct http_remote *owner;
	struct thread_handle *prev, *next;
};

struct buffer {
	char *data;
	size_t len;
	size_t max;
	bool overflow;
};

struct exchange {
	struct http_remote *hr;
	CURL *curl;
	struct curl_slist *headers;
	struct curl_slist *sent;  /* headers plus key_line, for this request */
	/* The final answer's headers: the parser starts over at every
	 * status line, so a redirect's or a "100 Continue"'s never leak. */
	struct http_header_parser hdr;
	struct buffer body;
	char errbuf[CURL_ERROR_SIZE];
	CURLcode rc;
};

/* ---- process-wide setup ---- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- small helpers ---- */

static int buffer_append(struct buffer *b, const char *data, size_t len)
{
	if (b->overflow || len > b->max - b->len) {
		b->overflow = true;
		return -1;
	}
	char *p = realloc(b->data, b->len + len + 1);
	if (!p)
		return -1;
	memcpy(p + b->len, data, len);
	b->len += len;
	p[b->len] = '\0';
	b->data = p;
	return 0;
}

static void buffer_free(struct buffer *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->overflow = false;
}

static bool has_prefix_nocase(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* Every result leaves through here: control characters in the reason are
 * replaced so a server's text cannot forge lines in a status file, and the
 * key, bearer tokens and sk- keys are redacted from the reason and the
 * body (remote_result_redact), since whatever a provider says is shown to
 * every user of the mount. */
static void result_tidy(struct http_remote *hr, struct remote_result *res)
{
	char *reason = res->reason;

	for (char *p = reason; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	size_t n = strlen(reason);
	while (n > 0 && reason[n - 1] == ' ')
		reason[--n] = '\0';
	remote_result_redact(res, hr ? hr->api_key : NULL);
}

static __attribute__((format(printf, 2, 3)))
void set_reason(struct remote_result *res, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
}

static void format_seconds(char *out, size_t len, long ms)
{
	if (ms % 1000 == 0)
		snprintf(out, len, "%ld s", ms / 1000);
	else
		snprintf(out, len, "%.1f s", ms / 1000.0);
}

static size_t on_header(char *data, size_t size, size_t nitems, void *userp)
{
	size_t len = size * nitems;

	http_header_parser_line(userp, data, len, time(NULL));
	return len;
}

static const char *status_text(const struct http_answer *a)
{
	if (a->status_text[0])
		return a->status_text;
	switch (a->status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 422: return "Unprocessable Entity";
	case 425: return "Too Early";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return "unexpected answer";
}

static bool content_type_is(const struct http_answer *a, const char *kind)
{
	return strcasestr(a->content_type, kind) != NULL;
}

static bool is_json(const struct http_answer *a)
{
	return content_type_is(a, "json");
}

static bool is_html(const struct http_answer *a)
{
	return content_type_is(a, "text/html") ||
	       content_type_is(a, "application/xhtml");
}

static bool is_text(const struct http_answer *a)
{
	return has_prefix_nocase(a->content_type, "text/");
}

static bool status_retryable(int st)
{
	return st == 408 || st == 425 || st == 429 ||
	       (st >= 500 && st <= 599 && st != 501 && st != 505);
}

/* ---- transport ---- */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access,
		       void *userp)
{
	struct http_remote *hr = userp;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&hr->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *userp)
{
	struct http_remote *hr = userp;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&hr->share_locks[data]);
}

static void thread_handle_unlink(struct http_remote *hr, struct thread_handle *th)
{
	if (th->prev)
		th->prev->next = th->next;
	else
		hr->handles = th->next;
	if (th->next)
		th->next->prev = th->prev;
}

static void thread_handle_exit(void *p)
{
	struct thread_handle *th = p;
	struct http_remote *hr = th->owner;

	pthread_mutex_lock(&hr->handles_lock);
	thread_handle_unlink(hr, th);
	pthread_mutex_unlock(&hr->handles_lock);
	curl_easy_cleanup(th->curl);
	free(th);
}

static CURL *thread_curl(struct http_remote *hr)
{
	struct thread_handle *th = pthread_getspecific(hr->handle_key);
	if (th)
		return th->curl;
	th = calloc(1, sizeof(*th));
	if (!th)
		return NULL;
	th->curl = curl_easy_init();
	/* The share survives curl_easy_reset, so it is attached once. */
	if (!th->curl ||
	    curl_easy_setopt(th->curl, CURLOPT_SHARE, hr->share) != CURLE_OK ||
	    pthread_setspecific(hr->handle_key, th) != 0) {
		if (th->curl)
			curl_easy_cleanup(th->curl);
		free(th);
		return NULL;
	}
	th->owner = hr;
	pthread_mutex_lock(&hr->handles_lock);
	th->next = hr->handles;
	if (th->next)
		th->next->prev = th;
	hr->handles = th;
	pthread_mutex_unlock(&hr->handles_lock);
	return th->curl;
}

/* The key goes only to the origin of base_url (same scheme, host, port). */
static bool same_origin(const char *a, const char *b)
{
	CURLU *ua = curl_url(), *ub = curl_url();
	bool same = false;
	char *sa = NULL, *sb = NULL, *ha = NULL, *hb = NULL, *pa = NULL, *pb = NULL;

	if (!ua || !ub ||
	    curl_url_set(ua, CURLUPART_URL, a, 0) ||
	    curl_url_set(ub, CURLUPART_URL, b, 0) ||
	    curl_url_get(ua, CURLUPART_SCHEME, &sa, 0) ||
	    curl_url_get(ub, CURLUPART_SCHEME, &sb, 0) ||
	    curl_url_get(ua, CURLUPART_HOST, &ha, 0) ||
	    curl_url_get(ub, CURLUPART_HOST, &hb, 0) ||
	    curl_url_get(ua, CURLUPART_PORT, &pa, CURLU_DEFAULT_PORT) ||
	    curl_url_get(ub, CURLUPART_PORT, &pb, CURLU_DEFAULT_PORT))
		goto out;
	same = !strcasecmp(sa, sb) && !strcasecmp(ha, hb) && !strcmp(pa, pb);
out:
	curl_free(sa);
	curl_free(sb);
	curl_free(ha);
	curl_free(hb);
	curl_free(pa);
	curl_free(pb);
	curl_url_cleanup(ua);
	curl_url_cleanup(ub);
	return same;
}

/* Resolve a possibly relative URL from a JSON answer against the URL that
 * answered. NULL when it does not parse. */
static char *resolve_url(const char *base, const char *ref)
{
	CURLU *u = curl_url();
	char *abs = NULL, *out = NULL;

	if (u && !curl_url_set(u, CURLUPART_URL, base, 0) &&
	    !curl_url_set(u, CURLUPART_URL, ref, 0) &&
	    !curl_url_get(u, CURLUPART_URL, &abs, 0))
		out = strdup(abs);
	curl_free(abs);
	curl_url_cleanup(u);
	return out;
}

/* Request lines are logged as host and path only: queries of signed
 * download URLs carry credentials of their own. */
static void log_request(const char *method, const char *url)
{
	if (log_get_level() < LOG_LVL_DEBUG)
		return;
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	size_t n = strcspn(p, "?#");
	log_debug("%s %.*s", method, (int)n, p);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct exchange *x = userp;
	size_t len = size * nmemb;

	if (buffer_append(&x->body, data, len) < 0)
		return 0;
	return len;
}

#define SETOPT(x, opt, val)                                               \
	do {                                                              \
		if ((x)->rc == CURLE_OK)                                  \
			(x)->rc = curl_easy_setopt((x)->curl, opt, val);  \
	} while (0)

/* veofs is stopping: a poll or download in flight is abandoned (both are
 * simply done again next time). A create is never: its answer is the only
 * record of what was paid for, so create turns this off. */
static int abandon_when_stopping(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
				 curl_off_t ultotal, curl_off_t ulnow)
{
	struct http_remote *hr = clientp;

	return atomic_load(&hr->stopping) ? 1 : 0;
}

/* Options every request carries. Returns the first setopt failure; a
 * request whose safety options did not stick is never performed. */
/* libcurl opens its sockets without close-on-exec; a hook started while a
 * connection is open would otherwise hold it (and keep it alive). */
static curl_socket_t open_socket_cloexec(void *ctx, curlsocktype purpose,
					 struct curl_sockaddr *a)
{
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static CURLcode exchange_setup(struct exchange *x, const char *url,
			       bool send_key)
{
	struct http_remote *hr = x->hr;
	long connect_s = hr->timeout_s < CONNECT_TIMEOUT_MAX_S ?
			 hr->timeout_s : CONNECT_TIMEOUT_MAX_S;

	curl_easy_reset(x->curl);
	http_header_parser_init(&x->hdr);
	x->errbuf[0] = '\0';
	x->rc = CURLE_OK;

	SETOPT(x, CURLOPT_URL, url);
	SETOPT(x, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(x, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SETOPT(x, CURLOPT_FOLLOWLOCATION, 1L);
	SETOPT(x, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
	SETOPT(x, CURLOPT_UNRESTRICTED_AUTH, 0L);
	SETOPT(x, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(x, CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(x, CURLOPT_NOSIGNAL, 1L);
	SETOPT(x, CURLOPT_OPENSOCKETFUNCTION, open_socket_cloexec);
	SETOPT(x, CURLOPT_CONNECTTIMEOUT, connect_s > 0 ? connect_s : 1L);
	SETOPT(x, CURLOPT_USERAGENT, "veofs/" VEOFS_VERSION);
	SETOPT(x, CURLOPT_ERRORBUFFER, x->errbuf);
	SETOPT(x, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(x, CURLOPT_HEADERDATA, &x->hdr.ans);
	SETOPT(x, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(x, CURLOPT_WRITEDATA, x);
	SETOPT(x, CURLOPT_XFERINFOFUNCTION, abandon_when_stopping);
	SETOPT(x, CURLOPT_XFERINFODATA, hr);
	SETOPT(x, CURLOPT_NOPROGRESS, 0L);
	if (send_key && hr->api_key && !hr->key_line) {
		SETOPT(x, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		SETOPT(x, CURLOPT_XOAUTH2_BEARER, hr->api_key);
	}
	curl_slist_free_all(x->sent);
	x->sent = NULL;
	if (send_key && hr->key_line) {
		/* libcurl strips only Authorization and Cookie on a redirect
		 * to another host; a key header of our own would follow it.
		 * So redirects are followed by hand (dl_finish), each hop
		 * judged by same_origin. */
		for (struct curl_slist *h = x->headers; h; h = h->next)
			x->sent = curl_slist_append(x->sent, h->data);
		x->sent = curl_slist_append(x->sent, hr->key_line);
		if (!x->sent)
			return CURLE_OUT_OF_MEMORY;
		SETOPT(x, CURLOPT_HTTPHEADER, x->sent);
		SETOPT(x, CURLOPT_FOLLOWLOCATION, 0L);
	} else if (x->headers) {
		SETOPT(x, CURLOPT_HTTPHEADER, x->headers);
	}
	return x->rc;
}

static bool exchange_begin(struct exchange *x, struct http_remote *hr,
			   struct remote_result *res, size_t body_max)
{
	memset(x, 0, sizeof(*x));
	x->hr = hr;
	x->body.max = body_max;
	remote_result_clear(res);
	x->curl = thread_curl(hr);
	if (!x->curl) {
		set_reason(res, "out of memory");
		res->not_received = true;
		res->retryable = true;
		return false;
	}
	return true;
}

static void exchange_end(struct exchange *x)
{
	/* The handle outlives this exchange: drop every pointer it holds
	 * into our stack and buffers (the connection cache stays). */
	if (x->curl)
		curl_easy_reset(x->curl);
	curl_slist_free_all(x->headers);
	x->headers = NULL;
	curl_slist_free_all(x->sent);
	x->sent = NULL;
	buffer_free(&x->body);
}

/* The only texts of libcurl's that veofs reads: what it reports in no
 * error code or getinfo. Everything else is decided by CURLcode and
 * curl_easy_getinfo. Each entry is provoked against a local server in
 * tests/unit/test_remote_http.c, so a libcurl that words one differently
 * fails a test instead of quietly changing what veofs does. */
enum curl_text {
	/* Verbose text when a read holds bytes beyond Content-Length
	 * (lib/transfer.c; lib/sendf.c since 8.x, same prefix). curl stops
	 * at the declared length and keeps no count of the rest: neither
	 * CURLINFO_SIZE_DOWNLOAD_T nor an error code shows it. */
	CURL_TEXT_EXCESS,
	/* The start of the error buffer for a certificate verification
	 * failure; only dropped from the reason so that it does not say
	 * "certificate problem" twice. Nothing is decided by it. */
	CURL_TEXT_CERT_PROBLEM,
};

static const char *const curl_texts[] = {
	[CURL_TEXT_EXCESS] = "Excess found",
	[CURL_TEXT_CERT_PROBLEM] = "SSL certificate problem: ",
};

static bool curl_text_starts(const char *s, size_t len, enum curl_text which)
{
	size_t n = strlen(curl_texts[which]);

	return len >= n && !strncasecmp(s, curl_texts[which], n);
}

static void host_of(const char *url, char *out, size_t len)
{
	CURLU *u = curl_url();
	char *host = NULL;
	if (u && !curl_url_set(u, CURLUPART_URL, url, 0) &&
	    !curl_url_get(u, CURLUPART_HOST, &host, 0))
		snprintf(out, len, "%s", host);
	else
		snprintf(out, len, "?");
	curl_free(host);
	curl_url_cleanup(u);
}

static bool transport_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_NOT_BUILT_IN:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_UNKNOWN_OPTION:
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_FILESIZE_EXCEEDED:
		return false;
	default:
		return true;
	}
}

/* curl's error buffer, lower-cased and without its trailing newline. */
static void curl_message(const struct exchange *x, char *out, size_t len)
{
	const char *msg = x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->rc);
	snprintf(out, len, "%s", msg);
	size_t n = strlen(out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' ||
			 out[n - 1] == '.'))
		out[--n] = '\0';
	if (out[0] >= 'A' && out[0] <= 'Z' && !(out[1] >= 'A' && out[1] <= 'Z'))
		out[0] = (char)(out[0] - 'A' + 'a');
}

static void errno_phrase(long os_errno, const char *fallback,
			 char *out, size_t len)
{
	switch (os_errno) {
	case ECONNREFUSED: snprintf(out, len, "connection refused"); break;
	case ECONNRESET:
	case EPIPE:        snprintf(out, len, "connection reset"); break;
	case ENETUNREACH:  snprintf(out, len, "network unreachable"); break;
	case EHOSTUNREACH: snprintf(out, len, "host unreachable"); break;
	case ETIMEDOUT:    snprintf(out, len, "connection timed out"); break;
	default:           snprintf(out, len, "%s", fallback); break;
	}
}

/* The host of a URL is an IP address: nothing to resolve. */
static bool host_is_address(const char *host)
{
	char plain[128];
	unsigned char addr[16];
	size_t n = strlen(host);

	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		snprintf(plain, sizeof(plain), "%.*s", (int)(n - 2), host + 1);
		return inet_pton(AF_INET6, plain, addr) == 1;
	}
	return inet_pton(AF_INET, host, addr) == 1;
}

/* The request went out on a connection (new or reused). */
static bool exchange_connected(struct exchange *x)
{
	curl_off_t connect_us = 0, pretransfer_us = 0;
	long request_bytes = 0;

	curl_easy_getinfo(x->curl, CURLINFO_CONNECT_TIME_T, &connect_us);
	curl_easy_getinfo(x->curl, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us);
	curl_easy_getinfo(x->curl, CURLINFO_REQUEST_SIZE, &request_bytes);
	return connect_us > 0 || pretransfer_us > 0 || request_bytes > 0;
}

static bool answer_was_not_http(struct exchange *x)
{
	long code = 0, request_bytes = 0;

	curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(x->curl, CURLINFO_REQUEST_SIZE, &request_bytes);
	return code == 0 && x->hdr.ans.status == 0 && request_bytes > 0;
}

/* Which of curl's clocks ran out (CURLE_OPERATION_TIMEDOUT), told by how
 * far the transfer got: name lookup, connect, or the answer. After the
 * request went out only two limits apply, the whole exchange's and the
 * stall guard (CURLOPT_LOW_SPEED_*); curl checks the former first, so a
 * timeout short of it was the stall guard. Times of redirected requests
 * add up, so after a redirect the phase cannot be told. */
static void timeout_reason(struct exchange *x, const char *url, long total_ms,
			   long stall_s, struct remote_result *res)
{
	char host[128], secs[32];
	curl_off_t lookup_us = 0, total_us = 0;
	long redirects = 0;

	curl_easy_getinfo(x->curl, CURLINFO_NAMELOOKUP_TIME_T, &lookup_us);
	curl_easy_getinfo(x->curl, CURLINFO_TOTAL_TIME_T, &total_us);
	curl_easy_getinfo(x->curl, CURLINFO_REDIRECT_COUNT, &redirects);

	if (redirects == 0 && !exchange_connected(x)) {
		host_of(url, host, sizeof(host));
		if (lookup_us == 0 && !host_is_address(host)) {
			set_reason(res, "could not resolve host %s (timed out)", host);
			return;
		}
		long limit_ms = 1000L * (x->hr->timeout_s < CONNECT_TIMEOUT_MAX_S ?
					 x->hr->timeout_s : CONNECT_TIMEOUT_MAX_S);
		if (limit_ms <= 0)
			limit_ms = 1000;
		if (total_ms > 0 && total_ms < limit_ms)
			limit_ms = total_ms;
		format_seconds(secs, sizeof(secs), limit_ms);
		set_reason(res, "connection timed out after %s", secs);
		return;
	}
	/* The stall guard needs stall_s seconds of silence: an exchange
	 * shorter than that ran out of its whole-exchange limit, however
	 * close to it curl's clock stopped. */
	if (redirects == 0 && stall_s > 0 && total_us >= (curl_off_t)stall_s * 1000000 &&
	    (total_ms <= 0 || total_us < (curl_off_t)total_ms * 1000)) {
		set_reason(res, "no data received for %ld s", stall_s);
		return;
	}
	if (total_ms > 0) {
		format_seconds(secs, sizeof(secs), total_ms);
		set_reason(res, "timed out after %s", secs);
	} else {
		set_reason(res, "timed out");
	}
}

/* A short, human reason for a failed transfer. total_ms is the whole
 * exchange's limit (0: none), stall_s the stall guard (0: none). */
static void transport_reason(struct exchange *x, const char *url,
			     long total_ms, long stall_s,
			     struct remote_result *res)
{
	char msg[CURL_ERROR_SIZE], host[128];
	long os_errno = 0;

	curl_message(x, msg, sizeof(msg));
	curl_easy_getinfo(x->curl, CURLINFO_OS_ERRNO, &os_errno);

	switch (x->rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		host_of(url, host, sizeof(host));
		set_reason(res, "could not resolve host %s", host);
		break;
	case CURLE_COULDNT_RESOLVE_PROXY:
		set_reason(res, "could not resolve proxy");
		break;
	case CURLE_COULDNT_CONNECT:
		host_of(url, host, sizeof(host));
		errno_phrase(os_errno, "could not connect", msg, sizeof(msg));
		if (!strcmp(msg, "could not connect"))
			set_reason(res, "could not connect to %s", host);
		else
			set_reason(res, "%s", msg);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		timeout_reason(x, url, total_ms, stall_s, res);
		break;
	case CURLE_SEND_ERROR:
		errno_phrase(os_errno, "connection lost while sending",
			     res->reason, sizeof(res->reason));
		break;
	case CURLE_RECV_ERROR:
		errno_phrase(os_errno, "connection lost while receiving",
			     res->reason, sizeof(res->reason));
		break;
	case CURLE_GOT_NOTHING:
		set_reason(res, "server closed the connection without answering");
		break;
	case CURLE_PARTIAL_FILE:
		set_reason(res, "connection closed before the answer was complete");
		break;
	case CURLE_WEIRD_SERVER_REPLY:
		set_reason(res, "malformed answer from server");
		break;
	case CURLE_TOO_MANY_REDIRECTS:
		set_reason(res, "too many redirects");
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
		/* Either a redirect to another scheme, which came with an HTTP
		 * status, or an answer that is not HTTP at all (curl refuses
		 * it as HTTP/0.9), which had none. */
		if (answer_was_not_http(x)) {
			set_reason(res, "malformed answer from server");
			res->retryable = true;
			return;
		}
		set_reason(res, "unsupported protocol (only http and https are allowed)");
		break;
	case CURLE_URL_MALFORMAT:
		set_reason(res, "malformed URL");
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		if (curl_text_starts(msg, strlen(msg), CURL_TEXT_CERT_PROBLEM))
			set_reason(res, "TLS certificate problem: %s",
				   msg + strlen(curl_texts[CURL_TEXT_CERT_PROBLEM]));
		else
			set_reason(res, "TLS certificate problem: %s", msg);
		break;
	case CURLE_SSL_CONNECT_ERROR:
		set_reason(res, "TLS handshake failed: %s", msg);
		break;
	default:
		set_reason(res, "%s", msg);
		break;
	}
	res->retryable = transport_retryable(x->rc);
}

/* "HTTP 503: <the API's message, else the status text>" */
static void http_error_reason(struct exchange *x, const char *body,
			      size_t len, const char *fallback,
			      struct remote_result *res)
{
	char *msg = body && len ? api_error_text(body, len) : NULL;
	set_reason(res, "HTTP %d: %s", x->hdr.ans.status,
		   msg ? msg : fallback ? fallback : status_text(&x->hdr.ans));
	free(msg);
}

static void take_body(struct exchange *x, struct remote_result *res)
{
	res->body = x->body.data;
	res->body_len = x->body.len;
	x->body.data = NULL;
	x->body.len = 0;
}

static void fill_status(struct exchange *x, struct remote_result *res)
{
	long code = 0;
	if (x->hdr.ans.status == 0 &&
	    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK)
		x->hdr.ans.status = (int)code;
	res->http_status = x->hdr.ans.status;
	res->retry_after_ms = http_answer_wait_ms(&x->hdr.ans);
}

/* ---- create / get / remove ---- */

/* Performs an exchange whose answer is a small JSON object. Returns 0 for a
 * 2xx answer with the body in res->body, -1 otherwise with res filled in. */
static int object_exchange(struct exchange *x, const char *method,
			   const char *url, struct remote_result *res)
{
	log_request(method, url);
	x->rc = curl_easy_perform(x->curl);
	fill_status(x, res);

	if (x->rc == CURLE_WRITE_ERROR && x->body.overflow) {
		set_reason(res, "answer larger than %u bytes", OBJECT_BODY_MAX);
		res->retryable = status_retryable(res->http_status);
		return -1;
	}
	if (x->rc != CURLE_OK) {
		transport_reason(x, url, x->hr->timeout_s * 1000L, 0, res);
		return -1;
	}
	if (x->hdr.ans.status >= 200 && x->hdr.ans.status < 300) {
		take_body(x, res);
		return 0;
	}
	http_error_reason(x, x->body.data, x->body.len, NULL, res);
	res->retryable = status_retryable(x->hdr.ans.status);
	take_body(x, res);
	return -1;
}

static char *video_url(struct http_remote *hr, CURL *curl, const char *id,
		       const char *suffix)
{
	/* Any string is an id: every byte but the unreserved ones is
	 * percent-encoded, and an id that is a dot segment ("." or "..")
	 * has its dots encoded too, or the URL would name another path. */
	char *esc = curl_easy_escape(curl, id, 0);
	if (!esc)
		return NULL;
	const char *seg = !strcmp(esc, ".") ? "%2E" : !strcmp(esc, "..") ? "%2E%2E" : esc;
	size_t n = strlen(hr->base_url) + strlen(seg) + strlen(suffix) + 16;
	char *url = malloc(n);
	if (url)
		snprintf(url, n, "%s/videos/%s%s", hr->base_url, seg, suffix);
	curl_free(esc);
	return url;
}

static const char *image_mime_type(const char *path)
{
	const char *dot = strrchr(path, '.');
	if (!dot)
		return "application/octet-stream";
	if (!strcasecmp(dot, ".png"))
		return "image/png";
	if (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"))
		return "image/jpeg";
	if (!strcasecmp(dot, ".webp"))
		return "image/webp";
	if (!strcasecmp(dot, ".gif"))
		return "image/gif";
	return "application/octet-stream";
}

static CURLcode mime_field(curl_mime *mime, const char *name, const char *value)
{
	if (!value)
		return CURLE_OK;
	curl_mimepart *part = curl_mime_addpart(mime);
	if (!part)
		return CURLE_OUT_OF_MEMORY;
	CURLcode rc = curl_mime_name(part, name);
	if (rc == CURLE_OK)
		rc = curl_mime_data(part, value, CURL_ZERO_TERMINATED);
	return rc;
}

static CURLcode mime_image(curl_mime *mime, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	curl_mimepart *part = curl_mime_addpart(mime);
	if (!part)
		return CURLE_OUT_OF_MEMORY;
	CURLcode rc = curl_mime_name(part, "input_reference");
	if (rc == CURLE_OK)
		rc = curl_mime_filedata(part, path);
	if (rc == CURLE_OK)
		rc = curl_mime_filename(part, base);
	if (rc == CURLE_OK)
		rc = curl_mime_type(part, image_mime_type(path));
	return rc;
}

/* The provider can only have acted on a create whose body it received in
 * full. Anything short of certainty that it did not counts as received. */
static bool create_not_received(struct exchange *x)
{
	switch (x->rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return true;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		break;
	default:
		return false;
	}
	if (x->hdr.ans.status != 0)
		return false;
	long redirects = -1, request_bytes = -1;
	curl_off_t sent = -1, total = -1;
	if (curl_easy_getinfo(x->curl, CURLINFO_REDIRECT_COUNT, &redirects) ||
	    curl_easy_getinfo(x->curl, CURLINFO_REQUEST_SIZE, &request_bytes) ||
	    curl_easy_getinfo(x->curl, CURLINFO_SIZE_UPLOAD_T, &sent) ||
	    curl_easy_getinfo(x->curl, CURLINFO_CONTENT_LENGTH_UPLOAD_T, &total))
		return false;
	if (redirects != 0)
		return false;
	/* Failed before a byte of the request went out (a TLS handshake, a
	 * connect timeout), or before the body was complete. */
	if (request_bytes == 0 && sent <= 0)
		return true;
	return total > 0 && sent >= 0 && sent < total;
}

static int http_create(struct remote *r, const struct remote_create *req,
		       struct remote_result *res)
{
	struct http_remote *hr = r->impl;
	struct exchange x;
	curl_mime *mime = NULL;
	char *url = NULL;
	int ret = -1;

	if (!exchange_begin(&x, hr, res, OBJECT_BODY_MAX))
		return -1;
	if (req->image_path) {
		struct stat st;
		const char *why = NULL;
		if (stat(req->image_path, &st) < 0)
			why = strerror(errno);
		else if (!S_ISREG(st.st_mode))
			why = "not a regular file";
		if (why) {
			set_reason(res, "cannot read image %s: %s",
				   req->image_path, why);
			res->not_received = true;
			goto out;
		}
	}
	size_t n = strlen(hr->base_url) + sizeof("/videos");
	url = malloc(n);
	mime = curl_mime_init(x.curl);
	if (!url || !mime) {
		set_reason(res, "out of memory");
		res->not_received = true;
		res->retryable = true;
		goto out;
	}
	snprintf(url, n, "%s/videos", hr->base_url);

	CURLcode rc = mime_field(mime, "model", req->model);
	if (rc == CURLE_OK)
		rc = mime_field(mime, "prompt", req->prompt);
	if (rc == CURLE_OK)
		rc = mime_field(mime, "seconds", req->seconds);
	if (rc == CURLE_OK)
		rc = mime_field(mime, "size", req->size);
	if (rc == CURLE_OK)
		rc = mime_field(mime, "watermark", req->watermark);
	/* req->resolution and req->negative_prompt are not sent: OpenAI's
	 * CreateVideoMultipartBody has neither, and the README says they
	 * apply to the gemini and openrouter protocols only. */
	if (rc == CURLE_OK && req->image_path)
		rc = mime_image(mime, req->image_path);
	else if (rc == CURLE_OK && req->image_url)
		rc = mime_field(mime, "input_reference", req->image_url);
	/* Some gateways mishandle "Expect: 100-continue"; it also saves a
	 * round trip on every create. */
	x.headers = curl_slist_append(NULL, "Expect:");
	if (rc == CURLE_OK && !x.headers)
		rc = CURLE_OUT_OF_MEMORY;
	if (rc == CURLE_OK)
		rc = exchange_setup(&x, url, true);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(x.curl, CURLOPT_NOPROGRESS, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(x.curl, CURLOPT_MIMEPOST, mime);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(x.curl, CURLOPT_HTTPHEADER,
				      x.sent ? x.sent : x.headers);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(x.curl, CURLOPT_TIMEOUT, (long)hr->timeout_s);
	if (rc != CURLE_OK) {
		set_reason(res, "cannot prepare request: %s", curl_easy_strerror(rc));
		res->not_received = true;
		goto out;
	}

	ret = object_exchange(&x, "POST", url, res);
	if (ret == 0 && res->body_len == 0) {
		set_reason(res, "HTTP %d without a video object", res->http_status);
		ret = -1;
	}
	if (ret < 0)
		res->not_received = create_not_received(&x);
out:
	exchange_end(&x);
	curl_mime_free(mime);
	free(url);
	result_tidy(hr, res);
	return ret;
}

static int simple_exchange(struct remote *r, const char *method,
			   const char *id, struct remote_result *res)
{
	struct http_remote *hr = r->impl;
	struct exchange x;
	char *url = NULL;
	int ret = -1;

	if (!exchange_begin(&x, hr, res, OBJECT_BODY_MAX))
		return -1;
	url = video_url(hr, x.curl, id, "");
	if (!url) {
		set_reason(res, "out of memory");
		res->retryable = true;
		goto out;
	}
	CURLcode rc = exchange_setup(&x, url, true);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(x.curl, CURLOPT_TIMEOUT, (long)hr->timeout_s);
	if (rc == CURLE_OK && strcmp(method, "GET"))
		rc = curl_easy_setopt(x.curl, CURLOPT_CUSTOMREQUEST, method);
	if (rc != CURLE_OK) {
		set_reason(res, "cannot prepare request: %s", curl_easy_strerror(rc));
		goto out;
	}
	ret = object_exchange(&x, method, url, res);
out:
	exchange_end(&x);
	free(url);
	return ret;
}

static int http_get(struct remote *r, const char *id, struct remote_result *res)
{
	struct http_remote *hr = r->impl;
	int ret = simple_exchange(r, "GET", id, res);

	if (ret == 0 && res->body_len == 0) {
		set_reason(res, "HTTP %d without a video object", res->http_status);
		res->retryable = true;
		ret = -1;
	}
	if (ret < 0 && res->http_status == 404) {
		set_reason(res, "task not found on the provider");
		res->retryable = false;
	}
	result_tidy(hr, res);
	return ret;
}

static int http_remove(struct remote *r, const char *id, struct remote_result *res)
{
	struct http_remote *hr = r->impl;
	int ret = simple_exchange(r, "DELETE", id, res);

	/* A 404 is not a cancel: gateways without a DELETE route (new-api)
	 * answer it while the job goes on. The caller says what happened. */
	result_tidy(hr, res);
	return ret;
}

/* ---- content ---- */

/* The first bytes of a body are looked at before any reach the sink: a
 * body is judged by what it is, not by what its headers call it. */
#define SNIFF_BYTES 16
/* How much of a body that is not a video is read, to say what it was. */
#define NOT_VIDEO_MAX (64u << 10)

enum dl_mode {
	DL_UNDECIDED,
	DL_SNIFF,       /* a body from byte 0: its first bytes decide */
	DL_STREAM,      /* video bytes, passed to the sink */
	DL_NOT_VIDEO,   /* text, or bytes of no video container: counted */
	DL_JSON,        /* buffered: an error or a {"url"} */
	DL_ERROR,       /* non-2xx, not JSON: buffered for a message */
	DL_REJECTED,    /* stopped by us; reason set */
	DL_ABORTED,     /* the sink said stop */
};

struct download {
	struct exchange x;
	const struct remote_sink *sink;
	int64_t offset, length;
	bool ranged;
	bool following;      /* fetching a URL a JSON answer or a redirect gave */
	long hops;           /* redirects followed by hand */
	bool want_video;     /* the video itself, not a variant: must be one */
	enum dl_mode mode;
	unsigned char head[SNIFF_BYTES];
	size_t head_len;
	int64_t start_total; /* for on_start once the sniff passed */
	bool start_honoured;
	int64_t other_bytes; /* DL_NOT_VIDEO: how many came */
	int64_t skip;        /* bytes still to drop before offset */
	int64_t received;    /* body bytes of the final answer */
	int64_t expected;    /* what the headers promised, -1 unknown */
	bool excess;         /* the server sent more than it declared */
	char reject[REMOTE_REASON_MAX];
	bool reject_retryable;
};

static void dl_reject(struct download *d, bool retryable, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void dl_reject(struct download *d, bool retryable, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->reject, sizeof(d->reject), fmt, ap);
	va_end(ap);
	d->reject_retryable = retryable;
	d->mode = DL_REJECTED;
}

/* The final answer's Content-Encoding, other than identity: "" when none.
 * libcurl keeps the headers of each answer, so a redirect's never count. */
static void content_encoding(CURL *curl, char *out, size_t len)
{
	struct curl_header *h = NULL;

	out[0] = '\0';
	if (curl_easy_header(curl, "Content-Encoding", 0, CURLH_HEADER, -1, &h) ==
	    CURLHE_OK && h && h->value && strcasecmp(h->value, "identity"))
		snprintf(out, len, "%.*s", (int)len - 1, h->value);
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

static void dl_start_stream(struct download *d)
{
	if (d->sink->on_start &&
	    d->sink->on_start(d->sink->ctx, d->start_total, d->start_honoured)) {
		d->mode = DL_ABORTED;
		return;
	}
	d->mode = DL_STREAM;
}

/* Decide, from the headers alone, what the body is. at_end: the answer is
 * over and had no body. */
static void dl_decide(struct download *d, bool at_end)
{
	const struct http_answer *a = &d->x.hdr.ans;

	if (a->status == 0) {
		long code = 0;
		curl_easy_getinfo(d->x.curl, CURLINFO_RESPONSE_CODE, &code);
		d->x.hdr.ans.status = (int)code;
	}
	if (is_json(a)) {
		d->mode = DL_JSON;
		return;
	}
	if (a->status != 200 && a->status != 206) {
		d->mode = DL_ERROR;
		return;
	}
	if (is_html(a) || is_text(a)) {
		d->mode = DL_NOT_VIDEO;
		return;
	}
	if (at_end) {
		dl_reject(d, true, "server answered an empty body instead of the video");
		return;
	}

	if (a->length_conflict) {
		dl_reject(d, true, "server sent conflicting Content-Length headers");
		return;
	}

	int64_t total;
	bool honoured;
	char encoding[32];
	content_encoding(d->x.curl, encoding, sizeof(encoding));
	if (a->status == 206) {
		if (a->range_conflict) {
			dl_reject(d, true, "server sent conflicting Content-Range headers");
			return;
		}
		if (!a->has_range || a->range.unsatisfied) {
			dl_reject(d, true, "partial answer without a valid Content-Range");
			return;
		}
		if (a->range.start > d->offset) {
			dl_reject(d, true, "server sent bytes from %lld, asked for %lld",
				  (long long)a->range.start, (long long)d->offset);
			return;
		}
		d->expected = a->range.end - a->range.start + 1;
		if (a->content_length >= 0 && a->content_length != d->expected) {
			dl_reject(d, true, "Content-Length %lld does not match Content-Range %lld-%lld",
				  (long long)a->content_length,
				  (long long)a->range.start, (long long)a->range.end);
			return;
		}
		d->skip = d->offset - a->range.start;
		total = a->range.total;
		honoured = true;
		if (encoding[0]) {
			/* Ranges of compressed bytes are not ranges of the video. */
			dl_reject(d, true, "server compressed a partial answer (%s)",
				  encoding);
			return;
		}
	} else {
		d->expected = a->content_length;
		d->skip = d->offset;
		total = a->content_length;
		honoured = !d->ranged;
		if (encoding[0]) {
			/* libcurl decodes it: the lengths said are the
			 * compressed ones (curl checks those itself). */
			d->expected = -1;
			total = -1;
		}
		if (total >= 0 && d->offset > total) {
			dl_reject(d, false, "offset %lld is beyond the end of the video (%lld bytes)",
				  (long long)d->offset, (long long)total);
			return;
		}
	}
	d->start_total = total;
	d->start_honoured = honoured;
	/* A body that starts at the video's first byte shows what it is. */
	if (a->status == 200 || a->range.start == 0) {
		d->mode = DL_SNIFF;
		return;
	}
	dl_start_stream(d);
}

static bool looks_like_json(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n')
			continue;
		return p[i] == '{' || p[i] == '[';
	}
	return false;
}

/* MP4/MOV (an ftyp box first) or WebM/Matroska (the EBML magic). */
static bool looks_like_video(const unsigned char *p, size_t len)
{
	if (len >= 8 && !memcmp(p + 4, "ftyp", 4))
		return true;
	return len >= 4 && !memcmp(p, "\x1a\x45\xdf\xa3", 4);
}

static size_t dl_write(struct download *d, const char *data, size_t len);

/* The sniff is over: the head decides, then goes where its body goes.
 * Returns false when the transfer must stop. */
static bool dl_judge_head(struct download *d)
{
	if (looks_like_json(d->head, d->head_len))
		d->mode = DL_JSON;
	else if (d->want_video && !looks_like_video(d->head, d->head_len))
		d->mode = DL_NOT_VIDEO;
	else
		dl_start_stream(d);
	return dl_write(d, (const char *)d->head, d->head_len) == d->head_len;
}

static size_t on_content(char *data, size_t size, size_t nmemb, void *userp)
{
	struct download *d = userp;
	size_t len = size * nmemb, took = 0;

	if (d->mode == DL_UNDECIDED)
		dl_decide(d, false);
	if (d->mode == DL_SNIFF) {
		took = len < SNIFF_BYTES - d->head_len ? len : SNIFF_BYTES - d->head_len;
		memcpy(d->head + d->head_len, data, took);
		d->head_len += took;
		if (d->head_len < SNIFF_BYTES)
			return len;
		if (!dl_judge_head(d))
			return 0;
	}
	if (took < len && dl_write(d, data + took, len - took) != len - took)
		return 0;
	return len;
}

/* Bytes of the body, after the sniff, to wherever the mode sends them. */
static size_t dl_write(struct download *d, const char *data, size_t len)
{
	size_t size = 1, nmemb = len;

	switch (d->mode) {
	case DL_STREAM:
		break;
	case DL_NOT_VIDEO:
		/* Kept to say what it was; read no further than needed. */
		d->other_bytes += (int64_t)len;
		if (d->x.body.len < 256)
			buffer_append(&d->x.body, data,
				      len < 256 - d->x.body.len ? len : 256 - d->x.body.len);
		return d->other_bytes > NOT_VIDEO_MAX ? 0 : len;
	case DL_JSON:
		if (buffer_append(&d->x.body, data, len) < 0) {
			dl_reject(d, true, "JSON answer larger than %u bytes",
				  CONTENT_JSON_MAX);
			return 0;
		}
		return len;
	case DL_ERROR:
		/* Only the start of an error page is worth keeping. */
		buffer_append(&d->x.body, data, len);
		return len;
	default:
		return 0;
	}

	d->received += (int64_t)len;
	if (d->skip > 0) {
		size_t drop = d->skip < (int64_t)len ? (size_t)d->skip : len;
		d->skip -= (int64_t)drop;
		data += drop;
		len -= drop;
	}
	if (len > 0 && d->sink->on_data(d->sink->ctx, data, len)) {
		d->mode = DL_ABORTED;
		return 0;
	}
	return size * nmemb;
}

/* curl stops reading at Content-Length and only mentions bytes beyond it
 * in its verbose text; a body longer than declared means the declared
 * length (and so the video) is wrong. Nothing else of the verbose stream
 * is looked at: it holds the request headers, key included. */
static int on_debug(CURL *h, curl_infotype type, char *data, size_t size,
		    void *userp)
{
	struct download *d = userp;

	if (type == CURLINFO_TEXT && curl_text_starts(data, size, CURL_TEXT_EXCESS))
		d->excess = true;
	return 0;
}

static bool content_error_retryable(int st)
{
	return st == 400 || st == 404 || st == 409 || (st >= 200 && st < 300) ||
	       status_retryable(st);
}

/* "the provider sent 17 bytes of text/plain: "enim ipsum..."" */
static void not_video_reason(struct download *d, struct remote_result *res)
{
	const struct http_answer *a = &d->x.hdr.ans;
	char label[64], preview[64];
	size_t n = 0;

	snprintf(label, sizeof(label), "%.*s", (int)strcspn(a->content_type, "; "),
		 a->content_type);
	for (size_t i = 0; i < d->x.body.len && n < 40; i++) {
		unsigned char c = (unsigned char)d->x.body.data[i];
		preview[n++] = c >= 0x20 && c < 0x7f && c != '"' ? (char)c : '.';
	}
	preview[n] = '\0';
	set_reason(res, "the provider sent %s%lld bytes of %s: \"%s%s\"",
		   d->other_bytes > NOT_VIDEO_MAX ? "more than " : "",
		   (long long)(d->other_bytes > NOT_VIDEO_MAX ? NOT_VIDEO_MAX : d->other_bytes),
		   label[0] ? label : "unlabelled data", preview,
		   (int64_t)d->x.body.len > (int64_t)n ? "..." : "");
}

static CURLcode dl_setup(struct download *d, const char *url, long timeout_ms)
{
	struct http_remote *hr = d->x.hr;
	bool send_key = !d->following || same_origin(url, hr->base_url);
	char range[64];

	d->mode = DL_UNDECIDED;
	d->head_len = 0;
	d->other_bytes = 0;
	d->skip = 0;
	d->received = 0;
	d->expected = -1;
	d->excess = false;
	buffer_free(&d->x.body);

	CURLcode rc = exchange_setup(&d->x, url, send_key);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(d->x.curl, CURLOPT_WRITEFUNCTION, on_content);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(d->x.curl, CURLOPT_WRITEDATA, d);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(d->x.curl, CURLOPT_DEBUGFUNCTION, on_debug);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(d->x.curl, CURLOPT_DEBUGDATA, d);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(d->x.curl, CURLOPT_VERBOSE, 1L);
	/* Videos are large: fewer, bigger reads and writes (curl's default
	 * is 16 KiB, which costs a recv, a poll and a pwrite per 16 KiB). */
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(d->x.curl, CURLOPT_BUFFERSIZE, DOWNLOAD_BUFFER);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(d->x.curl, CURLOPT_LOW_SPEED_LIMIT, hr->min_download_rate);
	/* A compressed video is decoded (a whole one: ranges of compressed
	 * bytes are refused above). */
	if (rc == CURLE_OK && !d->ranged)
		rc = curl_easy_setopt(d->x.curl, CURLOPT_ACCEPT_ENCODING, "");
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(d->x.curl, CURLOPT_LOW_SPEED_TIME,
				      (long)(hr->timeout_s > 0 ? hr->timeout_s : 1));
	if (rc == CURLE_OK && timeout_ms > 0)
		rc = curl_easy_setopt(d->x.curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	if (rc == CURLE_OK && d->ranged) {
		if (d->length >= 0)
			snprintf(range, sizeof(range), "%lld-%lld",
				 (long long)d->offset,
				 (long long)(d->offset + d->length - 1));
		else
			snprintf(range, sizeof(range), "%lld-", (long long)d->offset);
		rc = curl_easy_setopt(d->x.curl, CURLOPT_RANGE, range);
	}
	return rc;
}

enum dl_outcome { DL_DONE, DL_FAILED, DL_FOLLOW };

/* Judge one finished transfer. On DL_FOLLOW *next holds the URL a JSON
 * answer pointed to. */
static enum dl_outcome dl_finish(struct download *d, const char *url,
				 long timeout_ms, struct remote_result *res,
				 char **next)
{
	struct exchange *x = &d->x;

	if (x->rc == CURLE_OK && d->mode == DL_UNDECIDED)
		dl_decide(d, true);
	if (x->rc == CURLE_OK && d->mode == DL_SNIFF)
		dl_judge_head(d);
	fill_status(x, res);

	/* A redirect left to us (a key header of our own was sent). */
	if (x->rc == CURLE_OK && x->sent && x->hdr.ans.status >= 300 &&
	    x->hdr.ans.status < 400) {
		char *loc = NULL;
		if (d->hops >= MAX_REDIRECTS ||
		    curl_easy_getinfo(x->curl, CURLINFO_REDIRECT_URL, &loc) != CURLE_OK ||
		    !loc) {
			set_reason(res, "HTTP %d: too many or unusable redirects",
				   x->hdr.ans.status);
			res->retryable = true;
			return DL_FAILED;
		}
		*next = strdup(loc);
		d->hops++;
		return *next ? DL_FOLLOW : DL_FAILED;
	}

	if (d->mode == DL_NOT_VIDEO) {
		not_video_reason(d, res);
		/* An answer, but not the video: counted against the task
		 * like any answer that will not change by asking again. */
		res->retryable = false;
		return DL_FAILED;
	}

	switch (d->mode) {
	case DL_ABORTED:
		set_reason(res, "aborted");
		res->retryable = false;
		return DL_FAILED;
	case DL_REJECTED:
		set_reason(res, "%s", d->reject);
		res->retryable = d->reject_retryable;
		return DL_FAILED;
	default:
		break;
	}

	if (d->mode == DL_STREAM && d->expected >= 0 && d->received < d->expected &&
	    (x->rc == CURLE_OK || x->rc == CURLE_PARTIAL_FILE)) {
		set_reason(res, "short body: got %lld of %lld bytes",
			   (long long)d->received, (long long)d->expected);
		res->retryable = true;
		return DL_FAILED;
	}
	if (x->rc != CURLE_OK) {
		transport_reason(x, url, timeout_ms, x->hr->timeout_s, res);
		return DL_FAILED;
	}

	int st = x->hdr.ans.status;
	if (d->mode == DL_STREAM) {
		if (d->expected >= 0 && d->received != d->expected) {
			set_reason(res, "body length mismatch: got %lld of %lld bytes",
				   (long long)d->received, (long long)d->expected);
			res->retryable = true;
			return DL_FAILED;
		}
		if (d->excess) {
			set_reason(res, "long body: more than the declared %lld bytes",
				   (long long)d->expected);
			res->retryable = true;
			return DL_FAILED;
		}
		if (d->skip > 0) {
			set_reason(res, "server sent %lld bytes, fewer than the offset %lld",
				   (long long)d->received, (long long)d->offset);
			res->retryable = false;
			return DL_FAILED;
		}
		return DL_DONE;
	}

	if (d->mode == DL_JSON) {
		char *link = d->following ? NULL :
			     api_content_url(x->body.data, x->body.len);
		if (link) {
			*next = resolve_url(url, link);
			free(link);
			if (*next)
				return DL_FOLLOW;
			set_reason(res, "server gave an unusable video URL");
			res->retryable = true;
			return DL_FAILED;
		}
		char *msg = api_error_message(x->body.data, x->body.len);
		const char *fallback = d->following ?
			"the video URL answered JSON instead of the video" :
			(st >= 200 && st < 300) ?
			"server answered JSON instead of the video" :
			"video is not ready yet";
		set_reason(res, "HTTP %d: %s", st, msg ? msg : fallback);
		free(msg);
		res->retryable = content_error_retryable(st);
		return DL_FAILED;
	}

	/* DL_ERROR: a non-2xx answer that is not JSON */
	const struct http_answer *a = &x->hdr.ans;
	if (st == 416 && a->has_range && a->range.unsatisfied &&
	    d->offset >= a->range.total) {
		set_reason(res, "offset %lld is beyond the end of the video (%lld bytes)",
			   (long long)d->offset, (long long)a->range.total);
		res->retryable = false;
		return DL_FAILED;
	}
	http_error_reason(x, NULL, 0, NULL, res);
	res->retryable = content_error_retryable(st);
	return DL_FAILED;
}

/* /videos/{id}/content, or (link set) a link a status object gave, fetched
 * as a followed link is: the key goes only to the API's own origin. */
static int content_get(struct remote *r, const char *id, const char *variant,
		       const char *link, int64_t offset, int64_t length, long timeout_ms,
		       const struct remote_sink *sink, struct remote_result *res)
{
	struct http_remote *hr = r->impl;
	struct download d;
	char *url = NULL, *next = NULL;
	int ret = -1;

	memset(&d, 0, sizeof(d));
	if (!exchange_begin(&d.x, hr, res, CONTENT_JSON_MAX))
		return -1;
	if (offset < 0 || length == 0 || length < -1 || !sink || !sink->on_data) {
		set_reason(res, "invalid range or sink");
		goto out;
	}
	d.sink = sink;
	d.offset = offset;
	d.length = length;
	d.ranged = offset > 0 || length >= 0;
	d.want_video = variant == NULL;

	if (link) {
		url = strdup(link);
		d.following = true;
	} else if (variant) {
		char *esc = curl_easy_escape(d.x.curl, variant, 0);
		char suffix[160];
		snprintf(suffix, sizeof(suffix), "/content?variant=%s", esc ? esc : "");
		curl_free(esc);
		url = video_url(hr, d.x.curl, id, suffix);
	} else {
		url = video_url(hr, d.x.curl, id, "/content");
	}
	if (!url) {
		set_reason(res, "out of memory");
		res->retryable = true;
		goto out;
	}

	for (;;) {
		CURLcode rc = dl_setup(&d, url, timeout_ms);
		if (rc != CURLE_OK) {
			set_reason(res, "cannot prepare request: %s",
				   curl_easy_strerror(rc));
			break;
		}
		log_request("GET", url);
		d.x.rc = curl_easy_perform(d.x.curl);
		enum dl_outcome o = dl_finish(&d, url, timeout_ms, res, &next);
		if (o == DL_DONE)
			ret = 0;
		if (o != DL_FOLLOW)
			break;
		/* Only one hop: a URL that answers with another URL is a loop
		 * or a misconfigured gateway. */
		free(url);
		url = next;
		next = NULL;
		d.following = true;
		res->http_status = 0;
		res->retry_after_ms = -1;
	}
out:
	exchange_end(&d.x);
	free(url);
	result_tidy(hr, res);
	return ret;
}

static int http_content(struct remote *r, const char *id, const char *variant,
			int64_t offset, int64_t length, long timeout_ms,
			const struct remote_sink *sink, struct remote_result *res)
{
	return content_get(r, id, variant, NULL, offset, length, timeout_ms, sink, res);
}

static int http_content_link(struct remote *r, const char *url, int64_t offset,
			     int64_t length, long timeout_ms,
			     const struct remote_sink *sink, struct remote_result *res)
{
	return content_get(r, NULL, NULL, url, offset, length, timeout_ms, sink, res);
}

/* ---- lifetime ---- */

static void http_destroy(struct remote *r)
{
	struct http_remote *hr = r->impl;

	/* Threads that already exited took their handles with them; the
	 * rest, including ours, are freed here. */
	if (hr->has_key) {
		pthread_setspecific(hr->handle_key, NULL);
		pthread_key_delete(hr->handle_key);
	}
	pthread_mutex_lock(&hr->handles_lock);
	struct thread_handle *th = hr->handles;
	hr->handles = NULL;
	pthread_mutex_unlock(&hr->handles_lock);
	while (th) {
		struct thread_handle *next = th->next;
		curl_easy_cleanup(th->curl);
		free(th);
		th = next;
	}
	if (hr->share)
		curl_share_cleanup(hr->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&hr->share_locks[i]);
	pthread_mutex_destroy(&hr->handles_lock);
	if (hr->api_key) {
		explicit_bzero(hr->api_key, strlen(hr->api_key));
		free(hr->api_key);
	}
	if (hr->key_line) {
		explicit_bzero(hr->key_line, strlen(hr->key_line));
		free(hr->key_line);
	}
	free(hr->base_url);
	free(hr);
}

static void http_stop(struct remote *r)
{
	struct http_remote *hr = r->impl;

	atomic_store(&hr->stopping, true);
}

/* GET /videos?limit=N&order=desc[&after=ID]: one page of ListVideos. */
static int http_list(struct remote *r, const char *after, int limit,
		     struct remote_result *res)
{
	struct http_remote *hr = r->impl;
	struct exchange x;
	char *url = NULL, *esc = NULL;
	int ret = -1;

	if (!exchange_begin(&x, hr, res, OBJECT_BODY_MAX))
		return -1;
	if (after)
		esc = curl_easy_escape(x.curl, after, 0);
	if (asprintf(&url, "%s/videos?limit=%d&order=desc%s%s", hr->base_url, limit,
		     esc ? "&after=" : "", esc ? esc : "") < 0) {
		url = NULL;
		set_reason(res, "out of memory");
		res->retryable = true;
		goto out;
	}
	CURLcode rc = exchange_setup(&x, url, true);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(x.curl, CURLOPT_TIMEOUT, (long)hr->timeout_s);
	if (rc != CURLE_OK) {
		set_reason(res, "cannot prepare request: %s", curl_easy_strerror(rc));
		goto out;
	}
	ret = object_exchange(&x, "GET", url, res);
out:
	exchange_end(&x);
	curl_free(esc);
	free(url);
	result_tidy(hr, res);
	return ret;
}


static const struct remote_ops http_ops = {
	.list = http_list,
	.stop = http_stop,
	.create = http_create,
	.get = http_get,
	.content = http_content,
	.content_link = http_content_link,
	.remove = http_remove,
	.destroy = http_destroy,
};

static int share_setup(struct http_remote *hr)
{
	hr->share = curl_share_init();
	if (!hr->share)
		return -1;
	CURLSHcode rc = curl_share_setopt(hr->share, CURLSHOPT_LOCKFUNC, share_lock);
	if (rc == CURLSHE_OK)
		rc = curl_share_setopt(hr->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	if (rc == CURLSHE_OK)
		rc = curl_share_setopt(hr->share, CURLSHOPT_USERDATA, hr);
	if (rc == CURLSHE_OK)
		rc = curl_share_setopt(hr->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	if (rc == CURLSHE_OK)
		rc = curl_share_setopt(hr->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	if (rc == CURLSHE_OK)
		rc = curl_share_setopt(hr->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	return rc == CURLSHE_OK ? 0 : -1;
}

struct remote *remote_http_new(const struct remote_http_options *o,
			       char *err, size_t errlen)
{
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK) {
		snprintf(err, errlen, "cannot initialise libcurl: %s",
			 curl_easy_strerror(global_rc));
		return NULL;
	}
	if (!o || !o->base_url || !*o->base_url) {
		snprintf(err, errlen, "no base_url");
		return NULL;
	}
	if (!has_prefix_nocase(o->base_url, "http://") &&
	    !has_prefix_nocase(o->base_url, "https://")) {
		snprintf(err, errlen, "base_url '%s' is not an http or https URL",
			 o->base_url);
		return NULL;
	}

	struct http_remote *hr = calloc(1, sizeof(*hr));
	if (!hr) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&hr->share_locks[i], NULL);
	pthread_mutex_init(&hr->handles_lock, NULL);
	hr->base.ops = &http_ops;
	hr->base.impl = hr;
	hr->timeout_s = o->timeout_s > 0 ? o->timeout_s : 60;
	hr->min_download_rate = o->min_download_rate > 0 ? o->min_download_rate : 1;
	hr->base_url = strdup(o->base_url);
	if (hr->base_url) {
		size_t n = strlen(hr->base_url);
		while (n > 0 && hr->base_url[n - 1] == '/')
			hr->base_url[--n] = '\0';
	}
	if (o->api_key && *o->api_key)
		hr->api_key = strdup(o->api_key);
	if (hr->api_key && o->key_header && *o->key_header &&
	    asprintf(&hr->key_line, "%s: %s", o->key_header, hr->api_key) < 0)
		hr->key_line = NULL;

	hr->has_key = pthread_key_create(&hr->handle_key, thread_handle_exit) == 0;
	if (!hr->base_url || (o->api_key && *o->api_key && !hr->api_key) ||
	    (hr->api_key && o->key_header && *o->key_header && !hr->key_line) ||
	    !hr->has_key || share_setup(hr) < 0) {
		snprintf(err, errlen, "cannot set up the HTTP client");
		http_destroy(&hr->base);
		return NULL;
	}
	return &hr->base;
}

/* ---- shared with the other protocols (remote_http_shared.h) ---- */

const char *remote_http_base_url(const struct remote *r)
{
	return ((const struct http_remote *)r->impl)->base_url;
}

static char *absolute_url(const struct http_remote *hr, const char *url)
{
	if (has_prefix_nocase(url, "http://") || has_prefix_nocase(url, "https://"))
		return strdup(url);
	char *out = NULL;
	if (asprintf(&out, "%s%s%s", hr->base_url, *url == '/' ? "" : "/", url) < 0)
		return NULL;
	return out;
}

int remote_http_json(struct remote *r, const char *method, const char *url,
		     const char *body, struct remote_result *res)
{
	struct http_remote *hr = r->impl;
	struct exchange x;
	char *abs = NULL;
	int ret = -1;
	bool post = body != NULL;

	if (!exchange_begin(&x, hr, res, OBJECT_BODY_MAX))
		return -1; /* out of memory: no provider text to tidy */
	abs = absolute_url(hr, url);
	if (post) {
		x.headers = curl_slist_append(NULL, "Expect:");
		if (x.headers)
			x.headers = curl_slist_append(x.headers,
						      "Content-Type: application/json");
	}
	if (!abs || (post && !x.headers)) {
		set_reason(res, "out of memory");
		res->not_received = true;
		res->retryable = true;
		goto out;
	}
	CURLcode rc = exchange_setup(&x, abs, same_origin(abs, hr->base_url));
	if (rc == CURLE_OK && post)
		rc = curl_easy_setopt(x.curl, CURLOPT_NOPROGRESS, 1L);
	if (rc == CURLE_OK && post)
		rc = curl_easy_setopt(x.curl, CURLOPT_POSTFIELDSIZE_LARGE,
				      (curl_off_t)strlen(body));
	if (rc == CURLE_OK && post)
		rc = curl_easy_setopt(x.curl, CURLOPT_COPYPOSTFIELDS, body);
	if (rc == CURLE_OK && strcmp(method, post ? "POST" : "GET"))
		rc = curl_easy_setopt(x.curl, CURLOPT_CUSTOMREQUEST, method);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(x.curl, CURLOPT_TIMEOUT, (long)hr->timeout_s);
	if (rc != CURLE_OK) {
		set_reason(res, "cannot prepare request: %s", curl_easy_strerror(rc));
		res->not_received = true;
		goto out;
	}
	ret = object_exchange(&x, method, abs, res);
	if (ret < 0 && post)
		res->not_received = create_not_received(&x);
out:
	exchange_end(&x);
	free(abs);
	result_tidy(hr, res);
	return ret;
}

/* ---- a streamed answer (remote_http_stream) ---- */

struct stream {
	struct exchange x;
	const struct remote_http_stream_cb *cb;
	long silence_ms;
	int64_t last_byte_ms;   /* CLOCK_MONOTONIC */
	bool started;           /* on_start was called */
	bool caller_stopped;    /* on_data asked to stop */
	bool silenced;          /* silence_ms passed without a byte */
	bool abandoned;         /* the remote is stopping */
};

/* The real clock, not clock.c's: a test clock must not stop a network
 * exchange's silence guard. */
static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t stream_header(char *data, size_t size, size_t nitems, void *userp)
{
	struct stream *st = userp;
	size_t len = size * nitems;

	st->last_byte_ms = mono_ms();
	http_header_parser_line(&st->x.hdr, data, len, time(NULL));
	return len;
}

static bool stream_status_ok(const struct stream *st)
{
	return st->x.hdr.ans.status >= 200 && st->x.hdr.ans.status < 300;
}

static void stream_start(struct stream *st)
{
	if (st->started)
		return;
	st->started = true;
	if (st->cb->on_start)
		st->cb->on_start(st->cb->ctx, st->x.hdr.ans.status,
				 st->x.hdr.ans.content_type);
}

static size_t stream_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct stream *st = userp;
	size_t len = size * nmemb;

	st->last_byte_ms = mono_ms();
	if (!stream_status_ok(st)) {
		/* An error answer: only its start is kept, for the reason. */
		buffer_append(&st->x.body, data, len);
		return len;
	}
	stream_start(st);
	if (st->cb->on_data && st->cb->on_data(st->cb->ctx, data, len)) {
		st->caller_stopped = true;
		return 0;
	}
	return len;
}

/* Called by libcurl about once a second even when nothing arrives: the
 * silence guard ("any byte is liveness", which CURLOPT_LOW_SPEED_* with
 * its averaged speed is not) and a stop of the remote. */
static int stream_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
			   curl_off_t ultotal, curl_off_t ulnow)
{
	struct stream *st = clientp;

	if (atomic_load(&st->x.hr->stopping)) {
		st->abandoned = true;
		return 1;
	}
	if (st->silence_ms > 0 && mono_ms() - st->last_byte_ms >= st->silence_ms) {
		st->silenced = true;
		return 1;
	}
	return 0;
}

int remote_http_stream(struct remote *r, const char *url, const char *json_body,
		       long silence_s, long total_s,
		       const struct remote_http_stream_cb *cb,
		       struct remote_result *res)
{
	struct http_remote *hr = r->impl;
	struct stream st;
	char *abs = NULL;
	int ret = -1;

	memset(&st, 0, sizeof(st));
	if (!exchange_begin(&st.x, hr, res, CONTENT_JSON_MAX))
		return -1;
	st.cb = cb;
	st.silence_ms = silence_s > 0 ? silence_s * 1000 : 0;
	abs = absolute_url(hr, url);
	st.x.headers = curl_slist_append(NULL, "Expect:");
	if (st.x.headers)
		st.x.headers = curl_slist_append(st.x.headers,
						 "Content-Type: application/json");
	if (st.x.headers)
		st.x.headers = curl_slist_append(st.x.headers,
						 "Accept: text/event-stream, application/json");
	if (!abs || !st.x.headers) {
		set_reason(res, "out of memory");
		res->not_received = true;
		res->retryable = true;
		goto out;
	}
	CURLcode rc = exchange_setup(&st.x, abs, same_origin(abs, hr->base_url));
	/* A redirected POST is sent again (307, 308) or turned into a GET:
	 * neither is what a request that bills on arrival may do. */
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(st.x.curl, CURLOPT_FOLLOWLOCATION, 0L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(st.x.curl, CURLOPT_HEADERFUNCTION, stream_header);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(st.x.curl, CURLOPT_HEADERDATA, &st);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(st.x.curl, CURLOPT_WRITEFUNCTION, stream_body);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(st.x.curl, CURLOPT_WRITEDATA, &st);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(st.x.curl, CURLOPT_XFERINFOFUNCTION, stream_progress);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(st.x.curl, CURLOPT_XFERINFODATA, &st);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(st.x.curl, CURLOPT_NOPROGRESS, 0L);
	/* Minutes of one reply: keep a NAT or proxy from forgetting it. */
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(st.x.curl, CURLOPT_TCP_KEEPALIVE, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(st.x.curl, CURLOPT_POSTFIELDSIZE_LARGE,
				      (curl_off_t)strlen(json_body));
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(st.x.curl, CURLOPT_COPYPOSTFIELDS, json_body);
	if (rc == CURLE_OK && total_s > 0)
		rc = curl_easy_setopt(st.x.curl, CURLOPT_TIMEOUT, total_s);
	if (rc != CURLE_OK) {
		set_reason(res, "cannot prepare request: %s", curl_easy_strerror(rc));
		res->not_received = true;
		goto out;
	}

	log_request("POST", abs);
	st.last_byte_ms = mono_ms();
	st.x.rc = curl_easy_perform(st.x.curl);
	fill_status(&st.x, res);
	if (st.x.rc == CURLE_WRITE_ERROR && st.caller_stopped)
		st.x.rc = CURLE_OK;
	if (st.x.rc != CURLE_OK) {
		if (st.silenced) {
			set_reason(res, "no data for %ld s", silence_s);
			res->retryable = true;
		} else if (st.abandoned) {
			set_reason(res, "veofs is stopping");
			res->retryable = true;
		} else {
			transport_reason(&st.x, abs, total_s * 1000L, 0, res);
		}
		/* Cut by us: received unless it never got as far as a
		 * connection. */
		if (st.silenced || st.abandoned)
			res->not_received = !exchange_connected(&st.x);
		else
			res->not_received = res->http_status == 0 &&
					    create_not_received(&st.x);
		goto out;
	}
	if (stream_status_ok(&st)) {
		stream_start(&st);
		ret = 0;
		goto out;
	}
	http_error_reason(&st.x, st.x.body.data, st.x.body.len, NULL, res);
	res->retryable = status_retryable(st.x.hdr.ans.status);
	take_body(&st.x, res);
out:
	exchange_end(&st.x);
	free(abs);
	result_tidy(hr, res);
	return ret;
}

int remote_http_fetch(struct remote *r, const char *url, int64_t offset,
		      int64_t length, long timeout_ms,
		      const struct remote_sink *sink, struct remote_result *res)
{
	struct http_remote *hr = r->impl;
	char *abs = absolute_url(hr, url);
	int ret;

	if (!abs) {
		remote_result_clear(res);
		set_reason(res, "out of memory");
		res->retryable = true;
		return -1;
	}
	/* As a link a status object gave: the key only to base_url's
	 * origin, at every hop. */
	/* content_get tidies and redacts the result. */
	ret = content_get(r, NULL, NULL, abs, offset, length, timeout_ms, sink, res);
	free(abs);
	return ret;
}

/* A dot in a segment that is all dots ("." or "..") would name another
 * path once a server normalises the URL. */
static bool dot_segment(const char *start, const char *p, bool keep_slash)
{
	const char *b = p, *e = p;

	while (b > start && (!keep_slash || b[-1] != '/'))
		b--;
	while (*e && (!keep_slash || *e != '/'))
		e++;
	if (e - b > 2)
		return false;
	for (const char *q = b; q < e; q++)
		if (*q != '.')
			return false;
	return true;
}

char *remote_http_escape(const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(3 * strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '-' || c == '_' ||
			     c == '~' || (keep_slash && c == '/') ||
			     (c == '.' && !dot_segment(s, p, keep_slash));
		if (plain) {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

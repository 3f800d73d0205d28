/* Answers: JSON and error bodies, streamed videos, and the faults that
 * replace, cut or reset what a route decided to send. */
#include "sim_internal.h"
#include "sim_video.h"



void answer_json(struct answer *a, unsigned status, json_t *o)
{
	a->status = status;
	a->content_type = "application/json";
	a->is_json = true;
	a->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (!a->body)
		a->body = strdup("{}");
	a->len = a->body ? strlen(a->body) : 0;
	json_decref(o);
}

void answer_error(struct answer *a, unsigned status, const char *type,
			 const char *code, const char *param, const char *fmt, ...)
{
	char message[512];
	va_list ap;
	json_t *e;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	e = json_pack("{s:s, s:s, s:o, s:o}", "message", message, "type", type,
		      "param", param ? json_string(param) : json_null(),
		      "code", code ? json_string(code) : json_null());
	answer_json(a, status, json_pack("{s:o}", "error", e));
}

void answer_text(struct answer *a, unsigned status, const char *type,
			const char *text)
{
	a->status = status;
	a->content_type = type;
	a->body = strdup(text);
	a->len = a->body ? strlen(a->body) : 0;
}

/* What a response body is made of when it is streamed: a video range, or
 * a memory body cut short on purpose. */
struct body_src {
	struct sim *s;
	char *mem;
	bool video;
	bool counted;
	char job_id[ID_MAX];
	int clip;
	int64_t video_bytes;
	int64_t start;
	int64_t len;
	int64_t cut;		/* short-body: fail after this many; -1: never */
};

static ssize_t body_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct body_src *b = cls;
	int64_t end = b->cut >= 0 ? b->cut : b->len;
	size_t n;

	if ((int64_t)pos >= end)
		return b->cut >= 0 ? MHD_CONTENT_READER_END_WITH_ERROR :
				     MHD_CONTENT_READER_END_OF_STREAM;
	n = (int64_t)max < end - (int64_t)pos ? max : (size_t)(end - pos);
	if (!b->video) {
		memcpy(buf, b->mem + pos, n);
		return n;
	}
	if (!b->counted) {
		b->counted = true;
		count_locked(b->s, &b->s->count.downloads);
	}
	n = sim_clip_video_read(b->clip, b->job_id, b->video_bytes,
				b->start + pos, buf, n);
	return n > 0 ? (ssize_t)n : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void body_free(void *cls)
{
	struct body_src *b = cls;

	free(b->mem);
	free(b);
}

void log_answer(struct sim *s, struct req *r, const char *what)
{
	if (!s->opt.verbose)
		return;
	/* Only the method, path and outcome: headers may carry the key. */
	fprintf(stderr, "veofs-sim: %s %s -> %s%s%s\n", r->method, r->url, what,
		r->fault != FK_NONE ? " fault " : "",
		r->fault != FK_NONE ? kind_name(r->fault) : "");
}

/* Body faults that replace or cut whatever the route decided. */
static void shape_body(struct sim *s, struct req *r, struct answer *a)
{
	static const char bad_json[] =
		"{\"object\": \"video\", \"status\": \"queued\",, \"progress\": }";
	size_t half;

	if (r->fault == FK_BAD_JSON) {
		free(a->body);
		memset(a, 0, sizeof(*a));
		answer_text(a, 200, "application/json", bad_json);
		a->is_json = true;
	} else if (r->fault == FK_TRUNCATED_JSON) {
		if (!a->is_json || a->video) {
			free(a->body);
			memset(a, 0, sizeof(*a));
			answer_error(a, 200, "server_error", "upstream_error",
				     NULL, "upstream returned an error");
		}
		a->status = 200;
		half = a->len / 2;
		a->len = half;
	}
}

static enum MHD_Result send_inner(struct sim *s, struct MHD_Connection *c,
				  struct req *r, struct answer *a,
				  const char *location)
{
	struct MHD_Response *resp;
	struct body_src *b = NULL;
	enum MHD_Result ret;
	char buf[96];
	bool cut = r->fault == FK_SHORT_BODY, long_body = r->fault == FK_LONG_BODY;
	int64_t body_len;

	if (r->fault == FK_RESET_AFTER_BODY) {
		log_answer(s, r, "closed");
		free(a->body);
		return MHD_NO;
	}
	shape_body(s, r, a);
	body_len = a->video ? a->count : (int64_t)a->len;
	if (a->video || cut || long_body) {
		b = calloc(1, sizeof(*b));
		if (!b) {
			free(a->body);
			return MHD_NO;
		}
		b->s = s;
		b->mem = a->body;
		a->body = NULL;
		b->video = a->video;
		snprintf(b->job_id, sizeof(b->job_id), "%s", a->job_id);
		b->clip = a->clip;
		b->video_bytes = s->opt.video_bytes;
		b->start = a->start;
		b->len = body_len;
		b->cut = cut ? body_len / 2 : -1;
		/* A long body is sent until the connection closes, so its
		 * size is unknown to MHD and the Content-Length we add lies. */
		resp = MHD_create_response_from_callback(
			long_body ? MHD_SIZE_UNKNOWN : (uint64_t)body_len,
			64 * 1024, body_read, b, body_free);
	} else {
		resp = MHD_create_response_from_buffer(a->len, a->body,
						       MHD_RESPMEM_MUST_FREE);
		if (resp)
			a->body = NULL;
	}
	if (!resp) {
		if (b)
			body_free(b);
		free(a->body);
		return MHD_NO;
	}
	if (long_body) {
		MHD_set_response_options(resp, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT |
					 MHD_RF_INSANITY_HEADER_CONTENT_LENGTH,
					 MHD_RO_END);
		snprintf(buf, sizeof(buf), "%" PRId64, body_len / 2);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_LENGTH, buf);
	}
	if (a->content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					a->content_type);
	if (a->ranges)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	if (a->partial) {
		snprintf(buf, sizeof(buf), "bytes %" PRId64 "-%" PRId64 "/%" PRId64,
			 a->start, a->start + a->count - 1, a->total);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, buf);
	} else if (a->unsatisfiable) {
		snprintf(buf, sizeof(buf), "bytes */%" PRId64, a->total);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, buf);
	}
	if (a->retry_after)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER,
					a->retry_after);
	if (a->retry_after_ms)
		MHD_add_response_header(resp, "retry-after-ms", a->retry_after_ms);
	if (a->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, a->allow);
	if (location)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
	ret = MHD_queue_response(c, a->status, resp);
	MHD_destroy_response(resp);
	snprintf(buf, sizeof(buf), "%u", a->status);
	log_answer(s, r, buf);
	return ret;
}

enum MHD_Result send_answer(struct sim *s, struct MHD_Connection *c,
			    struct req *r, struct answer *a)
{
	char *location = a->location;
	enum MHD_Result ret;

	a->location = NULL;
	ret = send_inner(s, c, r, a, location);
	free(location);
	return ret;
}

/* Faults that answer instead of the route: nothing is created or read. */
bool fault_answer(struct req *r, struct answer *a)
{
	switch (r->fault) {
	case FK_429:
	case FK_429_RETRY_AFTER:
	case FK_429_RETRY_AFTER_MS:
		answer_error(a, 429, "rate_limit_error", "rate_limit_exceeded",
			     NULL, "rate limit reached, slow down");
		if (r->fault == FK_429_RETRY_AFTER)
			a->retry_after = "1";
		if (r->fault == FK_429_RETRY_AFTER_MS)
			a->retry_after_ms = "500";
		return true;
	case FK_500:
		answer_error(a, 500, "server_error", NULL, NULL,
			     "the server had an error while processing your request");
		return true;
	case FK_502:
		answer_error(a, 502, "server_error", NULL, NULL, "bad gateway");
		return true;
	case FK_503:
		answer_error(a, 503, "server_error", NULL, NULL,
			     "the engine is currently overloaded, please try again later");
		return true;
	case FK_JSON_BODY:
		answer_error(a, 200, "server_error", "upstream_error", NULL,
			     "upstream error: the video is not available");
		return true;
	case FK_HTML_BODY:
		answer_text(a, 200, "text/html; charset=utf-8",
			    "<!DOCTYPE html>\n<html><head><title>Just a moment...</title>"
			    "</head>\n<body><h1>Checking your browser</h1>"
			    "<p>Please wait while we verify your connection.</p>"
			    "</body></html>\n");
		return true;
	default:
		return false;
	}
}

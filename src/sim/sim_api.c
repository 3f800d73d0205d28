/* The provider API under /v1/videos: create, poll, list, delete and the
 * content download with ranges. */
#include "sim_internal.h"
#include "sim_video.h"


void do_create(struct sim *s, struct req *r, struct answer *a)
{
	char msg[256];
	const char *param = NULL;
	struct job *j;

	if (r->too_large) {
		answer_error(a, 413, "invalid_request_error", NULL, NULL,
			     "the request body is too large");
		return;
	}
	if (r->bad_body) {
		answer_error(a, 400, "invalid_request_error", NULL, NULL,
			     "expected a multipart/form-data or application/json body");
		return;
	}
	if (r->body_json &&
	    fields_from_json(&r->in, &r->raw, &param, msg, sizeof(msg)) < 0) {
		answer_error(a, 400, "invalid_request_error", NULL, param, "%s", msg);
		return;
	}
	if (validate(&r->in, &param, msg, sizeof(msg)) < 0) {
		answer_error(a, 400, "invalid_request_error", NULL, param, "%s", msg);
		return;
	}
	pthread_mutex_lock(&s->lock);
	j = add_job(s, &r->in);
	if (j) {
		mark_outcome(s, j, r->fault, true);
		answer_json(a, 200, video_object(s, j, true, r->fault));
	}
	pthread_mutex_unlock(&s->lock);
	if (!j)
		answer_error(a, 500, "server_error", NULL, NULL, "out of memory");
}

void not_found(struct answer *a, const char *id)
{
	answer_error(a, 404, "invalid_request_error", "not_found", "video_id",
		     "video '%s' not found", id);
}

void do_poll(struct sim *s, struct req *r, struct answer *a)
{
	struct job *j;

	pthread_mutex_lock(&s->lock);
	j = find_job(s, r->id);
	if (j) {
		mark_outcome(s, j, r->fault, false);
		answer_json(a, 200, video_object(s, j, false, r->fault));
	}
	pthread_mutex_unlock(&s->lock);
	if (!j)
		s->d->unknown(a, r->id);
}

void do_delete(struct sim *s, struct req *r, struct answer *a)
{
	struct job *j;
	struct view v;

	if (!s->d->has_delete) {
		s->d->no_route(a, r->method, r->url);
		return;
	}
	pthread_mutex_lock(&s->lock);
	j = find_job(s, r->id);
	if (j) {
		job_view(s, j, &v);
		/* A finished video is deleted; a running job is cancelled
		 * and keeps answering polls, as failed with code
		 * "cancelled". The answer is DeletedVideoResource
		 * (openai-openapi.yaml): {id, object "video.deleted",
		 * deleted true}. */
		if (v.completed)
			j->deleted = true;
		else if (!v.failed)
			j->cancelled = true;
	}
	pthread_mutex_unlock(&s->lock);
	if (!j) {
		s->d->unknown(a, r->id);
		return;
	}
	answer_json(a, 200, json_pack("{s:s, s:s, s:b}", "id", r->id,
				      "object", "video.deleted", "deleted", 1));
}

/* 1: a range [*start, *start + *count); 0: serve everything (no Range, or
 * one we don't do, such as several ranges); -1: not satisfiable. */
static int parse_range(const char *h, int64_t total, int64_t *start,
		       int64_t *count)
{
	long long a = -1, b = -1;
	const char *p;
	char *end;

	if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
		return 0;
	p = h + 6;
	while (*p == ' ')
		p++;
	if (*p == '-') {	/* the last N bytes */
		b = strtoll(p + 1, &end, 10);
		if (end == p + 1 || *end != '\0' || b < 0)
			return 0;
		if (b == 0)
			return -1;
		*start = b >= total ? 0 : total - b;
		*count = total - *start;
		return 1;
	}
	a = strtoll(p, &end, 10);
	if (end == p || *end != '-' || a < 0)
		return 0;
	p = end + 1;
	if (*p != '\0') {
		b = strtoll(p, &end, 10);
		if (*end != '\0' || b < a)
			return 0;
	}
	if (a >= total)
		return -1;
	if (b < 0 || b >= total)
		b = total - 1;
	*start = a;
	*count = b - a + 1;
	return 1;
}

void answer_video(struct sim *s, struct MHD_Connection *c,
		  const char *id, int clip, struct answer *a)
{
	const char *range;
	int rc;

	a->status = 200;
	a->video = true;
	a->content_type = "video/mp4";
	snprintf(a->job_id, sizeof(a->job_id), "%s", id);
	a->clip = clip;
	a->total = sim_clip_video_size(clip, id, s->opt.video_bytes);
	a->start = 0;
	a->count = a->total;
	if (s->opt.no_range)
		return;
	a->ranges = true;
	range = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					    MHD_HTTP_HEADER_RANGE);
	if (!range)
		return;
	count_locked(s, &s->count.range_requests);
	rc = parse_range(range, a->total, &a->start, &a->count);
	if (rc > 0) {
		a->status = 206;
		a->partial = true;
	} else if (rc < 0) {
		a->video = false;
		a->unsatisfiable = true;
		answer_error(a, 416, "invalid_request_error", NULL, "range",
			     "range not satisfiable");
	}
}

/* 1: completed, 0: not yet, -1: will never be (failed, cancelled),
 * -2: no such job. *copy (when not NULL) gets a shallow copy of the job,
 * whose strings live as long as the server. */
int video_state(struct sim *s, const char *id, struct job *copy)
{
	struct job *j;
	struct view v;
	int state;

	pthread_mutex_lock(&s->lock);
	j = find_job(s, id);
	if (j)
		job_view(s, j, &v);
	state = !j ? -2 : v.completed ? 1 : v.failed ? -1 : 0;
	if (j && copy)
		*copy = *j;
	pthread_mutex_unlock(&s->lock);
	return state;
}

static void json_url(struct sim *s, const char *id, struct answer *a)
{
	char url[1200];

	answer_json(a, 200, json_pack("{s:s}", "url",
				      file_url(s, id, url, sizeof(url))));
}

void do_content(struct sim *s, struct MHD_Connection *c,
		struct req *r, struct answer *a)
{
	const char *variant = MHD_lookup_connection_value(c,
					MHD_GET_ARGUMENT_KIND, "variant");
	struct job j;
	int state;

	if (s->d->content == CONTENT_NONE) {
		s->d->no_route(a, r->method, r->url);
		return;
	}
	state = video_state(s, r->id, &j);
	if (state == -2) {
		s->d->unknown(a, r->id);
		return;
	}
	if (state <= 0) {
		s->d->not_ready(a, &j, state);
		return;
	}
	if (variant && strcmp(variant, "thumbnail") == 0) {
		size_t len;
		const unsigned char *webp = sim_thumbnail_webp(&len);

		a->status = 200;
		a->content_type = "image/webp";
		a->body = malloc(len);
		if (a->body)
			memcpy(a->body, webp, len);
		a->len = a->body ? len : 0;
		return;
	}
	if (variant && strcmp(variant, "video") != 0) {
		answer_error(a, 400, "invalid_request_error", NULL, "variant",
			     "variant '%.40s' is not available", variant);
		return;
	}
	if (r->fault == FK_JSON_URL || s->d->content == CONTENT_JSON_URL) {
		json_url(s, r->id, a);
		return;
	}
	if (s->d->content == CONTENT_REDIRECT) {
		a->location = signed_url(s, r->id);
		if (!a->location) {
			answer_error(a, 500, "server_error", NULL, NULL,
				     "out of memory");
			return;
		}
		answer_text(a, 302, "text/plain", "Found\n");
		return;
	}
	answer_video(s, c, r->id, j.clip, a);
}

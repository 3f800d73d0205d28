/* Test hooks under /_sim: stats, what a create received, a file index
 * of finished videos, and run-time fault control. */
#include "sim_internal.h"
#include "sim_video.h"


static json_t *sbuf_json(const struct sbuf *b)
{
	return b->p ? json_string(b->p) : json_null();
}

void do_stats(struct sim *s, struct answer *a)
{
	json_t *o;

	pthread_mutex_lock(&s->lock);
	o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		      "creates", (json_int_t)s->count.creates,
		      "create_requests", (json_int_t)s->count.create_requests,
		      "polls", (json_int_t)s->count.polls,
		      "downloads", (json_int_t)s->count.downloads,
		      "content_requests", (json_int_t)s->count.content_requests,
		      "deletes", (json_int_t)s->count.deletes,
		      "jobs", (json_int_t)s->n_jobs,
		      "faults_applied", (json_int_t)s->count.faults_applied,
		      "file_requests", (json_int_t)s->count.file_requests,
		      "range_requests", (json_int_t)s->count.range_requests,
		      "lists", (json_int_t)s->count.lists,
		      "stalled", (json_int_t)s->stalled);
	if (o) {
		json_object_set_new(o, "signed_requests",
				    json_integer(s->count.signed_requests));
		json_object_set_new(o, "signed_refused",
				    json_integer(s->count.signed_refused));
		json_object_set_new(o, "streams", json_integer(s->count.streams));
	}
	pthread_mutex_unlock(&s->lock);
	answer_json(a, 200, o);
}

void do_sim_job(struct sim *s, struct req *r, struct answer *a)
{
	static const char *const ref_kinds[] = { "none", "file", "url" };
	struct job *j;
	json_t *o = NULL;
	char hash[20] = "";

	pthread_mutex_lock(&s->lock);
	j = find_job(s, r->id);
	if (j) {
		struct create_fields *f = &j->in;
		struct view v;

		job_view(s, j, &v);
		if (f->ref_kind == REF_FILE)
			snprintf(hash, sizeof(hash), "%016" PRIx64, f->ref_hash);
		o = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:s, s:I, s:o, s:o,"
			      " s:o, s:o, s:b, s:s, s:s, s:i}",
			      "id", j->id,
			      "model", sbuf_json(&f->model),
			      "prompt", sbuf_json(&f->prompt),
			      "seconds", sbuf_json(&f->seconds),
			      "size", sbuf_json(&f->size),
			      "watermark", sbuf_json(&f->watermark),
			      "input_reference_kind", ref_kinds[f->ref_kind],
			      "input_reference_bytes", (json_int_t)f->ref_bytes,
			      "input_reference_filename", sbuf_json(&f->ref_filename),
			      "input_reference_content_type", sbuf_json(&f->ref_type),
			      "input_reference_url", sbuf_json(&f->ref_url),
			      "input_reference_fnv1a",
			      hash[0] ? json_string(hash) : json_null(),
			      "authorization_present", f->authorization,
			      "body_format", f->format ? f->format : "",
			      "status", v.status,
			      "progress", v.progress);
		if (o) {
			json_object_set_new(o, "duration", json_real(j->duration));
			json_object_set_new(o, "clip_seconds",
					    json_integer(sim_clip_seconds(j->clip)));
			json_object_set_new(o, "clip_portrait",
					    json_boolean(sim_clip_portrait(j->clip)));
			json_object_set_new(o, "resolution", sbuf_json(&f->resolution));
			json_object_set_new(o, "negative_prompt",
					    sbuf_json(&f->negative_prompt));
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (!j)
		not_found(a, r->id);
	else
		answer_json(a, 200, o);
}

void do_files_index(struct sim *s, struct answer *a)
{
	struct sbuf html = { 0 };
	char line[3 * ID_MAX + ID_MAX + 96], enc[3 * ID_MAX];
	int ok;

	ok = sbuf_set(&html, "<!DOCTYPE html>\n<html><head><title>Index of /_sim/files/"
		      "</title></head>\n<body><h1>Index of /_sim/files/</h1>\n<pre>\n") == 0;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_jobs && ok; i++) {
		struct job *j = s->jobs[i];
		struct view v;

		if (j->deleted)
			continue;
		job_view(s, j, &v);
		if (!v.completed)
			continue;
		url_encode(j->id, enc, sizeof(enc));
		snprintf(line, sizeof(line), "<a href=\"%s.mp4\">%s.mp4</a> %" PRId64 "\n",
			 enc, j->id, sim_clip_video_size(j->clip, j->id, s->opt.video_bytes));
		ok = sbuf_append(&html, line, strlen(line), BODY_MAX) == 0;
	}
	pthread_mutex_unlock(&s->lock);
	if (ok)
		ok = sbuf_append(&html, "</pre>\n</body></html>\n", 22, BODY_MAX) == 0;
	if (!ok) {
		sbuf_free(&html);
		answer_error(a, 500, "server_error", NULL, NULL, "out of memory");
		return;
	}
	a->status = 200;
	a->content_type = "text/html; charset=utf-8";
	a->body = html.p;
	a->len = html.len;
}

void do_file(struct sim *s, struct MHD_Connection *c, struct req *r,
		    struct answer *a)
{
	struct job j;

	if (video_state(s, r->id, &j) != 1) {
		answer_text(a, 404, "text/plain", "not found\n");
	} else if (r->webp) {
		size_t len;
		const unsigned char *webp = sim_thumbnail_webp(&len);

		a->status = 200;
		a->content_type = "image/webp";
		a->body = malloc(len);
		if (a->body)
			memcpy(a->body, webp, len);
		a->len = a->body ? len : 0;
	} else {
		answer_video(s, c, r->id, j.clip, a);
	}
}

void do_faults_list(struct sim *s, struct answer *a)
{
	json_t *list = json_array();

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_faults; i++) {
		struct live_fault *f = &s->faults[i];

		json_array_append_new(list, json_pack("{s:s, s:s, s:I}",
			"endpoint", endpoint_name(f->endpoint),
			"kind", kind_name(f->kind),
			"left", (json_int_t)f->left));
	}
	pthread_mutex_unlock(&s->lock);
	answer_json(a, 200, json_pack("{s:o}", "faults", list));
}

void do_faults_add(struct sim *s, struct req *r, struct answer *a)
{
	char msg[256];
	int n;

	if (r->too_large) {
		answer_error(a, 413, "invalid_request_error", NULL, NULL,
			     "the request body is too large");
		return;
	}
	n = sim_add_faults(s, r->raw.p ? r->raw.p : "", msg, sizeof(msg));
	if (n < 0)
		answer_error(a, 400, "invalid_request_error", NULL, "fault",
			     "%s", msg);
	else
		answer_json(a, 200, json_pack("{s:i}", "added", n));
}

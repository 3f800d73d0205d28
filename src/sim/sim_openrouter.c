/* OpenRouter's video API (--protocol openrouter), under /v1 as /api/v1 is
 * at openrouter.ai (https://openrouter.ai/docs/api/api-reference/videos):
 *   POST /v1/videos             JSON {model "google/veo-3.1", prompt,
 *                               duration, aspect_ratio, resolution,
 *                               frame_images}; 202 {id, polling_url,
 *                               status "pending"}
 *   GET  /v1/videos/ID          {id, polling_url, status, error (a string),
 *                               unsigned_urls once completed}; status pending,
 *                               in_progress, completed, failed or expired
 *   GET  /v1/videos/ID/content?index=0   the MP4
 * No cancel and no list: those answer 404 as unknown routes. Errors are
 * {"error": {"code", "message"}}. Trouble cases, as create faults:
 *   fail-error-object, fail-error-string, fail-no-error  status failed
 *   expired   the job ends "expired" and its video is gone. */
#include "sim_internal.h"

static void or_error(struct answer *a, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void or_error(struct answer *a, unsigned status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	answer_json(a, status, json_pack("{s:{s:i, s:s}}", "error", "code",
					 (int)status, "message", msg));
}

static json_t *job_object(struct sim *s, struct job *j, bool fresh)
{
	char poll[ID_MAX * 3 + 32], url[ID_MAX * 3 + 200], enc[3 * ID_MAX];
	struct view v;
	const char *status;
	json_t *o;

	url_encode(j->id, enc, sizeof(enc));
	snprintf(poll, sizeof(poll), "/v1/videos/%s", enc);
	job_view(s, j, &v);
	status = fresh ? "pending" :
		 v.completed && j->expired ? "expired" :
		 v.completed ? "completed" :
		 v.failed ? (j->cancelled ? "cancelled" : "failed") :
		 !strcmp(v.status, "queued") ? "pending" : "in_progress";
	o = json_pack("{s:s, s:s, s:s}", "id", j->id, "polling_url", poll,
		      "status", status);
	if (!o || fresh)
		return o;
	if (!strcmp(status, "completed")) {
		snprintf(url, sizeof(url), "%s/v1/videos/%s/content?index=0", s->root, enc);
		json_object_set_new(o, "unsigned_urls", json_pack("[s]", url));
		json_object_set_new(o, "usage", json_pack("{s:f, s:b}", "cost", 0.5,
							  "is_byok", 0));
	} else if (!strcmp(status, "expired")) {
		json_object_set_new(o, "error",
				    json_string("The video expired before it was retrieved. (sim)"));
	} else if (!strcmp(status, "failed") && j->outcome != OUTCOME_FAIL_NO_ERROR) {
		json_object_set_new(o, "error",
				    json_string("The provider rejected the prompt. (sim)"));
	}
	return o;
}

static void create(struct sim *s, struct MHD_Connection *c, struct req *r,
		   struct answer *a)
{
	json_error_t jerr;
	json_t *body, *v, *fi;
	const char *model, *prompt, *aspect;
	char buf[32];
	struct job *j;

	if (r->too_large || !r->body_json) {
		or_error(a, 400, "expected a JSON body");
		return;
	}
	body = json_loadb(r->raw.p ? r->raw.p : "", r->raw.len, 0, &jerr);
	model = json_string_value(json_object_get(body, "model"));
	prompt = json_string_value(json_object_get(body, "prompt"));
	aspect = json_string_value(json_object_get(body, "aspect_ratio"));
	if (!model || !strchr(model, '/')) {
		or_error(a, 400, "model must be an OpenRouter model id like google/veo-3.1");
		json_decref(body);
		return;
	}
	if (!prompt || blank(prompt)) {
		or_error(a, 400, "prompt is required");
		json_decref(body);
		return;
	}
	if (aspect && strcmp(aspect, "16:9") && strcmp(aspect, "9:16")) {
		or_error(a, 400, "aspect_ratio must be 16:9 or 9:16");
		json_decref(body);
		return;
	}
	fields_free(&r->in);
	memset(&r->in, 0, sizeof(r->in));
	r->in.format = "json";
	r->in.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
				MHD_HTTP_HEADER_AUTHORIZATION) != NULL;
	sbuf_set(&r->in.model, model);
	sbuf_set(&r->in.prompt, prompt);
	v = json_object_get(body, "duration");
	snprintf(buf, sizeof(buf), "%lld",
		 json_is_integer(v) ? (long long)json_integer_value(v) : 8LL);
	sbuf_set(&r->in.seconds, buf);
	sbuf_set(&r->in.size, aspect && !strcmp(aspect, "9:16") ? "720x1280" : "1280x720");
	v = json_object_get(body, "resolution");
	if (json_is_string(v))
		sbuf_set(&r->in.resolution, json_string_value(v));
	v = json_object_get(body, "negative_prompt");
	if (json_is_string(v))
		sbuf_set(&r->in.negative_prompt, json_string_value(v));
	fi = json_object_get(json_array_get(json_object_get(body, "frame_images"), 0),
			     "image_url");
	if (json_is_string(json_object_get(fi, "url"))) {
		const char *u = json_string_value(json_object_get(fi, "url"));
		if (!strncmp(u, "data:", 5)) {
			r->in.ref_kind = REF_FILE;
			r->in.ref_bytes = (int64_t)strlen(u);
			r->in.ref_hash = fnv1a_update(0xcbf29ce484222325ULL, u, strlen(u));
		} else {
			r->in.ref_kind = REF_URL;
			sbuf_set(&r->in.ref_url, u);
		}
	}
	json_decref(body);
	pthread_mutex_lock(&s->lock);
	j = add_job(s, &r->in);
	if (j) {
		mark_outcome(s, j, r->fault, true);
		j->expired = r->fault == FK_EXPIRED;
		answer_json(a, 202, job_object(s, j, true));
	}
	pthread_mutex_unlock(&s->lock);
	if (!j)
		or_error(a, 500, "out of memory");
}

bool openrouter_answer(struct sim *s, struct MHD_Connection *c, struct req *r,
		       struct answer *a)
{
	struct job *j, copy;
	int state;

	switch (r->route) {
	case R_CREATE:
		create(s, c, r, a);
		return true;
	case R_POLL:
		pthread_mutex_lock(&s->lock);
		j = find_job(s, r->id);
		if (j) {
			mark_outcome(s, j, r->fault, false);
			answer_json(a, 200, job_object(s, j, false));
		}
		pthread_mutex_unlock(&s->lock);
		if (!j)
			or_error(a, 404, "video generation job %s not found", r->id);
		return true;
	case R_CONTENT:
		state = video_state(s, r->id, &copy);
		if (state == -2) {
			or_error(a, 404, "video generation job %s not found", r->id);
			return true;
		}
		if (state <= 0 || copy.expired) {
			or_error(a, state == 0 ? 409 : 404, state == 0 ?
				 "the video is not ready yet" : "no video for this job");
			return true;
		}
		return false;	/* the MP4, as the openai protocol serves it */
	case R_DELETE:
	case R_LIST:
	case R_NOT_FOUND:
		or_error(a, 404, "unknown URL %s", r->url);
		return true;
	case R_BAD_METHOD:
		or_error(a, 405, "method %s is not allowed here", r->method);
		return true;
	default:
		return false;
	}
}

/* The Gemini API's Veo protocol (--protocol gemini), under /v1beta:
 *   POST /v1beta/models/MODEL:predictLongRunning   create; {"name": OP}
 *   GET  /v1beta/OP                                 the operation
 *   POST /v1beta/OP:cancel                          google.longrunning cancel
 *   GET  /v1beta/files/ID:download?alt=media        302 to a signed URL on
 *                                                   the second listener
 * where OP is models/MODEL/operations/ID. Shapes follow Google's page
 * (https://ai.google.dev/gemini-api/docs/video, REST) and the v1beta
 * PredictLongRunningGeneratedVideoResponse (generatedSamples[].video.{uri,
 * encodedVideo}, raiMediaFilteredCount, raiMediaFilteredReasons). Errors
 * are google.rpc.Status: {"error": {"code", "message", "status"}}. The key
 * is x-goog-api-key; the signed listener refuses it like Authorization.
 * Trouble cases, as create faults:
 *   fail-error-object, fail-error-string  the operation ends with "error"
 *   fail-no-error   done, no samples, raiMediaFilteredReasons (safety filter)
 *   inline-video    done with the video inline as base64 encodedVideo
 * There is no progress in an operation, as with the real API. */
#include "sim_internal.h"
#include "sim_video.h"

#define INLINE_MAX (16 << 20)
#define RAI_REASON "Your current safety settings for person generation " \
	"blocked this video. (sim)"

static void b64encode(const unsigned char *in, size_t n, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		*out++ = tab[(v >> 18) & 63];
		*out++ = tab[(v >> 12) & 63];
		*out++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		*out++ = i + 2 < n ? tab[v & 63] : '=';
	}
	*out = '\0';
}

static void google_error(struct answer *a, unsigned status, const char *st,
			 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void google_error(struct answer *a, unsigned status, const char *st,
			 const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	answer_json(a, status, json_pack("{s:{s:i, s:s, s:s}}", "error", "code",
					 (int)status, "message", msg, "status", st));
}

/* Split ".../operations/ID[:cancel]" */
static bool op_id(struct req *r, const char *rest, const char *suffix)
{
	const char *ops = strstr(rest, "/operations/");
	size_t len;

	if (!ops)
		return false;
	ops += strlen("/operations/");
	len = strlen(ops);
	if (suffix) {
		size_t sl = strlen(suffix);
		if (len <= sl || strcmp(ops + len - sl, suffix))
			return false;
		len -= sl;
	}
	return copy_id(r->id, ops, len);
}

/* A model name: letters, digits, '.', '-', '_'. */
static bool copy_model(char *dst, const char *src, size_t len)
{
	if (len == 0 || len >= ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = src[i];
		if (!(c == '.' || c == '-' || c == '_' || (c >= '0' && c <= '9') ||
		      (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			return false;
	}
	memcpy(dst, src, len);
	dst[len] = '\0';
	return true;
}

enum route gemini_route(struct req *r, const char *url, const char *method)
{
	bool get = method_is(method, "GET") || method_is(method, "HEAD");
	bool post = method_is(method, "POST");
	const char *rest;
	size_t len;

	if (strncmp(url, "/v1beta/", 8))
		return R_NOT_FOUND;
	rest = url + 8;
	len = strlen(rest);
	if (!strncmp(rest, "files/", 6)) {
		static const char dl[] = ":download";
		if (len < 6 + sizeof(dl) || strcmp(rest + len - (sizeof(dl) - 1), dl) ||
		    !copy_id(r->id, rest + 6, len - 6 - (sizeof(dl) - 1)))
			return R_NOT_FOUND;
		return get ? R_CONTENT : R_BAD_METHOD;
	}
	if (strncmp(rest, "models/", 7))
		return R_NOT_FOUND;
	if (strstr(rest, "/operations/")) {
		if (post && op_id(r, rest, ":cancel"))
			return R_DELETE;
		if (op_id(r, rest, NULL) && !strchr(r->id, ':'))
			return get ? R_POLL : R_BAD_METHOD;
		return R_NOT_FOUND;
	}
	static const char plr[] = ":predictLongRunning";
	if (len > 7 + sizeof(plr) - 1 &&
	    !strcmp(rest + len - (sizeof(plr) - 1), plr) &&
	    copy_model(r->id, rest + 7, len - 7 - (sizeof(plr) - 1)))
		return post ? R_CREATE : R_BAD_METHOD;
	return R_NOT_FOUND;
}

static json_t *operation(struct sim *s, struct job *j)
{
	char name[ID_MAX + 200], uri[1400], enc[3 * ID_MAX];
	struct view v;
	json_t *o, *gvr;

	job_view(s, j, &v);
	snprintf(name, sizeof(name), "models/%s/operations/%s",
		 j->in.model.p ? j->in.model.p : "veo", j->id);
	o = json_pack("{s:s}", "name", name);
	if (!o || (!v.completed && !v.failed))
		return o;
	json_object_set_new(o, "done", json_true());
	if (j->cancelled) {
		json_object_set_new(o, "error", json_pack("{s:i, s:s}", "code", 1,
							  "message", "Operation cancelled."));
		return o;
	}
	if (j->outcome == OUTCOME_FAIL_OBJECT || j->outcome == OUTCOME_FAIL_STRING) {
		json_object_set_new(o, "error", json_pack("{s:i, s:s}", "code", 13,
			"message", "Video generation failed due to an internal error. (sim)"));
		return o;
	}
	gvr = json_object();
	if (j->outcome == OUTCOME_FAIL_NO_ERROR) {
		json_object_set_new(gvr, "raiMediaFilteredCount", json_integer(1));
		json_object_set_new(gvr, "raiMediaFilteredReasons",
				    json_pack("[s]", RAI_REASON));
	} else {
		json_t *video = json_pack("{s:s}", "mimeType", "video/mp4");
		int64_t size = sim_clip_video_size(j->clip, j->id, s->opt.video_bytes);
		char *bytes = NULL, *b64 = NULL;

		if (j->inline_video && size <= INLINE_MAX &&
		    (bytes = malloc((size_t)size)) &&
		    (b64 = malloc(4 * ((size_t)size + 2) / 3 + 8)) &&
		    sim_clip_video_read(j->clip, j->id, s->opt.video_bytes, 0, bytes,
					(size_t)size) == (size_t)size) {
			b64encode((unsigned char *)bytes, (size_t)size, b64);
			json_object_set_new(video, "encodedVideo", json_string(b64));
		} else {
			url_encode(j->id, enc, sizeof(enc));
			snprintf(uri, sizeof(uri), "%s/v1beta/files/%s:download?alt=media",
				 s->root, enc);
			json_object_set_new(video, "uri", json_string(uri));
		}
		free(bytes);
		free(b64);
		json_object_set_new(gvr, "generatedSamples",
				    json_pack("[{s:o}]", "video", video));
	}
	json_object_set_new(o, "response", json_pack("{s:s, s:o}", "@type",
		"type.googleapis.com/google.ai.generativelanguage.v1beta."
		"PredictLongRunningResponse", "generateVideoResponse", gvr));
	return o;
}

static void create(struct sim *s, struct MHD_Connection *c, struct req *r,
		   struct answer *a)
{
	json_error_t jerr;
	json_t *body, *inst, *params, *img, *resolution, *negative;
	const char *prompt, *aspect;
	json_int_t secs = 8;
	char buf[32];
	struct job *j;

	if (r->too_large || !r->body_json) {
		google_error(a, 400, "INVALID_ARGUMENT", "expected a JSON body");
		return;
	}
	body = json_loadb(r->raw.p ? r->raw.p : "", r->raw.len, 0, &jerr);
	inst = json_array_get(json_object_get(body, "instances"), 0);
	params = json_object_get(body, "parameters");
	prompt = json_string_value(json_object_get(inst, "prompt"));
	if (!prompt || blank(prompt)) {
		json_decref(body);
		google_error(a, 400, "INVALID_ARGUMENT",
			     "* PredictLongRunningRequest.instances[0].prompt: required");
		return;
	}
	if (json_object_get(params, "durationSeconds")) {
		secs = json_integer_value(json_object_get(params, "durationSeconds"));
		if (secs != 4 && secs != 6 && secs != 8) {
			json_decref(body);
			google_error(a, 400, "INVALID_ARGUMENT",
				     "durationSeconds must be 4, 6 or 8");
			return;
		}
	}
	aspect = json_string_value(json_object_get(params, "aspectRatio"));
	if (aspect && strcmp(aspect, "16:9") && strcmp(aspect, "9:16")) {
		json_decref(body);
		google_error(a, 400, "INVALID_ARGUMENT",
			     "aspectRatio must be 16:9 or 9:16");
		return;
	}
	resolution = json_object_get(params, "resolution");
	negative = json_object_get(params, "negativePrompt");
	if (resolution && (!json_is_string(resolution) ||
			   (strcmp(json_string_value(resolution), "720p") &&
			    strcmp(json_string_value(resolution), "1080p")))) {
		json_decref(body);
		google_error(a, 400, "INVALID_ARGUMENT", "resolution must be 720p or 1080p");
		return;
	}
	if (negative && !json_is_string(negative)) {
		json_decref(body);
		google_error(a, 400, "INVALID_ARGUMENT", "negativePrompt must be a string");
		return;
	}
	fields_free(&r->in);
	memset(&r->in, 0, sizeof(r->in));
	r->in.format = "json";
	r->in.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							  "x-goog-api-key") != NULL;
	snprintf(buf, sizeof(buf), "%lld", (long long)secs);
	sbuf_set(&r->in.model, r->id);
	sbuf_set(&r->in.prompt, prompt);
	sbuf_set(&r->in.seconds, buf);
	sbuf_set(&r->in.size, aspect && !strcmp(aspect, "9:16") ? "720x1280" : "1280x720");
	/* kept for /_sim/jobs/ID; the clip is the same either way */
	if (resolution)
		sbuf_set(&r->in.resolution, json_string_value(resolution));
	if (negative)
		sbuf_set(&r->in.negative_prompt, json_string_value(negative));
	img = json_object_get(inst, "image");
	if (json_is_object(img)) {
		const char *b = json_string_value(json_object_get(img, "bytesBase64Encoded"));
		r->in.ref_kind = REF_FILE;
		r->in.ref_bytes = b ? (int64_t)(strlen(b) / 4 * 3) : 0;
		r->in.ref_hash = b ? fnv1a_update(0xcbf29ce484222325ULL, b, strlen(b)) : 0;
		sbuf_set(&r->in.ref_type,
			 json_string_value(json_object_get(img, "mimeType")) ?
			 json_string_value(json_object_get(img, "mimeType")) : "");
	}
	json_decref(body);
	pthread_mutex_lock(&s->lock);
	j = add_job(s, &r->in);
	if (j) {
		mark_outcome(s, j, r->fault, true);
		j->inline_video = r->fault == FK_INLINE_VIDEO;
		json_t *op = operation(s, j);
		/* The create's answer is the operation, not yet done. */
		json_object_del(op, "done");
		json_object_del(op, "error");
		json_object_del(op, "response");
		answer_json(a, 200, op);
	}
	pthread_mutex_unlock(&s->lock);
	if (!j)
		google_error(a, 500, "INTERNAL", "out of memory");
}

static void unknown(struct answer *a, const char *id)
{
	google_error(a, 404, "NOT_FOUND", "Operation %s not found.", id);
}

bool gemini_answer(struct sim *s, struct MHD_Connection *c, struct req *r,
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
			answer_json(a, 200, operation(s, j));
		}
		pthread_mutex_unlock(&s->lock);
		if (!j)
			unknown(a, r->id);
		return true;
	case R_DELETE:
		pthread_mutex_lock(&s->lock);
		j = find_job(s, r->id);
		if (j) {
			struct view v;
			job_view(s, j, &v);
			if (!v.completed && !v.failed)
				j->cancelled = true;
		}
		pthread_mutex_unlock(&s->lock);
		if (j)
			answer_json(a, 200, json_object());
		else
			unknown(a, r->id);
		return true;
	case R_CONTENT:
		state = video_state(s, r->id, &copy);
		if (state == -2) {
			google_error(a, 404, "NOT_FOUND", "File %s not found.", r->id);
			return true;
		}
		if (state <= 0) {
			google_error(a, 400, "FAILED_PRECONDITION",
				     "The file is not ready.");
			return true;
		}
		a->location = signed_url(s, r->id);
		if (!a->location) {
			google_error(a, 500, "INTERNAL", "out of memory");
			return true;
		}
		answer_text(a, 302, "text/html; charset=UTF-8", "Found\n");
		return true;
	case R_LIST:
		google_error(a, 404, "NOT_FOUND", "unknown URL %s", r->url);
		return true;
	case R_BAD_METHOD:
		google_error(a, 405, "UNIMPLEMENTED", "method %s is not allowed here",
			     r->method);
		return true;
	case R_NOT_FOUND:
		google_error(a, 404, "NOT_FOUND", "unknown URL %s", r->url);
		return true;
	default:
		return false;
	}
}

/* The Gemini API protocol (api.protocol = gemini): Veo through Google's
 * long-running operations, translated into the video objects the engine
 * already understands (video_object.c).
 *
 * Wire format, as Google documents it and its clients use it:
 *   - create: POST {base}/models/{model}:predictLongRunning with
 *     {"instances":[{"prompt","image":{"bytesBase64Encoded","mimeType"}}],
 *      "parameters":{"aspectRatio","durationSeconds","resolution",
 *      "negativePrompt"}}, the key in the x-goog-api-key header; the answer
 *     is an operation {"name": ...} (https://ai.google.dev/gemini-api/docs/
 *     video, REST tab). resolution is "720p" or "1080p" (Google's
 *     VideoGenerationModelParams, https://docs.cloud.google.com/
 *     gemini-enterprise-agent-platform/reference/rest/Shared.Types/
 *     VideoGenerationModelParams); negativePrompt is a text of what the
 *     video should not show (GenerateVideosConfig.negativePrompt in
 *     Google's GenAI SDKs, https://googleapis.github.io/java-genai/javadoc/
 *     google-genai/com.google.genai.types/-generate-videos-config/).
 *     resolution comes only from the front matter: a size such as
 *     1280x720 sets the aspect ratio and nothing else, and without a
 *     resolution the provider's default applies.
 *   - poll: GET {base}/{operation name}; when "done" is true the operation
 *     holds either "error" (google.rpc.Status {code, message}) or
 *     response.generateVideoResponse.generatedSamples[].video.{uri,
 *     encodedVideo}; samples withheld by the safety filters are counted in
 *     raiMediaFilteredCount with raiMediaFilteredReasons
 *     (PredictLongRunningGeneratedVideoResponse, google.ai.generativelanguage
 *     v1beta: https://cloud.google.com/nodejs/docs/reference/generativelanguage/
 *     latest/generativelanguage/protos.google.ai.generativelanguage.v1beta.
 *     predictlongrunninggeneratedvideoresponse).
 *   - download: GET the sample's uri with the key; it redirects to a storage
 *     host, which must not see the key (remote_http.c follows by hand).
 *   - There is no progress in a Veo operation: none is invented.
 *     The same request and operation types, field for field, are in the
 *     gproxy-protocol crate's Veo wire models (VeoGenerateVideosRequest,
 *     VeoOperation, VeoGenerateVideoResponse: https://docs.rs/
 *     gproxy-protocol/latest/gproxy_protocol/protocol/gemini/video/).
 *   - Cancel: the Veo page (https://ai.google.dev/gemini-api/docs/video)
 *     documents none; google.longrunning.Operations.CancelOperation is
 *     POST {name}:cancel, best effort, answering UNIMPLEMENTED (501) where
 *     a service does not offer it, and on success the operation ends with
 *     error code 1, CANCELLED (e.g. https://cloud.google.com/video-stitcher/
 *     docs/reference/rest/v1/projects.locations.operations/cancel, the
 *     shared method). veofs sends it and takes "not supported" (400, 404,
 *     501) as "nothing more to do": the task is cancelled here, the
 *     provider may still finish (and bill) it.
 */
#include "remote.h"
#include "remote_http_shared.h"
#include "remote_protocols.h"
#include "video_object.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct gemini {
	struct remote_over_http h;
};

static void set_reason(struct remote_result *res, const char *why)
{
	snprintf(res->reason, sizeof(res->reason), "%.250s", why);
}

/* The provider page's names (contract section 1) to the Gemini API's own;
 * any other name is sent as written. */
const char *remote_gemini_model(const char *model)
{
	static const struct { const char *ours, *theirs; } map[] = {
		{ "veo-3.1", "veo-3.1-generate-preview" },
		{ "veo-3.1-fl", "veo-3.1-generate-preview" },
		{ "veo-3.1-landscape", "veo-3.1-generate-preview" },
		{ "veo-3.1-landscape-fl", "veo-3.1-generate-preview" },
		{ "veo-3.1-fast", "veo-3.1-fast-generate-preview" },
		{ "veo-3.1-fast-fl", "veo-3.1-fast-generate-preview" },
		{ "veo-3.1-landscape-fast", "veo-3.1-fast-generate-preview" },
		{ "veo-3.1-landscape-fast-fl", "veo-3.1-fast-generate-preview" },
	};
	if (!model || !*model)
		return "veo-3.1-generate-preview";
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(model, map[i].ours))
			return map[i].theirs;
	return model;
}

/* size -> aspectRatio; NULL leaves the provider's default. */
const char *remote_gemini_aspect(const char *size, const char *model)
{
	if (size && *size) {
		if (!strcmp(size, "16x9") || !strcmp(size, "1280x720") ||
		    !strcmp(size, "1792x1024") || !strcmp(size, "1920x1080"))
			return "16:9";
		if (!strcmp(size, "9x16") || !strcmp(size, "720x1280") ||
		    !strcmp(size, "1024x1792") || !strcmp(size, "1080x1920"))
			return "9:16";
	}
	if (model && strstr(model, "landscape"))
		return "16:9";
	return NULL;
}

/* The sample of a finished operation: *uri or *inline (base64), not
 * owned; both NULL when there is none. */
static void sample_of(json_t *op, const char **uri, const char **inline_b64)
{
	json_t *gvr = json_object_get(json_object_get(op, "response"),
				      "generateVideoResponse");
	json_t *sample = json_array_get(json_object_get(gvr, "generatedSamples"), 0);
	json_t *video = json_object_get(sample, "video");

	*uri = json_string_value(json_object_get(video, "uri"));
	*inline_b64 = json_string_value(json_object_get(video, "encodedVideo"));
	if (*uri && !**uri)
		*uri = NULL;
	if (*inline_b64 && !**inline_b64)
		*inline_b64 = NULL;
}

/* An operation as a video object: {"id", "object", "status", "error"}.
 * Returns NULL when op has no name (then nothing is guessed). */
static char *translate(json_t *op, const char *model, bool fresh)
{
	const char *name = json_string_value(json_object_get(op, "name"));
	json_t *out, *err;
	char *text;

	if (!name || !*name)
		return NULL;
	out = json_pack("{s:s, s:s}", "id", name, "object", "video");
	if (!out)
		return NULL;
	if (model)
		json_object_set_new(out, "model", json_string(model));
	err = json_object_get(op, "error");
	if (json_is_object(err)) {
		const char *msg = json_string_value(json_object_get(err, "message"));
		json_int_t code = json_integer_value(json_object_get(err, "code"));
		char buf[512];
		snprintf(buf, sizeof(buf), "%s%s(code %lld)", msg ? msg : "",
			 msg ? " " : "", (long long)code);
		json_object_set_new(out, "status", json_string("failed"));
		json_object_set_new(out, "error", json_pack("{s:s}", "message", buf));
	} else if (json_is_true(json_object_get(op, "done"))) {
		const char *uri, *b64;
		sample_of(op, &uri, &b64);
		if (uri || b64) {
			json_object_set_new(out, "status", json_string("completed"));
			json_object_set_new(out, "progress", json_integer(100));
		} else {
			json_t *gvr = json_object_get(json_object_get(op, "response"),
						      "generateVideoResponse");
			json_t *reasons = json_object_get(gvr, "raiMediaFilteredReasons");
			char buf[512] = "";
			size_t i, used = 0;
			json_t *r;
			json_array_foreach(reasons, i, r) {
				const char *s = json_string_value(r);
				if (!s)
					continue;
				int n = snprintf(buf + used, sizeof(buf) - used, "%s%s",
						 used ? "; " : "", s);
				if (n < 0 || (size_t)n >= sizeof(buf) - used)
					break;
				used += (size_t)n;
			}
			char msg[600];
			snprintf(msg, sizeof(msg), "%s%s",
				 used ? "filtered by the provider's safety rules: " :
					"the provider finished without a video",
				 buf);
			json_object_set_new(out, "status", json_string("failed"));
			json_object_set_new(out, "error", json_pack("{s:s}", "message", msg));
		}
	} else {
		/* No progress in a Veo operation: "in_progress", and no
		 * number is made up. The create's own answer means the
		 * provider has the job: queued. */
		json_object_set_new(out, "status",
				    json_string(fresh ? "queued" : "in_progress"));
	}
	text = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	return text;
}

/* Replace res->body (an operation) by its video object. -1 when it is not
 * one: the body is left as it came, so the engine shows what arrived. */
static int translate_result(struct remote_result *res, const char *model,
			    bool fresh)
{
	json_t *op = json_loadb(res->body ? res->body : "", res->body_len, 0, NULL);
	char *obj = json_is_object(op) ? translate(op, model, fresh) : NULL;

	json_decref(op);
	if (!obj)
		return -1;
	free(res->body);
	res->body = obj;
	res->body_len = strlen(obj);
	return 0;
}

static char *op_url(const char *name, const char *suffix)
{
	char *esc = remote_http_escape(name, true), *url = NULL;

	if (esc && asprintf(&url, "%s%s", esc, suffix) < 0)
		url = NULL;
	free(esc);
	return url;
}

static int gemini_create(struct remote *r, const struct remote_create *req,
			 struct remote_result *res)
{
	struct gemini *g = r->impl;
	const char *model = remote_gemini_model(req->model);
	const char *aspect = remote_gemini_aspect(req->size, req->model);
	json_t *body = NULL, *inst, *params;
	char *text = NULL, *url = NULL, *esc = NULL, why[300];
	int ret = -1;

	remote_result_clear(res);
	if (req->image_url) {
		set_reason(res, "the gemini protocol takes an image file, not a URL");
		res->not_received = true;
		return -1;
	}
	inst = json_pack("{s:s}", "prompt", req->prompt ? req->prompt : "");
	params = json_object();
	if (!inst || !params)
		goto oom;
	if (req->image_path) {
		size_t len = 0;
		char *img = remote_read_image(req->image_path, &len, why, sizeof(why));
		if (!img) {
			json_decref(inst);
			json_decref(params);
			set_reason(res, why);
			res->not_received = true;
			return -1;
		}
		char *b64 = remote_base64((unsigned char *)img, len);
		free(img);
		if (!b64)
			goto oom;
		json_object_set_new(inst, "image",
				    json_pack("{s:s, s:s}", "bytesBase64Encoded", b64,
					      "mimeType", remote_image_mime(req->image_path)));
		free(b64);
	}
	if (aspect)
		json_object_set_new(params, "aspectRatio", json_string(aspect));
	if (req->seconds && *req->seconds)
		json_object_set_new(params, "durationSeconds",
				    json_integer(strtol(req->seconds, NULL, 10)));
	if (req->resolution && *req->resolution)
		json_object_set_new(params, "resolution", json_string(req->resolution));
	if (req->negative_prompt && *req->negative_prompt)
		json_object_set_new(params, "negativePrompt",
				    json_string(req->negative_prompt));
	body = json_pack("{s:[o], s:o}", "instances", inst, "parameters", params);
	inst = params = NULL;
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	esc = remote_http_escape(model, false);
	if (!text || !esc || asprintf(&url, "models/%s:predictLongRunning", esc) < 0) {
		url = NULL;
		goto oom;
	}
	ret = remote_http_json(g->h.http, "POST", url, text, res);
	if (ret == 0 && translate_result(res, model, true) < 0) {
		/* Sent and answered, but no operation name: the engine
		 * must call it "outcome unknown", never resend. Leave the
		 * body as it came. */
		ret = 0;
	}
	goto out;
oom:
	json_decref(inst);
	json_decref(params);
	set_reason(res, "out of memory");
	res->not_received = true;
	res->retryable = true;
out:
	json_decref(body);
	free(text);
	free(url);
	free(esc);
	remote_result_redact(res, g->h.key);
	return ret;
}

static int fetch_op(struct gemini *g, const char *id, struct remote_result *res)
{
	char *url = op_url(id, "");
	int ret;

	if (!url) {
		remote_result_clear(res);
		set_reason(res, "out of memory");
		res->retryable = true;
		return -1;
	}
	ret = remote_http_json(g->h.http, "GET", url, NULL, res);
	free(url);
	if (ret < 0 && res->http_status == 404) {
		set_reason(res, "task not found on the provider");
		res->retryable = false;
	}
	return ret;
}

static int gemini_get(struct remote *r, const char *id, struct remote_result *res)
{
	struct gemini *g = r->impl;
	int ret = fetch_op(g, id, res);

	if (ret == 0 && translate_result(res, NULL, false) < 0) {
		set_reason(res, "HTTP 200 without an operation");
		res->retryable = true;
		ret = -1;
	}
	remote_result_redact(res, g->h.key);
	return ret;
}

/* An inline video handed to the sink as a download would be. */
static int serve_inline(const char *b64, int64_t offset, int64_t length,
			const struct remote_sink *sink, struct remote_result *res)
{
	size_t n = 0;
	unsigned char *bytes = remote_unbase64(b64, &n);
	int ret = -1;

	if (!bytes) {
		set_reason(res, "the provider's inline video is not base64");
		res->retryable = false;
		return -1;
	}
	if ((uint64_t)offset > n) {
		set_reason(res, "offset beyond the inline video");
		goto out;
	}
	size_t want = length < 0 || (uint64_t)(offset + length) > n ?
		      n - (size_t)offset : (size_t)length;
	if (sink->on_start && sink->on_start(sink->ctx, (int64_t)n, true)) {
		set_reason(res, "aborted");
		goto out;
	}
	if (want && sink->on_data(sink->ctx, bytes + offset, want)) {
		set_reason(res, "aborted");
		goto out;
	}
	res->http_status = 200;
	ret = 0;
out:
	free(bytes);
	return ret;
}

static int gemini_content(struct remote *r, const char *id, const char *variant,
			  int64_t offset, int64_t length, long timeout_ms,
			  const struct remote_sink *sink, struct remote_result *res)
{
	struct gemini *g = r->impl;
	const char *uri, *b64;
	json_t *op = NULL;
	int ret = -1;

	if (variant) {
		remote_result_clear(res);
		set_reason(res, "the gemini protocol has no thumbnail");
		res->http_status = 404;
		return -1;
	}
	if (offset < 0 || length == 0 || length < -1 || !sink || !sink->on_data) {
		remote_result_clear(res);
		set_reason(res, "invalid range or sink");
		return -1;
	}
	/* The operation names the video; it is asked for again each time,
	 * as its links do not last. */
	if (fetch_op(g, id, res) < 0)
		goto out;
	op = json_loadb(res->body ? res->body : "", res->body_len, 0, NULL);
	sample_of(op, &uri, &b64);
	if (!json_is_true(json_object_get(op, "done")) || (!uri && !b64)) {
		remote_result_clear(res);
		set_reason(res, "video is not ready yet");
		res->http_status = 404;
		res->retryable = true;
		goto out;
	}
	if (uri) {
		char *copy = strdup(uri);
		json_decref(op);
		op = NULL;
		if (!copy) {
			remote_result_clear(res);
			set_reason(res, "out of memory");
			res->retryable = true;
			goto out;
		}
		ret = remote_http_fetch(g->h.http, copy, offset, length, timeout_ms,
					sink, res);
		free(copy);
	} else {
		remote_result_clear(res);
		ret = serve_inline(b64, offset, length, sink, res);
	}
out:
	json_decref(op);
	remote_result_redact(res, g->h.key);
	return ret;
}

static int gemini_remove(struct remote *r, const char *id, struct remote_result *res)
{
	struct gemini *g = r->impl;
	char *url = op_url(id, ":cancel");
	int ret;

	if (!url) {
		remote_result_clear(res);
		set_reason(res, "out of memory");
		res->retryable = true;
		return -1;
	}
	ret = remote_http_json(g->h.http, "POST", url, "{}", res);
	free(url);
	/* Gone, or cancel not offered for this operation: nothing more
	 * can be done on the provider's side. */
	if (ret < 0 && (res->http_status == 404 || res->http_status == 400 ||
			res->http_status == 501)) {
		res->reason[0] = '\0';
		res->retryable = false;
		ret = 0;
	}
	res->not_received = false;
	remote_result_redact(res, g->h.key);
	return ret;
}

static void gemini_destroy(struct remote *r)
{
	struct gemini *g = r->impl;

	remote_over_http_fini(&g->h);
	free(g);
}

static const struct remote_ops gemini_ops = {
	.create = gemini_create,
	.get = gemini_get,
	.content = gemini_content,
	.remove = gemini_remove,
	.stop = remote_over_http_stop,
	.destroy = gemini_destroy,
};

struct remote *remote_gemini_new(const struct remote_http_options *o,
				 char *err, size_t errlen)
{
	struct gemini *g = calloc(1, sizeof(*g));

	if (!g) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (remote_over_http_init(&g->h, &gemini_ops, g, o, "x-goog-api-key", err,
				  errlen) < 0) {
		free(g);
		return NULL;
	}
	return &g->h.base;
}

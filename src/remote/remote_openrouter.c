/* The OpenRouter protocol (api.protocol = openrouter): its asynchronous
 * video API, documented at https://openrouter.ai/docs/api/api-reference/videos
 * and in its SDKs' VideoGenerationResponse
 * (https://openrouter.ai/docs/client-sdks/typescript/models/videogenerationresponse):
 *   - create: POST {base}/videos, a JSON body (model "google/veo-3.1",
 *     prompt, duration, aspect_ratio, resolution, frame_images for an
 *     image); the answer, 202, is {"id", "polling_url", "status":"pending"}.
<<<<<<< HEAD
 *     frame_images is [{"type":"image_url","image_url":{"url"},
 *     "frame_type":"first_frame"}] (the SDKs' FrameImage:
 *     https://openrouter.ai/docs/client-sdks/python/components/frameimage,
 *     and the image-to-video guide, https://openrouter.ai/docs/cookbook/
 *     video-generation/image-to-video). The guide shows public URLs; a
 *     local image goes as a data URL, as OpenRouter's image inputs take
 *     elsewhere: unconfirmed for video, so an image: URL is the safer way.
=======
 *     resolution is the front matter's when it names one, else what the
 *     size implies (1280x720 and 720x1280 are 720p). The request has no
 *     negative prompt (VideoGenerationRequest: aspect_ratio, duration,
 *     frame_images, generate_audio, input_references, model, prompt,
 *     provider, resolution, seed, size;
 *     https://openrouter.ai/docs/sdks/go/api-reference/models/videogenerationrequest),
 *     so a front matter negative_prompt is not sent, and not logged: the
 *     README says which protocols take it.
>>>>>>> frontmatter
 *   - poll: GET {base}/videos/{id} (what polling_url names): status pending,
 *     in_progress, completed, failed, cancelled or expired; "error" is a
 *     plain string; a completed job lists unsigned_urls[].
 *   - download: GET {base}/videos/{id}/content?index=0, the authenticated
 *     content proxy unsigned_urls[0] names.
 *   - Cancel: the API has no cancel endpoint. A cancel stops veofs from
 *     waiting; the job runs on (and is billed) at OpenRouter.
 * These answers already are video objects as video_object.c reads them
 * (pending is queued, expired a failure, error a string), so they are
 * handed on as they came. */
#include "remote.h"
#include "remote_http_shared.h"
#include "remote_protocols.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct openrouter {
	struct remote_over_http h;
};

static void set_reason(struct remote_result *res, const char *why)
{
	snprintf(res->reason, sizeof(res->reason), "%.250s", why);
}

const char *remote_openrouter_model(const char *model, char *buf, size_t len)
{
	if (!model || !*model)
		model = "veo-3.1";
	if (strchr(model, '/'))
		return model;
	/* The provider page's names are Google's Veo models. */
	if (!strncmp(model, "veo-", 4)) {
		snprintf(buf, len, "google/%s", model);
		return buf;
	}
	return model;
}

/* size -> aspect_ratio and resolution; NULL when not implied. */
static void size_params(const char *size, const char **aspect, const char **resolution)
{
	*aspect = NULL;
	*resolution = NULL;
	if (!size)
		return;
	if (!strcmp(size, "16x9") || !strcmp(size, "1792x1024")) {
		*aspect = "16:9";
	} else if (!strcmp(size, "9x16") || !strcmp(size, "1024x1792")) {
		*aspect = "9:16";
	} else if (!strcmp(size, "1280x720")) {
		*aspect = "16:9";
		*resolution = "720p";
	} else if (!strcmp(size, "720x1280")) {
		*aspect = "9:16";
		*resolution = "720p";
	}
}

static char *job_path(const char *id, const char *suffix)
{
	char *esc = remote_http_escape(id, false), *url = NULL;

	if (esc && asprintf(&url, "videos/%s%s", esc, suffix) < 0)
		url = NULL;
	free(esc);
	return url;
}

static int or_create(struct remote *r, const struct remote_create *req,
		     struct remote_result *res)
{
	struct openrouter *o = r->impl;
	char mbuf[256], why[300];
	const char *model = remote_openrouter_model(req->model, mbuf, sizeof(mbuf));
	const char *aspect, *resolution;
	char *text = NULL, *image = NULL;
	json_t *body;
	int ret = -1;

	remote_result_clear(res);
	size_params(req->size, &aspect, &resolution);
	if (req->resolution && *req->resolution)
		resolution = req->resolution;
	body = json_pack("{s:s, s:s}", "model", model, "prompt",
			 req->prompt ? req->prompt : "");
	if (!body)
		goto oom;
	if (req->seconds && *req->seconds)
		json_object_set_new(body, "duration",
				    json_integer(strtol(req->seconds, NULL, 10)));
	if (aspect)
		json_object_set_new(body, "aspect_ratio", json_string(aspect));
	if (resolution)
		json_object_set_new(body, "resolution", json_string(resolution));
	if (req->image_path) {
		size_t len = 0;
		char *img = remote_read_image(req->image_path, &len, why, sizeof(why));
		if (!img) {
			json_decref(body);
			set_reason(res, why);
			res->not_received = true;
			return -1;
		}
		char *b64 = remote_base64((unsigned char *)img, len);
		free(img);
		if (!b64 || asprintf(&image, "data:%s;base64,%s",
				     remote_image_mime(req->image_path), b64) < 0)
			image = NULL;
		free(b64);
		if (!image)
			goto oom;
	}
	if (image || req->image_url)
		json_object_set_new(body, "frame_images",
			json_pack("[{s:s, s:{s:s}, s:s}]", "type", "image_url",
				  "image_url", "url", image ? image : req->image_url,
				  "frame_type", "first_frame"));
	text = json_dumps(body, JSON_COMPACT);
	if (!text)
		goto oom;
	ret = remote_http_json(o->h.http, "POST", "videos", text, res);
	goto out;
oom:
	set_reason(res, "out of memory");
	res->not_received = true;
	res->retryable = true;
out:
	json_decref(body);
	free(text);
	free(image);
	remote_result_redact(res, o->h.key);
	return ret;
}

static int or_get(struct remote *r, const char *id, struct remote_result *res)
{
	struct openrouter *o = r->impl;
	char *url = job_path(id, "");
	int ret = -1;

	remote_result_clear(res);
	if (!url) {
		set_reason(res, "out of memory");
		res->retryable = true;
		return -1;
	}
	ret = remote_http_json(o->h.http, "GET", url, NULL, res);
	free(url);
	if (ret == 0 && res->body_len == 0) {
		set_reason(res, "HTTP 200 without a video object");
		res->retryable = true;
		ret = -1;
	}
	if (ret < 0 && res->http_status == 404) {
		set_reason(res, "task not found on the provider");
		res->retryable = false;
	}
	remote_result_redact(res, o->h.key);
	return ret;
}

static int or_content(struct remote *r, const char *id, const char *variant,
		      int64_t offset, int64_t length, long timeout_ms,
		      const struct remote_sink *sink, struct remote_result *res)
{
	struct openrouter *o = r->impl;
	char *url;
	int ret;

	if (variant) {
		remote_result_clear(res);
		set_reason(res, "the openrouter protocol has no thumbnail");
		res->http_status = 404;
		return -1;
	}
	url = job_path(id, "/content?index=0");
	if (!url) {
		remote_result_clear(res);
		set_reason(res, "out of memory");
		res->retryable = true;
		return -1;
	}
	ret = remote_http_fetch(o->h.http, url, offset, length, timeout_ms, sink, res);
	free(url);
	remote_result_redact(res, o->h.key);
	return ret;
}

static int or_remove(struct remote *r, const char *id, struct remote_result *res)
{
	/* No cancel endpoint: nothing to send (see the top of the file). */
	remote_result_clear(res);
	return 0;
}

static void or_destroy(struct remote *r)
{
	struct openrouter *o = r->impl;

	remote_over_http_fini(&o->h);
	free(o);
}

static const struct remote_ops openrouter_ops = {
	.create = or_create,
	.get = or_get,
	.content = or_content,
	.remove = or_remove,
	.stop = remote_over_http_stop,
	.destroy = or_destroy,
};

struct remote *remote_openrouter_new(const struct remote_http_options *opt,
				     char *err, size_t errlen)
{
	struct openrouter *o = calloc(1, sizeof(*o));

	if (!o) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (remote_over_http_init(&o->h, &openrouter_ops, o, opt, NULL, err, errlen) < 0) {
		free(o);
		return NULL;
	}
	return &o->h.base;
}

/* Veo through the OpenAI Chat Completions route (--protocol chat), as
 * routers sell it: one POST /v1/chat/completions held open for the whole
 * generation, its answer free text. This file: the routes, the request,
 * the job, the held JSON answer (style json) and the polling link (style
 * tasklink); sim_chat_stream.c writes the streams. Routes:
 *   POST /v1/chat/completions   {model, messages, stream}; the answer in
 *                               the --chat-style (below)
 *   GET  /source/ID             tasklink: the task as JSON, during the
 *                               stream and after it
 *   GET  /web/ID                tasklink: the same as a small HTML page
 *   SIGNED/signed/ID.mp4?...    the clip, on the second listener (another
 *                               origin, refusing the key), which every
 *                               style's text links to
 *   GET  /_sim/files/ID.webp    its preview image
 * /_sim/stats counts each POST in create_requests, each job made in
 * creates (once per request, failed ones too: they are billed), each
 * stream started in streams, each /source or /web read in polls.
 *
 * What was found, shape by shape (read 2026-12; "no source" says where
 * the simulator had to choose):
 *
 * Request. The prompt is the user message, a string or content parts
 * {"type":"text","text"} and {"type":"image_url","image_url":{"url"}}
 * (a data: URL or a link): flow2api src/api/routes.py
 * (_normalize_openai_request), sora2api src/api/routes.py, and a client of
 * apicore.ai's veo3 chat route (Veo3Provider, makeStreamingRequest).
 * Orientation and speed are in the model name: APIYI and laozhang
 * veo-3.1[-landscape][-fast][-fl] (docs.apiyi.com/en/api-capabilities/veo/
 * overview, docs.laozhang.ai/api-capabilities/veo/veo-31-overview: no
 * "landscape" is portrait 720x1280); flow2api veo_3_1_t2v_fast_portrait,
 * veo_3_1_t2v_fast_landscape (generation_handler.py MODEL_CONFIG), where
 * a name with neither (veo_3_1_r2v_fast) is landscape. Veo through Flow
 * is fixed at 8 s (APIYI overview). A model with no "veo" in it, a missing
 * user message or an empty prompt answer 400 before any stream (flow2api
 * says an unknown model inside a 200 stream instead; not mirrored).
 *
 * flow2api (TheSmallHanCat/flow2api src/services/generation_handler.py,
 * commit 1930087, _create_stream_chunk and _poll_video_result; routes.py
 * _iterate_openai_stream): every chunk {"id": "chatcmpl-<unix s>",
 * "object": "chat.completion.chunk", "created", "model": "flow2api",
 * "choices": [{"index": 0, "delta": {...}, "finish_reason": null}]},
 * Python's default separators, UTF-8 as is. Progress goes in
 * delta.reasoning_content, only the last chunk in delta.content, with
 * finish_reason "stop". Sentences: "✨ 视频生成任务已启动\n" (the first,
 * with role "assistant"), "初始化生成环境...\n", "上传首帧图片...\n" (an
 * image), "提交视频生成任务...\n", "视频生成中...\n", "生成进度: N%\n",
 * "正在缓存视频文件...\n", "✅ 视频缓存成功,准备返回缓存地址...\n", then
 * content "<video src='URL' data-media-id='ID' controls
 * style='max-width:100%'></video>". A failed generation: reasoning
 * "错误: 视频生成失败: MSG，请重试\n", then the event {"error": {"message",
 * "type": "server_error", "code": "generation_failed", "status_code":
 * 502}} (routes.py wraps the handler's bare JSON in "data: "), then
 * "data: [DONE]" (always appended). Without "stream": one chat.completion
 * whose content is "```html\n<video src='URL' controls></video>\n```",
 * or the error object with its status_code as the HTTP status
 * (_create_completion_response, _build_openai_json_response).
 *
 * sora2api (TheSmallHanCat/sora2api src/services/generation_handler.py,
 * commit e7d91b3, _format_stream_chunk): id "chatcmpl-<unix ms>", model
 * "sora", delta always has content, reasoning_content and tool_calls
 * (null when unused), choices[0] has finish_reason and
 * native_finish_reason, "usage": {"prompt_tokens": 0} (plus
 * completion_tokens and total_tokens 1 on the last), json.dumps with its
 * default ASCII escapes. Progress in reasoning_content: "**Generation
 * Process Begins**\n\nInitializing generation request...\n" (first; an
 * image first says "**Image Upload Begins**\n\nUploading image to
 * server...\n" and "Image uploaded successfully. Proceeding to
 * generation...\n"), "\n**Video Generation Progress**: N% (STATUS)\n"
 * (STATUS is the upstream's; its default "processing" is used, the real
 * words were not found), "**Video Generation Completed**\n\nVideo
 * generation successful. Now caching the video file...\n", "Video file
 * cached successfully. Preparing final response...\n"; then content
 * "```html\n<video src='URL' controls></video>\n```" with finish_reason
 * "STOP", then [DONE]. A failed generation: reasoning "**Content Policy
 * Violation**\n\nREASON\n", content "❌ 生成失败: REASON" with "STOP",
 * [DONE] (REASON is Python's str(None), "None", when there is none). An
 * exception: {"error": {"message", "type": "server_error", "param":
 * null, "code": null}} then [DONE] (routes.py, generate()).
 *
 * tasklink, the asyncdata.net style of resellers of the same upstream: a
 * veo3-pro transcript (apidoc.poloapi.com/340080677e0) whose content is
 * "\n\n> 视频生成任务已创建\n> 任务ID: `ID`\n> 为了防止任务中断，可以从以下链接
 * 持续获取任务进度:\n> [数据预览](https://asyncdata.net/web/ID) | [原始数据](
 * https://asyncdata.net/source/ID)\n> 等待处理中.\n\n> 类型: 文字生成\n> 🎬
 * 开始生成视频.....\n\n> 🎉 高质量视频已生成\n\n[▶️ 在线观看](MP4) | [⏬ 下载视频](
 * DOWNLOAD-MP4)": the dots are the liveness, there is no number. Ids as
 * a sora-2 chat transcript shows them, "task_" and 26 lower-case letters
 * and digits (DMXAPI sora-2-chat documentation, in the code corpus). Here
 * ROOT/web/ID and ROOT/source/ID stand for asyncdata.net's. What
 * /source/ID answers: no documentation was found; clients read "status"
 * (pending, processing, video_generating, completed,
 * video_generation_completed, failed, error), "running" (true until it
 * ends) and "video_url" (Veo3Provider.status and .result, apicore.ai
 * client), and "progress", "error" (an asyncdata share poller,
 * pollAsyncDataForVideo). So: {"id", "status" (pending, video_generating,
 * completed, failed), "running", "progress", "created_at" (ms, as the
 * laozhang/APIYI veo status shows upstreamData.created_at), "prompt",
 * "video_url" once completed, "error" once failed}; 404 {"error": "task
 * not found"} for an unknown id (no source). The task keeps answering
 * after the stream ends, and polls take the poll faults.
 *
 * markdown, the APIYI / laozhang chat text: their pages were not found
 * with a transcript, only that the route streams progress and ends in
 * links (docs.apiyi.com veo overview: "live progress streaming"). The
 * text is the tasklink one without the task links, with the progress
 * numbers of the sora-2 transcript ("> 🏃 进度 42..54..67..") and its
 * WebP preview line before the MP4 links ("![URL.webp](URL.webp)"), and
 * poloapi's "[▶️ 在线观看](MP4) | [⏬ 下载视频](MP4)".
 * Both: content deltas in the router's chunk, {"id": "chatcmpl-" and 29
 * letters and digits as poloapi's, "object", "created", "model": the
 * request's, "choices": [{"index", "delta", "finish_reason"}]}, the first
 * delta {"role": "assistant", "content": ""}, the end an empty delta
 * with finish_reason "stop" (OpenAI's chunk), then [DONE]. Their failure
 * text ("\n\n> ❌ 生成失败: REASON") has no source: sora2api's words.
 *
 * json: a router that ignores "stream" and holds the request until one
 * chat.completion comes (poloapi's transcript answers a "stream": true
 * request so): {"id", "object": "chat.completion", "created", "model",
 * "choices": [{"index": 0, "message": {"role": "assistant", "content"},
 * "finish_reason": "stop"}], "usage"}, content flow2api's non-stream
 * "```html\n<video src='URL' controls></video>\n```"; a failed
 * generation answers flow2api's error object with HTTP 502.
 *
 * Trouble cases (create faults; sim_chat_stream.c): 429*, 500, 502, 503,
 * json-body, html-body answer before any stream and create nothing;
 * reset-before-body closes before the body, reset-after-body after it
 * with the job made and no header sent; stall holds the answer;
 * drop-after-headers, drop-mid-progress, drop-before-link cut the stream
 * there, the job made and going on; stream-error sends the style's error
 * event mid-stream (flow2api's or sora2api's shape; markdown and
 * tasklink use sora2api's, the OpenAI error object: no router source)
 * and fails the job; silence sends nothing for --chat-silence seconds
 * mid-stream; fail-error-object, fail-error-string, fail-no-error end
 * the stream in the style's failure; never-finish streams progress
 * forever. The key is recorded (authorization_present in /_sim/jobs/ID),
 * never checked, as in the other protocols. */
#include "sim_internal.h"

static const char *const style_names[] = {
	[CHAT_FLOW2API] = "flow2api", [CHAT_SORA2API] = "sora2api",
	[CHAT_MARKDOWN] = "markdown", [CHAT_TASKLINK] = "tasklink",
	[CHAT_JSON] = "json",
};
#define N_STYLES (sizeof(style_names) / sizeof(style_names[0]))

static int style_find(const char *name)
{
	if (!name)
		return CHAT_FLOW2API;
	for (size_t i = 0; i < N_STYLES; i++)
		if (!strcmp(name, style_names[i]))
			return (int)i;
	return -1;
}

bool sim_chat_style_valid(const char *name)
{
	return name && style_find(name) >= 0;
}

const char *sim_chat_style_list(void)
{
	return "flow2api, sora2api, markdown, tasklink, json";
}

void chat_set_style(struct sim *s)
{
	int st = style_find(s->opt.chat_style);

	s->chat_style = st < 0 ? CHAT_FLOW2API : st;
}

enum route chat_route(struct req *r, const char *url, const char *method)
{
	bool get = method_is(method, "GET") || method_is(method, "HEAD");

	if (!strcmp(url, "/v1/chat/completions"))
		return method_is(method, "POST") ? R_CREATE : R_BAD_METHOD;
	if (!strncmp(url, "/source/", 8) || !strncmp(url, "/web/", 5)) {
		const char *id = strchr(url + 1, '/') + 1;

		if (!copy_id(r->id, id, strlen(id)))
			return R_NOT_FOUND;
		return get ? R_POLL : R_BAD_METHOD;
	}
	return R_NOT_FOUND;
}

void chat_links(struct sim *s, const char *id, char *mp4, char *dl,
		char *webp, size_t len)
{
	char enc[3 * ID_MAX];

	url_encode(id, enc, sizeof(enc));
	/* The routers' links point at their storage or CDN, another origin
	 * than the API: the second listener, which refuses the key as such
	 * a host would (sim_signed.c). The preview stays on the API's. */
	char *signed_link = signed_url(s, id);
	snprintf(mp4, len, "%s", signed_link ? signed_link : "");
	snprintf(dl, len, "%s&download=1", signed_link ? signed_link : "");
	free(signed_link);
	snprintf(webp, len, "%s/_sim/files/%s.webp", s->root, enc);
}

const char *chat_failure(const struct job *j)
{
	return failure_reason(j);
}

/* ---- the request ---- */

/* The prompt of the last user message: a string or its text parts;
 * image: its first image_url's url, or NULL. */
static const char *user_prompt(json_t *messages, struct sbuf *text,
			       const char **image)
{
	json_t *msg = NULL, *m, *content, *part;
	size_t i;

	*image = NULL;
	json_array_foreach(messages, i, m)
	{
		const char *role = json_string_value(json_object_get(m, "role"));

		if (role && !strcmp(role, "user"))
			msg = m;
	}
	if (!msg)
		return NULL;
	content = json_object_get(msg, "content");
	if (json_is_string(content)) {
		sbuf_set(text, json_string_value(content));
		return text->p;
	}
	json_array_foreach(content, i, part) {
		const char *type = json_string_value(json_object_get(part, "type"));
		const char *t = json_string_value(json_object_get(part, "text"));
		const char *u = json_string_value(json_object_get(
				json_object_get(part, "image_url"), "url"));

		if (type && !strcmp(type, "text") && t) {
			if (text->len)
				sbuf_append(text, "\n", 1, PROMPT_MAX * 4);
			sbuf_append(text, t, strlen(t), PROMPT_MAX * 4);
		} else if (type && !strcmp(type, "image_url") && u && !*image) {
			*image = u;
		}
	}
	if (!text->p)
		sbuf_set(text, "");
	return text->p;
}

/* Portrait unless the name says landscape, for APIYI's veo-3.1-...;
 * landscape unless it says portrait, for flow2api's veo_3_1_... */
static const char *model_size(const char *model)
{
	if (strstr(model, "portrait"))
		return "720x1280";
	if (strstr(model, "landscape") || strchr(model, '_'))
		return "1280x720";
	return "720x1280";
}

/* Fill r->in from the body; 0, or -1 with the answer set. */
static int read_request(struct sim *s, struct MHD_Connection *c, struct req *r,
			struct answer *a, bool *stream)
{
	json_error_t jerr;
	json_t *body, *messages, *st;
	const char *model, *prompt, *image;
	struct sbuf text = { 0 };

	if (r->too_large || !r->body_json) {
		answer_error(a, r->too_large ? 413 : 400, "invalid_request_error",
			     NULL, NULL, "expected a JSON body");
		return -1;
	}
	body = json_loadb(r->raw.p ? r->raw.p : "", r->raw.len, 0, &jerr);
	model = json_string_value(json_object_get(body, "model"));
	messages = json_object_get(body, "messages");
	st = json_object_get(body, "stream");
	if (!body) {
		answer_error(a, 400, "invalid_request_error", NULL, NULL,
			     "the body is not JSON: %s", jerr.text);
		return -1;
	}
	if (!model || !strcasestr(model, "veo")) {
		answer_error(a, 400, "invalid_request_error", "model_not_found",
			     "model", "model '%.80s' is not a video model",
			     model ? model : "");
		json_decref(body);
		return -1;
	}
	if (st && !json_is_boolean(st)) {
		answer_error(a, 400, "invalid_request_error", NULL, "stream",
			     "stream must be true or false");
		json_decref(body);
		return -1;
	}
	*stream = json_is_true(st);
	prompt = json_is_array(messages) ? user_prompt(messages, &text, &image) : NULL;
	if (!prompt || blank(prompt)) {
		answer_error(a, 400, "invalid_request_error", NULL, "messages",
			     prompt ? "the user message has no text" :
			     "messages must hold a user message");
		sbuf_free(&text);
		json_decref(body);
		return -1;
	}
	fields_free(&r->in);
	memset(&r->in, 0, sizeof(r->in));
	r->in.format = "json";
	r->in.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
				MHD_HTTP_HEADER_AUTHORIZATION) != NULL;
	sbuf_set(&r->in.model, model);
	r->in.prompt = text;
	sbuf_set(&r->in.seconds, "8");
	sbuf_set(&r->in.size, model_size(model));
	if (image && !strncmp(image, "data:", 5)) {
		r->in.ref_kind = REF_FILE;
		r->in.ref_bytes = (int64_t)strlen(image);
		r->in.ref_hash = fnv1a_update(0xcbf29ce484222325ULL, image,
					      strlen(image));
	} else if (image) {
		r->in.ref_kind = REF_URL;
		sbuf_set(&r->in.ref_url, image);
	}
	json_decref(body);
	(void)s;
	return 0;
}

/* asyncdata's ids: "task_" and 26 of [0-9a-z]. Caller holds s->lock. */
static void tasklink_id(struct job *j)
{
	static const char alnum[] = "0123456789abcdefghjkmnpqrstvwxyz";
	uint64_t x = fnv1a_update(0xcbf29ce484222325ULL, j->id, strlen(j->id));
	char id[32] = "task_01k";

	for (int i = 8; i < 31; i++) {
		if (i % 12 == 0)
			x = splitmix64(x);
		id[i] = alnum[x & 31];
		x >>= 5;
	}
	id[31] = '\0';
	memcpy(j->id, id, sizeof(id));
}

/* ---- the held JSON answer (style json, and flow2api without stream) ---- */

static json_t *flow2api_error(const char *msg)
{
	return json_pack("{s:{s:s, s:s, s:s, s:i}}", "error", "message", msg,
			 "type", "server_error", "code", "generation_failed",
			 "status_code", 502);
}

/* Wait for the job as the stream would, then answer once. false: the
 * connection is to be closed without an answer. */
static bool held_answer(struct sim *s, struct req *r, const char *id,
			const char *model, struct answer *a)
{
	char mp4[ID_MAX * 3 + 200], dl[sizeof(mp4)], webp[sizeof(mp4)];
	char content[sizeof(mp4) + 64], msg[300], cid[40];
	bool midpoint = false;
	struct view v;
	struct job *j;
	const char *why = NULL;

	for (;;) {
		pthread_mutex_lock(&s->lock);
		j = find_job(s, id);
		if (!j) {
			pthread_mutex_unlock(&s->lock);
			return false;
		}
		job_view(s, j, &v);
		why = chat_failure(j);
		if (!midpoint && (v.completed || v.progress >= 50) && !v.failed) {
			midpoint = true;
			if (r->fault == FK_STREAM_ERROR)
				mark_outcome(s, j, FK_FAIL_ERROR_OBJECT, false);
		}
		pthread_mutex_unlock(&s->lock);
		if (midpoint && r->fault == FK_DROP_MID_PROGRESS)
			return false;
		if (midpoint && r->fault == FK_SILENCE) {
			r->fault = FK_NONE;
			if (!delay(s, 1000 * (s->opt.chat_silence_s > 0 ?
					      s->opt.chat_silence_s : 30)))
				return false;
			continue;
		}
		if (v.completed || v.failed)
			break;
		if (!delay(s, 100))
			return false;
	}
	if (r->fault == FK_DROP_BEFORE_LINK)
		return false;
	if (v.failed) {
		snprintf(msg, sizeof(msg), "视频生成失败: %s，请重试",
			 why ? why : "未知错误");
		answer_json(a, r->fault == FK_STREAM_ERROR ? 200 : 502,
			    flow2api_error(msg));
		return true;
	}
	chat_links(s, id, mp4, dl, webp, sizeof(mp4));
	snprintf(content, sizeof(content),
		 "```html\n<video src='%s' controls></video>\n```", mp4);
	snprintf(cid, sizeof(cid), "chatcmpl-%lld", (long long)time(NULL));
	answer_json(a, 200, json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:{s:s, s:s},"
				      " s:s}], s:{s:i, s:i, s:i}}",
		"id", cid, "object", "chat.completion",
		"created", (json_int_t)time(NULL),
		"model", s->chat_style == CHAT_JSON ? model : "flow2api",
		"choices", "index", 0, "message", "role", "assistant",
		"content", content, "finish_reason", "stop",
		"usage", "prompt_tokens", 0, "completion_tokens", 0,
		"total_tokens", 0));
	return true;
}

enum MHD_Result chat_create(struct sim *s, struct MHD_Connection *c,
			    struct req *r)
{
	struct answer a = { 0 };
	struct MHD_Response *resp;
	char id[ID_MAX], model[128];
	bool stream = false, image;
	enum chat_style style = (enum chat_style)s->chat_style;
	struct job *j;

	if (read_request(s, c, r, &a, &stream) < 0)
		return send_answer(s, c, r, &a);
	if (!stream && style != CHAT_JSON && style != CHAT_FLOW2API) {
		/* no source: these routers are only documented streaming */
		answer_error(&a, 400, "invalid_request_error", NULL, "stream",
			     "video models answer only with \"stream\": true");
		return send_answer(s, c, r, &a);
	}
	image = r->in.ref_kind != REF_NONE;
	snprintf(model, sizeof(model), "%s", r->in.model.p);
	pthread_mutex_lock(&s->lock);
	j = add_job(s, &r->in);
	if (j) {
		if (style == CHAT_TASKLINK) {
			tasklink_id(j);
			j->duration = sim_job_duration(s->opt.duration,
						       s->opt.jitter_pct, j->id);
		}
		mark_outcome(s, j, r->fault, true);
		snprintf(id, sizeof(id), "%s", j->id);
	}
	pthread_mutex_unlock(&s->lock);
	if (!j) {
		answer_error(&a, 500, "server_error", NULL, NULL, "out of memory");
		return send_answer(s, c, r, &a);
	}
	if (r->fault == FK_RESET_AFTER_BODY) {
		log_answer(s, r, "closed (job made)");
		return MHD_NO;
	}
	if (!stream || style == CHAT_JSON) {
		if (r->fault == FK_DROP_AFTER_HEADERS || !held_answer(s, r, id, model, &a)) {
			free(a.body);
			log_answer(s, r, "closed before the answer (job made)");
			return MHD_NO;
		}
		return send_answer(s, c, r, &a);
	}
	resp = chat_stream_response(s, id, model, image, style, r->fault);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/event-stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	count_locked(s, &s->count.streams);
	enum MHD_Result ret = MHD_queue_response(c, 200, resp);
	MHD_destroy_response(resp);
	log_answer(s, r, "200 stream");
	return ret;
}

/* ---- the polling link ---- */

static void web_page(struct answer *a, const char *id, const char *status,
		     int progress, const char *url)
{
	char html[ID_MAX * 6 + 1200];

	snprintf(html, sizeof(html),
		 "<!DOCTYPE html>\n<html><head><title>%s</title></head>\n"
		 "<body><h1>%s</h1>\n<p>status: %s, progress: %d%%</p>\n%s%s%s"
		 "</body></html>\n", id, id, status, progress,
		 url ? "<p><a href=\"" : "", url ? url : "", url ? "\">video</a></p>\n" : "");
	answer_text(a, 200, "text/html; charset=utf-8", html);
}

bool chat_answer(struct sim *s, struct MHD_Connection *c, struct req *r,
		 struct answer *a)
{
	char mp4[ID_MAX * 3 + 200], dl[sizeof(mp4)], webp[sizeof(mp4)];
	const char *status, *why;
	struct job *j;
	struct view v;
	json_t *o = NULL;

	(void)c;
	if (r->route != R_POLL)
		return false;
	pthread_mutex_lock(&s->lock);
	j = find_job(s, r->id);
	if (j) {
		mark_outcome(s, j, r->fault, false);
		job_view(s, j, &v);
		why = chat_failure(j);
		status = v.completed ? "completed" : v.failed ? "failed" :
			 !strcmp(v.status, "queued") ? "pending" : "video_generating";
		chat_links(s, j->id, mp4, dl, webp, sizeof(mp4));
		if (!strncmp(r->url, "/web/", 5)) {
			web_page(a, j->id, status, v.progress, v.completed ? mp4 : NULL);
		} else {
			o = json_pack("{s:s, s:s, s:b, s:i, s:I, s:s}", "id", j->id,
				      "status", status, "running", !v.completed && !v.failed,
				      "progress", v.progress,
				      "created_at", (json_int_t)j->created_at * 1000,
				      "prompt", j->in.prompt.p ? j->in.prompt.p : "");
			if (v.completed)
				json_object_set_new(o, "video_url", json_string(mp4));
			if (v.failed)
				json_object_set_new(o, "error", json_string(
					why ? why : "video generation failed"));
			answer_json(a, 200, o);
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (!j)
		answer_json(a, 404, json_pack("{s:s}", "error", "task not found"));
	return true;
}

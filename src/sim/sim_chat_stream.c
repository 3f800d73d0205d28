/* The chat protocol's streams: one SSE answer per create, paced over the
 * job's duration, in the text of a --chat-style. The shapes and their
 * sources are in sim_chat.c's opening comment; this file writes them.
 *
 * A stream is a small state machine read by libmicrohttpd's content
 * callback on the connection's own thread: it blocks there until the next
 * tick (released at once when the server stops), looks at the job, and
 * hands out the next events. Ticks come every duration/10 seconds, from
 * 0.2 to 2 s, each with some bytes (progress, or a dot) so a client that
 * counts any byte as liveness keeps waiting. The midpoint (progress 50)
 * is where drop-mid-progress, silence and stream-error act. */
#include "sim_internal.h"

enum phase { PH_OPEN, PH_RUN, PH_LINK, PH_DONE, PH_CLOSED };

struct chat_stream {
	struct sim *s;
	enum chat_style style;
	enum fault_kind fault;
	enum phase phase;
	char id[ID_MAX];
	char model[128];
	char chunk_id[64];	/* markdown, tasklink: one id per stream */
	bool image;
	bool started;		/* tasklink: "开始生成视频" said */
	bool midpoint;
	double tick, next_at;
	struct sbuf out;	/* bytes not yet handed out */
	size_t off;
};

#define LINK_MAX (ID_MAX * 3 + 200)

static void put(struct chat_stream *st, const char *text)
{
	sbuf_append(&st->out, text, strlen(text), BODY_MAX);
}

/* "data: JSON\n\n" */
static void event(struct chat_stream *st, json_t *o, size_t flags)
{
	char *text = o ? json_dumps(o, flags) : NULL;

	if (text) {
		put(st, "data: ");
		put(st, text);
		put(st, "\n\n");
	}
	free(text);
	json_decref(o);
}

/* One chunk in the style's envelope. reasoning: flow2api and sora2api's
 * progress field, else content; finish: NULL or the finish reason. */
static void chunk(struct chat_stream *st, const char *text, bool reasoning,
		  const char *finish, bool first)
{
	time_t now = time(NULL);
	char id[64];
	json_t *delta = json_object(), *choice, *o;

	if (first)
		json_object_set_new(delta, "role", json_string("assistant"));
	switch (st->style) {
	case CHAT_FLOW2API:
		json_object_set_new(delta, reasoning ? "reasoning_content" : "content",
				    json_string(text));
		snprintf(id, sizeof(id), "chatcmpl-%lld", (long long)now);
		choice = json_pack("{s:i, s:o, s:o}", "index", 0, "delta", delta,
				   "finish_reason", finish ? json_string(finish) : json_null());
		o = json_pack("{s:s, s:s, s:I, s:s, s:[o]}", "id", id,
			      "object", "chat.completion.chunk", "created", (json_int_t)now,
			      "model", "flow2api", "choices", choice);
		event(st, o, JSON_PRESERVE_ORDER);
		return;
	case CHAT_SORA2API: {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(id, sizeof(id), "chatcmpl-%lld", (long long)ts.tv_sec * 1000 +
			 ts.tv_nsec / 1000000);
		json_object_set_new(delta, "content", !reasoning && text ?
				    json_string(text) : json_null());
		json_object_set_new(delta, "reasoning_content", reasoning ?
				    json_string(text) : json_null());
		json_object_set_new(delta, "tool_calls", json_null());
		choice = json_pack("{s:i, s:o, s:o, s:o}", "index", 0, "delta", delta,
				   "finish_reason", finish ? json_string(finish) : json_null(),
				   "native_finish_reason",
				   finish ? json_string(finish) : json_null());
		o = json_pack("{s:s, s:s, s:I, s:s, s:[o], s:{s:i}}", "id", id,
			      "object", "chat.completion.chunk", "created", (json_int_t)now,
			      "model", "sora", "choices", choice, "usage",
			      "prompt_tokens", 0);
		if (finish) {
			json_object_set_new(json_object_get(o, "usage"),
					    "completion_tokens", json_integer(1));
			json_object_set_new(json_object_get(o, "usage"),
					    "total_tokens", json_integer(1));
		}
		event(st, o, JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
		return;
	}
	default:
		if (text)
			json_object_set_new(delta, "content", json_string(text));
		choice = json_pack("{s:i, s:o, s:o}", "index", 0, "delta", delta,
				   "finish_reason", finish ? json_string(finish) : json_null());
		o = json_pack("{s:s, s:s, s:I, s:s, s:[o]}", "id", st->chunk_id,
			      "object", "chat.completion.chunk", "created", (json_int_t)now,
			      "model", st->model, "choices", choice);
		event(st, o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		return;
	}
}

static void say(struct chat_stream *st, const char *text)
{
	chunk(st, text, st->style == CHAT_FLOW2API || st->style == CHAT_SORA2API,
	      NULL, false);
}

static void open_text(struct chat_stream *st)
{
	char mp4[LINK_MAX], dl[LINK_MAX], webp[LINK_MAX], buf[4 * LINK_MAX];

	switch (st->style) {
	case CHAT_FLOW2API:
		chunk(st, "✨ 视频生成任务已启动\n", true, NULL, true);
		say(st, "初始化生成环境...\n");
		if (st->image)
			say(st, "上传首帧图片...\n");
		say(st, "提交视频生成任务...\n");
		say(st, "视频生成中...\n");
		return;
	case CHAT_SORA2API:
		if (st->image) {
			chunk(st, "**Image Upload Begins**\n\nUploading image to server...\n",
			      true, NULL, true);
			say(st, "Image uploaded successfully. Proceeding to generation...\n");
			say(st, "**Generation Process Begins**\n\nInitializing generation request...\n");
		} else {
			chunk(st, "**Generation Process Begins**\n\nInitializing generation request...\n",
			      true, NULL, true);
		}
		return;
	case CHAT_MARKDOWN:
		chunk(st, "", false, NULL, true);
		say(st, st->image ? "\n\n> 🎬 开始生成视频\n\n> 🏃 进度 " :
		    "\n\n> 类型: 文字生成\n> 🎬 开始生成视频\n\n> 🏃 进度 ");
		return;
	default:	/* tasklink */
		chat_links(st->s, st->id, mp4, dl, webp, sizeof(mp4));
		snprintf(buf, sizeof(buf),
			 "\n\n> 视频生成任务已创建\n> 任务ID: `%s`\n"
			 "> 为了防止任务中断，可以从以下链接持续获取任务进度:\n"
			 "> [数据预览](%s/web/%s) | [原始数据](%s/source/%s)\n> 等待处理中",
			 st->id, st->s->root, st->id, st->s->root, st->id);
		chunk(st, "", false, NULL, true);
		say(st, buf);
		return;
	}
}

static void progress_text(struct chat_stream *st, const struct view *v)
{
	char buf[128];

	switch (st->style) {
	case CHAT_FLOW2API:
		snprintf(buf, sizeof(buf), "生成进度: %d%%\n", v->progress);
		break;
	case CHAT_SORA2API:
		snprintf(buf, sizeof(buf), "\n**Video Generation Progress**: %d%% (%s)\n",
			 v->progress, "processing");
		break;
	case CHAT_MARKDOWN:
		snprintf(buf, sizeof(buf), "%d..", v->progress);
		break;
	default:
		if (!st->started && strcmp(v->status, "queued")) {
			st->started = true;
			snprintf(buf, sizeof(buf), ".\n\n%s> 🎬 开始生成视频",
				 st->image ? "" : "> 类型: 文字生成\n");
		} else {
			snprintf(buf, sizeof(buf), ".");
		}
		break;
	}
	say(st, buf);
}

static void done_text(struct chat_stream *st)
{
	switch (st->style) {
	case CHAT_FLOW2API:
		say(st, "正在缓存视频文件...\n");
		say(st, "✅ 视频缓存成功,准备返回缓存地址...\n");
		return;
	case CHAT_SORA2API:
		say(st, "**Video Generation Completed**\n\nVideo generation successful. "
		    "Now caching the video file...\n");
		say(st, "Video file cached successfully. Preparing final response...\n");
		return;
	default:
		say(st, "\n\n> 🎉 高质量视频已生成\n\n");
		return;
	}
}

static void link_text(struct chat_stream *st)
{
	char mp4[LINK_MAX], dl[LINK_MAX], webp[LINK_MAX], buf[5 * LINK_MAX];

	chat_links(st->s, st->id, mp4, dl, webp, sizeof(mp4));
	switch (st->style) {
	case CHAT_FLOW2API:
		snprintf(buf, sizeof(buf), "<video src='%s' data-media-id='%s' controls "
			 "style='max-width:100%%'></video>", mp4, st->id);
		chunk(st, buf, false, "stop", false);
		return;
	case CHAT_SORA2API:
		snprintf(buf, sizeof(buf), "```html\n<video src='%s' controls></video>\n```",
			 mp4);
		chunk(st, buf, false, "STOP", false);
		return;
	case CHAT_MARKDOWN:
		snprintf(buf, sizeof(buf), "![%s](%s)\n[▶️ 在线观看](%s) | [⏬ 下载视频](%s)",
			 webp, webp, mp4, dl);
		break;
	default:
		snprintf(buf, sizeof(buf), "[▶️ 在线观看](%s) | [⏬ 下载视频](%s)", mp4, dl);
		break;
	}
	say(st, buf);
	chunk(st, NULL, false, "stop", false);
}

/* The generation failed: the style's own words, then [DONE]. */
static void fail_text(struct chat_stream *st, const char *why)
{
	char buf[600];

	switch (st->style) {
	case CHAT_FLOW2API:
		snprintf(buf, sizeof(buf), "视频生成失败: %s，请重试", why ? why : "未知错误");
		{
			char line[640];

			snprintf(line, sizeof(line), "错误: %s\n", buf);
			say(st, line);
		}
		event(st, json_pack("{s:{s:s, s:s, s:s, s:i}}", "error", "message", buf,
				    "type", "server_error", "code", "generation_failed",
				    "status_code", 502), JSON_PRESERVE_ORDER);
		break;
	case CHAT_SORA2API:
		snprintf(buf, sizeof(buf), "**Content Policy Violation**\n\n%s\n",
			 why ? why : "None");
		say(st, buf);
		snprintf(buf, sizeof(buf), "❌ 生成失败: %s", why ? why : "None");
		chunk(st, buf, false, "STOP", false);
		break;
	default:
		snprintf(buf, sizeof(buf), "\n\n> ❌ 生成失败: %s", why ? why : "未知错误");
		say(st, buf);
		chunk(st, NULL, false, "stop", false);
		break;
	}
	put(st, "data: [DONE]\n\n");
}

/* stream-error: the relay's error event mid-stream, then [DONE]. */
static void error_event(struct chat_stream *st)
{
	static const char msg[] = "upstream connection reset while generating (sim)";

	if (st->style == CHAT_FLOW2API)
		event(st, json_pack("{s:{s:s, s:s, s:s, s:i}}", "error", "message",
				    "视频状态查询失败: " "upstream connection reset (sim)",
				    "type", "server_error", "code", "generation_failed",
				    "status_code", 502), JSON_PRESERVE_ORDER);
	else
		event(st, json_pack("{s:{s:s, s:s, s:n, s:n}}", "error", "message", msg,
				    "type", "server_error", "param", "code"),
		      JSON_PRESERVE_ORDER | (st->style == CHAT_SORA2API ?
					     JSON_ENSURE_ASCII : JSON_COMPACT));
	put(st, "data: [DONE]\n\n");
}

/* Wait until the next tick; false when the server stops. */
static bool wait_tick(struct chat_stream *st)
{
	double now = now_mono(), wait = st->next_at - now;

	if (wait > 0 && !delay(st->s, (int)(wait * 1000) + 1))
		return false;
	st->next_at = (st->next_at > now ? st->next_at : now) + st->tick;
	return true;
}

/* The next events into st->out: 1 produced, 0 the end, -1 cut. */
static int step(struct chat_stream *st)
{
	struct sim *s = st->s;
	struct view v;
	struct job *j;
	const char *why;
	char reason[300];

	switch (st->phase) {
	case PH_OPEN:
		if (st->fault == FK_DROP_AFTER_HEADERS)
			return -1;
		open_text(st);
		st->phase = PH_RUN;
		st->next_at = now_mono() + st->tick;
		return 1;
	case PH_RUN:
		if (!wait_tick(st))
			return -1;
		pthread_mutex_lock(&s->lock);
		j = find_job(s, st->id);
		if (j) {
			job_view(s, j, &v);
			if (!st->midpoint && !v.failed && (v.completed || v.progress >= 50)) {
				st->midpoint = true;
				if (st->fault == FK_STREAM_ERROR) {
					mark_outcome(s, j, FK_FAIL_ERROR_OBJECT, false);
					job_view(s, j, &v);
				}
			}
			why = chat_failure(j);
			snprintf(reason, sizeof(reason), "%s", why ? why : "");
		}
		pthread_mutex_unlock(&s->lock);
		if (!j)
			return -1;
		if (st->midpoint && st->fault == FK_DROP_MID_PROGRESS)
			return -1;
		if (st->midpoint && st->fault == FK_SILENCE) {
			st->fault = FK_NONE;
			if (!delay(s, 1000 * (s->opt.chat_silence_s > 0 ?
					      s->opt.chat_silence_s : 30)))
				return -1;
			st->next_at = now_mono();
			return step(st);
		}
		if (st->midpoint && st->fault == FK_STREAM_ERROR) {
			error_event(st);
			st->phase = PH_CLOSED;
			return 1;
		}
		if (v.failed) {
			fail_text(st, reason[0] ? reason : NULL);
			st->phase = PH_CLOSED;
			return 1;
		}
		if (v.completed) {
			done_text(st);
			st->phase = PH_LINK;
			return 1;
		}
		progress_text(st, &v);
		return 1;
	case PH_LINK:
		if (st->fault == FK_DROP_BEFORE_LINK)
			return -1;
		link_text(st);
		st->phase = PH_DONE;
		return 1;
	case PH_DONE:
		put(st, "data: [DONE]\n\n");
		st->phase = PH_CLOSED;
		return 1;
	default:
		return 0;
	}
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct chat_stream *st = cls;
	size_t n;

	(void)pos;
	while (st->off >= st->out.len) {
		int rc;

		st->out.len = 0;
		st->off = 0;
		rc = step(st);
		if (rc == 0)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (rc < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	n = st->out.len - st->off < max ? st->out.len - st->off : max;
	memcpy(buf, st->out.p + st->off, n);
	st->off += n;
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct chat_stream *st = cls;

	sbuf_free(&st->out);
	free(st);
}

struct MHD_Response *chat_stream_response(struct sim *s, const char *id,
					  const char *model, bool image,
					  enum chat_style style,
					  enum fault_kind fault)
{
	static const char alnum[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	struct chat_stream *st = calloc(1, sizeof(*st));
	struct MHD_Response *resp;
	double d = s->opt.duration / 10;
	uint64_t x;

	if (!st)
		return NULL;
	st->s = s;
	st->style = style;
	st->fault = fault;
	st->image = image;
	st->tick = d < 0.2 ? 0.2 : d > 2.0 ? 2.0 : d;
	snprintf(st->id, sizeof(st->id), "%s", id);
	snprintf(st->model, sizeof(st->model), "%s", model);
	x = fnv1a_update(0xcbf29ce484222325ULL, id, strlen(id));
	memcpy(st->chunk_id, "chatcmpl-", 9);
	for (int i = 0; i < 29; i++) {
		if (i % 10 == 0)
			x = splitmix64(x);
		st->chunk_id[9 + i] = alnum[x % 62];
		x /= 62;
	}
	st->chunk_id[38] = '\0';
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
						 stream_read, st, stream_free);
	if (!resp)
		stream_free(st);
	return resp;
}

/* The chat protocol (api.protocol = chat): the provider's models as routers
 * (flow2api, sora2api, APIYI, laozhang...) serve them through OpenAI's Chat
 * Completions route.
 *   - create: POST {base}/chat/completions with {"model", "stream": true,
 *     "messages": [{"role": "user", "content": PROMPT or [text part,
 *     image_url part]}]}. The reply is one long event stream of
 *     chat.completion.chunk objects (chat_sse.c) whose text says how far
 *     the generation got and ends with the video's link (chat_scrape.c);
 *     some routers ignore "stream" and answer one chat.completion.
 *   - The request is billed even when the generation fails, and cannot be
 *     resumed: the reply is the only record of what was paid for. So once
 *     an answer's headers arrived the create is never reported as one that
 *     may be sent again, whatever happens to the stream.
 *   - poll: only when the reply named a URL to poll (an async router's
 *     "查询链接"); it is fetched and read as a video object, or as text.
 *   - download: the link, fetched as a link a status object names (the key
 *     only to base_url's origin). There is no /content and no cancel.
 * What the engine gets back are OpenAI-shaped video objects (video_object.c
 * reads them), so nothing above the seam knows about chats. */
#include "remote.h"
#include "remote_http_shared.h"
#include "remote_protocols.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "chat_scrape.h"
#include "chat_sse.h"
#include "redact.h"
#include "log.h"
#include "video_object.h"
#include "xalloc.h"

#define SILENCE_DEFAULT_S 120
#define TOTAL_DEFAULT_S 900
#define TEXT_MAX (2u << 20)       /* the reply's text kept (its tail) */
#define JSON_BODY_MAX (4u << 20)  /* a reply that is one JSON body */
#define LINE_KEEP 2048            /* of the current line, for scraping */
#define LINE_SHOWN 500            /* of a line, for on_text */
#define HEAD_MAX 64               /* bytes looked at to tell JSON from a stream */

#define UNKNOWN_OUTCOME \
	"submission outcome unknown (stream dropped; this route bills even failed generations)"

struct chat_remote {
	struct remote_over_http h;
	long silence_s, total_s;
};

struct growbuf {
	char *p;
	size_t len, cap;
};

static void grow_add(struct growbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void grow_free(struct growbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

enum reply_mode { MODE_UNDECIDED, MODE_STREAM, MODE_JSON };

/* One create's reply as it arrives. */
struct reply {
	struct chat_remote *c;
	const struct remote_create_watch *watch;
	enum reply_mode mode;
	char content_type[128];
	struct chat_sse sse;
	struct growbuf head;       /* bytes not yet judged; then a JSON body */
	struct growbuf text;       /* the reply's text: content and reasoning */
	struct growbuf line;       /* the line being read (LINE_KEEP at most) */
	char last_line[LINE_SHOWN + 1];
	int progress;              /* -1: none yet */
	char *task_id, *poll_url;  /* the last the reply named */
	char *completion_id;       /* the chat completion's own "id" */
	char *error;               /* an error event's message */
	bool done;                 /* [DONE], or the whole JSON body */
	bool too_big;              /* an event or body over its limit */
};

/* As xalloc.c does: out of memory, one line and an abort rather than a
 * half-built answer. */
static _Noreturn void out_of_memory(void)
{
	log_error("out of memory");
	abort();
}

static void set_reason(struct remote_result *res, const char *why)
{
	snprintf(res->reason, sizeof(res->reason), "%.250s", why);
}

const char *remote_chat_model(const char *model, const char *size)
{
	/* Orientation is part of the model's name on this route; size says
	 * nothing the router would read (see remote_protocols.h). */
	(void)size;
	return model && *model ? model : "veo-3.1";
}

/* ---- the reply's text ---- */

/* Whatever carries the key is not passed on (a link or id may echo a
 * query with it); lines are passed on with it redacted. */
static bool holds_secret(const struct reply *rp, const char *s)
{
	size_t n;
	char *clean = redact_text(s, strlen(s), rp->c->h.key, &n);
	bool same = clean && n == strlen(s) && !memcmp(clean, s, n);

	free(clean);
	return !same;
}

static void note_progress(struct reply *rp, int seen)
{
	int next = chat_progress_next(rp->progress, seen);

	if (next > rp->progress) {
		rp->progress = next;
		if (rp->watch && rp->watch->on_progress)
			rp->watch->on_progress(rp->watch->ctx, next);
	}
}

static void note_ids(struct reply *rp, const char *s, size_t n)
{
	struct chat_task_ref ref;

	chat_scrape_task(s, n, &ref);
	if (ref.poll_url && !holds_secret(rp, ref.poll_url) &&
	    (!rp->poll_url || strcmp(rp->poll_url, ref.poll_url))) {
		free(rp->poll_url);
		rp->poll_url = ref.poll_url;
		ref.poll_url = NULL;
		if (rp->watch && rp->watch->on_id)
			rp->watch->on_id(rp->watch->ctx, rp->poll_url, true);
	}
	if (ref.task_id && !holds_secret(rp, ref.task_id) &&
	    (!rp->task_id || strcmp(rp->task_id, ref.task_id))) {
		free(rp->task_id);
		rp->task_id = ref.task_id;
		ref.task_id = NULL;
		if (rp->watch && rp->watch->on_id)
			rp->watch->on_id(rp->watch->ctx, rp->task_id, false);
	}
	chat_task_ref_free(&ref);
}

/* A line of the reply is over: what it says, and the line itself for the
 * task's events (its only diagnostics). */
static void end_line(struct reply *rp)
{
	const char *s = rp->line.p ? rp->line.p : "";
	size_t n = rp->line.len;

	if (n > 0) {
		note_progress(rp, chat_scrape_progress(s, n));
		note_ids(rp, s, n);
	}
	while (n > 0 && (s[0] == ' ' || s[0] == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n > 0) {
		char shown[LINE_SHOWN + 1];
		size_t k = n < LINE_SHOWN ? n : LINE_SHOWN;
		/* cut between characters, not inside one */
		while (k < n && k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
			k--;
		memcpy(shown, s, k);
		shown[k] = '\0';
		for (char *p = shown; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
		size_t cn;
		char *clean = redact_text(shown, k, rp->c->h.key, &cn);
		if (clean) {
			snprintf(rp->last_line, sizeof(rp->last_line), "%s", clean);
			if (rp->watch && rp->watch->on_text)
				rp->watch->on_text(rp->watch->ctx, clean);
			free(clean);
		}
	}
	rp->line.len = 0;
	if (rp->line.p)
		rp->line.p[0] = '\0';
}

/* Text of the reply, as its deltas come: kept whole (its tail, past
 * TEXT_MAX) for the link, and read line by line as each line ends. */
static void add_text(struct reply *rp, const char *s, size_t n)
{
	if (rp->text.len + n > TEXT_MAX) {
		/* The link comes last: keep the newer half. */
		size_t keep = TEXT_MAX / 2 < rp->text.len ? TEXT_MAX / 2 : rp->text.len;
		memmove(rp->text.p, rp->text.p + rp->text.len - keep, keep);
		rp->text.len = keep;
		if (n > TEXT_MAX / 2) {
			s += n - TEXT_MAX / 2;
			n = TEXT_MAX / 2;
		}
	}
	grow_add(&rp->text, s, n);

	const char *end = s + n;
	while (s < end) {
		const char *e = s;
		while (e < end && *e != '\n' && *e != '\r')
			e++;
		size_t room = LINE_KEEP - rp->line.len, seg = (size_t)(e - s);
		grow_add(&rp->line, s, seg < room ? seg : room);
		if (e == end)
			break;
		end_line(rp);
		s = e + 1;
	}
	/* Progress of the line so far ("进度 36..47.." grows in pieces), its
	 * trailing digits left for when they are whole ("3" of "36"). */
	size_t k = rp->line.len;
	while (k > 0 && rp->line.p[k - 1] >= '0' && rp->line.p[k - 1] <= '9')
		k--;
	if (k > 0)
		note_progress(rp, chat_scrape_progress(rp->line.p, k));
}

static void add_json_text(struct reply *rp, json_t *v)
{
	if (json_is_string(v))
		add_text(rp, json_string_value(v), json_string_length(v));
}

/* The text of a chunk's delta or a completion's message. */
static void take_choice(struct reply *rp, json_t *obj)
{
	json_t *choice = json_array_get(json_object_get(obj, "choices"), 0);
	static const char *const parts[] = { "delta", "message" };

	for (int i = 0; i < 2; i++) {
		json_t *m = json_object_get(choice, parts[i]);
		add_json_text(rp, json_object_get(m, "reasoning_content"));
		add_json_text(rp, json_object_get(m, "reasoning"));
		add_json_text(rp, json_object_get(m, "content"));
	}
	const char *id = json_string_value(json_object_get(obj, "id"));
	if (id && !rp->completion_id && video_id_valid(id, strlen(id)))
		rp->completion_id = xstrdup(id);
}

/* An error after HTTP 200: {"error": {...}} or {"error": "..."}. */
static bool take_error(struct reply *rp, json_t *obj, const char *data, size_t len)
{
	json_t *e = json_object_get(obj, "error");

	if (!e || json_is_null(e) || json_is_false(e))
		return false;
	char *msg = api_error_message(data, len);
	free(rp->error);
	rp->error = msg ? msg : xstrdup("the provider reported an error");
	return true;
}

static int on_event(void *ctx, const char *event, const char *data, size_t len)
{
	struct reply *rp = ctx;
	size_t i = 0, n = len;

	while (i < n && (data[i] == ' ' || data[i] == '\t'))
		i++;
	while (n > i && (data[n - 1] == ' ' || data[n - 1] == '\t'))
		n--;
	if (n - i == 6 && !memcmp(data + i, "[DONE]", 6)) {
		rp->done = true;
		return 1;
	}
	json_t *obj = json_loadb(data, len, 0, NULL);
	if (!json_is_object(obj)) {
		json_decref(obj);
		if (!strcmp(event, "error")) {
			free(rp->error);
			rp->error = xstrdup(n > i ? data + i : "the provider reported an error");
			return 1;
		}
		/* Plain text as data (a router's banner): text of the reply.
		 * A JSON chunk that did not parse (one the stream cut) is not:
		 * half a URL in it would be taken for a link. */
		if (n > i && data[i] != '{' && data[i] != '[') {
			add_text(rp, data + i, n - i);
			add_text(rp, "\n", 1);
		}
		return 0;
	}
	if (take_error(rp, obj, data, len)) {
		json_decref(obj);
		return 1;
	}
	take_choice(rp, obj);
	json_decref(obj);
	return 0;
}

/* ---- the reply as bytes ---- */

static void on_start(void *ctx, int status, const char *content_type)
{
	struct reply *rp = ctx;

	snprintf(rp->content_type, sizeof(rp->content_type), "%s",
		 content_type ? content_type : "");
}

static int feed_stream(struct reply *rp, const char *data, size_t len)
{
	int rc = chat_sse_feed(&rp->sse, data, len);

	if (rc == CHAT_SSE_TOO_BIG)
		rp->too_big = true;
	return rc != CHAT_SSE_OK;
}

static int on_data(void *ctx, const char *data, size_t len)
{
	struct reply *rp = ctx;

	if (rp->mode == MODE_STREAM)
		return feed_stream(rp, data, len);
	if (rp->mode == MODE_JSON) {
		if (rp->head.len + len > JSON_BODY_MAX) {
			rp->too_big = true;
			return 1;
		}
		grow_add(&rp->head, data, len);
		return 0;
	}
	grow_add(&rp->head, data, len);
	bool decided;
	bool json = chat_sse_body_is_json(rp->content_type, rp->head.p, rp->head.len,
					  &decided);
	if (!decided && rp->head.len < HEAD_MAX)
		return 0;
	if (json) {
		rp->mode = MODE_JSON;
		return 0;
	}
	rp->mode = MODE_STREAM;
	int stop = feed_stream(rp, rp->head.p, rp->head.len);
	grow_free(&rp->head);
	return stop;
}

/* A JSON body read whole: one chat.completion (or an error). */
static void take_json_body(struct reply *rp)
{
	json_t *obj = json_loadb(rp->head.p ? rp->head.p : "", rp->head.len, 0, NULL);

	if (!json_is_object(obj)) {
		/* Not JSON after all: its text may still name the link. */
		add_text(rp, rp->head.p ? rp->head.p : "", rp->head.len);
	} else if (!take_error(rp, obj, rp->head.p, rp->head.len)) {
		take_choice(rp, obj);
	}
	json_decref(obj);
	rp->done = true;
}

/* The answer ended cleanly: what is still buffered is read. */
static void reply_finish(struct reply *rp)
{
	if (rp->mode == MODE_UNDECIDED && rp->head.len) {
		bool decided;
		rp->mode = chat_sse_body_is_json(rp->content_type, rp->head.p,
						 rp->head.len, &decided) ?
			   MODE_JSON : MODE_STREAM;
		if (rp->mode == MODE_STREAM) {
			feed_stream(rp, rp->head.p, rp->head.len);
			grow_free(&rp->head);
		}
	}
	if (rp->mode == MODE_JSON && !rp->too_big)
		take_json_body(rp);
	else if (rp->mode == MODE_STREAM && !rp->too_big && !rp->done && !rp->error &&
		 chat_sse_finish(&rp->sse) == CHAT_SSE_TOO_BIG)
		rp->too_big = true;
}

static void reply_free(struct reply *rp)
{
	chat_sse_free(&rp->sse);
	grow_free(&rp->head);
	grow_free(&rp->text);
	grow_free(&rp->line);
	free(rp->task_id);
	free(rp->poll_url);
	free(rp->completion_id);
	free(rp->error);
}

/* ---- video objects ---- */

static char *random_id(void)
{
	unsigned char b[8];
	char out[32];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		unsigned long long v = (unsigned long long)time(NULL) ^
				       ((unsigned long long)getpid() << 32) ^
				       (unsigned long long)(uintptr_t)b;
		memcpy(b, &v, sizeof(b));
	}
	snprintf(out, sizeof(out), "chat-");
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(out + 5 + 2 * i, 3, "%02x", b[i]);
	return xstrdup(out);
}

/* The task's id: the URL to poll, else the task id the text named, else
 * the completion's own id, else one of ours. */
static char *reply_id(const struct reply *rp)
{
	if (rp->poll_url)
		return xstrdup(rp->poll_url);
	if (rp->task_id)
		return xstrdup(rp->task_id);
	if (rp->completion_id)
		return xstrdup(rp->completion_id);
	return random_id();
}

static void set_object(struct remote_result *res, json_t *obj)
{
	char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;

	if (!text)
		out_of_memory();
	res->body = text;
	res->body_len = strlen(text);
	json_decref(obj);
}

static void object_completed(struct remote_result *res, const char *id,
			     const char *model, const char *link)
{
	set_object(res, json_pack("{s:s, s:s, s:s, s:i, s:s, s:s}", "id", id,
				  "object", "video", "status", "completed",
				  "progress", 100, "model", model, "video_url", link));
}

static void object_failed(struct remote_result *res, const char *id,
			  const char *model, const char *why)
{
	set_object(res, json_pack("{s:s, s:s, s:s, s:s, s:{s:s}}", "id", id,
				  "object", "video", "status", "failed",
				  "model", model, "error", "message", why));
}

static void object_running(struct remote_result *res, const char *id,
			   const char *model, int progress)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "object", "video",
			      "status", "in_progress", "model", model);
	if (o && progress >= 0)
		json_object_set_new(o, "progress", json_integer(progress));
	set_object(res, o);
}

/* The link in the reply's complete lines: a stream cut mid-line may have
 * cut a bare link short. */
static char *link_in_whole_lines(const struct reply *rp)
{
	size_t n = rp->text.len;

	while (n > 0 && rp->text.p[n - 1] != '\n' && rp->text.p[n - 1] != '\r')
		n--;
	return n ? chat_scrape_link(rp->text.p, n) : NULL;
}

/* ---- create ---- */

static char *request_body(const struct remote_create *req, const char *model,
			  struct remote_result *res)
{
	const char *prompt = req->prompt ? req->prompt : "";
	char *image = NULL, *text = NULL, why[300];
	json_t *content;

	if (req->image_path) {
		size_t len = 0;
		char *img = remote_read_image(req->image_path, &len, why, sizeof(why));
		if (!img) {
			set_reason(res, why);
			res->not_received = true;
			return NULL;
		}
		char *b64 = remote_base64((unsigned char *)img, len);
		free(img);
		if (!b64)
			out_of_memory();
		image = xasprintf("data:%s;base64,%s", remote_image_mime(req->image_path), b64);
		free(b64);
	}
	const char *url = image ? image : req->image_url;
	if (url)
		content = json_pack("[{s:s, s:s}, {s:s, s:{s:s}}]",
				    "type", "text", "text", prompt,
				    "type", "image_url", "image_url", "url", url);
	else
		content = json_string(prompt);
	json_t *body = json_pack("{s:s, s:b, s:[{s:s, s:o}]}", "model", model,
				 "stream", 1, "messages", "role", "user",
				 "content", content);
	if (body)
		text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	free(image);
	if (!text)
		out_of_memory();
	return text;
}

static int chat_create(struct remote *r, const struct remote_create *req,
		       struct remote_result *res)
{
	struct chat_remote *c = r->impl;
	const char *model = remote_chat_model(req->model, req->size);
	struct reply rp;
	char *body, *id = NULL, *link = NULL;
	int rc;

	remote_result_clear(res);
	body = request_body(req, model, res);
	if (!body)
		goto out_redact;

	memset(&rp, 0, sizeof(rp));
	rp.c = c;
	rp.watch = req->watch;
	rp.progress = -1;
	chat_sse_init(&rp.sse, CHAT_SSE_EVENT_MAX, on_event, &rp);
	struct remote_http_stream_cb cb = { &rp, on_start, on_data };
	rc = remote_http_stream(c->h.http, "chat/completions", body, c->silence_s,
				c->total_s, &cb, res);
	free(body);

	if (rc < 0 && res->http_status == 0) {
		/* No answer's header came back. Routers answer their headers
		 * at once when they take a request (the stream starts with
		 * them), so none means it was not taken: the one case this
		 * route lets the engine send it again. */
		res->not_received = true;
		res->retryable = true;
		goto out;
	}
	if (rc < 0 && (res->http_status < 200 || res->http_status >= 300)) {
		/* Refused with a status: nothing was generated for it, but
		 * sending it again is the user's call (ctl retry), never ours. */
		res->not_received = false;
		res->retryable = false;
		goto out;
	}

	/* Past the headers: whatever happens now, never sent again. */
	bool whole = rc == 0 && !rp.too_big;
	char transport[REMOTE_REASON_MAX];
	if (rp.too_big)
		snprintf(transport, sizeof(transport), "the reply sent more than %u MiB at once",
			 (rp.mode == MODE_JSON ? JSON_BODY_MAX : CHAT_SSE_EVENT_MAX) >> 20);
	else
		snprintf(transport, sizeof(transport), "%s", rc == 0 ? "" : res->reason);
	int status = res->http_status;
	remote_result_clear(res);
	res->http_status = status;
	if (whole)
		reply_finish(&rp);
	if (rp.line.len)
		end_line(&rp);

	id = reply_id(&rp);
	if (rp.error) {
		object_failed(res, id, model, rp.error);
		goto out_reply;
	}
	link = whole ? chat_scrape_link(rp.text.p ? rp.text.p : "", rp.text.len) :
		       link_in_whole_lines(&rp);
	if (link && holds_secret(&rp, link)) {
		free(link);
		link = NULL;
	}
	if (link) {
		object_completed(res, id, model, link);
	} else if (whole && (rp.done || !rp.poll_url)) {
		char *why = xasprintf("the reply ended without a video link%s%s",
				      rp.last_line[0] ? ": " : "", rp.last_line);
		object_failed(res, id, model, why);
		free(why);
	} else if (rp.poll_url) {
		/* The stream went, the task did not: poll it. */
		object_running(res, id, model, rp.progress < 0 ? 0 : rp.progress);
	} else {
		char *why = xasprintf(UNKNOWN_OUTCOME "%s%s\n%s",
				      rp.task_id ? "; the reply named task " : "",
				      rp.task_id ? rp.task_id : "",
				      transport[0] ? transport : "the reply was cut short");
		object_failed(res, id, model, why);
		free(why);
	}
out_reply:
	reply_free(&rp);
	free(id);
	free(link);
	remote_result_redact(res, c->h.key);
	return 0;
out:
	reply_free(&rp);
out_redact:
	remote_result_redact(res, c->h.key);
	return -1;
}

/* ---- poll, download, cancel ---- */

static bool is_http_url(const char *s)
{
	return !strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8);
}

/* A polled answer that is not a video object: read as text. */
static void synthesize(struct remote_result *res, const char *id,
		       const struct video_object *v)
{
	const char *text = res->body ? res->body : "";
	size_t len = res->body_len;
	char *link = chat_scrape_link(text, len);
	char *failure = v ? (v->error ? xstrdup(v->error) : NULL) :
			    chat_scrape_failure(text, len);
	int progress = chat_scrape_progress(text, len);
	json_t *o;

	if (link)
		o = json_pack("{s:s, s:s, s:s, s:i, s:s}", "id", id, "object", "video",
			      "status", "completed", "progress", 100, "video_url", link);
	else if (failure)
		o = json_pack("{s:s, s:s, s:s, s:{s:s}}", "id", id, "object", "video",
			      "status", "failed", "error", "message", failure);
	else if (progress >= 0)
		o = json_pack("{s:s, s:s, s:s, s:i}", "id", id, "object", "video",
			      "status", "in_progress", "progress", progress);
	else
		o = json_pack("{s:s, s:s, s:s}", "id", id, "object", "video",
			      "status", "in_progress");
	free(link);
	free(failure);
	free(res->body);
	res->body = NULL;
	res->body_len = 0;
	set_object(res, o);
}

static int chat_get(struct remote *r, const char *id, struct remote_result *res)
{
	struct chat_remote *c = r->impl;
	struct video_object v;
	char err[128];
	int ret;

	remote_result_clear(res);
	if (!is_http_url(id)) {
		set_reason(res, "the chat route has nothing to poll for this task");
		return -1;
	}
	/* An absolute URL: remote_http_json sends the key only when it is
	 * base_url's origin. */
	ret = remote_http_json(c->h.http, "GET", id, NULL, res);
	if (ret < 0 && res->http_status == 404) {
		set_reason(res, "task not found on the provider");
		res->retryable = false;
	}
	if (ret == 0) {
		if (res->body && video_object_parse(res->body, res->body_len, &v,
						    err, sizeof(err)) == 0) {
			/* A video object of its own: passed on as it came. */
			bool usable = v.has_state || v.video_url;
			if (!usable)
				synthesize(res, id, &v);
			video_object_free(&v);
		} else {
			synthesize(res, id, NULL);
		}
	}
	remote_result_redact(res, c->h.key);
	return ret;
}

static int chat_content(struct remote *r, const char *id, const char *variant,
			int64_t offset, int64_t length, long timeout_ms,
			const struct remote_sink *sink, struct remote_result *res)
{
	remote_result_clear(res);
	set_reason(res, variant ? "the chat route has no thumbnail" :
		   "the chat route has no /content: the video comes from the link in the reply");
	res->http_status = 404;
	res->retryable = false;
	return -1;
}

static int chat_content_link(struct remote *r, const char *url, int64_t offset,
			     int64_t length, long timeout_ms,
			     const struct remote_sink *sink, struct remote_result *res)
{
	struct chat_remote *c = r->impl;
	int ret = remote_http_fetch(c->h.http, url, offset, length, timeout_ms, sink, res);

	remote_result_redact(res, c->h.key);
	return ret;
}

static int chat_remove(struct remote *r, const char *id, struct remote_result *res)
{
	/* Unlike OpenRouter's (no route, so cancelled here), a refusal: the
	 * engine then says the cancel was refused and keeps polling what it
	 * can, since the user pays for what runs on. */
	remote_result_clear(res);
	set_reason(res, "the chat route has no cancel: the generation runs on (and is billed)");
	res->http_status = 501;
	res->retryable = false;
	return -1;
}

static void chat_stop(struct remote *r)
{
	/* Unlike a create elsewhere, a stream in flight is cut at once: it
	 * may run for many minutes, and what it said so far is answered. */
	remote_over_http_stop(r);
}

static void chat_destroy(struct remote *r)
{
	struct chat_remote *c = r->impl;

	remote_over_http_fini(&c->h);
	free(c);
}

static const struct remote_ops chat_ops = {
	.create = chat_create,
	.get = chat_get,
	.content = chat_content,
	.content_link = chat_content_link,
	.remove = chat_remove,
	.stop = chat_stop,
	.destroy = chat_destroy,
};

struct remote *remote_chat_new(const struct remote_http_options *o,
			       const struct remote_chat_options *co,
			       char *err, size_t errlen)
{
	struct chat_remote *c = calloc(1, sizeof(*c));

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (remote_over_http_init(&c->h, &chat_ops, c, o, NULL, err, errlen) < 0) {
		free(c);
		return NULL;
	}
	c->silence_s = co && co->silence_limit_s > 0 ? co->silence_limit_s :
		       SILENCE_DEFAULT_S;
	c->total_s = co && co->total_limit_s > 0 ? co->total_limit_s : TOTAL_DEFAULT_S;
	return &c->h.base;
}

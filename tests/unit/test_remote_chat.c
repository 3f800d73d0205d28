/* The chat route's remote against a raw socket server that scripts every
 * byte of its answer, pauses and cuts included: what a create answers in
 * each case, that it is sent once, and that the key never shows. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "remote.h"
#include "remote_protocols.h"
#include "video_object.h"

#define KEY "sk-test-0123456789"

/* ---- the scripted server ---- */

enum step_kind { STEP_SEND, STEP_SLEEP, STEP_CLOSE, STEP_RESET };

struct step {
	enum step_kind kind;
	char *text;
	int ms;
};

struct server {
	int fd;
	unsigned short port;
	char base[128];
	pthread_t thread;
	atomic_bool stop;
	pthread_mutex_t lock;
	int requests;
	char method[16], path[512], auth[512];
	char *body;
	struct step steps[64];
	int nsteps;
};

static struct server srv;

static void add_step(enum step_kind kind, const char *text, int ms)
{
	cr_assert_lt(srv.nsteps, 64);
	srv.steps[srv.nsteps++] = (struct step){ kind, text ? strdup(text) : NULL, ms };
}

static void send_raw(const char *s)
{
	add_step(STEP_SEND, s, 0);
}

/* One chunk of a chunked body. */
static void send_chunk(const char *s)
{
	char *c = NULL;
	cr_assert(asprintf(&c, "%zx\r\n%s\r\n", strlen(s), s) > 0);
	add_step(STEP_SEND, c, 0);
	free(c);
}

static void pause_ms(int ms)
{
	add_step(STEP_SLEEP, NULL, ms);
}

static void stream_headers(void)
{
	send_raw("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
		 "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n");
}

static void stream_end(void)
{
	send_chunk("data: [DONE]\n\n");
	send_raw("0\r\n\r\n");
}

/* A chat.completion.chunk event with one delta field. */
static void send_delta(const char *field, const char *text)
{
	json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:[{s:i, s:{s:s}, s:n}]}",
			      "id", "chatcmpl-42", "object", "chat.completion.chunk",
			      "created", 1, "model", "veo-3.1",
			      "choices", "index", 0, "delta", field, text,
			      "finish_reason");
	char *j = json_dumps(o, JSON_COMPACT), *ev = NULL;
	cr_assert(asprintf(&ev, "data: %s\n\n", j) > 0);
	send_chunk(ev);
	free(ev);
	free(j);
	json_decref(o);
}

static void content(const char *text)
{
	send_delta("content", text);
}

static void reasoning(const char *text)
{
	send_delta("reasoning_content", text);
}

static bool wait_stop(int ms)
{
	for (int t = 0; t < ms; t += 10) {
		if (atomic_load(&srv.stop))
			return true;
		usleep(10000);
	}
	return atomic_load(&srv.stop);
}

static void header_value(const char *req, const char *name, char *out, size_t len)
{
	const char *p = strcasestr(req, name);

	out[0] = '\0';
	if (!p)
		return;
	p += strlen(name);
	while (*p == ' ')
		p++;
	size_t n = strcspn(p, "\r\n");
	snprintf(out, len, "%.*s", (int)n, p);
}

static void serve_one(int c)
{
	char *req = calloc(1, 1 << 21);
	size_t got = 0, need = 0;
	char *hend = NULL;

	for (;;) {
		ssize_t n = recv(c, req + got, (1 << 21) - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
		req[got] = '\0';
		if (!hend && (hend = strstr(req, "\r\n\r\n"))) {
			char cl[32];
			header_value(req, "\r\nContent-Length:", cl, sizeof(cl));
			need = (size_t)(hend + 4 - req) + strtoul(cl, NULL, 10);
		}
		if (hend && got >= need)
			break;
	}
	if (hend) {
		pthread_mutex_lock(&srv.lock);
		srv.requests++;
		sscanf(req, "%15s %511s", srv.method, srv.path);
		header_value(req, "\r\nAuthorization:", srv.auth, sizeof(srv.auth));
		free(srv.body);
		srv.body = strdup(hend + 4);
		pthread_mutex_unlock(&srv.lock);
	}
	free(req);
	for (int i = 0; i < srv.nsteps; i++) {
		struct step *s = &srv.steps[i];
		if (s->kind == STEP_SEND) {
			send(c, s->text, strlen(s->text), MSG_NOSIGNAL);
		} else if (s->kind == STEP_SLEEP) {
			if (wait_stop(s->ms))
				break;
		} else if (s->kind == STEP_RESET) {
			struct linger l = { 1, 0 };
			setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
			break;
		} else {
			break;
		}
	}
	close(c);
}

static void *serve(void *arg)
{
	while (!atomic_load(&srv.stop)) {
		struct pollfd p = { srv.fd, POLLIN, 0 };
		if (poll(&p, 1, 50) <= 0)
			continue;
		int c = accept(srv.fd, NULL, NULL);
		if (c >= 0)
			serve_one(c);
	}
	return NULL;
}

static void server_start(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv.fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(bind(srv.fd, (struct sockaddr *)&a, alen), 0);
	cr_assert_eq(listen(srv.fd, 8), 0);
	getsockname(srv.fd, (struct sockaddr *)&a, &alen);
	srv.port = ntohs(a.sin_port);
	snprintf(srv.base, sizeof(srv.base), "http://127.0.0.1:%u/v1", srv.port);
	pthread_mutex_init(&srv.lock, NULL);
	atomic_store(&srv.stop, false);
	pthread_create(&srv.thread, NULL, serve, NULL);
}

static void server_stop(void)
{
	atomic_store(&srv.stop, true);
	pthread_join(srv.thread, NULL);
	close(srv.fd);
	for (int i = 0; i < srv.nsteps; i++)
		free(srv.steps[i].text);
	free(srv.body);
	memset(&srv, 0, sizeof(srv));
}

/* ---- the client side ---- */

struct seen {
	int progress[32];
	int nprogress;
	char text[8192];
	char ids[2048];
	int nids;
};

static void on_progress(void *ctx, int p)
{
	struct seen *s = ctx;
	if (s->nprogress < 32)
		s->progress[s->nprogress++] = p;
}

static void on_text(void *ctx, const char *line)
{
	struct seen *s = ctx;
	size_t n = strlen(s->text);
	cr_assert_null(strchr(line, '\n'));
	cr_assert_neq(line[0], '\0');
	snprintf(s->text + n, sizeof(s->text) - n, "%s|", line);
}

static void on_id(void *ctx, const char *id, bool pollable)
{
	struct seen *s = ctx;
	size_t n = strlen(s->ids);
	snprintf(s->ids + n, sizeof(s->ids) - n, "%s%s|", pollable ? "url:" : "id:", id);
	s->nids++;
}

static struct remote *remote;
static struct seen seen;
static struct remote_create_watch watch = { &seen, on_progress, on_text, on_id };

static struct remote *make_remote(int silence_s, int total_s)
{
	char err[256] = "";
	struct remote_http_options o = {
		.base_url = srv.base, .api_key = KEY, .timeout_s = 5,
	};
	struct remote_chat_options co = { silence_s, total_s };
	struct remote *r = remote_chat_new(&o, &co, err, sizeof(err));
	cr_assert_not_null(r, "remote_chat_new: %s", err);
	return r;
}

static void setup(void)
{
	memset(&seen, 0, sizeof(seen));
	server_start();
	remote = make_remote(5, 30);
}

static void teardown(void)
{
	remote_destroy(remote);
	remote = NULL;
	server_stop();
}

static int create(struct remote_result *res)
{
	struct remote_create req = {
		.model = "veo-3.1-landscape-fast", .prompt = "a cat playing piano",
		.seconds = "8", .size = "16x9", .watch = &watch,
	};
	return remote->ops->create(remote, &req, res);
}

static int requests(void)
{
	pthread_mutex_lock(&srv.lock);
	int n = srv.requests;
	pthread_mutex_unlock(&srv.lock);
	return n;
}

/* The answer, read as the engine reads it. */
static struct video_object parsed(const struct remote_result *res)
{
	struct video_object v;
	char err[128];

	cr_assert_not_null(res->body);
	cr_assert_eq(video_object_parse(res->body, res->body_len, &v, err, sizeof(err)), 0,
		     "%s: %s", err, res->body);
	cr_assert(v.has_state, "%s", res->body);
	return v;
}

static void no_key(const struct remote_result *res)
{
	cr_assert_null(strstr(res->reason, KEY), "%s", res->reason);
	cr_assert(!res->body || !strstr(res->body, KEY), "%s", res->body);
	cr_assert_null(strstr(seen.text, KEY), "%s", seen.text);
	cr_assert_null(strstr(seen.ids, KEY), "%s", seen.ids);
}

/* error.message as the body says it (the engine's parser turns its line
 * break into a blank). */
static char *raw_error(const struct remote_result *res)
{
	json_t *o = json_loadb(res->body, res->body_len, 0, NULL);
	const char *m = json_string_value(json_object_get(json_object_get(o, "error"),
							  "message"));
	char *out = strdup(m ? m : "(none)");

	json_decref(o);
	return out;
}

#define ERROR_IS(res, want)                                              \
	do {                                                             \
		char *m_ = raw_error(res);                               \
		cr_assert_str_eq(m_, want);                              \
		free(m_);                                                \
	} while (0)

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

#define UNKNOWN "submission outcome unknown (stream dropped; this route bills even failed generations)"

TestSuite(remote_chat, .init = setup, .fini = teardown, .timeout = 20);

/* ---- create: whole replies ---- */

/* flow2api's style: progress in reasoning_content, the video in HTML. */
Test(remote_chat, success_flow2api_style)
{
	struct remote_result res = { 0 };

	stream_headers();
	send_chunk(": keep-alive\n\n");
	reasoning("✨ 视频生成任务已启动\n");
	reasoning("视频生成中... 12%\n");
	reasoning("视频生成中... 3");
	reasoning("6%\n");
	content("```html\n<video src='https://host/v.mp4' controls></video>\n```");
	stream_end();

	cr_assert_eq(create(&res), 0, "%s", res.reason);
	struct video_object v = parsed(&res);
	cr_assert_eq(v.state, VIDEO_COMPLETED);
	cr_assert_str_eq(v.video_url, "https://host/v.mp4");
	cr_assert_str_eq(v.id, "chatcmpl-42");
	cr_assert_eq(v.progress, 100);
	cr_assert_str_eq(v.model, "veo-3.1-landscape-fast");
	video_object_free(&v);
	cr_assert_eq(res.http_status, 200);
	cr_assert_eq(seen.nprogress, 2);
	cr_assert_eq(seen.progress[0], 12);
	cr_assert_eq(seen.progress[1], 36);
	cr_assert_str_eq(seen.text, "✨ 视频生成任务已启动|视频生成中... 12%|视频生成中... 36%|"
			 "```html|<video src='https://host/v.mp4' controls></video>|```|");
	cr_assert_eq(requests(), 1);

	/* what was sent */
	cr_assert_str_eq(srv.method, "POST");
	cr_assert_str_eq(srv.path, "/v1/chat/completions");
	cr_assert_str_eq(srv.auth, "Bearer " KEY);
	json_t *b = json_loads(srv.body, 0, NULL);
	cr_assert_not_null(b, "%s", srv.body);
	cr_assert_str_eq(json_string_value(json_object_get(b, "model")), "veo-3.1-landscape-fast");
	cr_assert(json_is_true(json_object_get(b, "stream")));
	json_t *m = json_array_get(json_object_get(b, "messages"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(m, "role")), "user");
	cr_assert_str_eq(json_string_value(json_object_get(m, "content")), "a cat playing piano");
	cr_assert_null(json_object_get(b, "seconds"));
	cr_assert_null(json_object_get(b, "size"));
	json_decref(b);
	remote_result_clear(&res);
}

/* sora2api's style: bold progress lines, a double-quoted <video>. */
Test(remote_chat, success_sora2api_style)
{
	struct remote_result res = { 0 };

	stream_headers();
	reasoning("**Video Generation Progress**: 20% completed\n");
	reasoning("**Video Generation Progress**: 45% completed\n");
	content("<video src=\"https://cdn.example/v/abc.mp4\" controls></video>");
	stream_end();

	cr_assert_eq(create(&res), 0);
	struct video_object v = parsed(&res);
	cr_assert_eq(v.state, VIDEO_COMPLETED);
	cr_assert_str_eq(v.video_url, "https://cdn.example/v/abc.mp4");
	video_object_free(&v);
	cr_assert_eq(seen.nprogress, 2);
	cr_assert_eq(seen.progress[1], 45);
	remote_result_clear(&res);
}

/* APIYI / laozhang: markdown, dotted Chinese progress, download link. */
Test(remote_chat, success_markdown_style)
{
	struct remote_result res = { 0 };

	stream_headers();
	content("> 进度 36..");
	content("47..");
	content("58..\n\n");
	content("![preview](https://x/p.webp)\n");
	content("[▶️ 在线观看](https://x/v.mp4)\n");
	content("[⏬ 下载视频](https://x/v.mp4?sig=1)\n");
	stream_end();

	cr_assert_eq(create(&res), 0);
	struct video_object v = parsed(&res);
	cr_assert_str_eq(v.video_url, "https://x/v.mp4?sig=1");
	video_object_free(&v);
	cr_assert_eq(seen.nprogress, 3);
	cr_assert_eq(seen.progress[0], 36);
	cr_assert_eq(seen.progress[2], 58);
	remote_result_clear(&res);
}

/* An async router: a task id and a query link, then a bare link. */
Test(remote_chat, success_async_task_style)
{
	struct remote_result res = { 0 };

	stream_headers();
	content("任务ID: task_abc123\n查询链接: https://asyncdata.example/source/task_abc123\n");
	content("Progress: 45%\n");
	content("Progress: 45%\n");
	content("完成: https://files.example/task_abc123.mp4\n");
	stream_end();

	cr_assert_eq(create(&res), 0);
	struct video_object v = parsed(&res);
	cr_assert_eq(v.state, VIDEO_COMPLETED);
	cr_assert_str_eq(v.id, "https://asyncdata.example/source/task_abc123");
	cr_assert_str_eq(v.video_url, "https://files.example/task_abc123.mp4");
	video_object_free(&v);
	/* each id once, the moment its line was whole */
	cr_assert_str_eq(seen.ids, "id:task_abc123|url:https://asyncdata.example/source/task_abc123|");
	cr_assert_eq(seen.nprogress, 1);
	remote_result_clear(&res);
}

Test(remote_chat, image_part_is_sent)
{
	struct remote_result res = { 0 };
	char path[] = "/tmp/veofs-chat-img-XXXXXX.png";
	int fd = mkstemps(path, 4);
	static const unsigned char png[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

	cr_assert_eq(write(fd, png, sizeof(png)), (ssize_t)sizeof(png));
	close(fd);
	stream_headers();
	content("<video src=\"https://h/v.mp4\">");
	stream_end();
	struct remote_create req = { .model = NULL, .prompt = "move", .image_path = path };
	cr_assert_eq(remote->ops->create(remote, &req, &res), 0, "%s", res.reason);
	unlink(path);

	json_t *b = json_loads(srv.body, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(b, "model")), "veo-3.1");
	json_t *c = json_object_get(json_array_get(json_object_get(b, "messages"), 0), "content");
	cr_assert(json_is_array(c));
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(c, 0), "type")), "text");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(c, 0), "text")), "move");
	json_t *img = json_array_get(c, 1);
	cr_assert_str_eq(json_string_value(json_object_get(img, "type")), "image_url");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(img, "image_url"), "url")),
			 "data:image/png;base64,iVBORw0KGgo=");
	json_decref(b);
	remote_result_clear(&res);
}

Test(remote_chat, image_url_is_sent_as_is)
{
	struct remote_result res = { 0 };

	stream_headers();
	content("<video src=\"https://h/v.mp4\">");
	stream_end();
	struct remote_create req = { .prompt = "p", .image_url = "https://img.example/a.jpg" };
	cr_assert_eq(remote->ops->create(remote, &req, &res), 0);
	json_t *b = json_loads(srv.body, 0, NULL);
	json_t *c = json_object_get(json_array_get(json_object_get(b, "messages"), 0), "content");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(c, 1),
						"image_url"), "url")), "https://img.example/a.jpg");
	json_decref(b);
	remote_result_clear(&res);
}

Test(remote_chat, unreadable_image_is_not_sent)
{
	struct remote_result res = { 0 };
	struct remote_create req = { .prompt = "p", .image_path = "/nonexistent/x.png" };

	cr_assert_eq(remote->ops->create(remote, &req, &res), -1);
	cr_assert(res.not_received);
	cr_assert_eq(requests(), 0);
	remote_result_clear(&res);
}

Test(remote_chat, non_streamed_json_answer)
{
	struct remote_result res = { 0 };
	static const char body[] =
		"{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"
		"\"message\":{\"role\":\"assistant\",\"reasoning_content\":\"进度：80%\\n\","
		"\"content\":\"[⏬ 下载视频](https:\\/\\/x\\/v.mp4)\"},\"finish_reason\":\"stop\"}]}";
	char *answer = NULL;

	cr_assert(asprintf(&answer, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			   "Content-Length: %zu\r\n\r\n%s", strlen(body), body) > 0);
	send_raw(answer);
	free(answer);
	cr_assert_eq(create(&res), 0);
	struct video_object v = parsed(&res);
	cr_assert_eq(v.state, VIDEO_COMPLETED);
	cr_assert_str_eq(v.id, "chatcmpl-9");
	cr_assert_str_eq(v.video_url, "https://x/v.mp4");
	video_object_free(&v);
	cr_assert_eq(seen.nprogress, 1);
	cr_assert_eq(seen.progress[0], 80);
	remote_result_clear(&res);
}

Test(remote_chat, error_event_after_200)
{
	struct remote_result res = { 0 };

	stream_headers();
	reasoning("视频生成中... 10%\n");
	send_chunk("data: {\"error\":{\"message\":\"content policy violation\",\"type\":\"x\"}}\n\n");
	pause_ms(3000); /* never waited for: the error ends it */
	stream_end();

	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(create(&res), 0);
	cr_assert_lt(elapsed_ms(&t0), 2000);
	struct video_object v = parsed(&res);
	cr_assert_eq(v.state, VIDEO_FAILED);
	cr_assert_str_eq(v.error, "content policy violation");
	cr_assert_str_eq(v.id, "chatcmpl-42");
	video_object_free(&v);
	cr_assert_not(res.retryable);
	cr_assert_not(res.not_received);
	remote_result_clear(&res);
}

Test(remote_chat, error_string_event)
{
	struct remote_result res = { 0 };

	stream_headers();
	send_chunk("data: {\"error\":\"upstream said no\"}\n\n");
	stream_end();
	cr_assert_eq(create(&res), 0);
	struct video_object v = parsed(&res);
	cr_assert_eq(v.state, VIDEO_FAILED);
	cr_assert_str_eq(v.error, "upstream said no");
	video_object_free(&v);
	remote_result_clear(&res);
}

Test(remote_chat, finished_without_link)
{
	struct remote_result res = { 0 };

	stream_headers();
	content("视频生成中... 50%\n");
	content("生成失败：内容不合规");
	stream_end();
	cr_assert_eq(create(&res), 0);
	struct video_object v = parsed(&res);
	cr_assert_eq(v.state, VIDEO_FAILED);
	cr_assert_str_eq(v.error, "the reply ended without a video link: 生成失败：内容不合规");
	video_object_free(&v);
	remote_result_clear(&res);
}

/* ---- create: refused, not received ---- */

static void refused(int status, const char *line, const char *msg)
{
	struct remote_result res = { 0 };
	char *answer = NULL, body[256];

	snprintf(body, sizeof(body), "{\"error\":{\"message\":\"%s\"}}", msg);
	cr_assert(asprintf(&answer, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
			   "Retry-After: 3\r\nContent-Length: %zu\r\n\r\n%s", status, line,
			   strlen(body), body) > 0);
	send_raw(answer);
	free(answer);
	cr_assert_eq(create(&res), -1);
	cr_assert_eq(res.http_status, status);
	cr_assert_not(res.retryable);
	cr_assert_not(res.not_received);
	char want[300];
	snprintf(want, sizeof(want), "HTTP %d: %s", status, msg);
	cr_assert_str_eq(res.reason, want);
	cr_assert_eq(requests(), 1);
	no_key(&res);
	remote_result_clear(&res);
}

Test(remote_chat, http_429_is_not_retryable)
{
	refused(429, "Too Many Requests", "rate limited");
}

Test(remote_chat, http_500_is_not_retryable)
{
	refused(500, "Internal Server Error", "upstream exploded");
}

Test(remote_chat, drop_before_headers_is_not_received)
{
	struct remote_result res = { 0 };

	add_step(STEP_CLOSE, NULL, 0);
	cr_assert_eq(create(&res), -1);
	cr_assert_eq(res.http_status, 0);
	cr_assert(res.not_received);
	cr_assert(res.retryable);
	cr_assert_str_eq(res.reason, "server closed the connection without answering");
	cr_assert_eq(requests(), 1);
	remote_result_clear(&res);
}

Test(remote_chat, silence_before_headers_is_not_received)
{
	struct remote_result res = { 0 };

	remote_destroy(remote);
	remote = make_remote(1, 30);
	pause_ms(4000);
	cr_assert_eq(create(&res), -1);
	cr_assert_eq(res.http_status, 0);
	cr_assert(res.not_received);
	cr_assert(res.retryable);
	cr_assert_str_eq(res.reason, "no data for 1 s");
	remote_result_clear(&res);
}

Test(remote_chat, connection_refused_is_not_received)
{
	struct remote_result res = { 0 };
	char err[128];
	struct remote_http_options o = { .base_url = "http://127.0.0.1:1/v1", .api_key = KEY };

	remote_destroy(remote);
	remote = remote_chat_new(&o, NULL, err, sizeof(err));
	cr_assert_eq(create(&res), -1);
	cr_assert(res.not_received);
	cr_assert(res.retryable);
	remote_result_clear(&res);
}

/* ---- create: the stream breaks after the headers ---- */

Test(remote_chat, drop_after_headers_without_poll_url)
{
	struct remote_result res = { 0 };

	stream_headers();
	reasoning("视频生成中... 30%\n");
	add_step(STEP_RESET, NULL, 0);
	cr_assert_eq(create(&res), 0);
	struct video_object v = parsed(&res);
	cr_assert_eq(v.state, VIDEO_FAILED);
	ERROR_IS(&res, UNKNOWN "\nconnection reset");
	video_object_free(&v);
	cr_assert_not(res.retryable);
	cr_assert_not(res.not_received);
	cr_assert_eq(requests(), 1);
	remote_result_clear(&res);
}

Test(remote_chat, drop_after_headers_names_task_id)
{
	struct remote_result res = { 0 };

	stream_headers();
	content("task_id: abc123\n");
	add_step(STEP_CLOSE, NULL, 0);
	cr_assert_eq(create(&res), 0);
	struct video_object v = parsed(&res);
	cr_assert_eq(v.state, VIDEO_FAILED);
	cr_assert_str_eq(v.id, "abc123");
	ERROR_IS(&res, UNKNOWN "; the reply named task abc123\n"
		 "connection closed before the answer was complete");
	video_object_free(&v);
	cr_assert_eq(requests(), 1);
	cr_assert_str_eq(seen.ids, "id:abc123|");
	remote_result_clear(&res);
}

Test(remote_chat, drop_after_headers_with_poll_url_polls)
{
	struct remote_result res = { 0 };

	stream_headers();
	content("任务ID: task_abc123\n查询链接: https://asyncdata.example/source/task_abc123\n");
	content("Progress: 45%\n");
	content("https://files.example/task_abc1"); /* cut in the middle of the link */
	add_step(STEP_RESET, NULL, 0);
	cr_assert_eq(create(&res), 0);
	struct video_object v = parsed(&res);
	cr_assert_eq(v.state, VIDEO_IN_PROGRESS);
	cr_assert_str_eq(v.id, "https://asyncdata.example/source/task_abc123");
	cr_assert_eq(v.progress, 45);
	cr_assert_null(v.video_url);
	video_object_free(&v);
	cr_assert_eq(requests(), 1);
	remote_result_clear(&res);
}

Test(remote_chat, drop_after_a_whole_link_is_a_success)
{
	struct remote_result res = { 0 };

	stream_headers();
	content("<video src='https://host/v.mp4'></video>\n");
	add_step(STEP_RESET, NULL, 0);
	cr_assert_eq(create(&res), 0);
	struct video_object v = parsed(&res);
	cr_assert_eq(v.state, VIDEO_COMPLETED);
	cr_assert_str_eq(v.video_url, "https://host/v.mp4");
	video_object_free(&v);
	remote_result_clear(&res);
}

Test(remote_chat, silence_after_headers)
{
	struct remote_result res = { 0 };
	struct timespec t0;

	remote_destroy(remote);
	remote = make_remote(1, 30);
	stream_headers();
	reasoning("视频生成中... 5%\n");
	pause_ms(600);
	send_chunk(": ping\n\n"); /* any byte is liveness */
	pause_ms(600);
	send_chunk(":\n\n");
	pause_ms(5000);
	stream_end();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(create(&res), 0);
	long ms = elapsed_ms(&t0);
	cr_assert_geq(ms, 2000, "%ld ms", ms);
	cr_assert_lt(ms, 4500, "%ld ms", ms);
	struct video_object v = parsed(&res);
	cr_assert_eq(v.state, VIDEO_FAILED);
	ERROR_IS(&res, UNKNOWN "\nno data for 1 s");
	video_object_free(&v);
	cr_assert_not(res.retryable);
	cr_assert_not(res.not_received);
	cr_assert_eq(requests(), 1);
	remote_result_clear(&res);
}

Test(remote_chat, total_limit)
{
	struct remote_result res = { 0 };

	remote_destroy(remote);
	remote = make_remote(5, 2);
	stream_headers();
	for (int i = 0; i < 12; i++) {
		reasoning("视频生成中...\n");
		pause_ms(400);
	}
	stream_end();
	cr_assert_eq(create(&res), 0);
	struct video_object v = parsed(&res);
	cr_assert_eq(v.state, VIDEO_FAILED);
	ERROR_IS(&res, UNKNOWN "\ntimed out after 2 s");
	video_object_free(&v);
	remote_result_clear(&res);
}

static void *stop_later(void *arg)
{
	usleep(300000);
	remote->ops->stop(remote);
	return NULL;
}

Test(remote_chat, stop_cuts_the_stream)
{
	struct remote_result res = { 0 };
	struct timespec t0;
	pthread_t th;

	stream_headers();
	reasoning("视频生成中... 5%\n");
	pause_ms(8000);
	stream_end();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_create(&th, NULL, stop_later, NULL);
	cr_assert_eq(create(&res), 0);
	pthread_join(th, NULL);
	cr_assert_lt(elapsed_ms(&t0), 3000);
	struct video_object v = parsed(&res);
	cr_assert_eq(v.state, VIDEO_FAILED);
	ERROR_IS(&res, UNKNOWN "\nveofs is stopping");
	video_object_free(&v);
	remote_result_clear(&res);
}

Test(remote_chat, oversized_event_is_a_drop)
{
	struct remote_result res = { 0 };
	size_t n = (1u << 20) + 100;
	char *big = malloc(n + 16);

	memcpy(big, "data: ", 6);
	memset(big + 6, 'x', n);
	big[6 + n] = '\0';
	stream_headers();
	send_chunk(big);
	free(big);
	stream_end();
	cr_assert_eq(create(&res), 0);
	struct video_object v = parsed(&res);
	cr_assert_eq(v.state, VIDEO_FAILED);
	ERROR_IS(&res, UNKNOWN "\nthe reply sent more than 1 MiB at once");
	video_object_free(&v);
	remote_result_clear(&res);
}

/* ---- the key ---- */

Test(remote_chat, key_never_shown)
{
	struct remote_result res = { 0 };

	stream_headers();
	content("echo: Authorization: Bearer " KEY "\n");
	content("task_id: " KEY "\n");
	content("the key " KEY " was refused");
	stream_end();
	cr_assert_eq(create(&res), 0);
	no_key(&res);
	cr_assert_not_null(strstr(res.body, "[redacted]"), "%s", res.body);
	remote_result_clear(&res);

	remote_destroy(remote);
	server_stop();
	memset(&seen, 0, sizeof(seen));
	server_start();
	remote = make_remote(5, 30);
	stream_headers();
	send_chunk("data: {\"error\":{\"message\":\"invalid key " KEY "\"}}\n\n");
	cr_assert_eq(create(&res), 0);
	no_key(&res);
	remote_result_clear(&res);
}

/* ---- get, content, remove ---- */

static void answer_json(const char *ct, const char *body)
{
	char *answer = NULL;

	cr_assert(asprintf(&answer, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
			   "Content-Length: %zu\r\n\r\n%s", ct, strlen(body), body) > 0);
	send_raw(answer);
	free(answer);
}

Test(remote_chat, get_passes_a_video_object_on)
{
	struct remote_result res = { 0 };
	char url[256];

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/source/task_1", srv.port);
	answer_json("application/json", "{\"task_id\":\"task_1\",\"status\":\"processing\",\"progress\":50}");
	cr_assert_eq(remote->ops->get(remote, url, &res), 0, "%s", res.reason);
	cr_assert_str_eq(res.body, "{\"task_id\":\"task_1\",\"status\":\"processing\",\"progress\":50}");
	cr_assert_str_eq(srv.path, "/source/task_1");
	/* base_url's origin: the key goes along */
	cr_assert_str_eq(srv.auth, "Bearer " KEY);
	remote_result_clear(&res);
}

Test(remote_chat, get_reads_text)
{
	struct remote_result res = { 0 };
	char url[256];

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/source/task_1", srv.port);
	answer_json("text/plain", "进度 80%");
	cr_assert_eq(remote->ops->get(remote, url, &res), 0);
	struct video_object v = parsed(&res);
	cr_assert_eq(v.state, VIDEO_IN_PROGRESS);
	cr_assert_eq(v.progress, 80);
	cr_assert_str_eq(v.id, url);
	video_object_free(&v);
	remote_result_clear(&res);

	server_stop();
	server_start();
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/source/task_1", srv.port);
	remote_destroy(remote);
	remote = make_remote(5, 30);
	answer_json("text/markdown", "done: [⏬ 下载](https://x/v.mp4)");
	cr_assert_eq(remote->ops->get(remote, url, &res), 0);
	v = parsed(&res);
	cr_assert_eq(v.state, VIDEO_COMPLETED);
	cr_assert_str_eq(v.video_url, "https://x/v.mp4");
	video_object_free(&v);
	remote_result_clear(&res);

	server_stop();
	server_start();
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/source/task_1", srv.port);
	remote_destroy(remote);
	remote = make_remote(5, 30);
	answer_json("text/plain", "status: generation failed (policy)\n");
	cr_assert_eq(remote->ops->get(remote, url, &res), 0);
	v = parsed(&res);
	cr_assert_eq(v.state, VIDEO_FAILED);
	cr_assert_str_eq(v.error, "status: generation failed (policy)");
	video_object_free(&v);
	remote_result_clear(&res);
}

Test(remote_chat, get_elsewhere_gets_no_key)
{
	struct remote_result res = { 0 };
	char url[256];

	/* localhost is another origin than 127.0.0.1 */
	snprintf(url, sizeof(url), "http://localhost:%u/tasks/9", srv.port);
	answer_json("application/json", "{\"status\":\"running\"}");
	cr_assert_eq(remote->ops->get(remote, url, &res), 0, "%s", res.reason);
	cr_assert_str_eq(srv.auth, "");
	remote_result_clear(&res);
}

Test(remote_chat, get_without_a_url)
{
	struct remote_result res = { 0 };

	cr_assert_eq(remote->ops->get(remote, "chatcmpl-42", &res), -1);
	cr_assert_eq(res.http_status, 0);
	cr_assert_not(res.retryable);
	cr_assert_str_eq(res.reason, "the chat route has nothing to poll for this task");
	cr_assert_eq(requests(), 0);
	remote_result_clear(&res);
}

Test(remote_chat, no_content_no_cancel)
{
	struct remote_result res = { 0 };
	struct remote_sink sink = { 0 };

	cr_assert_eq(remote->ops->content(remote, "x", NULL, 0, -1, 0, &sink, &res), -1);
	cr_assert_eq(res.http_status, 404);
	cr_assert_not(res.retryable);
	remote_result_clear(&res);
	cr_assert_eq(remote->ops->remove(remote, "x", &res), -1);
	cr_assert_eq(res.http_status, 501);
	cr_assert_not(res.retryable);
	cr_assert_str_eq(res.reason, "the chat route has no cancel: the generation runs on (and is billed)");
	cr_assert_eq(requests(), 0);
	remote_result_clear(&res);
	cr_assert_not_null(remote->ops->content_link);
}

Test(remote_chat, model_names)
{
	cr_assert_str_eq(remote_chat_model(NULL, NULL), "veo-3.1");
	cr_assert_str_eq(remote_chat_model("", "9x16"), "veo-3.1");
	cr_assert_str_eq(remote_chat_model("veo-3.1-fast", "720x1280"), "veo-3.1-fast");
	cr_assert_str_eq(remote_chat_model("veo-3.1-landscape-fast-fl", NULL),
			 "veo-3.1-landscape-fast-fl");
}

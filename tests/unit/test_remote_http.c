/* remote_http against small scripted HTTP servers (libmicrohttpd, one thread
 * per connection, port 0) whose answers each test chooses. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "remote.h"

#define KEY "sk-test-0123456789"
#define VIDEO_SIZE 100000

/* ---- the scripted server ---- */

struct record {
	char method[16];
	char url[256];
	char variant[64];
	char auth[256];
	char range[64];
	char user_agent[64];
	char model[64], prompt[256], seconds[16], size[32], watermark[16];
	bool has_watermark;
	bool ref_is_file;
	char ref_filename[128];
	char ref_type[64];
	char ref_value[256];
	size_t ref_len;
	unsigned char ref_head[8];
};

struct server;
typedef enum MHD_Result (*script_fn)(struct server *s,
				     struct MHD_Connection *c,
				     const struct record *rec);

struct server {
	struct MHD_Daemon *daemon;
	unsigned short port;
	char base[128];
	script_fn script;
	bool drop_at_headers;     /* close before reading the request body */
	pthread_mutex_t lock;
	int requests;
	int connections;
	struct record last;
	const char *location;     /* for redirect scripts */
	const char *json;         /* for JSON scripts */
};

struct call {
	struct record rec;
	struct MHD_PostProcessor *pp;
	bool started;
};

static struct server srv1, srv2;
static atomic_bool stopping;
static unsigned char video[VIDEO_SIZE];

static void copy(char *dst, size_t len, const char *src, size_t n)
{
	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static enum MHD_Result post_field(void *cls, enum MHD_ValueKind kind,
				  const char *key, const char *filename,
				  const char *content_type,
				  const char *transfer_encoding,
				  const char *data, uint64_t off, size_t size)
{
	struct record *r = cls;
	char *dst = NULL;
	size_t dlen = 0;

	if (!strcmp(key, "model")) {
		dst = r->model; dlen = sizeof(r->model);
	} else if (!strcmp(key, "prompt")) {
		dst = r->prompt; dlen = sizeof(r->prompt);
	} else if (!strcmp(key, "seconds")) {
		dst = r->seconds; dlen = sizeof(r->seconds);
	} else if (!strcmp(key, "size")) {
		dst = r->size; dlen = sizeof(r->size);
	} else if (!strcmp(key, "watermark")) {
		dst = r->watermark; dlen = sizeof(r->watermark);
		r->has_watermark = true;
	} else if (!strcmp(key, "input_reference")) {
		if (filename) {
			r->ref_is_file = true;
			copy(r->ref_filename, sizeof(r->ref_filename), filename,
			     strlen(filename));
			if (content_type)
				copy(r->ref_type, sizeof(r->ref_type),
				     content_type, strlen(content_type));
			for (size_t i = 0; i < size; i++)
				if (off + i < sizeof(r->ref_head))
					r->ref_head[off + i] = (unsigned char)data[i];
			r->ref_len += size;
			return MHD_YES;
		}
		dst = r->ref_value; dlen = sizeof(r->ref_value);
	}
	if (dst && off + size < dlen) {
		memcpy(dst + off, data, size);
		dst[off + size] = '\0';
	}
	return MHD_YES;
}

static void record_headers(struct MHD_Connection *c, struct record *r,
			   const char *method, const char *url)
{
	const char *v;

	copy(r->method, sizeof(r->method), method, strlen(method));
	copy(r->url, sizeof(r->url), url, strlen(url));
	if ((v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization")))
		copy(r->auth, sizeof(r->auth), v, strlen(v));
	if ((v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range")))
		copy(r->range, sizeof(r->range), v, strlen(v));
	if ((v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent")))
		copy(r->user_agent, sizeof(r->user_agent), v, strlen(v));
	if ((v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "variant")))
		copy(r->variant, sizeof(r->variant), v, strlen(v));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct server *s = cls;
	struct call *call = *con_cls;

	if (!call) {
		if (s->drop_at_headers)
			return MHD_NO;
		call = calloc(1, sizeof(*call));
		record_headers(c, &call->rec, method, url);
		if (!strcmp(method, "POST"))
			call->pp = MHD_create_post_processor(c, 16 * 1024,
							     post_field, &call->rec);
		*con_cls = call;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (call->pp)
			MHD_post_process(call->pp, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&s->lock);
	s->requests++;
	s->last = call->rec;
	pthread_mutex_unlock(&s->lock);
	return s->script(s, c, &call->rec);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct call *call = *con_cls;
	if (!call)
		return;
	if (call->pp)
		MHD_destroy_post_processor(call->pp);
	free(call);
	*con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct server *s = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		pthread_mutex_lock(&s->lock);
		s->connections++;
		pthread_mutex_unlock(&s->lock);
	}
}

/* Paths are recorded as sent, so tests can check the client's escaping. */
static size_t keep_escapes(void *cls, struct MHD_Connection *c, char *uri)
{
	return strlen(uri);
}

static void server_start(struct server *s, script_fn script)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->script = script;
	s->daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
				     MHD_USE_INTERNAL_POLLING_THREAD |
				     MHD_USE_ERROR_LOG,
				     0, NULL, NULL, on_request, s,
				     MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				     MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
				     MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, NULL,
				     MHD_OPTION_END);
	cr_assert_not_null(s->daemon);
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info->port;
	snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%u/v1", s->port);
}

static void server_stop(struct server *s)
{
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	s->daemon = NULL;
}

static struct record last_of(struct server *s)
{
	pthread_mutex_lock(&s->lock);
	struct record r = s->last;
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* ---- answers ---- */

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status,
			      const char *type, const char *body,
			      const char *h1, const char *v1)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (type)
		MHD_add_response_header(r, "Content-Type", type);
	if (h1)
		MHD_add_response_header(r, h1, v1);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result json_answer(struct MHD_Connection *c, unsigned status,
				   const char *body)
{
	return answer(c, status, "application/json", body, NULL, NULL);
}

static enum MHD_Result video_answer(struct MHD_Connection *c,
				    const struct record *rec, bool honour_range)
{
	long long start = 0, end = VIDEO_SIZE - 1;
	bool partial = false;

	if (honour_range && rec->range[0]) {
		char *p;
		cr_assert(!strncmp(rec->range, "bytes=", 6));
		start = strtoll(rec->range + 6, &p, 10);
		cr_assert_eq(*p, '-');
		if (p[1])
			end = strtoll(p + 1, NULL, 10);
		if (end > VIDEO_SIZE - 1)
			end = VIDEO_SIZE - 1;
		partial = true;
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(
		(size_t)(end - start + 1), video + start, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", "video/mp4");
	if (partial) {
		char cr[96];
		snprintf(cr, sizeof(cr), "bytes %lld-%lld/%d", start, end, VIDEO_SIZE);
		MHD_add_response_header(r, "Content-Range", cr);
	}
	enum MHD_Result ret = MHD_queue_response(c, partial ? 206 : 200, r);
	MHD_destroy_response(r);
	return ret;
}

static void wait_or_stop(int ms)
{
	for (int i = 0; i < ms / 10 && !atomic_load(&stopping); i++)
		usleep(10000);
}

/* Sends the first half of the video, then closes mid-body. */
static ssize_t half_then_close(void *cls, uint64_t pos, char *buf, size_t max)
{
	if (pos >= VIDEO_SIZE / 2)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	size_t n = VIDEO_SIZE / 2 - pos;
	if (n > max)
		n = max;
	memcpy(buf, video + pos, n);
	return (ssize_t)n;
}

/* Sends a little, then nothing until the test ends. */
static ssize_t trickle_then_stall(void *cls, uint64_t pos, char *buf, size_t max)
{
	if (pos == 0) {
		memcpy(buf, video, 100);
		return 100;
	}
	wait_or_stop(4000);
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* Sends the headers, then nothing until the test ends. */
static ssize_t stall(void *cls, uint64_t pos, char *buf, size_t max)
{
	wait_or_stop(4000);
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

static enum MHD_Result callback_answer(struct MHD_Connection *c,
				       MHD_ContentReaderCallback cb)
{
	struct MHD_Response *r = MHD_create_response_from_callback(
		VIDEO_SIZE, 4096, cb, NULL, NULL);
	MHD_add_response_header(r, "Content-Type", "video/mp4");
	enum MHD_Result ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- scripts ---- */

static enum MHD_Result s_created(struct server *s, struct MHD_Connection *c,
				 const struct record *rec)
{
	return json_answer(c, 200, "{\"id\":\"video_1\",\"object\":\"video\","
			   "\"status\":\"queued\",\"progress\":0}");
}

static enum MHD_Result s_429_retry_after(struct server *s, struct MHD_Connection *c,
					 const struct record *rec)
{
	return answer(c, 429, "application/json",
		      "{\"error\":{\"message\":\"Rate limit reached\"}}",
		      "Retry-After", "2");
}

static enum MHD_Result s_429_retry_after_ms(struct server *s,
					    struct MHD_Connection *c,
					    const struct record *rec)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		2, (void *)"{}", MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "Retry-After", "7");
	MHD_add_response_header(r, "retry-after-ms", "300");
	enum MHD_Result ret = MHD_queue_response(c, 429, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result s_retry_after_date(struct server *s,
					  struct MHD_Connection *c,
					  const struct record *rec)
{
	char date[64];
	time_t when = time(NULL) + 3;
	struct tm tm;
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT",
		 gmtime_r(&when, &tm));
	return answer(c, 503, "text/plain", "busy", "Retry-After", date);
}

static enum MHD_Result s_503(struct server *s, struct MHD_Connection *c,
			     const struct record *rec)
{
	return json_answer(c, 503, "{\"error\":{\"message\":\"engine overloaded\","
			   "\"type\":\"server_error\"}}");
}

static enum MHD_Result s_502_html(struct server *s, struct MHD_Connection *c,
				  const struct record *rec)
{
	return answer(c, 502, "text/html", "<html>bad gateway</html>", NULL, NULL);
}

static enum MHD_Result s_400(struct server *s, struct MHD_Connection *c,
			     const struct record *rec)
{
	return json_answer(c, 400, "{\"error\":{\"message\":\"invalid size\"}}");
}

static enum MHD_Result s_401_echo_key(struct server *s, struct MHD_Connection *c,
				      const struct record *rec)
{
	return json_answer(c, 401, "{\"error\":{\"message\":\"Incorrect API key "
			   "provided: " KEY "\\nbye\"}}");
}

static enum MHD_Result s_reset(struct server *s, struct MHD_Connection *c,
			       const struct record *rec)
{
	return MHD_NO;
}

static enum MHD_Result s_stall(struct server *s, struct MHD_Connection *c,
			       const struct record *rec)
{
	wait_or_stop(4000);
	return MHD_NO;
}

static enum MHD_Result s_video_object(struct server *s, struct MHD_Connection *c,
				      const struct record *rec)
{
	if (strcmp(rec->url, "/v1/videos/video_1"))
		return json_answer(c, 404, "{\"error\":{\"message\":\"no such video\"}}");
	return answer(c, 200, "application/json",
		      "{\"id\":\"video_1\",\"status\":\"in_progress\",\"progress\":42}",
		      "openai-poll-after-ms", "1500");
}

static enum MHD_Result s_delete(struct server *s, struct MHD_Connection *c,
				const struct record *rec)
{
	if (!strcmp(rec->url, "/v1/videos/gone"))
		return json_answer(c, 404, "{\"error\":\"not found\"}");
	if (!strcmp(rec->url, "/v1/videos/busy"))
		return json_answer(c, 500, "{\"error\":\"try later\"}");
	return answer(c, 204, NULL, "", NULL, NULL);
}

static enum MHD_Result s_video(struct server *s, struct MHD_Connection *c,
			       const struct record *rec)
{
	return video_answer(c, rec, true);
}

static enum MHD_Result s_video_no_range(struct server *s, struct MHD_Connection *c,
					const struct record *rec)
{
	return video_answer(c, rec, false);
}

static enum MHD_Result s_wrong_range(struct server *s, struct MHD_Connection *c,
				     const struct record *rec)
{
	return answer(c, 206, "video/mp4", "0123456789", "Content-Range",
		      "bytes 2000-2009/100000");
}

static enum MHD_Result s_not_ready(struct server *s, struct MHD_Connection *c,
				   const struct record *rec)
{
	return json_answer(c, 404, "{\"error\":{\"message\":\"Video is not ready yet\","
			   "\"type\":\"invalid_request_error\"}}");
}

static enum MHD_Result s_json_200(struct server *s, struct MHD_Connection *c,
				  const struct record *rec)
{
	return json_answer(c, 200, "{\"id\":\"video_1\",\"status\":\"completed\"}");
}

static enum MHD_Result s_json_url(struct server *s, struct MHD_Connection *c,
				  const struct record *rec)
{
	return json_answer(c, 200, s->json);
}

static enum MHD_Result s_files(struct server *s, struct MHD_Connection *c,
			       const struct record *rec)
{
	if (!strcmp(rec->url, "/files/v.mp4"))
		return video_answer(c, rec, true);
	if (!strcmp(rec->url, "/files/again.json"))
		return json_answer(c, 200, "{\"url\":\"http://127.0.0.1/files/v.mp4\"}");
	/* the API itself, for a same-origin relative URL */
	return json_answer(c, 200, s->json);
}

static enum MHD_Result s_html(struct server *s, struct MHD_Connection *c,
			      const struct record *rec)
{
	return answer(c, 200, "text/html; charset=utf-8",
		      "<html><body>Please log in</body></html>", NULL, NULL);
}

static enum MHD_Result s_short(struct server *s, struct MHD_Connection *c,
			       const struct record *rec)
{
	return callback_answer(c, half_then_close);
}

static enum MHD_Result s_trickle(struct server *s, struct MHD_Connection *c,
				 const struct record *rec)
{
	return callback_answer(c, trickle_then_stall);
}

static enum MHD_Result s_headers_then_stall(struct server *s,
					    struct MHD_Connection *c,
					    const struct record *rec)
{
	return callback_answer(c, stall);
}

static enum MHD_Result s_redirect(struct server *s, struct MHD_Connection *c,
				  const struct record *rec)
{
	if (!strcmp(rec->url, "/v1/videos/video_1"))
		return s_video_object(s, c, rec);
	return answer(c, 302, "text/plain", "moved", "Location", s->location);
}

/* A one-shot raw server for answers MHD will not produce reliably: the
 * whole answer goes out in one write, so the client sees it in one read. */
struct raw_server {
	int fd;
	unsigned short port;
	const char *answer;
	size_t len;
	pthread_t thread;
};

static void *raw_serve(void *p)
{
	struct raw_server *rs = p;
	int c = accept(rs->fd, NULL, NULL);
	if (c < 0)
		return NULL;
	char req[4096];
	size_t got = 0;
	while (got < sizeof(req) - 1) {
		ssize_t n = recv(c, req + got, sizeof(req) - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	send(c, rs->answer, rs->len, MSG_NOSIGNAL);
	wait_or_stop(2000);
	close(c);
	return NULL;
}

static void raw_server_start(struct raw_server *rs, const char *answer, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rs->fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(bind(rs->fd, (struct sockaddr *)&a, alen), 0);
	cr_assert_eq(listen(rs->fd, 4), 0);
	getsockname(rs->fd, (struct sockaddr *)&a, &alen);
	rs->port = ntohs(a.sin_port);
	rs->answer = answer;
	rs->len = len;
	pthread_create(&rs->thread, NULL, raw_serve, rs);
}

static void raw_server_stop(struct raw_server *rs)
{
	atomic_store(&stopping, true);
	shutdown(rs->fd, SHUT_RDWR);
	pthread_join(rs->thread, NULL);
	close(rs->fd);
}

/* ---- fixtures and helpers ---- */

static struct remote *remote;

static void fill_video(void)
{
	for (size_t i = 0; i < VIDEO_SIZE; i++)
		video[i] = (unsigned char)((i * 7 + i / 251) & 0xff);
	/* A video starts with an ftyp box: bodies are judged by their bytes. */
	memcpy(video, "\0\0\0\x18" "ftyp", 8);
}

static struct remote *make_remote(const char *base, int timeout_s)
{
	char err[256] = "";
	struct remote_http_options o = {
		.base_url = base, .api_key = KEY, .timeout_s = timeout_s,
	};
	struct remote *r = remote_http_new(&o, err, sizeof(err));
	cr_assert_not_null(r, "remote_http_new: %s", err);
	return r;
}

static void setup(void)
{
	fill_video();
	atomic_store(&stopping, false);
	server_start(&srv1, s_created);
	server_start(&srv2, s_files);
	remote = make_remote(srv1.base, 5);
}

static void teardown(void)
{
	remote_destroy(remote);
	remote = NULL;
	atomic_store(&stopping, true);
	server_stop(&srv1);
	server_stop(&srv2);
}

struct sink_state {
	int starts;
	int64_t total;
	bool honoured;
	unsigned char *data;
	size_t len;
	int abort_on_data;
};

static int sink_start(void *ctx, int64_t total, bool honoured)
{
	struct sink_state *s = ctx;
	s->starts++;
	s->total = total;
	s->honoured = honoured;
	return 0;
}

static int sink_data(void *ctx, const void *buf, size_t len)
{
	struct sink_state *s = ctx;
	if (s->abort_on_data)
		return 1;
	s->data = realloc(s->data, s->len + len);
	memcpy(s->data + s->len, buf, len);
	s->len += len;
	return 0;
}

static int content(struct sink_state *st, int64_t offset, int64_t length,
		   long timeout_ms, struct remote_result *res)
{
	struct remote_sink sink = { st, sink_start, sink_data };
	return remote->ops->content(remote, "video_1", NULL, offset, length,
				    timeout_ms, &sink, res);
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static char *write_temp_image(const char *name, size_t size)
{
	char *path = NULL;
	cr_assert(asprintf(&path, "/tmp/veofs-test-%d-%s", (int)getpid(), name) > 0);
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	static const unsigned char png[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	fwrite(png, 1, sizeof(png), f);
	for (size_t i = sizeof(png); i < size; i++)
		fputc((int)(i & 0xff), f);
	fclose(f);
	return path;
}

static unsigned short closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, len), 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	close(fd);
	return ntohs(a.sin_port);
}

static const struct remote_create basic_create = {
	.model = "veo-3.1-fast", .prompt = "a cat playing piano",
	.seconds = "8", .size = "16x9",
};

TestSuite(remote_http, .init = setup, .fini = teardown, .timeout = 10);

/* ---- create ---- */

Test(remote_http, create_sends_fields_and_file)
{
	char *img = write_temp_image("ref.png", 5000);
	struct remote_create req = basic_create;
	req.watermark = "false";
	req.image_path = img;
	struct remote_result res = {0};

	cr_assert_eq(remote->ops->create(remote, &req, &res), 0, "%s", res.reason);
	cr_assert_eq(res.http_status, 200);
	cr_assert_not_null(res.body);
	cr_assert(strstr(res.body, "\"video_1\""));
	cr_assert_eq(res.body_len, strlen(res.body));

	struct record r = last_of(&srv1);
	cr_assert_str_eq(r.method, "POST");
	cr_assert_str_eq(r.url, "/v1/videos");
	cr_assert_str_eq(r.auth, "Bearer " KEY);
	cr_assert(!strncmp(r.user_agent, "veofs/", 6), "%s", r.user_agent);
	cr_assert_str_eq(r.model, "veo-3.1-fast");
	cr_assert_str_eq(r.prompt, "a cat playing piano");
	cr_assert_str_eq(r.seconds, "8");
	cr_assert_str_eq(r.size, "16x9");
	cr_assert(r.has_watermark);
	cr_assert_str_eq(r.watermark, "false");
	cr_assert(r.ref_is_file);
	cr_assert_str_eq(r.ref_filename, strrchr(img, '/') + 1);
	cr_assert_str_eq(r.ref_type, "image/png");
	cr_assert_eq(r.ref_len, 5000);
	cr_assert_eq(r.ref_head[1], 'P');
	remote_result_clear(&res);
	cr_assert_null(res.body);
	unlink(img);
	free(img);
}

Test(remote_http, create_sends_image_url_as_string)
{
	struct remote_create req = basic_create;
	req.image_url = "https://example.com/cat.jpg";
	struct remote_result res = {0};

	cr_assert_eq(remote->ops->create(remote, &req, &res), 0, "%s", res.reason);
	struct record r = last_of(&srv1);
	cr_assert(!r.ref_is_file);
	cr_assert_str_eq(r.ref_value, "https://example.com/cat.jpg");
	cr_assert(!r.has_watermark);
	remote_result_clear(&res);
}

Test(remote_http, create_jpeg_type_from_extension)
{
	char *img = write_temp_image("photo.JPEG", 100);
	struct remote_create req = basic_create;
	req.image_path = img;
	struct remote_result res = {0};

	cr_assert_eq(remote->ops->create(remote, &req, &res), 0, "%s", res.reason);
	cr_assert_str_eq(last_of(&srv1).ref_type, "image/jpeg");
	remote_result_clear(&res);
	unlink(img);
	free(img);
}

Test(remote_http, create_missing_image_is_not_sent)
{
	struct remote_create req = basic_create;
	req.image_path = "/nonexistent/ref.png";
	struct remote_result res = {0};

	cr_assert_eq(remote->ops->create(remote, &req, &res), -1);
	cr_assert(res.not_received);
	cr_assert(strstr(res.reason, "cannot read image"), "%s", res.reason);
	cr_assert_eq(srv1.requests, 0);
	remote_result_clear(&res);
}

Test(remote_http, create_429_retry_after_seconds)
{
	srv1.script = s_429_retry_after;
	struct remote_result res = {0};

	cr_assert_eq(remote->ops->create(remote, &basic_create, &res), -1);
	cr_assert_eq(res.http_status, 429);
	cr_assert(res.retryable);
	cr_assert(!res.not_received);
	cr_assert_eq(res.retry_after_ms, 2000);
	cr_assert_str_eq(res.reason, "HTTP 429: Rate limit reached");
	remote_result_clear(&res);
}

Test(remote_http, create_429_retry_after_ms_wins)
{
	srv1.script = s_429_retry_after_ms;
	struct remote_result res = {0};

	cr_assert_eq(remote->ops->create(remote, &basic_create, &res), -1);
	cr_assert_eq(res.retry_after_ms, 300);
	cr_assert(res.retryable);
	cr_assert_str_eq(res.reason, "HTTP 429: Too Many Requests");
	remote_result_clear(&res);
}

Test(remote_http, create_503_is_retryable_with_message)
{
	srv1.script = s_503;
	struct remote_result res = {0};

	cr_assert_eq(remote->ops->create(remote, &basic_create, &res), -1);
	cr_assert_eq(res.http_status, 503);
	cr_assert(res.retryable);
	cr_assert(!res.not_received);
	cr_assert_eq(res.retry_after_ms, -1);
	cr_assert_str_eq(res.reason, "HTTP 503: engine overloaded");
	cr_assert_not_null(res.body);
	remote_result_clear(&res);
}

Test(remote_http, create_400_is_final)
{
	srv1.script = s_400;
	struct remote_result res = {0};

	cr_assert_eq(remote->ops->create(remote, &basic_create, &res), -1);
	cr_assert(!res.retryable);
	cr_assert_str_eq(res.reason, "HTTP 400: invalid size");
	remote_result_clear(&res);
}

/* A proxy's HTML page says what went wrong in its own words. */
Test(remote_http, create_html_502_shows_the_page_s_words)
{
	srv1.script = s_502_html;
	struct remote_result res = {0};

	cr_assert_eq(remote->ops->create(remote, &basic_create, &res), -1);
	cr_assert(res.retryable);
	cr_assert_str_eq(res.reason, "HTTP 502: bad gateway");
	remote_result_clear(&res);
}

Test(remote_http, key_echoed_by_server_is_redacted)
{
	srv1.script = s_401_echo_key;
	struct remote_result res = {0};

	cr_assert_eq(remote->ops->create(remote, &basic_create, &res), -1);
	cr_assert(!res.retryable);
	cr_assert_null(strstr(res.reason, KEY), "%s", res.reason);
	cr_assert_null(strchr(res.reason, '\n'));
	cr_assert_str_eq(res.reason,
			 "HTTP 401: Incorrect API key provided: [redacted] bye");
	remote_result_clear(&res);
}

Test(remote_http, create_connection_refused_is_not_received)
{
	char base[64];
	snprintf(base, sizeof(base), "http://127.0.0.1:%u/v1", closed_port());
	struct remote *r = make_remote(base, 5);
	struct remote_result res = {0};

	cr_assert_eq(r->ops->create(r, &basic_create, &res), -1);
	cr_assert(res.not_received);
	cr_assert(res.retryable);
	cr_assert_eq(res.http_status, 0);
	cr_assert_str_eq(res.reason, "connection refused");
	remote_result_clear(&res);
	remote_destroy(r);
}

Test(remote_http, create_unresolvable_host_is_not_received)
{
	struct remote *r = make_remote("http://no-such-host.invalid/v1", 2);
	struct remote_result res = {0};

	cr_assert_eq(r->ops->create(r, &basic_create, &res), -1);
	cr_assert(res.not_received);
	cr_assert(res.retryable);
	/* without a working resolver the lookup times out instead */
	cr_assert(!strncmp(res.reason, "could not resolve host no-such-host.invalid",
			   strlen("could not resolve host no-such-host.invalid")),
		  "%s", res.reason);
	remote_result_clear(&res);
	remote_destroy(r);
}

Test(remote_http, create_reset_after_body_may_have_been_received)
{
	srv1.script = s_reset;
	struct remote_result res = {0};

	cr_assert_eq(remote->ops->create(remote, &basic_create, &res), -1);
	cr_assert_eq(srv1.requests, 1);
	cr_assert(!res.not_received);
	cr_assert(res.retryable);
	cr_assert_eq(res.http_status, 0);
	cr_assert(res.reason[0]);
	remote_result_clear(&res);
}

Test(remote_http, create_closed_before_body_is_not_received)
{
	/* Larger than any socket buffer, so the close must cut the upload. */
	char *img = write_temp_image("big.png", 48u << 20);
	struct remote_create req = basic_create;
	req.image_path = img;
	srv1.drop_at_headers = true;
	struct remote_result res = {0};

	cr_assert_eq(remote->ops->create(remote, &req, &res), -1);
	cr_assert(res.not_received, "%s", res.reason);
	cr_assert(res.retryable);
	remote_result_clear(&res);
	unlink(img);
	free(img);
}

Test(remote_http, create_stalled_answer_times_out)
{
	struct remote *r = make_remote(srv1.base, 1);
	srv1.script = s_stall;
	struct remote_result res = {0};
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);

	cr_assert_eq(r->ops->create(r, &basic_create, &res), -1);
	cr_assert_lt(elapsed_ms(&t0), 1900);
	cr_assert_str_eq(res.reason, "timed out after 1 s");
	cr_assert(res.retryable);
	cr_assert(!res.not_received);
	remote_result_clear(&res);
	remote_destroy(r);
}

/* ---- get / remove ---- */

Test(remote_http, get_returns_object_and_poll_hint)
{
	srv1.script = s_video_object;
	struct remote_result res = {0};

	cr_assert_eq(remote->ops->get(remote, "video_1", &res), 0, "%s", res.reason);
	cr_assert_eq(res.http_status, 200);
	cr_assert(strstr(res.body, "in_progress"));
	cr_assert_eq(res.retry_after_ms, 1500);
	struct record r = last_of(&srv1);
	cr_assert_str_eq(r.method, "GET");
	cr_assert_str_eq(r.auth, "Bearer " KEY);
	remote_result_clear(&res);
}

Test(remote_http, get_404_is_task_not_found)
{
	srv1.script = s_video_object;
	struct remote_result res = {0};

	cr_assert_eq(remote->ops->get(remote, "video_2", &res), -1);
	cr_assert_eq(res.http_status, 404);
	cr_assert(!res.retryable);
	cr_assert_str_eq(res.reason, "task not found on the provider");
	remote_result_clear(&res);
}

Test(remote_http, get_escapes_the_id)
{
	srv1.script = s_video_object;
	struct remote_result res = {0};

	remote->ops->get(remote, "a b/c", &res);
	cr_assert_str_eq(last_of(&srv1).url, "/v1/videos/a%20b%2Fc");
	remote_result_clear(&res);
}

Test(remote_http, retry_after_as_http_date)
{
	srv1.script = s_retry_after_date;
	struct remote_result res = {0};

	cr_assert_eq(remote->ops->get(remote, "video_1", &res), -1);
	cr_assert(res.retryable);
	cr_assert_geq(res.retry_after_ms, 1000);
	cr_assert_leq(res.retry_after_ms, 3000);
	/* The body's own words ("busy"), not only the status text. */
	cr_assert_str_eq(res.reason, "HTTP 503: busy");
	remote_result_clear(&res);
}

/* A 404 to DELETE is no cancel: gateways without the route (new-api)
 * answer it while the job goes on. */
Test(remote_http, remove_accepts_2xx_only)
{
	srv1.script = s_delete;
	struct remote_result res = {0};

	cr_assert_eq(remote->ops->remove(remote, "video_1", &res), 0, "%s", res.reason);
	cr_assert_str_eq(last_of(&srv1).method, "DELETE");
	cr_assert_eq(res.http_status, 204);
	cr_assert_eq(remote->ops->remove(remote, "gone", &res), -1);
	cr_assert_eq(res.http_status, 404);
	cr_assert_not(res.retryable);
	cr_assert_eq(remote->ops->remove(remote, "busy", &res), -1);
	cr_assert(res.retryable);
	cr_assert_str_eq(res.reason, "HTTP 500: try later");
	remote_result_clear(&res);
}

Test(remote_http, redirect_to_other_port_drops_the_key)
{
	char target[160];
	snprintf(target, sizeof(target), "http://127.0.0.1:%u/v1/videos/video_1",
		 srv2.port);
	srv1.script = s_redirect;
	srv1.location = target;
	srv2.script = s_video_object;
	struct remote_result res = {0};

	cr_assert_eq(remote->ops->get(remote, "moved", &res), 0, "%s", res.reason);
	cr_assert_eq(srv2.requests, 1);
	cr_assert_str_eq(last_of(&srv1).auth, "Bearer " KEY);
	cr_assert_str_eq(last_of(&srv2).auth, "");
	remote_result_clear(&res);
}

Test(remote_http, redirect_on_same_origin_keeps_the_key)
{
	srv1.script = s_redirect;
	srv1.location = "/v1/videos/video_1";
	struct remote_result res = {0};

	cr_assert_eq(remote->ops->get(remote, "moved", &res), 0, "%s", res.reason);
	cr_assert_eq(srv1.requests, 2);
	cr_assert_str_eq(last_of(&srv1).url, "/v1/videos/video_1");
	cr_assert_str_eq(last_of(&srv1).auth, "Bearer " KEY);
	remote_result_clear(&res);
}

Test(remote_http, redirect_to_other_scheme_is_refused)
{
	srv1.script = s_redirect;
	srv1.location = "file:///etc/passwd";
	struct remote_result res = {0};

	cr_assert_eq(remote->ops->get(remote, "moved", &res), -1);
	cr_assert(!res.retryable);
	cr_assert(strstr(res.reason, "unsupported protocol"), "%s", res.reason);
	remote_result_clear(&res);
}

Test(remote_http, connections_are_reused_across_calls_and_threads)
{
	srv1.script = s_video_object;
	struct remote_result res = {0};

	cr_assert_eq(remote->ops->get(remote, "video_1", &res), 0);
	cr_assert_eq(remote->ops->get(remote, "video_1", &res), 0);
	cr_assert_eq(srv1.connections, 1);
	remote_result_clear(&res);
}

struct worker_arg {
	int ok;
};

static void *worker(void *p)
{
	struct worker_arg *a = p;
	for (int i = 0; i < 5; i++) {
		struct remote_result res = {0};
		if (remote->ops->get(remote, "video_1", &res) == 0)
			a->ok++;
		remote_result_clear(&res);
	}
	return NULL;
}

Test(remote_http, threads_share_the_remote)
{
	srv1.script = s_video_object;
	pthread_t t[6];
	struct worker_arg args[6] = {0};

	for (int i = 0; i < 6; i++)
		pthread_create(&t[i], NULL, worker, &args[i]);
	for (int i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(args[i].ok, 5);
	}
	/* A connection opened by an exited thread serves the next caller. */
	int before = srv1.connections;
	struct worker_arg one = {0};
	worker(&one);
	cr_assert_eq(one.ok, 5);
	cr_assert_eq(srv1.connections, before);
}

/* ---- content ---- */

Test(remote_http, content_full_download)
{
	srv1.script = s_video;
	struct sink_state st = {0};
	struct remote_result res = {0};

	cr_assert_eq(content(&st, 0, -1, 0, &res), 0, "%s", res.reason);
	cr_assert_eq(st.starts, 1);
	cr_assert_eq(st.total, VIDEO_SIZE);
	cr_assert(st.honoured);
	cr_assert_eq(st.len, VIDEO_SIZE);
	cr_assert_arr_eq(st.data, video, VIDEO_SIZE);
	struct record r = last_of(&srv1);
	cr_assert_str_eq(r.url, "/v1/videos/video_1/content");
	cr_assert_str_eq(r.range, "");
	cr_assert_str_eq(r.auth, "Bearer " KEY);
	cr_assert_eq(res.http_status, 200);
	free(st.data);
	remote_result_clear(&res);
}

Test(remote_http, content_variant_is_asked_for)
{
	srv1.script = s_video;
	struct sink_state st = {0};
	struct remote_sink sink = { &st, sink_start, sink_data };
	struct remote_result res = {0};

	cr_assert_eq(remote->ops->content(remote, "video_1", "thumbnail", 0, -1, 0,
					  &sink, &res), 0, "%s", res.reason);
	cr_assert_str_eq(last_of(&srv1).variant, "thumbnail");
	free(st.data);
	remote_result_clear(&res);
}

Test(remote_http, content_range_answered_206)
{
	srv1.script = s_video;
	struct sink_state st = {0};
	struct remote_result res = {0};

	cr_assert_eq(content(&st, 1000, 500, 0, &res), 0, "%s", res.reason);
	cr_assert_str_eq(last_of(&srv1).range, "bytes=1000-1499");
	cr_assert_eq(res.http_status, 206);
	cr_assert_eq(st.starts, 1);
	cr_assert_eq(st.total, VIDEO_SIZE);
	cr_assert(st.honoured);
	cr_assert_eq(st.len, 500);
	cr_assert_arr_eq(st.data, video + 1000, 500);
	free(st.data);
	remote_result_clear(&res);
}

Test(remote_http, content_open_range_answered_206)
{
	srv1.script = s_video;
	struct sink_state st = {0};
	struct remote_result res = {0};

	cr_assert_eq(content(&st, 5000, -1, 0, &res), 0, "%s", res.reason);
	cr_assert_str_eq(last_of(&srv1).range, "bytes=5000-");
	cr_assert_eq(st.len, VIDEO_SIZE - 5000);
	cr_assert_arr_eq(st.data, video + 5000, VIDEO_SIZE - 5000);
	free(st.data);
	remote_result_clear(&res);
}

Test(remote_http, content_range_answered_200_is_skipped_to_offset)
{
	srv1.script = s_video_no_range;
	struct sink_state st = {0};
	struct remote_result res = {0};

	cr_assert_eq(content(&st, 1000, 500, 0, &res), 0, "%s", res.reason);
	cr_assert_eq(res.http_status, 200);
	cr_assert_eq(st.starts, 1);
	cr_assert(!st.honoured);
	cr_assert_eq(st.total, VIDEO_SIZE);
	cr_assert_eq(st.len, VIDEO_SIZE - 1000);
	cr_assert_arr_eq(st.data, video + 1000, VIDEO_SIZE - 1000);
	free(st.data);
	remote_result_clear(&res);
}

Test(remote_http, content_range_from_elsewhere_is_refused)
{
	srv1.script = s_wrong_range;
	struct sink_state st = {0};
	struct remote_result res = {0};

	cr_assert_eq(content(&st, 1000, 500, 0, &res), -1);
	cr_assert_eq(st.starts, 0);
	cr_assert_eq(st.len, 0);
	cr_assert(res.retryable);
	remote_result_clear(&res);
}

Test(remote_http, content_json_404_is_not_ready)
{
	srv1.script = s_not_ready;
	struct sink_state st = {0};
	struct remote_result res = {0};

	cr_assert_eq(content(&st, 0, -1, 0, &res), -1);
	cr_assert_eq(res.http_status, 404);
	cr_assert(res.retryable);
	cr_assert_str_eq(res.reason, "HTTP 404: Video is not ready yet");
	cr_assert_eq(st.starts, 0);
	cr_assert_eq(st.len, 0);
	remote_result_clear(&res);
}

Test(remote_http, content_json_200_is_never_saved)
{
	srv1.script = s_json_200;
	struct sink_state st = {0};
	struct remote_result res = {0};

	cr_assert_eq(content(&st, 0, -1, 0, &res), -1);
	cr_assert_eq(res.http_status, 200);
	cr_assert(res.retryable);
	cr_assert_str_eq(res.reason, "HTTP 200: server answered JSON instead of the video");
	cr_assert_eq(st.starts, 0);
	cr_assert_eq(st.len, 0);
	remote_result_clear(&res);
}

Test(remote_http, content_json_url_is_followed_without_the_key)
{
	char json[160];
	snprintf(json, sizeof(json), "{\"url\":\"http://127.0.0.1:%u/files/v.mp4\"}",
		 srv2.port);
	srv1.script = s_json_url;
	srv1.json = json;
	struct sink_state st = {0};
	struct remote_result res = {0};

	cr_assert_eq(content(&st, 10, -1, 0, &res), 0, "%s", res.reason);
	cr_assert_eq(st.len, VIDEO_SIZE - 10);
	cr_assert_arr_eq(st.data, video + 10, VIDEO_SIZE - 10);
	cr_assert_eq(srv2.requests, 1);
	cr_assert_str_eq(last_of(&srv1).auth, "Bearer " KEY);
	struct record r2 = last_of(&srv2);
	cr_assert_str_eq(r2.url, "/files/v.mp4");
	cr_assert_str_eq(r2.auth, "");
	cr_assert_str_eq(r2.range, "bytes=10-");
	free(st.data);
	remote_result_clear(&res);
}

Test(remote_http, content_json_url_on_same_origin_keeps_the_key)
{
	struct remote *r = make_remote(srv2.base, 5);
	char json[160];
	snprintf(json, sizeof(json),
		 "{\"data\":{\"url\":\"http://127.0.0.1:%u/files/v.mp4\"}}",
		 srv2.port);
	srv2.json = json;
	struct sink_state st = {0};
	struct remote_sink sink = { &st, sink_start, sink_data };
	struct remote_result res = {0};

	cr_assert_eq(r->ops->content(r, "video_1", NULL, 0, -1, 0, &sink, &res), 0,
		     "%s", res.reason);
	cr_assert_eq(srv2.requests, 2);
	cr_assert_str_eq(last_of(&srv2).url, "/files/v.mp4");
	cr_assert_str_eq(last_of(&srv2).auth, "Bearer " KEY);
	cr_assert_eq(st.len, VIDEO_SIZE);
	free(st.data);
	remote_result_clear(&res);
	remote_destroy(r);
}

Test(remote_http, content_second_json_url_is_not_followed)
{
	char json[160];
	snprintf(json, sizeof(json), "{\"url\":\"http://127.0.0.1:%u/files/again.json\"}",
		 srv2.port);
	srv1.script = s_json_url;
	srv1.json = json;
	struct sink_state st = {0};
	struct remote_result res = {0};

	cr_assert_eq(content(&st, 0, -1, 0, &res), -1);
	cr_assert_eq(srv2.requests, 1);
	cr_assert_str_eq(res.reason,
			 "HTTP 200: the video URL answered JSON instead of the video");
	cr_assert_eq(st.starts, 0);
	remote_result_clear(&res);
}

Test(remote_http, content_html_is_refused)
{
	srv1.script = s_html;
	struct sink_state st = {0};
	struct remote_result res = {0};

	cr_assert_eq(content(&st, 0, -1, 0, &res), -1);
	/* An answer that will not change by asking again at once: the
	 * caller counts it, and says what came. */
	cr_assert_not(res.retryable);
	cr_assert_str_eq(res.reason, "the provider sent 39 bytes of text/html: "
			 "\"<html><body>Please log in</body></html>\"");
	cr_assert_eq(st.starts, 0);
	cr_assert_eq(st.len, 0);
	remote_result_clear(&res);
}

static enum MHD_Result s_json_as_video(struct server *s, struct MHD_Connection *c,
				       const struct record *rec)
{
	return answer(c, 200, "application/octet-stream",
		      " {\"error\":{\"message\":\"still processing\"}}", NULL, NULL);
}

static enum MHD_Result s_text_as_video(struct server *s, struct MHD_Connection *c,
				       const struct record *rec)
{
	return answer(c, 200, "text/plain; charset=utf-8", "enim ipsum dolor", NULL, NULL);
}

static enum MHD_Result s_bytes_as_video(struct server *s, struct MHD_Connection *c,
					const struct record *rec)
{
	return answer(c, 200, "video/mp4", "GIF89a-not-a-video-at-all", NULL, NULL);
}

/* A body is judged by its bytes, not its labels. */
Test(remote_http, content_json_labelled_as_a_video_is_not_ready)
{
	srv1.script = s_json_as_video;
	struct sink_state st = {0};
	struct remote_result res = {0};

	cr_assert_eq(content(&st, 0, -1, 0, &res), -1);
	cr_assert(res.retryable);
	cr_assert_str_eq(res.reason, "HTTP 200: still processing");
	cr_assert_eq(st.starts, 0);
	cr_assert_eq(st.len, 0);
	remote_result_clear(&res);
}

Test(remote_http, content_text_says_what_came)
{
	srv1.script = s_text_as_video;
	struct sink_state st = {0};
	struct remote_result res = {0};

	cr_assert_eq(content(&st, 0, -1, 0, &res), -1);
	cr_assert_not(res.retryable);
	cr_assert_eq(res.http_status, 200);
	cr_assert_str_eq(res.reason,
			 "the provider sent 16 bytes of text/plain: \"enim ipsum dolor\"");
	cr_assert_eq(st.starts, 0);
	remote_result_clear(&res);
}

Test(remote_http, content_bytes_of_no_video_container_are_refused)
{
	srv1.script = s_bytes_as_video;
	struct sink_state st = {0};
	struct remote_result res = {0};

	cr_assert_eq(content(&st, 0, -1, 0, &res), -1);
	cr_assert_not(res.retryable);
	cr_assert_str_eq(res.reason, "the provider sent 25 bytes of video/mp4: "
			 "\"GIF89a-not-a-video-at-all\"");
	cr_assert_eq(st.starts, 0);
	cr_assert_eq(st.len, 0);
	remote_result_clear(&res);
}

Test(remote_http, content_short_body_is_detected)
{
	srv1.script = s_short;
	struct sink_state st = {0};
	struct remote_result res = {0};

	cr_assert_eq(content(&st, 0, -1, 0, &res), -1);
	cr_assert(res.retryable);
	char want[80];
	snprintf(want, sizeof(want), "short body: got %d of %d bytes",
		 VIDEO_SIZE / 2, VIDEO_SIZE);
	cr_assert_str_eq(res.reason, want);
	cr_assert_eq(st.len, VIDEO_SIZE / 2);
	free(st.data);
	remote_result_clear(&res);
}

Test(remote_http, content_long_body_is_detected)
{
	/* Declares half of what it sends, the way a broken gateway might. */
	static char answer[8192];
	int n = snprintf(answer, sizeof(answer), "HTTP/1.1 200 OK\r\n"
			 "Content-Type: video/mp4\r\nContent-Length: 2000\r\n\r\n");
	memcpy(answer + n, video, 4000);
	struct raw_server rs;
	raw_server_start(&rs, answer, (size_t)n + 4000);
	char base[64];
	snprintf(base, sizeof(base), "http://127.0.0.1:%u/v1", rs.port);
	struct remote *r = make_remote(base, 5);
	struct sink_state st = {0};
	struct remote_sink sink = { &st, sink_start, sink_data };
	struct remote_result res = {0};

	int rc = r->ops->content(r, "video_1", NULL, 0, -1, 0, &sink, &res);
	raw_server_stop(&rs);
	cr_assert_eq(rc, -1);
	cr_assert(res.retryable);
	cr_assert_str_eq(res.reason, "long body: more than the declared 2000 bytes");
	free(st.data);
	remote_result_clear(&res);
	remote_destroy(r);
}

Test(remote_http, content_sink_abort)
{
	srv1.script = s_video;
	struct sink_state st = { .abort_on_data = 1 };
	struct remote_result res = {0};

	cr_assert_eq(content(&st, 0, -1, 0, &res), -1);
	cr_assert(!res.retryable);
	cr_assert_str_eq(res.reason, "aborted");
	remote_result_clear(&res);
}

Test(remote_http, content_stall_is_detected)
{
	struct remote *r = make_remote(srv1.base, 1);
	srv1.script = s_headers_then_stall;
	struct sink_state st = {0};
	struct remote_sink sink = { &st, sink_start, sink_data };
	struct remote_result res = {0};
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);

	cr_assert_eq(r->ops->content(r, "video_1", NULL, 0, -1, 0, &sink, &res), -1);
	cr_assert_lt(elapsed_ms(&t0), 2500);
	cr_assert(res.retryable);
	cr_assert_str_eq(res.reason, "no data received for 1 s");
	free(st.data);
	remote_result_clear(&res);
	remote_destroy(r);
}

Test(remote_http, content_total_timeout)
{
	srv1.script = s_trickle;
	struct sink_state st = {0};
	struct remote_result res = {0};
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);

	cr_assert_eq(content(&st, 0, -1, 500, &res), -1);
	cr_assert_lt(elapsed_ms(&t0), 1500);
	cr_assert(res.retryable);
	cr_assert_str_eq(res.reason, "timed out after 0.5 s");
	free(st.data);
	remote_result_clear(&res);
}

Test(remote_http, content_connection_refused)
{
	char base[64];
	snprintf(base, sizeof(base), "http://127.0.0.1:%u/v1", closed_port());
	struct remote *r = make_remote(base, 5);
	struct sink_state st = {0};
	struct remote_sink sink = { &st, sink_start, sink_data };
	struct remote_result res = {0};

	cr_assert_eq(r->ops->content(r, "video_1", NULL, 0, -1, 0, &sink, &res), -1);
	cr_assert(res.retryable);
	cr_assert_str_eq(res.reason, "connection refused");
	remote_result_clear(&res);
	remote_destroy(r);
}

Test(remote_http, new_rejects_non_http_base_url)
{
	char err[256] = "";
	struct remote_http_options o = { .base_url = "ftp://x/v1", .timeout_s = 5 };
	cr_assert_null(remote_http_new(&o, err, sizeof(err)));
	cr_assert(strstr(err, "not an http or https URL"), "%s", err);
}

/* ---- what libcurl reports, and how ----
 *
 * remote_http.c tells failures apart by CURLcode and curl_easy_getinfo;
 * where it must still read libcurl's text (its curl_texts table), a test
 * here provokes the case, so a libcurl that words it differently fails
 * here instead of quietly changing behaviour. */

/* One raw answer from a one-shot server; the remote asks it for video_1. */
static int raw_content(const char *answer, size_t len, int64_t offset,
		       struct sink_state *st, struct remote_result *res)
{
	struct raw_server rs;
	raw_server_start(&rs, answer, len);
	char base[64];
	snprintf(base, sizeof(base), "http://127.0.0.1:%u/v1", rs.port);
	struct remote *r = make_remote(base, 5);
	struct remote_sink sink = { st, sink_start, sink_data };

	int rc = r->ops->content(r, "video_1", NULL, offset, -1, 0, &sink, res);
	raw_server_stop(&rs);
	remote_destroy(r);
	return rc;
}

Test(remote_http, answer_that_is_not_http_is_malformed)
{
	/* libcurl refuses it as HTTP/0.9 with CURLE_UNSUPPORTED_PROTOCOL,
	 * the code a redirect to another scheme gets too */
	static const char answer[] = "SSH-2.0-OpenSSH_9.2\r\n\r\n";
	struct sink_state st = {0};
	struct remote_result res = {0};

	cr_assert_eq(raw_content(answer, sizeof(answer) - 1, 0, &st, &res), -1);
	cr_assert_str_eq(res.reason, "malformed answer from server");
	cr_assert(res.retryable);
	cr_assert_eq(st.starts, 0);
	remote_result_clear(&res);
}

Test(remote_http, garbled_status_line_is_malformed)
{
	static const char answer[] = "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n";
	struct sink_state st = {0};
	struct remote_result res = {0};

	cr_assert_eq(raw_content(answer, sizeof(answer) - 1, 0, &st, &res), -1);
	cr_assert_str_eq(res.reason, "malformed answer from server");
	cr_assert(res.retryable);
	remote_result_clear(&res);
}

Test(remote_http, stall_on_a_reused_connection_is_a_stall)
{
	struct remote *r = make_remote(srv1.base, 1);
	struct remote_result res = {0};

	srv1.script = s_video_object;
	cr_assert_eq(r->ops->get(r, "video_1", &res), 0, "%s", res.reason);
	remote_result_clear(&res);
	srv1.script = s_headers_then_stall;
	struct sink_state st = {0};
	struct remote_sink sink = { &st, sink_start, sink_data };

	cr_assert_eq(r->ops->content(r, "video_1", NULL, 0, -1, 0, &sink, &res), -1);
	cr_assert_eq(srv1.connections, 1, "the connection was not reused");
	cr_assert_str_eq(res.reason, "no data received for 1 s");
	cr_assert(res.retryable);
	free(st.data);
	remote_result_clear(&res);
	remote_destroy(r);
}

Test(remote_http, stall_before_the_headers_is_a_stall)
{
	struct remote *r = make_remote(srv1.base, 1);
	srv1.script = s_stall;
	struct sink_state st = {0};
	struct remote_sink sink = { &st, sink_start, sink_data };
	struct remote_result res = {0};

	cr_assert_eq(r->ops->content(r, "video_1", NULL, 0, -1, 0, &sink, &res), -1);
	cr_assert_str_eq(res.reason, "no data received for 1 s");
	cr_assert_eq(st.starts, 0);
	remote_result_clear(&res);
	remote_destroy(r);
}

Test(remote_http, total_limit_shorter_than_the_stall_guard_is_a_timeout)
{
	struct remote *r = make_remote(srv1.base, 2);
	srv1.script = s_headers_then_stall;
	struct sink_state st = {0};
	struct remote_sink sink = { &st, sink_start, sink_data };
	struct remote_result res = {0};

	cr_assert_eq(r->ops->content(r, "video_1", NULL, 0, -1, 700, &sink, &res), -1);
	cr_assert_str_eq(res.reason, "timed out after 0.7 s");
	remote_result_clear(&res);
	remote_destroy(r);
}

/* A listening socket whose accept queue is full: Linux drops further
 * SYNs, so a connect hangs until the client gives up. */
struct blackhole {
	int listen_fd, filler_fd;
	unsigned short port;
};

static void blackhole_start(struct blackhole *b)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	b->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(bind(b->listen_fd, (struct sockaddr *)&a, alen), 0);
	cr_assert_eq(listen(b->listen_fd, 0), 0);
	getsockname(b->listen_fd, (struct sockaddr *)&a, &alen);
	b->port = ntohs(a.sin_port);
	b->filler_fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(b->filler_fd, (struct sockaddr *)&a, alen), 0);
	/* a second one so the queue is full on kernels that allow backlog+1 */
	int extra = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	connect(extra, (struct sockaddr *)&a, alen);
	usleep(50 * 1000);
	close(extra);
}

static void blackhole_stop(struct blackhole *b)
{
	close(b->filler_fd);
	close(b->listen_fd);
}

Test(remote_http, connect_timeout_is_told_from_the_answer_timeout)
{
	struct blackhole b;
	blackhole_start(&b);
	char base[64];
	snprintf(base, sizeof(base), "http://127.0.0.1:%u/v1", b.port);
	struct remote *r = make_remote(base, 1);
	struct remote_result res = {0};
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);

	int rc = r->ops->get(r, "video_1", &res);
	long ms = elapsed_ms(&t0);
	blackhole_stop(&b);
	if (rc == -1 && strstr(res.reason, "refused"))
		cr_skip_test("this kernel refuses instead of dropping: %s", res.reason);
	cr_assert_eq(rc, -1);
	cr_assert_lt(ms, 2500);
	cr_assert_str_eq(res.reason, "connection timed out after 1 s");
	cr_assert(res.retryable);
	remote_result_clear(&res);
	remote_destroy(r);
}

Test(remote_http, content_connect_timeout_says_the_shorter_limit)
{
	struct blackhole b;
	blackhole_start(&b);
	char base[64];
	snprintf(base, sizeof(base), "http://127.0.0.1:%u/v1", b.port);
	struct remote *r = make_remote(base, 5);
	struct sink_state st = {0};
	struct remote_sink sink = { &st, sink_start, sink_data };
	struct remote_result res = {0};

	int rc = r->ops->content(r, "video_1", NULL, 0, -1, 400, &sink, &res);
	blackhole_stop(&b);
	if (rc == -1 && strstr(res.reason, "refused"))
		cr_skip_test("this kernel refuses instead of dropping: %s", res.reason);
	cr_assert_eq(rc, -1);
	cr_assert_str_eq(res.reason, "connection timed out after 0.4 s");
	remote_result_clear(&res);
	remote_destroy(r);
}

Test(remote_http, content_conflicting_lengths_are_refused)
{
	static char answer[4096];
	int n = snprintf(answer, sizeof(answer), "HTTP/1.1 200 OK\r\n"
			 "Content-Type: video/mp4\r\nContent-Length: 1000\r\n"
			 "Content-Length: 2000\r\n\r\n");
	memcpy(answer + n, video, 1000);
	struct sink_state st = {0};
	struct remote_result res = {0};

	int rc = raw_content(answer, (size_t)n + 1000, 0, &st, &res);
	cr_assert_eq(rc, -1);
	/* a libcurl that refuses them itself is as good: nothing is written */
	if (strcmp(res.reason, "malformed answer from server"))
		cr_assert_str_eq(res.reason, "server sent conflicting Content-Length headers");
	cr_assert(res.retryable);
	cr_assert_eq(st.starts, 0);
	cr_assert_eq(st.len, 0);
	remote_result_clear(&res);
}

Test(remote_http, content_416_with_the_length_says_past_the_end)
{
	static const char answer[] = "HTTP/1.1 416 Range Not Satisfiable\r\n"
				     "Content-Range: bytes */1234\r\nContent-Length: 0\r\n\r\n";
	struct sink_state st = {0};
	struct remote_result res = {0};

	cr_assert_eq(raw_content(answer, sizeof(answer) - 1, 5000, &st, &res), -1);
	cr_assert_eq(res.http_status, 416);
	cr_assert_str_eq(res.reason, "offset 5000 is beyond the end of the video (1234 bytes)");
	cr_assert(!res.retryable);
	remote_result_clear(&res);
}

/* A self-signed certificate for 127.0.0.1 (EC P-256, valid to 2126). */
static const char tls_key[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgzCSUa3wrVX+IKDTj\n"
	"zeWogSXB3ErIuayLfDRqq2nwcfyhRANCAARX0qDkqEDDTQJ8nlyNr0t9sgwBi3GG\n"
	"fNBw5cKmPMK3s/k7MwociQjutQDmzlbmwOouYH6ahK6jPmi052aAtnWZ\n"
	"-----END PRIVATE KEY-----\n";
static const char tls_cert[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBkjCCATigAwIBAgIUUjStL2ng4moMpUgI77oLX6WBkFswCgYIKoZIzj0EAwIw\n"
	"FTETMBEGA1UEAwwKdmVvZnMgdGVzdDAgFw0yNjEyMDIwNDA0NDNaGA8yMTI2MTEw\n"
	"ODA0MDQ0M1owFTETMBEGA1UEAwwKdmVvZnMgdGVzdDBZMBMGByqGSM49AgEGCCqG\n"
	"SM49AwEHA0IABFfSoOSoQMNNAnyeXI2vS32yDAGLcYZ80HDlwqY8wrez+TszChyJ\n"
	"CO61AObOVubA6i5gfpqErqM+aLTnZoC2dZmjZDBiMB0GA1UdDgQWBBRmYwmAcBQZ\n"
	"M8Jn+7wy8jAZusg+rjAfBgNVHSMEGDAWgBRmYwmAcBQZM8Jn+7wy8jAZusg+rjAP\n"
	"BgNVHRMBAf8EBTADAQH/MA8GA1UdEQQIMAaHBH8AAAEwCgYIKoZIzj0EAwIDSAAw\n"
	"RQIgWFN88c3bBfTnsPpJvYaYeeSBlCiBb8qHL+EFCckG19YCIQCUW1oh5MU7wTAa\n"
	"Q1V1YyF997CeGZ4IqIT74MWYIMEObQ==\n"
	"-----END CERTIFICATE-----\n";

Test(remote_http, untrusted_certificate_reason_says_it_once)
{
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		cr_skip_test("libmicrohttpd without TLS");
	struct server tls;
	memset(&tls, 0, sizeof(tls));
	pthread_mutex_init(&tls.lock, NULL);
	tls.script = s_video_object;
	tls.daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
				      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS,
				      0, NULL, NULL, on_request, &tls,
				      MHD_OPTION_HTTPS_MEM_KEY, tls_key,
				      MHD_OPTION_HTTPS_MEM_CERT, tls_cert,
				      MHD_OPTION_NOTIFY_COMPLETED, on_completed, &tls,
				      MHD_OPTION_END);
	cr_assert_not_null(tls.daemon);
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(tls.daemon, MHD_DAEMON_INFO_BIND_PORT);
	char base[64];
	snprintf(base, sizeof(base), "https://127.0.0.1:%u/v1", info->port);
	struct remote *r = make_remote(base, 5);
	struct remote_result res = {0};

	cr_assert_eq(r->ops->get(r, "video_1", &res), -1);
	MHD_stop_daemon(tls.daemon);
	cr_assert(!strncmp(res.reason, "TLS certificate problem: ", 25), "%s", res.reason);
	cr_assert_null(strcasestr(res.reason, "SSL certificate problem"), "%s", res.reason);
	cr_assert(res.retryable);
	remote_result_clear(&res);
	remote_destroy(r);
}

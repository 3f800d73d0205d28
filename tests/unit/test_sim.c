/* The provider simulator, driven over HTTP with libcurl as veofs drives it:
 * each test starts its own simulator on a free loopback port. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"
#include "sim_video.h"

static struct sim *sim;
static char root[128];
static char err[256];

struct resp {
	CURLcode rc;
	long status;
	char *body;
	size_t len;
	char headers[4096];
	size_t hlen;
};

static void setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void teardown(void)
{
	sim_stop(sim);
	sim = NULL;
	curl_global_cleanup();
}

TestSuite(sim, .init = setup, .fini = teardown, .timeout = 60);

static void start(struct sim_options *o)
{
	struct sim_options defaults;

	if (!o) {
		sim_options_init(&defaults);
		defaults.duration = 0;
		o = &defaults;
	}
	sim = sim_start(o, err, sizeof(err));
	cr_assert_not_null(sim, "sim_start: %s", err);
	cr_assert_gt(sim_port(sim), 0);
	snprintf(root, sizeof(root), "%s", sim_root_url(sim));
	cr_assert_eq(strncmp(root, "http://127.0.0.1:", 17), 0, "%s", root);
}

static void start_with(double duration, const char *fault)
{
	struct sim_options o;

	sim_options_init(&o);
	o.duration = duration;
	if (fault)
		cr_assert_eq(sim_parse_fault(&o, fault, err, sizeof(err)), 0,
			     "%s", err);
	start(&o);
}

static size_t on_body(char *data, size_t size, size_t n, void *cls)
{
	struct resp *r = cls;
	char *p = realloc(r->body, r->len + size * n + 1);

	cr_assert_not_null(p);
	memcpy(p + r->len, data, size * n);
	r->body = p;
	r->len += size * n;
	r->body[r->len] = '\0';
	return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *cls)
{
	struct resp *r = cls;
	size_t len = size * n;

	if (r->hlen + len < sizeof(r->headers)) {
		memcpy(r->headers + r->hlen, data, len);
		r->hlen += len;
		r->headers[r->hlen] = '\0';
	}
	return len;
}

static void resp_free(struct resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* One exchange. path is relative to the root; body is raw (with its
 * Content-Type in hdrs) unless mime is given. */
static void request(struct resp *r, const char *method, const char *path,
		    struct curl_slist *hdrs, const char *body, curl_mime *mime,
		    long timeout_ms)
{
	CURL *c = curl_easy_init();
	char url[512];

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "%s%s", strncmp(path, "http", 4) ? root : "",
		 path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms ? timeout_ms : 10000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (hdrs)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (mime)
		curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
	else if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0 || body || mime)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	r->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(c);
}

static void get(struct resp *r, const char *path)
{
	request(r, "GET", path, NULL, NULL, NULL, 0);
}

/* The value of header name in r, or "" (case-insensitive name). */
static const char *header(const struct resp *r, const char *name)
{
	static char value[512];
	size_t n = strlen(name);
	const char *line = r->headers;

	value[0] = '\0';
	while (line && *line) {
		if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;
			size_t len = strcspn(v, "\r\n");

			while (*v == ' ') {
				v++;
				len--;
			}
			snprintf(value, sizeof(value), "%.*s", (int)len, v);
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return value;
}

static json_t *parse(const struct resp *r)
{
	json_error_t jerr;
	json_t *o = json_loadb(r->body ? r->body : "", r->len, 0, &jerr);

	cr_assert_not_null(o, "not JSON (%s): %.200s", jerr.text,
			   r->body ? r->body : "");
	return o;
}

static const char *str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	cr_assert(json_is_string(v), "'%s' is not a string", key);
	return json_string_value(v);
}

static long long num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	cr_assert(json_is_integer(v), "'%s' is not an integer", key);
	return json_integer_value(v);
}

static long long stat_of(const char *key)
{
	struct resp r;
	json_t *o;
	long long v;

	get(&r, "/_sim/stats");
	cr_assert_eq(r.status, 200);
	o = parse(&r);
	v = num(o, key);
	json_decref(o);
	resp_free(&r);
	return v;
}

static curl_mime *form(CURL **holder, const char *const *fields)
{
	curl_mime *m;

	*holder = curl_easy_init();
	m = curl_mime_init(*holder);
	for (int i = 0; fields[i]; i += 2) {
		curl_mimepart *p = curl_mime_addpart(m);

		curl_mime_name(p, fields[i]);
		curl_mime_data(p, fields[i + 1], CURL_ZERO_TERMINATED);
	}
	return m;
}

/* A valid multipart create; returns the id (static buffer). */
static const char *create_ok(void)
{
	static const char *const fields[] = {
		"model", "veo-3.1", "prompt", "a cat at the piano",
		"seconds", "8", "size", "16x9", NULL,
	};
	static char id[64];
	CURL *h;
	curl_mime *m = form(&h, fields);
	struct resp r;
	json_t *o;

	request(&r, "POST", "/v1/videos", NULL, NULL, m, 0);
	cr_assert_eq(r.rc, CURLE_OK);
	cr_assert_eq(r.status, 200, "create: %ld %s", r.status, r.body);
	o = parse(&r);
	snprintf(id, sizeof(id), "%s", str(o, "id"));
	json_decref(o);
	resp_free(&r);
	curl_mime_free(m);
	curl_easy_cleanup(h);
	return id;
}

static json_t *poll_job(const char *id)
{
	char path[128];
	struct resp r;
	json_t *o;

	snprintf(path, sizeof(path), "/v1/videos/%s", id);
	get(&r, path);
	cr_assert_eq(r.status, 200, "poll: %ld %s", r.status, r.body);
	o = parse(&r);
	resp_free(&r);
	return o;
}

static void content(struct resp *r, const char *id, const char *range)
{
	char path[128], hdr[128];
	struct curl_slist *h = NULL;

	snprintf(path, sizeof(path), "/v1/videos/%s/content", id);
	if (range) {
		snprintf(hdr, sizeof(hdr), "Range: %s", range);
		h = curl_slist_append(h, hdr);
	}
	request(r, "GET", path, h, NULL, NULL, 0);
	curl_slist_free_all(h);
}

static unsigned char *expected(const char *id, int64_t video_bytes, int64_t off,
			       size_t len)
{
	unsigned char *buf = malloc(len ? len : 1);

	cr_assert_not_null(buf);
	cr_assert_eq(sim_video_read(id, video_bytes, off, buf, len), len);
	return buf;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- create ---- */

Test(sim, create_multipart_is_recorded)
{
	static const unsigned char image[] = "\x89PNG\r\n\x1a\nnot really a png";
	struct curl_slist *h = curl_slist_append(NULL,
		"Authorization: Bearer sk-test-secret");
	static const char *const fields[] = {
		"model", "veo-3.1-fast", "prompt", "A cheerful cow",
		"seconds", "12", "size", "9x16", "watermark", "false", NULL,
	};
	CURL *holder;
	curl_mime *m;
	curl_mimepart *p;
	struct resp r;
	json_t *o, *j;
	char path[128];

	start(NULL);
	m = form(&holder, fields);
	p = curl_mime_addpart(m);
	curl_mime_name(p, "input_reference");
	curl_mime_filename(p, "cow.png");
	curl_mime_type(p, "image/png");
	curl_mime_data(p, (const char *)image, sizeof(image) - 1);
	request(&r, "POST", "/v1/videos", h, NULL, m, 0);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_str_eq(header(&r, "Content-Type"), "application/json");
	o = parse(&r);
	cr_assert_eq(strncmp(str(o, "id"), "video_", 6), 0);
	cr_assert_eq(strlen(str(o, "id")), 6 + 36);
	cr_assert_str_eq(str(o, "object"), "video");
	cr_assert_str_eq(str(o, "model"), "veo-3.1-fast");
	cr_assert_str_eq(str(o, "status"), "queued");
	cr_assert_eq(num(o, "progress"), 0);
	cr_assert_gt(num(o, "created_at"), 1700000000);
	cr_assert_str_eq(str(o, "seconds"), "12");
	cr_assert_str_eq(str(o, "size"), "9x16");
	/* VideoResource: every key present, the unknown ones null. */
	cr_assert(json_is_null(json_object_get(o, "completed_at")));
	cr_assert(json_is_null(json_object_get(o, "expires_at")));
	cr_assert(json_is_null(json_object_get(o, "error")));
	cr_assert(json_is_null(json_object_get(o, "remixed_from_video_id")));

	snprintf(path, sizeof(path), "/_sim/jobs/%s", str(o, "id"));
	resp_free(&r);
	get(&r, path);
	cr_assert_eq(r.status, 200);
	j = parse(&r);
	cr_assert_str_eq(str(j, "model"), "veo-3.1-fast");
	cr_assert_str_eq(str(j, "prompt"), "A cheerful cow");
	cr_assert_str_eq(str(j, "seconds"), "12");
	cr_assert_str_eq(str(j, "size"), "9x16");
	cr_assert_str_eq(str(j, "watermark"), "false");
	cr_assert_str_eq(str(j, "input_reference_kind"), "file");
	cr_assert_eq(num(j, "input_reference_bytes"), sizeof(image) - 1);
	cr_assert_str_eq(str(j, "input_reference_filename"), "cow.png");
	cr_assert_str_eq(str(j, "input_reference_content_type"), "image/png");
	cr_assert(json_is_null(json_object_get(j, "input_reference_url")));
	cr_assert(json_is_true(json_object_get(j, "authorization_present")));
	cr_assert_str_eq(str(j, "body_format"), "multipart");
	cr_assert_null(strstr(r.body, "sk-test-secret"));
	json_decref(j);
	json_decref(o);
	resp_free(&r);
	curl_mime_free(m);
	curl_easy_cleanup(holder);
	curl_slist_free_all(h);
	cr_assert_eq(stat_of("creates"), 1);
	cr_assert_eq(stat_of("jobs"), 1);
}

Test(sim, create_with_url_reference_and_no_key)
{
	static const char *const fields[] = {
		"model", "veo-3.1", "prompt", "a dog",
		"input_reference", "https://example.com/dog.jpg", NULL,
	};
	CURL *holder;
	curl_mime *m;
	struct resp r;
	json_t *o, *j;
	char path[128];

	start(NULL);
	m = form(&holder, fields);
	request(&r, "POST", "/v1/videos", NULL, NULL, m, 0);
	cr_assert_eq(r.status, 200, "%s", r.body);
	o = parse(&r);
	/* What the provider answers when seconds and size are left out. */
	cr_assert_str_eq(str(o, "seconds"), "8");
	cr_assert_str_eq(str(o, "size"), "16x9");
	snprintf(path, sizeof(path), "/_sim/jobs/%s", str(o, "id"));
	resp_free(&r);
	get(&r, path);
	j = parse(&r);
	cr_assert_str_eq(str(j, "input_reference_kind"), "url");
	cr_assert_str_eq(str(j, "input_reference_url"), "https://example.com/dog.jpg");
	cr_assert_eq(num(j, "input_reference_bytes"), 0);
	cr_assert(json_is_null(json_object_get(j, "seconds")));
	cr_assert(json_is_false(json_object_get(j, "authorization_present")));
	json_decref(j);
	json_decref(o);
	resp_free(&r);
	curl_mime_free(m);
	curl_easy_cleanup(holder);
}

Test(sim, create_accepts_json_bodies)
{
	struct curl_slist *h = curl_slist_append(NULL,
		"Content-Type: application/json");
	struct resp r;
	json_t *o, *j;
	char path[128];

	start(NULL);
	request(&r, "POST", "/v1/videos", h,
		"{\"model\":\"veo-3.1\",\"prompt\":\"rain\",\"seconds\":4,"
		"\"size\":\"1280x720\",\"watermark\":true}", NULL, 0);
	cr_assert_eq(r.status, 200, "%s", r.body);
	o = parse(&r);
	cr_assert_str_eq(str(o, "seconds"), "4");
	snprintf(path, sizeof(path), "/_sim/jobs/%s", str(o, "id"));
	resp_free(&r);
	get(&r, path);
	j = parse(&r);
	cr_assert_str_eq(str(j, "watermark"), "true");
	cr_assert_str_eq(str(j, "body_format"), "json");
	cr_assert_str_eq(str(j, "input_reference_kind"), "none");
	json_decref(j);
	json_decref(o);
	resp_free(&r);
	curl_slist_free_all(h);
}

static void expect_invalid(const char *const *fields, const char *param,
			   const char *message_part)
{
	CURL *holder;
	curl_mime *m = form(&holder, fields);
	struct resp r;
	json_t *o, *e;

	request(&r, "POST", "/v1/videos", NULL, NULL, m, 0);
	cr_assert_eq(r.status, 400, "%ld %s", r.status, r.body);
	o = parse(&r);
	e = json_object_get(o, "error");
	cr_assert(json_is_object(e));
	cr_assert_str_eq(str(e, "type"), "invalid_request_error");
	cr_assert_str_eq(str(e, "param"), param);
	cr_assert_not_null(strstr(str(e, "message"), message_part), "%s",
			   str(e, "message"));
	json_decref(o);
	resp_free(&r);
	curl_mime_free(m);
	curl_easy_cleanup(holder);
}

Test(sim, invalid_creates_get_400)
{
	static const char *const no_prompt[] = { "model", "veo-3.1", NULL };
	static const char *const empty_prompt[] = {
		"model", "veo-3.1", "prompt", "  ", NULL };
	static const char *const no_model[] = { "prompt", "x", NULL };
	static const char *const bad_seconds[] = {
		"model", "veo-3.1", "prompt", "x", "seconds", "5", NULL };
	static const char *const bad_size[] = {
		"model", "veo-3.1", "prompt", "x", "size", "100x100", NULL };
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: text/plain");
	struct resp r;

	start(NULL);
	expect_invalid(no_prompt, "prompt", "prompt is required");
	expect_invalid(empty_prompt, "prompt", "must not be empty");
	expect_invalid(no_model, "model", "model is required");
	expect_invalid(bad_seconds, "seconds", "4, 6, 8, 12");
	expect_invalid(bad_size, "size", "16x9");
	request(&r, "POST", "/v1/videos", h, "model=veo-3.1", NULL, 0);
	cr_assert_eq(r.status, 400);
	resp_free(&r);
	curl_slist_free_all(h);
	h = curl_slist_append(NULL, "Content-Type: application/json");
	request(&r, "POST", "/v1/videos", h, "{\"model\":", NULL, 0);
	cr_assert_eq(r.status, 400);
	resp_free(&r);
	curl_slist_free_all(h);
	cr_assert_eq(stat_of("creates"), 0);
	cr_assert_eq(stat_of("create_requests"), 7);
	cr_assert_eq(stat_of("jobs"), 0);
}

/* ---- state machine ---- */

Test(sim, state_machine_follows_time)
{
	const char *id;
	json_t *o;
	long long last = -1;
	bool seen_queued = false, seen_running = false;
	double t0, t_created;

	/* 2 s: queued for the first 0.2 s, then in_progress */
	start_with(2.0, NULL);
	t0 = now();
	id = create_ok();
	t_created = now();
	while (now() - t0 < 1.9) {
		const char *status;

		o = poll_job(id);
		status = str(o, "status");
		if (strcmp(status, "queued") == 0) {
			cr_assert_not(seen_running, "queued after in_progress");
			cr_assert_eq(num(o, "progress"), 0);
			seen_queued = true;
		} else {
			long long p = num(o, "progress");

			cr_assert_str_eq(status, "in_progress");
			seen_running = true;
			cr_assert(p >= 1 && p <= 99, "progress %lld", p);
			cr_assert_geq(p, last);
			last = p;
		}
		json_decref(o);
		usleep(50 * 1000);
	}
	cr_assert(seen_queued);
	cr_assert(seen_running);
	cr_assert_gt(last, 50);
	while (now() - t_created < 2.1)
		usleep(20 * 1000);
	o = poll_job(id);
	cr_assert_str_eq(str(o, "status"), "completed");
	cr_assert_eq(num(o, "progress"), 100);
	cr_assert_eq(num(o, "expires_at"), num(o, "completed_at") + 3600);
	cr_assert_geq(num(o, "completed_at"), num(o, "created_at"));
	json_decref(o);
}

Test(sim, duration_zero_completes_on_first_poll)
{
	const char *id;
	json_t *o;

	start(NULL);
	id = create_ok();
	o = poll_job(id);
	cr_assert_str_eq(str(o, "status"), "completed");
	json_decref(o);
}

Test(sim, content_before_ready_and_unknown_ids)
{
	struct resp r;
	json_t *o, *e;
	const char *id;

	start_with(60, NULL);
	id = create_ok();
	content(&r, id, NULL);
	cr_assert_eq(r.status, 404);
	cr_assert_str_eq(header(&r, "Content-Type"), "application/json");
	o = parse(&r);
	e = json_object_get(o, "error");
	cr_assert_str_eq(str(e, "code"), "video_not_ready");
	cr_assert_str_eq(str(e, "message"), "video is not ready yet");
	json_decref(o);
	resp_free(&r);

	get(&r, "/v1/videos/video_nope");
	cr_assert_eq(r.status, 404);
	o = parse(&r);
	cr_assert(json_is_object(json_object_get(o, "error")));
	json_decref(o);
	resp_free(&r);
	content(&r, "video_nope", NULL);
	cr_assert_eq(r.status, 404);
	resp_free(&r);
	get(&r, "/v2/whatever");
	cr_assert_eq(r.status, 404);
	resp_free(&r);
	request(&r, "PUT", "/v1/videos/video_nope", NULL, "x", NULL, 0);
	cr_assert_eq(r.status, 405);
	resp_free(&r);
}

Test(sim, delete_cancels_running_and_removes_finished)
{
	char path[128];
	struct resp r;
	json_t *o;
	char running[64];

	start_with(60, NULL);
	snprintf(running, sizeof(running), "%s", create_ok());
	snprintf(path, sizeof(path), "/v1/videos/%s", running);
	request(&r, "DELETE", path, NULL, NULL, NULL, 0);
	cr_assert_eq(r.status, 200);
	o = parse(&r);
	cr_assert_str_eq(str(o, "object"), "video.deleted");
	cr_assert(json_is_true(json_object_get(o, "deleted")));
	json_decref(o);
	resp_free(&r);
	o = poll_job(running);
	/* OpenAI's VideoStatus has no "cancelled": failed, code cancelled. */
	cr_assert_str_eq(str(o, "status"), "failed");
	cr_assert_str_eq(str(json_object_get(o, "error"), "code"), "cancelled");
	json_decref(o);
	cr_assert_eq(stat_of("deletes"), 1);
	sim_stop(sim);

	start(NULL);
	snprintf(running, sizeof(running), "%s", create_ok());
	snprintf(path, sizeof(path), "/v1/videos/%s", running);
	request(&r, "DELETE", path, NULL, NULL, NULL, 0);
	cr_assert_eq(r.status, 200);
	resp_free(&r);
	get(&r, path);
	cr_assert_eq(r.status, 404);
	resp_free(&r);
}

/* ---- videos ---- */

Test(sim, download_matches_sim_video_read)
{
	char id1[64], id2[64];
	struct resp r1, r2;
	unsigned char *want;

	start(NULL);
	snprintf(id1, sizeof(id1), "%s", create_ok());
	snprintf(id2, sizeof(id2), "%s", create_ok());
	content(&r1, id1, NULL);
	content(&r2, id2, NULL);
	cr_assert_eq(r1.status, 200);
	cr_assert_str_eq(header(&r1, "Content-Type"), "video/mp4");
	cr_assert_str_eq(header(&r1, "Accept-Ranges"), "bytes");
	cr_assert_eq((int64_t)r1.len, sim_video_size(id1, 0));
	want = expected(id1, 0, 0, r1.len);
	cr_assert_eq(memcmp(r1.body, want, r1.len), 0);
	cr_assert_eq(memcmp(r1.body + 4, "ftyp", 4), 0);
	/* each job's bytes are its own */
	cr_assert(r1.len != r2.len || memcmp(r1.body, r2.body, r1.len) != 0);
	cr_assert_not_null(memmem(r1.body, r1.len, id1, strlen(id1)));
	free(want);
	resp_free(&r1);
	resp_free(&r2);
	cr_assert_eq(stat_of("downloads"), 2);
	cr_assert_eq(stat_of("content_requests"), 2);
}

Test(sim, ranges)
{
	char id[64];
	struct resp r;
	unsigned char *want;
	int64_t size;
	char range[64];

	start(NULL);
	snprintf(id, sizeof(id), "%s", create_ok());
	size = sim_video_size(id, 0);

	content(&r, id, "bytes=100-1099");
	cr_assert_eq(r.status, 206);
	snprintf(range, sizeof(range), "bytes 100-1099/%lld", (long long)size);
	cr_assert_str_eq(header(&r, "Content-Range"), range);
	cr_assert_eq(r.len, 1000);
	want = expected(id, 0, 100, 1000);
	cr_assert_eq(memcmp(r.body, want, 1000), 0);
	free(want);
	resp_free(&r);

	content(&r, id, "bytes=7000-");
	cr_assert_eq(r.status, 206);
	cr_assert_eq((int64_t)r.len, size - 7000);
	resp_free(&r);

	content(&r, id, "bytes=-10");
	cr_assert_eq(r.status, 206);
	cr_assert_eq(r.len, 10);
	want = expected(id, 0, size - 10, 10);
	cr_assert_eq(memcmp(r.body, want, 10), 0);
	free(want);
	resp_free(&r);

	snprintf(range, sizeof(range), "bytes=%lld-", (long long)size);
	content(&r, id, range);
	cr_assert_eq(r.status, 416);
	snprintf(range, sizeof(range), "bytes */%lld", (long long)size);
	cr_assert_str_eq(header(&r, "Content-Range"), range);
	resp_free(&r);
}

Test(sim, no_range_serves_everything)
{
	struct sim_options o;
	char id[64];
	struct resp r;

	sim_options_init(&o);
	o.duration = 0;
	o.no_range = true;
	start(&o);
	snprintf(id, sizeof(id), "%s", create_ok());
	content(&r, id, "bytes=100-199");
	cr_assert_eq(r.status, 200);
	cr_assert_eq((int64_t)r.len, sim_video_size(id, 0));
	cr_assert_str_eq(header(&r, "Accept-Ranges"), "");
	cr_assert_str_eq(header(&r, "Content-Range"), "");
	resp_free(&r);
}

Test(sim, video_bytes_pads_to_the_size_asked)
{
	struct sim_options o;
	char id[64];
	struct resp r;
	unsigned char *want;
	const int64_t n = 300000, gib = (int64_t)1 << 30;
	char range[64];

	sim_options_init(&o);
	o.duration = 0;
	o.video_bytes = n;
	start(&o);
	snprintf(id, sizeof(id), "%s", create_ok());
	content(&r, id, NULL);
	cr_assert_eq(r.status, 200);
	cr_assert(llabs((long long)r.len - n) < 300, "size %zu", r.len);
	want = expected(id, n, 0, r.len);
	cr_assert_eq(memcmp(r.body, want, r.len), 0);
	free(want);
	resp_free(&r);
	sim_stop(sim);

	/* 1 GiB: only the range asked for is ever made */
	o.video_bytes = gib;
	start(&o);
	snprintf(id, sizeof(id), "%s", create_ok());
	cr_assert_eq(sim_video_size(id, gib), gib);
	snprintf(range, sizeof(range), "bytes=%lld-", (long long)(gib - 4096));
	content(&r, id, range);
	cr_assert_eq(r.status, 206);
	cr_assert_eq(r.len, 4096);
	want = expected(id, gib, gib - 4096, 4096);
	cr_assert_eq(memcmp(r.body, want, 4096), 0);
	free(want);
	resp_free(&r);
}

Test(sim, small_video_bytes_keeps_the_minimum)
{
	int64_t min = sim_video_size("video_x", 0);

	cr_assert_gt(min, 1000);
	cr_assert_eq(sim_video_size("video_x", 10), min);
	cr_assert_eq(sim_video_size("video_x", min + 1), min + 1);
}

Test(sim, thumbnail_variant)
{
	char id[64], path[160];
	struct resp r;

	start(NULL);
	snprintf(id, sizeof(id), "%s", create_ok());
	snprintf(path, sizeof(path), "/v1/videos/%s/content?variant=thumbnail", id);
	get(&r, path);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(header(&r, "Content-Type"), "image/webp");
	cr_assert_gt(r.len, 12);
	cr_assert_eq(memcmp(r.body, "RIFF", 4), 0);
	cr_assert_eq(memcmp(r.body + 8, "WEBP", 4), 0);
	resp_free(&r);
	snprintf(path, sizeof(path), "/v1/videos/%s/content?variant=bogus", id);
	get(&r, path);
	cr_assert_eq(r.status, 400);
	resp_free(&r);
}

Test(sim, files_index_and_files)
{
	char id[64], path[160], link[160];
	struct resp r;
	unsigned char *want;

	start_with(60, NULL);
	create_ok();		/* not finished: not listed */
	sim_stop(sim);
	start(NULL);
	snprintf(id, sizeof(id), "%s", create_ok());
	get(&r, "/_sim/files/");
	cr_assert_eq(r.status, 200);
	cr_assert_not_null(strstr(header(&r, "Content-Type"), "text/html"));
	snprintf(link, sizeof(link), "<a href=\"%s.mp4\">", id);
	cr_assert_not_null(strstr(r.body, link), "%s", r.body);
	resp_free(&r);
	snprintf(path, sizeof(path), "/_sim/files/%s.mp4", id);
	get(&r, path);
	cr_assert_eq(r.status, 200);
	want = expected(id, 0, 0, r.len);
	cr_assert_eq((int64_t)r.len, sim_video_size(id, 0));
	cr_assert_eq(memcmp(r.body, want, r.len), 0);
	free(want);
	resp_free(&r);
	get(&r, "/_sim/files/video_nope.mp4");
	cr_assert_eq(r.status, 404);
	resp_free(&r);
	cr_assert_eq(stat_of("downloads"), 1);
}

/* ---- faults ---- */

static void create_expect_status(long status, const char *hdr, const char *value)
{
	static const char *const fields[] = {
		"model", "veo-3.1", "prompt", "x", NULL };
	CURL *holder;
	curl_mime *m = form(&holder, fields);
	struct resp r;

	request(&r, "POST", "/v1/videos", NULL, NULL, m, 0);
	cr_assert_eq(r.rc, CURLE_OK);
	cr_assert_eq(r.status, status, "%ld %s", r.status, r.body);
	if (hdr)
		cr_assert_str_eq(header(&r, hdr), value);
	resp_free(&r);
	curl_mime_free(m);
	curl_easy_cleanup(holder);
}

Test(sim, status_faults)
{
	start(NULL);
	cr_assert_eq(sim_add_faults(sim, "create=429x1\ncreate=429-retry-afterx1\n"
				    "create=429-retry-after-msx1\ncreate=500x1\n"
				    "create=502x1\ncreate=503x2", err, sizeof(err)),
		     6, "%s", err);
	create_expect_status(429, "Retry-After", "");
	create_expect_status(429, "Retry-After", "1");
	create_expect_status(429, "retry-after-ms", "500");
	create_expect_status(500, NULL, NULL);
	create_expect_status(502, NULL, NULL);
	create_expect_status(503, NULL, NULL);
	create_expect_status(503, NULL, NULL);
	create_expect_status(200, NULL, NULL);
	cr_assert_eq(stat_of("creates"), 1);
	cr_assert_eq(stat_of("create_requests"), 8);
	cr_assert_eq(stat_of("faults_applied"), 7);
}

Test(sim, reset_before_body_creates_nothing)
{
	static const char *const fields[] = {
		"model", "veo-3.1", "prompt", "x", NULL };
	CURL *holder;
	curl_mime *m;
	struct resp r;

	start_with(0, "create=reset-before-bodyx1");
	m = form(&holder, fields);
	request(&r, "POST", "/v1/videos", NULL, NULL, m, 0);
	cr_assert_neq(r.rc, CURLE_OK);
	cr_assert_eq(r.status, 0);
	resp_free(&r);
	curl_mime_free(m);
	curl_easy_cleanup(holder);
	cr_assert_eq(stat_of("creates"), 0);
	cr_assert_eq(stat_of("create_requests"), 1);
	create_expect_status(200, NULL, NULL);
}

Test(sim, reset_after_body_creates_the_job)
{
	static const char *const fields[] = {
		"model", "veo-3.1", "prompt", "x", NULL };
	CURL *holder;
	curl_mime *m;
	struct resp r;

	start_with(0, "create=reset-after-body");
	m = form(&holder, fields);
	request(&r, "POST", "/v1/videos", NULL, NULL, m, 0);
	cr_assert_neq(r.rc, CURLE_OK);
	cr_assert_eq(r.status, 0);
	resp_free(&r);
	curl_mime_free(m);
	curl_easy_cleanup(holder);
	cr_assert_eq(stat_of("creates"), 1);
	cr_assert_eq(stat_of("jobs"), 1);
}

Test(sim, stall_blocks_only_its_own_answer)
{
	const char *id;
	char path[128];
	struct resp r;
	double t0;

	start(NULL);
	id = create_ok();
	snprintf(path, sizeof(path), "/v1/videos/%s", id);
	cr_assert_eq(sim_add_faults(sim, "poll=stallx1", err, sizeof(err)), 1);
	t0 = now();
	request(&r, "GET", path, NULL, NULL, NULL, 300);
	cr_assert_eq(r.rc, CURLE_OPERATION_TIMEDOUT);
	cr_assert_geq(now() - t0, 0.29);
	resp_free(&r);
	/* the stalled answer still holds its connection; others go on */
	cr_assert_eq(stat_of("stalled"), 1);
	get(&r, path);
	cr_assert_eq(r.status, 200);
	resp_free(&r);
	sim_clear_faults(sim);
	for (int i = 0; i < 100 && stat_of("stalled") != 0; i++)
		usleep(10 * 1000);
	cr_assert_eq(stat_of("stalled"), 0);
}

static void *stalled_poll(void *arg)
{
	struct resp *r = arg;

	request(r, "GET", "/v1/videos/video_any", NULL, NULL, NULL, 30000);
	return NULL;
}

Test(sim, stop_is_prompt_with_stalled_answers)
{
	struct sim_options o;
	pthread_t threads[3];
	struct resp r[3];
	double t0;

	sim_options_init(&o);
	o.latency_ms = 20000;
	cr_assert_eq(sim_parse_fault(&o, "poll=stallx2", err, sizeof(err)), 0);
	start(&o);
	for (int i = 0; i < 3; i++)
		pthread_create(&threads[i], NULL, stalled_poll, &r[i]);
	usleep(300 * 1000);
	cr_assert_eq(stat_of("polls"), 3);
	t0 = now();
	sim_stop(sim);
	sim = NULL;
	cr_assert_lt(now() - t0, 0.5);
	for (int i = 0; i < 3; i++) {
		pthread_join(threads[i], NULL);
		cr_assert_neq(r[i].rc, CURLE_OK);
		resp_free(&r[i]);
	}
}

Test(sim, json_shape_faults)
{
	char id[64], path[128];
	struct resp r;
	json_error_t jerr;
	json_t *o;

	start(NULL);
	snprintf(id, sizeof(id), "%s", create_ok());
	snprintf(path, sizeof(path), "/v1/videos/%s", id);
	cr_assert_eq(sim_add_faults(sim, "poll=bad-jsonx1\npoll=truncated-jsonx1\n"
				    "poll=html-bodyx1\npoll=json-bodyx1\n",
				    err, sizeof(err)), 4);
	get(&r, path);
	cr_assert_eq(r.status, 200);
	cr_assert_null(json_loadb(r.body, r.len, 0, &jerr));
	resp_free(&r);

	get(&r, path);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(r.rc, CURLE_OK);
	cr_assert_eq(strtoul(header(&r, "Content-Length"), NULL, 10), r.len);
	cr_assert_eq(r.body[0], '{');
	cr_assert_null(json_loadb(r.body, r.len, 0, &jerr));
	resp_free(&r);

	get(&r, path);
	cr_assert_eq(r.status, 200);
	cr_assert_not_null(strstr(header(&r, "Content-Type"), "text/html"));
	resp_free(&r);

	get(&r, path);
	cr_assert_eq(r.status, 200);
	o = parse(&r);
	cr_assert(json_is_object(json_object_get(o, "error")));
	json_decref(o);
	resp_free(&r);

	o = poll_job(id);
	json_decref(o);
}

Test(sim, content_json_faults)
{
	char id[64];
	struct resp r, f;
	json_t *o;
	unsigned char *want;

	start(NULL);
	snprintf(id, sizeof(id), "%s", create_ok());
	cr_assert_eq(sim_add_faults(sim, "content=json-bodyx1\ncontent=json-urlx1",
				    err, sizeof(err)), 2);
	content(&r, id, NULL);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(header(&r, "Content-Type"), "application/json");
	o = parse(&r);
	cr_assert(json_is_object(json_object_get(o, "error")));
	json_decref(o);
	resp_free(&r);
	cr_assert_eq(stat_of("downloads"), 0);

	content(&r, id, NULL);
	cr_assert_eq(r.status, 200);
	o = parse(&r);
	get(&f, str(o, "url"));
	cr_assert_eq(f.status, 200);
	want = expected(id, 0, 0, f.len);
	cr_assert_eq((int64_t)f.len, sim_video_size(id, 0));
	cr_assert_eq(memcmp(f.body, want, f.len), 0);
	free(want);
	json_decref(o);
	resp_free(&r);
	resp_free(&f);
}

Test(sim, short_body_breaks_the_transfer)
{
	char id[64];
	struct resp r;

	start_with(0, "content=short-bodyx1");
	snprintf(id, sizeof(id), "%s", create_ok());
	content(&r, id, NULL);
	cr_assert_eq(r.rc, CURLE_PARTIAL_FILE);
	cr_assert_lt((int64_t)r.len, sim_video_size(id, 0));
	resp_free(&r);
	content(&r, id, NULL);
	cr_assert_eq(r.rc, CURLE_OK);
	cr_assert_eq((int64_t)r.len, sim_video_size(id, 0));
	resp_free(&r);
}

/* Read a raw HTTP answer to the end of the connection. */
static size_t raw_get(const char *path, char *buf, size_t cap)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char req[256];
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_port = htons(sim_port(sim));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
	cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (got < cap && (n = read(fd, buf + got, cap - got)) > 0)
		got += n;
	close(fd);
	return got;
}

Test(sim, long_body_sends_more_than_it_declares)
{
	char id[64], path[128];
	static char buf[1 << 16];
	size_t got;
	const char *body;
	long declared;
	struct resp r;

	start_with(0, "content=long-body");
	snprintf(id, sizeof(id), "%s", create_ok());
	snprintf(path, sizeof(path), "/v1/videos/%s/content", id);
	got = raw_get(path, buf, sizeof(buf) - 1);
	buf[got] = '\0';
	body = strstr(buf, "\r\n\r\n");
	cr_assert_not_null(body);
	body += 4;
	cr_assert_not_null(strcasestr(buf, "Content-Length: "));
	declared = strtol(strcasestr(buf, "Content-Length: ") + 16, NULL, 10);
	cr_assert_eq((int64_t)(got - (body - buf)), sim_video_size(id, 0));
	cr_assert_lt(declared, sim_video_size(id, 0));
	/* a client that trusts Content-Length gets fewer bytes than the video */
	content(&r, id, NULL);
	cr_assert_eq((long)r.len, strtol(header(&r, "Content-Length"), NULL, 10));
	resp_free(&r);
}

Test(sim, spelling_faults)
{
	const char *id;
	json_t *o;

	start_with(0, "poll=gateway-spellingx1");
	cr_assert_eq(sim_add_faults(sim, "poll=upper-casex1", err, sizeof(err)), 1);
	id = create_ok();
	o = poll_job(id);
	cr_assert_str_eq(str(o, "status"), "succeeded");
	json_decref(o);
	o = poll_job(id);
	cr_assert_str_eq(str(o, "status"), "COMPLETED");
	json_decref(o);
	o = poll_job(id);
	cr_assert_str_eq(str(o, "status"), "completed");
	json_decref(o);
}

Test(sim, create_spelling_shows_in_the_answer)
{
	struct curl_slist *h = curl_slist_append(NULL,
		"Content-Type: application/json");
	struct resp r;
	json_t *o;

	start_with(0, "create=gateway-spellingx1");
	cr_assert_eq(sim_add_faults(sim, "create=upper-casex1", err, sizeof(err)), 1);
	request(&r, "POST", "/v1/videos", h, "{\"model\":\"m\",\"prompt\":\"p\"}",
		NULL, 0);
	o = parse(&r);
	cr_assert_str_eq(str(o, "status"), "pending");
	json_decref(o);
	resp_free(&r);
	request(&r, "POST", "/v1/videos", h, "{\"model\":\"m\",\"prompt\":\"p\"}",
		NULL, 0);
	o = parse(&r);
	cr_assert_str_eq(str(o, "status"), "QUEUED");
	json_decref(o);
	resp_free(&r);
	curl_slist_free_all(h);
}

Test(sim, failure_faults)
{
	char a[64], b[64], c[64];
	struct resp r;
	json_t *o, *e;

	start_with(0, "create=fail-error-objectx1");
	snprintf(a, sizeof(a), "%s", create_ok());
	snprintf(b, sizeof(b), "%s", create_ok());
	snprintf(c, sizeof(c), "%s", create_ok());

	o = poll_job(a);
	cr_assert_str_eq(str(o, "status"), "failed");
	e = json_object_get(o, "error");
	cr_assert_str_eq(str(e, "code"), "content_policy_violation");
	cr_assert_str_eq(str(e, "message"), "content policy violation");
	json_decref(o);
	content(&r, a, NULL);
	cr_assert_eq(r.status, 404);
	resp_free(&r);
	o = poll_job(b);
	cr_assert_str_eq(str(o, "status"), "completed");
	json_decref(o);

	/* Poll faults mark the job they touch, for good. Run for 60 s so
	 * the jobs have not completed when they are marked. */
	sim_stop(sim);
	start_with(60, NULL);
	snprintf(b, sizeof(b), "%s", create_ok());
	snprintf(c, sizeof(c), "%s", create_ok());
	cr_assert_eq(sim_add_faults(sim, "poll=fail-error-stringx1\n"
				    "poll=fail-no-errorx1", err, sizeof(err)), 2);
	o = poll_job(b);
	cr_assert_str_eq(str(o, "status"), "failed");
	cr_assert_str_eq(str(o, "error"), "content policy violation");
	json_decref(o);
	o = poll_job(c);
	cr_assert_str_eq(str(o, "status"), "failed");
	cr_assert_null(json_object_get(o, "error"));
	json_decref(o);
	o = poll_job(b);
	cr_assert_str_eq(str(o, "status"), "failed");
	json_decref(o);
}

Test(sim, never_finish)
{
	const char *id;
	json_t *o;

	start_with(0.2, "create=never-finish");
	id = create_ok();
	usleep(400 * 1000);
	o = poll_job(id);
	cr_assert_str_eq(str(o, "status"), "in_progress");
	cr_assert_lt(num(o, "progress"), 100);
	json_decref(o);
}

Test(sim, latency_delays_api_answers)
{
	struct sim_options o;
	double t0;
	struct resp r;

	sim_options_init(&o);
	o.latency_ms = 250;
	start(&o);
	t0 = now();
	get(&r, "/v1/videos/video_nope");
	cr_assert_eq(r.status, 404);
	cr_assert_geq(now() - t0, 0.24);
	resp_free(&r);
	t0 = now();
	get(&r, "/_sim/stats");
	cr_assert_lt(now() - t0, 0.2);
	resp_free(&r);
}

Test(sim, runtime_fault_control)
{
	struct resp r;
	json_t *o;
	char id[64];

	start(NULL);
	snprintf(id, sizeof(id), "%s", create_ok());
	request(&r, "POST", "/_sim/faults", NULL, "poll=500x1\n\ncontent=429", NULL, 0);
	cr_assert_eq(r.status, 200, "%s", r.body);
	o = parse(&r);
	cr_assert_eq(num(o, "added"), 2);
	json_decref(o);
	resp_free(&r);
	get(&r, "/_sim/faults");
	o = parse(&r);
	cr_assert_eq(json_array_size(json_object_get(o, "faults")), 2);
	json_decref(o);
	resp_free(&r);

	request(&r, "POST", "/_sim/faults", NULL, "poll=500x1\npoll=bogus", NULL, 0);
	cr_assert_eq(r.status, 400);
	cr_assert_not_null(strstr(r.body, "poll=bogus"));
	resp_free(&r);

	content(&r, id, NULL);
	cr_assert_eq(r.status, 429);
	resp_free(&r);
	request(&r, "DELETE", "/_sim/faults", NULL, NULL, NULL, 0);
	cr_assert_eq(r.status, 200);
	resp_free(&r);
	content(&r, id, NULL);
	cr_assert_eq(r.status, 200);
	resp_free(&r);
	get(&r, "/_sim/faults");
	o = parse(&r);
	cr_assert_eq(json_array_size(json_object_get(o, "faults")), 0);
	json_decref(o);
	resp_free(&r);
}

Test(sim, stats_count_what_arrived)
{
	char id[64], path[128];
	struct resp r;
	json_t *o;

	start(NULL);
	snprintf(id, sizeof(id), "%s", create_ok());
	cr_assert_eq(sim_add_faults(sim, "poll=503x1", err, sizeof(err)), 1);
	snprintf(path, sizeof(path), "/v1/videos/%s", id);
	get(&r, path);
	cr_assert_eq(r.status, 503);
	resp_free(&r);
	json_decref(poll_job(id));
	get(&r, "/v1/videos/video_nope");
	resp_free(&r);
	content(&r, id, "bytes=0-9");
	resp_free(&r);
	request(&r, "HEAD", "/v1/videos/x/content", NULL, NULL, NULL, 0);
	resp_free(&r);
	get(&r, "/_sim/stats");
	o = parse(&r);
	cr_assert_eq(num(o, "creates"), 1);
	cr_assert_eq(num(o, "create_requests"), 1);
	cr_assert_eq(num(o, "polls"), 3);	/* the 503 and the unknown id too */
	cr_assert_eq(num(o, "range_requests"), 1);
	cr_assert_eq(num(o, "content_requests"), 2);
	cr_assert_eq(num(o, "downloads"), 1);
	cr_assert_eq(num(o, "deletes"), 0);
	cr_assert_eq(num(o, "jobs"), 1);
	cr_assert_eq(num(o, "faults_applied"), 1);
	json_decref(o);
	resp_free(&r);
}

/* ---- fault specs ---- */

Test(sim, parse_fault_specs)
{
	struct sim_options o;

	sim_options_init(&o);
	cr_assert_eq(sim_parse_fault(&o, "create=503x2", err, sizeof(err)), 0);
	cr_assert_eq(o.faults[0].endpoint, SIM_EP_CREATE);
	cr_assert_str_eq(o.faults[0].kind, "503");
	cr_assert_eq(o.faults[0].count, 2);
	cr_assert_eq(sim_parse_fault(&o, " poll=stall ", err, sizeof(err)), 0);
	cr_assert_eq(o.faults[1].endpoint, SIM_EP_POLL);
	cr_assert_str_eq(o.faults[1].kind, "stall");
	cr_assert_eq(o.faults[1].count, -1);
	cr_assert_eq(sim_parse_fault(&o, "content=429-retry-after-msx10", err,
				     sizeof(err)), 0);
	cr_assert_str_eq(o.faults[2].kind, "429-retry-after-ms");
	cr_assert_eq(o.faults[2].count, 10);
	cr_assert_eq(o.n_faults, 3);
}

static void expect_bad_spec(const char *spec, const char *reason)
{
	struct sim_options o;

	sim_options_init(&o);
	err[0] = '\0';
	cr_assert_eq(sim_parse_fault(&o, spec, err, sizeof(err)), -1, "%s", spec);
	cr_assert_eq(o.n_faults, 0);
	cr_assert_not_null(strstr(err, reason), "'%s': %s", spec, err);
	if (*spec)
		cr_assert_not_null(strstr(err, spec), "'%s': %s", spec, err);
}

Test(sim, parse_fault_errors)
{
	struct sim_options o;

	expect_bad_spec("", "expected ENDPOINT=KIND");
	expect_bad_spec("create", "expected ENDPOINT=KIND");
	expect_bad_spec("upload=429", "unknown endpoint 'upload'");
	expect_bad_spec("create=404", "unknown kind '404'");
	expect_bad_spec("create=", "unknown kind ''");
	expect_bad_spec("create=429x", "positive number");
	expect_bad_spec("create=429x0", "positive number");
	expect_bad_spec("create=429xabc", "positive number");
	expect_bad_spec("create=429x-1", "positive number");
	expect_bad_spec("content=never-finish", "does not apply to content");
	expect_bad_spec("poll=json-url", "does not apply to poll");

	sim_options_init(&o);
	for (int i = 0; i < SIM_MAX_FAULTS; i++)
		cr_assert_eq(sim_parse_fault(&o, "poll=500x1", err, sizeof(err)), 0);
	cr_assert_eq(sim_parse_fault(&o, "poll=500x1", err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "too many"));
}

Test(sim, bad_listen_address_is_reported)
{
	struct sim_options o;
	struct sim *other;

	start(NULL);
	sim_options_init(&o);
	o.port = sim_port(sim);
	other = sim_start(&o, err, sizeof(err));
	cr_assert_null(other);
	cr_assert_not_null(strstr(err, "cannot listen on 127.0.0.1"), "%s", err);
}

/* The simulator's dialects, progress modes, jitter, list and clips, asked
 * over HTTP with libcurl as a client would. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"
#include "sim_video.h"

static struct sim *sim;
static char root[128];

struct resp {
	long status;
	char *body;
	size_t len;
	char location[1024];
	char ctype[128];
};

static void stop(void)
{
	sim_stop(sim);
	sim = NULL;
}

TestSuite(dialects, .fini = stop);

static void start_dialect(const char *dialect, double duration,
			  const char *fault)
{
	struct sim_options o;
	char err[256];

	sim_options_init(&o);
	o.duration = duration;
	o.dialect = dialect;
	if (fault)
		cr_assert_eq(sim_parse_fault(&o, fault, err, sizeof(err)), 0);
	sim = sim_start(&o, err, sizeof(err));
	cr_assert_not_null(sim, "%s", err);
	snprintf(root, sizeof(root), "%s", sim_root_url(sim));
}

static size_t on_body(char *data, size_t size, size_t n, void *cls)
{
	struct resp *r = cls;
	char *p = realloc(r->body, r->len + size * n + 1);

	cr_assert_not_null(p);
	memcpy(p + r->len, data, size * n);
	r->len += size * n;
	p[r->len] = '\0';
	r->body = p;
	return size * n;
}

/* method on url (absolute, or a path under root); auth adds a key. */
static void request(struct resp *r, const char *method, const char *url,
		    bool form, bool auth)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	curl_mime *mime = NULL;
	char full[2048];
	char *s;

	memset(r, 0, sizeof(*r));
	snprintf(full, sizeof(full), "%s%s", url[0] == '/' ? root : "", url);
	curl_easy_setopt(c, CURLOPT_URL, full);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	if (auth) {
		h = curl_slist_append(h, "Authorization: Bearer sk-test");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	}
	if (form) {
		curl_mimepart *p;

		mime = curl_mime_init(c);
		p = curl_mime_addpart(mime);
		curl_mime_name(p, "model");
		curl_mime_data(p, "veo-3.1", CURL_ZERO_TERMINATED);
		p = curl_mime_addpart(mime);
		curl_mime_name(p, "prompt");
		curl_mime_data(p, "a cow", CURL_ZERO_TERMINATED);
		p = curl_mime_addpart(mime);
		curl_mime_name(p, "seconds");
		curl_mime_data(p, "4", CURL_ZERO_TERMINATED);
		curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
	}
	cr_assert_eq(curl_easy_perform(c), CURLE_OK, "%s %s", method, full);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &s) == CURLE_OK && s)
		snprintf(r->location, sizeof(r->location), "%s", s);
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &s) == CURLE_OK && s)
		snprintf(r->ctype, sizeof(r->ctype), "%s", s);
	curl_mime_free(mime);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

static json_t *body_json(const struct resp *r)
{
	json_error_t e;
	json_t *o = json_loadb(r->body ? r->body : "", r->len, 0, &e);

	cr_assert_not_null(o, "not JSON: %.300s", r->body ? r->body : "");
	return o;
}

static const char *str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	cr_assert(json_is_string(v), "no string %s", key);
	return json_string_value(v);
}

/* The API path of id, percent-encoded as a client does. */
static void path_of(const char *id, const char *tail, char *buf, size_t len)
{
	CURL *c = curl_easy_init();
	char *enc = curl_easy_escape(c, id, 0);

	snprintf(buf, len, "/v1/videos/%s%s", enc, tail);
	curl_free(enc);
	curl_easy_cleanup(c);
}

/* Create a job; its id (from "id" or data.task_id) goes into id. */
static void create(char *id, size_t len)
{
	struct resp r;
	json_t *o, *d;

	request(&r, "POST", "/v1/videos", true, true);
	cr_assert_eq(r.status, 200, "%s", r.body);
	o = body_json(&r);
	d = json_object_get(o, "data");
	snprintf(id, len, "%s", json_is_object(d) ? str(d, "task_id") : str(o, "id"));
	json_decref(o);
	free(r.body);
}

static json_t *poll_id(const char *id, long want_status)
{
	char path[1200];
	struct resp r;
	json_t *o;

	path_of(id, "", path, sizeof(path));
	request(&r, "GET", path, false, true);
	cr_assert_eq(r.status, want_status, "%s", r.body);
	o = body_json(&r);
	free(r.body);
	return o;
}

static void wait_done(void)
{
	usleep(1300 * 1000);
}

/* ---- openai ---- */

Test(dialects, openai_list_pages)
{
	char ids[3][400];
	struct resp r;
	json_t *o, *data;

	start_dialect("openai", 60, NULL);
	for (int i = 0; i < 3; i++)
		create(ids[i], sizeof(ids[i]));
	request(&r, "GET", "/v1/videos?limit=2", false, true);
	cr_assert_eq(r.status, 200);
	o = body_json(&r);
	cr_assert_str_eq(str(o, "object"), "list");
	data = json_object_get(o, "data");
	cr_assert_eq(json_array_size(data), 2);
	/* desc by default: newest first */
	cr_assert_str_eq(str(o, "first_id"), ids[2]);
	cr_assert_str_eq(str(o, "last_id"), ids[1]);
	cr_assert(json_is_true(json_object_get(o, "has_more")));
	json_decref(o);
	free(r.body);

	char q[600];
	snprintf(q, sizeof(q), "/v1/videos?order=desc&limit=2&after=%s", ids[1]);
	request(&r, "GET", q, false, true);
	o = body_json(&r);
	cr_assert_eq(json_array_size(json_object_get(o, "data")), 1);
	cr_assert_str_eq(str(o, "first_id"), ids[0]);
	cr_assert(json_is_false(json_object_get(o, "has_more")));
	json_decref(o);
	free(r.body);

	request(&r, "GET", "/v1/videos?order=asc&limit=1", false, true);
	o = body_json(&r);
	cr_assert_str_eq(str(o, "first_id"), ids[0]);
	json_decref(o);
	free(r.body);

	request(&r, "GET", "/_sim/stats", false, false);
	o = body_json(&r);
	cr_assert_eq(json_integer_value(json_object_get(o, "lists")), 3);
	json_decref(o);
	free(r.body);
}

Test(dialects, openai_failure_and_cancel)
{
	char id[400], path[600];
	struct resp r;
	json_t *o;

	start_dialect("openai", 60, "create=fail-error-objectx1");
	create(id, sizeof(id));
	o = poll_id(id, 200);
	cr_assert_str_eq(str(o, "status"), "failed");
	cr_assert_str_eq(str(json_object_get(o, "error"), "code"),
			 "content_policy_violation");
	cr_assert(json_is_string(json_object_get(json_object_get(o, "error"),
						 "message")));
	json_decref(o);
	create(id, sizeof(id));
	path_of(id, "/content", path, sizeof(path));
	request(&r, "GET", path, false, true);
	cr_assert_eq(r.status, 404, "not ready is 404");
	free(r.body);
	path_of(id, "", path, sizeof(path));
	request(&r, "DELETE", path, false, true);
	cr_assert_eq(r.status, 200);
	o = body_json(&r);
	cr_assert_str_eq(str(o, "object"), "video.deleted");
	cr_assert_str_eq(str(o, "id"), id);
	json_decref(o);
	free(r.body);
	o = poll_id(id, 200);
	cr_assert_str_eq(str(o, "status"), "failed");
	cr_assert_str_eq(str(json_object_get(o, "error"), "code"), "cancelled");
	json_decref(o);
}

/* ---- new-api ---- */

Test(dialects, newapi_shapes)
{
	char a[400], b[400], path[600];
	struct resp r;
	json_t *o;

	start_dialect("newapi", 1, NULL);
	create(a, sizeof(a));
	create(b, sizeof(b));
	cr_assert_eq(strncmp(a, "video_", 6), 0, "%s", a);
	cr_assert_eq(strncmp(b, "task_", 5), 0, "%s", b);
	/* no DELETE route: the job carries on */
	path_of(a, "", path, sizeof(path));
	request(&r, "DELETE", path, false, true);
	cr_assert_eq(r.status, 404);
	cr_assert(strstr(r.body, "Invalid URL (DELETE"));
	free(r.body);
	o = poll_id("task_nosuchtask", 400);
	cr_assert_str_eq(str(o, "code"), "task_not_exist");
	json_decref(o);
	o = poll_id(a, 200);
	cr_assert(strcmp(str(o, "status"), "pending") == 0 ||
		  strcmp(str(o, "status"), "processing") == 0, "%s",
		  str(o, "status"));
	json_decref(o);
	wait_done();
	o = poll_id(b, 200);
	cr_assert_str_eq(str(o, "status"), "completed");
	cr_assert_str_eq(str(o, "task_id"), b);
	json_decref(o);
}

Test(dialects, newapi_failure)
{
	char id[400];
	json_t *o;

	start_dialect("newapi", 60, "create=fail-error-objectx1");
	create(id, sizeof(id));
	o = poll_id(id, 200);
	cr_assert_str_eq(str(o, "status"), "failed");
	cr_assert_str_eq(str(json_object_get(o, "error"), "message"),
			 "content policy violation");
	json_decref(o);
}

Test(dialects, newapi_gemini_progress_strings_and_silent_failure)
{
	char id[400], path[600];
	struct resp r;
	json_t *o;

	start_dialect("newapi-gemini", 60, NULL);
	create(id, sizeof(id));
	cr_assert_eq(strncmp(id, "task_", 5), 0);
	usleep(1100 * 1000);
	o = poll_id(id, 200);
	cr_assert_str_eq(str(o, "progress"), "50%");
	cr_assert_str_eq(str(o, "status"), "in_progress");
	json_decref(o);
	path_of(id, "", path, sizeof(path));
	request(&r, "DELETE", path, false, true);
	cr_assert_eq(r.status, 404);
	free(r.body);
	path_of(id, "/content", path, sizeof(path));
	request(&r, "GET", path, false, true);
	cr_assert_eq(r.status, 400);
	free(r.body);
	stop();

	start_dialect("newapi-gemini", 60, "create=fail-error-objectx1");
	create(id, sizeof(id));
	o = poll_id(id, 200);
	cr_assert_str_eq(str(o, "status"), "failed");
	cr_assert_str_eq(str(o, "progress"), "100%");
	cr_assert_null(json_object_get(o, "error"));
	json_decref(o);
}

Test(dialects, taskdto_envelope)
{
	char id[400];
	struct resp r;
	json_t *o, *d;

	start_dialect("taskdto", 1, NULL);
	create(id, sizeof(id));
	wait_done();
	o = poll_id(id, 200);
	cr_assert_str_eq(str(o, "code"), "success");
	d = json_object_get(o, "data");
	cr_assert_str_eq(str(d, "task_id"), id);
	cr_assert_str_eq(str(d, "status"), "SUCCESS");
	cr_assert_str_eq(str(d, "progress"), "100%");
	request(&r, "GET", str(d, "result_url"), false, false);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.ctype, "video/mp4");
	free(r.body);
	json_decref(o);
	stop();

	start_dialect("taskdto", 60, "create=fail-error-objectx1");
	create(id, sizeof(id));
	o = poll_id(id, 200);
	d = json_object_get(o, "data");
	cr_assert_str_eq(str(d, "status"), "FAILURE");
	cr_assert_str_eq(str(d, "fail_reason"), "content policy violation");
	json_decref(o);
	o = poll_id("task_nope", 400);
	cr_assert_str_eq(str(o, "code"), "task_not_exist");
	json_decref(o);
}

/* ---- LiteLLM ---- */

Test(dialects, litellm_ids_and_failure_as_completed)
{
	char id[400], path[1200];
	struct resp r;
	json_t *o;
	size_t n;

	start_dialect("litellm", 60, "create=fail-error-objectx1");
	create(id, sizeof(id));
	n = strlen(id);
	cr_assert_eq(strncmp(id, "video_", 6), 0);
	cr_assert(n >= 180 && n <= 260, "length %zu", n);
	cr_assert(strchr(id, '=') && strchr(id, '+') && strchr(id, '/'), "%s", id);
	o = poll_id(id, 200);
	cr_assert_str_eq(str(o, "status"), "completed");
	json_decref(o);
	path_of(id, "/content", path, sizeof(path));
	request(&r, "GET", path, false, true);
	cr_assert_eq(r.status, 500);
	cr_assert(strstr(r.body, "content policy violation"), "%s", r.body);
	free(r.body);
	/* no delete on Veo: 500, and the job is untouched */
	create(id, sizeof(id));
	o = poll_id(id, 200);
	cr_assert_str_eq(str(o, "status"), "processing");
	json_decref(o);
	path_of(id, "", path, sizeof(path));
	request(&r, "DELETE", path, false, true);
	cr_assert_eq(r.status, 500);
	free(r.body);
}

/* ---- where the video is ---- */

Test(dialects, redirect_refuses_the_key)
{
	char id[400], path[600];
	struct resp r;

	start_dialect("redirect", 1, NULL);
	create(id, sizeof(id));
	wait_done();
	path_of(id, "/content", path, sizeof(path));
	request(&r, "GET", path, false, true);
	cr_assert_eq(r.status, 302);
	cr_assert(strncmp(r.location, root, strlen(root)) != 0,
		  "another port: %s", r.location);
	free(r.body);
	char loc[1024];
	snprintf(loc, sizeof(loc), "%s", r.location);
	request(&r, "GET", loc, false, true);
	cr_assert_eq(r.status, 403);
	free(r.body);
	request(&r, "GET", loc, false, false);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.ctype, "video/mp4");
	free(r.body);
}

Test(dialects, json_url)
{
	char id[400], path[600];
	struct resp r;
	json_t *o;

	start_dialect("json-url", 1, NULL);
	create(id, sizeof(id));
	wait_done();
	path_of(id, "/content", path, sizeof(path));
	request(&r, "GET", path, false, true);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.ctype, "application/json");
	o = body_json(&r);
	free(r.body);
	request(&r, "GET", str(o, "url"), false, false);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.ctype, "video/mp4");
	free(r.body);
	json_decref(o);
}

static const char *link_of(json_t *o, const char *field)
{
	if (strcmp(field, "data.result_url") == 0)
		return str(json_object_get(o, "data"), "result_url");
	if (strcmp(field, "data.videos[].url") == 0)
		return str(json_array_get(json_object_get(json_object_get(o, "data"),
							  "videos"), 0), "url");
	if (strcmp(field, "unsigned_urls[]") == 0)
		return json_string_value(json_array_get(
			json_object_get(o, "unsigned_urls"), 0));
	return str(o, field);
}

Test(dialects, url_in_status_each_field)
{
	static const char *const fields[] = {
		"video_url", "data.result_url", "data.videos[].url",
		"unsigned_urls[]", "download_url", "content_url",
	};
	char id[400], path[600];
	struct resp r;
	json_t *o;

	for (size_t i = 0; i < 6; i++) {
		struct sim_options opt;
		char err[256];

		sim_options_init(&opt);
		opt.duration = 0;
		opt.dialect = "url-in-status";
		opt.url_field = fields[i];
		sim = sim_start(&opt, err, sizeof(err));
		cr_assert_not_null(sim, "%s", err);
		snprintf(root, sizeof(root), "%s", sim_root_url(sim));
		create(id, sizeof(id));
		o = poll_id(id, 200);
		cr_assert_str_eq(str(o, "status"), "completed");
		request(&r, "GET", link_of(o, fields[i]), false, false);
		cr_assert_eq(r.status, 200, "%s", fields[i]);
		free(r.body);
		json_decref(o);
		path_of(id, "/content", path, sizeof(path));
		request(&r, "GET", path, false, true);
		cr_assert_eq(r.status, 404);
		free(r.body);
		stop();
	}
}

/* ---- progress, jitter, clips ---- */

Test(dialects, progress_none_and_coarse)
{
	struct sim_options opt;
	char err[256], id[400];
	json_t *o;

	sim_options_init(&opt);
	opt.duration = 60;
	opt.progress = SIM_PROGRESS_NONE;
	sim = sim_start(&opt, err, sizeof(err));
	snprintf(root, sizeof(root), "%s", sim_root_url(sim));
	create(id, sizeof(id));
	o = poll_id(id, 200);
	cr_assert_null(json_object_get(o, "progress"));
	json_decref(o);
	stop();

	opt.progress = SIM_PROGRESS_COARSE;
	opt.duration = 4;
	sim = sim_start(&opt, err, sizeof(err));
	snprintf(root, sizeof(root), "%s", sim_root_url(sim));
	create(id, sizeof(id));
	usleep(1200 * 1000);
	o = poll_id(id, 200);
	cr_assert_eq(json_integer_value(json_object_get(o, "progress")), 50);
	json_decref(o);
}

Test(dialects, jitter_is_predictable)
{
	struct sim_options opt;
	char err[256], id[400], path[600];
	struct resp r;
	json_t *o;
	double want;

	cr_assert_eq(sim_job_duration(10, 0, "video_x"), 10);
	want = sim_job_duration(10, 20, "video_x");
	cr_assert(want >= 8 && want <= 12);
	cr_assert_eq(want, sim_job_duration(10, 20, "video_x"));
	sim_options_init(&opt);
	opt.duration = 10;
	opt.jitter_pct = 20;
	sim = sim_start(&opt, err, sizeof(err));
	snprintf(root, sizeof(root), "%s", sim_root_url(sim));
	create(id, sizeof(id));
	snprintf(path, sizeof(path), "/_sim/jobs/%s", id);
	request(&r, "GET", path, false, false);
	o = body_json(&r);
	cr_assert_float_eq(json_real_value(json_object_get(o, "duration")),
			   sim_job_duration(10, 20, id), 1e-9);
	json_decref(o);
	free(r.body);
}

/* The 32-bit big-endian integer at p. */
static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* Duration (seconds) from mvhd and width, height from the first tkhd. */
static void mp4_facts(const unsigned char *b, size_t n, double *secs, int *w,
		      int *h)
{
	*secs = -1;
	*w = *h = -1;
	for (size_t i = 4; i + 100 < n; i++) {
		if (memcmp(b + i, "mvhd", 4) == 0 && *secs < 0) {
			const unsigned char *p = b + i + 4;
			uint32_t scale = p[0] == 0 ? be32(p + 12) : be32(p + 20);
			uint32_t dur = p[0] == 0 ? be32(p + 16) : be32(p + 28);

			*secs = (double)dur / scale;
		}
		if (memcmp(b + i, "tkhd", 4) == 0 && *w < 0) {
			const unsigned char *p = b + i + 4;
			size_t off = p[0] == 0 ? 76 : 88;

			*w = (int)(be32(p + off) >> 16);
			*h = (int)(be32(p + off + 4) >> 16);
		}
	}
}

Test(dialects, clips_follow_seconds_and_size)
{
	static const struct { const char *seconds, *size; int want, portrait; } c[] = {
		{ "4", "16x9", 4, 0 }, { "6", "1280x720", 6, 0 },
		{ "8", "1792x1024", 8, 0 }, { "12", "9x16", 12, 1 },
		{ "4", "720x1280", 4, 1 }, { "10", "1024x1792", 12, 1 },
		{ "5", NULL, 6, 0 }, { NULL, NULL, 8, 0 },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int clip = sim_clip_pick(c[i].seconds, c[i].size);
		int64_t size = sim_clip_video_size(clip, "video_x", 0);
		unsigned char *buf = malloc((size_t)size);
		double secs;
		int w, h;

		cr_assert_eq(sim_clip_seconds(clip), c[i].want);
		cr_assert_eq(sim_clip_video_read(clip, "video_x", 0, 0, buf,
						 (size_t)size), (size_t)size);
		mp4_facts(buf, (size_t)size, &secs, &w, &h);
		cr_assert_float_eq(secs, c[i].want, 0.2, "%s: %f", c[i].seconds, secs);
		if (c[i].portrait)
			cr_assert(h > w, "%dx%d", w, h);
		else
			cr_assert(w > h, "%dx%d", w, h);
		free(buf);
	}
}

/* A download over HTTP has the requested duration (ffprobe, if present). */
Test(dialects, served_video_has_requested_duration)
{
	char id[400], path[600], tmp[] = "/tmp/veofs-sim-clip-XXXXXX", cmd[256];
	struct resp r;
	FILE *p;
	double secs = 0;
	int w = 0, h = 0, fd;

	start_dialect("openai", 0, NULL);
	create(id, sizeof(id));	/* seconds 4, no size: landscape */
	path_of(id, "/content", path, sizeof(path));
	request(&r, "GET", path, false, true);
	cr_assert_eq(r.status, 200);
	fd = mkstemp(tmp);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, r.body, r.len), (ssize_t)r.len);
	close(fd);
	free(r.body);
	if (system("command -v ffprobe >/dev/null 2>&1") != 0) {
		unlink(tmp);
		cr_skip_test("no ffprobe");
	}
	snprintf(cmd, sizeof(cmd), "ffprobe -v error -show_entries "
		 "stream=width,height:format=duration -of csv=p=0 %s", tmp);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	cr_assert_eq(fscanf(p, "%d,%d %lf", &w, &h, &secs), 3);
	pclose(p);
	unlink(tmp);
	cr_assert_float_eq(secs, 4.0, 0.2);
	cr_assert(w > h);
}

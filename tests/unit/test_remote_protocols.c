/* remote_gemini.c and remote_openrouter.c against the simulator speaking
 * each protocol: what reaches the engine is a video object it already
 * reads (video_object.c), and the video is the simulator's bytes. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"
#include "remote_http_shared.h"
#include "remote_protocols.h"
#include "sim.h"
#include "sim_video.h"
#include "video_object.h"

#define KEY "test-key-0123456789abcdef"

static struct sim *sim;
static struct remote *remote;

static void stop(void)
{
	remote_destroy(remote);
	remote = NULL;
	sim_stop(sim);
	sim = NULL;
}

TestSuite(gemini, .fini = stop);
TestSuite(openrouter, .fini = stop);
TestSuite(protocols);

static void start(const char *protocol, const char *fault)
{
	struct sim_options o;
	char err[256], base[256];

	sim_options_init(&o);
	o.duration = 0;
	o.protocol = protocol;
	if (fault)
		cr_assert_eq(sim_parse_fault(&o, fault, err, sizeof(err)), 0, "%s", err);
	sim = sim_start(&o, err, sizeof(err));
	cr_assert_not_null(sim, "%s", err);
	snprintf(base, sizeof(base), "%s%s", sim_root_url(sim), sim_api_path(protocol));
	struct remote_http_options ro = { .base_url = base, .api_key = KEY, .timeout_s = 10 };
	remote = !strcmp(protocol, "gemini") ? remote_gemini_new(&ro, err, sizeof(err)) :
		 remote_openrouter_new(&ro, err, sizeof(err));
	cr_assert_not_null(remote, "%s", err);
}

static void parse(const struct remote_result *res, struct video_object *v)
{
	char err[128];

	cr_assert_not_null(res->body);
	cr_assert_eq(video_object_parse(res->body, res->body_len, v, err, sizeof(err)), 0,
		     "%s: %s", err, res->body);
}

/* create, then the first poll: its video object. */
static char *create_and_poll(const char *model, struct video_object *v)
{
	struct remote_create req = { .model = model, .prompt = "a cat", .seconds = "8",
				     .size = "1280x720" };
	struct remote_result res = {0};
	struct video_object c = {0};

	cr_assert_eq(remote->ops->create(remote, &req, &res), 0, "%s", res.reason);
	parse(&res, &c);
	cr_assert_not_null(c.id);
	char *id = strdup(c.id);
	video_object_free(&c);
	remote_result_clear(&res);
	cr_assert_eq(remote->ops->get(remote, id, &res), 0, "%s", res.reason);
	parse(&res, v);
	cr_assert_str_eq(v->id, id);
	remote_result_clear(&res);
	return id;
}

struct collect {
	char *buf;
	size_t len;
	int64_t total;
};

static int on_start(void *ctx, int64_t total, bool honoured)
{
	((struct collect *)ctx)->total = total;
	return 0;
}

static int on_data(void *ctx, const void *p, size_t n)
{
	struct collect *c = ctx;
	char *b = realloc(c->buf, c->len + n);

	cr_assert_not_null(b);
	memcpy(b + c->len, p, n);
	c->buf = b;
	c->len += n;
	return 0;
}

/* The simulator's bytes for job_id (default clip: 8 s, landscape). */
static void assert_video(const char *job_id, const struct collect *c, int64_t offset)
{
	int clip = sim_clip_pick("8", "1280x720");
	int64_t size = sim_clip_video_size(clip, job_id, 0);
	char *want = malloc((size_t)size);

	cr_assert_eq(sim_clip_video_read(clip, job_id, 0, 0, want, (size_t)size), (size_t)size);
	cr_assert_eq((int64_t)c->len, size - offset);
	cr_assert_eq(memcmp(c->buf, want + offset, c->len), 0);
	free(want);
}

static void download(const char *id, int64_t offset, struct collect *c)
{
	struct remote_sink sink = { .ctx = c, .on_start = on_start, .on_data = on_data };
	struct remote_result res = {0};

	memset(c, 0, sizeof(*c));
	cr_assert_eq(remote->ops->content(remote, id, NULL, offset, -1, 0, &sink, &res), 0,
		     "%s", res.reason);
	remote_result_clear(&res);
}

Test(protocols, model_names)
{
	char buf[64];

	cr_assert_str_eq(remote_gemini_model("veo-3.1"), "veo-3.1-generate-preview");
	cr_assert_str_eq(remote_gemini_model("veo-3.1-fast"), "veo-3.1-fast-generate-preview");
	cr_assert_str_eq(remote_gemini_model("veo-3.1-fast-generate-preview"),
			 "veo-3.1-fast-generate-preview");
	cr_assert_str_eq(remote_gemini_model("veo-2.0-generate-001"), "veo-2.0-generate-001");
	cr_assert_str_eq(remote_openrouter_model("veo-3.1", buf, sizeof(buf)), "google/veo-3.1");
	cr_assert_str_eq(remote_openrouter_model("veo-3.1-fast", buf, sizeof(buf)),
			 "google/veo-3.1-fast");
	cr_assert_str_eq(remote_openrouter_model("google/veo-3.1", buf, sizeof(buf)),
			 "google/veo-3.1");
	cr_assert_str_eq(remote_gemini_aspect("9x16", NULL), "9:16");
	cr_assert_str_eq(remote_gemini_aspect("1280x720", NULL), "16:9");
	cr_assert_null(remote_gemini_aspect(NULL, "veo-3.1"));
}

Test(protocols, escape_keeps_slashes_and_encodes_dot_segments)
{
	char *e = remote_http_escape("models/a.b/operations/x y", true);
	cr_assert_str_eq(e, "models/a.b/operations/x%20y");
	free(e);
	e = remote_http_escape("models/../x/.", true);
	cr_assert_str_eq(e, "models/%2E%2E/x/%2E");
	free(e);
	e = remote_http_escape("a/b", false);
	cr_assert_str_eq(e, "a%2Fb");
	free(e);
}

Test(gemini, operation_to_video_by_uri_without_the_key_at_storage)
{
	struct video_object v = {0};
	struct collect c;

	start("gemini", NULL);
	char *id = create_and_poll("veo-3.1", &v);
	cr_assert(!strncmp(id, "models/veo-3.1-generate-preview/operations/", 43), "%s", id);
	cr_assert_eq(v.state, VIDEO_COMPLETED);
	/* The uri redirects to a listener that refuses x-goog-api-key. */
	download(id, 0, &c);
	assert_video(strrchr(id, '/') + 1, &c, 0);
	free(c.buf);
	download(id, 1000, &c);
	assert_video(strrchr(id, '/') + 1, &c, 1000);
	free(c.buf);
	video_object_free(&v);
	free(id);
}

Test(gemini, inline_video)
{
	struct video_object v = {0};
	struct collect c;

	start("gemini", "create=inline-videox1");
	char *id = create_and_poll(NULL, &v);
	cr_assert_eq(v.state, VIDEO_COMPLETED);
	download(id, 0, &c);
	assert_video(strrchr(id, '/') + 1, &c, 0);
	free(c.buf);
	download(id, 500, &c);
	assert_video(strrchr(id, '/') + 1, &c, 500);
	free(c.buf);
	video_object_free(&v);
	free(id);
}

Test(gemini, operation_error_is_a_failure)
{
	struct video_object v = {0};

	start("gemini", "create=fail-error-objectx1");
	char *id = create_and_poll("veo-3.1", &v);
	cr_assert_eq(v.state, VIDEO_FAILED);
	cr_assert_not_null(v.error);
	cr_assert(strstr(v.error, "code 13"), "%s", v.error);
	video_object_free(&v);
	free(id);
}

Test(gemini, filtered_samples_fail_with_the_reasons)
{
	struct video_object v = {0};

	start("gemini", "create=fail-no-errorx1");
	char *id = create_and_poll("veo-3.1", &v);
	cr_assert_eq(v.state, VIDEO_FAILED);
	cr_assert(strstr(v.error, "safety") && strstr(v.error, "person generation"),
		  "%s", v.error);
	cr_assert_eq(v.progress, -1);
	video_object_free(&v);
	free(id);
}

Test(gemini, unknown_operation_is_not_found_and_cancel_is_accepted)
{
	struct remote_result res = {0};

	start("gemini", NULL);
	cr_assert_eq(remote->ops->get(remote, "models/x/operations/nope", &res), -1);
	cr_assert_eq(res.http_status, 404);
	cr_assert(!res.retryable);
	remote_result_clear(&res);
	cr_assert_eq(remote->ops->remove(remote, "models/x/operations/nope", &res), 0);
	remote_result_clear(&res);
}

Test(gemini, image_url_is_refused_before_sending)
{
	struct remote_create req = { .prompt = "a cat", .image_url = "https://x/y.png" };
	struct remote_result res = {0};

	start("gemini", NULL);
	cr_assert_eq(remote->ops->create(remote, &req, &res), -1);
	cr_assert(res.not_received);
	remote_result_clear(&res);
}

Test(openrouter, job_to_video)
{
	struct video_object v = {0};
	struct collect c;

	start("openrouter", NULL);
	char *id = create_and_poll("veo-3.1", &v);
	cr_assert_eq(v.state, VIDEO_COMPLETED);
	cr_assert_not_null(v.video_url);
	download(id, 0, &c);
	assert_video(id, &c, 0);
	free(c.buf);
	video_object_free(&v);
	free(id);
}

Test(openrouter, create_answer_is_pending)
{
	struct remote_create req = { .model = "veo-3.1-fast", .prompt = "a cat",
				     .seconds = "4", .size = "9x16" };
	struct remote_result res = {0};
	struct video_object v = {0};

	start("openrouter", NULL);
	cr_assert_eq(remote->ops->create(remote, &req, &res), 0, "%s", res.reason);
	cr_assert_eq(res.http_status, 202);
	parse(&res, &v);
	cr_assert_eq(v.state, VIDEO_QUEUED);
	video_object_free(&v);
	remote_result_clear(&res);
}

Test(openrouter, expired_and_failed)
{
	struct video_object v = {0};

	start("openrouter", "create=expiredx1");
	char *id = create_and_poll(NULL, &v);
	cr_assert_eq(v.state, VIDEO_FAILED);
	cr_assert_not_null(v.error);
	video_object_free(&v);
	free(id);
	stop();

	start("openrouter", "create=fail-error-stringx1");
	id = create_and_poll(NULL, &v);
	cr_assert_eq(v.state, VIDEO_FAILED);
	cr_assert(strstr(v.error, "rejected"), "%s", v.error);
	video_object_free(&v);
	free(id);
}

/* What the simulator's create of video_id received (GET /_sim/jobs/ID);
 * for gemini the id is the operation name, whose last part is the job's. */
static json_t *sim_job(const char *video_id)
{
	struct remote_http_options ro = { .base_url = sim_root_url(sim), .timeout_s = 10 };
	struct remote_result res = {0};
	const char *slash = strrchr(video_id, '/');
	char err[256], url[1024];
	struct remote *http = remote_http_new(&ro, err, sizeof(err));
	json_t *o;

	cr_assert_not_null(http, "%s", err);
	snprintf(url, sizeof(url), "%s/_sim/jobs/%s", sim_root_url(sim),
		 slash ? slash + 1 : video_id);
	cr_assert_eq(remote_http_json(http, "GET", url, NULL, &res), 0, "%s", res.reason);
	o = json_loadb(res.body, res.body_len, 0, NULL);
	cr_assert(json_is_object(o), "%.*s", (int)res.body_len, res.body);
	remote_result_clear(&res);
	remote_destroy(http);
	return o;
}

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The create's id, from its answer. */
static char *create_id(const struct remote_create *req)
{
	struct remote_result res = {0};
	struct video_object v = {0};

	cr_assert_eq(remote->ops->create(remote, req, &res), 0, "%s", res.reason);
	parse(&res, &v);
	cr_assert_not_null(v.id);
	char *id = strdup(v.id);
	video_object_free(&v);
	remote_result_clear(&res);
	return id;
}

Test(gemini, resolution_and_negative_prompt_are_parameters)
{
	struct remote_create req = { .model = "veo-3.1", .prompt = "a cat", .seconds = "8",
				     .size = "9x16", .resolution = "1080p",
				     .negative_prompt = "blurry, \"low\" quality" };
	char *id;
	json_t *o;

	start("gemini", NULL);
	id = create_id(&req);
	o = sim_job(id);
	cr_assert_str_eq(jstr(o, "resolution"), "1080p");
	cr_assert_str_eq(jstr(o, "negative_prompt"), "blurry, \"low\" quality");
	cr_assert_str_eq(jstr(o, "size"), "720x1280");
	json_decref(o);
	free(id);
}

Test(gemini, no_resolution_unless_the_front_matter_names_one)
{
	/* 1280x720 is an aspect ratio to the gemini protocol, not a
	 * resolution; an empty negative prompt is none. */
	struct remote_create req = { .prompt = "a cat", .size = "1280x720",
				     .negative_prompt = "" };
	char *id;
	json_t *o;

	start("gemini", NULL);
	id = create_id(&req);
	o = sim_job(id);
	cr_assert(json_is_null(json_object_get(o, "resolution")));
	cr_assert(json_is_null(json_object_get(o, "negative_prompt")));
	json_decref(o);
	free(id);
}

Test(openrouter, front_matter_resolution_overrides_the_sizes)
{
	struct remote_create req = { .model = "veo-3.1", .prompt = "a cat", .seconds = "8",
				     .size = "1280x720", .resolution = "1080p",
				     .negative_prompt = "blurry" };
	char *id;
	json_t *o;

	start("openrouter", NULL);
	id = create_id(&req);
	o = sim_job(id);
	cr_assert_str_eq(jstr(o, "resolution"), "1080p");
	/* OpenRouter's request has no negative prompt: not sent */
	cr_assert(json_is_null(json_object_get(o, "negative_prompt")));
	json_decref(o);
	free(id);

	/* without one, the size still says 720p; 16x9 says nothing */
	req.resolution = NULL;
	id = create_id(&req);
	o = sim_job(id);
	cr_assert_str_eq(jstr(o, "resolution"), "720p");
	json_decref(o);
	free(id);
	req.size = "16x9";
	id = create_id(&req);
	o = sim_job(id);
	cr_assert(json_is_null(json_object_get(o, "resolution")));
	json_decref(o);
	free(id);
}

Test(gemini, a_resolution_the_api_does_not_know_is_refused)
{
	struct remote_create req = { .prompt = "a cat", .resolution = "4k" };
	struct remote_result res = {0};

	start("gemini", NULL);
	cr_assert_eq(remote->ops->create(remote, &req, &res), -1);
	cr_assert_eq(res.http_status, 400);
	cr_assert_not(res.retryable);
	cr_assert(strstr(res.reason, "resolution"), "%s", res.reason);
	remote_result_clear(&res);
}

/* The simulator's chat protocol, asked over HTTP with libcurl as a client
 * would: a stream per style ending in a link to a served clip, the
 * tasklink polling URL, and the stream faults counted as creates. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static struct sim *sim;
static char root[128];

struct resp {
	long status;
	CURLcode rc;
	char *body;
	size_t len;
};

static void stop(void)
{
	sim_stop(sim);
	sim = NULL;
}

TestSuite(chat, .fini = stop);

static void start(const char *style, const char *fault)
{
	struct sim_options o;
	char err[256];

	sim_options_init(&o);
	o.duration = 1;
	o.protocol = "chat";
	o.chat_style = style;
	o.chat_silence_s = 1;
	if (fault)
		cr_assert_eq(sim_parse_fault(&o, fault, err, sizeof(err)), 0, "%s", err);
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

/* GET url (absolute or under root), or POST a chat create when body. */
static void request(struct resp *r, const char *url, const char *body)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char full[1024];

	memset(r, 0, sizeof(*r));
	snprintf(full, sizeof(full), "%s%s", url[0] == '/' ? root : "", url);
	curl_easy_setopt(c, CURLOPT_URL, full);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	if (body) {
		h = curl_slist_append(h, "Content-Type: application/json");
		h = curl_slist_append(h, "Authorization: Bearer sk-test");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	r->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (!r->body)
		r->body = strdup("");
}

static const char create_body[] =
	"{\"model\":\"veo-3.1-fast\",\"stream\":true,\"messages\":"
	"[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a cat\"}]}]}";

static long stat_of(const char *name)
{
	struct resp r;
	json_t *o;
	long v;

	request(&r, "/_sim/stats", NULL);
	o = json_loads(r.body, 0, NULL);
	cr_assert_not_null(o);
	v = (long)json_integer_value(json_object_get(o, name));
	json_decref(o);
	free(r.body);
	return v;
}

/* The text between `after` and the next quote or parenthesis. */
static void text_after(const char *body, const char *after, char *out, size_t len)
{
	const char *p = strstr(body, after);
	size_t n;

	cr_assert_not_null(p, "no %s in %s", after, body);
	p += strlen(after);
	n = strcspn(p, "')\"`");
	cr_assert_lt(n, len);
	memcpy(out, p, n);
	out[n] = '\0';
}

Test(chat, flow2api_streams_progress_then_a_served_link)
{
	struct resp r, v;
	char url[512];

	start(NULL, NULL);
	request(&r, "/v1/chat/completions", create_body);
	cr_assert_eq(r.rc, CURLE_OK);
	cr_assert_eq(r.status, 200);
	cr_assert_not_null(strstr(r.body, "\"reasoning_content\": \"生成进度: "));
	cr_assert_not_null(strstr(r.body, "\"finish_reason\": \"stop\""));
	cr_assert_not_null(strstr(r.body, "data: [DONE]\n\n"));
	text_after(r.body, "<video src='", url, sizeof(url));
	request(&v, url, NULL);
	cr_assert_eq(v.status, 200);
	cr_assert_eq(memcmp(v.body + 4, "ftyp", 4), 0);
	cr_assert_eq(stat_of("creates"), 1);
	cr_assert_eq(stat_of("create_requests"), 1);
	cr_assert_eq(stat_of("streams"), 1);
	free(r.body);
	free(v.body);
}

Test(chat, tasklink_polling_url_answers_during_and_after)
{
	struct resp r, p;
	char url[512];
	json_t *o;

	start("tasklink", NULL);
	request(&r, "/v1/chat/completions", create_body);
	cr_assert_eq(r.status, 200);
	text_after(r.body, "[原始数据](", url, sizeof(url));
	request(&p, url, NULL);
	o = json_loads(p.body, 0, NULL);
	cr_assert_not_null(o, "%s", p.body);
	cr_assert_str_eq(json_string_value(json_object_get(o, "status")), "completed");
	cr_assert(json_is_false(json_object_get(o, "running")));
	cr_assert_not_null(strstr(r.body, json_string_value(json_object_get(o, "video_url"))));
	cr_assert_eq(stat_of("polls"), 1);
	json_decref(o);
	free(r.body);
	free(p.body);
}

Test(chat, a_dropped_stream_still_made_one_job)
{
	struct resp r;

	start("markdown", "create=drop-mid-progressx1");
	request(&r, "/v1/chat/completions", create_body);
	cr_assert_eq(r.status, 200);
	cr_assert_neq(r.rc, CURLE_OK);
	cr_assert_null(strstr(r.body, "[DONE]"));
	cr_assert_eq(stat_of("creates"), 1);
	cr_assert_eq(stat_of("create_requests"), 1);
	free(r.body);
}

Test(chat, stream_error_fails_the_job_after_200)
{
	struct resp r, j;
	char id[128];

	start("tasklink", "create=stream-errorx1");
	request(&r, "/v1/chat/completions", create_body);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(r.rc, CURLE_OK);
	cr_assert_not_null(strstr(r.body, "data: {\"error\":{\"message\":"));
	text_after(r.body, "任务ID: `", id, sizeof(id));
	char path[256];
	snprintf(path, sizeof(path), "/_sim/jobs/%s", id);
	request(&j, path, NULL);
	cr_assert_not_null(strstr(j.body, "\"status\":\"failed\""), "%s", j.body);
	cr_assert_eq(stat_of("creates"), 1);
	free(r.body);
	free(j.body);
}

Test(chat, refusals_and_http_errors_create_nothing)
{
	struct resp r;

	start("sora2api", "create=429x1");
	request(&r, "/v1/chat/completions", create_body);
	cr_assert_eq(r.status, 429);
	free(r.body);
	request(&r, "/v1/chat/completions",
		"{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[]}");
	cr_assert_eq(r.status, 400);
	free(r.body);
	cr_assert_eq(stat_of("creates"), 0);
	cr_assert_eq(stat_of("create_requests"), 2);
}

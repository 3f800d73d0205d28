/* The chat route's event-stream parser: every sample is fed whole, split at
 * every byte position, and one byte at a time, and must give the same
 * events each way. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_sse.h"

struct got {
	char all[8192];   /* each event as "TYPE|DATA" followed by '#' */
	int events;
	int stop_after;   /* stop (return 7) after this many; 0 never */
};

static int collect(void *ctx, const char *event, const char *data, size_t len)
{
	struct got *g = ctx;
	size_t n = strlen(g->all);

	cr_assert_eq(strlen(data), len, "data is NUL-terminated at len");
	snprintf(g->all + n, sizeof(g->all) - n, "%s|%.*s#", event, (int)len, data);
	g->events++;
	return g->stop_after && g->events >= g->stop_after ? 7 : 0;
}

/* Feeds s in pieces cut at the given positions (ascending, may be empty). */
static int run_cuts(const char *s, size_t len, const size_t *cuts, int ncuts,
		    size_t max, struct got *g)
{
	struct chat_sse p;
	size_t at = 0;
	int rc = 0;

	memset(g->all, 0, sizeof(g->all));
	g->events = 0;
	chat_sse_init(&p, max, collect, g);
	for (int i = 0; i <= ncuts && rc == 0; i++) {
		size_t to = i < ncuts ? cuts[i] : len;
		rc = chat_sse_feed(&p, s + at, to - at);
		at = to;
	}
	if (rc == 0)
		rc = chat_sse_finish(&p);
	chat_sse_free(&p);
	return rc;
}

/* The sample gives `want` (and `want_rc`) however it is cut. */
static void check_all_splits(const char *s, size_t len, const char *want, int want_rc)
{
	struct got g = { 0 };
	int rc = run_cuts(s, len, NULL, 0, 0, &g);

	cr_assert_eq(rc, want_rc, "whole: rc %d", rc);
	cr_assert_str_eq(g.all, want, "whole");
	for (size_t cut = 0; cut <= len; cut++) {
		rc = run_cuts(s, len, &cut, 1, 0, &g);
		cr_assert_eq(rc, want_rc, "cut at %zu: rc %d", cut, rc);
		cr_assert_str_eq(g.all, want, "cut at %zu", cut);
	}
	for (size_t a = 0; a <= len && len < 300; a += 3) {
		for (size_t b = a; b <= len; b += 5) {
			size_t cuts[2] = { a, b };
			rc = run_cuts(s, len, cuts, 2, 0, &g);
			cr_assert_str_eq(g.all, want, "cuts at %zu, %zu", a, b);
		}
	}
	size_t *every = malloc((len + 1) * sizeof(*every));
	for (size_t i = 0; i < len; i++)
		every[i] = i;
	rc = run_cuts(s, len, every, (int)len, 0, &g);
	free(every);
	cr_assert_eq(rc, want_rc);
	cr_assert_str_eq(g.all, want, "byte by byte");
}

#define CHECK(s, want) check_all_splits(s, sizeof(s) - 1, want, 0)

Test(chat_sse, openai_chunks_and_done)
{
	/* OpenAI's own framing: one data line per event, [DONE] last. */
	CHECK("data: {\"a\":1}\n\ndata: {\"b\":2}\n\ndata: [DONE]\n\n",
	      "|{\"a\":1}#|{\"b\":2}#|[DONE]#");
}

Test(chat_sse, crlf_and_cr_line_ends)
{
	CHECK("data: x\r\n\r\ndata: y\r\rdata: z\n\n", "|x#|y#|z#");
	/* mixed in one event */
	CHECK("data: a\rdata: b\r\ndata: c\n\r\n", "|a\nb\nc#");
}

Test(chat_sse, multi_line_data_joined_with_lf)
{
	CHECK("data: one\ndata: two\ndata:three\ndata\n\n", "|one\ntwo\nthree\n#");
}

Test(chat_sse, comments_and_other_fields)
{
	/* keep-alive comments (": ping"), id and retry mean nothing here */
	CHECK(": ping\n\n:\nid: 5\nretry: 100\ndata: x\n: between\n\n",
	      "|x#");
	CHECK("event: error\ndata: {\"error\":\"no\"}\n\ndata: after\n\n",
	      "error|{\"error\":\"no\"}#|after#");
}

Test(chat_sse, empty_events_are_not_dispatched)
{
	CHECK("\n\n\n: c\n\nevent: x\n\ndata:\n\n", "|#");
}

Test(chat_sse, one_space_after_colon_dropped)
{
	CHECK("data:  two spaces\n\ndata:none\n\n", "| two spaces#|none#");
}

Test(chat_sse, bom_at_start_only)
{
	CHECK("\xef\xbb\xbf" "data: x\n\n", "|x#");
	/* A BOM later is data, and a lone start of one is given back. */
	CHECK("data: \xef\xbb\xbfx\n\n", "|\xef\xbb\xbfx#");
	CHECK("\xef\xbb" "data: x\n\n", "");
}

Test(chat_sse, last_event_without_blank_line)
{
	/* routers that end with "data: [DONE]" and close */
	CHECK("data: a\n\ndata: [DONE]", "|a#|[DONE]#");
	CHECK("data: a\n\ndata: [DONE]\n", "|a#|[DONE]#");
	CHECK("data: a\r", "|a#");
}

Test(chat_sse, utf8_split_anywhere)
{
	CHECK("data: {\"content\":\"视频生成中... 36%\"}\n\n",
	      "|{\"content\":\"视频生成中... 36%\"}#");
}

Test(chat_sse, callback_stop_is_returned_and_sticks)
{
	static const char s[] = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
	struct chat_sse p;
	struct got g = { .stop_after = 2 };

	chat_sse_init(&p, 0, collect, &g);
	cr_assert_eq(chat_sse_feed(&p, s, sizeof(s) - 1), 7);
	cr_assert_eq(g.events, 2);
	cr_assert_eq(chat_sse_feed(&p, "data: 4\n\n", 9), 7);
	cr_assert_eq(chat_sse_finish(&p), 7);
	cr_assert_eq(g.events, 2);
	chat_sse_free(&p);
}

Test(chat_sse, oversized_event_is_an_error)
{
	struct chat_sse p;
	struct got g = { 0 };
	char chunk[1000];

	memset(chunk, 'x', sizeof(chunk));
	chat_sse_init(&p, 4096, collect, &g);
	cr_assert_eq(chat_sse_feed(&p, "data: ok\n\n", 10), 0);
	/* many data lines, each small, that add up past the limit */
	int rc = 0;
	for (int i = 0; i < 10 && rc == 0; i++) {
		rc = chat_sse_feed(&p, "data: ", 6);
		if (rc == 0)
			rc = chat_sse_feed(&p, chunk, sizeof(chunk));
		if (rc == 0)
			rc = chat_sse_feed(&p, "\n", 1);
	}
	cr_assert_eq(rc, CHAT_SSE_TOO_BIG);
	cr_assert_eq(chat_sse_feed(&p, "\n\ndata: more\n\n", 14), CHAT_SSE_TOO_BIG);
	cr_assert_eq(chat_sse_finish(&p), CHAT_SSE_TOO_BIG);
	cr_assert_eq(g.events, 1);
	chat_sse_free(&p);

	/* one endless line, never ended: cut at the limit, not buffered */
	memset(&g, 0, sizeof(g));
	chat_sse_init(&p, 4096, collect, &g);
	rc = 0;
	for (int i = 0; i < 100 && rc == 0; i++)
		rc = chat_sse_feed(&p, chunk, sizeof(chunk));
	cr_assert_eq(rc, CHAT_SSE_TOO_BIG);
	cr_assert_leq(p.line.cap, 8192);
	chat_sse_free(&p);

	/* the default limit is 1 MiB */
	chat_sse_init(&p, 0, collect, &g);
	cr_assert_eq(p.max, 1u << 20);
	chat_sse_free(&p);
}

Test(chat_sse, limit_counts_only_the_current_event)
{
	struct chat_sse p;
	struct got g = { 0 };
	char line[200];

	memset(line, 'y', sizeof(line));
	chat_sse_init(&p, 512, collect, &g);
	for (int i = 0; i < 50; i++) {
		cr_assert_eq(chat_sse_feed(&p, "data: ", 6), 0);
		cr_assert_eq(chat_sse_feed(&p, line, sizeof(line)), 0);
		cr_assert_eq(chat_sse_feed(&p, "\n\n", 2), 0);
	}
	cr_assert_eq(g.events, 50);
	chat_sse_free(&p);
}

Test(chat_sse, body_is_json)
{
	bool decided;

	cr_assert(chat_sse_body_is_json("application/json", "{\"id\":1}", 8, &decided));
	cr_assert(decided);
	/* a server that ignored "stream" but labels it as a stream */
	cr_assert(chat_sse_body_is_json("text/event-stream", " \n{\"id\"", 7, &decided));
	cr_assert(chat_sse_body_is_json(NULL, "\xef\xbb\xbf{", 4, &decided));
	cr_assert_not(chat_sse_body_is_json("application/json", "data: {}", 8, &decided));
	cr_assert(decided);
	cr_assert_not(chat_sse_body_is_json("text/event-stream", ": hi", 4, &decided));
	cr_assert_not(chat_sse_body_is_json("text/event-stream", "event: x", 8, &decided));
	/* not enough yet */
	chat_sse_body_is_json("application/json", "  \n", 3, &decided);
	cr_assert_not(decided);
	chat_sse_body_is_json("application/json", "da", 2, &decided);
	cr_assert_not(decided);
	chat_sse_body_is_json("application/json", "\xef", 1, &decided);
	cr_assert_not(decided);
	/* anything else: the Content-Type */
	cr_assert(chat_sse_body_is_json("application/json; charset=utf-8", "oops", 4, &decided));
	cr_assert_not(chat_sse_body_is_json("text/plain", "oops", 4, &decided));
}

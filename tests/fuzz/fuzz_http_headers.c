/* Every byte of a server's header block reaches these parsers, through
 * libcurl's header callback, before anything is decided about the answer.
 * The input is fed line by line to the header parser as one answer (or
 * several, with status lines between), and whole to each value parser.
 * Besides memory safety the fuzzer checks what they promise: statuses of
 * three digits, texts without control characters, lengths and ranges that
 * are consistent and overflow nothing, waits within 0..24 h or -1. */
#include "fuzz.h"
#include "http_headers.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sun, 06 Nov 1994 08:49:37 GMT: fixed, so a finding replays the same. */
#define NOW ((time_t)784111777)

static void check_text(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	if (n == size)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			abort();
}

static void check_wait(long ms)
{
	if (ms < -1 || ms > HTTP_WAIT_MAX_MS)
		abort();
}

static void check_range(const struct http_range *r)
{
	if (r->unsatisfied) {
		if (r->start || r->end || r->total < 0)
			abort();
		return;
	}
	if (r->start < 0 || r->end < r->start || r->end == INT64_MAX ||
	    r->total < -1 || (r->total >= 0 && r->end >= r->total))
		abort();
	/* what a download computes from it must not overflow */
	if (r->end - r->start + 1 <= 0)
		abort();
}

static void check_answer(const struct http_answer *a)
{
	if (a->status != 0 && (a->status < 100 || a->status > 999))
		abort();
	check_text(a->status_text, sizeof(a->status_text));
	check_text(a->content_type, sizeof(a->content_type));
	if (a->content_length < -1)
		abort();
	if ((a->length_conflict || !a->length_seen) && a->content_length != -1)
		abort();
	if (a->has_range) {
		if (!a->range_seen || a->range_conflict)
			abort();
		check_range(&a->range);
	}
	check_wait(a->retry_after_ms);
	check_wait(a->retry_after_ms_exact);
	check_wait(a->poll_after_ms);
	check_wait(http_answer_wait_ms(a));
}

static void fuzz_block(const uint8_t *data, size_t size)
{
	struct http_header_parser p;
	const char *s = (const char *)data, *end = s + size;

	http_header_parser_init(&p);
	check_answer(&p.ans);
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) + 1 : (size_t)(end - s);

		http_header_parser_line(&p, s, n, NOW);
		check_answer(&p.ans);
		s += n;
	}
}

static void fuzz_values(const uint8_t *data, size_t size)
{
	const char *v = (const char *)data;
	struct http_range r;
	int64_t n = -2;

	check_wait(http_retry_after_parse(v, size, NOW));
	check_wait(http_wait_ms_parse(v, size));
	if (http_content_length_parse(v, size, &n) && n < 0)
		abort();
	if (http_content_range_parse(v, size, &r)) {
		check_range(&r);
		/* what was read, written canonically, reads the same */
		char again[96];
		struct http_range r2;
		if (r.unsatisfied)
			snprintf(again, sizeof(again), "bytes */%" PRId64, r.total);
		else if (r.total < 0)
			snprintf(again, sizeof(again), "bytes %" PRId64 "-%" PRId64 "/*",
				 r.start, r.end);
		else
			snprintf(again, sizeof(again), "bytes %" PRId64 "-%" PRId64 "/%" PRId64,
				 r.start, r.end, r.total);
		if (!http_content_range_parse(again, strlen(again), &r2) ||
		    memcmp(&r, &r2, sizeof(r)) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_block(data, size);
	fuzz_values(data, size);
	return 0;
}

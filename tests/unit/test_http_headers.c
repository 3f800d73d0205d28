/* The response-header parsers on the inputs servers and gateways really
 * send, and on the ones they should not. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_headers.h"

/* Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example date */
#define EXAMPLE_DATE ((time_t)784111777)

static struct http_header_parser parser;

/* Feed a header block, one line per '\n'-terminated piece (the '\n' and
 * any '\r' stay on the line, as libcurl hands them over). */
static void feed_n(const char *block, size_t len)
{
	const char *p = block, *end = block + len;

	http_header_parser_init(&parser);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		http_header_parser_line(&parser, p, n, EXAMPLE_DATE);
		p += n;
	}
}

static void feed(const char *block)
{
	feed_n(block, strlen(block));
}

static const struct http_answer *ans(void)
{
	return &parser.ans;
}

static long retry_after(const char *v)
{
	return http_retry_after_parse(v, strlen(v), EXAMPLE_DATE);
}

static long wait_ms(const char *v)
{
	return http_wait_ms_parse(v, strlen(v));
}

static bool length(const char *v, int64_t *out)
{
	return http_content_length_parse(v, strlen(v), out);
}

static bool range(const char *v, struct http_range *out)
{
	return http_content_range_parse(v, strlen(v), out);
}

/* ---- status line ---- */

Test(http_headers, status_line_and_fields)
{
	feed("HTTP/1.1 206 Partial Content\r\n"
	     "Content-Type: video/mp4\r\n"
	     "Content-Length: 500\r\n"
	     "Content-Range: bytes 1000-1499/100000\r\n"
	     "\r\n");
	cr_assert_eq(ans()->status, 206);
	cr_assert_str_eq(ans()->status_text, "Partial Content");
	cr_assert_str_eq(ans()->content_type, "video/mp4");
	cr_assert_eq(ans()->content_length, 500);
	cr_assert(ans()->has_range);
	cr_assert_eq(ans()->range.start, 1000);
	cr_assert_eq(ans()->range.end, 1499);
	cr_assert_eq(ans()->range.total, 100000);
	cr_assert_eq(http_answer_wait_ms(ans()), -1);
}

Test(http_headers, nothing_fed_is_nothing_known)
{
	feed("");
	cr_assert_eq(ans()->status, 0);
	cr_assert_str_eq(ans()->status_text, "");
	cr_assert_eq(ans()->content_length, -1);
	cr_assert(!ans()->has_range);
	cr_assert_eq(http_answer_wait_ms(ans()), -1);
	http_header_parser_line(&parser, "", 0, EXAMPLE_DATE);
	cr_assert_eq(ans()->status, 0);
}

Test(http_headers, http2_status_line_without_reason)
{
	/* libcurl's own rendering of an HTTP/2 status */
	feed("HTTP/2 429 \r\ncontent-type: application/json\r\nretry-after: 3\r\n");
	cr_assert_eq(ans()->status, 429);
	cr_assert_str_eq(ans()->status_text, "");
	cr_assert_str_eq(ans()->content_type, "application/json");
	cr_assert_eq(http_answer_wait_ms(ans()), 3000);
}

Test(http_headers, bad_status_codes_are_unknown)
{
	static const char *const lines[] = {
		"HTTP/1.1 99999999999999999999 Big\r\n",
		"HTTP/1.1 20 Short\r\n",
		"HTTP/1.1 2000 Long\r\n",
		"HTTP/1.1 -200 Negative\r\n",
		"HTTP/1.1 099 Low\r\n",
		"HTTP/1.1\r\n",
		"HTTP/\r\n",
		"HTTP/1.1 2x0 Letters\r\n",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		feed(lines[i]);
		cr_assert_eq(ans()->status, 0, "%s", lines[i]);
	}
	feed("HTTP/1.1 999 Odd\r\n");
	cr_assert_eq(ans()->status, 999);
}

Test(http_headers, a_new_status_line_forgets_the_previous_answer)
{
	/* a redirect, then the answer that counts */
	feed("HTTP/1.1 302 Found\r\n"
	     "Content-Type: text/html\r\n"
	     "Content-Length: 10\r\n"
	     "Retry-After: 60\r\n"
	     "Content-Range: bytes 0-9/10\r\n"
	     "\r\n"
	     "HTTP/1.1 200 OK\r\n"
	     "Content-Type: video/mp4\r\n"
	     "\r\n");
	cr_assert_eq(ans()->status, 200);
	cr_assert_str_eq(ans()->content_type, "video/mp4");
	cr_assert_eq(ans()->content_length, -1);
	cr_assert(!ans()->length_seen);
	cr_assert(!ans()->has_range);
	cr_assert_eq(http_answer_wait_ms(ans()), -1);
}

Test(http_headers, status_text_is_one_clean_line)
{
	static const char line[] = "HTTP/1.1 503 Slow\x01\x7f" "Down\0now\r\n";
	feed_n(line, sizeof(line) - 1);
	cr_assert_eq(ans()->status, 503);
	cr_assert_str_eq(ans()->status_text, "Slow  Down now");
}

Test(http_headers, long_status_text_is_cut_between_characters)
{
	char line[128];
	/* "é" is two bytes; 46 bytes of 'a' put one across the 47-byte cut */
	snprintf(line, sizeof(line), "HTTP/1.1 500 %.46s\xc3\xa9tail\r\n",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	feed(line);
	cr_assert_eq(strlen(ans()->status_text), 46);
	cr_assert_eq(ans()->status_text[45], 'a');
}

/* ---- field lines ---- */

Test(http_headers, names_are_case_insensitive_and_exact)
{
	feed("HTTP/1.1 200 OK\r\nCONTENT-LENGTH: 7\r\n");
	cr_assert_eq(ans()->content_length, 7);
	feed("HTTP/1.1 200 OK\r\nContent-Length-Extra: 7\r\n");
	cr_assert_eq(ans()->content_length, -1);
	feed("HTTP/1.1 200 OK\r\nX-Content-Length: 7\r\n");
	cr_assert_eq(ans()->content_length, -1);
	/* no blank between name and colon (RFC 9112 5.1) */
	feed("HTTP/1.1 200 OK\r\nContent-Length : 7\r\n");
	cr_assert_eq(ans()->content_length, -1);
	feed("HTTP/1.1 200 OK\r\n: 7\r\nno colon at all\r\n");
	cr_assert_eq(ans()->content_length, -1);
}

Test(http_headers, a_nul_in_the_name_is_not_a_shorter_name)
{
	static const char block[] = "HTTP/1.1 200 OK\r\nContent-Length\0junk: 99\r\n";
	feed_n(block, sizeof(block) - 1);
	cr_assert_eq(ans()->content_length, -1);
	cr_assert(!ans()->length_seen);
}

Test(http_headers, a_nul_in_a_value_makes_it_invalid)
{
	static const char block[] = "HTTP/1.1 200 OK\r\n"
				    "Content-Length: 5\0" "00\r\n"
				    "Retry-After: 5\0\r\n"
				    "Content-Type: video/mp4\0json\r\n";
	feed_n(block, sizeof(block) - 1);
	cr_assert_eq(ans()->content_length, -1);
	cr_assert_eq(ans()->retry_after_ms, -1);
	/* blanked, not cut: what follows the NUL is still seen */
	cr_assert_str_eq(ans()->content_type, "video/mp4 json");
}

Test(http_headers, lf_only_and_missing_line_ends)
{
	feed("HTTP/1.1 200 OK\nContent-Length: 12\n");
	cr_assert_eq(ans()->content_length, 12);
	http_header_parser_line(&parser, "Retry-After: 2", 14, EXAMPLE_DATE);
	cr_assert_eq(ans()->retry_after_ms, 2000);
}

Test(http_headers, huge_lines_do_not_overflow_or_get_cut_into_sense)
{
	size_t n = 1 << 20;
	char *line = malloc(n);
	cr_assert_not_null(line);

	/* a value that is valid only if cut at the buffer size */
	memset(line, ' ', n);
	memcpy(line, "Retry-After: 1", 14);
	memcpy(line + n - 6, "junk\r\n", 6);
	feed("HTTP/1.1 429 Too Many\r\n");
	http_header_parser_line(&parser, line, n, EXAMPLE_DATE);
	cr_assert_eq(ans()->retry_after_ms, -1);

	memset(line, '9', n);
	memcpy(line, "Content-Length: ", 16);
	http_header_parser_line(&parser, line, n, EXAMPLE_DATE);
	cr_assert_eq(ans()->content_length, -1);

	memset(line, 'x', n);
	memcpy(line, "Content-Type: ", 14);
	http_header_parser_line(&parser, line, n, EXAMPLE_DATE);
	cr_assert_eq(strlen(ans()->content_type), sizeof(ans()->content_type) - 1);

	memset(line, 'A', n);
	memcpy(line, "HTTP/1.1 200 ", 13);
	http_header_parser_line(&parser, line, n, EXAMPLE_DATE);
	cr_assert_eq(ans()->status, 200);
	cr_assert_eq(strlen(ans()->status_text), sizeof(ans()->status_text) - 1);
	free(line);
}

Test(http_headers, folded_lines_are_joined_with_a_space)
{
	feed("HTTP/1.1 200 OK\r\n"
	     "Content-Type: application/\r\n"
	     "\tjson\r\n");
	cr_assert_str_eq(ans()->content_type, "application/ json");

	/* RFC 9112 5.2: an empty first line, the value on the next */
	feed("HTTP/1.1 429 Too Many\r\nRetry-After:\r\n 5\r\n");
	cr_assert_eq(ans()->retry_after_ms, 5000);

	/* joined, "5 6" is no number; and the fold is no second field */
	feed("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n 6\r\n");
	cr_assert_eq(ans()->content_length, -1);
	cr_assert(!ans()->length_conflict);

	/* a fold after an unknown field, or before any, is ignored */
	feed("HTTP/1.1 200 OK\r\nX-Other: a\r\n Content-Length: 5\r\n");
	cr_assert_eq(ans()->content_length, -1);
	feed("HTTP/1.1 200 OK\r\n Content-Length: 5\r\n");
	cr_assert_eq(ans()->content_length, -1);
}

Test(http_headers, a_folded_value_too_long_is_not_trusted)
{
	char block[1024];
	char spaces[300];
	memset(spaces, ' ', sizeof(spaces) - 1);
	spaces[sizeof(spaces) - 1] = '\0';
	/* "7" then 250 blanks then "0" would read 7 if cut */
	snprintf(block, sizeof(block), "HTTP/1.1 429 X\r\nretry-after-ms: 7%.250s\r\n 0\r\n",
		 spaces);
	feed(block);
	cr_assert_eq(ans()->retry_after_ms_exact, -1);
	snprintf(block, sizeof(block), "HTTP/1.1 429 X\r\nretry-after-ms: 7\r\n%.250sx\r\n %.250sy\r\n",
		 spaces, spaces);
	feed(block);
	cr_assert_eq(ans()->retry_after_ms_exact, -1);
}

/* ---- repeated fields ---- */

Test(http_headers, repeated_content_length)
{
	feed("HTTP/1.1 200 OK\r\nContent-Length: 42\r\nContent-Length: 42\r\n");
	cr_assert_eq(ans()->content_length, 42);
	cr_assert(!ans()->length_conflict);

	feed("HTTP/1.1 200 OK\r\nContent-Length: 42, 42\r\n");
	cr_assert_eq(ans()->content_length, 42);

	feed("HTTP/1.1 200 OK\r\nContent-Length: 42\r\nContent-Length: 43\r\n");
	cr_assert_eq(ans()->content_length, -1);
	cr_assert(ans()->length_conflict);

	/* once in conflict, agreeing again does not undo it */
	feed("HTTP/1.1 200 OK\r\nContent-Length: 42\r\nContent-Length: 43\r\n"
	     "Content-Length: 42\r\n");
	cr_assert(ans()->length_conflict);

	feed("HTTP/1.1 200 OK\r\nContent-Length: 42\r\nContent-Length: x\r\n");
	cr_assert(ans()->length_conflict);

	/* one invalid value alone: unknown length, no contradiction */
	feed("HTTP/1.1 200 OK\r\nContent-Length: x\r\n");
	cr_assert_eq(ans()->content_length, -1);
	cr_assert(ans()->length_seen);
	cr_assert(!ans()->length_conflict);
}

Test(http_headers, repeated_content_range)
{
	feed("HTTP/1.1 206 P\r\nContent-Range: bytes 0-9/10\r\n"
	     "content-range: BYTES 0-9/10\r\n");
	cr_assert(ans()->has_range);
	cr_assert(!ans()->range_conflict);

	feed("HTTP/1.1 206 P\r\nContent-Range: bytes 0-9/10\r\n"
	     "Content-Range: bytes 0-9/11\r\n");
	cr_assert(!ans()->has_range);
	cr_assert(ans()->range_conflict);
	cr_assert_eq(ans()->range.total, -1);

	feed("HTTP/1.1 206 P\r\nContent-Range: nonsense\r\n"
	     "Content-Range: bytes 0-9/10\r\n");
	cr_assert(!ans()->has_range);
	cr_assert(ans()->range_conflict);
}

Test(http_headers, repeated_wait_hints_count_their_longest)
{
	feed("HTTP/1.1 429 X\r\nRetry-After: 2\r\nRetry-After: 30\r\nRetry-After: 1\r\n"
	     "Retry-After: soon\r\n");
	cr_assert_eq(ans()->retry_after_ms, 30000);
	feed("HTTP/1.1 429 X\r\nContent-Type: text/html\r\nContent-Type: application/json\r\n");
	cr_assert_str_eq(ans()->content_type, "application/json");
}

Test(http_headers, which_wait_hint_wins)
{
	feed("HTTP/1.1 429 X\r\nRetry-After: 7\r\nretry-after-ms: 300\r\n");
	cr_assert_eq(http_answer_wait_ms(ans()), 300);
	feed("HTTP/1.1 200 OK\r\nopenai-poll-after-ms: 5000\r\nretry-after-ms: 300\r\n");
	cr_assert_eq(http_answer_wait_ms(ans()), 5000);
	feed("HTTP/1.1 200 OK\r\nopenai-poll-after-ms: 100\r\nRetry-After: 2\r\n");
	cr_assert_eq(http_answer_wait_ms(ans()), 2000);
	feed("HTTP/1.1 200 OK\r\nopenai-poll-after-ms: 100\r\n");
	cr_assert_eq(http_answer_wait_ms(ans()), 100);
	feed("HTTP/1.1 429 X\r\nRetry-After: later\r\n");
	cr_assert_eq(http_answer_wait_ms(ans()), -1);
}

/* ---- Retry-After and the millisecond hints ---- */

Test(http_headers, retry_after_seconds)
{
	cr_assert_eq(retry_after("0"), 0);
	cr_assert_eq(retry_after("5"), 5000);
	cr_assert_eq(retry_after("  120\t"), 120000);
	cr_assert_eq(retry_after("1.5"), 1500);
	cr_assert_eq(retry_after("0.0015"), 1);
	cr_assert_eq(retry_after("007"), 7000);
	cr_assert_eq(retry_after("86400"), HTTP_WAIT_MAX_MS);
	cr_assert_eq(retry_after("86401"), HTTP_WAIT_MAX_MS);
	cr_assert_eq(retry_after("99999999999999999999999999999999"), HTTP_WAIT_MAX_MS);
}

Test(http_headers, retry_after_rejects_what_is_no_delay)
{
	static const char *const bad[] = {
		"", " ", "-1", "+5", "1e3", "0x10", "inf", "nan", "INF", "5 s",
		"5s", ".5", "1,5", "1.5.5", "- 5", "\xef\xbc\x95", "5\r\n6",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(retry_after(bad[i]), -1, "'%s'", bad[i]);
	cr_assert_eq(http_retry_after_parse("5", 0, EXAMPLE_DATE), -1);
	cr_assert_eq(http_retry_after_parse("5\0", 2, EXAMPLE_DATE), -1);
}

Test(http_headers, retry_after_http_date)
{
	/* the three HTTP-date forms, two minutes ahead */
	cr_assert_eq(http_retry_after_parse("Sun, 06 Nov 1994 08:51:37 GMT", 29,
					    EXAMPLE_DATE), 120000);
	cr_assert_eq(retry_after("Sunday, 06-Nov-94 08:51:37 GMT"), 120000);
	cr_assert_eq(retry_after("Sun Nov  6 08:51:37 1994"), 120000);
	/* now, and in the past: no wait */
	cr_assert_eq(retry_after("Sun, 06 Nov 1994 08:49:37 GMT"), 0);
	cr_assert_eq(retry_after("Thu, 01 Jan 1970 00:00:01 GMT"), 0);
	/* far ahead: capped */
	cr_assert_eq(retry_after("Fri, 31 Dec 2094 23:59:59 GMT"), HTTP_WAIT_MAX_MS);
	cr_assert_eq(retry_after("Mon, 07 Nov 1994 08:49:37 GMT"), HTTP_WAIT_MAX_MS);
	cr_assert_eq(retry_after("Mon, 07 Nov 1994 08:49:36 GMT"), HTTP_WAIT_MAX_MS - 1000);
}

Test(http_headers, retry_after_bad_dates)
{
	char big[200];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "Sun, 06 Nov 1994 08:51:37 GMT ", 30);
	cr_assert_eq(retry_after(big), -1);
	cr_assert_eq(retry_after("tomorrow"), -1);
	cr_assert_eq(retry_after("Sun, 06 Nov"), -1);
	static const char nul[] = "Sun, 06 Nov 1994 08:51:37\0GMT";
	cr_assert_eq(http_retry_after_parse(nul, sizeof(nul) - 1, EXAMPLE_DATE), -1);
}

Test(http_headers, millisecond_hints)
{
	cr_assert_eq(wait_ms("300"), 300);
	cr_assert_eq(wait_ms(" 1500.7 "), 1500);
	cr_assert_eq(wait_ms("0"), 0);
	cr_assert_eq(wait_ms("86400000"), HTTP_WAIT_MAX_MS);
	cr_assert_eq(wait_ms("9223372036854775808"), HTTP_WAIT_MAX_MS);
	cr_assert_eq(wait_ms("-300"), -1);
	cr_assert_eq(wait_ms("1e3"), -1);
	cr_assert_eq(wait_ms("nan"), -1);
	cr_assert_eq(wait_ms(""), -1);
	cr_assert_eq(wait_ms("300ms"), -1);
}

/* ---- Content-Length ---- */

Test(http_headers, content_length_values)
{
	int64_t n = -5;

	cr_assert(length("0", &n));
	cr_assert_eq(n, 0);
	cr_assert(length(" 100000 ", &n));
	cr_assert_eq(n, 100000);
	cr_assert(length("9223372036854775807", &n));
	cr_assert_eq(n, INT64_MAX);
	cr_assert(length("7,7 , 7", &n));
	cr_assert_eq(n, 7);
	n = -5;
	static const char *const bad[] = {
		"", "-1", "+1", "1.0", "1e3", "0x10", "9223372036854775808",
		"99999999999999999999999", "7, 8", "7,", ",7", "7 7", "abc",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert(!length(bad[i], &n), "'%s'", bad[i]);
	cr_assert_eq(n, -5, "a refused value leaves the output alone");
}

/* ---- Content-Range ---- */

Test(http_headers, content_range_values)
{
	struct http_range r;

	cr_assert(range("bytes 0-9/10", &r));
	cr_assert(!r.unsatisfied);
	cr_assert_eq(r.start, 0);
	cr_assert_eq(r.end, 9);
	cr_assert_eq(r.total, 10);

	cr_assert(range("bytes 5-5/*", &r));
	cr_assert_eq(r.total, -1);
	cr_assert(range("Bytes=100-199/1000", &r));
	cr_assert_eq(r.start, 100);
	cr_assert(range("bytes 0-9223372036854775806/9223372036854775807", &r));
	cr_assert_eq(r.end, INT64_MAX - 1);
}

Test(http_headers, content_range_unsatisfied)
{
	struct http_range r;

	cr_assert(range("bytes */1234", &r));
	cr_assert(r.unsatisfied);
	cr_assert_eq(r.total, 1234);
	cr_assert_eq(r.start, 0);
	cr_assert_eq(r.end, 0);
	cr_assert(range("bytes */0", &r));
	cr_assert(!range("bytes */*", &r));
	cr_assert(!range("bytes */", &r));
	cr_assert(!range("bytes *", &r));
	cr_assert(!range("bytes */12x", &r));
	cr_assert(!range("bytes */-1", &r));

	feed("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */1234\r\n");
	cr_assert(ans()->has_range);
	cr_assert(ans()->range.unsatisfied);
	cr_assert_eq(ans()->range.total, 1234);
}

Test(http_headers, content_range_malformed)
{
	struct http_range r = { .start = 77 };
	static const char *const bad[] = {
		"", "bytes", "bytes ", "bytes0-9/10", "items 0-9/10", "bytes 9-0/10",
		"bytes 0-10/10", "bytes 0-9/9", "bytes 0-9/10x", "bytes 0-9/10 11",
		"bytes -9/10", "bytes 0-/10", "bytes 0-9", "bytes 0-9/", "bytes 0 - 9/10",
		"bytes -1-9/10", "bytes 0--9/10", "bytes 0-9/-10", "bytes 0x0-0x9/10",
		"bytes 0-99999999999999999999/*", "bytes 0-9223372036854775807/*",
		"bytes 0-9223372036854775807/9223372036854775807",
		"bytes 99999999999999999999-1/*", "bytes 1-2/99999999999999999999",
		"bytes 0-9/10/10", "bytes 0-9,20-29/100",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert(!range(bad[i], &r), "'%s'", bad[i]);
	cr_assert_eq(r.start, 77, "a refused value leaves the output alone");
	static const char nul[] = "bytes 0-9/10\0";
	cr_assert(!http_content_range_parse(nul, sizeof(nul) - 1, &r));
	static const char nul2[] = "bytes 0\0-9/10";
	cr_assert(!http_content_range_parse(nul2, sizeof(nul2) - 1, &r));
}

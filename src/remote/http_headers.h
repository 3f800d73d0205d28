/* The HTTP response headers veofs acts on, parsed from the bytes a server
 * sent: the status line, Content-Type, Content-Length, Content-Range and
 * the three wait hints (Retry-After, retry-after-ms, openai-poll-after-ms).
 *
 * Pure functions of their input (and of the clock value passed in): no I/O,
 * no curl handle, so they can be tested and fuzzed alone. Every input is a
 * pointer and a length; embedded NUL bytes are bytes like any other and
 * make a value invalid rather than cut it short. */
#ifndef VEOFS_HTTP_HEADERS_H
#define VEOFS_HTTP_HEADERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Waits longer than this are shortened to it. */
#define HTTP_WAIT_MAX_MS (24L * 3600 * 1000)

/* A Content-Range value: a satisfied range, bytes START-END/TOTAL, with
 * 0 <= start <= end < INT64_MAX and end < total (TOTAL may be "*"), or an
 * unsatisfied one, bytes STAR/TOTAL, as a 416 answer carries. */
struct http_range {
	bool unsatisfied;
	int64_t start, end;   /* both 0 when unsatisfied */
	int64_t total;        /* -1 for "*" */
};

/* What the headers of one answer said. */
struct http_answer {
	int status;                 /* 100..999; 0 before a valid status line */
	char status_text[48];       /* reason phrase; control characters blanked,
				       never a cut UTF-8 sequence */
	char content_type[256];     /* the last one; control characters blanked */
	bool length_seen;           /* a Content-Length field was present */
	int64_t content_length;     /* -1 when absent, invalid or conflicting */
	bool range_seen;            /* a Content-Range field was present */
	bool has_range;             /* one valid, unconflicted Content-Range */
	struct http_range range;
	/* Two Content-Length (Content-Range) fields that disagree, or one
	 * valid and one not: the server contradicts itself. */
	bool length_conflict, range_conflict;
	long retry_after_ms;        /* Retry-After; -1 when absent or invalid */
	long retry_after_ms_exact;  /* retry-after-ms */
	long poll_after_ms;         /* openai-poll-after-ms */
};

/* Reads an answer's header block line by line. */
struct http_header_parser {
	struct http_answer ans;
	/* The last field, kept so that an obsolete folded continuation line
	 * (one starting with a blank) is joined to it with a space and the
	 * joined value read again, as RFC 9112 5.2 asks. */
	int last_field;
	struct http_answer before;  /* ans before the last field was read */
	char last_value[256];
	size_t last_len;
	bool last_too_long;
};

void http_header_parser_init(struct http_header_parser *p);

/* Feed one line as libcurl's header callback hands it over, CRLF or LF
 * included or not. A status line ("HTTP/...") starts a new answer, so the
 * headers of a redirect or of a "100 Continue" never leak into the final
 * one. now: the current time, for a Retry-After given as an HTTP-date.
 *
 * Repeated fields: Content-Type, the last wins; Content-Length and
 * Content-Range, identical repeats are fine and any other repeat is a
 * conflict; a wait hint, the longest valid one counts. Unknown fields,
 * lines without a colon and names with blanks or control characters are
 * ignored. */
void http_header_parser_line(struct http_header_parser *p, const char *line,
			     size_t len, time_t now);

/* How long the answer asks to wait before the next request, -1 when it
 * does not say: retry-after-ms is the precise form of Retry-After and
 * wins over it; openai-poll-after-ms can only lengthen the wait. */
long http_answer_wait_ms(const struct http_answer *a);

/* The value parsers, each on a field value without its name; blanks (SP,
 * HTAB) around it are allowed. */

/* Retry-After: delay-seconds (digits, a fraction tolerated) or an
 * HTTP-date, which counts from now (0 when it is past). The wait in ms,
 * at most HTTP_WAIT_MAX_MS, or -1 when invalid. */
long http_retry_after_parse(const char *v, size_t len, time_t now);

/* retry-after-ms, openai-poll-after-ms: milliseconds (digits, a fraction
 * tolerated, dropped), at most HTTP_WAIT_MAX_MS; -1 when invalid: no sign,
 * exponent, hex, "inf" or "nan". */
long http_wait_ms_parse(const char *v, size_t len);

/* Content-Length: digits, or a list of identical values ("42, 42", RFC
 * 9110 8.6). false when invalid or beyond INT64_MAX. */
bool http_content_length_parse(const char *v, size_t len, int64_t *out);

/* Content-Range, the unit "bytes" in any case. false when invalid. */
bool http_content_range_parse(const char *v, size_t len, struct http_range *out);

#endif

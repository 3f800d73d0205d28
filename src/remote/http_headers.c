/* HTTP response headers: see http_headers.h. Every parser works on a
 * pointer and a length and reads nothing beyond them. */
#include "http_headers.h"

#include <curl/curl.h>
#include <string.h>
#include <strings.h>

enum field {
	F_NONE = 0,
	F_CONTENT_TYPE,
	F_CONTENT_LENGTH,
	F_CONTENT_RANGE,
	F_RETRY_AFTER,
	F_RETRY_AFTER_MS,
	F_POLL_AFTER_MS,
};

static const struct {
	const char *name;
	enum field field;
} fields[] = {
	{ "Content-Type", F_CONTENT_TYPE },
	{ "Content-Length", F_CONTENT_LENGTH },
	{ "Content-Range", F_CONTENT_RANGE },
	{ "Retry-After", F_RETRY_AFTER },
	{ "retry-after-ms", F_RETRY_AFTER_MS },
	{ "openai-poll-after-ms", F_POLL_AFTER_MS },
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Drop blanks on both ends, and a line's CR/LF at its end. */
static void trim(const char **v, size_t *len)
{
	const char *p = *v;
	size_t n = *len;

	while (n > 0 && (is_blank(p[n - 1]) || p[n - 1] == '\r' || p[n - 1] == '\n'))
		n--;
	while (n > 0 && is_blank(*p)) {
		p++;
		n--;
	}
	*v = p;
	*len = n;
}

/* Digits at *p (at least one) as a non-negative int64. false on no digit
 * or overflow; *p moves past the digits. */
static bool take_int64(const char **p, const char *end, int64_t *out)
{
	const char *s = *p;
	int64_t v = 0;

	if (s == end || !is_digit(*s))
		return false;
	for (; s < end && is_digit(*s); s++) {
		int d = *s - '0';
		if (v > (INT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*p = s;
	*out = v;
	return true;
}

/* DIGITS [ "." DIGITS ] as whole units (saturating at cap) and
 * thousandths (finer digits dropped). false when the text is anything
 * else. */
static bool take_decimal(const char *s, size_t len, long cap,
			 long *units, long *thousandths)
{
	const char *end = s + len;
	long u = 0, t = 0;

	if (s == end || !is_digit(*s))
		return false;
	for (; s < end && is_digit(*s); s++)
		u = u >= cap ? cap : u * 10 + (*s - '0');
	if (s < end && *s == '.') {
		long scale = 100;
		for (s++; s < end && is_digit(*s); s++) {
			t += (*s - '0') * scale;
			scale /= 10;
		}
	}
	if (s != end)
		return false;
	*units = u > cap ? cap : u;
	*thousandths = t;
	return true;
}

long http_wait_ms_parse(const char *v, size_t len)
{
	long ms, frac;

	trim(&v, &len);
	if (!take_decimal(v, len, HTTP_WAIT_MAX_MS, &ms, &frac))
		return -1;
	return ms;
}

/* An HTTP-date is at most 29 characters (IMF-fixdate; RFC 850 and asctime
 * dates are about as long); anything much longer is not one. */
#define DATE_MAX 64

long http_retry_after_parse(const char *v, size_t len, time_t now)
{
	long s, frac;

	trim(&v, &len);
	if (take_decimal(v, len, HTTP_WAIT_MAX_MS / 1000, &s, &frac)) {
		long ms = s * 1000 + frac;
		return ms > HTTP_WAIT_MAX_MS ? HTTP_WAIT_MAX_MS : ms;
	}

	char date[DATE_MAX];
	if (len == 0 || len >= sizeof(date) || memchr(v, '\0', len))
		return -1;
	memcpy(date, v, len);
	date[len] = '\0';
	time_t when = curl_getdate(date, NULL);
	if (when == (time_t)-1)
		return -1;
	if (when <= now)
		return 0;
	double d = difftime(when, now) * 1000.0;
	return d >= (double)HTTP_WAIT_MAX_MS ? HTTP_WAIT_MAX_MS : (long)d;
}

bool http_content_length_parse(const char *v, size_t len, int64_t *out)
{
	const char *end;
	int64_t first, next;

	trim(&v, &len);
	end = v + len;
	if (!take_int64(&v, end, &first))
		return false;
	while (v < end) {
		while (v < end && is_blank(*v))
			v++;
		if (v == end || *v++ != ',')
			return false;
		while (v < end && is_blank(*v))
			v++;
		if (!take_int64(&v, end, &next) || next != first)
			return false;
	}
	*out = first;
	return true;
}

bool http_content_range_parse(const char *v, size_t len, struct http_range *out)
{
	const char *end;
	struct http_range r = { .total = -1 };

	trim(&v, &len);
	end = v + len;
	if (len < 5 || strncasecmp(v, "bytes", 5) != 0)
		return false;
	v += 5;
	/* "bytes=" is what a Range asks with; some servers echo it. */
	if (v == end || !(*v == ' ' || *v == '='))
		return false;
	while (v < end && (*v == ' ' || *v == '='))
		v++;

	if (v < end && *v == '*') {
		v++;
		if (v == end || *v++ != '/' || !take_int64(&v, end, &r.total) || v != end)
			return false;
		r.unsatisfied = true;
		*out = r;
		return true;
	}
	if (!take_int64(&v, end, &r.start) || v == end || *v++ != '-' ||
	    !take_int64(&v, end, &r.end) || v == end || *v++ != '/')
		return false;
	if (v < end && *v == '*')
		v++;
	else if (!take_int64(&v, end, &r.total))
		return false;
	if (v != end)
		return false;
	/* end < INT64_MAX keeps end - start + 1 representable. */
	if (r.end < r.start || r.end == INT64_MAX ||
	    (r.total >= 0 && r.end >= r.total))
		return false;
	*out = r;
	return true;
}

/* Copy text, blanking control characters (NUL included) and never ending
 * in the middle of a UTF-8 sequence. */
static void copy_text(char *dst, size_t size, const char *src, size_t len)
{
	size_t n = len < size - 1 ? len : size - 1;

	if (n < len) {
		/* Cut: step back over a sequence the cut would split. */
		size_t k = n;
		while (k > 0 && ((unsigned char)src[k] & 0xc0) == 0x80)
			k--;
		n = k;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	dst[n] = '\0';
}

static void answer_reset(struct http_answer *a)
{
	memset(a, 0, sizeof(*a));
	a->content_length = -1;
	a->range.total = -1;
	a->retry_after_ms = -1;
	a->retry_after_ms_exact = -1;
	a->poll_after_ms = -1;
}

void http_header_parser_init(struct http_header_parser *p)
{
	memset(p, 0, sizeof(*p));
	answer_reset(&p->ans);
	answer_reset(&p->before);
}

/* "HTTP/VERSION SP 3DIGIT [SP reason]"; a status that is not three digits
 * leaves status 0. */
static void status_line(struct http_answer *a, const char *line, size_t len)
{
	const char *p = line, *end = line + len;

	answer_reset(a);
	while (p < end && *p != ' ')
		p++;
	while (p < end && *p == ' ')
		p++;
	if (end - p < 3 || !is_digit(p[0]) || !is_digit(p[1]) || !is_digit(p[2]) ||
	    (end - p > 3 && p[3] != ' '))
		return;
	int st = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	if (st < 100)
		return;
	a->status = st;
	p += 3;
	while (p < end && *p == ' ')
		p++;
	copy_text(a->status_text, sizeof(a->status_text), p, (size_t)(end - p));
}

static long longer(long have, long got)
{
	return got > have ? got : have;
}

static bool same_range(const struct http_range *a, const struct http_range *b)
{
	return a->unsatisfied == b->unsatisfied && a->start == b->start &&
	       a->end == b->end && a->total == b->total;
}

/* Read one field's (whole, possibly joined) value into a. too_long: the
 * value did not fit the buffer, so it is cut and cannot be trusted. */
static void apply(struct http_answer *a, enum field f, const char *v, size_t len,
		  bool too_long, time_t now)
{
	switch (f) {
	case F_CONTENT_TYPE:
		copy_text(a->content_type, sizeof(a->content_type), v, len);
		break;
	case F_CONTENT_LENGTH: {
		int64_t n = -1;
		bool ok = !too_long && http_content_length_parse(v, len, &n);
		if (!a->length_seen) {
			a->length_seen = true;
			a->content_length = ok ? n : -1;
			/* a lone invalid value: unknown, no contradiction */
		} else if (a->length_conflict || !ok || a->content_length != n) {
			a->length_conflict = true;
			a->content_length = -1;
		}
		break;
	}
	case F_CONTENT_RANGE: {
		struct http_range r;
		bool ok = !too_long && http_content_range_parse(v, len, &r);
		if (!a->range_seen) {
			a->range_seen = true;
			a->has_range = ok;
			if (ok)
				a->range = r;
		} else if (a->range_conflict || !ok || !a->has_range ||
			   !same_range(&a->range, &r)) {
			a->range_conflict = true;
			a->has_range = false;
		}
		if (!a->has_range) {
			memset(&a->range, 0, sizeof(a->range));
			a->range.total = -1;
		}
		break;
	}
	case F_RETRY_AFTER:
		if (!too_long)
			a->retry_after_ms = longer(a->retry_after_ms,
						   http_retry_after_parse(v, len, now));
		break;
	case F_RETRY_AFTER_MS:
		if (!too_long)
			a->retry_after_ms_exact = longer(a->retry_after_ms_exact,
							 http_wait_ms_parse(v, len));
		break;
	case F_POLL_AFTER_MS:
		if (!too_long)
			a->poll_after_ms = longer(a->poll_after_ms,
						  http_wait_ms_parse(v, len));
		break;
	case F_NONE:
		break;
	}
}

static enum field field_of(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strlen(fields[i].name) == len &&
		    strncasecmp(fields[i].name, name, len) == 0)
			return fields[i].field;
	return F_NONE;
}

static bool name_ok(const char *name, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c <= 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

/* Remember the value for a folded continuation. */
static void keep_value(struct http_header_parser *p, const char *v, size_t len)
{
	size_t room = sizeof(p->last_value) - 1;

	p->last_too_long = len > room;
	p->last_len = len > room ? room : len;
	memcpy(p->last_value, v, p->last_len);
	p->last_value[p->last_len] = '\0';
}

static void continuation(struct http_header_parser *p, const char *v, size_t len,
			 time_t now)
{
	size_t room = sizeof(p->last_value) - 1;

	trim(&v, &len);
	if (len > 0) {
		/* one space for the fold, then the rest */
		if (p->last_len + 1 + len > room) {
			p->last_too_long = true;
			len = p->last_len < room ? room - p->last_len - 1 : 0;
		}
		if (p->last_len < room) {
			p->last_value[p->last_len++] = ' ';
			memcpy(p->last_value + p->last_len, v, len);
			p->last_len += len;
			p->last_value[p->last_len] = '\0';
		}
	}
	/* Read the joined value as if it had come in one line. */
	p->ans = p->before;
	apply(&p->ans, (enum field)p->last_field, p->last_value, p->last_len,
	      p->last_too_long, now);
}

void http_header_parser_line(struct http_header_parser *p, const char *line,
			     size_t len, time_t now)
{
	const char *v = line;
	size_t n = len;

	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		trim(&v, &n);
		status_line(&p->ans, v, n);
		p->last_field = F_NONE;
		return;
	}
	if (len > 0 && is_blank(line[0])) {
		if (p->last_field != F_NONE)
			continuation(p, line, len, now);
		return;
	}
	p->last_field = F_NONE;
	const char *colon = memchr(line, ':', len);
	if (!colon || !name_ok(line, (size_t)(colon - line)))
		return;
	enum field f = field_of(line, (size_t)(colon - line));
	if (f == F_NONE)
		return;
	v = colon + 1;
	n = len - (size_t)(v - line);
	trim(&v, &n);
	p->before = p->ans;
	p->last_field = f;
	keep_value(p, v, n);
	apply(&p->ans, f, v, n, false, now);
}

long http_answer_wait_ms(const struct http_answer *a)
{
	long ms = a->retry_after_ms_exact >= 0 ? a->retry_after_ms_exact
					       : a->retry_after_ms;

	if (a->poll_after_ms > ms)
		ms = a->poll_after_ms;
	return ms;
}

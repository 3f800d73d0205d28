/* The event-stream parser (chat_sse.h), after the WHATWG HTML standard's
 * "Interpreting an event stream": one line at a time, a field name up to
 * the first ':', one space after it dropped, "data" appended with a LF,
 * an empty line dispatching the event with its last LF removed. "id" and
 * "retry" mean nothing to a single POST's reply and are ignored. */
#include "chat_sse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const unsigned char bom[3] = { 0xef, 0xbb, 0xbf };

void chat_sse_init(struct chat_sse *p, size_t max, chat_sse_event_fn fn, void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->max = max ? max : CHAT_SSE_EVENT_MAX;
	p->on_event = fn;
	p->ctx = ctx;
}

static void buf_free(struct chat_sse_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void chat_sse_free(struct chat_sse *p)
{
	buf_free(&p->line);
	buf_free(&p->data);
	buf_free(&p->event);
}

/* Appends and keeps a NUL after the bytes. -1 when out of memory. */
static int buf_add(struct chat_sse_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *q = realloc(b->p, cap);
		if (!q)
			return -1;
		b->p = q;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/* The data so far plus the line being read is what one event costs. */
static bool over_limit(const struct chat_sse *p, size_t more)
{
	return p->data.len + p->line.len + more > p->max;
}

static int dispatch(struct chat_sse *p)
{
	int rc = 0;

	if (p->has_data) {
		/* Every data line left a LF; the last one is not data. */
		if (p->data.len > 0)
			p->data.p[--p->data.len] = '\0';
		if (buf_add(&p->data, "", 0) < 0 || buf_add(&p->event, "", 0) < 0)
			return CHAT_SSE_TOO_BIG;
		rc = p->on_event(p->ctx, p->event.p, p->data.p, p->data.len);
	}
	p->data.len = 0;
	p->event.len = 0;
	p->has_data = false;
	return rc;
}

static int end_line(struct chat_sse *p)
{
	const char *s = p->line.p ? p->line.p : "";
	size_t n = p->line.len;
	int rc = 0;

	p->line.len = 0;
	if (n == 0)
		return dispatch(p);
	if (s[0] == ':')
		return 0; /* a comment: keep-alives, router banners */
	const char *colon = memchr(s, ':', n);
	size_t name_len = colon ? (size_t)(colon - s) : n;
	const char *value = colon ? colon + 1 : s + n;
	size_t value_len = (size_t)(s + n - value);
	if (value_len > 0 && value[0] == ' ') {
		value++;
		value_len--;
	}
	if (name_len == 4 && !memcmp(s, "data", 4)) {
		if (p->data.len + value_len + 1 > p->max)
			return CHAT_SSE_TOO_BIG;
		if (buf_add(&p->data, value, value_len) < 0 ||
		    buf_add(&p->data, "\n", 1) < 0)
			return CHAT_SSE_TOO_BIG;
		p->has_data = true;
	} else if (name_len == 5 && !memcmp(s, "event", 5)) {
		p->event.len = 0;
		if (buf_add(&p->event, value, value_len) < 0)
			rc = CHAT_SSE_TOO_BIG;
	}
	return rc;
}

/* Bytes of lines, the BOM already dealt with. */
static int feed_lines(struct chat_sse *p, const char *s, size_t len)
{
	const char *end = s + len;

	while (s < end && p->status == CHAT_SSE_OK) {
		if (p->after_cr && *s == '\n') {
			/* the LF of a CRLF split across two reads */
			p->after_cr = false;
			s++;
			continue;
		}
		p->after_cr = false;
		const char *stop = s;
		while (stop < end && *stop != '\n' && *stop != '\r')
			stop++;
		size_t n = (size_t)(stop - s);
		if (n) {
			if (over_limit(p, n) || buf_add(&p->line, s, n) < 0) {
				p->status = CHAT_SSE_TOO_BIG;
				break;
			}
		}
		if (stop == end)
			break;
		p->after_cr = *stop == '\r';
		s = stop + 1;
		p->status = end_line(p);
	}
	return p->status;
}

int chat_sse_feed(struct chat_sse *p, const char *buf, size_t len)
{
	if (p->status != CHAT_SSE_OK)
		return p->status;
	/* A BOM, possibly split across reads; bytes that only began like
	 * one are given back as text. */
	while (p->bom >= 0 && len > 0) {
		if ((unsigned char)*buf == bom[p->bom]) {
			buf++;
			len--;
			if (++p->bom == 3)
				p->bom = -1;
			continue;
		}
		int matched = p->bom;
		p->bom = -1;
		if (matched && feed_lines(p, (const char *)bom, (size_t)matched))
			return p->status;
	}
	return feed_lines(p, buf, len);
}

int chat_sse_finish(struct chat_sse *p)
{
	if (p->status != CHAT_SSE_OK)
		return p->status;
	if (p->bom > 0) {
		int matched = p->bom;
		p->bom = -1;
		if (feed_lines(p, (const char *)bom, (size_t)matched))
			return p->status;
	}
	if (p->line.len > 0)
		p->status = end_line(p);
	if (p->status == CHAT_SSE_OK)
		p->status = dispatch(p);
	return p->status;
}

bool chat_sse_body_is_json(const char *content_type, const char *head,
			   size_t len, bool *decided)
{
	size_t i = 0;

	if (len >= 3 && !memcmp(head, bom, 3))
		i = 3;
	while (i < len && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' ||
			   head[i] == '\n'))
		i++;
	*decided = i < len;
	/* Not yet enough to tell "data:" or a BOM from other bytes. */
	if ((len < 3 && !memcmp(head, bom, len)) ||
	    (len - i < 5 && !memcmp(head + i, "data:", len - i)) ||
	    (len - i < 6 && !memcmp(head + i, "event:", len - i)))
		*decided = false;
	if (i < len && (head[i] == '{' || head[i] == '['))
		return true;
	if (i < len && (head[i] == ':' || (len - i >= 5 && !memcmp(head + i, "data:", 5)) ||
			(len - i >= 6 && !memcmp(head + i, "event:", 6))))
		return false;
	return content_type && strcasestr(content_type, "json") &&
	       !strcasestr(content_type, "event-stream");
}

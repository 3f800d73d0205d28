/* An incremental parser of a server-sent event stream (the WHATWG
 * "event stream interpretation"), for the chat route's replies: bytes go in
 * as they arrive, split anywhere (inside a CRLF, inside a UTF-8 sequence),
 * and each event's data comes out once its empty line arrives.
 *
 * Lines end in LF, CRLF or CR; "data:" fields are joined with LF; lines
 * that start with ':' are comments; a UTF-8 BOM at the start is dropped.
 * Memory is bounded: an event (or a line) longer than the limit is an
 * error, never buffered on and on. */
#ifndef VEOFS_CHAT_SSE_H
#define VEOFS_CHAT_SSE_H

#include <stdbool.h>
#include <stddef.h>

#define CHAT_SSE_EVENT_MAX (1u << 20)

enum {
	CHAT_SSE_OK = 0,
	/* An event's data, or one of its lines, is larger than the limit:
	 * the parser is dead from then on (every later call says so too). */
	CHAT_SSE_TOO_BIG = -1,
};

/* One event: its "event:" type ("" when none, i.e. "message") and its data
 * (NUL-terminated, len bytes, may hold NULs). Non-zero stops the parser;
 * chat_sse_feed then returns that value, and so does every later call. */
typedef int (*chat_sse_event_fn)(void *ctx, const char *event,
				 const char *data, size_t len);

struct chat_sse_buf {
	char *p;
	size_t len, cap;
};

struct chat_sse {
	chat_sse_event_fn on_event;
	void *ctx;
	size_t max;
	struct chat_sse_buf line;   /* the line being read */
	struct chat_sse_buf data;   /* the event's data, each line + LF */
	struct chat_sse_buf event;  /* the event's type */
	bool has_data;
	bool after_cr;   /* a LF right after a CR ends nothing more */
	int bom;         /* BOM bytes matched at the start; -1 once past it */
	int status;      /* CHAT_SSE_OK, CHAT_SSE_TOO_BIG or what the callback said */
};

/* max 0: CHAT_SSE_EVENT_MAX. */
void chat_sse_init(struct chat_sse *p, size_t max, chat_sse_event_fn fn, void *ctx);
/* Returns CHAT_SSE_OK, CHAT_SSE_TOO_BIG or the callback's stop value. */
int chat_sse_feed(struct chat_sse *p, const char *buf, size_t len);
/* The stream ended. The standard drops an event the stream ended in the
 * middle of; routers that end with "data: [DONE]" and no empty line exist,
 * so a last line and event are dispatched here (a cut JSON chunk then just
 * fails to parse in the caller). Same returns as chat_sse_feed. */
int chat_sse_finish(struct chat_sse *p);
void chat_sse_free(struct chat_sse *p);

/* Whether a reply is one plain JSON body rather than an event stream (a
 * server that ignored "stream": true): its first bytes decide (a '{' after
 * blanks and a BOM is JSON; "data:", ":", "event:" are a stream), else its
 * Content-Type. head may be a prefix of the body; *decided is false when it
 * holds nothing but blanks yet (ask again with more). */
bool chat_sse_body_is_json(const char *content_type, const char *head,
			   size_t len, bool *decided);

#endif

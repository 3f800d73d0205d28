/* The provider simulator (libmicrohttpd): same API and state machine as a
 * real provider, on loopback, with switchable faults for tests.
 *
 * Routes (the API under /v1, test hooks under /_sim beside it):
 *   POST   /v1/videos                   create (multipart, urlencoded or JSON)
 *   GET    /v1/videos                   list
 *   GET    /v1/videos/ID                poll
 *   GET    /v1/videos/ID/content        the MP4 (?variant=thumbnail: a WebP)
 *   DELETE /v1/videos/ID                cancel; answers {"object":"video.deleted"}
 *                                       and later polls say "cancelled" (a job
 *                                       already completed is gone: 404)
 *   GET    /_sim/stats                  counters as JSON
 *   GET    /_sim/jobs/ID                what the create of ID received
 *   GET    /_sim/files/                 HTML index of completed videos
 *   GET    /_sim/files/ID.mp4           the same bytes as /content, ranges too
 *   GET    /_sim/files/ID.webp          the thumbnail of a completed job
 *   GET|POST|DELETE /_sim/faults        list, add ("ENDPOINT=KIND[xN]" lines),
 *                                       clear (which also releases stalls)
 *
 * Faults are consumed in the order they were given: a request to ENDPOINT
 * takes the first fault for ENDPOINT that has requests left. Beyond the
 * names themselves:
 *   - stall holds the answer until the faults are cleared (then it answers
 *     normally) or the simulator stops (then the connection is closed);
 *   - reset-after-body, bad-json, truncated-json, short-body and long-body
 *     on create still create the job: only the answer is lost or damaged;
 *   - fail-* and never-finish mark the job for good; the create answer
 *     itself still says queued, polls after it say failed;
 *   - json-url (content only) answers {"url": ROOT/_sim/files/ID.mp4};
 *   - drop-after-headers, drop-mid-progress, drop-before-link, stream-error
 *     and silence (create, chat protocol) act on the stream after its job
 *     was made (sim_chat_stream.c).
 *
 * Protocols (--protocol, sim.protocol): openai (all of the above),
 * gemini (sim_gemini.c: Google's Gemini API under /v1beta, long-running
 * operations, downloads redirected to the signed listener) and openrouter
 * (sim_openrouter.c: JSON creates, 202 pending, unsigned_urls, expired)
 * and chat (sim_chat.c, sim_chat_stream.c: POST /v1/chat/completions held
 * open as an SSE stream of free text, progress in the text and the video
 * link at the end, in the --chat-style of a router: flow2api, sora2api,
 * markdown, tasklink (a polling link at GET /source/ID) or json).
 * Their files say their routes, shapes and sources.
 *
 * Dialects (--dialect) change the shapes and routes to those of a gateway,
 * each shape built next to a comment naming its source (sim_dialects.c):
 * openai (default), newapi, newapi-gemini, taskdto, litellm, redirect,
 * json-url, url-in-status. Progress modes (--progress) are smooth, coarse
 * (0, 50, 100) and none (no progress field); --jitter varies each job's
 * duration by up to PCT percent, deterministically per job id
 * (sim_job_duration()).
 * --latency delays the /v1 and /_sim/files answers, never the other test
 * hooks. /_sim/stats also has "stalled": answers held by a stall now. */
#ifndef VEOFS_SIM_H
#define VEOFS_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_MAX_FAULTS 32

enum sim_endpoint { SIM_EP_CREATE, SIM_EP_POLL, SIM_EP_CONTENT, SIM_EP_COUNT };

struct sim_fault {
	enum sim_endpoint endpoint;
	char kind[32];   /* "429", "reset-after-body", ... (contract section 4) */
	long count;      /* first N requests; -1 for every request */
};

/* Which protocol the simulator speaks (contract section 2, sim.protocol). */
enum sim_protocol {
	SIM_PROTO_OPENAI,	/* POST /v1/videos multipart, the dialects */
	SIM_PROTO_GEMINI,	/* /v1beta, long-running operations (sim_gemini.c) */
	SIM_PROTO_OPENROUTER,	/* /v1/videos with JSON (sim_openrouter.c) */
	SIM_PROTO_CHAT,		/* /v1/chat/completions, SSE (sim_chat.c) */
};

enum sim_progress {
	SIM_PROGRESS_SMOOTH,	/* rises with elapsed time */
	SIM_PROGRESS_COARSE,	/* 0, 50, 100 */
	SIM_PROGRESS_NONE,	/* no progress field at all */
};

struct sim_options {
	const char *listen_host;  /* default "127.0.0.1"; read by sim_start only */
	int port;                 /* 0: a free port */
	double duration;          /* seconds from create to completed */
	int latency_ms;           /* added to every answer */
	int64_t video_bytes;      /* pad each MP4 to about this size; 0: as is */
	bool no_range;            /* ignore Range headers */
	bool verbose;             /* one line per request on stderr */
	const char *dialect;      /* NULL or a name of sim_dialect_valid() */
	const char *protocol;     /* NULL (openai), "gemini", "openrouter" or "chat" */
	const char *chat_style;   /* chat: NULL (flow2api) or sim_chat_style_valid() */
	int chat_silence_s;       /* chat: the silence fault's seconds; 0: 30 */
	enum sim_progress progress;
	int jitter_pct;           /* 0..100: duration varies by +-this percent */
	const char *url_field;    /* url-in-status: NULL rotates per job */
	struct sim_fault faults[SIM_MAX_FAULTS];
	int n_faults;
};

void sim_options_init(struct sim_options *o);
/* Parse "ENDPOINT=KIND[xN]" into o->faults. -1 with a reason on error. */
int sim_parse_fault(struct sim_options *o, const char *spec, char *err, size_t errlen);

/* True for a dialect name; sim_dialect_list() says them, comma-separated. */
bool sim_dialect_valid(const char *name);
const char *sim_dialect_list(void);
/* "smooth", "coarse" or "none"; -1 for anything else. */
int sim_progress_parse(const char *name, enum sim_progress *out);
/* "openai", "gemini", "openrouter" or "chat"; -1 for anything else. */
int sim_protocol_parse(const char *name, enum sim_protocol *out);
/* A chat style: flow2api, sora2api, markdown, tasklink or json;
 * sim_chat_style_list() says them, comma-separated. */
bool sim_chat_style_valid(const char *name);
const char *sim_chat_style_list(void);
/* The API's path under the server root for a protocol name: "/v1beta"
 * for gemini, else "/v1". */
const char *sim_api_path(const char *protocol);
/* A url-in-status field name: video_url, data.result_url,
 * data.videos[].url, unsigned_urls[], download_url or content_url. */
bool sim_url_field_valid(const char *name);
const char *sim_url_field_list(void);

/* The seconds job_id takes from create to completed: duration varied by
 * up to +-jitter_pct percent, the same every time for the same id. */
double sim_job_duration(double duration, int jitter_pct, const char *job_id);

struct sim;
struct sim *sim_start(const struct sim_options *o, char *err, size_t errlen);
/* "http://127.0.0.1:PORT" (the server root; the API is under /v1). */
const char *sim_root_url(const struct sim *s);
int sim_port(const struct sim *s);
/* Stop serving: stalled and delayed answers are released (their
 * connections closed) so this returns promptly. NULL is a no-op. */
void sim_stop(struct sim *s);

/* Run-time fault control, the same as POST/DELETE /_sim/faults: text holds
 * one or more "ENDPOINT=KIND[xN]" specs separated by newlines. */
int sim_add_faults(struct sim *s, const char *text, char *err, size_t errlen);
void sim_clear_faults(struct sim *s);

#endif

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
 *   - json-url (content only) answers {"url": ROOT/_sim/files/ID.mp4}.
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

struct sim_options {
	const char *listen_host;  /* default "127.0.0.1"; read by sim_start only */
	int port;                 /* 0: a free port */
	double duration;          /* seconds from create to completed */
	int latency_ms;           /* added to every answer */
	int64_t video_bytes;      /* pad each MP4 to about this size; 0: as is */
	bool no_range;            /* ignore Range headers */
	bool verbose;             /* one line per request on stderr */
	struct sim_fault faults[SIM_MAX_FAULTS];
	int n_faults;
};

void sim_options_init(struct sim_options *o);
/* Parse "ENDPOINT=KIND[xN]" into o->faults. -1 with a reason on error. */
int sim_parse_fault(struct sim_options *o, const char *spec, char *err, size_t errlen);

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

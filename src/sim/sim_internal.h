/* What the simulator's files share: the server state, jobs, requests and
 * answers, and the functions one file offers the others. Internal to
 * src/sim; the public interface is sim.h. */
#ifndef VEOFS_SIM_INTERNAL_H
#define VEOFS_SIM_INTERNAL_H

#include "sim.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ID_MAX 320		/* litellm's base64 ids run to 260 */
#define FIELD_MAX (1 << 20)		/* one form field */
#define BODY_MAX (64 << 20)		/* one request body */
#define PROMPT_MAX 32000
#define EXPIRY_SECONDS 3600
#define NEVER_FINISH_PROGRESS 99

enum fault_kind {
	FK_NONE,
	FK_429, FK_429_RETRY_AFTER, FK_429_RETRY_AFTER_MS,
	FK_500, FK_502, FK_503,
	FK_RESET_BEFORE_BODY, FK_RESET_AFTER_BODY, FK_STALL,
	FK_BAD_JSON, FK_TRUNCATED_JSON, FK_JSON_BODY, FK_JSON_URL, FK_HTML_BODY,
	FK_SHORT_BODY, FK_LONG_BODY,
	FK_GATEWAY_SPELLING, FK_UPPER_CASE,
	FK_FAIL_ERROR_OBJECT, FK_FAIL_ERROR_STRING, FK_FAIL_NO_ERROR,
	FK_NEVER_FINISH,
	FK_INLINE_VIDEO,	/* gemini: the video inline, base64 */
	FK_EXPIRED,		/* openrouter: the job ends expired */
	/* chat (sim_chat_stream.c): the stream, after a job was created */
	FK_DROP_AFTER_HEADERS,	/* cut once the 200 and headers are out */
	FK_DROP_MID_PROGRESS,	/* cut halfway through the progress */
	FK_DROP_BEFORE_LINK,	/* cut just before the link */
	FK_STREAM_ERROR,	/* an {"error"} event after 200; the job fails */
	FK_SILENCE,		/* no byte for chat_silence_s mid-stream */
};

#define EP_CREATE (1u << SIM_EP_CREATE)
#define EP_POLL (1u << SIM_EP_POLL)
#define EP_CONTENT (1u << SIM_EP_CONTENT)
#define EP_ALL (EP_CREATE | EP_POLL | EP_CONTENT)
enum ref_kind { REF_NONE, REF_FILE, REF_URL };

enum outcome {
	OUTCOME_NORMAL, OUTCOME_FAIL_OBJECT, OUTCOME_FAIL_STRING,
	OUTCOME_FAIL_NO_ERROR, OUTCOME_NEVER_FINISH,
};

/* A growable string; p == NULL means "never given", which validation
 * tells apart from an empty value. */
struct sbuf {
	char *p;
	size_t len, cap;
};

struct create_fields {
	struct sbuf model, prompt, seconds, size, watermark;
	struct sbuf resolution, negative_prompt;	/* gemini, openrouter */
	struct sbuf ref_url, ref_filename, ref_type;
	enum ref_kind ref_kind;
	int64_t ref_bytes;
	uint64_t ref_hash;	/* FNV-1a of the file part */
	const char *format;	/* "multipart", "urlencoded", "json" */
	bool authorization;
};

struct job {
	char id[ID_MAX];
	struct create_fields in;
	time_t created_at;
	double created_mono;
	enum outcome outcome;
	bool cancelled;
	bool deleted;
	int progress;		/* the highest progress shown so far */
	int clip;		/* sim_clip_pick() of its seconds and size */
	double duration;	/* sim_job_duration() of its id */
	unsigned long seq;	/* 0 for the first job, 1 for the next... */
	int url_field;		/* url-in-status: index into url_fields */
	bool inline_video;	/* gemini: encodedVideo instead of a uri */
	bool expired;		/* openrouter: ends "expired" */
};

struct live_fault {
	enum sim_endpoint endpoint;
	enum fault_kind kind;
	long left;		/* -1: every request */
};

struct counters {
	long creates, create_requests, polls, downloads, content_requests;
	long deletes, faults_applied, file_requests, range_requests, lists;
	long signed_requests, signed_refused;
	long streams;		/* chat: streamed answers started */
};

struct sim {
	struct sim_options opt;
	struct MHD_Daemon *daemon;
	char root[128];
	int port;

	pthread_mutex_t lock;
	pthread_cond_t wake;	/* stop, faults cleared */
	bool stopping;
	uint64_t fault_epoch;	/* bumped when faults are cleared */
	long stalled;		/* answers waiting in a stall right now */

	struct live_fault *faults;
	size_t n_faults, cap_faults;
	struct job **jobs;
	size_t n_jobs, cap_jobs;
	struct counters count;
	uint64_t id_seed, id_counter;
	const struct dialect *d;
	enum sim_protocol protocol;
	int chat_style;		/* enum chat_style */

	/* The redirect dialect's second listener, for signed URLs. */
	struct MHD_Daemon *signed_daemon;
	char signed_root[128];
	uint64_t sign_key;
};

enum route {
	R_NOT_FOUND, R_BAD_METHOD,
	R_CREATE, R_LIST, R_POLL, R_CONTENT, R_DELETE,
	R_STATS, R_SIM_JOB, R_FILES_INDEX, R_FILE,
	R_FAULTS_LIST, R_FAULTS_ADD, R_FAULTS_CLEAR,
	R_SIGNED,		/* the redirect dialect's second listener */
};

struct req {
	struct sim *s;
	enum route route;
	const char *method;
	char url[256];
	char id[ID_MAX];
	enum fault_kind fault;
	bool head;
	bool webp;		/* /_sim/files/ID.webp: the thumbnail */

	struct MHD_PostProcessor *pp;
	bool body_json;		/* create with a JSON body */
	bool body_raw;		/* keep the raw body (JSON, fault specs) */
	bool bad_body;		/* unusable Content-Type or form encoding */
	bool too_large;
	size_t body_seen;
	struct sbuf raw;
	struct create_fields in;
};

/* What a route decided to send, before faults shape it. */
struct answer {
	unsigned status;
	const char *content_type;
	char *body;		/* owned; NULL for a video */
	size_t len;
	bool is_json;
	bool video;
	char job_id[ID_MAX];
	int clip;
	int64_t start, count, total;
	bool partial;		/* 206 */
	bool ranges;		/* advertise Accept-Ranges */
	bool unsatisfiable;	/* 416 */
	const char *retry_after;
	const char *retry_after_ms;
	const char *allow;
	char *location;		/* owned; a redirect's Location */
};


/* Where a job stands when it is looked at. */
struct view {
	const char *status;	/* canonical spelling */
	int progress;
	bool completed;
	bool failed;		/* failed or cancelled */
};

/* sim_util.c */
/* A listening socket on ss, its port in *port: the server's address is
 * known before any of its threads runs, so they read it without a lock.
 * The fd, or -1 with errno. */
int sim_listen(const struct sockaddr_storage *ss, int *port);
void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
double now_mono(void);
int sbuf_append(struct sbuf *b, const char *data, size_t len, size_t max);
int sbuf_set(struct sbuf *b, const char *s);
void sbuf_free(struct sbuf *b);
void fields_free(struct create_fields *f);
uint64_t splitmix64(uint64_t x);
bool in_list(const char *v, const char *const *list, size_t n);
bool blank(const char *s);
bool copy_id(char *dst, const char *src, size_t len);
uint64_t fnv1a_update(uint64_t h, const char *data, size_t len);
void count_locked(struct sim *s, long *counter);
bool method_is(const char *method, const char *want);

/* sim_faults.c */
const char *kind_name(enum fault_kind kind);
const char *endpoint_name(enum sim_endpoint ep);
int add_fault_locked(struct sim *s, const struct sim_fault *f);
enum fault_kind take_fault(struct sim *s, enum sim_endpoint ep);

/* sim_wait.c */
bool delay(struct sim *s, int ms);
bool stall(struct sim *s);

/* sim_jobs.c */
struct job *find_job(struct sim *s, const char *id);
void job_view(struct sim *s, struct job *j, struct view *v);
json_t *video_object(struct sim *s, struct job *j, bool fresh,
			    enum fault_kind fault);
void mark_outcome(struct sim *s, struct job *j, enum fault_kind fault,
			 bool fresh);
struct job *add_job(struct sim *s, struct create_fields *in);

/* sim_request.c */
void setup_create_body(struct req *r, struct MHD_Connection *c);
void req_body(struct req *r, const char *data, size_t len);
void req_free(struct req *r);
int fields_from_json(struct create_fields *f, const struct sbuf *raw,
			    const char **param, char *err, size_t errlen);
int validate(const struct create_fields *f, const char **param,
		    char *err, size_t errlen);

/* sim_answer.c */
void answer_json(struct answer *a, unsigned status, json_t *o);
void answer_error(struct answer *a, unsigned status, const char *type,
			 const char *code, const char *param, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
void answer_text(struct answer *a, unsigned status, const char *type,
			const char *text);
void log_answer(struct sim *s, struct req *r, const char *what);
enum MHD_Result send_answer(struct sim *s, struct MHD_Connection *c,
				   struct req *r, struct answer *a);
bool fault_answer(struct req *r, struct answer *a);

/* sim_api.c */
void do_create(struct sim *s, struct req *r, struct answer *a);
void not_found(struct answer *a, const char *id);
void do_poll(struct sim *s, struct req *r, struct answer *a);
void do_delete(struct sim *s, struct req *r, struct answer *a);
void answer_video(struct sim *s, struct MHD_Connection *c,
		  const char *id, int clip, struct answer *a);
int video_state(struct sim *s, const char *id, struct job *copy);
/* The other protocols (sim_gemini.c, sim_openrouter.c): their routes and
 * answers; false leaves the answer to the openai code. */
enum route gemini_route(struct req *r, const char *url, const char *method);
bool gemini_answer(struct sim *s, struct MHD_Connection *c, struct req *r,
		   struct answer *a);
bool openrouter_answer(struct sim *s, struct MHD_Connection *c, struct req *r,
		       struct answer *a);
void do_content(struct sim *s, struct MHD_Connection *c,
		       struct req *r, struct answer *a);

/* sim_chat.c and sim_chat_stream.c: the chat protocol. */
enum chat_style {
	CHAT_FLOW2API, CHAT_SORA2API, CHAT_MARKDOWN, CHAT_TASKLINK, CHAT_JSON,
};
/* s->chat_style from s->opt.chat_style. */
void chat_set_style(struct sim *s);
enum route chat_route(struct req *r, const char *url, const char *method);
/* POST /v1/chat/completions: queues its own answer (a stream, a held JSON
 * answer, or an error). */
enum MHD_Result chat_create(struct sim *s, struct MHD_Connection *c,
			    struct req *r);
/* The polling link (GET /source/ID, /web/ID); false for other routes. */
bool chat_answer(struct sim *s, struct MHD_Connection *c, struct req *r,
		 struct answer *a);
/* The SSE answer for job id in style; NULL when out of memory. */
struct MHD_Response *chat_stream_response(struct sim *s, const char *id,
					  const char *model, bool image,
					  enum chat_style style,
					  enum fault_kind fault);
/* The links a finished job's text gives: the MP4, its "download" twin
 * and the WebP preview, all under ROOT/_sim/files/. */
void chat_links(struct sim *s, const char *id, char *mp4, char *dl,
		char *webp, size_t len);
/* What a failed job says: failure_reason(), or NULL for none. */
const char *chat_failure(const struct job *j);

/* sim_hooks.c */
void do_stats(struct sim *s, struct answer *a);
void do_sim_job(struct sim *s, struct req *r, struct answer *a);
void do_files_index(struct sim *s, struct answer *a);
void do_file(struct sim *s, struct MHD_Connection *c, struct req *r,
		    struct answer *a);
void do_faults_list(struct sim *s, struct answer *a);
void do_faults_add(struct sim *s, struct req *r, struct answer *a);


/* sim_dialects.c: how each gateway shapes what the API answers. */
enum content_mode {
	CONTENT_BYTES,		/* the MP4 itself */
	CONTENT_REDIRECT,	/* 302 to a signed URL on the second listener */
	CONTENT_JSON_URL,	/* 200 {"url": ...} */
	CONTENT_NONE,		/* no such route: 404 */
};

enum id_style { IDS_VIDEO_UUID, IDS_NEWAPI, IDS_TASK, IDS_LITELLM };

struct dialect {
	const char *name;
	enum id_style ids;
	enum content_mode content;
	bool has_delete;	/* DELETE /videos/ID exists */
	bool has_list;		/* GET /videos exists */
	bool coarse;		/* progress always 0, 50, 100 */
	/* The status object; fresh: the create's own answer. */
	json_t *(*object)(struct sim *s, struct job *j, const struct view *v,
			  bool fresh, enum fault_kind fault);
	/* Unknown id on poll, delete or content. */
	void (*unknown)(struct answer *a, const char *id);
	/* /content before the job completed (state 0) or after it failed
	 * (state -1). */
	void (*not_ready)(struct answer *a, struct job *j, int state);
	/* A route the gateway does not have. */
	void (*no_route)(struct answer *a, const char *method, const char *url);
};

const struct dialect *dialect_find(const char *name);
/* The URL of id's video under ROOT/_sim/files/; buf holds it. */
const char *file_url(struct sim *s, const char *id, char *buf, size_t len);
/* id percent-encoded for a URL path. */
void url_encode(const char *id, char *buf, size_t len);
/* The reason a failed job gives, or NULL for none. */
const char *failure_reason(const struct job *j);

/* sim_list.c */
void do_list(struct sim *s, struct MHD_Connection *c, struct answer *a);

/* sim_signed.c: the redirect dialect's second listener. */
int signed_start(struct sim *s, char *err, size_t errlen);
void signed_stop(struct sim *s);
/* A signed URL for id valid for an hour; NULL when out of memory. */
char *signed_url(struct sim *s, const char *id);

#endif

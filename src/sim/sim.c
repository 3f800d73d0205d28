/* The provider simulator (see sim.h).
 *
 * libmicrohttpd runs one thread per connection, so a stalled or delayed
 * answer only holds its own thread; every wait goes through s->wake so
 * sim_stop() and DELETE /_sim/faults can release it at once. All state
 * lives in struct sim behind one mutex. */
#include "sim.h"
#include "sim_video.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ID_MAX 48
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
};

#define EP_CREATE (1u << SIM_EP_CREATE)
#define EP_POLL (1u << SIM_EP_POLL)
#define EP_CONTENT (1u << SIM_EP_CONTENT)
#define EP_ALL (EP_CREATE | EP_POLL | EP_CONTENT)

static const struct {
	const char *name;
	enum fault_kind kind;
	unsigned endpoints;	/* where the kind means something */
} fault_table[] = {
	{ "429", FK_429, EP_ALL },
	{ "429-retry-after", FK_429_RETRY_AFTER, EP_ALL },
	{ "429-retry-after-ms", FK_429_RETRY_AFTER_MS, EP_ALL },
	{ "500", FK_500, EP_ALL },
	{ "502", FK_502, EP_ALL },
	{ "503", FK_503, EP_ALL },
	{ "reset-before-body", FK_RESET_BEFORE_BODY, EP_ALL },
	{ "reset-after-body", FK_RESET_AFTER_BODY, EP_ALL },
	{ "stall", FK_STALL, EP_ALL },
	{ "bad-json", FK_BAD_JSON, EP_ALL },
	{ "truncated-json", FK_TRUNCATED_JSON, EP_ALL },
	{ "json-body", FK_JSON_BODY, EP_ALL },
	{ "json-url", FK_JSON_URL, EP_CONTENT },
	{ "html-body", FK_HTML_BODY, EP_ALL },
	{ "short-body", FK_SHORT_BODY, EP_ALL },
	{ "long-body", FK_LONG_BODY, EP_ALL },
	{ "gateway-spelling", FK_GATEWAY_SPELLING, EP_CREATE | EP_POLL },
	{ "upper-case", FK_UPPER_CASE, EP_CREATE | EP_POLL },
	{ "fail-error-object", FK_FAIL_ERROR_OBJECT, EP_CREATE | EP_POLL },
	{ "fail-error-string", FK_FAIL_ERROR_STRING, EP_CREATE | EP_POLL },
	{ "fail-no-error", FK_FAIL_NO_ERROR, EP_CREATE | EP_POLL },
	{ "never-finish", FK_NEVER_FINISH, EP_CREATE | EP_POLL },
};

static const char *const endpoint_names[SIM_EP_COUNT] = {
	[SIM_EP_CREATE] = "create",
	[SIM_EP_POLL] = "poll",
	[SIM_EP_CONTENT] = "content",
};

static const char *const valid_seconds[] = { "4", "6", "8", "12" };
static const char *const valid_sizes[] = {
	"16x9", "9x16", "1280x720", "720x1280", "1024x1792", "1792x1024",
};

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
};

struct live_fault {
	enum sim_endpoint endpoint;
	enum fault_kind kind;
	long left;		/* -1: every request */
};

struct counters {
	long creates, create_requests, polls, downloads, content_requests;
	long deletes, faults_applied, file_requests, range_requests, lists;
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
};

enum route {
	R_NOT_FOUND, R_BAD_METHOD,
	R_CREATE, R_LIST, R_POLL, R_CONTENT, R_DELETE,
	R_STATS, R_SIM_JOB, R_FILES_INDEX, R_FILE,
	R_FAULTS_LIST, R_FAULTS_ADD, R_FAULTS_CLEAR,
};

struct req {
	struct sim *s;
	enum route route;
	const char *method;
	char url[256];
	char id[ID_MAX];
	enum fault_kind fault;
	bool head;

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
	int64_t start, count, total;
	bool partial;		/* 206 */
	bool ranges;		/* advertise Accept-Ranges */
	bool unsatisfiable;	/* 416 */
	const char *retry_after;
	const char *retry_after_ms;
	const char *allow;
};

/* ---- small helpers ---- */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int sbuf_append(struct sbuf *b, const char *data, size_t len, size_t max)
{
	if (b->len + len > max)
		return -1;
	if (!b->p || b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *p;

		while (cap < b->len + len + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return 0;
}

static int sbuf_set(struct sbuf *b, const char *s)
{
	b->len = 0;
	return sbuf_append(b, s, strlen(s), FIELD_MAX);
}

static void sbuf_free(struct sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void fields_free(struct create_fields *f)
{
	sbuf_free(&f->model);
	sbuf_free(&f->prompt);
	sbuf_free(&f->seconds);
	sbuf_free(&f->size);
	sbuf_free(&f->watermark);
	sbuf_free(&f->ref_url);
	sbuf_free(&f->ref_filename);
	sbuf_free(&f->ref_type);
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static bool in_list(const char *v, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v, list[i]) == 0)
			return true;
	return false;
}

static bool blank(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
			return false;
	return true;
}

/* Ids are ours ("video_" + hex and dashes), so anything else is unknown;
 * checking the charset keeps URLs and HTML built from ids clean. */
static bool copy_id(char *dst, const char *src, size_t len)
{
	if (len == 0 || len >= ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = src[i];

		if (!(c == '_' || c == '-' || (c >= '0' && c <= '9') ||
		      (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			return false;
	}
	memcpy(dst, src, len);
	dst[len] = '\0';
	return true;
}

/* ---- faults ---- */

static int kind_lookup(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(fault_table) / sizeof(fault_table[0]); i++)
		if (strlen(fault_table[i].name) == len &&
		    strncmp(fault_table[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

static const char *kind_name(enum fault_kind kind)
{
	for (size_t i = 0; i < sizeof(fault_table) / sizeof(fault_table[0]); i++)
		if (fault_table[i].kind == kind)
			return fault_table[i].name;
	return "none";
}

/* "ENDPOINT=KIND[xN]" with optional blanks around it. */
static int parse_spec(const char *spec, struct sim_fault *f, char *err,
		      size_t errlen)
{
	const char *start = spec, *end, *eq, *kind, *x;
	size_t kind_len;
	int ep, k;
	long count = -1;

	while (*start == ' ' || *start == '\t')
		start++;
	end = start + strlen(start);
	while (end > start && (end[-1] == ' ' || end[-1] == '\t' ||
			       end[-1] == '\r' || end[-1] == '\n'))
		end--;
	eq = memchr(start, '=', end - start);
	if (!eq) {
		set_err(err, errlen, "bad fault '%.*s': expected ENDPOINT=KIND[xN]",
			(int)(end - start), start);
		return -1;
	}
	for (ep = 0; ep < SIM_EP_COUNT; ep++)
		if (strlen(endpoint_names[ep]) == (size_t)(eq - start) &&
		    strncmp(endpoint_names[ep], start, eq - start) == 0)
			break;
	if (ep == SIM_EP_COUNT) {
		set_err(err, errlen,
			"bad fault '%.*s': unknown endpoint '%.*s' (create, poll or content)",
			(int)(end - start), start, (int)(eq - start), start);
		return -1;
	}
	kind = eq + 1;
	kind_len = end - kind;
	k = kind_lookup(kind, kind_len);
	if (k < 0) {
		/* No kind name contains an 'x', so the last one starts the count. */
		x = NULL;
		for (const char *p = kind; p < end; p++)
			if (*p == 'x')
				x = p;
		if (x && (k = kind_lookup(kind, x - kind)) >= 0) {
			char digits[24];
			size_t n = end - x - 1;
			char *stop;

			if (n == 0 || n >= sizeof(digits) ||
			    strspn(x + 1, "0123456789") < n)
				count = 0;
			else {
				memcpy(digits, x + 1, n);
				digits[n] = '\0';
				errno = 0;
				count = strtol(digits, &stop, 10);
				if (errno)
					count = 0;
			}
			if (count <= 0) {
				set_err(err, errlen,
					"bad fault '%.*s': the count after 'x' must be a positive number",
					(int)(end - start), start);
				return -1;
			}
		}
	}
	if (k < 0) {
		set_err(err, errlen, "bad fault '%.*s': unknown kind '%.*s'",
			(int)(end - start), start, (int)kind_len, kind);
		return -1;
	}
	if (!(fault_table[k].endpoints & (1u << ep))) {
		set_err(err, errlen, "bad fault '%.*s': %s does not apply to %s",
			(int)(end - start), start, fault_table[k].name,
			endpoint_names[ep]);
		return -1;
	}
	memset(f, 0, sizeof(*f));
	f->endpoint = ep;
	snprintf(f->kind, sizeof(f->kind), "%s", fault_table[k].name);
	f->count = count;
	return 0;
}

void sim_options_init(struct sim_options *o)
{
	memset(o, 0, sizeof(*o));
	o->listen_host = "127.0.0.1";
	o->port = 0;
	o->duration = 20;
}

int sim_parse_fault(struct sim_options *o, const char *spec, char *err,
		    size_t errlen)
{
	struct sim_fault f;

	if (parse_spec(spec, &f, err, errlen) < 0)
		return -1;
	if (o->n_faults >= SIM_MAX_FAULTS) {
		set_err(err, errlen, "too many faults (at most %d)", SIM_MAX_FAULTS);
		return -1;
	}
	o->faults[o->n_faults++] = f;
	return 0;
}

/* Caller holds s->lock. */
static int add_fault_locked(struct sim *s, const struct sim_fault *f)
{
	int k = kind_lookup(f->kind, strlen(f->kind));

	if (k < 0 || f->endpoint < 0 || f->endpoint >= SIM_EP_COUNT)
		return -1;
	if (s->n_faults == s->cap_faults) {
		size_t cap = s->cap_faults ? 2 * s->cap_faults : 16;
		struct live_fault *p = realloc(s->faults, cap * sizeof(*p));

		if (!p)
			return -1;
		s->faults = p;
		s->cap_faults = cap;
	}
	s->faults[s->n_faults++] = (struct live_fault){
		.endpoint = f->endpoint,
		.kind = fault_table[k].kind,
		.left = f->count > 0 ? f->count : -1,
	};
	return 0;
}

int sim_add_faults(struct sim *s, const char *text, char *err, size_t errlen)
{
	struct sim_fault parsed[SIM_MAX_FAULTS];
	int n = 0, rc = 0;
	const char *line = text;

	/* Parse everything first so a bad line adds nothing. */
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char one[256];

		if (len >= sizeof(one)) {
			set_err(err, errlen, "bad fault '%.40s...': too long", line);
			return -1;
		}
		memcpy(one, line, len);
		one[len] = '\0';
		line = nl ? nl + 1 : NULL;
		if (blank(one))
			continue;
		if (n == SIM_MAX_FAULTS) {
			set_err(err, errlen, "too many faults at once (at most %d)",
				SIM_MAX_FAULTS);
			return -1;
		}
		if (parse_spec(one, &parsed[n], err, errlen) < 0)
			return -1;
		n++;
	}
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < n && rc == 0; i++)
		rc = add_fault_locked(s, &parsed[i]);
	pthread_mutex_unlock(&s->lock);
	if (rc < 0)
		set_err(err, errlen, "out of memory");
	return rc < 0 ? -1 : n;
}

void sim_clear_faults(struct sim *s)
{
	pthread_mutex_lock(&s->lock);
	s->n_faults = 0;
	s->fault_epoch++;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

/* Take the first fault for ep that has requests left. */
static enum fault_kind take_fault(struct sim *s, enum sim_endpoint ep)
{
	enum fault_kind kind = FK_NONE;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_faults; i++) {
		struct live_fault *f = &s->faults[i];

		if (f->endpoint != ep || f->left == 0)
			continue;
		if (f->left > 0)
			f->left--;
		kind = f->kind;
		s->count.faults_applied++;
		break;
	}
	pthread_mutex_unlock(&s->lock);
	return kind;
}

/* ---- waiting ---- */

/* Sleep ms unless the server stops first; false when it stops. */
static bool delay(struct sim *s, int ms)
{
	struct timespec until;
	bool stopping;

	if (ms <= 0)
		return true;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->lock);
	while (!s->stopping &&
	       pthread_cond_timedwait(&s->wake, &s->lock, &until) != ETIMEDOUT)
		;
	stopping = s->stopping;
	pthread_mutex_unlock(&s->lock);
	return !stopping;
}

/* Hold the answer until faults are cleared (then answer normally) or the
 * server stops (then close); false when it stops. */
static bool stall(struct sim *s)
{
	uint64_t epoch;
	bool stopping;

	pthread_mutex_lock(&s->lock);
	epoch = s->fault_epoch;
	s->stalled++;
	while (!s->stopping && s->fault_epoch == epoch)
		pthread_cond_wait(&s->wake, &s->lock);
	s->stalled--;
	stopping = s->stopping;
	pthread_mutex_unlock(&s->lock);
	return !stopping;
}

/* ---- jobs ---- */

struct view {
	const char *status;	/* canonical spelling */
	int progress;
	bool completed;
	bool failed;		/* failed or cancelled */
};

/* Caller holds s->lock. */
static struct job *find_job(struct sim *s, const char *id)
{
	for (size_t i = 0; i < s->n_jobs; i++)
		if (!s->jobs[i]->deleted && strcmp(s->jobs[i]->id, id) == 0)
			return s->jobs[i];
	return NULL;
}

/* Where job j stands now; progress only ever rises. Caller holds s->lock. */
static void job_view(struct sim *s, struct job *j, struct view *v)
{
	double duration = s->opt.duration;
	double elapsed = now_mono() - j->created_mono;
	double queued_for = duration * 0.1 < 1.0 ? duration * 0.1 : 1.0;
	int progress;

	memset(v, 0, sizeof(*v));
	if (j->cancelled || (j->outcome != OUTCOME_NORMAL &&
			     j->outcome != OUTCOME_NEVER_FINISH)) {
		v->status = j->cancelled ? "cancelled" : "failed";
		v->failed = true;
		v->progress = j->progress;
		return;
	}
	if (j->outcome != OUTCOME_NEVER_FINISH &&
	    (duration <= 0 || elapsed >= duration)) {
		v->status = "completed";
		v->completed = true;
		j->progress = v->progress = 100;
		return;
	}
	if (elapsed < queued_for) {
		v->status = "queued";
		v->progress = j->progress;
		return;
	}
	progress = duration > 0 ? (int)(100.0 * elapsed / duration) : 0;
	if (progress < 1)
		progress = 1;
	if (progress > NEVER_FINISH_PROGRESS)
		progress = NEVER_FINISH_PROGRESS;
	if (progress < j->progress)
		progress = j->progress;
	v->status = "in_progress";
	j->progress = v->progress = progress;
}

static const char *spell(const char *status, enum fault_kind fault)
{
	static const char *const names[][3] = {
		/* canonical, gateway-spelling, upper-case */
		{ "queued", "pending", "QUEUED" },
		{ "in_progress", "processing", "IN_PROGRESS" },
		{ "completed", "succeeded", "COMPLETED" },
		{ "failed", "failure", "FAILED" },
		{ "cancelled", "cancelled", "CANCELLED" },
	};
	int col = fault == FK_GATEWAY_SPELLING ? 1 : fault == FK_UPPER_CASE ? 2 : 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(status, names[i][0]) == 0)
			return names[i][col];
	return status;
}

static const char *field_or(const struct sbuf *b, const char *fallback)
{
	return b->p && b->p[0] ? b->p : fallback;
}

/* The video object as the API shows it. fresh: the answer to the create
 * itself, which always says queued (failures come later, as they do on a
 * real provider). Caller holds s->lock. */
static json_t *video_object(struct sim *s, struct job *j, bool fresh,
			    enum fault_kind fault)
{
	struct view v = { .status = "queued" };
	json_t *o;

	if (!fresh)
		job_view(s, j, &v);
	o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:s, s:s}",
		      "id", j->id, "object", "video",
		      "model", field_or(&j->in.model, ""),
		      "status", spell(v.status, fault),
		      "progress", v.progress,
		      "created_at", (json_int_t)j->created_at,
		      "seconds", field_or(&j->in.seconds, "8"),
		      "size", field_or(&j->in.size, "16x9"));
	if (!o)
		return NULL;
	if (v.completed) {
		json_int_t whole = (json_int_t)s->opt.duration;
		json_int_t done = j->created_at + whole +
				  (s->opt.duration > whole ? 1 : 0);

		json_object_set_new(o, "completed_at", json_integer(done));
		json_object_set_new(o, "expires_at",
				    json_integer(done + EXPIRY_SECONDS));
	}
	if (j->cancelled && !fresh)
		json_object_set_new(o, "error", json_pack("{s:s, s:s}",
			"code", "cancelled",
			"message", "video generation was cancelled"));
	else if (v.failed && j->outcome == OUTCOME_FAIL_OBJECT)
		json_object_set_new(o, "error", json_pack("{s:s, s:s}",
			"code", "content_policy_violation",
			"message", "content policy violation"));
	else if (v.failed && j->outcome == OUTCOME_FAIL_STRING)
		json_object_set_new(o, "error",
				    json_string("content policy violation"));
	return o;
}

/* Fault kinds that decide how a job ends; fresh: the job is being
 * created. Caller holds s->lock. */
static void mark_outcome(struct sim *s, struct job *j, enum fault_kind fault,
			 bool fresh)
{
	struct view v;

	switch (fault) {
	case FK_FAIL_ERROR_OBJECT:
	case FK_FAIL_ERROR_STRING:
	case FK_FAIL_NO_ERROR:
	case FK_NEVER_FINISH:
		break;
	default:
		return;
	}
	/* A job that already ended stays as it ended. */
	if (!fresh) {
		job_view(s, j, &v);
		if (v.completed || v.failed)
			return;
	}
	j->outcome = fault == FK_FAIL_ERROR_OBJECT ? OUTCOME_FAIL_OBJECT :
		     fault == FK_FAIL_ERROR_STRING ? OUTCOME_FAIL_STRING :
		     fault == FK_FAIL_NO_ERROR ? OUTCOME_FAIL_NO_ERROR :
		     OUTCOME_NEVER_FINISH;
}

/* Caller holds s->lock. */
static void new_id(struct sim *s, char *id)
{
	uint64_t a = splitmix64(s->id_seed + 2 * s->id_counter);
	uint64_t b = splitmix64(s->id_seed + 2 * s->id_counter + 1);

	s->id_counter++;
	/* uuid v4 layout, as the provider's ids look */
	snprintf(id, ID_MAX, "video_%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64
		 "-%04" PRIx64 "-%012" PRIx64,
		 a >> 32, (a >> 16) & 0xffff, a & 0xfff,
		 0x8000 | ((b >> 48) & 0x3fff), b & (uint64_t)0xffffffffffff);
}

/* Takes over the fields. Caller holds s->lock. */
static struct job *add_job(struct sim *s, struct create_fields *in)
{
	struct job *j;

	if (s->n_jobs == s->cap_jobs) {
		size_t cap = s->cap_jobs ? 2 * s->cap_jobs : 64;
		struct job **p = realloc(s->jobs, cap * sizeof(*p));

		if (!p)
			return NULL;
		s->jobs = p;
		s->cap_jobs = cap;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	new_id(s, j->id);
	j->in = *in;
	memset(in, 0, sizeof(*in));
	j->created_at = time(NULL);
	j->created_mono = now_mono();
	s->jobs[s->n_jobs++] = j;
	s->count.creates++;
	return j;
}

/* ---- requests: routing and bodies ---- */

static void count_locked(struct sim *s, long *counter)
{
	pthread_mutex_lock(&s->lock);
	(*counter)++;
	pthread_mutex_unlock(&s->lock);
}

static bool method_is(const char *method, const char *want)
{
	return strcmp(method, want) == 0;
}

static enum route route_v1(struct req *r, const char *path, const char *method)
{
	bool get = method_is(method, "GET") || method_is(method, "HEAD");
	const char *slash;

	if (*path == '\0' || strcmp(path, "/") == 0) {
		if (method_is(method, "POST"))
			return R_CREATE;
		return get ? R_LIST : R_BAD_METHOD;
	}
	if (*path != '/')
		return R_NOT_FOUND;
	path++;
	slash = strchr(path, '/');
	if (!slash) {
		if (!copy_id(r->id, path, strlen(path)))
			return R_NOT_FOUND;
		if (get)
			return R_POLL;
		return method_is(method, "DELETE") ? R_DELETE : R_BAD_METHOD;
	}
	if (strcmp(slash, "/content") != 0 ||
	    !copy_id(r->id, path, slash - path))
		return R_NOT_FOUND;
	return get ? R_CONTENT : R_BAD_METHOD;
}

static enum route route_sim(struct req *r, const char *path, const char *method)
{
	bool get = method_is(method, "GET") || method_is(method, "HEAD");
	size_t len;

	if (strcmp(path, "/stats") == 0)
		return get ? R_STATS : R_BAD_METHOD;
	if (strncmp(path, "/jobs/", 6) == 0) {
		if (!copy_id(r->id, path + 6, strlen(path + 6)))
			return R_NOT_FOUND;
		return get ? R_SIM_JOB : R_BAD_METHOD;
	}
	if (strcmp(path, "/files") == 0 || strcmp(path, "/files/") == 0)
		return get ? R_FILES_INDEX : R_BAD_METHOD;
	if (strncmp(path, "/files/", 7) == 0) {
		path += 7;
		len = strlen(path);
		if (len < 5 || strcmp(path + len - 4, ".mp4") != 0 ||
		    !copy_id(r->id, path, len - 4))
			return R_NOT_FOUND;
		return get ? R_FILE : R_BAD_METHOD;
	}
	if (strcmp(path, "/faults") == 0) {
		if (get)
			return R_FAULTS_LIST;
		if (method_is(method, "POST"))
			return R_FAULTS_ADD;
		return method_is(method, "DELETE") ? R_FAULTS_CLEAR : R_BAD_METHOD;
	}
	return R_NOT_FOUND;
}

static enum route route_of(struct req *r, const char *url, const char *method)
{
	if (strncmp(url, "/v1/videos", 10) == 0)
		return route_v1(r, url + 10, method);
	if (strncmp(url, "/_sim/", 6) == 0 || strcmp(url, "/_sim") == 0)
		return route_sim(r, url + 5, method);
	return R_NOT_FOUND;
}

static uint64_t fnv1a_update(uint64_t h, const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)data[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static struct sbuf *field_slot(struct create_fields *f, const char *key)
{
	if (strcmp(key, "model") == 0)
		return &f->model;
	if (strcmp(key, "prompt") == 0)
		return &f->prompt;
	if (strcmp(key, "seconds") == 0)
		return &f->seconds;
	if (strcmp(key, "size") == 0)
		return &f->size;
	if (strcmp(key, "watermark") == 0)
		return &f->watermark;
	return NULL;
}

static enum MHD_Result form_field(void *cls, enum MHD_ValueKind kind,
				  const char *key, const char *filename,
				  const char *content_type,
				  const char *transfer_encoding,
				  const char *data, uint64_t off, size_t size)
{
	struct req *r = cls;
	struct create_fields *f = &r->in;
	struct sbuf *slot;

	if (!key)
		return MHD_YES;
	if (strcmp(key, "input_reference") == 0 && filename) {
		if (f->ref_kind != REF_FILE) {
			f->ref_kind = REF_FILE;
			f->ref_hash = 0xcbf29ce484222325ULL;
			if (sbuf_set(&f->ref_filename, filename) < 0 ||
			    sbuf_set(&f->ref_type, content_type ?
				     content_type : "") < 0)
				goto too_large;
		}
		f->ref_bytes += size;
		f->ref_hash = fnv1a_update(f->ref_hash, data, size);
		return MHD_YES;
	}
	if (strcmp(key, "input_reference") == 0) {
		f->ref_kind = REF_URL;
		slot = &f->ref_url;
	} else {
		slot = field_slot(f, key);
	}
	if (!slot)
		return MHD_YES;	/* unknown fields are ignored, as providers do */
	if (off == 0)
		slot->len = 0;
	if (sbuf_append(slot, data, size, FIELD_MAX) < 0)
		goto too_large;
	return MHD_YES;
too_large:
	r->too_large = true;
	return MHD_NO;
}

static bool content_type_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	return ct && strncasecmp(ct, want, n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static void setup_create_body(struct req *r, struct MHD_Connection *c)
{
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_TYPE);

	r->in.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
				MHD_HTTP_HEADER_AUTHORIZATION) != NULL;
	if (content_type_is(ct, "application/json")) {
		r->body_json = r->body_raw = true;
		r->in.format = "json";
		return;
	}
	if (content_type_is(ct, "multipart/form-data"))
		r->in.format = "multipart";
	else if (content_type_is(ct, "application/x-www-form-urlencoded"))
		r->in.format = "urlencoded";
	else {
		r->bad_body = true;
		return;
	}
	r->pp = MHD_create_post_processor(c, 16 * 1024, form_field, r);
	if (!r->pp)
		r->bad_body = true;
}

static struct req *req_new(struct sim *s, struct MHD_Connection *c,
			   const char *url, const char *method)
{
	struct req *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->s = s;
	r->method = method;
	r->head = method_is(method, "HEAD");
	snprintf(r->url, sizeof(r->url), "%s", url);
	r->route = route_of(r, url, method);
	switch (r->route) {
	case R_CREATE:
		count_locked(s, &s->count.create_requests);
		r->fault = take_fault(s, SIM_EP_CREATE);
		setup_create_body(r, c);
		break;
	case R_POLL:
		count_locked(s, &s->count.polls);
		r->fault = take_fault(s, SIM_EP_POLL);
		break;
	case R_CONTENT:
		count_locked(s, &s->count.content_requests);
		r->fault = take_fault(s, SIM_EP_CONTENT);
		break;
	case R_DELETE:
		count_locked(s, &s->count.deletes);
		break;
	case R_LIST:
		count_locked(s, &s->count.lists);
		break;
	case R_FILE:
		count_locked(s, &s->count.file_requests);
		break;
	case R_FAULTS_ADD:
		r->body_raw = true;
		break;
	default:
		break;
	}
	return r;
}

static void req_body(struct req *r, const char *data, size_t len)
{
	r->body_seen += len;
	if (r->too_large || r->bad_body)
		return;
	if (r->body_seen > BODY_MAX) {
		r->too_large = true;
		return;
	}
	if (r->pp) {
		if (MHD_post_process(r->pp, data, len) != MHD_YES && !r->too_large)
			r->bad_body = true;
	} else if (r->body_raw) {
		if (sbuf_append(&r->raw, data, len, BODY_MAX) < 0)
			r->too_large = true;
	}
}

static void req_free(struct req *r)
{
	if (!r)
		return;
	if (r->pp)
		MHD_destroy_post_processor(r->pp);
	sbuf_free(&r->raw);
	fields_free(&r->in);
	free(r);
}

/* ---- answers ---- */

static void answer_json(struct answer *a, unsigned status, json_t *o)
{
	a->status = status;
	a->content_type = "application/json";
	a->is_json = true;
	a->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (!a->body)
		a->body = strdup("{}");
	a->len = a->body ? strlen(a->body) : 0;
	json_decref(o);
}

static void answer_error(struct answer *a, unsigned status, const char *type,
			 const char *code, const char *param, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static void answer_error(struct answer *a, unsigned status, const char *type,
			 const char *code, const char *param, const char *fmt, ...)
{
	char message[512];
	va_list ap;
	json_t *e;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	e = json_pack("{s:s, s:s, s:o, s:o}", "message", message, "type", type,
		      "param", param ? json_string(param) : json_null(),
		      "code", code ? json_string(code) : json_null());
	answer_json(a, status, json_pack("{s:o}", "error", e));
}

static void answer_text(struct answer *a, unsigned status, const char *type,
			const char *text)
{
	a->status = status;
	a->content_type = type;
	a->body = strdup(text);
	a->len = a->body ? strlen(a->body) : 0;
}

/* What a response body is made of when it is streamed: a video range, or
 * a memory body cut short on purpose. */
struct body_src {
	struct sim *s;
	char *mem;
	bool video;
	bool counted;
	char job_id[ID_MAX];
	int64_t video_bytes;
	int64_t start;
	int64_t len;
	int64_t cut;		/* short-body: fail after this many; -1: never */
};

static ssize_t body_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct body_src *b = cls;
	int64_t end = b->cut >= 0 ? b->cut : b->len;
	size_t n;

	if ((int64_t)pos >= end)
		return b->cut >= 0 ? MHD_CONTENT_READER_END_WITH_ERROR :
				     MHD_CONTENT_READER_END_OF_STREAM;
	n = (int64_t)max < end - (int64_t)pos ? max : (size_t)(end - pos);
	if (!b->video) {
		memcpy(buf, b->mem + pos, n);
		return n;
	}
	if (!b->counted) {
		b->counted = true;
		count_locked(b->s, &b->s->count.downloads);
	}
	n = sim_video_read(b->job_id, b->video_bytes, b->start + pos, buf, n);
	return n > 0 ? (ssize_t)n : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void body_free(void *cls)
{
	struct body_src *b = cls;

	free(b->mem);
	free(b);
}

static void log_answer(struct sim *s, struct req *r, const char *what)
{
	if (!s->opt.verbose)
		return;
	/* Only the method, path and outcome: headers may carry the key. */
	fprintf(stderr, "veofs-sim: %s %s -> %s%s%s\n", r->method, r->url, what,
		r->fault != FK_NONE ? " fault " : "",
		r->fault != FK_NONE ? kind_name(r->fault) : "");
}

/* Body faults that replace or cut whatever the route decided. */
static void shape_body(struct sim *s, struct req *r, struct answer *a)
{
	static const char bad_json[] =
		"{\"object\": \"video\", \"status\": \"queued\",, \"progress\": }";
	size_t half;

	if (r->fault == FK_BAD_JSON) {
		free(a->body);
		memset(a, 0, sizeof(*a));
		answer_text(a, 200, "application/json", bad_json);
		a->is_json = true;
	} else if (r->fault == FK_TRUNCATED_JSON) {
		if (!a->is_json || a->video) {
			free(a->body);
			memset(a, 0, sizeof(*a));
			answer_error(a, 200, "server_error", "upstream_error",
				     NULL, "upstream returned an error");
		}
		a->status = 200;
		half = a->len / 2;
		a->len = half;
	}
}

static enum MHD_Result send_answer(struct sim *s, struct MHD_Connection *c,
				   struct req *r, struct answer *a)
{
	struct MHD_Response *resp;
	struct body_src *b = NULL;
	enum MHD_Result ret;
	char buf[96];
	bool cut = r->fault == FK_SHORT_BODY, long_body = r->fault == FK_LONG_BODY;
	int64_t body_len;

	if (r->fault == FK_RESET_AFTER_BODY) {
		log_answer(s, r, "closed");
		free(a->body);
		return MHD_NO;
	}
	shape_body(s, r, a);
	body_len = a->video ? a->count : (int64_t)a->len;
	if (a->video || cut || long_body) {
		b = calloc(1, sizeof(*b));
		if (!b) {
			free(a->body);
			return MHD_NO;
		}
		b->s = s;
		b->mem = a->body;
		a->body = NULL;
		b->video = a->video;
		snprintf(b->job_id, sizeof(b->job_id), "%s", a->job_id);
		b->video_bytes = s->opt.video_bytes;
		b->start = a->start;
		b->len = body_len;
		b->cut = cut ? body_len / 2 : -1;
		/* A long body is sent until the connection closes, so its
		 * size is unknown to MHD and the Content-Length we add lies. */
		resp = MHD_create_response_from_callback(
			long_body ? MHD_SIZE_UNKNOWN : (uint64_t)body_len,
			64 * 1024, body_read, b, body_free);
	} else {
		resp = MHD_create_response_from_buffer(a->len, a->body,
						       MHD_RESPMEM_MUST_FREE);
		if (resp)
			a->body = NULL;
	}
	if (!resp) {
		if (b)
			body_free(b);
		free(a->body);
		return MHD_NO;
	}
	if (long_body) {
		MHD_set_response_options(resp, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT |
					 MHD_RF_INSANITY_HEADER_CONTENT_LENGTH,
					 MHD_RO_END);
		snprintf(buf, sizeof(buf), "%" PRId64, body_len / 2);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_LENGTH, buf);
	}
	if (a->content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					a->content_type);
	if (a->ranges)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	if (a->partial) {
		snprintf(buf, sizeof(buf), "bytes %" PRId64 "-%" PRId64 "/%" PRId64,
			 a->start, a->start + a->count - 1, a->total);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, buf);
	} else if (a->unsatisfiable) {
		snprintf(buf, sizeof(buf), "bytes */%" PRId64, a->total);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, buf);
	}
	if (a->retry_after)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER,
					a->retry_after);
	if (a->retry_after_ms)
		MHD_add_response_header(resp, "retry-after-ms", a->retry_after_ms);
	if (a->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, a->allow);
	ret = MHD_queue_response(c, a->status, resp);
	MHD_destroy_response(resp);
	snprintf(buf, sizeof(buf), "%u", a->status);
	log_answer(s, r, buf);
	return ret;
}

/* Faults that answer instead of the route: nothing is created or read. */
static bool fault_answer(struct req *r, struct answer *a)
{
	switch (r->fault) {
	case FK_429:
	case FK_429_RETRY_AFTER:
	case FK_429_RETRY_AFTER_MS:
		answer_error(a, 429, "rate_limit_error", "rate_limit_exceeded",
			     NULL, "rate limit reached, slow down");
		if (r->fault == FK_429_RETRY_AFTER)
			a->retry_after = "1";
		if (r->fault == FK_429_RETRY_AFTER_MS)
			a->retry_after_ms = "500";
		return true;
	case FK_500:
		answer_error(a, 500, "server_error", NULL, NULL,
			     "the server had an error while processing your request");
		return true;
	case FK_502:
		answer_error(a, 502, "server_error", NULL, NULL, "bad gateway");
		return true;
	case FK_503:
		answer_error(a, 503, "server_error", NULL, NULL,
			     "the engine is currently overloaded, please try again later");
		return true;
	case FK_JSON_BODY:
		answer_error(a, 200, "server_error", "upstream_error", NULL,
			     "upstream error: the video is not available");
		return true;
	case FK_HTML_BODY:
		answer_text(a, 200, "text/html; charset=utf-8",
			    "<!DOCTYPE html>\n<html><head><title>Just a moment...</title>"
			    "</head>\n<body><h1>Checking your browser</h1>"
			    "<p>Please wait while we verify your connection.</p>"
			    "</body></html>\n");
		return true;
	default:
		return false;
	}
}

/* ---- the API ---- */

static int json_field(struct sbuf *slot, json_t *v, const char *key,
		      char *err, size_t errlen)
{
	char num[64];

	if (json_is_string(v))
		return sbuf_set(slot, json_string_value(v));
	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
		return sbuf_set(slot, num);
	}
	if (json_is_boolean(v))
		return sbuf_set(slot, json_is_true(v) ? "true" : "false");
	set_err(err, errlen, "%s must be a string", key);
	return -1;
}

static int fields_from_json(struct create_fields *f, const struct sbuf *raw,
			    const char **param, char *err, size_t errlen)
{
	static const char *const keys[] = {
		"model", "prompt", "seconds", "size", "watermark",
		"input_reference",
	};
	json_error_t jerr;
	json_t *root = json_loadb(raw->p ? raw->p : "", raw->len, 0, &jerr);
	int rc = 0;

	if (!json_is_object(root)) {
		set_err(err, errlen, "the body is not a JSON object");
		json_decref(root);
		return -1;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && rc == 0; i++) {
		json_t *v = json_object_get(root, keys[i]);
		struct sbuf *slot = field_slot(f, keys[i]);

		if (!v || json_is_null(v))
			continue;
		if (!slot) {
			f->ref_kind = REF_URL;
			slot = &f->ref_url;
		}
		*param = keys[i];
		rc = json_field(slot, v, keys[i], err, errlen);
	}
	json_decref(root);
	return rc;
}

/* 0, or -1 with the message and the offending parameter. */
static int validate(const struct create_fields *f, const char **param,
		    char *err, size_t errlen)
{
	*param = "model";
	if (!f->model.p || blank(f->model.p)) {
		set_err(err, errlen, "model is required");
		return -1;
	}
	*param = "prompt";
	if (!f->prompt.p) {
		set_err(err, errlen, "prompt is required");
		return -1;
	}
	if (blank(f->prompt.p)) {
		set_err(err, errlen, "prompt must not be empty");
		return -1;
	}
	size_t chars = 0;
	for (size_t i = 0; i < f->prompt.len; i++)
		if (((unsigned char)f->prompt.p[i] & 0xc0) != 0x80)
			chars++; /* UTF-8: count characters, not bytes */
	if (chars > PROMPT_MAX) {
		set_err(err, errlen, "prompt is longer than %d characters",
			PROMPT_MAX);
		return -1;
	}
	*param = "seconds";
	if (f->seconds.p && !in_list(f->seconds.p, valid_seconds,
				     sizeof(valid_seconds) / sizeof(valid_seconds[0]))) {
		set_err(err, errlen, "seconds must be one of 4, 6, 8, 12 (got '%.40s')",
			f->seconds.p);
		return -1;
	}
	*param = "size";
	if (f->size.p && !in_list(f->size.p, valid_sizes,
				  sizeof(valid_sizes) / sizeof(valid_sizes[0]))) {
		set_err(err, errlen,
			"size must be one of 16x9, 9x16, 1280x720, 720x1280, 1024x1792, 1792x1024 (got '%.40s')",
			f->size.p);
		return -1;
	}
	if (f->ref_kind == REF_URL && f->ref_url.p && blank(f->ref_url.p)) {
		*param = "input_reference";
		set_err(err, errlen, "input_reference must not be empty");
		return -1;
	}
	return 0;
}

static void do_create(struct sim *s, struct req *r, struct answer *a)
{
	char msg[256];
	const char *param = NULL;
	struct job *j;

	if (r->too_large) {
		answer_error(a, 413, "invalid_request_error", NULL, NULL,
			     "the request body is too large");
		return;
	}
	if (r->bad_body) {
		answer_error(a, 400, "invalid_request_error", NULL, NULL,
			     "expected a multipart/form-data or application/json body");
		return;
	}
	if (r->body_json &&
	    fields_from_json(&r->in, &r->raw, &param, msg, sizeof(msg)) < 0) {
		answer_error(a, 400, "invalid_request_error", NULL, param, "%s", msg);
		return;
	}
	if (validate(&r->in, &param, msg, sizeof(msg)) < 0) {
		answer_error(a, 400, "invalid_request_error", NULL, param, "%s", msg);
		return;
	}
	pthread_mutex_lock(&s->lock);
	j = add_job(s, &r->in);
	if (j) {
		mark_outcome(s, j, r->fault, true);
		answer_json(a, 200, video_object(s, j, true, r->fault));
	}
	pthread_mutex_unlock(&s->lock);
	if (!j)
		answer_error(a, 500, "server_error", NULL, NULL, "out of memory");
}

static void not_found(struct answer *a, const char *id)
{
	answer_error(a, 404, "invalid_request_error", "not_found", "video_id",
		     "video '%s' not found", id);
}

static void do_poll(struct sim *s, struct req *r, struct answer *a)
{
	struct job *j;

	pthread_mutex_lock(&s->lock);
	j = find_job(s, r->id);
	if (j) {
		mark_outcome(s, j, r->fault, false);
		answer_json(a, 200, video_object(s, j, false, r->fault));
	}
	pthread_mutex_unlock(&s->lock);
	if (!j)
		not_found(a, r->id);
}

static void do_list(struct sim *s, struct answer *a)
{
	json_t *data = json_array();

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_jobs; i++)
		if (!s->jobs[i]->deleted)
			json_array_append_new(data, video_object(s, s->jobs[i],
								 false, FK_NONE));
	pthread_mutex_unlock(&s->lock);
	answer_json(a, 200, json_pack("{s:s, s:o, s:b}", "object", "list",
				      "data", data, "has_more", 0));
}

static void do_delete(struct sim *s, struct req *r, struct answer *a)
{
	struct job *j;
	struct view v;

	pthread_mutex_lock(&s->lock);
	j = find_job(s, r->id);
	if (j) {
		job_view(s, j, &v);
		/* A finished video is deleted; a running job is cancelled
		 * and keeps answering polls, as "cancelled". */
		if (v.completed)
			j->deleted = true;
		else if (!v.failed)
			j->cancelled = true;
	}
	pthread_mutex_unlock(&s->lock);
	if (!j) {
		not_found(a, r->id);
		return;
	}
	answer_json(a, 200, json_pack("{s:s, s:s, s:b}", "id", r->id,
				      "object", "video.deleted", "deleted", 1));
}

/* 1: a range [*start, *start + *count); 0: serve everything (no Range, or
 * one we don't do, such as several ranges); -1: not satisfiable. */
static int parse_range(const char *h, int64_t total, int64_t *start,
		       int64_t *count)
{
	long long a = -1, b = -1;
	const char *p;
	char *end;

	if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
		return 0;
	p = h + 6;
	while (*p == ' ')
		p++;
	if (*p == '-') {	/* the last N bytes */
		b = strtoll(p + 1, &end, 10);
		if (end == p + 1 || *end != '\0' || b < 0)
			return 0;
		if (b == 0)
			return -1;
		*start = b >= total ? 0 : total - b;
		*count = total - *start;
		return 1;
	}
	a = strtoll(p, &end, 10);
	if (end == p || *end != '-' || a < 0)
		return 0;
	p = end + 1;
	if (*p != '\0') {
		b = strtoll(p, &end, 10);
		if (*end != '\0' || b < a)
			return 0;
	}
	if (a >= total)
		return -1;
	if (b < 0 || b >= total)
		b = total - 1;
	*start = a;
	*count = b - a + 1;
	return 1;
}

static void answer_video(struct sim *s, struct MHD_Connection *c,
			 const char *id, struct answer *a)
{
	const char *range;
	int rc;

	a->status = 200;
	a->video = true;
	a->content_type = "video/mp4";
	snprintf(a->job_id, sizeof(a->job_id), "%s", id);
	a->total = sim_video_size(id, s->opt.video_bytes);
	a->start = 0;
	a->count = a->total;
	if (s->opt.no_range)
		return;
	a->ranges = true;
	range = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					    MHD_HTTP_HEADER_RANGE);
	if (!range)
		return;
	count_locked(s, &s->count.range_requests);
	rc = parse_range(range, a->total, &a->start, &a->count);
	if (rc > 0) {
		a->status = 206;
		a->partial = true;
	} else if (rc < 0) {
		a->video = false;
		a->unsatisfiable = true;
		answer_error(a, 416, "invalid_request_error", NULL, "range",
			     "range not satisfiable");
	}
}

/* 1: completed, 0: not yet, -1: will never be (failed, cancelled),
 * -2: no such job. */
static int video_state(struct sim *s, const char *id)
{
	struct job *j;
	struct view v;
	int state;

	pthread_mutex_lock(&s->lock);
	j = find_job(s, id);
	if (j)
		job_view(s, j, &v);
	state = !j ? -2 : v.completed ? 1 : v.failed ? -1 : 0;
	pthread_mutex_unlock(&s->lock);
	return state;
}

static void do_content(struct sim *s, struct MHD_Connection *c,
		       struct req *r, struct answer *a)
{
	const char *variant = MHD_lookup_connection_value(c,
					MHD_GET_ARGUMENT_KIND, "variant");
	int state = video_state(s, r->id);
	json_t *o;

	if (state == -2) {
		not_found(a, r->id);
		return;
	}
	if (state == 0) {
		answer_error(a, 404, "invalid_request_error", "video_not_ready",
			     NULL, "video is not ready yet");
		return;
	}
	if (state < 0) {
		answer_error(a, 404, "invalid_request_error", "video_unavailable",
			     NULL, "video generation did not complete");
		return;
	}
	if (variant && strcmp(variant, "thumbnail") == 0) {
		size_t len;
		const unsigned char *webp = sim_thumbnail_webp(&len);

		a->status = 200;
		a->content_type = "image/webp";
		a->body = malloc(len);
		if (a->body)
			memcpy(a->body, webp, len);
		a->len = a->body ? len : 0;
		return;
	}
	if (variant && strcmp(variant, "video") != 0) {
		answer_error(a, 400, "invalid_request_error", NULL, "variant",
			     "variant '%.40s' is not available", variant);
		return;
	}
	if (r->fault == FK_JSON_URL) {
		char url[sizeof(s->root) + ID_MAX + 32];

		snprintf(url, sizeof(url), "%s/_sim/files/%s.mp4", s->root, r->id);
		o = json_pack("{s:s}", "url", url);
		answer_json(a, 200, o);
		return;
	}
	answer_video(s, c, r->id, a);
}

/* ---- test hooks under /_sim ---- */

static json_t *sbuf_json(const struct sbuf *b)
{
	return b->p ? json_string(b->p) : json_null();
}

static void do_stats(struct sim *s, struct answer *a)
{
	json_t *o;

	pthread_mutex_lock(&s->lock);
	o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		      "creates", (json_int_t)s->count.creates,
		      "create_requests", (json_int_t)s->count.create_requests,
		      "polls", (json_int_t)s->count.polls,
		      "downloads", (json_int_t)s->count.downloads,
		      "content_requests", (json_int_t)s->count.content_requests,
		      "deletes", (json_int_t)s->count.deletes,
		      "jobs", (json_int_t)s->n_jobs,
		      "faults_applied", (json_int_t)s->count.faults_applied,
		      "file_requests", (json_int_t)s->count.file_requests,
		      "range_requests", (json_int_t)s->count.range_requests,
		      "lists", (json_int_t)s->count.lists,
		      "stalled", (json_int_t)s->stalled);
	pthread_mutex_unlock(&s->lock);
	answer_json(a, 200, o);
}

static void do_sim_job(struct sim *s, struct req *r, struct answer *a)
{
	static const char *const ref_kinds[] = { "none", "file", "url" };
	struct job *j;
	json_t *o = NULL;
	char hash[20] = "";

	pthread_mutex_lock(&s->lock);
	j = find_job(s, r->id);
	if (j) {
		struct create_fields *f = &j->in;
		struct view v;

		job_view(s, j, &v);
		if (f->ref_kind == REF_FILE)
			snprintf(hash, sizeof(hash), "%016" PRIx64, f->ref_hash);
		o = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:s, s:I, s:o, s:o,"
			      " s:o, s:o, s:b, s:s, s:s, s:i}",
			      "id", j->id,
			      "model", sbuf_json(&f->model),
			      "prompt", sbuf_json(&f->prompt),
			      "seconds", sbuf_json(&f->seconds),
			      "size", sbuf_json(&f->size),
			      "watermark", sbuf_json(&f->watermark),
			      "input_reference_kind", ref_kinds[f->ref_kind],
			      "input_reference_bytes", (json_int_t)f->ref_bytes,
			      "input_reference_filename", sbuf_json(&f->ref_filename),
			      "input_reference_content_type", sbuf_json(&f->ref_type),
			      "input_reference_url", sbuf_json(&f->ref_url),
			      "input_reference_fnv1a",
			      hash[0] ? json_string(hash) : json_null(),
			      "authorization_present", f->authorization,
			      "body_format", f->format ? f->format : "",
			      "status", v.status,
			      "progress", v.progress);
	}
	pthread_mutex_unlock(&s->lock);
	if (!j)
		not_found(a, r->id);
	else
		answer_json(a, 200, o);
}

static void do_files_index(struct sim *s, struct answer *a)
{
	struct sbuf html = { 0 };
	char line[256];
	int ok;

	ok = sbuf_set(&html, "<!DOCTYPE html>\n<html><head><title>Index of /_sim/files/"
		      "</title></head>\n<body><h1>Index of /_sim/files/</h1>\n<pre>\n") == 0;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_jobs && ok; i++) {
		struct job *j = s->jobs[i];
		struct view v;

		if (j->deleted)
			continue;
		job_view(s, j, &v);
		if (!v.completed)
			continue;
		snprintf(line, sizeof(line), "<a href=\"%s.mp4\">%s.mp4</a> %" PRId64 "\n",
			 j->id, j->id, sim_video_size(j->id, s->opt.video_bytes));
		ok = sbuf_append(&html, line, strlen(line), BODY_MAX) == 0;
	}
	pthread_mutex_unlock(&s->lock);
	if (ok)
		ok = sbuf_append(&html, "</pre>\n</body></html>\n", 22, BODY_MAX) == 0;
	if (!ok) {
		sbuf_free(&html);
		answer_error(a, 500, "server_error", NULL, NULL, "out of memory");
		return;
	}
	a->status = 200;
	a->content_type = "text/html; charset=utf-8";
	a->body = html.p;
	a->len = html.len;
}

static void do_file(struct sim *s, struct MHD_Connection *c, struct req *r,
		    struct answer *a)
{
	if (video_state(s, r->id) != 1)
		answer_text(a, 404, "text/plain", "not found\n");
	else
		answer_video(s, c, r->id, a);
}

static void do_faults_list(struct sim *s, struct answer *a)
{
	json_t *list = json_array();

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_faults; i++) {
		struct live_fault *f = &s->faults[i];

		json_array_append_new(list, json_pack("{s:s, s:s, s:I}",
			"endpoint", endpoint_names[f->endpoint],
			"kind", kind_name(f->kind),
			"left", (json_int_t)f->left));
	}
	pthread_mutex_unlock(&s->lock);
	answer_json(a, 200, json_pack("{s:o}", "faults", list));
}

static void do_faults_add(struct sim *s, struct req *r, struct answer *a)
{
	char msg[256];
	int n;

	if (r->too_large) {
		answer_error(a, 413, "invalid_request_error", NULL, NULL,
			     "the request body is too large");
		return;
	}
	n = sim_add_faults(s, r->raw.p ? r->raw.p : "", msg, sizeof(msg));
	if (n < 0)
		answer_error(a, 400, "invalid_request_error", NULL, "fault",
			     "%s", msg);
	else
		answer_json(a, 200, json_pack("{s:i}", "added", n));
}

/* ---- dispatch ---- */

static bool provider_route(enum route route)
{
	switch (route) {
	case R_CREATE:
	case R_LIST:
	case R_POLL:
	case R_CONTENT:
	case R_DELETE:
	case R_FILES_INDEX:
	case R_FILE:
		return true;
	default:
		return false;
	}
}

static void route_answer(struct sim *s, struct MHD_Connection *c,
			 struct req *r, struct answer *a)
{
	switch (r->route) {
	case R_CREATE: do_create(s, r, a); break;
	case R_LIST: do_list(s, a); break;
	case R_POLL: do_poll(s, r, a); break;
	case R_CONTENT: do_content(s, c, r, a); break;
	case R_DELETE: do_delete(s, r, a); break;
	case R_STATS: do_stats(s, a); break;
	case R_SIM_JOB: do_sim_job(s, r, a); break;
	case R_FILES_INDEX: do_files_index(s, a); break;
	case R_FILE: do_file(s, c, r, a); break;
	case R_FAULTS_LIST: do_faults_list(s, a); break;
	case R_FAULTS_ADD: do_faults_add(s, r, a); break;
	case R_FAULTS_CLEAR:
		sim_clear_faults(s);
		answer_json(a, 200, json_pack("{s:b}", "cleared", 1));
		break;
	case R_BAD_METHOD:
		answer_error(a, 405, "invalid_request_error", NULL, NULL,
			     "method %s is not allowed here", r->method);
		a->allow = "GET, HEAD, POST, DELETE";
		break;
	case R_NOT_FOUND:
		answer_error(a, 404, "invalid_request_error", "unknown_url", NULL,
			     "unknown URL %s", r->url);
		break;
	}
}

static enum MHD_Result dispatch(struct sim *s, struct MHD_Connection *c,
				struct req *r)
{
	struct answer a = { 0 };

	if (provider_route(r->route) && !delay(s, s->opt.latency_ms)) {
		log_answer(s, r, "closed (stopping)");
		return MHD_NO;
	}
	if (r->fault == FK_STALL) {
		if (!stall(s)) {
			log_answer(s, r, "closed (stopping)");
			return MHD_NO;
		}
		r->fault = FK_NONE;
	}
	if (!fault_answer(r, &a))
		route_answer(s, c, r, &a);
	return send_answer(s, c, r, &a);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct sim *s = cls;
	struct req *r = *con_cls;

	if (!r) {
		r = req_new(s, c, url, method);
		if (!r)
			return MHD_NO;
		*con_cls = r;
		if (r->fault == FK_RESET_BEFORE_BODY) {
			log_answer(s, r, "closed before the body");
			return MHD_NO;
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		req_body(r, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	return dispatch(s, c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	req_free(*con_cls);
	*con_cls = NULL;
}

/* ---- start and stop ---- */

static int resolve(const char *host, int port, struct sockaddr_storage *ss,
		   char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	char service[16];
	int rc;

	snprintf(service, sizeof(service), "%d", port);
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0) {
		set_err(err, errlen, "cannot resolve '%s': %s", host,
			gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

static void sim_free(struct sim *s)
{
	for (size_t i = 0; i < s->n_jobs; i++) {
		fields_free(&s->jobs[i]->in);
		free(s->jobs[i]);
	}
	free(s->jobs);
	free(s->faults);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int sim_init(struct sim *s, const struct sim_options *o)
{
	pthread_condattr_t attr;

	if (o)
		s->opt = *o;
	else
		sim_options_init(&s->opt);
	if (!s->opt.listen_host || !*s->opt.listen_host)
		s->opt.listen_host = "127.0.0.1";
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (getrandom(&s->id_seed, sizeof(s->id_seed), 0) != sizeof(s->id_seed))
		s->id_seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	for (int i = 0; i < s->opt.n_faults; i++)
		if (add_fault_locked(s, &s->opt.faults[i]) < 0)
			return -1;
	return 0;
}

struct sim *sim_start(const struct sim_options *o, char *err, size_t errlen)
{
	struct sockaddr_storage ss = { 0 };
	unsigned int flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD |
			     MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC;
	const union MHD_DaemonInfo *info;
	struct sim *s = calloc(1, sizeof(*s));
	const char *host;

	if (!s) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	if (sim_init(s, o) < 0) {
		set_err(err, errlen, "bad fault list");
		sim_free(s);
		return NULL;
	}
	host = s->opt.listen_host;
	if (resolve(host, s->opt.port, &ss, err, errlen) < 0) {
		sim_free(s);
		return NULL;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (s->opt.verbose)
		flags |= MHD_USE_ERROR_LOG;
	errno = 0;
	s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
				     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				     MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				     MHD_OPTION_END);
	if (!s->daemon) {
		char why[128];

		snprintf(why, sizeof(why), "%s",
			 errno ? strerror(errno) : "the server did not start");
		why[0] = (char)tolower((unsigned char)why[0]);
		set_err(err, errlen, "cannot listen on %s:%d: %s", host,
			s->opt.port, why);
		sim_free(s);
		return NULL;
	}
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : s->opt.port;
	snprintf(s->root, sizeof(s->root), strchr(host, ':') ?
		 "http://[%s]:%d" : "http://%s:%d", host, s->port);
	return s;
}

const char *sim_root_url(const struct sim *s)
{
	return s->root;
}

int sim_port(const struct sim *s)
{
	return s->port;
}

void sim_stop(struct sim *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
	MHD_stop_daemon(s->daemon);
	sim_free(s);
}

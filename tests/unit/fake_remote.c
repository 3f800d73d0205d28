#include "fake_remote.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fsutil.h"

struct script_node {
	struct script_node *next;
	struct fake_script s;   /* reason and body owned */
};

struct fake_job {
	char id[48];
	char *model, *seconds, *size;
	enum task_state state;
	int progress;
	char *error;
	bool has_error;
	bool error_as_string;
	char *status_text;
	int64_t video_size;
	bool removed;
};

struct fake_remote {
	struct remote remote;
	pthread_mutex_t mu;
	pthread_cond_t cv;

	struct script_node *head[FAKE_OPS], *tail[FAKE_OPS];

	struct fake_job *jobs;
	int njobs, capjobs;
	int64_t video_size;
	bool ranges;
	size_t chunk;
	int chunk_delay_ms;

	int calls[FAKE_OPS];
	int64_t *times[FAKE_OPS];
	int captimes[FAKE_OPS];
	struct fake_create_call **creates;  /* stable addresses for callers */
	fake_create_hook create_hook;
	void *create_hook_arg;
	int ncreates, capcreates;
	struct fake_content_call *contents;
	int ncontents, capcontents;

	int hold_count[FAKE_OPS];   /* calls still to hold; FAKE_ALL: all */
	unsigned release_gen[FAKE_OPS];
	int held[FAKE_OPS];
};

#define GROW(arr, n, cap)                                                   \
	do {                                                                \
		if ((n) == (cap)) {                                         \
			int c_ = (cap) ? (cap) * 2 : 16;                    \
			void *p_ = realloc((arr), (size_t)c_ * sizeof(*(arr))); \
			if (!p_)                                            \
				abort();                                    \
			(arr) = p_;                                         \
			(cap) = c_;                                         \
		}                                                           \
	} while (0)

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* ---- bytes ---- */

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void fake_video_bytes(const char *id, int64_t off, void *buf, size_t len)
{
	uint64_t seed = 1469598103934665603ULL;
	unsigned char *p = buf;

	for (const char *c = id; *c; c++) {
		seed ^= (unsigned char)*c;
		seed *= 1099511628211ULL;
	}
	/* An MP4's first boxes (ftyp, then an mdat running to the end), so
	 * the video is judged one by its bytes; random bytes after them. */
	static const unsigned char head[32] = {
		0, 0, 0, 24, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm', 0, 0, 2, 0,
		'i', 's', 'o', 'm', 'm', 'p', '4', '2', 0, 0, 0, 0, 'm', 'd', 'a', 't',
	};
	for (size_t i = 0; i < len; i++) {
		uint64_t pos = (uint64_t)off + i;
		uint64_t x = splitmix(seed + pos / 8);
		p[i] = pos < sizeof(head) ? head[pos] : (unsigned char)(x >> (8 * (pos % 8)));
	}
}

/* ---- locking helpers (mu held) ---- */

static void deadline_after(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Hang until the op's gate is released; -ETIMEDOUT after timeout_ms > 0. */
static int gate_wait(struct fake_remote *f, enum fake_op op, long timeout_ms)
{
	unsigned gen = f->release_gen[op];
	struct timespec ts;
	int rc = 0;

	if (timeout_ms > 0)
		deadline_after(&ts, timeout_ms);
	f->held[op]++;
	pthread_cond_broadcast(&f->cv);
	while (gen == f->release_gen[op]) {
		if (timeout_ms > 0) {
			if (pthread_cond_timedwait(&f->cv, &f->mu, &ts) == ETIMEDOUT &&
			    gen == f->release_gen[op]) {
				rc = -ETIMEDOUT;
				break;
			}
		} else {
			pthread_cond_wait(&f->cv, &f->mu);
		}
	}
	f->held[op]--;
	pthread_cond_broadcast(&f->cv);
	return rc;
}

static bool take_hold(struct fake_remote *f, enum fake_op op)
{
	if (f->hold_count[op] == 0)
		return false;
	if (f->hold_count[op] > 0)
		f->hold_count[op]--;
	return true;
}

static void count_call(struct fake_remote *f, enum fake_op op)
{
	GROW(f->times[op], f->calls[op], f->captimes[op]);
	f->times[op][f->calls[op]] = now_ms();
	f->calls[op]++;
	pthread_cond_broadcast(&f->cv);
}

/* Pops the next script of op into *out (caller frees its strings). */
static bool pop_script(struct fake_remote *f, enum fake_op op, struct fake_script *out)
{
	struct script_node *n = f->head[op];

	if (!n)
		return false;
	f->head[op] = n->next;
	if (!f->head[op])
		f->tail[op] = NULL;
	*out = n->s;
	free(n);
	return true;
}

static void script_free(struct fake_script *s)
{
	free((char *)s->reason);
	free((char *)s->body);
}

static struct fake_job *job_find(struct fake_remote *f, const char *id)
{
	for (int i = 0; i < f->njobs; i++)
		if (!strcmp(f->jobs[i].id, id) && !f->jobs[i].removed)
			return &f->jobs[i];
	return NULL;
}

/* A scripted failure or answer into res; returns the op's result. */
static int apply_script(const struct fake_script *s, struct remote_result *res)
{
	res->http_status = s->http_status;
	res->not_received = s->not_received;
	res->retryable = s->retryable;
	res->retry_after_ms = s->retry_after_ms;
	snprintf(res->reason, sizeof(res->reason), "%s",
		 s->reason ? s->reason : "scripted failure");
	if (s->body) {
		res->body = strdup(s->body);
		res->body_len = strlen(s->body);
	}
	if (s->kind == FAKE_ANSWER) {
		res->reason[0] = '\0';
		if (!res->http_status)
			res->http_status = 200;
		return 0;
	}
	return -1;
}

static char *job_json(const struct fake_job *j)
{
	json_t *o = json_object();
	char *text;

	json_object_set_new(o, "id", json_string(j->id));
	json_object_set_new(o, "object", json_string("video"));
	json_object_set_new(o, "model", json_string(j->model ? j->model : ""));
	json_object_set_new(o, "status", json_string(j->status_text ? j->status_text :
						     task_state_name(j->state)));
	json_object_set_new(o, "progress", json_integer(j->progress));
	json_object_set_new(o, "created_at", json_integer(1700000000));
	json_object_set_new(o, "seconds", json_string(j->seconds ? j->seconds : "8"));
	json_object_set_new(o, "size", json_string(j->size ? j->size : "16x9"));
	if (j->has_error) {
		if (j->error_as_string) {
			json_object_set_new(o, "error", json_string(j->error ? j->error : ""));
		} else {
			json_t *e = json_object();
			json_object_set_new(e, "code", json_string("video_generation_failed"));
			json_object_set_new(e, "message", json_string(j->error ? j->error : ""));
			json_object_set_new(o, "error", e);
		}
	}
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

static void answer_job(const struct fake_job *j, struct remote_result *res)
{
	res->http_status = 200;
	res->body = job_json(j);
	res->body_len = res->body ? strlen(res->body) : 0;
}

/* ---- ops ---- */

static int fake_create(struct remote *r, const struct remote_create *req,
		       struct remote_result *res)
{
	struct fake_remote *f = r->impl;
	struct fake_create_call *call = calloc(1, sizeof(*call));
	struct fake_script s;
	int rc;

	if (!call)
		abort();
	remote_result_clear(res);
	call->model = dup_or_null(req->model);
	call->prompt = dup_or_null(req->prompt);
	call->seconds = dup_or_null(req->seconds);
	call->size = dup_or_null(req->size);
	call->watermark = dup_or_null(req->watermark);
	call->image_path = dup_or_null(req->image_path);
	call->image_url = dup_or_null(req->image_url);
	call->resolution = dup_or_null(req->resolution);
	call->negative_prompt = dup_or_null(req->negative_prompt);
	if (req->image_path) {
		struct stat st;
		int fd = open(req->image_path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
			call->image_readable = true;
			call->image_len = (size_t)st.st_size;
		}
		if (fd >= 0)
			close(fd);
	}

	pthread_mutex_lock(&f->mu);
	fake_create_hook hook = f->create_hook;
	void *hook_arg = f->create_hook_arg;
	pthread_mutex_unlock(&f->mu);
	if (hook)
		hook(req->watch, hook_arg);

	pthread_mutex_lock(&f->mu);
	count_call(f, FAKE_CREATE);
	GROW(f->creates, f->ncreates, f->capcreates);
	f->creates[f->ncreates++] = call;
	if (take_hold(f, FAKE_CREATE))
		gate_wait(f, FAKE_CREATE, 0);
	if (pop_script(f, FAKE_CREATE, &s)) {
		rc = apply_script(&s, res);
		script_free(&s);
		pthread_mutex_unlock(&f->mu);
		return rc;
	}
	GROW(f->jobs, f->njobs, f->capjobs);
	struct fake_job *j = &f->jobs[f->njobs];
	memset(j, 0, sizeof(*j));
	snprintf(j->id, sizeof(j->id), "video_fake%04d", f->njobs + 1);
	j->model = dup_or_null(req->model);
	j->seconds = dup_or_null(req->seconds);
	j->size = dup_or_null(req->size);
	j->state = TASK_QUEUED;
	j->video_size = f->video_size;
	f->njobs++;
	answer_job(j, res);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static int fake_get(struct remote *r, const char *id, struct remote_result *res)
{
	struct fake_remote *f = r->impl;
	struct fake_script s;
	struct fake_job *j;
	int rc = 0;

	remote_result_clear(res);
	pthread_mutex_lock(&f->mu);
	count_call(f, FAKE_GET);
	if (take_hold(f, FAKE_GET))
		gate_wait(f, FAKE_GET, 0);
	if (pop_script(f, FAKE_GET, &s)) {
		rc = apply_script(&s, res);
		script_free(&s);
	} else if ((j = job_find(f, id))) {
		answer_job(j, res);
	} else {
		res->http_status = 404;
		res->retryable = false;
		snprintf(res->reason, sizeof(res->reason), "task not found on the provider");
		rc = -1;
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static int fake_remove(struct remote *r, const char *id, struct remote_result *res)
{
	struct fake_remote *f = r->impl;
	struct fake_script s;
	struct fake_job *j;
	int rc = 0;

	remote_result_clear(res);
	pthread_mutex_lock(&f->mu);
	count_call(f, FAKE_REMOVE);
	if (take_hold(f, FAKE_REMOVE))
		gate_wait(f, FAKE_REMOVE, 0);
	if (pop_script(f, FAKE_REMOVE, &s)) {
		rc = apply_script(&s, res);
		script_free(&s);
	} else if ((j = job_find(f, id))) {
		j->removed = true;
		res->http_status = 200;
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static int content_fail(struct remote_result *res, int status, bool retryable,
			const char *reason)
{
	res->http_status = status;
	res->retryable = retryable;
	snprintf(res->reason, sizeof(res->reason), "%s", reason);
	return -1;
}

static int fake_content(struct remote *r, const char *id, const char *variant,
			int64_t offset, int64_t length, long timeout_ms,
			const struct remote_sink *sink, struct remote_result *res)
{
	struct fake_remote *f = r->impl;
	struct fake_content_call call = {0};
	struct fake_script s = {0};
	bool scripted;
	struct fake_job *j;
	char jid[sizeof(j->id)];
	int64_t total, end, stop;
	bool honoured;
	size_t chunk;
	int delay_ms;

	(void)variant;
	remote_result_clear(res);
	snprintf(call.id, sizeof(call.id), "%s", id);
	call.offset = offset;
	call.length = length;
	call.timeout_ms = timeout_ms;

	pthread_mutex_lock(&f->mu);
	count_call(f, FAKE_CONTENT);
	honoured = f->ranges || (offset == 0 && length < 0);
	call.range_honoured = honoured;
	GROW(f->contents, f->ncontents, f->capcontents);
	int call_index = f->ncontents++;
	f->contents[call_index] = call;
	if (take_hold(f, FAKE_CONTENT) && gate_wait(f, FAKE_CONTENT, timeout_ms) < 0) {
		pthread_mutex_unlock(&f->mu);
		return content_fail(res, 0, true, "timed out");
	}
	scripted = pop_script(f, FAKE_CONTENT, &s);
	if (scripted && s.kind != FAKE_SHORT_BODY && s.kind != FAKE_STALL) {
		int rc = apply_script(&s, res);
		script_free(&s);
		pthread_mutex_unlock(&f->mu);
		return rc;
	}
	j = job_find(f, id);
	if (!j || j->state != TASK_COMPLETED) {
		pthread_mutex_unlock(&f->mu);
		script_free(&s);
		return content_fail(res, 404, true, "HTTP 404: video is not ready yet");
	}
	snprintf(jid, sizeof(jid), "%s", j->id);
	total = j->video_size;
	chunk = f->chunk;
	delay_ms = f->chunk_delay_ms;
	pthread_mutex_unlock(&f->mu);

	if (offset > total) {
		script_free(&s);
		return content_fail(res, 416, false, "HTTP 416: range not satisfiable");
	}
	end = honoured && length >= 0 && offset + length < total ? offset + length : total;
	stop = end;
	if (scripted && offset + s.after < end)
		stop = offset + s.after;
	res->http_status = honoured && (offset > 0 || length >= 0) ? 206 : 200;
	if (sink->on_start && sink->on_start(sink->ctx, total, honoured)) {
		script_free(&s);
		return content_fail(res, res->http_status, false, "aborted");
	}

	char *buf = malloc(chunk);
	int64_t pos = offset;
	int rc = 0;

	if (!buf)
		abort();
	while (pos < end) {
		if (pos == stop) {
			if (s.kind == FAKE_SHORT_BODY) {
				char why[128];
				snprintf(why, sizeof(why), "short body: got %lld of %lld bytes",
					 (long long)(pos - offset), (long long)(end - offset));
				rc = content_fail(res, res->http_status, true, why);
				break;
			}
			/* FAKE_STALL: hang mid-body until released */
			pthread_mutex_lock(&f->mu);
			int w = gate_wait(f, FAKE_CONTENT, timeout_ms);
			pthread_mutex_unlock(&f->mu);
			if (w < 0) {
				rc = content_fail(res, res->http_status, true, "timed out");
				break;
			}
			stop = end;
		}
		size_t n = chunk;
		if ((int64_t)n > stop - pos)
			n = (size_t)(stop - pos);
		if (delay_ms > 0)
			usleep((useconds_t)delay_ms * 1000);
		fake_video_bytes(jid, pos, buf, n);
		if (sink->on_data(sink->ctx, buf, n)) {
			rc = content_fail(res, res->http_status, false, "aborted");
			break;
		}
		pos += (int64_t)n;
	}
	free(buf);
	script_free(&s);
	return rc;
}

static void fake_destroy(struct remote *r)
{
	struct fake_remote *f = r->impl;

	for (int op = 0; op < FAKE_OPS; op++) {
		struct fake_script s;
		while (pop_script(f, op, &s))
			script_free(&s);
		free(f->times[op]);
	}
	for (int i = 0; i < f->njobs; i++) {
		free(f->jobs[i].model);
		free(f->jobs[i].seconds);
		free(f->jobs[i].size);
		free(f->jobs[i].error);
		free(f->jobs[i].status_text);
	}
	free(f->jobs);
	for (int i = 0; i < f->ncreates; i++) {
		struct fake_create_call *c = f->creates[i];
		free(c->model);
		free(c->prompt);
		free(c->seconds);
		free(c->size);
		free(c->watermark);
		free(c->image_path);
		free(c->image_url);
		free(c->resolution);
		free(c->negative_prompt);
		free(c);
	}
	free(f->creates);
	free(f->contents);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f);
}

/* GET /videos?limit&order=desc&after: the jobs newest first. */
static int fake_list(struct remote *r, const char *after, int limit,
		     struct remote_result *res)
{
	struct fake_remote *f = r->impl;
	struct fake_script s;
	int rc = 0;

	remote_result_clear(res);
	pthread_mutex_lock(&f->mu);
	count_call(f, FAKE_LIST);
	if (take_hold(f, FAKE_LIST))
		gate_wait(f, FAKE_LIST, 0);
	if (pop_script(f, FAKE_LIST, &s)) {
		rc = apply_script(&s, res);
		script_free(&s);
	} else {
		json_t *o = json_object(), *data = json_array();
		const char *last = NULL;
		bool started = after == NULL, more = false;

		for (int i = f->njobs - 1; i >= 0; i--) {
			struct fake_job *j = &f->jobs[i];
			if (j->removed)
				continue;
			if (!started) {
				started = !strcmp(j->id, after);
				continue;
			}
			if ((int)json_array_size(data) == limit) {
				more = true;
				break;
			}
			char *text = job_json(j);
			json_array_append_new(data, json_loads(text, 0, NULL));
			free(text);
			last = j->id;
		}
		json_object_set_new(o, "object", json_string("list"));
		json_object_set_new(o, "data", data);
		json_object_set_new(o, "last_id", last ? json_string(last) : json_null());
		json_object_set_new(o, "has_more", json_boolean(more));
		res->http_status = 200;
		res->body = json_dumps(o, JSON_COMPACT);
		res->body_len = res->body ? strlen(res->body) : 0;
		json_decref(o);
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static const struct remote_ops fake_ops_list = {
	.create = fake_create,
	.get = fake_get,
	.content = fake_content,
	.remove = fake_remove,
	.list = fake_list,
	.destroy = fake_destroy,
};

void fake_remote_enable_list(struct fake_remote *f)
{
	f->remote.ops = &fake_ops_list;
}

static const struct remote_ops fake_ops = {
	.create = fake_create,
	.get = fake_get,
	.content = fake_content,
	.remove = fake_remove,
	.destroy = fake_destroy,
};

struct fake_remote *fake_remote_new(void)
{
	struct fake_remote *f = calloc(1, sizeof(*f));
	pthread_condattr_t ca;

	if (!f)
		return NULL;
	f->remote.ops = &fake_ops;
	f->remote.impl = f;
	pthread_mutex_init(&f->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cv, &ca);
	pthread_condattr_destroy(&ca);
	f->video_size = FAKE_DEFAULT_VIDEO_SIZE;
	f->ranges = true;
	f->chunk = 16 * 1024;
	return f;
}

struct remote *fake_remote_remote(struct fake_remote *f)
{
	return &f->remote;
}

void fake_remote_free(struct fake_remote *f)
{
	if (f)
		fake_destroy(&f->remote);
}

/* ---- scripting ---- */

void fake_remote_script(struct fake_remote *f, enum fake_op op, const struct fake_script *s)
{
	struct script_node *n = calloc(1, sizeof(*n));

	if (!n)
		abort();
	n->s = *s;
	n->s.reason = dup_or_null(s->reason);
	n->s.body = dup_or_null(s->body);
	pthread_mutex_lock(&f->mu);
	if (f->tail[op])
		f->tail[op]->next = n;
	else
		f->head[op] = n;
	f->tail[op] = n;
	pthread_mutex_unlock(&f->mu);
}

void fake_remote_fail_not_received(struct fake_remote *f, enum fake_op op)
{
	struct fake_script s = {
		.kind = FAKE_FAIL, .not_received = true, .retryable = true,
		.retry_after_ms = -1, .reason = "could not connect to fake.invalid",
	};
	fake_remote_script(f, op, &s);
}

void fake_remote_fail_after_sending(struct fake_remote *f, enum fake_op op)
{
	struct fake_script s = {
		.kind = FAKE_FAIL, .not_received = false, .retryable = true,
		.retry_after_ms = -1,
		.reason = "connection closed before the answer was complete",
	};
	fake_remote_script(f, op, &s);
}

static bool http_retryable(enum fake_op op, int st)
{
	if (op == FAKE_CONTENT && (st == 404 || st == 400))
		return true;
	return st == 408 || st == 425 || st == 429 ||
	       (st >= 500 && st <= 599 && st != 501 && st != 505);
}

void fake_remote_fail_http(struct fake_remote *f, enum fake_op op, int status,
			   long retry_after_ms, const char *body)
{
	char reason[REMOTE_REASON_MAX];
	char *msg = body ? api_error_message(body, strlen(body)) : NULL;
	struct fake_script s = {
		.kind = FAKE_FAIL, .http_status = status,
		.retryable = http_retryable(op, status),
		.retry_after_ms = retry_after_ms, .reason = reason, .body = body,
	};

	if (op == FAKE_GET && status == 404)
		snprintf(reason, sizeof(reason), "task not found on the provider");
	else
		snprintf(reason, sizeof(reason), "HTTP %d: %s", status, msg ? msg : "error");
	free(msg);
	fake_remote_script(f, op, &s);
}

void fake_remote_answer(struct fake_remote *f, enum fake_op op, const char *body)
{
	struct fake_script s = {
		.kind = FAKE_ANSWER, .http_status = 200, .retry_after_ms = -1, .body = body,
	};
	fake_remote_script(f, op, &s);
}

void fake_remote_short_body(struct fake_remote *f, int64_t after)
{
	struct fake_script s = { .kind = FAKE_SHORT_BODY, .retry_after_ms = -1, .after = after };
	fake_remote_script(f, FAKE_CONTENT, &s);
}

void fake_remote_stall_content(struct fake_remote *f, int64_t after)
{
	struct fake_script s = { .kind = FAKE_STALL, .retry_after_ms = -1, .after = after };
	fake_remote_script(f, FAKE_CONTENT, &s);
}

/* ---- jobs ---- */

void fake_remote_set_video_size(struct fake_remote *f, int64_t size)
{
	pthread_mutex_lock(&f->mu);
	f->video_size = size;
	pthread_mutex_unlock(&f->mu);
}

void fake_remote_set_ranges(struct fake_remote *f, bool honoured)
{
	pthread_mutex_lock(&f->mu);
	f->ranges = honoured;
	pthread_mutex_unlock(&f->mu);
}

void fake_remote_set_chunk(struct fake_remote *f, size_t bytes, int delay_ms)
{
	pthread_mutex_lock(&f->mu);
	f->chunk = bytes ? bytes : 1;
	f->chunk_delay_ms = delay_ms;
	pthread_mutex_unlock(&f->mu);
}

int fake_remote_job_count(struct fake_remote *f)
{
	int n;

	pthread_mutex_lock(&f->mu);
	n = f->njobs;
	pthread_mutex_unlock(&f->mu);
	return n;
}

bool fake_remote_job_id(struct fake_remote *f, int index, char *buf, size_t len)
{
	bool ok = false;

	pthread_mutex_lock(&f->mu);
	if (index >= 0 && index < f->njobs) {
		snprintf(buf, len, "%s", f->jobs[index].id);
		ok = true;
	}
	pthread_mutex_unlock(&f->mu);
	return ok;
}

int fake_remote_job_set(struct fake_remote *f, const char *id, enum task_state state,
			int progress)
{
	struct fake_job *j;

	pthread_mutex_lock(&f->mu);
	j = job_find(f, id);
	if (j) {
		j->state = state;
		j->progress = progress;
	}
	pthread_mutex_unlock(&f->mu);
	return j ? 0 : -ENOENT;
}

int fake_remote_job_fail(struct fake_remote *f, const char *id, const char *error,
			 bool as_string)
{
	struct fake_job *j;

	pthread_mutex_lock(&f->mu);
	j = job_find(f, id);
	if (j) {
		j->state = TASK_FAILED;
		free(j->error);
		j->error = dup_or_null(error);
		j->has_error = error != NULL;
		j->error_as_string = as_string;
	}
	pthread_mutex_unlock(&f->mu);
	return j ? 0 : -ENOENT;
}

int fake_remote_job_status_text(struct fake_remote *f, const char *id, const char *text)
{
	struct fake_job *j;

	pthread_mutex_lock(&f->mu);
	j = job_find(f, id);
	if (j) {
		free(j->status_text);
		j->status_text = dup_or_null(text);
	}
	pthread_mutex_unlock(&f->mu);
	return j ? 0 : -ENOENT;
}

int64_t fake_remote_job_video_size(struct fake_remote *f, const char *id)
{
	struct fake_job *j;
	int64_t size;

	pthread_mutex_lock(&f->mu);
	j = job_find(f, id);
	size = j ? j->video_size : -1;
	pthread_mutex_unlock(&f->mu);
	return size;
}

/* ---- what was asked ---- */

int fake_remote_calls(struct fake_remote *f, enum fake_op op)
{
	int n;

	pthread_mutex_lock(&f->mu);
	n = f->calls[op];
	pthread_mutex_unlock(&f->mu);
	return n;
}

struct count_want {
	struct fake_remote *f;
	const int *counter;
	int n;
};

static bool count_reached(void *ctx)
{
	struct count_want *w = ctx;
	bool ok;

	pthread_mutex_lock(&w->f->mu);
	ok = *w->counter >= w->n;
	pthread_mutex_unlock(&w->f->mu);
	return ok;
}

/* Through test_wait_until, so that a test clock runs on meanwhile: a call
 * that comes after a backoff does come. */
static int wait_count(struct fake_remote *f, const int *counter, int n, int timeout_ms)
{
	struct count_want w = { f, counter, n };
	int got;

	test_wait_until(count_reached, &w, timeout_ms);
	pthread_mutex_lock(&f->mu);
	got = *counter;
	pthread_mutex_unlock(&f->mu);
	return got;
}

int fake_remote_wait_calls(struct fake_remote *f, enum fake_op op, int n, int timeout_ms)
{
	return wait_count(f, &f->calls[op], n, timeout_ms);
}

int64_t fake_remote_call_time(struct fake_remote *f, enum fake_op op, int index)
{
	int64_t t = -1;

	pthread_mutex_lock(&f->mu);
	if (index >= 0 && index < f->calls[op])
		t = f->times[op][index];
	pthread_mutex_unlock(&f->mu);
	return t;
}

void fake_remote_on_create(struct fake_remote *f, fake_create_hook fn, void *arg)
{
	pthread_mutex_lock(&f->mu);
	f->create_hook = fn;
	f->create_hook_arg = arg;
	pthread_mutex_unlock(&f->mu);
}

const struct fake_create_call *fake_remote_create_call(struct fake_remote *f, int index)
{
	const struct fake_create_call *c = NULL;

	pthread_mutex_lock(&f->mu);
	if (index >= 0 && index < f->ncreates)
		c = f->creates[index];
	pthread_mutex_unlock(&f->mu);
	return c;
}

int fake_remote_content_calls(struct fake_remote *f, struct fake_content_call *out, int max)
{
	int n;

	pthread_mutex_lock(&f->mu);
	n = f->ncontents;
	for (int i = 0; i < n && i < max; i++)
		out[i] = f->contents[i];
	pthread_mutex_unlock(&f->mu);
	return n;
}

/* ---- gates ---- */

void fake_remote_hold(struct fake_remote *f, enum fake_op op, int count)
{
	pthread_mutex_lock(&f->mu);
	f->hold_count[op] = count;
	pthread_mutex_unlock(&f->mu);
}

void fake_remote_release(struct fake_remote *f, enum fake_op op)
{
	pthread_mutex_lock(&f->mu);
	f->hold_count[op] = 0;
	f->release_gen[op]++;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

void fake_remote_release_all(struct fake_remote *f)
{
	for (int op = 0; op < FAKE_OPS; op++)
		fake_remote_release(f, op);
}

int fake_remote_wait_held(struct fake_remote *f, enum fake_op op, int n, int timeout_ms)
{
	return wait_count(f, &f->held[op], n, timeout_ms);
}

/* Polling the provider for a task's progress, and applying any answer
 * (from a create or a poll) to the task. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "log.h"
#include "scheduler.h"
#include "task_store.h"
#include "video_object.h"
#include "xalloc.h"

/* task.json holds the provider's answer verbatim up to this size; a
 * bigger one is summed up (its id, status and size), so what a provider
 * sends cannot fill the disk or, read back, the memory. */
#define TASK_JSON_MAX (256u << 10)

/* Consecutive "not found" answers before we believe the provider lost the
 * task: gateways sometimes answer 404 for a moment right after a create. */
#define NOT_FOUND_LIMIT 3

/* An answer that says the provider has no such task: 404, or new-api's
 * 400 "task_not_exist" (QuantumNous/new-api, relay/relay_task.go) and
 * others' "not found" in a 400. */
static bool answer_says_unknown_task(const struct remote_result *res)
{
	if (res->http_status == 404)
		return true;
	return res->http_status == 400 &&
	       (strcasestr(res->reason, "not_exist") || strcasestr(res->reason, "not exist") ||
		strcasestr(res->reason, "not found") || strcasestr(res->reason, "not_found"));
}

/* The task state a provider's status stands for. */
static enum task_state task_state_of(enum video_status s)
{
	switch (s) {
	case VIDEO_IN_PROGRESS:
		return TASK_IN_PROGRESS;
	case VIDEO_COMPLETED:
		return TASK_COMPLETED;
	case VIDEO_FAILED:
		return TASK_FAILED;
	default:
		return TASK_QUEUED;
	}
}

static int state_rank(enum task_state s)
{
	switch (s) {
	case TASK_PENDING:
		return 0;
	case TASK_QUEUED:
		return 1;
	case TASK_IN_PROGRESS:
		return 2;
	default:
		return 3;
	}
}

static uint64_t answer_hash(const char *p, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ULL;
	}
	return h | 1; /* 0 means unknown */
}

/* s as the inside of a JSON string. */
static char *json_escape(const char *s)
{
	size_t n = strlen(s);
	char *out = xmalloc(6 * n + 1), *p = out;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			p += sprintf(p, "\\u%04x", c);
		} else {
			*p++ = (char)c;
		}
	}
	*p = '\0';
	return out;
}

/* What task.json says of an answer too big to keep: JSON, like the rest. */
static char *answer_summary(const struct video_object *v, size_t len)
{
	char *id = json_escape(v->id ? v->id : "");
	char *error = v->error ? json_escape(v->error) : NULL;
	char *s = xasprintf("{\"id\":\"%s\",\"status\":\"%s\",\"progress\":%d,%s%s%s"
			    "\"veofs_note\":\"the provider's answer was %zu bytes; only this "
			    "summary of it is kept\"}\n", id,
			    v->has_state ? task_state_name(task_state_of(v->state)) : "unknown",
			    v->progress, error ? "\"error\":\"" : "", error ? error : "",
			    error ? "\"," : "", len);
	free(id);
	free(error);
	return s;
}

bool poller_apply_answer(struct engine *e, struct task *t, const char *body,
			 size_t len, char *err, size_t errlen)
{
	struct video_object v;
	struct task_change c;
	char log[REMOTE_REASON_MAX + 320];
	bool moved = false, first_id = false;
	enum task_state old;
	char *summary = NULL;

	err[0] = '\0';
	if (video_object_parse(body ? body : "", body ? len : 0, &v, err, errlen) < 0)
		return false;

	engine_change_begin(&c, t);
	if (!t->id) {
		if (!v.id) {
			pthread_mutex_unlock(&t->mu);
			snprintf(err, errlen, "the answer had no task id");
			video_object_free(&v);
			return false;
		}
		t->id = xstrdup(v.id);
		t->submit = SUBMIT_DONE;
		t->accepted_at = time(NULL);
		first_id = true;
		c.files |= 1u << TF_ID;
		if (t->state == TASK_PENDING) {
			t->state = TASK_QUEUED;
			moved = true;
		}
	}
	old = t->state;
	if (v.has_state && state_rank(task_state_of(v.state)) >= state_rank(t->state) &&
	    t->state != TASK_COMPLETED && t->state != TASK_FAILED && !t->api_completed) {
		enum task_state next = task_state_of(v.state);
		if (next == TASK_COMPLETED) {
			/* Shown as completed when the video can be: the
			 * downloader moves it on as soon as it knows the size. */
			t->api_completed = true;
			next = TASK_IN_PROGRESS;
			task_set_str(&t->note, "fetching the video");
			moved = true;
		}
		if (next != t->state)
			moved = true;
		t->state = next;
	}
	if (t->state == TASK_FAILED && old != TASK_FAILED) {
		/* The parser already turned "cancelled"/"expired" into reasons.
		 * Some gateways fail a task with no reason at all (new-api's
		 * Gemini channel): say what the answer did say. */
		char none[160];
		snprintf(none, sizeof(none), "the provider gave no reason (its answer said "
			 "status \"%.60s\" and nothing more)", v.status_text ? v.status_text : "");
		task_set_str(&t->reason, v.error ? v.error : none);
		t->cancel_requested = false;
		c.files |= 1u << TF_ERROR;
	}
	if (v.progress >= 0 && !t->progress_seen) {
		t->progress_seen = true;
		c.files |= (1u << TF_STATUS) | (1u << TF_PROGRESS);
		c.save = true;
	}
	if (t->state == TASK_COMPLETED || t->api_completed) {
		if (t->progress != 100)
			moved = true;
		t->progress = 100;
	} else if (v.progress > t->progress && t->state != TASK_FAILED) {
		/* Shown progress never goes backwards, whatever a provider
		 * says (100, 0, 100 has been seen); task.json keeps its words. */
		t->progress = v.progress;
		moved = true;
	}
	/* task.json lives on disk only; memory keeps its size and a hash. */
	const char *kept = body;
	size_t kept_len = len;
	if (len > TASK_JSON_MAX) {
		summary = answer_summary(&v, len);
		kept = summary;
		kept_len = strlen(summary);
	}
	uint64_t hash = answer_hash(kept, kept_len);
	if (!t->has_task_json || t->task_json_hash != hash || t->task_json_len != kept_len) {
		t->has_task_json = true;
		t->task_json_len = kept_len;
		t->task_json_hash = hash;
		c.files |= 1u << TF_TASK_JSON;
		c.answer = true;
		c.answer_json = kept;
		c.answer_len = kept_len;
	}
	/* A note says what is going on now: the answer replaces it, unless
	 * it is news that lasts until the task moves (a refused cancel). */
	if (!t->api_completed && (moved || !t->note_until_moved)) {
		task_set_str(&t->note, NULL);
		t->note_until_moved = false;
	}
	if (!v.has_state && v.status_word && !t->api_completed && !t->note_until_moved &&
	    t->state != TASK_FAILED) {
		/* A word we do not know is shown as it came, never taken for
		 * progress, and logged once per word. */
		char said[128];
		snprintf(said, sizeof(said), "provider says: %s", v.status_word);
		if (!t->note || strcmp(t->note, said)) {
			if (!t->status_word_logged || strcmp(t->status_word_logged, v.status_word)) {
				task_set_str(&t->status_word_logged, v.status_word);
				snprintf(log, sizeof(log), "the provider's status '%s' is not one veofs "
					 "knows; showing it as it came", v.status_word);
				c.log_level = LOG_LVL_WARN;
				c.log = log;
			}
		}
		task_set_str(&t->note, said);
	}
	t->not_found_count = 0;
	if (v.video_url && (!t->video_link || strcmp(t->video_link, v.video_url))) {
		/* Signed links change from poll to poll: the last one given. */
		task_set_str(&t->video_link, v.video_url);
		c.save = true;
	}
	if (moved) {
		c.events = 1;
		c.event_text[0] = t->state == TASK_FAILED ? t->reason : NULL;
		c.files |= (1u << TF_STATUS) | (1u << TF_PROGRESS) | (1u << TF_DIR);
	} else {
		c.files |= 1u << TF_STATUS; /* the note went away */
	}
	c.save = c.save || moved || first_id;
	/* One line: the id the provider gave, and where the task now is. */
	bool state_moved = moved && t->state != old;
	if (state_moved && t->state == TASK_FAILED) {
		snprintf(log, sizeof(log), "failed: %s", t->reason ? t->reason : "");
		c.log_level = LOG_LVL_WARN;
		c.log = log;
	} else if (c.log) {
		/* the unknown word's line */
	} else if (first_id || state_moved) {
		int n = 0;
		if (first_id)
			n = snprintf(log, sizeof(log), "accepted by the provider as %s%s", t->id,
				     state_moved ? "; " : "");
		if (state_moved && n >= 0 && (size_t)n < sizeof(log))
			snprintf(log + n, sizeof(log) - (size_t)n, "%s", task_state_name(t->state));
		c.log = log;
	}
	engine_commit(e, &c);
	free(summary);
	video_object_free(&v);
	return moved;
}

/* A server's hint for the next poll (openai-poll-after-ms, Retry-After),
 * bounded: at least 250 ms, at most poll.max_interval. */
static int64_t poll_hint_ms(const struct engine *e, long hint_ms)
{
	int64_t max = (int64_t)e->o.poll_max_interval_s * 1000;
	int64_t d = hint_ms;

	if (max > 0 && d > max)
		d = max;
	return d < 250 ? 250 : d;
}

struct work_next poller_run(struct engine *e, struct task *t)
{
	struct remote_result res = {0};
	struct task_change c;
	char err[256], note[REMOTE_REASON_MAX + 64];
	char *id;
	int64_t delay;

	pthread_mutex_lock(&t->mu);
	if (t->deleted || !t->id || t->api_completed ||
	    (t->state != TASK_QUEUED && t->state != TASK_IN_PROGRESS)) {
		pthread_mutex_unlock(&t->mu);
		return WORK_IDLE;
	}
	id = xstrdup(t->id);
	pthread_mutex_unlock(&t->mu);

	if (e->remote->ops->get(e->remote, id, &res) == 0) {
		bool moved = poller_apply_answer(e, t, res.body, res.body_len, err, sizeof(err));
		engine_change_begin(&c, t);
		if (err[0]) {
			delay = engine_backoff_ms(e, ++t->poll_delay_s, res.retry_after_ms);
			snprintf(note, sizeof(note), "bad answer from the provider: %s; retrying in %llds",
				 err, (long long)((delay + 999) / 1000));
			task_set_str(&t->note, note);
			c.files = 1u << TF_STATUS;
			c.log_level = LOG_LVL_WARN;
			c.log = note;
		} else if (moved) {
			t->poll_delay_s = 1;
			delay = (int64_t)e->o.poll_interval_s * 1000;
		} else {
			/* Nothing moved: ask less often, up to the ceiling. */
			delay = engine_backoff_ms(e, ++t->poll_delay_s, -1);
		}
		/* openai-poll-after-ms is the provider's own advice, but only
		 * advice: never more than poll.max_interval, so a hint of
		 * 10^12 ms cannot stop polling. */
		if (!err[0] && res.retry_after_ms > 0)
			delay = poll_hint_ms(e, res.retry_after_ms);
		engine_commit(e, &c);
		if (!err[0])
			delay = engine_poll_answered(e, t, delay, res.retry_after_ms > 0);
	} else {
		engine_change_begin(&c, t);
		bool lost = answer_says_unknown_task(&res) &&
			    ++t->not_found_count >= NOT_FOUND_LIMIT;
		delay = engine_backoff_ms(e, ++t->poll_delay_s, res.retry_after_ms);
		if (res.retry_after_ms > 0 && delay > poll_hint_ms(e, res.retry_after_ms))
			delay = poll_hint_ms(e, res.retry_after_ms);
		snprintf(note, sizeof(note), "poll failed: %s; retrying in %llds", res.reason,
			 (long long)((delay + 999) / 1000));
		if (lost) {
			t->state = TASK_FAILED;
			task_set_str(&t->note, NULL);
			char why[REMOTE_REASON_MAX + 64];
			if (!strncmp(res.reason, "HTTP ", 5))
				snprintf(why, sizeof(why), "the provider does not know this task "
					 "(%s)", res.reason);
			else
				snprintf(why, sizeof(why), "the provider does not know this task "
					 "(HTTP %d: %s)", res.http_status, res.reason);
			task_set_str(&t->reason, why);
			c.save = true;
			c.events = 1;
			c.event_text[0] = t->reason;
			c.files = (1u << TF_STATUS) | (1u << TF_ERROR) | (1u << TF_DIR);
			c.log_level = LOG_LVL_WARN;
			c.log = "failed: the provider does not know it";
		} else {
			task_set_str(&t->note, note);
			c.files = 1u << TF_STATUS;
			c.log = note;
		}
		engine_commit(e, &c);
		engine_poll_failed(e, t, &res);
	}
	remote_result_clear(&res);
	free(id);
	pthread_mutex_lock(&t->mu);
	bool completed = t->api_completed;
	pthread_mutex_unlock(&t->mu);
	/* A finished video is fetched at once: providers delete them soon. */
	return work_after(completed ? 0 : delay);
}

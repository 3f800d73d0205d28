/* Polling the provider for a task's progress, and applying any answer
 * (from a create or a poll) to the task. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "log.h"
#include "scheduler.h"
#include "task_store.h"
#include "video_object.h"

/* Consecutive "not found" answers before we believe the provider lost the
 * task: gateways sometimes answer 404 for a moment right after a create. */
#define NOT_FOUND_LIMIT 3

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

bool poller_apply_answer(struct engine *e, struct task *t, const char *body,
			 size_t len, char *err, size_t errlen)
{
	struct video_object v;
	unsigned files = 0;
	bool moved = false, first_id = false;
	char *line = NULL;
	enum task_state old;

	err[0] = '\0';
	if (video_object_parse(body ? body : "", body ? len : 0, &v, err, errlen) < 0)
		return false;

	pthread_mutex_lock(&t->mu);
	if (!t->id) {
		if (!v.id) {
			pthread_mutex_unlock(&t->mu);
			snprintf(err, errlen, "the answer had no task id");
			video_object_free(&v);
			return false;
		}
		t->id = strdup(v.id);
		t->submit = SUBMIT_DONE;
		first_id = true;
		files |= 1u << TF_ID;
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
		/* The parser already turned "cancelled"/"expired" into reasons. */
		task_set_str(&t->reason, v.error ? v.error : "the provider gave no reason");
		files |= 1u << TF_ERROR;
	}
	if (t->state == TASK_COMPLETED || t->api_completed) {
		if (t->progress != 100)
			moved = true;
		t->progress = 100;
	} else if (v.progress >= 0 && v.progress != t->progress &&
		   t->state != TASK_FAILED) {
		t->progress = v.progress;
		moved = true;
	}
	if (!t->task_json || t->task_json_len != len || memcmp(t->task_json, body, len)) {
		char *copy = malloc(len + 1);
		if (copy) {
			memcpy(copy, body, len);
			copy[len] = '\0';
			free(t->task_json);
			t->task_json = copy;
			t->task_json_len = len;
			files |= 1u << TF_TASK_JSON;
		}
	}
	if (!t->api_completed)
		task_set_str(&t->note, NULL);
	t->not_found_count = 0;
	if (moved) {
		line = engine_event_locked(t, t->state == TASK_FAILED ? t->reason : NULL);
		files |= (1u << TF_STATUS) | (1u << TF_PROGRESS) | (1u << TF_EVENTS) |
			 (1u << TF_DIR);
	} else {
		files |= 1u << TF_STATUS; /* the note went away */
	}
	enum task_state now = t->state;
	char *id = first_id ? strdup(t->id) : NULL;
	char *reason = now == TASK_FAILED && old != TASK_FAILED && t->reason ?
		       strdup(t->reason) : NULL;
	pthread_mutex_unlock(&t->mu);

	if (id)
		log_info("task %s: accepted by the provider as %s", t->name, id);
	if (moved && now != old) {
		if (now == TASK_FAILED)
			log_warn("task %s: failed: %s", t->name, reason ? reason : "");
		else
			log_info("task %s: %s", t->name, task_state_name(now));
	}
	if (moved || first_id)
		task_store_save(e->store, t);
	if (files & (1u << TF_TASK_JSON))
		task_store_save_answer(e->store, t);
	engine_event_persist(e, t, line);
	engine_task_changed(e, t, files);
	if (moved && now == TASK_FAILED && old != TASK_FAILED)
		engine_task_finished(e, t);
	free(id);
	free(reason);
	video_object_free(&v);
	return moved;
}

void poller_run(struct engine *e, struct task *t)
{
	struct remote_result res = {0};
	char err[256], note[REMOTE_REASON_MAX + 64];
	char *id;
	int64_t delay;
	int attempt;

	pthread_mutex_lock(&t->mu);
	if (t->deleted || !t->id || t->api_completed ||
	    (t->state != TASK_QUEUED && t->state != TASK_IN_PROGRESS)) {
		pthread_mutex_unlock(&t->mu);
		return;
	}
	id = strdup(t->id);
	pthread_mutex_unlock(&t->mu);
	if (!id)
		return;

	if (e->remote->ops->get(e->remote, id, &res) == 0) {
		bool moved = poller_apply_answer(e, t, res.body, res.body_len, err, sizeof(err));
		pthread_mutex_lock(&t->mu);
		if (err[0]) {
			attempt = ++t->poll_delay_s;
			delay = engine_backoff_ms(e, attempt, res.retry_after_ms);
			snprintf(note, sizeof(note), "bad answer from the provider: %s; retrying in %llds",
				 err, (long long)((delay + 999) / 1000));
			task_set_str(&t->note, note);
		} else if (moved) {
			t->poll_delay_s = 1;
			delay = (int64_t)e->o.poll_interval_s * 1000;
		} else {
			/* Nothing moved: ask less often, up to the ceiling. */
			attempt = ++t->poll_delay_s;
			delay = engine_backoff_ms(e, attempt, -1);
		}
		/* openai-poll-after-ms is the provider's own advice. */
		if (!err[0] && res.retry_after_ms > 0)
			delay = res.retry_after_ms < 250 ? 250 : res.retry_after_ms;
		pthread_mutex_unlock(&t->mu);
		if (err[0]) {
			log_warn("task %s: %s", t->name, note);
			engine_task_changed(e, t, 1u << TF_STATUS);
		}
	} else {
		bool lost = false;
		pthread_mutex_lock(&t->mu);
		if (res.http_status == 404 && ++t->not_found_count >= NOT_FOUND_LIMIT)
			lost = true;
		attempt = ++t->poll_delay_s;
		delay = engine_backoff_ms(e, attempt, res.retry_after_ms);
		snprintf(note, sizeof(note), "poll failed: %s; retrying in %llds", res.reason,
			 (long long)((delay + 999) / 1000));
		task_set_str(&t->note, lost ? NULL : note);
		if (lost) {
			t->state = TASK_FAILED;
			task_set_str(&t->reason, "the provider no longer knows this task (HTTP 404)");
		}
		char *line = lost ? engine_event_locked(t, t->reason) : NULL;
		pthread_mutex_unlock(&t->mu);
		if (lost) {
			log_warn("task %s: failed: the provider no longer knows it", t->name);
			task_store_save(e->store, t);
			engine_event_persist(e, t, line);
			engine_task_changed(e, t, (1u << TF_STATUS) | (1u << TF_ERROR) |
					    (1u << TF_EVENTS) | (1u << TF_DIR));
			engine_task_finished(e, t);
		} else {
			log_info("task %s: %s", t->name, note);
			engine_task_changed(e, t, 1u << TF_STATUS);
		}
	}
	remote_result_clear(&res);
	free(id);
	pthread_mutex_lock(&t->mu);
	bool completed = t->api_completed;
	pthread_mutex_unlock(&t->mu);
	/* A finished video is fetched at once: providers delete them soon. */
	engine_kick_at(e, t, completed ? now_ms() : now_ms() + delay);
}

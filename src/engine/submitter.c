/* Sending a task's create request: at most once, unless the provider
 * certainly never received it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "log.h"
#include "scheduler.h"
#include "state_lock.h"
#include "task_store.h"
#include "video_object.h"
#include "xalloc.h"

/* An HTTP error answer means the provider looked at the request and
 * refused it, so nothing was created; except 504, where a gateway gave up
 * waiting for a provider that may still be creating the task. */
static bool answer_means_not_created(const struct remote_result *res)
{
	return res->http_status >= 400 && res->http_status != 504;
}

static struct work_next fail_task(struct engine *e, struct task *t, const char *reason)
{
	struct task_change c;
	char log[REMOTE_REASON_MAX + 300];

	snprintf(log, sizeof(log), "failed: %s", reason);
	engine_change_begin(&c, t);
	t->state = TASK_FAILED;
	task_set_str(&t->reason, reason);
	task_set_str(&t->note, NULL);
	c.save = true;
	c.events = 1;
	c.event_text[0] = reason;
	c.files = (1u << TF_STATUS) | (1u << TF_ERROR) | (1u << TF_DIR);
	c.log_level = LOG_LVL_WARN;
	c.log = log;
	engine_commit(e, &c);
	return WORK_IDLE;
}

/* What a streamed create (the chat route) says while it runs. Its reply
 * is the only record of a request that cannot be sent twice, so each
 * piece is committed the moment it comes. */
struct submit_watch {
	struct engine *e;
	struct task *t;
};

/* t->mu held: the task is still this create's to describe. */
static bool watch_live(const struct task *t)
{
	return !t->deleted && t->state != TASK_FAILED && t->state != TASK_COMPLETED &&
	       !t->api_completed;
}

static void watch_progress(void *ctx, int percent)
{
	struct submit_watch *w = ctx;
	struct task *t = w->t;
	struct task_change c;

	engine_change_begin(&c, t);
	if (!watch_live(t) || percent < 0 || percent > 100 ||
	    (t->state == TASK_IN_PROGRESS && t->progress_seen && percent <= t->progress)) {
		pthread_mutex_unlock(&t->mu);
		return;
	}
	t->state = TASK_IN_PROGRESS;
	if (percent > t->progress)
		t->progress = percent;
	t->progress_seen = true;
	t->progress_estimated = true;
	/* The reply moving clears an older trouble note, not a cancel's. */
	if (!t->cancel_requested)
		task_set_str(&t->note, NULL);
	c.save = true;
	c.events = 1;
	c.files = (1u << TF_STATUS) | (1u << TF_PROGRESS) | (1u << TF_DIR);
	engine_commit(w->e, &c);
}

static void watch_text(void *ctx, const char *line)
{
	struct submit_watch *w = ctx;
	struct task *t = w->t;
	struct task_change c;

	engine_change_begin(&c, t);
	if (t->deleted || !line || !*line) {
		pthread_mutex_unlock(&t->mu);
		return;
	}
	c.events = 1;
	c.event_text[0] = line;
	engine_commit(w->e, &c);
}

static void watch_id(void *ctx, const char *id, bool pollable)
{
	struct submit_watch *w = ctx;
	struct task *t = w->t;
	struct task_change c;
	char said[VIDEO_ID_MAX + 64];

	if (!id || !video_id_valid(id, strlen(id)))
		return;
	engine_change_begin(&c, t);
	if (!watch_live(t) || (t->id && !strcmp(t->id, id))) {
		pthread_mutex_unlock(&t->mu);
		return;
	}
	if (pollable) {
		/* From now on the task can be followed without this stream:
		 * on disk before the stream goes on, so a crash polls it
		 * instead of calling the outcome unknown. */
		task_set_str(&t->id, id);
		t->submit = SUBMIT_DONE;
		t->accepted_at = time(NULL);
		if (t->state == TASK_PENDING)
			t->state = TASK_QUEUED;
		c.files = (1u << TF_ID) | (1u << TF_STATUS) | (1u << TF_DIR);
	}
	/* A bare id cannot be polled here, but it is what the provider's
	 * dashboard knows the task by: the events keep it. */
	snprintf(said, sizeof(said), "the provider named the task: %s", id);
	c.save = true;
	c.events = 1;
	c.event_text[0] = said;
	c.log = said;
	engine_commit(w->e, &c);
}

struct work_next submitter_run(struct engine *e, struct task *t)
{
	struct remote_result res = {0};
	struct remote_create req = {0};
	struct task_change c;
	struct work_next next = WORK_IDLE;
	char *model, *prompt, *seconds, *size, *image_url, *image_path = NULL;
	char *resolution, *negative_prompt;
	char why[REMOTE_REASON_MAX + 256];
	int watermark, rc;

	engine_change_begin(&c, t);
	if (t->deleted || t->state != TASK_PENDING || t->submit != SUBMIT_NONE) {
		pthread_mutex_unlock(&t->mu);
		return WORK_IDLE;
	}
	pthread_mutex_unlock(&t->mu);
	/* A second veofs on this state dir would submit the same prompt:
	 * never send while the lock may not be ours. */
	if (e->o.lock && state_lock_check(e->o.lock, why, sizeof(why)) < 0) {
		engine_change_begin(&c, t);
		task_set_str(&t->note, why);
		c.files = 1u << TF_STATUS;
		c.log_level = LOG_LVL_WARN;
		c.log = why;
		engine_commit(e, &c);
		return work_after(engine_backoff_ms(e, 3, -1));
	}
	engine_change_begin(&c, t);
	if (t->deleted || t->state != TASK_PENDING || t->submit != SUBMIT_NONE) {
		pthread_mutex_unlock(&t->mu);
		return WORK_IDLE;
	}
	if (!t->prompt || !t->prompt[0]) {
		/* The last door before money: never pay for a video of
		 * nothing. Only a damaged task (its prompt file lost) or an
		 * attached one (it never had a prompt) gets here. */
		pthread_mutex_unlock(&t->mu);
		return fail_task(e, t, "damaged task: it has no prompt to send (its prompt "
				 "file is missing or empty); nothing was sent");
	}
	t->submit = SUBMIT_SENDING;
	model = xstrdup(t->model ? t->model : "");
	prompt = xstrdup(t->prompt ? t->prompt : "");
	seconds = xstrdup(t->seconds ? t->seconds : "");
	size = xstrdup(t->size ? t->size : "");
	watermark = t->watermark;
	image_url = xstrdup_or_null(t->image_url);
	resolution = xstrdup_or_null(t->resolution);
	negative_prompt = xstrdup_or_null(t->negative_prompt);
	if (t->image_file)
		image_path = xasprintf("%s/tasks/%s/%s", task_store_path(e->store), t->name,
				       t->image_file);
	/* The record must say "sending" on disk before a byte leaves: after
	 * a crash that is what tells us not to send again. */
	c.save = true;
	if (engine_commit(e, &c) < 0) {
		pthread_mutex_lock(&t->mu);
		t->submit = SUBMIT_NONE;
		pthread_mutex_unlock(&t->mu);
		/* The engine writes the record again, then sends. */
		next = work_after(engine_backoff_ms(e, 3, -1));
		goto out;
	}

	req.model = model;
	req.prompt = prompt;
	req.seconds = seconds;
	req.size = size;
	req.watermark = watermark ? "true" : "false";
	req.image_path = image_path;
	req.image_url = image_url;
	req.resolution = resolution;
	req.negative_prompt = negative_prompt;
	struct submit_watch w = { .e = e, .t = t };
	const struct remote_create_watch watch = {
		.ctx = &w,
		.on_progress = watch_progress,
		.on_text = watch_text,
		.on_id = watch_id,
	};
	req.watch = &watch;
	log_info("task %s: submitting (model %s, %s s, %s)", t->name, model, seconds, size);
	rc = e->remote->ops->create(e->remote, &req, &res);

	if (rc == 0) {
		char err[256] = "";
		pthread_mutex_lock(&t->mu);
		t->poll_delay_s = 0;
		pthread_mutex_unlock(&t->mu);
		if (!poller_apply_answer(e, t, res.body, res.body_len, err, sizeof(err)) &&
		    err[0]) {
			/* The provider took the request but we can't tell
			 * which task it made: never guess, never resend. */
			snprintf(why, sizeof(why), "submission outcome unknown\n%s", err);
			next = fail_task(e, t, why);
			goto out;
		}
		pthread_mutex_lock(&t->mu);
		bool completed = t->api_completed;
		pthread_mutex_unlock(&t->mu);
		next = work_after(completed ? 0 : (int64_t)e->o.poll_interval_s * 1000);
		goto out;
	}

	if (res.not_received || answer_means_not_created(&res)) {
		int64_t delay;

		if (res.http_status >= 400 && !res.retryable) {
			pthread_mutex_lock(&t->mu);
			t->submit = SUBMIT_NONE;
			pthread_mutex_unlock(&t->mu);
			snprintf(why, sizeof(why), "the provider refused the task: %s", res.reason);
			next = fail_task(e, t, why);
			goto out;
		}
		engine_change_begin(&c, t);
		t->submit = SUBMIT_NONE;
		delay = engine_backoff_ms(e, ++t->poll_delay_s, res.retry_after_ms);
		snprintf(why, sizeof(why), "retrying in %llds (%s)",
			 (long long)((delay + 999) / 1000), res.reason);
		task_set_str(&t->note, why);
		char log[sizeof(why) + 32];
		snprintf(log, sizeof(log), "not submitted: %s", why);
		c.save = true;
		c.files = 1u << TF_STATUS;
		c.log_level = LOG_LVL_WARN;
		c.log = log;
		engine_commit(e, &c);
		next = work_after(delay);
		goto out;
	}

	snprintf(why, sizeof(why), "submission outcome unknown\n%s; the provider may have "
		 "created the task: check its dashboard before retrying", res.reason);
	next = fail_task(e, t, why);
out:
	remote_result_clear(&res);
	free(model);
	free(prompt);
	free(seconds);
	free(size);
	free(image_url);
	free(resolution);
	free(negative_prompt);
	free(image_path);
	return next;
}

/* Sending a task's create request: at most once, unless the provider
 * certainly never received it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "log.h"
#include "scheduler.h"
#include "state_lock.h"
#include "task_store.h"

/* An HTTP error answer means the provider looked at the request and
 * refused it, so nothing was created; except 504, where a gateway gave up
 * waiting for a provider that may still be creating the task. */
static bool answer_means_not_created(const struct remote_result *res)
{
	return res->http_status >= 400 && res->http_status != 504;
}

static void fail_task(struct engine *e, struct task *t, const char *reason)
{
	char *line;

	pthread_mutex_lock(&t->mu);
	t->state = TASK_FAILED;
	task_set_str(&t->reason, reason);
	task_set_str(&t->note, NULL);
	line = engine_event_locked(t, reason);
	pthread_mutex_unlock(&t->mu);
	log_warn("task %s: failed: %s", t->name, reason);
	task_store_save(e->store, t);
	engine_event_persist(e, t, line);
	engine_task_changed(e, t, (1u << TF_STATUS) | (1u << TF_EVENTS) |
			    (1u << TF_ERROR) | (1u << TF_DIR));
	engine_task_finished(e, t);
}

void submitter_run(struct engine *e, struct task *t)
{
	struct remote_result res = {0};
	struct remote_create req = {0};
	char *model = NULL, *prompt = NULL, *seconds = NULL, *size = NULL;
	char *image_url = NULL, *image_path = NULL, *name = NULL;
	char why[REMOTE_REASON_MAX + 256];
	int watermark, rc;

	pthread_mutex_lock(&t->mu);
	if (t->deleted || t->state != TASK_PENDING || t->submit != SUBMIT_NONE) {
		pthread_mutex_unlock(&t->mu);
		return;
	}
	t->submit = SUBMIT_SENDING;
	model = strdup(t->model ? t->model : "");
	prompt = strdup(t->prompt ? t->prompt : "");
	seconds = strdup(t->seconds ? t->seconds : "");
	size = strdup(t->size ? t->size : "");
	watermark = t->watermark;
	image_url = t->image_url ? strdup(t->image_url) : NULL;
	name = strdup(t->name);
	if (t->image_file && asprintf(&image_path, "%s/tasks/%s/%s",
				      task_store_path(e->store), t->name,
				      t->image_file) < 0)
		image_path = NULL;
	pthread_mutex_unlock(&t->mu);

	/* A second veofs on this state dir would submit the same prompt:
	 * never send while the lock may not be ours. */
	if (e->o.lock && state_lock_check(e->o.lock, why, sizeof(why)) < 0) {
		pthread_mutex_lock(&t->mu);
		t->submit = SUBMIT_NONE;
		task_set_str(&t->note, why);
		pthread_mutex_unlock(&t->mu);
		log_warn("task %s: %s", name, why);
		engine_task_changed(e, t, 1u << TF_STATUS);
		engine_kick_at(e, t, now_ms() + engine_backoff_ms(e, 3, -1));
		goto out;
	}

	/* The record must say "sending" on disk before a byte leaves: after
	 * a crash that is what tells us not to send again. */
	if (task_store_save(e->store, t) < 0) {
		pthread_mutex_lock(&t->mu);
		t->submit = SUBMIT_NONE;
		task_set_str(&t->note, "cannot save the task record; retrying");
		pthread_mutex_unlock(&t->mu);
		engine_task_changed(e, t, 1u << TF_STATUS);
		engine_kick_at(e, t, now_ms() + engine_backoff_ms(e, 3, -1));
		goto out;
	}

	req.model = model;
	req.prompt = prompt;
	req.seconds = seconds;
	req.size = size;
	req.watermark = watermark ? "true" : "false";
	req.image_path = image_path;
	req.image_url = image_url;
	log_info("task %s: submitting (model %s, %s s, %s)", name, model, seconds, size);
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
			fail_task(e, t, why);
			goto out;
		}
		pthread_mutex_lock(&t->mu);
		bool completed = t->api_completed;
		pthread_mutex_unlock(&t->mu);
		engine_kick_at(e, t, now_ms() + (completed ? 0 : (int64_t)e->o.poll_interval_s * 1000));
		goto out;
	}

	if (res.not_received || answer_means_not_created(&res)) {
		int attempt;
		int64_t delay;

		pthread_mutex_lock(&t->mu);
		t->submit = SUBMIT_NONE;
		pthread_mutex_unlock(&t->mu);
		if (res.http_status >= 400 && !res.retryable) {
			snprintf(why, sizeof(why), "the provider refused the task: %s", res.reason);
			fail_task(e, t, why);
			goto out;
		}
		pthread_mutex_lock(&t->mu);
		attempt = ++t->poll_delay_s;
		delay = engine_backoff_ms(e, attempt, res.retry_after_ms);
		snprintf(why, sizeof(why), "retrying in %llds (%s)",
			 (long long)((delay + 999) / 1000), res.reason);
		task_set_str(&t->note, why);
		pthread_mutex_unlock(&t->mu);
		log_warn("task %s: not submitted: %s", name, why);
		task_store_save(e->store, t);
		engine_task_changed(e, t, 1u << TF_STATUS);
		engine_kick_at(e, t, now_ms() + delay);
		goto out;
	}

	snprintf(why, sizeof(why), "submission outcome unknown\n%s; the provider may have "
		 "created the task: check its dashboard before retrying", res.reason);
	fail_task(e, t, why);
out:
	remote_result_clear(&res);
	free(model);
	free(prompt);
	free(seconds);
	free(size);
	free(image_url);
	free(image_path);
	free(name);
}

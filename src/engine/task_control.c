/* What a user can ask of a task through its ctl file: refresh, retry,
 * cancel. Nothing here waits on the network: a remote cancel is left to a
 * worker. Retry is the only way a task is ever sent twice, and only when
 * the user writes it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "log.h"
#include "scheduler.h"
#include "task_store.h"

static int do_refresh(struct engine *e, struct task *t)
{
	pthread_mutex_lock(&t->mu);
	t->poll_delay_s = 0;
	t->download_failures = 0;
	pthread_mutex_unlock(&t->mu);
	engine_kick(e, t);
	log_info("task %s: refresh requested", t->name);
	return 0;
}

static int do_retry(struct engine *e, struct task *t, char *err, size_t errlen)
{
	char *line;

	pthread_mutex_lock(&t->mu);
	if (t->state != TASK_FAILED) {
		snprintf(err, errlen, "only a failed task can be retried (this one is %s)",
			 task_state_name(t->state));
		pthread_mutex_unlock(&t->mu);
		return -EBUSY;
	}
	t->state = TASK_PENDING;
	t->api_completed = false;
	t->submit = SUBMIT_NONE;
	t->progress = 0;
	t->poll_delay_s = 0;
	t->not_found_count = 0;
	t->download_failures = 0;
	t->cancel_requested = false;
	task_set_str(&t->id, NULL);
	task_set_str(&t->reason, NULL);
	task_set_str(&t->note, NULL);
	free(t->task_json);
	t->task_json = NULL;
	t->task_json_len = 0;
	t->video_size = -1;
	t->video_shown_size = -1;
	t->video_have = 0;
	t->video_synced = 0;
	t->video_done = false;
	t->thumb_size = -1;
	t->thumb_tried = false;
	line = engine_event_locked(t, "retry requested: the task will be sent again");
	pthread_mutex_unlock(&t->mu);
	log_info("task %s: retry requested; submitting again", t->name);
	task_store_reset_video(e->store, t);
	task_store_save(e->store, t);
	engine_event_persist(e, t, line);
	engine_task_changed(e, t, ~0u);
	engine_kick(e, t);
	return 0;
}

static int do_cancel(struct engine *e, struct task *t, char *err, size_t errlen)
{
	char *line;
	bool remote;

	pthread_mutex_lock(&t->mu);
	if (t->state == TASK_FAILED || t->state == TASK_COMPLETED) {
		snprintf(err, errlen, "the task is already %s", task_state_name(t->state));
		pthread_mutex_unlock(&t->mu);
		return -EBUSY;
	}
	/* Sent, or maybe on the wire: the provider must hear of it. */
	remote = t->id || t->submit == SUBMIT_SENDING;
	t->cancel_requested = remote;
	t->state = TASK_FAILED;
	task_set_str(&t->reason, "cancelled");
	task_set_str(&t->note, NULL);
	line = engine_event_locked(t, "cancelled by the user");
	pthread_mutex_unlock(&t->mu);
	log_info("task %s: cancelled%s", t->name, remote ? "; asking the provider to stop" : "");
	task_store_save(e->store, t);
	engine_event_persist(e, t, line);
	engine_task_changed(e, t, (1u << TF_STATUS) | (1u << TF_ERROR) | (1u << TF_EVENTS) |
			    (1u << TF_DIR));
	engine_kick(e, t);
	engine_task_finished(e, t);
	return 0;
}

int task_control(struct engine *e, struct task *t, const char *text, size_t len,
		 char *err, size_t errlen)
{
	char cmd[32];
	size_t n = 0;

	/* One command, surrounding blanks and a newline allowed. */
	while (len && (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')) {
		text++;
		len--;
	}
	while (len && (text[len - 1] == ' ' || text[len - 1] == '\t' ||
		       text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (len == 0 || len >= sizeof(cmd)) {
		snprintf(err, errlen, "unknown command; write refresh, retry or cancel");
		return -EINVAL;
	}
	memcpy(cmd, text, len);
	cmd[len] = '\0';
	for (n = 0; n < len; n++)
		if (cmd[n] == '\n') {
			snprintf(err, errlen, "one command at a time: refresh, retry or cancel");
			return -EINVAL;
		}
	if (!strcmp(cmd, "refresh"))
		return do_refresh(e, t);
	if (!strcmp(cmd, "retry"))
		return do_retry(e, t, err, errlen);
	if (!strcmp(cmd, "cancel"))
		return do_cancel(e, t, err, errlen);
	snprintf(err, errlen, "unknown command '%.20s'; write refresh, retry or cancel", cmd);
	return -EINVAL;
}

void task_control_cancel_remote(struct engine *e, struct task *t)
{
	struct remote_result res = {0};
	char *id;

	pthread_mutex_lock(&t->mu);
	if (!t->cancel_requested || !t->id || t->deleted) {
		pthread_mutex_unlock(&t->mu);
		return;
	}
	id = strdup(t->id);
	pthread_mutex_unlock(&t->mu);
	if (!id)
		return;
	if (e->remote->ops->remove(e->remote, id, &res) == 0) {
		log_info("task %s: the provider cancelled %s", t->name, id);
		pthread_mutex_lock(&t->mu);
		t->cancel_requested = false;
		pthread_mutex_unlock(&t->mu);
	} else if (res.retryable) {
		log_warn("task %s: cancel at the provider failed: %s; retrying", t->name, res.reason);
		engine_kick_at(e, t, now_ms() + engine_backoff_ms(e, 3, res.retry_after_ms));
	} else {
		log_warn("task %s: the provider would not cancel it: %s", t->name, res.reason);
		pthread_mutex_lock(&t->mu);
		t->cancel_requested = false;
		pthread_mutex_unlock(&t->mu);
	}
	remote_result_clear(&res);
	free(id);
}

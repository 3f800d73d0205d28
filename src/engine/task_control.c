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
#include "xalloc.h"

static int do_refresh(struct engine *e, struct task *t)
{
	struct task_change c;

	engine_change_begin(&c, t);
	t->poll_delay_s = 0;
	t->download_failures = 0;
	if (t->state == TASK_COMPLETED && t->video_done && t->id) {
		/* The video shown may not be the provider's (an older veofs
		 * kept whatever came): fetch it again; the one shown stays
		 * until the new one is whole. */
		t->refetch = true;
		c.log = "refresh requested; fetching the video again";
	} else {
		c.log = "refresh requested";
	}
	engine_commit(e, &c);
	return 0;
}

static int do_retry(struct engine *e, struct task *t, char *err, size_t errlen)
{
	struct task_change c;

	engine_change_begin(&c, t);
	if (t->state != TASK_FAILED) {
		snprintf(err, errlen, "only a failed task can be retried (this one is %s)",
			 task_state_name(t->state));
		pthread_mutex_unlock(&t->mu);
		return -EBUSY;
	}
	if (t->damaged) {
		snprintf(err, errlen, "retry refused: the task's record is damaged, so what "
			 "was sent and paid for is not known; remove it (rmdir) and write a new "
			 "NAME.prompt");
		pthread_mutex_unlock(&t->mu);
		log_warn("task %s: %s", t->name, err);
		return -EINVAL;
	}
	if (!t->prompt || !t->prompt[0]) {
		/* Sending it again would pay for a video of an empty prompt. */
		snprintf(err, errlen, "retry refused: the task has no prompt to send (it was "
			 "attached by its id, or its prompt file is lost); write a new "
			 "NAME.prompt instead");
		c.events = 1;
		c.event_text[0] = err;
		c.files = 0;
		c.log_level = LOG_LVL_WARN;
		c.log = err;
		engine_commit(e, &c);
		return -EINVAL;
	}
	/* Everything the provider's last attempt left goes; what the user
	 * asked for stays. */
	t->state = TASK_PENDING;
	t->progress = 0;
	task_set_str(&t->reason, NULL);
	task_set_str(&t->note, NULL);
	task_api_reset(t);
	task_video_reset(t);
	task_tries_reset(t);
	c.drop_video = true;
	c.save = true;
	c.events = 1;
	c.event_text[0] = "retry requested: the task will be sent again";
	c.files = ~0u;
	c.log = "retry requested; submitting again";
	engine_commit(e, &c);
	return 0;
}

static int do_cancel(struct engine *e, struct task *t, char *err, size_t errlen)
{
	struct task_change c;
	bool remote;

	engine_change_begin(&c, t);
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
	c.save = true;
	c.events = 1;
	c.event_text[0] = "cancelled by the user";
	c.files = (1u << TF_STATUS) | (1u << TF_ERROR) | (1u << TF_DIR);
	c.log = remote ? "cancelled; asking the provider to stop" : "cancelled";
	engine_commit(e, &c);
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
	int rc;
	if (!strcmp(cmd, "refresh")) {
		rc = do_refresh(e, t);
	} else if (!strcmp(cmd, "retry")) {
		rc = do_retry(e, t, err, errlen);
	} else if (!strcmp(cmd, "cancel")) {
		rc = do_cancel(e, t, err, errlen);
	} else {
		snprintf(err, errlen, "unknown command '%.20s'; write refresh, retry or cancel",
			 cmd);
		return -EINVAL;
	}
	/* Whatever the command left to do (a poll, a submission, the
	 * provider's cancel) is the engine's from here. */
	if (rc == 0)
		engine_kick(e, t);
	return rc;
}

struct work_next task_control_cancel_remote(struct engine *e, struct task *t)
{
	struct remote_result res = {0};
	struct work_next next = WORK_IDLE;
	struct task_change c;
	char log[REMOTE_REASON_MAX + 128];
	char *id;

	pthread_mutex_lock(&t->mu);
	if (!t->cancel_requested || !t->id || t->deleted) {
		pthread_mutex_unlock(&t->mu);
		return WORK_IDLE;
	}
	id = xstrdup(t->id);
	pthread_mutex_unlock(&t->mu);
	int rc = e->remote->ops->remove(e->remote, id, &res);
	engine_change_begin(&c, t);
	if (rc == 0) {
		snprintf(log, sizeof(log), "the provider cancelled %s", id);
		t->cancel_requested = false;
		c.log = log;
	} else if (res.retryable) {
		snprintf(log, sizeof(log), "cancel at the provider failed: %s; retrying",
			 res.reason);
		c.log_level = LOG_LVL_WARN;
		c.log = log;
		next = work_after(engine_backoff_ms(e, 3, res.retry_after_ms));
	} else {
		snprintf(log, sizeof(log), "the provider would not cancel it: %s", res.reason);
		t->cancel_requested = false;
		c.log_level = LOG_LVL_WARN;
		c.log = log;
	}
	engine_commit(e, &c);
	remote_result_clear(&res);
	free(id);
	return next;
}

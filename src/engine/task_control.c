/* What a user can ask of a task through its ctl file: refresh, retry,
 * cancel. Nothing here waits on the network: a remote cancel is left to a
 * worker. Retry is the only way a task is ever sent twice, and only when
 * the user writes it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_text.h"
#include "engine.h"
#include "log.h"
#include "scheduler.h"
#include "task_store.h"
#include "xalloc.h"

/* Server errors answering a cancel before it counts as refused. */
#define CANCEL_TRIES 3

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
	/* The same rules ctl's text describes (ctl_text.c). */
	if (!ctl_allowed(t, CTL_RETRY, err, errlen)) {
		if (t->state != TASK_FAILED) {
			pthread_mutex_unlock(&t->mu);
			return -EBUSY;
		}
		/* A failed task that must not be sent again (no prompt, a
		 * damaged record): said in the log and in events too. */
		char line[320];
		snprintf(line, sizeof(line), "retry refused: %s", err);
		c.events = 1;
		c.event_text[0] = line;
		c.log_level = LOG_LVL_WARN;
		c.log = line;
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

/* A task is "failed: cancelled" only once that is true: at once when it
 * never left this machine, else when the provider confirms. A provider
 * that refuses (new-api has no DELETE route) leaves the task going on, and
 * says so. */
static int do_cancel(struct engine *e, struct task *t, char *err, size_t errlen)
{
	struct task_change c;

	engine_change_begin(&c, t);
	/* Asked already is EBUSY, as ctl's text says. */
	if (!ctl_allowed(t, CTL_CANCEL, err, errlen)) {
		pthread_mutex_unlock(&t->mu);
		return -EBUSY;
	}
	if (!t->id && t->submit == SUBMIT_NONE) {
		t->state = TASK_FAILED;
		task_set_str(&t->reason, "cancelled");
		task_set_str(&t->note, NULL);
		c.save = true;
		c.events = 1;
		c.event_text[0] = "cancelled by the user before it was sent";
		c.files = (1u << TF_STATUS) | (1u << TF_ERROR) | (1u << TF_DIR);
		c.log = "cancelled before it was sent";
		engine_commit(e, &c);
		return 0;
	}
	/* Sent, or maybe on the wire: the provider must hear of it, and the
	 * task is cancelled when it says so. */
	t->cancel_requested = true;
	t->cancel_failures = 0;
	t->note_until_moved = false;
	task_set_str(&t->note, t->id ? "cancelling: asking the provider to stop"
				     : "cancelling once the provider answers");
	c.save = true;
	c.events = 1;
	c.event_text[0] = "cancel requested by the user";
	c.files = 1u << TF_STATUS;
	c.log = "cancel requested; asking the provider to stop";
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
	char log[REMOTE_REASON_MAX + 128], note[REMOTE_REASON_MAX + 64];
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
	/* A provider that keeps answering a cancel with server errors (LiteLLM
	 * answers 500 "not supported" for Veo) has refused it. */
	bool retry = rc != 0 && res.retryable && ++t->cancel_failures < CANCEL_TRIES;
	t->cancel_requested = retry;
	if (t->state == TASK_FAILED || t->state == TASK_COMPLETED) {
		/* It ended meanwhile (a poll said so): nothing more to say. */
		t->cancel_requested = false;
		c.save = true;
	} else if (rc == 0) {
		snprintf(log, sizeof(log), "the provider cancelled %s", id);
		t->state = TASK_FAILED;
		task_set_str(&t->reason, "cancelled");
		task_set_str(&t->note, NULL);
		t->note_until_moved = false;
		c.save = true;
		c.events = 1;
		c.event_text[0] = "cancelled: the provider confirmed";
		c.files = (1u << TF_STATUS) | (1u << TF_ERROR) | (1u << TF_DIR);
		c.log = log;
	} else if (retry) {
		int64_t delay = engine_backoff_ms(e, 3, res.retry_after_ms);
		snprintf(note, sizeof(note), "cancelling: %s; retrying in %llds", res.reason,
			 (long long)((delay + 999) / 1000));
		task_set_str(&t->note, note);
		c.files = 1u << TF_STATUS;
		snprintf(log, sizeof(log), "cancel at the provider failed: %s; retrying",
			 res.reason);
		c.log_level = LOG_LVL_WARN;
		c.log = log;
		next = work_after(delay);
	} else {
		/* 404/405/501 (no such route) or an error body: the job goes
		 * on, and is billed; the user must know. */
		snprintf(note, sizeof(note), "cancel refused by the provider: %s", res.reason);
		task_set_str(&t->note, note);
		t->note_until_moved = true;
		c.save = true;
		c.events = 1;
		c.event_text[0] = note;
		c.files = 1u << TF_STATUS;
		snprintf(log, sizeof(log), "%s; the task goes on", note);
		c.log_level = LOG_LVL_WARN;
		c.log = log;
		/* Keep watching it. */
		next = work_after(0);
	}
	engine_commit(e, &c);
	remote_result_clear(&res);
	free(id);
	return next;
}

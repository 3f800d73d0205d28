#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hooks.h"
#include "log.h"
#include "scheduler.h"
#include "task_store.h"
#include "task_table.h"

static void control_run(void *ctx, struct task *t)
{
	struct engine *e = ctx;
	enum task_state st;
	enum submit_phase sp;
	bool deleted, cancel;

	pthread_mutex_lock(&t->mu);
	st = t->state;
	sp = t->submit;
	deleted = t->deleted;
	cancel = t->cancel_requested && t->id;
	pthread_mutex_unlock(&t->mu);
	if (deleted)
		return;
	if (cancel)
		task_control_cancel_remote(e, t);
	else if (st == TASK_PENDING && sp == SUBMIT_NONE)
		submitter_run(e, t);
	else if (st == TASK_QUEUED || st == TASK_IN_PROGRESS)
		poller_run(e, t); /* returns at once once the API is done */
}

static void download_run(void *ctx, struct task *t)
{
	downloader_run(ctx, t);
}

struct engine *engine_new(const struct engine_options *o, struct remote *remote,
			  struct task_store *store, struct task_table *table,
			  const struct engine_observer *observer)
{
	struct engine *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->o = *o;
	if (e->o.control_threads <= 0)
		e->o.control_threads = 4;
	if (e->o.download_threads <= 0)
		e->o.download_threads = 2;
	e->remote = remote;
	e->store = store;
	e->table = table;
	if (observer)
		e->observer = *observer;
	e->control = scheduler_new("control", 0, e->o.control_threads, control_run, e);
	e->download = scheduler_new("download", 1, e->o.download_threads, download_run, e);
	if (!e->control || !e->download) {
		engine_free(e);
		return NULL;
	}
	return e;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	atomic_store(&e->stopping, true);
	scheduler_free(e->control);
	scheduler_free(e->download);
	free(e);
}

void engine_kick_at(struct engine *e, struct task *t, int64_t due_ms)
{
	enum task_state st;
	bool need_video, deleted, cancel, need_thumb;

	pthread_mutex_lock(&t->mu);
	st = t->state;
	deleted = t->deleted;
	need_video = (t->api_completed || st == TASK_COMPLETED) && st != TASK_FAILED &&
		     !t->video_done && t->id;
	need_thumb = st == TASK_COMPLETED && t->video_done && t->thumb_size < 0 &&
		     !t->thumb_tried && t->id;
	cancel = t->cancel_requested && t->id;
	pthread_mutex_unlock(&t->mu);
	if (deleted)
		return;
	if (cancel)
		scheduler_at(e->control, t, due_ms, 0);
	else if (need_video || need_thumb)
		scheduler_at(e->download, t, due_ms, 0);
	else if (!t->api_completed &&
		 (st == TASK_PENDING || st == TASK_QUEUED || st == TASK_IN_PROGRESS))
		scheduler_at(e->control, t, due_ms, 0);
}

void engine_kick(struct engine *e, struct task *t)
{
	engine_kick_at(e, t, now_ms());
}

void engine_forget(struct engine *e, struct task *t)
{
	pthread_mutex_lock(&t->mu);
	t->deleted = true;
	pthread_cond_broadcast(&t->video_cv);
	pthread_mutex_unlock(&t->mu);
	scheduler_cancel(e->control, t);
	scheduler_cancel(e->download, t);
}

void engine_task_changed(struct engine *e, struct task *t, unsigned files)
{
	if (e->observer.task_changed && files)
		e->observer.task_changed(e->observer.ctx, t, files);
}

char *engine_event_locked(struct task *t, const char *extra)
{
	return strdup(task_event_append(t, extra));
}

void engine_event_persist(struct engine *e, struct task *t, char *line)
{
	if (line)
		task_store_append_event(e->store, t, line);
	free(line);
}

void engine_task_finished(struct engine *e, struct task *t)
{
	struct hook_call c = {0};
	char *name, *prompt, *id, *path = NULL;
	bool done;

	pthread_mutex_lock(&t->mu);
	done = t->state == TASK_COMPLETED;
	name = strdup(t->name);
	prompt = strdup(t->prompt ? t->prompt : "");
	id = t->id ? strdup(t->id) : NULL;
	pthread_mutex_unlock(&t->mu);
	c.program = done ? e->o.on_complete : e->o.on_failed;
	if (c.program && *c.program && name && prompt &&
	    asprintf(&path, "%s/%s%s", e->o.mountpoint ? e->o.mountpoint : "", name,
		     done ? "/video.mp4" : "") >= 0) {
		c.task = name;
		c.state = done ? "completed" : "failed";
		c.path = path;
		c.prompt = prompt;
		c.id = id;
		hooks_run(&c);
	}
	free(name);
	free(prompt);
	free(id);
	free(path);
}

int64_t engine_backoff_ms(const struct engine *e, int attempt, long retry_after_ms)
{
	int64_t d = (int64_t)e->o.poll_interval_s * 1000;
	int64_t max = (int64_t)e->o.poll_max_interval_s * 1000;

	for (int i = 1; i < attempt && d < max; i++)
		d *= 2;
	if (d > max)
		d = max;
	if (retry_after_ms > 0) {
		/* A server asking for more than an hour is not taken literally. */
		int64_t ra = retry_after_ms > 3600000 ? 3600000 : retry_after_ms;
		if (ra > d)
			d = ra;
	}
	return d < 100 ? 100 : d;
}

#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hooks.h"
#include "lister.h"
#include "log.h"
#include "poll_book.h"
#include "scheduler.h"
#include "task_store.h"
#include "task_table.h"
#include "timings.h"
#include "xalloc.h"

/* Schedule what a worker asked for. */
static void schedule_next(struct engine *e, struct task *t, struct work_next next)
{
	if (next.delay_ms >= 0)
		engine_kick_at(e, t, now_ms() + next.delay_ms);
}

static struct work_next resave(struct engine *e, struct task *t);

/* A task the provider is working on wants news: held while the provider
 * rate-limits us, brought by the listing when it covers the task, else
 * polled. */
static struct work_next poll_step(struct engine *e, struct task *t)
{
	int64_t now = now_ms(), delay;
	int64_t until = engine_rate_limit_until(e);

	if (until > now) /* spread the tasks held over a second */
		return work_after(until - now + (int64_t)(t->tid % 8) * 125);
	if (lister_covers(e->lister, t, now, &delay))
		return work_after(delay);
	return poller_run(e, t);
}

/* The provider has the task from now: its history starts. */
static void note_submitted(struct engine *e, struct task *t)
{
	pthread_mutex_lock(&t->mu);
	bool sent = t->id && t->submit == SUBMIT_DONE && !t->api_completed;
	pthread_mutex_unlock(&t->mu);
	if (sent)
		poll_book_started(e->book, t, now_ms());
}

static void control_run(void *ctx, struct task *t)
{
	struct engine *e = ctx;
	struct work_next next = WORK_IDLE;
	enum task_state st;
	enum submit_phase sp;
	bool deleted, cancel, unsaved, api_done;

	pthread_mutex_lock(&t->mu);
	st = t->state;
	api_done = t->api_completed;
	sp = t->submit;
	deleted = t->deleted;
	cancel = t->cancel_requested && t->id;
	unsaved = t->record_unsaved;
	pthread_mutex_unlock(&t->mu);
	if (deleted)
		return;
	if (unsaved)
		next = resave(e, t);
	else if (cancel)
		next = task_control_cancel_remote(e, t);
	else if (st == TASK_PENDING && sp == SUBMIT_NONE) {
		next = submitter_run(e, t);
		note_submitted(e, t);
	} else if ((st == TASK_QUEUED || st == TASK_IN_PROGRESS) && !api_done)
		next = poll_step(e, t);
	schedule_next(e, t, next);
}

static void download_run(void *ctx, struct task *t)
{
	struct engine *e = ctx;
	bool unsaved;

	pthread_mutex_lock(&t->mu);
	unsaved = t->record_unsaved;
	pthread_mutex_unlock(&t->mu);
	schedule_next(e, t, unsaved ? resave(e, t) : downloader_run(e, t));
}

struct engine *engine_new(const struct engine_options *o, struct remote *remote,
			  struct task_store *store, struct task_table *table,
			  const struct engine_observer *observer)
{
	struct engine *e = xcalloc(1, sizeof(*e));

	e->o = *o;
	if (e->o.control_threads <= 0)
		e->o.control_threads = 4;
	if (e->o.download_threads <= 0)
		e->o.download_threads = 2;
	if (e->o.max_video_bytes <= 0)
		e->o.max_video_bytes = 4LL << 30;
	e->remote = remote;
	e->store = store;
	e->table = table;
	if (observer)
		e->observer = *observer;
	e->timings = timings_open(store ? task_store_path(store) : NULL);
	struct poll_limits pl = {
		.min_ms = (int64_t)e->o.poll_interval_s * 1000,
		.max_ms = (int64_t)e->o.poll_max_interval_s * 1000,
	};
	if (pl.max_ms < pl.min_ms)
		pl.max_ms = pl.min_ms;
	e->book = poll_book_new(&pl, e->timings);
	e->control = scheduler_new("control", 0, e->o.control_threads, control_run, e);
	e->download = scheduler_new("download", 1, e->o.download_threads, download_run, e);
	if (!e->control || !e->download) {
		engine_free(e);
		return NULL;
	}
	e->lister = lister_new(e);
	return e;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	atomic_store(&e->stopping, true);
	/* The lister kicks tasks into the pools and the pools' workers ask
	 * the lister: its thread stops first, its memory goes last. */
	lister_stop(e->lister);
	scheduler_free(e->control);
	scheduler_free(e->download);
	lister_free(e->lister);
	poll_book_free(e->book);
	timings_close(e->timings);
	free(e);
}

void engine_kick_at(struct engine *e, struct task *t, int64_t due_ms)
{
	struct scheduler *pool = NULL;

	pthread_mutex_lock(&t->mu);
	enum task_state st = t->state;
	bool need_video = (t->api_completed || st == TASK_COMPLETED) && st != TASK_FAILED &&
			  (!t->video_done || t->refetch) && t->id;
	bool need_thumb = st == TASK_COMPLETED && t->video_done && t->thumb_size < 0 &&
			  !t->thumb_tried && t->id;
	if (t->deleted)
		pool = NULL;
	else if (t->record_unsaved || (t->cancel_requested && t->id))
		pool = e->control;
	else if (need_video || need_thumb)
		pool = e->download;
	else if (!t->api_completed &&
		 (st == TASK_PENDING || st == TASK_QUEUED || st == TASK_IN_PROGRESS))
		pool = e->control;
	pthread_mutex_unlock(&t->mu);
	if (pool)
		scheduler_at(pool, t, due_ms, 0);
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
	poll_book_forget(e->book, t);
}

bool engine_idle(struct engine *e)
{
	int64_t now = now_ms();

	return scheduler_idle(e->control, now) && scheduler_idle(e->download, now);
}

bool task_finished(const struct task *t)
{
	return t->state == TASK_FAILED || (t->state == TASK_COMPLETED && t->video_done);
}

static void tell_tree(struct engine *e, struct task *t, unsigned files)
{
	if (e->observer.task_changed && files)
		e->observer.task_changed(e->observer.ctx, t, files);
}

/* The task reached completed (video saved) or failed: run its hook. */
static void run_finish_hook(struct engine *e, struct task *t)
{
	struct hook_call c = {0};
	char *prompt, *id;
	const char *name = t->name;
	char video[16];
	bool done;

	pthread_mutex_lock(&t->mu);
	done = t->state == TASK_COMPLETED;
	snprintf(video, sizeof(video), "/%s", task_file_name(t, TF_VIDEO));
	prompt = xstrdup(t->prompt ? t->prompt : "");
	id = xstrdup_or_null(t->id);
	pthread_mutex_unlock(&t->mu);
	c.program = done ? e->o.on_complete : e->o.on_failed;
	if (c.program && *c.program) {
		char *path = xasprintf("%s/%s%s", e->o.mountpoint ? e->o.mountpoint : "",
				       name, done ? video : "");
		c.task = name;
		c.state = done ? "completed" : "failed";
		c.path = path;
		c.prompt = prompt;
		c.id = id;
		hooks_run(&c);
		free(path);
	}
	free(prompt);
	free(id);
}

#define UNSAVED_NOTE "cannot save the task record; retrying"

void engine_change_begin(struct task_change *c, struct task *t)
{
	*c = (struct task_change){ .t = t, .log_level = LOG_LVL_INFO };
	pthread_mutex_lock(&t->mu);
	c->was_finished = task_finished(t);
}

int engine_commit(struct engine *e, struct task_change *c)
{
	struct task *t = c->t;
	char *lines[2] = { NULL, NULL };
	unsigned files = c->files;
	bool hook;
	int rc = 0;

	for (int i = 0; i < c->events && i < 2; i++)
		lines[i] = xstrdup(task_event_append(t, c->event_text[i]));
	size_t events_end = t->events_len;
	if (c->events) {
		files |= 1u << TF_EVENTS;
		t->events_writing++;
	}
	hook = !c->was_finished && task_finished(t);
	pthread_mutex_unlock(&t->mu);

	if (c->drop_video)
		task_store_reset_video(e->store, t);
	if (c->save) {
		rc = task_store_save(e->store, t);
		/* Gone from disk: the task was removed meanwhile (rmdir). */
		if (rc == -ENOENT || rc == -ESTALE)
			rc = 0;
	}
	if (rc == 0 && c->answer)
		task_store_save_answer(e->store, t, c->answer_json, c->answer_len);
	for (int i = 0; i < 2; i++) {
		if (lines[i])
			task_store_append_event(e->store, t, lines[i]);
		free(lines[i]);
	}
	if (c->events) {
		/* Readers see the lines once they are on disk; one waiting
		 * for this write goes on, with them or (a failed write)
		 * without. */
		pthread_mutex_lock(&t->mu);
		if (events_end > t->events_durable)
			t->events_durable = events_end;
		t->events_writing--;
		pthread_cond_broadcast(&t->events_cv);
		pthread_mutex_unlock(&t->mu);
	}
	if (c->log)
		log_msg(c->log_level, "task %s: %s", t->name, c->log);
	if (rc < 0) {
		/* Shown as it was, with a note, until the record is on disk. */
		pthread_mutex_lock(&t->mu);
		t->record_unsaved = true;
		t->owed_files |= files;
		t->owed_hook = t->owed_hook || hook;
		task_set_str(&t->note, UNSAVED_NOTE);
		pthread_mutex_unlock(&t->mu);
		tell_tree(e, t, 1u << TF_STATUS);
		return rc;
	}
	tell_tree(e, t, files);
	if (hook)
		run_finish_hook(e, t);
	return 0;
}

/* Write a record that could not be written, then tell the tree and run the
 * hook it held back. */
static struct work_next resave(struct engine *e, struct task *t)
{
	unsigned files;
	bool hook;
	int rc = task_store_save(e->store, t);

	if (rc < 0 && rc != -ENOENT && rc != -ESTALE)
		return work_after(engine_backoff_ms(e, 3, -1));
	pthread_mutex_lock(&t->mu);
	files = t->owed_files | (1u << TF_STATUS);
	hook = t->owed_hook;
	t->record_unsaved = false;
	t->owed_files = 0;
	t->owed_hook = false;
	if (t->note && !strcmp(t->note, UNSAVED_NOTE))
		task_set_str(&t->note, NULL);
	pthread_mutex_unlock(&t->mu);
	log_info("task %s: record saved", t->name);
	tell_tree(e, t, files);
	if (hook)
		run_finish_hook(e, t);
	return work_after(0);
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

int64_t engine_poll_answered(struct engine *e, struct task *t, int64_t delay_ms,
			     bool provider_hinted)
{
	int64_t d = poll_book_observe(e->book, t, now_ms());

	if (provider_hinted || d < 0)
		return delay_ms;
	return d;
}

void engine_poll_failed(struct engine *e, struct task *t, const struct remote_result *res)
{
	(void)t;
	if (res->http_status == 429)
		engine_rate_limited(e, res->retry_after_ms);
}

void engine_rate_limited(struct engine *e, long retry_after_ms)
{
	int64_t max = (int64_t)e->o.poll_max_interval_s * 1000;
	int64_t d = retry_after_ms > 0 ? retry_after_ms : engine_backoff_ms(e, 2, -1);
	int64_t until, cur;

	if (d > max)
		d = max;
	until = now_ms() + d;
	cur = atomic_load(&e->rate_limit_until_ms);
	while (cur < until &&
	       !atomic_compare_exchange_weak(&e->rate_limit_until_ms, &cur, until))
		;
}

int64_t engine_rate_limit_until(struct engine *e)
{
	return atomic_load(&e->rate_limit_until_ms);
}

int engine_fetch_video(struct engine *e, struct task *t, int64_t offset, int64_t length,
		       long timeout_ms, const struct remote_sink *sink,
		       struct remote_result *res)
{
	char *id, *link;
	int rc;

	pthread_mutex_lock(&t->mu);
	id = xstrdup_or_null(t->id);
	link = e->remote->ops->content_link ? xstrdup_or_null(t->video_link) : NULL;
	pthread_mutex_unlock(&t->mu);
	if (!id) {
		remote_result_clear(res);
		snprintf(res->reason, sizeof(res->reason), "the task has no id yet");
		rc = -1;
	} else if (link) {
		rc = e->remote->ops->content_link(e->remote, link, offset, length, timeout_ms,
						  sink, res);
	} else {
		rc = e->remote->ops->content(e->remote, id, NULL, offset, length, timeout_ms,
					     sink, res);
	}
	free(id);
	free(link);
	return rc;
}

/* The background side of veofs: it moves every task along (submit, poll,
 * download) on two bounded thread pools, persists each change before it
 * is shown, and tells its observer (the FUSE layer) what went stale. FUSE handlers only ever
 * ask it to look at a task sooner. */
#ifndef VEOFS_ENGINE_H
#define VEOFS_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "remote.h"
#include "task.h"

struct state_lock;
struct task_store;
struct task_table;
struct scheduler;

/* Who hears that a task's files changed: the FUSE layer, which tells the
 * kernel. The engine never calls up into it by name. */
struct engine_observer {
	void *ctx;
	/* files: a bit mask of (1 << enum task_file); t->mu not held. */
	void (*task_changed)(void *ctx, struct task *t, unsigned files);
};

struct engine_options {
	int poll_interval_s;     /* first poll delay */
	int poll_max_interval_s; /* backoff ceiling */
	int timeout_s;           /* api.timeout: also bounds reads that wait */
	int control_threads;     /* submissions and polls in flight at once */
	int download_threads;    /* downloads at once */
	const char *on_complete; /* hooks; NULL for none */
	const char *on_failed;
	const char *mountpoint;  /* for the paths hooks get */
	/* Asked before every create: is the state dir still ours? NULL in
	 * tests that need no lock. */
	struct state_lock *lock;
};

struct engine {
	struct engine_options o;
	struct remote *remote;
	struct task_store *store;
	struct task_table *table;
	struct engine_observer observer; /* task_changed may be NULL (tests) */
	struct scheduler *control;      /* submit and poll */
	struct scheduler *download;
	/* Set on the way out: downloads stop at once (they resume from the
	 * synced bytes next time); creates are let finish, since their
	 * answer is the only record of what was paid for. */
	atomic_bool stopping;
};

struct engine *engine_new(const struct engine_options *o, struct remote *remote,
			  struct task_store *store, struct task_table *table,
			  const struct engine_observer *observer);
/* Stops the pools; in-flight requests finish first (they are bounded). */
void engine_free(struct engine *e);

/* Look at the task now (or at due_ms) and do whatever its state needs. */
void engine_kick(struct engine *e, struct task *t);
void engine_kick_at(struct engine *e, struct task *t, int64_t due_ms);
/* A task left the tree: stop working on it. */
void engine_forget(struct engine *e, struct task *t);

/* Shared by the workers (t->mu not held): tell the kernel which of the
 * task's files changed, as a bit mask of (1 << enum task_file). */
void engine_task_changed(struct engine *e, struct task *t, unsigned files);
/* Append an event line (t->mu held by the caller) and remember to persist
 * it: returns a copy to pass to engine_event_persist after unlocking. */
char *engine_event_locked(struct task *t, const char *extra);
void engine_event_persist(struct engine *e, struct task *t, char *line);
/* The task reached completed (video saved) or failed: run its hook. */
void engine_task_finished(struct engine *e, struct task *t);
/* Backoff delay in ms: interval doubled per attempt up to the ceiling, at least
 * the server's retry-after. */
int64_t engine_backoff_ms(const struct engine *e, int attempt, long retry_after_ms);

/* Workers, one file each. */
void submitter_run(struct engine *e, struct task *t);
void poller_run(struct engine *e, struct task *t);
/* Apply an answer (create or poll) to the task; true when its state or
 * progress moved. */
bool poller_apply_answer(struct engine *e, struct task *t, const char *body,
			 size_t len, char *err, size_t errlen);
void downloader_run(struct engine *e, struct task *t);
/* Fetch thumbnail.webp once the video is in (best effort). */
void downloader_fetch_thumbnail(struct engine *e, struct task *t);

/* A command written to the task's ctl file: refresh, retry or cancel.
 * 0, or -EINVAL/-EBUSY with a reason in err. Never waits on the network. */
int task_control(struct engine *e, struct task *t, const char *text, size_t len,
		 char *err, size_t errlen);
/* Worker side of cancel: the DELETE the provider is owed. */
void task_control_cancel_remote(struct engine *e, struct task *t);

#endif

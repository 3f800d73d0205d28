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
	/* api.max_video_bytes: a video larger than this is refused (a
	 * body without end would fill the disk); 0 for 4 GiB. */
	int64_t max_video_bytes;
	/* api.video_deadline: how long a task the provider calls completed
	 * may keep answering server errors for its video before it fails
	 * with the provider's words (LiteLLM reports failed Veo jobs as
	 * completed, then 500 on /content); 0 for 600 s. */
	int video_deadline_s;
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
/* Nothing is being worked on and nothing is due by now: what a test waits
 * for before it says something did not happen. */
bool engine_idle(struct engine *e);

/* ---- changing a task ----
 *
 * Every change of a task goes through one transaction, so that each is
 * applied in the same order:
 *
 *	struct task_change c;
 *	engine_change_begin(&c, t);      locks t->mu
 *	t->state = ...;                  change the fields
 *	c.files = ...; c.save = true;    describe what moved
 *	engine_commit(e, &c);            unlocks t->mu
 *
 * engine_commit appends the events lines (in memory), unlocks, writes
 * record.json when the record moved, then task.json and the events lines,
 * writes the log line, tells the observer which files moved, and runs the
 * finish hook when the task just finished (failed, or completed with its
 * video saved). The record is on disk before the tree hears of a change.
 *
 * When record.json cannot be written the change stays in memory (it may
 * hold a provider id that was paid for), the status says "cannot save the
 * task record; retrying", and the tree is not told of the rest of it nor
 * the hook run until a later write succeeds: the engine tries again on
 * its own before doing anything else with the task. */
struct task_change {
	struct task *t;
	bool was_finished;        /* set by engine_change_begin */
	unsigned files;           /* files that moved: (1 << enum task_file) */
	bool save;                /* record.json moved */
	bool answer;              /* task.json moved: */
	const char *answer_json;  /* its new bytes, valid until engine_commit */
	size_t answer_len;
	bool drop_video;          /* delete the video files first (retry) */
	int events;               /* events lines to append: 0, 1 or 2 */
	const char *event_text[2];/* each line's text after the state, or NULL */
	int log_level;            /* enum log_level of log */
	const char *log;          /* after "task NAME: "; NULL for none */
};
void engine_change_begin(struct task_change *c, struct task *t);
/* 0, or the record's write error (the change is kept; see above). */
int engine_commit(struct engine *e, struct task_change *c);
/* Whether the task is done for good: failed, or completed with video.mp4
 * saved. t->mu held. */
bool task_finished(const struct task *t);

/* Backoff delay in ms: interval doubled per attempt up to the ceiling, at least
 * the server's retry-after. */
int64_t engine_backoff_ms(const struct engine *e, int attempt, long retry_after_ms);

/* The task's video from byte offset (length -1: to the end): from the
 * link its status object named, where it named one and the remote can
 * follow links, else from /videos/{id}/content. Reads the id and link
 * under t->mu itself; never call it with t->mu held. */
int engine_fetch_video(struct engine *e, struct task *t, int64_t offset, int64_t length,
		       long timeout_ms, const struct remote_sink *sink,
		       struct remote_result *res);

/* ---- workers ----
 *
 * Each returns when it wants the task looked at again: after delay_ms
 * (0: at once), or never (WORK_IDLE) until something kicks it. The engine
 * schedules the next run on the pool the task's state then needs; a
 * worker never schedules anything itself. */
struct work_next {
	int64_t delay_ms;         /* < 0: idle */
};
#define WORK_IDLE ((struct work_next){ .delay_ms = -1 })
static inline struct work_next work_after(int64_t delay_ms)
{
	return (struct work_next){ .delay_ms = delay_ms < 0 ? 0 : delay_ms };
}

struct work_next submitter_run(struct engine *e, struct task *t);
struct work_next poller_run(struct engine *e, struct task *t);
/* Apply an answer (create or poll) to the task; true when its state or
 * progress moved. */
bool poller_apply_answer(struct engine *e, struct task *t, const char *body,
			 size_t len, char *err, size_t errlen);
struct work_next downloader_run(struct engine *e, struct task *t);
/* Fetch thumbnail.webp once the video is in (best effort). */
void downloader_fetch_thumbnail(struct engine *e, struct task *t);
/* Worker side of cancel: the DELETE the provider is owed. */
struct work_next task_control_cancel_remote(struct engine *e, struct task *t);

/* A command written to the task's ctl file: refresh, retry or cancel.
 * 0, or -EINVAL/-EBUSY with a reason in err. Never waits on the network. */
int task_control(struct engine *e, struct task *t, const char *text, size_t len,
		 char *err, size_t errlen);

#endif

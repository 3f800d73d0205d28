/* What the engine's and the video reader's unit tests share: one engine
 * against the in-memory provider, and ways to wait for a task. */
#ifndef VEOFS_ENGINE_ENV_H
#define VEOFS_ENGINE_ENV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "fake_remote.h"
#include "task_store.h"
#include "task_table.h"

#define MAX_TASKS 16

struct engine_env {
	char *dir;
	struct task_store *store;
	struct task_table *table;
	struct fake_remote *fake;
	struct engine *e;
	struct task *tasks[MAX_TASKS];
	int ntasks;
	/* what the observer heard, per task */
	pthread_mutex_t told_mu;
	int told[MAX_TASKS];
	unsigned told_files[MAX_TASKS];
};
extern struct engine_env env;

struct state_want {
	struct task *t;
	enum task_state state;
	int progress;     /* -1: any */
};

/* A fresh state dir, table, fake provider and engine; with test_clock,
 * on a stopped clock that runs on only while the test waits. */
void engine_env_setup(bool test_clock);
/* The same with a provider that can list videos (fake_remote_enable_list). */
void engine_env_setup_listing(bool test_clock);
void engine_env_teardown(void);
struct task *keep(struct task *t);
struct task *submit(const char *name, const char *prompt);
bool in_state(void *ctx);
char *status_of(struct task *t);
void wait_state(struct task *t, enum task_state state, int progress, int timeout_ms);
bool kicked_state(void *ctx);
void kick_until(struct task *t, enum task_state state, int progress, int timeout_ms);
bool video_done(void *ctx);
void wait_video(struct task *t, int timeout_ms);
void id_of(struct task *t, char *buf, size_t len);
char *read_state_file(const char *task, const char *file, size_t *len);
bool state_file_exists(const char *task, const char *file);
void assert_video_matches(const char *task, const char *id);
struct task *queued_task(const char *name, char *id, size_t idlen);
void complete(struct task *t, const char *id);
/* How often the tree was told of a change of t, and of which files. */
int told_count(struct task *t, unsigned *files);
/* Forget which files the tree was told of (the count stays). */
void told_reset(struct task *t);
/* Wait until the engine has nothing running and nothing due by now. */
void wait_engine_idle(void);

#endif

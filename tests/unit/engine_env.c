/* What the engine's and the video reader's unit tests share. */
#include "engine_env.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "fsutil.h"
#include "log.h"


struct engine_env env;

static const struct engine_options options = {
	.poll_interval_s = 1,
	.poll_max_interval_s = 2,
	.timeout_s = 2,
	.control_threads = 4,
	.download_threads = 2,
};

/* The observer: what the tree would have heard. */
static void told(void *ctx, struct task *t, unsigned files)
{
	(void)ctx;
	pthread_mutex_lock(&env.told_mu);
	for (int i = 0; i < env.ntasks; i++)
		if (env.tasks[i] == t) {
			env.told[i]++;
			env.told_files[i] |= files;
		}
	pthread_mutex_unlock(&env.told_mu);
}

int told_count(struct task *t, unsigned *files)
{
	int n = 0;

	pthread_mutex_lock(&env.told_mu);
	for (int i = 0; i < env.ntasks; i++)
		if (env.tasks[i] == t) {
			n = env.told[i];
			if (files)
				*files = env.told_files[i];
		}
	pthread_mutex_unlock(&env.told_mu);
	return n;
}

void told_reset(struct task *t)
{
	pthread_mutex_lock(&env.told_mu);
	for (int i = 0; i < env.ntasks; i++)
		if (env.tasks[i] == t)
			env.told_files[i] = 0;
	pthread_mutex_unlock(&env.told_mu);
}

static void env_setup(bool test_clock, bool listing);

void engine_env_setup(bool test_clock)
{
	env_setup(test_clock, false);
}

void engine_env_setup_listing(bool test_clock)
{
	env_setup(test_clock, true);
}

static void env_setup(bool test_clock, bool listing)
{
	char err[256] = "";
	struct engine_observer observer = { .task_changed = told };

	log_set_level(LOG_LVL_ERROR);
	memset(&env, 0, sizeof(env));
	pthread_mutex_init(&env.told_mu, NULL);
	if (test_clock)
		clock_test_start();
	env.dir = test_tmpdir();
	cr_assert_eq(task_store_open(env.dir, &env.store, err, sizeof(err)), 0, "%s", err);
	env.table = task_table_new();
	env.fake = fake_remote_new();
	if (listing)
		fake_remote_enable_list(env.fake);
	env.e = engine_new(&options, fake_remote_remote(env.fake), env.store, env.table,
			   &observer);
	cr_assert_not_null(env.e);
}

void engine_env_teardown(void)
{
	/* Held calls would keep the pools from stopping. */
	fake_remote_release_all(env.fake);
	engine_free(env.e);
	for (int i = 0; i < env.ntasks; i++)
		task_unref(env.tasks[i]);
	task_table_free(env.table);
	fake_remote_free(env.fake);
	task_store_close(env.store);
	test_tmpdir_remove(env.dir);
	if (clock_test_active())
		clock_test_stop();
	pthread_mutex_destroy(&env.told_mu);
}

struct task *keep(struct task *t)
{
	cr_assert_lt(env.ntasks, MAX_TASKS);
	pthread_mutex_lock(&env.told_mu);
	env.tasks[env.ntasks++] = t;
	pthread_mutex_unlock(&env.told_mu);
	return t;
}

/* A task accepted locally, as the drop box makes them, then kicked. */
struct task *submit(const char *name, const char *prompt)
{
	struct task *t = keep(task_new(name));
	char err[256] = "";

	t->prompt = strdup(prompt);
	t->model = strdup("veo-3.1-fast");
	t->seconds = strdup("8");
	t->size = strdup("16x9");
	t->created = 1700000000;
	task_event_append(t, NULL);
	cr_assert_eq(task_store_create(env.store, t, NULL, 0, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(task_table_insert(env.table, t), 0);
	engine_kick(env.e, t);
	return t;
}



bool in_state(void *ctx)
{
	struct state_want *w = ctx;
	bool ok;

	pthread_mutex_lock(&w->t->mu);
	ok = w->t->state == w->state && (w->progress < 0 || w->t->progress == w->progress);
	pthread_mutex_unlock(&w->t->mu);
	return ok;
}

char *status_of(struct task *t)
{
	char *s;

	pthread_mutex_lock(&t->mu);
	s = task_status_line(t);
	pthread_mutex_unlock(&t->mu);
	return s;
}

void wait_state(struct task *t, enum task_state state, int progress, int timeout_ms)
{
	struct state_want w = { t, state, progress };
	char *s;

	if (test_wait_until(in_state, &w, timeout_ms))
		return;
	s = status_of(t);
	cr_assert_fail("task %s: wanted %s %d, status is %s", t->name,
		       task_state_name(state), progress, s);
	free(s);
}

/* Kick the task every 20 ms until it reaches the state: a poll "now"
 * without waiting for the backoff. */
bool kicked_state(void *ctx)
{
	struct state_want *w = ctx;

	if (in_state(ctx))
		return true;
	engine_kick(env.e, w->t);
	test_sleep_ms(15);
	return false;
}

void kick_until(struct task *t, enum task_state state, int progress, int timeout_ms)
{
	struct state_want w = { t, state, progress };
	char *s;

	if (test_wait_until(kicked_state, &w, timeout_ms))
		return;
	s = status_of(t);
	cr_assert_fail("task %s: wanted %s %d, status is %s", t->name,
		       task_state_name(state), progress, s);
	free(s);
}

bool video_done(void *ctx)
{
	struct task *t = ctx;
	bool done;

	pthread_mutex_lock(&t->mu);
	done = t->video_done;
	pthread_mutex_unlock(&t->mu);
	return done;
}

void wait_video(struct task *t, int timeout_ms)
{
	char *s;

	if (test_wait_until(video_done, t, timeout_ms))
		return;
	s = status_of(t);
	cr_assert_fail("task %s: no video; status %s", t->name, s);
	free(s);
}

/* The id the provider gave this task (once queued). */
void id_of(struct task *t, char *buf, size_t len)
{
	pthread_mutex_lock(&t->mu);
	cr_assert_not_null(t->id);
	snprintf(buf, len, "%s", t->id);
	pthread_mutex_unlock(&t->mu);
}

char *read_state_file(const char *task, const char *file, size_t *len)
{
	char path[1024], *text = NULL;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/tasks/%s/%s", env.dir, task, file);
	if (fs_read_all(AT_FDCWD, path, 64 << 20, &text, &n) < 0)
		return NULL;
	if (len)
		*len = n;
	return text;
}

bool state_file_exists(const char *task, const char *file)
{
	char path[1024];
	struct stat st;

	snprintf(path, sizeof(path), "%s/tasks/%s/%s", env.dir, task, file);
	return stat(path, &st) == 0;
}

void assert_video_matches(const char *task, const char *id)
{
	size_t len = 0;
	char *got = read_state_file(task, "video.mp4", &len);
	int64_t size = fake_remote_job_video_size(env.fake, id);
	char *want;

	cr_assert_not_null(got, "no video.mp4 for %s", task);
	cr_assert_eq((int64_t)len, size, "video.mp4 has %zu bytes, want %lld", len,
		     (long long)size);
	want = malloc(len ? len : 1);
	fake_video_bytes(id, 0, want, len);
	for (size_t i = 0; i < len; i++)
		if (got[i] != want[i])
			cr_assert_fail("video.mp4 differs at byte %zu", i);
	free(want);
	free(got);
	cr_assert_not(state_file_exists(task, "video.mp4.part"));
}

/* Queue a task and bring it to queued with a provider id. */
struct task *queued_task(const char *name, char *id, size_t idlen)
{
	struct task *t = submit(name, "a cow doing the Kemusan dance");

	wait_state(t, TASK_QUEUED, -1, 3000);
	id_of(t, id, idlen);
	return t;
}

void complete(struct task *t, const char *id)
{
	cr_assert_eq(fake_remote_job_set(env.fake, id, TASK_COMPLETED, 100), 0);
	engine_kick(env.e, t);
}


static bool engine_is_idle(void *ctx)
{
	(void)ctx;
	return engine_idle(env.e);
}

void wait_engine_idle(void)
{
	cr_assert(test_wait_until(engine_is_idle, NULL, 5000), "the engine never went idle");
}

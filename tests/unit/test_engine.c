/* The engine's workers (submitter, poller, downloader) and video reads,
 * against the in-memory provider: every path where money or a video could
 * be lost, or a reader could hang. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clock.h"
#include "engine.h"
#include "engine_env.h"
#include "fake_remote.h"
#include "fsutil.h"
#include "log.h"
#include "scheduler.h"
#include "task_store.h"
#include "task_table.h"

static void setup(void)
{
	engine_env_setup(true);
}

TestSuite(engine, .init = setup, .fini = engine_env_teardown, .timeout = 40);

/* ---- backoff ---- */

Test(engine, backoff_doubles_to_the_ceiling_and_honours_retry_after)
{
	cr_assert_eq(engine_backoff_ms(env.e, 1, -1), 1000);
	cr_assert_eq(engine_backoff_ms(env.e, 2, -1), 2000);
	cr_assert_eq(engine_backoff_ms(env.e, 3, -1), 2000);
	cr_assert_eq(engine_backoff_ms(env.e, 50, -1), 2000);
	cr_assert_eq(engine_backoff_ms(env.e, 1, 1500), 1500);
	cr_assert_eq(engine_backoff_ms(env.e, 2, 500), 2000, "retry-after is a minimum");
	cr_assert_eq(engine_backoff_ms(env.e, 1, 10L * 3600 * 1000), 3600000,
		     "a day-long retry-after is capped at an hour");
	cr_assert_eq(engine_backoff_ms(env.e, 0, -1), 1000);
}

/* ---- the whole way ---- */

static bool saved_event_on_disk(void *ctx)
{
	char *events = read_state_file("job", "events", NULL);
	bool ok = events && strstr(events, "video.mp4 saved");

	(void)ctx;
	free(events);
	return ok;
}

static bool status_starts(void *ctx)
{
	void **a = ctx;
	char *s = status_of(a[0]);
	bool ok = s && !strncmp(s, a[1], strlen(a[1]));

	free(s);
	return ok;
}

/* Wait until the status line begins with prefix. */
static void wait_status(struct task *t, const char *prefix)
{
	void *a[2] = { t, (void *)prefix };
	char *s;

	if (test_wait_until(status_starts, a, 3000))
		return;
	s = status_of(t);
	cr_assert_fail("task %s: status is %s, wanted %s...", t->name, s, prefix);
	free(s);
}

static bool told_error(void *ctx)
{
	unsigned files = 0;

	told_count(ctx, &files);
	return files & (1u << TF_ERROR);
}

static bool told_progress(void *ctx)
{
	unsigned files = 0;

	told_count(ctx, &files);
	return files & (1u << TF_PROGRESS);
}

/* Let time pass (on the test clock), then wait until the engine has
 * nothing left to do by then: whatever would have happened has. */
static void settle(int ms)
{
	test_time_passes(ms);
	wait_engine_idle();
}

Test(engine, pending_to_completed_with_the_video_on_disk)
{
	struct task *t = submit("job", "a cow doing the Kemusan dance");
	char id[64], *s, *events, *json;
	const struct fake_create_call *c;

	wait_state(t, TASK_QUEUED, -1, 3000);
	id_of(t, id, sizeof(id));
	cr_assert_eq(t->submit, SUBMIT_DONE);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CREATE), 1);
	c = fake_remote_create_call(env.fake, 0);
	cr_assert_str_eq(c->prompt, "a cow doing the Kemusan dance");
	cr_assert_str_eq(c->model, "veo-3.1-fast");
	cr_assert_str_eq(c->seconds, "8");
	cr_assert_str_eq(c->size, "16x9");
	cr_assert_str_eq(c->watermark, "false");
	cr_assert_null(c->image_path);
	cr_assert_null(c->image_url);

	fake_remote_job_set(env.fake, id, TASK_IN_PROGRESS, 40);
	engine_kick(env.e, t);
	wait_state(t, TASK_IN_PROGRESS, 40, 3000);
	s = status_of(t);
	cr_assert_str_eq(s, "in_progress 40%\n");
	free(s);

	complete(t, id);
	wait_state(t, TASK_COMPLETED, 100, 3000);
	wait_video(t, 5000);
	assert_video_matches("job", id);
	s = status_of(t);
	cr_assert_str_eq(s, "completed\n");
	free(s);

	/* memory answers readers; the file follows, before the tree hears */
	cr_assert(test_wait_until(saved_event_on_disk, NULL, 3000),
		  "the saved video's event never reached the disk");
	events = read_state_file("job", "events", NULL);
	cr_assert_not_null(events);
	const char *p = strstr(events, " pending 0");
	cr_assert_not_null(p, "%s", events);
	p = strstr(p, " queued 0");
	cr_assert_not_null(p, "events out of order: %s", events);
	p = strstr(p, " in_progress 40");
	cr_assert_not_null(p, "events out of order: %s", events);
	p = strstr(p, " completed 100");
	cr_assert_not_null(p, "events out of order: %s", events);
	p = strstr(p, "video.mp4 saved");
	cr_assert_not_null(p, "no event for the saved video: %s", events);
	pthread_mutex_lock(&t->mu);
	cr_assert_str_eq(events, t->events, "memory and disk disagree");
	pthread_mutex_unlock(&t->mu);
	free(events);

	json = read_state_file("job", "task.json", NULL);
	cr_assert_not_null(json);
	cr_assert(strstr(json, "\"completed\""), "%s", json);
	free(json);

	/* persisted: what a restart would show */
	char *record = read_state_file("job", "record.json", NULL);
	cr_assert(strstr(record, "\"completed\""), "%s", record);
	cr_assert(strstr(record, id), "%s", record);
	free(record);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CREATE), 1);
}

Test(engine, gateway_spellings_are_understood)
{
	char id[64];
	struct task *t = queued_task("job", id, sizeof(id));

	fake_remote_job_set(env.fake, id, TASK_IN_PROGRESS, 10);
	fake_remote_job_status_text(env.fake, id, "Processing");
	kick_until(t, TASK_IN_PROGRESS, 10, 3000);
	fake_remote_job_set(env.fake, id, TASK_COMPLETED, 100);
	fake_remote_job_status_text(env.fake, id, "SUCCEEDED");
	kick_until(t, TASK_COMPLETED, 100, 3000);
	wait_video(t, 5000);
	assert_video_matches("job", id);
}

/* ---- creates ---- */

Test(engine, not_received_is_retried_and_creates_once)
{
	struct task *t;
	char *s;

	fake_remote_fail_not_received(env.fake, FAKE_CREATE);
	t = submit("job", "p");
	cr_assert_eq(fake_remote_wait_calls(env.fake, FAKE_CREATE, 1, 2000), 1);
	wait_status(t, "pending: retrying in ");
	s = status_of(t);
	cr_assert(strstr(s, "could not connect"), "status should say why: %s", s);
	free(s);
	wait_state(t, TASK_QUEUED, -1, 4000);
	settle(300);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CREATE), 2);
	cr_assert_eq(fake_remote_job_count(env.fake), 1, "exactly one successful create");
	s = status_of(t);
	cr_assert_str_eq(s, "queued\n", "the retry note must go away");
	free(s);
}

Test(engine, rate_limits_are_retried_after_the_servers_delay)
{
	struct task *t;
	int64_t t0, t1, t2;

	fake_remote_fail_http(env.fake, FAKE_CREATE, 429, 1200,
			      "{\"error\":{\"message\":\"rate limit exceeded\"}}");
	fake_remote_fail_http(env.fake, FAKE_CREATE, 503, 1500, NULL);
	t = submit("job", "p");
	wait_state(t, TASK_QUEUED, -1, 8000);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CREATE), 3);
	cr_assert_eq(fake_remote_job_count(env.fake), 1);
	t0 = fake_remote_call_time(env.fake, FAKE_CREATE, 0);
	t1 = fake_remote_call_time(env.fake, FAKE_CREATE, 1);
	t2 = fake_remote_call_time(env.fake, FAKE_CREATE, 2);
	cr_assert_geq(t1 - t0, 1200, "429 retried after %lld ms, asked 1200", (long long)(t1 - t0));
	cr_assert_geq(t2 - t1, 1500, "503 retried after %lld ms, asked 1500", (long long)(t2 - t1));
	cr_assert_lt(t2 - t0, 6000, "retries took far too long");
}

Test(engine, refused_create_fails_with_the_providers_reason)
{
	struct task *t;
	char *s, *err;

	fake_remote_fail_http(env.fake, FAKE_CREATE, 400, -1,
			      "{\"error\":{\"code\":\"invalid_request\","
			      "\"message\":\"prompt rejected by the safety system\"}}");
	t = submit("job", "p");
	wait_state(t, TASK_FAILED, -1, 3000);
	s = status_of(t);
	cr_assert(strncmp(s, "failed: ", 8) == 0, "status: %s", s);
	cr_assert(strstr(s, "prompt rejected by the safety system"), "status: %s", s);
	free(s);
	pthread_mutex_lock(&t->mu);
	cr_assert(task_file_visible(t, TF_ERROR));
	size_t len;
	err = task_file_text(t, TF_ERROR, &len);
	pthread_mutex_unlock(&t->mu);
	cr_assert(strstr(err, "prompt rejected by the safety system"), "error: %s", err);
	free(err);
	test_time_passes(1500);
	engine_kick(env.e, t);
	settle(200);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CREATE), 1, "a refused task was resent");
	char *record = read_state_file("job", "record.json", NULL);
	cr_assert(strstr(record, "\"failed\""), "%s", record);
	free(record);
}

static void assert_never_resent(struct task *t)
{
	/* a few poll intervals, with kicks: still one create */
	for (int i = 0; i < 5; i++) {
		engine_kick(env.e, t);
		settle(600);
	}
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CREATE), 1,
		     "a create whose outcome is unknown was sent again");
}

Test(engine, reset_after_sending_is_outcome_unknown_and_never_resent)
{
	struct task *t;
	char *s;

	fake_remote_fail_after_sending(env.fake, FAKE_CREATE);
	t = submit("job", "p");
	wait_state(t, TASK_FAILED, -1, 3000);
	s = status_of(t);
	cr_assert(strncmp(s, "failed: submission outcome unknown", 34) == 0, "status: %s", s);
	free(s);
	assert_never_resent(t);

	/* and a restart does not resend it either */
	char *record = read_state_file("job", "record.json", NULL);
	cr_assert(strstr(record, "\"failed\""), "%s", record);
	free(record);
}

Test(engine, gateway_timeout_is_outcome_unknown)
{
	struct task *t;
	char *s;

	fake_remote_fail_http(env.fake, FAKE_CREATE, 504, -1, NULL);
	t = submit("job", "p");
	wait_state(t, TASK_FAILED, -1, 3000);
	s = status_of(t);
	cr_assert(strstr(s, "submission outcome unknown"), "status: %s", s);
	free(s);
	assert_never_resent(t);
}

Test(engine, create_answer_without_an_id_is_outcome_unknown)
{
	struct task *t;
	char *s;

	fake_remote_answer(env.fake, FAKE_CREATE, "{\"object\":\"video\",\"status\":\"queued\"}");
	t = submit("job", "p");
	wait_state(t, TASK_FAILED, -1, 3000);
	s = status_of(t);
	cr_assert(strstr(s, "submission outcome unknown"), "status: %s", s);
	free(s);
	test_time_passes(1200);
	engine_kick(env.e, t);
	settle(200);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CREATE), 1);
}

Test(engine, create_answer_that_is_not_json_is_outcome_unknown)
{
	struct task *t;
	char *s;

	fake_remote_answer(env.fake, FAKE_CREATE, "<html>bad gateway</html>");
	t = submit("job", "p");
	wait_state(t, TASK_FAILED, -1, 3000);
	s = status_of(t);
	cr_assert(strstr(s, "submission outcome unknown"), "status: %s", s);
	free(s);
}

/* A create hanging on the network must not hold up anyone else. */
Test(engine, a_hung_create_does_not_block_other_tasks)
{
	struct task *a, *b;
	char id[64];

	fake_remote_hold(env.fake, FAKE_CREATE, 1);
	a = submit("slow", "p");
	cr_assert_eq(fake_remote_wait_held(env.fake, FAKE_CREATE, 1, 2000), 1);
	b = submit("fast", "p");
	wait_state(b, TASK_QUEUED, -1, 3000);
	id_of(b, id, sizeof(id));
	complete(b, id);
	wait_video(b, 5000);
	pthread_mutex_lock(&a->mu);
	cr_assert_eq(a->state, TASK_PENDING);
	cr_assert_eq(a->submit, SUBMIT_SENDING);
	pthread_mutex_unlock(&a->mu);
	fake_remote_release(env.fake, FAKE_CREATE);
	wait_state(a, TASK_QUEUED, -1, 3000);
}

/* ---- polls ---- */

Test(engine, provider_losing_the_task_three_times_fails_it)
{
	char id[64], *s;
	struct task *t = queued_task("job", id, sizeof(id));

	for (int i = 0; i < 3; i++)
		fake_remote_fail_http(env.fake, FAKE_GET, 404, -1, NULL);
	kick_until(t, TASK_FAILED, -1, 8000);
	s = status_of(t);
	cr_assert(strstr(s, "404"), "status: %s", s);
	free(s);
	int gets = fake_remote_calls(env.fake, FAKE_GET);
	cr_assert_geq(gets, 3);
	settle(1500);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_GET), gets, "a failed task is still polled");
}

Test(engine, a_passing_404_is_forgiven)
{
	char id[64], *s;
	struct task *t = queued_task("job", id, sizeof(id));

	fake_remote_fail_http(env.fake, FAKE_GET, 404, -1, NULL);
	fake_remote_fail_http(env.fake, FAKE_GET, 404, -1, NULL);
	fake_remote_job_set(env.fake, id, TASK_IN_PROGRESS, 5);
	kick_until(t, TASK_IN_PROGRESS, 5, 8000);
	/* the count starts over after an answer */
	fake_remote_fail_http(env.fake, FAKE_GET, 404, -1, NULL);
	fake_remote_fail_http(env.fake, FAKE_GET, 404, -1, NULL);
	fake_remote_job_set(env.fake, id, TASK_IN_PROGRESS, 6);
	kick_until(t, TASK_IN_PROGRESS, 6, 8000);
	s = status_of(t);
	cr_assert_str_eq(s, "in_progress 6%\n");
	free(s);
}

Test(engine, poll_trouble_shows_in_the_status_and_passes)
{
	char id[64], *s;
	struct task *t = queued_task("job", id, sizeof(id));
	struct state_want w = { t, TASK_QUEUED, -1 };

	fake_remote_fail_http(env.fake, FAKE_GET, 500, -1, NULL);
	int gets = fake_remote_calls(env.fake, FAKE_GET);
	engine_kick(env.e, t);
	cr_assert_geq(fake_remote_wait_calls(env.fake, FAKE_GET, gets + 1, 2000), gets + 1);
	wait_status(t, "queued (poll failed");
	s = status_of(t);
	cr_assert(strstr(s, "poll failed"), "status: %s", s);
	free(s);
	cr_assert(in_state(&w), "a 500 on a poll must not fail the task");
	fake_remote_job_set(env.fake, id, TASK_IN_PROGRESS, 50);
	kick_until(t, TASK_IN_PROGRESS, 50, 5000);
	s = status_of(t);
	cr_assert_str_eq(s, "in_progress 50%\n");
	free(s);
}

Test(engine, failed_job_shows_the_providers_error)
{
	char id[64], *s;
	struct task *t = queued_task("job", id, sizeof(id));

	fake_remote_job_fail(env.fake, id, "content policy violation", false);
	kick_until(t, TASK_FAILED, -1, 3000);
	s = status_of(t);
	cr_assert_str_eq(s, "failed: content policy violation\n");
	free(s);
	/* memory first; the file before the tree hears of it */
	cr_assert(test_wait_until(told_error, t, 3000));
	char *events = read_state_file("job", "events", NULL);
	cr_assert(strstr(events, " failed "), "%s", events);
	free(events);
}

Test(engine, failed_job_with_an_error_string)
{
	char id[64], *s;
	struct task *t = queued_task("job", id, sizeof(id));

	fake_remote_job_fail(env.fake, id, "quota exhausted", true);
	kick_until(t, TASK_FAILED, -1, 3000);
	s = status_of(t);
	cr_assert_str_eq(s, "failed: quota exhausted\n");
	free(s);
}

Test(engine, failed_job_without_an_error_still_says_something)
{
	char id[64], *s;
	struct task *t = queued_task("job", id, sizeof(id));

	fake_remote_job_fail(env.fake, id, NULL, false);
	kick_until(t, TASK_FAILED, -1, 3000);
	s = status_of(t);
	cr_assert(strncmp(s, "failed: ", 8) == 0 && strlen(s) > 10, "status: %s", s);
	free(s);
}

Test(engine, cancelled_job_says_cancelled)
{
	char id[64], *s;
	struct task *t = queued_task("job", id, sizeof(id));

	fake_remote_job_fail(env.fake, id, NULL, false);
	fake_remote_job_status_text(env.fake, id, "cancelled");
	kick_until(t, TASK_FAILED, -1, 3000);
	s = status_of(t);
	cr_assert_str_eq(s, "failed: cancelled\n");
	free(s);
}

/* A record that cannot be written: the task is not shown as moved, the
 * status says why, and the engine writes it again until it can. */
Test(engine, an_unsaved_record_is_retried_and_shown_only_once_saved)
{
	char id[64], path[1024], *record;
	struct task *t = queued_task("job", id, sizeof(id));
	unsigned files = 0;

	wait_engine_idle();
	snprintf(path, sizeof(path), "%s/tasks/job/record.json", env.dir);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(mkdir(path, 0700), 0, "a directory in its place: no rename can replace it");
	told_reset(t);
	fake_remote_job_set(env.fake, id, TASK_IN_PROGRESS, 40);
	engine_kick(env.e, t);
	wait_status(t, "in_progress 40% (cannot save the task record; retrying)");
	told_count(t, &files);
	cr_assert_eq(files, 1u << TF_STATUS, "the tree heard of more than the note: %#x", files);

	cr_assert_eq(rmdir(path), 0);
	wait_status(t, "in_progress 40%\n");
	cr_assert(test_wait_until(told_progress, t, 3000), "the tree never heard of the move");
	record = read_state_file("job", "record.json", NULL);
	cr_assert_not_null(record);
	cr_assert(strstr(record, "in_progress"), "%s", record);
	free(record);
}

/* ---- downloads ---- */

Test(engine, short_download_resumes_where_it_stopped)
{
	char id[64];
	struct task *t = queued_task("job", id, sizeof(id));
	struct fake_content_call calls[8];
	int n;

	fake_remote_short_body(env.fake, 100000);
	complete(t, id);
	wait_video(t, 6000);
	assert_video_matches("job", id);
	n = fake_remote_content_calls(env.fake, calls, 8);
	cr_assert_geq(n, 2);
	cr_assert_eq(calls[0].offset, 0);
	cr_assert_eq(calls[1].offset, 100000, "resumed at %lld, want 100000",
		     (long long)calls[1].offset);
	cr_assert(calls[1].range_honoured);
}

Test(engine, download_not_ready_yet_is_retried)
{
	char id[64];
	struct task *t = queued_task("job", id, sizeof(id));

	fake_remote_fail_http(env.fake, FAKE_CONTENT, 404, -1,
			      "{\"error\":{\"message\":\"video is still processing\"}}");
	complete(t, id);
	wait_video(t, 6000);
	assert_video_matches("job", id);
	cr_assert_geq(fake_remote_calls(env.fake, FAKE_CONTENT), 2);
}

Test(engine, download_resumes_from_a_server_without_ranges)
{
	char id[64];
	struct task *t = queued_task("job", id, sizeof(id));

	struct fake_content_call calls[8];
	int n;

	fake_remote_set_ranges(env.fake, false);
	fake_remote_short_body(env.fake, 100000);
	complete(t, id);
	wait_video(t, 6000);
	assert_video_matches("job", id);
	/* The second request asked to resume at the bytes it had; the
	 * server sent the whole video and the head was skipped, not
	 * written twice. */
	n = fake_remote_content_calls(env.fake, calls, 8);
	cr_assert_geq(n, 2, "the cut-short download was not asked for again");
	cr_assert_eq(calls[0].offset, 0);
	cr_assert_eq(calls[1].offset, 100000, "resumed at %lld, want 100000",
		     (long long)calls[1].offset);
	cr_assert_not(calls[1].range_honoured, "the server was set to ignore ranges");
	pthread_mutex_lock(&t->mu);
	cr_assert_not(t->ranges_ok, "a server that ignored Range was noted as honouring it");
	pthread_mutex_unlock(&t->mu);
}

/* A restart finds a half-downloaded video: it continues from the synced
 * bytes, and the result is still byte-identical. */
Test(engine, restart_resumes_a_partial_download)
{
	char id[64];
	struct task *t = queued_task("job", id, sizeof(id));
	int64_t size = fake_remote_job_video_size(env.fake, id);
	struct fake_content_call calls[4];
	char *head = malloc(120000);
	int fd;

	/* what a previous run left: the first 120000 bytes, 100000 synced */
	fake_remote_job_set(env.fake, id, TASK_COMPLETED, 100);
	fake_video_bytes(id, 0, head, 120000);
	pthread_mutex_lock(&t->mu);
	t->deleted = true; /* park it: the "old" process is gone */
	pthread_mutex_unlock(&t->mu);
	engine_forget(env.e, t);
	char part[1024];
	snprintf(part, sizeof(part), "%s/tasks/job/video.mp4.part", env.dir);
	fd = open(part, O_RDWR | O_CREAT, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fs_pwrite_all(fd, head, 120000, 0), 0);
	close(fd);
	free(head);

	struct task *r = keep(task_new("job2"));
	pthread_mutex_lock(&t->mu);
	r->prompt = strdup(t->prompt);
	pthread_mutex_unlock(&t->mu);
	r->state = TASK_COMPLETED;
	r->progress = 100;
	r->submit = SUBMIT_DONE;
	r->id = strdup(id);
	r->video_size = size;
	r->video_have = 100000;
	r->video_synced = 100000;
	char err[256];
	cr_assert_eq(task_store_create(env.store, r, NULL, 0, err, sizeof(err)), 0, "%s", err);
	char from[1024], to[1024];
	snprintf(from, sizeof(from), "%s/tasks/job/video.mp4.part", env.dir);
	snprintf(to, sizeof(to), "%s/tasks/job2/video.mp4.part", env.dir);
	cr_assert_eq(rename(from, to), 0);
	cr_assert_eq(task_table_insert(env.table, r), 0);
	engine_kick(env.e, r);
	wait_video(r, 5000);
	assert_video_matches("job2", id);
	int n = fake_remote_content_calls(env.fake, calls, 4);
	/* The video once, from the synced bytes; a thumbnail request may follow. */
	cr_assert(n == 1 || n == 2, "%d content calls", n);
	cr_assert_eq(calls[0].offset, 100000, "resumed at %lld", (long long)calls[0].offset);
}

/* The provider now serves a video of another size: never splice two
 * videos; start over. */
Test(engine, resume_of_a_different_video_starts_over)
{
	char id[64], err[256];
	struct task *t = queued_task("job", id, sizeof(id));
	int64_t size = fake_remote_job_video_size(env.fake, id);
	char junk[5000];

	fake_remote_job_set(env.fake, id, TASK_COMPLETED, 100);
	pthread_mutex_lock(&t->mu);
	t->deleted = true;
	pthread_mutex_unlock(&t->mu);
	engine_forget(env.e, t);

	struct task *r = keep(task_new("job2"));
	r->prompt = strdup("p");
	r->state = TASK_COMPLETED;
	r->progress = 100;
	r->submit = SUBMIT_DONE;
	r->id = strdup(id);
	r->video_size = size + 1000;
	r->video_have = sizeof(junk);
	r->video_synced = sizeof(junk);
	cr_assert_eq(task_store_create(env.store, r, NULL, 0, err, sizeof(err)), 0, "%s", err);
	int fd = task_store_open_video(env.store, r, true, O_RDWR | O_CREAT);
	memset(junk, 'J', sizeof(junk));
	cr_assert_eq(fs_pwrite_all(fd, junk, sizeof(junk), 0), 0);
	close(fd);
	cr_assert_eq(task_table_insert(env.table, r), 0);
	engine_kick(env.e, r);
	wait_video(r, 5000);
	assert_video_matches("job2", id);
}

/* ---- reads while downloading ---- */

/* ---- forgetting ---- */

Test(engine, forget_stops_polling)
{
	char id[64];
	struct task *t = queued_task("job", id, sizeof(id));
	struct task *gone;
	int gets;

	gone = task_table_remove(env.table, "job");
	engine_forget(env.e, t);
	cr_assert_eq(task_store_remove(env.store, "job"), 0);
	task_unref(gone);
	wait_engine_idle();
	gets = fake_remote_calls(env.fake, FAKE_GET);
	engine_kick(env.e, t);
	settle(2500);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_GET), gets, "a forgotten task was polled");
	cr_assert_not(state_file_exists("job", "."), "a forgotten task's dir came back");
}

Test(engine, forget_before_submission_sends_nothing)
{
	struct task *t;

	fake_remote_fail_not_received(env.fake, FAKE_CREATE);
	t = submit("job", "p");
	cr_assert_eq(fake_remote_wait_calls(env.fake, FAKE_CREATE, 1, 2000), 1);
	task_unref(task_table_remove(env.table, "job"));
	engine_forget(env.e, t);
	cr_assert_eq(task_store_remove(env.store, "job"), 0);
	settle(2000);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CREATE), 1, "a forgotten task was submitted");
}

Test(engine, forget_during_a_download_stops_it)
{
	char id[64];
	struct task *t = queued_task("job", id, sizeof(id));

	fake_remote_stall_content(env.fake, 16384);
	complete(t, id);
	cr_assert_eq(fake_remote_wait_held(env.fake, FAKE_CONTENT, 1, 3000), 1);
	task_unref(task_table_remove(env.table, "job"));
	engine_forget(env.e, t);
	cr_assert_eq(task_store_remove(env.store, "job"), 0);
	fake_remote_release(env.fake, FAKE_CONTENT);
	settle(1500);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CONTENT), 1, "a forgotten video was fetched again");
	cr_assert_not(state_file_exists("job", "."), "a forgotten task's dir came back");
	pthread_mutex_lock(&t->mu);
	cr_assert_not(t->video_done);
	pthread_mutex_unlock(&t->mu);
}

/* ---- restart ---- */

Test(engine, loaded_tasks_resume_polling)
{
	char id[64];
	struct task *t = queued_task("job", id, sizeof(id));
	struct task *r;

	/* hand the same record to a second, "restarted" task */
	task_unref(task_table_remove(env.table, "job"));
	engine_forget(env.e, t);
	r = keep(task_new("job"));
	r->prompt = strdup("p");
	r->state = TASK_QUEUED;
	r->submit = SUBMIT_DONE;
	r->id = strdup(id);
	cr_assert_eq(task_table_insert(env.table, r), 0);
	fake_remote_job_set(env.fake, id, TASK_COMPLETED, 100);
	engine_kick(env.e, r);
	wait_video(r, 5000);
	assert_video_matches("job", id);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CREATE), 1);
}

/* ---- more answers ---- */

Test(engine, create_answered_failed_fails_at_once)
{
	struct task *t;
	char *s;

	fake_remote_answer(env.fake, FAKE_CREATE,
			   "{\"id\":\"video_x1\",\"object\":\"video\",\"status\":\"failed\","
			   "\"error\":{\"code\":\"moderation\",\"message\":\"prompt flagged\"}}");
	t = submit("job", "p");
	wait_state(t, TASK_FAILED, -1, 3000);
	s = status_of(t);
	cr_assert_str_eq(s, "failed: prompt flagged\n");
	free(s);
	pthread_mutex_lock(&t->mu);
	cr_assert_str_eq(t->id, "video_x1");
	cr_assert_eq(t->submit, SUBMIT_DONE);
	pthread_mutex_unlock(&t->mu);
	settle(1300);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_GET), 0, "a failed task was polled");
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CREATE), 1);
}

Test(engine, create_answered_completed_downloads_at_once)
{
	char id[64], body[256];
	struct task *first = queued_task("first", id, sizeof(id));
	struct task *t;

	(void)first;
	fake_remote_job_set(env.fake, id, TASK_COMPLETED, 100);
	snprintf(body, sizeof(body), "{\"id\":\"%s\",\"status\":\"completed\",\"progress\":100}", id);
	fake_remote_answer(env.fake, FAKE_CREATE, body);
	t = submit("second", "p");
	wait_video(t, 3000);
	assert_video_matches("second", id);
}

/* The chat route's streamed reply: what it says while it runs is shown
 * and kept at once, and a pollable id is on disk before the reply ends. */
struct stream_check {
	struct task *t;
	char status_mid[128];
	bool id_on_disk;
	bool events_on_disk;
};

static void stream_reply(const struct remote_create_watch *w, void *arg)
{
	struct stream_check *sc = arg;
	size_t len;

	cr_assert_not_null(w, "the submitter gave no watch");
	sc->t = task_table_get_name(env.table, "job");
	cr_assert_not_null(sc->t);
	w->on_text(w->ctx, "视频生成中... 36%");
	w->on_progress(w->ctx, 36);
	w->on_progress(w->ctx, 20);  /* a lower figure never shows */
	char *s = status_of(sc->t);
	snprintf(sc->status_mid, sizeof(sc->status_mid), "%s", s);
	free(s);
	w->on_id(w->ctx, "https://router.example/tasks/abc", true);
	w->on_id(w->ctx, "https://router.example/tasks/abc", true); /* once */
	char *rec = read_state_file("job", "record.json", &len);
	sc->id_on_disk = rec && strstr(rec, "router.example/tasks/abc") &&
			 strstr(rec, "\"done\"");
	free(rec);
	char *ev = read_state_file("job", "events", &len);
	sc->events_on_disk = ev && strstr(ev, "视频生成中... 36%") && strstr(ev, "in_progress 36");
	free(ev);
}

Test(engine, a_streamed_create_shows_and_keeps_what_it_says_at_once)
{
	static struct stream_check sc;
	struct task *t;

	fake_remote_on_create(env.fake, stream_reply, &sc);
	fake_remote_answer(env.fake, FAKE_CREATE,
			   "{\"id\":\"chatcmpl-1\",\"status\":\"failed\",\"error\":"
			   "{\"message\":\"no video\"}}");
	t = submit("job", "p");
	wait_state(t, TASK_FAILED, -1, 3000);
	cr_assert_str_eq(sc.status_mid, "in_progress 36% (estimated)\n");
	cr_assert(sc.id_on_disk, "the polling URL was not saved before the reply ended");
	cr_assert(sc.events_on_disk, "the reply's text was not in events at once");
	cr_assert_eq(sc.t, t);
	task_unref(sc.t);
	pthread_mutex_lock(&t->mu);
	cr_assert_str_eq(t->id, "https://router.example/tasks/abc");
	cr_assert_eq(t->progress, 36);
	pthread_mutex_unlock(&t->mu);
	size_t len;
	char *ev = read_state_file("job", "events", &len);
	const char *first = strstr(ev, "the provider named the task");
	cr_assert_not_null(first);
	cr_assert_null(strstr(first + 1, "the provider named the task"), "%s", ev);
	free(ev);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CREATE), 1);
}

Test(engine, provider_poll_delay_is_honoured)
{
	char id[64], body[256];
	struct task *t = queued_task("job", id, sizeof(id));
	int gets = fake_remote_calls(env.fake, FAKE_GET);
	struct fake_script s = {
		.kind = FAKE_ANSWER, .retry_after_ms = 1800, .body = body,
	};

	snprintf(body, sizeof(body), "{\"id\":\"%s\",\"status\":\"in_progress\",\"progress\":3}", id);
	fake_remote_script(env.fake, FAKE_GET, &s);
	engine_kick(env.e, t);
	cr_assert_geq(fake_remote_wait_calls(env.fake, FAKE_GET, gets + 2, 4000), gets + 2);
	int64_t gap = fake_remote_call_time(env.fake, FAKE_GET, gets + 1) -
		      fake_remote_call_time(env.fake, FAKE_GET, gets);
	cr_assert_geq(gap, 1800, "polled again after %lld ms; the provider asked 1800",
		      (long long)gap);
}

/* openai-poll-after-ms: 1000000000000 once stopped polling for a day: a
 * hint is advice, capped by poll.max_interval (2 s here). */
Test(engine, a_huge_poll_hint_is_capped_by_the_max_interval)
{
	char id[64], body[256];
	struct task *t = queued_task("job", id, sizeof(id));
	int gets = fake_remote_calls(env.fake, FAKE_GET);
	struct fake_script s = {
		.kind = FAKE_ANSWER, .retry_after_ms = 1000000000000L, .body = body,
	};

	snprintf(body, sizeof(body), "{\"id\":\"%s\",\"status\":\"in_progress\",\"progress\":3}", id);
	fake_remote_script(env.fake, FAKE_GET, &s);
	engine_kick(env.e, t);
	cr_assert_geq(fake_remote_wait_calls(env.fake, FAKE_GET, gets + 2, 8000), gets + 2);
	int64_t gap = fake_remote_call_time(env.fake, FAKE_GET, gets + 1) -
		      fake_remote_call_time(env.fake, FAKE_GET, gets);
	cr_assert_leq(gap, 2500, "polled again after %lld ms; poll.max_interval is 2 s",
		      (long long)gap);
}

Test(engine, download_keeps_trying_through_server_errors)
{
	char id[64];
	struct task *t = queued_task("job", id, sizeof(id));

	for (int i = 0; i < 7; i++)
		fake_remote_fail_http(env.fake, FAKE_CONTENT, 503, -1, NULL);
	complete(t, id);
	for (int i = 0; i < 400 && !video_done(t); i++) {
		engine_kick(env.e, t);
		test_time_passes(20);
		pthread_mutex_lock(&t->mu);
		bool failed = t->state == TASK_FAILED;
		pthread_mutex_unlock(&t->mu);
		cr_assert_not(failed, "a 503 on a download failed the task");
	}
	wait_video(t, 3000);
	assert_video_matches("job", id);
	/* 7 refused, 1 served, and at most one more for the thumbnail. */
	int calls = fake_remote_calls(env.fake, FAKE_CONTENT);
	cr_assert(calls == 8 || calls == 9, "%d content calls", calls);
}

Test(engine, pending_task_from_disk_is_submitted)
{
	struct task *t = keep(task_new("job"));
	char err[256];

	/* accepted before a restart, never sent */
	t->prompt = strdup("p");
	t->model = strdup("veo-3.1");
	t->seconds = strdup("8");
	t->size = strdup("16x9");
	cr_assert_eq(task_store_create(env.store, t, NULL, 0, err, sizeof(err)), 0);
	cr_assert_eq(task_table_insert(env.table, t), 0);
	engine_kick(env.e, t);
	wait_state(t, TASK_QUEUED, -1, 3000);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CREATE), 1);
}

/* The library opens task directories by name; this stand-in for openat()
 * can stop the first open of one name until the test lets it go, to put
 * a removal exactly between a worker's "is the task still there" check and
 * its write. Everything else goes straight to the kernel. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char name[64];
	bool armed, entered, released;
} open_hook = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER };

int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (flags & (O_CREAT | __O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	pthread_mutex_lock(&open_hook.mu);
	if (open_hook.armed && (flags & O_DIRECTORY) && !strcmp(path, open_hook.name)) {
		open_hook.armed = false;
		open_hook.entered = true;
		pthread_cond_broadcast(&open_hook.cv);
		while (!open_hook.released)
			pthread_cond_wait(&open_hook.cv, &open_hook.mu);
	}
	pthread_mutex_unlock(&open_hook.mu);
	return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

static void hook_arm(const char *name)
{
	pthread_mutex_lock(&open_hook.mu);
	snprintf(open_hook.name, sizeof(open_hook.name), "%s", name);
	open_hook.armed = true;
	open_hook.entered = false;
	open_hook.released = false;
	pthread_mutex_unlock(&open_hook.mu);
}

static bool hook_entered(void *ctx)
{
	bool entered;

	(void)ctx;
	pthread_mutex_lock(&open_hook.mu);
	entered = open_hook.entered;
	pthread_mutex_unlock(&open_hook.mu);
	return entered;
}

static bool hook_wait_entered(int timeout_ms)
{
	return test_wait_until(hook_entered, NULL, timeout_ms);
}

static void hook_release(void)
{
	pthread_mutex_lock(&open_hook.mu);
	open_hook.armed = false;
	open_hook.released = true;
	pthread_cond_broadcast(&open_hook.cv);
	pthread_mutex_unlock(&open_hook.mu);
}

struct told_want {
	struct task *t;
	int before;
};

static bool told_more(void *ctx)
{
	struct told_want *w = ctx;

	return told_count(w->t, NULL) > w->before;
}

/* rmdir NAME, then a new NAME.prompt, while a worker is saving the old
 * task: nothing of the old task may land in the new one.
 */
Test(engine, forgotten_task_never_writes_into_its_successor)
{
	char id[64], err[256], *record;
	struct task *old = queued_task("job", id, sizeof(id));
	struct task *fresh;

	hook_arm("job");
	fake_remote_job_set(env.fake, id, TASK_IN_PROGRESS, 30);
	engine_kick(env.e, old);
	cr_assert(hook_wait_entered(3000), "the worker never saved the task");
	int told_before = told_count(old, NULL);

	/* rmdir job; echo ... > new/job.prompt */
	task_unref(task_table_remove(env.table, "job"));
	engine_forget(env.e, old);
	cr_assert_eq(task_store_remove(env.store, "job"), 0);
	fresh = keep(task_new("job"));
	fresh->prompt = strdup("a different cow");
	fresh->model = strdup("veo-3.1");
	fresh->seconds = strdup("8");
	fresh->size = strdup("16x9");
	cr_assert_eq(task_store_create(env.store, fresh, NULL, 0, err, sizeof(err)), 0, "%s", err);

	hook_release();
	/* The tree hears of a change only after its record, task.json and
	 * events were written: once it has, the late write has happened. */
	cr_assert(test_wait_until(told_more, &(struct told_want){ old, told_before }, 3000),
		  "the worker never finished its change");
	record = read_state_file("job", "record.json", NULL);
	cr_assert_not_null(record);
	cr_assert_null(strstr(record, id), "the forgotten task's record overwrote the new "
		       "task's: %s", record);
	cr_assert_null(strstr(record, "in_progress"), "%s", record);
	free(record);
}

/* ---- never a create without the prompt the user accepted ---- */

/* A task whose prompt went missing once reached the provider with
 * prompt="": paid for, for nothing. */
Test(engine, a_task_without_a_prompt_is_never_sent)
{
	struct task *t = submit("job", "");

	wait_state(t, TASK_FAILED, -1, 3000);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CREATE), 0);
	char *st = status_of(t);
	cr_assert(strstr(st, "damaged task"), "%s", st);
	free(st);
}

/* A task attached by its id has no prompt: retry would POST prompt="". */
Test(engine, retry_of_an_attached_task_is_refused)
{
	char err[256] = "", id[64];
	struct task *t = queued_task("job", id, sizeof(id));

	cr_assert_eq(fake_remote_job_fail(env.fake, id, "boom", false), 0);
	engine_kick(env.e, t);
	wait_state(t, TASK_FAILED, -1, 5000);
	pthread_mutex_lock(&t->mu);
	task_set_str(&t->prompt, ""); /* as new/NAME.id leaves it */
	pthread_mutex_unlock(&t->mu);
	int creates = fake_remote_calls(env.fake, FAKE_CREATE);
	cr_assert_eq(task_control(env.e, t, "retry\n", 6, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "attached"), "%s", err);
	wait_engine_idle();
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_CREATE), creates);
	cr_assert_eq(t->state, TASK_FAILED);
	size_t len;
	char *events = read_state_file("job", "events", &len);
	cr_assert(strstr(events, "retry refused"), "%s", events);
	free(events);
}

/* ---- gateway dialects: what the provider really did is what shows ---- */

static int ctl(struct task *t, const char *cmd)
{
	char err[256] = "";

	return task_control(env.e, t, cmd, strlen(cmd), err, sizeof(err));
}

/* A cancel is "failed: cancelled" only once the provider confirms. */
Test(engine, cancel_shows_failed_only_once_the_provider_confirms)
{
	char id[64], *s;
	struct task *t = queued_task("job", id, sizeof(id));

	wait_engine_idle();
	fake_remote_hold(env.fake, FAKE_REMOVE, 1);
	cr_assert_eq(ctl(t, "cancel"), 0);
	cr_assert_eq(fake_remote_wait_held(env.fake, FAKE_REMOVE, 1, 3000), 1);
	s = status_of(t);
	cr_assert(!strncmp(s, "queued (cancelling", 18), "status while asking: %s", s);
	free(s);
	fake_remote_release(env.fake, FAKE_REMOVE);
	kick_until(t, TASK_FAILED, -1, 3000);
	s = status_of(t);
	cr_assert_str_eq(s, "failed: cancelled\n");
	free(s);
}

/* new-api has no DELETE route: the job goes on (and is billed), and the
 * status says so instead of claiming a cancel that did not happen. */
Test(engine, a_refused_cancel_leaves_the_task_going_and_says_so)
{
	char id[64], *s;
	struct task *t = queued_task("job", id, sizeof(id));

	wait_engine_idle();
	fake_remote_fail_http(env.fake, FAKE_REMOVE, 404, -1,
			      "{\"error\":{\"message\":\"Invalid URL (DELETE /v1/videos/x)\"}}");
	cr_assert_eq(ctl(t, "cancel"), 0);
	wait_status(t, "queued (cancel refused by the provider: ");
	settle(30000);
	s = status_of(t);
	cr_assert(strstr(s, "cancel refused by the provider"), "the refusal was lost: %s", s);
	free(s);
	cr_assert_neq(t->state, TASK_FAILED);
	/* It goes on to the end, the refusal forgotten once it moved. */
	fake_remote_job_set(env.fake, id, TASK_IN_PROGRESS, 40);
	kick_until(t, TASK_IN_PROGRESS, 40, 3000);
	s = status_of(t);
	cr_assert_str_eq(s, "in_progress 40%\n");
	free(s);
}

/* A task never sent is cancelled at once: nobody else need agree. */
Test(engine, cancel_of_a_task_never_sent_is_immediate)
{
	struct task *t;
	char *s;

	fake_remote_hold(env.fake, FAKE_CREATE, 1);
	t = submit("job", "a cow");
	cr_assert_eq(fake_remote_wait_held(env.fake, FAKE_CREATE, 1, 3000), 1);
	/* On the wire: that one waits for the provider's id. */
	cr_assert_eq(ctl(t, "cancel"), 0);
	s = status_of(t);
	cr_assert(strstr(s, "cancelling once the provider answers"), "%s", s);
	free(s);
	fake_remote_release(env.fake, FAKE_CREATE);
	kick_until(t, TASK_FAILED, -1, 3000);
	cr_assert_eq(fake_remote_wait_calls(env.fake, FAKE_REMOVE, 1, 3000), 1);
}

Test(engine, an_unknown_status_word_is_shown_as_it_came)
{
	char id[64], *s;
	struct task *t = queued_task("job", id, sizeof(id));

	fake_remote_job_status_text(env.fake, id, "WAITING");
	wait_status(t, "queued (provider says: WAITING)");
	s = status_of(t);
	cr_assert_str_eq(s, "queued (provider says: WAITING)\n");
	free(s);
}

Test(engine, progress_shown_never_goes_backwards)
{
	char id[64], *s;
	struct task *t = queued_task("job", id, sizeof(id));

	fake_remote_job_set(env.fake, id, TASK_IN_PROGRESS, 60);
	kick_until(t, TASK_IN_PROGRESS, 60, 3000);
	fake_remote_job_set(env.fake, id, TASK_IN_PROGRESS, 0);
	settle(30000);
	s = status_of(t);
	cr_assert_str_eq(s, "in_progress 60%\n");
	free(s);
	char *json = read_state_file("job", "task.json", NULL);
	cr_assert_not_null(json);
	cr_assert(strstr(json, "\"progress\": 0") || strstr(json, "\"progress\":0"),
		  "task.json must keep what the server said: %s", json);
	free(json);
}

/* new-api answers 400 "task_not_exist" for an id it does not know. */
Test(engine, an_id_the_provider_does_not_know_fails_after_a_few_polls)
{
	char id[64], *s;
	struct task *t = queued_task("job", id, sizeof(id));

	for (int i = 0; i < 3; i++)
		fake_remote_fail_http(env.fake, FAKE_GET, 400, -1,
				      "{\"code\":\"task_not_exist\",\"message\":\"task_not_exist\"}");
	kick_until(t, TASK_FAILED, -1, 8000);
	s = status_of(t);
	cr_assert(strstr(s, "does not know this task"), "status: %s", s);
	cr_assert(strstr(s, "task_not_exist"), "the provider's words are lost: %s", s);
	free(s);
}

Test(engine, a_failure_without_a_reason_says_what_the_answer_said)
{
	char id[64], *s;
	struct task *t = queued_task("job", id, sizeof(id));

	fake_remote_job_fail(env.fake, id, NULL, false);
	fake_remote_job_status_text(env.fake, id, "FAILURE");
	kick_until(t, TASK_FAILED, -1, 3000);
	s = status_of(t);
	cr_assert(strstr(s, "no reason") && strstr(s, "FAILURE"), "status: %s", s);
	free(s);
}

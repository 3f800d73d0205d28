/* Reads of video.mp4 while it downloads: what is there comes at once,
 * what is not yet waits (at most api.timeout), far-ahead reads are served
 * by a range fetch. They run on the real clock: a read blocks the test's
 * own thread, and its waits are what is being tested. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "engine_env.h"
#include "video_reader.h"

static void setup(void)
{
	engine_env_setup(false);
}

TestSuite(video_reader, .init = setup, .fini = engine_env_teardown, .timeout = 40);

struct releaser {
	int after_ms;
	enum fake_op op;
};

static void *release_later(void *arg)
{
	struct releaser *r = arg;

	test_sleep_ms(r->after_ms);
	fake_remote_release(env.fake, r->op);
	return NULL;
}

static int open_part(struct task *t)
{
	int fd = task_store_open_video(env.store, t, true, O_RDONLY);

	cr_assert_geq(fd, 0, "no part file: %s", strerror(-fd));
	return fd;
}

static void assert_bytes(const char *id, const char *buf, int64_t off, size_t len)
{
	char *want = malloc(len);

	fake_video_bytes(id, off, want, len);
	for (size_t i = 0; i < len; i++)
		if (buf[i] != want[i])
			cr_assert_fail("byte %lld differs", (long long)(off + (int64_t)i));
	free(want);
}

Test(video_reader, read_ahead_of_the_download_waits_for_the_bytes)
{
	char id[64], buf[4096];
	struct task *t = queued_task("job", id, sizeof(id));
	struct releaser rel = { 400, FAKE_CONTENT };
	pthread_t th;
	int64_t t0, took;
	ssize_t n;
	int fd;

	fake_remote_stall_content(env.fake, 65536);
	complete(t, id);
	cr_assert_eq(fake_remote_wait_held(env.fake, FAKE_CONTENT, 1, 3000), 1);
	fd = open_part(t);

	/* what is there already comes at once */
	t0 = now_ms();
	n = video_reader_read(env.e, t, fd, buf, sizeof(buf), 1000);
	cr_assert_eq(n, (ssize_t)sizeof(buf));
	cr_assert_lt(now_ms() - t0, 500);
	assert_bytes(id, buf, 1000, sizeof(buf));
	cr_assert(video_reader_ready(t, 1000, sizeof(buf)));
	cr_assert_not(video_reader_ready(t, 200000, sizeof(buf)));

	/* beyond it: waits for the download, then the right bytes */
	pthread_create(&th, NULL, release_later, &rel);
	t0 = now_ms();
	n = video_reader_read(env.e, t, fd, buf, sizeof(buf), 200000);
	took = now_ms() - t0;
	pthread_join(th, NULL);
	cr_assert_eq(n, (ssize_t)sizeof(buf), "read returned %zd", n);
	cr_assert_geq(took, 300, "returned after %lld ms, before the bytes came", (long long)took);
	assert_bytes(id, buf, 200000, sizeof(buf));

	/* the end of the video reads short, then 0 */
	wait_video(t, 5000);
	int64_t size = fake_remote_job_video_size(env.fake, id);
	n = video_reader_read(env.e, t, fd, buf, sizeof(buf), size - 100);
	cr_assert_eq(n, 100);
	assert_bytes(id, buf, size - 100, 100);
	cr_assert_eq(video_reader_read(env.e, t, fd, buf, sizeof(buf), size), 0);
	cr_assert_eq(video_reader_read(env.e, t, fd, buf, sizeof(buf), size + 5000), 0);
	close(fd);
}

Test(video_reader, read_gives_eio_when_the_download_never_comes)
{
	char id[64], buf[4096];
	struct task *t = queued_task("job", id, sizeof(id));
	int64_t t0, took;
	ssize_t n;
	int fd;

	fake_remote_hold(env.fake, FAKE_CONTENT, FAKE_ALL);
	complete(t, id);
	cr_assert_eq(fake_remote_wait_held(env.fake, FAKE_CONTENT, 1, 3000), 1);
	fd = open_part(t);
	t0 = now_ms();
	n = video_reader_read(env.e, t, fd, buf, sizeof(buf), 0);
	took = now_ms() - t0;
	cr_assert_eq(n, -EIO, "read returned %zd", n);
	cr_assert_geq(took, 1900, "gave up after %lld ms, before api.timeout", (long long)took);
	cr_assert_lt(took, 5000, "waited %lld ms, far beyond api.timeout", (long long)took);
	close(fd);
}

Test(video_reader, read_of_a_forgotten_task_does_not_hang)
{
	char id[64], buf[4096];
	struct task *t = queued_task("job", id, sizeof(id));
	int64_t t0;
	ssize_t n;
	int fd;

	fake_remote_hold(env.fake, FAKE_CONTENT, FAKE_ALL);
	complete(t, id);
	cr_assert_eq(fake_remote_wait_held(env.fake, FAKE_CONTENT, 1, 3000), 1);
	fd = open_part(t);
	struct task *gone = task_table_remove(env.table, "job");
	engine_forget(env.e, t);
	task_unref(gone);
	t0 = now_ms();
	n = video_reader_read(env.e, t, fd, buf, sizeof(buf), 0);
	cr_assert_eq(n, -EIO);
	cr_assert_lt(now_ms() - t0, 1000, "a read of a forgotten task waited");
	close(fd);
}

Test(video_reader, far_ahead_read_is_served_by_a_range_fetch)
{
	char id[64];
	struct task *t;
	struct fake_content_call calls[8];
	static char buf[65536];
	int64_t off = 6 << 20;
	int fd, n;

	fake_remote_set_video_size(env.fake, 8 << 20);
	t = queued_task("job", id, sizeof(id));
	fake_remote_hold(env.fake, FAKE_CONTENT, 1);
	complete(t, id);
	cr_assert_eq(fake_remote_wait_held(env.fake, FAKE_CONTENT, 1, 3000), 1);
	fd = open_part(t);
	int64_t t0 = now_ms();
	ssize_t got = video_reader_read(env.e, t, fd, buf, sizeof(buf), off);
	cr_assert_eq(got, (ssize_t)sizeof(buf), "read returned %zd", got);
	cr_assert_lt(now_ms() - t0, 1500, "the far read waited for the download");
	assert_bytes(id, buf, off, sizeof(buf));
	n = fake_remote_content_calls(env.fake, calls, 8);
	cr_assert_eq(n, 2);
	cr_assert_eq(calls[1].offset, off);
	cr_assert_eq(calls[1].length, (int64_t)sizeof(buf));
	cr_assert_gt(calls[1].timeout_ms, 0, "a range fetch for a reader must be bounded");
	fake_remote_release(env.fake, FAKE_CONTENT);
	wait_video(t, 10000);
	assert_video_matches("job", id);
	close(fd);
}

Test(video_reader, far_ahead_read_without_ranges_waits_for_the_download)
{
	char id[64];
	struct task *t;
	static char buf[65536];
	struct releaser rel = { 300, FAKE_CONTENT };
	pthread_t th;
	int64_t off = 6 << 20;
	int fd;

	fake_remote_set_video_size(env.fake, 8 << 20);
	fake_remote_set_ranges(env.fake, false);
	t = queued_task("job", id, sizeof(id));
	fake_remote_hold(env.fake, FAKE_CONTENT, 1);
	complete(t, id);
	cr_assert_eq(fake_remote_wait_held(env.fake, FAKE_CONTENT, 1, 3000), 1);
	fd = open_part(t);
	pthread_create(&th, NULL, release_later, &rel);
	ssize_t got = video_reader_read(env.e, t, fd, buf, sizeof(buf), off);
	pthread_join(th, NULL);
	cr_assert_eq(got, (ssize_t)sizeof(buf), "read returned %zd", got);
	assert_bytes(id, buf, off, sizeof(buf));
	pthread_mutex_lock(&t->mu);
	cr_assert_eq(t->range_support, 0, "the server's refusal of ranges was not noted");
	pthread_mutex_unlock(&t->mu);
	close(fd);
}

Test(video_reader, download_gives_up_on_a_video_that_is_gone)
{
	char id[64], *s;
	struct task *t = queued_task("job", id, sizeof(id));

	for (int i = 0; i < 5; i++)
		fake_remote_fail_http(env.fake, FAKE_CONTENT, 410, -1,
				      "{\"error\":{\"message\":\"video expired\"}}");
	complete(t, id);
	kick_until(t, TASK_FAILED, -1, 6000);
	s = status_of(t);
	cr_assert(strstr(s, "video download failed"), "status: %s", s);
	cr_assert(strstr(s, "video expired"), "status: %s", s);
	free(s);
	char buf[16];
	int fd = task_store_open_video(env.store, t, true, O_RDONLY);
	cr_assert_eq(video_reader_read(env.e, t, fd, buf, sizeof(buf), 0), -EIO);
	close(fd);
}


/* A server sending a byte now and then once held a read for as long as it
 * kept trickling: each byte renewed the read's budget. A read now fails
 * within api.timeout (2 s here) unless its own bytes came. */
Test(video_reader, a_trickling_download_does_not_hold_a_read)
{
	char id[64], buf[4096];
	struct task *t = queued_task("job", id, sizeof(id));
	struct timespec a, b;
	ssize_t n;
	int fd;

	fake_remote_set_chunk(env.fake, 1, 100);
	complete(t, id);
	wait_state(t, TASK_COMPLETED, -1, 10000);
	fd = open_part(t);
	clock_gettime(CLOCK_MONOTONIC, &a);
	n = video_reader_read(env.e, t, fd, buf, sizeof(buf), 64 * 1024);
	clock_gettime(CLOCK_MONOTONIC, &b);
	long took = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	cr_assert_eq(n, -EIO, "read returned %zd", n);
	cr_assert_lt(took, 4000, "waited %ld ms, far beyond api.timeout", took);
	engine_forget(env.e, t);
	close(fd);
}

#include "video_reader.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "log.h"
#include "scheduler.h"
#include "task.h"

/* A read this far past the downloaded bytes is a seek: fetch the range
 * directly instead of waiting for the sequential download to get there. */
#define SEEK_AHEAD_BYTES (4LL << 20)
/* One direct range request may take this long before we look again at
 * the budget and at whether veofs is stopping. */
#define RANGE_ATTEMPT_MS 2000

/* t->mu held. The last bytes are served only once the whole video has
 * been checked: a body cut short (or a Content-Length that lied) must
 * never read as a complete video.mp4. */
static bool have_bytes(const struct task *t, int64_t end)
{
	if (t->video_done)
		return true;
	/* A download starting over: the size shown is not known to be the
	 * video's, so its last bytes wait for the real size. */
	if (t->video_size < 0 && t->video_shown_size >= 0 && end >= t->video_shown_size)
		return false;
	return end <= t->video_have && (t->video_size < 0 || end < t->video_size);
}

int video_reader_ready(struct task *t, int64_t off, size_t len)
{
	int ready;

	pthread_mutex_lock(&t->mu);
	int64_t end = off + (int64_t)len;
	if (t->video_size >= 0 && end > t->video_size)
		end = t->video_size;
	ready = have_bytes(t, end);
	pthread_mutex_unlock(&t->mu);
	return ready;
}

static ssize_t pread_all(int fd, char *buf, size_t len, int64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, off + (int64_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

struct range_buf {
	char *buf;
	size_t want, got;
	int honoured;
};

static int range_start(void *ctx, int64_t total, bool honoured)
{
	struct range_buf *r = ctx;

	r->honoured = honoured;
	/* A server that ignores Range would send the whole video: stop. */
	return honoured ? 0 : -1;
}

static int range_data(void *ctx, const void *buf, size_t len)
{
	struct range_buf *r = ctx;
	size_t n = len > r->want - r->got ? r->want - r->got : len;

	memcpy(r->buf + r->got, buf, n);
	r->got += n;
	return 0;
}

/* 1: served from the provider; 0: can't, wait instead; -errno: failed. */
static ssize_t fetch_range(struct engine *e, struct task *t, char *buf,
			   size_t len, int64_t off, int64_t timeout_ms)
{
	struct remote_result res = {0};
	struct range_buf r = {.buf = buf, .want = len, .honoured = -1};
	struct remote_sink sink = {.ctx = &r, .on_start = range_start, .on_data = range_data};
	bool known;
	int rc;

	pthread_mutex_lock(&t->mu);
	known = t->id != NULL;
	pthread_mutex_unlock(&t->mu);
	if (!known)
		return 0;
	rc = engine_fetch_video(e, t, off, (int64_t)len, (long)timeout_ms, &sink, &res);
	remote_result_clear(&res);
	pthread_mutex_lock(&t->mu);
	if (r.honoured == 0)
		t->range_support = 0;
	else if (r.honoured == 1)
		t->range_support = 1;
	pthread_mutex_unlock(&t->mu);
	if (rc == 0 && r.got == len)
		return (ssize_t)len;
	return 0;
}

static int64_t real_ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (int64_t)(t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

ssize_t video_reader_read(struct engine *e, struct task *t, int fd, char *buf,
			  size_t size, int64_t off)
{
	size_t len = size;
	struct timespec deadline, started;
	int64_t end;
	bool timed_out = false;

	/* Whatever the budget below says, no call waits longer than
	 * api.timeout by the real clock. */
	clock_gettime(CLOCK_MONOTONIC, &started);

	pthread_mutex_lock(&t->mu);
	if (t->video_size >= 0 && off >= t->video_size) {
		pthread_mutex_unlock(&t->mu);
		return 0;
	}
	end = off + (int64_t)len;
	if (t->video_size >= 0 && end > t->video_size)
		end = t->video_size;
	len = (size_t)(end - off);
	if (have_bytes(t, end)) {
		pthread_mutex_unlock(&t->mu);
		return pread_all(fd, buf, len, off);
	}
	bool seek = off >= t->video_have + SEEK_AHEAD_BYTES && t->range_support != 0;
	int64_t now = now_ms(), limit = (int64_t)e->o.timeout_s * 1000;
	/* One budget of api.timeout for all the reads a user's read becomes;
	 * a stall older than twice that is a new attempt by the user. */
	if (!t->stall_since_ms || now - t->stall_since_ms > 2 * limit)
		t->stall_since_ms = now;
	int64_t budget = t->stall_since_ms + limit - now;
	pthread_mutex_unlock(&t->mu);

	/* Fetch a far-ahead range directly, in short attempts so that the way
	 * out (unmount) never waits long for a stalled provider. */
	while (seek && budget > 0 && !atomic_load(&e->stopping)) {
		int64_t slice = budget < RANGE_ATTEMPT_MS ? budget : RANGE_ATTEMPT_MS;
		ssize_t n = fetch_range(e, t, buf, len, off, slice);
		if (n > 0) {
			pthread_mutex_lock(&t->mu);
			t->stall_since_ms = 0;
			pthread_mutex_unlock(&t->mu);
			return n;
		}
		pthread_mutex_lock(&t->mu);
		seek = t->range_support != 0;
		budget = t->stall_since_ms + limit - now_ms();
		pthread_mutex_unlock(&t->mu);
	}

	/* Make sure a download is running (it may be backing off). */
	engine_kick(e, t);
	pthread_mutex_lock(&t->mu);
	while (!have_bytes(t, end) && !t->deleted &&
	       (t->state == TASK_COMPLETED || t->api_completed) && t->state != TASK_FAILED &&
	       !atomic_load(&e->stopping)) {
		/* Bytes arrived meanwhile (the downloader cleared the mark):
		 * the download is alive, so the budget starts again. */
		if (!t->stall_since_ms)
			t->stall_since_ms = now_ms();
		int64_t left = t->stall_since_ms + limit - now_ms();
		int64_t real_left = limit - real_ms_since(&started);
		if (real_left < left)
			left = real_left;
		if (left <= 0) {
			timed_out = true;
			break;
		}
		/* Short slices: the way out (unmount) must not wait for us. */
		if (left > 200)
			left = 200;
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += left / 1000;
		deadline.tv_nsec += (left % 1000) * 1000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&t->video_cv, &t->mu, &deadline);
	}
	bool ready = have_bytes(t, end);
	/* This read is served: the next one has a budget of its own. */
	if (ready)
		t->stall_since_ms = 0;
	/* The size may have been corrected meanwhile: clip to the real one. */
	if (ready && t->video_size >= 0) {
		int64_t want = off + (int64_t)size;
		end = want < t->video_size ? want : t->video_size;
		len = end > off ? (size_t)(end - off) : 0;
	}
	pthread_mutex_unlock(&t->mu);
	if (!ready) {
		log_warn("task %s: read of video.mp4 at byte %lld %s", t->name,
			 (long long)off, timed_out ? "timed out waiting for the download"
						   : "failed: the download stopped");
		return -EIO;
	}
	return pread_all(fd, buf, len, off);
}

/* Fetching a finished video into the state dir as soon as the provider
 * has it: providers delete videos within hours, and a user who paid for
 * one must never lose it. Interrupted downloads resume where they were. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "fsutil.h"
#include "log.h"
#include "mp4_check.h"
#include "scheduler.h"
#include "task_store.h"
#include "xalloc.h"

/* How much may arrive between fsyncs; a crash re-fetches at most this. */
#define CHECKPOINT_BYTES (32LL << 20)
/* Failures that can't be retried (e.g. the provider says the video is
 * gone) before the task is marked failed. */
#define PERMANENT_FAILURE_LIMIT 5
/* A thumbnail is a small picture; anything bigger is not one. */
/* A thumbnail is a small WebP. A gateway that ignores ?variant=thumbnail
 * (new-api's video proxy, LiteLLM) answers with the whole video: the
 * probe stops at its first bytes, or at this bound, never fetching it. */
#define THUMBNAIL_MAX (1 << 20)

struct download {
	struct engine *e;
	struct task *t;
	int fd;
	int64_t offset;        /* next byte to write */
	int64_t last_sync;
	bool size_learned;
	bool restart;          /* the server's size changed: start over */
	/* Fetching a finished video again: the one shown is left alone
	 * until the new one is whole and checked. */
	bool refetch;
	int64_t total;         /* what on_start said, -1 unknown */
	/* The first bytes decide what the body is (a body is judged by its
	 * bytes): judged is set once they did; a resume was judged when
	 * its first bytes came. */
	bool judged;
	bool webm;
	unsigned char head[VIDEO_KIND_SNIFF];
	size_t head_len;
	bool not_video;        /* the bytes are no video container */
	bool too_big;          /* past api.max_video_bytes */
	char err[REMOTE_REASON_MAX];
};

/* video.mp4 can be shown: the task reads "completed" from now on. t->mu
 * held (in a change); adds the events line to it. */
static void show_completed(struct task *t, struct task_change *c)
{
	if (t->state == TASK_COMPLETED)
		return;
	t->state = TASK_COMPLETED;
	t->progress = 100;
	task_set_str(&t->note, NULL);
	c->event_text[c->events++] = NULL;
	c->files |= (1u << TF_STATUS) | (1u << TF_PROGRESS) | (1u << TF_DIR);
	c->log = "completed";
}

/* The size is known and the first bytes are a video: video.mp4 (or
 * video.webm) shows from now on, with its real size. t->mu held. */
static void show_video(struct download *d, struct task_change *c)
{
	struct task *t = d->t;

	if (d->refetch || d->total < 0 || t->video_size >= 0)
		return;
	t->video_size = d->total;
	t->video_shown_size = d->total;
	d->size_learned = true;
	show_completed(t, c);
	c->save = true;
	c->files |= (1u << TF_DIR) | (1u << TF_VIDEO);
}

static void too_big(struct download *d, int64_t total)
{
	long long max = (long long)d->e->o.max_video_bytes;

	d->too_big = true;
	if (total >= 0)
		snprintf(d->err, sizeof(d->err), "the video is %lld bytes, more than "
			 "api.max_video_bytes (%lld)", (long long)total, max);
	else
		snprintf(d->err, sizeof(d->err), "the provider sent more than "
			 "api.max_video_bytes (%lld bytes)", max);
}

/* A change that only rewrites the record. */
static void save_record(struct engine *e, struct task *t)
{
	struct task_change c;

	engine_change_begin(&c, t);
	c.save = true;
	engine_commit(e, &c);
}

static int on_start(void *ctx, int64_t total, bool range_honoured)
{
	struct download *d = ctx;
	struct task *t = d->t;
	struct task_change c;
	int rc = 0;

	engine_change_begin(&c, t);
	d->total = total;
	if (t->deleted) {
		rc = -1;
	} else if (total > d->e->o.max_video_bytes) {
		too_big(d, total);
		rc = -1;
	} else if (d->refetch) {
		/* Nothing of the video shown changes yet. */
	} else if (total >= 0 && t->video_size >= 0 && total != t->video_size) {
		/* Not the video we were resuming: never splice two. */
		d->restart = true;
		rc = -1;
	} else if (d->judged) {
		show_video(d, &c);
	}
	if (!d->refetch && d->offset > 0 && range_honoured) {
		t->ranges_ok = true;
		t->range_support = 1;
	}
	engine_commit(d->e, &c);
	return rc;
}

/* The first bytes are in (or all there is): is it a video, and which?
 * 0, or -1 when it is none. */
static int judge_head(struct download *d)
{
	struct task *t = d->t;
	struct task_change c;
	enum video_kind kind = video_kind_of(d->head, d->head_len);

	if (kind == VIDEO_KIND_NONE) {
		char hex[3 * VIDEO_KIND_SNIFF + 1] = "";
		for (size_t i = 0; i < d->head_len; i++)
			snprintf(hex + 3 * i, sizeof(hex) - 3 * i, "%s%02x", i ? " " : "",
				 d->head[i]);
		snprintf(d->err, sizeof(d->err),
			 "the provider sent bytes that are no video (they start %s)", hex);
		d->not_video = true;
		return -1;
	}
	d->judged = true;
	d->webm = kind == VIDEO_KIND_WEBM;
	if (d->refetch)
		return 0;
	engine_change_begin(&c, t);
	if (t->video_webm != d->webm) {
		t->video_webm = d->webm;
		c.save = true;
	}
	show_video(d, &c);
	engine_commit(d->e, &c);
	return 0;
}

static int on_data(void *ctx, const void *buf, size_t len)
{
	struct download *d = ctx;
	struct task *t = d->t;
	int rc;
	bool checkpoint = false;

	if (d->offset + (int64_t)len > d->e->o.max_video_bytes) {
		too_big(d, -1);
		return -1;
	}
	if (!d->judged) {
		size_t n = len < sizeof(d->head) - d->head_len ? len : sizeof(d->head) - d->head_len;
		memcpy(d->head + d->head_len, buf, n);
		d->head_len += n;
		if (d->head_len == sizeof(d->head) && judge_head(d) < 0)
			return -1;
	}
	rc = fs_pwrite_all(d->fd, buf, len, d->offset);
	if (rc < 0) {
		snprintf(d->err, sizeof(d->err), "cannot write the video: %s", strerror(-rc));
		return -1;
	}
	d->offset += (int64_t)len;
	if (d->refetch) {
		pthread_mutex_lock(&t->mu);
		rc = t->deleted || atomic_load(&d->e->stopping) ? -1 : 0;
		pthread_mutex_unlock(&t->mu);
		return rc;
	}
	if (d->offset - d->last_sync >= CHECKPOINT_BYTES && fdatasync(d->fd) == 0) {
		d->last_sync = d->offset;
		checkpoint = true;
	}
	pthread_mutex_lock(&t->mu);
	/* Readers' budgets are theirs: a trickle of bytes does not renew
	 * them (video_reader.c), so a server sending a byte now and then
	 * cannot hold a read past api.timeout. */
	t->video_have = d->offset;
	if (checkpoint)
		t->video_synced = d->offset;
	pthread_cond_broadcast(&t->video_cv);
	rc = t->deleted || atomic_load(&d->e->stopping) ? -1 : 0;
	pthread_mutex_unlock(&t->mu);
	if (checkpoint)
		save_record(d->e, t);
	return rc;
}

static struct work_next finish(struct engine *e, struct task *t, int fd, bool webm)
{
	struct task_change c;
	char extra[96];
	int rc = task_store_finish_video(e->store, t, fd, webm);

	if (rc < 0) {
		log_error("task %s: cannot keep the video: %s", t->name, strerror(-rc));
		engine_change_begin(&c, t);
		task_set_str(&t->note, "cannot save the video in the state dir; retrying");
		c.files = 1u << TF_STATUS;
		engine_commit(e, &c);
		return work_after(engine_backoff_ms(e, 4, -1));
	}
	engine_change_begin(&c, t);
	show_completed(t, &c);
	t->video_done = true;
	t->video_synced = t->video_have;
	t->download_failures = 0;
	t->video_errors_since_ms = 0;
	task_set_str(&t->note, NULL);
	snprintf(extra, sizeof(extra), "%s saved (%lld bytes)", task_file_name(t, TF_VIDEO),
		 (long long)t->video_have);
	c.event_text[c.events++] = extra;
	c.save = true;
	c.files |= (1u << TF_STATUS) | (1u << TF_VIDEO) | (1u << TF_DIR);
	c.log = extra;
	pthread_cond_broadcast(&t->video_cv);
	engine_commit(e, &c);
	downloader_fetch_thumbnail(e, t);
	return WORK_IDLE;
}

struct thumb_buf {
	char *data;
	size_t len;
};

static int thumb_start(void *ctx, int64_t total, bool honoured)
{
	return total > THUMBNAIL_MAX ? -1 : 0;
}

static int thumb_data(void *ctx, const void *buf, size_t len)
{
	struct thumb_buf *b = ctx;
	char *p;

	if (b->len + len > THUMBNAIL_MAX)
		return -1;
	/* Not "RIFF....WEBP": not a thumbnail, whatever its label says. */
	if (b->len < 12 && b->len + len >= 12) {
		unsigned char head[12];
		if (b->len)
			memcpy(head, b->data, b->len);
		memcpy(head + b->len, buf, 12 - b->len);
		if (memcmp(head, "RIFF", 4) || memcmp(head + 8, "WEBP", 4))
			return -1;
	}
	p = realloc(b->data, b->len + len);
	if (!p)
		return -1;
	memcpy(p + b->len, buf, len);
	b->data = p;
	b->len += len;
	return 0;
}

void downloader_fetch_thumbnail(struct engine *e, struct task *t)
{
	struct remote_result res = {0};
	struct thumb_buf b = {0};
	struct remote_sink sink = {.ctx = &b, .on_start = thumb_start, .on_data = thumb_data};
	char *id;

	pthread_mutex_lock(&t->mu);
	if (t->deleted || !t->id || t->thumb_size >= 0 || t->thumb_tried) {
		pthread_mutex_unlock(&t->mu);
		return;
	}
	t->thumb_tried = true;
	id = xstrdup(t->id);
	pthread_mutex_unlock(&t->mu);
	/* Providers without thumbnails answer 404: then there is none. */
	if (e->remote->ops->content(e->remote, id, "thumbnail", 0, -1,
				    (long)e->o.timeout_s * 1000, &sink, &res) == 0 &&
	    b.len > 12 && !memcmp(b.data, "RIFF", 4) && !memcmp(b.data + 8, "WEBP", 4) &&
	    task_store_save_file(e->store, t, "thumbnail.webp", b.data, b.len) == 0) {
		struct task_change c;
		char log[64];
		snprintf(log, sizeof(log), "thumbnail.webp saved (%zu bytes)", b.len);
		engine_change_begin(&c, t);
		t->thumb_size = (int64_t)b.len;
		c.files = (1u << TF_DIR) | (1u << TF_THUMBNAIL);
		c.log_level = LOG_LVL_DEBUG;
		c.log = log;
		engine_commit(e, &c);
	} else {
		log_debug("task %s: no thumbnail (%s)", t->name, res.reason[0] ? res.reason : "not WebP");
	}
	remote_result_clear(&res);
	free(b.data);
	free(id);
}

/* The video fetched again is whole: it replaces the one shown. */
static struct work_next finish_refetch(struct engine *e, struct task *t, struct download *d)
{
	struct task_change c;
	char extra[128];
	int rc = task_store_finish_video(e->store, t, d->fd, d->webm);

	if (rc < 0) {
		log_error("task %s: cannot keep the video fetched again: %s", t->name,
			  strerror(-rc));
		return work_after(engine_backoff_ms(e, 4, -1));
	}
	engine_change_begin(&c, t);
	t->video_webm = d->webm;
	t->video_size = d->offset;
	t->video_shown_size = d->offset;
	t->video_have = d->offset;
	t->video_synced = d->offset;
	t->refetch = false;
	t->download_failures = 0;
	t->video_errors_since_ms = 0;
	task_set_str(&t->note, NULL);
	snprintf(extra, sizeof(extra), "%s fetched again (%lld bytes)",
		 task_file_name(t, TF_VIDEO), (long long)d->offset);
	c.event_text[c.events++] = extra;
	c.save = true;
	c.files |= (1u << TF_STATUS) | (1u << TF_VIDEO) | (1u << TF_DIR);
	c.log = extra;
	pthread_cond_broadcast(&t->video_cv);
	engine_commit(e, &c);
	return WORK_IDLE;
}

struct work_next downloader_run(struct engine *e, struct task *t)
{
	struct remote_result res = {0};
	struct remote_sink sink;
	struct download d = {.e = e, .t = t, .fd = -1, .total = -1};
	struct work_next next = WORK_IDLE;
	struct task_change c;
	char note[REMOTE_REASON_MAX + 96];
	char *id;
	int rc;

	pthread_mutex_lock(&t->mu);
	if (t->deleted || !t->id || t->state == TASK_FAILED ||
	    (!t->api_completed && t->state != TASK_COMPLETED)) {
		pthread_mutex_unlock(&t->mu);
		return WORK_IDLE;
	}
	if (t->video_done && !t->refetch) {
		pthread_mutex_unlock(&t->mu);
		downloader_fetch_thumbnail(e, t);
		return WORK_IDLE;
	}
	id = xstrdup(t->id);
	d.refetch = t->video_done;
	d.offset = d.refetch ? 0 : t->video_have;
	/* A resume goes on from bytes whose start was judged already. */
	d.judged = d.offset > 0;
	d.webm = t->video_webm;
	pthread_mutex_unlock(&t->mu);

	d.fd = task_store_open_video(e->store, t, true, O_RDWR | O_CREAT);
	if (d.fd < 0) {
		snprintf(note, sizeof(note), "cannot create the video file: %s", strerror(-d.fd));
		goto failed;
	}
	/* Bytes past what we trust (an unsynced tail after a crash) go. */
	if (ftruncate(d.fd, d.offset) < 0) {
		snprintf(note, sizeof(note), "cannot prepare the video file: %s", strerror(errno));
		goto failed;
	}
	d.last_sync = d.offset;
	sink.ctx = &d;
	sink.on_start = on_start;
	sink.on_data = on_data;
	log_debug("task %s: downloading the video from byte %lld%s", t->name,
		  (long long)d.offset, d.refetch ? " (again)" : "");
	rc = engine_fetch_video(e, t, d.offset, -1, 0, &sink, &res);
	/* A body shorter than the sniff: judged on what there is. */
	if (rc == 0 && !d.judged && judge_head(&d) < 0)
		rc = -1;
	if (rc == 0 && d.refetch) {
		char why[160];
		if (d.total >= 0 && d.offset != d.total) {
			snprintf(note, sizeof(note), "the video ended early");
			res.retryable = true;
			goto failed;
		}
		if (!d.webm && mp4_check_fd(d.fd, d.offset, why, sizeof(why)) != MP4_WHOLE) {
			snprintf(note, sizeof(note), "%s", why);
			res.retryable = true;
			goto failed;
		}
		next = finish_refetch(e, t, &d);
		goto out;
	}
	if (rc == 0) {
		bool ok;
		pthread_mutex_lock(&t->mu);
		if (t->video_size < 0) {
			t->video_size = d.offset;
			t->video_shown_size = d.offset;
			d.size_learned = true;
		}
		ok = t->video_have == t->video_size;
		int64_t size = t->video_size;
		pthread_mutex_unlock(&t->mu);
		if (!ok) {
			snprintf(note, sizeof(note), "the video ended early");
			res.retryable = true;
			goto failed;
		}
		char why[160];
		enum mp4_verdict v = d.webm ? MP4_WHOLE : mp4_check_fd(d.fd, size, why, sizeof(why));
		if (v == MP4_TRUNCATED || v == MP4_GARBLED || v == MP4_NOT_MP4) {
			/* Content-Length lied: what we have is not the video, and
			 * resuming would splice. Start over. */
			snprintf(note, sizeof(note), "%s", v == MP4_NOT_MP4 ?
				 "the video is not a whole MP4 file" : why);
			engine_change_begin(&c, t);
			t->video_size = -1;
			t->video_have = 0;
			t->video_synced = 0;
			c.save = true;
			engine_commit(e, &c);
			res.retryable = true;
			goto failed;
		}
		next = finish(e, t, d.fd, d.webm);
		goto out;
	}
	if (d.restart) {
		engine_change_begin(&c, t);
		t->video_size = -1;
		t->video_have = 0;
		t->video_synced = 0;
		c.save = true;
		c.log_level = LOG_LVL_WARN;
		c.log = "the provider's video changed size; downloading it again";
		engine_commit(e, &c);
		next = work_after(0);
		goto out;
	}
	snprintf(note, sizeof(note), "%s", d.err[0] ? d.err : res.reason);
	if (d.not_video || d.too_big) {
		/* An answer, but not a video we can keep: asking again may
		 * help a few times, not forever. */
		res.retryable = false;
		if (res.http_status <= 0)
			res.http_status = 200;
	} else if (d.err[0]) {
		res.retryable = true;
	}
failed:
	engine_change_begin(&c, t);
	if (t->deleted || atomic_load(&e->stopping)) {
		pthread_mutex_unlock(&t->mu);
		goto out;
	}
	int attempt = ++t->download_failures;
	bool give_up = d.too_big || (!res.retryable && res.http_status > 0 &&
				     attempt >= PERMANENT_FAILURE_LIMIT);
	/* A task the provider called completed whose video keeps failing
	 * with server errors is a failure said the wrong way (LiteLLM reports
	 * failed Veo jobs as completed, then 500 with the reason): after
	 * api.video_deadline it fails with the provider's words. */
	bool server_said_no = false;
	if (!d.refetch && res.http_status >= 500) {
		int64_t now = now_ms(), limit = (int64_t)(e->o.video_deadline_s > 0 ?
							   e->o.video_deadline_s : 600) * 1000;
		if (!t->video_errors_since_ms)
			t->video_errors_since_ms = now;
		if (now - t->video_errors_since_ms >= limit)
			give_up = server_said_no = true;
	}
	int64_t delay = engine_backoff_ms(e, attempt, res.retry_after_ms);
	char reason[sizeof(note) + 96], full[sizeof(note) + 64], log[sizeof(note) + 64];
	if (d.refetch) {
		/* The video shown stays: a failed second fetch loses nothing. */
		if (give_up) {
			snprintf(log, sizeof(log), "could not fetch the video again: %s; "
				 "keeping the one there is", note);
			t->refetch = false;
			task_set_str(&t->note, NULL);
			c.events = 1;
			c.event_text[0] = log;
		} else {
			snprintf(log, sizeof(log), "fetching the video again: %s; retrying in %llds",
				 note, (long long)((delay + 999) / 1000));
			task_set_str(&t->note, log);
			next = work_after(delay);
		}
		c.files = 1u << TF_STATUS;
		c.log_level = LOG_LVL_WARN;
		c.log = log;
		engine_commit(e, &c);
		goto out;
	}
	snprintf(log, sizeof(log), "video download failed: %s%s", note,
		 give_up ? "; giving up" : "");
	if (give_up) {
		if (server_said_no)
			snprintf(reason, sizeof(reason), "the provider said completed, but its "
				 "video cannot be fetched: %s", note);
		else
			snprintf(reason, sizeof(reason), "video download failed: %s", note);
		t->state = TASK_FAILED;
		task_set_str(&t->reason, reason);
		task_set_str(&t->note, NULL);
		c.save = true;
		c.events = 1;
		c.event_text[0] = reason;
		c.files = (1u << TF_STATUS) | (1u << TF_ERROR) | (1u << TF_DIR);
	} else {
		snprintf(full, sizeof(full), "video download: %s; retrying in %llds", note,
			 (long long)((delay + 999) / 1000));
		task_set_str(&t->note, full);
		c.files = 1u << TF_STATUS;
		next = work_after(delay);
	}
	c.log_level = LOG_LVL_WARN;
	c.log = log;
	pthread_cond_broadcast(&t->video_cv);
	engine_commit(e, &c);
out:
	if (d.fd >= 0)
		close(d.fd);
	remote_result_clear(&res);
	free(id);
	return next;
}

#include "task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "xalloc.h"

struct task_old_name {
	struct task_old_name *next;
	char name[];
};

/* A name string that lives as long as the task. */
static const char *keep_name(struct task *t, const char *name)
{
	size_t len = strlen(name) + 1;
	struct task_old_name *n = xmalloc(sizeof(*n) + len);

	memcpy(n->name, name, len);
	n->next = t->old_names;
	t->old_names = n;
	return n->name;
}

void task_api_reset(struct task *t)
{
	free(t->id);
	free(t->status_word_logged);
	free(t->video_link);
	t->api = (struct task_api){ .submit = SUBMIT_NONE };
}

void task_video_reset(struct task *t)
{
	t->video = (struct task_video){
		.video_size = -1,
		.video_shown_size = -1,
		.range_support = -1,
		.thumb_size = -1,
	};
}

void task_tries_reset(struct task *t)
{
	t->tries = (struct task_tries){ 0 };
}

struct task *task_new(const char *name)
{
	struct task *t = xcalloc(1, sizeof(*t));

	atomic_init(&t->name, keep_name(t, name));
	atomic_init(&t->refs, 1);
	pthread_mutex_init(&t->mu, NULL);
	pthread_mutex_init(&t->save_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->video_cv, &ca);
	pthread_cond_init(&t->events_cv, &ca);
	pthread_condattr_destroy(&ca);
	task_video_reset(t);
	for (int i = 0; i < 2; i++) {
		t->sched[i].heap_index = -1;
		t->sched[i].rerun_ms = -1;
	}
	return t;
}

void task_rename(struct task *t, const char *name)
{
	const char *s;

	pthread_mutex_lock(&t->mu);
	s = keep_name(t, name);
	atomic_store_explicit(&t->name, s, memory_order_release);
	pthread_mutex_unlock(&t->mu);
}

struct task *task_ref(struct task *t)
{
	atomic_fetch_add(&t->refs, 1);
	return t;
}

void task_unref(struct task *t)
{
	if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	pthread_mutex_destroy(&t->mu);
	pthread_mutex_destroy(&t->save_mu);
	pthread_cond_destroy(&t->video_cv);
	pthread_cond_destroy(&t->events_cv);
	while (t->old_names) {
		struct task_old_name *n = t->old_names;
		t->old_names = n->next;
		free(n);
	}
	free(t->prompt);
	free(t->model);
	free(t->seconds);
	free(t->size);
	free(t->image_url);
	free(t->image_file);
	free(t->resolution);
	free(t->negative_prompt);
	free(t->id);
	free(t->reason);
	free(t->note);
	free(t->status_word_logged);
	free(t->video_link);
	free(t->events);
	free(t);
}

void task_set_str(char **field, const char *value)
{
	char *copy = xstrdup_or_null(value);

	free(*field);
	*field = copy;
}

const char *task_event_append(struct task *t, const char *extra)
{
	static _Thread_local char line[640];
	struct timespec ts;
	struct tm tm;
	char when[40];
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	/* One line per change, whatever the extra text holds. */
	n = snprintf(line, sizeof(line), "%s.%03ldZ %s %d%s%.*s\n", when,
		     ts.tv_nsec / 1000000, task_state_name(t->state), t->progress,
		     extra ? " " : "", extra ? (int)strcspn(extra, "\n") : 0,
		     extra ? extra : "");
	if (n >= (int)sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (t->events_len + (size_t)n + 1 > t->events_cap) {
		size_t cap = t->events_cap ? t->events_cap * 2 : 256;
		while (cap < t->events_len + (size_t)n + 1)
			cap *= 2;
		char *p = realloc(t->events, cap);
		if (!p)
			return line; /* memory shows less; the file on disk has it */
		t->events = p;
		t->events_cap = cap;
	}
	memcpy(t->events + t->events_len, line, (size_t)n);
	t->events_len += (size_t)n;
	t->events[t->events_len] = '\0';
	t->changed = ts.tv_sec;
	return line;
}

/* Seconds without a byte before a running download shows as stalled. */
#define STALL_SHOWN_S 5

bool task_progress_unknown(const struct task *t)
{
	return !t->progress_seen && !t->api_completed &&
	       (t->state == TASK_QUEUED || t->state == TASK_IN_PROGRESS);
}

/* "45s", "1m20s", "2h05m": how long the provider has had the task. */
static void running_time(const struct task *t, char *buf, size_t len)
{
	long long since = t->accepted_at ? t->accepted_at : t->created;
	long long s = since ? (long long)time(NULL) - since : 0;

	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s / 60 % 60);
}

char *task_status_line(const struct task *t)
{
	char *s = NULL;
	const char *note = t->note;
	int n;

	switch (t->state) {
	case TASK_IN_PROGRESS:
		if (task_progress_unknown(t)) {
			/* No figure to show (Gemini's operations): how long it
			 * has run says more than an invented 0%. */
			char ran[32];
			running_time(t, ran, sizeof(ran));
			n = asprintf(&s, "in_progress (running %s%s%s)\n", ran,
				     note ? "; " : "", note ? note : "");
			break;
		}
		/* A figure read out of free text is said to be one. */
		n = asprintf(&s, "in_progress %d%%%s%s%s%s%s\n", t->progress,
			     note || t->progress_estimated ? " (" : "",
			     t->progress_estimated ? "estimated" : "",
			     note && t->progress_estimated ? "; " : "",
			     note ? note : "", note || t->progress_estimated ? ")" : "");
		break;
	case TASK_FAILED: {
		/* The first line only: the error file has the rest. */
		const char *r = t->reason ? t->reason : "unknown reason";
		n = asprintf(&s, "failed: %.*s\n", (int)strcspn(r, "\n"), r);
		break;
	}
	case TASK_PENDING:
		if (t->reason || note)
			n = asprintf(&s, "pending: %s\n", note ? note : t->reason);
		else
			n = asprintf(&s, "pending\n");
		break;
	default: {
		/* A download whose bytes stopped coming: "completed" alone would
		 * hide why reads beyond them fail with EIO. */
		char stalled[64];
		int64_t quiet = t->downloading && !t->video_done && t->last_data_ms ?
				(now_ms() - t->last_data_ms) / 1000 : 0;
		if (!note && t->state == TASK_COMPLETED && quiet >= STALL_SHOWN_S) {
			snprintf(stalled, sizeof(stalled), "video download stalled %llds; retrying",
				 (long long)quiet);
			note = stalled;
		}
		n = asprintf(&s, "%s%s%s%s\n", task_state_name(t->state),
			     note ? " (" : "", note ? note : "", note ? ")" : "");
		break;
	}
	}
	return n < 0 ? NULL : s;
}

static const char *const file_names[TF_COUNT] = {
	[TF_DIR] = ".",
	[TF_PROMPT] = "prompt",
	[TF_STATUS] = "status",
	[TF_PROGRESS] = "progress",
	[TF_ID] = "id",
	[TF_EVENTS] = "events",
	[TF_TASK_JSON] = "task.json",
	[TF_ERROR] = "error",
	[TF_VIDEO] = "video.mp4",
	[TF_IMAGE] = "image",
	[TF_CTL] = "ctl",
	[TF_THUMBNAIL] = "thumbnail.webp",
};

const char *task_file_name(const struct task *t, enum task_file f)
{
	if (f == TF_IMAGE)
		return t->image_file ? t->image_file : "image";
	if (f == TF_VIDEO)
		return t->video_webm ? "video.webm" : "video.mp4";
	return f < TF_COUNT ? file_names[f] : NULL;
}

bool task_file_visible(const struct task *t, enum task_file f)
{
	if (f <= TF_DIR || f >= TF_COUNT)
		return false;
	switch (f) {
	case TF_ID:
		return t->id != NULL;
	case TF_TASK_JSON:
		return t->has_task_json;
	case TF_ERROR:
		return t->state == TASK_FAILED;
	case TF_VIDEO:
		return t->video_size >= 0 || t->video_shown_size >= 0;
	case TF_IMAGE:
		return t->image_file != NULL;
	case TF_THUMBNAIL:
		return t->thumb_size >= 0;
	default:
		return true;
	}
}

enum task_file task_file_lookup(const struct task *t, const char *name)
{
	for (int f = TF_PROMPT; f < TF_COUNT; f++)
		if (!strcmp(name, task_file_name(t, f)) && task_file_visible(t, f))
			return f;
	return TF_COUNT;
}

char *task_file_text(const struct task *t, enum task_file f, size_t *len)
{
	char *s = NULL;

	switch (f) {
	case TF_PROMPT:
		if (asprintf(&s, "%s\n", t->prompt ? t->prompt : "") < 0)
			s = NULL;
		break;
	case TF_STATUS:
		s = task_status_line(t);
		break;
	case TF_PROGRESS:
		if (task_progress_unknown(t))
			s = xstrdup(""); /* empty rather than invented */
		else if (asprintf(&s, "%d\n", t->progress) < 0)
			s = NULL;
		break;
	case TF_ID:
		if (asprintf(&s, "%s\n", t->id ? t->id : "") < 0)
			s = NULL;
		break;
	case TF_EVENTS:
		s = malloc(t->events_durable + 1);
		if (s) {
			if (t->events_durable)
				memcpy(s, t->events, t->events_durable);
			s[t->events_durable] = '\0';
			*len = t->events_durable;
			return s;
		}
		break;
	case TF_ERROR:
		if (asprintf(&s, "%s\n", t->reason ? t->reason : "unknown reason") < 0)
			s = NULL;
		break;
	default:
		break;
	}
	*len = s ? strlen(s) : 0;
	return s;
}

int64_t task_file_size(const struct task *t, enum task_file f)
{
	size_t len = 0;
	char *s;

	switch (f) {
	case TF_EVENTS:
		return (int64_t)t->events_durable;
	case TF_TASK_JSON:
		return (int64_t)t->task_json_len;
	case TF_VIDEO:
		return t->video_size >= 0 ? t->video_size :
		       t->video_shown_size >= 0 ? t->video_shown_size : 0;
	case TF_IMAGE:
		return t->image_size;
	case TF_THUMBNAIL:
		return t->thumb_size < 0 ? 0 : t->thumb_size;
	case TF_CTL:
		return 0;
	default:
		s = task_file_text(t, f, &len);
		free(s);
		return (int64_t)len;
	}
}

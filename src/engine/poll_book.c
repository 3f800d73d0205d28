#include "poll_book.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "strmap.h"
#include "task.h"
#include "timings.h"
#include "xalloc.h"

struct entry {
	struct task *t;           /* referenced */
	char *model;
	struct poll_hist h;
	int64_t due_ms;
	enum poll_listed listed;
	int64_t listed_ms;
};

struct poll_book {
	pthread_mutex_t mu;
	struct poll_limits l;
	struct timings *tm;
	struct strmap *by_tid;    /* "%u" tid -> struct entry */
	struct entry **all;       /* for walking; order irrelevant */
	size_t n, cap;
};

struct poll_book *poll_book_new(const struct poll_limits *l, struct timings *tm)
{
	struct poll_book *b = xcalloc(1, sizeof(*b));

	pthread_mutex_init(&b->mu, NULL);
	b->l = *l;
	b->tm = tm;
	b->by_tid = strmap_new();
	return b;
}

static void entry_free(struct entry *en)
{
	task_unref(en->t);
	free(en->model);
	free(en);
}

void poll_book_free(struct poll_book *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		entry_free(b->all[i]);
	free(b->all);
	strmap_free(b->by_tid);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

static void key_of(const struct task *t, char *key, size_t len)
{
	snprintf(key, len, "%u", t->tid);
}

/* b->mu held. model, created: read under t->mu by the caller. */
static struct entry *entry_get(struct poll_book *b, struct task *t, const char *model,
			       long long created, int64_t now, bool create)
{
	char key[16];
	struct entry *en;

	key_of(t, key, sizeof(key));
	en = strmap_get(b->by_tid, key);
	if (en || !create)
		return en;
	en = xcalloc(1, sizeof(*en));
	en->t = task_ref(t);
	en->model = xstrdup(model ? model : "");
	/* A task from an earlier mount: its acceptance time is the best
	 * guess of when the provider got it. */
	int64_t ago = ((int64_t)time(NULL) - created) * 1000;
	en->h.start_ms = created > 0 && ago > 0 ? now - ago : now;
	en->due_ms = now;
	if (strmap_put(b->by_tid, key, en) < 0) {
		entry_free(en);
		return NULL;
	}
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->all = xrealloc(b->all, b->cap * sizeof(*b->all));
	}
	b->all[b->n++] = en;
	return en;
}

/* b->mu held. */
static void entry_remove(struct poll_book *b, struct entry *en)
{
	char key[16];

	key_of(en->t, key, sizeof(key));
	strmap_remove(b->by_tid, key);
	for (size_t i = 0; i < b->n; i++) {
		if (b->all[i] == en) {
			b->all[i] = b->all[--b->n];
			break;
		}
	}
	entry_free(en);
}

struct task_view {
	char *model;
	long long created;
	int progress;
	bool done;       /* the provider finished */
	bool over;       /* nothing to ask any more (failed, gone) */
};

static void view_of(struct task *t, struct task_view *v)
{
	pthread_mutex_lock(&t->mu);
	v->model = xstrdup_or_null(t->model);
	v->created = t->created;
	v->progress = t->progress;
	v->done = t->api_completed || t->state == TASK_COMPLETED;
	v->over = t->deleted || t->state == TASK_FAILED;
	pthread_mutex_unlock(&t->mu);
}

void poll_book_started(struct poll_book *b, struct task *t, int64_t now)
{
	struct task_view v;
	struct entry *en;

	view_of(t, &v);
	pthread_mutex_lock(&b->mu);
	en = entry_get(b, t, v.model, v.created, now, true);
	if (en) {
		/* A new submission (a retry too): a new history. */
		en->h = (struct poll_hist){ .start_ms = now };
		en->due_ms = now;
		en->listed = LISTED_UNTRIED;
	}
	pthread_mutex_unlock(&b->mu);
	free(v.model);
}

static void estimate(struct poll_book *b, const char *model, struct poll_estimate *est)
{
	double s[TIMINGS_KEEP];
	int n = timings_get(b->tm, model, s, TIMINGS_KEEP);

	if (n > 0)
		poll_learned_estimate(s, n, est);
	else
		poll_published_estimate(model, est);
}

int64_t poll_book_observe(struct poll_book *b, struct task *t, int64_t now)
{
	struct task_view v;
	struct poll_estimate est;
	struct entry *en;
	int64_t delay = -1;
	double learned = -1;

	view_of(t, &v);
	estimate(b, v.model, &est);
	pthread_mutex_lock(&b->mu);
	en = entry_get(b, t, v.model, v.created, now, !v.done && !v.over);
	if (en && v.done) {
		/* Only a task watched from its start tells its duration. */
		if (en->h.last_ms)
			learned = poll_hist_duration_s(&en->h, now, &b->l);
		entry_remove(b, en);
	} else if (en && v.over) {
		entry_remove(b, en);
	} else if (en) {
		poll_hist_observe(&en->h, now, v.progress, &b->l, &est);
		delay = poll_schedule_delay(&en->h, &est, &b->l, now);
		en->due_ms = now + delay;
	}
	pthread_mutex_unlock(&b->mu);
	if (learned > 0)
		timings_add(b->tm, v.model, learned);
	free(v.model);
	return delay;
}

void poll_book_forget(struct poll_book *b, struct task *t)
{
	struct entry *en;

	pthread_mutex_lock(&b->mu);
	en = entry_get(b, t, NULL, 0, 0, false);
	if (en)
		entry_remove(b, en);
	pthread_mutex_unlock(&b->mu);
}

enum poll_listed poll_book_listed(struct poll_book *b, struct task *t,
				  int64_t *due_ms, int64_t *listed_ms)
{
	struct task_view v;
	struct entry *en;
	enum poll_listed r = LISTED_NO;
	int64_t now = now_ms();

	view_of(t, &v);
	pthread_mutex_lock(&b->mu);
	en = entry_get(b, t, v.model, v.created, now, !v.done && !v.over);
	if (en) {
		r = en->listed;
		*due_ms = en->due_ms;
		*listed_ms = en->listed_ms;
	}
	pthread_mutex_unlock(&b->mu);
	free(v.model);
	return r;
}

size_t poll_book_listable(struct poll_book *b, struct poll_ref **out, int64_t *earliest_due)
{
	struct poll_ref *refs;
	size_t n = 0, k = 0;

	*earliest_due = INT64_MAX;
	pthread_mutex_lock(&b->mu);
	refs = xcalloc(b->n ? b->n : 1, sizeof(*refs));
	for (size_t i = 0; i < b->n; i++) {
		struct entry *en = b->all[i];

		if (en->listed == LISTED_NO)
			continue;
		refs[n++].t = task_ref(en->t);
		if (en->due_ms < *earliest_due)
			*earliest_due = en->due_ms;
	}
	pthread_mutex_unlock(&b->mu);
	/* The ids are read outside the book's lock: it is a leaf. */
	for (size_t i = 0; i < n; i++) {
		struct task *t = refs[i].t;

		pthread_mutex_lock(&t->mu);
		char *id = xstrdup_or_null(t->id);
		pthread_mutex_unlock(&t->mu);
		if (!id) {
			task_unref(t);
			continue;
		}
		refs[k].t = t;
		refs[k].id = id;
		k++;
	}
	*out = refs;
	return k;
}

void poll_book_refs_free(struct poll_ref *refs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		task_unref(refs[i].t);
		free(refs[i].id);
	}
	free(refs);
}

void poll_book_mark(struct poll_book *b, struct task *t, bool seen, int64_t now)
{
	struct entry *en;

	pthread_mutex_lock(&b->mu);
	en = entry_get(b, t, NULL, 0, 0, false);
	if (en) {
		en->listed = seen ? LISTED_YES : LISTED_NO;
		if (seen)
			en->listed_ms = now;
	}
	pthread_mutex_unlock(&b->mu);
}

size_t poll_book_listable_count(struct poll_book *b)
{
	size_t n = 0;

	pthread_mutex_lock(&b->mu);
	for (size_t i = 0; i < b->n; i++)
		n += b->all[i]->listed != LISTED_NO;
	pthread_mutex_unlock(&b->mu);
	return n;
}

int64_t poll_book_earliest(struct poll_book *b)
{
	int64_t e = INT64_MAX;

	pthread_mutex_lock(&b->mu);
	for (size_t i = 0; i < b->n; i++)
		if (b->all[i]->listed != LISTED_NO && b->all[i]->due_ms < e)
			e = b->all[i]->due_ms;
	pthread_mutex_unlock(&b->mu);
	return e;
}

void poll_book_unlist_all(struct poll_book *b)
{
	pthread_mutex_lock(&b->mu);
	for (size_t i = 0; i < b->n; i++)
		b->all[i]->listed = LISTED_NO;
	pthread_mutex_unlock(&b->mu);
}

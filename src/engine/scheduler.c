#include "scheduler.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "xalloc.h"

#define SLOT(s, t) ((t)->sched[(s)->slot])

struct scheduler {
	char name[32];
	int slot;         /* which of the task's sched slots is ours */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct task **heap;   /* min-heap on due_ms; each entry holds a ref */
	size_t n, cap;
	bool stopping;
	int running;          /* runs in progress */
	scheduler_fn fn;
	void *ctx;
	int nthreads;
	pthread_t *threads;
};

static void heap_swap(struct scheduler *s, size_t a, size_t b)
{
	struct task *t = s->heap[a];

	s->heap[a] = s->heap[b];
	s->heap[b] = t;
	SLOT(s, s->heap[a]).heap_index = (int)a;
	SLOT(s, s->heap[b]).heap_index = (int)b;
}

static void heap_up(struct scheduler *s, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (SLOT(s, s->heap[p]).due_ms <= SLOT(s, s->heap[i]).due_ms)
			break;
		heap_swap(s, i, p);
		i = p;
	}
}

static void heap_down(struct scheduler *s, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->n && SLOT(s, s->heap[l]).due_ms < SLOT(s, s->heap[m]).due_ms)
			m = l;
		if (r < s->n && SLOT(s, s->heap[r]).due_ms < SLOT(s, s->heap[m]).due_ms)
			m = r;
		if (m == i)
			break;
		heap_swap(s, i, m);
		i = m;
	}
}

static struct task *heap_remove_at(struct scheduler *s, size_t i)
{
	struct task *t = s->heap[i];

	s->n--;
	if (i != s->n) {
		s->heap[i] = s->heap[s->n];
		SLOT(s, s->heap[i]).heap_index = (int)i;
		heap_down(s, i);
		heap_up(s, i);
	}
	SLOT(s, t).heap_index = -1;
	return t;
}

static void heap_push(struct scheduler *s, struct task *t)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		s->heap = xrealloc(s->heap, cap * sizeof(*s->heap));
		s->cap = cap;
	}
	s->heap[s->n] = task_ref(t);
	SLOT(s, t).heap_index = (int)s->n;
	s->n++;
	heap_up(s, s->n - 1);
}

void scheduler_at(struct scheduler *s, struct task *t, int64_t due_ms, int replace)
{
	pthread_mutex_lock(&s->mu);
	if (s->stopping)
		goto out;
	if (SLOT(s, t).running) {
		/* Run again once the current run is over. */
		if (SLOT(s, t).rerun_ms < 0 || due_ms < SLOT(s, t).rerun_ms || replace)
			SLOT(s, t).rerun_ms = due_ms;
		goto out;
	}
	if (SLOT(s, t).heap_index >= 0) {
		if (due_ms < SLOT(s, t).due_ms || replace) {
			SLOT(s, t).due_ms = due_ms;
			heap_down(s, (size_t)SLOT(s, t).heap_index);
			heap_up(s, (size_t)SLOT(s, t).heap_index);
		}
	} else {
		SLOT(s, t).due_ms = due_ms;
		heap_push(s, t);
	}
	pthread_cond_signal(&s->cv);
out:
	pthread_mutex_unlock(&s->mu);
}

void scheduler_cancel(struct scheduler *s, struct task *t)
{
	struct task *victim = NULL;

	pthread_mutex_lock(&s->mu);
	if (SLOT(s, t).heap_index >= 0 && (size_t)SLOT(s, t).heap_index < s->n &&
	    s->heap[SLOT(s, t).heap_index] == t)
		victim = heap_remove_at(s, (size_t)SLOT(s, t).heap_index);
	SLOT(s, t).rerun_ms = -1;
	pthread_mutex_unlock(&s->mu);
	task_unref(victim);
}

bool scheduler_idle(struct scheduler *s, int64_t until_ms)
{
	bool idle;

	pthread_mutex_lock(&s->mu);
	idle = s->running == 0 && (s->n == 0 || SLOT(s, s->heap[0]).due_ms > until_ms);
	pthread_mutex_unlock(&s->mu);
	return idle;
}

static void *worker(void *arg)
{
	struct scheduler *s = arg;

	pthread_mutex_lock(&s->mu);
	while (!s->stopping) {
		if (s->n == 0) {
			pthread_cond_wait(&s->cv, &s->mu);
			continue;
		}
		if (SLOT(s, s->heap[0]).due_ms > now_ms()) {
			clock_cond_wait_until(&s->cv, &s->mu, SLOT(s, s->heap[0]).due_ms);
			continue;
		}
		struct task *t = heap_remove_at(s, 0);
		SLOT(s, t).running = true;
		SLOT(s, t).rerun_ms = -1;
		s->running++;
		pthread_mutex_unlock(&s->mu);

		s->fn(s->ctx, t);

		pthread_mutex_lock(&s->mu);
		SLOT(s, t).running = false;
		s->running--;
		if (SLOT(s, t).rerun_ms >= 0 && !s->stopping) {
			SLOT(s, t).due_ms = SLOT(s, t).rerun_ms;
			SLOT(s, t).rerun_ms = -1;
			heap_push(s, t);
			pthread_cond_signal(&s->cv);
		}
		pthread_mutex_unlock(&s->mu);
		task_unref(t);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

struct scheduler *scheduler_new(const char *name, int slot, int nthreads,
				scheduler_fn fn, void *ctx)
{
	struct scheduler *s = xcalloc(1, sizeof(*s));

	s->slot = slot;
	snprintf(s->name, sizeof(s->name), "%s", name);
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	clock_watch(&s->cv, &s->mu);
	s->fn = fn;
	s->ctx = ctx;
	s->threads = xcalloc((size_t)nthreads, sizeof(*s->threads));
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&s->threads[i], NULL, worker, s) != 0)
			break;
		s->nthreads++;
	}
	if (s->nthreads == 0) {
		clock_unwatch(&s->cv);
		free(s->threads);
		free(s);
		return NULL;
	}
	return s;
}

void scheduler_free(struct scheduler *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < s->nthreads; i++)
		pthread_join(s->threads[i], NULL);
	clock_unwatch(&s->cv);
	for (size_t i = 0; i < s->n; i++) {
		SLOT(s, s->heap[i]).heap_index = -1;
		task_unref(s->heap[i]);
	}
	free(s->heap);
	free(s->threads);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"
#include "scheduler.h"
#include "task.h"

#define MAX_RUNS 256

struct recorder {
	pthread_mutex_t mu;
	struct task *order[MAX_RUNS];
	int64_t when[MAX_RUNS];
	int n;
	int sleep_ms;
	int running[8];       /* per task index (t->progress holds the index) */
	int max_running[8];
	int concurrent;       /* distinct tasks running at once */
	int max_concurrent;
};

static void record(void *ctx, struct task *t)
{
	struct recorder *r = ctx;
	int i = t->progress;

	pthread_mutex_lock(&r->mu);
	if (r->n < MAX_RUNS) {
		r->order[r->n] = t;
		r->when[r->n] = now_ms();
		r->n++;
	}
	r->running[i]++;
	if (r->running[i] > r->max_running[i])
		r->max_running[i] = r->running[i];
	r->concurrent++;
	if (r->concurrent > r->max_concurrent)
		r->max_concurrent = r->concurrent;
	pthread_mutex_unlock(&r->mu);

	if (r->sleep_ms)
		test_sleep_ms(r->sleep_ms);

	pthread_mutex_lock(&r->mu);
	r->running[i]--;
	r->concurrent--;
	pthread_mutex_unlock(&r->mu);
}

static int runs(struct recorder *r)
{
	int n;

	pthread_mutex_lock(&r->mu);
	n = r->n;
	pthread_mutex_unlock(&r->mu);
	return n;
}

struct want {
	struct recorder *r;
	int n;
};

static bool has_runs(void *ctx)
{
	struct want *w = ctx;

	return runs(w->r) >= w->n;
}

static void wait_runs(struct recorder *r, int n, int timeout_ms)
{
	struct want w = { r, n };

	cr_assert(test_wait_until(has_runs, &w, timeout_ms), "only %d of %d runs", runs(r), n);
}

static struct task *mk(const char *name, int index)
{
	struct task *t = task_new(name);

	t->progress = index;
	return t;
}

static struct recorder *recorder_new(void)
{
	struct recorder *r = calloc(1, sizeof(*r));

	pthread_mutex_init(&r->mu, NULL);
	return r;
}

static void recorder_free(struct recorder *r)
{
	pthread_mutex_destroy(&r->mu);
	free(r);
}

Test(scheduler, runs_in_order_of_due_time)
{
	struct recorder *r = recorder_new();
	struct scheduler *s = scheduler_new("test", 0, 1, record, r);
	struct task *a = mk("a", 0), *b = mk("b", 1), *c = mk("c", 2);
	int64_t t0 = now_ms();

	scheduler_at(s, a, t0 + 300, 0);
	scheduler_at(s, b, t0 + 100, 0);
	scheduler_at(s, c, t0 + 200, 0);
	wait_runs(r, 3, 3000);
	cr_assert_eq(r->order[0], b);
	cr_assert_eq(r->order[1], c);
	cr_assert_eq(r->order[2], a);
	cr_assert_geq(r->when[0], t0 + 100, "ran before it was due");
	cr_assert_geq(r->when[2], t0 + 300, "ran before it was due");
	scheduler_free(s);
	cr_assert_eq(atomic_load(&a->refs), 1);
	cr_assert_eq(atomic_load(&b->refs), 1);
	cr_assert_eq(atomic_load(&c->refs), 1);
	task_unref(a);
	task_unref(b);
	task_unref(c);
	recorder_free(r);
}

Test(scheduler, past_due_runs_at_once)
{
	struct recorder *r = recorder_new();
	struct scheduler *s = scheduler_new("test", 1, 2, record, r);
	struct task *a = mk("a", 0);
	int64_t t0 = now_ms();

	scheduler_at(s, a, t0 - 10000, 0);
	wait_runs(r, 1, 1000);
	cr_assert_lt(r->when[0] - t0, 500);
	scheduler_free(s);
	task_unref(a);
	recorder_free(r);
}

Test(scheduler, earlier_request_replaces_later)
{
	struct recorder *r = recorder_new();
	struct scheduler *s = scheduler_new("test", 0, 1, record, r);
	struct task *a = mk("a", 0);
	int64_t t0 = now_ms();

	scheduler_at(s, a, t0 + 60000, 0);
	scheduler_at(s, a, t0 + 50, 0);
	wait_runs(r, 1, 2000);
	cr_assert_lt(r->when[0] - t0, 1000);
	test_sleep_ms(200);
	cr_assert_eq(runs(r), 1, "one task, one pending run");
	scheduler_free(s);
	task_unref(a);
	recorder_free(r);
}

Test(scheduler, later_request_replaces_only_when_asked)
{
	struct recorder *r = recorder_new();
	struct scheduler *s = scheduler_new("test", 0, 1, record, r);
	struct task *a = mk("a", 0), *b = mk("b", 1);
	int64_t t0 = now_ms();

	scheduler_at(s, a, t0 + 100, 0);
	scheduler_at(s, a, t0 + 60000, 0);     /* ignored */
	scheduler_at(s, b, t0 + 100, 0);
	scheduler_at(s, b, t0 + 400, 1);       /* postponed */
	wait_runs(r, 2, 3000);
	cr_assert_eq(r->order[0], a);
	cr_assert_lt(r->when[0] - t0, 350);
	cr_assert_eq(r->order[1], b);
	cr_assert_geq(r->when[1] - t0, 400);
	scheduler_free(s);
	task_unref(a);
	task_unref(b);
	recorder_free(r);
}

struct hammer {
	struct scheduler *s;
	struct task **tasks;
	int ntasks;
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;

	for (int i = 0; i < 200; i++) {
		scheduler_at(h->s, h->tasks[i % h->ntasks], now_ms(), i % 3 == 0);
		test_sleep_ms(1);
	}
	return NULL;
}

Test(scheduler, a_task_never_runs_concurrently_with_itself, .timeout = 30)
{
	struct recorder *r = recorder_new();
	struct scheduler *s = scheduler_new("test", 0, 4, record, r);
	struct task *tasks[2] = { mk("a", 0), mk("b", 1) };
	struct hammer h = { s, tasks, 2 };
	pthread_t th[4];

	r->sleep_ms = 20;
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, hammer_run, &h);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	test_sleep_ms(200);
	scheduler_free(s);
	cr_assert_eq(r->max_running[0], 1, "task a ran %d times at once", r->max_running[0]);
	cr_assert_eq(r->max_running[1], 1, "task b ran %d times at once", r->max_running[1]);
	cr_assert_eq(r->max_concurrent, 2, "two tasks should run side by side");
	cr_assert_geq(r->n, 4);
	cr_assert_eq(atomic_load(&tasks[0]->refs), 1);
	cr_assert_eq(atomic_load(&tasks[1]->refs), 1);
	task_unref(tasks[0]);
	task_unref(tasks[1]);
	recorder_free(r);
}

/* A request that arrives while the task runs is not lost: it runs once
 * more afterwards (requests coalesce). */
Test(scheduler, request_while_running_runs_again_once)
{
	struct recorder *r = recorder_new();
	struct scheduler *s = scheduler_new("test", 0, 2, record, r);
	struct task *a = mk("a", 0);

	r->sleep_ms = 200;
	scheduler_at(s, a, now_ms(), 0);
	wait_runs(r, 1, 1000);
	scheduler_at(s, a, now_ms(), 0);
	scheduler_at(s, a, now_ms(), 0);
	scheduler_at(s, a, now_ms() + 50, 0);
	wait_runs(r, 2, 2000);
	test_sleep_ms(500);
	cr_assert_eq(runs(r), 2);
	cr_assert_eq(r->max_running[0], 1);
	scheduler_free(s);
	task_unref(a);
	recorder_free(r);
}

Test(scheduler, cancel_drops_a_pending_run)
{
	struct recorder *r = recorder_new();
	struct scheduler *s = scheduler_new("test", 0, 1, record, r);
	struct task *a = mk("a", 0), *b = mk("b", 1);

	scheduler_at(s, a, now_ms() + 150, 0);
	scheduler_at(s, b, now_ms() + 200, 0);
	cr_assert_eq(atomic_load(&a->refs), 2);
	scheduler_cancel(s, a);
	cr_assert_eq(atomic_load(&a->refs), 1);
	cr_assert_eq(a->sched[0].heap_index, -1);
	scheduler_cancel(s, a); /* twice is harmless */
	wait_runs(r, 1, 2000);
	test_sleep_ms(200);
	cr_assert_eq(runs(r), 1);
	cr_assert_eq(r->order[0], b);
	/* and it can be scheduled again */
	scheduler_at(s, a, now_ms(), 0);
	wait_runs(r, 2, 2000);
	cr_assert_eq(r->order[1], a);
	scheduler_free(s);
	task_unref(a);
	task_unref(b);
	recorder_free(r);
}

Test(scheduler, cancel_while_running_drops_the_rerun)
{
	struct recorder *r = recorder_new();
	struct scheduler *s = scheduler_new("test", 0, 1, record, r);
	struct task *a = mk("a", 0);

	r->sleep_ms = 200;
	scheduler_at(s, a, now_ms(), 0);
	wait_runs(r, 1, 1000);
	scheduler_at(s, a, now_ms(), 0);
	scheduler_cancel(s, a);
	test_sleep_ms(500);
	cr_assert_eq(runs(r), 1);
	scheduler_free(s);
	cr_assert_eq(atomic_load(&a->refs), 1);
	task_unref(a);
	recorder_free(r);
}

Test(scheduler, free_with_pending_runs_drops_them, .timeout = 10)
{
	struct recorder *r = recorder_new();
	struct scheduler *s = scheduler_new("test", 0, 3, record, r);
	struct task *t[5];
	char name[8];
	int64_t t0;

	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		t[i] = mk(name, i);
		scheduler_at(s, t[i], now_ms() + 60000, 0);
	}
	t0 = now_ms();
	scheduler_free(s);
	cr_assert_lt(now_ms() - t0, 1000, "free waited for pending runs");
	cr_assert_eq(runs(r), 0);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(atomic_load(&t[i]->refs), 1, "reference of t%d leaked", i);
		cr_assert_eq(t[i]->sched[0].heap_index, -1);
		task_unref(t[i]);
	}
	recorder_free(r);
}

Test(scheduler, free_waits_for_a_run_in_progress, .timeout = 10)
{
	struct recorder *r = recorder_new();
	struct scheduler *s = scheduler_new("test", 0, 1, record, r);
	struct task *a = mk("a", 0);

	r->sleep_ms = 300;
	scheduler_at(s, a, now_ms(), 0);
	wait_runs(r, 1, 1000);
	scheduler_at(s, a, now_ms(), 0); /* rerun request: dropped by free */
	scheduler_free(s);
	cr_assert_eq(r->concurrent, 0, "free returned while fn still ran");
	cr_assert_eq(runs(r), 1);
	cr_assert_eq(atomic_load(&a->refs), 1);
	task_unref(a);
	recorder_free(r);
}

/* The two slots are independent: one task can be in the control and the
 * download scheduler at once. */
Test(scheduler, two_schedulers_use_separate_slots)
{
	struct recorder *r = recorder_new();
	struct scheduler *s0 = scheduler_new("control", 0, 1, record, r);
	struct scheduler *s1 = scheduler_new("download", 1, 1, record, r);
	struct task *a = mk("a", 0);

	scheduler_at(s0, a, now_ms() + 100, 0);
	scheduler_at(s1, a, now_ms() + 100, 0);
	cr_assert_eq(atomic_load(&a->refs), 3);
	wait_runs(r, 2, 2000);
	scheduler_free(s0);
	scheduler_free(s1);
	cr_assert_eq(atomic_load(&a->refs), 1);
	task_unref(a);
	recorder_free(r);
}

Test(scheduler, many_tasks_all_run)
{
	enum { N = 200 };
	struct recorder *r = recorder_new();
	struct scheduler *s = scheduler_new("test", 0, 4, record, r);
	struct task *t[N];
	char name[16];
	int64_t base = now_ms();

	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		t[i] = mk(name, i % 8);
		scheduler_at(s, t[i], base + (i * 7919) % 300, 0);
	}
	wait_runs(r, MAX_RUNS < N ? MAX_RUNS : N, 5000);
	scheduler_free(s);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(atomic_load(&t[i]->refs), 1);
		task_unref(t[i]);
	}
	recorder_free(r);
}

/* With the test clock stopped, a run due later waits for the clock, not
 * for real time, and an advance wakes the pool at once. */
Test(scheduler, follows_the_test_clock)
{
	struct recorder r = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct task *t = task_new("t");
	struct scheduler *s;
	int64_t start;

	clock_test_start();
	s = scheduler_new("test", 0, 2, record, &r);
	start = now_ms();
	scheduler_at(s, t, start + 60 * 1000, 0);
	test_sleep_ms(50);
	cr_assert_eq(runs(&r), 0, "a run due in a minute ran at once");
	clock_test_advance(59 * 1000);
	test_sleep_ms(50);
	cr_assert_eq(runs(&r), 0, "a run due in a minute ran a second early");
	clock_test_advance(1000);
	wait_runs(&r, 1, 2000);
	/* waiting lets the test clock run on: not before, maybe a bit after */
	cr_assert_geq(r.when[0], start + 60 * 1000);
	scheduler_free(s);
	clock_test_stop();
	task_unref(t);
}

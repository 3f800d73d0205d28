#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_table.h"

static struct task *add(struct task_table *tt, const char *name)
{
	struct task *t = task_new(name);

	cr_assert_eq(task_table_insert(tt, t), 0);
	task_unref(t);
	return t;
}

Test(task_table, insert_assigns_increasing_tids)
{
	struct task_table *tt = task_table_new();
	struct task *a = add(tt, "a"), *b = add(tt, "b");

	cr_assert_eq(a->tid, 1);
	cr_assert_eq(b->tid, 2);
	cr_assert_eq(task_table_count(tt), 2);
	task_table_free(tt);
}

Test(task_table, duplicate_name_is_refused)
{
	struct task_table *tt = task_table_new();
	struct task *dup = task_new("a");

	add(tt, "a");
	cr_assert_eq(task_table_insert(tt, dup), -EEXIST);
	cr_assert_eq(atomic_load(&dup->refs), 1, "a refused insert took a reference");
	cr_assert_eq(task_table_count(tt), 1);
	task_unref(dup);
	task_table_free(tt);
}

Test(task_table, lookups_return_new_references)
{
	struct task_table *tt = task_table_new();
	struct task *a = add(tt, "a");
	struct task *g;

	g = task_table_get_name(tt, "a");
	cr_assert_eq(g, a);
	cr_assert_eq(atomic_load(&a->refs), 2);
	task_unref(g);
	g = task_table_get_tid(tt, a->tid);
	cr_assert_eq(g, a);
	task_unref(g);
	cr_assert_null(task_table_get_name(tt, "b"));
	cr_assert_null(task_table_get_tid(tt, 0));
	cr_assert_null(task_table_get_tid(tt, 2));
	cr_assert_null(task_table_get_tid(tt, UINT32_MAX));
	cr_assert_eq(atomic_load(&a->refs), 1);
	task_table_free(tt);
}

Test(task_table, removed_tids_are_never_reused)
{
	struct task_table *tt = task_table_new();
	struct task *a = add(tt, "a"), *r;
	uint32_t old = a->tid;

	r = task_table_remove(tt, "a");
	cr_assert_eq(r, a);
	cr_assert_null(task_table_get_name(tt, "a"));
	cr_assert_null(task_table_get_tid(tt, old));
	cr_assert_eq(task_table_count(tt), 0);
	cr_assert_null(task_table_remove(tt, "a"));
	task_unref(r);

	struct task *again = add(tt, "a");
	cr_assert_neq(again->tid, old);
	cr_assert_null(task_table_get_tid(tt, old));
	task_table_free(tt);
}

Test(task_table, list_pages_in_tid_order_skipping_holes)
{
	struct task_table *tt = task_table_new();
	struct task *out[4];
	char name[16];
	size_t n;

	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		add(tt, name);
	}
	task_unref(task_table_remove(tt, "t2"));
	task_unref(task_table_remove(tt, "t3"));

	n = task_table_list(tt, 0, out, 4);
	cr_assert_eq(n, 4);
	cr_assert_str_eq(out[0]->name, "t0");
	cr_assert_str_eq(out[1]->name, "t1");
	cr_assert_str_eq(out[2]->name, "t4");
	cr_assert_str_eq(out[3]->name, "t5");
	uint32_t after = out[3]->tid;
	for (size_t i = 0; i < n; i++)
		task_unref(out[i]);

	n = task_table_list(tt, after, out, 4);
	cr_assert_eq(n, 4);
	cr_assert_str_eq(out[0]->name, "t6");
	cr_assert_str_eq(out[3]->name, "t9");
	after = out[3]->tid;
	for (size_t i = 0; i < n; i++)
		task_unref(out[i]);
	cr_assert_eq(task_table_list(tt, after, out, 4), 0);
	cr_assert_eq(task_table_list(tt, 1000, out, 4), 0);
	task_table_free(tt);
}

Test(task_table, many_tasks)
{
	enum { N = 20000 };
	struct task_table *tt = task_table_new();
	char name[32];

	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "task-%05d", i);
		add(tt, name);
	}
	cr_assert_eq(task_table_count(tt), N);
	for (int i = 0; i < N; i += 1000) {
		snprintf(name, sizeof(name), "task-%05d", i);
		struct task *t = task_table_get_name(tt, name);
		cr_assert_not_null(t);
		cr_assert_eq(t->tid, (uint32_t)i + 1);
		task_unref(t);
	}
	task_table_free(tt);
}

struct race {
	struct task_table *tt;
	int wins;
	pthread_mutex_t mu;
};

static void *insert_same(void *arg)
{
	struct race *r = arg;

	for (int i = 0; i < 200; i++) {
		char name[16];
		snprintf(name, sizeof(name), "n%d", i);
		struct task *t = task_new(name);
		if (task_table_insert(r->tt, t) == 0) {
			pthread_mutex_lock(&r->mu);
			r->wins++;
			pthread_mutex_unlock(&r->mu);
		}
		task_unref(t);
	}
	return NULL;
}

Test(task_table, concurrent_inserts_of_one_name_have_one_winner)
{
	struct race r = { .tt = task_table_new() };
	pthread_t th[8];

	pthread_mutex_init(&r.mu, NULL);
	for (int i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, insert_same, &r);
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(r.wins, 200);
	cr_assert_eq(task_table_count(r.tt), 200);
	pthread_mutex_destroy(&r.mu);
	task_table_free(r.tt);
}

/* Workers read t->name without a lock (log lines): a rename must never
 * free a name someone may still be reading. */
Test(task_table, a_name_read_before_a_rename_stays_readable)
{
	struct task_table *tt = task_table_new();
	struct task *t = add(tt, "before");
	const char *old = t->name;

	cr_assert_eq(task_table_rename(tt, t, "after", NULL, NULL), 0);
	cr_assert_str_eq(t->name, "after");
	cr_assert_str_eq(old, "before", "the old name was freed under its reader");
	cr_assert_eq(task_table_rename(tt, t, "again", NULL, NULL), 0);
	cr_assert_str_eq(old, "before");
	task_table_free(tt);
}

struct name_reader {
	struct task *t;
	atomic_bool stop;
	atomic_long reads;
};

static void *read_names(void *arg)
{
	struct name_reader *r = arg;
	char buf[64];

	while (!atomic_load(&r->stop)) {
		/* as a log line does: no lock */
		snprintf(buf, sizeof(buf), "task %s: polling", r->t->name);
		cr_assert(!strcmp(buf, "task a: polling") || !strcmp(buf, "task b: polling"),
			  "%s", buf);
		r->reads++;
	}
	return NULL;
}

Test(task_table, renames_race_unlocked_readers_safely)
{
	struct task_table *tt = task_table_new();
	struct name_reader r = { .t = add(tt, "a") };
	pthread_t th;

	cr_assert_eq(pthread_create(&th, NULL, read_names, &r), 0);
	for (int i = 0; i < 2000 || atomic_load(&r.reads) < 1000; i++)
		cr_assert_eq(task_table_rename(tt, r.t, i % 2 ? "a" : "b", NULL, NULL), 0);
	atomic_store(&r.stop, true);
	pthread_join(th, NULL);
	cr_assert_gt(r.reads, 0);
	task_table_free(tt);
}

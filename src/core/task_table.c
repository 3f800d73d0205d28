#include "task_table.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strmap.h"

struct task_table {
	pthread_rwlock_t lock;
	struct strmap *by_name;
	/* by_tid[tid - 1]; tids are never reused within a mount so inode
	 * numbers of a forgotten task can't be mistaken for a new one. */
	struct task **by_tid;
	size_t n_tids, cap_tids;
	size_t count;
	long long changed;
};

struct task_table *task_table_new(void)
{
	struct task_table *tt = calloc(1, sizeof(*tt));

	if (!tt)
		return NULL;
	tt->by_name = strmap_new();
	if (!tt->by_name) {
		free(tt);
		return NULL;
	}
	pthread_rwlock_init(&tt->lock, NULL);
	return tt;
}

void task_table_free(struct task_table *tt)
{
	if (!tt)
		return;
	for (size_t i = 0; i < tt->n_tids; i++)
		task_unref(tt->by_tid[i]);
	free(tt->by_tid);
	strmap_free(tt->by_name);
	pthread_rwlock_destroy(&tt->lock);
	free(tt);
}

int task_table_insert(struct task_table *tt, struct task *t)
{
	int rc = 0;

	pthread_rwlock_wrlock(&tt->lock);
	if (strmap_get(tt->by_name, t->name)) {
		rc = -EEXIST;
		goto out;
	}
	if (tt->n_tids == tt->cap_tids) {
		size_t cap = tt->cap_tids ? tt->cap_tids * 2 : 256;
		struct task **p = realloc(tt->by_tid, cap * sizeof(*p));
		if (!p) {
			rc = -ENOMEM;
			goto out;
		}
		tt->by_tid = p;
		tt->cap_tids = cap;
	}
	if (strmap_put(tt->by_name, t->name, t) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	tt->by_tid[tt->n_tids++] = task_ref(t);
	t->tid = (uint32_t)tt->n_tids;
	tt->count++;
	tt->changed = time(NULL);
out:
	pthread_rwlock_unlock(&tt->lock);
	return rc;
}

struct task *task_table_get_name(struct task_table *tt, const char *name)
{
	struct task *t;

	pthread_rwlock_rdlock(&tt->lock);
	t = strmap_get(tt->by_name, name);
	if (t)
		task_ref(t);
	pthread_rwlock_unlock(&tt->lock);
	return t;
}

struct task *task_table_get_tid(struct task_table *tt, uint32_t tid)
{
	struct task *t = NULL;

	pthread_rwlock_rdlock(&tt->lock);
	if (tid >= 1 && tid <= tt->n_tids && tt->by_tid[tid - 1])
		t = task_ref(tt->by_tid[tid - 1]);
	pthread_rwlock_unlock(&tt->lock);
	return t;
}

struct task *task_table_remove(struct task_table *tt, const char *name)
{
	struct task *t;

	pthread_rwlock_wrlock(&tt->lock);
	t = strmap_remove(tt->by_name, name);
	if (t) {
		tt->by_tid[t->tid - 1] = NULL;
		tt->count--;
		tt->changed = time(NULL);
	}
	pthread_rwlock_unlock(&tt->lock);
	return t;
}

int task_table_rename(struct task_table *tt, struct task *t, const char *to,
		      int (*commit)(void *ctx, const char *from, const char *to), void *ctx)
{
	const char *from;
	int rc;

	pthread_rwlock_wrlock(&tt->lock);
	from = t->name;
	if (strmap_get(tt->by_name, to)) {
		rc = -EEXIST;
		goto out;
	}
	if (strmap_get(tt->by_name, from) != t) {
		rc = -ENOENT;
		goto out;
	}
	rc = commit ? commit(ctx, from, to) : 0;
	if (rc < 0)
		goto out;
	if (strmap_put(tt->by_name, to, t) < 0) {
		rc = -ENOMEM; /* the disk has it: the next mount shows it */
		goto out;
	}
	strmap_remove(tt->by_name, from);
	/* The old string stays the task's until it is freed: whoever read
	 * it a moment ago, with or without a lock, still holds a valid one. */
	task_rename(t, to);
	tt->changed = time(NULL);
out:
	pthread_rwlock_unlock(&tt->lock);
	return rc;
}

size_t task_table_list(struct task_table *tt, uint32_t after,
		       struct task **out, size_t n)
{
	size_t got = 0;

	pthread_rwlock_rdlock(&tt->lock);
	for (size_t i = after; i < tt->n_tids && got < n; i++)
		if (tt->by_tid[i])
			out[got++] = task_ref(tt->by_tid[i]);
	pthread_rwlock_unlock(&tt->lock);
	return got;
}

long long task_table_changed(struct task_table *tt)
{
	long long c;

	pthread_rwlock_rdlock(&tt->lock);
	c = tt->changed;
	pthread_rwlock_unlock(&tt->lock);
	return c;
}

size_t task_table_count(struct task_table *tt)
{
	size_t n;

	pthread_rwlock_rdlock(&tt->lock);
	n = tt->count;
	pthread_rwlock_unlock(&tt->lock);
	return n;
}

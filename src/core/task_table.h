/* All tasks of the mount, in memory: the tree answers from here without
 * touching the disk or the network. */
#ifndef VEOFS_TASK_TABLE_H
#define VEOFS_TASK_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "task.h"

struct task_table;

struct task_table *task_table_new(void);
/* Drops the table's references. */
void task_table_free(struct task_table *tt);
/* Assigns t->tid and takes a reference; -EEXIST when the name is taken. */
int task_table_insert(struct task_table *tt, struct task *t);
/* These return a new reference (task_unref it) or NULL. */
struct task *task_table_get_name(struct task_table *tt, const char *name);
struct task *task_table_get_tid(struct task_table *tt, uint32_t tid);
/* Removes by name and returns the table's reference, or NULL. */
struct task *task_table_remove(struct task_table *tt, const char *name);
/* Rename t to `to`, calling commit (the on-disk rename) under the table
 * lock so no other task can take either name meanwhile. -EEXIST when
 * taken, or commit's error. */
int task_table_rename(struct task_table *tt, struct task *t, const char *to,
		      int (*commit)(void *ctx, const char *from, const char *to), void *ctx);
/* Up to n tasks with tid > after, in tid order, each referenced. */
size_t task_table_list(struct task_table *tt, uint32_t after,
		       struct task **out, size_t n);
size_t task_table_count(struct task_table *tt);
/* Epoch seconds of the last insert or remove: the root's mtime, so file
 * managers that poll notice new tasks. */
long long task_table_changed(struct task_table *tt);

#endif

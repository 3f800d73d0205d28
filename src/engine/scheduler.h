/* A timed work queue with a fixed pool of threads: the one place that
 * bounds how many requests veofs has in flight. A task is never run by two
 * threads of one scheduler at once. */
#ifndef VEOFS_SCHEDULER_H
#define VEOFS_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "task.h"

struct scheduler;

typedef void (*scheduler_fn)(void *ctx, struct task *t);

/* slot: 0 or 1, the task's scheduling slot this scheduler owns. */
struct scheduler *scheduler_new(const char *name, int slot, int nthreads,
				scheduler_fn fn, void *ctx);
/* Run fn(ctx, t) at monotonic time due_ms (now or earlier: at once). An
 * earlier request replaces a later one; a later one replaces an earlier one
 * only when replace is set. Takes its own reference on t. */
void scheduler_at(struct scheduler *s, struct task *t, int64_t due_ms, int replace);
void scheduler_cancel(struct scheduler *s, struct task *t);
/* Nothing is running and nothing is due by until_ms. */
bool scheduler_idle(struct scheduler *s, int64_t until_ms);
/* Stops the threads after their current run; pending runs are dropped. */
void scheduler_free(struct scheduler *s);

#endif

/* A start-up check that the state dir can keep tasks the way the store
 * needs: a store that cannot work says so at mount time, naming the step
 * that failed, rather than refusing the first prompt. */
#ifndef VEOFS_STORE_PROBE_H
#define VEOFS_STORE_PROBE_H

#include <stddef.h>

struct task_store;

/* Tries, in STATE_DIR/tasks under names a crash leaves for the next start
 * to delete: creating and fsyncing a directory and a file, a no-replace
 * rename onto a taken name (must be refused and change nothing), one onto
 * a free name, an atomic replacement of a file, an append. 0, or -errno
 * with a sentence in err. */
int store_probe(struct task_store *s, char *err, size_t errlen);

#endif

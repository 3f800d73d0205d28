/* Allocation that cannot fail: out of memory, veofs logs one line and
 * aborts (as git's xmalloc does). A daemon that half-applies a change
 * because a strdup failed could forget a paid-for task; stopping is safer,
 * and the state dir lets the next mount pick up where this one was. */
#ifndef VEOFS_XALLOC_H
#define VEOFS_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* NULL stays NULL. */
char *xstrdup_or_null(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

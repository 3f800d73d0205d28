/* Per-task polling history for the poll schedule and the lister: when the
 * provider got each task in flight, what its answers showed, when it next
 * wants news, and whether the provider's list covers it. Entries hold a
 * reference to their task and go when the provider is done with it or
 * the task is forgotten. Thread-safe; the book's lock is a leaf, never
 * taken under a task's mu. */
#ifndef VEOFS_POLL_BOOK_H
#define VEOFS_POLL_BOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "poll_schedule.h"

struct task;
struct timings;
struct poll_book;

struct poll_book *poll_book_new(const struct poll_limits *l, struct timings *tm);
void poll_book_free(struct poll_book *b);

/* The provider answered t's create at now. */
void poll_book_started(struct poll_book *b, struct task *t, int64_t now);
/* An answer about t (from a poll or a listing) was applied at now: record
 * it, learn the duration when the provider just finished, and return the
 * delay until t wants news again (-1: it wants none, the provider is
 * done with it). */
int64_t poll_book_observe(struct poll_book *b, struct task *t, int64_t now);
void poll_book_forget(struct poll_book *b, struct task *t);

/* ---- for the lister ---- */

enum poll_listed {
	LISTED_UNTRIED,  /* no listing has looked for it yet */
	LISTED_YES,      /* the last listing had it */
	LISTED_NO,       /* a whole listing went by without it */
};

/* Ensure t has an entry; its listing state and due time. */
enum poll_listed poll_book_listed(struct poll_book *b, struct task *t,
				  int64_t *due_ms, int64_t *listed_ms);
/* The tasks a listing should look for (refs taken, ids copied, the
 * earliest due time): free with poll_book_refs_free. Entries that a
 * whole listing missed are left out. */
struct poll_ref {
	struct task *t;
	char *id;
	bool seen;
};
size_t poll_book_listable(struct poll_book *b, struct poll_ref **out, int64_t *earliest_due);
void poll_book_refs_free(struct poll_ref *refs, size_t n);
/* A listing at now had t (seen) or went through without it. */
void poll_book_mark(struct poll_book *b, struct task *t, bool seen, int64_t now);
/* Entries a listing may cover (not missed by a whole listing). */
size_t poll_book_listable_count(struct poll_book *b);
/* The earliest due time of listable entries (INT64_MAX: none). */
int64_t poll_book_earliest(struct poll_book *b);
/* The provider cannot list after all: every entry goes back to polls. */
void poll_book_unlist_all(struct poll_book *b);

#endif

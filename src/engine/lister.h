/* One listing (GET /videos, paginated) brings the news of many tasks at
 * once. The lister is a thread of the engine: it lists when a task that
 * the listing covers wants news (the poll schedule's due time), at most
 * one page per LISTER_PAGE_GAP_MS and one listing per poll.interval, and
 * applies every listed video object as a poll's answer would be applied,
 * once LISTER_MIN_TASKS or more tasks are in flight.
 * Tasks that a whole listing misses go back to their own polls. A
 * provider that answers the listing with 404, 405 or 501 or with
 * something that is not a list cannot list: that is logged once and
 * remembered for the mount, and every task is polled on its own. */
#ifndef VEOFS_LISTER_H
#define VEOFS_LISTER_H

#include <stdbool.h>
#include <stdint.h>

struct engine;
struct task;
struct lister;

/* Listing pays off from this many tasks in flight: below it, a listing
 * costs what a poll does and tells less (a gateway's own fields, faults
 * a poll would show), so tasks are polled on their own. */
#define LISTER_MIN_TASKS 3
/* Objects per page asked for (the API allows up to 100). */
#define LISTER_PAGE_SIZE 100
/* Pages are at least this far apart: two requests per second at most. */
#define LISTER_PAGE_GAP_MS 500

/* NULL when the remote has no list op. */
struct lister *lister_new(struct engine *e);
/* Stop the listing thread (a listing in flight is bounded by
 * api.timeout); the pools' workers may still ask lister_covers after it. */
void lister_stop(struct lister *l);
/* Once no worker can ask it any more (the pools are gone). */
void lister_free(struct lister *l);

/* Asked by the control worker when t wants news: true when the listing
 * will bring it, with *delay_ms until the worker should look again (in
 * case it did not); false: poll t on its own. */
bool lister_covers(struct lister *l, struct task *t, int64_t now, int64_t *delay_ms);
/* -1 not known yet, 0 the provider cannot list, 1 it can. */
int lister_mode(struct lister *l);
/* Listing requests made (for tests). */
int lister_requests(struct lister *l);

#endif

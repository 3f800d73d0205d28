/* Time as veofs sees it: a monotonic clock in milliseconds for deadlines
 * and schedules, and the wall clock for what users read (events, mtimes).
 *
 * Tests may stop the monotonic clock and move it by hand: every schedule,
 * backoff and timed wait that goes through here follows, so a test of a
 * ten-second backoff takes no ten seconds. */
#ifndef VEOFS_CLOCK_H
#define VEOFS_CLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Monotonic milliseconds; only differences mean anything. */
int64_t now_ms(void);

/* Wait on cv (mu held, as pthread_cond_wait) until signalled or until
 * now_ms() reaches deadline_ms; spurious returns are allowed, so callers
 * recheck in a loop. Follows the test clock when one is in use. */
void clock_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ms);

/* A long-lived waiter (a thread pool's cv and its mutex): the test clock
 * wakes it on every advance, under its mutex, so no wake-up is lost.
 * Unwatch before destroying them. */
void clock_watch(pthread_cond_t *cv, pthread_mutex_t *mu);
void clock_unwatch(pthread_cond_t *cv);

/* ---- for tests ---- */

/* From now on now_ms() stands still at its current value and moves only
 * by clock_test_advance(). */
void clock_test_start(void);
/* Back to the real clock (now_ms() goes on from the real time). */
void clock_test_stop(void);
bool clock_test_active(void);
/* Move the test clock on and wake every waiter. */
void clock_test_advance(int64_t ms);

#endif

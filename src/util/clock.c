#include "clock.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "xalloc.h"

/* The test clock: when active, now_ms() is test_now. */
static atomic_bool test_active;
static _Atomic int64_t test_now;
/* Added to the real clock, so that time never runs backwards after a test
 * clock that was moved ahead is stopped. */
static _Atomic int64_t offset;

/* Watched waiters, woken on every advance. */
struct watcher {
	pthread_cond_t *cv;
	pthread_mutex_t *mu;
	struct watcher *next;
};
static pthread_mutex_t watch_mu = PTHREAD_MUTEX_INITIALIZER;
static struct watcher *watchers;

static int64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_ms(void)
{
	if (atomic_load(&test_active))
		return atomic_load(&test_now);
	return real_ms() + atomic_load(&offset);
}

static struct timespec real_deadline(int64_t wait_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += wait_ms / 1000;
	ts.tv_nsec += (wait_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

/* cv must use CLOCK_MONOTONIC (pthread_condattr_setclock). */
void clock_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ms)
{
	struct timespec ts;

	if (atomic_load(&test_active)) {
		if (atomic_load(&test_now) >= deadline_ms)
			return;
		/* An advance wakes watched waiters; others look again soon,
		 * since nothing else would tell them the time moved. */
		ts = real_deadline(2);
		pthread_cond_timedwait(cv, mu, &ts);
		return;
	}
	int64_t wait = deadline_ms - now_ms();
	if (wait <= 0)
		return;
	ts = real_deadline(wait);
	pthread_cond_timedwait(cv, mu, &ts);
}

void clock_watch(pthread_cond_t *cv, pthread_mutex_t *mu)
{
	struct watcher *w = xmalloc(sizeof(*w));

	w->cv = cv;
	w->mu = mu;
	pthread_mutex_lock(&watch_mu);
	w->next = watchers;
	watchers = w;
	pthread_mutex_unlock(&watch_mu);
}

void clock_unwatch(pthread_cond_t *cv)
{
	pthread_mutex_lock(&watch_mu);
	for (struct watcher **p = &watchers; *p; p = &(*p)->next) {
		if ((*p)->cv == cv) {
			struct watcher *w = *p;
			*p = w->next;
			free(w);
			break;
		}
	}
	pthread_mutex_unlock(&watch_mu);
}

void clock_test_start(void)
{
	atomic_store(&test_now, now_ms());
	atomic_store(&test_active, true);
}

void clock_test_stop(void)
{
	int64_t ahead = atomic_load(&test_now) - real_ms();

	if (ahead > atomic_load(&offset))
		atomic_store(&offset, ahead);
	atomic_store(&test_active, false);
	clock_test_advance(0);
}

bool clock_test_active(void)
{
	return atomic_load(&test_active);
}

void clock_test_advance(int64_t ms)
{
	atomic_fetch_add(&test_now, ms);
	pthread_mutex_lock(&watch_mu);
	for (struct watcher *w = watchers; w; w = w->next) {
		pthread_mutex_lock(w->mu);
		pthread_cond_broadcast(w->cv);
		pthread_mutex_unlock(w->mu);
	}
	pthread_mutex_unlock(&watch_mu);
}

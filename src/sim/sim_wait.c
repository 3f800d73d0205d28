/* Waiting: latency delays and stalls, both released at once when the
 * server stops (and stalls also when the faults are cleared). */
#include "sim_internal.h"



/* Sleep ms unless the server stops first; false when it stops. */
bool delay(struct sim *s, int ms)
{
	struct timespec until;
	bool stopping;

	if (ms <= 0)
		return true;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->lock);
	while (!s->stopping &&
	       pthread_cond_timedwait(&s->wake, &s->lock, &until) != ETIMEDOUT)
		;
	stopping = s->stopping;
	pthread_mutex_unlock(&s->lock);
	return !stopping;
}

/* Hold the answer until faults are cleared (then answer normally) or the
 * server stops (then close); false when it stops. */
bool stall(struct sim *s)
{
	uint64_t epoch;
	bool stopping;

	pthread_mutex_lock(&s->lock);
	epoch = s->fault_epoch;
	s->stalled++;
	while (!s->stopping && s->fault_epoch == epoch)
		pthread_cond_wait(&s->wake, &s->lock);
	s->stalled--;
	stopping = s->stopping;
	pthread_mutex_unlock(&s->lock);
	return !stopping;
}

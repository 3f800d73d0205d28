/* When to ask the provider about a task next: pure functions of what the
 * task has shown so far (its history) and how long tasks of its model
 * have taken (learned durations, or the provider's published times). No
 * clock is read here: every time is an argument, in the monotonic ms of
 * now_ms().
 *
 * The policy. A finish window [lo, hi] is predicted for the task:
 *  - from the rate its progress rises, once two different values between
 *    0 and 100 were seen (a provider with coarse or no progress never
 *    gives one);
 *  - else from the durations learned for its model (their range, widened
 *    while there are few);
 *  - else from the provider's published times (cold: nothing learned).
 * Before the window veofs asks sparsely: once learned, it waits until the
 * window opens (but never longer than max_ms); cold, it waits half the time
 * the task has been running (so it is at most about a third late).
 * Inside the window it asks every width/12 (at least min_ms): the lag
 * after the provider finishes is half that on the median. After the
 * window (the task is late) it backs off from min_ms, doubling, up to
 * max_ms. With min_ms == max_ms every delay is that. */
#ifndef VEOFS_POLL_SCHEDULE_H
#define VEOFS_POLL_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

/* Polls inside the finish window: its width divided by this. */
#define POLL_WINDOW_STEPS 12

struct poll_limits {
	int64_t min_ms;  /* poll.interval */
	int64_t max_ms;  /* poll.max_interval */
};

/* How long the provider takes for this task's model, in seconds. */
struct poll_estimate {
	int samples;     /* learned samples behind it; 0: published times */
	double lo_s, hi_s;
};

/* What a task has shown. Zero it, set start_ms, then observe answers. */
struct poll_hist {
	int64_t start_ms;    /* when the provider got the task */
	int64_t last_ms;     /* the last answer (0: none yet) */
	int progress;        /* the last progress seen */
	/* Two points of rising progress (0 < p < 100) for its rate: the
	 * first seen, and the latest above it. p2 0: no rate yet. */
	int64_t p1_ms, p2_ms;
	int p1, p2;
	int late;            /* answers since the window closed */
};

/* The published generation times of model, in seconds (Veo 3.1 fast
 * 30-60, Veo 3.1 1-2 minutes), or a wide guess for a model without them. */
void poll_published_estimate(const char *model, struct poll_estimate *out);
/* The estimate from n learned samples (n > 0): their range, widened to at
 * least -15%/+20% around the median while there are fewer than 4. */
void poll_learned_estimate(const double *samples, int n, struct poll_estimate *out);

/* Record an answer at now with the task's progress (0..100). */
void poll_hist_observe(struct poll_hist *h, int64_t now, int progress,
		       const struct poll_limits *l, const struct poll_estimate *est);
/* The predicted finish window (absolute ms); true when it came from the
 * progress rate. */
bool poll_window(const struct poll_hist *h, const struct poll_estimate *est,
		 const struct poll_limits *l, int64_t *lo, int64_t *hi);
/* The delay (ms, within [min_ms, max_ms]) until the next question. */
int64_t poll_schedule_delay(const struct poll_hist *h, const struct poll_estimate *est,
			    const struct poll_limits *l, int64_t now);
/* The provider's duration as far as the answers tell, in seconds: the
 * video became ready between the last answer before done_ms and done_ms.
 * The middle of that gap is taken, but never more than l->min_ms after
 * its start: after sparse polls (a cold start) the sample leans early,
 * since a window that opens too late makes every early task late. */
double poll_hist_duration_s(const struct poll_hist *h, int64_t done_ms,
			    const struct poll_limits *l);

#endif

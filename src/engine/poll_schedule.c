#include "poll_schedule.h"

#include <stdlib.h>
#include <string.h>

/* Published generation times, seconds (provider-veo-doc: Veo 3.1 fast
 * 30-60 s, standard 1-2 minutes). First match wins. */
static const struct {
	const char *contains;
	double lo_s, hi_s;
} published[] = {
	{ "fast", 30, 60 },
	{ "veo", 60, 120 },
};
/* A model nobody published times for. */
#define UNKNOWN_LO_S 20
#define UNKNOWN_HI_S 180

void poll_published_estimate(const char *model, struct poll_estimate *out)
{
	out->samples = 0;
	out->lo_s = UNKNOWN_LO_S;
	out->hi_s = UNKNOWN_HI_S;
	for (size_t i = 0; model && i < sizeof(published) / sizeof(published[0]); i++) {
		if (strcasestr(model, published[i].contains)) {
			out->lo_s = published[i].lo_s;
			out->hi_s = published[i].hi_s;
			return;
		}
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

void poll_learned_estimate(const double *samples, int n, struct poll_estimate *out)
{
	double s[64];
	double mid;

	if (n > 64)
		n = 64;
	memcpy(s, samples, (size_t)n * sizeof(*s));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	mid = s[n / 2];
	out->samples = n;
	/* A little room on both sides: a sample is known to about a poll. */
	out->lo_s = s[0] * 0.97;
	out->hi_s = s[n - 1] * 1.03;
	if (n < 4) {
		if (out->lo_s > mid * 0.85)
			out->lo_s = mid * 0.85;
		if (out->hi_s < mid * 1.2)
			out->hi_s = mid * 1.2;
	}
}

bool poll_window(const struct poll_hist *h, const struct poll_estimate *est,
		 const struct poll_limits *l, int64_t *lo, int64_t *hi)
{
	if (h->p2 > h->p1 && h->p2_ms > h->p1_ms) {
		/* ms per percent, and the end it points at. */
		double per = (double)(h->p2_ms - h->p1_ms) / (h->p2 - h->p1);
		int64_t end = h->p2_ms + (int64_t)(per * (100 - h->p2));
		/* Progress is whole percents and need not be linear: allow
		 * a percent's worth, 15% of what is left, and a poll. */
		int64_t u = (int64_t)per + (end - h->p2_ms) * 15 / 100 + l->min_ms;

		*lo = end - u;
		*hi = end + u;
		return true;
	}
	*lo = h->start_ms + (int64_t)(est->lo_s * 1000);
	*hi = h->start_ms + (int64_t)(est->hi_s * 1000);
	return false;
}

void poll_hist_observe(struct poll_hist *h, int64_t now, int progress,
		       const struct poll_limits *l, const struct poll_estimate *est)
{
	int64_t lo, hi;

	if (progress > 0 && progress < 100) {
		if (!h->p1) {
			h->p1 = progress;
			h->p1_ms = now;
		} else if (progress > h->p1 && progress > h->p2) {
			h->p2 = progress;
			h->p2_ms = now;
		}
	}
	h->progress = progress;
	h->last_ms = now;
	poll_window(h, est, l, &lo, &hi);
	if (now > hi)
		h->late++;
	else
		h->late = 0;
}

static int64_t clamp(int64_t v, const struct poll_limits *l)
{
	if (v > l->max_ms)
		v = l->max_ms;
	if (v < l->min_ms)
		v = l->min_ms;
	return v;
}

int64_t poll_schedule_delay(const struct poll_hist *h, const struct poll_estimate *est,
			    const struct poll_limits *l, int64_t now)
{
	int64_t lo, hi, step;
	bool by_rate = poll_window(h, est, l, &lo, &hi);

	step = clamp((hi - lo) / POLL_WINDOW_STEPS, l);
	if (now + step < lo) {
		int64_t until = lo - now;

		/* Cold (only published times): they may be far off, so
		 * ask at half the time the task has run. */
		if (!by_rate && est->samples == 0) {
			int64_t half = (now - h->start_ms) / 2;
			if (half < until)
				until = half;
		}
		return clamp(until, l);
	}
	if (now <= hi)
		return step;
	/* Late: back off from min_ms, doubling per answer since. */
	int64_t d = l->min_ms;
	for (int i = 1; i < h->late && d < l->max_ms; i++)
		d *= 2;
	return clamp(d, l);
}

double poll_hist_duration_s(const struct poll_hist *h, int64_t done_ms,
			    const struct poll_limits *l)
{
	int64_t before = h->last_ms > h->start_ms && h->last_ms < done_ms ? h->last_ms
									   : done_ms;
	int64_t after = (done_ms - before) / 2;

	if (after > l->min_ms)
		after = l->min_ms;
	return (double)(before + after - h->start_ms) / 1000.0;
}

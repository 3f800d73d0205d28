/* The poll schedule: when veofs asks about a task, as pure functions of
 * the task's history and the learned durations. Whole tasks are played
 * on the test clock: a provider that finishes at a known time, polls at
 * the delays the schedule gives, and the lag and the count of polls. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "clock.h"
#include "poll_schedule.h"

#define TIMINGS_SAMPLES_FOR_TEST 10

static const struct poll_limits limits = { .min_ms = 2000, .max_ms = 60000 };

static void start_clock(void)
{
	clock_test_start();
}

static void stop_clock(void)
{
	clock_test_stop();
}

TestSuite(poll_schedule, .init = start_clock, .fini = stop_clock);

struct played {
	int polls;
	int64_t lag_ms;
};

/* Play one task finishing after finish_ms; progress(elapsed) as the
 * provider reports it (NULL: coarse 0/50). The first poll comes after
 * poll.interval, as the submitter schedules it. */
static struct played play(const struct poll_estimate *est, int64_t finish_ms,
			  int (*progress)(int64_t elapsed, int64_t finish))
{
	struct poll_hist h = { .start_ms = now_ms() };
	struct played p = {0};
	int64_t delay = limits.min_ms;

	for (;;) {
		clock_test_advance(delay);
		int64_t now = now_ms(), elapsed = now - h.start_ms;
		p.polls++;
		if (elapsed >= finish_ms) {
			p.lag_ms = elapsed - finish_ms;
			return p;
		}
		int pr = progress ? progress(elapsed, finish_ms) : (elapsed > 1000 ? 50 : 0);
		poll_hist_observe(&h, now, pr, &limits, est);
		delay = poll_schedule_delay(&h, est, &limits, now);
		cr_assert_geq(delay, limits.min_ms);
		cr_assert_leq(delay, limits.max_ms);
		cr_assert_lt(p.polls, 1000);
	}
}

static int smooth(int64_t elapsed, int64_t finish)
{
	return (int)(100 * elapsed / finish);
}

static int no_progress(int64_t elapsed, int64_t finish)
{
	(void)elapsed;
	(void)finish;
	return 0;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Learned from earlier tasks of 72..108 s (90 s +-20%), then 21 tasks
 * over the same range: median lag at most 2 s, at most 15 polls each. */
static void learned_batch(int (*progress)(int64_t, int64_t))
{
	double samples[TIMINGS_SAMPLES_FOR_TEST];
	struct poll_estimate est;
	int64_t lags[21];
	int max_polls = 0, total = 0;

	for (int i = 0; i < TIMINGS_SAMPLES_FOR_TEST; i++)
		samples[i] = 72 + 36.0 * i / (TIMINGS_SAMPLES_FOR_TEST - 1);
	poll_learned_estimate(samples, TIMINGS_SAMPLES_FOR_TEST, &est);
	for (int i = 0; i < 21; i++) {
		struct played p = play(&est, 72000 + 36000LL * i / 20, progress);
		lags[i] = p.lag_ms;
		total += p.polls;
		if (p.polls > max_polls)
			max_polls = p.polls;
	}
	qsort(lags, 21, sizeof(lags[0]), cmp64);
	cr_assert_leq(lags[10], 2000, "median lag %lld ms", (long long)lags[10]);
	cr_assert_leq(max_polls, 15, "%d polls for one task", max_polls);
	cr_assert_leq(total / 21, 12, "%d polls a task on average", total / 21);
}



Test(poll_schedule, coarse_progress_learned_durations)
{
	learned_batch(NULL);
}

Test(poll_schedule, no_progress_learned_durations)
{
	learned_batch(no_progress);
}

Test(poll_schedule, smooth_progress_predicts_the_end_from_its_rate)
{
	struct poll_estimate est;
	struct played p;

	/* Published times say 60-120 s; the task takes 30 s and says so
	 * by its progress. */
	poll_published_estimate("veo-3.1", &est);
	p = play(&est, 30000, smooth);
	cr_assert_leq(p.lag_ms, 3000, "lag %lld ms", (long long)p.lag_ms);
	cr_assert_leq(p.polls, 12, "%d polls", p.polls);
}

Test(poll_schedule, cold_start_is_at_most_about_a_third_late)
{
	struct poll_estimate est;
	struct played p;

	/* Nothing learned, no progress, and the published times are wrong:
	 * the task takes 25 s where 60-120 s were published. */
	poll_published_estimate("veo-3.1", &est);
	p = play(&est, 25000, no_progress);
	cr_assert_leq(p.lag_ms, 25000 / 2, "lag %lld ms", (long long)p.lag_ms);
	cr_assert_leq(p.polls, 10, "%d polls", p.polls);
}

Test(poll_schedule, a_late_task_backs_off_to_the_ceiling)
{
	double samples[] = { 30, 31, 32, 33 };
	struct poll_estimate est;
	struct poll_hist h = { .start_ms = now_ms() };
	int64_t delay = 0;

	poll_learned_estimate(samples, 4, &est);
	for (int i = 0; i < 40; i++) {
		clock_test_advance(i == 0 ? 40000 : delay);
		poll_hist_observe(&h, now_ms(), 50, &limits, &est);
		delay = poll_schedule_delay(&h, &est, &limits, now_ms());
	}
	cr_assert_eq(delay, limits.max_ms);
}

Test(poll_schedule, equal_limits_poll_at_a_fixed_rate)
{
	static const struct poll_limits fixed = { .min_ms = 10000, .max_ms = 10000 };
	struct poll_estimate est;
	struct poll_hist h = { .start_ms = now_ms() };

	poll_published_estimate("veo-3.1-fast", &est);
	for (int i = 0; i < 30; i++) {
		clock_test_advance(10000);
		poll_hist_observe(&h, now_ms(), i * 3, &fixed, &est);
		cr_assert_eq(poll_schedule_delay(&h, &est, &fixed, now_ms()), 10000);
	}
}

Test(poll_schedule, published_times)
{
	struct poll_estimate est;

	poll_published_estimate("veo-3.1-fast", &est);
	cr_assert_float_eq(est.lo_s, 30, 0.01);
	cr_assert_float_eq(est.hi_s, 60, 0.01);
	poll_published_estimate("veo-3.1", &est);
	cr_assert_float_eq(est.lo_s, 60, 0.01);
	cr_assert_float_eq(est.hi_s, 120, 0.01);
	cr_assert_eq(est.samples, 0);
}

Test(poll_schedule, few_samples_leave_room_around_them)
{
	double one[] = { 40 };
	struct poll_estimate est;

	poll_learned_estimate(one, 1, &est);
	cr_assert_leq(est.lo_s, 34.01);
	cr_assert_geq(est.hi_s, 47.99);
	cr_assert_eq(est.samples, 1);
}

Test(poll_schedule, duration_is_the_middle_of_the_last_gap)
{
	struct poll_hist h = { .start_ms = 1000 };
	struct poll_estimate est = { .samples = 1, .lo_s = 10, .hi_s = 20 };

	poll_hist_observe(&h, 21000, 50, &limits, &est);
	cr_assert_float_eq(poll_hist_duration_s(&h, 23000, &limits), 21.0, 0.001);
	/* A wide gap: at most min_ms past its start. */
	cr_assert_float_eq(poll_hist_duration_s(&h, 41000, &limits), 22.0, 0.001);
}

/* The lister: one GET /videos brings the news of many tasks, and a
 * provider that cannot list is polled task by task. Against the
 * in-memory provider with its list op, on the test clock. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "engine.h"
#include "engine_env.h"
#include "fake_remote.h"
#include "lister.h"

static void setup(void)
{
	engine_env_setup_listing(true);
}

TestSuite(lister, .init = setup, .fini = engine_env_teardown, .timeout = 60);

#define N 6

Test(lister, one_listing_brings_the_news_of_many_tasks)
{
	struct task *t[N];
	char id[N][64], name[16];
	int gets;

	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "many%d", i);
		t[i] = queued_task(name, id[i], sizeof(id[i]));
	}
	gets = fake_remote_calls(env.fake, FAKE_GET);
	for (int i = 0; i < N; i++)
		fake_remote_job_set(env.fake, id[i], TASK_IN_PROGRESS, 40);
	for (int i = 0; i < N; i++)
		wait_state(t[i], TASK_IN_PROGRESS, 40, 30000);
	for (int i = 0; i < N; i++)
		fake_remote_job_set(env.fake, id[i], TASK_COMPLETED, 100);
	for (int i = 0; i < N; i++)
		wait_video(t[i], 60000);
	cr_assert_eq(lister_mode(env.e->lister), 1);
	cr_assert_geq(fake_remote_calls(env.fake, FAKE_LIST), 1);
	cr_assert_leq(fake_remote_calls(env.fake, FAKE_GET) - gets, 1,
		      "%d polls of single tasks where listings were enough",
		      fake_remote_calls(env.fake, FAKE_GET) - gets);
	cr_assert_lt(fake_remote_calls(env.fake, FAKE_LIST), 2 * N,
		     "one listing serves every task");
}

/* LISTER_MIN_TASKS tasks (a listing would pay off) run to the end;
 * at least min_gets polls of single tasks were made. */
static void polled_on_their_own(int min_gets)
{
	struct task *t[LISTER_MIN_TASKS];
	char id[LISTER_MIN_TASKS][64], name[16];

	for (int i = 0; i < LISTER_MIN_TASKS; i++) {
		snprintf(name, sizeof(name), "own%d", i);
		t[i] = queued_task(name, id[i], sizeof(id[i]));
	}
	for (int i = 0; i < LISTER_MIN_TASKS; i++)
		fake_remote_job_set(env.fake, id[i], TASK_IN_PROGRESS, 30);
	for (int i = 0; i < LISTER_MIN_TASKS; i++)
		wait_state(t[i], TASK_IN_PROGRESS, 30, 30000);
	for (int i = 0; i < LISTER_MIN_TASKS; i++)
		fake_remote_job_set(env.fake, id[i], TASK_COMPLETED, 100);
	for (int i = 0; i < LISTER_MIN_TASKS; i++)
		wait_video(t[i], 60000);
	cr_assert_geq(fake_remote_calls(env.fake, FAKE_GET), min_gets);
}

Test(lister, a_single_task_is_polled_on_its_own)
{
	char id[64];
	struct task *t = queued_task("alone", id, sizeof(id));

	fake_remote_job_set(env.fake, id, TASK_COMPLETED, 100);
	wait_video(t, 60000);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_LIST), 0,
		     "below LISTER_MIN_TASKS a listing does not pay off");
}

Test(lister, a_provider_without_the_route_is_polled_task_by_task)
{
	fake_remote_fail_http(env.fake, FAKE_LIST, 404, -1, NULL);
	polled_on_their_own(LISTER_MIN_TASKS);
	cr_assert_eq(lister_mode(env.e->lister), 0);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_LIST), 1, "remembered for the mount");
}

Test(lister, an_answer_that_is_not_a_list_means_no_listing)
{
	fake_remote_answer(env.fake, FAKE_LIST, "{\"object\":\"video\",\"id\":\"x\"}");
	polled_on_their_own(LISTER_MIN_TASKS);
	cr_assert_eq(lister_mode(env.e->lister), 0);
	cr_assert_eq(fake_remote_calls(env.fake, FAKE_LIST), 1);
}

Test(lister, a_task_the_listing_misses_is_polled)
{
	/* The first listing does not have the task: it goes back to polls
	 * while the listing stays in use. */
	fake_remote_answer(env.fake, FAKE_LIST,
			   "{\"object\":\"list\",\"data\":[],\"has_more\":false}");
	polled_on_their_own(LISTER_MIN_TASKS);
	cr_assert_eq(lister_mode(env.e->lister), 1);
}

Test(lister, a_transient_failure_falls_back_to_polls)
{
	/* The task still finishes: by its own polls, or by the next
	 * listing, which works again. */
	fake_remote_fail_http(env.fake, FAKE_LIST, 503, -1, NULL);
	polled_on_their_own(0);
	cr_assert_neq(lister_mode(env.e->lister), 0, "a 503 is not 'cannot list'");
}

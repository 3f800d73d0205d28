/* Helpers every unit test may use: private directories and waiting for a
 * condition. They link against util alone. */
#include "test_support.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "fsutil.h"

char *test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path = NULL;

	if (asprintf(&path, "%s/veofs-unit-XXXXXX", base && *base ? base : "/tmp") < 0)
		abort();
	if (!mkdtemp(path))
		abort();
	return path;
}

void test_tmpdir_remove(char *path)
{
	if (path)
		fs_remove_tree(AT_FDCWD, path);
	free(path);
}

void test_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* While a test waits, its stopped clock runs this many ms per real ms. */
#define TEST_CLOCK_STEP_MS 20

void test_time_passes(int ms)
{
	if (!clock_test_active()) {
		test_sleep_ms(ms);
		return;
	}
	while (ms > 0) {
		int step = ms < TEST_CLOCK_STEP_MS ? ms : TEST_CLOCK_STEP_MS;
		clock_test_advance(step);
		ms -= step;
		test_sleep_ms(1);
	}
}

bool test_wait_until(bool (*pred)(void *ctx), void *ctx, int timeout_ms)
{
	int64_t end = real_ms() + timeout_ms;

	for (;;) {
		if (pred(ctx))
			return true;
		if (real_ms() >= end)
			return false;
		if (clock_test_active()) {
			clock_test_advance(TEST_CLOCK_STEP_MS);
			test_sleep_ms(1);
		} else {
			test_sleep_ms(5);
		}
	}
}

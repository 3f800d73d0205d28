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

bool test_wait_until(bool (*pred)(void *ctx), void *ctx, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;

	for (;;) {
		if (pred(ctx))
			return true;
		if (now_ms() >= end)
			return false;
		test_sleep_ms(5);
	}
}

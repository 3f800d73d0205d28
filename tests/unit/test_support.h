/* Helpers every unit test may use (test_support.c). */
#ifndef VEOFS_TEST_SUPPORT_H
#define VEOFS_TEST_SUPPORT_H

#include <stdbool.h>

/* A fresh private directory under $TMPDIR (malloc'd path); aborts on failure. */
char *test_tmpdir(void);
/* rm -rf path and free it. */
void test_tmpdir_remove(char *path);
/* Polls pred every 5 ms until it holds or timeout_ms passed. */
bool test_wait_until(bool (*pred)(void *ctx), void *ctx, int timeout_ms);
void test_sleep_ms(int ms);

#endif

/* Helpers every unit test may use (test_support.c). */
#ifndef VEOFS_TEST_SUPPORT_H
#define VEOFS_TEST_SUPPORT_H

#include <stdbool.h>

/* A fresh private directory under $TMPDIR (malloc'd path); aborts on failure. */
char *test_tmpdir(void);
/* rm -rf path and free it. */
void test_tmpdir_remove(char *path);
/* Polls pred until it holds or timeout_ms of real time passed. When the
 * test clock is in use (clock_test_start), it runs on while the test
 * waits, many times faster than real time. */
bool test_wait_until(bool (*pred)(void *ctx), void *ctx, int timeout_ms);
/* Real sleep. */
void test_sleep_ms(int ms);
/* Let ms of time pass: on the test clock, quickly; else a real sleep. */
void test_time_passes(int ms);

#endif

/* Time as veofs sees it: a monotonic clock in milliseconds for deadlines
 * and schedules, and the wall clock for what users read (events, mtimes). */
#ifndef VEOFS_CLOCK_H
#define VEOFS_CLOCK_H

#include <stdint.h>

/* Monotonic milliseconds; only differences mean anything. */
int64_t now_ms(void);

#endif

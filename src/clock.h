/* An injectable clock so storage and timers can be tested at chosen times. */
#ifndef TERN_CLOCK_H
#define TERN_CLOCK_H

#include <stdint.h>

/* Wall-clock milliseconds since the epoch (store timestamps). */
int64_t clock_now_ms(void);
/* Monotonic milliseconds (timeouts, intervals). */
int64_t clock_mono_ms(void);
/* Tests: make clock_now_ms return fixed values (ms > 0), or 0 to restore. */
void clock_set_fake_ms(int64_t ms);

#endif

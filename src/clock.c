/* Wall and monotonic clocks, with a fake wall clock for tests. */
#include "src/clock.h"

#include <time.h>

static int64_t fake_now_ms;

int64_t clock_now_ms(void)
{
    if (fake_now_ms > 0)
        return fake_now_ms;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void clock_set_fake_ms(int64_t ms)
{
    fake_now_ms = ms;
}

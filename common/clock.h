/* clock: the monotonic clock in milliseconds, for timers and deadlines. */
#ifndef AKG_CLOCK_H
#define AKG_CLOCK_H

#include <time.h>

static inline long monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

#endif

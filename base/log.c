/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Process-wide logging. The level lives in an atomic so the hot-path check
 * (ax_log_enabled) is one relaxed load; the sink is swapped and called under
 * a mutex so lines never interleave and a sink is never called after
 * ax_log_set_sink() has replaced it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "axon/log.h"
#include "base/ax__log_limit.h"

static void default_sink(int level, const char *module, const char *msg, void *user);

static atomic_int log_level = AX_LOG_WARN;
static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static ax_log_sink_fn sink_fn = default_sink;
static void *sink_user;

static const char *const level_names[] = {"off", "error", "warn", "info", "debug", "trace"};

const char *ax_log_level_name(int level)
{
    if (level < AX_LOG_OFF || level > AX_LOG_TRACE)
        return "?";
    return level_names[level];
}

int ax_log_level_parse(const char *name, int *level)
{
    if (!name || !level)
        return AX_EINVAL;
    for (int i = AX_LOG_OFF; i <= AX_LOG_TRACE; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *level = i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *level = AX_LOG_WARN;
        return 0;
    }
    return AX_EINVAL;
}

void ax_log_set_level(int level)
{
    if (level < AX_LOG_OFF)
        level = AX_LOG_OFF;
    if (level > AX_LOG_TRACE)
        level = AX_LOG_TRACE;
    atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

int ax_log_level(void)
{
    return atomic_load_explicit(&log_level, memory_order_relaxed);
}

bool ax_log_enabled(int level)
{
    return level > AX_LOG_OFF && level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

void ax_log_set_sink(ax_log_sink_fn fn, void *user)
{
    pthread_mutex_lock(&sink_lock);
    sink_fn = fn ? fn : default_sink;
    sink_user = fn ? user : NULL;
    pthread_mutex_unlock(&sink_lock);
}

static void default_sink(int level, const char *module, const char *msg, void *user)
{
    (void)user;
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%02d:%02d:%02d.%03ld %-5s %s: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000, ax_log_level_name(level), module ? module : "-", msg);
}

void ax_log_vwrite(int level, const char *module, const char *fmt, va_list ap)
{
    if (!ax_log_enabled(level))
        return;
    char buf[1024];
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n >= (int)sizeof buf) /* mark truncation rather than cut silently */
        memcpy(buf + sizeof buf - 4, "...", 4);
    pthread_mutex_lock(&sink_lock);
    sink_fn(level, module, buf, sink_user);
    pthread_mutex_unlock(&sink_lock);
}

void ax_log_write(int level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ax_log_vwrite(level, module, fmt, ap);
    va_end(ap);
}

/* The window restarts at the first line after it ended; whoever wins the
 * exchange of window_start resets the count, and losers count in the new
 * window (a line more or less at the edge, never a lock on a log path). */
static atomic_uint limits_epoch;

void ax__log_limits_reset(void)
{
    atomic_fetch_add_explicit(&limits_epoch, 1, memory_order_relaxed);
}

bool ax__log_limit_take(struct ax__log_limit *lim, int64_t now_ns, unsigned *suppressed)
{
    *suppressed = 0;
    int64_t now = now_ns ? now_ns : 1; /* 0 means "no window yet" */
    int64_t start = atomic_load_explicit(&lim->window_start, memory_order_relaxed);
    unsigned epoch = atomic_load_explicit(&limits_epoch, memory_order_relaxed);
    bool reset = atomic_exchange_explicit(&lim->epoch, epoch, memory_order_relaxed) != epoch;
    if (reset) {
        atomic_store_explicit(&lim->window_start, now, memory_order_relaxed);
        atomic_store_explicit(&lim->used, 0, memory_order_relaxed);
    } else if ((start == 0 || now - start >= AX__LOG_LIMIT_WINDOW_NS) &&
               atomic_compare_exchange_strong_explicit(
                   &lim->window_start, &start, now, memory_order_relaxed, memory_order_relaxed)) {
        atomic_store_explicit(&lim->used, 0, memory_order_relaxed);
    }
    if (atomic_fetch_add_explicit(&lim->used, 1, memory_order_relaxed) >= AX__LOG_LIMIT_BURST) {
        atomic_fetch_add_explicit(&lim->suppressed, 1, memory_order_relaxed);
        return false;
    }
    *suppressed = atomic_exchange_explicit(&lim->suppressed, 0, memory_order_relaxed);
    return true;
}

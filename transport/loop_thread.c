/* SPDX-License-Identifier: Apache-2.0 */
/* A loop on a thread of its own. Stopping goes through ax_loop_post(), the
 * loop's only thread-safe entry, so no flag is shared between threads.
 * Real-time settings go into the thread's creation attributes, so a
 * process that may not have them gets EPERM from pthread_create() and no
 * thread at all, rather than a thread running with less than asked. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/ax__loop.h"

struct ax_loop_thread {
    pthread_t tid;
    ax_loop *loop;
    int result;
    char name[16];
};

static void *thread_main(void *arg)
{
    ax_loop_thread *t = arg;
    if (t->name[0])
        pthread_setname_np(pthread_self(), t->name);
    t->result = ax_loop_run(t->loop);
    return NULL;
}

static void say(char *why, size_t len, const char *text, const char *arg)
{
    if (why && len)
        snprintf(why, len, "%s%s", text, arg);
}

int ax__cpus_parse(const char *s, cpu_set_t *set, char *why, size_t why_len)
{
    cpu_set_t local;
    cpu_set_t *out = set ? set : &local;
    CPU_ZERO(out);
    const char *p = s;
    while (*p) {
        char *end;
        long lo = strtol(p, &end, 10), hi = lo;
        if (end == p || lo < 0) {
            say(why, why_len, "expected a CPU list like 0,2-3 at: ", p);
            return AX_EINVAL;
        }
        p = end;
        if (*p == '-') {
            hi = strtol(p + 1, &end, 10);
            if (end == p + 1 || hi < lo) {
                say(why, why_len, "expected a CPU range like 2-3 at: ", p);
                return AX_EINVAL;
            }
            p = end;
        }
        if (hi >= CPU_SETSIZE) {
            say(why, why_len, "CPU number too large: ", s);
            return AX_EINVAL;
        }
        for (long c = lo; c <= hi; c++)
            CPU_SET((int)c, out);
        if (*p == ',')
            p++;
        else if (*p) {
            say(why, why_len, "expected ',' or the end at: ", p);
            return AX_EINVAL;
        }
    }
    return 0;
}

/* Check @rt and fill what pthreads takes: *@has_cpus when a set is given. */
static int rt_prepare(const struct ax_thread_rt *rt, int *policy, struct sched_param *sp,
                      cpu_set_t *cpus, bool *has_cpus, char *why, size_t why_len)
{
    static const int policies[] = {SCHED_OTHER, SCHED_FIFO, SCHED_RR};
    if ((unsigned)rt->policy > AX_SCHED_RR) {
        say(why, why_len, "unknown scheduling policy", "");
        return AX_EINVAL;
    }
    *policy = policies[rt->policy];
    memset(sp, 0, sizeof *sp);
    if (rt->policy != AX_SCHED_OTHER) {
        if (rt->priority < 1 || rt->priority > 99) {
            say(why, why_len, "a real-time priority is 1 to 99", "");
            return AX_EINVAL;
        }
        sp->sched_priority = rt->priority;
    }
    *has_cpus = rt->cpus && rt->cpus[0];
    if (!*has_cpus)
        return 0;
    int rc = ax__cpus_parse(rt->cpus, cpus, why, why_len);
    if (rc < 0)
        return rc;
    cpu_set_t online;
    if (sched_getaffinity(0, sizeof online, &online) == 0) {
        CPU_AND(&online, &online, cpus);
        if (CPU_COUNT(&online) == 0) {
            say(why, why_len, "none of these CPUs is available to this process: ", rt->cpus);
            return AX_EINVAL;
        }
    }
    return 0;
}

static int rt_error(int err, const struct ax_thread_rt *rt, char *why, size_t why_len)
{
    if (err == EPERM) {
        if (why && why_len)
            snprintf(why, why_len,
                     "not permitted: a real-time policy needs CAP_SYS_NICE (root, or "
                     "setcap cap_sys_nice+ep on the program) or an RLIMIT_RTPRIO of at least "
                     "%d (ulimit -r, limits.conf rtprio)",
                     rt->priority);
        return AX_EACCES;
    }
    if (err == EINVAL) {
        say(why, why_len, "the kernel refused these CPUs or this policy", "");
        return AX_EINVAL;
    }
    say(why, why_len, "could not apply the thread settings", "");
    return ax_err_from_errno(err);
}

int ax_thread_set_rt(const struct ax_thread_rt *rt, char *why, size_t why_len)
{
    if (!rt)
        return AX_EINVAL;
    int policy;
    struct sched_param sp;
    cpu_set_t cpus;
    bool has_cpus;
    int rc = rt_prepare(rt, &policy, &sp, &cpus, &has_cpus, why, why_len);
    if (rc < 0)
        return rc;
    cpu_set_t before;
    bool had = sched_getaffinity(0, sizeof before, &before) == 0;
    if (has_cpus && (rc = pthread_setaffinity_np(pthread_self(), sizeof cpus, &cpus)) != 0)
        return rt_error(rc, rt, why, why_len);
    if ((rc = pthread_setschedparam(pthread_self(), policy, &sp)) != 0) {
        if (has_cpus && had) /* nothing changed on failure */
            pthread_setaffinity_np(pthread_self(), sizeof before, &before);
        return rt_error(rc, rt, why, why_len);
    }
    return 0;
}

int ax_loop_thread_start_rt(ax_loop_thread **out, ax_loop *loop, const char *name,
                            const struct ax_thread_rt *rt, char *why, size_t why_len)
{
    if (!out || !loop)
        return AX_EINVAL;
    pthread_attr_t attr;
    pthread_attr_t *ap = NULL;
    if (rt) {
        int policy;
        struct sched_param sp;
        cpu_set_t cpus;
        bool has_cpus;
        int rc = rt_prepare(rt, &policy, &sp, &cpus, &has_cpus, why, why_len);
        if (rc < 0)
            return rc;
        pthread_attr_init(&attr);
        ap = &attr;
        if (rt->policy != AX_SCHED_OTHER) {
            pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
            pthread_attr_setschedpolicy(&attr, policy);
            pthread_attr_setschedparam(&attr, &sp);
        }
        if (has_cpus)
            pthread_attr_setaffinity_np(&attr, sizeof cpus, &cpus);
    }
    ax_loop_thread *t = calloc(1, sizeof *t);
    if (!t) {
        if (ap)
            pthread_attr_destroy(ap);
        return AX_ENOMEM;
    }
    t->loop = loop;
    if (name)
        strncpy(t->name, name, sizeof t->name - 1);
    int err = pthread_create(&t->tid, ap, thread_main, t);
    if (ap)
        pthread_attr_destroy(ap);
    if (err != 0) {
        free(t);
        return rt ? rt_error(err, rt, why, why_len) : AX_EAGAIN;
    }
    *out = t;
    return 0;
}

int ax_loop_thread_start(ax_loop_thread **out, ax_loop *loop, const char *name)
{
    return ax_loop_thread_start_rt(out, loop, name, NULL, NULL, 0);
}

static void stop_task(void *arg)
{
    ax_loop_stop(arg);
}

int ax_loop_thread_stop(ax_loop_thread *t)
{
    if (!t)
        return AX_EINVAL;
    int rc = ax_loop_post(t->loop, stop_task, t->loop);
    if (rc < 0)
        return rc; /* the thread keeps running: nothing was joined or freed */
    pthread_join(t->tid, NULL);
    rc = t->result;
    free(t);
    return rc;
}

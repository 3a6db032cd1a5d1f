/* SPDX-License-Identifier: Apache-2.0 */
/* A loop on a thread of its own. Stopping goes through ax_loop_post(), the
 * loop's only thread-safe entry, so no flag is shared between threads. */
#include <pthread.h>
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

int ax_loop_thread_start(ax_loop_thread **out, ax_loop *loop, const char *name)
{
    if (!out || !loop)
        return AX_EINVAL;
    ax_loop_thread *t = calloc(1, sizeof *t);
    if (!t)
        return AX_ENOMEM;
    t->loop = loop;
    if (name) {
        strncpy(t->name, name, sizeof t->name - 1);
    }
    if (pthread_create(&t->tid, NULL, thread_main, t) != 0) {
        free(t);
        return AX_EAGAIN;
    }
    *out = t;
    return 0;
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

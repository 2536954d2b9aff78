/* sessions: one record per (frontend, session id). A session is bound to
 * one worker when it first sends a request (the least-loaded one, or a new
 * worker of its own with --isolate) and stays there while that worker
 * lives, so its namespace is always in the same process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/modes.h"
#include "gateway/gateway.h"

static void session_key(const struct frontend *fe, const char *sid, char *out, size_t outlen)
{
    snprintf(out, outlen, "%u/%s", fe->id, sid);
}

struct session *session_find(struct gateway *gw, struct frontend *fe, const char *sid)
{
    char key[300];
    struct session *s;
    session_key(fe, sid, key, sizeof key);
    HASH_FIND_STR(gw->sessions, key, s);
    return s;
}

struct session *session_get(struct gateway *gw, struct frontend *fe, const char *sid)
{
    struct session *s = session_find(gw, fe, sid);
    if (s)
        return s;
    char key[300];
    session_key(fe, sid, key, sizeof key);
    s = calloc(1, sizeof *s);
    if (!s || !(s->key = strdup(key)) || !(s->sid = strdup(sid))) {
        if (s)
            free(s->key);
        free(s);
        return NULL;
    }
    s->fe = fe;
    HASH_ADD_KEYPTR(hh, gw->sessions, s->key, strlen(s->key), s);
    return s;
}

/* The worker that runs this session's requests, assigning one if needed.
 * NULL when none can be had (the log says why). */
struct worker *session_worker(struct gateway *gw, struct session *s)
{
    if (s->worker)
        return s->worker;
    struct worker *w = gw->opts.isolate ? worker_spawn(gw) : worker_least_loaded(gw);
    if (!w)
        return NULL;
    s->worker = w;
    w->nsessions++;
    log_info("session %s (frontend %u) assigned to worker %u", s->sid, s->fe->id, w->id);
    return w;
}

/* A worker died: its sessions get a fresh worker on their next request. */
void sessions_detach_worker(struct gateway *gw, struct worker *w)
{
    struct session *s, *tmp;
    HASH_ITER(hh, gw->sessions, s, tmp)
    {
        if (s->worker == w)
            s->worker = NULL;
    }
    w->nsessions = 0;
}

void sessions_free(struct gateway *gw)
{
    struct session *s, *tmp;
    HASH_ITER(hh, gw->sessions, s, tmp)
    {
        HASH_DEL(gw->sessions, s);
        free(s->key);
        free(s->sid);
        free(s);
    }
}

/* sessions: one record per (frontend, session id). A session is bound to
 * one worker of its frontend's user when it first sends a request (the
 * least-loaded one, or a new worker of its own with --isolate) and stays
 * there while that worker lives, so its namespace is always in the same
 * process. Workers know a session by its key, "<frontend id>/<session id>",
 * so a session id claimed on one frontend never reaches another's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
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

static void session_free(struct gateway *gw, struct session *s)
{
    HASH_DEL(gw->sessions, s);
    if (s->fe->nsessions)
        s->fe->nsessions--;
    free(s->key);
    free(s->sid);
    free(s);
}

/* True when every session runs in the one namespace of the one worker
 * (launch, not multi mode, not --isolate): a session is then only
 * bookkeeping, and forgetting it loses nothing. */
static bool sessions_share_a_namespace(const struct gateway *gw)
{
    const struct gateway_options *o = &gw->opts;
    return !(o->modes & MODE_MULTI) && !o->isolate && o->workers <= 1;
}

/* At --max-sessions: forget the session used least recently with nothing
 * in flight (no request points at it then), if sessions share a namespace. Clients come and go (each
 * JupyterLab page load, each `jupyter console --existing` is a new
 * session) and never say so; where a session is a namespace of its own,
 * it is not dropped behind its notebook's back. */
static bool session_evict_idle(struct gateway *gw)
{
    if (!sessions_share_a_namespace(gw))
        return false;
    struct session *s, *tmp, *oldest = NULL;
    HASH_ITER(hh, gw->sessions, s, tmp)
    {
        if (!s->inflight && (!oldest || s->last_used_ms < oldest->last_used_ms))
            oldest = s;
    }
    if (!oldest)
        return false;
    log_info("session %s forgotten (--max-sessions %d reached; it was idle the longest)", oldest->sid,
             gw->opts.max_sessions);
    if (oldest->worker && oldest->worker->nsessions)
        oldest->worker->nsessions--;
    session_free(gw, oldest);
    return true;
}

/* The session, created if new; NULL at --max-sessions or out of memory. */
struct session *session_get(struct gateway *gw, struct frontend *fe, const char *sid)
{
    struct session *s = session_find(gw, fe, sid);
    if (s) {
        s->last_used_ms = monotonic_ms();
        return s;
    }
    if (HASH_COUNT(gw->sessions) >= (unsigned)gw->opts.max_sessions && !session_evict_idle(gw)) {
        log_warn("session %s refused: --max-sessions %d reached", sid, gw->opts.max_sessions);
        return NULL;
    }
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
    s->last_used_ms = monotonic_ms();
    fe->nsessions++;
    HASH_ADD_KEYPTR(hh, gw->sessions, s->key, strlen(s->key), s);
    systemd_notify_status(gw);
    return s;
}

/* The worker that runs this session's requests, assigning one if needed
 * (and telling it the session's modes). NULL when none can be had. */
struct worker *session_worker(struct gateway *gw, struct session *s)
{
    if (s->worker)
        return s->worker;
    const struct owner *owner = &s->fe->owner;
    struct worker *w = gw->opts.isolate ? worker_spawn(gw, owner) : worker_least_loaded(gw, owner);
    if (!w)
        return NULL;
    struct span declare[] = {span_str("session"), span_str(s->key), span_str(s->fe->mode_name)};
    if (worker_send(w, declare, 3) < 0)
        return NULL;
    s->worker = w;
    w->nsessions++;
    log_info("session %s (frontend %u, user %s) assigned to worker %u", s->sid, s->fe->id, owner->name, w->id);
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

/* A frontend went away: forget its namespaces, and retire isolated
 * workers left without sessions. */
void sessions_drop_frontend(struct gateway *gw, struct frontend *fe)
{
    struct session *s, *tmp;
    HASH_ITER(hh, gw->sessions, s, tmp)
    {
        if (s->fe != fe)
            continue;
        struct worker *w = s->worker;
        if (w) {
            struct span reset[] = {span_str("reset"), span_str(s->key)};
            worker_send(w, reset, 2);
            if (w->nsessions && --w->nsessions == 0 && gw->opts.isolate)
                worker_retire(w);
        }
        session_free(gw, s);
    }
    systemd_notify_status(gw);
}

void sessions_free(struct gateway *gw)
{
    struct session *s, *tmp;
    HASH_ITER(hh, gw->sessions, s, tmp) session_free(gw, s);
}

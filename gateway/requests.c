/* requests: requests in flight to workers. Each holds what its answer
 * needs after the original message is gone: the routing identities, the
 * raw header (the parent_header of every output it causes) and the channel
 * to reply on. Workers refer to a request by its numeric id only; the
 * router checks that the id belongs to the worker that names it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utlist.h>

#include "gateway/gateway.h"

/* Longer than a tick of the kernel's clock (Linux ticks at least every
 * 10 ms), so the timeout of the poll that waits for the worker falls after
 * the next tick and needs no reprogramming of the clock: a 2 ms timeout
 * did, around every request (4.5 µs each on a 4 ms tick). */
#define BUSY_DELAY_MS 10

struct request *request_new(struct gateway *gw, struct frontend *fe, enum connfile_channel ch,
                            const struct jmsg *m)
{
    size_t bytes = sizeof(struct request) + m->nidents * sizeof(struct span);
    for (size_t i = 0; i < m->nidents; i++)
        bytes += jmsg_frame(m, i).len;
    struct span parent = jmsg_header_raw(m);
    bytes += parent.len;
    /* One block: the struct, the identity spans, then their bytes. */
    struct request *req = calloc(1, bytes);
    if (!req)
        return NULL;
    req->id = ++gw->next_request_id;
    req->fe = fe;
    req->channel = ch;
    snprintf(req->msg_type, sizeof req->msg_type, "%s", m->msg_type);
    req->idents = (struct span *)(req + 1);
    req->nidents = m->nidents;
    char *p = (char *)(req->idents + m->nidents);
    for (size_t i = 0; i < m->nidents; i++) {
        struct span f = jmsg_frame(m, i);
        memcpy(p, f.data, f.len);
        req->idents[i] = (struct span){p, f.len};
        p += f.len;
    }
    memcpy(p, parent.data, parent.len);
    req->parent = (struct span){p, parent.len};
    HASH_ADD(hh, gw->requests, id, sizeof req->id, req);
    return req;
}

struct request *request_find(struct gateway *gw, uint64_t id)
{
    struct request *req;
    HASH_FIND(hh, gw->requests, &id, sizeof id, req);
    return req;
}

struct request *request_find_input(struct gateway *gw, const char *input_id)
{
    struct request *req;
    HASH_FIND(hh_input, gw->inputs, input_id, strlen(input_id), req);
    return req;
}

/* The oldest pending input of a session: frontends such as jupyter_client
 * answer without a parent header, so the session is all that identifies. */
struct request *request_oldest_input(struct gateway *gw, struct frontend *fe, const char *sid)
{
    struct request *req, *tmp;
    HASH_ITER(hh_input, gw->inputs, req, tmp)
    {
        if (req->fe == fe && req->session && strcmp(req->session->sid, sid) == 0)
            return req;
    }
    return NULL;
}

/* Record (or, with "", clear) the msg_id of the request's pending input. */
void request_set_input(struct gateway *gw, struct request *req, const char *input_id)
{
    if (req->input_id[0])
        HASH_DELETE(hh_input, gw->inputs, req);
    snprintf(req->input_id, sizeof req->input_id, "%s", input_id);
    if (req->input_id[0])
        HASH_ADD(hh_input, gw->inputs, input_id, strlen(req->input_id), req);
}

/* The request is sent to worker w for session s. */
void request_attach(struct request *req, struct session *s, struct worker *w)
{
    req->session = s;
    req->worker = w;
    w->inflight++;
    DL_APPEND2(s->inflight, req, session_prev, session_next);
}

/* A request's status busy waits for the worker's first answer, and goes
 * out just before it, or BUSY_DELAY_MS later if the cell has said nothing
 * by then. A short cell's busy, outputs, reply and idle then reach the
 * frontend together: one wake-up of the client instead of two. */
void request_defer_busy(struct gateway *gw, struct request *req)
{
    if (gw->busy_head + gw->busy_len == gw->busy_cap) {
        if (gw->busy_head > 0) { /* slide the queue to the front */
            memmove(gw->busy_due, gw->busy_due + gw->busy_head, gw->busy_len * sizeof *gw->busy_due);
            gw->busy_head = 0;
        } else {
            size_t cap = gw->busy_cap ? gw->busy_cap * 2 : 64;
            struct busy_due *due = realloc(gw->busy_due, cap * sizeof *due);
            if (!due) {
                request_say_busy(req);
                return;
            }
            gw->busy_due = due;
            gw->busy_cap = cap;
        }
    }
    gw->busy_due[gw->busy_head + gw->busy_len++] =
        (struct busy_due){req->id, monotonic_ms() + BUSY_DELAY_MS};
}

void request_say_busy(struct request *req)
{
    if (req->busy_said)
        return;
    publish_status(req->fe, req->parent, "busy");
    req->busy_said = true;
}

/* Say busy for the requests whose delay is over. Returns the ms until the
 * next is due, or -1 if none waits. */
long requests_due_busy(struct gateway *gw, long now_ms)
{
    while (gw->busy_len) {
        struct busy_due *d = &gw->busy_due[gw->busy_head];
        struct request *req = request_find(gw, d->request_id);
        if (req && !req->busy_said && d->due_ms > now_ms)
            return d->due_ms - now_ms;
        if (req)
            request_say_busy(req);
        gw->busy_head++;
        gw->busy_len--;
    }
    gw->busy_head = 0;
    return -1;
}

/* Leave the session's and the worker's in-flight counts. A finished
 * request keeps no session: the session may be forgotten before the
 * request is (it is kept a while for late output). */
static void request_settle(struct gateway *gw, struct request *req)
{
    if (req->finished)
        return;
    req->finished = true;
    if (req->session)
        DL_DELETE2(req->session->inflight, req, session_prev, session_next);
    req->session = NULL;
    if (req->worker && req->worker->inflight)
        req->worker->inflight--;
    request_set_input(gw, req, "");
}

/* The request is answered. It is kept among the last finished ones, so
 * output that comes later (a task or thread its cell started) still goes
 * to the right cell; the oldest of those is freed. */
void request_finish(struct gateway *gw, struct request *req)
{
    size_t n = sizeof gw->finished / sizeof gw->finished[0];
    request_settle(gw, req);
    struct request *oldest = request_find(gw, gw->finished[gw->finished_next]);
    if (oldest && oldest->finished)
        request_free(gw, oldest);
    gw->finished[gw->finished_next] = req->id;
    gw->finished_next = (gw->finished_next + 1) % n;
}

void request_free(struct gateway *gw, struct request *req)
{
    request_settle(gw, req);
    HASH_DELETE(hh, gw->requests, req);
    free(req);
}

/* Its frontend is gone: nobody to answer. Workers' output for these ids
 * is dropped from now on. */
void requests_drop_frontend(struct gateway *gw, struct frontend *fe)
{
    struct request *req, *tmp;
    HASH_ITER(hh, gw->requests, req, tmp)
    {
        if (req->fe == fe)
            request_free(gw, req);
    }
}

void requests_free(struct gateway *gw)
{
    free(gw->busy_due);
    gw->busy_due = NULL;
    gw->busy_head = gw->busy_len = gw->busy_cap = 0;
    struct request *req, *tmp;
    HASH_ITER(hh, gw->requests, req, tmp) request_free(gw, req);
}

/* frontend: the five ZMQ sockets bound for one connection file, with its
 * key and replay guard (heartbeat echoes and iopub subscriptions are
 * handled inside zsock.c). Every message read here is verified before anything
 * else looks at it; a bad one is logged once and dropped. Valid requests go
 * to the router's own answers (kernel_info, shutdown, interrupt) or to the
 * worker that holds the request's session. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/modes.h"
#include "gateway/gateway.h"

#define REPLAY_HISTORY 65536
/* A peer that does not read loses messages (as with ZMQ's high-water mark,
 * for that peer only, as ipykernel), so a stalled one costs the router at
 * most this much: 1000 messages of 64 KiB (stream text comes in 64 KiB). */
#define MAX_QUEUED_PER_PEER (1000u * 65536u)

static const enum zsock_type socket_types[CH_COUNT] = {ZSOCK_ROUTER, ZSOCK_XPUB, ZSOCK_ROUTER, ZSOCK_ROUTER,
                                                       ZSOCK_REP};
static const char *const channel_names[CH_COUNT] = {"shell", "iopub", "stdin", "control", "hb"};

static void give_ipc_paths(struct frontend *fe);
static void on_message(void *owner, int ch, const struct span *frames, size_t nframes, size_t size,
                       bool too_many_frames);

static int bind_channel(struct frontend *fe, enum connfile_channel ch, char *err, size_t errlen)
{
    char endpoint[512], why[256];
    struct zsock_options o = {.name = channel_names[ch], .max_message = fe->gw->opts.max_message_size,
                              .max_frames = JMSG_MAX_FRAMES, .max_queued = MAX_QUEUED_PER_PEER,
                              .handler = on_message, .owner = fe, .tag = ch};
    connfile_endpoint(&fe->cf, ch, endpoint, sizeof endpoint);
    fe->sockets[ch] = zsock_bind(fe->gw->zhub, socket_types[ch], endpoint, &o, why, sizeof why);
    if (!fe->sockets[ch]) {
        snprintf(err, errlen, "cannot bind %s to %s: %s", channel_names[ch], endpoint, why);
        return -1;
    }
    if (fe->cf.ports[ch] == 0) /* tcp: learn the port the system chose */
        fe->cf.ports[ch] = zsock_port(fe->sockets[ch]);
    return 0;
}

struct frontend *frontend_open(struct gateway *gw, struct connfile *cf, const struct owner *owner,
                               char *err, size_t errlen)
{
    struct frontend *fe = calloc(1, sizeof *fe);
    if (!fe) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    fe->gw = gw;
    fe->id = gw->next_frontend_id++;
    fe->owner = *owner;
    snprintf(fe->mode_name, sizeof fe->mode_name, "%s", gw->opts.mode_name);
    clock_gettime(CLOCK_MONOTONIC, &fe->last_active);
    fe->cf = *cf; /* takes ownership of the key */
    memset(cf, 0, sizeof *cf);
    if (connfile_assign_ipc_ports(&fe->cf) < 0) {
        snprintf(err, errlen, "no free ipc paths for %s", fe->cf.ip);
        frontend_close(fe);
        return NULL;
    }
    fe->signer = signer_new(fe->cf.key, strlen(fe->cf.key));
    fe->guard = replay_guard_new(REPLAY_HISTORY);
    if (!fe->signer || !fe->guard) {
        snprintf(err, errlen, "cannot set up HMAC-SHA256 signing");
        frontend_close(fe);
        return NULL;
    }
    for (int ch = 0; ch < CH_COUNT; ch++) {
        if (bind_channel(fe, ch, err, errlen) < 0) {
            frontend_close(fe);
            return NULL;
        }
    }
    if (strcmp(fe->cf.transport, "ipc") == 0)
        give_ipc_paths(fe);
    fe->next = gw->frontends;
    gw->frontends = fe;
    gateway_poll_changed(gw);
    systemd_notify_status(gw);
    return fe;
}

/* ipc sockets made by a root service belong to the notebook's user. */
static void give_ipc_paths(struct frontend *fe)
{
    for (int ch = 0; ch < CH_COUNT; ch++) {
        char path[300];
        snprintf(path, sizeof path, "%s-%d", fe->cf.ip, fe->cf.ports[ch]);
        if (chown(path, fe->owner.uid, fe->owner.gid) < 0 && errno != EPERM)
            log_warn("cannot give %s to %s: %s", path, fe->owner.name, strerror(errno));
    }
}

/* The frontend goes away: its sessions and requests are forgotten, its
 * attach process told (its connection closes), its sockets closed at the
 * end of the loop iteration. */
void frontend_drop(struct frontend *fe, const char *why)
{
    if (fe->dropped)
        return;
    struct gateway *gw = fe->gw;
    log_info("frontend %u (user %s) dropped: %s", fe->id, fe->owner.name, why);
    fe->dropped = true; /* first: closing the connection below comes back here */
    requests_drop_frontend(gw, fe);
    sessions_drop_frontend(gw, fe);
    if (fe->conn)
        control_close(fe->conn);
    gateway_poll_changed(gw);
}

void frontends_reap_dropped(struct gateway *gw)
{
    struct frontend **link = &gw->frontends;
    while (*link) {
        struct frontend *fe = *link;
        if (fe->dropped) {
            *link = fe->next;
            frontend_close(fe);
        } else {
            link = &fe->next;
        }
    }
    systemd_notify_status(gw);
}

/* --cull-idle: frontends with no request for that long are dropped. */
void frontends_cull_idle(struct gateway *gw)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    for (struct frontend *fe = gw->frontends; fe; fe = fe->next) {
        if (fe->dropped || !fe->conn || now.tv_sec - fe->last_active.tv_sec < gw->opts.cull_idle)
            continue;
        char why[64];
        snprintf(why, sizeof why, "idle for %d s (--cull-idle)", gw->opts.cull_idle);
        frontend_drop(fe, why);
    }
}

void frontend_close(struct frontend *fe)
{
    for (int ch = 0; ch < CH_COUNT; ch++)
        zsock_close(fe->sockets[ch]);
    signer_free(fe->signer);
    replay_guard_free(fe->guard);
    connfile_free(&fe->cf);
    free(fe);
}

static bool bool_field(json_t *obj, const char *key) { return json_is_true(json_object_get(obj, key)); }


static void handle_shutdown(struct frontend *fe, enum connfile_channel ch, const struct jmsg *m)
{
    struct gateway *gw = fe->gw;
    bool restart = bool_field(m->content, "restart");
    char content[64];
    snprintf(content, sizeof content, "{\"status\":\"ok\",\"restart\":%s}", restart ? "true" : "false");
    struct span parent = jmsg_header_raw(m);
    publish_status(fe, parent, "busy");
    reply_send(fe, ch, m->frames, m->nidents, "shutdown_reply", parent, span_str(content));
    publish(fe, "shutdown_reply", parent, span_str(content), span_str(""), NULL, 0);
    publish_status(fe, parent, "idle");
    /* serve: the frontend goes (with its namespaces); its attach process
     * exits, and a restarting kernel manager attaches again afresh. */
    if (gw->opts.command == CMD_SERVE) {
        frontend_drop(fe, restart ? "restart requested" : "shutdown requested");
        return;
    }
    /* launch, multi mode: a session's restart resets that session only */
    struct session *s = session_find(gw, fe, m->session);
    if (restart && (gw->opts.modes & MODE_MULTI) && s && s->worker) {
        struct span reset[] = {span_str("reset"), span_str(s->key)};
        worker_send(s->worker, reset, 2);
        log_info("session %s restarted", m->session);
        return;
    }
    /* otherwise the kernel exits and its manager starts a fresh one */
    log_info("shutdown requested (restart=%s)", restart ? "true" : "false");
    gateway_request_stop(gw);
}

/* Interrupt the cells of session `sid` of this frontend, or (sid NULL or
 * unknown) of all its sessions. Each worker gets one interrupt. */
void frontend_interrupt(struct frontend *fe, const char *sid)
{
    struct gateway *gw = fe->gw;
    struct session *s = sid ? session_find(gw, fe, sid) : NULL;
    if (s && s->worker) {
        worker_interrupt(s->worker, s->key);
        return;
    }
    char prefix[32];
    snprintf(prefix, sizeof prefix, "%u/", fe->id); /* every session of this frontend */
    for (struct worker *w = gw->workers; w; w = w->next)
        if (w->state != WORKER_DEAD && w->owner.uid == fe->owner.uid)
            worker_interrupt(w, prefix);
}

static void handle_interrupt(struct frontend *fe, enum connfile_channel ch, const struct jmsg *m)
{
    struct span parent = jmsg_header_raw(m);
    publish_status(fe, parent, "busy");
    /* In multi mode a session interrupts its own cells; a request from a
     * session with no cells here (a kernel manager) interrupts all of the
     * frontend's. */
    frontend_interrupt(fe, (fe->gw->opts.modes & MODE_MULTI) ? m->session : NULL);
    reply_send(fe, ch, m->frames, m->nidents, "interrupt_reply", parent, span_str("{\"status\":\"ok\"}"));
    publish_status(fe, parent, "idle");
}

/* Requests a worker answers. Everything else is answered here or ignored. */
static bool for_worker(const char *t)
{
    static const char *const types[] = {
        "execute_request", "complete_request", "inspect_request", "is_complete_request",
        "history_request", "comm_info_request", "comm_open", "comm_msg", "comm_close", NULL};
    for (int i = 0; types[i]; i++)
        if (strcmp(t, types[i]) == 0)
            return true;
    return false;
}

static void forward_to_worker(struct frontend *fe, enum connfile_channel ch, const struct jmsg *m)
{
    struct gateway *gw = fe->gw;
    struct request *req = request_new(gw, fe, ch, m);
    if (!req) {
        log_error("out of memory: %s from session %s dropped", m->msg_type, m->session);
        return;
    }
    request_defer_busy(gw, req);
    struct session *s = session_get(gw, fe, m->session);
    if (!s) {
        fail_request(gw, req, "SessionLimit",
                     "This kernel already serves --max-sessions sessions; close a notebook and retry.");
        return;
    }
    struct worker *w = session_worker(gw, s);
    if (!w) {
        char why[256];
        snprintf(why, sizeof why, "No worker process can take this notebook: %s.",
                 workers_alive(gw) >= (unsigned)gw->opts.max_workers
                     ? "the kernel already runs --max-workers workers"
                     : "a worker could not be started (see the kernel log)");
        log_error("no worker can take %s from session %s", m->msg_type, m->session);
        fail_request(gw, req, "WorkerUnavailable", why);
        return;
    }
    request_attach(req, s, w);
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)req->id);
    struct span parts[CHAN_MAX_PARTS] = {span_str("request"),  span_str(id),
                                         span_str(m->msg_type), span_str(s->key),
                                         jmsg_content_raw(m),   jmsg_metadata_raw(m),
                                         jmsg_header_raw(m)};
    size_t nparts = 7;
    for (size_t i = 0; i < m->nbuffers && nparts < CHAN_MAX_PARTS; i++)
        parts[nparts++] = jmsg_buffer(m, i);
    if (worker_send(w, parts, nparts) < 0) {
        log_warn("worker %u queue is full: refusing %s from session %s", w->id, m->msg_type, m->session);
        fail_request(gw, req, "WorkerBusy",
                     "the worker's input queue is full; wait for running cells to finish and retry");
    }
}

static void forward_input_reply(struct frontend *fe, const struct jmsg *m)
{
    json_t *pid = json_object_get(m->parent, "msg_id");
    struct request *req = json_is_string(pid) ? request_find_input(fe->gw, json_string_value(pid)) : NULL;
    if (!req)
        req = request_oldest_input(fe->gw, fe, m->session);
    if (!req || req->fe != fe) {
        log_warn("input_reply for no pending input_request (session %s): dropped", m->session);
        return;
    }
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)req->id);
    struct span parts[] = {span_str("input_reply"), span_str(id), jmsg_content_raw(m)};
    request_set_input(fe->gw, req, "");
    if (worker_send(req->worker, parts, 3) < 0)
        log_warn("worker %u queue is full: input_reply dropped", req->worker->id);
}

static void dispatch(struct frontend *fe, enum connfile_channel ch, const struct jmsg *m)
{
    const char *t = m->msg_type;
    log_debug("%s: %s from session %s", channel_names[ch], t, m->session);
    if (ch == CH_STDIN) {
        if (strcmp(t, "input_reply") == 0)
            forward_input_reply(fe, m);
        else
            log_warn("stdin: unexpected %s dropped", t);
    } else if (strcmp(t, "kernel_info_request") == 0) {
        answer_kernel_info(fe, ch, m);
    } else if (strcmp(t, "shutdown_request") == 0) {
        handle_shutdown(fe, ch, m);
    } else if (strcmp(t, "interrupt_request") == 0) {
        handle_interrupt(fe, ch, m);
    } else if (for_worker(t)) {
        forward_to_worker(fe, ch, m);
    } else {
        /* As ipykernel: unknown types get busy/idle and no reply. */
        log_warn("%s: unknown message type %s ignored", channel_names[ch], t);
        publish_status(fe, jmsg_header_raw(m), "busy");
        publish_status(fe, jmsg_header_raw(m), "idle");
    }
}

/* A signed request over --max-message-size: its buffers are already
 * gone; tell the sender clearly instead of leaving it waiting. */
static void refuse_too_large(struct frontend *fe, enum connfile_channel ch, const struct jmsg *m)
{
    char why[256];
    snprintf(why, sizeof why, "The message (%zu bytes) is larger than this kernel accepts (--max-message-size %zu).",
             m->size, fe->gw->opts.max_message_size);
    struct request *req = request_new(fe->gw, fe, ch, m);
    if (req)
        fail_request(fe->gw, req, "MessageTooLarge", why);
}

/* A whole message from a peer of shell, control or stdin. */
static void on_message(void *owner, int ch, const struct span *frames, size_t nframes, size_t size,
                       bool too_many_frames)
{
    struct frontend *fe = owner;
    if (fe->gw->stopping || fe->dropped)
        return;
    struct jmsg m;
    jmsg_load(&m, frames, nframes, size, fe->gw->opts.max_message_size, too_many_frames);
    enum jmsg_error e = jmsg_parse(&m, fe->signer, fe->guard);
    if (e == JMSG_OK) {
        clock_gettime(CLOCK_MONOTONIC, &fe->last_active);
        dispatch(fe, ch, &m);
    } else if (e == JMSG_TOO_LARGE && m.header) {
        refuse_too_large(fe, ch, &m);
    }
    if (e != JMSG_OK)
        log_warn("%s: dropped a message (%zu frames, %zu bytes): %s", channel_names[ch], m.nframes, m.size,
                 jmsg_error_str(e));
    jmsg_close(&m);
}

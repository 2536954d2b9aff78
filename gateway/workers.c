/* workers: the Python worker processes seen from the router. Each is
 * reached through a Unix stream socket carrying chan.h messages. Sends never
 * block: bytes wait in a queue bounded by worker_queue_limit, and a full
 * queue refuses the request. The router sends:
 *
 *   request ID TYPE SESSION CONTENT METADATA HEADER [BUF..]
 *   input_reply ID CONTENT
 *   interrupt SESSION             ("" = all), followed by SIGINT
 *   reset SESSION                 a restart from that session (multi mode)
 *
 * Worker events become signed messages:
 *
 *   ready PID                      the worker has started its loop
 *   iopub ID TYPE CONTENT METADATA [BUF..]  publish for request ID
 *                                  (METADATA "" means {})
 *   reply ID TYPE CONTENT          reply to request ID, then idle
 *   done ID                        request ID needs no reply; idle
 *   input_request ID CONTENT       ask request ID's frontend for input
 *
 * An ID is honoured only if it belongs to a request sent to that worker, so
 * a worker can never speak in another worker's sessions. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gateway/gateway.h"

#define READ_CHUNK 65536

static void close_channel(struct worker *w);
#define READ_BUDGET (4u << 20) /* bytes read per wake-up, for fairness */

static unsigned live_workers(struct gateway *gw)
{
    unsigned n = 0;
    for (struct worker *w = gw->workers; w; w = w->next)
        n += w->state != WORKER_DEAD;
    return n;
}

struct worker *worker_spawn(struct gateway *gw, const struct owner *owner)
{
    if (live_workers(gw) >= (unsigned)gw->opts.max_workers) {
        log_error("cannot start a worker: --max-workers %d reached", gw->opts.max_workers);
        return NULL;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        log_error("socketpair: %s", strerror(errno));
        return NULL;
    }
    struct worker *w = calloc(1, sizeof *w);
    if (!w || fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
        free(w);
        close(sv[0]);
        close(sv[1]);
        return NULL;
    }
    w->gw = gw;
    w->id = gw->next_worker_id++;
    w->owner = *owner;
    w->fd = sv[0];
    w->state = WORKER_STARTING;
    clock_gettime(CLOCK_MONOTONIC, &w->spawned);
    int sent = zygote_spawn(gw, w, sv[1]);
    close(sv[1]); /* the worker has its own copy now */
    if (sent < 0) {
        close(sv[0]);
        free(w);
        return NULL;
    }
    w->next = gw->workers;
    gw->workers = w;
    gateway_poll_changed(gw);
    systemd_notify_status(gw);
    return w;
}

/* The worker of this user with the fewest sessions (then requests). */
struct worker *worker_least_loaded(struct gateway *gw, const struct owner *owner)
{
    struct worker *best = NULL;
    for (struct worker *w = gw->workers; w; w = w->next) {
        if (w->state == WORKER_DEAD || w->owner.uid != owner->uid)
            continue;
        if (!best || w->nsessions < best->nsessions ||
            (w->nsessions == best->nsessions && w->inflight < best->inflight))
            best = w;
    }
    return best ? best : worker_spawn(gw, owner);
}

/* A worker nobody needs any more (an isolated one whose session left). */
void worker_retire(struct worker *w)
{
    log_info("worker %u (pid %d) retired: no sessions left", w->id, (int)w->pid);
    if (w->pid > 0)
        kill(w->pid, SIGKILL);
    w->state = WORKER_DEAD;
    close_channel(w);
    systemd_notify_status(w->gw);
}

static void flush_out(struct worker *w)
{
    while (buf_pending(&w->out) > 0) {
        ssize_t n = send(w->fd, buf_head(&w->out), buf_pending(&w->out), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                log_warn("worker %u: send failed: %s", w->id, strerror(errno));
            return;
        }
        buf_consume(&w->out, (size_t)n);
    }
}

int worker_send(struct worker *w, const struct span *parts, size_t nparts)
{
    if (w->state == WORKER_DEAD)
        return -1;
    size_t size = 4;
    for (size_t i = 0; i < nparts; i++)
        size += 4 + parts[i].len;
    if (buf_pending(&w->out) + size > w->gw->opts.worker_queue_limit)
        return -1;
    bool was_idle = buf_pending(&w->out) == 0;
    if (chan_encode(&w->out, parts, nparts) < 0)
        return -1;
    flush_out(w);
    if (was_idle && buf_pending(&w->out) > 0)
        gateway_poll_changed(w->gw); /* now wants POLLOUT */
    return 0;
}

void worker_on_writable(struct worker *w)
{
    flush_out(w);
    if (buf_pending(&w->out) == 0)
        gateway_poll_changed(w->gw);
}

void worker_interrupt(struct worker *w, const char *sid)
{
    struct span parts[] = {span_str("interrupt"), span_str(sid)};
    /* The signal reaches a cell that blocks the worker's loop. It goes to
     * the main thread (its id is the pid), where Python runs the cell and
     * its signal handler, not to any thread the cell may have started. */
    if (worker_send(w, parts, 2) == 0 && w->pid > 0)
        syscall(SYS_tgkill, w->pid, w->pid, SIGINT);
}

/* The request named by part 1, if it belongs to this worker. */
static struct request *event_request(struct worker *w, const struct chan_msg *m)
{
    uint64_t id;
    struct request *req = NULL;
    if (m->nparts >= 2 && chan_part_u64(&m->parts[1], &id) == 0)
        req = request_find(w->gw, id);
    if (req && req->worker != w)
        req = NULL;
    return req;
}

static void copy_type(const struct span *part, char *out, size_t outlen)
{
    snprintf(out, outlen, "%.*s", (int)part->len, part->data);
}

static void on_ready(struct worker *w, const struct chan_msg *m)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double ms = (double)(now.tv_sec - w->spawned.tv_sec) * 1e3 +
                (double)(now.tv_nsec - w->spawned.tv_nsec) / 1e6;
    w->state = WORKER_READY;
    log_info("worker %u ready (pid %.*s) in %.1f ms", w->id, m->nparts > 1 ? (int)m->parts[1].len : 1,
             m->nparts > 1 ? m->parts[1].data : "?", ms);
}

static void on_input_request(struct worker *w, struct request *req, struct span content)
{
    char msg_id[JMSG_ID_LEN + 1];
    struct jmsg_out out = {.idents = req->idents, .nidents = req->nidents, .msg_type = "input_request",
                           .parent = req->parent, .content = content};
    struct frontend *fe = req->fe;
    if (jmsg_send(fe->sockets[CH_STDIN], fe->signer, &w->gw->origin, &out, msg_id) < 0) {
        log_warn("worker %u: input_request could not be sent: %s", w->id, strerror(errno));
        return;
    }
    request_set_input(w->gw, req, msg_id);
}

static void handle_event(struct worker *w, const struct chan_msg *m)
{
    if (m->nparts == 0)
        return;
    const struct span *kind = &m->parts[0];
    if (chan_part_is(kind, "ready")) {
        on_ready(w, m);
        return;
    }
    struct request *req = event_request(w, m);
    if (!req) {
        log_debug("worker %u: %.*s for a request it does not hold: dropped", w->id, (int)kind->len,
                  kind->data);
        return;
    }
    char type[65];
    if (req->finished && !chan_part_is(kind, "iopub")) {
        log_debug("worker %u: %.*s for a finished request: dropped", w->id, (int)kind->len, kind->data);
        return;
    }
    request_say_busy(req); /* before anything else the request causes */
    if (chan_part_is(kind, "iopub") && m->nparts >= 5 && jmsg_valid_type(m->parts[2])) {
        copy_type(&m->parts[2], type, sizeof type);
        publish(req->fe, type, req->parent, m->parts[3], m->parts[4], &m->parts[5], m->nparts - 5);
    } else if (chan_part_is(kind, "reply") && m->nparts >= 4 && jmsg_valid_type(m->parts[2])) {
        copy_type(&m->parts[2], type, sizeof type);
        reply_to(req, type, m->parts[3]);
        finish_request(w->gw, req);
    } else if (chan_part_is(kind, "done")) {
        finish_request(w->gw, req);
    } else if (chan_part_is(kind, "input_request") && m->nparts >= 3) {
        on_input_request(w, req, m->parts[2]);
    } else {
        log_warn("worker %u: malformed %.*s event dropped", w->id, (int)kind->len, kind->data);
    }
}

/* Decode and handle every complete message in the input buffer. Returns -1
 * if the stream is corrupt. */
static int handle_input(struct worker *w)
{
    for (;;) {
        struct chan_msg m;
        size_t used;
        enum chan_status st = chan_decode(buf_head(&w->in), buf_pending(&w->in), &m, &used);
        if (st == CHAN_INCOMPLETE)
            return 0;
        if (st == CHAN_INVALID)
            return -1;
        handle_event(w, &m);
        buf_consume(&w->in, used);
    }
}

static void close_channel(struct worker *w)
{
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
        gateway_poll_changed(w->gw);
    }
}

void worker_on_readable(struct worker *w)
{
    size_t total = 0;
    while (w->fd >= 0 && total < READ_BUDGET) {
        if (buf_reserve(&w->in, READ_CHUNK) < 0) {
            log_error("worker %u: out of memory reading its channel", w->id);
            return;
        }
        ssize_t n = recv(w->fd, w->in.data + w->in.len, w->in.cap - w->in.len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n <= 0) { /* the worker is gone; the zygote reports why */
            close_channel(w);
            break;
        }
        w->in.len += (size_t)n;
        total += (size_t)n;
        if ((size_t)n < READ_CHUNK)
            break; /* drained (poll says so again if not) */
    }
    if (handle_input(w) < 0) {
        log_error("worker %u (pid %d) sent a corrupt stream: stopping it", w->id, (int)w->pid);
        close_channel(w);
        if (w->pid > 0)
            kill(w->pid, SIGKILL);
    }
}

static void describe_status(int status, char *out, size_t outlen)
{
    if (WIFSIGNALED(status))
        snprintf(out, outlen, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else if (WIFEXITED(status))
        snprintf(out, outlen, "exited with status %d", WEXITSTATUS(status));
    else
        snprintf(out, outlen, "ended (wait status %d)", status);
}

/* Answer every request the worker held, then forget its sessions. */
static void bury_worker(struct gateway *gw, struct worker *w, const char *why)
{
    char evalue[512];
    snprintf(evalue, sizeof evalue,
             "The worker process running this notebook %s. Its variables are lost; "
             "the next cell runs in a fresh worker.", why);
    struct request *req, *tmp;
    HASH_ITER(hh, gw->requests, req, tmp)
    {
        if (req->worker != w)
            continue;
        if (req->finished)
            request_free(gw, req); /* no more late output from a dead worker */
        else
            fail_request(gw, req, "WorkerDied", evalue);
    }
    sessions_detach_worker(gw, w);
    w->state = WORKER_DEAD;
    close_channel(w);
    gateway_poll_changed(gw);
}

void worker_exited(struct gateway *gw, pid_t pid, int status)
{
    struct worker *w = gw->workers;
    while (w && w->pid != pid)
        w = w->next;
    if (!w)
        return;
    if (w->state == WORKER_DEAD) { /* retired: expected */
        log_debug("worker %u (pid %d) reaped", w->id, (int)pid);
        return;
    }
    worker_on_readable(w); /* take what it wrote before dying */
    char why[128];
    describe_status(status, why, sizeof why);
    if (gw->stopping)
        log_debug("worker %u (pid %d) %s", w->id, (int)pid, why);
    else
        log_warn("worker %u (pid %d) %s", w->id, (int)pid, why);
    bury_worker(gw, w, why);
    if (!gw->stopping && !gw->opts.isolate && w->owner.uid == gw->self.uid &&
        live_workers(gw) < (unsigned)gw->opts.workers)
        worker_spawn(gw, &gw->self);
    systemd_notify_status(gw);
}

/* The zygote died, taking its children: every worker is gone. */
void workers_lost(struct gateway *gw)
{
    for (struct worker *w = gw->workers; w; w = w->next)
        if (w->state != WORKER_DEAD)
            bury_worker(gw, w, "was lost with the zygote process");
}

void workers_reap_dead(struct gateway *gw)
{
    struct worker **link = &gw->workers;
    while (*link) {
        struct worker *w = *link;
        if (w->state == WORKER_DEAD) {
            *link = w->next;
            buf_free(&w->in);
            buf_free(&w->out);
            free(w);
        } else {
            link = &w->next;
        }
    }
}

void workers_stop_all(struct gateway *gw)
{
    for (struct worker *w = gw->workers; w; w = w->next)
        if (w->state != WORKER_DEAD && w->pid > 0)
            kill(w->pid, SIGKILL);
}

unsigned workers_alive(struct gateway *gw) { return live_workers(gw); }

/* router: the one thread and one poll loop of akernel-gateway.
 *
 * It polls the hub (one epoll set holding every frontend socket and
 * connection, zsock.c), every worker channel, the zygote's control socket
 * and a signalfd, and dispatches to the subsystem that owns each; what the
 * iteration queued for frontends is written at its end. Nothing here
 * blocks: the only wait is in poll. Objects that
 * die during an iteration are freed at its end, so a dispatch never sees a
 * freed pointer. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gateway/gateway.h"
#include "gateway/router.h"

#define STOP_GRACE_MS 2000

enum poll_kind { POLL_HUB, POLL_WORKER, POLL_ZYGOTE, POLL_SIGNAL, POLL_LISTEN, POLL_CONTROL };

struct poll_ref {
    enum poll_kind kind;
    void *obj;
};

struct poll_set {
    struct pollfd *items;
    struct poll_ref *refs;
    size_t n, cap;
};

void gateway_poll_changed(struct gateway *gw) { gw->poll_dirty = true; }

void gateway_request_stop(struct gateway *gw)
{
    if (gw->stopping)
        return;
    gw->stopping = true;
    systemd_notify_stopping();
    gw->stop_deadline_ms = monotonic_ms() + STOP_GRACE_MS;
    workers_stop_all(gw);
}

static int poll_add(struct poll_set *ps, int fd, short events, struct poll_ref ref)
{
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 32;
        struct pollfd *items = realloc(ps->items, cap * sizeof *items);
        if (!items)
            return -1;
        ps->items = items;
        struct poll_ref *refs = realloc(ps->refs, cap * sizeof *refs);
        if (!refs)
            return -1;
        ps->refs = refs;
        ps->cap = cap;
    }
    ps->items[ps->n] = (struct pollfd){.fd = fd, .events = events};
    ps->refs[ps->n++] = ref;
    return 0;
}

static int poll_rebuild(struct gateway *gw, struct poll_set *ps)
{
    ps->n = 0;
    int rc = poll_add(ps, gw->signal_fd, POLLIN, (struct poll_ref){POLL_SIGNAL, NULL});
    rc |= poll_add(ps, zhub_fd(gw->zhub), POLLIN, (struct poll_ref){POLL_HUB, NULL});
    if (gw->zygote.fd >= 0)
        rc |= poll_add(ps, gw->zygote.fd, POLLIN, (struct poll_ref){POLL_ZYGOTE, NULL});
    for (struct worker *w = gw->workers; w; w = w->next) {
        if (w->fd < 0)
            continue;
        short events = POLLIN | (buf_pending(&w->out) ? POLLOUT : 0);
        rc |= poll_add(ps, w->fd, events, (struct poll_ref){POLL_WORKER, w});
    }
    if (gw->listen_fd >= 0)
        rc |= poll_add(ps, gw->listen_fd, POLLIN, (struct poll_ref){POLL_LISTEN, NULL});
    for (struct control_conn *c = gw->conns; c; c = *control_next(c)) {
        if (control_fd(c) < 0)
            continue;
        short events = POLLIN | (control_wants_write(c) ? POLLOUT : 0);
        rc |= poll_add(ps, control_fd(c), events, (struct poll_ref){POLL_CONTROL, c});
    }
    gw->poll_dirty = false;
    return rc;
}

/* The zygote is the router's only child; its death is handled when its
 * socket closes (zygote.c). Here it is only reaped. */
static void reap_children(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

static void on_signal(struct gateway *gw)
{
    struct signalfd_siginfo si;
    while (read(gw->signal_fd, &si, sizeof si) == sizeof si) {
        switch (si.ssi_signo) {
        case SIGINT: /* as ipykernel: SIGINT interrupts, it does not stop */
            log_info("SIGINT: interrupting all cells");
            for (struct worker *w = gw->workers; w; w = w->next)
                if (w->state != WORKER_DEAD)
                    worker_interrupt(w, "");
            break;
        case SIGTERM:
        case SIGHUP:
            log_info("%s: shutting down", strsignal((int)si.ssi_signo));
            gateway_request_stop(gw);
            break;
        case SIGCHLD:
            reap_children();
            break;
        }
    }
}

static void dispatch(struct gateway *gw, const struct pollfd *item, const struct poll_ref *ref)
{
    switch (ref->kind) {
    case POLL_SIGNAL: on_signal(gw); break;
    case POLL_ZYGOTE: zygote_on_readable(gw); break;
    case POLL_HUB: zhub_run(gw->zhub); break;
    case POLL_LISTEN: control_on_accept(gw); break;
    case POLL_CONTROL: {
        struct control_conn *c = ref->obj;
        if ((item->revents & POLLOUT) && control_fd(c) >= 0)
            control_on_writable(c);
        if ((item->revents & (POLLIN | POLLERR | POLLHUP)) && control_fd(c) >= 0)
            control_on_readable(c);
        break;
    }
    case POLL_WORKER: {
        struct worker *w = ref->obj;
        if ((item->revents & POLLOUT) && w->fd >= 0)
            worker_on_writable(w);
        if ((item->revents & (POLLIN | POLLERR | POLLHUP)) && w->fd >= 0)
            worker_on_readable(w);
        break;
    }
    }
}

/* The sooner of two waits in ms, where -1 is "none". */
static long sooner(long a, long b) { return a < 0 || (b >= 0 && b < a) ? b : a; }

/* Timed work: handshakes that never came, deferred busy statuses, the
 * systemd watchdog and idle culling. Returns how long the loop may sleep
 * before it is due again (-1: forever). */
static long run_timers(struct gateway *gw, int watchdog, long *next_watchdog, long *next_cull)
{
    long wait = zhub_expire(gw->zhub); /* no clock read unless a handshake is pending */
    if (watchdog <= 0 && gw->opts.cull_idle <= 0 && !gw->stopping && !gw->busy_len)
        return wait; /* the usual case */
    long now = monotonic_ms();
    wait = sooner(wait, requests_due_busy(gw, now));
    if (watchdog > 0) {
        if (now >= *next_watchdog) {
            systemd_watchdog_ping();
            *next_watchdog = now + watchdog;
        }
        wait = sooner(wait, *next_watchdog - now);
    }
    if (gw->opts.cull_idle > 0) {
        if (now >= *next_cull) {
            frontends_cull_idle(gw);
            *next_cull = now + 1000;
        }
        wait = sooner(wait, *next_cull - now);
    }
    if (gw->stopping)
        wait = sooner(wait, 50);
    return wait;
}

static void run_loop(struct gateway *gw)
{
    struct poll_set ps = {0};
    long next_watchdog = 0, next_cull = 0;
    int watchdog = systemd_watchdog_ms(); /* set once, at start, by systemd */
    gw->poll_dirty = true;
    for (;;) {
        if (gw->stopping && (workers_alive(gw) == 0 || monotonic_ms() >= gw->stop_deadline_ms))
            break;
        if (gw->poll_dirty && poll_rebuild(gw, &ps) < 0) {
            log_error("out of memory building the poll set");
            break;
        }
        int n = poll(ps.items, ps.n, (int)run_timers(gw, watchdog, &next_watchdog, &next_cull));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_error("poll: %s", strerror(errno));
            break;
        }
        for (size_t i = 0; i < ps.n && n > 0; i++) {
            if (ps.items[i].revents) {
                dispatch(gw, &ps.items[i], &ps.refs[i]);
                n--;
            }
        }
        zhub_flush(gw->zhub);
        if (gw->poll_dirty) { /* something was closed: free what died */
            workers_reap_dead(gw);
            frontends_reap_dropped(gw);
            control_reap(gw);
        }
    }
    free(ps.items);
    free(ps.refs);
}

static int open_signal_fd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int gateway_init(struct gateway *gw, const struct gateway_options *opts, char *err, size_t errlen)
{
    memset(gw, 0, sizeof *gw);
    gw->opts = *opts;
    gw->zygote.fd = -1;
    gw->listen_fd = -1;
    clock_gettime(CLOCK_MONOTONIC, &gw->started);
    owner_of(geteuid(), &gw->self);
    gw->signal_fd = open_signal_fd();
    if (gw->signal_fd < 0) {
        snprintf(err, errlen, "signalfd: %s", strerror(errno));
        return -1;
    }
    /* The zygote goes first, before any key is read. */
    if (zygote_start(gw, err, errlen) < 0)
        return -1;
    if (jmsg_origin_init(&gw->origin, gw->self.name) < 0 ||
        !(gw->kernel_info = kernel_info_content(opts))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    gw->zhub = zhub_new();
    if (!gw->zhub) {
        snprintf(err, errlen, "cannot create the socket hub: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int gateway_start_workers(struct gateway *gw)
{
    for (int i = 0; i < gw->opts.workers; i++)
        if (!worker_spawn(gw, &gw->self))
            return -1;
    return 0;
}

void gateway_run(struct gateway *gw)
{
    for (struct frontend *fe = gw->frontends; fe; fe = fe->next)
        publish_status(fe, span_str("{}"), "starting");
    run_loop(gw);
}

void gateway_cleanup(struct gateway *gw)
{
    control_close_all(gw);
    workers_stop_all(gw);
    zygote_stop(gw);
    requests_free(gw);
    sessions_free(gw);
    for (struct worker *w = gw->workers; w; w = w->next)
        w->state = WORKER_DEAD;
    workers_reap_dead(gw);
    while (gw->frontends) {
        struct frontend *fe = gw->frontends;
        gw->frontends = fe->next;
        frontend_close(fe);
    }
    if (gw->zhub) {
        zhub_flush(gw->zhub); /* the last replies (shutdown_reply) */
        zhub_free(gw->zhub);
    }
    if (gw->signal_fd >= 0)
        close(gw->signal_fd);
    jmsg_origin_free(&gw->origin);
    free(gw->kernel_info);
}

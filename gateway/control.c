/* control: the Unix socket of `serve`, through which notebooks attach.
 *
 * One JSON object per line, each way. Commands:
 *   {"command": "attach", "connection": {CONNECTION FILE}, "mode": "..."}
 *       -> {"status": "ok", "frontend": ID, "user": NAME}
 *       The service binds that connection's ports with that key as a new
 *       frontend owned by the connecting process's user (SO_PEERCRED). The
 *       connection then stays open as the frontend's lifeline: when either
 *       side closes it, the other knows the notebook is gone. On it:
 *   {"command": "interrupt"}   interrupt the frontend's cells
 *   {"command": "shutdown"}    drop the frontend (the service closes)
 *   {"command": "status"}      -> counts of frontends and workers, then close
 * Errors come back as {"status": "error", "message": "..."}.
 *
 * Run as root, the service accepts every user and runs each one's cells in
 * workers of that user; run as a user, it accepts only that user. Reads
 * and writes never block: replies wait in a per-connection buffer. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/modes.h"
#include "gateway/gateway.h"

#define MAX_LINE (256u << 10)

struct control_conn {
    struct gateway *gw;
    int fd;
    struct ucred peer;
    struct buf in, out;
    struct frontend *fe; /* after a successful attach */
    bool closing;        /* close once `out` is written */
    struct control_conn *next;
};

int control_fd(const struct control_conn *c) { return c->fd; }
struct control_conn **control_next(struct control_conn *c) { return &c->next; }

static int make_parent_dir(const char *path, mode_t mode)
{
    char dir[sizeof((struct sockaddr_un *)0)->sun_path];
    snprintf(dir, sizeof dir, "%s", path);
    char *parent = dirname(dir);
    if (mkdir(parent, mode) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

int control_listen(struct gateway *gw, char *err, size_t errlen)
{
    if (gw->listen_fd >= 0)
        return 0; /* handed over by systemd */
    const char *path = gw->opts.socket_path;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) {
        snprintf(err, errlen, "socket path too long: %s", path);
        return -1;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1); /* length checked above */
    bool root = geteuid() == 0;
    if (make_parent_dir(path, root ? 0755 : 0700) < 0) { /* users reach a root service */
        snprintf(err, errlen, "cannot create the directory of %s: %s", path, strerror(errno));
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
        snprintf(err, errlen, "another service is already listening on %s", path);
        close(fd);
        return -1;
    }
    unlink(path); /* a stale socket of a service that died */
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
        chmod(path, root ? 0666 : 0600) < 0 || listen(fd, 128) < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    gw->listen_fd = fd;
    gateway_poll_changed(gw);
    return 0;
}

void control_on_accept(struct gateway *gw)
{
    for (int budget = 16; budget > 0; budget--) {
        int fd = accept4(gw->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR)
                log_warn("control: accept: %s", strerror(errno));
            return;
        }
        struct control_conn *c = calloc(1, sizeof *c);
        socklen_t len = sizeof c->peer;
        if (!c || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->peer, &len) < 0) {
            log_warn("control: cannot read the peer's credentials: dropped");
            free(c);
            close(fd);
            continue;
        }
        c->gw = gw;
        c->fd = fd;
        c->next = gw->conns;
        gw->conns = c;
        gateway_poll_changed(gw);
    }
}

static void send_json(struct control_conn *c, json_t *reply)
{
    char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    json_decref(reply);
    if (!text || buf_append(&c->out, text, strlen(text)) < 0 || buf_append(&c->out, "\n", 1) < 0)
        log_error("control: out of memory for a reply");
    free(text);
    control_on_writable(c);
}

static void send_error(struct control_conn *c, const char *message)
{
    log_warn("control: refused pid %d (uid %u): %s", (int)c->peer.pid, (unsigned)c->peer.uid, message);
    send_json(c, json_pack("{s:s, s:s}", "status", "error", "message", message));
}

/* The last reply on this connection: it closes once the reply is out. */
static void send_last(struct control_conn *c, json_t *reply)
{
    c->closing = true;
    send_json(c, reply);
}

static unsigned live_frontends(struct gateway *gw)
{
    unsigned n = 0;
    for (struct frontend *fe = gw->frontends; fe; fe = fe->next)
        n += !fe->dropped;
    return n;
}

static void handle_attach(struct control_conn *c, json_t *request)
{
    struct gateway *gw = c->gw;
    char err[512];
    struct owner owner;
    if (c->fe) {
        send_error(c, "this connection already has a frontend");
        return;
    }
    if (gw->self.uid != 0 && c->peer.uid != gw->self.uid) {
        snprintf(err, sizeof err, "this service runs as %s and accepts only that user's notebooks",
                 gw->self.name);
        send_error(c, err);
        return;
    }
    if (owner_of(c->peer.uid, &owner) < 0) {
        send_error(c, "the connecting user is unknown to this system");
        return;
    }
    if (live_frontends(gw) >= (unsigned)gw->opts.max_frontends) {
        snprintf(err, sizeof err, "this service already serves --max-frontends %d notebooks",
                 gw->opts.max_frontends);
        send_error(c, err);
        return;
    }
    unsigned modes = 0;
    json_t *mode = json_object_get(request, "mode");
    if (mode && (!json_is_string(mode) || modes_parse(json_string_value(mode), &modes, err, sizeof err) < 0)) {
        send_error(c, json_is_string(mode) ? err : "\"mode\" must be a string");
        return;
    }
    struct connfile cf;
    if (connfile_from_json(json_object_get(request, "connection"), &cf, err, sizeof err) < 0) {
        send_error(c, err);
        return;
    }
    struct frontend *fe = frontend_open(gw, &cf, &owner, err, sizeof err);
    connfile_free(&cf);
    if (!fe) {
        send_error(c, err);
        return;
    }
    modes_format(modes | gw->opts.modes, fe->mode_name, sizeof fe->mode_name);
    fe->conn = c;
    c->fe = fe;
    log_info("frontend %u attached for %s (pid %d, mode %s)", fe->id, owner.name, (int)c->peer.pid,
             fe->mode_name);
    send_json(c, json_pack("{s:s, s:i, s:s}", "status", "ok", "frontend", (int)fe->id, "user", owner.name));
}

static long pss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Pss: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

static void handle_status(struct control_conn *c)
{
    struct gateway *gw = c->gw;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    json_t *frontends = json_array(), *workers = json_array();
    for (struct frontend *fe = gw->frontends; fe; fe = fe->next) {
        if (fe->dropped)
            continue;
        json_array_append_new(frontends, json_pack("{s:i, s:s, s:i, s:i, s:I, s:s}", "id", (int)fe->id, "user",
                                                   fe->owner.name, "uid", (int)fe->owner.uid, "sessions",
                                                   (int)fe->nsessions, "idle_seconds",
                                                   (json_int_t)(now.tv_sec - fe->last_active.tv_sec), "mode",
                                                   fe->mode_name));
    }
    for (struct worker *w = gw->workers; w; w = w->next) {
        if (w->state == WORKER_DEAD)
            continue;
        json_array_append_new(workers, json_pack("{s:i, s:i, s:s, s:i, s:i, s:I, s:s}", "id", (int)w->id, "pid",
                                                 (int)w->pid, "user", w->owner.name, "sessions",
                                                 (int)w->nsessions, "requests", (int)w->inflight, "pss_kib",
                                                 (json_int_t)pss_kib(w->pid), "state",
                                                 w->state == WORKER_READY ? "ready" : "starting"));
    }
    json_t *reply = json_pack("{s:s, s:s, s:I, s:i, s:s, s:o, s:o}", "status", "ok", "version", AKG_VERSION,
                              "uptime_seconds", (json_int_t)(now.tv_sec - gw->started.tv_sec), "router_pid",
                              (int)getpid(), "mode", gw->opts.mode_name, "frontends", frontends, "workers",
                              workers);
    if (c->fe)
        send_json(c, reply); /* an attach connection stays: it is a lifeline */
    else
        send_last(c, reply);
}

static void handle_line(struct control_conn *c, const char *line, size_t len)
{
    json_t *request = json_loadb(line, len, 0, NULL);
    json_t *command = json_object_get(request, "command");
    const char *name = json_is_string(command) ? json_string_value(command) : "";
    if (strcmp(name, "attach") == 0) {
        handle_attach(c, request);
    } else if (strcmp(name, "status") == 0) {
        handle_status(c);
    } else if (strcmp(name, "interrupt") == 0 && c->fe) {
        frontend_interrupt(c->fe, NULL);
        send_json(c, json_pack("{s:s}", "status", "ok"));
    } else if (strcmp(name, "shutdown") == 0 && c->fe) {
        frontend_drop(c->fe, "its attach process asked to shut down");
    } else {
        send_error(c, request ? "unknown command (attach, interrupt, shutdown, status)"
                              : "not a JSON object on one line");
    }
    json_decref(request);
}

void control_on_readable(struct control_conn *c)
{
    while (!c->closing && c->fd >= 0) {
        if (buf_reserve(&c->in, 4096) < 0)
            break;
        ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n <= 0) { /* the peer is gone, and with it its frontend */
            control_close(c);
            return;
        }
        c->in.len += (size_t)n;
        char *nl;
        while (!c->closing && c->fd >= 0 && (nl = buf_find(&c->in, '\n'))) {
            size_t len = (size_t)(nl - buf_head(&c->in));
            handle_line(c, buf_head(&c->in), len);
            buf_consume(&c->in, len + 1);
        }
        if (buf_pending(&c->in) > MAX_LINE)
            send_last(c, json_pack("{s:s, s:s}", "status", "error", "message", "line too long"));
    }
}

void control_on_writable(struct control_conn *c)
{
    while (c->fd >= 0 && buf_pending(&c->out) > 0) {
        ssize_t n = send(c->fd, buf_head(&c->out), buf_pending(&c->out), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            buf_reset(&c->out); /* the peer is gone: closing drops its frontend */
            c->closing = true;
            break;
        }
        buf_consume(&c->out, (size_t)n);
    }
    if (c->closing && buf_pending(&c->out) == 0)
        control_close(c);
    gateway_poll_changed(c->gw);
}

bool control_wants_write(const struct control_conn *c) { return buf_pending(&c->out) > 0; }

/* Close the connection. It is its frontend's lifeline: the frontend goes
 * too, whatever closed it (the peer, an error, a protocol violation). */
void control_close(struct control_conn *c)
{
    if (c->fd < 0)
        return;
    struct frontend *fe = c->fe;
    c->fe = NULL;
    close(c->fd);
    c->fd = -1;
    gateway_poll_changed(c->gw);
    if (fe) {
        fe->conn = NULL;
        frontend_drop(fe, "its attach connection closed");
    }
}

/* Free closed connections (at the end of a loop iteration). */
void control_reap(struct gateway *gw)
{
    struct control_conn **link = &gw->conns;
    while (*link) {
        struct control_conn *c = *link;
        if (c->fd < 0) {
            *link = c->next;
            buf_free(&c->in);
            buf_free(&c->out);
            free(c);
        } else {
            link = &c->next;
        }
    }
}

void control_close_all(struct gateway *gw)
{
    for (struct control_conn *c = gw->conns; c; c = c->next)
        control_close(c);
    control_reap(gw);
    if (gw->listen_fd >= 0) {
        close(gw->listen_fd);
        gw->listen_fd = -1;
        if (!gw->socket_activated)
            unlink(gw->opts.socket_path);
    }
}

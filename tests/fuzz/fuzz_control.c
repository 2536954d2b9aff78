/* fuzz_control: serve's attach control protocol (gateway/control.c): the
 * bytes a local process writes to the control socket, split into lines by
 * control_on_readable, each parsed by handle_line (json_loadb, "command")
 * and handle_attach ("mode" through modes_parse, "connection" through
 * connfile_from_json), with users.c's owner_of for the peer.
 *
 * This drives the real control.c, not a copy: the harness is the router
 * around it. It listens on an abstract Unix socket and sets it as the
 * gateway's listen_fd; for every input it connects, lets control_on_accept
 * take the connection, writes the input and then end-of-file, and calls
 * control_on_readable / control_on_writable until control.c has closed the
 * connection, reading the replies. What control.c calls in the rest of the
 * router is stood in for below: frontend_open keeps the connection (taking
 * the key, giving ipc ports with the real connfile_assign_ipc_ports, making
 * the signer) but binds no socket; frontend_drop and frontend_interrupt
 * only do their bookkeeping. One other notebook is always attached, so
 * `status` has something to list. The first byte of the input picks the
 * situation (see LLVMFuzzerTestOneInput): a full service, a client that
 * leaves its replies unread, a service running as another user, an
 * endless line.
 *
 * Checked: every reply is one JSON object per line with "status" "ok" or
 * "error" (and a string "message"); once the input and end-of-file are
 * written and the replies read, control.c closes the connection (else the
 * router would poll a readable fd forever); and a notebook attached through the
 * connection does not outlive it: once control.c has closed the
 * connection, its frontend must have been dropped (a frontend left without
 * its lifeline keeps its ports bound and its place under --max-frontends,
 * and is never culled: frontends_cull_idle skips frontends without one).
 *
 * Input: one byte of flags, then the bytes written to the socket, e.g.
 *     0{"command": "attach", "mode": "concurrent", "connection": {...}}\n{"command": "interrupt"}\n */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "common/auth.h"
#include "common/log.h"
#include "common/modes.h"
#include "gateway/gateway.h"
#include "tests/fuzz/fuzz.h"

static struct gateway gw;
static struct frontend other; /* another notebook, attached for good */
static struct worker worker;
static struct sockaddr_un addr;
static socklen_t addrlen;
static unsigned interrupts;

/* ---- what control.c calls in the rest of the router ---- */

void gateway_poll_changed(struct gateway *g) { g->poll_dirty = true; }

struct frontend *frontend_open(struct gateway *g, struct connfile *cf, const struct owner *owner, char *err,
                               size_t errlen)
{
    /* as gateway/frontend.c, up to binding the sockets */
    struct frontend *fe = calloc(1, sizeof *fe);
    CHECK(fe);
    fe->gw = g;
    fe->id = g->next_frontend_id++;
    fe->owner = *owner;
    snprintf(fe->mode_name, sizeof fe->mode_name, "%s", g->opts.mode_name);
    clock_gettime(CLOCK_MONOTONIC, &fe->last_active);
    CHECK(cf->key != NULL);
    fe->cf = *cf; /* takes ownership of the key */
    memset(cf, 0, sizeof *cf);
    if (connfile_assign_ipc_ports(&fe->cf) < 0) {
        snprintf(err, errlen, "no free ipc paths for %s", fe->cf.ip);
        goto fail;
    }
    for (int ch = 0; ch < CH_COUNT; ch++)
        CHECK(fe->cf.ports[ch] >= 0 && fe->cf.ports[ch] <= 65535 &&
              (strcmp(fe->cf.transport, "ipc") != 0 || fe->cf.ports[ch] > 0));
    fe->signer = signer_new(fe->cf.key, strlen(fe->cf.key));
    if (!fe->signer) {
        snprintf(err, errlen, "cannot set up HMAC-SHA256 signing");
        goto fail;
    }
    if (fe->cf.ip[0] == '\0') { /* stands for a failed bind */
        snprintf(err, errlen, "cannot bind shell to tcp://:*: Invalid argument");
        goto fail;
    }
    fe->next = g->frontends;
    g->frontends = fe;
    return fe;
fail:
    signer_free(fe->signer);
    connfile_free(&fe->cf);
    free(fe);
    return NULL;
}

void frontend_drop(struct frontend *fe, const char *why)
{
    if (fe->dropped)
        return;
    log_info("frontend %u (user %s) dropped: %s", fe->id, fe->owner.name, why);
    fe->dropped = true;
    if (fe->conn)
        control_close(fe->conn);
    gateway_poll_changed(fe->gw);
}

void frontend_interrupt(struct frontend *fe, const char *sid)
{
    CHECK(!fe->dropped && fe->conn != NULL && sid == NULL);
    interrupts++;
}

/* ---- the harness ---- */

/* AKG_FUZZ_KNOWN_BUGS: comma-separated names of the checks below to let
 * pass, so that fuzzing can go on past a bug already reported (run.sh
 * sets it from tests/fuzz/known-bugs; regression inputs run without it). */
static bool known_bug(const char *name)
{
    const char *list = getenv("AKG_FUZZ_KNOWN_BUGS");
    size_t n = strlen(name);
    for (const char *p = list; p && *p; p += strcspn(p, ","), p += *p == ',')
        if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    CHECK(devnull >= 0);
    log_set_fd(devnull); /* every log line is still formatted */
    log_setup("fuzz-control", LOG_LEVEL_DEBUG);

    gw.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK(gw.listen_fd >= 0);
    addr.sun_family = AF_UNIX;
    int n = snprintf(addr.sun_path + 1, sizeof addr.sun_path - 1, "akg-fuzz-control-%d", (int)getpid());
    addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    CHECK(bind(gw.listen_fd, (struct sockaddr *)&addr, addrlen) == 0 && listen(gw.listen_fd, 16) == 0);

    owner_of(geteuid(), &gw.self); /* without a passwd entry, attach is refused: still fuzzed */
    gw.opts.command = CMD_SERVE;
    gw.opts.modes = MODE_MULTI;
    snprintf(gw.opts.mode_name, sizeof gw.opts.mode_name, "multi");
    gw.opts.max_frontends = 2;
    gw.opts.max_sessions = 10000;
    clock_gettime(CLOCK_MONOTONIC, &gw.started);
    gw.next_frontend_id = 1;

    other.gw = &gw;
    other.id = gw.next_frontend_id++;
    other.owner = gw.self;
    snprintf(other.mode_name, sizeof other.mode_name, "multi");
    clock_gettime(CLOCK_MONOTONIC, &other.last_active);
    other.nsessions = 1;
    gw.frontends = &other;

    worker.gw = &gw;
    worker.id = 1;
    worker.owner = gw.self;
    worker.pid = 0; /* no /proc/0/smaps_rollup: pss_kib says -1, quickly */
    worker.state = WORKER_READY;
    worker.nsessions = 1;
    gw.workers = &worker;
    return 0;
}

static void drain(int client, struct buf *replies)
{
    for (;;) {
        CHECK(buf_reserve(replies, 4096) == 0);
        ssize_t n = recv(client, replies->data + replies->len, replies->cap - replies->len, MSG_DONTWAIT);
        if (n <= 0)
            return;
        replies->len += (size_t)n;
    }
}

static void check_replies(const struct buf *replies)
{
    const char *p = buf_head(replies), *end = p + buf_pending(replies);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        CHECK(nl != NULL); /* every reply ends its line */
        json_error_t jerr;
        json_t *reply = json_loadb(p, (size_t)(nl - p), 0, &jerr);
        CHECK(json_is_object(reply));
        const char *status = json_string_value(json_object_get(reply, "status"));
        CHECK(status && (strcmp(status, "ok") == 0 || strcmp(status, "error") == 0));
        if (strcmp(status, "error") == 0)
            CHECK(json_is_string(json_object_get(reply, "message")));
        json_decref(reply);
        p = nl + 1;
    }
}

/* An endless line: more than control.c's MAX_LINE (256 KiB) without a newline. */
#define LONG_LINE ((256u << 10) + 4096u)
static char filler[LONG_LINE];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The first byte picks the situation (its low bits; '0' is none):
     *   1  the service is full: the other notebook takes the one --max-frontends
     *   2  an impatient client: it reads no reply and closes as soon as it
     *      has written everything, and the service's send buffer is at its
     *      minimum, so replies queue up in control.c (as they do when some
     *      200 KB of them are left unread)
     *   4  the service runs as another user (not root)
     *   8  after the input, the client writes an endless line (LONG_LINE bytes
     *      without a newline)
     * The rest is what the client writes to the socket. */
    if (size == 0)
        return 0;
    unsigned flags = data[0];
    bool impatient = flags & 2;
    data++, size--;
    size_t total = size + (flags & 8 ? LONG_LINE : 0);
    if (filler[0] == '\0')
        memset(filler, 'x', sizeof filler);

    int client = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK(client >= 0 && connect(client, (struct sockaddr *)&addr, addrlen) == 0);
    CHECK(gw.conns == NULL);
    control_on_accept(&gw);
    struct control_conn *conn = gw.conns;
    CHECK(conn != NULL && *control_next(conn) == NULL && control_fd(conn) >= 0);
    gw.opts.max_frontends = flags & 1 ? 1 : 2;
    struct owner self = gw.self;
    if (flags & 4) {
        gw.self.uid = geteuid() + 4242;
        snprintf(gw.self.name, sizeof gw.self.name, "akg-service");
    }
    if (impatient) {
        int small = 1; /* the kernel rounds it up to its minimum */
        CHECK(setsockopt(control_fd(conn), SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0);
    }
    unsigned first_id = gw.next_frontend_id;

    struct buf replies = {0};
    size_t off = 0;
    bool eof = false;
    for (int idle = 0, stalled = 0; control_fd(conn) >= 0;) {
        if (off < total) {
            const char *from = off < size ? (const char *)data + off : filler + (off - size);
            size_t len = off < size ? size - off : total - off;
            ssize_t n = send(client, from, len, MSG_DONTWAIT | MSG_NOSIGNAL);
            CHECK(n > 0 || errno == EAGAIN);
            if (n > 0)
                off += (size_t)n, stalled = 0;
            else if (++stalled > 100)
                off = total; /* the service reads no more (it is closing): give up the rest */
        } else if (!eof) {
            if (impatient)
                close(client), client = -1;
            else
                CHECK(shutdown(client, SHUT_WR) == 0);
            eof = true;
        }
        /* as router.c dispatch: writable first, then readable */
        if (control_wants_write(conn))
            control_on_writable(conn);
        if (control_fd(conn) >= 0)
            control_on_readable(conn);
        if (client >= 0)
            drain(client, &replies);
        /* All written, end of file sent, nothing left to send back: the
         * next call must see the end of file and close. */
        idle = eof && control_fd(conn) >= 0 && !control_wants_write(conn) ? idle + 1 : 0;
        if (idle > 100) {
            if (known_bug("status-keeps-connection")) {
                control_close(conn);
                break;
            }
            fprintf(stderr, "control.c keeps the connection open after its peer closed it, with nothing "
                            "to write: the router would poll its fd (readable: end of file) forever\n");
            abort();
        }
    }
    if (client >= 0) {
        drain(client, &replies);
        close(client);
        check_replies(&replies);
    }
    buf_free(&replies);
    control_reap(&gw);
    CHECK(gw.conns == NULL);

    /* The frontends this connection attached: gone with it. */
    struct frontend **link = &gw.frontends;
    while (*link != &other) {
        struct frontend *fe = *link;
        CHECK(fe->id >= first_id);
        if (!fe->dropped && !known_bug("frontend-outlives-connection")) {
            fprintf(stderr, "frontend %u outlives its control connection (not dropped, conn %p): "
                            "it keeps its ports and its place under --max-frontends, never culled\n",
                    fe->id, (void *)fe->conn);
            abort();
        }
        *link = fe->next;
        signer_free(fe->signer);
        connfile_free(&fe->cf);
        free(fe);
    }
    CHECK(!other.dropped && other.next == NULL);
    gw.self = self;
    return 0;
}

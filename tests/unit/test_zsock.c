/* test_zsock: the router's native ZMQ sockets (common/zsock.c) against real
 * libzmq peers, over TCP and IPC: ROUTER with DEALERs (routing ids,
 * generated ids, handover), XPUB with SUB and XSUB (prefix filtering,
 * cancel, a slow subscriber), REP with REQ; limits, peers that are not
 * ZMTP or of the wrong type, PING, close. Also the helpers that
 * test_jmsg.c shares (suites.h). Every wait is on the expected event,
 * with a deadline. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/zmtp.h"
#include "common/zsock.h"
#include "suites.h"

/* ---- the shared helpers (suites.h) ---- */

static struct span copy_span(struct span s)
{
    char *p = malloc(s.len ? s.len : 1);
    ck_assert_ptr_nonnull(p);
    if (s.len)
        memcpy(p, s.data, s.len);
    return (struct span){p, s.len};
}

void ztest_handler(void *owner, int tag, const struct span *frames, size_t nframes, size_t size,
                   bool too_many_frames)
{
    struct ztest_record *r = owner;
    ck_assert_uint_lt(r->n, ZTEST_MAX_MSGS);
    struct ztest_msg *m = &r->msgs[r->n++];
    m->frames = calloc(nframes ? nframes : 1, sizeof *m->frames);
    ck_assert_ptr_nonnull(m->frames);
    for (size_t i = 0; i < nframes; i++)
        m->frames[i] = copy_span(frames[i]);
    m->nframes = nframes;
    m->size = size;
    m->too_many_frames = too_many_frames;
    m->tag = tag;
}

void ztest_msg_free(struct ztest_msg *m)
{
    for (size_t i = 0; i < m->nframes; i++)
        free((char *)m->frames[i].data);
    free(m->frames);
    memset(m, 0, sizeof *m);
}

void ztest_record_free(struct ztest_record *r)
{
    for (size_t i = 0; i < r->n; i++)
        ztest_msg_free(&r->msgs[i]);
    r->n = 0;
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

bool ztest_drive(struct zhub *h, void *zmq_socket, bool (*done)(void *), void *arg)
{
    long long deadline = now_ms() + ZTEST_TIMEOUT_MS;
    for (;;) {
        zhub_run(h);
        zhub_flush(h);
        if (done(arg))
            return true;
        long long left = deadline - now_ms();
        if (left <= 0)
            return false;
        /* a short slice: libzmq's own threads may be what we wait for */
        zmq_pollitem_t items[2] = {{NULL, zhub_fd(h), ZMQ_POLLIN, 0}, {zmq_socket, 0, ZMQ_POLLIN, 0}};
        ck_assert_int_ge(zmq_poll(items, zmq_socket ? 2 : 1, left < 10 ? left : 10), 0);
    }
}

struct handler_wait {
    struct ztest_record *r;
    size_t n;
};

static bool handler_has(void *arg)
{
    struct handler_wait *w = arg;
    return w->r->n >= w->n;
}

bool ztest_wait_handler(struct zhub *h, struct ztest_record *r, size_t n)
{
    struct handler_wait w = {r, n};
    return ztest_drive(h, NULL, handler_has, &w);
}

void ztest_zmq_send(void *zmq_socket, const struct span *frames, size_t nframes)
{
    for (size_t i = 0; i < nframes; i++)
        ck_assert_int_eq(zmq_send(zmq_socket, frames[i].data, frames[i].len, i + 1 < nframes ? ZMQ_SNDMORE : 0),
                         (int)frames[i].len);
}

static bool zmq_readable(void *zmq_socket)
{
    int events = 0;
    size_t len = sizeof events;
    ck_assert_int_eq(zmq_getsockopt(zmq_socket, ZMQ_EVENTS, &events, &len), 0);
    return events & ZMQ_POLLIN;
}

bool ztest_zmq_try_recv(void *zmq_socket, struct ztest_msg *m)
{
    memset(m, 0, sizeof *m);
    if (!zmq_readable(zmq_socket))
        return false;
    size_t cap = 0;
    for (int more = 1, flags = ZMQ_DONTWAIT; more; flags = 0) {
        zmq_msg_t f;
        zmq_msg_init(&f);
        ck_assert_int_ge(zmq_msg_recv(&f, zmq_socket, flags), 0); /* the rest of it is here */
        if (m->nframes == cap) {
            cap = cap ? 2 * cap : 8;
            m->frames = realloc(m->frames, cap * sizeof *m->frames);
            ck_assert_ptr_nonnull(m->frames);
        }
        m->frames[m->nframes++] = copy_span((struct span){zmq_msg_data(&f), zmq_msg_size(&f)});
        m->size += zmq_msg_size(&f);
        more = zmq_msg_more(&f);
        zmq_msg_close(&f);
    }
    return true;
}

static bool readable_done(void *zmq_socket) { return zmq_readable(zmq_socket); }

bool ztest_zmq_recv(struct zhub *h, void *zmq_socket, struct ztest_msg *m)
{
    memset(m, 0, sizeof *m);
    return ztest_drive(h, zmq_socket, readable_done, zmq_socket) && ztest_zmq_try_recv(zmq_socket, m);
}

/* ---- fixture: a hub, a libzmq context, the peers opened ---- */

static void *zctx;
static struct zhub *hub;
static struct ztest_record rec;
static char ipc_path[96], ipc_endpoint[112];
static void *peers[16];
static size_t npeers;

static void setup(void)
{
    zctx = zmq_ctx_new();
    ck_assert_ptr_nonnull(zctx);
    hub = zhub_new();
    ck_assert_ptr_nonnull(hub);
    memset(&rec, 0, sizeof rec);
    npeers = 0;
    /* one per test: each runs in a process of its own */
    snprintf(ipc_path, sizeof ipc_path, "/tmp/akg-test-zsock-%ld.ipc", (long)getpid());
    snprintf(ipc_endpoint, sizeof ipc_endpoint, "ipc://%s", ipc_path);
    unlink(ipc_path);
}

static void teardown(void)
{
    for (size_t i = 0; i < npeers; i++)
        if (peers[i])
            zmq_close(peers[i]);
    zmq_ctx_term(zctx);
    zhub_free(hub);
    ztest_record_free(&rec);
    unlink(ipc_path);
}

enum transport { TCP, IPC };

static struct zsock_options options(void)
{
    return (struct zsock_options){.name = "test", .max_frames = 64, .max_queued = 1 << 20,
                                  .handler = ztest_handler, .owner = &rec, .tag = 7};
}

/* Bind a socket of the hub; *endpoint is where peers connect. */
static struct zsock *bind_with(enum zsock_type type, enum transport t, struct zsock_options o, char endpoint[112])
{
    char err[256] = "";
    struct zsock *s = zsock_bind(hub, type, t == TCP ? "tcp://127.0.0.1:0" : ipc_endpoint, &o, err, sizeof err);
    ck_assert_msg(s != NULL, "bind: %s", err);
    if (t == TCP) {
        ck_assert_int_gt(zsock_port(s), 0);
        snprintf(endpoint, 112, "tcp://127.0.0.1:%d", zsock_port(s));
    } else {
        ck_assert_int_eq(zsock_port(s), 0);
        snprintf(endpoint, 112, "%s", ipc_endpoint);
    }
    return s;
}

static struct zsock *bind_sock(enum zsock_type type, enum transport t, char endpoint[112])
{
    return bind_with(type, t, options(), endpoint);
}

/* A libzmq socket connected to endpoint; routing_id NULL: none set. */
static void *peer(int type, const char *routing_id, const char *endpoint)
{
    void *s = zmq_socket(zctx, type);
    ck_assert_ptr_nonnull(s);
    int linger = 0;
    ck_assert_int_eq(zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger), 0);
    if (routing_id)
        ck_assert_int_eq(zmq_setsockopt(s, ZMQ_ROUTING_ID, routing_id, strlen(routing_id)), 0);
    ck_assert_int_eq(zmq_connect(s, endpoint), 0);
    ck_assert_uint_lt(npeers, sizeof peers / sizeof peers[0]);
    peers[npeers++] = s;
    return s;
}

static void *subscriber(const char *topic, const char *endpoint)
{
    void *s = peer(ZMQ_SUB, NULL, endpoint);
    if (topic)
        ck_assert_int_eq(zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, strlen(topic)), 0);
    return s;
}

static void send_str(void *zmq_socket, const char *text) { ztest_zmq_send(zmq_socket, &(struct span){text, strlen(text)}, 1); }

static void assert_span_eq(struct span s, const char *expect)
{
    ck_assert_msg(s.len == strlen(expect) && (!s.len || memcmp(s.data, expect, s.len) == 0),
                  "got \"%.*s\", want \"%s\"", (int)s.len, s.len ? s.data : "", expect);
}

/* The next message on a libzmq socket is exactly `expect` (NULL-terminated). */
static void expect_zmq(void *zmq_socket, const char *const *expect)
{
    struct ztest_msg m;
    ck_assert_msg(ztest_zmq_recv(hub, zmq_socket, &m), "no message for \"%s\"", expect[0]);
    size_t n = 0;
    while (expect[n])
        n++;
    ck_assert_uint_eq(m.nframes, n);
    for (size_t i = 0; i < n; i++)
        assert_span_eq(m.frames[i], expect[i]);
    ztest_msg_free(&m);
}
#define EXPECT_ZMQ(sock, ...) expect_zmq(sock, (const char *const[]){__VA_ARGS__, NULL})

static int send_strs(struct zsock *s, const char *const *frames)
{
    struct span spans[16];
    size_t n = 0;
    for (; frames[n]; n++)
        spans[n] = span_str(frames[n]);
    return zsock_send(s, spans, n);
}
#define SEND(sock, ...) send_strs(sock, (const char *const[]){__VA_ARGS__, NULL})

/* ---- a raw peer over a plain socket, speaking ZMTP with common/zmtp.c ---- */

struct raw {
    int fd;
    struct zmtp_decoder dec;
    struct buf in;
    struct zmtp_event ev;
    bool eof;
};

static int raw_connect(const char *endpoint)
{
    int fd;
    if (strncmp(endpoint, "tcp://127.0.0.1:", 16) == 0) {
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(endpoint + 16))};
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    } else {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        ck_assert(strncmp(endpoint, "ipc://", 6) == 0 && strlen(endpoint + 6) < sizeof sun.sun_path);
        strcpy(sun.sun_path, endpoint + 6);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof sun), 0);
    }
    return fd;
}

static void raw_write(struct raw *r, const void *data, size_t len)
{
    ck_assert_int_eq(send(r->fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Connect; with socket_type, send our greeting and READY. */
static void raw_open(struct raw *r, const char *endpoint, const char *socket_type)
{
    memset(r, 0, sizeof *r);
    r->fd = raw_connect(endpoint);
    zmtp_decoder_init(&r->dec, 0, 64);
    if (socket_type) {
        struct buf b = {0};
        ck_assert_int_eq(zmtp_write_handshake(&b, socket_type), 0);
        raw_write(r, b.data, b.len);
        buf_free(&b);
    }
}

static void raw_close(struct raw *r)
{
    close(r->fd);
    zmtp_decoder_free(&r->dec);
    buf_free(&r->in);
}

static void raw_command(struct raw *r, const char *name, const void *data, size_t len)
{
    struct buf b = {0};
    ck_assert_int_eq(zmtp_write_command(&b, name, (struct span){data, len}), 0);
    raw_write(r, b.data, b.len);
    buf_free(&b);
}

/* An event decoded from what was read, or the end of the stream. */
static bool raw_done(void *arg)
{
    struct raw *r = arg;
    for (;;) {
        if (buf_pending(&r->in)) {
            size_t used = 0;
            const char *error;
            enum zmtp_status st = zmtp_decode(&r->dec, buf_head(&r->in), buf_pending(&r->in), &used, &r->ev, &error);
            ck_assert_msg(st != ZMTP_ERROR, "the hub sent invalid ZMTP: %s", error);
            buf_consume(&r->in, used);
            if (st == ZMTP_EVENT)
                return true;
        }
        char chunk[4096];
        ssize_t n = recv(r->fd, chunk, sizeof chunk, MSG_DONTWAIT);
        if (n == 0) {
            r->eof = true;
            return true;
        }
        if (n < 0) {
            ck_assert_msg(errno == EAGAIN || errno == EWOULDBLOCK, "recv: %s", strerror(errno));
            return false;
        }
        ck_assert_int_eq(buf_append(&r->in, chunk, (size_t)n), 0);
    }
}

/* Drive the hub until the raw peer has its next event (true) or the hub
 * has closed the connection (false). */
static bool raw_next(struct raw *r)
{
    ck_assert_msg(ztest_drive(hub, NULL, raw_done, r), "nothing from the hub");
    return !r->eof;
}

static void raw_expect_ready(struct raw *r, const char *socket_type)
{
    ck_assert(raw_next(r));
    ck_assert_int_eq(r->ev.kind, ZMTP_READY);
    assert_span_eq(r->ev.socket_type, socket_type);
}

static void raw_expect_pong(struct raw *r, const char *context)
{
    ck_assert(raw_next(r));
    ck_assert_int_eq(r->ev.kind, ZMTP_COMMAND);
    assert_span_eq(r->ev.name, "PONG");
    assert_span_eq(r->ev.data, context);
}

/* PING with TTL 0 and a context: the PONG that comes back says every
 * byte sent before it has been handled. */
static void raw_ping(struct raw *r, const char *context)
{
    char data[64];
    size_t len = strlen(context);
    ck_assert_uint_lt(len + 2, sizeof data);
    data[0] = data[1] = 0;
    memcpy(data + 2, context, len);
    raw_command(r, "PING", data, len + 2);
}

/* ---- bind ---- */

START_TEST(test_zsock_bind_endpoints)
{
    char ep1[112], ep2[112], err[256];
    struct zsock *a = bind_sock(ZSOCK_ROUTER, TCP, ep1);
    struct zsock *b = bind_sock(ZSOCK_XPUB, TCP, ep2);
    ck_assert_int_ne(zsock_port(a), zsock_port(b));
    struct zsock *c = bind_sock(ZSOCK_REP, IPC, ep2);
    ck_assert_int_eq(zsock_port(c), 0);

    struct zsock_options o = options();
    static const char *const bad[] = {
        "udp://127.0.0.1:0", "tcp://127.0.0.1", "tcp://127.0.0.1:port", "127.0.0.1:0", "",
        "ipc:///tmp/no-such-directory-akg/x.ipc",
        "ipc:///tmp/a-path-longer-than-a-unix-socket-can-hold-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_msg(zsock_bind(hub, ZSOCK_ROUTER, bad[i], &o, err, sizeof err) == NULL, "%s bound", bad[i]);
        ck_assert_msg(err[0], "no reason given for %s", bad[i]);
    }
    /* a port in use */
    char taken[64];
    snprintf(taken, sizeof taken, "tcp://127.0.0.1:%d", zsock_port(a));
    err[0] = '\0';
    ck_assert_ptr_null(zsock_bind(hub, ZSOCK_ROUTER, taken, &o, err, sizeof err));
    ck_assert(err[0]);
    zsock_close(NULL);
}
END_TEST

/* ---- ROUTER ---- */

/* "localhost", "*" and "0.0.0.0" are IPv4, as libzmq binds them: clients
 * connecting to 127.0.0.1 find the kernel. */
START_TEST(test_zsock_bind_host_names)
{
    static const char *const hosts[] = {"localhost", "*", "0.0.0.0", "127.0.0.1"};
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        char endpoint[112], err[256], to[64];
        snprintf(endpoint, sizeof endpoint, "tcp://%s:0", hosts[i]);
        struct zsock_options o = options();
        struct zsock *s = zsock_bind(hub, ZSOCK_REP, endpoint, &o, err, sizeof err);
        ck_assert_msg(s != NULL, "%s: %s", endpoint, err);
        snprintf(to, sizeof to, "tcp://127.0.0.1:%d", zsock_port(s));
        void *req = peer(ZMQ_REQ, NULL, to);
        send_str(req, hosts[i]);
        EXPECT_ZMQ(req, hosts[i]);
        zsock_close(s);
    }
}
END_TEST

START_TEST(test_zsock_router_routing_id)
{
    char ep[112];
    struct zsock *s = bind_sock(ZSOCK_ROUTER, (enum transport)_i, ep);
    void *d = peer(ZMQ_DEALER, "alice", ep);
    struct span hello[] = {span_str("hello"), {"", 0}, span_str("world")};
    ztest_zmq_send(d, hello, 3);
    send_str(d, "second");
    ck_assert(ztest_wait_handler(hub, &rec, 2));
    struct ztest_msg *m = &rec.msgs[0];
    ck_assert_int_eq(m->tag, 7);
    ck_assert_uint_eq(m->nframes, 4);
    assert_span_eq(m->frames[0], "alice");
    assert_span_eq(m->frames[1], "hello");
    assert_span_eq(m->frames[2], "");
    assert_span_eq(m->frames[3], "world");
    ck_assert_uint_eq(m->size, 10);
    ck_assert(!m->too_many_frames);
    ck_assert_uint_eq(rec.msgs[1].nframes, 2);
    assert_span_eq(rec.msgs[1].frames[1], "second");

    ck_assert_int_eq(SEND(s, "alice", "reply", "", "x"), 0);
    ck_assert_int_eq(SEND(s, "alice", "again"), 0);
    EXPECT_ZMQ(d, "reply", "", "x");
    EXPECT_ZMQ(d, "again");
}
END_TEST

START_TEST(test_zsock_router_generated_identity)
{
    char ep[112];
    struct zsock *s = bind_sock(ZSOCK_ROUTER, (enum transport)_i, ep);
    void *one = peer(ZMQ_DEALER, NULL, ep);
    send_str(one, "one");
    ck_assert(ztest_wait_handler(hub, &rec, 1));
    void *two = peer(ZMQ_DEALER, NULL, ep);
    send_str(two, "two");
    ck_assert(ztest_wait_handler(hub, &rec, 2));
    struct span id1 = rec.msgs[0].frames[0], id2 = rec.msgs[1].frames[0];
    assert_span_eq(rec.msgs[0].frames[1], "one");
    assert_span_eq(rec.msgs[1].frames[1], "two");
    ck_assert_uint_eq(id1.len, 5); /* as libzmq: 0x00 and a 32-bit counter */
    ck_assert_uint_eq(id2.len, 5);
    ck_assert_int_eq(id1.data[0], 0);
    ck_assert_int_eq(id2.data[0], 0);
    ck_assert(memcmp(id1.data, id2.data, 5) != 0);

    struct span to2[] = {id2, span_str("for-two")}, to1[] = {id1, span_str("for-one")};
    ck_assert_int_eq(zsock_send(s, to2, 2), 0);
    ck_assert_int_eq(zsock_send(s, to1, 2), 0);
    EXPECT_ZMQ(one, "for-one");
    EXPECT_ZMQ(two, "for-two");
    /* the same peer keeps its identity */
    send_str(one, "one again");
    ck_assert(ztest_wait_handler(hub, &rec, 3));
    ck_assert_uint_eq(rec.msgs[2].frames[0].len, 5);
    ck_assert_mem_eq(rec.msgs[2].frames[0].data, id1.data, 5);
}
END_TEST

/* A peer may choose a name of the generated kind; a generated one skips it. */
START_TEST(test_zsock_router_generated_identity_skips_a_chosen_one)
{
    char ep[112];
    static const char chosen[5] = {0, 0, 0, 0, 1}; /* what the first generated id would be */
    struct zsock *s = bind_sock(ZSOCK_ROUTER, TCP, ep);
    void *a = zmq_socket(zctx, ZMQ_DEALER); /* peer() takes only text names */
    int linger = 0;
    ck_assert_ptr_nonnull(a);
    peers[npeers++] = a;
    ck_assert_int_eq(zmq_setsockopt(a, ZMQ_LINGER, &linger, sizeof linger), 0);
    ck_assert_int_eq(zmq_setsockopt(a, ZMQ_ROUTING_ID, chosen, sizeof chosen), 0);
    ck_assert_int_eq(zmq_connect(a, ep), 0);
    send_str(a, "from-a");
    ck_assert(ztest_wait_handler(hub, &rec, 1));
    void *b = peer(ZMQ_DEALER, NULL, ep);
    send_str(b, "from-b");
    ck_assert(ztest_wait_handler(hub, &rec, 2));
    struct span id_a = rec.msgs[0].frames[0], id_b = rec.msgs[1].frames[0];
    ck_assert_uint_eq(id_a.len, 5);
    ck_assert_mem_eq(id_a.data, chosen, 5);
    ck_assert_uint_eq(id_b.len, 5);
    ck_assert(memcmp(id_b.data, chosen, 5) != 0);
    struct span to_a[] = {id_a, span_str("for-a")}, to_b[] = {id_b, span_str("for-b")};
    ck_assert_int_eq(zsock_send(s, to_a, 2), 0);
    ck_assert_int_eq(zsock_send(s, to_b, 2), 0);
    EXPECT_ZMQ(a, "for-a");
    EXPECT_ZMQ(b, "for-b");
}
END_TEST

START_TEST(test_zsock_router_unknown_identity)
{
    char ep[112];
    struct zsock *s = bind_sock(ZSOCK_ROUTER, TCP, ep);
    void *d = peer(ZMQ_DEALER, "alice", ep);
    send_str(d, "hi");
    ck_assert(ztest_wait_handler(hub, &rec, 1));
    ck_assert_int_eq(SEND(s, "nobody", "x"), 0); /* dropped, as ZMQ does */
    ck_assert_int_eq(SEND(s, "alic", "x"), 0);
    ck_assert_int_eq(SEND(s, "alice-2", "x"), 0);
    ck_assert_int_eq(SEND(s, "", "x"), 0);
    errno = 0;
    ck_assert_int_eq(zsock_send(s, NULL, 0), -1);
    ck_assert_int_eq(errno, EINVAL);
    /* had any of them gone to alice, it would come before this */
    ck_assert_int_eq(SEND(s, "alice", "sentinel"), 0);
    EXPECT_ZMQ(d, "sentinel");
}
END_TEST

START_TEST(test_zsock_router_handover)
{
    char ep[112];
    struct zsock *s = bind_sock(ZSOCK_ROUTER, TCP, ep);
    void *a = peer(ZMQ_DEALER, "dup", ep);
    send_str(a, "from-a");
    ck_assert(ztest_wait_handler(hub, &rec, 1));
    assert_span_eq(rec.msgs[0].frames[0], "dup");
    void *b = peer(ZMQ_DEALER, "dup", ep);
    send_str(b, "from-b");
    ck_assert(ztest_wait_handler(hub, &rec, 2));
    assert_span_eq(rec.msgs[1].frames[0], "dup");
    assert_span_eq(rec.msgs[1].frames[1], "from-b");

    /* the newcomer has the name now */
    ck_assert_int_eq(SEND(s, "dup", "reply-1"), 0);
    EXPECT_ZMQ(b, "reply-1");
    /* the old connection lives on under a generated identity */
    send_str(a, "again");
    ck_assert(ztest_wait_handler(hub, &rec, 3));
    struct span old = rec.msgs[2].frames[0];
    assert_span_eq(rec.msgs[2].frames[1], "again");
    ck_assert_uint_eq(old.len, 5);
    ck_assert_int_eq(old.data[0], 0);
    struct span to_a[] = {old, span_str("to-a")};
    ck_assert_int_eq(zsock_send(s, to_a, 2), 0);
    EXPECT_ZMQ(a, "to-a"); /* and reply-1 did not go there */
    ck_assert_int_eq(SEND(s, "dup", "reply-2"), 0);
    EXPECT_ZMQ(b, "reply-2");
}
END_TEST

START_TEST(test_zsock_router_peer_gone)
{
    /* a peer that went away: its identity is unknown again, and a new peer
     * may take it */
    char ep[112];
    struct zsock *s = bind_sock(ZSOCK_ROUTER, IPC, ep);
    void *a = peer(ZMQ_DEALER, "carol", ep);
    send_str(a, "hi");
    ck_assert(ztest_wait_handler(hub, &rec, 1));
    zmq_close(a);
    peers[npeers - 1] = NULL;
    void *b = peer(ZMQ_DEALER, "carol", ep);
    send_str(b, "back");
    ck_assert(ztest_wait_handler(hub, &rec, 2));
    ck_assert_int_eq(SEND(s, "carol", "welcome"), 0);
    EXPECT_ZMQ(b, "welcome");
}
END_TEST

/* ---- XPUB ---- */

/* Publish `topic`/"probe" until each of subs[] has received something:
 * then each is connected and its subscriptions are in place. */
struct sync {
    struct zsock *pub;
    const char *topic;
    void **subs;
    size_t n;
    bool got[8];
};

static bool is_probe(const struct ztest_msg *m)
{
    return m->nframes == 2 && m->frames[1].len == 5 && memcmp(m->frames[1].data, "probe", 5) == 0;
}

static bool sync_done(void *arg)
{
    struct sync *y = arg;
    struct span probe[] = {span_str(y->topic), span_str("probe")};
    ck_assert_int_eq(zsock_send(y->pub, probe, 2), 0);
    bool all = true;
    for (size_t i = 0; i < y->n; i++) {
        struct ztest_msg m;
        while (ztest_zmq_try_recv(y->subs[i], &m)) {
            ck_assert_msg(is_probe(&m), "a message before the probes");
            y->got[i] = true;
            ztest_msg_free(&m);
        }
        all = all && y->got[i];
    }
    return all;
}

static void sync_subscribers(struct zsock *pub, const char *topic, void **subs, size_t n)
{
    struct sync y = {.pub = pub, .topic = topic, .subs = subs, .n = n};
    ck_assert_uint_le(n, 8);
    ck_assert_msg(ztest_drive(hub, NULL, sync_done, &y), "subscribers to %s never synchronised", topic);
}

/* The next message that is not a probe has this topic and a second frame. */
static void expect_topic(void *sub, const char *topic)
{
    struct ztest_msg m = {0};
    do {
        if (m.frames)
            ztest_msg_free(&m);
        ck_assert_msg(ztest_zmq_recv(hub, sub, &m), "no message with topic \"%s\"", topic);
    } while (is_probe(&m));
    ck_assert_uint_eq(m.nframes, 2);
    assert_span_eq(m.frames[0], topic);
    assert_span_eq(m.frames[1], "payload");
    ztest_msg_free(&m);
}

static void publish(struct zsock *pub, const char *topic)
{
    struct span f[] = {span_str(topic), span_str("payload")};
    ck_assert_int_eq(zsock_send(pub, f, 2), 0);
}

START_TEST(test_zsock_xpub_prefix_filter)
{
    char ep[112];
    struct zsock *pub = bind_sock(ZSOCK_XPUB, (enum transport)_i, ep);
    void *all = subscriber("", ep), *abc = subscriber("abc", ep), *none = subscriber(NULL, ep);
    /* XSUBs do not filter what they receive: what reaches them is what the
     * XPUB chose to send */
    void *xabc = peer(ZMQ_XSUB, NULL, ep), *xzz = peer(ZMQ_XSUB, NULL, ep);
    ck_assert_int_eq(zmq_send(xabc, "\x01" "abc", 4, 0), 4);
    ck_assert_int_eq(zmq_send(xzz, "\x01zz", 3, 0), 3);
    sync_subscribers(pub, "abc.sync", (void *[]){all, abc, xabc}, 3);
    sync_subscribers(pub, "zz.sync", (void *[]){xzz}, 1);

    static const char *const topics[] = {"abc", "abcdef", "ab", "xyz", "", "abd", "zz", "abc.end", "zz.end"};
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++)
        publish(pub, topics[i]);
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++)
        expect_topic(all, topics[i]);
    expect_topic(abc, "abc");
    expect_topic(abc, "abcdef");
    expect_topic(abc, "abc.end");
    expect_topic(xabc, "abc");
    expect_topic(xabc, "abcdef");
    expect_topic(xabc, "abc.end");
    expect_topic(xzz, "zz");
    expect_topic(xzz, "zz.end");
    struct ztest_msg m;
    ck_assert(!ztest_zmq_try_recv(none, &m));

    /* cancel: xabc drops "abc" for "zz" */
    ck_assert_int_eq(zmq_send(xabc, "\x00" "abc", 4, 0), 4);
    ck_assert_int_eq(zmq_send(xabc, "\x01zz", 3, 0), 3);
    sync_subscribers(pub, "zz.sync2", (void *[]){xabc}, 1);
    publish(pub, "abc.after");
    publish(pub, "zz.end2");
    expect_topic(xabc, "zz.end2");
    expect_topic(abc, "abc.after");
    ck_assert(!ztest_zmq_try_recv(none, &m));
}
END_TEST

START_TEST(test_zsock_xpub_subscribe_commands)
{
    /* ZMTP 3.1 peers subscribe with commands; and a subscriber with no
     * subscription gets nothing (the PONG, queued after, comes first) */
    char ep[112];
    struct zsock *pub = bind_sock(ZSOCK_XPUB, TCP, ep);
    struct raw r;
    raw_open(&r, ep, "SUB");
    raw_expect_ready(&r, "XPUB");
    raw_ping(&r, "p0");
    raw_expect_pong(&r, "p0");
    publish(pub, "abc");
    raw_ping(&r, "p1");
    raw_expect_pong(&r, "p1");

    raw_command(&r, "SUBSCRIBE", "abc", 3);
    raw_ping(&r, "p2");
    raw_expect_pong(&r, "p2");
    publish(pub, "abc");
    publish(pub, "xyz");
    publish(pub, "abcd");
    ck_assert(raw_next(&r));
    ck_assert_int_eq(r.ev.kind, ZMTP_MESSAGE);
    ck_assert_uint_eq(r.ev.nframes, 2);
    assert_span_eq(r.ev.frames[0], "abc");
    ck_assert(raw_next(&r));
    assert_span_eq(r.ev.frames[0], "abcd");

    raw_command(&r, "CANCEL", "abc", 3);
    raw_ping(&r, "p3");
    raw_expect_pong(&r, "p3");
    publish(pub, "abc");
    raw_ping(&r, "p4");
    raw_expect_pong(&r, "p4");
    raw_close(&r);
}
END_TEST

START_TEST(test_zsock_xpub_slow_subscriber)
{
    /* a SUB that never reads: once max_queued bytes wait for it, messages
     * are dropped for it (EAGAIN) and another SUB still gets every one */
    char ep[112];
    struct zsock_options o = options();
    o.max_queued = 256 * 1024;
    struct zsock *pub = bind_with(ZSOCK_XPUB, TCP, o, ep);
    void *slow = zmq_socket(zctx, ZMQ_SUB);
    ck_assert_ptr_nonnull(slow);
    peers[npeers++] = slow;
    int one = 1, small = 4096, linger = 0;
    ck_assert_int_eq(zmq_setsockopt(slow, ZMQ_LINGER, &linger, sizeof linger), 0);
    ck_assert_int_eq(zmq_setsockopt(slow, ZMQ_RCVHWM, &one, sizeof one), 0);
    ck_assert_int_eq(zmq_setsockopt(slow, ZMQ_RCVBUF, &small, sizeof small), 0);
    ck_assert_int_eq(zmq_setsockopt(slow, ZMQ_SUBSCRIBE, "t", 1), 0);
    ck_assert_int_eq(zmq_connect(slow, ep), 0);
    void *fast = subscriber("t", ep);
    sync_subscribers(pub, "t", (void *[]){slow, fast}, 2);

    enum { PAYLOAD = 64 * 1024, MAX_SEQ = 1000 };
    char *payload = malloc(PAYLOAD);
    memset(payload, 'p', PAYLOAD);
    int dropped = -1;
    for (int seq = 0; seq < MAX_SEQ && dropped < 0; seq++) {
        char text[16];
        snprintf(text, sizeof text, "%d", seq);
        struct span f[] = {span_str("t"), span_str(text), {payload, PAYLOAD}};
        errno = 0;
        if (zsock_send(pub, f, 3) < 0) {
            ck_assert_int_eq(errno, EAGAIN);
            dropped = seq;
        }
        /* the fast one has it (so its queue is empty again) */
        struct ztest_msg m;
        do {
            ck_assert_msg(ztest_zmq_recv(hub, fast, &m), "the fast subscriber lost %d", seq);
            if (is_probe(&m))
                ztest_msg_free(&m);
        } while (!m.frames);
        ck_assert_uint_eq(m.nframes, 3);
        assert_span_eq(m.frames[1], text);
        ck_assert_uint_eq(m.frames[2].len, PAYLOAD);
        ztest_msg_free(&m);
    }
    ck_assert_msg(dropped > 0, "no EAGAIN after %d messages", MAX_SEQ);

    /* the slow one now reads: everything before the drop, in order, whole */
    for (int seq = 0; seq < dropped; seq++) {
        struct ztest_msg m;
        do {
            ck_assert_msg(ztest_zmq_recv(hub, slow, &m), "the slow subscriber lost %d of %d", seq, dropped);
            if (is_probe(&m))
                ztest_msg_free(&m);
        } while (!m.frames);
        char text[16];
        snprintf(text, sizeof text, "%d", seq);
        ck_assert_uint_eq(m.nframes, 3);
        assert_span_eq(m.frames[1], text);
        ck_assert_uint_eq(m.frames[2].len, PAYLOAD);
        ztest_msg_free(&m);
    }
    /* its queue has drained: the next message reaches it, the dropped one never */
    struct span next[] = {span_str("t"), span_str("next"), {payload, 10}};
    ck_assert_int_eq(zsock_send(pub, next, 3), 0);
    const char *const expect[] = {"t", "next", "pppppppppp", NULL};
    expect_zmq(slow, expect);
    expect_zmq(fast, expect);
    free(payload);
}
END_TEST

/* ---- REP ---- */

START_TEST(test_zsock_rep_echo)
{
    char ep[112];
    bind_sock(ZSOCK_REP, (enum transport)_i, ep);
    void *req = peer(ZMQ_REQ, NULL, ep);
    for (int i = 0; i < 3; i++) {
        char text[16];
        snprintf(text, sizeof text, "ping-%d", i);
        send_str(req, text);
        struct ztest_msg m;
        ck_assert(ztest_zmq_recv(hub, req, &m));
        ck_assert_uint_eq(m.nframes, 1);
        assert_span_eq(m.frames[0], text);
        ztest_msg_free(&m);
    }
    struct span two[] = {span_str("a"), {"", 0}, span_str("b")};
    ztest_zmq_send(req, two, 3);
    EXPECT_ZMQ(req, "a", "", "b");
    /* a second client, with a routing id, is answered too */
    void *req2 = peer(ZMQ_REQ, "named", ep);
    send_str(req2, "hb");
    EXPECT_ZMQ(req2, "hb");
    /* zmq_recv, as the heartbeat client does it */
    send_str(req, "raw");
    struct ztest_msg none;
    ck_assert(ztest_drive(hub, req, readable_done, req));
    char got[16];
    ck_assert_int_eq(zmq_recv(req, got, sizeof got, ZMQ_DONTWAIT), 3);
    ck_assert_mem_eq(got, "raw", 3);
    ck_assert(!ztest_zmq_try_recv(req, &none));
    ck_assert_uint_eq(rec.n, 0); /* a REP does not call the handler */
}
END_TEST

/* ---- bad peers ---- */

START_TEST(test_zsock_garbage_peer_disconnected)
{
    char ep[112];
    struct zsock *s = bind_sock(ZSOCK_ROUTER, TCP, ep);
    void *d = peer(ZMQ_DEALER, "alice", ep);
    send_str(d, "before");
    ck_assert(ztest_wait_handler(hub, &rec, 1));

    struct raw r;
    raw_open(&r, ep, NULL);
    raw_write(&r, "GET / HTTP/1.0\r\n\r\n", 18);
    int events = 0;
    while (raw_next(&r)) { /* our greeting may have gone out first */
        ck_assert_int_eq(r.ev.kind, ZMTP_READY);
        events++;
    }
    ck_assert_int_le(events, 1);
    char c;
    ck_assert_int_eq(read(r.fd, &c, 1), 0);
    raw_close(&r);

    /* the socket still serves the others, old and new */
    ck_assert_int_eq(SEND(s, "alice", "still here"), 0);
    EXPECT_ZMQ(d, "still here");
    void *d2 = peer(ZMQ_DEALER, "bob", ep);
    send_str(d2, "new");
    ck_assert(ztest_wait_handler(hub, &rec, 2));
    assert_span_eq(rec.msgs[1].frames[0], "bob");
    assert_span_eq(rec.msgs[1].frames[1], "new");
    ck_assert_int_eq(SEND(s, "bob", "hi bob"), 0);
    EXPECT_ZMQ(d2, "hi bob");
}
END_TEST

START_TEST(test_zsock_wrong_socket_type_disconnected)
{
    static const struct {
        enum zsock_type type;
        const char *mine, *peer;
    } cases[] = {
        {ZSOCK_ROUTER, "ROUTER", "PUB"}, {ZSOCK_ROUTER, "ROUTER", "SUB"},
        {ZSOCK_XPUB, "XPUB", "DEALER"},   {ZSOCK_XPUB, "XPUB", "PUB"},
        {ZSOCK_REP, "REP", "SUB"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char ep[112];
        struct zsock *s = bind_sock(cases[i].type, TCP, ep);
        struct raw r;
        raw_open(&r, ep, cases[i].peer);
        raw_expect_ready(&r, cases[i].mine);
        ck_assert_msg(!raw_next(&r), "a %s peer was kept by a %s", cases[i].peer, cases[i].mine);
        raw_close(&r);
        zsock_close(s);
    }
    ck_assert_uint_eq(rec.n, 0);
}
END_TEST

START_TEST(test_zsock_ping_pong)
{
    char ep[112];
    bind_sock(ZSOCK_ROUTER, IPC, ep);
    struct raw r;
    raw_open(&r, ep, "DEALER");
    raw_expect_ready(&r, "ROUTER");
    raw_command(&r, "PING", "\x00\x0a" "ctx-1", 7);
    raw_expect_pong(&r, "ctx-1");
    raw_command(&r, "PING", "\x00", 1); /* too short: no answer */
    raw_command(&r, "PING", "\x00\x00", 2);
    raw_expect_pong(&r, "");
    /* a message from a raw DEALER reaches the handler with a generated identity */
    struct buf b = {0};
    struct span f[] = {span_str("raw")};
    ck_assert_int_eq(zmtp_write_message(&b, f, 1), 0);
    raw_write(&r, b.data, b.len);
    buf_free(&b);
    ck_assert(ztest_wait_handler(hub, &rec, 1));
    ck_assert_uint_eq(rec.msgs[0].frames[0].len, 5);
    assert_span_eq(rec.msgs[0].frames[1], "raw");
    /* ERROR from the peer ends the connection */
    raw_command(&r, "ERROR", "\x03" "bye", 4);
    ck_assert(!raw_next(&r));
    raw_close(&r);
}
END_TEST

/* libzmq's heartbeats (ZMQ_HEARTBEAT_IVL) get PONGs it accepts: with a
 * timeout of a few intervals, a peer that did not answer would be dropped
 * (ZMQ_EVENT_DISCONNECTED) within the time watched. */
struct heartbeat_watch {
    void *monitor;
    long long until;
    int connected, disconnected;
};

static bool heartbeat_watch_done(void *arg)
{
    struct heartbeat_watch *w = arg;
    struct ztest_msg m;
    while (ztest_zmq_try_recv(w->monitor, &m)) {
        ck_assert_uint_ge(m.nframes, 1);
        ck_assert_uint_ge(m.frames[0].len, 2);
        uint16_t event;
        memcpy(&event, m.frames[0].data, 2);
        w->connected += event == ZMQ_EVENT_CONNECTED;
        w->disconnected += event == ZMQ_EVENT_DISCONNECTED;
        ztest_msg_free(&m);
    }
    return w->disconnected > 0 || now_ms() >= w->until;
}

START_TEST(test_zsock_libzmq_heartbeats_answered)
{
    char ep[112];
    struct zsock *s = bind_sock(ZSOCK_ROUTER, TCP, ep);
    void *d = zmq_socket(zctx, ZMQ_DEALER);
    ck_assert_ptr_nonnull(d);
    peers[npeers++] = d;
    int linger = 0, ivl = 20, timeout = 60;
    ck_assert_int_eq(zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger), 0);
    ck_assert_int_eq(zmq_setsockopt(d, ZMQ_ROUTING_ID, "hb", 2), 0);
    ck_assert_int_eq(zmq_setsockopt(d, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl), 0);
    ck_assert_int_eq(zmq_setsockopt(d, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout), 0);
    ck_assert_int_eq(zmq_socket_monitor(d, "inproc://heartbeat-monitor", ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED), 0);
    void *monitor = zmq_socket(zctx, ZMQ_PAIR);
    ck_assert_ptr_nonnull(monitor);
    peers[npeers++] = monitor;
    ck_assert_int_eq(zmq_setsockopt(monitor, ZMQ_LINGER, &linger, sizeof linger), 0);
    ck_assert_int_eq(zmq_connect(monitor, "inproc://heartbeat-monitor"), 0);
    ck_assert_int_eq(zmq_connect(d, ep), 0);
    send_str(d, "hi");
    ck_assert(ztest_wait_handler(hub, &rec, 1));

    struct heartbeat_watch w = {.monitor = monitor, .until = now_ms() + 300};
    ck_assert(ztest_drive(hub, monitor, heartbeat_watch_done, &w));
    ck_assert_int_eq(w.disconnected, 0);
    ck_assert_int_eq(w.connected, 1);
    ck_assert_int_eq(SEND(s, "hb", "still"), 0);
    EXPECT_ZMQ(d, "still");
    ck_assert_int_eq(zmq_socket_monitor(d, NULL, 0), 0);
}
END_TEST

/* ---- limits ---- */

/* Out of file descriptors, the listener waits (the hub does not stay
 * readable, which would spin the router) until a connection closes. */
START_TEST(test_zsock_out_of_fds_waits_for_one_to_close)
{
    char ep[112];
    bind_sock(ZSOCK_ROUTER, TCP, ep);
    struct raw a, b;
    raw_open(&a, ep, "DEALER");
    raw_open(&b, ep, "DEALER");
    int lowest = dup(0);
    ck_assert_int_ge(lowest, 0);
    close(lowest);
    struct rlimit old, low;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = (struct rlimit){(rlim_t)lowest + 1, old.rlim_max};
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0); /* one more descriptor, no more */

    ck_assert(raw_next(&a)); /* a takes it */
    ck_assert_int_eq(a.ev.kind, ZMTP_READY);
    zhub_run(hub);
    zhub_flush(hub);
    struct pollfd ready = {.fd = zhub_fd(hub), .events = POLLIN};
    ck_assert_int_eq(poll(&ready, 1, 0), 0); /* b waits, and nothing is left to do */

    raw_close(&a); /* its descriptor is freed when the hub sees it go */
    ck_assert(raw_next(&b));
    ck_assert_int_eq(b.ev.kind, ZMTP_READY);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    raw_close(&b);
}
END_TEST

static bool closed_by_hub(void *arg)
{
    int fd = *(int *)arg;
    char chunk[256];
    zhub_expire(hub);
    for (;;) {
        ssize_t n = recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
        if (n <= 0)
            return n == 0;
    }
}

/* A peer that connects and never completes its handshake is closed after
 * the timeout (libzmq's ZMQ_HANDSHAKE_IVL); others are not. */
START_TEST(test_zsock_handshake_timeout)
{
    char ep[112];
    bind_sock(ZSOCK_ROUTER, TCP, ep);
    zhub_set_handshake_timeout(hub, 50);
    struct raw silent, talker;
    raw_open(&silent, ep, NULL);
    raw_open(&talker, ep, "DEALER");
    ck_assert(raw_next(&talker));
    ck_assert_int_eq(talker.ev.kind, ZMTP_READY);
    ck_assert(zhub_expire(hub) >= 0); /* the silent one is still waited for */
    ck_assert_msg(ztest_drive(hub, NULL, closed_by_hub, &silent.fd), "the silent peer was not closed");
    ck_assert_int_eq(zhub_expire(hub), -1);
    char byte;
    ck_assert_int_eq(recv(talker.fd, &byte, 1, MSG_DONTWAIT), -1); /* open, nothing to read */
    ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
    raw_close(&silent);
    raw_close(&talker);
}
END_TEST

START_TEST(test_zsock_max_message)
{
    char ep[112];
    struct zsock_options o = options();
    o.max_message = 1000;
    struct zsock *s = bind_with(ZSOCK_ROUTER, TCP, o, ep);
    void *d = peer(ZMQ_DEALER, "big", ep);
    char *big = malloc(5000);
    memset(big, 'b', 5000);
    struct span m1[] = {span_str("small"), {big, 5000}, span_str("tail")};
    ztest_zmq_send(d, m1, 3);
    send_str(d, "next");
    struct span m3[] = {{big, 996}, span_str("fits")}; /* exactly the limit */
    ztest_zmq_send(d, m3, 2);
    ck_assert(ztest_wait_handler(hub, &rec, 3));

    struct ztest_msg *m = &rec.msgs[0];
    ck_assert_uint_eq(m->nframes, 4);
    assert_span_eq(m->frames[0], "big");
    assert_span_eq(m->frames[1], "small");
    ck_assert_uint_eq(m->frames[2].len, 0); /* skipped as it came */
    ck_assert_uint_eq(m->frames[3].len, 0);
    ck_assert_uint_eq(m->size, 5009); /* but counted */
    ck_assert(!m->too_many_frames);
    m = &rec.msgs[1];
    ck_assert_uint_eq(m->nframes, 2);
    assert_span_eq(m->frames[1], "next");
    ck_assert_uint_eq(m->size, 4);
    m = &rec.msgs[2];
    ck_assert_uint_eq(m->size, 1000);
    ck_assert_uint_eq(m->frames[1].len, 996);
    assert_span_eq(m->frames[2], "fits");
    /* the connection is still fine */
    ck_assert_int_eq(SEND(s, "big", "ok"), 0);
    EXPECT_ZMQ(d, "ok");
    free(big);
}
END_TEST

START_TEST(test_zsock_max_frames)
{
    char ep[112];
    struct zsock_options o = options();
    o.max_frames = 4;
    bind_with(ZSOCK_ROUTER, IPC, o, ep);
    void *d = peer(ZMQ_DEALER, "many", ep);
    struct span ten[10];
    char text[10][4];
    for (int i = 0; i < 10; i++) {
        snprintf(text[i], sizeof text[i], "%d", i);
        ten[i] = span_str(text[i]);
    }
    ztest_zmq_send(d, ten, 10);
    ztest_zmq_send(d, ten, 4);
    ck_assert(ztest_wait_handler(hub, &rec, 2));
    struct ztest_msg *m = &rec.msgs[0];
    ck_assert(m->too_many_frames);
    ck_assert_uint_eq(m->nframes, 5); /* the identity and four */
    ck_assert_uint_eq(m->size, 10);
    assert_span_eq(m->frames[0], "many");
    for (int i = 0; i < 4; i++)
        assert_span_eq(m->frames[1 + i], text[i]);
    ck_assert(!rec.msgs[1].too_many_frames);
    ck_assert_uint_eq(rec.msgs[1].nframes, 5);
}
END_TEST

/* ---- close ---- */

START_TEST(test_zsock_close_unlinks_ipc)
{
    char ep[112];
    struct stat st;
    struct zsock *s = bind_sock(ZSOCK_ROUTER, IPC, ep);
    ck_assert_int_eq(lstat(ipc_path, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));
    void *d = peer(ZMQ_DEALER, "x", ep);
    send_str(d, "hi");
    ck_assert(ztest_wait_handler(hub, &rec, 1));
    zsock_close(s);
    ck_assert_int_eq(lstat(ipc_path, &st), -1);
    ck_assert_int_eq(errno, ENOENT);

    /* a stale socket file (its owner died) is replaced, as libzmq does */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    strcpy(sun.sun_path, ipc_path);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
    close(fd);
    ck_assert_int_eq(lstat(ipc_path, &st), 0);
    s = bind_sock(ZSOCK_ROUTER, IPC, ep);
    send_str(d, "again"); /* libzmq reconnects by itself */
    ck_assert(ztest_wait_handler(hub, &rec, 2));
    assert_span_eq(rec.msgs[1].frames[1], "again");
    zsock_close(s);
    ck_assert_int_eq(lstat(ipc_path, &st), -1);

    /* anything else at the path is left alone */
    FILE *f = fopen(ipc_path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    char err[256] = "";
    struct zsock_options o = options();
    ck_assert_ptr_null(zsock_bind(hub, ZSOCK_ROUTER, ipc_endpoint, &o, err, sizeof err));
    ck_assert(err[0]);
    ck_assert_int_eq(lstat(ipc_path, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    unlink(ipc_path);
}
END_TEST

START_TEST(test_zsock_close_sends_queued)
{
    char ep[112];
    struct zsock *s = bind_sock(ZSOCK_ROUTER, TCP, ep);
    void *d = peer(ZMQ_DEALER, "alice", ep);
    send_str(d, "hi");
    ck_assert(ztest_wait_handler(hub, &rec, 1));
    ck_assert_int_eq(SEND(s, "alice", "bye"), 0);
    zsock_close(s); /* no flush in between */
    EXPECT_ZMQ(d, "bye");
}
END_TEST

START_TEST(test_zsock_hub_free_closes_all)
{
    char ep1[112], ep2[112];
    bind_sock(ZSOCK_ROUTER, IPC, ep1);
    bind_sock(ZSOCK_XPUB, TCP, ep2);
    void *d = peer(ZMQ_DEALER, "a", ep1);
    send_str(d, "hi");
    ck_assert(ztest_wait_handler(hub, &rec, 1));
    zhub_free(hub);
    hub = zhub_new();
    struct stat st;
    ck_assert_int_eq(lstat(ipc_path, &st), -1);
}
END_TEST

Suite *zsock_suite(void)
{
    Suite *s = suite_create("zsock");
    TCase *tc = tcase_create("libzmq");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_zsock_bind_endpoints);
    tcase_add_test(tc, test_zsock_bind_host_names);
    tcase_add_loop_test(tc, test_zsock_router_routing_id, TCP, IPC + 1);
    tcase_add_loop_test(tc, test_zsock_router_generated_identity, TCP, IPC + 1);
    tcase_add_test(tc, test_zsock_router_generated_identity_skips_a_chosen_one);
    tcase_add_test(tc, test_zsock_router_unknown_identity);
    tcase_add_test(tc, test_zsock_router_handover);
    tcase_add_test(tc, test_zsock_router_peer_gone);
    tcase_add_loop_test(tc, test_zsock_xpub_prefix_filter, TCP, IPC + 1);
    tcase_add_test(tc, test_zsock_xpub_subscribe_commands);
    tcase_add_test(tc, test_zsock_xpub_slow_subscriber);
    tcase_add_loop_test(tc, test_zsock_rep_echo, TCP, IPC + 1);
    tcase_add_test(tc, test_zsock_garbage_peer_disconnected);
    tcase_add_test(tc, test_zsock_wrong_socket_type_disconnected);
    tcase_add_test(tc, test_zsock_ping_pong);
    tcase_add_test(tc, test_zsock_libzmq_heartbeats_answered);
    tcase_add_test(tc, test_zsock_out_of_fds_waits_for_one_to_close);
    tcase_add_test(tc, test_zsock_handshake_timeout);
    tcase_add_test(tc, test_zsock_max_message);
    tcase_add_test(tc, test_zsock_max_frames);
    tcase_add_test(tc, test_zsock_close_unlinks_ipc);
    tcase_add_test(tc, test_zsock_close_sends_queued);
    tcase_add_test(tc, test_zsock_hub_free_closes_all);
    suite_add_tcase(s, tc);
    return s;
}

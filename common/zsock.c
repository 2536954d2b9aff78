/* zsock: ROUTER, XPUB and REP sockets over ZMTP 3.0; see zsock.h. */
#include "common/zsock.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uthash.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/zmtp.h"

#define READ_CHUNK 65536
#define READS_PER_WAKE 4 /* then the next connection gets its turn */
#define EVENTS_PER_RUN 64
#define ACCEPTS_PER_WAKE 16
#define HANDSHAKE_MS 30000

/* epoll data points at one of these; the first member says which. */
enum zkind { ZK_LISTENER, ZK_CONN };

struct zconn {
    enum zkind kind;
    struct zsock *sock; /* NULL once closed */
    int fd;
    struct zmtp_decoder dec;
    struct buf out;
    bool ready;       /* the peer's READY has come */
    bool queued;      /* in the hub's list of connections to flush */
    bool want_write;  /* EPOLLOUT is armed */
    char *id;         /* ROUTER: the peer's identity */
    size_t idlen;
    struct span *subs; /* XPUB: subscriptions (owned copies) */
    size_t nsubs;
    UT_hash_handle hh; /* zsock.by_id */
    struct zconn *prev, *next;
    struct zconn *grave_next;
    long handshake_due;                /* ms (CLOCK_MONOTONIC), until ready */
    struct zconn *shake_prev, *shake_next; /* zhub.handshaking, until ready */
};

struct zsock {
    enum zkind kind;
    struct zhub *hub;
    enum zsock_type type;
    int fd;
    int port;
    char *ipc_path; /* unlinked on close */
    bool paused;    /* not accepting: out of file descriptors */
    struct zsock_options opts;
    struct zconn *conns;
    struct zconn *by_id;
    unsigned next_peer_id;
    struct zsock *prev, *next;
};

struct zhub {
    int epfd;
    char *scratch; /* READ_CHUNK bytes: every read lands here first */
    struct zconn **dirty;
    size_t ndirty, dirty_cap;
    struct zconn *graveyard; /* closed during a run; freed at the next flush */
    struct zsock *socks;
    bool paused; /* a listener waits for a file descriptor to be freed */
    /* Connections whose handshake is not done, oldest first: they are
     * closed after handshake_ms, as libzmq's ZMQ_HANDSHAKE_IVL does. */
    struct zconn *handshaking, *handshaking_last;
    long handshake_ms;
};

static const char *const type_names[] = {"ROUTER", "XPUB", "REP"};

static void resume_accepting(struct zhub *h);

/* --- the hub ------------------------------------------------------------ */

struct zhub *zhub_new(void)
{
    struct zhub *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->handshake_ms = HANDSHAKE_MS;
    h->epfd = epoll_create1(EPOLL_CLOEXEC);
    h->scratch = malloc(READ_CHUNK);
    if (h->epfd < 0 || !h->scratch) {
        zhub_free(h);
        return NULL;
    }
    return h;
}

static void bury_dead(struct zhub *h)
{
    while (h->graveyard) {
        struct zconn *c = h->graveyard;
        h->graveyard = c->grave_next;
        free(c);
    }
}

void zhub_free(struct zhub *h)
{
    if (!h)
        return;
    while (h->socks)
        zsock_close(h->socks);
    h->ndirty = 0;
    bury_dead(h);
    if (h->epfd >= 0)
        close(h->epfd);
    free(h->dirty);
    free(h->scratch);
    free(h);
}

int zhub_fd(const struct zhub *h) { return h->epfd; }

static void handshake_begin(struct zhub *h, struct zconn *c)
{
    c->handshake_due = monotonic_ms() + h->handshake_ms;
    c->shake_prev = h->handshaking_last;
    if (h->handshaking_last)
        h->handshaking_last->shake_next = c;
    else
        h->handshaking = c;
    h->handshaking_last = c;
}

static void handshake_end(struct zhub *h, struct zconn *c)
{
    if (c->shake_prev)
        c->shake_prev->shake_next = c->shake_next;
    else if (h->handshaking == c)
        h->handshaking = c->shake_next;
    else
        return; /* not in the list */
    if (c->shake_next)
        c->shake_next->shake_prev = c->shake_prev;
    else
        h->handshaking_last = c->shake_prev;
    c->shake_prev = c->shake_next = NULL;
}

void zhub_set_handshake_timeout(struct zhub *h, long ms) { h->handshake_ms = ms; }

static void set_events(struct zconn *c, bool want_write)
{
    if (c->want_write == want_write)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want_write ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(c->sock->hub->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->want_write = want_write;
}

/* --- connections -------------------------------------------------------- */

static void free_subs(struct zconn *c)
{
    for (size_t i = 0; i < c->nsubs; i++)
        free((char *)c->subs[i].data);
    free(c->subs);
    c->subs = NULL;
    c->nsubs = 0;
}

static void conn_close(struct zconn *c, const char *why, bool warn)
{
    struct zsock *s = c->sock;
    if (!s)
        return;
    if (warn)
        log_warn("%s: peer disconnected: %s", s->opts.name, why);
    else
        log_debug("%s: peer disconnected: %s", s->opts.name, why);
    epoll_ctl(s->hub->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    if (s->hub->paused)
        resume_accepting(s->hub);
    if (c->id)
        HASH_DEL(s->by_id, c);
    handshake_end(s->hub, c);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    buf_free(&c->out);
    zmtp_decoder_free(&c->dec);
    free_subs(c);
    free(c->id);
    c->id = NULL;
    c->sock = NULL;
    c->grave_next = s->hub->graveyard; /* epoll may still name it in this run */
    s->hub->graveyard = c;
}

/* Write what is queued; returns -1 if the connection was closed. */
static int conn_write(struct zconn *c)
{
    while (buf_pending(&c->out)) {
        ssize_t n = send(c->fd, buf_head(&c->out), buf_pending(&c->out), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_events(c, true);
                return 0;
            }
            conn_close(c, strerror(errno), false);
            return -1;
        }
        buf_consume(&c->out, (size_t)n);
    }
    buf_free(&c->out); /* a connection at rest holds no buffer */
    set_events(c, false);
    return 0;
}

static void mark_dirty(struct zconn *c)
{
    struct zhub *h = c->sock->hub;
    if (c->queued)
        return;
    if (h->ndirty == h->dirty_cap) {
        size_t cap = h->dirty_cap ? h->dirty_cap * 2 : 64;
        struct zconn **dirty = realloc(h->dirty, cap * sizeof *dirty);
        if (!dirty) { /* written when the socket next polls writable */
            set_events(c, true);
            return;
        }
        h->dirty = dirty;
        h->dirty_cap = cap;
    }
    h->dirty[h->ndirty++] = c;
    c->queued = true;
}

static int queue_message(struct zconn *c, const struct span *frames, size_t nframes)
{
    if (buf_pending(&c->out) > c->sock->opts.max_queued) {
        errno = EAGAIN;
        return -1;
    }
    if (zmtp_write_message(&c->out, frames, nframes) < 0) {
        errno = ENOMEM;
        return -1;
    }
    mark_dirty(c);
    return 0;
}

void zhub_flush(struct zhub *h)
{
    for (size_t i = 0; i < h->ndirty; i++) {
        struct zconn *c = h->dirty[i];
        c->queued = false;
        if (c->sock)
            conn_write(c);
    }
    h->ndirty = 0;
    bury_dead(h);
}

/* --- what peers send ---------------------------------------------------- */

static bool peer_type_ok(enum zsock_type type, struct span peer)
{
    static const char *const ok[][4] = {
        [ZSOCK_ROUTER] = {"DEALER", "REQ", "ROUTER", NULL},
        [ZSOCK_XPUB] = {"SUB", "XSUB", NULL},
        [ZSOCK_REP] = {"REQ", "DEALER", NULL},
    };
    for (int i = 0; ok[type][i]; i++)
        if (peer.len == strlen(ok[type][i]) && memcmp(peer.data, ok[type][i], peer.len) == 0)
            return true;
    return false;
}

static int set_identity(struct zconn *c, const char *id, size_t len)
{
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return -1;
    memcpy(copy, id, len);
    c->id = copy;
    c->idlen = len;
    HASH_ADD_KEYPTR(hh, c->sock->by_id, c->id, c->idlen, c);
    return 0;
}

/* As libzmq: 0x00 and a counter, for peers that name no identity; one a
 * peer already chose for itself is skipped. */
static int generated_identity(struct zconn *c)
{
    unsigned char id[5] = {0};
    struct zconn *taken;
    do {
        unsigned n = ++c->sock->next_peer_id;
        for (int i = 0; i < 4; i++)
            id[1 + i] = (unsigned char)(n >> (24 - 8 * i));
        HASH_FIND(hh, c->sock->by_id, id, sizeof id, taken);
    } while (taken);
    return set_identity(c, (const char *)id, sizeof id);
}

static int take_identity(struct zconn *c, struct span want)
{
    struct zsock *s = c->sock;
    if (want.len == 0)
        return generated_identity(c);
    struct zconn *old = NULL;
    HASH_FIND(hh, s->by_id, want.data, want.len, old);
    if (old) { /* handover: the new connection gets the name */
        HASH_DEL(s->by_id, old);
        free(old->id);
        old->id = NULL;
        if (generated_identity(old) < 0)
            return -1;
    }
    return set_identity(c, want.data, want.len);
}

static void on_ready(struct zconn *c, const struct zmtp_event *ev)
{
    struct zsock *s = c->sock;
    if (!peer_type_ok(s->type, ev->socket_type)) {
        char why[96];
        snprintf(why, sizeof why, "a %.*s socket cannot talk to a %s socket", (int)(ev->socket_type.len > 16 ? 16 : ev->socket_type.len),
                 ev->socket_type.data, type_names[s->type]);
        conn_close(c, why, true);
        return;
    }
    if (s->type == ZSOCK_ROUTER && take_identity(c, ev->identity) < 0) {
        conn_close(c, "out of memory", true);
        return;
    }
    c->ready = true;
    handshake_end(s->hub, c);
}

static void subscribe(struct zconn *c, struct span topic, bool add)
{
    if (!add) {
        for (size_t i = 0; i < c->nsubs; i++) {
            if (c->subs[i].len == topic.len && memcmp(c->subs[i].data, topic.data, topic.len) == 0) {
                free((char *)c->subs[i].data);
                c->subs[i] = c->subs[--c->nsubs];
                return;
            }
        }
        return;
    }
    struct span *subs = realloc(c->subs, (c->nsubs + 1) * sizeof *subs);
    char *copy = malloc(topic.len ? topic.len : 1);
    if (subs)
        c->subs = subs;
    if (!subs || !copy) {
        free(copy);
        log_error("%s: out of memory: a subscription is lost", c->sock->opts.name);
        return;
    }
    memcpy(copy, topic.data, topic.len);
    c->subs[c->nsubs++] = (struct span){copy, topic.len};
}

static bool subscribed(const struct zconn *c, struct span topic)
{
    for (size_t i = 0; i < c->nsubs; i++)
        if (c->subs[i].len <= topic.len && memcmp(c->subs[i].data, topic.data, c->subs[i].len) == 0)
            return true;
    return false;
}

static void on_message(struct zconn *c, struct zmtp_event *ev)
{
    struct zsock *s = c->sock;
    switch (s->type) {
    case ZSOCK_ROUTER:
        ev->frames[-1] = (struct span){c->id, c->idlen}; /* zmtp.h: the caller's slot */
        s->opts.handler(s->opts.owner, s->opts.tag, ev->frames - 1, ev->nframes + 1, ev->size,
                        ev->too_many_frames);
        break;
    case ZSOCK_XPUB: /* a subscription: 1 (or 0 to cancel), then the topic */
        if (ev->nframes == 1 && ev->frames[0].len >= 1 && (unsigned char)ev->frames[0].data[0] <= 1) {
            struct span f = ev->frames[0];
            subscribe(c, (struct span){f.data + 1, f.len - 1}, f.data[0] == 1);
        }
        break;
    case ZSOCK_REP: /* the heartbeat: every request comes back as it came */
        if (!ev->too_many_frames && queue_message(c, ev->frames, ev->nframes) < 0)
            log_warn("%s: an echo was dropped: %s", s->opts.name, strerror(errno));
        break;
    }
}

static void on_command(struct zconn *c, const struct zmtp_event *ev)
{
    struct span name = ev->name;
    if (name.len == 9 && memcmp(name.data, "SUBSCRIBE", 9) == 0 && c->sock->type == ZSOCK_XPUB) {
        subscribe(c, ev->data, true);
    } else if (name.len == 6 && memcmp(name.data, "CANCEL", 6) == 0 && c->sock->type == ZSOCK_XPUB) {
        subscribe(c, ev->data, false);
    } else if (name.len == 4 && memcmp(name.data, "PING", 4) == 0 && ev->data.len >= 2) {
        struct span context = {ev->data.data + 2, ev->data.len - 2};
        if (zmtp_write_command(&c->out, "PONG", context) == 0)
            mark_dirty(c);
    } else if (name.len == 5 && memcmp(name.data, "ERROR", 5) == 0) {
        conn_close(c, "the peer sent ERROR", false);
    }
}

static void conn_read(struct zconn *c)
{
    char *chunk = c->sock->hub->scratch;
    for (int round = 0; round < READS_PER_WAKE && c->sock; round++) {
        ssize_t n = recv(c->fd, chunk, READ_CHUNK, MSG_DONTWAIT);
        if (n == 0) {
            conn_close(c, "end of stream", false);
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                conn_close(c, strerror(errno), false);
            return;
        }
        size_t pos = 0;
        while (pos < (size_t)n && c->sock) {
            size_t used;
            struct zmtp_event ev;
            const char *error;
            enum zmtp_status st = zmtp_decode(&c->dec, chunk + pos, (size_t)n - pos, &used, &ev, &error);
            pos += used;
            if (st == ZMTP_ERROR) {
                conn_close(c, error, true);
                return;
            }
            if (st == ZMTP_NEED_MORE)
                break;
            if (ev.kind == ZMTP_READY)
                on_ready(c, &ev);
            else if (ev.kind == ZMTP_MESSAGE)
                on_message(c, &ev);
            else
                on_command(c, &ev);
        }
        if ((size_t)n < READ_CHUNK)
            return; /* drained */
    }
}

static void conn_open(struct zsock *s, int fd)
{
    struct zconn *c = calloc(1, sizeof *c);
    if (!c) {
        log_error("%s: out of memory: connection refused", s->opts.name);
        close(fd);
        return;
    }
    c->kind = ZK_CONN;
    c->sock = s;
    c->fd = fd;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* fails harmlessly on ipc */
    zmtp_decoder_init(&c->dec, s->opts.max_message, s->opts.max_frames);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (zmtp_write_handshake(&c->out, type_names[s->type]) < 0 ||
        epoll_ctl(s->hub->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        log_error("%s: cannot take a connection: %s", s->opts.name, strerror(errno));
        buf_free(&c->out);
        close(fd);
        free(c);
        return;
    }
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    handshake_begin(s->hub, c);
    mark_dirty(c);
}

/* Out of file descriptors: the listener stops asking (it would stay
 * readable, and the loop spin) until a connection closes. */
static void pause_accepting(struct zsock *s)
{
    struct epoll_event ev = {.events = 0, .data.ptr = s};
    log_error("%s: cannot accept: %s; new connections wait until one closes", s->opts.name, strerror(errno));
    if (epoll_ctl(s->hub->epfd, EPOLL_CTL_MOD, s->fd, &ev) == 0) {
        s->paused = true;
        s->hub->paused = true;
    }
}

static void resume_accepting(struct zhub *h)
{
    h->paused = false;
    for (struct zsock *s = h->socks; s; s = s->next) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
        if (s->paused && epoll_ctl(h->epfd, EPOLL_CTL_MOD, s->fd, &ev) == 0)
            s->paused = false;
    }
}

static void on_accept(struct zsock *s)
{
    for (int i = 0; i < ACCEPTS_PER_WAKE; i++) {
        int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            conn_open(s, fd);
        } else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            pause_accepting(s);
            return;
        } else if (errno != EINTR && errno != ECONNABORTED) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_warn("%s: accept: %s", s->opts.name, strerror(errno));
            return;
        }
    }
}

long zhub_expire(struct zhub *h)
{
    if (!h->handshaking)
        return -1;
    long now = monotonic_ms();
    while (h->handshaking && h->handshaking->handshake_due <= now)
        conn_close(h->handshaking, "no ZMTP handshake in time", true);
    return h->handshaking ? h->handshaking->handshake_due - now : -1;
}

void zhub_run(struct zhub *h)
{
    struct epoll_event evs[EVENTS_PER_RUN];
    int n = epoll_wait(h->epfd, evs, EVENTS_PER_RUN, 0);
    for (int i = 0; i < n; i++) {
        if (*(enum zkind *)evs[i].data.ptr == ZK_LISTENER) {
            on_accept(evs[i].data.ptr);
            continue;
        }
        struct zconn *c = evs[i].data.ptr;
        if (c->sock && (evs[i].events & EPOLLOUT))
            conn_write(c);
        if (c->sock && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
            conn_read(c);
    }
}

/* --- sockets ------------------------------------------------------------ */

static int listen_tcp(const char *addr, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof host) {
        snprintf(err, errlen, "bad tcp address %s", addr);
        return -1;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    char *h = host;
    if (h[0] == '[' && h[strlen(h) - 1] == ']') { /* [::1] */
        h[strlen(h) - 1] = '\0';
        h++;
    }
    /* As libzmq (ZMQ_IPV6 off): IPv4, unless the address is an IPv6 one;
     * "localhost" is then 127.0.0.1, where clients look for it. */
    struct addrinfo hints = {.ai_family = strchr(h, ':') ? AF_INET6 : AF_INET, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res;
    if (strcmp(h, "*") == 0)
        h = NULL;
    int rc = getaddrinfo(h, colon + 1, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", addr, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int listen_ipc(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sun.sun_path) {
        snprintf(err, errlen, "ipc path too long");
        return -1;
    }
    strcpy(sun.sun_path, path);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) /* a stale socket, as libzmq */
        unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 || listen(fd, SOMAXCONN) < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

struct zsock *zsock_bind(struct zhub *h, enum zsock_type type, const char *endpoint,
                         const struct zsock_options *o, char *err, size_t errlen)
{
    struct zsock *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->kind = ZK_LISTENER;
    s->hub = h;
    s->type = type;
    s->opts = *o;
    if (strncmp(endpoint, "tcp://", 6) == 0) {
        s->fd = listen_tcp(endpoint + 6, err, errlen);
        s->port = s->fd >= 0 ? bound_port(s->fd) : 0;
    } else if (strncmp(endpoint, "ipc://", 6) == 0) {
        s->fd = listen_ipc(endpoint + 6, err, errlen);
        s->ipc_path = s->fd >= 0 ? strdup(endpoint + 6) : NULL;
    } else {
        snprintf(err, errlen, "unknown transport in %s", endpoint);
        s->fd = -1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
    if (s->fd >= 0 && epoll_ctl(h->epfd, EPOLL_CTL_ADD, s->fd, &ev) < 0) {
        snprintf(err, errlen, "epoll: %s", strerror(errno));
        close(s->fd);
        s->fd = -1;
    }
    if (s->fd < 0) {
        free(s->ipc_path);
        free(s);
        return NULL;
    }
    s->next = h->socks;
    if (h->socks)
        h->socks->prev = s;
    h->socks = s;
    return s;
}

int zsock_port(const struct zsock *s) { return s->port; }

void zsock_close(struct zsock *s)
{
    if (!s)
        return;
    struct zhub *h = s->hub;
    while (s->conns) {
        struct zconn *c = s->conns;
        if (buf_pending(&c->out) && conn_write(c) < 0)
            continue; /* closed by the write */
        conn_close(c, "socket closed", false);
    }
    epoll_ctl(h->epfd, EPOLL_CTL_DEL, s->fd, NULL);
    close(s->fd);
    if (s->ipc_path)
        unlink(s->ipc_path);
    free(s->ipc_path);
    if (s->prev)
        s->prev->next = s->next;
    else
        h->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    free(s);
}

int zsock_send(struct zsock *s, const struct span *frames, size_t nframes)
{
    if (nframes == 0) {
        errno = EINVAL;
        return -1;
    }
    if (s->type == ZSOCK_ROUTER) {
        struct zconn *c = NULL;
        HASH_FIND(hh, s->by_id, frames[0].data, frames[0].len, c);
        return c && c->ready ? queue_message(c, frames + 1, nframes - 1) : 0;
    }
    int rc = 0;
    for (struct zconn *c = s->conns; c; c = c->next) {
        if (c->ready && subscribed(c, frames[0]) && queue_message(c, frames, nframes) < 0)
            rc = -1;
    }
    return rc;
}

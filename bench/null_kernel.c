/* akg-null-kernel: a minimal Jupyter kernel that answers at once, used only
 * by bench/bench_kernel.py to measure the benchmark client's own floor.
 *
 *     akg-null-kernel [--libzmq] -f CONNECTION_FILE
 *
 * It binds the five channels of the connection file, echoes heartbeats and
 * answers kernel_info_request, execute_request (the messages a real kernel
 * sends for the cell `1`, without evaluating anything) and shutdown_request,
 * with the project's wire library (common/jmsg, auth, connfile). Its sockets
 * are the gateway's own (common/zsock.c), or with --libzmq libzmq's, as
 * other kernels use. One thread, one poll loop. Not a kernel to use. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "common/auth.h"
#include "common/connfile.h"
#include "common/jmsg.h"
#include "common/log.h"
#include "common/zsock.h"

static const int zmq_types[CH_COUNT] = {ZMQ_ROUTER, ZMQ_PUB, ZMQ_ROUTER, ZMQ_ROUTER, ZMQ_REP};
static const enum zsock_type zsock_types[CH_COUNT] = {ZSOCK_ROUTER, ZSOCK_XPUB, ZSOCK_ROUTER, ZSOCK_ROUTER,
                                                      ZSOCK_REP};

static const char kernel_info[] =
    "{\"status\":\"ok\",\"protocol_version\":\"" JMSG_PROTOCOL_VERSION "\","
    "\"implementation\":\"null\",\"implementation_version\":\"0.1\","
    "\"language_info\":{\"name\":\"python\",\"version\":\"3\",\"mimetype\":\"text/x-python\","
    "\"file_extension\":\".py\"},"
    "\"banner\":\"akg-null-kernel: answers without evaluating (benchmark floor)\","
    "\"help_links\":[]}";

struct kernel {
    bool libzmq;
    void *zctx, *zmq_sockets[CH_COUNT]; /* --libzmq */
    struct zhub *hub;                   /* otherwise */
    struct zsock *sockets[CH_COUNT];
    struct signer *signer;
    struct replay_guard *guard;
    struct jmsg_origin origin;
    long execution_count;
    int done;
};

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) { stop_signal = sig; }

static void send_message(struct kernel *k, enum connfile_channel ch, const struct jmsg_out *out)
{
    struct jmsg_wire w;
    int rc = jmsg_build(&w, k->signer, &k->origin, out, NULL);
    if (rc == 0 && !k->libzmq)
        rc = zsock_send(k->sockets[ch], w.frames, w.nframes);
    for (size_t i = 0; rc == 0 && k->libzmq && i < w.nframes; i++)
        if (zmq_send(k->zmq_sockets[ch], w.frames[i].data, w.frames[i].len,
                     ZMQ_DONTWAIT | (i + 1 < w.nframes ? ZMQ_SNDMORE : 0)) < 0)
            rc = -1;
    if (rc < 0)
        log_warn("%s dropped: %s", out->msg_type, strerror(errno));
}

static void publish(struct kernel *k, const char *msg_type, struct span parent, const char *content)
{
    char topic[96];
    snprintf(topic, sizeof topic, "kernel.%s.%s", k->origin.session, msg_type);
    struct span topics[] = {span_str(topic)};
    struct jmsg_out out = {.idents = topics, .nidents = 1, .msg_type = msg_type, .parent = parent,
                           .content = span_str(content)};
    send_message(k, CH_IOPUB, &out);
}

static void reply(struct kernel *k, enum connfile_channel ch, const struct jmsg *m,
                  const char *msg_type, const char *content)
{
    struct jmsg_out out = {.idents = m->frames, .nidents = m->nidents, .msg_type = msg_type,
                           .parent = jmsg_header_raw(m), .content = span_str(content)};
    send_message(k, ch, &out);
}

static void handle(struct kernel *k, enum connfile_channel ch, const struct jmsg *m)
{
    struct span parent = jmsg_header_raw(m);
    const char *t = m->msg_type;
    char content[1024];
    publish(k, "status", parent, "{\"execution_state\":\"busy\"}");
    if (strcmp(t, "kernel_info_request") == 0) {
        reply(k, ch, m, "kernel_info_reply", kernel_info);
    } else if (strcmp(t, "execute_request") == 0) {
        int silent = json_is_true(json_object_get(m->content, "silent"));
        if (!silent) {
            json_t *code = json_object_get(m->content, "code");
            json_t *input = json_pack("{s:O?, s:I}", "code", code, "execution_count",
                                      (json_int_t)++k->execution_count);
            char *text = input ? json_dumps(input, JSON_COMPACT) : NULL;
            publish(k, "execute_input", parent, text ? text : "{}");
            free(text);
            json_decref(input);
            snprintf(content, sizeof content,
                     "{\"data\":{\"text/plain\":\"1\"},\"metadata\":{},\"execution_count\":%ld}",
                     k->execution_count);
            publish(k, "execute_result", parent, content);
        }
        snprintf(content, sizeof content,
                 "{\"status\":\"ok\",\"execution_count\":%ld,\"user_expressions\":{},\"payload\":[]}",
                 k->execution_count);
        reply(k, ch, m, "execute_reply", content);
    } else if (strcmp(t, "shutdown_request") == 0) {
        int restart = json_is_true(json_object_get(m->content, "restart"));
        snprintf(content, sizeof content, "{\"status\":\"ok\",\"restart\":%s}",
                 restart ? "true" : "false");
        reply(k, ch, m, "shutdown_reply", content);
        publish(k, "shutdown_reply", parent, content);
        k->done = 1;
    } else {
        log_warn("unknown message type %s ignored", t);
    }
    publish(k, "status", parent, "{\"execution_state\":\"idle\"}");
}

static void on_frames(void *owner, int ch, const struct span *frames, size_t nframes, size_t size,
                      bool too_many_frames)
{
    struct kernel *k = owner;
    struct jmsg m;
    if (k->done)
        return;
    jmsg_load(&m, frames, nframes, size, 0, too_many_frames);
    enum jmsg_error e = jmsg_parse(&m, k->signer, k->guard);
    if (e == JMSG_OK)
        handle(k, ch, &m);
    else
        log_warn("message dropped: %s", jmsg_error_str(e));
    jmsg_close(&m);
}

/* --libzmq: read whole messages (the heartbeat is echoed as it came). */
static void zmq_readable(struct kernel *k, enum connfile_channel ch)
{
    zmq_msg_t parts[64];
    struct span frames[64];
    for (;;) {
        size_t n = 0, size = 0;
        int more = 1;
        while (more && n < 64) {
            zmq_msg_init(&parts[n]);
            if (zmq_msg_recv(&parts[n], k->zmq_sockets[ch], ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&parts[n]);
                break;
            }
            more = zmq_msg_more(&parts[n]);
            frames[n] = (struct span){zmq_msg_data(&parts[n]), zmq_msg_size(&parts[n])};
            size += frames[n++].len;
        }
        if (n == 0)
            return;
        if (ch == CH_HB) {
            for (size_t i = 0; i < n; i++)
                zmq_send(k->zmq_sockets[ch], frames[i].data, frames[i].len, i + 1 < n ? ZMQ_SNDMORE : 0);
        } else {
            on_frames(k, ch, frames, n, size, more);
        }
        for (size_t i = 0; i < n; i++)
            zmq_msg_close(&parts[i]);
    }
}

static int bind_all(struct kernel *k, struct connfile *cf)
{
    char endpoint[512], err[256];
    if (k->libzmq)
        k->zctx = zmq_ctx_new();
    else
        k->hub = zhub_new();
    for (int ch = 0; ch < CH_COUNT; ch++) {
        connfile_endpoint(cf, ch, endpoint, sizeof endpoint);
        if (k->libzmq) {
            int linger = 1000;
            k->zmq_sockets[ch] = zmq_socket(k->zctx, zmq_types[ch]);
            zmq_setsockopt(k->zmq_sockets[ch], ZMQ_LINGER, &linger, sizeof linger);
            if (zmq_bind(k->zmq_sockets[ch], endpoint) < 0) {
                log_error("cannot bind %s: %s", endpoint, zmq_strerror(errno));
                return -1;
            }
            continue;
        }
        struct zsock_options o = {.name = "null", .max_frames = JMSG_MAX_FRAMES, .max_queued = 1u << 30,
                                  .handler = on_frames, .owner = k, .tag = ch};
        if (!k->hub || !(k->sockets[ch] = zsock_bind(k->hub, zsock_types[ch], endpoint, &o, err, sizeof err))) {
            log_error("cannot bind %s: %s", endpoint, k->hub ? err : "no hub");
            return -1;
        }
    }
    return 0;
}

static void serve(struct kernel *k)
{
    zmq_pollitem_t items[CH_COUNT];
    for (int ch = 0; ch < CH_COUNT; ch++)
        items[ch] = k->libzmq ? (zmq_pollitem_t){.socket = k->zmq_sockets[ch], .events = ZMQ_POLLIN}
                              : (zmq_pollitem_t){.fd = zhub_fd(k->hub), .events = ZMQ_POLLIN};
    int nitems = k->libzmq ? CH_COUNT : 1;
    while (!k->done && !stop_signal) {
        if (zmq_poll(items, nitems, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_error("zmq_poll: %s", zmq_strerror(errno));
            break;
        }
        for (int i = 0; i < nitems && !k->done; i++) {
            if (!(items[i].revents & ZMQ_POLLIN))
                continue;
            if (k->libzmq)
                zmq_readable(k, i);
            else
                zhub_run(k->hub);
        }
        if (!k->libzmq)
            zhub_flush(k->hub);
    }
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    struct kernel k = {0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--libzmq") == 0) {
            k.libzmq = true;
        } else if (strcmp(argv[i], "-f") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else {
            path = NULL;
            break;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: %s [--libzmq] -f CONNECTION_FILE\n", argv[0]);
        return 2;
    }
    log_setup("akg-null-kernel", LOG_LEVEL_INFO);

    struct connfile cf;
    char err[1024];
    if (connfile_load(path, &cf, err, sizeof err) < 0) {
        log_error("%s", err);
        return 1;
    }
    k.signer = signer_new(cf.key, strlen(cf.key));
    k.guard = replay_guard_new(65536);
    if (!k.signer || !k.guard || jmsg_origin_init(&k.origin, "kernel") < 0) {
        log_error("cannot set up signing");
        return 1;
    }
    if (bind_all(&k, &cf) < 0)
        return 1;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    serve(&k);

    if (k.libzmq) {
        for (int ch = 0; ch < CH_COUNT; ch++)
            zmq_close(k.zmq_sockets[ch]); /* linger lets the shutdown reply go out */
        zmq_ctx_term(k.zctx);
    } else {
        zhub_flush(k.hub); /* the shutdown reply */
        zhub_free(k.hub);
    }
    jmsg_origin_free(&k.origin);
    replay_guard_free(k.guard);
    signer_free(k.signer);
    connfile_free(&cf);
    return k.done || stop_signal ? 0 : 1;
}

/* akg-null-kernel: a minimal Jupyter kernel that answers at once, used only
 * by bench/bench_kernel.py to measure the benchmark client's own floor.
 *
 *     akg-null-kernel -f CONNECTION_FILE
 *
 * It binds the five channels of the connection file, echoes heartbeats and
 * answers kernel_info_request, execute_request (the messages a real kernel
 * sends for the cell `1`, without evaluating anything) and shutdown_request,
 * with the project's wire library (common/jmsg, auth, connfile). One thread,
 * one zmq_poll loop. Not a kernel to use. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/auth.h"
#include "common/connfile.h"
#include "common/jmsg.h"
#include "common/log.h"

static const int socket_types[CH_COUNT] = {ZMQ_ROUTER, ZMQ_PUB, ZMQ_ROUTER, ZMQ_ROUTER, ZMQ_REP};

static const char kernel_info[] =
    "{\"status\":\"ok\",\"protocol_version\":\"" JMSG_PROTOCOL_VERSION "\","
    "\"implementation\":\"null\",\"implementation_version\":\"0.1\","
    "\"language_info\":{\"name\":\"python\",\"version\":\"3\",\"mimetype\":\"text/x-python\","
    "\"file_extension\":\".py\"},"
    "\"banner\":\"akg-null-kernel: answers without evaluating (benchmark floor)\","
    "\"help_links\":[]}";

struct kernel {
    void *sockets[CH_COUNT];
    struct signer *signer;
    struct replay_guard *guard;
    struct jmsg_origin origin;
    long execution_count;
    int done;
};

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) { stop_signal = sig; }

static void publish(struct kernel *k, const char *msg_type, struct span parent, const char *content)
{
    char topic[96];
    snprintf(topic, sizeof topic, "kernel.%s.%s", k->origin.session, msg_type);
    struct span topics[] = {span_str(topic)};
    struct jmsg_out out = {.idents = topics, .nidents = 1, .msg_type = msg_type, .parent = parent,
                           .content = span_str(content)};
    if (jmsg_send(k->sockets[CH_IOPUB], k->signer, &k->origin, &out, NULL) < 0)
        log_warn("iopub: %s dropped: %s", msg_type, zmq_strerror(errno));
}

static void reply(struct kernel *k, enum connfile_channel ch, const struct jmsg *m,
                  const char *msg_type, const char *content)
{
    struct span idents[JMSG_MAX_FRAMES];
    for (size_t i = 0; i < m->nidents; i++)
        idents[i] = jmsg_frame(m, i);
    struct jmsg_out out = {.idents = idents, .nidents = m->nidents, .msg_type = msg_type,
                           .parent = jmsg_header_raw(m), .content = span_str(content)};
    if (jmsg_send(k->sockets[ch], k->signer, &k->origin, &out, NULL) < 0)
        log_warn("%s dropped: %s", msg_type, zmq_strerror(errno));
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

static void on_readable(struct kernel *k, enum connfile_channel ch)
{
    if (ch == CH_HB) { /* echo every frame back as it came */
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, k->sockets[ch], ZMQ_DONTWAIT) >= 0) {
            int more = zmq_msg_more(&frame);
            if (zmq_msg_send(&frame, k->sockets[ch], more ? ZMQ_SNDMORE : 0) >= 0)
                return;
        }
        zmq_msg_close(&frame);
        return;
    }
    struct jmsg m;
    int got;
    while (!k->done && (got = jmsg_recv(k->sockets[ch], &m, 0)) > 0) {
        enum jmsg_error e = jmsg_parse(&m, k->signer, k->guard);
        if (e == JMSG_OK)
            handle(k, ch, &m);
        else
            log_warn("message dropped: %s", jmsg_error_str(e));
        jmsg_close(&m);
    }
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    for (int opt; (opt = getopt(argc, argv, "f:")) != -1;) {
        if (opt != 'f') {
            fprintf(stderr, "usage: %s -f CONNECTION_FILE\n", argv[0]);
            return 2;
        }
        path = optarg;
    }
    if (!path || optind != argc) {
        fprintf(stderr, "usage: %s -f CONNECTION_FILE\n", argv[0]);
        return 2;
    }
    log_setup("akg-null-kernel", LOG_LEVEL_INFO);

    struct connfile cf;
    char err[1024];
    if (connfile_load(path, &cf, err, sizeof err) < 0) {
        log_error("%s", err);
        return 1;
    }
    struct kernel k = {.signer = signer_new(cf.key, strlen(cf.key)),
                       .guard = replay_guard_new(65536)};
    if (!k.signer || !k.guard || jmsg_origin_init(&k.origin, "kernel") < 0) {
        log_error("cannot set up signing");
        return 1;
    }
    void *zctx = zmq_ctx_new();
    zmq_pollitem_t items[CH_COUNT];
    for (int ch = 0; ch < CH_COUNT; ch++) {
        char endpoint[512];
        int linger = 1000;
        k.sockets[ch] = zmq_socket(zctx, socket_types[ch]);
        zmq_setsockopt(k.sockets[ch], ZMQ_LINGER, &linger, sizeof linger);
        connfile_endpoint(&cf, ch, endpoint, sizeof endpoint);
        if (zmq_bind(k.sockets[ch], endpoint) < 0) {
            log_error("cannot bind %s: %s", endpoint, zmq_strerror(errno));
            return 1;
        }
        items[ch] = (zmq_pollitem_t){.socket = k.sockets[ch], .events = ZMQ_POLLIN};
    }
    /* iopub (PUB) never has anything to read. */
    items[CH_IOPUB].events = 0;

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    while (!k.done && !stop_signal) {
        if (zmq_poll(items, CH_COUNT, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_error("zmq_poll: %s", zmq_strerror(errno));
            break;
        }
        for (int ch = 0; ch < CH_COUNT && !k.done; ch++)
            if (items[ch].revents & ZMQ_POLLIN)
                on_readable(&k, ch);
    }

    for (int ch = 0; ch < CH_COUNT; ch++)
        zmq_close(k.sockets[ch]); /* linger lets the shutdown reply go out */
    zmq_ctx_term(zctx);
    jmsg_origin_free(&k.origin);
    replay_guard_free(k.guard);
    signer_free(k.signer);
    connfile_free(&cf);
    return k.done || stop_signal ? 0 : 1;
}

/* replies: everything the router sends to frontends. Replies go back on
 * the request's channel to its routing identities; outputs are published
 * on iopub; both carry the request's raw header as parent_header. It also
 * builds the answers the router gives itself (kernel_info) and the error
 * replies for requests no worker will answer. */
#include <errno.h>
#include <jansson.h>
#include <patchlevel.h> /* the embedded Python's version, for language_info */
#include <stdio.h>
#include <string.h>

#include "gateway/gateway.h"

int reply_send(struct frontend *fe, enum connfile_channel ch, const struct span *idents,
               size_t nidents, const char *msg_type, struct span parent, struct span content)
{
    struct jmsg_out out = {.idents = idents, .nidents = nidents, .msg_type = msg_type,
                           .parent = parent, .content = content};
    int rc = jmsg_send(fe->sockets[ch], fe->signer, &fe->gw->origin, &out, NULL);
    if (rc < 0)
        log_warn("could not send %s: %s", msg_type, strerror(errno));
    return rc;
}

void publish(struct frontend *fe, const char *msg_type, struct span parent, struct span content,
             struct span metadata, const struct span *buffers, size_t nbuffers)
{
    char topic[96];
    snprintf(topic, sizeof topic, "kernel.%s.%s", fe->gw->origin.session, msg_type);
    struct span topics[] = {span_str(topic)};
    struct jmsg_out out = {.idents = topics, .nidents = 1, .msg_type = msg_type, .parent = parent,
                           .metadata = metadata, .content = content, .buffers = buffers, .nbuffers = nbuffers};
    if (jmsg_send(fe->sockets[CH_IOPUB], fe->signer, &fe->gw->origin, &out, NULL) < 0)
        log_warn("iopub: %s dropped: %s", msg_type, strerror(errno));
}

void publish_status(struct frontend *fe, struct span parent, const char *state)
{
    char content[64];
    snprintf(content, sizeof content, "{\"execution_state\":\"%s\"}", state);
    publish(fe, "status", parent, span_str(content), span_str(""), NULL, 0);
}

int reply_to(struct request *req, const char *msg_type, struct span content)
{
    return reply_send(req->fe, req->channel, req->idents, req->nidents, msg_type, req->parent, content);
}

/* The request is answered: say idle and forget it. If the session still
 * has requests in flight (cells queued behind this one), say busy again for
 * the oldest, so a frontend's kernel indicator stays busy while they run. */
void finish_request(struct gateway *gw, struct request *req)
{
    struct session *s = req->session;
    struct frontend *fe = req->fe;
    request_say_busy(req);
    publish_status(fe, req->parent, "idle");
    request_finish(gw, req);
    if (s && s->inflight) {
        publish_status(fe, s->inflight->parent, "busy");
        s->inflight->busy_said = true;
    }
}

/* "execute_request" -> "execute_reply"; NULL for messages without a reply. */
static int reply_type(const char *request_type, char *out, size_t outlen)
{
    const char *suffix = "_request";
    size_t n = strlen(request_type), k = strlen(suffix);
    if (n <= k || strcmp(request_type + n - k, suffix) != 0)
        return -1;
    snprintf(out, outlen, "%.*s_reply", (int)(n - k), request_type);
    return 0;
}

void fail_request(struct gateway *gw, struct request *req, const char *ename, const char *evalue)
{
    char type[80];
    request_say_busy(req);
    json_t *tb = json_pack("[s]", evalue);
    json_t *error = json_pack("{s:s, s:s, s:o}", "ename", ename, "evalue", evalue, "traceback", tb);
    if (error && strcmp(req->msg_type, "execute_request") == 0) {
        char *text = json_dumps(error, JSON_COMPACT);
        if (text)
            publish(req->fe, "error", req->parent, span_str(text), span_str(""), NULL, 0);
        free(text);
        json_object_set_new(error, "execution_count", json_null());
    }
    if (error && reply_type(req->msg_type, type, sizeof type) == 0) {
        json_object_set_new(error, "status", json_string("error"));
        char *text = json_dumps(error, JSON_COMPACT);
        if (text)
            reply_to(req, type, span_str(text));
        free(text);
    }
    json_decref(error);
    finish_request(gw, req);
}

char *kernel_info_content(const struct gateway_options *o)
{
    char banner[256];
    snprintf(banner, sizeof banner, "Python %s on akernel-gateway %s (mode: %s)\n", PY_VERSION,
             AKG_VERSION, o->mode_name[0] ? o->mode_name : "default");
    json_t *info = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:[], s:b, s:{s:s, s:s, s:s, s:{s:s, s:i}, s:s, s:s, s:s}}",
        "status", "ok", "protocol_version", JMSG_PROTOCOL_VERSION, "implementation",
        "akernel-gateway", "implementation_version", AKG_VERSION, "banner", banner, "help_links",
        "debugger", 0, "language_info", "name", "python", "version", PY_VERSION, "mimetype",
        "text/x-python", "codemirror_mode", "name", "ipython", "version", 3, "pygments_lexer",
        "ipython3", "nbconvert_exporter", "python", "file_extension", ".py");
    char *text = info ? json_dumps(info, JSON_COMPACT) : NULL;
    json_decref(info);
    return text;
}

void answer_kernel_info(struct frontend *fe, enum connfile_channel ch, const struct jmsg *m)
{
    struct span parent = jmsg_header_raw(m);
    publish_status(fe, parent, "busy");
    reply_send(fe, ch, m->frames, m->nidents, "kernel_info_reply", parent, span_str(fe->gw->kernel_info));
    publish_status(fe, parent, "idle");
}

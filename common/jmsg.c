/* jmsg: Jupyter wire messages; see jmsg.h. */
#include "common/jmsg.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/rand.h>
#include <uuid/uuid.h>

#define MAX_SESSION_LEN 256

const char *jmsg_error_str(enum jmsg_error e)
{
    switch (e) {
    case JMSG_OK: return "ok";
    case JMSG_NO_DELIMITER: return "no <IDS|MSG> delimiter";
    case JMSG_TRUNCATED: return "truncated multipart (fewer than 5 frames after the delimiter)";
    case JMSG_TOO_MANY_FRAMES: return "too many frames";
    case JMSG_BAD_SIGNATURE: return "bad signature";
    case JMSG_REPLAYED: return "replayed signature";
    case JMSG_BAD_JSON: return "a JSON part is not a valid object";
    case JMSG_BAD_HEADER: return "header lacks a string msg_id, msg_type or session, or has a field of the wrong type";
    case JMSG_TOO_LARGE: return "message over the size limit";
    }
    return "unknown error";
}

void jmsg_load(struct jmsg *m, const struct span *frames, size_t nframes, size_t size,
               size_t size_limit, bool too_many_frames)
{
    memset(m, 0, sizeof *m);
    m->frames = frames;
    m->nframes = nframes;
    m->size = size;
    m->size_limit = size_limit;
    m->too_many_frames = too_many_frames || nframes > JMSG_MAX_FRAMES;
}

static bool string_field(json_t *obj, const char *key, bool required, const char **out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return !required;
    if (!json_is_string(v))
        return false;
    if (out)
        *out = json_string_value(v);
    return true;
}

static json_t *parse_object(struct span s, size_t flags)
{
    json_t *j = json_loadb(s.data, s.len, flags, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static enum jmsg_error check_header(struct jmsg *m)
{
    json_t *h = m->header;
    if (!string_field(h, "msg_id", true, &m->msg_id) ||
        !string_field(h, "msg_type", true, &m->msg_type) ||
        !string_field(h, "session", true, &m->session) || !string_field(h, "username", false, NULL) ||
        !string_field(h, "version", false, NULL) || !string_field(h, "date", false, NULL))
        return JMSG_BAD_HEADER;
    if (!jmsg_valid_type(span_str(m->msg_type)) || strlen(m->session) > MAX_SESSION_LEN)
        return JMSG_BAD_HEADER;
    return JMSG_OK;
}

enum jmsg_error jmsg_parse(struct jmsg *m, struct signer *signer, struct replay_guard *guard)
{
    if (m->too_many_frames)
        return JMSG_TOO_MANY_FRAMES;
    size_t d = 0;
    while (d < m->nframes) {
        struct span f = jmsg_frame(m, d);
        if (f.len == sizeof JMSG_DELIMITER - 1 && memcmp(f.data, JMSG_DELIMITER, f.len) == 0)
            break;
        d++;
    }
    if (d == m->nframes)
        return JMSG_NO_DELIMITER;
    if (m->nframes - d - 1 < 5)
        return JMSG_TRUNCATED;
    m->nidents = d;
    m->sig = d + 1;
    m->nbuffers = m->nframes - m->sig - 5;

    if (signer_enabled(signer)) {
        struct span parts[4];
        unsigned char digest[AUTH_DIGEST_LEN];
        for (int i = 0; i < 4; i++)
            parts[i] = jmsg_frame(m, m->sig + 1 + (size_t)i);
        if (!signer_verify(signer, jmsg_frame(m, m->sig), parts, 4, digest))
            return JMSG_BAD_SIGNATURE;
        if (guard && !replay_guard_admit(guard, digest))
            return JMSG_REPLAYED;
    }
    m->header = parse_object(jmsg_header_raw(m), 0);
    m->parent = parse_object(jmsg_frame(m, m->sig + 2), JSON_ALLOW_NUL);
    m->metadata = parse_object(jmsg_metadata_raw(m), JSON_ALLOW_NUL);
    m->content = parse_object(jmsg_content_raw(m), JSON_ALLOW_NUL);
    if (!m->header || !m->parent || !m->metadata || !m->content)
        return m->size_limit && m->size > m->size_limit ? JMSG_TOO_LARGE : JMSG_BAD_JSON;
    enum jmsg_error e = check_header(m);
    if (e == JMSG_OK && m->size_limit && m->size > m->size_limit)
        return JMSG_TOO_LARGE;
    return e;
}

void jmsg_close(struct jmsg *m)
{
    json_decref(m->header);
    json_decref(m->parent);
    json_decref(m->metadata);
    json_decref(m->content);
    memset(m, 0, sizeof *m);
}

int jmsg_origin_init(struct jmsg_origin *o, const char *username)
{
    jmsg_new_id(o->session);
    json_t *name = json_string(username && *username ? username : "kernel");
    if (!name)
        name = json_string("kernel"); /* username was not valid UTF-8 */
    o->username_json = json_dumps(name, JSON_ENCODE_ANY);
    json_decref(name);
    return o->username_json ? 0 : -1;
}

void jmsg_origin_free(struct jmsg_origin *o)
{
    free(o->username_json);
    o->username_json = NULL;
}

/* Every message the router sends needs a fresh id. The random bytes come
 * from OpenSSL's generator (libuuid reseeds libc's random() on every call),
 * drawn ID_POOL_IDS ids at a time: each draw checks getpid() and takes a
 * lock, and costs as much as the rest of a header. The pool is per thread,
 * and a forked child starts with an empty one, so that parent and child
 * never hand out the same id. */
#define ID_POOL_IDS 16
#define ID_BYTES 16
static _Thread_local unsigned char id_pool[ID_POOL_IDS * ID_BYTES];
static _Thread_local size_t id_pool_left;
static pthread_once_t id_pool_once = PTHREAD_ONCE_INIT;

static void id_pool_empty(void) { id_pool_left = 0; }

static void id_pool_watch_forks(void) { pthread_atfork(NULL, NULL, id_pool_empty); }

static void random_id_bytes(unsigned char out[ID_BYTES])
{
    pthread_once(&id_pool_once, id_pool_watch_forks);
    if (id_pool_left == 0) {
        if (RAND_bytes(id_pool, sizeof id_pool) != 1) {
            uuid_t fallback;
            uuid_generate_random(fallback);
            memcpy(out, fallback, ID_BYTES);
            return;
        }
        id_pool_left = ID_POOL_IDS;
    }
    id_pool_left--;
    memcpy(out, id_pool + id_pool_left * ID_BYTES, ID_BYTES);
}

void jmsg_new_id(char out[JMSG_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char u[ID_BYTES];
    random_id_bytes(u);
    u[6] = (unsigned char)((u[6] & 0x0F) | 0x40); /* version 4 */
    u[8] = (unsigned char)((u[8] & 0x3F) | 0x80); /* RFC 4122 variant */
    char *p = out;
    for (int i = 0; i < ID_BYTES; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[u[i] >> 4];
        *p++ = hex[u[i] & 0x0F];
    }
    *p = '\0';
}

static char *put_digits(char *p, long value, int width)
{
    for (int i = width - 1; i >= 0; i--, value /= 10)
        p[i] = (char)('0' + value % 10);
    return p + width;
}

void jmsg_iso_now(char out[64])
{
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    char *p = out;
    p = put_digits(p, tm.tm_year + 1900, 4), *p++ = '-';
    p = put_digits(p, tm.tm_mon + 1, 2), *p++ = '-';
    p = put_digits(p, tm.tm_mday, 2), *p++ = 'T';
    p = put_digits(p, tm.tm_hour, 2), *p++ = ':';
    p = put_digits(p, tm.tm_min, 2), *p++ = ':';
    p = put_digits(p, tm.tm_sec, 2), *p++ = '.';
    p = put_digits(p, now.tv_nsec / 1000, 6), *p++ = 'Z';
    *p = '\0';
}

bool jmsg_valid_type(struct span s)
{
    if (s.len == 0 || s.len > 64)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.data[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

static struct span or_empty_object(struct span s)
{
    return s.len ? s : (struct span){"{}", 2};
}

int jmsg_build(struct jmsg_wire *w, struct signer *signer, const struct jmsg_origin *origin,
               const struct jmsg_out *out, char msg_id[JMSG_ID_LEN + 1])
{
    char id[JMSG_ID_LEN + 1], date[64];
    if (!jmsg_valid_type(span_str(out->msg_type)) ||
        out->nidents + 6 + out->nbuffers > JMSG_MAX_OUT_FRAMES) {
        errno = EINVAL;
        return -1;
    }
    jmsg_new_id(id);
    jmsg_iso_now(date);
    const char *pieces[] = {"{\"msg_id\":\"", id, "\",\"msg_type\":\"", out->msg_type,
                            "\",\"username\":", origin->username_json, ",\"session\":\"", origin->session,
                            "\",\"date\":\"", date, "\",\"version\":\"" JMSG_PROTOCOL_VERSION "\"}"};
    size_t hlen = 0;
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        size_t n = strlen(pieces[i]);
        if (hlen + n >= sizeof w->header) {
            errno = EINVAL;
            return -1;
        }
        memcpy(w->header + hlen, pieces[i], n);
        hlen += n;
    }
    struct span parts[4] = {{w->header, hlen}, or_empty_object(out->parent),
                            or_empty_object(out->metadata), or_empty_object(out->content)};
    w->signature[0] = '\0';
    if (signer_enabled(signer)) {
        unsigned char digest[AUTH_DIGEST_LEN];
        if (signer_digest(signer, parts, 4, digest) < 0) {
            errno = EPROTO;
            return -1;
        }
        signer_hex(digest, w->signature);
    }
    size_t n = 0;
    for (size_t i = 0; i < out->nidents; i++)
        w->frames[n++] = out->idents[i];
    w->frames[n++] = span_str(JMSG_DELIMITER);
    w->frames[n++] = span_str(w->signature);
    for (int i = 0; i < 4; i++)
        w->frames[n++] = parts[i];
    for (size_t i = 0; i < out->nbuffers; i++)
        w->frames[n++] = out->buffers[i];
    w->nframes = n;
    if (msg_id)
        memcpy(msg_id, id, sizeof id);
    return 0;
}

int jmsg_send(struct zsock *s, struct signer *signer, const struct jmsg_origin *origin,
              const struct jmsg_out *out, char msg_id[JMSG_ID_LEN + 1])
{
    struct jmsg_wire w;
    if (jmsg_build(&w, signer, origin, out, msg_id) < 0)
        return -1;
    return zsock_send(s, w.frames, w.nframes);
}

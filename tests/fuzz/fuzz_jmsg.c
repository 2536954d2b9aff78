/* fuzz_jmsg: the Jupyter wire-message parser and its signature check
 * (common/jmsg.c jmsg_load + jmsg_parse, common/auth.c signer and replay
 * guard), the msg_type check (jmsg_valid_type) and the router<->worker
 * channel decoder (common/chan.c chan_decode) -- everything the router does
 * with the bytes a frontend or a worker sends before it trusts them.
 *
 * Input: the frames of one multipart message separated by the byte 0x1E
 * (ASCII record separator, which never occurs unescaped in JSON), e.g.
 *     ident 1E <IDS|MSG> 1E signature 1E header 1E parent 1E metadata 1E content [1E buffer]...
 * The frames are handed to jmsg_load as the router's transport (the ZMTP
 * decoder, common/zmtp.c, with max_frames JMSG_MAX_FRAMES) hands them over:
 * at most JMSG_MAX_FRAMES frames (too_many_frames when there were more),
 * frames that take the running total past the size limit left empty, the
 * size counting every byte sent; each kept frame is copied into a heap
 * block of its own size, so that ASan sees any read past a frame.
 * (fuzz_zmtp checks that the decoder delivers exactly this.)
 * Each input is then parsed
 *   A. with the fixed key below and a replay guard, as received; if the
 *      signature was accepted, the same message again must be refused as a
 *      replay;
 *   B. with the fixed key, after the harness re-signed it correctly, so the
 *      JSON and header checks are reached in signed mode too;
 *   C. with an empty key (unsigned messages): must agree with B;
 *   D. with an empty key and a size limit (odd-sized inputs only), which
 *      must agree with C whenever the message fits;
 * and besides: jmsg_valid_type on every frame (against a reference), the
 * bytes as a stream of chan messages (each decoded message is re-encoded
 * and must give back the same bytes), and the replay guard against a
 * simple model, with 16-byte runs of the input as digests. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth.h"
#include "common/buf.h"
#include "common/chan.h"
#include "common/jmsg.h"
#include "tests/fuzz/fuzz.h"

#define SEP 0x1e

static struct signer *keyed, *unkeyed;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_signers(&keyed, &unkeyed);
    return 0;
}

struct frames {
    struct span *f;
    size_t n;
};

static struct frames split(const uint8_t *data, size_t size)
{
    struct frames fr = {calloc(size + 1, sizeof(struct span)), 0};
    CHECK(fr.f);
    const char *p = (const char *)data, *end = p + size;
    for (;;) {
        const char *q = memchr(p, SEP, (size_t)(end - p));
        fr.f[fr.n++] = (struct span){p, (size_t)((q ? q : end) - p)};
        if (!q)
            break;
        p = q + 1;
    }
    return fr;
}

/* The frames as the transport delivered them; jmsg borrows them. */
struct delivery {
    struct span *f;
    size_t n;
};

/* Deliver the frames as one multipart message, frame `swap` replaced by
 * `with` (swap == SIZE_MAX: none), the way the ZMTP decoder does with
 * size_limit `limit` and max_frames JMSG_MAX_FRAMES, and jmsg_load them. */
static void deliver(const struct frames *fr, size_t swap, struct span with, size_t limit, struct delivery *dv,
                    struct jmsg *m)
{
    size_t n = fr->n < JMSG_MAX_FRAMES ? fr->n : JMSG_MAX_FRAMES, total = 0;
    dv->f = calloc(n, sizeof *dv->f);
    dv->n = n;
    CHECK(dv->f);
    for (size_t i = 0; i < fr->n; i++) {
        struct span s = i == swap ? with : fr->f[i];
        total += s.len; /* dropped frames count too */
        if (i >= n)
            continue; /* past max_frames: dropped */
        if (!s.len || (limit && total > limit)) {
            dv->f[i] = (struct span){"", 0}; /* over the limit: its place, not its bytes */
            continue;
        }
        char *copy = malloc(s.len);
        CHECK(copy);
        memcpy(copy, s.data, s.len);
        dv->f[i] = (struct span){copy, s.len};
    }
    jmsg_load(m, dv->f, n, total, limit, fr->n > JMSG_MAX_FRAMES);
    CHECK(m->frames == dv->f && m->size == total && m->size_limit == limit);
    CHECK(m->nframes == n);
    CHECK(m->too_many_frames == (fr->n > JMSG_MAX_FRAMES));
}

static void delivery_free(struct delivery *dv)
{
    for (size_t i = 0; i < dv->n; i++)
        if (dv->f[i].len)
            free((char *)dv->f[i].data);
    free(dv->f);
}

static size_t delimiter_index(const struct frames *fr)
{
    for (size_t i = 0; i < fr->n && i < JMSG_MAX_FRAMES; i++)
        if (fr->f[i].len == strlen(JMSG_DELIMITER) && memcmp(fr->f[i].data, JMSG_DELIMITER, fr->f[i].len) == 0)
            return i;
    return SIZE_MAX;
}

static bool signature_passed(enum jmsg_error e)
{
    return e == JMSG_OK || e == JMSG_BAD_JSON || e == JMSG_BAD_HEADER || e == JMSG_TOO_LARGE;
}

static volatile unsigned sink;

static void touch(struct span s)
{
    if (s.len)
        sink += (unsigned char)s.data[0] + (unsigned char)s.data[s.len - 1];
}

static bool all_json(const struct jmsg *m)
{
    return m->header && m->parent && m->metadata && m->content;
}

/* What a caller may rely on after jmsg_parse. */
static void check_parsed(const struct jmsg *m, enum jmsg_error e, size_t delim)
{
    CHECK(jmsg_error_str(e) != NULL);
    if (e == JMSG_NO_DELIMITER)
        CHECK(delim == SIZE_MAX || m->too_many_frames);
    if (e == JMSG_TOO_MANY_FRAMES || e == JMSG_NO_DELIMITER || e == JMSG_TRUNCATED)
        return;
    CHECK(delim != SIZE_MAX && m->nidents == delim && m->sig == delim + 1);
    CHECK(m->sig + 5 + m->nbuffers == m->nframes);
    /* JMSG_TOO_LARGE comes with the JSON parts when they all fitted */
    if (e != JMSG_OK && !(e == JMSG_TOO_LARGE && all_json(m)))
        return;
    CHECK(json_is_object(m->header) && json_is_object(m->parent) && json_is_object(m->metadata) &&
          json_is_object(m->content));
    CHECK(m->msg_id && m->msg_type && m->session);
    CHECK(jmsg_valid_type(span_str(m->msg_type)));
    CHECK(strlen(m->session) <= 256);
    touch(jmsg_header_raw(m));
    touch(jmsg_metadata_raw(m));
    touch(jmsg_content_raw(m));
    for (size_t i = 0; i < m->nbuffers; i++)
        touch(jmsg_buffer(m, i));
    for (size_t i = 0; i < m->nidents; i++)
        touch(jmsg_frame(m, i));
}

static bool valid_type_model(struct span s)
{
    if (s.len < 1 || s.len > 64)
        return false;
    for (size_t i = 0; i < s.len; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", s.data[i]) || !s.data[i])
            return false;
    return true;
}

static void fuzz_messages(const uint8_t *data, size_t size)
{
    struct frames fr = split(data, size);
    size_t delim = delimiter_index(&fr);
    struct jmsg m;
    struct delivery dv;

    /* A: as received, with the fixed key and a replay guard. */
    struct replay_guard *guard = replay_guard_new(4);
    CHECK(guard);
    deliver(&fr, SIZE_MAX, (struct span){0}, 0, &dv, &m);
    enum jmsg_error a = jmsg_parse(&m, keyed, guard);
    check_parsed(&m, a, delim);
    char a_type[65] = "";
    if (a == JMSG_OK)
        snprintf(a_type, sizeof a_type, "%s", m.msg_type);
    jmsg_close(&m);
    delivery_free(&dv);
    if (signature_passed(a)) {
        deliver(&fr, SIZE_MAX, (struct span){0}, 0, &dv, &m);
        CHECK(jmsg_parse(&m, keyed, guard) == JMSG_REPLAYED);
        jmsg_close(&m);
        delivery_free(&dv);
    }
    replay_guard_free(guard);

    /* C: unsigned. */
    deliver(&fr, SIZE_MAX, (struct span){0}, 0, &dv, &m);
    enum jmsg_error c = jmsg_parse(&m, unkeyed, NULL);
    check_parsed(&m, c, delim);
    CHECK(c != JMSG_BAD_SIGNATURE && c != JMSG_REPLAYED && c != JMSG_TOO_LARGE);
    if (signature_passed(a)) {
        CHECK(a == c);
        if (a == JMSG_OK)
            CHECK(strcmp(a_type, m.msg_type) == 0);
    }
    jmsg_close(&m);
    delivery_free(&dv);

    /* B: re-signed with the right HMAC: must agree with C. */
    if (delim != SIZE_MAX && fr.n <= JMSG_MAX_FRAMES && fr.n - delim - 1 >= 5) {
        unsigned char digest[AUTH_DIGEST_LEN];
        char hex[AUTH_HEX_LEN + 1];
        CHECK(signer_digest(keyed, &fr.f[delim + 2], 4, digest) == 0);
        signer_hex(digest, hex);
        if (size % 3 == 0) /* the check takes upper-case hex digits as well */
            for (char *h = hex; *h; h++)
                if (*h >= 'a' && *h <= 'f')
                    *h = (char)(*h - 'a' + 'A');
        deliver(&fr, delim + 1, (struct span){hex, AUTH_HEX_LEN}, 0, &dv, &m);
        enum jmsg_error b = jmsg_parse(&m, keyed, NULL);
        check_parsed(&m, b, delim);
        CHECK(b == c);
        jmsg_close(&m);
        delivery_free(&dv);
    }

    /* D: unsigned, with a size limit (odd sizes: half the input). */
    if (size % 2 == 1) {
        size_t limit = size / 2 + 1, total = size - (fr.n - 1);
        /* frames that take the running total past the limit arrive empty,
         * and the size counts every byte sent */
        size_t kept = 0, upto = delim == SIZE_MAX ? 0 : delim;
        for (size_t i = 0; i <= upto && i < fr.n; i++)
            kept += fr.f[i].len;
        deliver(&fr, SIZE_MAX, (struct span){0}, limit, &dv, &m);
        CHECK(m.size == total);
        enum jmsg_error d = jmsg_parse(&m, unkeyed, NULL);
        check_parsed(&m, d, kept <= limit ? delim : SIZE_MAX);
        if (total <= limit)
            CHECK(d == c);
        else
            CHECK(d != JMSG_OK);
        if (d == JMSG_TOO_LARGE && all_json(&m))
            CHECK(c == JMSG_OK);
        jmsg_close(&m);
        delivery_free(&dv);
    }

    for (size_t i = 0; i < fr.n; i++)
        CHECK(jmsg_valid_type(fr.f[i]) == valid_type_model(fr.f[i]));
    free(fr.f);
}

/* The worker channel: decode the input as a stream of chan messages. */
static void fuzz_chan(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    size_t left = size;
    struct buf re = {0};
    for (;;) {
        struct chan_msg msg;
        size_t used = 0;
        enum chan_status st = chan_decode(p, left, &msg, &used);
        if (st != CHAN_OK)
            break;
        CHECK(used >= 4 && used <= left && msg.nparts <= CHAN_MAX_PARTS);
        for (size_t i = 0; i < msg.nparts; i++) {
            CHECK(msg.parts[i].data >= p && msg.parts[i].data + msg.parts[i].len <= p + used);
            touch(msg.parts[i]);
            uint64_t v;
            if (chan_part_u64(&msg.parts[i], &v) == 0) {
                char text[32];
                snprintf(text, sizeof text, "%llu", (unsigned long long)v);
                /* leading zeros aside, the digits are the number */
                CHECK(msg.parts[i].len >= strlen(text));
                CHECK(memcmp(msg.parts[i].data + msg.parts[i].len - strlen(text), text, strlen(text)) == 0);
            }
            (void)chan_part_is(&msg.parts[i], "execute");
        }
        buf_reset(&re);
        CHECK(chan_encode(&re, msg.parts, msg.nparts) == 0);
        CHECK(buf_pending(&re) == used && memcmp(buf_head(&re), p, used) == 0);
        p += used;
        left -= used;
    }
    buf_free(&re);
}

/* The replay guard against a model: a ring of the last `cap` admitted keys. */
static void fuzz_replay_guard(const uint8_t *data, size_t size)
{
    if (size < 1)
        return;
    size_t cap = 1 + data[0] % 8;
    struct replay_guard *g = replay_guard_new(cap);
    CHECK(g);
    unsigned char ring[8][16];
    size_t count = 0, next = 0;
    for (size_t off = 1; off + 16 <= size; off += 16) {
        unsigned char digest[AUTH_DIGEST_LEN] = {0};
        memcpy(digest, data + off, 16);
        bool seen = false;
        for (size_t i = 0; i < count; i++)
            seen |= memcmp(ring[i], digest, 16) == 0;
        CHECK(replay_guard_admit(g, digest) == !seen);
        if (!seen) {
            memcpy(ring[next], digest, 16);
            next = (next + 1) % cap;
            if (count < cap)
                count++;
        }
    }
    replay_guard_free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_messages(data, size);
    fuzz_chan(data, size);
    fuzz_replay_guard(data, size);
    return 0;
}

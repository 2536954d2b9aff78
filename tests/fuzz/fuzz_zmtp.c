/* fuzz_zmtp: the ZMTP 3.0 decoder (common/zmtp.c zmtp_decode) on the
 * inbound byte stream of one connection -- the peer's greeting, its READY
 * command, then messages and commands -- and the encoder
 * (zmtp_write_handshake, zmtp_write_message, zmtp_write_command), with
 * each decoded message handed on to jmsg_load + jmsg_parse as the router
 * does (common/jmsg.c).
 *
 * Input: two bytes of settings, then the stream:
 *     byte 0   the decoder's limits: low nibble a size limit, high nibble
 *              max_frames (see LIMITS and MAX_FRAMES below)
 *     byte 1   how the stream is cut into the pieces the decoder is fed
 *              (a seed for the cuts; its low two bits the largest piece)
 *     rest     the bytes the peer sends, e.g.
 *              FF 00*7 01 7F 03 00 "NULL" 00*16 00 00*31     greeting
 *              04 xx 05 "READY" 0B "Socket-Type" 00 00 00 06 "DEALER"
 *              01 09 "<IDS|MSG>" 01 40 <signature> ... 00 02 "{}"
 *
 * The stream is decoded by a reference model of the protocol written
 * plainly here (whole input, no state machine), then by zmtp_decode fed
 * the whole stream at once, one byte at a time (with an empty call after
 * each event), and in pieces cut where the seed says (empty pieces
 * included). Checked:
 *   - every run gives the model's events (kind, socket type and identity,
 *     command name and data, message frames, size, too_many_frames) in the
 *     same order, and ends in an error exactly when the model does, with
 *     the same reason in every run; nothing is decoded past an error;
 *   - ZMTP_NEED_MORE uses all of its input, an event at most all of it;
 *   - every ZMTP_MESSAGE has 1..max_frames frames (too_many_frames only
 *     with max_frames of them), frames over the size limit are empty (the
 *     model says which), size >= the sum of the frame lengths; frames[-1]
 *     is the caller's to write; every command is named, at most
 *     ZMTP_MAX_COMMAND bytes, and never a READY;
 *   - a decoder at rest (the stream ends between messages) holds no
 *     buffers, and zmtp_decoder_free leaves nothing behind (LeakSanitizer);
 *   - the events re-encoded (zmtp_write_handshake for a socket type the
 *     input picks, then zmtp_write_message / zmtp_write_command) and
 *     decoded by a fresh decoder with the same limits give the READY of
 *     that socket type and the same messages and commands, nothing dropped;
 *   - each message, with a routing identity put in frames[-1] as the ROUTER
 *     socket does, goes through jmsg_load + jmsg_parse with the key
 *     make_corpus.py signs with and a replay guard, and without the
 *     identity and unsigned: nothing may crash, and what jmsg_parse accepts
 *     has the header fields it promises. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/auth.h"
#include "common/buf.h"
#include "common/jmsg.h"
#include "common/zmtp.h"
#include "tests/fuzz/fuzz.h"

/* Byte 0's low nibble: the size limit (0: none); its high nibble:
 * max_frames (0 is taken as 1 by the decoder). */
static const size_t LIMITS[16] = {0, 0, 0, 1, 9, 16, 40, 64, 100, 200, 255, 256, 300, 1000, 4096, 65536};
static const size_t MAX_FRAMES[16] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 64, 100, 1023, JMSG_MAX_FRAMES};
/* Byte 1's low two bits: the largest piece the stream is cut into. */
static const size_t PIECE_MAX[4] = {2, 9, 70, 600};
static const char *const SOCKET_TYPES[] = {"DEALER", "SUB", "REQ", "ROUTER", "XPUB", "REP", "PAIR", "X"};

static struct signer *keyed, *unkeyed;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_signers(&keyed, &unkeyed);
    return 0;
}

/* ---- events, as a run saw them ---- */

/* One event, its bytes copied: READY (socket type, identity), COMMAND
 * (name, data) or MESSAGE (the frames). */
struct rec {
    enum zmtp_event_kind kind;
    struct span *s;
    size_t n;
    size_t size;
    bool too_many;
};

struct run {
    struct rec *recs;
    size_t n, cap;
    bool error;
    const char *why;
};

static void push_rec(struct run *r, enum zmtp_event_kind kind, const struct span *s, size_t n, size_t size,
                     bool too_many)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->recs = realloc(r->recs, r->cap * sizeof *r->recs);
        CHECK(r->recs);
    }
    struct rec *e = &r->recs[r->n++];
    *e = (struct rec){kind, calloc(n ? n : 1, sizeof *e->s), n, size, too_many};
    CHECK(e->s);
    for (size_t i = 0; i < n; i++) {
        char *copy = malloc(s[i].len ? s[i].len : 1);
        CHECK(copy);
        if (s[i].len)
            memcpy(copy, s[i].data, s[i].len);
        e->s[i] = (struct span){copy, s[i].len};
    }
}

static void run_free(struct run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        for (size_t j = 0; j < r->recs[i].n; j++)
            free((char *)r->recs[i].s[j].data);
        free(r->recs[i].s);
    }
    free(r->recs);
    memset(r, 0, sizeof *r);
}

static bool span_eq(struct span a, struct span b)
{
    return a.len == b.len && (!a.len || memcmp(a.data, b.data, a.len) == 0);
}

static bool rec_eq(const struct rec *a, const struct rec *b)
{
    if (a->kind != b->kind || a->n != b->n || a->size != b->size || a->too_many != b->too_many)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (!span_eq(a->s[i], b->s[i]))
            return false;
    return true;
}

static void check_same(const struct run *a, const struct run *b)
{
    CHECK(a->n == b->n);
    for (size_t i = 0; i < a->n; i++)
        CHECK(rec_eq(&a->recs[i], &b->recs[i]));
    CHECK(a->error == b->error);
}

/* ---- the reference model: the protocol as zmtp.h and RFC 23 say, on
 * the whole stream at once ---- */

struct limits {
    size_t size_limit, max_frames; /* max_frames as the decoder takes it: >= 1 */
};

static uint64_t be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static bool name_is(struct span s, const char *want)
{
    return s.len == strlen(want) && strncasecmp(s.data, want, s.len) == 0;
}

/* READY's properties: 0 with the socket type and identity, or -1. */
static int model_ready(struct span props, struct span *type, struct span *identity)
{
    const uint8_t *p = (const uint8_t *)props.data;
    size_t pos = 0;
    *type = *identity = (struct span){"", 0};
    while (pos < props.len) {
        size_t name_len = p[pos++];
        if (name_len == 0 || props.len - pos < name_len + 4)
            return -1;
        struct span name = {props.data + pos, name_len};
        uint64_t value_len = be(p + pos + name_len, 4);
        pos += name_len + 4;
        if (props.len - pos < value_len)
            return -1;
        struct span value = {props.data + pos, (size_t)value_len};
        pos += (size_t)value_len;
        if (name_is(name, "Socket-Type"))
            *type = value;
        else if (name_is(name, "Identity"))
            *identity = value;
    }
    return type->len ? 0 : -1;
}

/* Returns true when the stream ends at rest: between messages, or before
 * the first frame. */
static bool model(const uint8_t *p, size_t len, struct limits lim, struct run *r)
{
    static const uint8_t null_mechanism[20] = "NULL";
    size_t g = len < ZMTP_GREETING_LEN ? len : ZMTP_GREETING_LEN;
    if ((g >= 1 && p[0] != 0xFF) || (g >= 10 && p[9] != 0x7F) || (g >= 11 && p[10] < 3) ||
        (g >= 32 && memcmp(p + 12, null_mechanism, 20) != 0)) {
        r->error = true;
        return false;
    }
    if (len < ZMTP_GREETING_LEN)
        return false;
    size_t pos = ZMTP_GREETING_LEN, nframes = 0, total = 0;
    bool ready = false, dropped = false;
    struct span *frames = calloc(lim.max_frames, sizeof *frames);
    CHECK(frames);
    bool rest = false;
    for (;;) {
        if (pos == len) {
            rest = nframes == 0;
            break;
        }
        uint8_t flags = p[pos++];
        bool more = flags & 1, command = flags & 4;
        size_t width = flags & 2 ? 8 : 1;
        if ((flags & ~7) || (command && (more || nframes)))
            goto error;
        if (len - pos < width)
            break;
        uint64_t size = be(p + pos, width);
        pos += width;
        if ((command && size > ZMTP_MAX_COMMAND) || (!command && !ready))
            goto error;
        if (len - pos < size)
            break;
        struct span body = {(const char *)p + pos, (size_t)size};
        pos += (size_t)size;
        if (command) {
            size_t name_len = body.len ? (uint8_t)body.data[0] : 0;
            if (name_len == 0 || body.len < 1 + name_len)
                goto error;
            struct span name = {body.data + 1, name_len}, data = {body.data + 1 + name_len, body.len - 1 - name_len};
            if (name_is(name, "READY")) {
                struct span ready_props[2];
                if (ready || model_ready(data, &ready_props[0], &ready_props[1]) < 0)
                    goto error;
                ready = true;
                push_rec(r, ZMTP_READY, ready_props, 2, 0, false);
            } else {
                if (!ready)
                    goto error;
                push_rec(r, ZMTP_COMMAND, (struct span[]){name, data}, 2, 0, false);
            }
            continue;
        }
        total += body.len; /* every byte counts, kept or not */
        if (nframes == lim.max_frames)
            dropped = true;
        else
            frames[nframes++] = lim.size_limit && total > lim.size_limit ? (struct span){"", 0} : body;
        if (!more) {
            push_rec(r, ZMTP_MESSAGE, frames, nframes, total, dropped);
            nframes = total = 0;
            dropped = false;
        }
    }
    free(frames);
    return rest;
error:
    free(frames);
    r->error = true;
    return false;
}

/* ---- the decoder under test ---- */

static volatile unsigned sink;

static void touch(struct span s)
{
    CHECK(s.data || !s.len);
    if (s.len)
        sink += (unsigned char)s.data[0] + (unsigned char)s.data[s.len - 1];
}

/* What any event must be, whatever the stream. */
static void check_event(const struct zmtp_event *ev, struct limits lim)
{
    switch (ev->kind) {
    case ZMTP_READY:
        CHECK(ev->socket_type.len > 0);
        touch(ev->socket_type);
        touch(ev->identity);
        break;
    case ZMTP_COMMAND:
        CHECK(ev->name.len >= 1 && ev->name.len <= 255 && !name_is(ev->name, "READY"));
        CHECK(1 + ev->name.len + ev->data.len <= ZMTP_MAX_COMMAND);
        touch(ev->name);
        touch(ev->data);
        break;
    case ZMTP_MESSAGE: {
        CHECK(ev->nframes >= 1 && ev->nframes <= lim.max_frames);
        CHECK(!ev->too_many_frames || ev->nframes == lim.max_frames);
        size_t sum = 0;
        for (size_t i = 0; i < ev->nframes; i++) {
            touch(ev->frames[i]);
            sum += ev->frames[i].len;
        }
        CHECK(ev->size >= sum);
        CHECK(!lim.size_limit || sum <= lim.size_limit);
        /* nothing dropped: all of it is there */
        if (!ev->too_many_frames && (!lim.size_limit || ev->size <= lim.size_limit))
            CHECK(ev->size == sum);
        ev->frames[-1] = (struct span){"caller's", 8}; /* the ROUTER's slot */
        break;
    }
    default:
        CHECK(!"an unknown event kind");
    }
}

static void record(struct run *r, const struct zmtp_event *ev)
{
    switch (ev->kind) {
    case ZMTP_READY:
        push_rec(r, ZMTP_READY, (struct span[]){ev->socket_type, ev->identity}, 2, 0, false);
        break;
    case ZMTP_COMMAND:
        push_rec(r, ZMTP_COMMAND, (struct span[]){ev->name, ev->data}, 2, 0, false);
        break;
    case ZMTP_MESSAGE:
        push_rec(r, ZMTP_MESSAGE, ev->frames, ev->nframes, ev->size, ev->too_many_frames);
        break;
    }
}

static void check_jmsg(const struct zmtp_event *ev, struct limits lim);

/* Feed one piece, taking every event it completes. `after_event_empty`:
 * call once more with no bytes after each event (as a reader whose chunk
 * ended there would). */
static void feed(struct zmtp_decoder *d, const char *p, size_t len, struct limits lim, struct run *r,
                 bool after_event_empty, bool jmsg)
{
    size_t pos = 0;
    while (!r->error) {
        size_t used = SIZE_MAX;
        struct zmtp_event ev;
        const char *why = "not set";
        enum zmtp_status st = zmtp_decode(d, p + pos, len - pos, &used, &ev, &why);
        if (st == ZMTP_ERROR) {
            CHECK(why && why[0]);
            r->error = true;
            r->why = why;
            return;
        }
        CHECK(why == NULL);
        CHECK(st == ZMTP_NEED_MORE || st == ZMTP_EVENT);
        CHECK(used <= len - pos);
        if (st == ZMTP_NEED_MORE) {
            CHECK(used == len - pos); /* all of it was used */
            return;
        }
        pos += used;
        check_event(&ev, lim);
        record(r, &ev);
        if (jmsg && ev.kind == ZMTP_MESSAGE)
            check_jmsg(&ev, lim);
        if (after_event_empty) {
            st = zmtp_decode(d, p + pos, 0, &used, &ev, &why);
            CHECK(st == ZMTP_NEED_MORE && used == 0 && why == NULL);
        }
    }
}

static bool at_rest_holds_nothing(const struct zmtp_decoder *d)
{
    return !d->body.data && !d->refs && !d->spans && d->nframes == 0;
}

/* ---- what the router does with a message ---- */

static bool all_json(const struct jmsg *m) { return m->header && m->parent && m->metadata && m->content; }

static void check_parsed(const struct jmsg *m, enum jmsg_error e)
{
    CHECK(jmsg_error_str(e) != NULL);
    if (e == JMSG_OK || (e == JMSG_TOO_LARGE && all_json(m))) {
        CHECK(m->sig == m->nidents + 1 && m->sig + 5 + m->nbuffers == m->nframes);
        CHECK(json_is_object(m->header) && json_is_object(m->parent) && json_is_object(m->metadata) &&
              json_is_object(m->content));
        CHECK(m->msg_id && m->msg_type && m->session && jmsg_valid_type(span_str(m->msg_type)));
        touch(jmsg_header_raw(m));
        touch(jmsg_content_raw(m));
        for (size_t i = 0; i < m->nbuffers; i++)
            touch(jmsg_buffer(m, i));
    }
}

static void check_jmsg(const struct zmtp_event *ev, struct limits lim)
{
    /* as the ROUTER socket hands it to the frontend: the peer's identity first */
    static const char ident[] = "\x00k\x8b\x45\x67";
    ev->frames[-1] = (struct span){ident, sizeof ident - 1};
    struct replay_guard *guard = replay_guard_new(2);
    CHECK(guard);
    struct jmsg m;
    jmsg_load(&m, ev->frames - 1, ev->nframes + 1, ev->size, lim.size_limit, ev->too_many_frames);
    enum jmsg_error e = jmsg_parse(&m, keyed, guard);
    check_parsed(&m, e);
    jmsg_close(&m);
    /* once the signature passed, the same message again is a replay */
    if (e == JMSG_OK || e == JMSG_BAD_JSON || e == JMSG_BAD_HEADER || e == JMSG_TOO_LARGE) {
        jmsg_load(&m, ev->frames - 1, ev->nframes + 1, ev->size, lim.size_limit, ev->too_many_frames);
        CHECK(jmsg_parse(&m, keyed, guard) == JMSG_REPLAYED);
        jmsg_close(&m);
    }
    replay_guard_free(guard);

    jmsg_load(&m, ev->frames, ev->nframes, ev->size, lim.size_limit, ev->too_many_frames);
    e = jmsg_parse(&m, unkeyed, NULL);
    check_parsed(&m, e);
    CHECK(e != JMSG_BAD_SIGNATURE && e != JMSG_REPLAYED);
    jmsg_close(&m);
}

/* ---- the encoder, checked by decoding what it wrote ---- */

static void check_reencoded(const struct run *whole, struct limits lim, const char *socket_type)
{
    struct buf out = {0};
    CHECK(zmtp_write_handshake(&out, socket_type) == 0);
    struct run want = {0};
    push_rec(&want, ZMTP_READY, (struct span[]){span_str(socket_type), {"", 0}}, 2, 0, false);
    for (size_t i = 0; i < whole->n; i++) {
        const struct rec *e = &whole->recs[i];
        if (e->kind == ZMTP_MESSAGE) {
            CHECK(zmtp_write_message(&out, e->s, e->n) == 0);
            size_t sum = 0;
            for (size_t j = 0; j < e->n; j++)
                sum += e->s[j].len;
            /* what was kept fits: it comes back whole */
            push_rec(&want, ZMTP_MESSAGE, e->s, e->n, sum, false);
        } else if (e->kind == ZMTP_COMMAND && !memchr(e->s[0].data, 0, e->s[0].len)) {
            char name[256];
            memcpy(name, e->s[0].data, e->s[0].len);
            name[e->s[0].len] = '\0';
            CHECK(zmtp_write_command(&out, name, e->s[1]) == 0);
            push_rec(&want, ZMTP_COMMAND, e->s, 2, 0, false);
        }
    }
    struct zmtp_decoder d;
    zmtp_decoder_init(&d, lim.size_limit, lim.max_frames);
    struct run got = {0};
    feed(&d, buf_head(&out), buf_pending(&out), lim, &got, false, false);
    CHECK(!got.error);
    check_same(&want, &got);
    CHECK(at_rest_holds_nothing(&d));
    zmtp_decoder_free(&d);
    run_free(&want);
    run_free(&got);
    buf_free(&out);
}

static uint32_t next_cut(uint32_t *state)
{
    uint32_t x = *state; /* xorshift32 */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    struct limits lim = {LIMITS[data[0] & 15], MAX_FRAMES[data[0] >> 4]};
    size_t max_frames_arg = lim.max_frames;
    if (!lim.max_frames)
        lim.max_frames = 1;
    uint8_t cut = data[1];
    const char *stream = (const char *)data + 2;
    size_t len = size - 2;

    struct run expected = {0};
    bool rest = model((const uint8_t *)stream, len, lim, &expected);

    /* whole, with the router's use of each message */
    struct zmtp_decoder d;
    struct run whole = {0};
    zmtp_decoder_init(&d, lim.size_limit, max_frames_arg);
    feed(&d, stream, len, lim, &whole, false, true);
    check_same(&expected, &whole);
    if (!whole.error) {
        size_t used;
        struct zmtp_event ev;
        const char *why;
        CHECK(zmtp_decode(&d, stream + len, 0, &used, &ev, &why) == ZMTP_NEED_MORE);
        if (rest)
            CHECK(at_rest_holds_nothing(&d));
    }
    zmtp_decoder_free(&d);

    /* one byte at a time */
    struct run bytes = {0};
    zmtp_decoder_init(&d, lim.size_limit, max_frames_arg);
    for (size_t i = 0; i < len && !bytes.error; i++)
        feed(&d, stream + i, 1, lim, &bytes, true, false);
    check_same(&whole, &bytes);
    CHECK(!whole.error || strcmp(whole.why, bytes.why) == 0);
    zmtp_decoder_free(&d);

    /* in pieces cut where byte 1 says, empty ones included */
    struct run pieces = {0};
    uint32_t state = 0x9e3779b9u ^ (uint32_t)cut << 8 ^ (uint32_t)len;
    size_t most = PIECE_MAX[cut & 3];
    zmtp_decoder_init(&d, lim.size_limit, max_frames_arg);
    for (size_t pos = 0; !pieces.error;) {
        size_t n = next_cut(&state) % (most + 1);
        if (n > len - pos)
            n = len - pos;
        feed(&d, stream + pos, n, lim, &pieces, false, false);
        pos += n;
        if (pos == len && (next_cut(&state) & 1))
            break;
    }
    check_same(&whole, &pieces);
    CHECK(!whole.error || strcmp(whole.why, pieces.why) == 0);
    zmtp_decoder_free(&d);

    /* written again by the encoder */
    check_reencoded(&whole, lim, SOCKET_TYPES[(cut >> 2) % (sizeof SOCKET_TYPES / sizeof *SOCKET_TYPES)]);

    run_free(&expected);
    run_free(&whole);
    run_free(&bytes);
    run_free(&pieces);
    return 0;
}

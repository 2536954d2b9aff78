/* test_zmtp: ZMTP 3.0 encoding and the incremental decoder (common/zmtp.c):
 * greeting and READY bytes, frame headers, round trips fed in pieces of
 * every size, READY properties, protocol errors, size and frame limits. */
#include <check.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/zmtp.h"
#include "suites.h"

/* check records every passing ck_assert (a write each): in the loops that
 * decode byte by byte, only a failure calls into it */
#define REQUIRE(cond)                                                                            \
    do {                                                                                         \
        if (!(cond))                                                                             \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond);                                \
    } while (0)

/* An absent READY property is an empty span that may have no data at all. */
static void assert_span_eq(struct span s, const char *expect)
{
    ck_assert_uint_eq(s.len, strlen(expect));
    if (s.len)
        ck_assert_mem_eq(s.data, expect, s.len);
}

static void put(struct buf *b, const void *data, size_t len) { REQUIRE(buf_append(b, data, len) == 0); }
static void put_byte(struct buf *b, unsigned char c) { put(b, &c, 1); }
static void put_be(struct buf *b, uint64_t v, int nbytes)
{
    for (int shift = 8 * (nbytes - 1); shift >= 0; shift -= 8)
        put_byte(b, (unsigned char)(v >> shift));
}

/* A peer's greeting, as libzmq writes it, with the version and mechanism
 * given. */
static void put_greeting(struct buf *b, unsigned char major, unsigned char minor, const char *mechanism)
{
    unsigned char g[ZMTP_GREETING_LEN] = {0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, major, minor};
    memcpy(g + 12, mechanism, strlen(mechanism));
    put(b, g, sizeof g);
}

/* One READY property: name length, name, 4-byte big-endian value length, value. */
static void put_prop(struct buf *b, const char *name, const char *value, size_t vlen)
{
    put_byte(b, (unsigned char)strlen(name));
    put(b, name, strlen(name));
    put_be(b, vlen, 4);
    put(b, value, vlen);
}

static void put_command(struct buf *b, const char *name, const void *data, size_t len)
{
    ck_assert_int_eq(zmtp_write_command(b, name, (struct span){data, len}), 0);
}

/* A greeting and a READY naming the peer a DEALER called `identity`. */
static void put_peer_handshake(struct buf *b, const char *identity)
{
    struct buf props = {0};
    put_prop(&props, "Socket-Type", "DEALER", 6);
    if (identity)
        put_prop(&props, "Identity", identity, strlen(identity));
    put_greeting(b, 3, 0, "NULL");
    put_command(b, "READY", props.data, props.len);
    buf_free(&props);
}

static void put_message(struct buf *b, const struct span *frames, size_t n)
{
    ck_assert_int_eq(zmtp_write_message(b, frames, n), 0);
}

/* ---- a decoder fed from a byte buffer ---- */

struct dec {
    struct zmtp_decoder d;
    struct buf in; /* bytes not yet decoded */
    struct zmtp_event ev;
    const char *error;
};

static void dec_init(struct dec *x, size_t size_limit, size_t max_frames)
{
    memset(x, 0, sizeof *x);
    zmtp_decoder_init(&x->d, size_limit, max_frames);
}

static void dec_free(struct dec *x)
{
    zmtp_decoder_free(&x->d);
    buf_free(&x->in);
}

/* Decode what is pending: an event, or NEED_MORE having used it all, or an error. */
static enum zmtp_status dec_next(struct dec *x)
{
    size_t used = 0, pending = buf_pending(&x->in);
    enum zmtp_status st = zmtp_decode(&x->d, pending ? buf_head(&x->in) : "", pending, &used, &x->ev, &x->error);
    ck_assert_uint_le(used, pending);
    buf_consume(&x->in, used);
    if (st == ZMTP_NEED_MORE)
        ck_assert_uint_eq(buf_pending(&x->in), 0);
    if (st == ZMTP_ERROR)
        ck_assert_ptr_nonnull(x->error);
    else
        ck_assert_ptr_null(x->error);
    return st;
}

static void dec_expect_ready(struct dec *x, const char *socket_type, const char *identity)
{
    ck_assert_int_eq(dec_next(x), ZMTP_EVENT);
    ck_assert_int_eq(x->ev.kind, ZMTP_READY);
    assert_span_eq(x->ev.socket_type, socket_type);
    assert_span_eq(x->ev.identity, identity);
}

/* A decoder that has taken a peer's handshake. */
static void dec_ready(struct dec *x, size_t size_limit, size_t max_frames)
{
    dec_init(x, size_limit, max_frames);
    put_peer_handshake(&x->in, NULL);
    dec_expect_ready(x, "DEALER", "");
}

/* Decode what is pending, which must be one error; returns its reason. */
static const char *dec_error(struct dec *x)
{
    enum zmtp_status st;
    while ((st = dec_next(x)) == ZMTP_EVENT)
        ;
    ck_assert_msg(st == ZMTP_ERROR, "the stream was accepted");
    return x->error;
}

static void assert_error_has(const char *error, const char *part)
{
    ck_assert_msg(error && strstr(error, part), "error \"%s\" does not mention \"%s\"", error ? error : "(none)",
                  part);
}

/* ---- an event log: what a stream decodes to, fed in given pieces ---- */

static void log_printf(struct buf *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_printf(struct buf *log, const char *fmt, ...)
{
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    REQUIRE(n >= 0 && (size_t)n < sizeof text);
    put(log, text, (size_t)n);
}

static void log_span(struct buf *log, struct span s)
{
    log_printf(log, "[%zu:", s.len);
    if (s.len)
        put(log, s.data, s.len);
    put_byte(log, ']');
}

static void log_event(struct buf *log, struct zmtp_event *ev)
{
    switch (ev->kind) {
    case ZMTP_READY:
        log_printf(log, "READY");
        log_span(log, ev->socket_type);
        log_span(log, ev->identity);
        break;
    case ZMTP_MESSAGE:
        log_printf(log, "MESSAGE %zu frames, %zu bytes%s", ev->nframes, ev->size,
                   ev->too_many_frames ? ", too many" : "");
        ev->frames[-1] = span_str("caller's slot"); /* must exist */
        for (size_t i = 0; i < ev->nframes; i++) {
            REQUIRE(ev->frames[i].data != NULL); /* even when empty */
            log_span(log, ev->frames[i]);
        }
        break;
    case ZMTP_COMMAND:
        log_printf(log, "COMMAND");
        log_span(log, ev->name);
        log_span(log, ev->data);
        break;
    }
    put_byte(log, '\n');
}

/* Decode data[0..len), handed over in the pieces that end at cuts[] (then
 * the rest), and log every event and the error, if any. */
static void decode_log(struct buf *log, const char *data, size_t len, const size_t *cuts, size_t ncuts,
                       size_t size_limit, size_t max_frames)
{
    struct zmtp_decoder d;
    zmtp_decoder_init(&d, size_limit, max_frames);
    size_t start = 0;
    for (size_t k = 0; k <= ncuts; k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        REQUIRE(start <= end);
        size_t pos = start;
        while (pos < end) {
            struct zmtp_event ev;
            const char *error;
            size_t used = 0;
            enum zmtp_status st = zmtp_decode(&d, data + pos, end - pos, &used, &ev, &error);
            REQUIRE(used <= end - pos);
            pos += used;
            if (st == ZMTP_ERROR) {
                log_printf(log, "ERROR %s\n", error);
                zmtp_decoder_free(&d);
                return;
            }
            if (st == ZMTP_NEED_MORE) {
                REQUIRE(pos == end);
                break;
            }
            REQUIRE(used > 0);
            log_event(log, &ev);
        }
        start = end;
    }
    zmtp_decoder_free(&d);
}

/* Feeding the stream whole, byte by byte, split in two at every position and
 * in pseudo-random pieces gives the same log each time; returns it. */
static void assert_same_events_however_fed(struct buf *whole, const char *data, size_t len, size_t size_limit,
                                           size_t max_frames, bool every_split)
{
    decode_log(whole, data, len, NULL, 0, size_limit, max_frames);
    struct buf other = {0};

    size_t *cuts = malloc((len + 1) * sizeof *cuts);
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    decode_log(&other, data, len, cuts, len, size_limit, max_frames);
    ck_assert_uint_eq(other.len, whole->len);
    ck_assert_mem_eq(other.data, whole->data, whole->len);

    for (size_t split = 0; every_split && split <= len; split++) {
        buf_reset(&other);
        decode_log(&other, data, len, &split, 1, size_limit, max_frames);
        if (other.len != whole->len || memcmp(other.data, whole->data, whole->len) != 0)
            ck_abort_msg("different events when split at %zu", split);
    }

    unsigned seed = 12345;
    for (int round = 0; round < 20; round++) {
        size_t n = 0, pos = 0;
        while (pos < len) {
            seed = seed * 1103515245u + 12345u;
            pos += 1 + (seed >> 16) % (round < 10 ? 7 : 3000);
            cuts[n++] = pos < len ? pos : len;
        }
        buf_reset(&other);
        decode_log(&other, data, len, cuts, n, size_limit, max_frames);
        ck_assert_msg(other.len == whole->len && memcmp(other.data, whole->data, whole->len) == 0,
                      "different events in random round %d", round);
    }
    free(cuts);
    buf_free(&other);
}

/* ---- encoding ---- */

START_TEST(test_zmtp_greeting_bytes)
{
    struct buf b = {0};
    ck_assert_int_eq(zmtp_write_handshake(&b, "ROUTER"), 0);
    const unsigned char *g = (const unsigned char *)b.data;
    ck_assert_uint_eq(b.len, ZMTP_GREETING_LEN + 2 + 28);
    ck_assert_uint_eq(g[0], 0xFF);       /* signature */
    for (int i = 1; i < 8; i++)          /* padding... */
        ck_assert_uint_eq(g[i], 0);
    ck_assert_uint_eq(g[9], 0x7F);       /* ...then the end of the signature */
    ck_assert_uint_eq(g[10], 3);         /* version 3.0 */
    ck_assert_uint_eq(g[11], 0);
    ck_assert_mem_eq(g + 12, "NULL\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20); /* mechanism */
    ck_assert_uint_eq(g[32], 0);         /* as-server: 0 with NULL */
    for (int i = 33; i < ZMTP_GREETING_LEN; i++)
        ck_assert_uint_eq(g[i], 0);      /* filler */
    buf_free(&b);
}
END_TEST

START_TEST(test_zmtp_ready_command_bytes)
{
    struct buf b = {0};
    ck_assert_int_eq(zmtp_write_handshake(&b, "ROUTER"), 0);
    static const char ready[] = "\x04\x1c"     /* command, 28 bytes */
                                "\x05READY"
                                "\x0bSocket-Type\x00\x00\x00\x06ROUTER";
    ck_assert_uint_eq(b.len - ZMTP_GREETING_LEN, sizeof ready - 1);
    ck_assert_mem_eq(b.data + ZMTP_GREETING_LEN, ready, sizeof ready - 1);

    buf_reset(&b);
    ck_assert_int_eq(zmtp_write_handshake(&b, "XPUB"), 0);
    ck_assert_mem_eq(b.data + ZMTP_GREETING_LEN, "\x04\x1a\x05READY\x0bSocket-Type\x00\x00\x00\x04XPUB", 28);
    buf_reset(&b);
    char long_type[40];
    memset(long_type, 'T', sizeof long_type - 1);
    long_type[sizeof long_type - 1] = '\0';
    ck_assert_int_eq(zmtp_write_handshake(&b, long_type), -1);
    ck_assert_uint_eq(b.len, 0); /* nothing half written */
    buf_free(&b);
}
END_TEST

START_TEST(test_zmtp_own_handshake_decodes)
{
    struct dec x;
    dec_init(&x, 0, 8);
    ck_assert_int_eq(zmtp_write_handshake(&x.in, "REP"), 0);
    dec_expect_ready(&x, "REP", "");
    ck_assert_int_eq(dec_next(&x), ZMTP_NEED_MORE);
    dec_free(&x);
}
END_TEST

START_TEST(test_zmtp_short_frame_headers)
{
    struct buf b = {0};
    static char bytes[255];
    memset(bytes, 'z', sizeof bytes);
    ck_assert_int_eq(zmtp_write_frame(&b, (struct span){"", 0}, false, false), 0);
    ck_assert_uint_eq(b.len, 2);
    ck_assert_mem_eq(b.data, "\x00\x00", 2);
    buf_reset(&b);
    ck_assert_int_eq(zmtp_write_frame(&b, span_str("abc"), true, false), 0);
    ck_assert_uint_eq(b.len, 5);
    ck_assert_mem_eq(b.data, "\x01\x03" "abc", 5);
    buf_reset(&b);
    ck_assert_int_eq(zmtp_write_frame(&b, (struct span){bytes, 255}, false, false), 0);
    ck_assert_uint_eq(b.len, 257);
    ck_assert_mem_eq(b.data, "\x00\xff", 2);
    ck_assert_mem_eq(b.data + 2, bytes, 255);
    buf_reset(&b);
    ck_assert_int_eq(zmtp_write_frame(&b, span_str("xy"), false, true), 0);
    ck_assert_mem_eq(b.data, "\x04\x02xy", 4);
    buf_free(&b);
}
END_TEST

START_TEST(test_zmtp_long_frame_headers)
{
    struct buf b = {0};
    char *bytes = malloc(70000);
    memset(bytes, 'L', 70000);
    ck_assert_int_eq(zmtp_write_frame(&b, (struct span){bytes, 256}, false, false), 0);
    ck_assert_uint_eq(b.len, 9 + 256);
    ck_assert_mem_eq(b.data, "\x02\x00\x00\x00\x00\x00\x00\x01\x00", 9);
    buf_reset(&b);
    ck_assert_int_eq(zmtp_write_frame(&b, (struct span){bytes, 70000}, true, false), 0);
    ck_assert_uint_eq(b.len, 9 + 70000);
    ck_assert_mem_eq(b.data, "\x03\x00\x00\x00\x00\x00\x01\x11\x70", 9); /* 70000 = 0x011170 */
    ck_assert_mem_eq(b.data + 9, bytes, 70000);
    buf_reset(&b);
    ck_assert_int_eq(zmtp_write_frame(&b, (struct span){bytes, 300}, false, true), 0);
    ck_assert_mem_eq(b.data, "\x06\x00\x00\x00\x00\x00\x00\x01\x2c", 9);
    free(bytes);
    buf_free(&b);
}
END_TEST

START_TEST(test_zmtp_write_message_and_command)
{
    struct buf b = {0};
    char big[256];
    memset(big, 'B', sizeof big);
    struct span frames[] = {span_str("a"), {"", 0}, {big, sizeof big}};
    put_message(&b, frames, 3);
    ck_assert_uint_eq(b.len, 3 + 2 + 9 + 256);
    ck_assert_mem_eq(b.data, "\x01\x01" "a" "\x01\x00" "\x02\x00\x00\x00\x00\x00\x00\x01\x00", 14);
    buf_reset(&b);
    put_message(&b, frames, 1); /* the last frame has no MORE */
    ck_assert_mem_eq(b.data, "\x00\x01" "a", 3);

    buf_reset(&b);
    put_command(&b, "PING", "\x00\x0a" "ctx", 5);
    ck_assert_uint_eq(b.len, 12);
    ck_assert_mem_eq(b.data, "\x04\x0a\x04PING\x00\x0a" "ctx", 12);
    buf_reset(&b);
    put_command(&b, "PONG", NULL, 0);
    ck_assert_mem_eq(b.data, "\x04\x05\x04PONG", 7);
    buf_reset(&b);
    put_command(&b, "SUBSCRIBE", big, 250); /* 1 + 9 + 250 > 255: long */
    ck_assert_mem_eq(b.data, "\x06\x00\x00\x00\x00\x00\x00\x01\x04\x09SUBSCRIBE", 19);

    buf_reset(&b);
    ck_assert_int_eq(zmtp_write_command(&b, "", span_str("x")), -1);
    char name[257];
    memset(name, 'N', 256);
    name[256] = '\0';
    ck_assert_int_eq(zmtp_write_command(&b, name, span_str("x")), -1);
    name[255] = '\0';
    ck_assert_int_eq(zmtp_write_command(&b, name, span_str("x")), 0);
    buf_free(&b);
}
END_TEST

/* ---- decoding round trips ---- */

/* A handshake, then messages and commands that cross every kind of
 * boundary: short, long and empty frames, PINGs between messages. */
static void put_mixed_stream(struct buf *b, size_t big_len)
{
    char *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)('a' + i % 26);
    put_peer_handshake(b, "id-1");
    struct span m1[] = {span_str("hello")};
    struct span m2[] = {span_str("a"), {"", 0}, span_str("bc")};
    struct span m3[] = {{"", 0}};
    struct span m4[] = {{"", 0}, {"", 0}};
    struct span m5[] = {{big, 255}, {big, 256}, span_str("y")};
    struct span m6[] = {{big, big_len}};
    put_message(b, m1, 1);
    put_message(b, m2, 3);
    put_command(b, "PING", "\x00\x01" "ctx", 5);
    put_message(b, m3, 1);
    put_message(b, m4, 2);
    put_message(b, m5, 3);
    put_command(b, "FOO", NULL, 0);
    put_message(b, m6, 1);
    put_message(b, m1, 1);
    free(big);
}

START_TEST(test_zmtp_decode_events_whole)
{
    struct dec x;
    dec_init(&x, 0, 16);
    put_mixed_stream(&x.in, 300);
    dec_expect_ready(&x, "DEALER", "id-1");

    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    ck_assert_int_eq(x.ev.kind, ZMTP_MESSAGE);
    ck_assert_uint_eq(x.ev.nframes, 1);
    ck_assert_uint_eq(x.ev.size, 5);
    ck_assert(!x.ev.too_many_frames);
    assert_span_eq(x.ev.frames[0], "hello");

    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    ck_assert_uint_eq(x.ev.nframes, 3);
    ck_assert_uint_eq(x.ev.size, 3);
    assert_span_eq(x.ev.frames[0], "a");
    assert_span_eq(x.ev.frames[1], "");
    assert_span_eq(x.ev.frames[2], "bc");

    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    ck_assert_int_eq(x.ev.kind, ZMTP_COMMAND);
    assert_span_eq(x.ev.name, "PING");
    ck_assert_uint_eq(x.ev.data.len, 5);
    ck_assert_mem_eq(x.ev.data.data, "\x00\x01" "ctx", 5);

    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    ck_assert_int_eq(x.ev.kind, ZMTP_MESSAGE);
    ck_assert_uint_eq(x.ev.nframes, 1);
    ck_assert_uint_eq(x.ev.size, 0);
    assert_span_eq(x.ev.frames[0], "");

    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    ck_assert_uint_eq(x.ev.nframes, 2);
    ck_assert_uint_eq(x.ev.size, 0);

    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    ck_assert_uint_eq(x.ev.nframes, 3);
    ck_assert_uint_eq(x.ev.size, 255 + 256 + 1);
    ck_assert_uint_eq(x.ev.frames[0].len, 255);
    ck_assert_uint_eq(x.ev.frames[1].len, 256);
    ck_assert_mem_eq(x.ev.frames[1].data, "abcdefghijklmnopqrstuvwxyzabcd", 30);
    assert_span_eq(x.ev.frames[2], "y");

    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    ck_assert_int_eq(x.ev.kind, ZMTP_COMMAND);
    assert_span_eq(x.ev.name, "FOO");
    ck_assert_uint_eq(x.ev.data.len, 0);

    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    ck_assert_uint_eq(x.ev.nframes, 1);
    ck_assert_uint_eq(x.ev.frames[0].len, 300);

    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    assert_span_eq(x.ev.frames[0], "hello");
    ck_assert_int_eq(dec_next(&x), ZMTP_NEED_MORE);
    dec_free(&x);
}
END_TEST

START_TEST(test_zmtp_decode_any_split_same_events)
{
    struct buf stream = {0}, log = {0};
    put_mixed_stream(&stream, 300);
    assert_same_events_however_fed(&log, stream.data, stream.len, 0, 16, true);
    ck_assert_ptr_nonnull(memmem(log.data, log.len, "READY[6:DEALER][4:id-1]\n", 24));
    size_t lines = 0;
    for (size_t i = 0; i < log.len; i++)
        lines += log.data[i] == '\n';
    ck_assert_uint_eq(lines, 10); /* READY, 7 messages, 2 commands */
    ck_assert_ptr_null(memmem(log.data, log.len, "ERROR", 5));
    buf_free(&log);
    buf_free(&stream);
}
END_TEST

START_TEST(test_zmtp_decode_any_split_with_limits)
{
    /* the same with frames skipped past a size limit and past max_frames */
    struct buf stream = {0}, log = {0};
    put_mixed_stream(&stream, 300);
    assert_same_events_however_fed(&log, stream.data, stream.len, 100, 2, true);
    ck_assert_ptr_nonnull(memmem(log.data, log.len, "MESSAGE 2 frames, 512 bytes, too many[0:][0:]\n", 46));
    ck_assert_ptr_nonnull(memmem(log.data, log.len, "MESSAGE 2 frames, 3 bytes, too many[1:a][0:]\n", 45));
    ck_assert_ptr_nonnull(memmem(log.data, log.len, "MESSAGE 1 frames, 300 bytes[0:]\n", 32));
    buf_free(&log);
    buf_free(&stream);
}
END_TEST

START_TEST(test_zmtp_decode_big_frame_in_pieces)
{
    struct buf stream = {0}, log = {0};
    put_mixed_stream(&stream, 70000);
    assert_same_events_however_fed(&log, stream.data, stream.len, 0, 16, false);
    ck_assert_ptr_nonnull(memmem(log.data, log.len, "MESSAGE 1 frames, 70000 bytes[70000:abcdefghij", 46));
    buf_reset(&log);
    assert_same_events_however_fed(&log, stream.data, stream.len, 65536, 16, false);
    ck_assert_ptr_nonnull(memmem(log.data, log.len, "MESSAGE 1 frames, 70000 bytes[0:]\n", 34));
    buf_free(&log);
    buf_free(&stream);
}
END_TEST

START_TEST(test_zmtp_decode_errors_same_however_fed)
{
    /* an error comes at the same byte, after the same events, in any pieces */
    struct buf stream = {0}, log = {0};
    put_peer_handshake(&stream, NULL);
    struct span m[] = {span_str("ok")};
    put_message(&stream, m, 1);
    put_byte(&stream, 0x01); /* a frame with MORE, */
    put_byte(&stream, 0x01);
    put_byte(&stream, 'x');
    put_command(&stream, "PING", "\x00\x00", 2); /* then a command */
    assert_same_events_however_fed(&log, stream.data, stream.len, 0, 16, true);
    ck_assert_ptr_nonnull(memmem(log.data, log.len, "MESSAGE 1 frames, 2 bytes[2:ok]\nERROR ", 38));
    buf_free(&log);
    buf_free(&stream);
}
END_TEST

/* ---- READY properties ---- */

static enum zmtp_status decode_ready(struct dec *x, const struct buf *props)
{
    dec_init(x, 0, 8);
    put_greeting(&x->in, 3, 0, "NULL");
    put_command(&x->in, "READY", props->data, props->len);
    return dec_next(x);
}

START_TEST(test_zmtp_ready_properties)
{
    struct buf props = {0};
    struct dec x;
    put_prop(&props, "Socket-Type", "REQ", 3);
    put_prop(&props, "Identity", "who\0am-i", 8);
    put_prop(&props, "Resource", "/x", 2); /* unknown ones are skipped */
    ck_assert_int_eq(decode_ready(&x, &props), ZMTP_EVENT);
    ck_assert_int_eq(x.ev.kind, ZMTP_READY);
    assert_span_eq(x.ev.socket_type, "REQ");
    ck_assert_uint_eq(x.ev.identity.len, 8);
    ck_assert_mem_eq(x.ev.identity.data, "who\0am-i", 8);
    dec_free(&x);

    /* property names are case-insensitive; the order does not matter */
    buf_reset(&props);
    put_prop(&props, "X-Empty", "", 0);
    put_prop(&props, "IDENTITY", "me", 2);
    put_prop(&props, "socket-type", "SUB", 3);
    ck_assert_int_eq(decode_ready(&x, &props), ZMTP_EVENT);
    assert_span_eq(x.ev.socket_type, "SUB");
    assert_span_eq(x.ev.identity, "me");
    dec_free(&x);

    /* an empty Identity is no identity */
    buf_reset(&props);
    put_prop(&props, "Socket-Type", "DEALER", 6);
    put_prop(&props, "Identity", "", 0);
    ck_assert_int_eq(decode_ready(&x, &props), ZMTP_EVENT);
    assert_span_eq(x.ev.identity, "");
    dec_free(&x);
    buf_free(&props);
}
END_TEST

START_TEST(test_zmtp_ready_malformed)
{
    static const struct {
        const char *props;
        size_t len;
    } bad[] = {
        {"", 0},                                             /* no Socket-Type */
        {"\x08Identity\x00\x00\x00\x01" "a", 14},            /* no Socket-Type */
        {"\x0bSocket-Type\x00\x00\x00\x00", 16},             /* an empty one */
        {"\x00\x00\x00\x00\x00", 5},                         /* a nameless property */
        {"\x0bSocket", 7},                                   /* the name runs past the end */
        {"\x0bSocket-Type\x00\x00", 14},                     /* the value length too */
        {"\x0bSocket-Type\x00\x00\x00\x09" "DEALER", 22},    /* the value too */
        {"\x0bSocket-Type\xff\xff\xff\xff" "DEALER", 22},    /* by far */
        {"\x0bSocket-Type\x00\x00\x00\x06" "DEALER\x01", 23}, /* a trailing byte */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct buf props = {0};
        put(&props, bad[i].props, bad[i].len);
        struct dec x;
        ck_assert_msg(decode_ready(&x, &props) == ZMTP_ERROR, "READY properties %zu accepted", i);
        assert_error_has(x.error, "READY");
        dec_free(&x);
        buf_free(&props);
    }
}
END_TEST

/* ---- errors ---- */

START_TEST(test_zmtp_error_bad_signature)
{
    struct dec x;
    dec_init(&x, 0, 8);
    put(&x.in, "GET / HTTP/1.0\r\n\r\n", 18);
    assert_error_has(dec_error(&x), "signature");
    dec_free(&x);
    /* turned away at the first byte, without waiting for the rest */
    dec_init(&x, 0, 8);
    put_byte(&x.in, 0x00);
    assert_error_has(dec_error(&x), "signature");
    dec_free(&x);
}
END_TEST

START_TEST(test_zmtp_error_old_versions)
{
    struct dec x;
    dec_init(&x, 0, 8);
    put_greeting(&x.in, 1, 0, "NULL"); /* ZMTP 2.0 sends version byte 1 */
    x.in.len = 11;                       /* noticed at the version byte */
    assert_error_has(dec_error(&x), "2.0");
    dec_free(&x);
    dec_init(&x, 0, 8);
    put_greeting(&x.in, 2, 0, "NULL");
    assert_error_has(dec_error(&x), "version");
    dec_free(&x);
    /* ZMTP 1.0: no 0x7F after the padding */
    dec_init(&x, 0, 8);
    put(&x.in, "\xff\x00\x00\x00\x00\x00\x00\x00\x01\x00", 10);
    ck_assert_int_eq(dec_next(&x), ZMTP_ERROR);
    dec_free(&x);
    /* 3.1 is fine */
    dec_init(&x, 0, 8);
    put_greeting(&x.in, 3, 1, "NULL");
    ck_assert_int_eq(dec_next(&x), ZMTP_NEED_MORE);
    dec_free(&x);
}
END_TEST

START_TEST(test_zmtp_error_mechanism)
{
    static const char *const mechanisms[] = {"PLAIN", "CURVE", "GSSAPI", "null", "NULLX", ""};
    for (size_t i = 0; i < sizeof mechanisms / sizeof mechanisms[0]; i++) {
        struct dec x;
        dec_init(&x, 0, 8);
        put_greeting(&x.in, 3, 0, mechanisms[i]);
        x.in.len = 32; /* noticed before the end of the greeting */
        ck_assert_msg(dec_next(&x) == ZMTP_ERROR, "mechanism %s accepted", mechanisms[i]);
        assert_error_has(x.error, "mechanism");
        dec_free(&x);
    }
}
END_TEST

START_TEST(test_zmtp_error_reserved_flags)
{
    static const unsigned char flags[] = {0x08, 0x10, 0x20, 0x40, 0x80, 0x09, 0xff};
    for (size_t i = 0; i < sizeof flags; i++) {
        struct dec x;
        dec_ready(&x, 0, 8);
        put_byte(&x.in, flags[i]);
        put_byte(&x.in, 1);
        put_byte(&x.in, 'x');
        ck_assert_msg(dec_next(&x) == ZMTP_ERROR, "flags 0x%02x accepted", flags[i]);
        assert_error_has(x.error, "reserved");
        dec_free(&x);
    }
}
END_TEST

START_TEST(test_zmtp_error_command_with_more)
{
    struct dec x;
    dec_ready(&x, 0, 8);
    put(&x.in, "\x05\x05\x04PING", 7);
    assert_error_has(dec_error(&x), "command");
    dec_free(&x);
    /* or after a frame with MORE */
    dec_ready(&x, 0, 8);
    put(&x.in, "\x01\x01" "a", 3);
    put_command(&x.in, "PING", "\0\0", 2);
    assert_error_has(dec_error(&x), "command");
    dec_free(&x);
    /* or after a frame with MORE that was skipped (too many frames) */
    dec_ready(&x, 0, 1);
    put(&x.in, "\x01\x01" "a" "\x01\x01" "b", 6);
    put_command(&x.in, "PING", "\0\0", 2);
    assert_error_has(dec_error(&x), "command");
    dec_free(&x);
}
END_TEST

START_TEST(test_zmtp_error_before_ready)
{
    struct dec x;
    dec_init(&x, 0, 8);
    put_greeting(&x.in, 3, 0, "NULL");
    put(&x.in, "\x00\x01" "a", 3);
    assert_error_has(dec_error(&x), "READY");
    dec_free(&x);
    dec_init(&x, 0, 8);
    put_greeting(&x.in, 3, 0, "NULL");
    put_command(&x.in, "PING", "\0\0", 2);
    assert_error_has(dec_error(&x), "READY");
    dec_free(&x);
}
END_TEST

START_TEST(test_zmtp_error_second_ready)
{
    struct dec x;
    dec_ready(&x, 0, 8);
    put_peer_handshake(&x.in, NULL);
    x.in.off += ZMTP_GREETING_LEN; /* only its READY */
    assert_error_has(dec_error(&x), "second READY");
    dec_free(&x);
}
END_TEST

START_TEST(test_zmtp_error_malformed_command)
{
    struct dec x;
    dec_ready(&x, 0, 8);
    put(&x.in, "\x04\x00", 2); /* no name at all */
    ck_assert_int_eq(dec_next(&x), ZMTP_ERROR);
    dec_free(&x);
    dec_ready(&x, 0, 8);
    put(&x.in, "\x04\x03\x05PI", 5); /* the name is longer than the command */
    ck_assert_int_eq(dec_next(&x), ZMTP_ERROR);
    dec_free(&x);
    dec_ready(&x, 0, 8);
    put(&x.in, "\x04\x01\x00", 3); /* an empty name */
    ck_assert_int_eq(dec_next(&x), ZMTP_ERROR);
    dec_free(&x);
}
END_TEST

START_TEST(test_zmtp_error_oversize_command)
{
    struct dec x;
    dec_ready(&x, 0, 8);
    put_byte(&x.in, 0x06); /* refused from its size alone */
    put_be(&x.in, ZMTP_MAX_COMMAND + 1, 8);
    assert_error_has(dec_error(&x), "too large");
    dec_free(&x);
    dec_ready(&x, 0, 8);
    put_byte(&x.in, 0x06);
    put_be(&x.in, UINT64_MAX, 8);
    ck_assert_int_eq(dec_next(&x), ZMTP_ERROR);
    dec_free(&x);
    /* ZMTP_MAX_COMMAND itself is fine */
    dec_ready(&x, 0, 8);
    char *data = calloc(1, ZMTP_MAX_COMMAND);
    put_command(&x.in, "PING", data, ZMTP_MAX_COMMAND - 5);
    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    ck_assert_int_eq(x.ev.kind, ZMTP_COMMAND);
    ck_assert_uint_eq(x.ev.data.len, ZMTP_MAX_COMMAND - 5);
    free(data);
    dec_free(&x);
}
END_TEST

/* ---- limits ---- */

static void assert_frame(struct span f, char c, size_t len)
{
    ck_assert_uint_eq(f.len, len);
    for (size_t i = 0; i < len; i++)
        ck_assert_int_eq(f.data[i], c);
}

static void put_filled(struct buf *b, const char *fill_and_sizes)
{
    /* "a10 b200 c5": frames of 10 'a', 200 'b', 5 'c' */
    struct span frames[16] = {{0}};
    char *store[16];
    size_t n = 0;
    const char *p = fill_and_sizes;
    while (*p) {
        ck_assert_uint_lt(n, 16);
        char c = *p++;
        size_t len = strtoul(p, (char **)&p, 10);
        store[n] = malloc(len ? len : 1);
        memset(store[n], c, len);
        frames[n] = (struct span){store[n], len};
        n++;
        while (*p == ' ')
            p++;
    }
    put_message(b, frames, n);
    for (size_t i = 0; i < n; i++)
        free(store[i]);
}

START_TEST(test_zmtp_size_limit_skips_frames)
{
    struct dec x;
    dec_ready(&x, 100, 16);
    put_filled(&x.in, "a10 b200 c5");
    put_filled(&x.in, "x50");
    put_filled(&x.in, "y60 z40");
    put_filled(&x.in, "q101");
    put_filled(&x.in, "r0 s100 t0");

    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    ck_assert_uint_eq(x.ev.nframes, 3); /* every frame keeps its place */
    ck_assert_uint_eq(x.ev.size, 215); /* and counts */
    ck_assert(!x.ev.too_many_frames);
    assert_frame(x.ev.frames[0], 'a', 10);
    assert_frame(x.ev.frames[1], 'b', 0); /* the one that crossed the limit */
    assert_frame(x.ev.frames[2], 'c', 0); /* and the ones after it */

    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT); /* the next message is whole again */
    ck_assert_uint_eq(x.ev.size, 50);
    assert_frame(x.ev.frames[0], 'x', 50);

    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT); /* exactly the limit fits */
    ck_assert_uint_eq(x.ev.size, 100);
    assert_frame(x.ev.frames[0], 'y', 60);
    assert_frame(x.ev.frames[1], 'z', 40);

    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    ck_assert_uint_eq(x.ev.size, 101);
    ck_assert_uint_eq(x.ev.nframes, 1);
    assert_frame(x.ev.frames[0], 'q', 0);

    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    ck_assert_uint_eq(x.ev.size, 100);
    ck_assert_uint_eq(x.ev.nframes, 3);
    assert_frame(x.ev.frames[1], 's', 100);
    ck_assert_int_eq(dec_next(&x), ZMTP_NEED_MORE);
    dec_free(&x);
}
END_TEST

START_TEST(test_zmtp_size_limit_huge_frame_not_held)
{
    /* a frame announcing far more than the limit is skipped as it comes */
    struct dec x;
    dec_ready(&x, 100, 16);
    put_byte(&x.in, 0x02);
    put_be(&x.in, (uint64_t)1 << 40, 8);
    char chunk[4096];
    memset(chunk, 'h', sizeof chunk);
    for (int i = 0; i < 64; i++) {
        put(&x.in, chunk, sizeof chunk);
        ck_assert_int_eq(dec_next(&x), ZMTP_NEED_MORE);
    }
    ck_assert_uint_eq(x.d.body.len, 0);
    dec_free(&x);
    /* a size that would overflow the total */
    dec_ready(&x, 100, 16);
    put(&x.in, "\x01\x01" "a", 3);
    put_byte(&x.in, 0x02);
    put_be(&x.in, UINT64_MAX, 8);
    put(&x.in, chunk, sizeof chunk);
    ck_assert_int_eq(dec_next(&x), ZMTP_NEED_MORE);
    ck_assert_uint_le(x.d.body.len, 1);
    dec_free(&x);
}
END_TEST

START_TEST(test_zmtp_max_frames)
{
    struct dec x;
    dec_ready(&x, 0, 3);
    put_filled(&x.in, "a1 b2 c3 d4 e5");
    put_filled(&x.in, "f6");
    put_filled(&x.in, "g1 h1 i1");
    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    ck_assert_uint_eq(x.ev.nframes, 3);
    ck_assert(x.ev.too_many_frames);
    ck_assert_uint_eq(x.ev.size, 15); /* the dropped ones count */
    assert_frame(x.ev.frames[0], 'a', 1);
    assert_frame(x.ev.frames[1], 'b', 2);
    assert_frame(x.ev.frames[2], 'c', 3);
    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    ck_assert_uint_eq(x.ev.nframes, 1);
    ck_assert(!x.ev.too_many_frames);
    assert_frame(x.ev.frames[0], 'f', 6);
    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT); /* exactly max_frames */
    ck_assert_uint_eq(x.ev.nframes, 3);
    ck_assert(!x.ev.too_many_frames);
    dec_free(&x);

    dec_ready(&x, 0, 1);
    put_filled(&x.in, "a1 b1");
    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    ck_assert_uint_eq(x.ev.nframes, 1);
    ck_assert(x.ev.too_many_frames);
    dec_free(&x);

    /* with a size limit too: the kept frames stay as they were */
    dec_ready(&x, 4, 2);
    put_filled(&x.in, "a2 b2 c9 d1");
    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    ck_assert_uint_eq(x.ev.nframes, 2);
    ck_assert(x.ev.too_many_frames);
    ck_assert_uint_eq(x.ev.size, 14);
    assert_frame(x.ev.frames[0], 'a', 2);
    assert_frame(x.ev.frames[1], 'b', 2);
    dec_free(&x);
}
END_TEST

START_TEST(test_zmtp_many_frames_grow)
{
    /* more frames than the first allocation, each one kept */
    struct dec x;
    dec_ready(&x, 0, 1000);
    enum { N = 600 };
    static struct span frames[N];
    static char text[N][8];
    for (int i = 0; i < N; i++) {
        snprintf(text[i], sizeof text[i], "f%d", i);
        frames[i] = span_str(text[i]);
    }
    put_message(&x.in, frames, N);
    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    ck_assert_uint_eq(x.ev.nframes, N);
    for (int i = 0; i < N; i++)
        assert_span_eq(x.ev.frames[i], text[i]);
    dec_free(&x);
}
END_TEST

START_TEST(test_zmtp_zero_length_frames)
{
    struct dec x;
    dec_ready(&x, 0, 8);
    put(&x.in, "\x00\x00", 2);
    put(&x.in, "\x01\x00\x01\x00\x00\x00", 6);
    put(&x.in, "\x03\x00\x00\x00\x00\x00\x00\x00\x00" "\x00\x01z", 12); /* long header, size 0 */
    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    ck_assert_uint_eq(x.ev.nframes, 1);
    ck_assert_uint_eq(x.ev.size, 0);
    ck_assert_uint_eq(x.ev.frames[0].len, 0);
    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    ck_assert_uint_eq(x.ev.nframes, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(x.ev.frames[i].len, 0);
        ck_assert_ptr_nonnull(x.ev.frames[i].data);
    }
    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    ck_assert_uint_eq(x.ev.nframes, 2);
    assert_span_eq(x.ev.frames[0], "");
    assert_span_eq(x.ev.frames[1], "z");
    dec_free(&x);
}
END_TEST

START_TEST(test_zmtp_commands_delivered)
{
    struct dec x;
    dec_ready(&x, 0, 8);
    put_command(&x.in, "PING", "\x00\x64" "context", 9);
    put_command(&x.in, "SUBSCRIBE", "topic", 5);
    put_command(&x.in, "PING", "\x00\x00", 2);
    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    ck_assert_int_eq(x.ev.kind, ZMTP_COMMAND);
    assert_span_eq(x.ev.name, "PING");
    ck_assert_uint_eq(x.ev.data.len, 9);
    ck_assert_mem_eq(x.ev.data.data, "\x00\x64" "context", 9);
    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    ck_assert_int_eq(x.ev.kind, ZMTP_COMMAND);
    assert_span_eq(x.ev.name, "SUBSCRIBE");
    assert_span_eq(x.ev.data, "topic");
    ck_assert_int_eq(dec_next(&x), ZMTP_EVENT);
    ck_assert_uint_eq(x.ev.data.len, 2);
    ck_assert_int_eq(dec_next(&x), ZMTP_NEED_MORE);
    dec_free(&x);
}
END_TEST

Suite *zmtp_suite(void)
{
    Suite *s = suite_create("zmtp");
    TCase *enc = tcase_create("encode");
    tcase_add_test(enc, test_zmtp_greeting_bytes);
    tcase_add_test(enc, test_zmtp_ready_command_bytes);
    tcase_add_test(enc, test_zmtp_own_handshake_decodes);
    tcase_add_test(enc, test_zmtp_short_frame_headers);
    tcase_add_test(enc, test_zmtp_long_frame_headers);
    tcase_add_test(enc, test_zmtp_write_message_and_command);
    suite_add_tcase(s, enc);

    TCase *dec = tcase_create("decode");
    tcase_set_timeout(dec, 30);
    tcase_add_test(dec, test_zmtp_decode_events_whole);
    tcase_add_test(dec, test_zmtp_decode_any_split_same_events);
    tcase_add_test(dec, test_zmtp_decode_any_split_with_limits);
    tcase_add_test(dec, test_zmtp_decode_big_frame_in_pieces);
    tcase_add_test(dec, test_zmtp_decode_errors_same_however_fed);
    tcase_add_test(dec, test_zmtp_ready_properties);
    tcase_add_test(dec, test_zmtp_ready_malformed);
    tcase_add_test(dec, test_zmtp_commands_delivered);
    tcase_add_test(dec, test_zmtp_zero_length_frames);
    suite_add_tcase(s, dec);

    TCase *err = tcase_create("errors");
    tcase_add_test(err, test_zmtp_error_bad_signature);
    tcase_add_test(err, test_zmtp_error_old_versions);
    tcase_add_test(err, test_zmtp_error_mechanism);
    tcase_add_test(err, test_zmtp_error_reserved_flags);
    tcase_add_test(err, test_zmtp_error_command_with_more);
    tcase_add_test(err, test_zmtp_error_before_ready);
    tcase_add_test(err, test_zmtp_error_second_ready);
    tcase_add_test(err, test_zmtp_error_malformed_command);
    tcase_add_test(err, test_zmtp_error_oversize_command);
    suite_add_tcase(s, err);

    TCase *lim = tcase_create("limits");
    tcase_add_test(lim, test_zmtp_size_limit_skips_frames);
    tcase_add_test(lim, test_zmtp_size_limit_huge_frame_not_held);
    tcase_add_test(lim, test_zmtp_max_frames);
    tcase_add_test(lim, test_zmtp_many_frames_grow);
    suite_add_tcase(s, lim);
    return s;
}

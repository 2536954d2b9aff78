/* test_jmsg: Jupyter wire messages over ZMQ (common/jmsg.c): recv, parse/validate, send. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/jmsg.h"
#include "suites.h"

#define KEY "5f1e7d5a-0c4b-4b6e-9b0a-2c3d4e5f6a7b"
#define VALID_HEADER                                                                             \
    "{\"msg_id\":\"11111111-2222-4333-8444-555555555555\",\"msg_type\":\"execute_request\","     \
    "\"username\":\"alice\",\"session\":\"sess-1\",\"date\":\"2026-01-31T12:34:56.123456Z\","    \
    "\"version\":\"5.3\"}"
#define VALID_CONTENT "{\"code\":\"print(1)\",\"silent\":false}"

/* A ROUTER bound on inproc and a DEALER (routing id "peer") connected to it:
 * what the DEALER sends, the ROUTER reads with "peer" as first identity. */
static void *zctx, *router, *dealer;

static void sockets_setup(void)
{
    int linger = 0;
    zctx = zmq_ctx_new();
    ck_assert_ptr_nonnull(zctx);
    router = zmq_socket(zctx, ZMQ_ROUTER);
    dealer = zmq_socket(zctx, ZMQ_DEALER);
    ck_assert_ptr_nonnull(router);
    ck_assert_ptr_nonnull(dealer);
    zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
    ck_assert_int_eq(zmq_setsockopt(dealer, ZMQ_ROUTING_ID, "peer", 4), 0);
    ck_assert_int_eq(zmq_bind(router, "inproc://jmsg-test"), 0);
    ck_assert_int_eq(zmq_connect(dealer, "inproc://jmsg-test"), 0);
}

static void sockets_teardown(void)
{
    zmq_close(dealer);
    zmq_close(router);
    zmq_ctx_term(zctx);
}

static void send_frames(const struct span *frames, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(zmq_send(dealer, frames[i].data, frames[i].len, i + 1 < n ? ZMQ_SNDMORE : 0),
                         (int)frames[i].len);
}

/* Wait (up to 2 s) for a message on `sock` and read it. */
static void recv_msg(void *sock, struct jmsg *m)
{
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    ck_assert_int_eq(zmq_poll(&item, 1, 2000), 1);
    ck_assert_int_eq(jmsg_recv(sock, m, 0), 1);
}

static void sign_hex(const char *key, const struct span json[4], char hex[AUTH_HEX_LEN + 1])
{
    hex[0] = '\0';
    struct signer *s = signer_new(key, strlen(key));
    ck_assert_ptr_nonnull(s);
    if (signer_enabled(s)) {
        unsigned char digest[AUTH_DIGEST_LEN];
        ck_assert_int_eq(signer_digest(s, json, 4, digest), 0);
        signer_hex(digest, hex);
    }
    signer_free(s);
}

/* Send "<IDS|MSG>", the signature of the four parts under `key`, the parts. */
static void send_jupyter(const char *key, const char *h, const char *p, const char *md, const char *c)
{
    struct span f[6] = {span_str(JMSG_DELIMITER), {0}, span_str(h), span_str(p), span_str(md), span_str(c)};
    char hex[AUTH_HEX_LEN + 1];
    sign_hex(key, f + 2, hex);
    f[1] = span_str(hex);
    send_frames(f, 6);
}

/* Send a message signed with KEY and return what jmsg_parse says of it. */
static enum jmsg_error parse_json4(const char *h, const char *p, const char *md, const char *c)
{
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct jmsg m;
    send_jupyter(KEY, h, p, md, c);
    recv_msg(router, &m);
    enum jmsg_error e = jmsg_parse(&m, s, NULL);
    jmsg_close(&m);
    signer_free(s);
    return e;
}

static enum jmsg_error parse_header(const char *h) { return parse_json4(h, "{}", "{}", VALID_CONTENT); }

/* Send raw frames and return what jmsg_parse (key KEY) says of them. */
static enum jmsg_error parse_frames(const struct span *frames, size_t n)
{
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct jmsg m;
    send_frames(frames, n);
    recv_msg(router, &m);
    enum jmsg_error e = jmsg_parse(&m, s, NULL);
    jmsg_close(&m);
    signer_free(s);
    return e;
}

static void assert_span_eq(struct span s, const char *expect)
{
    ck_assert_uint_eq(s.len, strlen(expect));
    ck_assert_int_eq(memcmp(s.data, expect, s.len), 0);
}

/* ---- jmsg_recv and jmsg_parse ---- */

START_TEST(test_jmsg_recv_nothing_waiting)
{
    struct jmsg m;
    ck_assert_int_eq(jmsg_recv(router, &m, 0), 0);
    ck_assert_uint_eq(m.nframes, 0);
}
END_TEST

START_TEST(test_jmsg_parse_valid_signed)
{
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct jmsg m;
    send_jupyter(KEY, VALID_HEADER, "{}", "{\"trusted\":true}", VALID_CONTENT);
    recv_msg(router, &m);
    ck_assert_uint_eq(m.nframes, 7);
    ck_assert_int_eq(jmsg_parse(&m, s, NULL), JMSG_OK);
    ck_assert_str_eq(m.msg_type, "execute_request");
    ck_assert_str_eq(m.msg_id, "11111111-2222-4333-8444-555555555555");
    ck_assert_str_eq(m.session, "sess-1");
    ck_assert_uint_eq(m.nidents, 1);
    assert_span_eq(jmsg_frame(&m, 0), "peer");
    ck_assert_uint_eq(m.sig, 2);
    ck_assert_uint_eq(m.nbuffers, 0);
    assert_span_eq(jmsg_header_raw(&m), VALID_HEADER);
    assert_span_eq(jmsg_metadata_raw(&m), "{\"trusted\":true}");
    assert_span_eq(jmsg_content_raw(&m), VALID_CONTENT);
    ck_assert_str_eq(json_string_value(json_object_get(m.content, "code")), "print(1)");
    ck_assert(json_is_false(json_object_get(m.content, "silent")));
    ck_assert(json_is_true(json_object_get(m.metadata, "trusted")));
    ck_assert_uint_eq(json_object_size(m.parent), 0);
    jmsg_close(&m);
    ck_assert_ptr_null(m.frames);
    signer_free(s);
}
END_TEST

START_TEST(test_jmsg_over_size_limit_drops_buffers_keeps_header)
{
    struct span json[4] = {span_str(VALID_HEADER), span_str("{}"), span_str("{}"), span_str(VALID_CONTENT)};
    char hex[AUTH_HEX_LEN + 1];
    sign_hex(KEY, json, hex);
    static char big[100000];
    memset(big, 'b', sizeof big);
    struct span frames[] = {span_str(JMSG_DELIMITER), span_str(hex), json[0], json[1], json[2], json[3],
                            {big, sizeof big}, span_str("after")};
    send_frames(frames, 8);
    zmq_pollitem_t item = {router, 0, ZMQ_POLLIN, 0};
    ck_assert_int_eq(zmq_poll(&item, 1, 2000), 1);
    struct jmsg m;
    ck_assert_int_eq(jmsg_recv(router, &m, 50000), 1);
    size_t expect = 4 + sizeof JMSG_DELIMITER - 1 + AUTH_HEX_LEN + json[0].len + 2 + 2 + json[3].len +
                    sizeof big + 5;
    ck_assert_uint_eq(m.size, expect);
    ck_assert_uint_eq(m.nframes, 9);                   /* every frame keeps its place */
    ck_assert_uint_eq(zmq_msg_size(&m.frames[7]), 0); /* but not its bytes */
    ck_assert_uint_eq(zmq_msg_size(&m.frames[8]), 0);
    struct signer *s = signer_new(KEY, strlen(KEY));
    ck_assert_int_eq(jmsg_parse(&m, s, NULL), JMSG_TOO_LARGE);
    ck_assert_str_eq(m.msg_type, "execute_request"); /* so the caller can answer it */
    jmsg_close(&m);
    signer_free(s);
}
END_TEST

START_TEST(test_jmsg_parse_identities_and_buffers)
{
    struct span json[4] = {span_str(VALID_HEADER), span_str("{}"), span_str("{}"), span_str(VALID_CONTENT)};
    char hex[AUTH_HEX_LEN + 1];
    sign_hex(KEY, json, hex);
    struct span f[] = {span_str("id-a"),   span_str("id-b"),  span_str(JMSG_DELIMITER),
                       span_str(hex),      json[0],           json[1],
                       json[2],            json[3],           {"\0\1\2", 3},
                       {"", 0},            span_str("third")};
    send_frames(f, sizeof f / sizeof f[0]);
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct jmsg m;
    recv_msg(router, &m);
    ck_assert_int_eq(jmsg_parse(&m, s, NULL), JMSG_OK);
    ck_assert_uint_eq(m.nidents, 3);
    assert_span_eq(jmsg_frame(&m, 0), "peer");
    assert_span_eq(jmsg_frame(&m, 1), "id-a");
    assert_span_eq(jmsg_frame(&m, 2), "id-b");
    ck_assert_uint_eq(m.sig, 4);
    ck_assert_uint_eq(m.nbuffers, 3);
    ck_assert_uint_eq(jmsg_buffer(&m, 0).len, 3);
    ck_assert_int_eq(memcmp(jmsg_buffer(&m, 0).data, "\0\1\2", 3), 0);
    ck_assert_uint_eq(jmsg_buffer(&m, 1).len, 0);
    assert_span_eq(jmsg_buffer(&m, 2), "third");
    jmsg_close(&m);
    signer_free(s);
}
END_TEST

START_TEST(test_jmsg_parse_no_delimiter)
{
    struct span f[] = {span_str("0000"), span_str(VALID_HEADER), span_str("{}"), span_str("{}"),
                       span_str("{}"), span_str("{}")};
    ck_assert_int_eq(parse_frames(f, 6), JMSG_NO_DELIMITER);
    struct span g[] = {span_str("<IDS|MSG>x"), span_str(""), span_str(VALID_HEADER), span_str("{}"),
                       span_str("{}"), span_str("{}")};
    ck_assert_int_eq(parse_frames(g, 6), JMSG_NO_DELIMITER);
}
END_TEST

START_TEST(test_jmsg_parse_truncated)
{
    for (size_t after = 0; after < 5; after++) {
        struct span f[] = {span_str(JMSG_DELIMITER), span_str("sig"), span_str(VALID_HEADER),
                           span_str("{}"), span_str("{}")};
        ck_assert_int_eq(parse_frames(f, 1 + after), JMSG_TRUNCATED);
    }
}
END_TEST

START_TEST(test_jmsg_parse_too_many_frames)
{
    enum { N = JMSG_MAX_FRAMES + 10 };
    static struct span f[N];
    for (size_t i = 0; i < N; i++)
        f[i] = span_str(i == 0 ? JMSG_DELIMITER : "{}");
    ck_assert_int_eq(parse_frames(f, N), JMSG_TOO_MANY_FRAMES);
}
END_TEST

START_TEST(test_jmsg_parse_bad_signature)
{
    struct span json[4] = {span_str(VALID_HEADER), span_str("{}"), span_str("{}"), span_str(VALID_CONTENT)};
    char hex[AUTH_HEX_LEN + 1];
    sign_hex(KEY, json, hex);
    hex[17] = hex[17] == 'a' ? 'b' : 'a';
    struct span f[] = {span_str(JMSG_DELIMITER), span_str(hex), json[0], json[1], json[2], json[3]};
    ck_assert_int_eq(parse_frames(f, 6), JMSG_BAD_SIGNATURE);
}
END_TEST

START_TEST(test_jmsg_parse_signed_with_other_key)
{
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct jmsg m;
    send_jupyter("another key", VALID_HEADER, "{}", "{}", VALID_CONTENT);
    recv_msg(router, &m);
    ck_assert_int_eq(jmsg_parse(&m, s, NULL), JMSG_BAD_SIGNATURE);
    jmsg_close(&m);
    signer_free(s);
}
END_TEST

START_TEST(test_jmsg_parse_tampered_content)
{
    struct span json[4] = {span_str(VALID_HEADER), span_str("{}"), span_str("{}"), span_str(VALID_CONTENT)};
    char hex[AUTH_HEX_LEN + 1];
    sign_hex(KEY, json, hex);
    struct span f[] = {span_str(JMSG_DELIMITER), span_str(hex), json[0], json[1], json[2],
                       span_str("{\"code\":\"import os\",\"silent\":false}")};
    ck_assert_int_eq(parse_frames(f, 6), JMSG_BAD_SIGNATURE);
}
END_TEST

START_TEST(test_jmsg_parse_missing_signature_with_key)
{
    struct span f[] = {span_str(JMSG_DELIMITER), span_str(""), span_str(VALID_HEADER), span_str("{}"),
                       span_str("{}"), span_str(VALID_CONTENT)};
    ck_assert_int_eq(parse_frames(f, 6), JMSG_BAD_SIGNATURE);
}
END_TEST

START_TEST(test_jmsg_parse_replayed)
{
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct replay_guard *g = replay_guard_new(100);
    struct jmsg m;
    send_jupyter(KEY, VALID_HEADER, "{}", "{}", VALID_CONTENT);
    send_jupyter(KEY, VALID_HEADER, "{}", "{}", VALID_CONTENT);
    recv_msg(router, &m);
    ck_assert_int_eq(jmsg_parse(&m, s, g), JMSG_OK);
    jmsg_close(&m);
    recv_msg(router, &m);
    ck_assert_int_eq(jmsg_parse(&m, s, g), JMSG_REPLAYED);
    jmsg_close(&m);
    replay_guard_free(g);
    signer_free(s);
}
END_TEST

START_TEST(test_jmsg_parse_repeated_without_guard)
{
    ck_assert_int_eq(parse_json4(VALID_HEADER, "{}", "{}", VALID_CONTENT), JMSG_OK);
    ck_assert_int_eq(parse_json4(VALID_HEADER, "{}", "{}", VALID_CONTENT), JMSG_OK);
}
END_TEST

START_TEST(test_jmsg_parse_bad_signature_not_recorded)
{
    /* a forged copy must not make the genuine message look like a replay */
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct replay_guard *g = replay_guard_new(100);
    struct jmsg m;
    send_jupyter("forger", VALID_HEADER, "{}", "{}", VALID_CONTENT);
    send_jupyter(KEY, VALID_HEADER, "{}", "{}", VALID_CONTENT);
    recv_msg(router, &m);
    ck_assert_int_eq(jmsg_parse(&m, s, g), JMSG_BAD_SIGNATURE);
    jmsg_close(&m);
    recv_msg(router, &m);
    ck_assert_int_eq(jmsg_parse(&m, s, g), JMSG_OK);
    jmsg_close(&m);
    replay_guard_free(g);
    signer_free(s);
}
END_TEST

/* Each of the four parts in turn replaced by `bad`, the others valid. */
static void assert_each_part_rejected(const char *bad)
{
    const char *good[4] = {VALID_HEADER, "{}", "{}", VALID_CONTENT};
    for (int i = 0; i < 4; i++) {
        const char *p[4] = {good[0], good[1], good[2], good[3]};
        p[i] = bad;
        ck_assert_msg(parse_json4(p[0], p[1], p[2], p[3]) == JMSG_BAD_JSON, "part %d = %s accepted", i,
                      bad);
    }
}

START_TEST(test_jmsg_parse_invalid_json_each_part)
{
    assert_each_part_rejected("{");
    assert_each_part_rejected("{\"a\":}");
    assert_each_part_rejected("{} {}");
    assert_each_part_rejected("");
    assert_each_part_rejected("{'a':1}");
    assert_each_part_rejected("{\"a\":\"\xff\"}"); /* not UTF-8 */
}
END_TEST

START_TEST(test_jmsg_parse_non_object_each_part)
{
    assert_each_part_rejected("[]");
    assert_each_part_rejected("\"x\"");
    assert_each_part_rejected("1");
    assert_each_part_rejected("null");
    assert_each_part_rejected("[{}]");
}
END_TEST

START_TEST(test_jmsg_parse_nul_allowed_only_outside_header)
{
    ck_assert_int_eq(parse_json4(VALID_HEADER, "{}", "{}", "{\"code\":\"a\\u0000b\"}"), JMSG_OK);
    ck_assert_int_eq(parse_header("{\"msg_id\":\"1\",\"msg_type\":\"t\",\"session\":\"s\","
                                  "\"username\":\"a\\u0000b\"}"),
                     JMSG_BAD_JSON);
}
END_TEST

/* `depth` nested objects: {"a":{"a":...{}...}} */
static char *nested(size_t depth)
{
    char *s = malloc(6 * depth + 3);
    char *p = s;
    for (size_t i = 0; i < depth; i++)
        memcpy(p, "{\"a\":", 5), p += 5;
    *p++ = '{';
    *p++ = '}';
    memset(p, '}', depth);
    p[depth] = '\0';
    return s;
}

START_TEST(test_jmsg_parse_deep_nesting_rejected)
{
    char *deep = nested(100000);
    assert_each_part_rejected(deep);
    free(deep);
    char *brackets = malloc(200002);
    memset(brackets, '[', 100000);
    memset(brackets + 100000, ']', 100000);
    brackets[200000] = '\0';
    ck_assert_int_eq(parse_json4(VALID_HEADER, "{}", "{}", brackets), JMSG_BAD_JSON);
    free(brackets);
}
END_TEST

START_TEST(test_jmsg_parse_moderate_nesting_accepted)
{
    char *deep = nested(100);
    ck_assert_int_eq(parse_json4(VALID_HEADER, "{}", "{}", deep), JMSG_OK);
    free(deep);
}
END_TEST

START_TEST(test_jmsg_parse_header_missing_fields)
{
    ck_assert_int_eq(parse_header("{\"msg_type\":\"t\",\"session\":\"s\"}"), JMSG_BAD_HEADER);
    ck_assert_int_eq(parse_header("{\"msg_id\":\"1\",\"session\":\"s\"}"), JMSG_BAD_HEADER);
    ck_assert_int_eq(parse_header("{\"msg_id\":\"1\",\"msg_type\":\"t\"}"), JMSG_BAD_HEADER);
    ck_assert_int_eq(parse_header("{}"), JMSG_BAD_HEADER);
    /* the three alone are enough */
    ck_assert_int_eq(parse_header("{\"msg_id\":\"1\",\"msg_type\":\"t\",\"session\":\"s\"}"), JMSG_OK);
}
END_TEST

START_TEST(test_jmsg_parse_header_wrong_types)
{
    ck_assert_int_eq(parse_header("{\"msg_id\":42,\"msg_type\":\"t\",\"session\":\"s\"}"), JMSG_BAD_HEADER);
    ck_assert_int_eq(parse_header("{\"msg_id\":\"1\",\"msg_type\":[\"t\"],\"session\":\"s\"}"),
                     JMSG_BAD_HEADER);
    ck_assert_int_eq(parse_header("{\"msg_id\":\"1\",\"msg_type\":\"t\",\"session\":null}"), JMSG_BAD_HEADER);
    ck_assert_int_eq(parse_header("{\"msg_id\":\"1\",\"msg_type\":\"t\",\"session\":\"s\",\"username\":7}"),
                     JMSG_BAD_HEADER);
    ck_assert_int_eq(parse_header("{\"msg_id\":\"1\",\"msg_type\":\"t\",\"session\":\"s\",\"version\":5.3}"),
                     JMSG_BAD_HEADER);
    ck_assert_int_eq(parse_header("{\"msg_id\":\"1\",\"msg_type\":\"t\",\"session\":\"s\",\"date\":{}}"),
                     JMSG_BAD_HEADER);
}
END_TEST

static enum jmsg_error parse_with_type(const char *type)
{
    char h[256];
    snprintf(h, sizeof h, "{\"msg_id\":\"1\",\"msg_type\":\"%s\",\"session\":\"s\"}", type);
    return parse_header(h);
}

START_TEST(test_jmsg_parse_header_bad_msg_type)
{
    char t64[65], t65[66];
    memset(t64, 'a', 64);
    t64[64] = '\0';
    memset(t65, 'a', 65);
    t65[65] = '\0';
    ck_assert_int_eq(parse_with_type("a b"), JMSG_BAD_HEADER);
    ck_assert_int_eq(parse_with_type(t65), JMSG_BAD_HEADER);
    ck_assert_int_eq(parse_with_type(""), JMSG_BAD_HEADER);
    ck_assert_int_eq(parse_with_type("kernel-info"), JMSG_BAD_HEADER);
    ck_assert_int_eq(parse_with_type("caf\\u00e9"), JMSG_BAD_HEADER);
    ck_assert_int_eq(parse_with_type(t64), JMSG_OK);
    ck_assert_int_eq(parse_with_type("comm_open_2"), JMSG_OK);
}
END_TEST

START_TEST(test_jmsg_parse_header_session_length)
{
    char h[600], session[258];
    memset(session, 's', 257);
    session[257] = '\0';
    snprintf(h, sizeof h, "{\"msg_id\":\"1\",\"msg_type\":\"t\",\"session\":\"%s\"}", session);
    ck_assert_int_eq(parse_header(h), JMSG_BAD_HEADER);
    session[256] = '\0';
    snprintf(h, sizeof h, "{\"msg_id\":\"1\",\"msg_type\":\"t\",\"session\":\"%s\"}", session);
    ck_assert_int_eq(parse_header(h), JMSG_OK);
}
END_TEST

START_TEST(test_jmsg_parse_unsigned_with_empty_key)
{
    struct signer *s = signer_new("", 0);
    struct jmsg m;
    send_jupyter("", VALID_HEADER, "{}", "{}", VALID_CONTENT);
    recv_msg(router, &m);
    assert_span_eq(jmsg_frame(&m, 2), "");
    ck_assert_int_eq(jmsg_parse(&m, s, NULL), JMSG_OK);
    ck_assert_str_eq(m.msg_type, "execute_request");
    jmsg_close(&m);
    /* with no key the signature frame is not looked at */
    struct span f[] = {span_str(JMSG_DELIMITER), span_str("not a signature"), span_str(VALID_HEADER),
                       span_str("{}"), span_str("{}"), span_str("{}")};
    send_frames(f, 6);
    recv_msg(router, &m);
    ck_assert_int_eq(jmsg_parse(&m, s, NULL), JMSG_OK);
    jmsg_close(&m);
    signer_free(s);
}
END_TEST

START_TEST(test_jmsg_valid_type)
{
    ck_assert(jmsg_valid_type(span_str("execute_request")));
    ck_assert(jmsg_valid_type(span_str("A9_z")));
    ck_assert(!jmsg_valid_type(span_str("")));
    ck_assert(!jmsg_valid_type(span_str("a b")));
    ck_assert(!jmsg_valid_type(span_str("a.b")));
    ck_assert(!jmsg_valid_type((struct span){"ab\0", 3}));
    char t[65];
    memset(t, 'x', sizeof t);
    ck_assert(jmsg_valid_type((struct span){t, 64}));
    ck_assert(!jmsg_valid_type((struct span){t, 65}));
}
END_TEST

START_TEST(test_jmsg_error_str_distinct)
{
    ck_assert_str_eq(jmsg_error_str(JMSG_OK), "ok");
    ck_assert_str_eq(jmsg_error_str(JMSG_REPLAYED), "replayed signature");
    ck_assert_str_eq(jmsg_error_str((enum jmsg_error)99), "unknown error");
    for (int a = JMSG_OK; a <= JMSG_BAD_HEADER; a++)
        for (int b = a + 1; b <= JMSG_BAD_HEADER; b++)
            ck_assert_str_ne(jmsg_error_str((enum jmsg_error)a), jmsg_error_str((enum jmsg_error)b));
}
END_TEST

/* ---- jmsg_send ---- */

static void assert_uuid4(const char *s)
{
    ck_assert_uint_eq(strlen(s), JMSG_ID_LEN);
    for (int i = 0; i < JMSG_ID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            ck_assert_int_eq(s[i], '-');
        else
            ck_assert_msg(strchr("0123456789abcdef", s[i]) && s[i], "bad uuid %s", s);
    }
    ck_assert_int_eq(s[14], '4');
    ck_assert_ptr_nonnull(strchr("89ab", s[19]));
}

/* "YYYY-MM-DDTHH:MM:SS.ffffffZ", within a few seconds of now. */
static void assert_iso_now(const char *date)
{
    ck_assert_uint_eq(strlen(date), 27);
    ck_assert_int_eq(date[4], '-');
    ck_assert_int_eq(date[10], 'T');
    ck_assert_int_eq(date[19], '.');
    for (int i = 20; i < 26; i++)
        ck_assert_msg(date[i] >= '0' && date[i] <= '9', "bad fraction in %s", date);
    ck_assert_int_eq(date[26], 'Z');
    struct tm tm = {0};
    ck_assert_int_eq(sscanf(date, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                            &tm.tm_hour, &tm.tm_min, &tm.tm_sec),
                     6);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    long long diff = (long long)(timegm(&tm) - time(NULL));
    ck_assert_msg(diff >= -5 && diff <= 5, "date %s is %lld s from now", date, diff);
}

START_TEST(test_jmsg_send_frames)
{
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct jmsg_origin origin;
    ck_assert_int_eq(jmsg_origin_init(&origin, "alice"), 0);
    struct span idents[] = {span_str("route-1"), span_str("route-2")};
    struct span buffers[] = {span_str("buf-A"), {"\0\xff", 2}};
    struct jmsg_out out = {
        .idents = idents, .nidents = 2, .msg_type = "execute_reply",
        .parent = span_str(VALID_HEADER), .metadata = span_str("{\"started\":\"x\"}"),
        .content = span_str("{\"status\":\"ok\",\"execution_count\":3}"),
        .buffers = buffers, .nbuffers = 2,
    };
    char msg_id[JMSG_ID_LEN + 1] = "";
    ck_assert_int_eq(jmsg_send(dealer, s, &origin, &out, msg_id), 0);

    struct jmsg m;
    recv_msg(router, &m);
    ck_assert_uint_eq(m.nframes, 11);
    assert_span_eq(jmsg_frame(&m, 0), "peer");
    assert_span_eq(jmsg_frame(&m, 1), "route-1");
    assert_span_eq(jmsg_frame(&m, 2), "route-2");
    assert_span_eq(jmsg_frame(&m, 3), JMSG_DELIMITER);
    struct span sig = jmsg_frame(&m, 4);
    ck_assert_uint_eq(sig.len, AUTH_HEX_LEN);
    for (size_t i = 0; i < sig.len; i++)
        ck_assert_ptr_nonnull(memchr("0123456789abcdef", sig.data[i], 16));
    struct span parts[4] = {jmsg_frame(&m, 5), jmsg_frame(&m, 6), jmsg_frame(&m, 7), jmsg_frame(&m, 8)};
    unsigned char digest[AUTH_DIGEST_LEN];
    ck_assert(signer_verify(s, sig, parts, 4, digest));
    assert_span_eq(parts[1], VALID_HEADER);
    assert_span_eq(parts[2], "{\"started\":\"x\"}");
    assert_span_eq(parts[3], "{\"status\":\"ok\",\"execution_count\":3}");
    assert_span_eq(jmsg_frame(&m, 9), "buf-A");
    ck_assert_uint_eq(jmsg_frame(&m, 10).len, 2);
    ck_assert_int_eq(memcmp(jmsg_frame(&m, 10).data, "\0\xff", 2), 0);

    ck_assert_int_eq(jmsg_parse(&m, s, NULL), JMSG_OK);
    ck_assert_uint_eq(m.nidents, 3);
    ck_assert_uint_eq(m.nbuffers, 2);
    ck_assert_str_eq(m.msg_type, "execute_reply");
    ck_assert_str_eq(m.msg_id, msg_id);
    assert_uuid4(m.msg_id);
    ck_assert_str_eq(m.session, origin.session);
    assert_uuid4(m.session);
    ck_assert_str_eq(json_string_value(json_object_get(m.header, "username")), "alice");
    ck_assert_str_eq(json_string_value(json_object_get(m.header, "version")), "5.3");
    assert_iso_now(json_string_value(json_object_get(m.header, "date")));
    ck_assert_str_eq(json_string_value(json_object_get(m.parent, "msg_id")),
                     "11111111-2222-4333-8444-555555555555");
    jmsg_close(&m);
    jmsg_origin_free(&origin);
    ck_assert_ptr_null(origin.username_json);
    signer_free(s);
}
END_TEST

START_TEST(test_jmsg_send_refuses_bad_msg_type)
{
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct jmsg_origin origin;
    jmsg_origin_init(&origin, "bob");
    struct jmsg_out out = {.msg_type = "status\",\"x\":\""};
    errno = 0;
    ck_assert_int_eq(jmsg_send(dealer, s, &origin, &out, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    jmsg_origin_free(&origin);
    signer_free(s);
}
END_TEST

START_TEST(test_jmsg_send_empty_spans_become_empty_objects)
{
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct jmsg_origin origin;
    jmsg_origin_init(&origin, "bob");
    struct jmsg_out out = {.msg_type = "status"};
    ck_assert_int_eq(jmsg_send(dealer, s, &origin, &out, NULL), 0);
    struct jmsg m;
    recv_msg(router, &m);
    ck_assert_uint_eq(m.nframes, 7);
    assert_span_eq(jmsg_frame(&m, 1), JMSG_DELIMITER);
    assert_span_eq(jmsg_frame(&m, 4), "{}");
    assert_span_eq(jmsg_frame(&m, 5), "{}");
    assert_span_eq(jmsg_frame(&m, 6), "{}");
    ck_assert_int_eq(jmsg_parse(&m, s, NULL), JMSG_OK);
    ck_assert_uint_eq(m.nidents, 1);
    ck_assert_uint_eq(m.nbuffers, 0);
    ck_assert_str_eq(m.msg_type, "status");
    jmsg_close(&m);
    jmsg_origin_free(&origin);
    signer_free(s);
}
END_TEST

START_TEST(test_jmsg_send_unsigned_with_empty_key)
{
    struct signer *s = signer_new("", 0);
    struct jmsg_origin origin;
    jmsg_origin_init(&origin, "bob");
    struct jmsg_out out = {.msg_type = "status", .content = span_str("{\"execution_state\":\"idle\"}")};
    ck_assert_int_eq(jmsg_send(dealer, s, &origin, &out, NULL), 0);
    struct jmsg m;
    recv_msg(router, &m);
    ck_assert_uint_eq(m.nframes, 7);
    assert_span_eq(jmsg_frame(&m, 2), "");
    ck_assert_int_eq(jmsg_parse(&m, s, NULL), JMSG_OK);
    ck_assert_str_eq(json_string_value(json_object_get(m.content, "execution_state")), "idle");
    jmsg_close(&m);
    jmsg_origin_free(&origin);
    signer_free(s);
}
END_TEST

START_TEST(test_jmsg_send_ids_are_fresh)
{
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct jmsg_origin origin;
    jmsg_origin_init(&origin, NULL);
    struct jmsg_out out = {.msg_type = "status"};
    char a[JMSG_ID_LEN + 1], b[JMSG_ID_LEN + 1];
    ck_assert_int_eq(jmsg_send(dealer, s, &origin, &out, a), 0);
    ck_assert_int_eq(jmsg_send(dealer, s, &origin, &out, b), 0);
    ck_assert_str_ne(a, b);
    struct jmsg m;
    recv_msg(router, &m);
    ck_assert_int_eq(jmsg_parse(&m, s, NULL), JMSG_OK);
    ck_assert_str_eq(m.msg_id, a);
    ck_assert_str_eq(json_string_value(json_object_get(m.header, "username")), "kernel");
    jmsg_close(&m);
    recv_msg(router, &m);
    ck_assert_int_eq(jmsg_parse(&m, s, NULL), JMSG_OK);
    ck_assert_str_eq(m.msg_id, b);
    jmsg_close(&m);
    jmsg_origin_free(&origin);
    signer_free(s);
}
END_TEST

START_TEST(test_jmsg_origin_username_escaped)
{
    struct jmsg_origin origin;
    ck_assert_int_eq(jmsg_origin_init(&origin, "a\"b\\c"), 0);
    ck_assert_str_eq(origin.username_json, "\"a\\\"b\\\\c\"");
    assert_uuid4(origin.session);
    jmsg_origin_free(&origin);
    ck_assert_int_eq(jmsg_origin_init(&origin, "bad\xff"), 0);
    ck_assert_str_eq(origin.username_json, "\"kernel\"");
    jmsg_origin_free(&origin);
    ck_assert_int_eq(jmsg_origin_init(&origin, ""), 0);
    ck_assert_str_eq(origin.username_json, "\"kernel\"");
    jmsg_origin_free(&origin);
}
END_TEST

START_TEST(test_jmsg_send_header_too_long_fails)
{
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct jmsg_origin origin;
    char name[600];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    jmsg_origin_init(&origin, name);
    struct jmsg_out out = {.msg_type = "status"};
    errno = 0;
    ck_assert_int_eq(jmsg_send(dealer, s, &origin, &out, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    struct jmsg m;
    ck_assert_int_eq(zmq_poll(&(zmq_pollitem_t){router, 0, ZMQ_POLLIN, 0}, 1, 100), 0);
    ck_assert_int_eq(jmsg_recv(router, &m, 0), 0); /* nothing went out */
    jmsg_origin_free(&origin);
    signer_free(s);
}
END_TEST

START_TEST(test_jmsg_new_id_and_iso_now)
{
    char a[JMSG_ID_LEN + 1], b[JMSG_ID_LEN + 1], date[64];
    jmsg_new_id(a);
    jmsg_new_id(b);
    assert_uuid4(a);
    assert_uuid4(b);
    ck_assert_str_ne(a, b);
    jmsg_iso_now(date);
    assert_iso_now(date);
}
END_TEST

Suite *jmsg_suite(void)
{
    Suite *s = suite_create("jmsg");
    TCase *tc = tcase_create("parse");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, sockets_setup, sockets_teardown);
    tcase_add_test(tc, test_jmsg_recv_nothing_waiting);
    tcase_add_test(tc, test_jmsg_parse_valid_signed);
    tcase_add_test(tc, test_jmsg_parse_identities_and_buffers);
    tcase_add_test(tc, test_jmsg_parse_no_delimiter);
    tcase_add_test(tc, test_jmsg_parse_truncated);
    tcase_add_test(tc, test_jmsg_parse_too_many_frames);
    tcase_add_test(tc, test_jmsg_parse_bad_signature);
    tcase_add_test(tc, test_jmsg_parse_signed_with_other_key);
    tcase_add_test(tc, test_jmsg_parse_tampered_content);
    tcase_add_test(tc, test_jmsg_parse_missing_signature_with_key);
    tcase_add_test(tc, test_jmsg_parse_replayed);
    tcase_add_test(tc, test_jmsg_parse_repeated_without_guard);
    tcase_add_test(tc, test_jmsg_parse_bad_signature_not_recorded);
    tcase_add_test(tc, test_jmsg_parse_invalid_json_each_part);
    tcase_add_test(tc, test_jmsg_parse_non_object_each_part);
    tcase_add_test(tc, test_jmsg_parse_nul_allowed_only_outside_header);
    tcase_add_test(tc, test_jmsg_parse_deep_nesting_rejected);
    tcase_add_test(tc, test_jmsg_parse_moderate_nesting_accepted);
    tcase_add_test(tc, test_jmsg_parse_header_missing_fields);
    tcase_add_test(tc, test_jmsg_parse_header_wrong_types);
    tcase_add_test(tc, test_jmsg_parse_header_bad_msg_type);
    tcase_add_test(tc, test_jmsg_parse_header_session_length);
    tcase_add_test(tc, test_jmsg_parse_unsigned_with_empty_key);
    tcase_add_test(tc, test_jmsg_valid_type);
    tcase_add_test(tc, test_jmsg_error_str_distinct);
    suite_add_tcase(s, tc);

    TCase *tsend = tcase_create("send");
    tcase_add_checked_fixture(tsend, sockets_setup, sockets_teardown);
    tcase_add_test(tsend, test_jmsg_send_frames);
    tcase_add_test(tsend, test_jmsg_send_empty_spans_become_empty_objects);
    tcase_add_test(tsend, test_jmsg_send_refuses_bad_msg_type);
    tcase_add_test(tsend, test_jmsg_over_size_limit_drops_buffers_keeps_header);
    tcase_add_test(tsend, test_jmsg_send_unsigned_with_empty_key);
    tcase_add_test(tsend, test_jmsg_send_ids_are_fresh);
    tcase_add_test(tsend, test_jmsg_origin_username_escaped);
    tcase_add_test(tsend, test_jmsg_send_header_too_long_fails);
    tcase_add_test(tsend, test_jmsg_new_id_and_iso_now);
    suite_add_tcase(s, tsend);
    return s;
}

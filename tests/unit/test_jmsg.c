/* test_jmsg: Jupyter wire messages (common/jmsg.c): load, parse/validate,
 * build; and both ways over a zsock ROUTER with a libzmq DEALER. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/jmsg.h"
#include "suites.h"

#define KEY "5f1e7d5a-0c4b-4b6e-9b0a-2c3d4e5f6a7b"
#define VALID_HEADER                                                                             \
    "{\"msg_id\":\"11111111-2222-4333-8444-555555555555\",\"msg_type\":\"execute_request\","     \
    "\"username\":\"alice\",\"session\":\"sess-1\",\"date\":\"2026-01-31T12:34:56.123456Z\","    \
    "\"version\":\"5.3\"}"
#define VALID_CONTENT "{\"code\":\"print(1)\",\"silent\":false}"

/* A received message as a ROUTER hands it over: the peer's identity
 * ("peer") first, then the frames the peer sent; size counts those. */
#define MAX_TEST_FRAMES (JMSG_MAX_FRAMES + 16)
static struct span received[MAX_TEST_FRAMES];

static void load_received(struct jmsg *m, const struct span *frames, size_t n, size_t size_limit)
{
    ck_assert_uint_le(n + 1, MAX_TEST_FRAMES);
    received[0] = span_str("peer");
    size_t size = 0;
    for (size_t i = 0; i < n; i++) {
        received[i + 1] = frames[i];
        size += frames[i].len;
    }
    jmsg_load(m, received, n + 1, size, size_limit, false);
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

/* "<IDS|MSG>", the signature of the four parts under `key`, the parts. */
static void jupyter_frames(struct span f[6], char hex[AUTH_HEX_LEN + 1], const char *key, const char *h,
                           const char *p, const char *md, const char *c)
{
    f[0] = span_str(JMSG_DELIMITER);
    f[2] = span_str(h);
    f[3] = span_str(p);
    f[4] = span_str(md);
    f[5] = span_str(c);
    sign_hex(key, f + 2, hex);
    f[1] = span_str(hex);
}

/* A message signed with `key` as received, checked with KEY and `guard`. */
static enum jmsg_error parse_signed(const char *key, struct replay_guard *guard, const char *h, const char *p,
                                    const char *md, const char *c)
{
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct span f[6];
    char hex[AUTH_HEX_LEN + 1];
    struct jmsg m;
    jupyter_frames(f, hex, key, h, p, md, c);
    load_received(&m, f, 6, 0);
    enum jmsg_error e = jmsg_parse(&m, s, guard);
    jmsg_close(&m);
    signer_free(s);
    return e;
}

/* A message signed with KEY: what jmsg_parse says of it. */
static enum jmsg_error parse_json4(const char *h, const char *p, const char *md, const char *c)
{
    return parse_signed(KEY, NULL, h, p, md, c);
}

static enum jmsg_error parse_header(const char *h) { return parse_json4(h, "{}", "{}", VALID_CONTENT); }

/* Raw frames as received: what jmsg_parse (key KEY) says of them. */
static enum jmsg_error parse_frames(const struct span *frames, size_t n)
{
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct jmsg m;
    load_received(&m, frames, n, 0);
    enum jmsg_error e = jmsg_parse(&m, s, NULL);
    jmsg_close(&m);
    signer_free(s);
    return e;
}

static void assert_span_eq(struct span s, const char *expect)
{
    ck_assert_uint_eq(s.len, strlen(expect));
    if (s.len)
        ck_assert_int_eq(memcmp(s.data, expect, s.len), 0);
}

/* ---- jmsg_load and jmsg_parse ---- */

START_TEST(test_jmsg_load_takes_frames)
{
    struct span f[] = {span_str("a"), span_str("bc")};
    struct jmsg m;
    memset(&m, 0xa5, sizeof m); /* every field is set */
    jmsg_load(&m, f, 2, 3, 100, false);
    ck_assert_ptr_eq(m.frames, f); /* borrowed, not copied */
    ck_assert_uint_eq(m.nframes, 2);
    ck_assert_uint_eq(m.size, 3);
    ck_assert_uint_eq(m.size_limit, 100);
    ck_assert(!m.too_many_frames);
    ck_assert_ptr_null(m.header);
    ck_assert_ptr_null(m.content);
    ck_assert_ptr_null(m.msg_type);
    assert_span_eq(jmsg_frame(&m, 1), "bc");
    jmsg_load(&m, f, 2, 3, 0, true);
    ck_assert(m.too_many_frames);
    ck_assert_int_eq(jmsg_parse(&m, NULL, NULL), JMSG_TOO_MANY_FRAMES);
    jmsg_close(&m);
    /* nothing at all */
    jmsg_load(&m, NULL, 0, 0, 0, false);
    ck_assert_int_eq(jmsg_parse(&m, NULL, NULL), JMSG_NO_DELIMITER);
    jmsg_close(&m);
    ck_assert_ptr_null(m.frames);
}
END_TEST

START_TEST(test_jmsg_parse_valid_signed)
{
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct span f[6];
    char hex[AUTH_HEX_LEN + 1];
    struct jmsg m;
    jupyter_frames(f, hex, KEY, VALID_HEADER, "{}", "{\"trusted\":true}", VALID_CONTENT);
    load_received(&m, f, 6, 0);
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
    ck_assert_ptr_null(m.header);
    signer_free(s);
}
END_TEST

/* As a transport with a size limit delivers a message: frames that took
 * the total past the limit are empty, size counts them all. */
static void load_limited(struct jmsg *m, struct span *frames, size_t n, size_t limit)
{
    size_t size = 0;
    for (size_t i = 0; i < n; i++) {
        size += frames[i].len;
        if (size > limit)
            frames[i] = (struct span){"", 0};
    }
    jmsg_load(m, frames, n, size, limit, false);
}

START_TEST(test_jmsg_over_size_limit_drops_buffers_keeps_header)
{
    struct span json[4] = {span_str(VALID_HEADER), span_str("{}"), span_str("{}"), span_str(VALID_CONTENT)};
    char hex[AUTH_HEX_LEN + 1];
    sign_hex(KEY, json, hex);
    static char big[100000];
    memset(big, 'b', sizeof big);
    struct span frames[] = {span_str("peer"), span_str(JMSG_DELIMITER), span_str(hex), json[0], json[1], json[2],
                            json[3], {big, sizeof big}, span_str("after")};
    struct jmsg m;
    load_limited(&m, frames, 9, 50000);
    size_t expect = 4 + sizeof JMSG_DELIMITER - 1 + AUTH_HEX_LEN + json[0].len + 2 + 2 + json[3].len +
                    sizeof big + 5;
    ck_assert_uint_eq(m.size, expect);
    ck_assert_uint_eq(m.nframes, 9);            /* every frame keeps its place */
    ck_assert_uint_eq(jmsg_frame(&m, 7).len, 0); /* but not its bytes */
    ck_assert_uint_eq(jmsg_frame(&m, 8).len, 0);
    struct signer *s = signer_new(KEY, strlen(KEY));
    ck_assert_int_eq(jmsg_parse(&m, s, NULL), JMSG_TOO_LARGE);
    ck_assert_str_eq(m.msg_type, "execute_request"); /* so the caller can answer it */
    ck_assert_uint_eq(m.nbuffers, 2);
    jmsg_close(&m);
    signer_free(s);
}
END_TEST

START_TEST(test_jmsg_over_size_limit_without_json)
{
    /* when the JSON parts themselves were dropped there is nothing to
     * answer: unsigned, too large (no header); signed, the signature no
     * longer matches */
    struct span json[4] = {span_str(VALID_HEADER), span_str("{}"), span_str("{}"), span_str(VALID_CONTENT)};
    struct signer *none = signer_new("", 0), *s = signer_new(KEY, strlen(KEY));
    struct span f[] = {span_str(JMSG_DELIMITER), span_str(""), json[0], json[1], json[2], json[3]};
    struct jmsg m;
    load_limited(&m, f, 6, 20);
    ck_assert_int_eq(jmsg_parse(&m, none, NULL), JMSG_TOO_LARGE);
    ck_assert_ptr_null(m.header);
    jmsg_close(&m);

    char hex[AUTH_HEX_LEN + 1];
    sign_hex(KEY, json, hex);
    struct span g[] = {span_str(JMSG_DELIMITER), span_str(hex), json[0], json[1], json[2], json[3]};
    load_limited(&m, g, 6, 100);
    ck_assert_int_eq(jmsg_parse(&m, s, NULL), JMSG_BAD_SIGNATURE);
    jmsg_close(&m);
    /* at the limit exactly, nothing is dropped */
    struct span h[] = {span_str(JMSG_DELIMITER), span_str(hex), json[0], json[1], json[2], json[3]};
    size_t total = 0;
    for (int i = 0; i < 6; i++)
        total += h[i].len;
    load_limited(&m, h, 6, total);
    ck_assert_int_eq(jmsg_parse(&m, s, NULL), JMSG_OK);
    jmsg_close(&m);
    signer_free(none);
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
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct jmsg m;
    load_received(&m, f, sizeof f / sizeof f[0], 0);
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
    /* JMSG_MAX_FRAMES in all is fine (as far as the count goes) */
    struct jmsg m;
    jmsg_load(&m, f, JMSG_MAX_FRAMES, 0, 0, false);
    ck_assert(!m.too_many_frames);
    jmsg_load(&m, f, JMSG_MAX_FRAMES + 1, 0, 0, false);
    ck_assert(m.too_many_frames);
    /* the transport's word counts too */
    struct span g[6];
    char hex[AUTH_HEX_LEN + 1];
    struct signer *s = signer_new(KEY, strlen(KEY));
    jupyter_frames(g, hex, KEY, VALID_HEADER, "{}", "{}", VALID_CONTENT);
    jmsg_load(&m, g, 6, 0, 0, true);
    ck_assert_int_eq(jmsg_parse(&m, s, NULL), JMSG_TOO_MANY_FRAMES);
    jmsg_close(&m);
    signer_free(s);
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
    ck_assert_int_eq(parse_signed("another key", NULL, VALID_HEADER, "{}", "{}", VALID_CONTENT),
                     JMSG_BAD_SIGNATURE);
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
    struct replay_guard *g = replay_guard_new(100);
    ck_assert_int_eq(parse_signed(KEY, g, VALID_HEADER, "{}", "{}", VALID_CONTENT), JMSG_OK);
    ck_assert_int_eq(parse_signed(KEY, g, VALID_HEADER, "{}", "{}", VALID_CONTENT), JMSG_REPLAYED);
    replay_guard_free(g);
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
    struct replay_guard *g = replay_guard_new(100);
    ck_assert_int_eq(parse_signed("forger", g, VALID_HEADER, "{}", "{}", VALID_CONTENT), JMSG_BAD_SIGNATURE);
    ck_assert_int_eq(parse_signed(KEY, g, VALID_HEADER, "{}", "{}", VALID_CONTENT), JMSG_OK);
    replay_guard_free(g);
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
    struct span f[6];
    char hex[AUTH_HEX_LEN + 1];
    struct jmsg m;
    jupyter_frames(f, hex, "", VALID_HEADER, "{}", "{}", VALID_CONTENT);
    load_received(&m, f, 6, 0);
    assert_span_eq(jmsg_frame(&m, 2), "");
    ck_assert_int_eq(jmsg_parse(&m, s, NULL), JMSG_OK);
    ck_assert_str_eq(m.msg_type, "execute_request");
    jmsg_close(&m);
    /* with no key the signature frame is not looked at */
    struct span g[] = {span_str(JMSG_DELIMITER), span_str("not a signature"), span_str(VALID_HEADER),
                       span_str("{}"), span_str("{}"), span_str("{}")};
    load_received(&m, g, 6, 0);
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
    for (int a = JMSG_OK; a <= JMSG_TOO_LARGE; a++)
        for (int b = a + 1; b <= JMSG_TOO_LARGE; b++)
            ck_assert_str_ne(jmsg_error_str((enum jmsg_error)a), jmsg_error_str((enum jmsg_error)b));
}
END_TEST

/* ---- jmsg_build and jmsg_send ---- */

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

static void load_wire(struct jmsg *m, const struct jmsg_wire *w)
{
    size_t size = 0;
    for (size_t i = 0; i < w->nframes; i++)
        size += w->frames[i].len;
    jmsg_load(m, w->frames, w->nframes, size, 0, false);
}

/* The frames of the reply test_jmsg_build_frames and test_jmsg_send_frames
 * make: routed by route-1 and route-2, with two buffers. */
static struct jmsg_out reply_out(void)
{
    static struct span idents[] = {{"route-1", 7}, {"route-2", 7}};
    static struct span buffers[] = {{"buf-A", 5}, {"\0\xff", 2}};
    return (struct jmsg_out){
        .idents = idents, .nidents = 2, .msg_type = "execute_reply",
        .parent = span_str(VALID_HEADER), .metadata = span_str("{\"started\":\"x\"}"),
        .content = span_str("{\"status\":\"ok\",\"execution_count\":3}"),
        .buffers = buffers, .nbuffers = 2,
    };
}

static void assert_reply_frames(const struct span *f, size_t n, struct signer *s,
                                const struct jmsg_origin *origin, const char *msg_id)
{
    ck_assert_uint_eq(n, 10);
    assert_span_eq(f[0], "route-1");
    assert_span_eq(f[1], "route-2");
    assert_span_eq(f[2], JMSG_DELIMITER);
    struct span sig = f[3];
    ck_assert_uint_eq(sig.len, AUTH_HEX_LEN);
    for (size_t i = 0; i < sig.len; i++)
        ck_assert_ptr_nonnull(memchr("0123456789abcdef", sig.data[i], 16));
    unsigned char digest[AUTH_DIGEST_LEN];
    ck_assert(signer_verify(s, sig, f + 4, 4, digest));
    assert_span_eq(f[5], VALID_HEADER);
    assert_span_eq(f[6], "{\"started\":\"x\"}");
    assert_span_eq(f[7], "{\"status\":\"ok\",\"execution_count\":3}");
    assert_span_eq(f[8], "buf-A");
    ck_assert_uint_eq(f[9].len, 2);
    ck_assert_int_eq(memcmp(f[9].data, "\0\xff", 2), 0);

    struct jmsg m;
    size_t size = 0;
    for (size_t i = 0; i < n; i++)
        size += f[i].len;
    jmsg_load(&m, f, n, size, 0, false);
    ck_assert_int_eq(jmsg_parse(&m, s, NULL), JMSG_OK);
    ck_assert_uint_eq(m.nidents, 2);
    ck_assert_uint_eq(m.nbuffers, 2);
    ck_assert_str_eq(m.msg_type, "execute_reply");
    ck_assert_str_eq(m.msg_id, msg_id);
    assert_uuid4(m.msg_id);
    ck_assert_str_eq(m.session, origin->session);
    assert_uuid4(m.session);
    ck_assert_str_eq(json_string_value(json_object_get(m.header, "username")), "alice");
    ck_assert_str_eq(json_string_value(json_object_get(m.header, "version")), "5.3");
    assert_iso_now(json_string_value(json_object_get(m.header, "date")));
    ck_assert_str_eq(json_string_value(json_object_get(m.parent, "msg_id")),
                     "11111111-2222-4333-8444-555555555555");
    jmsg_close(&m);
}

START_TEST(test_jmsg_build_frames)
{
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct jmsg_origin origin;
    ck_assert_int_eq(jmsg_origin_init(&origin, "alice"), 0);
    struct jmsg_out out = reply_out();
    struct jmsg_wire w;
    char msg_id[JMSG_ID_LEN + 1] = "";
    ck_assert_int_eq(jmsg_build(&w, s, &origin, &out, msg_id), 0);
    assert_reply_frames(w.frames, w.nframes, s, &origin, msg_id);
    /* the header and signature live in w; the rest is borrowed */
    ck_assert_ptr_eq(w.frames[3].data, w.signature);
    ck_assert_ptr_eq(w.frames[4].data, w.header);
    ck_assert_ptr_eq(w.frames[5].data, out.parent.data);
    ck_assert_ptr_eq(w.frames[8].data, out.buffers[0].data);
    jmsg_origin_free(&origin);
    ck_assert_ptr_null(origin.username_json);
    signer_free(s);
}
END_TEST

START_TEST(test_jmsg_build_refuses_bad_msg_type)
{
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct jmsg_origin origin;
    jmsg_origin_init(&origin, "bob");
    struct jmsg_wire w;
    struct jmsg_out out = {.msg_type = "status\",\"x\":\""};
    errno = 0;
    ck_assert_int_eq(jmsg_build(&w, s, &origin, &out, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    out.msg_type = "";
    errno = 0;
    ck_assert_int_eq(jmsg_build(&w, s, &origin, &out, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    jmsg_origin_free(&origin);
    signer_free(s);
}
END_TEST

START_TEST(test_jmsg_build_too_many_frames)
{
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct jmsg_origin origin;
    jmsg_origin_init(&origin, "bob");
    static struct span idents[2] = {{"a", 1}, {"b", 1}}, buffers[JMSG_MAX_OUT_FRAMES];
    for (size_t i = 0; i < JMSG_MAX_OUT_FRAMES; i++)
        buffers[i] = span_str("buf");
    struct jmsg_out out = {.idents = idents, .nidents = 2, .msg_type = "status", .buffers = buffers,
                           .nbuffers = JMSG_MAX_OUT_FRAMES - 8};
    struct jmsg_wire w;
    ck_assert_int_eq(jmsg_build(&w, s, &origin, &out, NULL), 0);
    ck_assert_uint_eq(w.nframes, JMSG_MAX_OUT_FRAMES);
    struct jmsg m;
    load_wire(&m, &w);
    ck_assert_int_eq(jmsg_parse(&m, s, NULL), JMSG_OK);
    ck_assert_uint_eq(m.nbuffers, JMSG_MAX_OUT_FRAMES - 8);
    jmsg_close(&m);
    out.nbuffers++;
    errno = 0;
    ck_assert_int_eq(jmsg_build(&w, s, &origin, &out, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    jmsg_origin_free(&origin);
    signer_free(s);
}
END_TEST

START_TEST(test_jmsg_build_empty_spans_become_empty_objects)
{
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct jmsg_origin origin;
    jmsg_origin_init(&origin, "bob");
    struct jmsg_out out = {.msg_type = "status"};
    struct jmsg_wire w;
    ck_assert_int_eq(jmsg_build(&w, s, &origin, &out, NULL), 0);
    ck_assert_uint_eq(w.nframes, 6);
    assert_span_eq(w.frames[0], JMSG_DELIMITER);
    assert_span_eq(w.frames[3], "{}");
    assert_span_eq(w.frames[4], "{}");
    assert_span_eq(w.frames[5], "{}");
    struct jmsg m;
    load_wire(&m, &w);
    ck_assert_int_eq(jmsg_parse(&m, s, NULL), JMSG_OK);
    ck_assert_uint_eq(m.nidents, 0);
    ck_assert_uint_eq(m.nbuffers, 0);
    ck_assert_str_eq(m.msg_type, "status");
    jmsg_close(&m);
    jmsg_origin_free(&origin);
    signer_free(s);
}
END_TEST

START_TEST(test_jmsg_build_unsigned_with_empty_key)
{
    struct signer *s = signer_new("", 0);
    struct jmsg_origin origin;
    jmsg_origin_init(&origin, "bob");
    struct span topic = span_str("kernel.status");
    struct jmsg_out out = {.idents = &topic, .nidents = 1, .msg_type = "status",
                           .content = span_str("{\"execution_state\":\"idle\"}")};
    struct jmsg_wire w;
    ck_assert_int_eq(jmsg_build(&w, s, &origin, &out, NULL), 0);
    ck_assert_uint_eq(w.nframes, 7);
    assert_span_eq(w.frames[0], "kernel.status");
    assert_span_eq(w.frames[2], "");
    struct jmsg m;
    load_wire(&m, &w);
    ck_assert_int_eq(jmsg_parse(&m, s, NULL), JMSG_OK);
    ck_assert_str_eq(json_string_value(json_object_get(m.content, "execution_state")), "idle");
    jmsg_close(&m);
    jmsg_origin_free(&origin);
    signer_free(s);
}
END_TEST

START_TEST(test_jmsg_build_header_too_long_fails)
{
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct jmsg_origin origin;
    char name[600];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    jmsg_origin_init(&origin, name);
    struct jmsg_out out = {.msg_type = "status"};
    struct jmsg_wire w;
    errno = 0;
    ck_assert_int_eq(jmsg_build(&w, s, &origin, &out, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
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

/* Ids come from a pool of random bytes: a forked child must not hand out
 * the ids its parent will (both would take the same bytes of the pool). */
START_TEST(test_jmsg_new_id_differs_in_a_forked_child)
{
    char parent_id[JMSG_ID_LEN + 1], child_id[JMSG_ID_LEN + 1] = "";
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    jmsg_new_id(parent_id); /* the pool now holds ids for later calls */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        jmsg_new_id(child_id);
        ssize_t n = write(fds[1], child_id, JMSG_ID_LEN);
        _exit(n == JMSG_ID_LEN ? 0 : 1);
    }
    close(fds[1]);
    jmsg_new_id(parent_id);
    ck_assert_int_eq(read(fds[0], child_id, JMSG_ID_LEN), JMSG_ID_LEN);
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_uuid4(child_id);
    ck_assert_str_ne(parent_id, child_id);
}
END_TEST

/* ---- over a real socket: a zsock ROUTER and a libzmq DEALER ("peer") ---- */

static void *zctx, *dealer;
static struct zhub *hub;
static struct zsock *router;
static struct ztest_record rec;

#define SOCKET_SIZE_LIMIT 50000

static void sockets_setup(void)
{
    zctx = zmq_ctx_new();
    hub = zhub_new();
    ck_assert_ptr_nonnull(zctx);
    ck_assert_ptr_nonnull(hub);
    memset(&rec, 0, sizeof rec);
    struct zsock_options o = {.name = "shell", .max_message = SOCKET_SIZE_LIMIT, .max_frames = JMSG_MAX_FRAMES,
                              .max_queued = 1 << 20, .handler = ztest_handler, .owner = &rec};
    char err[256] = "", endpoint[64];
    router = zsock_bind(hub, ZSOCK_ROUTER, "tcp://127.0.0.1:0", &o, err, sizeof err);
    ck_assert_msg(router != NULL, "bind: %s", err);
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", zsock_port(router));
    dealer = zmq_socket(zctx, ZMQ_DEALER);
    ck_assert_ptr_nonnull(dealer);
    int linger = 0;
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
    ck_assert_int_eq(zmq_setsockopt(dealer, ZMQ_ROUTING_ID, "peer", 4), 0);
    ck_assert_int_eq(zmq_connect(dealer, endpoint), 0);
}

static void sockets_teardown(void)
{
    zmq_close(dealer);
    zmq_ctx_term(zctx);
    zhub_free(hub);
    ztest_record_free(&rec);
}

/* The DEALER sends; the ROUTER's handler has it as message i. */
static const struct ztest_msg *router_receive(const struct span *frames, size_t n, size_t i)
{
    ztest_zmq_send(dealer, frames, n);
    ck_assert_msg(ztest_wait_handler(hub, &rec, i + 1), "the message never reached the handler");
    return &rec.msgs[i];
}

/* Once the DEALER has said something, the ROUTER knows it as "peer". */
static void dealer_hello(void)
{
    struct span hello = span_str("hello");
    router_receive(&hello, 1, rec.n);
}

/* Nothing reached the DEALER before this: a message sent now comes first. */
static void assert_nothing_sent(void)
{
    struct span f[] = {span_str("peer"), span_str("sentinel")};
    ck_assert_int_eq(zsock_send(router, f, 2), 0);
    struct ztest_msg m;
    ck_assert(ztest_zmq_recv(hub, dealer, &m));
    ck_assert_uint_eq(m.nframes, 1);
    assert_span_eq(m.frames[0], "sentinel");
    ztest_msg_free(&m);
}

START_TEST(test_jmsg_zsock_receive_and_parse)
{
    struct span json[4] = {span_str(VALID_HEADER), span_str("{}"), span_str("{}"), span_str(VALID_CONTENT)};
    char hex[AUTH_HEX_LEN + 1];
    sign_hex(KEY, json, hex);
    struct span f[] = {span_str("id-a"), span_str(JMSG_DELIMITER), span_str(hex), json[0], json[1], json[2],
                       json[3], span_str("buffer")};
    const struct ztest_msg *r = router_receive(f, 8, 0);
    ck_assert_uint_eq(r->nframes, 9);
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct jmsg m;
    jmsg_load(&m, r->frames, r->nframes, r->size, SOCKET_SIZE_LIMIT, r->too_many_frames);
    ck_assert_int_eq(jmsg_parse(&m, s, NULL), JMSG_OK);
    ck_assert_uint_eq(m.nidents, 2);
    assert_span_eq(jmsg_frame(&m, 0), "peer");
    assert_span_eq(jmsg_frame(&m, 1), "id-a");
    ck_assert_str_eq(m.msg_type, "execute_request");
    ck_assert_uint_eq(m.nbuffers, 1);
    assert_span_eq(jmsg_buffer(&m, 0), "buffer");
    jmsg_close(&m);
    signer_free(s);
}
END_TEST

START_TEST(test_jmsg_zsock_over_size_limit_drops_buffers_keeps_header)
{
    struct span json[4] = {span_str(VALID_HEADER), span_str("{}"), span_str("{}"), span_str(VALID_CONTENT)};
    char hex[AUTH_HEX_LEN + 1];
    sign_hex(KEY, json, hex);
    static char big[100000];
    memset(big, 'b', sizeof big);
    struct span frames[] = {span_str(JMSG_DELIMITER), span_str(hex), json[0], json[1], json[2], json[3],
                            {big, sizeof big}, span_str("after")};
    const struct ztest_msg *r = router_receive(frames, 8, 0);
    struct jmsg m;
    jmsg_load(&m, r->frames, r->nframes, r->size, SOCKET_SIZE_LIMIT, r->too_many_frames);
    /* what the peer sent (the identity frame is the ROUTER's) */
    size_t expect = sizeof JMSG_DELIMITER - 1 + AUTH_HEX_LEN + json[0].len + 2 + 2 + json[3].len + sizeof big + 5;
    ck_assert_uint_eq(m.size, expect);
    ck_assert_uint_eq(m.nframes, 9);            /* every frame keeps its place */
    ck_assert_uint_eq(jmsg_frame(&m, 7).len, 0); /* but not its bytes */
    ck_assert_uint_eq(jmsg_frame(&m, 8).len, 0);
    struct signer *s = signer_new(KEY, strlen(KEY));
    ck_assert_int_eq(jmsg_parse(&m, s, NULL), JMSG_TOO_LARGE);
    ck_assert_str_eq(m.msg_type, "execute_request"); /* so the caller can answer it */
    jmsg_close(&m);
    signer_free(s);
}
END_TEST

START_TEST(test_jmsg_send_frames)
{
    dealer_hello();
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct jmsg_origin origin;
    ck_assert_int_eq(jmsg_origin_init(&origin, "alice"), 0);
    /* the ROUTER's first identity names the DEALER; it keeps the others */
    struct span idents[] = {span_str("peer"), span_str("route-1"), span_str("route-2")};
    struct jmsg_out out = reply_out();
    out.idents = idents;
    out.nidents = 3;
    char msg_id[JMSG_ID_LEN + 1] = "";
    ck_assert_int_eq(jmsg_send(router, s, &origin, &out, msg_id), 0);
    struct ztest_msg m;
    ck_assert(ztest_zmq_recv(hub, dealer, &m));
    assert_reply_frames(m.frames, m.nframes, s, &origin, msg_id);
    ztest_msg_free(&m);
    jmsg_origin_free(&origin);
    signer_free(s);
}
END_TEST

START_TEST(test_jmsg_send_ids_are_fresh)
{
    dealer_hello();
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct jmsg_origin origin;
    jmsg_origin_init(&origin, NULL);
    struct span peer = span_str("peer");
    struct jmsg_out out = {.idents = &peer, .nidents = 1, .msg_type = "status"};
    char a[JMSG_ID_LEN + 1], b[JMSG_ID_LEN + 1];
    ck_assert_int_eq(jmsg_send(router, s, &origin, &out, a), 0);
    ck_assert_int_eq(jmsg_send(router, s, &origin, &out, b), 0);
    ck_assert_str_ne(a, b);
    const char *ids[] = {a, b};
    for (int i = 0; i < 2; i++) {
        struct ztest_msg r;
        ck_assert(ztest_zmq_recv(hub, dealer, &r));
        struct jmsg m;
        jmsg_load(&m, r.frames, r.nframes, r.size, 0, false);
        ck_assert_int_eq(jmsg_parse(&m, s, NULL), JMSG_OK);
        ck_assert_str_eq(m.msg_id, ids[i]);
        ck_assert_str_eq(json_string_value(json_object_get(m.header, "username")), "kernel");
        jmsg_close(&m);
        ztest_msg_free(&r);
    }
    jmsg_origin_free(&origin);
    signer_free(s);
}
END_TEST

START_TEST(test_jmsg_send_failures_send_nothing)
{
    dealer_hello();
    struct signer *s = signer_new(KEY, strlen(KEY));
    struct jmsg_origin origin;
    jmsg_origin_init(&origin, "bob");
    struct span peer = span_str("peer");
    struct jmsg_out out = {.idents = &peer, .nidents = 1, .msg_type = "status\",\"x\":\""};
    errno = 0;
    ck_assert_int_eq(jmsg_send(router, s, &origin, &out, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    jmsg_origin_free(&origin);

    char name[600];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    jmsg_origin_init(&origin, name);
    out.msg_type = "status";
    errno = 0;
    ck_assert_int_eq(jmsg_send(router, s, &origin, &out, NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    jmsg_origin_free(&origin);

    /* to a peer that is not there: dropped, as ZMQ does */
    jmsg_origin_init(&origin, "bob");
    struct span nobody = span_str("nobody");
    out.idents = &nobody;
    ck_assert_int_eq(jmsg_send(router, s, &origin, &out, NULL), 0);
    assert_nothing_sent();
    jmsg_origin_free(&origin);
    signer_free(s);
}
END_TEST

Suite *jmsg_suite(void)
{
    Suite *s = suite_create("jmsg");
    TCase *tc = tcase_create("parse");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_jmsg_load_takes_frames);
    tcase_add_test(tc, test_jmsg_parse_valid_signed);
    tcase_add_test(tc, test_jmsg_over_size_limit_drops_buffers_keeps_header);
    tcase_add_test(tc, test_jmsg_over_size_limit_without_json);
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

    TCase *tbuild = tcase_create("build");
    tcase_add_test(tbuild, test_jmsg_build_frames);
    tcase_add_test(tbuild, test_jmsg_build_refuses_bad_msg_type);
    tcase_add_test(tbuild, test_jmsg_build_too_many_frames);
    tcase_add_test(tbuild, test_jmsg_build_empty_spans_become_empty_objects);
    tcase_add_test(tbuild, test_jmsg_build_unsigned_with_empty_key);
    tcase_add_test(tbuild, test_jmsg_build_header_too_long_fails);
    tcase_add_test(tbuild, test_jmsg_origin_username_escaped);
    tcase_add_test(tbuild, test_jmsg_new_id_and_iso_now);
    tcase_add_test(tbuild, test_jmsg_new_id_differs_in_a_forked_child);
    suite_add_tcase(s, tbuild);

    TCase *tsock = tcase_create("zsock");
    tcase_set_timeout(tsock, 30);
    tcase_add_checked_fixture(tsock, sockets_setup, sockets_teardown);
    tcase_add_test(tsock, test_jmsg_zsock_receive_and_parse);
    tcase_add_test(tsock, test_jmsg_zsock_over_size_limit_drops_buffers_keeps_header);
    tcase_add_test(tsock, test_jmsg_send_frames);
    tcase_add_test(tsock, test_jmsg_send_ids_are_fresh);
    tcase_add_test(tsock, test_jmsg_send_failures_send_nothing);
    suite_add_tcase(s, tsock);
    return s;
}

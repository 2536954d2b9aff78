/* test_chan: the router-worker channel framing (common/chan.c): encode, decode, u64 parts. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/chan.h"
#include "suites.h"

static void put_le32(char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (char)((v >> (8 * i)) & 0xff);
}

/* Encode then decode `parts` and check the decoded message is identical. */
static void assert_round_trip(const struct span *parts, size_t nparts)
{
    struct buf b = {0};
    ck_assert_int_eq(chan_encode(&b, parts, nparts), 0);
    size_t expect = 4;
    for (size_t i = 0; i < nparts; i++)
        expect += 4 + parts[i].len;
    ck_assert_uint_eq(buf_pending(&b), expect);

    static struct chan_msg msg;
    size_t consumed = 0;
    ck_assert_int_eq(chan_decode(buf_head(&b), buf_pending(&b), &msg, &consumed), CHAN_OK);
    ck_assert_uint_eq(consumed, expect);
    ck_assert_uint_eq(msg.nparts, nparts);
    for (size_t i = 0; i < nparts; i++) {
        ck_assert_uint_eq(msg.parts[i].len, parts[i].len);
        if (parts[i].len)
            ck_assert_int_eq(memcmp(msg.parts[i].data, parts[i].data, parts[i].len), 0);
    }
    buf_free(&b);
}

START_TEST(test_chan_encode_exact_bytes)
{
    struct buf b = {0};
    struct span parts[] = {span_str("ab"), span_str("")};
    ck_assert_int_eq(chan_encode(&b, parts, 2), 0);
    ck_assert_uint_eq(buf_pending(&b), 14);
    ck_assert_mem_eq(buf_head(&b), "\x0a\0\0\0" "\x02\0\0\0" "ab" "\0\0\0\0", 14);
    buf_free(&b);
}
END_TEST

START_TEST(test_chan_round_trip_zero_parts)
{
    assert_round_trip(NULL, 0);
}
END_TEST

START_TEST(test_chan_round_trip_one_empty_part)
{
    struct span p = {"", 0};
    assert_round_trip(&p, 1);
}
END_TEST

START_TEST(test_chan_round_trip_max_parts)
{
    struct span parts[CHAN_MAX_PARTS];
    char text[CHAN_MAX_PARTS][8];
    for (int i = 0; i < CHAN_MAX_PARTS; i++) {
        snprintf(text[i], sizeof text[i], "p%d", i * 37);
        parts[i] = span_str(text[i]);
    }
    assert_round_trip(parts, CHAN_MAX_PARTS);
}
END_TEST

START_TEST(test_chan_round_trip_binary_parts)
{
    struct span parts[] = {{"\0\xff\x01", 3}, span_str("execute"), {"", 0}, {"\x80\x00\x00\x00", 4}};
    assert_round_trip(parts, 4);
}
END_TEST

START_TEST(test_chan_round_trip_large_part)
{
    size_t n = 5u * 1024u * 1024u + 3;
    char *big = malloc(n);
    ck_assert_ptr_nonnull(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(i * 131 + 7);
    struct span parts[] = {span_str("head"), {big, n}, span_str("tail")};
    assert_round_trip(parts, 3);
    free(big);
}
END_TEST

START_TEST(test_chan_encode_rejects_too_many_parts)
{
    struct buf b = {0};
    struct span parts[CHAN_MAX_PARTS + 1];
    for (int i = 0; i <= CHAN_MAX_PARTS; i++)
        parts[i] = span_str("x");
    ck_assert_int_eq(chan_encode(&b, parts, CHAN_MAX_PARTS + 1), -1);
    ck_assert_uint_eq(buf_pending(&b), 0);
    buf_free(&b);
}
END_TEST

START_TEST(test_chan_encode_rejects_oversized_part)
{
    struct buf b = {0};
    /* the length is checked before any byte is read */
    struct span part = {"", (size_t)CHAN_MAX_MESSAGE + 1};
    ck_assert_int_eq(chan_encode(&b, &part, 1), -1);
    ck_assert_uint_eq(buf_pending(&b), 0);
    buf_free(&b);
}
END_TEST

START_TEST(test_chan_decode_every_prefix_incomplete)
{
    struct buf b = {0};
    struct span parts[] = {span_str("shell"), {"", 0}, span_str("{\"code\":\"1+1\"}"), {"\0\1", 2}};
    ck_assert_int_eq(chan_encode(&b, parts, 4), 0);
    size_t total = buf_pending(&b);
    struct chan_msg msg;
    size_t consumed = 12345;
    for (size_t n = 0; n < total; n++) {
        char *copy = malloc(n ? n : 1); /* a fresh block so ASan sees overreads */
        memcpy(copy, buf_head(&b), n);
        ck_assert_int_eq(chan_decode(copy, n, &msg, &consumed), CHAN_INCOMPLETE);
        ck_assert_uint_eq(consumed, 12345);
        free(copy);
    }
    ck_assert_int_eq(chan_decode(buf_head(&b), total, &msg, &consumed), CHAN_OK);
    ck_assert_uint_eq(consumed, total);
    buf_free(&b);
}
END_TEST

START_TEST(test_chan_decode_back_to_back)
{
    struct buf b = {0};
    struct span first[] = {span_str("one"), span_str("two")};
    struct span second[] = {span_str("three")};
    ck_assert_int_eq(chan_encode(&b, first, 2), 0);
    size_t len1 = buf_pending(&b);
    ck_assert_int_eq(chan_encode(&b, second, 1), 0);
    ck_assert_uint_eq(len1, 4 + 7 + 7);
    ck_assert_uint_eq(buf_pending(&b), len1 + 4 + 9);

    struct chan_msg msg;
    size_t consumed = 0;
    ck_assert_int_eq(chan_decode(buf_head(&b), buf_pending(&b), &msg, &consumed), CHAN_OK);
    ck_assert_uint_eq(consumed, len1);
    ck_assert_uint_eq(msg.nparts, 2);
    ck_assert(chan_part_is(&msg.parts[0], "one"));
    ck_assert(chan_part_is(&msg.parts[1], "two"));
    buf_consume(&b, consumed);

    ck_assert_int_eq(chan_decode(buf_head(&b), buf_pending(&b), &msg, &consumed), CHAN_OK);
    ck_assert_uint_eq(consumed, 13);
    ck_assert_uint_eq(msg.nparts, 1);
    ck_assert(chan_part_is(&msg.parts[0], "three"));
    buf_consume(&b, consumed);
    ck_assert_uint_eq(buf_pending(&b), 0);
    buf_free(&b);
}
END_TEST

START_TEST(test_chan_decode_part_past_body_invalid)
{
    /* body of 8 bytes whose only part claims 5 bytes but has 4 */
    char data[12];
    put_le32(data, 8);
    put_le32(data + 4, 5);
    memcpy(data + 8, "abcd", 4);
    struct chan_msg msg;
    size_t consumed = 0;
    ck_assert_int_eq(chan_decode(data, sizeof data, &msg, &consumed), CHAN_INVALID);
}
END_TEST

START_TEST(test_chan_decode_part_length_cut_invalid)
{
    /* body of 6 bytes: a 1-byte part, then 1 byte where a length should be */
    char data[10];
    put_le32(data, 6);
    put_le32(data + 4, 1);
    data[8] = 'x';
    data[9] = 0;
    struct chan_msg msg;
    size_t consumed = 0;
    ck_assert_int_eq(chan_decode(data, sizeof data, &msg, &consumed), CHAN_INVALID);
}
END_TEST

START_TEST(test_chan_decode_huge_part_length_invalid)
{
    char data[8];
    put_le32(data, 4);
    put_le32(data + 4, 0xffffffffu);
    struct chan_msg msg;
    size_t consumed = 0;
    ck_assert_int_eq(chan_decode(data, sizeof data, &msg, &consumed), CHAN_INVALID);
}
END_TEST

START_TEST(test_chan_decode_too_many_parts_invalid)
{
    size_t nparts = CHAN_MAX_PARTS + 1;
    char data[4 + 4 * (CHAN_MAX_PARTS + 1)];
    put_le32(data, (uint32_t)(4 * nparts));
    for (size_t i = 0; i < nparts; i++)
        put_le32(data + 4 + 4 * i, 0);
    struct chan_msg msg;
    size_t consumed = 0;
    ck_assert_int_eq(chan_decode(data, sizeof data, &msg, &consumed), CHAN_INVALID);
    /* exactly CHAN_MAX_PARTS empty parts is fine */
    put_le32(data, (uint32_t)(4 * CHAN_MAX_PARTS));
    ck_assert_int_eq(chan_decode(data, 4 + 4 * CHAN_MAX_PARTS, &msg, &consumed), CHAN_OK);
    ck_assert_uint_eq(msg.nparts, CHAN_MAX_PARTS);
}
END_TEST

START_TEST(test_chan_decode_body_over_limit_invalid)
{
    /* only the 4-byte header is present: the limit is checked before waiting */
    char data[4];
    put_le32(data, CHAN_MAX_MESSAGE + 1);
    struct chan_msg msg;
    size_t consumed = 0;
    ck_assert_int_eq(chan_decode(data, sizeof data, &msg, &consumed), CHAN_INVALID);
    put_le32(data, 0xffffffffu);
    ck_assert_int_eq(chan_decode(data, sizeof data, &msg, &consumed), CHAN_INVALID);
    put_le32(data, CHAN_MAX_MESSAGE); /* at the limit: wait for the body */
    ck_assert_int_eq(chan_decode(data, sizeof data, &msg, &consumed), CHAN_INCOMPLETE);
}
END_TEST

START_TEST(test_chan_part_is)
{
    struct span p = {"abc", 3};
    ck_assert(chan_part_is(&p, "abc"));
    ck_assert(!chan_part_is(&p, "ab"));
    ck_assert(!chan_part_is(&p, "abcd"));
    struct span e = {"", 0};
    ck_assert(chan_part_is(&e, ""));
}
END_TEST

static int u64_of(const char *s, uint64_t *v)
{
    struct span p = span_str(s);
    return chan_part_u64(&p, v);
}

START_TEST(test_chan_part_u64_accepts)
{
    uint64_t v = 99;
    ck_assert_int_eq(u64_of("0", &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(u64_of("42", &v), 0);
    ck_assert_uint_eq(v, 42);
    ck_assert_int_eq(u64_of("18446744073709551615", &v), 0);
    ck_assert(v == UINT64_MAX);
    ck_assert_int_eq(u64_of("00000000000000000007", &v), 0); /* 20 digits */
    ck_assert_uint_eq(v, 7);
}
END_TEST

START_TEST(test_chan_part_u64_rejects)
{
    uint64_t v = 99;
    ck_assert_int_eq(u64_of("", &v), -1);
    ck_assert_int_eq(u64_of("18446744073709551616", &v), -1);
    ck_assert_int_eq(u64_of("99999999999999999999", &v), -1);
    ck_assert_int_eq(u64_of("184467440737095516150", &v), -1);
    ck_assert_int_eq(u64_of("12a", &v), -1);
    ck_assert_int_eq(u64_of("-1", &v), -1);
    ck_assert_int_eq(u64_of("+1", &v), -1);
    ck_assert_int_eq(u64_of(" 1", &v), -1);
    struct span nul = {"1\0", 2};
    ck_assert_int_eq(chan_part_u64(&nul, &v), -1);
    ck_assert_uint_eq(v, 99); /* untouched on failure */
}
END_TEST

Suite *chan_suite(void)
{
    Suite *s = suite_create("chan");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_chan_encode_exact_bytes);
    tcase_add_test(tc, test_chan_round_trip_zero_parts);
    tcase_add_test(tc, test_chan_round_trip_one_empty_part);
    tcase_add_test(tc, test_chan_round_trip_max_parts);
    tcase_add_test(tc, test_chan_round_trip_binary_parts);
    tcase_add_test(tc, test_chan_round_trip_large_part);
    tcase_add_test(tc, test_chan_encode_rejects_too_many_parts);
    tcase_add_test(tc, test_chan_encode_rejects_oversized_part);
    tcase_add_test(tc, test_chan_decode_every_prefix_incomplete);
    tcase_add_test(tc, test_chan_decode_back_to_back);
    tcase_add_test(tc, test_chan_decode_part_past_body_invalid);
    tcase_add_test(tc, test_chan_decode_part_length_cut_invalid);
    tcase_add_test(tc, test_chan_decode_huge_part_length_invalid);
    tcase_add_test(tc, test_chan_decode_too_many_parts_invalid);
    tcase_add_test(tc, test_chan_decode_body_over_limit_invalid);
    tcase_add_test(tc, test_chan_part_is);
    tcase_add_test(tc, test_chan_part_u64_accepts);
    tcase_add_test(tc, test_chan_part_u64_rejects);
    suite_add_tcase(s, tc);
    return s;
}

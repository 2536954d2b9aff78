/* test_jstr: JSON string escaping with UTF-8 repair (common/jstr.c), checked against jansson. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/jstr.h"
#include "suites.h"

#define FFFD "\xef\xbf\xbd"

/* jstr_append(text[0..len)) must give exactly `expect` (expect_len bytes,
 * quotes included), which jansson must decode to `decoded` (decoded_len). */
static void assert_jstr(const char *text, size_t len, const char *expect, size_t expect_len,
                        const char *decoded, size_t decoded_len)
{
    struct buf b = {0};
    ck_assert_int_eq(jstr_append(&b, text, len), 0);
    ck_assert_uint_eq(buf_pending(&b), expect_len);
    ck_assert_msg(memcmp(buf_head(&b), expect, expect_len) == 0, "got %.*s, expected %s",
                  (int)buf_pending(&b), buf_head(&b), expect);

    json_error_t err;
    json_t *j = json_loadb(buf_head(&b), buf_pending(&b), JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    ck_assert_msg(j != NULL, "jansson refused %.*s: %s", (int)buf_pending(&b), buf_head(&b), err.text);
    ck_assert(json_is_string(j));
    ck_assert_uint_eq(json_string_length(j), decoded_len);
    ck_assert_int_eq(memcmp(json_string_value(j), decoded, decoded_len), 0);
    json_decref(j);
    buf_free(&b);
}

/* For C string literals: text, expected JSON, expected decoded string. */
#define ASSERT_JSTR(text, json, decoded)                                                         \
    assert_jstr(text, sizeof text - 1, json, sizeof json - 1, decoded, sizeof decoded - 1)

START_TEST(test_jstr_empty)
{
    ASSERT_JSTR("", "\"\"", "");
}
END_TEST

START_TEST(test_jstr_ascii_unchanged)
{
    ASSERT_JSTR("hello, world / 42 ~", "\"hello, world / 42 ~\"", "hello, world / 42 ~");
    ASSERT_JSTR("\x7f", "\"\x7f\"", "\x7f"); /* DEL is not a control char for JSON */
}
END_TEST

START_TEST(test_jstr_valid_utf8_unchanged)
{
    ASSERT_JSTR("h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e \xe4\xb8\xad",
                "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e \xe4\xb8\xad\"",
                "h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e \xe4\xb8\xad");
}
END_TEST

START_TEST(test_jstr_utf8_boundaries_unchanged)
{
    ASSERT_JSTR("\xc2\x80", "\"\xc2\x80\"", "\xc2\x80");                         /* U+0080 */
    ASSERT_JSTR("\xdf\xbf", "\"\xdf\xbf\"", "\xdf\xbf");                         /* U+07FF */
    ASSERT_JSTR("\xe0\xa0\x80", "\"\xe0\xa0\x80\"", "\xe0\xa0\x80");             /* U+0800 */
    ASSERT_JSTR("\xed\x9f\xbf", "\"\xed\x9f\xbf\"", "\xed\x9f\xbf");             /* U+D7FF */
    ASSERT_JSTR("\xee\x80\x80", "\"\xee\x80\x80\"", "\xee\x80\x80");             /* U+E000 */
    ASSERT_JSTR("\xef\xbf\xbf", "\"\xef\xbf\xbf\"", "\xef\xbf\xbf");             /* U+FFFF */
    ASSERT_JSTR("\xf0\x90\x80\x80", "\"\xf0\x90\x80\x80\"", "\xf0\x90\x80\x80"); /* U+10000 */
    ASSERT_JSTR("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"", "\xf4\x8f\xbf\xbf"); /* U+10FFFF */
    ASSERT_JSTR("\xe2\x80\xa8", "\"\xe2\x80\xa8\"", "\xe2\x80\xa8");             /* U+2028 */
}
END_TEST

START_TEST(test_jstr_quote_and_backslash_escaped)
{
    ASSERT_JSTR("say \"hi\"", "\"say \\\"hi\\\"\"", "say \"hi\"");
    ASSERT_JSTR("C:\\dir\\", "\"C:\\\\dir\\\\\"", "C:\\dir\\");
}
END_TEST

START_TEST(test_jstr_newline_cr_tab_escaped)
{
    ASSERT_JSTR("a\nb\rc\td", "\"a\\nb\\rc\\td\"", "a\nb\rc\td");
}
END_TEST

START_TEST(test_jstr_control_chars_escaped)
{
    ASSERT_JSTR("\x01", "\"\\u0001\"", "\x01");
    ASSERT_JSTR("\x1f", "\"\\u001f\"", "\x1f");
    ASSERT_JSTR("\b\f\x1b[0m", "\"\\u0008\\u000c\\u001b[0m\"", "\b\f\x1b[0m");
    assert_jstr("a\0b", 3, "\"a\\u0000b\"", 10, "a\0b", 3);
}
END_TEST

START_TEST(test_jstr_all_control_chars)
{
    /* every byte below 0x20: the worst case of the size reservation */
    char text[32];
    for (int i = 0; i < 32; i++)
        text[i] = (char)i;
    struct buf b = {0};
    ck_assert_int_eq(jstr_append(&b, text, 32), 0);
    json_t *j = json_loadb(buf_head(&b), buf_pending(&b), JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_uint_eq(json_string_length(j), 32);
    ck_assert_int_eq(memcmp(json_string_value(j), text, 32), 0);
    json_decref(j);
    ck_assert_uint_eq(buf_pending(&b), 2 + 6 * 29 + 3 * 2); /* \t \n \r take 2 */
    buf_free(&b);
}
END_TEST

START_TEST(test_jstr_invalid_byte_replaced)
{
    ASSERT_JSTR("\xff", "\"" FFFD "\"", FFFD);
    ASSERT_JSTR("a\xfe" "b", "\"a" FFFD "b\"", "a" FFFD "b");
    ASSERT_JSTR("\x80", "\"" FFFD "\"", FFFD); /* lone continuation byte */
    ASSERT_JSTR("\xf5\x80\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"", FFFD FFFD FFFD FFFD);
}
END_TEST

START_TEST(test_jstr_overlong_replaced)
{
    ASSERT_JSTR("\xc0\x80", "\"" FFFD FFFD "\"", FFFD FFFD);
    ASSERT_JSTR("\xc1\xbf", "\"" FFFD FFFD "\"", FFFD FFFD);
    ASSERT_JSTR("\xe0\x80\xaf", "\"" FFFD FFFD FFFD "\"", FFFD FFFD FFFD);
    ASSERT_JSTR("\xf0\x8f\xbf\xbf", "\"" FFFD FFFD FFFD FFFD "\"", FFFD FFFD FFFD FFFD);
}
END_TEST

START_TEST(test_jstr_surrogate_replaced)
{
    ASSERT_JSTR("\xed\xa0\x80", "\"" FFFD FFFD FFFD "\"", FFFD FFFD FFFD);
    ASSERT_JSTR("\xed\xbf\xbf", "\"" FFFD FFFD FFFD "\"", FFFD FFFD FFFD);
}
END_TEST

START_TEST(test_jstr_above_max_code_point_replaced)
{
    ASSERT_JSTR("\xf4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"", FFFD FFFD FFFD FFFD);
}
END_TEST

START_TEST(test_jstr_truncated_sequence_replaced)
{
    /* cut by another character, or by the end of the text */
    ASSERT_JSTR("\xe2\x82" "A", "\"" FFFD FFFD "A\"", FFFD FFFD "A");
    ASSERT_JSTR("x\xf0\x9f\x98", "\"x" FFFD FFFD FFFD "\"", "x" FFFD FFFD FFFD);
    ASSERT_JSTR("\xc3\"", "\"" FFFD "\\\"\"", FFFD "\"");
}
END_TEST

START_TEST(test_jstr_appends_after_existing_bytes)
{
    struct buf b = {0};
    buf_append(&b, "junk{\"text\":", 12);
    buf_consume(&b, 4);
    ck_assert_int_eq(jstr_append(&b, "a\"\n", 3), 0);
    buf_append(&b, "}", 1);
    static const char expect[] = "{\"text\":\"a\\\"\\n\"}";
    ck_assert_uint_eq(buf_pending(&b), sizeof expect - 1);
    ck_assert_mem_eq(buf_head(&b), expect, sizeof expect - 1);
    buf_free(&b);
}
END_TEST

START_TEST(test_jstr_random_bytes_always_valid_json)
{
    unsigned seed = 2024;
    char text[64];
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(round % 64);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = seed >> 16;
            /* bias towards bytes that make UTF-8 sequences */
            text[i] = (char)(r % 4 == 0 ? 0x80 + r % 64 : r % 4 == 1 ? 0xc0 + r % 64 : r);
        }
        struct buf b = {0};
        ck_assert_int_eq(jstr_append(&b, text, len), 0);
        json_t *j = json_loadb(buf_head(&b), buf_pending(&b), JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        ck_assert_msg(j && json_is_string(j), "round %d: jansson refused %.*s", round,
                      (int)buf_pending(&b), buf_head(&b));
        json_decref(j);
        buf_free(&b);
    }
}
END_TEST

static size_t prefix(const char *text) { return jstr_complete_prefix(text, strlen(text)); }

START_TEST(test_jstr_prefix_releases_impossible_starts)
{
    /* bytes that can never complete a valid sequence are not held back */
    ck_assert_uint_eq(prefix("ab\xe0\x80"), 4);     /* overlong */
    ck_assert_uint_eq(prefix("ab\xed\xa0"), 4);     /* surrogate */
    ck_assert_uint_eq(prefix("ab\xf4\x90"), 4);     /* above U+10FFFF */
    ck_assert_uint_eq(prefix("ab\xf0\x80\x80"), 5); /* overlong 4-byte */
    ck_assert_uint_eq(prefix("ab\xf0\x90\x80"), 2); /* valid so far */
    ck_assert_uint_eq(prefix("ab\xe0\xa0"), 2);
}
END_TEST

START_TEST(test_jstr_prefix_plain_text)
{
    ck_assert_uint_eq(jstr_complete_prefix("", 0), 0);
    ck_assert_uint_eq(prefix("abc"), 3);
    ck_assert_uint_eq(prefix("a"), 1);
}
END_TEST

START_TEST(test_jstr_prefix_holds_truncated_2_byte)
{
    ck_assert_uint_eq(prefix("ab\xc3"), 2);
    ck_assert_uint_eq(prefix("\xc3"), 0);
}
END_TEST

START_TEST(test_jstr_prefix_holds_truncated_3_byte)
{
    ck_assert_uint_eq(prefix("ab\xe2"), 2);
    ck_assert_uint_eq(prefix("ab\xe2\x82"), 2);
    ck_assert_uint_eq(prefix("\xe2\x82\xac\xe2\x82"), 3);
}
END_TEST

START_TEST(test_jstr_prefix_holds_truncated_4_byte)
{
    ck_assert_uint_eq(prefix("ab\xf0"), 2);
    ck_assert_uint_eq(prefix("ab\xf0\x9f"), 2);
    ck_assert_uint_eq(prefix("ab\xf0\x9f\x98"), 2);
    ck_assert_uint_eq(prefix("\xf0\x9f\x98"), 0);
}
END_TEST

START_TEST(test_jstr_prefix_keeps_complete_sequences)
{
    ck_assert_uint_eq(prefix("ab\xc3\xa9"), 4);
    ck_assert_uint_eq(prefix("\xe2\x82\xac"), 3);
    ck_assert_uint_eq(prefix("x\xe2\x82\xac"), 4);
    ck_assert_uint_eq(prefix("\xf0\x9f\x98\x80"), 4);
    ck_assert_uint_eq(prefix("xy\xf0\x9f\x98\x80"), 6);
    ck_assert_uint_eq(prefix("\xc3\xa9\xc3\xa9"), 4);
}
END_TEST

START_TEST(test_jstr_prefix_keeps_invalid_bytes)
{
    ck_assert_uint_eq(prefix("ab\xff"), 3);
    ck_assert_uint_eq(prefix("ab\x80"), 3);
    ck_assert_uint_eq(prefix("ab\xc0"), 3);  /* C0 never starts a valid sequence */
    ck_assert_uint_eq(prefix("ab\xc1"), 3);
    ck_assert_uint_eq(prefix("ab\xf5"), 3);
    ck_assert_uint_eq(prefix("ab\xf8\x80"), 4);
    ck_assert_uint_eq(prefix("ab\xe2\x28"), 4); /* already broken: nothing to wait for */
    ck_assert_uint_eq(prefix("ab\xf0\x9f\x28"), 5);
}
END_TEST

START_TEST(test_jstr_prefix_then_append_reassembles)
{
    /* a stream cut inside a character: send the prefix, keep the tail */
    static const char whole[] = "caf\xc3\xa9 \xf0\x9f\x98\x80!";
    size_t n = sizeof whole - 1;
    for (size_t cut = 0; cut <= n; cut++) {
        size_t keep = jstr_complete_prefix(whole, cut);
        ck_assert_uint_le(keep, cut);
        ck_assert_uint_ge(keep + 3, cut);
        struct buf b = {0};
        jstr_append(&b, whole, keep);
        json_t *j = json_loadb(buf_head(&b), buf_pending(&b), JSON_DECODE_ANY, NULL);
        ck_assert_ptr_nonnull(j);
        /* nothing was replaced: the held-back bytes complete later */
        ck_assert_uint_eq(json_string_length(j), keep);
        ck_assert_int_eq(memcmp(json_string_value(j), whole, keep), 0);
        json_decref(j);
        buf_free(&b);
    }
}
END_TEST

Suite *jstr_suite(void)
{
    Suite *s = suite_create("jstr");
    TCase *tc = tcase_create("append");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_jstr_empty);
    tcase_add_test(tc, test_jstr_ascii_unchanged);
    tcase_add_test(tc, test_jstr_valid_utf8_unchanged);
    tcase_add_test(tc, test_jstr_utf8_boundaries_unchanged);
    tcase_add_test(tc, test_jstr_quote_and_backslash_escaped);
    tcase_add_test(tc, test_jstr_newline_cr_tab_escaped);
    tcase_add_test(tc, test_jstr_control_chars_escaped);
    tcase_add_test(tc, test_jstr_all_control_chars);
    tcase_add_test(tc, test_jstr_invalid_byte_replaced);
    tcase_add_test(tc, test_jstr_overlong_replaced);
    tcase_add_test(tc, test_jstr_surrogate_replaced);
    tcase_add_test(tc, test_jstr_above_max_code_point_replaced);
    tcase_add_test(tc, test_jstr_truncated_sequence_replaced);
    tcase_add_test(tc, test_jstr_appends_after_existing_bytes);
    tcase_add_test(tc, test_jstr_random_bytes_always_valid_json);
    suite_add_tcase(s, tc);

    TCase *tp = tcase_create("complete_prefix");
    tcase_add_test(tp, test_jstr_prefix_releases_impossible_starts);
    tcase_add_test(tp, test_jstr_prefix_plain_text);
    tcase_add_test(tp, test_jstr_prefix_holds_truncated_2_byte);
    tcase_add_test(tp, test_jstr_prefix_holds_truncated_3_byte);
    tcase_add_test(tp, test_jstr_prefix_holds_truncated_4_byte);
    tcase_add_test(tp, test_jstr_prefix_keeps_complete_sequences);
    tcase_add_test(tp, test_jstr_prefix_keeps_invalid_bytes);
    tcase_add_test(tp, test_jstr_prefix_then_append_reassembles);
    suite_add_tcase(s, tp);
    return s;
}

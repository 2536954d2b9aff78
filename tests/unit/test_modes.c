/* test_modes: akernel execution modes (common/modes.c): parse and canonical format. */
#include <check.h>
#include <string.h>

#include "common/modes.h"
#include "suites.h"

#define ALL_MODES (MODE_CACHE | MODE_MULTI | MODE_REACT | MODE_CONCURRENT)
#define UNKNOWN(word) "unknown mode \"" word "\" (modes: cache, multi, react, concurrent, joined with -)"

static unsigned parse_ok(const char *text)
{
    unsigned flags = 0xdead;
    char err[256] = "";
    ck_assert_msg(modes_parse(text, &flags, err, sizeof err) == 0, "\"%s\" refused: %s", text, err);
    return flags;
}

static void assert_parse_error(const char *text, const char *expect)
{
    unsigned flags;
    char err[256] = "";
    ck_assert_msg(modes_parse(text, &flags, err, sizeof err) == -1, "\"%s\" accepted", text);
    ck_assert_str_eq(err, expect);
}

START_TEST(test_modes_parse_default)
{
    ck_assert_uint_eq(parse_ok(""), 0);
    ck_assert_uint_eq(parse_ok("default"), 0);
}
END_TEST

START_TEST(test_modes_parse_single)
{
    ck_assert_uint_eq(parse_ok("cache"), MODE_CACHE);
    ck_assert_uint_eq(parse_ok("multi"), MODE_MULTI);
    ck_assert_uint_eq(parse_ok("react"), MODE_REACT);
    ck_assert_uint_eq(parse_ok("concurrent"), MODE_CONCURRENT);
}
END_TEST

START_TEST(test_modes_parse_any_order)
{
    ck_assert_uint_eq(parse_ok("react-multi"), MODE_REACT | MODE_MULTI);
    ck_assert_uint_eq(parse_ok("multi-react"), MODE_REACT | MODE_MULTI);
    ck_assert_uint_eq(parse_ok("cache-multi-react-concurrent"), ALL_MODES);
    ck_assert_uint_eq(parse_ok("concurrent-react-multi-cache"), ALL_MODES);
    ck_assert_uint_eq(parse_ok("concurrent-cache"), MODE_CONCURRENT | MODE_CACHE);
}
END_TEST

START_TEST(test_modes_parse_repeated_word)
{
    ck_assert_uint_eq(parse_ok("multi-multi"), MODE_MULTI);
}
END_TEST

START_TEST(test_modes_parse_trailing_dash_refused)
{
    /* "multi-" has an empty last word */
    assert_parse_error("multi-", UNKNOWN(""));
}
END_TEST

START_TEST(test_modes_parse_error_leaves_flags)
{
    unsigned flags = MODE_CACHE;
    char err[256];
    ck_assert_int_eq(modes_parse("multi-fast", &flags, err, sizeof err), -1);
    ck_assert_uint_eq(flags, MODE_CACHE);
}
END_TEST

START_TEST(test_modes_parse_unknown_word)
{
    assert_parse_error("fast", UNKNOWN("fast"));
    assert_parse_error("react-fast", UNKNOWN("fast"));
    assert_parse_error("Multi", UNKNOWN("Multi"));
    assert_parse_error("multireact", UNKNOWN("multireact"));
    assert_parse_error("multi_react", UNKNOWN("multi_react"));
    assert_parse_error("react-default", UNKNOWN("default"));
    assert_parse_error("mult", UNKNOWN("mult"));
    assert_parse_error("multi ", UNKNOWN("multi "));
}
END_TEST

START_TEST(test_modes_parse_empty_word)
{
    assert_parse_error("multi--react", UNKNOWN(""));
    assert_parse_error("-multi", UNKNOWN(""));
    assert_parse_error("-", UNKNOWN(""));
}
END_TEST

static void assert_format(unsigned flags, const char *expect)
{
    char out[64];
    memset(out, 'X', sizeof out);
    modes_format(flags, out, sizeof out);
    ck_assert_str_eq(out, expect);
}

START_TEST(test_modes_format_canonical)
{
    assert_format(0, "");
    assert_format(MODE_CONCURRENT, "concurrent");
    assert_format(MODE_REACT | MODE_MULTI, "multi-react");
    assert_format(MODE_CONCURRENT | MODE_CACHE, "cache-concurrent");
    assert_format(ALL_MODES, "cache-multi-react-concurrent");
    assert_format(1u << 4 | MODE_REACT, "react"); /* unknown bits ignored */
}
END_TEST

START_TEST(test_modes_format_parse_round_trip)
{
    for (unsigned flags = 0; flags <= ALL_MODES; flags++) {
        char out[64];
        modes_format(flags, out, sizeof out);
        ck_assert_uint_eq(parse_ok(out), flags);
    }
}
END_TEST

START_TEST(test_modes_format_small_buffer_stays_inside)
{
    char out[16];
    memset(out, 'X', sizeof out);
    modes_format(ALL_MODES, out, 8);
    ck_assert_uint_lt(strlen(out), 8);
    for (size_t i = 8; i < sizeof out; i++)
        ck_assert_int_eq(out[i], 'X');
}
END_TEST

Suite *modes_suite(void)
{
    Suite *s = suite_create("modes");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_modes_parse_default);
    tcase_add_test(tc, test_modes_parse_single);
    tcase_add_test(tc, test_modes_parse_any_order);
    tcase_add_test(tc, test_modes_parse_repeated_word);
    tcase_add_test(tc, test_modes_parse_trailing_dash_refused);
    tcase_add_test(tc, test_modes_parse_error_leaves_flags);
    tcase_add_test(tc, test_modes_parse_unknown_word);
    tcase_add_test(tc, test_modes_parse_empty_word);
    tcase_add_test(tc, test_modes_format_canonical);
    tcase_add_test(tc, test_modes_format_parse_round_trip);
    tcase_add_test(tc, test_modes_format_small_buffer_stays_inside);
    suite_add_tcase(s, tc);
    return s;
}

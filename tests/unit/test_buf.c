/* test_buf: the growable byte buffer (common/buf.c): append, consume, reserve. */
#include <check.h>
#include <string.h>

#include "common/buf.h"
#include "suites.h"

START_TEST(test_buf_empty_is_zero)
{
    struct buf b = {0};
    ck_assert_uint_eq(buf_pending(&b), 0);
    ck_assert_int_eq(buf_append(&b, "", 0), 0);
    ck_assert_uint_eq(buf_pending(&b), 0);
    buf_free(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.cap, 0);
}
END_TEST

START_TEST(test_buf_append_then_consume)
{
    struct buf b = {0};
    ck_assert_int_eq(buf_append(&b, "hello", 5), 0);
    ck_assert_int_eq(buf_append(&b, " world", 6), 0);
    ck_assert_uint_eq(buf_pending(&b), 11);
    ck_assert_mem_eq(buf_head(&b), "hello world", 11);
    buf_consume(&b, 6);
    ck_assert_uint_eq(buf_pending(&b), 5);
    ck_assert_mem_eq(buf_head(&b), "world", 5);
    ck_assert_uint_eq(b.off, 6);
    buf_free(&b);
}
END_TEST

START_TEST(test_buf_consume_all_rewinds)
{
    struct buf b = {0};
    buf_append(&b, "abc", 3);
    buf_consume(&b, 3);
    ck_assert_uint_eq(buf_pending(&b), 0);
    ck_assert_uint_eq(b.off, 0);
    ck_assert_uint_eq(b.len, 0);
    buf_append(&b, "xy", 2);
    ck_assert_ptr_eq(buf_head(&b), b.data);
    ck_assert_mem_eq(buf_head(&b), "xy", 2);
    buf_free(&b);
}
END_TEST

START_TEST(test_buf_consume_past_end_empties)
{
    struct buf b = {0};
    buf_append(&b, "abc", 3);
    buf_consume(&b, 10);
    ck_assert_uint_eq(buf_pending(&b), 0);
    ck_assert_uint_eq(b.off, 0);
    buf_free(&b);
}
END_TEST

START_TEST(test_buf_reserve_reuses_consumed_prefix)
{
    struct buf b = {0};
    char block[200];
    memset(block, 'a', sizeof block);
    block[150] = 'B';
    ck_assert_int_eq(buf_append(&b, block, 200), 0);
    ck_assert_uint_eq(b.cap, 256);
    char *data = b.data;
    buf_consume(&b, 150);
    /* 50 pending + 100 fits in 256 once the 150 consumed bytes are dropped */
    char more[100];
    memset(more, 'c', sizeof more);
    ck_assert_int_eq(buf_append(&b, more, 100), 0);
    ck_assert_uint_eq(b.cap, 256);
    ck_assert_ptr_eq(b.data, data);
    ck_assert_uint_eq(b.off, 0);
    ck_assert_uint_eq(buf_pending(&b), 150);
    ck_assert_int_eq(buf_head(&b)[0], 'B');
    ck_assert_mem_eq(buf_head(&b) + 50, more, 100);
    buf_free(&b);
}
END_TEST

START_TEST(test_buf_reserve_grows_when_needed)
{
    struct buf b = {0};
    char block[300];
    memset(block, 'z', sizeof block);
    ck_assert_int_eq(buf_append(&b, block, 300), 0);
    ck_assert_uint_eq(b.cap, 512);
    buf_consume(&b, 10);
    ck_assert_int_eq(buf_reserve(&b, 300), 0); /* 290 + 300 > 512 */
    ck_assert_uint_eq(b.cap, 1024);
    ck_assert_uint_eq(b.off, 0);
    ck_assert_uint_eq(buf_pending(&b), 290);
    ck_assert_int_eq(buf_head(&b)[289], 'z');
    buf_free(&b);
}
END_TEST

START_TEST(test_buf_reserve_keeps_room_without_moving)
{
    struct buf b = {0};
    buf_append(&b, "0123456789", 10);
    buf_consume(&b, 4);
    ck_assert_int_eq(buf_reserve(&b, 20), 0); /* fits: nothing moves */
    ck_assert_uint_eq(b.off, 4);
    ck_assert_mem_eq(buf_head(&b), "456789", 6);
    buf_free(&b);
}
END_TEST

START_TEST(test_buf_mixed_operations_match_reference)
{
    struct buf b = {0};
    char ref[8192];
    size_t ref_off = 0, ref_len = 0;
    unsigned seed = 12345;
    for (int step = 0; step < 5000; step++) {
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 16) % 97;
        if ((seed >> 8) & 1) {
            char chunk[97];
            for (size_t i = 0; i < n; i++)
                chunk[i] = (char)(step + (int)i);
            if (ref_len - ref_off + n > sizeof ref)
                continue;
            memmove(ref, ref + ref_off, ref_len - ref_off);
            ref_len -= ref_off;
            ref_off = 0;
            memcpy(ref + ref_len, chunk, n);
            ref_len += n;
            ck_assert_int_eq(buf_append(&b, chunk, n), 0);
        } else {
            if (n > ref_len - ref_off)
                n = ref_len - ref_off;
            ref_off += n;
            buf_consume(&b, n);
        }
        ck_assert_uint_eq(buf_pending(&b), ref_len - ref_off);
        if (buf_pending(&b))
            ck_assert_mem_eq(buf_head(&b), ref + ref_off, ref_len - ref_off);
    }
    buf_free(&b);
}
END_TEST

START_TEST(test_buf_reset_keeps_capacity)
{
    struct buf b = {0};
    buf_append(&b, "abcdef", 6);
    buf_consume(&b, 2);
    buf_reset(&b);
    ck_assert_uint_eq(buf_pending(&b), 0);
    ck_assert_uint_eq(b.off, 0);
    ck_assert_uint_eq(b.cap, 256);
    buf_free(&b);
}
END_TEST

START_TEST(test_buf_find)
{
    struct buf b = {0};
    ck_assert_ptr_null(buf_find(&b, '\n')); /* no storage at all */
    buf_append(&b, "ab\ncd\n", 6);
    ck_assert_ptr_eq(buf_find(&b, '\n'), b.data + 2);
    buf_consume(&b, 3);
    ck_assert_ptr_eq(buf_find(&b, '\n'), b.data + 5);
    ck_assert_ptr_null(buf_find(&b, 'a')); /* consumed bytes are not searched */
    buf_free(&b);
}
END_TEST

Suite *buf_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_buf_empty_is_zero);
    tcase_add_test(tc, test_buf_append_then_consume);
    tcase_add_test(tc, test_buf_consume_all_rewinds);
    tcase_add_test(tc, test_buf_consume_past_end_empties);
    tcase_add_test(tc, test_buf_reserve_reuses_consumed_prefix);
    tcase_add_test(tc, test_buf_reserve_grows_when_needed);
    tcase_add_test(tc, test_buf_reserve_keeps_room_without_moving);
    tcase_add_test(tc, test_buf_mixed_operations_match_reference);
    tcase_add_test(tc, test_buf_reset_keeps_capacity);
    tcase_add_test(tc, test_buf_find);
    suite_add_tcase(s, tc);
    return s;
}

/* test_auth: HMAC-SHA256 signing and verification, and the replay guard (common/auth.c). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth.h"
#include "suites.h"

/* The expected signatures below were computed with Python's hmac module:
 *   /usr/bin/python3 -c "import hmac,hashlib;
 *       print(hmac.new(KEY, b''.join(PARTS), hashlib.sha256).hexdigest())"
 * with the KEY and PARTS given next to each constant. */

#define TYPICAL_KEY "a0436f6c-1916-498b-8eb9-e81ab9368e84"
#define TYPICAL_HEADER                                                                           \
    "{\"msg_id\":\"4f7a1c2e-9b3d-4e8a-a1f0-6c5d2b7e8f90\",\"msg_type\":\"execute_request\","     \
    "\"username\":\"alice\",\"session\":\"0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0\","              \
    "\"date\":\"2026-01-31T12:34:56.123456Z\",\"version\":\"5.3\"}"
#define TYPICAL_CONTENT                                                                          \
    "{\"code\":\"print(1)\",\"silent\":false,\"store_history\":true,\"user_expressions\":{},"     \
    "\"allow_stdin\":true,\"stop_on_error\":true}"
/* KEY=b'a0436f6c-1916-498b-8eb9-e81ab9368e84', PARTS=[TYPICAL_HEADER, b'{}', b'{}', TYPICAL_CONTENT] */
#define TYPICAL_SIG "1699dc939f78d184d892ab0177631b7102daf9b145b33a2f54f8693e3db328d9"
/* KEY=b'secret', PARTS=[b'', b'', b'', b''] */
#define EMPTY_PARTS_SIG "f9e66e179b6747ae54108f82f8ade8b3c25d76fd30afde6c395822c530196169"
/* KEY=b'cl\xc3\xa9\xff\x00\x80k', PARTS=[b'{"a":1}', b'{}', b'{}', b'{}'] */
#define NONASCII_KEY_SIG "fb13752a03e8d3364fbccb1471388b1d636fe59169fc74c1bb4a5919bbd4a33e"
/* KEY=b'0123456789'*10 (100 bytes), PARTS=[b'{"a":1}', b'{}', b'{}', b'{}'] */
#define LONG_KEY_SIG "3abfdba5071a0f69ed7a560c68860d115c7a892fd241db4671b0707a58cfc783"
/* KEY=b'x'*64 (exactly the block size), same PARTS */
#define KEY64_SIG "b78a13f3957f485eaa9250961a8032b3549fc0329e98e8831d64b70db96dbf4d"
/* KEY=b'x'*65, same PARTS */
#define KEY65_SIG "baa28a79fb449dcfe64b701a81381c3b8fe287c2fcae8c4db01a82c0d9bfeabf"

static const struct span small_parts[4] = {{"{\"a\":1}", 7}, {"{}", 2}, {"{}", 2}, {"{}", 2}};

static void typical_parts(struct span parts[4])
{
    parts[0] = span_str(TYPICAL_HEADER);
    parts[1] = span_str("{}");
    parts[2] = span_str("{}");
    parts[3] = span_str(TYPICAL_CONTENT);
}

/* Sign `parts` with `key` and check the hex against `expect`. */
static void assert_signature(const void *key, size_t keylen, const struct span *parts, size_t nparts,
                             const char *expect)
{
    struct signer *s = signer_new(key, keylen);
    ck_assert_ptr_nonnull(s);
    ck_assert(signer_enabled(s));
    unsigned char digest[AUTH_DIGEST_LEN];
    char hex[AUTH_HEX_LEN + 1];
    ck_assert_int_eq(signer_digest(s, parts, nparts, digest), 0);
    signer_hex(digest, hex);
    ck_assert_str_eq(hex, expect);
    signer_free(s);
}

START_TEST(test_auth_typical_message_signature)
{
    struct span parts[4];
    typical_parts(parts);
    assert_signature(TYPICAL_KEY, strlen(TYPICAL_KEY), parts, 4, TYPICAL_SIG);
}
END_TEST

START_TEST(test_auth_empty_parts_signature)
{
    struct span parts[4] = {{"", 0}, {"", 0}, {"", 0}, {"", 0}};
    assert_signature("secret", 6, parts, 4, EMPTY_PARTS_SIG);
    assert_signature("secret", 6, NULL, 0, EMPTY_PARTS_SIG); /* same bytes: nothing */
}
END_TEST

START_TEST(test_auth_non_ascii_key_signature)
{
    static const char key[] = "cl\xc3\xa9\xff\x00\x80k"; /* 8 bytes, one of them NUL */
    assert_signature(key, 8, small_parts, 4, NONASCII_KEY_SIG);
}
END_TEST

START_TEST(test_auth_long_key_signature)
{
    char key[101];
    for (int i = 0; i < 100; i++)
        key[i] = (char)('0' + i % 10);
    assert_signature(key, 100, small_parts, 4, LONG_KEY_SIG);
}
END_TEST

START_TEST(test_auth_block_size_keys_signature)
{
    char key[65];
    memset(key, 'x', sizeof key);
    assert_signature(key, 64, small_parts, 4, KEY64_SIG);
    assert_signature(key, 65, small_parts, 4, KEY65_SIG);
}
END_TEST

START_TEST(test_auth_signature_independent_of_part_split)
{
    /* HMAC is over the concatenation, so splitting differently changes nothing */
    struct span split[3] = {{"{\"a\"", 4}, {":1}{}{", 6}, {"}{}", 3}};
    char key[64];
    memset(key, 'x', sizeof key);
    assert_signature(key, 64, split, 3, KEY64_SIG);
}
END_TEST

START_TEST(test_auth_signer_reusable)
{
    struct signer *s = signer_new(TYPICAL_KEY, strlen(TYPICAL_KEY));
    ck_assert_ptr_nonnull(s);
    struct span parts[4];
    typical_parts(parts);
    unsigned char digest[AUTH_DIGEST_LEN];
    char hex[AUTH_HEX_LEN + 1];
    for (int round = 0; round < 3; round++) {
        struct span other = span_str("something else entirely");
        ck_assert_int_eq(signer_digest(s, &other, 1, digest), 0);
        ck_assert_int_eq(signer_digest(s, parts, 4, digest), 0);
        signer_hex(digest, hex);
        ck_assert_str_eq(hex, TYPICAL_SIG);
    }
    signer_free(s);
}
END_TEST

START_TEST(test_auth_signer_hex_lowercase)
{
    unsigned char digest[AUTH_DIGEST_LEN];
    for (int i = 0; i < AUTH_DIGEST_LEN; i++)
        digest[i] = (unsigned char)(i * 8 + 7);
    char hex[AUTH_HEX_LEN + 1];
    memset(hex, '?', sizeof hex);
    signer_hex(digest, hex);
    ck_assert_str_eq(hex, "070f171f272f373f474f575f676f777f878f979fa7afb7bfc7cfd7dfe7eff7ff");
    ck_assert_int_eq(hex[AUTH_HEX_LEN], '\0');
}
END_TEST

START_TEST(test_auth_empty_key_disabled)
{
    struct signer *s = signer_new("", 0);
    ck_assert_ptr_nonnull(s);
    ck_assert(!signer_enabled(s));
    signer_free(s);
    s = signer_new(NULL, 0);
    ck_assert_ptr_nonnull(s);
    ck_assert(!signer_enabled(s));
    /* a signer without a key refuses to sign or verify instead of crashing */
    unsigned char digest[AUTH_DIGEST_LEN];
    struct span part = span_str("{}");
    ck_assert_int_eq(signer_digest(s, &part, 1, digest), -1);
    ck_assert(!signer_verify(s, span_str("0000000000000000000000000000000000000000000000000000000000000000"),
                             &part, 1, digest));
    signer_free(s);
    signer_free(NULL);
}
END_TEST

/* Run signer_verify with the typical key and message on `sig`. */
static bool verify_typical(struct span sig, unsigned char digest[AUTH_DIGEST_LEN])
{
    struct signer *s = signer_new(TYPICAL_KEY, strlen(TYPICAL_KEY));
    ck_assert_ptr_nonnull(s);
    struct span parts[4];
    typical_parts(parts);
    bool ok = signer_verify(s, sig, parts, 4, digest);
    signer_free(s);
    return ok;
}

START_TEST(test_auth_verify_accepts_lowercase)
{
    unsigned char digest[AUTH_DIGEST_LEN];
    char hex[AUTH_HEX_LEN + 1];
    ck_assert(verify_typical(span_str(TYPICAL_SIG), digest));
    signer_hex(digest, hex);
    ck_assert_str_eq(hex, TYPICAL_SIG); /* the digest is handed back */
}
END_TEST

START_TEST(test_auth_verify_accepts_uppercase)
{
    char upper[] = TYPICAL_SIG;
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    unsigned char digest[AUTH_DIGEST_LEN];
    ck_assert(verify_typical(span_str(upper), digest));
}
END_TEST

START_TEST(test_auth_verify_rejects_each_flipped_digit)
{
    unsigned char digest[AUTH_DIGEST_LEN];
    for (int i = 0; i < AUTH_HEX_LEN; i++) {
        char sig[] = TYPICAL_SIG;
        sig[i] = sig[i] == '0' ? '1' : '0';
        ck_assert_msg(!verify_typical(span_str(sig), digest), "flipped digit %d accepted", i);
    }
}
END_TEST

START_TEST(test_auth_verify_rejects_wrong_length)
{
    unsigned char digest[AUTH_DIGEST_LEN];
    struct span sig = span_str(TYPICAL_SIG);
    sig.len = 63;
    ck_assert(!verify_typical(sig, digest));
    ck_assert(!verify_typical(span_str(TYPICAL_SIG "0"), digest));
    ck_assert(!verify_typical(span_str(TYPICAL_SIG TYPICAL_SIG), digest));
    sig.len = 32; /* the raw-digest length */
    ck_assert(!verify_typical(sig, digest));
}
END_TEST

START_TEST(test_auth_verify_rejects_non_hex)
{
    unsigned char digest[AUTH_DIGEST_LEN];
    static const char bad[] = {'g', 'G', 'x', ' ', '-', '\0', ':', '@', '`', (char)0xc3};
    for (size_t k = 0; k < sizeof bad; k++) {
        char sig[] = TYPICAL_SIG;
        sig[10] = bad[k];
        struct span s = {sig, AUTH_HEX_LEN};
        ck_assert_msg(!verify_typical(s, digest), "byte 0x%02x accepted", (unsigned char)bad[k]);
    }
}
END_TEST

START_TEST(test_auth_verify_rejects_empty)
{
    unsigned char digest[AUTH_DIGEST_LEN];
    ck_assert(!verify_typical(span_str(""), digest));
}
END_TEST

START_TEST(test_auth_verify_rejects_other_message)
{
    struct signer *s = signer_new(TYPICAL_KEY, strlen(TYPICAL_KEY));
    struct span parts[4];
    typical_parts(parts);
    parts[3] = span_str("{\"code\":\"print(2)\"}");
    unsigned char digest[AUTH_DIGEST_LEN];
    ck_assert(!signer_verify(s, span_str(TYPICAL_SIG), parts, 4, digest));
    signer_free(s);
}
END_TEST

START_TEST(test_auth_verify_rejects_other_key)
{
    struct signer *s = signer_new(TYPICAL_KEY "x", strlen(TYPICAL_KEY) + 1);
    struct span parts[4];
    typical_parts(parts);
    unsigned char digest[AUTH_DIGEST_LEN];
    ck_assert(!signer_verify(s, span_str(TYPICAL_SIG), parts, 4, digest));
    signer_free(s);
}
END_TEST

/* A digest whose every byte derives from n. */
static void make_digest(uint32_t n, unsigned char d[AUTH_DIGEST_LEN])
{
    uint64_t x = n * 0x9e3779b97f4a7c15ull + 1;
    for (int i = 0; i < AUTH_DIGEST_LEN; i++) {
        x ^= x >> 29;
        x *= 0xbf58476d1ce4e5b9ull;
        x ^= x >> 32;
        d[i] = (unsigned char)x;
    }
}

START_TEST(test_auth_replay_same_digest_refused)
{
    struct replay_guard *g = replay_guard_new(16);
    ck_assert_ptr_nonnull(g);
    unsigned char a[AUTH_DIGEST_LEN], b[AUTH_DIGEST_LEN];
    make_digest(1, a);
    make_digest(2, b);
    ck_assert(replay_guard_admit(g, a));
    ck_assert(!replay_guard_admit(g, a));
    ck_assert(replay_guard_admit(g, b));
    ck_assert(!replay_guard_admit(g, a));
    ck_assert(!replay_guard_admit(g, b));
    replay_guard_free(g);
}
END_TEST

START_TEST(test_auth_replay_oldest_forgotten)
{
    struct replay_guard *g = replay_guard_new(4);
    unsigned char d[6][AUTH_DIGEST_LEN];
    for (int i = 0; i < 6; i++)
        make_digest((uint32_t)i + 100, d[i]);
    for (int i = 0; i < 4; i++)
        ck_assert(replay_guard_admit(g, d[i]));
    for (int i = 0; i < 4; i++)
        ck_assert(!replay_guard_admit(g, d[i])); /* all four remembered */
    ck_assert(replay_guard_admit(g, d[4]));      /* pushes d0 out */
    ck_assert(replay_guard_admit(g, d[0]));      /* forgotten; pushes d1 out */
    ck_assert(!replay_guard_admit(g, d[2]));
    ck_assert(!replay_guard_admit(g, d[3]));
    ck_assert(!replay_guard_admit(g, d[4]));
    ck_assert(!replay_guard_admit(g, d[0]));
    ck_assert(replay_guard_admit(g, d[1]));
    replay_guard_free(g);
}
END_TEST

START_TEST(test_auth_replay_capacity_zero_acts_as_one)
{
    struct replay_guard *g = replay_guard_new(0);
    ck_assert_ptr_nonnull(g);
    unsigned char a[AUTH_DIGEST_LEN], b[AUTH_DIGEST_LEN];
    make_digest(7, a);
    make_digest(8, b);
    ck_assert(replay_guard_admit(g, a));
    ck_assert(!replay_guard_admit(g, a));
    ck_assert(replay_guard_admit(g, b));
    ck_assert(replay_guard_admit(g, a));
    replay_guard_free(g);
}
END_TEST

/* Draw `draws` digests from a pool of `pool` and check the guard against a
 * reference: admitted[i] is the admission count when pool digest i was last
 * admitted, so it is in the window of the last `cap` admitted digests iff
 * count - admitted[i] < cap. `digest_of` makes pool digest i. */
static void stress_guard(size_t cap, uint32_t pool, uint32_t draws,
                         void (*digest_of)(uint32_t, unsigned char *))
{
    struct replay_guard *g = replay_guard_new(cap);
    ck_assert_ptr_nonnull(g);
    int64_t *admitted = malloc(pool * sizeof *admitted);
    for (uint32_t i = 0; i < pool; i++)
        admitted[i] = -1;
    int64_t count = 0, refused = 0;
    uint64_t rng = 88172645463325252ull;
    for (uint32_t step = 0; step < draws; step++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        uint32_t i = (uint32_t)(rng % pool);
        unsigned char d[AUTH_DIGEST_LEN];
        digest_of(i, d);
        bool in_window = admitted[i] >= 0 && count - admitted[i] < (int64_t)cap;
        bool got = replay_guard_admit(g, d);
        ck_assert_msg(got == !in_window, "step %u digest %u: admit=%d, expected %d", step, i, got,
                      !in_window);
        if (got)
            admitted[i] = ++count;
        else
            refused++;
    }
    /* both outcomes happened often enough for the check to mean something */
    ck_assert_int_gt(refused, draws / 20);
    ck_assert_int_gt(count, draws / 20);
    free(admitted);
    replay_guard_free(g);
}

static void uniform_digest(uint32_t i, unsigned char *d) { make_digest(i, d); }

/* 400 home slots straddling the end of the 2048-slot table of a guard of
 * 1000 (slots 1900..2047 and 0..251): long probe runs that wrap around, so
 * backward-shift deletion must move entries across the end of the table. */
static void clustered_digest(uint32_t i, unsigned char *d)
{
    make_digest(i, d);
    uint32_t home = 1900 + (i * 7) % 400;
    memset(d, 0, 8);
    d[0] = (unsigned char)(home & 0xff);
    d[1] = (unsigned char)(home >> 8);
    d[8] = (unsigned char)(i & 0xff);
    d[9] = (unsigned char)(i >> 8);
}

START_TEST(test_auth_replay_stress_uniform)
{
    stress_guard(1000, 2500, 100000, uniform_digest);
}
END_TEST

START_TEST(test_auth_replay_stress_clustered)
{
    stress_guard(1000, 2500, 30000, clustered_digest);
}
END_TEST

START_TEST(test_auth_replay_stress_tiny_capacity)
{
    stress_guard(3, 10, 20000, uniform_digest);
}
END_TEST

Suite *auth_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("signer");
    tcase_add_test(tc, test_auth_typical_message_signature);
    tcase_add_test(tc, test_auth_empty_parts_signature);
    tcase_add_test(tc, test_auth_non_ascii_key_signature);
    tcase_add_test(tc, test_auth_long_key_signature);
    tcase_add_test(tc, test_auth_block_size_keys_signature);
    tcase_add_test(tc, test_auth_signature_independent_of_part_split);
    tcase_add_test(tc, test_auth_signer_reusable);
    tcase_add_test(tc, test_auth_signer_hex_lowercase);
    tcase_add_test(tc, test_auth_empty_key_disabled);
    tcase_add_test(tc, test_auth_verify_accepts_lowercase);
    tcase_add_test(tc, test_auth_verify_accepts_uppercase);
    tcase_add_test(tc, test_auth_verify_rejects_each_flipped_digit);
    tcase_add_test(tc, test_auth_verify_rejects_wrong_length);
    tcase_add_test(tc, test_auth_verify_rejects_non_hex);
    tcase_add_test(tc, test_auth_verify_rejects_empty);
    tcase_add_test(tc, test_auth_verify_rejects_other_message);
    tcase_add_test(tc, test_auth_verify_rejects_other_key);
    suite_add_tcase(s, tc);

    TCase *rg = tcase_create("replay_guard");
    tcase_set_timeout(rg, 60);
    tcase_add_test(rg, test_auth_replay_same_digest_refused);
    tcase_add_test(rg, test_auth_replay_oldest_forgotten);
    tcase_add_test(rg, test_auth_replay_capacity_zero_acts_as_one);
    tcase_add_test(rg, test_auth_replay_stress_uniform);
    tcase_add_test(rg, test_auth_replay_stress_clustered);
    tcase_add_test(rg, test_auth_replay_stress_tiny_capacity);
    suite_add_tcase(s, rg);
    return s;
}

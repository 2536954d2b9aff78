/* auth: HMAC-SHA256 signatures (OpenSSL EVP_MAC) and the replay guard. */
#include "common/auth.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct signer {
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx; /* keyed once; re-initialised per message */
};

struct signer *signer_new(const void *key, size_t keylen)
{
    struct signer *s = calloc(1, sizeof *s);
    if (!s || keylen == 0)
        return s;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    s->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    s->ctx = s->mac ? EVP_MAC_CTX_new(s->mac) : NULL;
    if (!s->ctx || !EVP_MAC_init(s->ctx, key, keylen, params)) {
        signer_free(s);
        return NULL;
    }
    return s;
}

void signer_free(struct signer *s)
{
    if (!s)
        return;
    EVP_MAC_CTX_free(s->ctx);
    EVP_MAC_free(s->mac);
    free(s);
}

bool signer_enabled(const struct signer *s) { return s->ctx != NULL; }

int signer_digest(struct signer *s, const struct span *parts, size_t nparts,
                  unsigned char digest[AUTH_DIGEST_LEN])
{
    size_t outlen = 0;
    if (!s->ctx || !EVP_MAC_init(s->ctx, NULL, 0, NULL))
        return -1;
    for (size_t i = 0; i < nparts; i++)
        if (!EVP_MAC_update(s->ctx, (const unsigned char *)parts[i].data, parts[i].len))
            return -1;
    if (!EVP_MAC_final(s->ctx, digest, &outlen, AUTH_DIGEST_LEN) || outlen != AUTH_DIGEST_LEN)
        return -1;
    return 0;
}

void signer_hex(const unsigned char digest[AUTH_DIGEST_LEN], char hex[AUTH_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < AUTH_DIGEST_LEN; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[AUTH_HEX_LEN] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool signer_verify(struct signer *s, struct span signature, const struct span *parts,
                   size_t nparts, unsigned char digest[AUTH_DIGEST_LEN])
{
    unsigned char claimed[AUTH_DIGEST_LEN];
    if (signature.len != AUTH_HEX_LEN)
        return false;
    for (int i = 0; i < AUTH_DIGEST_LEN; i++) {
        int hi = hex_value(signature.data[2 * i]), lo = hex_value(signature.data[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        claimed[i] = (unsigned char)(hi << 4 | lo);
    }
    if (signer_digest(s, parts, nparts, digest) < 0)
        return false;
    return CRYPTO_memcmp(claimed, digest, AUTH_DIGEST_LEN) == 0;
}

/* The replay guard keeps the first 16 bytes of each digest (HMAC output is
 * uniform, so 128 bits never collide by chance) in a ring, indexed by an
 * open-addressing table with linear probing and backward-shift deletion. */
#define REPLAY_KEY_LEN 16

struct replay_guard {
    size_t capacity, count, next;
    unsigned char (*ring)[REPLAY_KEY_LEN];
    uint32_t *slots; /* ring index + 1, or 0 when empty */
    size_t mask;
};

struct replay_guard *replay_guard_new(size_t capacity)
{
    struct replay_guard *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    size_t nslots = 16;
    while (nslots < 2 * capacity)
        nslots *= 2;
    g->capacity = capacity ? capacity : 1;
    g->mask = nslots - 1;
    g->ring = calloc(g->capacity, REPLAY_KEY_LEN);
    g->slots = calloc(nslots, sizeof *g->slots);
    if (!g->ring || !g->slots) {
        replay_guard_free(g);
        return NULL;
    }
    return g;
}

void replay_guard_free(struct replay_guard *g)
{
    if (!g)
        return;
    free(g->ring);
    free(g->slots);
    free(g);
}

static size_t home_slot(const struct replay_guard *g, const unsigned char *key)
{
    uint64_t h;
    memcpy(&h, key, sizeof h);
    return (size_t)h & g->mask;
}

/* Slot holding `key`, or the empty slot where it would go. */
static size_t find_slot(const struct replay_guard *g, const unsigned char *key)
{
    size_t i = home_slot(g, key);
    while (g->slots[i] && memcmp(g->ring[g->slots[i] - 1], key, REPLAY_KEY_LEN) != 0)
        i = (i + 1) & g->mask;
    return i;
}

static void remove_slot(struct replay_guard *g, size_t hole)
{
    g->slots[hole] = 0;
    for (size_t j = (hole + 1) & g->mask; g->slots[j]; j = (j + 1) & g->mask) {
        size_t k = home_slot(g, g->ring[g->slots[j] - 1]);
        bool stays = hole <= j ? (hole < k && k <= j) : (hole < k || k <= j);
        if (stays)
            continue;
        g->slots[hole] = g->slots[j];
        g->slots[j] = 0;
        hole = j;
    }
}

bool replay_guard_admit(struct replay_guard *g, const unsigned char digest[AUTH_DIGEST_LEN])
{
    size_t slot = find_slot(g, digest);
    if (g->slots[slot])
        return false;
    if (g->count == g->capacity) { /* forget the oldest */
        remove_slot(g, find_slot(g, g->ring[g->next]));
        slot = find_slot(g, digest);
    } else {
        g->count++;
    }
    memcpy(g->ring[g->next], digest, REPLAY_KEY_LEN);
    g->slots[slot] = (uint32_t)g->next + 1;
    g->next = (g->next + 1) % g->capacity;
    return true;
}

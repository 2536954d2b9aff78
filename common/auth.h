/* auth: message authentication for the Jupyter wire protocol.
 *
 * A signer computes HMAC-SHA256 over the four JSON parts of a message and
 * checks a received hex signature in constant time. An empty key means
 * messages are unsigned (as jupyter_client does). A replay guard remembers
 * the digests of recently accepted messages and refuses to accept one twice. */
#ifndef AKG_AUTH_H
#define AKG_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

#define AUTH_DIGEST_LEN 32
#define AUTH_HEX_LEN 64

struct signer;

/* Returns NULL when libcrypto cannot provide HMAC-SHA256. */
struct signer *signer_new(const void *key, size_t keylen);
void signer_free(struct signer *s);
/* False when the key is empty: messages are neither signed nor checked. */
bool signer_enabled(const struct signer *s);

/* HMAC over the concatenated parts. Returns 0, or -1 on a libcrypto error
 * or when the signer has no key. */
int signer_digest(struct signer *s, const struct span *parts, size_t nparts,
                  unsigned char digest[AUTH_DIGEST_LEN]);
/* Writes 64 lowercase hex digits and a NUL. */
void signer_hex(const unsigned char digest[AUTH_DIGEST_LEN], char hex[AUTH_HEX_LEN + 1]);

/* Check `signature` (hex, as received) against the parts. On success the
 * computed digest is stored in `digest` for the replay guard. */
bool signer_verify(struct signer *s, struct span signature, const struct span *parts,
                   size_t nparts, unsigned char digest[AUTH_DIGEST_LEN]);

struct replay_guard;

/* Remembers the last `capacity` digests. NULL when out of memory. */
struct replay_guard *replay_guard_new(size_t capacity);
void replay_guard_free(struct replay_guard *g);
/* Records the digest; returns false if it was already recorded (a replay). */
bool replay_guard_admit(struct replay_guard *g, const unsigned char digest[AUTH_DIGEST_LEN]);

#endif

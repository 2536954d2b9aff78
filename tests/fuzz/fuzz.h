/* fuzz.h: what every libFuzzer harness here shares. */
#ifndef AKG_FUZZ_H
#define AKG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth.h"

/* An invariant of the code under test: a broken one is a crash libFuzzer keeps. */
#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);   \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

/* The key tests/fuzz/make_corpus.py signs the seed messages with. */
#define FUZZ_KEY "9b7c2e4a-1f0d-4c3b-8a6e-5d2f1e0c9b8a"

/* Signers with FUZZ_KEY and with no key (unsigned messages), for harnesses
 * that parse messages; made once, in LLVMFuzzerInitialize. */
static inline void fuzz_signers(struct signer **keyed, struct signer **unkeyed)
{
    *keyed = signer_new(FUZZ_KEY, strlen(FUZZ_KEY));
    *unkeyed = signer_new("", 0);
    CHECK(*keyed && *unkeyed && signer_enabled(*keyed) && !signer_enabled(*unkeyed));
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif

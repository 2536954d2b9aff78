/* modes: akernel's execution modes (cache, multi, react, concurrent), as
 * written on the command line and in kernelspec names: dash-joined, in the
 * canonical order cache-multi-react-concurrent. */
#ifndef AKG_MODES_H
#define AKG_MODES_H

#include <stddef.h>

enum {
    MODE_CACHE = 1 << 0,
    MODE_MULTI = 1 << 1,
    MODE_REACT = 1 << 2,
    MODE_CONCURRENT = 1 << 3,
};

/* Parse "react-multi" (any order, "" or "default" = none) into flags.
 * Returns -1 and names the unknown word in err. */
int modes_parse(const char *text, unsigned *flags, char *err, size_t errlen);
/* Canonical spelling ("" for the default mode). */
void modes_format(unsigned flags, char *out, size_t outlen);

#endif

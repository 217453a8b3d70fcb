// Thin shim over Debian's zlib1g-dev. inflateInit2 is a function-like macro that Swift cannot
// import, so it is re-exposed as a static inline function.
#ifndef LSTMD_CZLIB_SHIM_H
#define LSTMD_CZLIB_SHIM_H
#include <zlib.h>

static inline int lstmd_inflateInit2(z_streamp stream, int windowBits) {
    return inflateInit2(stream, windowBits);
}
#endif

// Thin shim over Debian's libopenblas-dev (pkg-config: openblas). cblas.h also declares
// openblas_set_num_threads, which the trainer uses (inference uses no BLAS).
#ifndef LSTMD_CBLAS_SHIM_H
#define LSTMD_CBLAS_SHIM_H
#include <cblas.h>
#endif

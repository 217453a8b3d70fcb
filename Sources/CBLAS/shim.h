// Thin shim over Debian's libopenblas-dev (pkg-config: openblas). cblas.h also declares
// openblas_set_num_threads, which lstmd uses to keep small row-step GEMMs on one thread.
#ifndef LSTMD_CBLAS_SHIM_H
#define LSTMD_CBLAS_SHIM_H
#include <cblas.h>
#endif

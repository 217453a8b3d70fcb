// Thin shim over Debian's libzmq3-dev (pkg-config: libzmq). No code of ours: just the header.
#ifndef LSTMD_CZEROMQ_SHIM_H
#define LSTMD_CZEROMQ_SHIM_H
#include <zmq.h>
#endif

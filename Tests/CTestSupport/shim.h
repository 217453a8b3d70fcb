// libc functions the test harness needs and Swift's Glibc module does not show. They are in libc
// itself, so the prototypes are all that is needed.
#ifndef LSTMD_CTESTSUPPORT_SHIM_H
#define LSTMD_CTESTSUPPORT_SHIM_H
#include <spawn.h>

// posix_openpt(3) and its companions, for programs run on a pseudo-terminal. glibc declares them
// only under _XOPEN_SOURCE, which the Glibc module is not built with.
int posix_openpt(int flags);
int grantpt(int fd);
int unlockpt(int fd);
char *ptsname(int fd);

// Closes every descriptor from `from` up in the spawned child (glibc 2.34, declared under
// _GNU_SOURCE), so a child inherits none of the test process's sockets and pipes.
int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);

// pipe(2) with flags (declared under _GNU_SOURCE): close-on-exec from the start, so that no child
// spawned by another thread meanwhile inherits a test's pipe.
int pipe2(int fds[2], int flags);
#endif

// posix_openpt(3) and its companions, for the tests that run a program on a pseudo-terminal.
// glibc declares them only under _XOPEN_SOURCE, which Swift's Glibc module is not built with;
// they are in libc itself, so the prototypes are all that is needed.
#ifndef LSTMD_CPSEUDOTERMINAL_SHIM_H
#define LSTMD_CPSEUDOTERMINAL_SHIM_H
int posix_openpt(int flags);
int grantpt(int fd);
int unlockpt(int fd);
char *ptsname(int fd);
#endif

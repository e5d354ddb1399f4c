#ifndef PUSHDOC_CLINUX_SHIM_H
#define PUSHDOC_CLINUX_SHIM_H
// Linux interfaces that Swift's Glibc module leaves out.
#include <sys/vfs.h>
#include <sys/prctl.h>
#include <linux/magic.h>

// prctl is variadic, which Swift cannot call.
static inline int pushdoc_set_dumpable(int dumpable) {
    return prctl(PR_SET_DUMPABLE, (unsigned long)dumpable, 0UL, 0UL, 0UL);
}
#endif

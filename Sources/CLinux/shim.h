#ifndef PUSHDOC_CLINUX_SHIM_H
#define PUSHDOC_CLINUX_SHIM_H
// Linux interfaces that Swift's Glibc module leaves out.
#include <sys/vfs.h>
#include <sys/eventfd.h>
#include <malloc.h>
#include <sys/prctl.h>
#include <linux/magic.h>
#include <spawn.h>
#include <fcntl.h>
#include <unistd.h>

// prctl is variadic, which Swift cannot call.
static inline int pushdoc_set_dumpable(int dumpable) {
    return prctl(PR_SET_DUMPABLE, (unsigned long)dumpable, 0UL, 0UL, 0UL);
}

// The calling thread's name, 15 bytes at most (`top -H`, `perf`).
static inline int pushdoc_set_thread_name(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
}

// A pipe close-on-exec from its making (pipe2 is left out).
static inline int pushdoc_pipe_cloexec(int ends[2]) {
    return pipe2(ends, O_CLOEXEC);
}

// A spawned child keeps no descriptor from `lowest` up (glibc 2.34).
static inline int pushdoc_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest) {
    return posix_spawn_file_actions_addclosefrom_np(actions, lowest);
}
#endif

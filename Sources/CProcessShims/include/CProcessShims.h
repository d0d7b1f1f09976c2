// prctl(2) is variadic and so not callable from Swift; this wraps the one use.
// syncfs(2) is declared only under _GNU_SOURCE, which Swift's Glibc module
// does not define; it is wrapped here for the same reason.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/prctl.h>
#include <unistd.h>

/// Marks the process non-dumpable: no core file, no ptrace by other users.
static inline int ztoken_disable_dumping(void) { return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); }

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/// renameat2(RENAME_EXCHANGE): swaps two paths atomically. glibc's wrapper
/// is not exported to Swift, so the system call is made directly.
static inline int ztoken_rename_exchange(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, RENAME_EXCHANGE);
}

/// Flushes the file system holding `fd` (syncfs(2)).
static inline int ztoken_syncfs(int fd) { return syncfs(fd); }


#include <string.h>

/// memmem(3) and memrchr(3), glibc's vectorised searches that `scan` is
/// built on; GNU extensions, so Swift's Glibc module does not export them.
static inline void *ztoken_memmem(const void *haystack, size_t length, const void *needle, size_t needle_length) {
    return memmem(haystack, length, needle, needle_length);
}
static inline void *ztoken_memrchr(const void *bytes, int byte, size_t length) {
    return memrchr(bytes, byte, length);
}

#include <sys/mman.h>

/// memfd_create(2) (glibc ≥ 2.27, _GNU_SOURCE only): an anonymous file that
/// feeds `git cat-file --batch` its list of objects as standard input.
static inline int ztoken_memfd(const char *name) { return memfd_create(name, MFD_CLOEXEC); }

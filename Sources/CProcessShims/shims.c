// The one shim with a body of its own: its system headers stay out of the
// Clang module Swift imports (they clashed with Glibc's module map).
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "CProcessShims.h"
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <dirent.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

/// Removes every non-directory entry of the open directory `dirfd`, then
/// the directory `name` in `parentfd`, in a detached grandchild process that
/// has only those two descriptors open, so the caller returns at once and
/// no lock, pipe or terminal of the caller stays held by the remover. An
/// flock(2) the caller holds on `dirfd` is inherited and held until the
/// remover exits: that is how a later sweep tells "in progress" from
/// "abandoned". Only async-signal-safe calls run after fork(2), so this is
/// safe in a multi-threaded caller. Returns 0 once the grandchild was
/// started, -1 (errno set) when it could not be.
/// A record's file name: 12 characters of a-z and 2-7 (a token id), then
/// ".sealed". Async-signal-safe (no allocation), for the remover after fork.
static int ztoken_is_record_name(const char *name) {
    for (int i = 0; i < 12; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) return 0;
    }
    const char *suffix = ".sealed";
    for (int i = 0; i < 8; i++) {
        if (name[12 + i] != suffix[i]) return 0;   // i == 7 compares the terminating NUL
    }
    return 1;
}

int ztoken_remove_directory_in_background(int parentfd, const char *name, int dirfd) {
    // Descriptors 0-2 become /dev/null in the remover.
    if (parentfd < 3 || dirfd < 3) { errno = EBADF; return -1; }
    pid_t child = fork();
    if (child < 0) return -1;
    if (child == 0) {
        setsid();
        pid_t worker = fork();
        if (worker != 0) _exit(worker < 0 ? 1 : 0);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) { dup2(null, 0); dup2(null, 1); dup2(null, 2); }
        // Keep only the two descriptors: above all not the vault lock's,
        // which would hold the lock for the whole removal. close_range(2)
        // is missing before Linux 5.9 and refused by older seccomp
        // profiles; then close them one by one up to the descriptor limit.
        int low = parentfd < dirfd ? parentfd : dirfd, high = parentfd < dirfd ? dirfd : parentfd;
        int closed = 0;
        if (low > 3) closed |= (int)syscall(SYS_close_range, 3u, (unsigned)(low - 1), 0u);
        if (high > low + 1) closed |= (int)syscall(SYS_close_range, (unsigned)(low + 1), (unsigned)(high - 1), 0u);
        closed |= (int)syscall(SYS_close_range, (unsigned)(high + 1), ~0u, 0u);
        if (closed != 0) {
            struct rlimit limit;
            long last = getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
                ? (long)limit.rlim_cur : 1L << 20;
            for (long fd = 3; fd < last; fd++) {
                if (fd != parentfd && fd != dirfd) close((int)fd);
            }
        }
        setpriority(PRIO_PROCESS, 0, 10);
        // Entries removed while reading may shift later ones, so read again
        // from the start until a pass removes nothing.
        char buffer[32768];
        for (int removed = 1; removed; ) {
            removed = 0;
            if (lseek(dirfd, 0, SEEK_SET) < 0) break;
            long n;
            while ((n = syscall(SYS_getdents64, dirfd, buffer, sizeof buffer)) > 0) {
                for (long offset = 0; offset < n; ) {
                    struct dirent64 *entry = (struct dirent64 *)(buffer + offset);
                    offset += entry->d_reclen;
                    const char *entryName = entry->d_name;
                    // Only records (`<12 of a-z2-7>.sealed`, as VaultLayout.recordID
                    // reads them): anything else is not ours to delete.
                    if (!ztoken_is_record_name(entryName)) continue;
                    if (unlinkat(dirfd, entryName, 0) == 0) removed = 1;
                }
            }
        }
        unlinkat(parentfd, name, AT_REMOVEDIR);
        _exit(0);
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) { errno = EAGAIN; return -1; }
    return 0;
}

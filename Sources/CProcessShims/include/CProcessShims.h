// prctl(2) is variadic and so not callable from Swift; this wraps the one use.
#include <sys/prctl.h>

/// Marks the process non-dumpable: no core file, no ptrace by other users.
static inline int ztoken_disable_dumping(void) { return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); }

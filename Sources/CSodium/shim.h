// libsodium, exactly as the system installs it; nothing else lives here.
#include <sodium.h>

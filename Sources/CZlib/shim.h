// zlib, exactly as the system installs it. Test-only: the age conformance
// vectors ship some files deflated; nothing in the product links this.
#include <zlib.h>

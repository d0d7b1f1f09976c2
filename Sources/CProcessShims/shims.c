// Intentionally empty: the shim is header-only (static inline), and SwiftPM
// needs one source file to build a C target.

import Foundation

// Scratch directories and file facts for tests: private temp directories that
// are removed with everything in them, and a path's mode and inode as lstat
// reports them (a symbolic link is never followed).
#if canImport(Glibc)
import Glibc
#endif

/// mkdtemp failed.
public struct TemporaryDirectoryFailed: Error, CustomStringConvertible {
    public var errno: Int32
    public var description: String { "mkdtemp under /tmp failed: \(String(cString: strerror(errno)))" }
}

/// A new 0700 directory `/tmp/<prefix>-XXXXXX` (mkdtemp), returned as a path.
public func makeTemporaryDirectory(prefix: String) throws -> String {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw TemporaryDirectoryFailed(errno: errno) }
    return String(cString: made)
}

/// Removes `path` and everything below it, first giving back the owner's
/// permissions that tests take away from directories.
public func removeTemporaryDirectory(_ path: String) {
    func makeRemovable(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { return }
        chmod(path, 0o700)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
            makeRemovable(path + "/" + name)
        }
    }
    makeRemovable(path)
    try? FileManager.default.removeItem(atPath: path)
}

public enum FileStatus {
    /// The permission bits of `path` (`st_mode & 0o7777`), or nil if it does not exist.
    public static func mode(_ path: String) -> mode_t? {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & 0o7777 : nil
    }

    /// The inode number of `path`, or nil if it does not exist.
    public static func inode(_ path: String) -> ino_t? {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_ino : nil
    }
}

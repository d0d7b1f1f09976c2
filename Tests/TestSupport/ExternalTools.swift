// Finds the programs tests drive (tar, java, age, strace, flock…). A missing
// tool is a test failure with a message naming the package, never a silent skip.
import Foundation

public enum ExternalTools {
    /// A program that is not installed, with the Debian package that brings it.
    public struct Missing: Error, CustomStringConvertible {
        public var tool: String
        public var package: String
        public var description: String {
            "'\(tool)' is not on PATH; install the Debian package \(package) to run this test"
        }
    }

    /// The absolute path of `name` on PATH or in the usual system directories, or nil.
    public static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") + ["/usr/bin", "/bin", "/usr/sbin", "/sbin"] {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The absolute path of `name`, or a thrown `Missing` error naming `package`.
    public static func locate(_ name: String, package: String) throws -> String {
        guard let found = find(name) else { throw Missing(tool: name, package: package) }
        return found
    }
}

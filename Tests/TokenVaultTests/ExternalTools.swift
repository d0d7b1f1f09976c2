// Runs the real tools the bundle must interoperate with (GNU tar, Java's
// java.util.Properties) from tests; TestSupport finds them.
import Foundation
import TestSupport
import Testing

/// The outcome of running a program.
struct ToolResult {
    var status: Int32
    var stdout: Data
    var stderr: Data
    var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

extension ExternalTools {
    /// Runs `executable` with `arguments`, output captured through temp files
    /// (pipes can deadlock when both fill up).
    static func run(_ executable: String, _ arguments: [String], in directory: URL? = nil) throws -> ToolResult {
        let scratch = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("out")
        let errURL = scratch.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        return ToolResult(
            status: process.terminationStatus,
            stdout: try Data(contentsOf: outURL), stderr: try Data(contentsOf: errURL))
    }

    /// A new empty private directory under /tmp.
    static func temporaryDirectory() throws -> URL {
        URL(fileURLWithPath: try makeTemporaryDirectory(prefix: "ztoken-bundle-tests"))
    }

    /// Loads `properties` with java.util.Properties — both `load(InputStream)`
    /// (ISO-8859-1) and `load(Reader)` (UTF-8), which must agree — and returns
    /// every key and value. Java prints them hex-encoded as UTF-8, so nothing
    /// is lost in transit. Relies on `java` (a JDK: single-file source launch).
    static func javaLoad(_ properties: [UInt8]) throws -> [String: String] {
        let java = try locate("java", package: "default-jdk-headless (or openjdk-17-jdk-headless)")
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(javaChecker.utf8).write(to: directory.appendingPathComponent("Check.java"))
        try Data(properties).write(to: directory.appendingPathComponent("in.properties"))
        let result = try run(java, ["Check.java", "in.properties"], in: directory)
        guard result.status == 0 else {
            throw JavaFailed(message: "java exited \(result.status): \(result.stderrText)")
        }
        var map: [String: String] = [:]
        for line in String(decoding: result.stdout, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, let key = fromHex(parts[0]), let value = fromHex(parts[1]) else {
                throw JavaFailed(message: "unexpected output line \(line)")
            }
            map[key] = value
        }
        return map
    }

    struct JavaFailed: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    private static func fromHex(_ hex: Substring) -> String? {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) ?? hex.endIndex
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static let javaChecker = #"""
        import java.io.*;
        import java.nio.charset.StandardCharsets;
        import java.util.*;

        public class Check {
            static String hex(String s) {
                StringBuilder b = new StringBuilder();
                for (byte x : s.getBytes(StandardCharsets.UTF_8)) b.append(String.format("%02x", x & 0xff));
                return b.toString();
            }
            public static void main(String[] args) throws Exception {
                Properties bytes = new Properties();
                try (InputStream in = new FileInputStream(args[0])) { bytes.load(in); }
                Properties text = new Properties();
                try (Reader in = new InputStreamReader(new FileInputStream(args[0]), StandardCharsets.UTF_8)) { text.load(in); }
                if (!bytes.equals(text)) { System.err.println("load(InputStream) and load(Reader) disagree"); System.exit(2); }
                for (String k : new TreeSet<>(bytes.stringPropertyNames())) {
                    System.out.println(hex(k) + " " + hex(bytes.getProperty(k)));
                }
            }
        }
        """#
}

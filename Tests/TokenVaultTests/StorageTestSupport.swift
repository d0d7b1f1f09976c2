import Foundation
import TestSupport
import Testing

@testable import TokenVault

// Helpers for the storage and vault unit tests: a private scratch directory,
// a test vault made with the minimal KDF, and scoped fault injection.
//
// Fault injection and `FaultInjection.hook`: the hook is one process-global
// variable, and `swift test` runs every suite of every test target (the
// end-to-end ones too, which open vaults in process) in parallel in one
// process. A fault meant for one test must never fail another test's write.
// So the fault plan is not stored in the global at all: it is a task-local
// (`FaultScope.plan`), visible only to the task that bound it. The global
// hook is a capture-free closure that just asks "does the current task have a
// plan?"; a syscall made by any other suite sees no plan and is not touched,
// even while the hook is installed. Task-locals (not thread ids) are used
// because they follow the test's task, whatever thread runs it. Installing
// and removing the hook are serialized by `FaultScope.gate`, so two scoped
// runs never race on the global, and the hook is always reset on the way out.
#if canImport(Glibc)
import Glibc
#endif

/// Fails the `n`th call of one operation (counting from 1) with `errno`, or
/// several such calls: a fault `onward` fails that call and every later one
/// of its kind (strace's `when=N+`), to fail a write and then its clean-up.
final class FaultPlan: @unchecked Sendable {
    struct Fault: Sendable {
        var operation: FaultInjection.Operation
        var n: Int
        var onward = false
    }

    let faults: [Fault]
    let code: Int32
    private let lock = NSLock()
    private var seen: [FaultInjection.Operation: Int] = [:]
    private(set) var fired = false

    convenience init(_ operation: FaultInjection.Operation, n: Int, errno code: Int32) {
        self.init([Fault(operation: operation, n: n)], errno: code)
    }

    init(_ faults: [Fault], errno code: Int32) {
        self.faults = faults
        self.code = code
    }

    /// A plan that never fails; it only counts calls.
    static func counting() -> FaultPlan { FaultPlan([], errno: 0) }

    func count(of operation: FaultInjection.Operation) -> Int {
        lock.lock()
        defer { lock.unlock() }
        return seen[operation, default: 0]
    }

    func decide(_ operation: FaultInjection.Operation) -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        seen[operation, default: 0] += 1
        let call = seen[operation, default: 0]
        guard code != 0,
            faults.contains(where: { $0.operation == operation && (call == $0.n || $0.onward && call > $0.n) })
        else { return nil }
        fired = true
        return code
    }
}

enum FaultScope {
    @TaskLocal static var plan: FaultPlan?
    private static let gate = NSLock()

    /// Runs `body` with `plan` applied to this task's syscalls only.
    static func run<T>(_ plan: FaultPlan, _ body: () throws -> T) rethrows -> T {
        gate.lock()
        defer { gate.unlock() }
        FaultInjection.hook = { operation in FaultScope.plan?.decide(operation) }
        defer { FaultInjection.hook = nil }
        return try $plan.withValue(plan) { try body() }
    }
}

/// A private 0700 directory under /tmp, removed with everything in it on deinit.
final class ScratchDirectory {
    let path: String

    init() throws {
        path = try makeTemporaryDirectory(prefix: "ztoken-unit")
    }

    deinit {
        removeTemporaryDirectory(path)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func names() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }

    func bytes(_ name: String) -> [UInt8]? {
        FileManager.default.contents(atPath: file(name)).map(Array.init)
    }

    func write(_ bytes: [UInt8], to name: String, mode: mode_t = 0o600) {
        _ = FileManager.default.createFile(atPath: file(name), contents: Data(bytes))
        chmod(file(name), mode)
    }

    /// Opens the directory the way VaultDirectory does.
    func open() throws -> Int32 { try Syscall.openDirectory(path) }

    static func mode(_ path: String) -> mode_t? { FileStatus.mode(path) }

    static func inode(_ path: String) -> ino_t? { FileStatus.inode(path) }
}

enum TestVault {
    static let passphrase = "correct horse battery staple"

    /// Turns the Argon2id cost down to libsodium's minimum for this process
    /// (debug builds only; the product default is untouched). Must run before
    /// anything reads `KeyWrap.testOnlyMinimalCost`, which is read once.
    static func useMinimalKDF() {
        MinimalKDF.enable()
    }

    static func secret(_ text: String) -> SecureBytes { SecureBytes(copying: Array(text.utf8)) }

    /// A new passphrase vault at `<scratch>/vault`.
    static func make(in scratch: ScratchDirectory, name: String = "vault") throws -> Vault {
        useMinimalKDF()
        return try Vault.initialize(
            at: scratch.file(name),
            setup: VaultSetup(
                user: "tester", kdf: .interactive,
                keyProtection: .passphrase(secret(passphrase))))
    }
}

// The C2SP CCTV age vectors in ../shared/vectors/age/, one test case per file.
// Each case checks the outcome class (success, no match, HMAC failure, header
// failure, payload failure) by running decryption phase by phase, and the
// SHA-256 of all plaintext released, even when a later chunk fails.
import CZlib
import Foundation
import Testing

@testable import TokenVault

enum AgeVectors {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let folder = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/vectors/age")
    static let requiredPrefixes = ["x25519", "scrypt", "stream", "hmac", "header", "stanza", "version", "empty"]

    /// The optional ASCII armor vectors ztoken also passes: all but the
    /// post-quantum one, whose recipient type ztoken does not implement.
    static var armorNames: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasPrefix("armor") && !$0.contains("hybrid") }.sorted()
    }

    /// The required vector names; empty when the folder is missing (then the
    /// `folderIsPresent` test fails).
    static var requiredNames: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { name in requiredPrefixes.contains { name.hasPrefix($0) } }.sorted()
    }

    struct Vector {
        var expect = ""
        var payload: String?
        var identities: [String] = []
        var passphrases: [String] = []
        var fileKey: String?
        var compressed = false
        var armored = false
        var unknownKeys: [String] = []
        var body: [UInt8] = []
    }

    static func load(_ name: String) throws -> Vector {
        let data = try [UInt8](Data(contentsOf: folder.appendingPathComponent(name)))
        var vector = Vector()
        var offset = 0
        while true {
            guard let end = data[offset...].firstIndex(of: 0x0A) else {
                throw VectorError("no blank line after the vector header")
            }
            let line = String(decoding: data[offset..<end], as: UTF8.self)
            offset = end + 1
            if line.isEmpty { break }
            guard let colon = line.range(of: ": ") else { throw VectorError("bad vector header line") }
            let key = String(line[..<colon.lowerBound])
            let value = String(line[colon.upperBound...])
            switch key {
            case "expect": vector.expect = value
            case "payload": vector.payload = value
            case "identity": vector.identities.append(value)
            case "passphrase": vector.passphrases.append(value)
            case "file key": vector.fileKey = value
            case "compressed": vector.compressed = value == "zlib"
            case "armored": vector.armored = value == "yes"
            case "comment": break
            default: vector.unknownKeys.append(key)
            }
        }
        vector.body = Array(data[offset...])
        if vector.compressed { vector.body = try inflate(vector.body) }
        return vector
    }

    struct VectorError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Inflates a zlib stream with the system libz.
    static func inflate(_ input: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit_(&stream, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw VectorError("inflateInit failed")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var input = input
        var status: Int32 = Z_OK
        input.withUnsafeMutableBufferPointer { inBuffer in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = UInt32(inBuffer.count)
            repeat {
                chunk.withUnsafeMutableBufferPointer { outBuffer in
                    stream.next_out = outBuffer.baseAddress
                    stream.avail_out = UInt32(outBuffer.count)
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    output += outBuffer[0..<(outBuffer.count - Int(stream.avail_out))]
                }
            } while status == Z_OK
        }
        guard status == Z_STREAM_END else { throw VectorError("zlib inflate failed with status \(status)") }
        return output
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// Decrypts phase by phase and names the phase that failed, as the vectors do.
    static func run(_ vector: Vector, name: String) throws -> (outcome: String, payload: String, fileKey: String?) {
        var identities: [AgeIdentity] = []
        for text in vector.identities {
            identities.append(.x25519(try AgeX25519Identity(parsing: SecureBytes(copying: Array(text.utf8)))))
        }
        for text in vector.passphrases { identities.append(.passphrase(SecureBytes(copying: Array(text.utf8)))) }

        var hasher = Sodium.SHA256Hasher()
        func result(_ outcome: String, _ fileKey: String? = nil) -> (String, String, String?) {
            (outcome, hex(hasher.finalize()), fileKey)
        }
        var body = vector.body
        if vector.armored {
            do { body = try AgeArmor.dearmor(body, path: name) } catch { return result("armor failure") }
        }
        let reader = AgeReader(bytes: body)
        let header: AgeHeader
        do { header = try AgeHeader.parse(reader, path: name) } catch { return result("header failure") }
        let fileKey: SecureBytes
        do {
            fileKey = try AgeDecryptor.unwrapFileKey(header, identities: identities, path: name)
        } catch VaultError.wrongIdentity, VaultError.wrongPassphrase {
            return result("no match")
        } catch { return result("header failure") }
        let keyHex = fileKey.withUnsafeBytes { hex($0) }
        do { try header.verifyMAC(fileKey: fileKey, path: name) } catch { return result("HMAC failure", keyHex) }
        let payload: AgeStreamDecryptor
        do { payload = try AgeDecryptor.openPayload(reader, fileKey: fileKey, path: name) } catch {
            return result("header failure", keyHex)
        }
        do {
            while try payload.next({ hasher.update($0) }) {}
        } catch { return result("payload failure", keyHex) }
        return result("success", keyHex)
    }
}

@Suite("age conformance vectors (C2SP CCTV)")
struct AgeVectorTests {
    @Test("the vector folder is present and complete")
    func folderIsPresent() {
        var isDirectory: ObjCBool = false
        #expect(
            FileManager.default.fileExists(atPath: AgeVectors.folder.path, isDirectory: &isDirectory)
                && isDirectory.boolValue,
            "age vectors missing at \(AgeVectors.folder.path)")
        // 92 required vectors as shipped: empty 1, header 1, hmac 8, scrypt 25, stanza 14, stream 28, version 1, x25519 14.
        #expect(AgeVectors.requiredNames.count >= 92, "found only \(AgeVectors.requiredNames.count) required vectors")
    }

    @Test("vector", arguments: AgeVectors.requiredNames)
    func vector(_ name: String) throws {
        let vector = try AgeVectors.load(name)
        #expect(!vector.armored, "armored vectors are not in the required set")
        try check(vector, name: name)
    }

    @Test("the armor vectors are present")
    func armorVectorsArePresent() {
        // 33 armor vectors as shipped, one of them hybrid (post-quantum).
        #expect(AgeVectors.armorNames.count >= 32, "found only \(AgeVectors.armorNames.count) armor vectors")
    }

    @Test("armor vector", arguments: AgeVectors.armorNames)
    func armorVector(_ name: String) throws {
        let vector = try AgeVectors.load(name)
        #expect(vector.armored, "\(name) is not marked armored")
        try check(vector, name: name)
    }

    /// Runs `vector` phase by phase and through the one-call API, which
    /// must find the armor by itself.
    func check(_ vector: AgeVectors.Vector, name: String) throws {
        #expect(vector.unknownKeys.isEmpty, "unknown vector keys \(vector.unknownKeys)")
        let got = try AgeVectors.run(vector, name: name)
        #expect(got.outcome == vector.expect)
        // Vectors without a payload line released nothing.
        #expect(
            got.payload
                == (vector.payload ?? AgeVectors.hex(Sodium.sha256(UnsafeRawBufferPointer(start: nil, count: 0)))))
        if got.outcome == "success" || got.outcome == "payload failure" || got.outcome == "HMAC failure" {
            #expect(got.fileKey == vector.fileKey)
        }

        // The one-call API agrees: success gives the same plaintext, failures the same class of error.
        var identities: [AgeIdentity] = vector.passphrases.map { .passphrase(SecureBytes(copying: Array($0.utf8))) }
        identities += try vector.identities.map {
            .x25519(try AgeX25519Identity(parsing: SecureBytes(copying: Array($0.utf8))))
        }
        do {
            let plaintext = try Age.decrypt(vector.body, with: identities, path: name)
            #expect(vector.expect == "success")
            #expect(plaintext.withUnsafeBytes { AgeVectors.hex(Sodium.sha256($0)) } == vector.payload)
        } catch let error as VaultError {
            switch error {
            case .wrongIdentity, .wrongPassphrase: #expect(vector.expect == "no match")
            case .corrupt:
                #expect(["header failure", "HMAC failure", "payload failure", "armor failure"].contains(vector.expect))
            default: Issue.record("unexpected error \(error)")
            }
        }
    }
}

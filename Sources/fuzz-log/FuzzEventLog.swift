// libFuzzer target: feeds each input to TokenVault's eventLog parser entry
// (see FuzzEntryPoints.swift). Built only with `swift build --sanitize fuzzer`
// and ZTOKEN_FUZZ=1 (scripts/fuzz); libFuzzer supplies main().
import TokenVault

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    FuzzEntryPoints.eventLog(bytes)
    return 0
}

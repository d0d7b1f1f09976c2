// The tokens `list` shows, as the index's own bytes. A listing of 10,000
// tokens that made a `TokenInfo` (nine Strings) per row spent more time in
// String allocation than in reading the vault; a listing hands out each
// field as UTF-8 bytes inside the index it was read from, checked exactly as
// strictly as every other read (`IndexTable`), and makes Strings only when a
// caller asks for a `TokenInfo`.

/// The tokens of one read of the index, in creation order.
public struct TokenListing: Sendable {
    private let table: IndexTable
    /// Positions in `table` of the tokens listed.
    private let positions: [Int32]

    init(table: IndexTable, includeRevoked: Bool) {
        self.table = table
        var positions: [Int32] = []
        positions.reserveCapacity(table.count)
        for entry in 0..<table.count where includeRevoked || table.isActive(entry) {
            positions.append(Int32(entry))
        }
        self.positions = positions
    }

    /// How many tokens are listed.
    public var count: Int { positions.count }
    public var isEmpty: Bool { positions.isEmpty }

    /// The ids of the listed tokens.
    public func ids() -> [String] {
        withFields { fields in (0..<fields.count).map { String(decoding: fields.id($0), as: UTF8.self) } }
    }

    /// One listed token as the model.
    public func info(_ row: Int) -> TokenInfo { table.info(Int(positions[row])) }

    /// Calls `body` with the fields of every listed token. The buffers
    /// `Fields` hands out are valid only during `body`.
    public func withFields<R>(_ body: (Fields) throws -> R) rethrows -> R {
        try table.withView { view in
            try positions.withUnsafeBufferPointer { positions in
                try body(Fields(view: view, positions: positions))
            }
        }
    }

    /// The fields of the listed tokens as UTF-8, escapes undone. Only `id`,
    /// `kind` and `state` are known to be plain ASCII; every other field is
    /// text from a file and must be escaped before it reaches a terminal.
    public struct Fields {
        fileprivate let view: IndexTable.View
        fileprivate let positions: UnsafeBufferPointer<Int32>

        public var count: Int { positions.count }

        @inline(__always)
        private func optional(_ row: Int, _ field: IndexTable.Field) -> UnsafeBufferPointer<UInt8>? {
            view.content(Int(positions[row]), field)
        }

        /// Required fields are present in every entry (`IndexTable` checked).
        @inline(__always)
        private func required(_ row: Int, _ field: IndexTable.Field) -> UnsafeBufferPointer<UInt8> {
            optional(row, field) ?? UnsafeBufferPointer(start: nil, count: 0)
        }

        public func id(_ row: Int) -> UnsafeBufferPointer<UInt8> { required(row, .id) }
        public func label(_ row: Int) -> UnsafeBufferPointer<UInt8> { required(row, .label) }
        /// `api` or `zbot`.
        public func kind(_ row: Int) -> UnsafeBufferPointer<UInt8> { required(row, .kind) }
        public func createdAt(_ row: Int) -> UnsafeBufferPointer<UInt8> { required(row, .createdAt) }
        public func last4(_ row: Int) -> UnsafeBufferPointer<UInt8> { required(row, .last4) }
        /// `active` or `revoked`.
        public func state(_ row: Int) -> UnsafeBufferPointer<UInt8> { required(row, .state) }
        public func revokedAt(_ row: Int) -> UnsafeBufferPointer<UInt8>? { optional(row, .revokedAt) }
        public func agentName(_ row: Int) -> UnsafeBufferPointer<UInt8>? { optional(row, .agent) }
        public func serverURL(_ row: Int) -> UnsafeBufferPointer<UInt8>? { optional(row, .serverURL) }
    }
}

extension Vault {
    /// The tokens in creation order, as the index's bytes: active ones, or
    /// all with `includeRevoked`. For showing many tokens; `tokens` gives the
    /// same tokens as `TokenInfo`s.
    public func listing(includeRevoked: Bool = false) throws -> TokenListing {
        TokenListing(table: try readIndex(), includeRevoked: includeRevoked)
    }

    /// The tokens in creation order: active ones, or all with `includeRevoked`.
    public func tokens(includeRevoked: Bool = false) throws -> [TokenInfo] {
        let listing = try listing(includeRevoked: includeRevoked)
        return (0..<listing.count).map(listing.info)
    }
}

import AuditJSONParser

/// A precompiled object key: its UTF-8 bytes, ready for allocation-free lookups.
public struct JSONKey: Sendable, Hashable {
    /// The key's UTF-8 bytes.
    public let bytes: [UInt8]

    public init(_ key: String) {
        self.bytes = Array(key.utf8)
    }

    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }
}

/// A precompiled path of object keys, such as `objectRef.resource`.
public struct JSONPath: Sendable, Hashable {
    /// The keys, outermost first.
    public let keys: [JSONKey]

    /// A dotted path: `"objectRef.resource"` means key `objectRef`, then key `resource`.
    /// (Keys that contain dots need ``init(components:)``.)
    public init(_ dotted: String) {
        self.keys = dotted.split(separator: ".", omittingEmptySubsequences: false).map { JSONKey(String($0)) }
    }

    /// A path from explicit keys, e.g. `["annotations", "authorization.k8s.io/decision"]`.
    public init(components: [String]) {
        self.keys = components.map { JSONKey($0) }
    }
}

/// A precompiled RFC 6901 JSON Pointer, such as `/requestObject/spec/containers/0/image`.
public struct JSONPointer: Sendable, Hashable {
    /// One reference token: the key for objects and, when the token is a valid array index, the index.
    public struct Token: Sendable, Hashable {
        public let key: JSONKey
        public let arrayIndex: Int?
    }

    /// The reference tokens, outermost first. Empty for the whole document.
    public let tokens: [Token]
    /// The pointer's text.
    public let text: String

    /// Parses a pointer. It must be empty (the whole document) or start with `/`; `~0` is `~` and `~1`
    /// is `/`; any other `~` sequence is an error.
    public init(_ pointer: String) throws(JSONError) {
        self.text = pointer
        let bytes = Array(pointer.utf8)
        if bytes.isEmpty {
            self.tokens = []
            return
        }
        guard bytes[0] == UInt8(ascii: "/") else { throw JSONError(offset: 0, reason: .invalidPointer) }
        var tokens: [Token] = []
        var current: [UInt8] = []
        var i = 1
        func finish() {
            var index: Int? = nil
            if !current.isEmpty, current.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
               current.count == 1 || current[0] != UInt8(ascii: "0"), current.count < 18 {
                index = current.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            }
            tokens.append(Token(key: JSONKey(bytes: current), arrayIndex: index))
            current = []
        }
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "/") {
                finish()
            } else if c == UInt8(ascii: "~") {
                guard i + 1 < bytes.count else { throw JSONError(offset: i, reason: .invalidPointer) }
                switch bytes[i + 1] {
                case UInt8(ascii: "0"): current.append(UInt8(ascii: "~"))
                case UInt8(ascii: "1"): current.append(UInt8(ascii: "/"))
                default: throw JSONError(offset: i, reason: .invalidPointer)
                }
                i += 1
            } else {
                current.append(c)
            }
            i += 1
        }
        finish()
        self.tokens = tokens
    }
}

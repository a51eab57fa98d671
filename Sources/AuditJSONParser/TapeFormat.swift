// The tape's layout and the types shared by the parser (compiled twice: see TapeParser.swift) and the
// JSONTape API (module AuditJSON). No Foundation.
//
// The tape: a flat array of 64-bit words describing one parsed JSON document.
//
// Every node takes two words.
//
//   word 0: tag (bits 56...63) | flags (bits 48...55) | payload (bits 0...47)
//   word 1: a 64-bit payload
//
//   string      payload = byte offset of the first content byte (after the quote)
//               flags bit 0 = the content holds backslash escapes; word 1 = content length in bytes
//   number      payload = byte offset of the literal; flags bit 0 = integer syntax (no '.', 'e', 'E');
//               word 1 = literal length
//   true/false/null   payload = byte offset; word 1 = literal length
//   object/array start   payload = tape index just past the matching end node (the skip index);
//               word 1 = byte offset of the opening bracket
//   object/array end     payload = tape index of the matching start node; word 1 = byte offset of the
//               closing bracket
//   deferred    (only with ``JSONTape/deferredKeys``) an object or array that was checked but not parsed:
//               payload = byte offset of the opening bracket; flags bit 0 = array; word 1 = length in bytes
//
// An object's children are key (a string node) and value, alternately. A lookup that passes over a
// nested container jumps to its skip index, so whole subtrees such as `requestObject` cost one step.

public let tagShift: UInt64 = 56
public let flagShift: UInt64 = 48
public let payloadMask: UInt64 = (1 << 48) - 1

/// The type of a tape node (bits 56...63 of its first word).
public enum TapeTag: UInt8, Sendable {
    case null = 1, falseValue, trueValue, number, string, objectStart, arrayStart, objectEnd, arrayEnd, deferred
}

/// The parser's output: the tape's words, kept in a local struct while parsing so that the hot loop works
/// on registers instead of class properties (no dynamic exclusivity checks).
public struct TapeWriter {
    public var words: UnsafeMutablePointer<UInt64>
    public var capacity: Int
    public var used: Int

    @inlinable public init(words: UnsafeMutablePointer<UInt64>, capacity: Int, used: Int) {
        self.words = words
        self.capacity = capacity
        self.used = used
    }

    /// Appends one node; with `checks`, grows the storage first when it is full.
    @inlinable @inline(__always)
    public mutating func emit(_ tag: TapeTag, _ flags: UInt64, _ payload: Int, _ second: UInt64, checks: Bool) {
        if checks && used &+ 2 > capacity { grow(used &+ 2) }
        words[used] = (UInt64(tag.rawValue) << tagShift) | (flags << flagShift) | UInt64(truncatingIfNeeded: payload)
        words[used &+ 1] = second
        used &+= 2
    }

    @inline(never) @usableFromInline
    mutating func grow(_ needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let n = UnsafeMutablePointer<UInt64>.allocate(capacity: newCapacity)
        n.update(from: words, count: used)
        words.deallocate()
        words = n
        capacity = newCapacity
    }
}

/// Object member names whose object or array values the parser leaves unparsed (see
/// `JSONTape.deferredKeys`), prepared for quick rejection: most keys differ from them in length.
public struct DeferredKeys: Sendable {
    public let keys: [[UInt8]]
    /// Bit k: a deferred key has k bytes (k < 64).
    public let lengths: UInt64
    /// A deferred key has 64 bytes or more.
    public let hasLong: Bool

    public init(_ names: [String]) {
        keys = names.map { Array($0.utf8) }
        lengths = keys.reduce(0) { $1.count < 64 ? $0 | (1 << UInt64($1.count)) : $0 }
        hasLong = keys.contains { $0.count >= 64 }
    }
}

/// Whether the `n` bytes at `a` and at `b` are equal (eight at a time).
@inlinable public func memoryEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    var i = 0
    while i &+ 8 <= n {
        if UnsafeRawPointer(a + i).loadUnaligned(as: UInt64.self) != (b + i).loadUnaligned(as: UInt64.self) { return false }
        i &+= 8
    }
    let bb = b.assumingMemoryBound(to: UInt8.self)
    while i < n {
        if a[i] != bb[i] { return false }
        i &+= 1
    }
    return true
}

/// The value of a hexadecimal digit; -1 for another byte.
@inlinable @inline(__always)
public func hexValue(_ c: UInt8) -> Int {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(c &- UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(c &- UInt8(ascii: "a")) &+ 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(c &- UInt8(ascii: "A")) &+ 10
    default: return -1
    }
}

/// Why a document was rejected, and where.
public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The reasons a document can be rejected.
    public enum Reason: String, Sendable {
        case empty = "empty input"
        case unexpectedEnd = "unexpected end of input"
        case unexpectedCharacter = "unexpected character"
        case expectedValue = "expected a value"
        case expectedKey = "expected a string key"
        case expectedColon = "expected ':' after key"
        case expectedCommaOrBrace = "expected ',' or '}'"
        case expectedCommaOrBracket = "expected ',' or ']'"
        case trailingCharacters = "unexpected characters after the value"
        case invalidLiteral = "invalid literal"
        case invalidNumber = "invalid number"
        case unterminatedString = "unterminated string"
        case invalidEscape = "invalid escape sequence"
        case controlCharacterInString = "unescaped control character in string"
        case tooDeep = "nesting too deep"
        case invalidPointer = "invalid JSON pointer"
    }
    /// Byte offset of the problem in the parsed bytes.
    public var offset: Int
    /// What is wrong.
    public var reason: Reason

    public init(offset: Int, reason: Reason) {
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "\(reason.rawValue) at byte \(offset)" }
}

import AuditJSONParser

/// The kinds of JSON values.
public enum JSONKind: Sendable, Equatable {
    case null, bool, number, string, object, array
    /// An object or array left unparsed (see ``JSONTape/deferredKeys``): only its raw bytes are known.
    case deferred
}

/// A view of one value on a ``JSONTape``.
///
/// A `JSONValue` is three words (no reference counting). It is valid until the tape parses its next
/// document, and only while the parsed bytes stay alive and unchanged.
public struct JSONValue {
    @usableFromInline let words: UnsafePointer<UInt64>
    @usableFromInline let base: UnsafePointer<UInt8>
    /// The index of this value's node on the tape.
    public let index: Int

    @inlinable init(words: UnsafePointer<UInt64>, base: UnsafePointer<UInt8>, index: Int) {
        self.words = words
        self.base = base
        self.index = index
    }

    /// The value at tape index `index` of the same tape (an index taken from another value of this
    /// document, e.g. a remembered ``index``).
    @inlinable public func sameTape(index: Int) -> JSONValue {
        JSONValue(words: words, base: base, index: index)
    }

    @inlinable var tag: UInt8 { UInt8(truncatingIfNeeded: words[index] >> tagShift) }
    @inlinable var payload: Int { Int(truncatingIfNeeded: words[index] & payloadMask) }
    @inlinable var flags: UInt64 { (words[index] >> flagShift) & 0xFF }

    /// The kind of this value.
    @inlinable public var kind: JSONKind {
        switch tag {
        case TapeTag.string.rawValue: return .string
        case TapeTag.number.rawValue: return .number
        case TapeTag.objectStart.rawValue: return .object
        case TapeTag.arrayStart.rawValue: return .array
        case TapeTag.null.rawValue: return .null
        case TapeTag.deferred.rawValue: return .deferred
        default: return .bool
        }
    }

    @inlinable public var isString: Bool { tag == TapeTag.string.rawValue }
    @inlinable public var isObject: Bool { tag == TapeTag.objectStart.rawValue }
    @inlinable public var isArray: Bool { tag == TapeTag.arrayStart.rawValue }
    @inlinable public var isNull: Bool { tag == TapeTag.null.rawValue }
    /// True for an object or array that the tape did not parse (``JSONTape/deferredKeys``): it has no
    /// members or elements here, only ``rawBytes``; parse those to read inside it.
    @inlinable public var isDeferred: Bool { tag == TapeTag.deferred.rawValue }

    /// The tape index just past this value (past the whole subtree for a container).
    @inlinable public var nextIndex: Int {
        let t = tag
        if t == TapeTag.objectStart.rawValue || t == TapeTag.arrayStart.rawValue { return payload }
        return index &+ 2
    }

    /// The value's bytes in the parsed input: a string's content between the quotes, undecoded; a number's
    /// or literal's text; a container's whole text, brackets included.
    @inlinable public var rawBytes: UnsafeRawBufferPointer {
        let t = tag
        if t == TapeTag.objectStart.rawValue || t == TapeTag.arrayStart.rawValue {
            let open = Int(truncatingIfNeeded: words[index &+ 1])
            let endNode = payload &- 2
            let close = Int(truncatingIfNeeded: words[endNode &+ 1])
            return UnsafeRawBufferPointer(start: base + open, count: close &- open &+ 1)
        }
        return UnsafeRawBufferPointer(start: base + payload, count: Int(truncatingIfNeeded: words[index &+ 1]))
    }

    /// Byte offset of the value in the parsed input (for a string, of its first content byte).
    @inlinable public var byteOffset: Int {
        let t = tag
        if t == TapeTag.objectStart.rawValue || t == TapeTag.arrayStart.rawValue {
            return Int(truncatingIfNeeded: words[index &+ 1])
        }
        return payload
    }

    /// True when this string holds backslash escapes (its raw bytes differ from its decoded text).
    @inlinable public var hasEscapes: Bool { tag == TapeTag.string.rawValue && flags & 1 != 0 }

    /// The boolean, for `true` and `false`.
    @inlinable public var boolValue: Bool? {
        switch tag {
        case TapeTag.trueValue.rawValue: return true
        case TapeTag.falseValue.rawValue: return false
        default: return nil
        }
    }

    /// The number as a 64-bit integer, when it is written as an integer and fits.
    public var int64Value: Int64? {
        guard tag == TapeTag.number.rawValue else { return nil }
        if flags & 1 == 0 {
            guard let d = doubleValue, d >= -9.223372036854775808e18, d < 9.223372036854775808e18 else { return nil }
            let i = Int64(d)
            return Double(i) == d ? i : nil
        }
        let raw = rawBytes
        var k = 0
        let negative = raw[0] == UInt8(ascii: "-")
        if negative { k = 1 }
        var value: Int64 = 0
        while k < raw.count {
            let digit = Int64(raw[k] &- UInt8(ascii: "0"))
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(digit) : m.addingReportingOverflow(digit)
            if o1 || o2 { return nil }
            value = s
            k += 1
        }
        return value
    }

    /// The number as a `Double` (±infinity when out of range, as `strtod` does).
    public var doubleValue: Double? {
        guard tag == TapeTag.number.rawValue else { return nil }
        return Double(String(decoding: rawBytes, as: UTF8.self))
    }

    // MARK: Containers

    /// Looks up `key` in this object. Returns nil when this is not an object or the key is absent.
    /// With duplicate keys, the **last** one wins, as in Go's encoding/json (which writes these logs and
    /// applies request bodies): a rule must see the value the API server acted on.
    @inlinable public func member(_ key: StaticString) -> JSONValue? {
        member(UnsafeRawBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
    }

    /// Looks up a precompiled key in this object.
    @inlinable public func member(_ key: JSONKey) -> JSONValue? {
        key.bytes.withUnsafeBytes { member($0) }
    }

    /// Looks up a key given as UTF-8 bytes in this object.
    @inlinable public func member(_ key: UnsafeRawBufferPointer) -> JSONValue? {
        guard tag == TapeTag.objectStart.rawValue else { return nil }
        let end = payload &- 2
        var i = index &+ 2
        var found = -1
        let length = UInt64(key.count)
        // A key node without escapes has exactly this tag-and-flags byte pair: one compare, then the
        // length, and the bytes only when both agree.
        let plainKey = UInt64(TapeTag.string.rawValue) << 8
        let containers = (1 as UInt64) << UInt64(TapeTag.objectStart.rawValue) | (1 as UInt64) << UInt64(TapeTag.arrayStart.rawValue)
        while i < end {
            let k = words[i]
            if k >> flagShift == plainKey {
                if words[i &+ 1] == length
                    && (length == 0 || memoryEqual(base + Int(truncatingIfNeeded: k & payloadMask), key.baseAddress!, key.count)) {
                    found = i &+ 2
                }
            } else if JSONValue(words: words, base: base, index: i).stringEquals(key) {
                found = i &+ 2
            }
            // The value: a container's skip index, or one node.
            let v = words[i &+ 2]
            i = containers & ((1 as UInt64) << (v >> tagShift)) != 0 ? Int(truncatingIfNeeded: v & payloadMask) : i &+ 4
        }
        return found < 0 ? nil : JSONValue(words: words, base: base, index: found)
    }

    /// The element at `position` of this array.
    @inlinable public func element(_ position: Int) -> JSONValue? {
        guard tag == TapeTag.arrayStart.rawValue, position >= 0 else { return nil }
        let end = payload &- 2
        var i = index &+ 2
        var k = 0
        while i < end {
            let v = JSONValue(words: words, base: base, index: i)
            if k == position { return v }
            k &+= 1
            i = v.nextIndex
        }
        return nil
    }

    /// Follows a dotted path of object keys, e.g. `objectRef.resource`.
    @inlinable public func value(at path: JSONPath) -> JSONValue? {
        var v = self
        for key in path.keys {
            guard let next = v.member(key) else { return nil }
            v = next
        }
        return v
    }

    /// Follows an RFC 6901 JSON Pointer.
    public func value(at pointer: JSONPointer) -> JSONValue? {
        var v = self
        for token in pointer.tokens {
            if v.isObject {
                guard let next = v.member(token.key) else { return nil }
                v = next
            } else if v.isArray {
                guard let position = token.arrayIndex, let next = v.element(position) else { return nil }
                v = next
            } else {
                return nil
            }
        }
        return v
    }

    /// The number of elements (array) or members (object); 0 for other values. Walks the container.
    public var count: Int {
        var n = 0
        if isArray {
            for _ in elements { n += 1 }
        } else if isObject {
            for _ in members { n += 1 }
        }
        return n
    }

    /// The elements of this array (none when this is not an array).
    @inlinable public var elements: JSONArrayIterator {
        if tag == TapeTag.arrayStart.rawValue {
            return JSONArrayIterator(words: words, base: base, next: index &+ 2, end: payload &- 2)
        }
        return JSONArrayIterator(words: words, base: base, next: 0, end: 0)
    }

    /// The members of this object, in document order (none when this is not an object).
    @inlinable public var members: JSONObjectIterator {
        if tag == TapeTag.objectStart.rawValue {
            return JSONObjectIterator(words: words, base: base, next: index &+ 2, end: payload &- 2)
        }
        return JSONObjectIterator(words: words, base: base, next: 0, end: 0)
    }

    // MARK: Strings

    /// Compares this string's decoded content with `s`, without allocating.
    @inlinable public func stringEquals(_ s: StaticString) -> Bool {
        stringEquals(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Compares this string's decoded content with UTF-8 bytes, without allocating.
    @inlinable public func stringEquals(_ other: UnsafeRawBufferPointer) -> Bool {
        let w = words[index]
        guard UInt8(truncatingIfNeeded: w >> tagShift) == TapeTag.string.rawValue else { return false }
        let length = Int(truncatingIfNeeded: words[index &+ 1])
        let start = base + Int(truncatingIfNeeded: w & payloadMask)
        if (w >> flagShift) & 1 == 0 {
            guard length == other.count else { return false }
            if length == 0 { return true }
            return memoryEqual(start, other.baseAddress!, length)
        }
        return escapedEquals(UnsafeRawBufferPointer(start: start, count: length), other)
    }

    /// The decoded string (allocates: for rendering and diagnostics, not for the hot path). For a
    /// non-string value, its JSON text.
    public func decodedString() -> String {
        if !isString || !hasEscapes { return String(decoding: rawBytes, as: UTF8.self) }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(rawBytes.count)
        appendDecoded(to: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    /// Calls `body` with successive pieces of this string's decoded UTF-8 bytes, without allocating
    /// (a non-string gives its JSON text in one piece).
    public func forEachDecodedPiece(_ body: (UnsafeRawBufferPointer) -> Void) {
        if !hasEscapes { body(rawBytes); return }
        forEachDecodedChunk(rawBytes, body)
    }

    /// Appends the decoded UTF-8 bytes of this string to `buffer` (a non-string appends its JSON text).
    /// Escaped lone surrogates become U+FFFD; raw bytes are copied unchanged.
    public func appendDecoded(to buffer: inout [UInt8]) {
        let raw = rawBytes
        if !hasEscapes {
            buffer.append(contentsOf: raw)
            return
        }
        forEachDecodedChunk(raw) { chunk in buffer.append(contentsOf: chunk) }
    }
}

/// Calls `body` with successive pieces of the decoded form of an escaped string's raw bytes.
@usableFromInline func forEachDecodedChunk(_ raw: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
    let n = raw.count
    var i = 0
    var runStart = 0
    var scratch: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
    func emitScalar(_ scalar: UInt32) {
        var v = scalar
        if v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) { v = 0xFFFD }
        withUnsafeMutableBytes(of: &scratch) { s in
            let count: Int
            if v < 0x80 {
                s[0] = UInt8(v); count = 1
            } else if v < 0x800 {
                s[0] = UInt8(0xC0 | (v >> 6)); s[1] = UInt8(0x80 | (v & 0x3F)); count = 2
            } else if v < 0x10000 {
                s[0] = UInt8(0xE0 | (v >> 12)); s[1] = UInt8(0x80 | ((v >> 6) & 0x3F)); s[2] = UInt8(0x80 | (v & 0x3F)); count = 3
            } else {
                s[0] = UInt8(0xF0 | (v >> 18)); s[1] = UInt8(0x80 | ((v >> 12) & 0x3F))
                s[2] = UInt8(0x80 | ((v >> 6) & 0x3F)); s[3] = UInt8(0x80 | (v & 0x3F)); count = 4
            }
            body(UnsafeRawBufferPointer(rebasing: s[0..<count]))
        }
    }
    func hex4(_ at: Int) -> UInt32? {
        guard at &+ 4 <= n else { return nil }
        var v: UInt32 = 0
        for k in 0..<4 {
            let h = hexValue(raw[at &+ k])
            if h < 0 { return nil }
            v = v << 4 | UInt32(h)
        }
        return v
    }
    while i < n {
        if raw[i] != UInt8(ascii: "\\") { i &+= 1; continue }
        if i > runStart { body(UnsafeRawBufferPointer(rebasing: raw[runStart..<i])) }
        guard i &+ 1 < n else { runStart = n; break }
        let e = raw[i &+ 1]
        switch e {
        case UInt8(ascii: "b"): emitScalar(0x08); i &+= 2
        case UInt8(ascii: "f"): emitScalar(0x0C); i &+= 2
        case UInt8(ascii: "n"): emitScalar(0x0A); i &+= 2
        case UInt8(ascii: "r"): emitScalar(0x0D); i &+= 2
        case UInt8(ascii: "t"): emitScalar(0x09); i &+= 2
        case UInt8(ascii: "u"):
            guard let u = hex4(i &+ 2) else { emitScalar(0xFFFD); i &+= 2; break }
            i &+= 6
            if u >= 0xD800 && u <= 0xDBFF, i &+ 6 <= n, raw[i] == UInt8(ascii: "\\"), raw[i &+ 1] == UInt8(ascii: "u"),
               let low = hex4(i &+ 2), low >= 0xDC00 && low <= 0xDFFF {
                emitScalar(0x10000 &+ ((u &- 0xD800) << 10) &+ (low &- 0xDC00))
                i &+= 6
            } else {
                emitScalar(u)
            }
        default: emitScalar(UInt32(e)); i &+= 2
        }
        runStart = i
    }
    if runStart < n { body(UnsafeRawBufferPointer(rebasing: raw[runStart..<n])) }
}

/// Compares the decoded form of an escaped string with plain UTF-8 bytes, without allocating.
@usableFromInline func escapedEquals(_ raw: UnsafeRawBufferPointer, _ other: UnsafeRawBufferPointer) -> Bool {
    var position = 0
    var equal = true
    forEachDecodedChunk(raw) { chunk in
        guard equal else { return }
        if position &+ chunk.count > other.count { equal = false; return }
        for k in 0..<chunk.count where chunk[k] != other[position &+ k] {
            equal = false
            return
        }
        position &+= chunk.count
    }
    return equal && position == other.count
}

/// Iterates over the elements of an array without allocating.
public struct JSONArrayIterator: Sequence, IteratorProtocol {
    @usableFromInline let words: UnsafePointer<UInt64>
    @usableFromInline let base: UnsafePointer<UInt8>
    @usableFromInline var position: Int
    @usableFromInline let end: Int

    @inlinable init(words: UnsafePointer<UInt64>, base: UnsafePointer<UInt8>, next: Int, end: Int) {
        self.words = words
        self.base = base
        self.position = next
        self.end = end
    }

    @inlinable public mutating func next() -> JSONValue? {
        guard position < end else { return nil }
        let v = JSONValue(words: words, base: base, index: position)
        position = v.nextIndex
        return v
    }
}

/// Iterates over the members of an object, in document order, without allocating.
public struct JSONObjectIterator: Sequence, IteratorProtocol {
    @usableFromInline let words: UnsafePointer<UInt64>
    @usableFromInline let base: UnsafePointer<UInt8>
    @usableFromInline var position: Int
    @usableFromInline let end: Int

    @inlinable init(words: UnsafePointer<UInt64>, base: UnsafePointer<UInt8>, next: Int, end: Int) {
        self.words = words
        self.base = base
        self.position = next
        self.end = end
    }

    @inlinable public mutating func next() -> (key: JSONValue, value: JSONValue)? {
        guard position < end else { return nil }
        let k = JSONValue(words: words, base: base, index: position)
        let v = JSONValue(words: words, base: base, index: position &+ 2)
        position = v.nextIndex
        return (k, v)
    }
}

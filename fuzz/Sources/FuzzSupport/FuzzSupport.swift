// Shared helpers for the fuzz targets: reading parameters from the fuzz input, an in-memory
// ByteSource, a reference JSON validator and a few invariant checks that stop the fuzzer with a
// message (libFuzzer then saves the input as a crash).

import AuditInput
import CFuzzerDriver
import AuditJSON
import Glibc

/// Stops the run with a message when an invariant does not hold (a "crash" for libFuzzer).
@inline(never)
public func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                  file: StaticString = #fileID, line: UInt = #line) {
    if !condition() {
        let text = "FUZZ INVARIANT FAILED at \(file):\(line): \(message())\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
        abort()
    }
}

/// Reads small parameters from the front of a fuzz input; the rest is the payload.
public struct FuzzReader {
    public let bytes: UnsafeRawBufferPointer
    public private(set) var position = 0

    public init(_ start: UnsafeRawPointer, _ count: Int) {
        self.bytes = UnsafeRawBufferPointer(start: count > 0 ? start : nil, count: count)
    }

    /// The next byte, or 0 when the input is exhausted.
    public mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    /// Everything not read yet.
    public var rest: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[min(position, bytes.count)...])
    }
}

/// A ByteSource over bytes in memory that hands them out in reads of the given sizes (cycled),
/// optionally failing after `failAfter` bytes, and that sometimes claims a pipe with no data.
public final class MemorySource: ByteSource {
    public let name = "<fuzz>"
    private let data: [UInt8]
    private var offset = 0
    private let chunks: [Int]
    private var chunkIndex = 0
    private let failAfter: Int?
    private let idle: Bool

    public init(_ data: [UInt8], chunks: [Int], failAfter: Int? = nil, idle: Bool = false) {
        self.data = data
        self.chunks = chunks.isEmpty ? [4096] : chunks.map { max(1, $0) }
        self.failAfter = failAfter
        self.idle = idle
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(InputError) -> Int {
        guard buffer.count > 0 else { return 0 }
        if let failAfter, offset >= failAfter {
            throw InputError(path: name, offset: Int64(offset), reason: "injected read failure")
        }
        let chunk = chunks[chunkIndex % chunks.count]
        chunkIndex += 1
        var n = min(buffer.count, chunk, data.count - offset)
        if let failAfter { n = min(n, failAfter - offset) }
        if n <= 0 { return 0 }
        data.withUnsafeBytes { src in
            buffer.baseAddress!.copyMemory(from: src.baseAddress! + offset, byteCount: n)
        }
        offset += n
        return n
    }

    public func canRead(withinMilliseconds milliseconds: Int) -> Bool {
        // A "pipe" that is idle every other time it is asked (no sleeping: the framers only use the
        // answer to decide whether to hand out a batch early).
        if !idle { return true }
        chunkIndex += 1
        return chunkIndex % 2 == 0
    }
}

/// Visits every value of a parsed document and checks the views agree with each other.
/// Returns the number of values seen.
@discardableResult
public func walkJSON(_ value: JSONValue, depth: Int = 0) -> Int {
    var seen = 1
    let raw = value.rawBytes
    switch value.kind {
    case .string:
        var decoded: [UInt8] = []
        value.appendDecoded(to: &decoded)
        var pieces: [UInt8] = []
        value.forEachDecodedPiece { pieces.append(contentsOf: $0) }
        check(decoded == pieces, "appendDecoded and forEachDecodedPiece differ")
        check(decoded.withUnsafeBytes { value.stringEquals($0) }, "stringEquals(decoded) is false")
        if !value.hasEscapes {
            check(decoded.elementsEqual(raw), "unescaped string decodes to other bytes")
        } else {
            check(decoded.count <= raw.count, "decoded string longer than its escaped text")
        }
        let s = value.decodedString()
        check(s.utf8.count >= 0, "unreachable")
    case .number:
        let text = String(decoding: raw, as: UTF8.self)
        if let i = value.int64Value, !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
            check(Int64(text) == i, "int64Value \(i) differs from Int64(\(text))")
        }
        _ = value.doubleValue
        check(value.boolValue == nil, "number with a boolValue")
    case .bool:
        check(value.boolValue != nil, "bool without boolValue")
    case .null:
        check(value.isNull, "null kind but not isNull")
    case .deferred:
        check(value.isDeferred && !value.isObject && !value.isArray, "deferred value with members")
        check(value.member("a") == nil && value.element(0) == nil, "lookup inside a deferred value")
        check(raw.first == UInt8(ascii: "[") || raw.first == UInt8(ascii: "{"), "deferred rawBytes not bracketed")
        check(raw.last == UInt8(ascii: "]") || raw.last == UInt8(ascii: "}"), "deferred rawBytes not bracketed")
    case .array:
        var n = 0
        for element in value.elements {
            check(value.element(n)?.index == element.index, "element(\(n)) disagrees with the iterator")
            seen += walkJSON(element, depth: depth + 1)
            n += 1
        }
        check(value.count == n, "array count mismatch")
        check(value.element(n) == nil, "element past the end")
        check(raw.first == UInt8(ascii: "[") && raw.last == UInt8(ascii: "]"), "array rawBytes not bracketed")
    case .object:
        var n = 0
        // With duplicate keys the last one wins (as in Go; see JSONValue.member).
        var lastIndex: [[UInt8]: Int] = [:]
        for (key, member) in value.members {
            check(key.isString, "object key is not a string")
            var k: [UInt8] = []
            key.appendDecoded(to: &k)
            lastIndex[k] = member.index
            seen += walkJSON(key, depth: depth + 1)
            seen += walkJSON(member, depth: depth + 1)
            n += 1
        }
        check(value.count == n, "object count mismatch")
        for (k, index) in lastIndex {
            let found = k.withUnsafeBytes { value.member($0) }
            check(found?.index == index, "member lookup does not find the last member with that key")
            check(value.member(JSONKey(bytes: k))?.index == index, "JSONKey lookup differs")
            if String(validating: k, as: UTF8.self) != nil {
                // Escape byte-wise: a '/' followed by a combining mark is one Character.
                var pointerBytes: [UInt8] = [UInt8(ascii: "/")]
                for byte in k {
                    switch byte {
                    case UInt8(ascii: "~"): pointerBytes += [UInt8(ascii: "~"), UInt8(ascii: "0")]
                    case UInt8(ascii: "/"): pointerBytes += [UInt8(ascii: "~"), UInt8(ascii: "1")]
                    default: pointerBytes.append(byte)
                    }
                }
                let pointerText = String(decoding: pointerBytes, as: UTF8.self)
                if let pointer = try? JSONPointer(pointerText) {
                    check(value.value(at: pointer)?.index == index, "JSON Pointer \(pointerText) lookup differs")
                } else {
                    check(false, "JSON Pointer \(pointerText) rejected")
                }
            }
        }
        check(raw.first == UInt8(ascii: "{") && raw.last == UInt8(ascii: "}"), "object rawBytes not braced")
    }
    return seen
}

/// A plain recursive-descent RFC 8259 validator, written for the fuzzer to compare the tokenizer
/// with. Same decisions as the tokenizer: invalid UTF-8 inside strings and escaped lone surrogates
/// are accepted, containers nested deeper than `maxDepth` are rejected.
/// Returns the number of tape nodes the document needs (scalars 1, containers 2), or nil if invalid.
public func referenceValidate(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) -> Int? {
    var v = ReferenceValidator(bytes: bytes, maxDepth: maxDepth)
    v.skipSpace()
    guard let nodes = v.value(depth: 0) else { return nil }
    v.skipSpace()
    return v.i == bytes.count ? nodes : nil
}

struct ReferenceValidator {
    let bytes: UnsafeRawBufferPointer
    let maxDepth: Int
    var i = 0

    init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

    mutating func skipSpace() {
        while let c = peek, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { i += 1 }
    }

    mutating func literal(_ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        guard i + n <= bytes.count else { return false }
        for k in 0..<n where bytes[i + k] != s.utf8Start[k] { return false }
        i += n
        return true
    }

    mutating func value(depth: Int) -> Int? {
        guard let c = peek else { return nil }
        switch c {
        case UInt8(ascii: "{"):
            guard depth < maxDepth else { return nil }
            i += 1
            var nodes = 2
            skipSpace()
            if peek == UInt8(ascii: "}") { i += 1; return nodes }
            while true {
                skipSpace()
                guard peek == UInt8(ascii: "\""), string() else { return nil }
                skipSpace()
                guard peek == UInt8(ascii: ":") else { return nil }
                i += 1
                skipSpace()
                guard let n = value(depth: depth + 1) else { return nil }
                nodes += 1 + n
                skipSpace()
                if peek == UInt8(ascii: ",") { i += 1; continue }
                if peek == UInt8(ascii: "}") { i += 1; return nodes }
                return nil
            }
        case UInt8(ascii: "["):
            guard depth < maxDepth else { return nil }
            i += 1
            var nodes = 2
            skipSpace()
            if peek == UInt8(ascii: "]") { i += 1; return nodes }
            while true {
                skipSpace()
                guard let n = value(depth: depth + 1) else { return nil }
                nodes += n
                skipSpace()
                if peek == UInt8(ascii: ",") { i += 1; continue }
                if peek == UInt8(ascii: "]") { i += 1; return nodes }
                return nil
            }
        case UInt8(ascii: "\""):
            return string() ? 1 : nil
        case UInt8(ascii: "t"): return literal("true") ? 1 : nil
        case UInt8(ascii: "f"): return literal("false") ? 1 : nil
        case UInt8(ascii: "n"): return literal("null") ? 1 : nil
        default: return number() ? 1 : nil
        }
    }

    static func isDigit(_ c: UInt8?) -> Bool { c.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
    static func isHex(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
    }

    mutating func number() -> Bool {
        if peek == UInt8(ascii: "-") { i += 1 }
        guard let c = peek, Self.isDigit(c) else { return false }
        i += 1
        if c != UInt8(ascii: "0") { while Self.isDigit(peek) { i += 1 } }
        if peek == UInt8(ascii: ".") {
            i += 1
            guard Self.isDigit(peek) else { return false }
            while Self.isDigit(peek) { i += 1 }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            i += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { i += 1 }
            guard Self.isDigit(peek) else { return false }
            while Self.isDigit(peek) { i += 1 }
        }
        return true
    }

    mutating func string() -> Bool {
        i += 1  // the opening quote
        while let c = peek {
            i += 1
            switch c {
            case UInt8(ascii: "\""): return true
            case UInt8(ascii: "\\"):
                guard let e = peek else { return false }
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"):
                    guard i + 4 <= bytes.count else { return false }
                    for k in 0..<4 where !Self.isHex(bytes[i + k]) { return false }
                    i += 4
                default: return false
                }
            case 0x00..<0x20: return false
            default: break
            }
        }
        return false
    }
}

/// Whether `text` is one valid JSON document (strict), checked with the tokenizer.
public func isValidJSON(_ text: String, tape: JSONTape) -> Bool {
    var utf8 = Array(text.utf8)
    return utf8.withUnsafeMutableBytes { raw -> Bool in
        do {
            try tape.parse(UnsafeRawBufferPointer(raw))
            return true
        } catch {
            return false
        }
    }
}

/// Whether text meant for a terminal holds no raw control, C1 or bidi character.
public func isTerminalSafe(_ text: String) -> Bool {
    for u in text.unicodeScalars {
        switch u.value {
        case 0x00..<0x20, 0x7F, 0x80..<0xA0, 0x061C, 0x200E, 0x200F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069:
            return false
        default: continue
        }
    }
    return true
}

/// The signature of a libFuzzer test callback.
public typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

/// Runs libFuzzer's driver with the process arguments. SwiftPM gives each executable target an entry
/// point named `<target>_main`; each fuzz target defines it with `@_cdecl` and calls this.
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                      _ callback: FuzzCallback) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, callback)
}

/// Why base64 text could not be decoded, and where.
struct Base64Error: Error, Equatable, CustomStringConvertible {
    enum Reason: String {
        case invalidCharacter = "invalid character"
        case truncated = "length is not a whole number of base64 groups"
        case dataAfterPadding = "data after the '=' padding"
    }

    /// Offset of the offending character in the text (the text's length for `truncated`).
    var offset: Int
    var reason: Reason

    var description: String { "invalid base64: \(self.reason.rawValue) at character \(self.offset)" }
}

/// A base64 decoder (RFC 4648 standard alphabet; the URL-safe `-` and `_` are accepted too).
///
/// ASCII whitespace anywhere is skipped (wrapped text), the final `=` padding is optional, and any
/// other byte is an error reported with its offset: invalid input never traps. Decodes into a
/// reusable ``ScratchBuffer``, so it allocates nothing once the buffer is large enough.
enum Base64 {
    /// 0...63 for alphabet bytes, `skip` for whitespace, `pad` for '=', `bad` otherwise.
    private static let skip: UInt8 = 0xFE
    private static let pad: UInt8 = 0xFD
    private static let bad: UInt8 = 0xFF

    private static let table: [UInt8] = {
        var t = [UInt8](repeating: bad, count: 256)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        for (value, byte) in alphabet.enumerated() { t[Int(byte)] = UInt8(value) }
        t[Int(UInt8(ascii: "-"))] = 62
        t[Int(UInt8(ascii: "_"))] = 63
        for byte in [0x20, 0x09, 0x0A, 0x0D, 0x0C] { t[byte] = skip }
        t[Int(UInt8(ascii: "="))] = pad
        return t
    }()

    /// Whether `bytes` starts like base64 of gzip data (`H4sI`: the gzip magic `1f 8b 08`).
    static func looksLikeGzip(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && bytes[0] == UInt8(ascii: "H") && bytes[1] == UInt8(ascii: "4")
            && bytes[2] == UInt8(ascii: "s") && bytes[3] == UInt8(ascii: "I")
    }

    /// Appends the bytes that `text` encodes to `output`.
    ///
    /// - Throws: ``Base64Error`` for a byte outside the alphabet, a dangling single character, or data
    ///   after the padding. `output` then holds the bytes decoded before the error.
    static func decode(_ text: UnsafeRawBufferPointer, into output: ScratchBuffer) throws(Base64Error) {
        let n = text.count
        guard n > 0 else { return }
        output.reserve(n / 4 * 3 + 3)
        try Base64.table.withUnsafeBufferPointer { table throws(Base64Error) in
            var group: UInt32 = 0
            var filled = 0
            var i = 0
            var padding = 0
            var out = output.base + output.count
            // Fast path: four alphabet bytes at a time.
            while i &+ 4 <= n {
                let a = table[Int(text[i])], b = table[Int(text[i &+ 1])]
                let c = table[Int(text[i &+ 2])], d = table[Int(text[i &+ 3])]
                if (a | b | c | d) & 0xC0 != 0 { break }
                let v = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                out.storeBytes(of: UInt8(truncatingIfNeeded: v >> 16), as: UInt8.self)
                out.storeBytes(of: UInt8(truncatingIfNeeded: v >> 8), toByteOffset: 1, as: UInt8.self)
                out.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: 2, as: UInt8.self)
                out += 3
                i &+= 4
            }
            // General path: whitespace, padding and the tail.
            while i < n {
                let v = table[Int(text[i])]
                if v == skip {
                    i &+= 1
                    continue
                }
                if v == bad {
                    output.count = out - output.base
                    throw Base64Error(offset: i, reason: .invalidCharacter)
                }
                if v == pad {
                    // '=' may only end a group of 2 or 3 characters.
                    if filled + padding < 2 {
                        output.count = out - output.base
                        throw Base64Error(offset: i, reason: .invalidCharacter)
                    }
                    padding += 1
                    if filled + padding > 4 {
                        output.count = out - output.base
                        throw Base64Error(offset: i, reason: .dataAfterPadding)
                    }
                    i &+= 1
                    continue
                }
                if padding > 0 {
                    output.count = out - output.base
                    throw Base64Error(offset: i, reason: .dataAfterPadding)
                }
                group = group << 6 | UInt32(v)
                filled += 1
                if filled == 4 {
                    out.storeBytes(of: UInt8(truncatingIfNeeded: group >> 16), as: UInt8.self)
                    out.storeBytes(of: UInt8(truncatingIfNeeded: group >> 8), toByteOffset: 1, as: UInt8.self)
                    out.storeBytes(of: UInt8(truncatingIfNeeded: group), toByteOffset: 2, as: UInt8.self)
                    out += 3
                    group = 0
                    filled = 0
                }
                i &+= 1
            }
            switch filled {
            case 0:
                break
            case 2:
                out.storeBytes(of: UInt8(truncatingIfNeeded: group >> 4), as: UInt8.self)
                out += 1
            case 3:
                out.storeBytes(of: UInt8(truncatingIfNeeded: group >> 10), as: UInt8.self)
                out.storeBytes(of: UInt8(truncatingIfNeeded: group >> 2), toByteOffset: 1, as: UInt8.self)
                out += 2
            default:
                output.count = out - output.base
                throw Base64Error(offset: n, reason: .truncated)
            }
            output.count = out - output.base
        }
    }
}

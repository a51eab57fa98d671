import Glibc

/// Appends the decoded UTF-8 content of a JSON string to `output`, given the string's raw bytes
/// between the quotes (`JSONValue.rawBytes`, already validated by the parser).
///
/// Same result as `JSONValue.appendDecoded(to:)` (escaped lone surrogates become U+FFFD), but it
/// writes straight into the reusable buffer and copies the runs between escapes with `memcpy`:
/// CloudWatch messages are long strings with an escape every few bytes (`\"kind\":\"Event\"`),
/// and this is the hottest step of unwrapping them. The decoded text is never longer than the raw
/// text, so one reservation suffices.
func appendUnescaped(_ raw: UnsafeRawBufferPointer, to output: ScratchBuffer) {
    guard let source = raw.baseAddress, raw.count > 0 else { return }
    let n = raw.count
    output.reserve(n)
    let start = output.base + output.count
    var out = start
    var i = 0

    @inline(__always) func put(_ byte: UInt8) {
        out.storeBytes(of: byte, as: UInt8.self)
        out += 1
    }
    func putScalar(_ value: UInt32) {
        var v = value
        if v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) { v = 0xFFFD }
        if v < 0x80 {
            put(UInt8(v))
        } else if v < 0x800 {
            put(UInt8(0xC0 | (v >> 6)))
            put(UInt8(0x80 | (v & 0x3F)))
        } else if v < 0x10000 {
            put(UInt8(0xE0 | (v >> 12)))
            put(UInt8(0x80 | ((v >> 6) & 0x3F)))
            put(UInt8(0x80 | (v & 0x3F)))
        } else {
            put(UInt8(0xF0 | (v >> 18)))
            put(UInt8(0x80 | ((v >> 12) & 0x3F)))
            put(UInt8(0x80 | ((v >> 6) & 0x3F)))
            put(UInt8(0x80 | (v & 0x3F)))
        }
    }
    func hex4(_ at: Int) -> UInt32? {
        guard at + 4 <= n else { return nil }
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = raw[at + k]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A")) + 10
            default: return nil
            }
            v = v << 4 | d
        }
        return v
    }

    while i < n {
        guard let found = memchr(source + i, 0x5C, n - i) else {
            out.copyMemory(from: source + i, byteCount: n - i)
            out += n - i
            break
        }
        let backslash = UnsafeRawPointer(found) - source
        if backslash > i {
            out.copyMemory(from: source + i, byteCount: backslash - i)
            out += backslash - i
        }
        i = backslash
        guard i + 1 < n else { break }
        let e = raw[i + 1]
        i += 2
        switch e {
        case UInt8(ascii: "n"): put(0x0A)
        case UInt8(ascii: "t"): put(0x09)
        case UInt8(ascii: "r"): put(0x0D)
        case UInt8(ascii: "b"): put(0x08)
        case UInt8(ascii: "f"): put(0x0C)
        case UInt8(ascii: "u"):
            guard let u = hex4(i) else {
                putScalar(0xFFFD)
                break
            }
            i += 4
            if u >= 0xD800 && u <= 0xDBFF && i + 6 <= n && raw[i] == 0x5C && raw[i + 1] == UInt8(ascii: "u"),
               let low = hex4(i + 2), low >= 0xDC00 && low <= 0xDFFF
            {
                putScalar(0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00))
                i += 6
            } else {
                putScalar(u)
            }
        default:
            put(e)
        }
    }
    output.count += out - start
}

import AuditJSON
import AuditInput

// Small building blocks shared by the extractors. Everything here runs on the hot path: no String, no
// Foundation, no heap allocation except through the output's arena.

extension FieldOutput {
    /// Adds `v` when present (JSON `null` counts as absent).
    @inline(__always) mutating func add(optional v: JSONValue?) {
        if let v { add(json: v) }
    }

    /// Adds every element of the array `v` (nothing when `v` is absent or not an array; `null` elements
    /// are skipped).
    @inline(__always) mutating func addElements(of v: JSONValue?) {
        guard let v, v.isArray else { return }
        for element in v.elements { add(json: element) }
    }
}

/// The text of a JSON value as Falco reads it: a string's decoded content (computed in `arena` only when
/// it holds escapes), any other value's JSON text.
@inline(__always) func fieldText(_ v: JSONValue, _ arena: ScratchArena) -> UnsafeRawBufferPointer {
    if v.isString && v.hasEscapes { return arena.build { $0.append(json: v) } }
    return v.rawBytes
}

/// Calls `body` with the elements of `array` that the argument selects: all of them, or only the N-th
/// one for an index argument (none when out of range). Nothing happens when `array` is not an array.
@inline(__always) func forEachSelected(_ array: JSONValue?, _ argument: FieldArgument, _ body: (JSONValue) -> Void) {
    guard let array, array.isArray else { return }
    if case .index(let n) = argument {
        if let v = array.element(n) { body(v) }
        return
    }
    for v in array.elements { body(v) }
}

/// Follows up to three object keys from `v`.
@inline(__always) func path(_ v: JSONValue?, _ k1: StaticString, _ k2: StaticString? = nil,
                            _ k3: StaticString? = nil) -> JSONValue? {
    guard var r = v?.member(k1) else { return nil }
    if let k2 {
        guard let n = r.member(k2) else { return nil }
        r = n
    }
    if let k3 {
        guard let n = r.member(k3) else { return nil }
        r = n
    }
    return r
}

/// `requestObject.spec`.
@inline(__always) func requestSpec(_ e: AuditEvent) -> JSONValue? {
    e.requestObject?.member("spec")
}

/// The bytes of static text.
@inline(__always) func staticBytes(_ s: StaticString) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)
}

/// True for a JSON value that carries data (present and not `null`).
@inline(__always) func isPresent(_ v: JSONValue?) -> Bool {
    guard let v else { return false }
    return !v.isNull
}

// MARK: - Image references

/// The repository part of an image reference: the reference without its digest (`@sha256:…`) and without
/// its tag (`:1.2`), where a `:` counts as a tag separator only after the last `/` (before it, it is a
/// registry port: `registry:5000/app:tag` gives `registry:5000/app`).
@inline(__always) func imageRepository(_ image: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
    var end = image.count
    // The digest starts at the first '@'.
    var i = 0
    while i < end {
        if image[i] == UInt8(ascii: "@") { end = i; break }
        i &+= 1
    }
    // The tag is a ':' after the last '/'.
    var lastSlash = -1
    i = 0
    while i < end {
        if image[i] == UInt8(ascii: "/") { lastSlash = i }
        i &+= 1
    }
    i = lastSlash &+ 1
    while i < end {
        if image[i] == UInt8(ascii: ":") { end = i; break }
        i &+= 1
    }
    return UnsafeRawBufferPointer(rebasing: image[0..<end])
}

// MARK: - Numbers as text

/// Appends the decimal text of `value`.
func appendDecimal(_ value: Int64, to w: inout ArenaWriter) {
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for 24 digits
    var magnitude = value.magnitude
    if value < 0 { w.append(UInt8(ascii: "-")) }
    withUnsafeMutableBytes(of: &digits) { buffer in
        var n = buffer.count
        repeat {
            n &-= 1
            buffer[n] = UInt8(truncatingIfNeeded: magnitude % 10) &+ UInt8(ascii: "0")
            magnitude /= 10
        } while magnitude > 0
        w.append(UnsafeRawBufferPointer(rebasing: buffer[n...]))
    }
}

/// Appends `value` as exactly `width` decimal digits (zero-padded; `value` must fit).
@inline(__always) func appendPadded(_ value: Int, width: Int, to w: inout ArenaWriter) {
    var divisor = 1
    for _ in 1..<width { divisor &*= 10 }
    var v = value
    while divisor > 0 {
        w.append(UInt8(truncatingIfNeeded: v / divisor) &+ UInt8(ascii: "0"))
        v %= divisor
        divisor /= 10
    }
}

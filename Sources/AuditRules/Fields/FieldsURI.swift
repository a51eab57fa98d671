import AuditJSON
import AuditInput

// The request URI's path and query parameters. Query strings are read the way Go's url.ParseQuery reads
// them (what Falco's k8saudit plugin uses): pairs are separated by '&'; a pair that contains ';' or a
// malformed %-escape is ignored; '+' is a space; %XX is the byte XX.

extension FieldRegistry {
    static func uriFields() -> [FieldDefinition] {
        [
            FieldDefinition(name: "ka.uri.param", argument: .requiredKey,
                            description: "The first value of a query parameter of the request URI, percent-decoded (ka.uri.param[command]).") { e, argument, out in
                guard case .key(_, let key) = argument, let uri = requestURIText(e, out.arena), let query = uriQuery(uri) else { return }
                key.bytes.withUnsafeBytes { k in
                    forEachQueryPair(query) { name, value in
                        guard queryComponentEquals(name, k) else { return true }
                        out.add(queryComponentText(value, out.arena))
                        return false
                    }
                }
            },
            FieldDefinition(name: "ka.uri.params", isList: true, argument: .requiredKey,
                            description: "AuditHound: every value of a query parameter of the request URI, in order, percent-decoded (ka.uri.params[command]).") { e, argument, out in
                guard case .key(_, let key) = argument, let uri = requestURIText(e, out.arena), let query = uriQuery(uri) else { return }
                key.bytes.withUnsafeBytes { k in
                    forEachQueryPair(query) { name, value in
                        if queryComponentEquals(name, k) { out.add(queryComponentText(value, out.arena)) }
                        return true
                    }
                }
            },
            FieldDefinition(name: "ka.uri.path", description: "AuditHound: the path of the request URI (without the query), as sent (not percent-decoded).") { e, _, out in
                guard let uri = requestURIText(e, out.arena) else { return }
                out.add(uriPath(uri))
            },
            FieldDefinition(name: "ka.exec.command", description: "AuditHound: for an exec request (URI path ending in /exec), the command: its command query parameters, each percent-decoded, joined with spaces.") { e, _, out in
                guard let uri = requestURIText(e, out.arena), let query = uriQuery(uri), endsWithExec(uriPath(uri)) else { return }
                var found = false
                let joined = out.arena.build { w in
                    forEachQueryPair(query) { name, value in
                        guard queryComponentEquals(name, staticBytes("command")) else { return true }
                        if found { w.append(UInt8(ascii: " ")) }
                        found = true
                        appendQueryComponent(value, to: &w)
                        return true
                    }
                }
                if found { out.add(joined) }
            },
        ]
    }
}

/// The request URI as text (decoded into the arena only when the JSON string has escapes; Go's JSON
/// encoder writes `&` as `\u0026`, so that is common). Nil when absent or not a string.
@inline(__always) func requestURIText(_ e: AuditEvent, _ arena: ScratchArena) -> UnsafeRawBufferPointer? {
    guard let v = e.requestURI, v.isString else { return nil }
    return fieldText(v, arena)
}

/// The path of a URI: everything before the first `?` or `#`.
func uriPath(_ uri: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
    var i = 0
    while i < uri.count {
        let c = uri[i]
        if c == UInt8(ascii: "?") || c == UInt8(ascii: "#") { break }
        i &+= 1
    }
    return UnsafeRawBufferPointer(rebasing: uri[0..<i])
}

/// The query of a URI: the bytes after the first `?` and before the fragment (`#`); nil without `?`.
func uriQuery(_ uri: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
    var i = 0
    while i < uri.count {
        let c = uri[i]
        if c == UInt8(ascii: "#") { return nil }
        if c == UInt8(ascii: "?") { break }
        i &+= 1
    }
    guard i < uri.count else { return nil }
    var end = i &+ 1
    while end < uri.count && uri[end] != UInt8(ascii: "#") { end &+= 1 }
    return UnsafeRawBufferPointer(rebasing: uri[(i &+ 1)..<end])
}

@inline(__always) private func endsWithExec(_ path: UnsafeRawBufferPointer) -> Bool {
    let n = path.count
    guard n >= 5 else { return false }
    return path[n - 5] == UInt8(ascii: "/") && path[n - 4] == UInt8(ascii: "e") && path[n - 3] == UInt8(ascii: "x")
        && path[n - 2] == UInt8(ascii: "e") && path[n - 1] == UInt8(ascii: "c")
}

@inline(__always) private func hexDigit(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c &- UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c &- UInt8(ascii: "a") &+ 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c &- UInt8(ascii: "A") &+ 10
    default: return nil
    }
}

/// True when every `%` in `s` starts a two-hex-digit escape.
private func hasValidEscapes(_ s: UnsafeRawBufferPointer) -> Bool {
    var i = 0
    while i < s.count {
        if s[i] == UInt8(ascii: "%") {
            guard i &+ 2 < s.count, hexDigit(s[i &+ 1]) != nil, hexDigit(s[i &+ 2]) != nil else { return false }
            i &+= 3
        } else {
            i &+= 1
        }
    }
    return true
}

/// Calls `body` with the raw (still encoded) name and value of each query pair Go's url.ParseQuery keeps,
/// in order, until `body` returns false. A pair without `=` has an empty value.
func forEachQueryPair(_ query: UnsafeRawBufferPointer,
                      _ body: (_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Bool) {
    var start = 0
    let n = query.count
    while start <= n {
        var end = start
        var equals = -1
        var semicolon = false
        while end < n && query[end] != UInt8(ascii: "&") {
            let c = query[end]
            if c == UInt8(ascii: "=") && equals < 0 { equals = end }
            if c == UInt8(ascii: ";") { semicolon = true }
            end &+= 1
        }
        if end > start && !semicolon {
            let nameEnd = equals < 0 ? end : equals
            let name = UnsafeRawBufferPointer(rebasing: query[start..<nameEnd])
            let value = equals < 0 ? UnsafeRawBufferPointer(rebasing: query[end..<end])
                                   : UnsafeRawBufferPointer(rebasing: query[(equals &+ 1)..<end])
            if hasValidEscapes(name) && hasValidEscapes(value) {
                if !body(name, value) { return }
            }
        }
        start = end &+ 1
    }
}

/// Compares the decoded form of a (well-formed) query component with `other`.
func queryComponentEquals(_ raw: UnsafeRawBufferPointer, _ other: UnsafeRawBufferPointer) -> Bool {
    var i = 0
    var k = 0
    while i < raw.count {
        var c = raw[i]
        if c == UInt8(ascii: "%") {
            c = hexDigit(raw[i &+ 1])! << 4 | hexDigit(raw[i &+ 2])!
            i &+= 3
        } else {
            if c == UInt8(ascii: "+") { c = UInt8(ascii: " ") }
            i &+= 1
        }
        guard k < other.count, other[k] == c else { return false }
        k &+= 1
    }
    return k == other.count
}

/// Appends the decoded form of a (well-formed) query component.
func appendQueryComponent(_ raw: UnsafeRawBufferPointer, to w: inout ArenaWriter) {
    var i = 0
    var run = 0
    while i < raw.count {
        let c = raw[i]
        if c == UInt8(ascii: "%") || c == UInt8(ascii: "+") {
            if i > run { w.append(UnsafeRawBufferPointer(rebasing: raw[run..<i])) }
            if c == UInt8(ascii: "+") {
                w.append(UInt8(ascii: " "))
                i &+= 1
            } else {
                w.append(hexDigit(raw[i &+ 1])! << 4 | hexDigit(raw[i &+ 2])!)
                i &+= 3
            }
            run = i
        } else {
            i &+= 1
        }
    }
    if raw.count > run { w.append(UnsafeRawBufferPointer(rebasing: raw[run..<raw.count])) }
}

/// The decoded text of a (well-formed) query component: the input bytes themselves when nothing needs
/// decoding, else a copy decoded into the arena.
func queryComponentText(_ raw: UnsafeRawBufferPointer, _ arena: ScratchArena) -> UnsafeRawBufferPointer {
    var needsDecoding = false
    for c in raw where c == UInt8(ascii: "%") || c == UInt8(ascii: "+") {
        needsDecoding = true
        break
    }
    if !needsDecoding { return raw }
    return arena.build { appendQueryComponent(raw, to: &$0) }
}

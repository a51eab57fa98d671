#if canImport(Glibc)
import Glibc
#endif

// Byte-level matchers used by the evaluator. All of them run in time linear in the value (times the
// pattern length at most): no backtracking blow-up on hostile strings.

/// `n` bytes at `a` and `b` are equal: whole words for short runs (most field values and patterns are
/// short, and a `memcmp` call costs more than the comparison), `memcmp` beyond 32 bytes.
@inline(__always) func shortBytesEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    if n >= 8 {
        if n > 32 { return memcmp(a, b, n) == 0 }
        var i = 0
        while i &+ 8 < n {
            if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
            i &+= 8
        }
        // The last 8 bytes (overlapping what was compared).
        return a.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self) == b.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self)
    }
    if n >= 4 {
        return a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self)
            && a.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self) == b.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self)
    }
    var i = 0
    while i < n {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i &+= 1
    }
    return true
}

@inline(__always) func bytesEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    a.count == b.count && (a.count == 0 || shortBytesEqual(a.baseAddress!, b.baseAddress!, a.count))
}

@inline(__always) func bytesHasPrefix(_ a: UnsafeRawBufferPointer, _ p: UnsafeRawBufferPointer) -> Bool {
    a.count >= p.count && (p.count == 0 || shortBytesEqual(a.baseAddress!, p.baseAddress!, p.count))
}

@inline(__always) func bytesHasSuffix(_ a: UnsafeRawBufferPointer, _ p: UnsafeRawBufferPointer) -> Bool {
    a.count >= p.count && (p.count == 0 || memcmp(a.baseAddress! + (a.count - p.count), p.baseAddress!, p.count) == 0)
}

/// Substring search: `memchr` for the first byte, then `memcmp`. O(n·m) in the worst case, with m the
/// (short, rule-author supplied) pattern length; never worse.
@inline(__always) func bytesContains(_ a: UnsafeRawBufferPointer, _ p: UnsafeRawBufferPointer) -> Bool {
    let m = p.count
    if m == 0 { return true }
    let n = a.count
    if n < m { return false }
    let base = a.baseAddress!
    let pat = p.baseAddress!
    let first = Int32(p[0])
    var i = 0
    let last = n - m
    while i <= last {
        guard let hit = memchr(base + i, first, last - i + 1) else { return false }
        let at = base.distance(to: UnsafeRawPointer(hit))
        if memcmp(base + at, pat, m) == 0 { return true }
        i = at + 1
    }
    return false
}

@inline(__always) func asciiLower(_ c: UInt8) -> UInt8 { c &- 65 < 26 ? c | 0x20 : c }

@inline(__always) func asciiUpper(_ c: UInt8) -> UInt8 { c &- 97 < 26 ? c & 0xDF : c }

/// ASCII case-insensitive substring search (both sides folded as they are read). O(n·m) worst case with
/// m the (short, rule-author supplied) pattern length.
func bytesContainsCaseInsensitive(_ a: UnsafeRawBufferPointer, _ p: UnsafeRawBufferPointer) -> Bool {
    let n = a.count, m = p.count
    if m == 0 { return true }
    if n < m { return false }
    // Candidates are found with memchr (SIMD in glibc) for the first byte in each case; only they are
    // compared byte by byte.
    let base = a.baseAddress!
    let lower = asciiLower(p[0])
    let upper = lower &- 97 < 26 ? lower & 0xDF : lower
    let last = n - m
    func find(_ c: UInt8, from: Int) -> Int {
        guard from <= last, let hit = memchr(base + from, Int32(c), last - from + 1) else { return Int.max }
        return base.distance(to: UnsafeRawPointer(hit))
    }
    var nextLower = find(lower, from: 0)
    var nextUpper = upper == lower ? Int.max : find(upper, from: 0)
    while true {
        let i = min(nextLower, nextUpper)
        if i == Int.max { return false }
        var k = 1
        while k < m && asciiLower(a[i + k]) == asciiLower(p[k]) { k += 1 }
        if k == m { return true }
        if i == nextLower { nextLower = find(lower, from: i + 1) } else { nextUpper = find(upper, from: i + 1) }
    }
}

/// Shell-style glob, as `fnmatch(3)` without flags: `*` (any run, `/` included), `?` (one byte),
/// `[abc]`/`[a-z]`/`[!x]`/`[^x]` classes, `\x` escapes. With `foldCase`, ASCII letters match either case
/// (Falco's `iglob`). Iterative with a single backtrack point (the last `*`): O(n·m), never exponential.
func globMatch(_ s: UnsafeRawBufferPointer, _ p: UnsafeRawBufferPointer, foldCase: Bool = false) -> Bool {
    var si = 0, pi = 0
    var starP = -1, starS = 0
    let n = s.count, m = p.count

    @inline(__always) func same(_ a: UInt8, _ b: UInt8) -> Bool {
        a == b || (foldCase && asciiLower(a) == asciiLower(b))
    }

    // Matches one pattern element at p[pi] against s[si]; returns the pattern length consumed or -1.
    func single(_ pi: Int, _ c: UInt8) -> Int {
        let pc = p[pi]
        if pc == UInt8(ascii: "?") { return 1 }
        if pc == UInt8(ascii: "\\") && pi + 1 < m { return same(p[pi + 1], c) ? 2 : -1 }
        if pc == UInt8(ascii: "[") {
            var j = pi + 1
            var negate = false
            if j < m && (p[j] == UInt8(ascii: "!") || p[j] == UInt8(ascii: "^")) { negate = true; j += 1 }
            var matched = false
            var first = true
            let lower = asciiLower(c), upper = asciiUpper(c)
            @inline(__always) func inRange(_ x: UInt8, _ lo: UInt8, _ hi: UInt8) -> Bool { x >= lo && x <= hi }
            while j < m && (first || p[j] != UInt8(ascii: "]")) {
                first = false
                if j + 2 < m && p[j + 1] == UInt8(ascii: "-") && p[j + 2] != UInt8(ascii: "]") {
                    let lo = p[j], hi = p[j + 2]
                    if inRange(c, lo, hi) || (foldCase && (inRange(lower, lo, hi) || inRange(upper, lo, hi))) { matched = true }
                    j += 3
                } else {
                    if same(p[j], c) { matched = true }
                    j += 1
                }
            }
            if j >= m { return pc == c ? 1 : -1 }  // unterminated class: a literal '['
            return matched != negate ? j + 1 - pi : -1
        }
        return same(pc, c) ? 1 : -1
    }

    while si < n {
        if pi < m && p[pi] == UInt8(ascii: "*") {
            starP = pi
            starS = si
            pi += 1
            continue
        }
        if pi < m {
            let used = single(pi, s[si])
            if used > 0 {
                pi += used
                si += 1
                continue
            }
        }
        if starP >= 0 {
            pi = starP + 1
            starS += 1
            si = starS
            continue
        }
        return false
    }
    while pi < m && p[pi] == UInt8(ascii: "*") { pi += 1 }
    return pi == m
}

/// Path-prefix match (Falco's `pmatch`): `/etc` matches `/etc` and `/etc/passwd`, not `/etcd`. The
/// compiler strips trailing `/` from prefixes, except for the root `/`, which matches every absolute path.
@inline(__always) func pathPrefixMatch(_ value: UnsafeRawBufferPointer, _ prefix: UnsafeRawBufferPointer) -> Bool {
    guard bytesHasPrefix(value, prefix) else { return false }
    if value.count == prefix.count { return true }
    if prefix.count > 0 && prefix[prefix.count - 1] == UInt8(ascii: "/") { return true }
    return value[prefix.count] == UInt8(ascii: "/")
}

/// Parses a decimal integer (optional sign), for `<`, `<=`, `>`, `>=`; nil when not an integer or out of
/// the Int64 range.
@inline(__always) func parseInteger(_ b: UnsafeRawBufferPointer) -> Int64? {
    guard b.count > 0, b.count <= 20 else { return nil }
    var i = 0
    var negative = false
    if b[0] == UInt8(ascii: "-") || b[0] == UInt8(ascii: "+") { negative = b[0] == UInt8(ascii: "-"); i = 1 }
    guard i < b.count else { return nil }
    var v: Int64 = 0
    while i < b.count {
        let d = b[i] &- 48
        if d > 9 { return nil }
        let (times10, o1) = v.multipliedReportingOverflow(by: 10)
        let (next, o2) = negative ? times10.subtractingReportingOverflow(Int64(d)) : times10.addingReportingOverflow(Int64(d))
        if o1 || o2 { return nil }
        v = next
        i += 1
    }
    return v
}

/// Decodes hex digits (`6c69`, case-insensitive, an even number of them): the operand of `bcontains`
/// and `bstartswith`.
func hexDecode(_ text: String) -> [UInt8]? {
    let digits = Array(text.utf8)
    guard digits.count % 2 == 0 else { return nil }
    func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
    var out: [UInt8] = []
    out.reserveCapacity(digits.count / 2)
    var i = 0
    while i < digits.count {
        guard let hi = nibble(digits[i]), let lo = nibble(digits[i + 1]) else { return nil }
        out.append(hi << 4 | lo)
        i += 2
    }
    return out
}

/// Lexicographic byte comparison.
@inline(__always) func bytesCompare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let n = min(a.count, b.count)
    if n > 0 {
        let r = memcmp(a.baseAddress!, b.baseAddress!, n)
        if r != 0 { return Int(r) }
    }
    return a.count - b.count
}

@inline(__always) func fnv1a(_ b: UnsafeRawBufferPointer) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for c in b {
        h ^= UInt64(c)
        h = h &* 0x100_0000_01b3
    }
    return h
}

/// An immutable set of byte strings with allocation-free membership tests (linear scan for small sets,
/// an open-addressing hash table for larger ones). Memory is owned by the compiled rule set.
struct ByteSet {
    let items: UnsafeBufferPointer<UnsafeRawBufferPointer>
    /// Hash table of item indices + 1 (0 = empty); empty for small sets.
    let table: UnsafeMutableBufferPointer<Int32>
    let caseFolded: Bool
    /// Bit `count % 64` is set for the byte count of every item: most values are rejected on their length
    /// alone, without comparing or hashing a byte.
    let lengths: UInt64
    /// For substring sets (`containsAny`, `icontainsAny`): a 65,536-bit table of the first two bytes of
    /// every pattern (lowercased for `icontainsAny`), so that a value is scanned once and patterns are
    /// compared only where their first two bytes occur. Nil when a pattern is shorter than two bytes.
    var pairs: UnsafeMutablePointer<UInt64>? = nil

    /// Builds the pair table (see ``pairs``) when every item has at least two bytes.
    mutating func buildPairs(foldCase: Bool) {
        guard !items.isEmpty, items.allSatisfy({ $0.count >= 2 }) else { return }
        let t = UnsafeMutablePointer<UInt64>.allocate(capacity: 1024)
        t.initialize(repeating: 0, count: 1024)
        for item in items {
            let a = foldCase ? asciiLower(item[0]) : item[0]
            let b = foldCase ? asciiLower(item[1]) : item[1]
            let k = Int(a) << 8 | Int(b)
            t[k >> 6] |= 1 << UInt64(k & 63)
        }
        pairs = t
    }

    init(items: [UnsafeRawBufferPointer]) {
        self.lengths = items.reduce(0) { $0 | (1 << UInt64($1.count & 63)) }
        let storage = UnsafeMutableBufferPointer<UnsafeRawBufferPointer>.allocate(capacity: max(1, items.count))
        _ = storage.initialize(from: items)
        self.items = UnsafeBufferPointer(rebasing: storage[0..<items.count])
        self.caseFolded = false
        if items.count > 8 {
            var size = 16
            while size < items.count * 2 { size *= 2 }
            let t = UnsafeMutableBufferPointer<Int32>.allocate(capacity: size)
            t.initialize(repeating: 0)
            for (i, item) in items.enumerated() {
                var slot = Int(fnv1a(item) & UInt64(size - 1))
                while t[slot] != 0 { slot = (slot + 1) & (size - 1) }
                t[slot] = Int32(i + 1)
            }
            self.table = t
        } else {
            self.table = UnsafeMutableBufferPointer<Int32>.allocate(capacity: 0)
        }
    }

    func deallocate() {
        UnsafeMutableBufferPointer(mutating: items).deallocate()
        table.deallocate()
        pairs?.deallocate()
    }

    /// Whether `v` contains one of the items (with `foldCase`, ASCII case-insensitively; the items are then
    /// lowercase).
    func substringOf(_ v: UnsafeRawBufferPointer, foldCase: Bool) -> Bool {
        guard let pairs else {
            for item in items where foldCase ? bytesContainsCaseInsensitive(v, item) : bytesContains(v, item) { return true }
            return false
        }
        let n = v.count
        if n < 2 { return false }
        var i = 0
        while i &+ 1 < n {
            let a = foldCase ? asciiLower(v[i]) : v[i]
            let b = foldCase ? asciiLower(v[i &+ 1]) : v[i &+ 1]
            let k = Int(a) &<< 8 | Int(b)
            if pairs[k &>> 6] & (1 &<< UInt64(k & 63)) != 0 {
                for item in items where item.count <= n &- i {
                    var j = 0
                    if foldCase {
                        while j < item.count && asciiLower(v[i &+ j]) == item[j] { j &+= 1 }
                    } else {
                        while j < item.count && v[i &+ j] == item[j] { j &+= 1 }
                    }
                    if j == item.count { return true }
                }
            }
            i &+= 1
        }
        return false
    }

    @inline(__always) func contains(_ v: UnsafeRawBufferPointer) -> Bool {
        if lengths & (1 << UInt64(v.count & 63)) == 0 { return false }
        if table.count == 0 {
            for item in items where bytesEqual(item, v) { return true }
            return false
        }
        let mask = table.count - 1
        var slot = Int(fnv1a(v) & UInt64(mask))
        while true {
            let e = table[slot]
            if e == 0 { return false }
            if bytesEqual(items[Int(e) - 1], v) { return true }
            slot = (slot + 1) & mask
        }
    }
}

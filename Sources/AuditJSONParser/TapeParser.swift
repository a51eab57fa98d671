#if AUDITHOUND_AVX2
// This file is compiled twice: in module AuditJSONParser for the baseline x86-64 (or another
// architecture), and through a symbolic link in module AuditJSONParserAVX2 with `-target-cpu haswell` and
// `AUDITHOUND_AVX2` defined, where the byte scans use 32-byte AVX2 vectors. `JSONTape` picks the second
// at run time when the CPU has AVX2 (see `CPUFeatures`). Swift has no per-function target attribute, so
// a separate module is the only way to have both in one binary.
import AuditJSONParser
import _Builtin_intrinsics.intel
#elseif arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// The JSON parser behind `JSONTape`: one pass over the bytes, writing the tape (see TapeFormat.swift).
///
/// It holds the parser's settings and scratch memory; one per tape. A class, so that the parsing loop
/// gets one pointer for all of it (a struct passed by value cost the loop registers: 8% slower).
public final class TapeParser {
    let maxDepth: Int
    let stack: UnsafeMutablePointer<Int>
    /// Scratch for the last, partial 64-byte block of a deferred value.
    let tailBlock: UnsafeMutablePointer<UInt8>
    /// Object members whose object or array values are left unparsed (see `JSONTape.deferredKeys`).
    public var deferred = DeferredKeys([])

    public init(maxDepth: Int) {
        self.maxDepth = max(1, maxDepth)
        self.stack = .allocate(capacity: self.maxDepth + 1)
        self.tailBlock = .allocate(capacity: 64)
    }

    deinit {
        stack.deallocate()
        tailBlock.deallocate()
    }

    /// Parses the `n` bytes at `p` into `w`. `checked`: grow the tape when it is full; without it, the
    /// tape must have room for `2n + 2` words.
    public func parse(_ p: UnsafePointer<UInt8>, _ n: Int, into w: inout TapeWriter, checked: Bool) throws(JSONError) {
        if checked {
            try run(p, n, &w, Checked.self)
        } else {
            try run(p, n, &w, Unchecked.self)
        }
    }

    /// Whether the parser checks the tape's capacity before each node (see ``parse(_:_:into:checked:)``).
    protocol CapacityPolicy { static var checks: Bool { get } }
    enum Checked: CapacityPolicy { static var checks: Bool { true } }
    enum Unchecked: CapacityPolicy { static var checks: Bool { false } }

    private func run<C: CapacityPolicy>(_ p: UnsafePointer<UInt8>, _ n: Int, _ w: inout TapeWriter, _ cp: C.Type) throws(JSONError) {
        var i = 0
        var depth = 0
        let stack = self.stack
        let maxDepth = self.maxDepth
        // Is the container on top of the stack an object?
        var inObject = false
        let deferring = !deferred.keys.isEmpty
        let deferredLengths = deferred.lengths
        let deferredLong = deferred.hasLong
        /// Whether the key just written (in an object) has the length of a deferred key.
        @inline(__always) func keyLengthMayDefer() -> Bool {
            let length = w.words[w.used &- 1]
            return length < 64 ? (deferredLengths >> length) & 1 != 0 : deferredLong
        }

        @inline(__always) func skipWhitespace() {
            while i < n {
                let c = p[i]
                if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i &+= 1 } else { break }
            }
        }

        // Each turn of the outer loop reads one value (in an object, its key has been read already);
        // the inner loop then reads what follows values: commas (and the next key), closing brackets.
        while true {
            skipWhitespace()
            guard i < n else {
                throw JSONError(offset: i, reason: depth == 0 && w.used == 0 ? .empty : .unexpectedEnd)
            }
            let c = p[i]
            switch c {
            case UInt8(ascii: "\""):
                let length = shortString(p, i &+ 1, n)
                if length >= 0 {
                    w.emit(.string, 0, i &+ 1, UInt64(length), checks: C.checks)
                    i &+= length &+ 2
                } else {
                    try scanString(p, n, &i, &w, cp, skip: length == -2 ? TapeParser.shortSpan : 0)
                }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                if depth >= maxDepth { throw JSONError(offset: i, reason: .tooDeep) }
                if deferring && inObject && keyLengthMayDefer() && isDeferredKey(p, w) {
                    let end = try skipContainer(p, n, i, outerDepth: depth)
                    w.emit(.deferred, c == UInt8(ascii: "[") ? 1 : 0, i, UInt64(end &- i), checks: C.checks)
                    i = end
                    break
                }
                let isObject = c == UInt8(ascii: "{")
                stack[depth] = w.used
                depth &+= 1
                w.emit(isObject ? .objectStart : .arrayStart, 0, 0, UInt64(i), checks: C.checks)
                i &+= 1
                inObject = isObject
                skipWhitespace()
                guard i < n else { throw JSONError(offset: i, reason: .unexpectedEnd) }
                if p[i] == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    // Empty container: close it right away.
                    close(p, &i, &depth, &inObject, &w, cp, stack)
                } else {
                    if isObject { try scanKey(p, n, &i, &w, cp) }
                    continue
                }
            case UInt8(ascii: "t"):
                try literal(p, n, &i, 0x74_72_75_65, 4, .trueValue, &w, cp)
            case UInt8(ascii: "f"):
                if i &+ 5 <= n && p[i &+ 4] == UInt8(ascii: "e") {
                    try literal(p, n, &i, 0x66_61_6C_73, 5, .falseValue, &w, cp)
                } else {
                    throw JSONError(offset: i, reason: .invalidLiteral)
                }
            case UInt8(ascii: "n"):
                try literal(p, n, &i, 0x6E_75_6C_6C, 4, .null, &w, cp)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                try scanNumber(p, n, &i, &w, cp)
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                throw JSONError(offset: i, reason: .expectedValue)
            default:
                throw JSONError(offset: i, reason: .unexpectedCharacter)
            }
            // After a value.
            while true {
                // Compact JSON inside a container: a comma (then, in an object, the next key's quote) or
                // the closing bracket comes right after the value.
                if depth > 0 && i &+ 1 < n {
                    let c = p[i]
                    if c == UInt8(ascii: ",") {
                        if !inObject {
                            i &+= 1
                            break
                        }
                        if p[i &+ 1] == UInt8(ascii: "\"") {
                            let length = shortString(p, i &+ 2, n)
                            if length >= 0 && i &+ length &+ 3 < n && p[i &+ length &+ 3] == UInt8(ascii: ":") {
                                // `,"key":` in compact JSON.
                                w.emit(.string, 0, i &+ 2, UInt64(length), checks: C.checks)
                                i &+= length &+ 4
                                break
                            }
                            i &+= 1
                            try scanKey(p, n, &i, &w, cp)
                            break
                        }
                    } else if c == (inObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                        close(p, &i, &depth, &inObject, &w, cp, stack)
                        continue
                    }
                }
                skipWhitespace()
                if depth == 0 {
                    if i != n { throw JSONError(offset: i, reason: .trailingCharacters) }
                    return
                }
                guard i < n else { throw JSONError(offset: i, reason: .unexpectedEnd) }
                let c = p[i]
                if c == UInt8(ascii: ",") {
                    i &+= 1
                    if inObject {
                        skipWhitespace()
                        try scanKey(p, n, &i, &w, cp)
                    }
                    break
                } else if c == (inObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    close(p, &i, &depth, &inObject, &w, cp, stack)
                } else {
                    throw JSONError(offset: i, reason: inObject ? .expectedCommaOrBrace : .expectedCommaOrBracket)
                }
            }
        }
    }

    /// Whether the key just written to the tape (the node before the value being read) is one of
    /// ``deferredKeys``. Keys holding escapes never match.
    @inline(never)
    private func isDeferredKey(_ p: UnsafePointer<UInt8>, _ w: TapeWriter) -> Bool {
        guard w.used >= 2 else { return false }
        let node = w.words[w.used &- 2]
        guard node >> tagShift == UInt64(TapeTag.string.rawValue), (node >> flagShift) & 1 == 0 else { return false }
        let offset = Int(truncatingIfNeeded: node & payloadMask)
        let length = Int(truncatingIfNeeded: w.words[w.used &- 1])
        for key in deferred.keys where key.count == length {
            if key.withUnsafeBufferPointer({ memoryEqual(p + offset, UnsafeRawPointer($0.baseAddress!), length) }) { return true }
        }
        return false
    }

    /// The bits of a 16-lane mask (lane k -> bit k): `pmovmskb` on x86-64 (through Clang's intrinsics
    /// module, which the toolchain ships), a multiply that gathers the lanes' top bits elsewhere.
    @inline(__always)
    static func bits(_ m: SIMDMask<SIMD16<Int8>>) -> UInt64 {
        #if arch(x86_64)
        return UInt64(UInt16(truncatingIfNeeded: _mm_movemask_epi8(unsafeBitCast(m, to: __m128i.self))))
        #else
        let lanes = unsafeBitCast(m, to: SIMD2<UInt64>.self)
        let magic: UInt64 = 0x0002_0408_1020_4081
        let lo = ((lanes[0] & 0x8080_8080_8080_8080) &* magic) >> 56
        let hi = ((lanes[1] & 0x8080_8080_8080_8080) &* magic) >> 56
        return lo | hi << 8
        #endif
    }

    /// Skips the object or array whose opening bracket is `p[start]` (see `JSONTape.deferredKeys` for what
    /// is checked) and returns the offset just past its closing bracket. `outerDepth` containers are open
    /// around it.
    ///
    /// Works on 64-byte blocks, simdjson style: bit masks of quotes and brackets; the inside of strings as
    /// the prefix XOR of the unescaped quotes; the nesting depth from the counts of brackets outside
    /// strings, visiting brackets one by one only in the block where the value may end or get too deep.
    /// Backslashes and control characters are rare in audit bodies: a block is only searched for them
    /// (escaped bytes, control characters inside strings) when it holds one.
    @inline(never)
    private func skipContainer(_ p: UnsafePointer<UInt8>, _ n: Int, _ start: Int, outerDepth: Int) throws(JSONError) -> Int {
        let limit = maxDepth &- outerDepth
        var depth = 0
        var inString: UInt64 = 0
        var escapeCarry: UInt64 = 0
        var j = start
        let quote = SIMD16<UInt8>(repeating: 0x22)
        let backslash = SIMD16<UInt8>(repeating: 0x5C)
        let space = SIMD16<UInt8>(repeating: 0x20)
        while j < n {
            var block = p + j
            var valid = ~UInt64(0)
            if n &- j < 64 {
                tailBlock.update(repeating: 0x20, count: 64)
                tailBlock.update(from: p + j, count: n &- j)
                block = UnsafePointer(tailBlock)
                valid = (1 &<< UInt64(n &- j)) &- 1
            }
            var quotes: UInt64 = 0, opens: UInt64 = 0, closes: UInt64 = 0, rare: UInt64 = 0
            #if AUDITHOUND_AVX2
            for q in 0..<2 {
                let x = _mm256_loadu_si256(UnsafeRawPointer(block + q &* 32).assumingMemoryBound(to: __m256i.self))
                let shift = UInt64(q &* 32)
                let folded = _mm256_or_si256(x, _mm256_set1_epi8(0x20))
                quotes |= UInt64(UInt32(bitPattern: _mm256_movemask_epi8(_mm256_cmpeq_epi8(x, _mm256_set1_epi8(0x22))))) << shift
                opens |= UInt64(UInt32(bitPattern: _mm256_movemask_epi8(_mm256_cmpeq_epi8(folded, _mm256_set1_epi8(0x7B))))) << shift
                closes |= UInt64(UInt32(bitPattern: _mm256_movemask_epi8(_mm256_cmpeq_epi8(folded, _mm256_set1_epi8(0x7D))))) << shift
                let r = _mm256_or_si256(_mm256_cmpeq_epi8(x, _mm256_set1_epi8(0x5C)), _mm256_cmpeq_epi8(_mm256_min_epu8(x, _mm256_set1_epi8(0x1F)), x))
                rare |= UInt64(UInt32(bitPattern: _mm256_movemask_epi8(r))) << shift
            }
            #else
            let openBrace = SIMD16<UInt8>(repeating: 0x7B)
            let closeBrace = SIMD16<UInt8>(repeating: 0x7D)
            let caseBit = SIMD16<UInt8>(repeating: 0x20)
            for q in 0..<4 {
                let x = UnsafeRawPointer(block + q &* 16).loadUnaligned(as: SIMD16<UInt8>.self)
                let shift = UInt64(q &* 16)
                // `{` and `[` differ only in bit 5 (0x7B, 0x5B), as do `}` and `]` (0x7D, 0x5D).
                let folded = x | caseBit
                quotes |= TapeParser.bits(x .== quote) << shift
                opens |= TapeParser.bits(folded .== openBrace) << shift
                closes |= TapeParser.bits(folded .== closeBrace) << shift
                rare |= TapeParser.bits((x .== backslash) .| (x .< space)) << shift
            }
            #endif
            var escaped = escapeCarry
            var backslashes: UInt64 = 0
            var controls: UInt64 = 0
            if rare != 0 {
                for q in 0..<4 {
                    let x = UnsafeRawPointer(block + q &* 16).loadUnaligned(as: SIMD16<UInt8>.self)
                    backslashes |= TapeParser.bits(x .== backslash) << UInt64(q &* 16)
                    controls |= TapeParser.bits(x .< space) << UInt64(q &* 16)
                }
                // Escaped bytes: a backslash that is not itself escaped escapes the next byte.
                escapeCarry = 0
                var b = backslashes & valid
                while b != 0 {
                    let k = b.trailingZeroBitCount
                    b &= b &- 1
                    if escaped & (1 &<< UInt64(k)) != 0 { continue }
                    if k == 63 { escapeCarry = 1 } else { escaped |= 1 &<< UInt64(k &+ 1) }
                    try checkEscape(p, n, j &+ k)
                }
            } else {
                escapeCarry = 0
            }
            // Bits inside strings: from an opening quote up to (not including) its closing quote.
            var s = quotes & ~escaped & valid
            s ^= s << 1
            s ^= s << 2
            s ^= s << 4
            s ^= s << 8
            s ^= s << 16
            s ^= s << 32
            s ^= inString
            inString = s >> 63 != 0 ? ~0 : 0
            if controls | backslashes != 0 {
                let badControl = controls & s & valid
                if badControl != 0 {
                    throw JSONError(offset: j &+ badControl.trailingZeroBitCount, reason: .controlCharacterInString)
                }
                let strayBackslash = backslashes & ~s & valid
                if strayBackslash != 0 {
                    throw JSONError(offset: j &+ strayBackslash.trailingZeroBitCount, reason: .unexpectedCharacter)
                }
            }
            let o = opens & ~s & valid
            let c = closes & ~s & valid
            // Bracket counts: a block holds few brackets, and clearing the lowest bit per step is cheaper
            // than a population count where the baseline x86-64 has no POPCNT instruction.
            #if AUDITHOUND_AVX2
            let openCount = o.nonzeroBitCount
            let closeCount = c.nonzeroBitCount
            #else
            var openCount = 0
            var bits = o
            while bits != 0 {
                bits &= bits &- 1
                openCount &+= 1
            }
            var closeCount = 0
            bits = c
            while bits != 0 {
                bits &= bits &- 1
                closeCount &+= 1
            }
            #endif
            if depth > closeCount && depth &+ openCount <= limit {
                // The value cannot end, nor get too deep, in this block.
                depth &+= openCount &- closeCount
            } else {
                var structural = o | c
                while structural != 0 {
                    let k = structural.trailingZeroBitCount
                    structural &= structural &- 1
                    if o & (1 &<< UInt64(k)) != 0 {
                        if depth >= limit { throw JSONError(offset: j &+ k, reason: .tooDeep) }
                        depth &+= 1
                    } else {
                        depth &-= 1
                        if depth == 0 { return j &+ k &+ 1 }
                    }
                }
            }
            j &+= 64
        }
        throw JSONError(offset: n, reason: inString != 0 ? .unterminatedString : .unexpectedEnd)
    }

    /// Checks the escape sequence whose backslash is `p[at]` (inside a deferred value).
    @inline(never)
    private func checkEscape(_ p: UnsafePointer<UInt8>, _ n: Int, _ at: Int) throws(JSONError) {
        guard at &+ 1 < n else { throw JSONError(offset: n, reason: .unterminatedString) }
        switch p[at &+ 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
             UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return
        case UInt8(ascii: "u"):
            guard at &+ 6 <= n else { throw JSONError(offset: at, reason: .invalidEscape) }
            for k in 2..<6 where hexValue(p[at &+ k]) < 0 { throw JSONError(offset: at, reason: .invalidEscape) }
        default:
            throw JSONError(offset: at, reason: .invalidEscape)
        }
    }

    /// Closes the container on top of the stack; `p[i]` is its closing bracket.
    @inline(__always)
    private func close<C: CapacityPolicy>(_ p: UnsafePointer<UInt8>, _ i: inout Int, _ depth: inout Int, _ inObject: inout Bool, _ w: inout TapeWriter, _ cp: C.Type,
                       _ stack: UnsafeMutablePointer<Int>) {
        depth &-= 1
        let startIndex = stack[depth]
        w.emit(inObject ? .objectEnd : .arrayEnd, 0, startIndex, UInt64(i), checks: C.checks)
        w.words[startIndex] |= UInt64(w.used)
        i &+= 1
        if depth > 0 {
            let parent = stack[depth &- 1]
            inObject = (w.words[parent] >> tagShift) == UInt64(TapeTag.objectStart.rawValue)
        }
    }

    /// Scans `"key"` then optional whitespace and the colon.
    @inline(__always)
    private func scanKey<C: CapacityPolicy>(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ w: inout TapeWriter, _ cp: C.Type) throws(JSONError) {
        guard i < n else { throw JSONError(offset: i, reason: .unexpectedEnd) }
        guard p[i] == UInt8(ascii: "\"") else { throw JSONError(offset: i, reason: .expectedKey) }
        try scanString(p, n, &i, &w, cp)
        if i < n && p[i] == UInt8(ascii: ":") {
            // Compact JSON: the colon right after the key.
            i &+= 1
            return
        }
        while i < n {
            let c = p[i]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i &+= 1 } else { break }
        }
        guard i < n else { throw JSONError(offset: i, reason: .unexpectedEnd) }
        guard p[i] == UInt8(ascii: ":") else { throw JSONError(offset: i, reason: .expectedColon) }
        i &+= 1
    }

    @inline(__always)
    private func literal<C: CapacityPolicy>(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ first4: UInt32, _ length: Int, _ tag: TapeTag, _ w: inout TapeWriter, _ cp: C.Type) throws(JSONError) {
        guard i &+ length <= n else { throw JSONError(offset: i, reason: .invalidLiteral) }
        let word = UInt32(p[i]) << 24 | UInt32(p[i &+ 1]) << 16 | UInt32(p[i &+ 2]) << 8 | UInt32(p[i &+ 3])
        guard word == first4 else { throw JSONError(offset: i, reason: .invalidLiteral) }
        w.emit(tag, 0, i, UInt64(length), checks: C.checks)
        i &+= length
    }

    // The byte scans: 32-byte AVX2 vectors through Clang's intrinsics in the AVX2 build (Swift's own
    // `SIMD32` operators compile to per-byte code there), 16-byte SSE2 vectors otherwise.

    /// Bytes ``firstStop(_:)`` looks at.
    #if AUDITHOUND_AVX2
    static let scanWidth = 32
    #else
    static let scanWidth = 16
    #endif

    /// The offset of the first quote, backslash or control character among the ``scanWidth`` bytes at `p`;
    /// ``scanWidth`` when there is none.
    #if AUDITHOUND_AVX2
    @inline(__always)
    static func firstStop(_ p: UnsafePointer<UInt8>) -> Int {
        let x = _mm256_loadu_si256(UnsafeRawPointer(p).assumingMemoryBound(to: __m256i.self))
        let m = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(x, _mm256_set1_epi8(0x22)), _mm256_cmpeq_epi8(x, _mm256_set1_epi8(0x5C))),
                                _mm256_cmpeq_epi8(_mm256_min_epu8(x, _mm256_set1_epi8(0x1F)), x))
        let bits = UInt64(UInt32(bitPattern: _mm256_movemask_epi8(m))) | (1 << 32)
        return bits.trailingZeroBitCount
    }
    #else
    @inline(__always)
    static func firstStop(_ p: UnsafePointer<UInt8>) -> Int {
        let x = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<UInt8>.self)
        let m = (x .== SIMD16<UInt8>(repeating: 0x22)) .| (x .== SIMD16<UInt8>(repeating: 0x5C)) .| (x .< SIMD16<UInt8>(repeating: 0x20))
        let lanes = unsafeBitCast(m, to: SIMD2<UInt64>.self)
        if lanes[0] != 0 { return lanes[0].trailingZeroBitCount >> 3 }
        if lanes[1] != 0 { return 8 &+ (lanes[1].trailingZeroBitCount >> 3) }
        return 16
    }
    #endif

    /// Bytes known to be plain when ``shortString(_:_:_:)`` returns -2.
    #if AUDITHOUND_AVX2
    static let shortSpan = 32
    #else
    static let shortSpan = 16
    #endif

    /// The length of a string whose content starts at `start` when its closing quote is among the next
    /// ``shortSpan`` bytes and nothing before it needs a closer look (backslash, control character); -2
    /// when those bytes hold no quote, backslash or control character; -1 otherwise.
    /// Most keys and many values are such short strings: this check is small enough to be inlined at
    /// every place a string starts, with its constants kept in registers by the parsing loop.
    #if AUDITHOUND_AVX2
    @inline(__always)
    private func shortString(_ p: UnsafePointer<UInt8>, _ start: Int, _ n: Int) -> Int {
        guard start &+ 32 <= n else { return -1 }
        let x = _mm256_loadu_si256(UnsafeRawPointer(p + start).assumingMemoryBound(to: __m256i.self))
        let q = UInt32(bitPattern: _mm256_movemask_epi8(_mm256_cmpeq_epi8(x, _mm256_set1_epi8(0x22))))
        let o = UInt32(bitPattern: _mm256_movemask_epi8(_mm256_or_si256(_mm256_cmpeq_epi8(x, _mm256_set1_epi8(0x5C)),
                                                                          _mm256_cmpeq_epi8(_mm256_min_epu8(x, _mm256_set1_epi8(0x1F)), x))))
        if q != 0 {
            let k = q.trailingZeroBitCount
            return o & ((1 &<< UInt32(k)) &- 1) == 0 ? k : -1
        }
        return o == 0 ? -2 : -1
    }
    #else
    @inline(__always)
    private func shortString(_ p: UnsafePointer<UInt8>, _ start: Int, _ n: Int) -> Int {
        guard start &+ 16 <= n else { return -1 }
        let x = UnsafeRawPointer(p + start).loadUnaligned(as: SIMD16<UInt8>.self)
        let quotes = unsafeBitCast(x .== SIMD16<UInt8>(repeating: 0x22), to: SIMD2<UInt64>.self)
        let others = unsafeBitCast((x .== SIMD16<UInt8>(repeating: 0x5C)) .| (x .< SIMD16<UInt8>(repeating: 0x20)), to: SIMD2<UInt64>.self)
        if quotes[0] != 0 {
            let k = quotes[0].trailingZeroBitCount
            // No backslash or control character before the quote (bytes below bit k).
            return others[0] & ((1 &<< UInt64(k)) &- 1) == 0 ? k >> 3 : -1
        }
        if quotes[1] != 0 && others[0] == 0 {
            let k = quotes[1].trailingZeroBitCount
            return others[1] & ((1 &<< UInt64(k)) &- 1) == 0 ? 8 &+ (k >> 3) : -1
        }
        // -2: no stop at all in these 16 bytes (the scan can go on after them).
        return quotes[1] == 0 && (others[0] | others[1]) == 0 ? -2 : -1
    }

    #endif

    /// Scans a string starting at the opening quote `p[i]`; leaves `i` just past the closing quote.
    @inline(__always)
    private func scanString<C: CapacityPolicy>(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ w: inout TapeWriter, _ cp: C.Type,
                                               skip: Int = 0) throws(JSONError) {
        let contentStart = i &+ 1
        // `skip`: that many content bytes are known to be plain (no quote, backslash or control).
        var j = contentStart &+ skip
        var escaped: UInt64 = 0
        while true {
            // A window of bytes at a time: stop at a quote, a backslash or a control character.
            if j &+ TapeParser.scanWidth <= n {
                let k = TapeParser.firstStop(p + j)
                j &+= k
                if k == TapeParser.scanWidth { continue }
            } else {
                // The last few bytes of the document, one at a time.
                while j < n {
                    let c = p[j]
                    if c == 0x22 || c == 0x5C || c < 0x20 { break }
                    j &+= 1
                }
                guard j < n else { throw JSONError(offset: n, reason: .unterminatedString) }
            }
            let c = p[j]
            if c == UInt8(ascii: "\"") {
                w.emit(.string, escaped, contentStart, UInt64(j &- contentStart), checks: C.checks)
                i = j &+ 1
                return
            } else if c == UInt8(ascii: "\\") {
                escaped = 1
                guard j &+ 1 < n else { throw JSONError(offset: n, reason: .unterminatedString) }
                switch p[j &+ 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                     UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    j &+= 2
                case UInt8(ascii: "u"):
                    guard j &+ 6 <= n else { throw JSONError(offset: j, reason: .invalidEscape) }
                    for k in 2..<6 where hexValue(p[j &+ k]) < 0 {
                        throw JSONError(offset: j, reason: .invalidEscape)
                    }
                    j &+= 6
                default:
                    throw JSONError(offset: j, reason: .invalidEscape)
                }
            } else if c < 0x20 {
                throw JSONError(offset: j, reason: .controlCharacterInString)
            }
        }
    }

    /// Scans a number per RFC 8259's grammar.
    @inline(__always)
    private func scanNumber<C: CapacityPolicy>(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ w: inout TapeWriter, _ cp: C.Type) throws(JSONError) {
        let start = i
        var j = i
        var integer: UInt64 = 1
        if p[j] == UInt8(ascii: "-") { j &+= 1 }
        guard j < n else { throw JSONError(offset: j, reason: .invalidNumber) }
        if p[j] == UInt8(ascii: "0") {
            j &+= 1
        } else if p[j] >= UInt8(ascii: "1") && p[j] <= UInt8(ascii: "9") {
            j &+= 1
            while j < n && p[j] &- UInt8(ascii: "0") < 10 { j &+= 1 }
        } else {
            throw JSONError(offset: j, reason: .invalidNumber)
        }
        if j < n && p[j] == UInt8(ascii: ".") {
            integer = 0
            j &+= 1
            let digits = j
            while j < n && p[j] &- UInt8(ascii: "0") < 10 { j &+= 1 }
            if j == digits { throw JSONError(offset: j, reason: .invalidNumber) }
        }
        if j < n && (p[j] | 0x20) == UInt8(ascii: "e") {
            integer = 0
            j &+= 1
            if j < n && (p[j] == UInt8(ascii: "+") || p[j] == UInt8(ascii: "-")) { j &+= 1 }
            let digits = j
            while j < n && p[j] &- UInt8(ascii: "0") < 10 { j &+= 1 }
            if j == digits { throw JSONError(offset: j, reason: .invalidNumber) }
        }
        w.emit(.number, integer, start, UInt64(j &- start), checks: C.checks)
        i = j
    }
}

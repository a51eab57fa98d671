import AuditJSON
#if canImport(Glibc)
import Glibc
#endif

/// One match of a stateful rule, made by a worker for ``StatefulDetectors``: when, for which key, with
/// which distinct values, and the values of the rule's output fields (the event itself is gone by the
/// time the detectors decide; the alert text is made only if they alert).
///
/// The texts are not objects of their own: they sit in ``ObservationTexts``, one byte buffer per batch,
/// and an observation holds only its place there. Making one allocates nothing once the buffers have
/// grown, and the in-order stage (on another thread) frees one object per batch instead of several per
/// observation.
public struct Observation: Sendable {
    /// Index of the rule in ``CompiledRuleSet/rules``.
    public var rule: Int
    /// 0: the rule's condition matched; 1: the `then` condition of a sequence rule matched.
    public var step: Int
    /// Event time, nanoseconds since the Unix epoch.
    public var time: Int64
    /// How many matching events this observation stands for: a worker merges the repeats of one key
    /// (and distinct values) of a first_seen rule, or of a distinct rule with `max_count`, within a
    /// batch into the first of them (they are accounted at its time).
    public var occurrences: Int = 1
    /// The latest event time among those occurrences.
    public var lastTime: Int64
    /// Line of the record in the input.
    public var line: Int
    /// Item number inside an EventList or array (0 for a whole record).
    public var item: Int
    /// The texts of the observation's batch, and where this observation's entries start in
    /// ``ObservationTexts/pieces``.
    let texts: ObservationTexts
    let at: Int

    init(rule: Int, step: Int, time: Int64, lastTime: Int64, line: Int, item: Int, texts: ObservationTexts, at: Int) {
        self.rule = rule
        self.step = step
        self.time = time
        self.lastTime = lastTime
        self.line = line
        self.item = item
        self.texts = texts
        self.at = at
    }

    /// An observation with texts of its own (state files, tests).
    init(rule: Int, step: Int, time: Int64, occurrences: Int = 1, lastTime: Int64, key: String, distinct: [String],
         auditID: String, source: String, line: Int, item: Int, output: [[String]?]) {
        let texts = ObservationTexts(source: source)
        let at = texts.begin()
        texts.append(key.utf8)
        texts.endPiece()
        texts.appendCount(distinct.count)
        for d in distinct {
            texts.append(d.utf8)
            texts.endPiece()
        }
        texts.append(auditID.utf8)
        texts.endPiece()
        texts.appendCount(output.count)
        for f in output {
            texts.appendCount(f?.count ?? 0)
            for v in f ?? [] {
                texts.append(v.utf8)
                texts.endPiece()
            }
        }
        self.init(rule: rule, step: step, time: time, lastTime: lastTime, line: line, item: item, texts: texts, at: at)
        self.occurrences = occurrences
    }

    /// The key: the key fields' values joined with U+001F (`<NA>` for a field without a value; a list
    /// field's values joined with commas; a `/N` field reduced to its network).
    public var key: String { texts.string(texts.pieces[at], texts.pieces[at + 1]) }

    /// The key's UTF-8 bytes, without making a `String`.
    @inline(__always) func withKeyBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        texts.withBytes(texts.pieces[at], texts.pieces[at + 1], body)
    }

    /// One value per distinct condition (the fields of a condition joined with `/`).
    public var distinct: [String] {
        let n = Int(texts.pieces[at + 2])
        var out: [String] = []
        out.reserveCapacity(n)
        var start = texts.pieces[at + 1]
        for k in 0..<n {
            let end = texts.pieces[at + 3 + k]
            out.append(texts.string(start, end))
            start = end
        }
        return out
    }

    /// The request's auditID ("" when the event has none).
    public var auditID: String {
        let n = Int(texts.pieces[at + 2])
        return texts.string(n == 0 ? texts.pieces[at + 1] : texts.pieces[at + 2 + n], texts.pieces[at + 3 + n])
    }

    /// Where the event came from: the input's display name (see ``line`` and ``item``).
    public var source: String { texts.source }

    /// The values of the rule's output fields, in ``CompiledRule/outputFields`` order (nil: not available).
    func outputValues() -> [[String]?] {
        let n = Int(texts.pieces[at + 2])
        var start = texts.pieces[at + 3 + n]
        var i = at + 4 + n
        let fields = Int(texts.pieces[i])
        i += 1
        var out: [[String]?] = []
        out.reserveCapacity(fields)
        for _ in 0..<fields {
            let count = Int(texts.pieces[i])
            i += 1
            if count == 0 {
                out.append(nil)
                continue
            }
            var values: [String] = []
            values.reserveCapacity(count)
            for _ in 0..<count {
                let end = texts.pieces[i]
                values.append(texts.string(start, end))
                start = end
                i += 1
            }
            out.append(values)
        }
        return out
    }

    /// The key fields' values.
    public var keyValues: [String] { key.split(separator: "\u{1F}", omittingEmptySubsequences: false).map(String.init) }

    /// `path:line`, with `#item` inside lists (as in alerts).
    public var input: String { item > 0 ? "\(source):\(line)#\(item)" : "\(source):\(line)" }
}

/// The texts of a batch's observations, back to back in one byte buffer, and where each piece ends.
///
/// An observation's entries in ``pieces``, from its ``Observation/at``: the byte offset where its texts
/// start; the end of its key; the number of distinct values, then the end of each; the end of its
/// auditID; the number of output fields, then for each its number of values and the end of each value.
/// Written only by the worker that makes the batch's observations, and only read once the batch has
/// been handed on (through the pipeline's lock).
public final class ObservationTexts: @unchecked Sendable {
    /// The input's display name (one per batch).
    public let source: String
    private(set) var bytes: [UInt8] = []
    private(set) var pieces: [Int32] = []

    init(source: String) {
        self.source = source
    }

    /// Starts an observation; returns its ``Observation/at``.
    @inline(__always) func begin() -> Int {
        pieces.append(Int32(truncatingIfNeeded: bytes.count))
        return pieces.count - 1
    }

    @inline(__always) func endPiece() { pieces.append(Int32(truncatingIfNeeded: bytes.count)) }
    @inline(__always) func appendCount(_ n: Int) { pieces.append(Int32(truncatingIfNeeded: n)) }
    @inline(__always) func append(_ b: UnsafeRawBufferPointer) { bytes.append(contentsOf: b) }
    @inline(__always) func append(_ b: String.UTF8View) { bytes.append(contentsOf: b) }
    @inline(__always) func append(byte: UInt8) { bytes.append(byte) }

    func string(_ start: Int32, _ end: Int32) -> String {
        bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[Int(start)..<Int(end)]), as: UTF8.self) }
    }

    @inline(__always) func withBytes<R>(_ start: Int32, _ end: Int32, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[Int(start)..<Int(end)])) }
    }
}

/// Per-batch state of a worker's observations: where the first observation of each (rule, key,
/// distinct values) of first_seen rules and distinct rules with `max_count` is, so repeats are merged
/// into it.
///
/// A repeat is recognised by its raw field values: they are laid out as bytes (rule, then each field's
/// value count, lengths and bytes), hashed, and compared byte for byte with the candidates of the same
/// hash, so a hash collision can never merge two different keys. A repeat allocates nothing once the
/// tables have grown for the batch. Its byte buffers are shared by copies: use one merger per batch and
/// thread, passed `inout`.
public struct ObservationMerger {
    /// Open-addressing table of entry numbers + 1 (0 = empty); its size is a power of two.
    var table: [Int32] = Array(repeating: 0, count: 256)
    var entries: [Entry] = []
    /// The field bytes of every entry, back to back.
    let stored = GrowableBytes()
    /// The candidate being looked up.
    let material = GrowableBytes()
    /// The texts of the batch's observations (see ``ObservationTexts``).
    var texts: ObservationTexts? = nil

    struct Entry {
        var hash: UInt64
        var observation: Int
        var start: Int
        var end: Int
    }

    /// An empty merger (one per batch).
    public init() {}

    /// Forgets the batch (call with a new, empty observation list).
    public mutating func reset() {
        for i in table.indices { table[i] = 0 }
        entries.removeAll(keepingCapacity: true)
        stored.count = 0
        texts = nil
    }

    /// Looks `material` up: the observation it repeats, or nil after remembering it as `observation`.
    mutating func lookupOrInsert(observation: Int) -> Int? {
        let m = material.bytes
        let h = fastHash(m)
        var mask = table.count - 1
        var slot = Int(truncatingIfNeeded: h) & mask
        while table[slot] != 0 {
            let e = entries[Int(table[slot]) - 1]
            if e.hash == h && e.end - e.start == m.count
                && (m.count == 0 || memcmp(stored.base + e.start, m.baseAddress!, m.count) == 0) {
                return e.observation
            }
            slot = (slot + 1) & mask
        }
        let start = stored.count
        stored.append(m)
        entries.append(Entry(hash: h, observation: observation, start: start, end: stored.count))
        table[slot] = Int32(entries.count)
        if entries.count * 2 > table.count {
            // Grow and re-insert (the table stays at most half full).
            table = Array(repeating: 0, count: table.count * 2)
            mask = table.count - 1
            for (k, e) in entries.enumerated() {
                var s = Int(truncatingIfNeeded: e.hash) & mask
                while table[s] != 0 { s = (s + 1) & mask }
                table[s] = Int32(k + 1)
            }
        }
        return nil
    }
}

/// A byte buffer that only grows (appending is a `memcpy`, with no per-call generic overhead).
final class GrowableBytes {
    private(set) var base: UnsafeMutableRawPointer
    private var capacity: Int
    var count = 0

    init(capacity: Int = 4096) {
        self.capacity = capacity
        base = .allocate(byteCount: capacity, alignment: 8)
    }

    deinit { base.deallocate() }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    @inline(__always) func append(_ b: UnsafeRawBufferPointer) {
        if count + b.count > capacity { grow(count + b.count) }
        if b.count > 0 { (base + count).copyMemory(from: b.baseAddress!, byteCount: b.count) }
        count += b.count
    }

    @inline(__always) func append(_ x: Int) {
        if count + 4 > capacity { grow(count + 4) }
        (base + count).storeBytes(of: UInt32(truncatingIfNeeded: x).littleEndian, as: UInt32.self)
        count += 4
    }

    @inline(never) private func grow(_ needed: Int) {
        var c = capacity * 2
        while c < needed { c *= 2 }
        let n = UnsafeMutableRawPointer.allocate(byteCount: c, alignment: 8)
        n.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = n
        capacity = c
    }
}

/// A fast 64-bit hash of bytes (8 at a time, multiply and shift mixing). Only used to find candidates,
/// which are then compared byte for byte, so its quality affects speed, never results.
@inline(__always) func fastHash(_ b: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
    var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(b.count) ^ seed
    var i = 0
    let n = b.count
    while i + 8 <= n {
        let w = b.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        h = (h ^ w) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 31
        i += 8
    }
    var tail: UInt64 = 0
    var shift: UInt64 = 0
    while i < n {
        tail |= UInt64(b[i]) << shift
        shift += 8
        i += 1
    }
    h = (h ^ tail) &* 0x94D0_49BB_1331_11EB
    h ^= h >> 29
    return h
}

/// What a worker needs to make a stateful rule's observations, flattened for the hot path.
final class ObservationPlan: @unchecked Sendable {
    let kind: AggregateKind
    let keySlots: [Int]
    let keyPrefixes: [Int?]
    let distinctSlots: [[Int]]
    let distinctPrefixes: [[Int?]]
    let outputFields: [Int]
    let merges: Bool

    init(_ a: CompiledAggregate, outputFields: [Int]) {
        kind = a.spec.kind
        keySlots = a.keySlots
        keyPrefixes = a.spec.key.map(\.networkPrefix)
        distinctSlots = a.distinctSlots
        distinctPrefixes = a.spec.distinct.map { $0.fields.map(\.networkPrefix) }
        self.outputFields = outputFields
        // Repeats change nothing but counts there; other rules alert on a particular event.
        merges = kind == .firstSeen || (kind == .distinct && a.spec.maxCount != nil)
    }
}

extension RuleEvaluator {
    /// Adds the observation of stateful rule `index` (step 0 or 1) for the event last evaluated to
    /// `list`, or merges it into an earlier one of the same batch (see ``Observation/occurrences``).
    /// Its texts go to `merger`'s ``ObservationTexts`` (one per batch and source).
    public func observe(rule index: Int, step: Int, time: Int64, auditID: JSONValue?, source: String, line: Int, item: Int,
                        into list: inout [Observation], merging merger: inout ObservationMerger) {
        let merge = mergePlans[index]
        if merge.count >= 0 {
            // A repeat of an earlier observation of the batch only adds to its counts: built from raw
            // tables, with no reference counting (most events of busy first_seen rules end here).
            let material = merger.material
            material.count = 0
            material.append(index)
            for k in Int(merge.start)..<Int(merge.start &+ merge.count) { appendMaterial(Int(mergeSlots[k]), to: material) }
            if let at = merger.lookupOrInsert(observation: list.count), at < list.count {
                list[at].occurrences += 1
                if time > list[at].lastTime { list[at].lastTime = time }
                return
            }
        }
        guard let plan = ruleSet.observationPlans[index] else { return }
        let texts: ObservationTexts
        if let t = merger.texts, t.source == source {
            texts = t
        } else {
            texts = ObservationTexts(source: source)
            merger.texts = texts
        }
        let at = writeTexts(plan, auditID: auditID, to: texts)
        list.append(Observation(rule: index, step: step, time: time, lastTime: time, line: line, item: item, texts: texts, at: at))
    }

    /// The observation of stateful rule `index` (step 0 or 1) for the event last evaluated.
    public func observation(rule index: Int, step: Int, time: Int64, auditID: String, source: String, line: Int, item: Int) -> Observation {
        guard let plan = ruleSet.observationPlans[index] else {
            return Observation(rule: index, step: step, time: time, lastTime: time, key: "", distinct: [], auditID: auditID,
                               source: source, line: line, item: item, output: [])
        }
        let texts = ObservationTexts(source: source)
        let at = writeTexts(plan, auditID: nil, auditIDText: auditID, to: texts)
        return Observation(rule: index, step: step, time: time, lastTime: time, line: line, item: item, texts: texts, at: at)
    }

    /// Lays out a field's values for ``ObservationMerger``: count, then each value's length and bytes.
    @inline(__always) private func appendMaterial(_ slot: Int, to m: GrowableBytes) {
        let values = self.values(ofSlot: slot)
        m.append(values.count)
        for v in values {
            m.append(v.count)
            m.append(v)
        }
    }

    /// Writes the texts of the observation of `plan`'s rule for the event last evaluated (layout: see
    /// ``ObservationTexts``); returns its ``Observation/at``.
    private func writeTexts(_ plan: ObservationPlan, auditID: JSONValue?, auditIDText: String? = nil, to texts: ObservationTexts) -> Int {
        let at = texts.begin()
        for (k, slot) in plan.keySlots.enumerated() {
            if k > 0 { texts.append(byte: 0x1F) }
            appendText(ofSlot: slot, prefix: plan.keyPrefixes[k], to: texts)
        }
        texts.endPiece()
        texts.appendCount(plan.distinctSlots.count)
        for (c, slots) in plan.distinctSlots.enumerated() {
            for (k, slot) in slots.enumerated() {
                if k > 0 { texts.append(byte: UInt8(ascii: "/")) }
                appendText(ofSlot: slot, prefix: plan.distinctPrefixes[c][k], to: texts)
            }
            texts.endPiece()
        }
        if let auditIDText {
            texts.append(auditIDText.utf8)
        } else if let auditID, auditID.isString {
            auditID.forEachDecodedPiece { texts.append($0) }
        }
        texts.endPiece()
        texts.appendCount(plan.outputFields.count)
        for slot in plan.outputFields {
            let values = self.values(ofSlot: slot)
            texts.appendCount(values.count)
            for v in values {
                texts.append(v)
                texts.endPiece()
            }
        }
        return at
    }

    /// A field's values as one key component: `<NA>` when it has none, values joined with commas, an
    /// address reduced to its network for a `/N` field, U+001F (which joins components) replaced by
    /// U+FFFD.
    private func appendText(ofSlot slot: Int, prefix: Int?, to out: ObservationTexts) {
        let values = self.values(ofSlot: slot)
        if values.isEmpty {
            out.append("<NA>".utf8)
            return
        }
        for (i, v) in values.enumerated() {
            if i > 0 { out.append(byte: UInt8(ascii: ",")) }
            if let prefix, let network = NetworkPrefix.network(of: v, ipv4Bits: prefix) {
                out.append(network.utf8)
            } else if v.contains(0x1F) {
                for b in v {
                    if b == 0x1F {
                        out.append(byte: 0xEF)
                        out.append(byte: 0xBF)
                        out.append(byte: 0xBD)
                    } else {
                        out.append(byte: b)
                    }
                }
            } else {
                out.append(v)
            }
        }
    }
}


/// Reduces IP addresses to networks: IPv4 to /N, IPv6 to /64 (an IPv4-mapped IPv6 address counts as
/// IPv4).
public enum NetworkPrefix {
    /// `203.0.113.77` with 24 bits -> `203.0.113.0/24`; `2001:db8:1:2:3::4` -> `2001:db8:1:2::/64`; text
    /// that is not an address is returned unchanged.
    public static func network(of text: String, ipv4Bits: Int) -> String {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { network(of: UnsafeRawBufferPointer($0), ipv4Bits: ipv4Bits) } ?? text
    }

    /// The network of an address given as bytes; nil when it is not an address.
    static func network(of b: UnsafeRawBufferPointer, ipv4Bits: Int) -> String? {
        if let v4 = parseIPv4(b) { return ipv4Network(v4, bits: ipv4Bits) }
        if let v6 = parseIPv6(b) {
            if v6[0] == 0, v6[1] == 0, v6[2] == 0, v6[3] == 0, v6[4] == 0, v6[5] == 0xFFFF {
                return ipv4Network(UInt32(v6[6]) << 16 | UInt32(v6[7]), bits: ipv4Bits)
            }
            return "\(String(v6[0], radix: 16)):\(String(v6[1], radix: 16)):\(String(v6[2], radix: 16)):\(String(v6[3], radix: 16))::/64"
        }
        return nil
    }

    static func ipv4Network(_ v4: UInt32, bits: Int) -> String {
        let bits = max(0, min(32, bits))
        let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << UInt32(32 - bits)
        let n = v4 & mask
        return "\(n >> 24).\((n >> 16) & 255).\((n >> 8) & 255).\(n & 255)/\(bits)"
    }

    /// Dotted-quad IPv4 (no leading zeros beyond three digits, each part at most 255).
    static func parseIPv4(_ b: UnsafeRawBufferPointer) -> UInt32? {
        var value: UInt32 = 0
        var part: UInt32 = 0
        var digits = 0
        var parts = 0
        for c in b {
            if c >= 0x30 && c <= 0x39 {
                part = part * 10 + UInt32(c - 0x30)
                digits += 1
                if digits > 3 || part > 255 { return nil }
            } else if c == UInt8(ascii: ".") {
                guard digits > 0, parts < 3 else { return nil }
                value = value << 8 | part
                parts += 1
                part = 0
                digits = 0
            } else {
                return nil
            }
        }
        guard digits > 0, parts == 3 else { return nil }
        return value << 8 | part
    }

    /// The eight 16-bit groups of an IPv6 address (`::` and a trailing dotted IPv4 part accepted; a
    /// zone `%eth0` ignored).
    static func parseIPv6(_ b: UnsafeRawBufferPointer) -> [UInt16]? {
        var end = b.count
        if let percent = b.firstIndex(of: UInt8(ascii: "%")) { end = percent }
        guard end >= 2, b[0..<end].contains(UInt8(ascii: ":")) else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawGap = false
        var i = 0
        if end >= 2 && b[0] == UInt8(ascii: ":") {
            guard b[1] == UInt8(ascii: ":") else { return nil }
            sawGap = true
            i = 2
        }
        while i < end {
            // One group (or a trailing IPv4 part).
            var j = i
            while j < end && b[j] != UInt8(ascii: ":") { j += 1 }
            let group = UnsafeRawBufferPointer(rebasing: b[i..<j])
            if group.contains(UInt8(ascii: ".")) {
                guard j == end, let v4 = parseIPv4(group) else { return nil }
                if sawGap { tail += [UInt16(v4 >> 16), UInt16(v4 & 0xFFFF)] } else { head += [UInt16(v4 >> 16), UInt16(v4 & 0xFFFF)] }
                i = j
                break
            }
            guard group.count >= 1, group.count <= 4 else { return nil }
            var g: UInt16 = 0
            for c in group {
                let d: UInt16
                switch c {
                case 0x30...0x39: d = UInt16(c - 0x30)
                case 0x61...0x66: d = UInt16(c - 0x61 + 10)
                case 0x41...0x46: d = UInt16(c - 0x41 + 10)
                default: return nil
                }
                g = g << 4 | d
            }
            if sawGap { tail.append(g) } else { head.append(g) }
            i = j
            if i < end {
                // At a ':'.
                i += 1
                if i < end && b[i] == UInt8(ascii: ":") {
                    guard !sawGap else { return nil }
                    sawGap = true
                    i += 1
                } else if i == end {
                    return nil
                }
            }
        }
        if sawGap {
            guard head.count + tail.count <= 7 else { return nil }
            return head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        return head.count == 8 ? head : nil
    }
}

// A growable byte buffer written through raw pointers: the generator's only output primitive.

/// Heap storage behind `ByteWriter`. Owned by the generator and reused for every event, so
/// rendering allocates only when an event is larger than anything seen before.
final class ByteStorage {
    var base: UnsafeMutablePointer<UInt8>
    var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 256)
        self.base = UnsafeMutablePointer<UInt8>.allocate(capacity: self.capacity)
    }

    deinit { self.base.deallocate() }

    /// Grows to at least `needed` bytes, keeping the first `used` bytes.
    func grow(toAtLeast needed: Int, keeping used: Int) {
        var newCapacity = self.capacity
        while newCapacity < needed { newCapacity &*= 2 }
        let fresh = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        fresh.update(from: self.base, count: used)
        self.base.deallocate()
        self.base = fresh
        self.capacity = newCapacity
    }
}

/// Appends bytes to a `ByteStorage`. A value type so that the hot loop keeps `base`, `count` and
/// `capacity` in registers; create one per rendering pass and read `count` at the end.
struct ByteWriter {
    let storage: ByteStorage
    var base: UnsafeMutablePointer<UInt8>
    var capacity: Int
    var count: Int

    init(_ storage: ByteStorage) {
        self.storage = storage
        self.base = storage.base
        self.capacity = storage.capacity
        self.count = 0
    }

    /// The bytes written so far.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: self.base, count: self.count) }

    @inline(__always)
    mutating func reserve(_ n: Int) {
        if self.count &+ n > self.capacity { self.grow_slowPath(n) }
    }

    @inline(never)
    mutating func grow_slowPath(_ n: Int) {
        self.storage.grow(toAtLeast: self.count + n, keeping: self.count)
        self.base = self.storage.base
        self.capacity = self.storage.capacity
    }

    @inline(__always)
    mutating func byte(_ b: UInt8) {
        self.reserve(1)
        self.base[self.count] = b
        self.count &+= 1
    }

    /// Appends a static literal. Every literal in this module is ASCII.
    @inline(__always)
    mutating func put(_ s: StaticString) {
        let n = s.utf8CodeUnitCount
        self.reserve(n)
        (self.base + self.count).update(from: s.utf8Start, count: n)
        self.count &+= n
    }

    @inline(__always)
    mutating func put(_ t: Text) {
        self.reserve(t.count)
        (self.base + self.count).update(from: t.start, count: t.count)
        self.count &+= t.count
    }

    mutating func put(_ bytes: [UInt8]) {
        self.reserve(bytes.count)
        bytes.withUnsafeBufferPointer { src in
            if let p = src.baseAddress { (self.base + self.count).update(from: p, count: src.count) }
        }
        self.count &+= bytes.count
    }

    mutating func put(_ bytes: UnsafeRawBufferPointer) {
        self.reserve(bytes.count)
        if let p = bytes.baseAddress {
            (self.base + self.count).update(from: p.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        }
        self.count &+= bytes.count
    }

    /// Appends the decimal digits of `v`.
    @inline(__always)
    mutating func int(_ v: Int) {
        if v < 0 {
            self.byte(UInt8(ascii: "-"))
            self.uint(UInt64(0 &- v))
        } else {
            self.uint(UInt64(v))
        }
    }

    mutating func uint(_ v: UInt64) {
        self.reserve(20)
        if v < 10 {
            self.base[self.count] = 48 &+ UInt8(truncatingIfNeeded: v)
            self.count &+= 1
            return
        }
        var digits = 0
        var t = v
        while t > 0 { digits &+= 1; t /= 10 }
        var x = v
        var i = self.count &+ digits
        while x > 0 {
            i &-= 1
            self.base[i] = 48 &+ UInt8(truncatingIfNeeded: x % 10)
            x /= 10
        }
        self.count &+= digits
    }

    /// Appends `v` as exactly `width` decimal digits (zero-padded, truncated on the left).
    @inline(__always)
    mutating func fixed(_ v: Int, width: Int) {
        self.reserve(width)
        var x = v
        var i = self.count &+ width
        while i > self.count {
            i &-= 1
            self.base[i] = 48 &+ UInt8(truncatingIfNeeded: x % 10)
            x /= 10
        }
        self.count &+= width
    }

    /// Appends the low `digits` nibbles of `v` as lower-case hex.
    @inline(__always)
    mutating func hex(_ v: UInt64, digits: Int) {
        self.reserve(digits)
        var x = v
        var i = self.count &+ digits
        while i > self.count {
            i &-= 1
            let nibble = UInt8(truncatingIfNeeded: x & 0xF)
            self.base[i] = nibble < 10 ? 48 &+ nibble : 87 &+ nibble
            x >>= 4
        }
        self.count &+= digits
    }

    /// Appends a UUID in its 8-4-4-4-12 text form.
    mutating func uuid(_ id: UUID128) {
        self.hex(id.hi >> 32, digits: 8)
        self.byte(UInt8(ascii: "-"))
        self.hex(id.hi >> 16, digits: 4)
        self.byte(UInt8(ascii: "-"))
        self.hex(id.hi, digits: 4)
        self.byte(UInt8(ascii: "-"))
        self.hex(id.lo >> 48, digits: 4)
        self.byte(UInt8(ascii: "-"))
        self.hex(id.lo, digits: 12)
    }
}

/// A 128-bit identifier rendered as a UUID (auditIDs, object uids).
struct UUID128: Hashable {
    var hi: UInt64
    var lo: UInt64

    /// A random version-4 UUID.
    static func random(_ rng: inout SplitMix64) -> UUID128 {
        let hi = (rng.next() & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000
        let lo = (rng.next() & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        return UUID128(hi: hi, lo: lo)
    }
}

/// An immutable byte string that lives in a `TextArena` (names, identities, precomputed JSON
/// fragments). Trivially copyable: no reference counting when it is written out.
struct Text {
    var start: UnsafePointer<UInt8>
    var count: Int
}

/// Owns the bytes of every `Text` of one cluster model. Never shrinks; freed with the model.
final class TextArena {
    private var blocks: [UnsafeMutablePointer<UInt8>] = []
    private var current: UnsafeMutablePointer<UInt8>
    private var used = 0
    private let blockSize = 1 << 16

    init() {
        self.current = UnsafeMutablePointer<UInt8>.allocate(capacity: self.blockSize)
        self.blocks.append(self.current)
    }

    deinit { for b in self.blocks { b.deallocate() } }

    func make(_ bytes: UnsafeRawBufferPointer) -> Text {
        let n = bytes.count
        if self.used + n > self.blockSize {
            let size = max(self.blockSize, n)
            self.current = UnsafeMutablePointer<UInt8>.allocate(capacity: size)
            self.blocks.append(self.current)
            self.used = 0
        }
        let dst = self.current + self.used
        if let src = bytes.baseAddress, n > 0 {
            dst.update(from: src.assumingMemoryBound(to: UInt8.self), count: n)
        }
        self.used += n
        return Text(start: UnsafePointer(dst), count: n)
    }

    func make(_ s: String) -> Text {
        var copy = s
        return copy.withUTF8 { self.make(UnsafeRawBufferPointer($0)) }
    }
}

/// SplitMix64: a tiny, fast, well-mixed PRNG. The generator's only source of randomness, so a
/// seed fully determines the output.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { self.state = seed }

    @inline(__always)
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<n` (n > 0). Multiply-shift; the bias is negligible for our small ranges.
    @inline(__always)
    mutating func below(_ n: Int) -> Int {
        Int(truncatingIfNeeded: ((self.next() >> 32) &* UInt64(n)) >> 32)
    }

    /// Uniform in `lo...hi`.
    @inline(__always)
    mutating func range(_ lo: Int, _ hi: Int) -> Int { lo &+ self.below(hi &- lo &+ 1) }

    /// True with probability `p`.
    @inline(__always)
    mutating func chance(_ p: Double) -> Bool {
        Double(self.next() >> 11) * 0x1p-53 < p
    }

    /// A uniform double in [0, 1).
    @inline(__always)
    mutating func unit() -> Double { Double(self.next() >> 11) * 0x1p-53 }
}

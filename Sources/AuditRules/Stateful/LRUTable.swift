#if canImport(Glibc)
import Glibc
#endif
/// A map from key strings to values that keeps them in order of last use and holds at most `capacity`
/// of them: inserting beyond it evicts the least recently used key. Slots are stable until removal.
struct LRUTable<Value> {
    /// Open addressing (linear probing) over the live slots: slot + 1 per bucket, 0 when empty; a power
    /// of two, at most half full. Looked up by the key's bytes, so an observation's key needs no `String`
    /// unless it is new.
    private var buckets: [Int32] = []
    private var hashes: [UInt64] = []
    private var live = 0
    private var keys: [String] = []
    private var values: [Value?] = []
    private var older: [Int32] = []
    private var newer: [Int32] = []
    private var free: [Int32] = []
    /// Most recently used slot (-1: empty).
    private(set) var newest: Int32 = -1
    /// Least recently used slot (-1: empty).
    private(set) var oldest: Int32 = -1
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var count: Int { live }

    func slot(_ key: String) -> Int32? {
        var k = key
        return k.withUTF8 { slot(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// The slot of the key with these UTF-8 bytes.
    func slot(bytes: UnsafeRawBufferPointer) -> Int32? {
        guard live > 0 else { return nil }
        let h = fastHash(bytes, seed: tableKeySeed)
        return find(bytes, h).slot
    }

    /// The key's slot (or nil) and the bucket where it is (or where it would go).
    private func find(_ bytes: UnsafeRawBufferPointer, _ h: UInt64) -> (slot: Int32?, bucket: Int) {
        let mask = buckets.count - 1
        var b = Int(truncatingIfNeeded: h) & mask
        while true {
            let entry = buckets[b]
            if entry == 0 { return (nil, b) }
            let s = Int(entry - 1)
            if hashes[s] == h && Self.equal(keys[s], bytes) { return (Int32(s), b) }
            b = (b + 1) & mask
        }
    }

    private static func equal(_ key: String, _ bytes: UnsafeRawBufferPointer) -> Bool {
        if let r = key.utf8.withContiguousStorageIfAvailable({ p in
            p.count == bytes.count && (p.count == 0 || memcmp(p.baseAddress!, bytes.baseAddress!, p.count) == 0)
        }) { return r }
        return key.utf8.elementsEqual(bytes)
    }

    func key(_ slot: Int32) -> String { keys[Int(slot)] }

    func value(_ slot: Int32) -> Value { values[Int(slot)]! }

    /// Changes the value in place.
    mutating func modify<R>(_ slot: Int32, _ body: (inout Value) -> R) -> R {
        body(&values[Int(slot)]!)
    }

    /// Makes `slot` the most recently used.
    mutating func touch(_ slot: Int32) {
        guard slot != newest else { return }
        unlink(slot)
        linkNewest(slot)
    }

    /// Inserts a new key as the most recently used; returns the evicted key and value when the table was
    /// full. The key must not be present.
    @discardableResult
    mutating func insert(_ key: String, _ value: Value) -> (slot: Int32, evicted: (key: String, value: Value)?) {
        var evicted: (key: String, value: Value)? = nil
        if live >= capacity, oldest >= 0 {
            let victim = oldest
            evicted = (keys[Int(victim)], values[Int(victim)]!)
            remove(victim)
        }
        let slot: Int32
        if let f = free.popLast() {
            slot = f
            keys[Int(slot)] = key
            values[Int(slot)] = value
        } else {
            slot = Int32(keys.count)
            keys.append(key)
            values.append(value)
            older.append(-1)
            newer.append(-1)
            hashes.append(0)
        }
        var k = key
        let h = k.withUTF8 { fastHash(UnsafeRawBufferPointer($0), seed: tableKeySeed) }
        hashes[Int(slot)] = h
        if (live + 1) * 2 > buckets.count { rehash(max(16, buckets.count * 2)) }
        let bucket = k.withUTF8 { find(UnsafeRawBufferPointer($0), h).bucket }
        buckets[bucket] = slot + 1
        live += 1
        linkNewest(slot)
        return (slot, evicted)
    }

    /// Removes a slot and returns its value.
    @discardableResult
    mutating func remove(_ slot: Int32) -> Value {
        let i = Int(slot)
        unlink(slot)
        deleteBucket(of: slot)
        live -= 1
        let v = values[i]!
        keys[i] = ""
        values[i] = nil
        free.append(slot)
        if live == 0 {
            // Give the memory back after a burst of keys.
            keys = []; values = []; older = []; newer = []; free = []; hashes = []; buckets = []
        }
        return v
    }

    /// Empties the bucket of `slot`, moving later entries of its probe run back (no tombstones).
    private mutating func deleteBucket(of slot: Int32) {
        let mask = buckets.count - 1
        var i = Int(truncatingIfNeeded: hashes[Int(slot)]) & mask
        while buckets[i] != slot + 1 { i = (i + 1) & mask }
        var j = i
        while true {
            j = (j + 1) & mask
            let entry = buckets[j]
            if entry == 0 { break }
            let home = Int(truncatingIfNeeded: hashes[Int(entry - 1)]) & mask
            // The entry at j may move to i unless its home lies cyclically in (i, j].
            let stays = i <= j ? (home > i && home <= j) : (home > i || home <= j)
            if stays { continue }
            buckets[i] = entry
            i = j
        }
        buckets[i] = 0
    }

    private mutating func rehash(_ size: Int) {
        buckets = Array(repeating: 0, count: size)
        let mask = size - 1
        var s = oldest
        while s >= 0 {
            var b = Int(truncatingIfNeeded: hashes[Int(s)]) & mask
            while buckets[b] != 0 { b = (b + 1) & mask }
            buckets[b] = s + 1
            s = newer[Int(s)]
        }
    }

    /// The next more recently used slot (-1 at the end).
    func newer(than slot: Int32) -> Int32 { newer[Int(slot)] }

    /// Slots from the least to the most recently used.
    var slotsOldestFirst: [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(count)
        var s = oldest
        while s >= 0 {
            out.append(s)
            s = newer[Int(s)]
        }
        return out
    }

    private mutating func unlink(_ slot: Int32) {
        let i = Int(slot)
        let o = older[i], n = newer[i]
        if o >= 0 { newer[Int(o)] = n } else if oldest == slot { oldest = n }
        if n >= 0 { older[Int(n)] = o } else if newest == slot { newest = o }
        older[i] = -1
        newer[i] = -1
    }

    private mutating func linkNewest(_ slot: Int32) {
        let i = Int(slot)
        older[i] = newest
        newer[i] = -1
        if newest >= 0 { newer[Int(newest)] = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
    }
}

/// Per-process seed of the key hashes of ``LRUTable`` (the keys come from the logs: a fixed hash would
/// let crafted keys collide and make every lookup slow). Swift's `String` hashing (SipHash over
/// normalised text) and comparison were a fifth of the stateful stage's time.
let tableKeySeed: UInt64 = UInt64.random(in: UInt64.min...UInt64.max)

#if canImport(Glibc)
import Glibc
#endif
/// A map from key strings to values that keeps them in order of last use and holds at most `capacity`
/// of them: inserting beyond it evicts the least recently used key. Slots are stable until removal.
struct LRUTable<Value> {
    private var index: [TableKey: Int32] = [:]
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

    var count: Int { index.count }

    func slot(_ key: String) -> Int32? { index[TableKey(key)] }

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
        if index.count >= capacity, oldest >= 0 {
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
        }
        index[TableKey(key)] = slot
        linkNewest(slot)
        return (slot, evicted)
    }

    /// Removes a slot and returns its value.
    @discardableResult
    mutating func remove(_ slot: Int32) -> Value {
        let i = Int(slot)
        unlink(slot)
        index[TableKey(keys[i])] = nil
        let v = values[i]!
        keys[i] = ""
        values[i] = nil
        free.append(slot)
        if index.isEmpty {
            // Give the memory back after a burst of keys.
            keys = []; values = []; older = []; newer = []; free = []
        }
        return v
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

/// A table key: the key text and a fast hash of its bytes, seeded per process (the texts come from the
/// logs: a fixed hash would let crafted keys collide and make every lookup slow). Swift's `String`
/// hashing (SipHash over normalised text) and comparison were a fifth of the stateful stage's time.
struct TableKey: Hashable {
    let text: String
    let hash: UInt64

    init(_ text: String) {
        var t = text
        hash = t.withUTF8 { fastHash(UnsafeRawBufferPointer($0), seed: tableKeySeed) }
        self.text = t
    }

    static func == (a: TableKey, b: TableKey) -> Bool {
        guard a.hash == b.hash else { return false }
        var x = a.text, y = b.text
        return x.withUTF8 { p in y.withUTF8 { q in p.count == q.count && (p.count == 0 || memcmp(p.baseAddress!, q.baseAddress!, p.count) == 0) } }
    }

    func hash(into hasher: inout Hasher) { hasher.combine(hash) }
}

/// Per-process seed of ``TableKey`` hashes.
let tableKeySeed: UInt64 = UInt64.random(in: UInt64.min...UInt64.max)

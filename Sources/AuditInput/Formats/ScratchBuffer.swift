/// A growable byte buffer reused for every record a worker decodes (decoded message strings,
/// base64-decoded and inflated payloads).
///
/// It only ever grows, so once it has reached the size of the largest payload, filling it again
/// allocates nothing. Views returned by ``bytes`` stay valid until the buffer is next changed.
final class ScratchBuffer {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    /// Bytes in use.
    var count = 0

    init(capacity: Int = 4096) {
        self.capacity = max(capacity, 16)
        self.base = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit {
        self.base.deallocate()
    }

    /// The bytes in use.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: self.base, count: self.count) }

    /// Forgets the content, keeping the capacity.
    @inline(__always) func removeAll() { self.count = 0 }

    /// Appends `bytes`.
    @inline(__always) func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        self.reserve(bytes.count)
        (self.base + self.count).copyMemory(from: source, byteCount: bytes.count)
        self.count += bytes.count
    }

    /// Appends one byte.
    @inline(__always) func append(_ byte: UInt8) {
        self.reserve(1)
        self.base.storeBytes(of: byte, toByteOffset: self.count, as: UInt8.self)
        self.count += 1
    }

    /// Makes room for `extra` more bytes after `count`.
    @inline(__always) func reserve(_ extra: Int) {
        if self.count + extra > self.capacity { self.grow(to: self.count + extra) }
    }

    /// Free bytes after `count` (at least what was reserved).
    var spare: Int { self.capacity - self.count }

    @inline(never) private func grow(to needed: Int) {
        var newCapacity = self.capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let larger = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        larger.copyMemory(from: self.base, byteCount: self.count)
        self.base.deallocate()
        self.base = larger
        self.capacity = newCapacity
    }
}

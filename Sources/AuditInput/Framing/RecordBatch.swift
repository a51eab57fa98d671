/// A batch of complete records (about `LineFramer.batchSize` bytes) with its own byte buffer.
///
/// A batch is self-contained, so it can be handed from the reader thread to a worker thread. It is
/// reusable: pass it back to `LineFramer.nextBatch(reusing:)` once every user is done with it; a
/// reused batch keeps its grown buffer and array capacities and does not allocate again.
///
/// Buffer layout (`byteCount` bytes of complete lines, then padding):
///
///     | line 1 \n | line 2 \r\n | \n (blank) | line 4 \n | ... | padding (>= 64 bytes) |
///       ^record     ^record                   ^record
///
/// Records point into this buffer; nothing is copied per record. At least `paddingSize` readable
/// bytes follow the end of every record, so a scanner may read a little past the end safely.
///
/// Ordering: records are in stream order. Every diagnostic of a batch is about a line after all
/// records of earlier batches and before all records of later batches of the same framer.
public final class RecordBatch: @unchecked Sendable {
    /// Readable bytes guaranteed after the end of `byteCount` (and thus after every record).
    public static let paddingSize = 64

    /// Index of the input this batch came from (`LineFramer.sourceIndex`).
    public internal(set) var sourceIndex: Int = 0
    /// Position of this batch among the batches of its framer: 0, 1, 2, …
    public internal(set) var sequence: Int = 0
    /// The records, in stream order.
    public internal(set) var records: [Record] = []
    /// Lines that were not turned into records (oversized, cut by an input error).
    public internal(set) var diagnostics: [FramingDiagnostic] = []
    /// Bytes at the start of the buffer that hold this batch's lines.
    public internal(set) var byteCount: Int = 0

    /// Usable bytes in the buffer (without the padding).
    public private(set) var capacity: Int
    /// The buffer: `capacity + paddingSize` bytes.
    private(set) var storage: UnsafeMutableRawPointer

    /// Creates an empty batch with a buffer of `capacity` bytes (plus padding).
    public init(capacity: Int = 1 << 20) {
        self.capacity = max(capacity, 1)
        self.storage = UnsafeMutableRawPointer.allocate(
            byteCount: self.capacity + RecordBatch.paddingSize, alignment: 64)
    }

    deinit {
        self.storage.deallocate()
    }

    /// No records and no diagnostics.
    public var isEmpty: Bool { self.records.isEmpty && self.diagnostics.isEmpty }

    /// Calls `body` with the batch's lines (`byteCount` bytes); padding follows them in memory.
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: self.storage, count: self.byteCount))
    }

    /// The bytes of `record`, a record of this batch.
    ///
    /// The view is valid while the batch is alive and not being refilled by `nextBatch(reusing:)`.
    @inline(__always)
    public func recordBytes(_ record: Record) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: self.storage + record.start, count: record.count)
    }

    /// Clears the batch for refilling, keeping all capacity.
    func reset(sourceIndex: Int, sequence: Int) {
        self.sourceIndex = sourceIndex
        self.sequence = sequence
        self.records.removeAll(keepingCapacity: true)
        self.diagnostics.removeAll(keepingCapacity: true)
        self.byteCount = 0
    }

    /// Makes the buffer at least `newCapacity` bytes, keeping the first `preserving` bytes.
    @inline(never)
    func grow_slowPath(to newCapacity: Int, preserving: Int) {
        guard newCapacity > self.capacity else { return }
        let larger = UnsafeMutableRawPointer.allocate(byteCount: newCapacity + RecordBatch.paddingSize, alignment: 64)
        larger.copyMemory(from: self.storage, byteCount: preserving)
        self.storage.deallocate()
        self.storage = larger
        self.capacity = newCapacity
    }
}

import Glibc

/// Cuts a byte stream with one JSON value per line (the API server's log backend) into
/// `RecordBatch`es of about `batchSize` bytes, at line boundaries.
///
/// Rules:
/// - A line ends at `\n`; a `\r` before it is stripped (CRLF files work). The last line needs no
///   terminator.
/// - A UTF-8 byte order mark at the very start of the stream is skipped.
/// - Lines that are empty or contain only JSON whitespace (space, tab, CR) are skipped, whatever
///   their length; they still count for line numbers.
/// - Line numbers are 1-based and exact across batches; `Record.byteOffset` is the offset of the
///   record's first byte in the stream.
/// - A line longer than `maxRecordSize` bytes is not loaded: once it is known to be too long, its
///   bytes are discarded up to the next `\n` and a `.oversizedRecord` diagnostic reports it (line,
///   offset, length). At most `maxRecordSize + 5` bytes of it are ever buffered.
/// - A line longer than the batch grows the batch buffer (doubling) until it fits, so lines of many
///   megabytes work.
///
/// How it reads: bytes are read straight into the batch buffer, scanned for `\n` with `memchr`,
/// and records point into the buffer. The partial line at the end of a batch is the only copy: it
/// is saved and put at the start of the next batch. A batch is handed out when it holds at least
/// `batchSize` bytes, at the end of the stream, or (for pipes) when it holds records and no more
/// data arrives within 2 ms, so a live producer is not waited on.
///
/// Errors: when the source fails, the batch with every record before the failure point is returned
/// first (with an `.incompleteRecord` diagnostic for a line cut by the failure); the next call
/// throws the `InputError`, and so does every later call.
///
/// A framer is used by one thread; the batches it returns may go to other threads.
public final class LineFramer {
    /// The stream being framed.
    public let source: ByteSource
    /// Copied into every batch (`RecordBatch.sourceIndex`).
    public let sourceIndex: Int
    /// Target batch size in bytes.
    public let batchSize: Int
    /// Longest record accepted, in bytes (without the line terminator).
    public let maxRecordSize: Int

    /// Bytes read from the source so far (decompressed bytes for gzip).
    public private(set) var bytesRead: Int64 = 0
    /// Lines completed so far, including blank and oversized lines.
    public private(set) var linesRead: Int = 0

    /// How long a pipe may stay idle before a batch with records is handed out anyway.
    static let idleMilliseconds = 2

    private var nextSequence = 0
    /// The partial line carried to the next batch, and its stream offset.
    private var carry: UnsafeMutableRawPointer
    private var carryCapacity: Int
    private var carryCount = 0
    private var carryOffset: Int64 = 0
    /// The oversized line being discarded, if any.
    private var skipping: SkipState?
    private var atEnd = false
    private var failure: InputError?

    /// Creates a framer over `source`.
    ///
    /// - Parameters:
    ///   - source: the stream to read.
    ///   - sourceIndex: copied into every batch, to tell inputs apart downstream.
    ///   - batchSize: target batch size in bytes (at least 1; default 1 MiB).
    ///   - maxRecordSize: longest record accepted, in bytes (at least 1; default 64 MiB; values above
    ///     2^60 mean 2^60, which keeps the buffer arithmetic from overflowing).
    public init(source: ByteSource, sourceIndex: Int = 0, batchSize: Int = 1 << 20, maxRecordSize: Int = 64 << 20) {
        precondition(batchSize >= 1 && maxRecordSize >= 1, "batchSize and maxRecordSize must be positive")
        self.source = source
        self.sourceIndex = sourceIndex
        self.batchSize = batchSize
        self.maxRecordSize = min(maxRecordSize, 1 << 60)
        self.carryCapacity = 256
        self.carry = UnsafeMutableRawPointer.allocate(byteCount: self.carryCapacity, alignment: 16)
    }

    deinit {
        self.carry.deallocate()
    }

    /// Returns the next batch of records, or `nil` at the end of the stream.
    ///
    /// - Parameter reusing: a batch to refill instead of allocating a new one. Nobody may use it
    ///   (or views into it) any more. It may come from any framer.
    /// - Throws: the source's `InputError`, after the records before it were returned.
    public func nextBatch(reusing: RecordBatch? = nil) throws(InputError) -> RecordBatch? {
        if let failure = self.failure { throw failure }
        if self.atEnd { return nil }

        let batch = reusing ?? RecordBatch(capacity: self.batchSize)
        batch.reset(sourceIndex: self.sourceIndex, sequence: self.nextSequence)
        var state = FillState(limit: max(self.batchSize, self.carryCount))
        if batch.capacity < state.limit {
            batch.grow_slowPath(to: state.limit, preserving: 0)
        }
        // The carried partial line: it holds no '\n', so scanning resumes after it.
        batch.storage.copyMemory(from: self.carry, byteCount: self.carryCount)
        state.count = self.carryCount
        state.scanFrom = self.carryCount
        state.base = self.carryOffset
        self.carryCount = 0

        while true {
            // A partial line that is certainly too long (a '\r' may still precede its '\n', and
            // line 1 may start with a BOM): drop its bytes and discard the rest as it arrives.
            let slack = state.base + Int64(state.recordStart) == 0 ? 4 : 1
            if self.skipping == nil && state.count - state.recordStart > self.maxRecordSize + slack {
                self.startSkipping(batch, &state)
            }
            if state.count == state.limit {
                if !batch.isEmpty { break }
                if state.recordStart > 0 {
                    // Only blank lines so far: move the partial line to the front.
                    let tail = state.count - state.recordStart
                    memmove(batch.storage, batch.storage + state.recordStart, tail)
                    state.base += Int64(state.recordStart)
                    state.count = tail
                    state.scanFrom -= state.recordStart
                    state.recordStart = 0
                }
                if state.count == state.limit {
                    // One line fills the buffer: grow it (count <= maxRecordSize + 4 here, so the
                    // new limit is larger and lets the line exceed the skipping threshold).
                    state.limit = min(state.limit * 2, self.maxRecordSize + 5)
                    batch.grow_slowPath(to: state.limit, preserving: state.count)
                }
            }

            let room = min(state.limit - state.count, self.batchSize)
            let n: Int
            do {
                n = try self.source.read(into: UnsafeMutableRawBufferPointer(start: batch.storage + state.count, count: room))
            } catch {
                self.failure = error
                self.atEnd = true
                self.finishAfterFailure(batch, &state)
                if batch.isEmpty { throw error }
                break
            }
            self.bytesRead += Int64(n)

            if n == 0 {
                self.atEnd = true
                if let skip = self.skipping {
                    self.finishSkipping(batch, skip)
                } else if state.count > state.recordStart {
                    self.emitLine(batch, &state, end: state.count)
                    state.recordStart = state.count
                }
                break
            }

            if let skip = self.skipping {
                let chunk = batch.storage + state.count
                guard let newline = memchr(chunk, 0x0A, n) else {
                    // Still inside the oversized line: forget these bytes.
                    self.skipping = SkipState(
                        line: skip.line, offset: skip.offset, bytes: skip.bytes + Int64(n),
                        lastByte: chunk.load(fromByteOffset: n - 1, as: UInt8.self),
                        blank: skip.blank && isBlank(chunk, count: n))
                    state.base += Int64(n)
                    if !batch.isEmpty && n < room && !self.source.canRead(withinMilliseconds: LineFramer.idleMilliseconds) { break }
                    continue
                }
                let length = UnsafeRawPointer(newline) - UnsafeRawPointer(chunk)
                self.finishSkipping(
                    batch,
                    SkipState(
                        line: skip.line, offset: skip.offset, bytes: skip.bytes + Int64(length),
                        lastByte: length > 0 ? chunk.load(fromByteOffset: length - 1, as: UInt8.self) : skip.lastByte,
                        blank: skip.blank && isBlank(chunk, count: length)))
                let index = state.count + length
                state.count += n
                state.recordStart = index + 1
                state.scanFrom = index + 1
            } else {
                state.count += n
            }

            self.scanLines(batch, &state)

            if !batch.isEmpty {
                if state.count >= self.batchSize { break }
                if n < room && !self.source.canRead(withinMilliseconds: LineFramer.idleMilliseconds) { break }
            }
        }

        // Carry the partial line (if any) to the next batch.
        if !self.atEnd {
            let tail = state.count - state.recordStart
            if tail > self.carryCapacity {
                self.carry.deallocate()
                self.carryCapacity = max(tail, self.carryCapacity * 2)
                self.carry = UnsafeMutableRawPointer.allocate(byteCount: self.carryCapacity, alignment: 16)
            }
            self.carry.copyMemory(from: batch.storage + state.recordStart, byteCount: tail)
            self.carryCount = tail
            self.carryOffset = state.base + Int64(state.recordStart)
        }
        batch.byteCount = state.recordStart
        // Deterministic padding after the last line.
        memset(batch.storage + state.recordStart, 0, RecordBatch.paddingSize)

        if batch.isEmpty { return nil }
        self.nextSequence += 1
        return batch
    }

    // MARK: Scanning

    /// Where the batch being filled stands.
    private struct FillState {
        /// How far the buffer may be filled now (grows for long lines).
        var limit: Int
        /// Bytes in the buffer.
        var count = 0
        /// Start of the current (incomplete) line.
        var recordStart = 0
        /// Bytes before this are known to hold no unprocessed '\n'.
        var scanFrom = 0
        /// Stream offset of buffer position 0 (moves when bytes are dropped or compacted).
        var base: Int64 = 0

        init(limit: Int) { self.limit = limit }
    }

    /// Turns every complete line in `scanFrom..<count` into a record.
    @inline(__always)
    private func scanLines(_ batch: RecordBatch, _ state: inout FillState) {
        let storage = batch.storage
        var position = state.scanFrom
        while position < state.count {
            guard let newline = memchr(storage + position, 0x0A, state.count - position) else { break }
            let index = UnsafeRawPointer(newline) - UnsafeRawPointer(storage)
            self.emitLine(batch, &state, end: index)
            state.recordStart = index + 1
            position = index + 1
        }
        state.scanFrom = state.count
    }

    /// Handles the line `recordStart..<end` (`end` is the '\n' position or the end of the stream).
    private func emitLine(_ batch: RecordBatch, _ state: inout FillState, end: Int) {
        self.linesRead += 1
        let line = self.linesRead
        let storage = batch.storage
        var start = state.recordStart
        var stop = end
        if state.base + Int64(start) == 0 && self.hasByteOrderMark(storage + start, count: stop - start) {
            start += 3
        }
        if stop > start && storage.load(fromByteOffset: stop - 1, as: UInt8.self) == 0x0D {
            stop -= 1
        }
        if isBlank(storage + start, count: stop - start) { return }
        let offset = state.base + Int64(start)
        if stop - start > self.maxRecordSize {
            self.reportOversized(batch, line: line, offset: offset, bytes: Int64(stop - start))
            return
        }
        batch.records.append(Record(start: start, count: stop - start, line: line, byteOffset: offset))
    }

    /// An oversized line whose bytes are being discarded.
    private struct SkipState {
        var line: Int
        /// Stream offset of the line's first byte (after a BOM on line 1).
        var offset: Int64
        /// Bytes of the line seen so far (after a BOM on line 1).
        var bytes: Int64
        /// The last byte seen, to leave out a '\r' before the '\n'.
        var lastByte: UInt8
        /// Only whitespace so far: then the line is blank, not oversized.
        var blank: Bool
    }

    /// Starts discarding the partial line `recordStart..<count`.
    @inline(never)
    private func startSkipping(_ batch: RecordBatch, _ state: inout FillState) {
        let dropped = state.count - state.recordStart
        var offset = state.base + Int64(state.recordStart)
        var bytes = Int64(dropped)
        if offset == 0 && self.hasByteOrderMark(batch.storage + state.recordStart, count: dropped) {
            offset += 3
            bytes -= 3
        }
        let last = batch.storage.load(fromByteOffset: state.count - 1, as: UInt8.self)
        let blank = isBlank(batch.storage + state.count - Int(bytes), count: Int(bytes))
        self.skipping = SkipState(line: self.linesRead + 1, offset: offset, bytes: bytes, lastByte: last, blank: blank)
        state.base += Int64(dropped)
        state.count = state.recordStart
        state.scanFrom = state.recordStart
    }

    /// Reports the discarded line `skip`, which ended (at '\n' or the end of the stream).
    @inline(never)
    private func finishSkipping(_ batch: RecordBatch, _ skip: SkipState) {
        self.linesRead += 1
        self.skipping = nil
        if skip.blank { return }
        let bytes = skip.lastByte == 0x0D ? skip.bytes - 1 : skip.bytes
        self.reportOversized(batch, line: skip.line, offset: skip.offset, bytes: bytes)
    }

    @inline(__always)
    private func hasByteOrderMark(_ bytes: UnsafeMutableRawPointer, count: Int) -> Bool {
        count >= 3 && bytes.load(as: UInt8.self) == 0xEF && bytes.load(fromByteOffset: 1, as: UInt8.self) == 0xBB
            && bytes.load(fromByteOffset: 2, as: UInt8.self) == 0xBF
    }

    @inline(never)
    private func reportOversized(_ batch: RecordBatch, line: Int, offset: Int64, bytes: Int64) {
        let reason = "record of \(bytes) bytes exceeds the maximum record size of \(self.maxRecordSize) bytes; skipped"
        batch.diagnostics.append(
            FramingDiagnostic(kind: .oversizedRecord, line: line, byteOffset: offset, byteCount: bytes, reason: reason))
    }

    /// Reports the line cut by a source failure.
    @inline(never)
    private func finishAfterFailure(_ batch: RecordBatch, _ state: inout FillState) {
        if let skip = self.skipping {
            self.skipping = nil
            if !skip.blank {
                self.reportOversized(batch, line: skip.line, offset: skip.offset, bytes: skip.bytes)
            }
        } else if state.count > state.recordStart
            && !isBlank(batch.storage + state.recordStart, count: state.count - state.recordStart)
        {
            let bytes = state.count - state.recordStart
            batch.diagnostics.append(
                FramingDiagnostic(
                    kind: .incompleteRecord, line: self.linesRead + 1,
                    byteOffset: state.base + Int64(state.recordStart), byteCount: Int64(bytes),
                    reason: "input failed after \(bytes) bytes of this record; partial record dropped"))
        }
    }
}

/// Whether the bytes are only JSON whitespace other than '\n' (space, tab, CR). Stops at the first
/// other byte, so it is cheap for real records.
@inline(__always)
private func isBlank(_ bytes: UnsafeRawPointer, count: Int) -> Bool {
    var index = 0
    while index < count {
        let byte = bytes.load(fromByteOffset: index, as: UInt8.self)
        if byte != 0x20 && byte != 0x09 && byte != 0x0D { return false }
        index += 1
    }
    return true
}

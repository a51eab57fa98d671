import Glibc

/// Cuts a byte stream into records that are whole JSON values, wherever the line breaks are, and
/// hands them out in the same `RecordBatch`es as ``LineFramer`` (so the pipeline is unchanged).
///
/// It exists for the inputs that are not one value per line:
/// - Kinesis Firehose objects: subscription payloads back to back with no separator (`{…}{…}`);
/// - pretty-printed documents (`aws logs filter-log-events` pages, Azure samples), one or many,
///   concatenated or separated by newlines;
/// - and, of course, ordinary JSON lines (`{…}\n{…}`), which it splits like ``LineFramer``.
///
/// Rules:
/// - Between values, JSON whitespace (including newlines) is skipped; a UTF-8 byte order mark at
///   the very start of the stream is skipped.
/// - A record that starts with `{` or `[` ends at the bracket that closes it. Brackets inside
///   strings do not count; the scanner follows string and backslash-escape state, across batch
///   boundaries. Brackets are only counted, not matched: the JSON parser validates the record.
/// - A record that starts with anything else (a timestamp-prefixed export line, base64 text, a
///   quoted string, garbage) ends at the end of its line, as with ``LineFramer`` (a `\r` before the
///   `\n` is stripped).
/// - `Record.line` is the 1-based line on which the record starts (several records may share a
///   line); `Record.byteOffset` is the offset of its first byte in the stream.
/// - A record longer than `maxRecordSize` is not loaded: its bytes are discarded as they arrive and
///   an `.oversizedRecord` diagnostic reports it.
/// - A value still open at the end of the stream is handed out as a record anyway (the parser then
///   reports where it stops). Source failures behave as in ``LineFramer``: the records before the
///   failure come first, with an `.incompleteRecord` diagnostic for the cut one, then the error.
///
/// It reads straight into the batch buffer and copies only the partial record at the end of a
/// batch. It is slower than ``LineFramer`` (it looks at every byte), which is why
/// ``makeRecordFramer(source:format:sourceIndex:batchSize:maxRecordSize:)`` picks it only for inputs
/// that need it.
public final class JSONValueFramer {
    /// The stream being framed.
    public let source: ByteSource
    /// Copied into every batch (`RecordBatch.sourceIndex`).
    public let sourceIndex: Int
    /// Target batch size in bytes.
    public let batchSize: Int
    /// Longest record accepted, in bytes.
    public let maxRecordSize: Int

    /// Bytes read from the source so far (decompressed bytes for gzip).
    public private(set) var bytesRead: Int64 = 0

    private var nextSequence = 0
    private var carry: UnsafeMutableRawPointer
    private var carryCapacity = 256
    private var carryCount = 0
    private var carryOffset: Int64 = 0
    private var atEnd = false
    private var failure: InputError?
    private var scan = ScanState()

    /// Creates a framer over `source`; the parameters mean what they mean for ``LineFramer``.
    public init(source: ByteSource, sourceIndex: Int = 0, batchSize: Int = 1 << 20, maxRecordSize: Int = 64 << 20) {
        precondition(batchSize >= 1 && maxRecordSize >= 1, "batchSize and maxRecordSize must be positive")
        self.source = source
        self.sourceIndex = sourceIndex
        self.batchSize = batchSize
        self.maxRecordSize = min(maxRecordSize, 1 << 60)  // no overflow in `maxRecordSize + 2`
        self.carry = UnsafeMutableRawPointer.allocate(byteCount: self.carryCapacity, alignment: 16)
    }

    deinit {
        self.carry.deallocate()
    }

    // MARK: State

    private enum Mode {
        /// Between records: skipping whitespace.
        case between
        /// Inside a `{…}` or `[…]` value.
        case container
        /// Inside a record that ends at the end of its line.
        case line
    }

    /// The scanner's position in the grammar; it survives batch boundaries.
    private struct ScanState {
        var mode = Mode.between
        var depth = 0
        var inString = false
        /// The previous byte was a backslash inside a string.
        var escaped = false
        /// Line number at the scan position.
        var line = 1
        /// Line on which the current record started.
        var recordLine = 1
        /// The current record is too long: its bytes are being discarded.
        var skipping = false
        /// Bytes of the current record discarded so far, and its stream offset.
        var skippedBytes: Int64 = 0
        var skipOffset: Int64 = 0
        /// The last byte discarded was a `\r` (left out of a line record's length before its `\n`).
        var skippedCR = false
    }

    /// Where the batch being filled stands (buffer positions).
    private struct FillState {
        var limit: Int
        var count = 0
        /// Start of the current (incomplete) record; equals the scan position between records.
        var recordStart = 0
        /// Bytes before this have been scanned.
        var scanFrom = 0
        /// Stream offset of buffer position 0.
        var base: Int64 = 0
    }

    // MARK: Batches

    /// Returns the next batch of records, or `nil` at the end of the stream.
    ///
    /// - Parameter reusing: a batch to refill instead of allocating a new one (see ``LineFramer``).
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
        batch.storage.copyMemory(from: self.carry, byteCount: self.carryCount)
        state.count = self.carryCount
        state.scanFrom = self.carryCount
        state.base = self.carryOffset
        self.carryCount = 0

        while true {
            // A partial record that is certainly too long: discard it from now on.
            if !self.scan.skipping && self.scan.mode != .between
                && state.count - state.recordStart > self.maxRecordSize + 1
            {
                self.scan.skipping = true
                self.scan.skipOffset = state.base + Int64(state.recordStart)
                self.scan.skippedBytes = 0
                self.dropPartialRecord(batch, &state)
            }
            if state.count == state.limit {
                if !batch.isEmpty { break }
                if state.recordStart > 0 {
                    let tail = state.count - state.recordStart
                    memmove(batch.storage, batch.storage + state.recordStart, tail)
                    state.base += Int64(state.recordStart)
                    state.count = tail
                    state.scanFrom -= state.recordStart
                    state.recordStart = 0
                }
                if state.count == state.limit {
                    state.limit = min(state.limit * 2, self.maxRecordSize + 2)
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
                self.finishAtEnd(batch, &state)
                break
            }
            state.count += n
            self.scanRecords(batch, &state)
            if self.scan.skipping { self.dropPartialRecord(batch, &state) }

            if !batch.isEmpty {
                if state.count >= self.batchSize { break }
                if n < room && !self.source.canRead(withinMilliseconds: LineFramer.idleMilliseconds) { break }
            }
        }

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
        memset(batch.storage + state.recordStart, 0, RecordBatch.paddingSize)

        if batch.isEmpty { return nil }
        self.nextSequence += 1
        return batch
    }

    /// Forgets the bytes of the record being discarded (all scanned: `scanFrom == count`); the scan
    /// state keeps its place in the record's grammar.
    private func dropPartialRecord(_ batch: RecordBatch, _ state: inout FillState) {
        let dropped = state.count - state.recordStart
        guard dropped > 0 else { return }
        self.scan.skippedBytes += Int64(dropped)
        self.scan.skippedCR = batch.storage.load(fromByteOffset: state.count - 1, as: UInt8.self) == 0x0D
        state.base += Int64(dropped)
        state.count = state.recordStart
        state.scanFrom = state.recordStart
    }

    // MARK: Scanning

    /// Scans `scanFrom..<count`, emitting every record that ends there.
    private func scanRecords(_ batch: RecordBatch, _ fill: inout FillState) {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let p = batch.storage.assumingMemoryBound(to: UInt8.self)
        let end = fill.count
        var i = fill.scanFrom
        var s = self.scan
        defer { self.scan = s }

        while i < end {
            switch s.mode {
            case .between:
                let c = p[i]
                if c == 0x0A {
                    s.line += 1
                    i += 1
                    continue
                }
                if c == 0x20 || c == 0x09 || c == 0x0D {
                    i += 1
                    continue
                }
                if c == 0xEF && fill.base + Int64(i) == 0 {
                    // A byte order mark at the start of the stream (wait for its three bytes).
                    if end - i < 3 {
                        fill.recordStart = i
                        fill.scanFrom = i
                        return
                    }
                    if p[i + 1] == 0xBB && p[i + 2] == 0xBF {
                        i += 3
                        continue
                    }
                }
                fill.recordStart = i
                s.recordLine = s.line
                if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                    s.mode = .container
                    s.depth = 1
                    s.inString = false
                    s.escaped = false
                    i += 1
                } else {
                    s.mode = .line
                }

            case .line:
                guard let newline = memchr(p + i, 0x0A, end - i) else {
                    i = end
                    break
                }
                let index = UnsafeRawPointer(newline) - UnsafeRawPointer(p)
                self.endRecord(atNewline: index, batch, fill, state: &s)
                i = index + 1

            case .container:
                if s.inString {
                    if s.escaped {
                        s.escaped = false
                        // A backslash before a raw newline: broken; the newline ends the record below.
                        if p[i] != 0x0A { i += 1 }
                        continue
                    }
                    // Up to the closing quote, stepping over escapes.
                    while i < end {
                        // Eight bytes at a time while none is a quote, a backslash or a newline.
                        while i &+ 8 <= end {
                            let x = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                            let q = x ^ (ones &* 0x22)
                            let b = x ^ (ones &* 0x5C)
                            let l = x ^ (ones &* 0x0A)
                            let mask = (((q &- ones) & ~q) | ((b &- ones) & ~b) | ((l &- ones) & ~l)) & highs
                            if mask != 0 {
                                i &+= mask.trailingZeroBitCount >> 3
                                break
                            }
                            i &+= 8
                        }
                        guard i < end else { break }
                        let c = p[i]
                        if c == UInt8(ascii: "\"") {
                            s.inString = false
                            i += 1
                            break
                        }
                        if c == UInt8(ascii: "\\") {
                            if i + 1 < end {
                                i += p[i + 1] == 0x0A ? 1 : 2
                                continue
                            }
                            s.escaped = true
                            i += 1
                            break
                        }
                        if c == 0x0A {
                            // A raw newline is never inside a valid JSON string: this record is broken
                            // (e.g. cut off). End it here, so that the parser reports it and the records
                            // after it are still read, instead of being swallowed by the open string.
                            self.endRecord(atNewline: i, batch, fill, state: &s)
                            s.inString = false
                            i += 1
                            fill.recordStart = i
                            break
                        }
                        i += 1
                    }
                    continue
                }
                let c = p[i]
                i += 1
                switch c {
                case UInt8(ascii: "\""):
                    s.inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    s.depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    s.depth -= 1
                    if s.depth == 0 {
                        self.emit(batch, fill, start: fill.recordStart, end: i, state: &s)
                        s.mode = .between
                    }
                case 0x0A:
                    s.line += 1
                default:
                    break
                }
            }
            if s.mode == .between { fill.recordStart = i }
        }
        if s.mode == .between { fill.recordStart = i }
        fill.scanFrom = i
    }

    /// Ends the current record at the newline at `index` (a `\r` before it is left out) and hands it out.
    private func endRecord(atNewline index: Int, _ batch: RecordBatch, _ fill: FillState, state s: inout ScanState) {
        var stop = index
        if stop > fill.recordStart {
            if batch.storage.load(fromByteOffset: stop - 1, as: UInt8.self) == 0x0D { stop -= 1 }
        } else if s.skipping && s.skippedCR {
            // The `\r` before this newline was discarded with an earlier batch.
            s.skippedBytes -= 1
        }
        self.emit(batch, fill, start: fill.recordStart, end: stop, state: &s)
        s.line += 1
        s.mode = .between
    }

    /// Hands out the record `start..<end` (or reports it, when it was too long).
    private func emit(_ batch: RecordBatch, _ fill: FillState, start: Int, end: Int, state s: inout ScanState) {
        if s.skipping {
            s.skipping = false
            let bytes = s.skippedBytes + Int64(end - start)
            self.reportOversized(batch, line: s.recordLine, offset: s.skipOffset, bytes: bytes)
            return
        }
        let offset = fill.base + Int64(start)
        if end - start > self.maxRecordSize {
            self.reportOversized(batch, line: s.recordLine, offset: offset, bytes: Int64(end - start))
            return
        }
        batch.records.append(Record(start: start, count: end - start, line: s.recordLine, byteOffset: offset))
    }

    @inline(never)
    private func reportOversized(_ batch: RecordBatch, line: Int, offset: Int64, bytes: Int64) {
        let reason = "record of \(bytes) bytes exceeds the maximum record size of \(self.maxRecordSize) bytes; skipped"
        batch.diagnostics.append(
            FramingDiagnostic(kind: .oversizedRecord, line: line, byteOffset: offset, byteCount: bytes, reason: reason))
    }

    /// The end of the stream: an unfinished record is handed out as it is.
    private func finishAtEnd(_ batch: RecordBatch, _ fill: inout FillState) {
        var s = self.scan
        defer { self.scan = s }
        guard s.mode != .between || fill.recordStart < fill.count else { return }
        if s.mode == .between { s.recordLine = s.line }
        var stop = fill.count
        if s.mode == .line && stop > fill.recordStart && batch.storage.load(fromByteOffset: stop - 1, as: UInt8.self) == 0x0D {
            stop -= 1
        }
        self.emit(batch, fill, start: fill.recordStart, end: stop, state: &s)
        s.mode = .between
        fill.recordStart = fill.count
        fill.scanFrom = fill.count
    }

    /// The source failed: reports the record it cut.
    private func finishAfterFailure(_ batch: RecordBatch, _ fill: inout FillState) {
        var s = self.scan
        defer { self.scan = s }
        if s.skipping {
            s.skipping = false
            let bytes = s.skippedBytes + Int64(fill.count - fill.recordStart)
            self.reportOversized(batch, line: s.recordLine, offset: s.skipOffset, bytes: bytes)
        } else if s.mode != .between {
            let bytes = fill.count - fill.recordStart
            batch.diagnostics.append(
                FramingDiagnostic(
                    kind: .incompleteRecord, line: s.recordLine, byteOffset: fill.base + Int64(fill.recordStart),
                    byteCount: Int64(bytes), reason: "input failed after \(bytes) bytes of this record; partial record dropped"))
        }
        fill.recordStart = fill.count
    }
}

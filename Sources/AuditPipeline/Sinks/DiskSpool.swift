import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The disk spool of one webhook sink: every alert is written here before it is delivered, and stays
/// until the receiver acknowledged it, so nothing queued is lost when the receiver is down for hours or
/// when AuditHound is killed (`kill -9`): the next start re-sends what was not acknowledged.
///
/// Layout of the directory (one per sink, `<spool>/<sink name>/`):
///
///     seg-000000000001.jsonl   append-only segments: one alert (JSON) per line, each written with one
///     seg-000000000002.jsonl   write(2); a new segment when one reaches 1/8 of the size limit
///     ack                      "<segment> <offset>\n": everything before is delivered; replaced
///                              atomically (write ack.tmp, fsync, rename)
///     lock                     flock(2)ed while a process uses the spool
///
/// Segments are fsynced at most once a second while alerts arrive and when the sink closes; the ack
/// file at most every 250 ms while delivering, when the queue empties and when the sink closes.
/// Process crashes lose nothing (the data is in the kernel); a machine crash may lose the last second of
/// alerts, and alerts acknowledged in the last 250 ms are sent again (receivers de-duplicate by
/// `alert_id`). Each start writes into a new segment, so a line torn by a machine crash stays at the end
/// of an old segment, where it is skipped and reported. Fully delivered segments are deleted.
///
/// At the size limit, `dropOldest` deletes the oldest segment not being delivered (so the limit can
/// be passed by the segment in flight).
final class DiskSpool: DeliveryQueue {
    /// The spool directory of the sink.
    let directory: String
    private let maxBytes: Int
    private let segmentBytes: Int
    private let log: SinkLog?

    private struct Segment {
        var number: Int
        /// Offset of the first record not acknowledged (0 except for the head segment).
        var start: Int
        /// Bytes of complete lines.
        var size: Int
        /// Complete lines from `start` on.
        var records: Int
    }

    private var segments: [Segment] = []   // oldest first; the last one is written to
    private var writeFD: Int32 = -1
    private var lockFD: Int32 = -1
    private var readFD: Int32 = -1
    private var readSegment = -1
    /// Records of the head segment read ahead, oldest first, not yet acknowledged.
    private var cache: [QueuedRecord] = []
    private var cacheSegment = -1
    private var cacheEnd = 0
    private var inFlightSegment: Int? = nil
    private var ackDirty = false
    private var dataDirty = false
    private var lastAckWrite = 0.0
    private var lastSync = 0.0
    private(set) var pendingRecords = 0
    /// Records found at start (left by an earlier run).
    private(set) var recovered = 0

    /// Opens (creating it if needed) and locks the spool `directory`, and reads what it holds.
    init(directory: String, maxBytes: Int, log: SinkLog?) throws(SinkError) {
        self.directory = directory
        self.maxBytes = max(1, maxBytes)
        self.segmentBytes = min(64 << 20, max(4 << 10, maxBytes / 8))
        self.log = log
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw SinkError("cannot create the spool directory \(directory)")
        }
        self.lockFD = Glibc.open(directory + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard self.lockFD >= 0 else { throw SinkError("cannot open \(directory)/lock: \(Self.errorText())") }
        if flock(self.lockFD, LOCK_EX | LOCK_NB) != 0 {
            Glibc.close(self.lockFD)
            throw SinkError("the spool \(directory) is in use by another process")
        }
        do {
            try self.load()
        } catch {
            Glibc.close(self.lockFD)
            throw error
        }
    }

    deinit {
        if self.lockFD >= 0 { self.close() }
    }

    private static func errorText() -> String { String(cString: strerror(errno)) }

    private func path(_ number: Int) -> String {
        let digits = String(number)
        return self.directory + "/seg-" + String(repeating: "0", count: max(0, 12 - digits.count)) + digits + ".jsonl"
    }

    // MARK: Start

    private func load() throws(SinkError) {
        var numbers: [Int] = []
        let names = (try? FileManager.default.contentsOfDirectory(atPath: self.directory)) ?? []
        for name in names where name.hasPrefix("seg-") && name.hasSuffix(".jsonl") {
            if let n = Int(name.dropFirst(4).dropLast(6)), n > 0 { numbers.append(n) }
        }
        numbers.sort()
        var ackSegment = 0, ackOffset = 0
        if let text = try? String(contentsOfFile: self.directory + "/ack", encoding: .utf8) {
            let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
            if parts.count == 2, let s = Int(parts[0]), let o = Int(parts[1]), s >= 0, o >= 0 {
                ackSegment = s
                ackOffset = o
            }
        }
        var torn = 0
        for n in numbers {
            if n < ackSegment {
                unlink(self.path(n))
                continue
            }
            guard let (size, records, tail) = Self.scan(self.path(n), from: n == ackSegment ? ackOffset : 0) else {
                throw SinkError("cannot read the spool segment \(self.path(n)): \(Self.errorText())")
            }
            if tail > 0 { torn += 1 }
            let start = n == ackSegment ? min(ackOffset, size) : 0
            if records == 0 {
                unlink(self.path(n))
                continue
            }
            self.segments.append(Segment(number: n, start: start, size: size, records: records))
            self.pendingRecords += records
        }
        self.recovered = self.pendingRecords
        if torn > 0 {
            self.log?("spool \(self.directory): skipped \(torn) incomplete line(s) left by a crash")
        }
        let next = max(ackSegment, numbers.last ?? 0) + 1
        try self.openWriteSegment(next)
        if let head = self.segments.first, head.number != ackSegment || head.start != ackOffset {
            self.ackDirty = true
            self.checkpoint(force: true)
        }
    }

    /// The size up to the last complete line, the number of complete lines after `from`, and the length
    /// of an incomplete last line.
    private static func scan(_ path: String, from: Int) -> (Int, Int, Int)? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var offset = 0, lastLineEnd = 0, records = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return nil }
            if n == 0 { break }
            for i in 0..<n where buffer[i] == 0x0A {
                lastLineEnd = offset + i + 1
                if offset + i >= from { records += 1 }
            }
            offset += n
        }
        return (lastLineEnd, records, offset - lastLineEnd)
    }

    private func openWriteSegment(_ number: Int) throws(SinkError) {
        let fd = Glibc.open(self.path(number), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SinkError("cannot create \(self.path(number)): \(Self.errorText())") }
        if self.writeFD >= 0 {
            if self.dataDirty { fsync(self.writeFD) }
            Glibc.close(self.writeFD)
        }
        self.writeFD = fd
        self.dataDirty = false
        self.segments.append(Segment(number: number, start: 0, size: 0, records: 0))
    }

    // MARK: DeliveryQueue

    private var pendingBytes: Int {
        self.segments.reduce(0) { $0 + $1.size - $1.start }
    }

    func hasRoom(for bytes: Int) -> Bool { self.pendingBytes + bytes <= self.maxBytes }

    func append(_ line: String, dropOldest: Bool) throws(SinkError) -> Int {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        if bytes.count > self.maxBytes { return 1 }
        var dropped = 0
        if dropOldest {
            while self.pendingBytes + bytes.count > self.maxBytes, let n = self.dropOldestSegment() { dropped += n }
        }
        if self.segments[self.segments.count - 1].size >= self.segmentBytes {
            try self.openWriteSegment(self.segments[self.segments.count - 1].number + 1)
        }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(self.writeFD, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                let reason = n < 0 ? Self.errorText() : "short write"
                if offset > 0 {
                    // Never leave half a line in a segment that is still written to.
                    _ = ftruncate(self.writeFD, off_t(self.segments[self.segments.count - 1].size))
                }
                throw SinkError("cannot write to the spool \(self.directory): \(reason)")
            }
            offset += n
        }
        self.segments[self.segments.count - 1].size += bytes.count
        self.segments[self.segments.count - 1].records += 1
        self.pendingRecords += 1
        self.dataDirty = true
        return dropped
    }

    /// Deletes the oldest segment that has records and is not being delivered; returns its record count.
    private func dropOldestSegment() -> Int? {
        guard let i = self.segments.firstIndex(where: { $0.number != self.inFlightSegment && $0.records > 0 }) else { return nil }
        if i == self.segments.count - 1 {
            do {
                try self.openWriteSegment(self.segments[i].number + 1)
            } catch {
                return nil
            }
        }
        let segment = self.segments.remove(at: i)
        if self.readSegment == segment.number {
            Glibc.close(self.readFD)
            self.readFD = -1
            self.readSegment = -1
        }
        if self.cacheSegment == segment.number {
            self.cache.removeAll()
            self.cacheSegment = -1
        }
        unlink(self.path(segment.number))
        self.pendingRecords -= segment.records
        if i == 0 { self.ackDirty = true }
        return segment.records
    }

    func peek(max: Int) -> [QueuedRecord] {
        while let head = self.segments.first, head.records == 0 {
            if self.segments.count == 1 { return [] }
            self.removeHeadSegment()
        }
        guard let head = self.segments.first else { return [] }
        if self.cacheSegment != head.number {
            self.cache.removeAll()
            self.cacheSegment = head.number
            self.cacheEnd = head.start
        }
        if self.cache.count < max && self.cacheEnd < head.size {
            self.readAhead(head, wanted: max - self.cache.count)
        }
        if self.cache.isEmpty { return [] }
        self.inFlightSegment = head.number
        return Array(self.cache.prefix(max))
    }

    /// Reads at least one more record (and up to about 256 KiB) of the head segment into the cache.
    private func readAhead(_ head: Segment, wanted: Int) {
        if self.readSegment != head.number {
            if self.readFD >= 0 { Glibc.close(self.readFD) }
            self.readFD = Glibc.open(self.path(head.number), O_RDONLY | O_CLOEXEC)
            self.readSegment = head.number
            if self.readFD < 0 {
                self.log?("spool \(self.directory): cannot read \(self.path(head.number)) (\(Self.errorText())); its alerts are lost")
                self.readSegment = -1
                self.pendingRecords -= head.records
                self.segments[0].records = 0
                self.segments[0].start = head.size
                self.ackDirty = true
                return
            }
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var offset = self.cacheEnd
        var lineStart = 0
        var found = 0
        while offset < head.size && (found == 0 || (bytes.count < 256 << 10 && found < wanted)) {
            let want = min(chunk.count, head.size - offset)
            let n = chunk.withUnsafeMutableBytes { pread(self.readFD, $0.baseAddress, want, off_t(offset)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            let base = bytes.count
            bytes.append(contentsOf: chunk[0..<n])
            for i in base..<bytes.count where bytes[i] == 0x0A {
                let text = String(decoding: bytes[lineStart..<i], as: UTF8.self)
                self.cache.append(QueuedRecord(text: text, segment: head.number, end: self.cacheEnd + i + 1))
                lineStart = i + 1
                found += 1
            }
            offset += n
        }
        self.cacheEnd += lineStart
    }

    func ack(_ last: QueuedRecord, count: Int) {
        self.inFlightSegment = nil
        guard let head = self.segments.first, last.segment == head.number, last.end > head.start else { return }
        var removed = 0
        while removed < self.cache.count && self.cache[removed].end <= last.end { removed += 1 }
        self.cache.removeFirst(removed)
        self.segments[0].start = last.end
        self.segments[0].records -= removed
        self.pendingRecords -= removed
        self.ackDirty = true
        if self.segments[0].records == 0 && self.segments.count > 1 { self.removeHeadSegment() }
    }

    func release() { self.inFlightSegment = nil }

    /// Deletes the fully delivered head segment (after recording that in the ack file).
    private func removeHeadSegment() {
        let old = self.segments.removeFirst()
        self.pendingRecords -= old.records
        if self.readSegment == old.number {
            Glibc.close(self.readFD)
            self.readFD = -1
            self.readSegment = -1
        }
        self.ackDirty = true
        self.checkpoint(force: true)
        unlink(self.path(old.number))
    }

    func checkpoint(force: Bool) {
        let now = SinkClock.now()
        if self.dataDirty && self.writeFD >= 0 && (force || now - self.lastSync >= 1) {
            fsync(self.writeFD)
            self.dataDirty = false
            self.lastSync = now
        }
        if self.ackDirty && (force || now - self.lastAckWrite >= 0.25), let head = self.segments.first {
            let text = Array("\(head.number) \(head.start)\n".utf8)
            let tmp = self.directory + "/ack.tmp"
            let fd = Glibc.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return }
            let written = text.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            let synced = fsync(fd) == 0
            Glibc.close(fd)
            if written == text.count && synced && rename(tmp, self.directory + "/ack") == 0 {
                self.ackDirty = false
                self.lastAckWrite = now
            }
        }
    }

    func close() {
        self.checkpoint(force: true)
        if self.writeFD >= 0 { Glibc.close(self.writeFD) }
        if self.readFD >= 0 { Glibc.close(self.readFD) }
        // An empty last segment is not worth keeping.
        if let last = self.segments.last, last.size == 0 { unlink(self.path(last.number)) }
        self.writeFD = -1
        self.readFD = -1
        if self.lockFD >= 0 { Glibc.close(self.lockFD) }
        self.lockFD = -1
    }
}

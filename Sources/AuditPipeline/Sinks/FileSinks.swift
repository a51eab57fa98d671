#if canImport(Glibc)
import Glibc
#endif

/// How stdout and file sinks write an alert.
public enum AlertFormat: String, Sendable {
    /// ``SinkRecord/text(_:)``: one line for people.
    case text
    /// ``SinkRecord/json(_:hostname:)``: one JSON object per line (Falco's alert plus `alert_id`).
    case json
}

/// Buffered, complete writes to a descriptor.
struct SinkFileWriter {
    var fd: Int32
    var buffer: [UInt8] = []
    var lines = 0

    init(fd: Int32) {
        self.fd = fd
        self.buffer.reserveCapacity(1 << 16)
    }

    /// Writes the buffer out; returns the number of lines lost to a write error (0 on success).
    mutating func drain() -> (lost: Int, error: Int32) {
        var offset = 0
        var failure: Int32 = 0
        while offset < self.buffer.count {
            let n = self.buffer.withUnsafeBytes { Glibc.write(self.fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                failure = n < 0 ? errno : EIO
                break
            }
            offset += n
        }
        let lost = failure == 0 ? 0 : self.lines
        self.buffer.removeAll(keepingCapacity: true)
        self.lines = 0
        return (lost, failure)
    }
}

/// Writes alerts to a file descriptor, standard output by default (buffered; flushed by
/// ``flush()``, when 64 KiB are pending, and at close).
public final class StreamSink: AlertSink {
    public let name: String
    private let format: AlertFormat
    private let hostname: String
    private let log: SinkLog?
    private var writer: SinkFileWriter
    private var state = SinkCounters()
    private var reportedError = false

    /// A sink writing to `fd` (not closed by the sink).
    public init(fd: Int32, name: String, format: AlertFormat, hostname: String, log: SinkLog? = nil) {
        self.name = name
        self.format = format
        self.hostname = hostname
        self.log = log
        self.writer = SinkFileWriter(fd: fd)
    }

    /// Standard output in `format`.
    public static func standardOutput(format: AlertFormat, hostname: String, log: SinkLog? = nil) -> StreamSink {
        StreamSink(fd: 1, name: "stdout", format: format, hostname: hostname, log: log)
    }

    public var counters: SinkCounters { self.state }

    public func send(_ alert: SinkAlert) {
        self.state.accepted += 1
        let line = self.format == .json ? SinkRecord.json(alert, hostname: self.hostname) : SinkRecord.text(alert)
        self.writer.buffer.append(contentsOf: line.utf8)
        self.writer.buffer.append(0x0A)
        self.writer.lines += 1
        if self.writer.buffer.count >= 1 << 16 { self.flush() }
    }

    public func flush() {
        let lines = self.writer.lines
        let (lost, error) = self.writer.drain()
        self.state.sent += lines - lost
        self.state.failed += lost
        if lost > 0 && !self.reportedError {
            self.reportedError = true
            self.log?("\(self.name): write failed (\(String(cString: strerror(error)))); alerts are lost")
        }
    }

    public func close(deadline: Double) -> SinkReport {
        self.flush()
        return SinkReport(name: self.name, counters: self.state)
    }
}

/// Appends alerts to a file, one per line (JSON by default), with optional size-based rotation:
/// when the next line would take the file past `maxSize` bytes, `PATH` becomes `PATH.1`, `PATH.1`
/// becomes `PATH.2`, … and the oldest beyond `keep` is deleted.
public final class FileSink: AlertSink {
    public let name: String
    /// The file written.
    public let path: String
    private let format: AlertFormat
    private let hostname: String
    private let maxSize: Int?
    private let keep: Int
    private let log: SinkLog?
    private var writer: SinkFileWriter
    private var size = 0
    private var state = SinkCounters()
    private var reportedError = false

    /// Opens (creates) `path` for appending.
    /// - Parameters:
    ///   - maxSize: rotate before the file would exceed this many bytes (`nil`: never).
    ///   - keep: rotated files kept (`PATH.1` … `PATH.keep`); 0 keeps none.
    public init(path: String, format: AlertFormat = .json, hostname: String, maxSize: Int? = nil, keep: Int = 5,
                log: SinkLog? = nil) throws(SinkError) {
        self.name = "file \(path)"
        self.path = path
        self.format = format
        self.hostname = hostname
        self.maxSize = maxSize
        self.keep = max(0, keep)
        self.log = log
        let fd = Self.open(path)
        guard fd >= 0 else { throw SinkError("cannot open \(path): \(String(cString: strerror(errno)))") }
        self.writer = SinkFileWriter(fd: fd)
        var st = stat()
        if fstat(fd, &st) == 0 { self.size = Int(st.st_size) }
    }

    deinit { Glibc.close(self.writer.fd) }

    private static func open(_ path: String) -> Int32 {
        Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    }

    public var counters: SinkCounters { self.state }

    public func send(_ alert: SinkAlert) {
        self.state.accepted += 1
        let line = self.format == .json ? SinkRecord.json(alert, hostname: self.hostname) : SinkRecord.text(alert)
        let length = line.utf8.count + 1
        if let maxSize, self.size + self.writer.buffer.count > 0, self.size + self.writer.buffer.count + length > maxSize {
            self.flush()
            self.rotate()
        }
        self.writer.buffer.append(contentsOf: line.utf8)
        self.writer.buffer.append(0x0A)
        self.writer.lines += 1
        if self.writer.buffer.count >= 1 << 16 { self.flush() }
    }

    public func flush() {
        let lines = self.writer.lines, bytes = self.writer.buffer.count
        let (lost, error) = self.writer.drain()
        self.state.sent += lines - lost
        self.state.failed += lost
        if lost == 0 { self.size += bytes }
        if lost > 0 && !self.reportedError {
            self.reportedError = true
            self.log?("\(self.name): write failed (\(String(cString: strerror(error)))); alerts are lost")
        }
    }

    private func rotate() {
        Glibc.close(self.writer.fd)
        if self.keep == 0 {
            unlink(self.path)
        } else {
            unlink("\(self.path).\(self.keep)")
            var i = self.keep - 1
            while i >= 1 {
                rename("\(self.path).\(i)", "\(self.path).\(i + 1)")
                i -= 1
            }
            rename(self.path, "\(self.path).1")
        }
        self.writer.fd = Self.open(self.path)
        self.size = 0
        if self.writer.fd < 0 && !self.reportedError {
            self.reportedError = true
            self.log?("\(self.name): cannot reopen after rotation (\(String(cString: strerror(errno)))); alerts are lost")
        }
    }

    public func close(deadline: Double) -> SinkReport {
        self.flush()
        return SinkReport(name: self.name, counters: self.state)
    }
}

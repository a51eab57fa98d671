/// One framed record (one line, without its line terminator) inside a `RecordBatch`.
///
/// `start`/`count` locate the bytes in the batch buffer; `line`/`byteOffset` locate the record in
/// the (decompressed) input stream, for diagnostics and alert positions.
public struct Record: Sendable, Equatable {
    /// Offset of the record's first byte in the batch buffer.
    public var start: Int
    /// Length in bytes, without `\n` or `\r\n` (and without a leading UTF-8 BOM on line 1).
    public var count: Int
    /// 1-based line number in the input stream.
    public var line: Int
    /// Offset of the record's first byte in the input stream (decompressed bytes for gzip).
    public var byteOffset: Int64

    /// Creates a record descriptor.
    public init(start: Int, count: Int, line: Int, byteOffset: Int64) {
        self.start = start
        self.count = count
        self.line = line
        self.byteOffset = byteOffset
    }
}

/// A problem found while framing, reported with its position instead of a record.
public struct FramingDiagnostic: Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// The line is longer than the framer's `maxRecordSize`; its bytes were skipped.
        case oversizedRecord
        /// The input failed (read error, truncated or corrupt compressed data) in the middle of
        /// this line; the partial line was dropped. The `InputError` follows from the next call.
        case incompleteRecord
    }

    /// What went wrong.
    public var kind: Kind
    /// 1-based line number of the affected line.
    public var line: Int
    /// Offset of the line's first byte in the input stream.
    public var byteOffset: Int64
    /// Length of the line in bytes (without its terminator), or of the part read before a failure.
    public var byteCount: Int64
    /// Human-readable explanation.
    public var reason: String

    /// Creates a diagnostic.
    public init(kind: Kind, line: Int, byteOffset: Int64, byteCount: Int64, reason: String) {
        self.kind = kind
        self.line = line
        self.byteOffset = byteOffset
        self.byteCount = byteCount
        self.reason = reason
    }

    /// `line N (byte M): reason`.
    public var description: String {
        "line \(self.line) (byte \(self.byteOffset)): \(self.reason)"
    }
}

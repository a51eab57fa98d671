/// Something that cuts a byte stream into `RecordBatch`es: ``LineFramer`` or ``JSONValueFramer``.
public protocol RecordFramer: AnyObject {
    /// Returns the next batch of records, or `nil` at the end of the stream; see
    /// ``LineFramer/nextBatch(reusing:)``.
    func nextBatch(reusing: RecordBatch?) throws(InputError) -> RecordBatch?
    /// Bytes read from the source so far (decompressed bytes for gzip).
    var bytesRead: Int64 { get }
}

extension LineFramer: RecordFramer {}
extension JSONValueFramer: RecordFramer {}

/// How an input's records are delimited.
public enum RecordFraming: Sendable, Equatable {
    /// One record per line: ``LineFramer`` (fastest).
    case lines
    /// Whole JSON values, wherever the line breaks are: ``JSONValueFramer``.
    case jsonValues
}

/// Opens the framer for one input.
///
/// With a forced `format`, `lines` and `cloudwatch-export` use ``LineFramer`` and the other formats
/// ``JSONValueFramer``. With `.auto`, the first bytes are looked at (up to 256 KiB, without losing
/// them: see ``detectFraming(_:atEnd:)``): an input whose first record is a single-line JSON value,
/// or that does not start with `{`/`[` at all, is read by lines; a pretty-printed first value or
/// values back to back on one line select ``JSONValueFramer``. A first line longer than 256 KiB is
/// read by lines when it starts like an audit event, else as JSON values.
///
/// The choice is made once per input: a line-delimited input that later holds a pretty-printed
/// value needs a forced format (e.g. `filter-log-events`) to be framed as values.
///
/// A read error met while looking is not lost: it is raised by the framer after the bytes before it.
public func makeRecordFramer(source: ByteSource, format: InputFormat, sourceIndex: Int = 0,
                             batchSize: Int = 1 << 20, maxRecordSize: Int = 64 << 20) -> RecordFramer {
    var framing: RecordFraming
    var input = source
    if format == .auto {
        let peeked = PeekedSource(wrapping: source)
        framing = peeked.peekFraming(window: 256 << 10)
        input = peeked
    } else {
        framing = format.usesLineFraming ? .lines : .jsonValues
    }
    switch framing {
    case .lines:
        return LineFramer(source: input, sourceIndex: sourceIndex, batchSize: batchSize, maxRecordSize: maxRecordSize)
    case .jsonValues:
        return JSONValueFramer(source: input, sourceIndex: sourceIndex, batchSize: batchSize, maxRecordSize: maxRecordSize)
    }
}

/// Decides the framing of an input from its first bytes, or returns `nil` when more bytes are needed.
///
/// - `.lines` when the content (after a UTF-8 BOM and whitespace) does not start with `{` or `[`
///   (CloudWatch export lines, base64 lines), or when the first value ends on its first line with
///   only whitespace after it on that line;
/// - `.jsonValues` when the first value spans lines (pretty-printed) or another value follows it on
///   the same line (`}{`, Firehose).
/// - Empty input, or one value cut by the end of the input: `.lines`.
///
/// - Parameter atEnd: `bytes` is the whole input.
public func detectFraming(_ bytes: UnsafeRawBufferPointer, atEnd: Bool) -> RecordFraming? {
    let n = bytes.count
    var i = 0
    let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
    if n < 3 && !atEnd && bytes.elementsEqual(bom.prefix(n)) { return nil }
    if n >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { i = 3 }
    while i < n, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0D || bytes[i] == 0x0A { i += 1 }
    guard i < n else { return atEnd ? .lines : nil }
    guard bytes[i] == UInt8(ascii: "{") || bytes[i] == UInt8(ascii: "[") else { return .lines }
    var depth = 0
    var inString = false
    while i < n {
        let c = bytes[i]
        i += 1
        if inString {
            if c == UInt8(ascii: "\\") {
                i += 1
            } else if c == UInt8(ascii: "\"") {
                inString = false
            } else if c == 0x0A {
                return .jsonValues
            }
            continue
        }
        switch c {
        case UInt8(ascii: "\""): inString = true
        case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
            depth -= 1
            if depth == 0 {
                while i < n, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0D { i += 1 }
                if i == n { return atEnd ? .lines : nil }
                return bytes[i] == 0x0A ? .lines : .jsonValues
            }
        case 0x0A: return .jsonValues
        default: break
        }
    }
    return atEnd ? .lines : nil
}

/// Whether the first JSON object in `bytes` starts with a key of an audit event (`kind`,
/// `apiVersion`, `level`, `auditID`), as the API server writes them.
func firstValueLooksLikeAuditEvent(_ bytes: UnsafeRawBufferPointer) -> Bool {
    var i = 0
    let n = bytes.count
    if n >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { i = 3 }
    while i < n, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0D || bytes[i] == 0x0A { i += 1 }
    guard i < n, bytes[i] == UInt8(ascii: "{") else { return false }
    i += 1
    while i < n, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0D || bytes[i] == 0x0A { i += 1 }
    for key in ["\"kind\"", "\"apiVersion\"", "\"level\"", "\"auditID\""] {
        let k = Array(key.utf8)
        if i + k.count <= n && bytes[i..<(i + k.count)].elementsEqual(k) { return true }
    }
    return false
}

/// A source whose first bytes were read ahead (to choose the framing) and are handed out again
/// before the rest of the wrapped source.
final class PeekedSource: ByteSource {
    var name: String { self.inner.name }
    private let inner: ByteSource
    private var prefix: [UInt8] = []
    private var prefixIndex = 0
    private var innerAtEnd = false
    /// A failure met while peeking; raised once the peeked bytes are consumed.
    private var pendingFailure: InputError?

    init(wrapping inner: ByteSource) {
        self.inner = inner
    }

    /// Reads ahead until ``detectFraming(_:atEnd:)`` decides, the input ends, or `window` bytes are
    /// buffered: then the first value is a single line longer than the window, and its first key
    /// decides (see ``firstValueLooksLikeAuditEvent(_:)``): a huge audit event (lines), or a large
    /// envelope such as a Firehose payload that the next one follows on the same line (values).
    func peekFraming(window: Int) -> RecordFraming {
        let chunk = 64 << 10
        while true {
            let decided = self.prefix.withUnsafeBytes { detectFraming($0, atEnd: self.innerAtEnd || self.pendingFailure != nil) }
            if let decided { return decided }
            if self.prefix.count >= window {
                return self.prefix.withUnsafeBytes { firstValueLooksLikeAuditEvent($0) } ? .lines : .jsonValues
            }
            let old = self.prefix.count
            self.prefix.append(contentsOf: repeatElement(0, count: chunk))
            let inner = self.inner
            let result = self.prefix.withUnsafeMutableBytes { buffer -> Result<Int, InputError> in
                do throws(InputError) {
                    return .success(try inner.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[old...])))
                } catch {
                    return .failure(error)
                }
            }
            switch result {
            case .success(let n):
                self.prefix.removeLast(chunk - n)
                if n == 0 { self.innerAtEnd = true }
            case .failure(let error):
                self.prefix.removeLast(chunk)
                self.pendingFailure = error
            }
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(InputError) -> Int {
        if self.prefixIndex < self.prefix.count {
            guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
            let n = min(buffer.count, self.prefix.count - self.prefixIndex)
            self.prefix.withUnsafeBytes { bytes in
                base.copyMemory(from: bytes.baseAddress! + self.prefixIndex, byteCount: n)
            }
            self.prefixIndex += n
            if self.prefixIndex == self.prefix.count {
                self.prefix = []
                self.prefixIndex = 0
            }
            return n
        }
        if let failure = self.pendingFailure { throw failure }
        if self.innerAtEnd { return 0 }
        return try self.inner.read(into: buffer)
    }

    func canRead(withinMilliseconds milliseconds: Int) -> Bool {
        self.prefixIndex < self.prefix.count || self.pendingFailure != nil || self.innerAtEnd
            || self.inner.canRead(withinMilliseconds: milliseconds)
    }
}

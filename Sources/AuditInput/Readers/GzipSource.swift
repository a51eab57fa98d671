import CZlib

/// Streams the decompressed content of a gzip source, using the system zlib.
///
/// - Multi-member files (several gzip members back to back, as `cat a.gz b.gz` or `gzip` with
///   `--rsyncable`-style producers make them) decode as one stream.
/// - Zero bytes between or after members (tape/block padding) are skipped.
/// - A truncated stream, a corrupt member, a bad checksum or non-gzip bytes after a member raise an
///   `InputError` naming the source and the offset in the compressed bytes. The error is raised only
///   after every byte decoded before it has been returned by `read`.
public final class GzipSource: ByteSource {
    /// The wrapped source's name (the path).
    public var name: String { self.inner.name }

    private let inner: ByteSource
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutableRawBufferPointer
    /// Compressed bytes read from `inner` so far.
    private var compressedRead: Int64 = 0
    private var innerAtEnd = false
    /// Set after `Z_STREAM_END`: the next non-zero byte must start a new member.
    private var betweenMembers = false
    private var finished = false
    /// An error found after some output of the current call was produced; raised on the next call.
    private var failure: InputError?

    /// Size of the compressed input buffer.
    static let inputBufferSize = 256 << 10

    /// Wraps `source`, whose bytes must be gzip data.
    ///
    /// - Throws: `InputError` when zlib cannot be initialised.
    public init(wrapping source: ByteSource) throws(InputError) {
        self.inner = source
        self.stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        self.stream.initialize(to: z_stream())
        self.input = UnsafeMutableRawBufferPointer.allocate(byteCount: GzipSource.inputBufferSize, alignment: 16)
        // 16 + MAX_WBITS: gzip wrapper only, largest window.
        let status = inflateInit2_(self.stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            self.stream.deallocate()
            self.input.deallocate()
            throw InputError(path: source.name, offset: nil, reason: "cannot initialise zlib (status \(status))")
        }
    }

    deinit {
        inflateEnd(self.stream)
        self.stream.deallocate()
        self.input.deallocate()
    }

    /// Offset in the compressed bytes of the next byte zlib will consume.
    private var compressedOffset: Int64 {
        self.compressedRead - Int64(self.stream.pointee.avail_in)
    }

    public func canRead(withinMilliseconds milliseconds: Int) -> Bool {
        self.finished || self.failure != nil || self.stream.pointee.avail_in > 0 || self.innerAtEnd
            || self.inner.canRead(withinMilliseconds: milliseconds)
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(InputError) -> Int {
        if let failure = self.failure {
            throw failure
        }
        guard !self.finished, let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let request = min(buffer.count, Int(UInt32.max))
        let z = self.stream
        z.pointee.next_out = base.assumingMemoryBound(to: Bytef.self)
        z.pointee.avail_out = UInt32(request)
        var produced: Int { request - Int(z.pointee.avail_out) }

        /// Records `error`; throws it now if nothing was produced in this call, else on the next call.
        func fail(_ error: InputError) throws(InputError) -> Int {
            self.failure = error
            if produced > 0 { return produced }
            throw error
        }

        while true {
            if z.pointee.avail_in == 0 && !self.innerAtEnd {
                // Hand out what we have rather than wait on a slow producer.
                if produced > 0 && !self.inner.canRead(withinMilliseconds: 0) { return produced }
                do {
                    try self.refill()
                } catch {
                    return try fail(error)
                }
            }
            if self.betweenMembers {
                self.skipZeroPadding()
                if z.pointee.avail_in == 0 {
                    if self.innerAtEnd {
                        self.finished = true
                        return produced
                    }
                    continue
                }
                inflateReset(z)
                self.betweenMembers = false
            }
            let status = inflate(z, Z_NO_FLUSH)
            switch status {
            case Z_OK:
                if z.pointee.avail_out == 0 { return produced }
            case Z_STREAM_END:
                self.betweenMembers = true
                if z.pointee.avail_out == 0 { return produced }
            case Z_BUF_ERROR:
                // No progress: either the output is full or zlib needs more input.
                if z.pointee.avail_out == 0 { return produced }
                if z.pointee.avail_in > 0 {
                    // Cannot happen with a correct zlib; guards against spinning.
                    let reason = "corrupt gzip data: decompressor made no progress"
                    return try fail(InputError(path: self.name, offset: self.compressedOffset, reason: reason))
                }
                if self.innerAtEnd {
                    let reason = "truncated gzip stream: unexpected end of input"
                    return try fail(InputError(path: self.name, offset: self.compressedOffset, reason: reason))
                }
            default:
                var reason = "corrupt gzip data"
                if let message = z.pointee.msg {
                    reason += ": " + String(cString: message)
                } else {
                    reason += " (zlib status \(status))"
                }
                return try fail(InputError(path: self.name, offset: self.compressedOffset, reason: reason))
            }
        }
    }

    /// Reads the next chunk of compressed bytes. Only called when `avail_in == 0`.
    private func refill() throws(InputError) {
        let n = try self.inner.read(into: self.input)
        if n == 0 {
            self.innerAtEnd = true
        }
        self.compressedRead += Int64(n)
        self.stream.pointee.next_in = self.input.baseAddress!.assumingMemoryBound(to: Bytef.self)
        self.stream.pointee.avail_in = UInt32(n)
    }

    /// Drops zero bytes at the start of the pending input.
    private func skipZeroPadding() {
        let z = self.stream
        while z.pointee.avail_in > 0 && z.pointee.next_in.pointee == 0 {
            z.pointee.next_in += 1
            z.pointee.avail_in -= 1
        }
    }
}

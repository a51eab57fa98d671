import CZlib

/// Why an in-memory payload could not be decompressed.
struct InflateError: Error, Equatable, CustomStringConvertible {
    var reason: String
    var description: String { self.reason }
}

/// Decompresses whole gzip (or zlib) payloads held in memory, such as the base64-decoded `data` of
/// a CloudWatch Logs subscription record, into a reusable ``ScratchBuffer``.
///
/// One zlib stream is kept and reset for every payload, so after warm-up nothing is allocated.
/// Several gzip members back to back decode as one payload; zero bytes after a member are ignored.
/// Output beyond `limit` bytes is an error (a defence against decompression bombs).
final class Inflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private let ready: Bool

    init() {
        self.stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        self.stream.initialize(to: z_stream())
        // 32 + MAX_WBITS: accept a gzip or a zlib header, largest window.
        self.ready = inflateInit2_(self.stream, 32 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK
    }

    deinit {
        if self.ready { inflateEnd(self.stream) }
        self.stream.deallocate()
    }

    /// Replaces the content of `output` with the decompressed `input`.
    ///
    /// - Throws: ``InflateError`` for corrupt or truncated data, or output larger than `limit`.
    func inflate(_ input: UnsafeRawBufferPointer, into output: ScratchBuffer, limit: Int) throws(InflateError) {
        output.removeAll()
        guard self.ready else { throw InflateError(reason: "cannot initialise zlib") }
        guard let inputBase = input.baseAddress, input.count > 0 else {
            throw InflateError(reason: "empty compressed payload")
        }
        let z = self.stream
        inflateReset(z)
        z.pointee.next_in = UnsafeMutablePointer(mutating: inputBase.assumingMemoryBound(to: Bytef.self))
        z.pointee.avail_in = UInt32(clamping: input.count)
        // Compressed JSON typically expands 5–15 times.
        output.reserve(min(max(input.count * 8, 4096), max(limit, 1)))
        while true {
            if output.spare == 0 {
                if output.count >= limit {
                    throw InflateError(reason: "decompressed payload larger than \(limit) bytes")
                }
                output.reserve(min(output.count, limit - output.count + 1))
            }
            let room = min(output.spare, Int(UInt32.max))
            z.pointee.next_out = (output.base + output.count).assumingMemoryBound(to: Bytef.self)
            z.pointee.avail_out = UInt32(room)
            let status = CZlib.inflate(z, Z_NO_FLUSH)
            output.count += room - Int(z.pointee.avail_out)
            if output.count > limit {
                throw InflateError(reason: "decompressed payload larger than \(limit) bytes")
            }
            switch status {
            case Z_OK:
                continue
            case Z_STREAM_END:
                // Skip zero padding; another member may follow.
                while z.pointee.avail_in > 0 && z.pointee.next_in.pointee == 0 {
                    z.pointee.next_in += 1
                    z.pointee.avail_in -= 1
                }
                if z.pointee.avail_in == 0 { return }
                inflateReset(z)
            case Z_BUF_ERROR:
                if z.pointee.avail_out == 0 { continue }
                throw InflateError(reason: "truncated compressed payload")
            default:
                if let message = z.pointee.msg {
                    throw InflateError(reason: "corrupt compressed payload: " + String(cString: message))
                }
                throw InflateError(reason: "corrupt compressed payload (zlib status \(status))")
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

extension HTMLReport {
    /// Writes `text` to `path` atomically (a temporary file next to it, then a rename). Returns nil on
    /// success, else a message naming the path.
    public static func write(_ text: String, to path: String) -> String? {
        let temporary = path + ".tmp-\(getpid())"
        guard let f = fopen(temporary, "wb") else { return "\(path): cannot write the report: \(String(cString: strerror(errno)))" }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        let flushed = fflush(f) == 0
        let closed = fclose(f) == 0
        guard written == bytes.count, flushed, closed else {
            unlink(temporary)
            return "\(path): cannot write the report: \(String(cString: strerror(errno)))"
        }
        guard rename(temporary, path) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temporary)
            return "\(path): cannot write the report: \(message)"
        }
        return nil
    }
}

extension EventFilter {
    /// The current wall-clock time in nanoseconds since the Unix epoch (the "now" of relative times).
    public static func currentTime() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Buffered writing to a file descriptor (stdout for alerts, stderr for diagnostics).
final class OutputStream: @unchecked Sendable {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private let limit: Int

    init(fd: Int32, bufferSize: Int = 1 << 16) {
        self.fd = fd
        self.limit = bufferSize
        buffer.reserveCapacity(bufferSize)
    }

    static let standardOutput = OutputStream(fd: 1)
    static let standardError = OutputStream(fd: 2, bufferSize: 0)

    func write(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= limit { flush() }
    }

    func line(_ s: String) {
        write(s)
        write("\n")
    }

    func flush() {
        var offset = 0
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 {
                if n < 0 && errno == EINTR { continue }
                break
            }
            offset += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    deinit { flush() }
}

/// Whether a file descriptor is a terminal.
func isTerminal(_ fd: Int32) -> Bool { isatty(fd) != 0 }

/// The host name for alerts (`FALCO_HOSTNAME` or `AUDITHOUND_HOSTNAME` override it, as in Falco).
func hostName() -> String {
    if let e = getenv("AUDITHOUND_HOSTNAME") { return String(cString: e) }
    if let e = getenv("FALCO_HOSTNAME") { return String(cString: e) }
    var buf = [CChar](repeating: 0, count: 256)
    if gethostname(&buf, 255) == 0 {
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
    return "localhost"
}

/// Monotonic seconds.
func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// Reads a whole (small) file as text, e.g. a rule file.
func readTextFile(_ path: String) -> String? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&chunk, 1, chunk.count, f)
        if n <= 0 { break }
        out.append(contentsOf: chunk[0..<n])
    }
    if ferror(f) != 0 { return nil }
    return String(decoding: out, as: UTF8.self)
}

func formatBytes(_ n: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n)
    var u = 0
    while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
    return u == 0 ? "\(n) B" : "\(format(v, 1)) \(units[u])"
}

func format(_ v: Double, _ decimals: Int) -> String {
    var m = 1.0
    for _ in 0..<decimals { m *= 10 }
    let r = (v * m).rounded() / m
    var s = String(r)
    if let dot = s.firstIndex(of: ".") {
        let frac = s[s.index(after: dot)...]
        if frac.count < decimals { s += String(repeating: "0", count: decimals - frac.count) }
    } else if decimals > 0 {
        s += "." + String(repeating: "0", count: decimals)
    }
    return s
}

#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress display on stderr (bytes done of the total, rate, ETA), redrawn at most five
/// times a second, and only when stderr is a terminal: redirected stderr gets no progress lines.
final class ProgressLine {
    private let total: Int64?
    private let enabled: Bool
    private let start = monotonicSeconds()
    private var lastDraw = 0.0
    private var drawn = false

    /// - Parameters:
    ///   - inputs: the input paths; the total is the sum of their sizes when none is compressed or stdin.
    init(inputs: [String], enabled: Bool = isTerminal(2)) {
        self.enabled = enabled
        var sum: Int64 = 0
        var known = true
        for path in inputs {
            if path == "-" || path.hasSuffix(".gz") { known = false; continue }
            var st = stat()
            if stat(path, &st) == 0 { sum += Int64(st.st_size) } else { known = false }
        }
        total = known && sum > 0 ? sum : nil
    }

    /// Records progress: `done` bytes (uncompressed) read so far.
    func update(done: Int64, events: Int) {
        guard enabled else { return }
        let now = monotonicSeconds()
        guard now - lastDraw >= 0.2 else { return }
        lastDraw = now
        let elapsed = max(0.001, now - start)
        let rate = Double(done) / elapsed
        var line = "\r\u{1B}[K\(formatBytes(done))"
        if let total {
            let pct = Double(done) * 100 / Double(max(1, total))
            line += " of \(formatBytes(total)) (\(format(min(pct, 100), 1))%)"
            let eta = rate > 0 ? Double(max(0, total - done)) / rate : 0
            line += ", \(format(rate / 1_000_000, 1)) MB/s, ETA \(Int(eta.rounded()))s"
        } else {
            line += ", \(format(rate / 1_000_000, 1)) MB/s"
        }
        line += ", \(events) events"
        OutputStream.standardError.write(line)
        drawn = true
    }

    /// Clears the line before the summary is printed.
    func finish() {
        if drawn { OutputStream.standardError.write("\r\u{1B}[K") }
    }
}

import AuditRules
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How a ``WebhookSink`` delivers.
public struct WebhookOptions: Sendable {
    /// The receiver's URL (`http` or `https`). For ``WebhookFormat/alertmanager`` a URL without a path
    /// gets `/api/v2/alerts`.
    public var url: URL
    /// The body format.
    public var format: WebhookFormat = .falco
    /// Extra request headers (e.g. `Authorization`). Values are secrets: never shown in any message.
    public var headers: [(name: String, value: String)] = []
    /// Seconds to wait for an answer.
    public var timeout: Double = 10
    /// Most alerts per request (``WebhookFormat/batch`` and ``WebhookFormat/alertmanager``; the others
    /// send one).
    public var batchSize = 100
    /// Seconds to wait for a batch to fill before sending it anyway.
    public var batchInterval: Double = 1
    /// First retry delay in seconds; it doubles on each failure (with jitter: a random 50–100 %) up to
    /// ``retryMax``. A `Retry-After: <seconds>` answer sets the delay instead (at most 15 minutes).
    public var retryInitial: Double = 0.5
    /// Longest retry delay in seconds. Retries never stop while the sink is open.
    public var retryMax: Double = 60
    /// Alerts held in memory when there is no spool.
    public var queueCapacity = 10_000
    /// The spool root (`--spool`): this sink spools in `<root>/<id>/` (``DiskSpool``). `nil`: memory only.
    public var spoolRoot: String? = nil
    /// Spool size limit in bytes.
    public var spoolMaxSize = 1 << 30
    /// What happens when the queue or spool is full.
    public var whenFull: QueueFullPolicy = .dropOldest
    /// Where refused alerts go (default `<spool root>/dead-letter.jsonl`; `nil` without a spool: nowhere).
    public var deadLetterPath: String? = nil
    /// A stable name for the spool directory and messages (letters, digits, `.`, `_`, `-`); default
    /// `webhook-<hash of format and URL>`.
    public var id: String? = nil

    /// Options for `url` with the defaults.
    public init(url: URL) {
        self.url = url
    }

    /// The URL requests go to.
    public var endpoint: URL {
        guard self.format == .alertmanager, self.url.path.isEmpty || self.url.path == "/",
              var components = URLComponents(url: self.url, resolvingAgainstBaseURL: false) else { return self.url }
        components.path = "/api/v2/alerts"
        return components.url ?? self.url
    }

    /// The sink's id: ``id`` or `webhook-` and 8 hex digits hashed from the format and the URL.
    public var resolvedID: String {
        if let id { return id }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in (self.format.rawValue + " " + self.endpoint.absoluteString).utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        let hex = String(UInt32(truncatingIfNeeded: h ^ (h >> 32)), radix: 16)
        return "webhook-" + String(repeating: "0", count: 8 - hex.count) + hex
    }
}

/// Delivers alerts to an HTTP receiver from its own thread, with retries, a queue (memory, or a disk
/// spool that survives restarts) and a dead-letter file.
///
/// `send` renders the alert (``SinkRecord/json(_:hostname:)``) and appends it to the queue; it only
/// waits when the queue is full and the policy is ``QueueFullPolicy/block``. The delivery thread takes
/// batches from the head of the queue and POSTs them:
/// - 2xx: delivered, removed from the queue;
/// - connection error, timeout, 408, 429, 5xx: retried (exponential backoff with jitter, or the
///   `Retry-After` seconds) until delivered or the sink is closed; nothing is skipped meanwhile, so
///   alerts arrive in order;
/// - any other answer (4xx, 3xx: redirects are not followed): refused for good; reported, written to
///   the dead-letter file, removed from the queue.
///
/// Alerts are delivered at least once: after a crash the spool re-sends what was not acknowledged.
/// Each carries `alert_id` so the receiver can drop repeats. ``close(deadline:)`` must be called: it
/// delivers what it can until the deadline and stops the thread.
public final class WebhookSink: AlertSink, @unchecked Sendable {
    public let name: String
    /// The sink's id (its spool directory name).
    public let id: String
    /// The spool directory of this sink, when it has one.
    public let spoolDirectory: String?
    private let options: WebhookOptions
    private let endpoint: URL
    private let hostname: String
    private let log: SinkLog?
    private let redactor: Redactor
    private let poster: HTTPPoster
    private let deadLetterPath: String?
    private let monitor = Monitor()

    // Guarded by `monitor`.
    private let queue: DeliveryQueue
    private var state = SinkCounters()
    private var closing = false
    private var stopping = false
    private var finished = false
    private var failingSince: Double? = nil
    private var outageRetries = 0
    private var rejectionsReported = 0
    private var nextDropReport = 1
    private var deadLetterFD: Int32 = -1
    private var thread: WorkerThread? = nil

    /// Opens the spool (if any) and starts the delivery thread.
    /// - Throws: ``SinkError`` for a URL that is not http(s) or a spool that cannot be used.
    public init(options: WebhookOptions, hostname: String, log: SinkLog?) throws(SinkError) {
        guard let scheme = options.url.scheme?.lowercased(), scheme == "http" || scheme == "https", options.url.host != nil else {
            throw SinkError("webhook: not an http(s) URL: \(Redactor.displayURL(options.url))")
        }
        self.options = options
        self.endpoint = options.endpoint
        self.hostname = hostname
        self.log = log
        self.id = options.resolvedID
        var secrets = options.headers.map { $0.value }
        // Each word of a value too (a token may be shown apart from its scheme), scheme names aside.
        let schemes: Set<String> = ["bearer", "basic", "token", "digest", "apikey"]
        secrets += options.headers.flatMap { $0.value.split(separator: " ").map(String.init) }
            .filter { $0.count >= 6 && !schemes.contains($0.lowercased()) }
        secrets += Redactor.urlSecrets(options.url)
        self.redactor = Redactor(secrets: secrets)
        self.name = "webhook \(options.format.rawValue) \(Redactor.displayURL(self.endpoint))"
        self.poster = HTTPPoster(timeout: options.timeout)
        if let root = options.spoolRoot {
            let directory = root + "/" + self.id
            let spool = try DiskSpool(directory: directory, maxBytes: options.spoolMaxSize, log: log)
            self.queue = spool
            self.spoolDirectory = directory
            self.state.recovered = spool.recovered
            self.deadLetterPath = options.deadLetterPath ?? root + "/dead-letter.jsonl"
        } else {
            self.queue = MemoryDeliveryQueue(capacity: options.queueCapacity)
            self.spoolDirectory = nil
            self.deadLetterPath = options.deadLetterPath
        }
        if self.state.recovered > 0 {
            self.report("\(self.state.recovered) alerts left in the spool by an earlier run; sending them first")
        }
        let thread = WorkerThread { [self] in self.deliveryLoop() }
        self.thread = thread
        thread.start()
    }

    private func report(_ message: String) {
        self.log?(self.redactor.redact("\(self.name): \(message)"))
    }

    public var counters: SinkCounters {
        self.monitor.withLock { self.state }
    }

    // MARK: Producer side

    public func send(_ alert: SinkAlert) {
        let line = SinkRecord.json(alert, hostname: self.hostname)
        self.monitor.lock()
        defer { self.monitor.unlock() }
        self.state.accepted += 1
        if self.closing {
            self.state.dropped += 1
            return
        }
        if self.options.whenFull == .block {
            while !self.queue.hasRoom(for: line.utf8.count + 1) && !self.stopping && !StopSignal.requested {
                self.monitor.wait(milliseconds: 100)
            }
        }
        do {
            let dropped = try self.queue.append(line, dropOldest: true)
            if dropped > 0 { self.noteDropped(dropped) }
        } catch {
            self.noteDropped(1, reason: error.message)
        }
        self.monitor.broadcast()
    }

    /// Counts drops and reports the 1st, 10th, 100th…
    private func noteDropped(_ n: Int, reason: String? = nil) {
        self.state.dropped += n
        if self.state.dropped >= self.nextDropReport {
            while self.nextDropReport <= self.state.dropped { self.nextDropReport *= 10 }
            let limit = self.spoolDirectory != nil ? "spool limit \(self.options.spoolMaxSize) bytes" : "queue limit \(self.options.queueCapacity) alerts"
            self.report("ALERTS DROPPED: \(self.state.dropped) so far (\(reason ?? "\(limit) reached; oldest dropped first"))")
        }
    }

    // MARK: Delivery thread

    private enum Delivery {
        case delivered
        case refused(status: Int?, reason: String)
        case stopped
    }

    private func deliveryLoop() {
        let batchMax = self.options.format.batches ? max(1, self.options.batchSize) : 1
        while true {
            self.monitor.lock()
            while self.queue.pendingRecords == 0 && !self.closing && !self.stopping {
                self.queue.checkpoint(force: true)
                self.monitor.wait(milliseconds: 200)
            }
            if self.stopping || (self.queue.pendingRecords == 0 && self.closing) {
                self.monitor.unlock()
                break
            }
            if batchMax > 1 && self.queue.pendingRecords < batchMax && !self.closing {
                let until = SinkClock.now() + self.options.batchInterval
                while self.queue.pendingRecords < batchMax && !self.closing && !self.stopping {
                    let left = until - SinkClock.now()
                    if left <= 0 { break }
                    self.monitor.wait(milliseconds: max(1, Int(left * 1000)))
                }
            }
            if self.stopping {
                self.monitor.unlock()
                break
            }
            let records = self.queue.peek(max: batchMax)
            self.monitor.unlock()
            if records.isEmpty {
                _ = self.pause(0.05)
                continue
            }
            let outcome = self.deliver(records)
            self.monitor.lock()
            switch outcome {
            case .delivered:
                self.queue.ack(records[records.count - 1], count: records.count)
                self.state.sent += records.count
            case .refused(let status, let reason):
                self.writeDeadLetters(records, status: status, reason: reason)
                self.queue.ack(records[records.count - 1], count: records.count)
                self.state.failed += records.count
            case .stopped:
                self.queue.release()
            }
            self.queue.checkpoint(force: self.queue.pendingRecords == 0)
            self.monitor.broadcast()
            self.monitor.unlock()
        }
        self.monitor.withLock {
            self.finished = true
            self.monitor.broadcast()
        }
    }

    /// Sleeps `seconds` unless the sink is stopped first; returns false when stopped.
    private func pause(_ seconds: Double) -> Bool {
        self.monitor.lock()
        defer { self.monitor.unlock() }
        let until = SinkClock.now() + seconds
        while !self.stopping {
            let left = until - SinkClock.now()
            if left <= 0 { return true }
            self.monitor.wait(milliseconds: max(1, Int((left * 1000).rounded(.up))))
        }
        return false
    }

    /// The delay before retry number `attempt` (1, 2, …): exponential with jitter (50–100 %).
    func backoff(_ attempt: Int) -> Double {
        let base = min(self.options.retryMax, self.options.retryInitial * pow(2, Double(min(attempt - 1, 60))))
        return base * Double.random(in: 0.5...1.0)
    }

    private func deliver(_ records: [QueuedRecord]) -> Delivery {
        guard let text = WebhookPayload.body(records.map { $0.text }, format: self.options.format) else {
            return .refused(status: nil, reason: "the spooled alert is not valid JSON")
        }
        let body = Data(text.utf8)
        var attempt = 0
        while true {
            let reason: String
            var delay: Double
            switch self.poster.post(url: self.endpoint, body: body, headers: self.options.headers) {
            case .cancelled:
                return .stopped
            case .failure(let description):
                reason = description
                delay = self.backoff(attempt + 1)
            case .response(let status, let retryAfter, let answer):
                if (200..<300).contains(status) {
                    self.noteRecovered()
                    return .delivered
                }
                guard status == 408 || status == 429 || status >= 500 else {
                    let excerpt = TextEscaper.escape(WebhookPayload.clip(answer.trimmingCharacters(in: .whitespacesAndNewlines), 200))
                    return .refused(status: status, reason: "HTTP \(status)" + (excerpt.isEmpty ? "" : ": " + excerpt))
                }
                reason = "HTTP \(status)"
                delay = self.backoff(attempt + 1)
                if let retryAfter { delay = min(retryAfter, 900) }
            }
            attempt += 1
            self.noteFailure(reason, delay: delay)
            if !self.pause(delay) { return .stopped }
        }
    }

    private func noteFailure(_ reason: String, delay: Double) {
        self.monitor.lock()
        defer { self.monitor.unlock() }
        self.state.retried += 1
        self.outageRetries += 1
        self.queue.checkpoint(force: false)  // acknowledgements made before the outage
        if self.failingSince == nil {
            self.failingSince = SinkClock.now()
            let kept = self.spoolDirectory.map { "in the spool \($0)" } ?? "in memory (up to \(self.options.queueCapacity), no --spool)"
            self.report("receiver failing (\(reason)); retrying with backoff, alerts are kept \(kept)")
        }
    }

    private func noteRecovered() {
        self.monitor.lock()
        defer { self.monitor.unlock() }
        guard let since = self.failingSince else { return }
        let seconds = SinkClock.now() - since
        self.report("receiver back after \(self.outageRetries) retries (\(Int(seconds.rounded())) s)")
        self.failingSince = nil
        self.outageRetries = 0
    }

    /// Writes refused records to the dead-letter file (lock held).
    private func writeDeadLetters(_ records: [QueuedRecord], status: Int?, reason: String) {
        let safeReason = self.redactor.redact(reason)
        if self.rejectionsReported < 10 {
            self.rejectionsReported += 1
            let whereTo = self.deadLetterPath.map { "written to \($0)" } ?? "LOST (no --spool or --dead-letter)"
            self.report("receiver refused \(records.count) alert(s): \(safeReason); \(whereTo)"
                        + (self.rejectionsReported == 10 ? " (further refusals are only counted)" : ""))
        }
        guard let path = self.deadLetterPath else { return }
        if self.deadLetterFD < 0 {
            self.deadLetterFD = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            if self.deadLetterFD < 0 {
                self.report("cannot open the dead-letter file \(path): \(String(cString: strerror(errno)))")
                return
            }
        }
        let now = TimeFormat.rfc3339(SinkClock.wallNanos())
        for r in records {
            let alert = WebhookPayload.parse(r.text) != nil ? r.text : JSONEscaper.quote(r.text)
            var line = "{\"alert\":" + alert + ",\"reason\":" + JSONEscaper.quote(safeReason)
            line += ",\"sink\":" + JSONEscaper.quote(self.id)
            line += ",\"status\":" + (status.map { String($0) } ?? "null") + ",\"time\":" + JSONEscaper.quote(now) + "}\n"
            let bytes = Array(line.utf8)
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { write(self.deadLetterFD, $0.baseAddress! + offset, $0.count - offset) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                offset += n
            }
        }
        fsync(self.deadLetterFD)
    }

    // MARK: Close

    public func flush() {}

    public func close(deadline: Double) -> SinkReport {
        self.monitor.lock()
        self.closing = true
        self.monitor.broadcast()
        let left = deadline - SinkClock.now()
        if self.failingSince != nil && self.queue.pendingRecords > 0 && left >= 1 {
            self.report("waiting up to \(Int(left.rounded())) s to deliver \(self.queue.pendingRecords) queued alerts")
        }
        while !self.finished {
            let left = deadline - SinkClock.now()
            if left <= 0 { break }
            self.monitor.wait(milliseconds: max(1, min(100, Int((left * 1000).rounded(.up)))))
        }
        if !self.finished {
            self.stopping = true
            self.monitor.broadcast()
            self.monitor.unlock()
            self.poster.cancel()
            self.monitor.lock()
            while !self.finished { self.monitor.wait(milliseconds: 100) }
        }
        self.state.spooled = self.queue.pendingRecords
        self.queue.close()
        if self.deadLetterFD >= 0 {
            Glibc.close(self.deadLetterFD)
            self.deadLetterFD = -1
        }
        let report = SinkReport(name: self.name, counters: self.state, spoolDirectory: self.spoolDirectory,
                                deadLetterPath: self.state.failed > 0 ? self.deadLetterPath : nil)
        let thread = self.thread
        self.thread = nil
        self.monitor.unlock()
        thread?.join()
        return report
    }
}

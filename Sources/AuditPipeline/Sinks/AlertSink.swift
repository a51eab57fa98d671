import AuditRules
import Foundation

/// A destination for alerts: standard output, a file, a webhook.
///
/// A ``SinkSet`` hands every sink every alert that passes the sink's own ``AlertFilter``, on one thread
/// (the pipeline's in-order stage), in order. `send` must not block for long: a sink that talks to the
/// network queues the alert (in memory or in a disk spool) and delivers it from its own thread, so a
/// receiver that is down never holds up the other sinks or the reading of the log.
public protocol AlertSink: AnyObject {
    /// A name for messages and the summary. Never contains a secret (webhook URLs are shortened,
    /// header values are never shown).
    var name: String { get }
    /// Takes one alert.
    func send(_ alert: SinkAlert)
    /// Writes out buffered output (stdout and file sinks buffer up to 64 KiB). Called after each batch
    /// of alerts by live commands, and before ``close(deadline:)``.
    func flush()
    /// Delivers what is queued until `deadline` (``SinkClock`` seconds), then stops. What could not be
    /// delivered stays in the spool (re-sent on the next start) or, without a spool, is reported lost.
    func close(deadline: Double) -> SinkReport
    /// The counters so far.
    var counters: SinkCounters { get }
}

/// An alert on its way to one sink: the alert, its stable id, and what the sink's filter held back
/// since the previous alert of the same kind passed.
public struct SinkAlert: Sendable {
    /// The alert.
    public var alert: Alert
    /// The stable id (``AlertID``), the same every time the same event raises the same rule.
    public var id: String
    /// Repeats of this alert (same rule, same output fields) suppressed by the dedupe window since the
    /// previous one passed.
    public var suppressedRepeats = 0
    /// Alerts of this rule dropped by the rate limit since the previous one passed.
    public var rateLimited = 0

    /// An alert with its id and nothing suppressed.
    public init(alert: Alert, id: String) {
        self.alert = alert
        self.id = id
    }
}

/// What a sink did. For stdout and file sinks `sent` counts alerts written.
public struct SinkCounters: Sendable, Equatable {
    /// Alerts handed to the sink (after its filter).
    public var accepted = 0
    /// Alerts delivered (2xx from the receiver) or written.
    public var sent = 0
    /// Delivery attempts repeated after a connection error, a timeout, a 5xx or a 429.
    public var retried = 0
    /// Alerts refused for good (another 4xx, or a write error): reported and kept in the dead-letter file.
    public var failed = 0
    /// Alerts lost because the queue or spool was full (oldest first).
    public var dropped = 0
    /// Alerts still waiting: in the spool at exit (sent on the next start), or lost without a spool.
    public var spooled = 0
    /// Alerts found in the spool at start (left by an earlier run) and queued again.
    public var recovered = 0
    /// Repeats suppressed by the dedupe window.
    public var suppressed = 0
    /// Alerts dropped by the rate limit.
    public var rateLimited = 0

    /// No counts.
    public init() {}
}

/// The state of a sink when it was closed.
public struct SinkReport: Sendable {
    /// The sink's ``AlertSink/name``.
    public var name: String
    /// Its counters.
    public var counters: SinkCounters
    /// Where undelivered alerts are kept (`nil`: nowhere, they are lost).
    public var spoolDirectory: String?
    /// The dead-letter file, when alerts were written to it.
    public var deadLetterPath: String?

    /// A report.
    public init(name: String, counters: SinkCounters, spoolDirectory: String? = nil, deadLetterPath: String? = nil) {
        self.name = name
        self.counters = counters
        self.spoolDirectory = spoolDirectory
        self.deadLetterPath = deadLetterPath
    }

    /// One line for the summary: `webhook falco http://host:8080/…: sent 10, retried 2, failed 0, …`.
    public var summaryLine: String {
        let c = self.counters
        var parts = ["sent \(c.sent)", "retried \(c.retried)", "failed \(c.failed)", "spooled \(c.spooled)", "dropped \(c.dropped)"]
        if c.suppressed > 0 { parts.append("suppressed \(c.suppressed) repeats") }
        if c.rateLimited > 0 { parts.append("rate-limited \(c.rateLimited)") }
        if c.recovered > 0 { parts.append("recovered \(c.recovered) from the spool") }
        return "\(self.name): " + parts.joined(separator: ", ")
    }

    /// Loud lines about alerts not delivered (empty when everything went out).
    public var warnings: [String] {
        var lines: [String] = []
        let c = self.counters
        if c.dropped > 0 {
            lines.append("\(self.name): \(c.dropped) alerts were DROPPED because the queue/spool was full")
        }
        if c.failed > 0 {
            if let deadLetterPath {
                lines.append("\(self.name): \(c.failed) alerts were refused by the receiver; kept in \(deadLetterPath)")
            } else {
                lines.append("\(self.name): \(c.failed) alerts were refused by the receiver and are LOST (no --spool/--dead-letter)")
            }
        }
        if c.spooled > 0 {
            if let spoolDirectory {
                lines.append("\(self.name): \(c.spooled) alerts not delivered yet; kept in the spool \(spoolDirectory), sent on the next start")
            } else {
                lines.append("\(self.name): \(c.spooled) alerts could not be delivered and are LOST (no --spool)")
            }
        }
        return lines
    }
}

/// An error opening or writing a sink (a file that cannot be created, a spool in use...).
public struct SinkError: Error, CustomStringConvertible, Sendable {
    /// What went wrong (never contains a secret).
    public var message: String

    /// An error with `message`.
    public init(_ message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { self.message }
}

/// Where sinks report what happens while they run (a receiver going down, alerts dropped). Called from
/// delivery threads: it must be thread-safe. Messages never contain secrets.
public typealias SinkLog = @Sendable (String) -> Void

/// Stable alert ids, so that receivers can de-duplicate what at-least-once delivery sends twice.
public enum AlertID {
    /// A UUID-shaped id (`8-4-4-4-12` hex digits) hashed from the auditID, the rule and the event time
    /// (and, for events without an auditID, the input position and message): the same event raising the
    /// same rule always gets the same id, in any run.
    public static func make(for alert: Alert) -> String {
        var h1: UInt64 = 0xcbf2_9ce4_8422_2325
        var h2: UInt64 = 0x6c62_272e_07bb_0142
        func mix(_ bytes: String.UTF8View) {
            for b in bytes {
                h1 = (h1 ^ UInt64(b)) &* 0x100_0000_01b3
                h2 = (h2 ^ UInt64(b)) &* 0x0000_0100_0000_0193 &+ 0x9e37_79b9
            }
            h1 = (h1 ^ 0xff) &* 0x100_0000_01b3
            h2 = (h2 ^ 0xfe) &* 0x0000_0100_0000_0193
        }
        mix(alert.auditID.utf8)
        mix(alert.rule.utf8)
        mix(String(alert.time).utf8)
        if alert.auditID.isEmpty {
            mix(alert.input.utf8)
            mix(alert.message.utf8)
        }
        let a = finalize(h1 ^ (h2 >> 7)), b = finalize(h2 &+ a)
        let hex = hex16(a) + hex16(b)
        var out = ""
        for (i, ch) in hex.enumerated() {
            if i == 8 || i == 12 || i == 16 || i == 20 { out += "-" }
            out.append(ch)
        }
        return out
    }

    private static func finalize(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    private static func hex16(_ value: UInt64) -> String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}

/// How sinks render an alert.
public enum SinkRecord {
    /// The JSON alert: ``AlertFormatter/json(_:hostname:)`` plus `alert_id` and, when the filter held
    /// alerts back, `suppressed_repeats` and `rate_limited` (keys stay sorted). One line.
    public static func json(_ a: SinkAlert, hostname: String) -> String {
        var s = AlertFormatter.json(a.alert, hostname: hostname)
        // `{"audit_id":…` → `{"alert_id":"…","audit_id":…`: ids are hex, no escaping needed.
        s.removeFirst()
        s = "{\"alert_id\":\"" + a.id + "\"," + s
        // The formatter's top-level `,"rule":` and `,"tags":[` are the last occurrences of those byte
        // sequences: an unescaped quote cannot occur inside a JSON string, and only strings follow them.
        if a.rateLimited > 0, let r = s.range(of: ",\"rule\":", options: .backwards) {
            s.insert(contentsOf: ",\"rate_limited\":\(a.rateLimited)", at: r.lowerBound)
        }
        if a.suppressedRepeats > 0, let r = s.range(of: ",\"tags\":[", options: .backwards) {
            s.insert(contentsOf: ",\"suppressed_repeats\":\(a.suppressedRepeats)", at: r.lowerBound)
        }
        return s
    }

    /// The text alert: ``AlertFormatter/text(_:)`` plus `(N similar suppressed)` and `(N rate-limited)`.
    public static func text(_ a: SinkAlert) -> String {
        var s = AlertFormatter.text(a.alert)
        if a.suppressedRepeats > 0 { s += " (\(a.suppressedRepeats) similar suppressed)" }
        if a.rateLimited > 0 { s += " (\(a.rateLimited) rate-limited)" }
        return s
    }
}

/// Monotonic time for deadlines and backoff.
public enum SinkClock {
    /// Seconds on the monotonic clock.
    public static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// Wall-clock nanoseconds since the Unix epoch.
    static func wallNanos() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }
}

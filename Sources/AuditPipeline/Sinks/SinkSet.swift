import AuditRules

/// What one sink lets through: a minimum priority and two noise controls, both on **event time** (so a
/// replay behaves as the live stream did, and the same input always gives the same output).
public struct AlertFilter: Sendable {
    /// Alerts below this priority are not sent to the sink.
    public var minimumPriority: Priority = .debug
    /// Suppress repeats of the same rule with the same output fields (event-time fields and
    /// `ka.auditid` aside) within this many nanoseconds of the last one that passed; the next one that
    /// passes carries the count (`suppressed_repeats`). `nil` or 0: off.
    public var dedupeWindow: Int64? = nil
    /// At most `count` alerts per rule per `period` nanoseconds (fixed windows starting at the first
    /// alert of the rule); the next alert of the rule that passes carries the count (`rate_limited`).
    public var rateLimit: (count: Int, period: Int64)? = nil

    /// Lets everything through.
    public init() {}
}

/// The filter's memory for one sink.
struct AlertFilterState {
    let filter: AlertFilter
    private var dedupe: [UInt64: (since: Int64, suppressed: Int)] = [:]
    private var rates: [String: (start: Int64, count: Int, dropped: Int)] = [:]
    private(set) var suppressed = 0
    private(set) var rateLimited = 0

    init(_ filter: AlertFilter) {
        self.filter = filter
    }

    /// Fields that differ for every event and so must not make two repeats look different.
    static func isEventIdentity(_ name: String) -> Bool {
        name.hasPrefix("evt.time") || name == "evt.rawtime" || name == "evt.datetime" || name == "ka.auditid"
    }

    static func dedupeKey(_ a: Alert) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ s: String) {
            for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            h = (h ^ 0x1ff) &* 0x100_0000_01b3
        }
        mix(a.rule)
        for f in a.outputFields where !isEventIdentity(f.name) {
            mix(f.name)
            if let values = f.values {
                for v in values { mix(v) }
            } else {
                h = (h ^ 0x2ff) &* 0x100_0000_01b3
            }
        }
        return h
    }

    /// Decides whether `alert` passes; when it does, returns it with the counts held back since.
    mutating func admit(_ alert: Alert, id: String) -> SinkAlert? {
        guard alert.priority >= self.filter.minimumPriority else { return nil }
        var out = SinkAlert(alert: alert, id: id)
        let t = alert.time
        if let window = self.filter.dedupeWindow, window > 0 {
            let key = Self.dedupeKey(alert)
            if let entry = self.dedupe[key], t >= entry.since, t - entry.since < window {
                self.dedupe[key] = (entry.since, entry.suppressed + 1)
                self.suppressed += 1
                return nil
            }
            out.suppressedRepeats = self.dedupe[key]?.suppressed ?? 0
            self.dedupe[key] = (t, 0)
            if self.dedupe.count > 100_000 { self.prune(now: t, window: window) }
        }
        if let limit = self.filter.rateLimit, limit.count > 0 {
            var entry = self.rates[alert.rule] ?? (t, 0, 0)
            if t < entry.start || t - entry.start >= limit.period { entry = (t, 0, entry.dropped) }
            if entry.count >= limit.count {
                entry.dropped += 1
                self.rates[alert.rule] = entry
                self.rateLimited += 1
                return nil
            }
            entry.count += 1
            out.rateLimited = entry.dropped
            entry.dropped = 0
            self.rates[alert.rule] = entry
        }
        return out
    }

    /// Forgets windows that are over (their pending counts stay in the totals).
    private mutating func prune(now: Int64, window: Int64) {
        self.dedupe = self.dedupe.filter { now - $0.value.since < window }
    }
}

/// Fan-out of alerts to several sinks, each with its own ``AlertFilter``.
///
/// Used from one thread (the in-order stage): `send` gives each sink the alerts its filter lets through;
/// stdout and file sinks write them (buffered), webhook sinks queue them for their delivery thread, so
/// no sink waits for another. At the end, ``finish(timeout:)`` flushes everything and waits (up to the
/// timeout, for all sinks at once) for queued alerts to be delivered.
///
/// ```swift
/// let sinks = SinkSet()
/// sinks.add(StreamSink.standardOutput(format: .text, hostname: host))
/// sinks.add(try WebhookSink(options: webhook, hostname: host, log: log), filter: warningsOnly)
/// for alert in alerts { sinks.send(alert) }
/// for report in sinks.finish(timeout: 30) { print(report.summaryLine) }
/// ```
public final class SinkSet {
    private var entries: [(sink: AlertSink, filter: AlertFilterState)] = []
    private var finished = false

    /// An empty set.
    public init() {}

    /// The sinks, in the order added.
    public var sinks: [AlertSink] { self.entries.map { $0.sink } }

    /// Adds a sink behind `filter`.
    public func add(_ sink: AlertSink, filter: AlertFilter = AlertFilter()) {
        self.entries.append((sink, AlertFilterState(filter)))
    }

    /// Sends `alert` to every sink whose filter lets it through.
    public func send(_ alert: Alert) {
        let id = AlertID.make(for: alert)
        for i in self.entries.indices {
            if let admitted = self.entries[i].filter.admit(alert, id: id) {
                self.entries[i].sink.send(admitted)
            }
        }
    }

    /// Sends several alerts, in order.
    public func send(_ alerts: [Alert]) {
        for alert in alerts { self.send(alert) }
    }

    /// Writes out what stdout and file sinks buffer (live commands call this after each batch).
    public func flush() {
        for e in self.entries { e.sink.flush() }
    }

    /// Flushes every sink, waits up to `timeout` seconds for queued alerts to be delivered, closes the
    /// sinks and returns their reports (in the order added). Undelivered alerts stay in the spool.
    public func finish(timeout: Double) -> [SinkReport] {
        guard !self.finished else { return [] }
        self.finished = true
        let deadline = SinkClock.now() + max(0, timeout)
        for e in self.entries { e.sink.flush() }
        return self.entries.map { e in
            var report = e.sink.close(deadline: deadline)
            report.counters.suppressed = e.filter.suppressed
            report.counters.rateLimited = e.filter.rateLimited
            return report
        }
    }
}

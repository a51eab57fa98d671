import AuditJSON
import AuditInput
import AuditRules

/// Who sent the request behind an alert: the event's user name, source IP (the last of `sourceIPs`, the
/// address the API server saw) and user agent. Decoded only when a rule fires.
public struct AlertContext: Sendable, Equatable {
    public var user: String?
    public var sourceIP: String?
    public var userAgent: String?

    public init(user: String? = nil, sourceIP: String? = nil, userAgent: String? = nil) {
        self.user = user
        self.sourceIP = sourceIP
        self.userAgent = userAgent
    }

    /// Decodes the three values from `event` (allocates: call per alert, never per event).
    public init(event: AuditEvent) {
        func text(_ v: JSONValue?) -> String? { v.flatMap { $0.isString ? $0.decodedString() : nil } }
        self.init(user: text(event.userName), sourceIP: text(event.sourceIP), userAgent: text(event.userAgent))
    }

    /// The values named by an alert's output fields (`ka.user.name`, `ka.sourceip`/`ka.sourceips`,
    /// `ka.useragent`): the fallback for alerts of stateful rules, which have no single event.
    public init(outputFieldsOf alert: Alert) {
        func first(_ names: [String], last: Bool = false) -> String? {
            for name in names {
                if let f = alert.outputFields.first(where: { $0.name == name }), let v = f.values, !v.isEmpty {
                    return last ? v[v.count - 1] : v[0]
                }
            }
            return nil
        }
        self.init(user: first(["ka.user.name"]), sourceIP: first(["ka.sourceip"]) ?? first(["ka.sourceips"], last: true),
                  userAgent: first(["ka.useragent"]))
    }
}

/// An alert kept for sorting or a report, with its arrival position (input order).
public struct RecordedAlert: Sendable {
    public var alert: Alert
    public var context: AlertContext
    /// Position in input order (0, 1, 2, …): the tie-breaker of the time sort.
    public var sequence: Int
}

/// Collects, in the in-order stage of a replay, what `--sort time` and `--report` need: the alerts (memory
/// grows with the number of alerts, not of events), the volume counters, a bounded per-time-bucket event
/// histogram and the first malformed-input problems.
public final class ReplayRecorder {
    /// Problems kept for the report (the rest are only counted).
    public static let maxProblems = 200

    public private(set) var alerts: [RecordedAlert] = []
    public private(set) var histogram = TimeHistogram()
    public private(set) var events = 0
    public private(set) var evaluated = 0
    public private(set) var filtered = 0
    public private(set) var malformed = 0
    public private(set) var bytes = 0
    /// Earliest and latest event time seen (nil before any timed event).
    public private(set) var firstTime: Int64?
    public private(set) var lastTime: Int64?
    /// The first ``maxProblems`` malformed-input problems, in input order.
    public private(set) var problems: [InputProblem] = []

    public init() {}

    /// Adds a batch's counters, histogram and problems (its alerts are added one by one with ``add(_:context:)``,
    /// after deduplication).
    public func add(_ batch: ReplayBatchResult) {
        events += batch.events
        evaluated += batch.evaluated
        filtered += batch.filtered
        malformed += batch.problems.count
        bytes += batch.bytes
        histogram.merge(batch.histogram)
        if batch.firstTime <= batch.lastTime {
            firstTime = min(firstTime ?? .max, batch.firstTime)
            lastTime = max(lastTime ?? .min, batch.lastTime)
        }
        for p in batch.problems where problems.count < Self.maxProblems { problems.append(p) }
    }

    /// Keeps an alert (in arrival order); without a context, the alert's output fields give one.
    public func add(_ alert: Alert, context: AlertContext?) {
        alerts.append(RecordedAlert(alert: alert, context: context ?? AlertContext(outputFieldsOf: alert),
                                    sequence: alerts.count))
    }

    /// The alerts sorted by event time, ties in input order (a stable sort).
    public func alertsInTimeOrder() -> [RecordedAlert] {
        alerts.sorted { $0.alert.time != $1.alert.time ? $0.alert.time < $1.alert.time : $0.sequence < $1.sequence }
    }
}

import AuditJSON
import AuditInput
import AuditRules

/// A record or event that could not be used, with where it was.
public struct InputProblem: Sendable {
    public var path: String
    public var line: Int
    /// 0 for a whole record; the item number inside an EventList or array.
    public var item: Int
    public var byteOffset: Int64
    public var reason: String

    /// `path:line: reason` (with `#item` inside lists).
    public var description: String {
        "\(path):\(line)\(item > 0 ? "#\(item)" : ""): \(reason)"
    }
}

/// What a worker found in one batch.
public struct ReplayBatchResult: Sendable {
    public var events = 0
    public var evaluated = 0
    public var problems: [InputProblem] = []
    public var alerts: [Alert] = []
    /// Matches of stateful rules (`aggregate:`), in input order, for ``StatefulDetectors`` (they give no
    /// alert by themselves).
    public var observations: [Observation] = []
    public var bytes = 0
    /// CloudWatch log messages that were cut short (also in `problems`).
    public var truncatedMessages = 0
    /// Audit levels seen (bit 0 Metadata, 1 Request, 2 RequestResponse, 3 other/None).
    public var levelsSeen: UInt8 = 0
    public var firstTime: Int64 = .max
    public var lastTime: Int64 = .min
    /// Events left out by ``ReplaySettings/filter`` (counted in `events`, not evaluated, not malformed).
    public var filtered = 0
    /// Events that passed the filter, per time bucket (for reports).
    public var histogram = TimeHistogram()
    /// With ``ReplaySettings/collectAlertContext``: who sent the request of each of `alerts` (same order).
    public var alertContexts: [AlertContext] = []
}

/// Replay settings that workers need.
public struct ReplaySettings: Sendable {
    /// Alerts below this priority are not produced.
    public var minimumPriority: Priority = .debug
    /// Evaluate `RequestReceived` events too (by default they are skipped: every request is evaluated at
    /// `ResponseStarted`/`ResponseComplete`, where its response code and objects are known).
    public var allStages = false
    /// JSON nesting limit.
    public var maxDepth = 1024
    /// Record format (must match `PipelineOptions.inputFormat`).
    public var inputFormat: InputFormat = .auto
    /// Events that do not pass are counted as filtered and not evaluated (nor observed by stateful rules).
    public var filter = EventFilter()
    /// Decode the user, source IP and user agent of each alert's event (``ReplayBatchResult/alertContexts``).
    public var collectAlertContext = false
    /// Leave request and response bodies unparsed until the evaluation of an event extracts a field that
    /// reads them (``BoundField/readsBodies``); the event is then parsed again in full. Bodies that no
    /// rule reads are only checked for well-formed strings and balanced brackets
    /// (``JSONTape/deferredKeys``); a body a rule reads that is not valid JSON is reported as a problem
    /// and the event is evaluated without its bodies. Off: every record is parsed strictly, and a record
    /// with any JSON fault is dropped and reported (`--strict-json`).
    public var deferBodies = true

    public init() {}
}

/// Per-thread replay state: a record decoder (JSON tapes, envelope buffers) and a rule evaluator,
/// reused for every record.
public final class ReplayWorker {
    let decoder: RecordDecoder
    let evaluator: RuleEvaluator
    let settings: ReplaySettings

    /// Per rule: what a match does (``belowMinimum``, ``stateful``, or 0: an alert), decided once.
    let ruleKinds: [UInt8]
    static let belowMinimum: UInt8 = 1
    static let stateful: UInt8 = 2

    public init(ruleSet: CompiledRuleSet, settings: ReplaySettings) {
        self.decoder = RecordDecoder(format: settings.inputFormat, maxDepth: settings.maxDepth)
        self.decoder.deferBodies = settings.deferBodies
        self.evaluator = RuleEvaluator(ruleSet: ruleSet, maxDepth: settings.maxDepth)
        self.settings = settings
        self.ruleKinds = ruleSet.rules.map { r in
            r.priority < settings.minimumPriority ? ReplayWorker.belowMinimum : (r.aggregate != nil ? ReplayWorker.stateful : 0)
        }
    }

    private static func inputProblem(_ problem: FormatProblem, item: Int, record: Record, source: SourceInfo) -> InputProblem {
        InputProblem(path: source.displayName, line: record.line, item: item, byteOffset: record.byteOffset + Int64(problem.offset),
                     reason: problem.description)
    }

    /// Tokenizes, splits and evaluates every record of `batch`.
    public func process(_ batch: RecordBatch, source: SourceInfo) -> ReplayBatchResult {
        var result = ReplayBatchResult()
        result.bytes = batch.byteCount
        for d in batch.diagnostics {
            result.problems.append(InputProblem(path: source.displayName, line: d.line, item: 0, byteOffset: d.byteOffset, reason: d.reason))
        }
        let kinds = self.ruleKinds
        let allStages = settings.allStages
        let filter = settings.filter
        let filtering = !filter.isEmpty
        let collectContext = settings.collectAlertContext
        var merger = ObservationMerger()
        var timestamps = TimestampCache()
        for record in batch.records {
            decoder.forEachAuditEvent(inRecord: batch.recordBytes(record), event: { event, item in
                result.events &+= 1
                result.levelsSeen |= levelBit(event.level)
                let eventTime = timestamps.time(of: event)
                let time = eventTime ?? 0
                if time < result.firstTime { result.firstTime = time }
                if time > result.lastTime { result.lastTime = time }
                if filtering && !filter.matches(event, time: eventTime) {
                    result.filtered &+= 1
                    return
                }
                if let t = eventTime { result.histogram.add(t) }
                if !allStages && event.stage == .requestReceived { return }
                result.evaluated &+= 1
                evaluator.evaluate(event, steps: { index, step in
                    let kind = kinds[index]
                    if kind == ReplayWorker.belowMinimum { return }
                    if kind == ReplayWorker.stateful {
                        evaluator.observe(rule: index, step: step, time: time, auditID: event.auditID, source: source.displayName,
                                          line: record.line, item: item, into: &result.observations, merging: &merger)
                        return
                    }
                    let id = event.auditID?.decodedString() ?? ""
                    let input = item > 0 ? "\(source.displayName):\(record.line)#\(item)" : "\(source.displayName):\(record.line)"
                    result.alerts.append(evaluator.render(rule: index, time: time, auditID: id, input: input))
                    if collectContext { result.alertContexts.append(AlertContext(event: event)) }
                })
                if let e = evaluator.bodyError {
                    // A rule read a deferred body that is not valid JSON: the event was evaluated without it.
                    result.problems.append(InputProblem(path: source.displayName, line: record.line, item: item,
                                                        byteOffset: record.byteOffset + Int64(e.offset),
                                                        reason: "invalid JSON in the request or response body: \(e.reason.rawValue) at byte \(e.offset) of the record (the event was evaluated without its bodies)"))
                }
            }, problem: { problem, item in
                if problem.isTruncatedMessage { result.truncatedMessages += 1 }
                result.problems.append(ReplayWorker.inputProblem(problem, item: item, record: record, source: source))
            })
        }
        return result
    }
}

@inline(__always) func levelBit(_ v: JSONValue?) -> UInt8 {
    guard let v else { return 8 }
    if v.stringEquals("Metadata") { return 1 }
    if v.stringEquals("Request") { return 2 }
    if v.stringEquals("RequestResponse") { return 4 }
    return 8
}

/// Suppresses a second alert for the same rule and auditID (the API server logs several stages of one
/// request). Remembers the most recent `capacity` pairs: enough for any realistic distance between the
/// stages of one request.
public struct AlertDeduplicator {
    private var seen: Set<UInt64> = []
    private var order: [UInt64]
    private var next = 0
    private let capacity: Int
    public private(set) var suppressed = 0

    public init(capacity: Int = 1 << 16) {
        self.capacity = capacity
        self.order = []
        self.order.reserveCapacity(capacity)
    }

    /// Returns true when the alert is new (and remembers it).
    public mutating func admit(_ a: Alert) -> Bool {
        guard let h = AlertKeyWindow.key(for: a) else { return true }  // no auditID: nothing to match
        if seen.contains(h) {
            suppressed += 1
            return false
        }
        if order.count < capacity {
            order.append(h)
        } else {
            seen.remove(order[next])
            order[next] = h
            next = (next + 1) % capacity
        }
        seen.insert(h)
        return true
    }
}

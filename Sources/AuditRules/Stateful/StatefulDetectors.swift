import AuditJSON

/// Settings of ``StatefulDetectors``.
public struct StatefulOptions: Sendable {
    /// How far (event time) an observation may lag behind the newest one seen and still be used.
    /// Observations are held back this long and then processed in event-time order; older ones are
    /// counted as late and dropped.
    public var maxLateness: Int64 = 120 * StatefulDuration.nanosPerSecond
    /// Most observations held back at once; beyond it the oldest is processed early (counted).
    public var maxBuffered = 100_000
    /// Most auditIDs (and distinct values) listed in an alert's evidence.
    public var evidenceLimit = 20
    /// Baseline learning (`audithound baseline learn`): first_seen rules learn and never alert, other
    /// stateful rules are ignored, and the saved baselines count as complete (no learning period after
    /// loading).
    public var learnOnly = false

    /// The defaults: 2 minutes of lateness, 100,000 held-back observations, 20 evidence items.
    public init() {}
}

/// Counters of a stateful run, for the summary.
public struct StatefulReport: Sendable {
    /// Per stateful rule.
    public struct Rule: Sendable {
        /// The rule's name.
        public var name: String
        /// Its aggregate type.
        public var kind: AggregateKind
        /// Keys (windows, baseline values, pending sequences) held now.
        public var keys: Int
        /// Keys evicted because the rule's key limit was reached.
        public var evicted: Int
        /// Observations dropped as late.
        public var late: Int
        /// Alerts it made.
        public var alerts: Int
    }
    /// Observations received.
    public var observations = 0
    /// Observations dropped because they were older than the allowed lateness.
    public var late = 0
    /// Observations processed early because the hold-back buffer was full.
    public var forcedReleases = 0
    /// Observations held back now.
    public var buffered = 0
    /// Alerts made.
    public var alerts = 0
    /// Per stateful rule, in rule order.
    public var rules: [Rule] = []
}

/// The stateful stage: turns the ``Observation``s of stateful rules (`aggregate:`) into alerts —
/// bursts (`threshold`), distinct counts (`distinct`), new values (`first_seen`) and sequences
/// (`sequence`) — on event time.
///
/// Feed it from one thread, in input order (the pipeline's in-order stage): its output then depends
/// only on the input, not on the number of workers. Observations are held back for
/// ``StatefulOptions/maxLateness`` of event time and processed in event-time order (ties in arrival
/// order); an observation older than that when it arrives is late: counted and dropped.
///
/// Memory is bounded: each rule keeps at most its key limit (`max_keys`), evicting the least recently
/// used key; windows and sequences are dropped once they expire.
public final class StatefulDetectors {
    /// The rules whose observations this takes.
    public let ruleSet: CompiledRuleSet
    /// The settings.
    public let options: StatefulOptions
    /// Per rule index (nil for rules that are not stateful).
    private var detectors: [Detector?]
    /// Detectors in rule order (deterministic iteration).
    private var ordered: [Detector] = []
    private var heap = ObservationHeap()
    private var sequence: UInt64 = 0
    /// Newest event time seen.
    private var newest: Int64 = .min
    /// Everything at or before this time has been processed; earlier arrivals are late.
    private var clock: Int64 = .min
    /// No detector has anything to do before the clock reaches this time (the least of their
    /// ``Detector/nextDeadline``s, or less).
    private var deadline: Int64 = .min
    /// Off: every clock move asks every detector (tests compare the two).
    var gatesAdvances = true
    private var counters = StatefulReport()

    /// Detectors for every enabled stateful rule of `ruleSet`.
    public init(ruleSet: CompiledRuleSet, options: StatefulOptions = StatefulOptions()) {
        self.ruleSet = ruleSet
        self.options = options
        self.detectors = Array(repeating: nil, count: ruleSet.rules.count)
        for (i, rule) in ruleSet.rules.enumerated() where rule.enabled {
            guard let aggregate = rule.aggregate else { continue }
            let context = DetectorContext(rule: i, name: rule.name, spec: aggregate.spec, options: options,
                                          renderer: AlertRenderer(ruleSet: ruleSet, rule: i))
            let d: Detector
            switch aggregate.spec.kind {
            case .threshold, .distinct: d = WindowDetector(context)
            case .firstSeen: d = FirstSeenDetector(context)
            case .sequence: d = SequenceDetector(context)
            }
            detectors[i] = d
            ordered.append(d)
        }
    }

    /// Whether the rule set has any enabled stateful rule.
    public var isEmpty: Bool { ordered.isEmpty }

    /// Takes a batch's observations (in input order) and returns the alerts they complete.
    public func observe(_ observations: [Observation]) -> [Alert] {
        var out: [Alert] = []
        for o in observations { add(o, &out) }
        return out
    }

    /// Takes one observation and returns the alerts it completes.
    public func observe(_ observation: Observation) -> [Alert] {
        var out: [Alert] = []
        add(observation, &out)
        return out
    }

    /// Tells the detectors that event time has reached `time` even without observations (for example
    /// the wall clock while a followed log is idle): what is older than `time - maxLateness` is
    /// processed and windows that ended by then close.
    public func advance(toEventTime time: Int64) -> [Alert] {
        var out: [Alert] = []
        if time > newest { newest = time }
        release(upTo: watermark, &out)
        counters.alerts += out.count
        return out
    }

    /// End of input: processes every held-back observation and closes every open window (windows with
    /// `max_count` are judged on what they hold).
    public func finish() -> [Alert] {
        var out: [Alert] = []
        while let o = heap.popMin() { process(o, &out) }
        for d in ordered { d.finish(&out) }
        counters.alerts += out.count
        return out
    }

    /// Counters and per-rule key counts.
    public var report: StatefulReport {
        var r = counters
        r.buffered = heap.count
        r.rules = ordered.map { d in
            StatefulReport.Rule(name: d.context.name, kind: d.context.spec.kind, keys: d.keyCount, evicted: d.evicted,
                                late: d.late, alerts: d.alerts)
        }
        return r
    }

    private var watermark: Int64 {
        newest == .min ? .min : (newest < Int64.min + options.maxLateness ? .min : newest - options.maxLateness)
    }

    private func add(_ o: Observation, _ out: inout [Alert]) {
        guard o.rule >= 0, o.rule < detectors.count, let d = detectors[o.rule] else { return }
        if options.learnOnly && d.context.spec.kind != .firstSeen { return }
        counters.observations += 1
        if o.time < clock {
            counters.late += 1
            d.late += 1
            return
        }
        let before = out.count
        heap.push(o, sequence)
        sequence &+= 1
        if o.time > newest { newest = o.time }
        release(upTo: watermark, &out)
        while heap.count > max(1, options.maxBuffered), let first = heap.popMin() {
            counters.forcedReleases += 1
            process(first, &out)
        }
        counters.alerts += out.count - before
    }

    private func release(upTo limit: Int64, _ out: inout [Alert]) {
        while let first = heap.minTime, first <= limit, let o = heap.popMin() {
            process(o, &out)
        }
        if limit > clock {
            clock = limit
            advanceDetectors(&out)
        }
    }

    private func process(_ o: Observation, _ out: inout [Alert]) {
        if o.time > clock {
            clock = o.time
            advanceDetectors(&out)
        }
        if o.rule >= 0, o.rule < detectors.count, let d = detectors[o.rule] {
            d.process(o, &out)
            deadline = min(deadline, d.nextDeadline)
        }
    }

    /// Lets the detectors act on the clock (close windows, forget values), only when one of them has
    /// something due: the clock moves with almost every observation, and most moves change nothing.
    private func advanceDetectors(_ out: inout [Alert]) {
        guard clock >= deadline || !gatesAdvances else { return }
        var next = Int64.max
        for d in ordered {
            d.advance(to: clock, &out)
            next = min(next, d.nextDeadline)
        }
        deadline = next
    }

    // MARK: State

    /// The detectors' state (windows, baselines, pending sequences, held-back observations) as compact
    /// JSON, for ``load(_:)``: tail mode saves it with its checkpoint, `baseline learn` writes it.
    public func save() -> [UInt8] {
        var w = "{\"format\":\"audithound-stateful\",\"version\":1"
        // A learned baseline does not tie later runs to its event time (it may be used on older logs).
        let (savedNewest, savedClock) = options.learnOnly ? (Int64.min, Int64.min) : (newest, clock)
        w += ",\"newest\":\(StateCoding.time(savedNewest)),\"clock\":\(StateCoding.time(savedClock)),\"sequence\":\(sequence),\"rules\":["
        for (k, d) in ordered.enumerated() {
            if k > 0 { w += "," }
            w += "{\"name\":"
            JSONEscaper.quote(d.context.name, into: &w)
            w += ",\"fingerprint\":"
            JSONEscaper.quote(d.context.spec.fingerprint, into: &w)
            w += ",\"state\":"
            d.save(into: &w)
            w += "}"
        }
        w += "],\"pending\":["
        for (k, item) in heap.sorted.enumerated() {
            if k > 0 { w += "," }
            StateCoding.write(item.observation, name: ruleSet.rules[item.observation.rule].name, into: &w)
        }
        w += "]}\n"
        return Array(w.utf8)
    }

    /// Restores state saved by ``save()`` (also from another version of the rules: rules are matched by
    /// name; a rule whose kind, key, distinct fields or `then` changed starts empty). Returns notes
    /// about what was not restored.
    @discardableResult
    public func load(_ bytes: [UInt8]) throws(StatefulStateError) -> [String] {
        var notes: [String] = []
        let result: Result<Void, StatefulStateError> = bytes.withUnsafeBytes { buffer in
            let tape = JSONTape()
            do throws(JSONError) {
                try tape.parse(buffer)
            } catch {
                return .failure(StatefulStateError(message: "not valid JSON at byte \(error.offset): \(error.reason)"))
            }
            let root = tape.root
            guard root.member("format")?.stringEquals("audithound-stateful") == true else {
                return .failure(StatefulStateError(message: "not an AuditHound stateful state file"))
            }
            guard root.member("version")?.int64Value == 1 else {
                return .failure(StatefulStateError(message: "unsupported state version"))
            }
            do throws(StatefulStateError) {
                let byName = Dictionary(ordered.map { ($0.context.name, $0) }, uniquingKeysWith: { a, _ in a })
                for item in try StateCoding.array(root.member("rules"), "rules") {
                    let name = try StateCoding.string(item.member("name"), "rule name")
                    guard let d = byName[name] else {
                        notes.append("stateful rule '\(name)' is not loaded; its saved state is dropped")
                        continue
                    }
                    guard item.member("fingerprint")?.decodedString() == d.context.spec.fingerprint else {
                        notes.append("stateful rule '\(name)' changed its kind, key or fields; it starts without saved state")
                        continue
                    }
                    try d.load(StateCoding.required(item.member("state"), "state"))
                }
                let indexByName = Dictionary(ordered.map { ($0.context.name, $0.context.rule) }, uniquingKeysWith: { a, _ in a })
                var dropped = 0
                var restored: [Observation] = []
                for item in try StateCoding.array(root.member("pending"), "pending") {
                    let (name, o) = try StateCoding.observation(item)
                    guard let index = indexByName[name], let spec = ruleSet.rules[index].aggregate?.spec,
                          o.distinct.count == spec.distinct.count, o.keyValues.count == max(1, spec.key.count) else {
                        dropped += 1
                        continue
                    }
                    var copy = o
                    copy.rule = index
                    restored.append(copy)
                }
                if dropped > 0 { notes.append("\(dropped) held-back observations of changed or removed rules dropped") }
                let savedNewest = try StateCoding.time(root.member("newest"), "newest")
                let savedClock = try StateCoding.time(root.member("clock"), "clock")
                newest = max(newest, savedNewest)
                clock = max(clock, savedClock)
                // Held-back observations keep their order, before anything that arrives after the load.
                let savedSequence = UInt64(max(Int64(restored.count), try StateCoding.int(root.member("sequence"), "sequence")))
                sequence = max(sequence, savedSequence)
                for (i, o) in restored.enumerated() { heap.push(o, savedSequence - UInt64(restored.count - i)) }
                // The loaded state may have anything due: the next clock move asks every detector.
                deadline = .min
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
        return notes
    }

    /// What each first_seen rule has learned (for `audithound baseline show`).
    public var baselineSummary: [(rule: String, values: Int, known: Int, complete: Bool)] {
        ordered.compactMap { d in
            guard let f = d as? FirstSeenDetector else { return nil }
            return (f.context.name, f.keyCount, f.knownCount, f.complete || options.learnOnly)
        }
    }
}

/// A state file that cannot be used.
public struct StatefulStateError: Error, Sendable, CustomStringConvertible {
    /// What is wrong with it.
    public var message: String
    /// The message.
    public var description: String { message }
}

// MARK: - Detectors

/// Makes a rule's alert from an observation (the output template filled with the observed values).
struct AlertRenderer {
    let name: String
    let priority: Priority
    let tags: [String]
    let source: String
    let segments: [OutputSegment]
    /// Output fields: name, whether a list field.
    let fields: [(name: String, isList: Bool)]
    /// Slot -> position in `fields`.
    let position: [Int: Int]

    init(ruleSet: CompiledRuleSet, rule index: Int) {
        let rule = ruleSet.rules[index]
        name = rule.name
        priority = rule.priority
        tags = rule.tags
        source = rule.source
        segments = rule.output
        fields = rule.outputFields.map { (ruleSet.fields[$0].displayName, ruleSet.fields[$0].definition.isList) }
        var position: [Int: Int] = [:]
        for (k, slot) in rule.outputFields.enumerated() { position[slot] = k }
        self.position = position
    }

    func alert(_ o: Observation) -> Alert {
        let values = o.outputValues()
        func field(_ k: Int) -> [String]? { k < values.count ? values[k] : nil }
        var message = ""
        for segment in segments {
            switch segment {
            case .text(let t): message += t
            case .field(let slot):
                guard let k = position[slot], let v = field(k) else {
                    message += "<NA>"
                    continue
                }
                message += fields[k].isList ? "(" + v.joined(separator: ",") + ")" : v[0]
            }
        }
        let outputFields = fields.enumerated().map { k, f in (name: f.name, values: field(k), isList: f.isList) }
        return Alert(rule: name, priority: priority, time: o.time, message: message, outputFields: outputFields, tags: tags,
                     source: source, auditID: o.auditID, input: o.input)
    }
}

struct DetectorContext {
    let rule: Int
    let name: String
    let spec: AggregateSpec
    let options: StatefulOptions
    let renderer: AlertRenderer

    /// `ka.user.name=alice, ka.sourceip=10.0.0.0/16` (or `all events` without key fields).
    func describe(_ key: String) -> String {
        if spec.key.isEmpty { return "all events" }
        return describeParts(key).joined(separator: ", ")
    }

    func describeParts(_ key: String) -> [String] {
        zip(spec.key, keyValues(key)).map { "\($0.description)=\($1)" }
    }

    func keyValues(_ key: String) -> [String] {
        spec.key.count <= 1 ? [key] : key.split(separator: "\u{1F}", omittingEmptySubsequences: false).map(String.init)
    }

    /// The rule's alert for `o`, with the stateful summary appended to its message and the common evidence.
    func alert(_ o: Observation, summary: String, auditIDs: [String]) -> Alert {
        var a = renderer.alert(o)
        a.message += " [\(summary)]"
        a.evidence["aggregate"] = [spec.kind.rawValue]
        if !spec.key.isEmpty { a.evidence["key"] = describeParts(o.key) }
        a.evidence["audit_ids"] = auditIDs
        return a
    }
}

class Detector {
    let context: DetectorContext
    var evicted = 0
    var late = 0
    var alerts = 0

    init(_ context: DetectorContext) { self.context = context }

    var keyCount: Int { 0 }
    /// ``advance(to:_:)`` does nothing for any time before this one.
    var nextDeadline: Int64 { .max }
    func advance(to time: Int64, _ out: inout [Alert]) {}
    func process(_ o: Observation, _ out: inout [Alert]) {}
    func finish(_ out: inout [Alert]) {}
    func save(into w: inout String) { w += "{}" }
    func load(_ v: JSONValue) throws(StatefulStateError) {}

    func emit(_ a: Alert, _ out: inout [Alert]) {
        alerts += 1
        out.append(a)
    }
}

/// The first time at which something last seen at `time` is more than `duration` old (`.max` when that
/// is beyond the range of event times).
@inline(__always) func expiry(_ time: Int64, after duration: Int64) -> Int64 {
    let (end, overflow) = time.addingReportingOverflow(duration)
    return overflow || end == .max ? .max : end + 1
}

/// Appends to a list that keeps only the last `limit` items.
@inline(__always) func appendCapped(_ list: inout [String], _ item: String, limit: Int) {
    guard limit > 0 else { return }
    if list.count >= limit { list.removeFirst(list.count - limit + 1) }
    list.append(item)
}

// MARK: threshold and distinct

/// Windows per key: a key's window opens at its first matching event and lasts `window`; the next
/// matching event after it closed opens a new one. `threshold` fires when the window holds `count`
/// events; `distinct` when every distinct condition holds (with `max_count`: when the window closes,
/// if it also holds at most `max_count` events; the alert is the request that completed the distinct
/// conditions). At most one alert per key and window.
final class WindowDetector: Detector {
    struct Window {
        var id: UInt64
        var start: Int64
        var count: Int
        var fired: Bool
        var auditIDs: [String]
        var values: [Set<String>]
        /// `max_count` rules: the observation with which the distinct conditions first held (the alert,
        /// made from it, comes when the window closes and the count is known).
        var completing: Observation?
    }

    var table: LRUTable<Window>
    /// Window ends in opening order (windows open in event-time order, so ends are ascending).
    var ends: [(end: Int64, key: String, id: UInt64)] = []
    var endsHead = 0
    var nextID: UInt64 = 1
    /// Distinct values kept per window and condition (enough to decide and to show as evidence).
    let valueCap: Int

    override init(_ context: DetectorContext) {
        table = LRUTable(capacity: context.spec.keyLimit)
        valueCap = max(context.options.evidenceLimit, context.spec.distinct.map(\.count).max() ?? 0)
        super.init(context)
    }

    override var keyCount: Int { table.count }

    override var nextDeadline: Int64 { endsHead < ends.count ? ends[endsHead].end : .max }

    override func advance(to time: Int64, _ out: inout [Alert]) {
        guard endsHead < ends.count, ends[endsHead].end <= time else { return }
        while endsHead < ends.count, ends[endsHead].end <= time {
            let e = ends[endsHead]
            endsHead += 1
            close(e.key, id: e.id, &out)
        }
        compactEnds()
    }

    func compactEnds() {
        if endsHead > 1024 && endsHead * 2 > ends.count {
            ends.removeFirst(endsHead)
            endsHead = 0
        }
        // Under a flood of keys evicted before their end, drop the entries of windows that are gone.
        if ends.count - endsHead > 4 * max(table.capacity, 1024) {
            ends = ends[endsHead...].filter { e in table.slot(e.key).map { table.value($0).id == e.id } ?? false }
            endsHead = 0
        }
    }

    func close(_ key: String, id: UInt64, _ out: inout [Alert]) {
        guard let slot = table.slot(key), table.value(slot).id == id else { return }
        let w = table.remove(slot)
        if let maxCount = context.spec.maxCount, !w.fired, w.count <= maxCount, let completing = w.completing {
            emit(alert(completing, w), &out)
        }
    }

    func conditionsHold(_ w: Window) -> Bool {
        if context.spec.kind == .threshold { return w.count >= context.spec.count }
        for (c, cond) in context.spec.distinct.enumerated() where w.values[c].count < cond.count { return false }
        return true
    }

    override func process(_ o: Observation, _ out: inout [Alert]) {
        let spec = context.spec
        let slot: Int32
        if let s = o.withKeyBytes({ table.slot(bytes: $0) }) {
            slot = s
            table.touch(s)
        } else {
            let w = Window(id: nextID, start: o.time, count: 0, fired: false, auditIDs: [],
                           values: Array(repeating: [], count: spec.distinct.count), completing: nil)
            let key = o.key
            let inserted = table.insert(key, w)
            if inserted.evicted != nil { evicted += 1 }
            slot = inserted.slot
            ends.append((o.time &+ spec.window, key, nextID))
            nextID += 1
            // A flood of keys evicted before their windows end grows `ends` between closings.
            if ends.count - endsHead > 4 * max(table.capacity, 1024) { compactEnds() }
        }
        let limit = context.options.evidenceLimit
        let cap = valueCap
        // Computed properties that make Strings from the batch's texts: read once.
        let distinct = o.distinct
        let fire: Window? = table.modify(slot) { w in
            w.count += o.occurrences
            let known = w.values.indices.allSatisfy { c in c < distinct.count && w.values[c].contains(distinct[c]) }
            // Evidence: the requests that counted (for distinct rules, those that brought a new value).
            if spec.kind == .threshold || !known || w.auditIDs.isEmpty { appendCapped(&w.auditIDs, o.auditID, limit: limit) }
            for c in 0..<min(w.values.count, distinct.count) where w.values[c].count < cap {
                w.values[c].insert(distinct[c])
            }
            if w.fired || w.completing != nil || !conditionsHold(w) { return nil }
            if spec.maxCount != nil {
                // Judged when the window closes.
                w.completing = o
                return nil
            }
            w.fired = true
            return w
        }
        if let w = fire { emit(alert(o, w), &out) }
    }

    override func finish(_ out: inout [Alert]) {
        while endsHead < ends.count {
            let e = ends[endsHead]
            endsHead += 1
            close(e.key, id: e.id, &out)
        }
        ends = []
        endsHead = 0
    }

    func alert(_ o: Observation, _ w: Window) -> Alert {
        let spec = context.spec
        let window = StatefulDuration.format(spec.window)
        let summary: String
        if spec.kind == .threshold {
            summary = "\(w.count) events within \(window) for \(context.describe(o.key))"
        } else {
            let parts = zip(spec.distinct, w.values).map { cond, values in
                "\(values.count)\(values.count >= valueCap ? "+" : "") distinct \(cond.name)"
            }
            summary = parts.joined(separator: ", ") + " in \(w.count) events within \(window) for \(context.describe(o.key))"
        }
        var a = context.alert(o, summary: summary, auditIDs: w.auditIDs)
        a.evidence["count"] = [String(w.count)]
        a.evidence["window"] = [window]
        a.evidence["window_start"] = [TimeFormat.rfc3339(w.start)]
        for (cond, values) in zip(spec.distinct, w.values) {
            a.evidence["distinct." + cond.name] = Array(values.sorted().prefix(context.options.evidenceLimit))
        }
        return a
    }

    override func save(into w: inout String) {
        w += "{\"next_id\":\(nextID),\"windows\":["
        var first = true
        // In window-end order (the order they close in), and restored in that order.
        for e in ends[endsHead...] {
            guard let slot = table.slot(e.key), table.value(slot).id == e.id else { continue }
            let win = table.value(slot)
            if !first { w += "," }
            first = false
            w += "{\"key\":"
            StateCoding.write(context.keyValues(e.key), into: &w)
            w += ",\"id\":\(win.id),\"start\":\(win.start),\"count\":\(win.count),\"fired\":\(win.fired),\"audit_ids\":"
            StateCoding.write(win.auditIDs, into: &w)
            w += ",\"values\":["
            for (k, set) in win.values.enumerated() {
                if k > 0 { w += "," }
                StateCoding.write(set.sorted(), into: &w)
            }
            w += "]"
            if let completing = win.completing {
                w += ",\"completing\":"
                StateCoding.write(completing, name: context.name, into: &w)
            }
            w += "}"
        }
        w += "]}"
    }

    override func load(_ v: JSONValue) throws(StatefulStateError) {
        table = LRUTable(capacity: context.spec.keyLimit)
        ends = []
        endsHead = 0
        nextID = UInt64(max(1, try StateCoding.int(v.member("next_id"), "next_id")))
        for item in try StateCoding.array(v.member("windows"), "windows") {
            let key = try StateCoding.strings(item.member("key"), "key")
            guard key.count == max(1, context.spec.key.count) else { continue }
            var values: [Set<String>] = []
            for list in try StateCoding.array(item.member("values"), "values") { values.append(Set(try StateCoding.strings(list, "values"))) }
            guard values.count == context.spec.distinct.count else { continue }
            var completing: Observation? = nil
            if let c = item.member("completing"), !c.isNull {
                completing = try StateCoding.observation(c).1
                completing?.rule = context.rule
            }
            let win = Window(id: UInt64(max(0, try StateCoding.int(item.member("id"), "id"))),
                             start: try StateCoding.int(item.member("start"), "start"),
                             count: Int(try StateCoding.int(item.member("count"), "count")),
                             fired: item.member("fired")?.boolValue ?? false,
                             auditIDs: try StateCoding.strings(item.member("audit_ids"), "audit_ids"),
                             values: values, completing: completing)
            let joined = key.joined(separator: "\u{1F}")
            if let old = table.slot(joined) { table.remove(old) }
            if table.insert(joined, win).evicted != nil { evicted += 1 }
            ends.append((win.start &+ context.spec.window, joined, win.id))
            nextID = max(nextID, win.id + 1)
        }
    }
}

// MARK: first_seen

/// A baseline of key values: learned silently during the learning period (event time from the rule's
/// first observation), then a value that is not known alerts once and becomes known. A value is known
/// once seen `min_observations` times while learning (or once it has alerted); a value not seen for
/// `forget_after` is forgotten.
final class FirstSeenDetector: Detector {
    struct Entry {
        var first: Int64
        var last: Int64
        var count: Int
        var known: Bool
    }

    var table: LRUTable<Entry>
    var learningStart: Int64? = nil
    /// A learned baseline was loaded (or this run learns one): no learning period.
    var complete = false

    override init(_ context: DetectorContext) {
        table = LRUTable(capacity: context.spec.keyLimit)
        super.init(context)
    }

    override var keyCount: Int { table.count }

    var knownCount: Int {
        var n = 0
        for s in table.slotsOldestFirst where table.value(s).known { n += 1 }
        return n
    }

    override var nextDeadline: Int64 {
        guard let ttl = context.spec.forgetAfter, table.oldest >= 0 else { return .max }
        return expiry(table.value(table.oldest).last, after: ttl)
    }

    override func advance(to time: Int64, _ out: inout [Alert]) {
        guard let ttl = context.spec.forgetAfter else { return }
        // Least recently used = least recently seen (observations come in event-time order).
        while table.oldest >= 0, table.value(table.oldest).last < time &- ttl { table.remove(table.oldest) }
    }

    override func process(_ o: Observation, _ out: inout [Alert]) {
        if learningStart == nil { learningStart = o.time }
        let spec = context.spec
        let learning = context.options.learnOnly || (!complete && o.time < learningStart! &+ spec.learning)
        if let slot = o.withKeyBytes({ table.slot(bytes: $0) }) {
            table.touch(slot)
            let (isNew, before) = table.modify(slot) { e -> (Bool, Entry) in
                let before = e
                e.last = max(e.last, o.lastTime)
                e.count += o.occurrences
                if learning {
                    if e.count >= spec.minObservations { e.known = true }
                    return (false, before)
                }
                if e.known { return (false, before) }
                e.known = true
                return (true, before)
            }
            if isNew { emit(alert(o, seenBefore: before), &out) }
        } else {
            let entry = Entry(first: o.time, last: o.lastTime, count: o.occurrences, known: !learning || o.occurrences >= spec.minObservations)
            if table.insert(o.key, entry).evicted != nil { evicted += 1 }
            if !learning { emit(alert(o, seenBefore: nil), &out) }
        }
    }

    func alert(_ o: Observation, seenBefore: Entry?) -> Alert {
        var a = context.alert(o, summary: "first seen: \(context.describe(o.key))", auditIDs: [o.auditID])
        a.evidence["new_value"] = context.describeParts(o.key)
        a.evidence["baseline_values"] = [String(table.count)]
        if let e = seenBefore {
            a.evidence["seen_before"] = ["\(e.count) times while learning, first \(TimeFormat.rfc3339(e.first)), last \(TimeFormat.rfc3339(e.last))"]
        }
        return a
    }

    override func save(into w: inout String) {
        w += "{\"learning_start\":" + (learningStart.map { String($0) } ?? "null")
        w += ",\"complete\":\(complete || context.options.learnOnly),\"values\":["
        // Least recently seen first: loading in this order restores the use order.
        for (k, slot) in table.slotsOldestFirst.enumerated() {
            if k > 0 { w += "," }
            let e = table.value(slot)
            w += "["
            StateCoding.write(context.keyValues(table.key(slot)), into: &w)
            w += ",\(e.first),\(e.last),\(e.count),\(e.known)]"
        }
        w += "]}"
    }

    override func load(_ v: JSONValue) throws(StatefulStateError) {
        table = LRUTable(capacity: context.spec.keyLimit)
        if let s = v.member("learning_start"), !s.isNull { learningStart = try StateCoding.int(s, "learning_start") } else { learningStart = nil }
        complete = v.member("complete")?.boolValue ?? false
        for item in try StateCoding.array(v.member("values"), "values") {
            let fields = try StateCoding.array(item, "baseline value")
            guard fields.count == 5 else { throw StatefulStateError(message: "a baseline value must be [key, first, last, count, known]") }
            let key = try StateCoding.strings(fields[0], "key")
            guard key.count == context.spec.key.count else { continue }
            let entry = Entry(first: try StateCoding.int(fields[1], "first"), last: try StateCoding.int(fields[2], "last"),
                              count: Int(try StateCoding.int(fields[3], "count")), known: fields[4].boolValue ?? false)
            let joined = key.joined(separator: "\u{1F}")
            if let old = table.slot(joined) { table.remove(old) }
            if table.insert(joined, entry).evicted != nil { evicted += 1 }
        }
    }
}

// MARK: sequence

/// The rule's condition (first step), then its `then` condition for the same key within `within`.
/// One alert per completed sequence; the first steps it used are then forgotten.
final class SequenceDetector: Detector {
    struct Pending {
        /// First steps still open, oldest first: (time, auditID).
        var steps: [(time: Int64, auditID: String)]
    }

    var table: LRUTable<Pending>

    override init(_ context: DetectorContext) {
        table = LRUTable(capacity: context.spec.keyLimit)
        super.init(context)
    }

    override var keyCount: Int { table.count }

    override var nextDeadline: Int64 {
        guard table.oldest >= 0, let last = table.value(table.oldest).steps.last else { return .max }
        return expiry(last.time, after: context.spec.within)
    }

    override func advance(to time: Int64, _ out: inout [Alert]) {
        // Keys are used (touched) only by first steps, which come in event-time order: the least recently
        // used key has the oldest latest first step.
        let within = context.spec.within
        while table.oldest >= 0, let last = table.value(table.oldest).steps.last, last.time < time &- within {
            table.remove(table.oldest)
        }
    }

    override func process(_ o: Observation, _ out: inout [Alert]) {
        let limit = max(1, context.options.evidenceLimit)
        if o.step == 0 {
            if let slot = o.withKeyBytes({ table.slot(bytes: $0) }) {
                table.touch(slot)
                table.modify(slot) { p in
                    if p.steps.count >= limit { p.steps.removeFirst(p.steps.count - limit + 1) }
                    p.steps.append((o.time, o.auditID))
                }
            } else if table.insert(o.key, Pending(steps: [(o.time, o.auditID)])).evicted != nil {
                evicted += 1
            }
            return
        }
        guard let slot = o.withKeyBytes({ table.slot(bytes: $0) }) else { return }
        let earliest = o.time &- context.spec.within
        // A request matching both steps does not complete its own sequence.
        let id = o.auditID
        let steps = table.value(slot).steps.filter { $0.time >= earliest && $0.time <= o.time && $0.auditID != id }
        guard let first = steps.first else { return }
        table.remove(slot)
        let elapsed = StatefulDuration.format(o.time - first.time)
        let within = StatefulDuration.format(context.spec.within)
        let ids = Array((steps.map(\.auditID) + [id]).suffix(limit))
        var a = context.alert(o, summary: "sequence: second step \(elapsed) after the first (within \(within)) for \(context.describe(o.key))",
                              auditIDs: ids)
        a.evidence["first_step_audit_ids"] = steps.map(\.auditID)
        a.evidence["first_step_time"] = [TimeFormat.rfc3339(first.time)]
        a.evidence["elapsed"] = [elapsed]
        a.evidence["within"] = [within]
        emit(a, &out)
    }

    override func save(into w: inout String) {
        w += "{\"keys\":["
        for (k, slot) in table.slotsOldestFirst.enumerated() {
            if k > 0 { w += "," }
            w += "{\"key\":"
            StateCoding.write(context.keyValues(table.key(slot)), into: &w)
            w += ",\"steps\":["
            for (i, s) in table.value(slot).steps.enumerated() {
                if i > 0 { w += "," }
                w += "[\(s.time),"
                JSONEscaper.quote(s.auditID, into: &w)
                w += "]"
            }
            w += "]}"
        }
        w += "]}"
    }

    override func load(_ v: JSONValue) throws(StatefulStateError) {
        table = LRUTable(capacity: context.spec.keyLimit)
        for item in try StateCoding.array(v.member("keys"), "keys") {
            let key = try StateCoding.strings(item.member("key"), "key")
            guard key.count == max(1, context.spec.key.count) else { continue }
            var steps: [(time: Int64, auditID: String)] = []
            for s in try StateCoding.array(item.member("steps"), "steps") {
                let parts = try StateCoding.array(s, "step")
                guard parts.count == 2 else { throw StatefulStateError(message: "a sequence step must be [time, auditID]") }
                steps.append((try StateCoding.int(parts[0], "time"), try StateCoding.string(parts[1], "auditID")))
            }
            guard !steps.isEmpty else { continue }
            let joined = key.joined(separator: "\u{1F}")
            if let old = table.slot(joined) { table.remove(old) }
            if table.insert(joined, Pending(steps: steps)).evicted != nil { evicted += 1 }
        }
    }
}

// MARK: - The hold-back buffer

/// Observations held back until event time passes them, taken out by (event time, arrival sequence).
/// Small (time, sequence, slot) entries are ordered; the observations stay put in `storage`.
struct ObservationHeap {
    struct Entry {
        var time: Int64
        var sequence: UInt64
        var slot: Int32
    }
    /// Observations that arrived in order (each no earlier than the one before): a queue, O(1) per
    /// observation. Audit logs are nearly in time order, so almost all observations take this path.
    private var run: [Entry] = []
    private var runHead = 0
    /// The others: a binary min-heap (O(log n) whatever the input's order).
    private var heap: [Entry] = []
    private var storage: [Observation?] = []
    private var free: [Int32] = []

    var count: Int { run.count - runHead + heap.count }
    /// The time of the first observation.
    var minTime: Int64? { minEntry?.time }

    private var minEntry: Entry? {
        let r: Entry? = runHead < run.count ? run[runHead] : nil
        guard let h = heap.first else { return r }
        guard let r else { return h }
        return Self.less(h, r) ? h : r
    }

    /// The observations in processing order, with their sequence numbers.
    var sorted: [(observation: Observation, sequence: UInt64)] {
        (run[runHead...] + heap).sorted { Self.less($0, $1) }.map { (storage[Int($0.slot)]!, $0.sequence) }
    }

    @inline(__always) static func less(_ a: Entry, _ b: Entry) -> Bool {
        a.time != b.time ? a.time < b.time : a.sequence < b.sequence
    }

    mutating func push(_ o: Observation, _ sequence: UInt64) {
        let slot: Int32
        if let f = free.popLast() {
            slot = f
            storage[Int(f)] = o
        } else {
            slot = Int32(storage.count)
            storage.append(o)
        }
        let e = Entry(time: o.time, sequence: sequence, slot: slot)
        if runHead == run.count || !Self.less(e, run[run.count - 1]) {
            run.append(e)
            return
        }
        heap.append(e)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard Self.less(heap[i], heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    mutating func popMin() -> Observation? {
        let top: Entry
        if let h = heap.first, runHead == run.count || Self.less(h, run[runHead]) {
            top = popHeap()
        } else if runHead < run.count {
            top = run[runHead]
            runHead += 1
            if runHead == run.count {
                run.removeAll(keepingCapacity: run.capacity <= 1 << 16)
                runHead = 0
            } else if runHead >= 4096 && runHead * 2 >= run.count {
                run.removeFirst(runHead)
                runHead = 0
            }
        } else {
            return nil
        }
        let o = storage[Int(top.slot)].take()!
        free.append(top.slot)
        if count == 0 && storage.count > 4096 {
            storage = []
            free = []
        }
        return o
    }

    private mutating func popHeap() -> Entry {
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < heap.count && Self.less(heap[l], heap[m]) { m = l }
            if r < heap.count && Self.less(heap[r], heap[m]) { m = r }
            if m == i { break }
            heap.swapAt(i, m)
            i = m
        }
        return top
    }
}

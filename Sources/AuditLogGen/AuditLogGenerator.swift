// The public generator: a deterministic stream of audit `Event` lines.

/// Generates realistic Kubernetes API-server audit logs (`audit.k8s.io/v1` `Event` objects, one
/// compact JSON object per line, as the log backend writes them), deterministically: the same
/// parameters always produce the same bytes.
///
/// The simulated cluster has 24 nodes, six application namespaces and the usual control-plane
/// traffic (leases, kubelet status updates, controller lists and watches, scheduler bindings),
/// people using kubectl and CI deploying. About two thirds of the events are `Metadata` level; the
/// rest carry `requestObject` (and `responseObject` for workload writes), some of several KB.
/// Timestamps never go backwards: each line's `stageTimestamp` is at or after the previous one.
///
/// ```swift
/// var gen = AuditLogGenerator(seed: 42, attackRate: 0.01)
/// var lines: [UInt8] = []
/// for _ in 0..<1000 { gen.appendEvent(to: &lines) }
/// gen.finish(to: &lines)
/// ```
///
/// With `attackRate > 0`, each new background request is followed, with that probability, by
/// the next `AttackScenario` in declaration order (cycling), interleaved with later traffic.
/// Attack events have auditIDs starting with `AttackScenario.auditIDPrefix`.
public struct AuditLogGenerator {
    /// 2026-11-23T10:00:00Z.
    public static let defaultStart: Int64 = 1_795_428_000

    private let model: ClusterModel
    private let renderer: BackgroundRenderer
    private let scratch = ByteStorage(capacity: 1 << 16)
    private var rng: SplitMix64
    private let attackRate: Double
    private let meanGap: Int
    private let templateTable: [Template]
    /// Current time, microseconds since the epoch: the `stageTimestamp` of the last line.
    private var now: Int64
    private var nextArrival: Int64?
    private var pending = PendingHeap()
    private var sequence: UInt64 = 0
    private var nextScenario = 0
    private var occurrences = [Int](repeating: 0, count: AttackScenario.allCases.count + 1)

    /// Lines produced so far.
    public private(set) var eventCount = 0
    /// Attack scenario occurrences scheduled so far (their events may still be pending).
    public private(set) var attacksScheduled = 0

    /// Creates a generator.
    /// - Parameters:
    ///   - seed: determines the simulated cluster and every event.
    ///   - start: time of the first event, in seconds since the Unix epoch.
    ///   - attackRate: probability, per background request, of starting an attack scenario
    ///     (0 = benign traffic only).
    ///   - eventsPerSecond: average request rate (sets how fast timestamps advance); clamped to
    ///     0.01...10,000. Watches stay open 5–10 simulated minutes, so the number of pending
    ///     requests (and memory) grows with this rate: about 50 per unit of rate.
    public init(seed: UInt64, start: Int64 = AuditLogGenerator.defaultStart, attackRate: Double = 0,
                eventsPerSecond: Double = 100) {
        self.model = ClusterModel(seed: seed)
        self.renderer = BackgroundRenderer(m: self.model, start: start * 1_000_000)
        self.rng = SplitMix64(seed: seed)
        self.attackRate = max(0, attackRate)
        self.meanGap = Int(1_000_000 / min(max(eventsPerSecond, 0.01), 10_000))
        self.now = start * 1_000_000
        var table: [Template] = []
        for t in Template.allCases { table += repeatElement(t, count: t.weight) }
        self.templateTable = table
    }

    /// Requests whose later stages (ResponseComplete of watches, exec sessions, people's
    /// requests) are not written yet.
    public var pendingCount: Int { self.pending.count }

    /// Appends the next event line (with its `\n`) to `buffer`.
    public mutating func appendEvent(to buffer: inout [UInt8]) {
        var w = ByteWriter(self.scratch)
        self.emit(&w)
        buffer.append(contentsOf: UnsafeBufferPointer(start: w.base, count: w.count))
    }

    /// Schedules one occurrence of `scenario` to start just after the current time.
    public mutating func inject(_ scenario: AttackScenario) {
        let occurrence = self.occurrences[scenario.rawValue]
        self.occurrences[scenario.rawValue] += 1
        self.attacksScheduled += 1
        var attackRNG = SplitMix64(seed: self.rng.next())
        let lines = scenario.build(model: self.model, occurrence: occurrence, at: self.now + 1_000 + Int64(attackRNG.below(50_000)),
                                   start: self.renderer.start, rng: &attackRNG)
        for l in lines { self.push(Pending(due: l.due, seq: 0, spec: nil, stage: .responseComplete, bytes: l.line)) }
    }

    /// Writes every pending stage (completing open watches and sessions), in time order.
    public mutating func finish(to buffer: inout [UInt8]) {
        var w = ByteWriter(self.scratch)
        while !self.pending.isEmpty {
            self.emitPending(&w)
        }
        buffer.append(contentsOf: UnsafeBufferPointer(start: w.base, count: w.count))
    }

    /// Generates at least `approximateBytes` of log (stopping at the first line that reaches
    /// it), then completes every pending request, handing the bytes over in chunks of about
    /// `chunkSize` bytes, each ending at a line boundary. The pointer is valid only during the
    /// call. Returns the number of bytes produced.
    @discardableResult
    public mutating func generate(approximateBytes: Int, chunkSize: Int = 1 << 22,
                                  _ chunk: (UnsafeRawBufferPointer) -> Void) -> Int {
        var w = ByteWriter(self.scratch)
        var total = 0
        let limit = max(chunkSize, 1)
        while total + w.count < approximateBytes {
            self.emit(&w)
            if w.count >= limit {
                chunk(w.bytes)
                total += w.count
                w.count = 0
            }
        }
        while !self.pending.isEmpty {
            self.emitPending(&w)
            if w.count >= limit {
                chunk(w.bytes)
                total += w.count
                w.count = 0
            }
        }
        if w.count > 0 {
            chunk(w.bytes)
            total += w.count
        }
        return total
    }

    // MARK: Scheduling

    private mutating func emit(_ w: inout ByteWriter) {
        let arrival: Int64
        if let a = self.nextArrival {
            arrival = a
        } else {
            arrival = self.now + Int64(self.rng.below(2 * self.meanGap + 1))
            self.nextArrival = arrival
        }
        if let top = self.pending.peekDue, top <= arrival {
            self.emitPending(&w)
            return
        }
        self.now = arrival
        self.nextArrival = nil
        self.newRequest(&w)
        self.eventCount += 1
        if self.attackRate > 0 && self.rng.chance(self.attackRate) {
            let all = AttackScenario.allCases
            let scenario = all[self.nextScenario % all.count]
            self.nextScenario += 1
            self.inject(scenario)
        }
    }

    private mutating func emitPending(_ w: inout ByteWriter) {
        let item = self.pending.pop()
        if item.due > self.now { self.now = item.due }
        if let bytes = item.bytes {
            w.put(bytes)
        } else if let spec = item.spec {
            self.renderer.render(spec, item.stage, item.due, &w)
        }
        self.eventCount += 1
    }

    private mutating func push(_ p: Pending) {
        var p = p
        p.seq = self.sequence
        self.sequence += 1
        self.pending.push(p)
    }

    private mutating func newRequest(_ w: inout ByteWriter) {
        let template = self.templateTable[self.rng.below(self.templateTable.count)]
        var id = UUID128.random(&self.rng)
        if id.hi >> 32 == 0xa77a_c4e0 { id.hi ^= 1 << 40 }
        var spec = Spec(template: template, id: id, received: self.now, seed: self.rng.next(), param: 0)
        switch template {
        case .human, .ci:
            // RequestReceived now, ResponseComplete after the request's latency.
            let latency = template == .human ? self.rng.range(4_000, 150_000) : self.rng.range(15_000, 400_000)
            self.renderer.render(spec, .requestReceived, self.now, &w)
            self.push(Pending(due: self.now + Int64(latency), seq: 0, spec: spec, stage: .responseComplete, bytes: nil))
        case .controllerWatch, .kubeletWatch, .kubeProxyWatch:
            // ResponseStarted now; the watch times out minutes later.
            spec.param = self.rng.range(300, 599)
            spec.received = self.now - Int64(self.rng.range(300, 3_000))
            self.renderer.render(spec, .responseStarted, self.now, &w)
            let end = spec.received + Int64(spec.param) * 1_000_000 + Int64(self.rng.range(100, 20_000))
            self.push(Pending(due: end, seq: 0, spec: spec, stage: .responseComplete, bytes: nil))
        default:
            self.renderer.render(spec, .responseComplete, self.now, &w)
        }
    }
}

/// A stage to be written later: either a background request to render or a rendered attack line.
struct Pending {
    var due: Int64
    var seq: UInt64
    var spec: Spec?
    var stage: Stage
    var bytes: [UInt8]?

    @inline(__always)
    func before(_ o: Pending) -> Bool { self.due < o.due || (self.due == o.due && self.seq < o.seq) }
}

/// A binary min-heap on (due, seq): deterministic order for equal times.
struct PendingHeap {
    private var items: [Pending] = []

    var count: Int { self.items.count }
    var isEmpty: Bool { self.items.isEmpty }
    var peekDue: Int64? { self.items.first?.due }

    mutating func push(_ p: Pending) {
        self.items.append(p)
        var i = self.items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !self.items[i].before(self.items[parent]) { break }
            self.items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Pending {
        let top = self.items[0]
        let last = self.items.removeLast()
        if !self.items.isEmpty {
            self.items[0] = last
            var i = 0
            let n = self.items.count
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var m = i
                if l < n && self.items[l].before(self.items[m]) { m = l }
                if r < n && self.items[r].before(self.items[m]) { m = r }
                if m == i { break }
                self.items.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}

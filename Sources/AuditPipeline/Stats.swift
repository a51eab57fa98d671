import AuditJSON
import AuditInput

/// Counts occurrences of byte strings without allocating for keys already seen.
public struct ByteCounter: Sendable {
    private var index: [UInt64: Int] = [:]
    public private(set) var keys: [[UInt8]] = []
    public private(set) var counts: [Int] = []
    private var scratch: [UInt8] = []

    public init() {}

    @inline(__always) static func hash(_ b: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for c in b { h = (h ^ UInt64(c)) &* 0x100_0000_01b3 }
        return h
    }

    /// Counts a JSON value: a string's decoded text, other values as JSON text, a missing value as `(none)`.
    public mutating func add(_ v: JSONValue?) {
        guard let v else {
            add(bytes: UnsafeRawBufferPointer(start: noneText.utf8Start, count: noneText.utf8CodeUnitCount))
            return
        }
        if v.hasEscapes {
            scratch.removeAll(keepingCapacity: true)
            v.appendDecoded(to: &scratch)
            let s = scratch
            s.withUnsafeBytes { add(bytes: $0) }
        } else {
            add(bytes: v.rawBytes)
        }
    }

    public mutating func add(bytes: UnsafeRawBufferPointer, count n: Int = 1) {
        var h = ByteCounter.hash(bytes)
        while let i = index[h] {
            if keys[i].withUnsafeBytes({ $0.elementsEqual(bytes) }) {
                counts[i] += n
                return
            }
            h = h &+ 0x9E37_79B9_7F4A_7C15
        }
        index[h] = keys.count
        keys.append(Array(bytes))
        counts.append(n)
    }

    /// Adds another counter's counts.
    public mutating func merge(_ other: ByteCounter) {
        for (k, c) in zip(other.keys, other.counts) { k.withUnsafeBytes { add(bytes: $0, count: c) } }
    }

    /// The entries, most frequent first (ties by key).
    public func sorted() -> [(key: String, count: Int)] {
        zip(keys, counts).map { (String(decoding: $0.0, as: UTF8.self), $0.1) }
            .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
    }

    public var distinct: Int { keys.count }
}

private let noneText: StaticString = "(none)"

/// What `audithound stats` counts.
public struct AuditStats: Sendable {
    public var events = 0
    public var bytes = 0
    public var problems: [InputProblem] = []
    public var malformed = 0
    /// CloudWatch log messages that were cut short (also counted in `malformed`).
    public var truncatedMessages = 0
    public var firstTime: Int64 = .max
    public var lastTime: Int64 = .min
    public var byVerb = ByteCounter()
    public var byResource = ByteCounter()
    public var byUser = ByteCounter()
    public var byCode = ByteCounter()
    public var byDecision = ByteCounter()
    public var byStage = ByteCounter()
    public var byLevel = ByteCounter()
    public var bySourceIP = ByteCounter()

    public init() {}

    /// Adds a batch's counts (problems are kept up to `keepProblems`).
    public mutating func merge(_ o: AuditStats, keepProblems: Int = 1000) {
        events += o.events
        bytes += o.bytes
        malformed += o.malformed
        truncatedMessages += o.truncatedMessages
        if problems.count < keepProblems { problems += o.problems.prefix(keepProblems - problems.count) }
        firstTime = min(firstTime, o.firstTime)
        lastTime = max(lastTime, o.lastTime)
        byVerb.merge(o.byVerb)
        byResource.merge(o.byResource)
        byUser.merge(o.byUser)
        byCode.merge(o.byCode)
        byDecision.merge(o.byDecision)
        byStage.merge(o.byStage)
        byLevel.merge(o.byLevel)
        bySourceIP.merge(o.bySourceIP)
    }
}

/// Per-thread state for `stats`.
public final class StatsWorker {
    let decoder: RecordDecoder

    /// - Parameter inputFormat: record format (must match `PipelineOptions.inputFormat`).
    public init(maxDepth: Int = 1024, inputFormat: InputFormat = .auto) {
        decoder = RecordDecoder(format: inputFormat, maxDepth: maxDepth)
    }

    public func process(_ batch: RecordBatch, source: SourceInfo) -> AuditStats {
        var s = AuditStats()
        s.bytes = batch.byteCount
        for d in batch.diagnostics {
            s.malformed += 1
            s.problems.append(InputProblem(path: source.displayName, line: d.line, item: 0, byteOffset: d.byteOffset, reason: d.reason))
        }
        for record in batch.records {
            decoder.forEachAuditEvent(inRecord: batch.recordBytes(record), event: { e, _ in
                s.events += 1
                if let t = e.time {
                    if t < s.firstTime { s.firstTime = t }
                    if t > s.lastTime { s.lastTime = t }
                }
                s.byVerb.add(e.verb)
                s.byResource.add(e.resource)
                s.byUser.add(e.userName)
                s.byCode.add(e.responseCodeValue)
                s.byDecision.add(e.authorizationDecision)
                s.byStage.add(e.stageValue)
                s.byLevel.add(e.level)
                s.bySourceIP.add(e.sourceIP)
            }, problem: { p, item in
                s.malformed += 1
                if p.isTruncatedMessage { s.truncatedMessages += 1 }
                s.problems.append(InputProblem(path: source.displayName, line: record.line, item: item,
                                               byteOffset: record.byteOffset + Int64(p.offset), reason: p.description))
            })
        }
        return s
    }
}

/// Event counts per time bucket, bounded: buckets start one minute wide and double in width (merging
/// neighbours) whenever there would be more than ``maxBuckets``. Bucket starts are multiples of the width
/// since the Unix epoch, so histograms of different batches merge exactly.
///
/// ``add(_:)`` allocates nothing for consecutive events in one bucket (the common case: a batch covers a
/// few seconds); the dictionary grows only when a new bucket appears.
public struct TimeHistogram: Sendable {
    /// The most buckets kept.
    public static let maxBuckets = 2000
    /// The initial bucket width: one minute, in nanoseconds.
    public static let minuteNanos: Int64 = 60_000_000_000

    /// The bucket width in nanoseconds (one minute times a power of two).
    public private(set) var width: Int64 = TimeHistogram.minuteNanos
    private var counts: [Int64: Int] = [:]
    private var pendingStart: Int64 = 0
    private var pendingCount = 0

    public init() {}

    /// Counts one event at `time` (nanoseconds since the Unix epoch).
    @inline(__always) public mutating func add(_ time: Int64) {
        let start = Self.floor(time, width)
        if pendingCount > 0 && start == pendingStart {
            pendingCount += 1
            return
        }
        flush()
        pendingStart = start
        pendingCount = 1
    }

    private mutating func flush() {
        guard pendingCount > 0 else { return }
        counts[pendingStart, default: 0] += pendingCount
        pendingCount = 0
        while counts.count > Self.maxBuckets { coarsen(to: width * 2) }
    }

    private mutating func coarsen(to newWidth: Int64) {
        guard newWidth > width else { return }
        var merged: [Int64: Int] = [:]
        for (start, n) in counts { merged[Self.floor(start, newWidth), default: 0] += n }
        counts = merged
        width = newWidth
        if pendingCount > 0 { pendingStart = Self.floor(pendingStart, newWidth) }
    }

    /// Adds every count of `other`, at the wider of the two widths.
    public mutating func merge(_ other: TimeHistogram) {
        flush()
        var other = other
        other.flush()
        if other.width > width { coarsen(to: other.width) }
        if width > other.width { other.coarsen(to: width) }
        for (start, n) in other.counts { counts[start, default: 0] += n }
        while counts.count > Self.maxBuckets { coarsen(to: width * 2) }
    }

    /// The buckets with at least one event, in time order.
    public var buckets: [(start: Int64, count: Int)] {
        var copy = self
        copy.flush()
        return copy.counts.sorted { $0.key < $1.key }.map { (start: $0.key, count: $0.value) }
    }

    /// Events counted.
    public var total: Int { counts.values.reduce(pendingCount, +) }

    @inline(__always) static func floor(_ t: Int64, _ w: Int64) -> Int64 {
        let q = t / w
        return (t % w < 0 ? q - 1 : q) &* w
    }
}

/// What a webhook sink does when its queue or spool is full.
public enum QueueFullPolicy: String, Sendable {
    /// Drop the oldest waiting alerts (not the batch being delivered) to make room; counted as
    /// `dropped` and reported loudly. The log keeps being read at full speed: the default.
    case dropOldest = "drop-oldest"
    /// Make `send` wait until the receiver takes alerts (the reading of the log stops; a stop signal
    /// ends the wait, the alert is then dropped and counted).
    case block
}

/// One queued alert (its JSON line) and its place in the queue.
struct QueuedRecord {
    var text: String
    /// Spool segment number (0 in memory).
    var segment: Int
    /// Memory: sequence number. Spool: offset just past the record's line in its segment.
    var end: Int
}

/// The queue of a webhook sink, used under the sink's lock: either ``MemoryDeliveryQueue`` or
/// ``DiskSpool``. The delivery thread `peek`s a batch, delivers it, then `ack`s it: only acknowledged
/// records leave the queue (at-least-once).
protocol DeliveryQueue: AnyObject {
    /// Records waiting (including the batch being delivered).
    var pendingRecords: Int { get }
    /// Whether a record of `bytes` bytes fits without dropping anything.
    func hasRoom(for bytes: Int) -> Bool
    /// Appends a record; with `dropOldest`, first drops old records to make room. Returns how many
    /// records were dropped (the new one included when it can never fit).
    func append(_ line: String, dropOldest: Bool) throws(SinkError) -> Int
    /// Up to `max` records from the head, which become "in flight" (never dropped).
    func peek(max: Int) -> [QueuedRecord]
    /// Removes the in-flight records up to and including `last`.
    func ack(_ last: QueuedRecord, count: Int)
    /// The in-flight records were not delivered (they stay queued).
    func release()
    /// Makes acknowledgements and appended records durable when due (`force`: now).
    func checkpoint(force: Bool)
    /// Checkpoints and releases files and locks.
    func close()
}

/// A bounded in-memory queue (no `--spool`): lost if the process dies.
final class MemoryDeliveryQueue: DeliveryQueue {
    private var records: [QueuedRecord] = []
    private var head = 0
    private var nextSequence = 1
    private var inFlight = 0
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var pendingRecords: Int { self.records.count - self.head }

    func hasRoom(for bytes: Int) -> Bool { self.pendingRecords < self.capacity }

    func append(_ line: String, dropOldest: Bool) throws(SinkError) -> Int {
        var dropped = 0
        if dropOldest {
            while self.pendingRecords >= self.capacity {
                // The oldest record that is not being delivered.
                let victim = self.head + self.inFlight
                if victim >= self.records.count {
                    return 1  // everything queued is in flight and the queue is full: drop the new record
                }
                self.records.remove(at: victim)
                dropped += 1
            }
        }
        self.records.append(QueuedRecord(text: line, segment: 0, end: self.nextSequence))
        self.nextSequence += 1
        return dropped
    }

    func peek(max: Int) -> [QueuedRecord] {
        let end = min(self.records.count, self.head + max)
        self.inFlight = end - self.head
        return Array(self.records[self.head..<end])
    }

    func ack(_ last: QueuedRecord, count: Int) {
        while self.head < self.records.count && self.records[self.head].end <= last.end { self.head += 1 }
        self.inFlight = 0
        if self.head > 1024 && self.head * 2 > self.records.count {
            self.records.removeFirst(self.head)
            self.head = 0
        }
    }

    func release() { self.inFlight = 0 }

    func checkpoint(force: Bool) {}

    func close() {}
}

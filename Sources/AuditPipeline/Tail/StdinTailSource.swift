import AuditInput
#if canImport(Glibc)
import Glibc
#endif

/// Where the tail runner gets batches: followed files, or standard input.
protocol TailBatchSource: AnyObject {
    /// The next batch, or `nil` after `timeoutMilliseconds` or when `wakeDescriptor` is readable.
    func nextBatch(reusing: RecordBatch?, timeoutMilliseconds: Int, wakeDescriptor: CInt) -> TailBatch?
    /// The stream ended (standard input closed) and every batch was handed out.
    var isFinished: Bool { get }
    /// Positions to checkpoint (none for standard input).
    var positions: [TailPosition] { get }
    /// Bytes waiting to be read.
    var lagBytes: Int64 { get }
    /// Inputs open.
    var fileCount: Int { get }
}

extension TailFollower: TailBatchSource {
    var isFinished: Bool { false }
}

/// Standard input as a live stream: a reader thread frames it with `LineFramer` (which hands out
/// what it has as soon as the pipe goes quiet) and queues the batches; `nextBatch` waits on a pipe
/// that the reader writes to, so nothing polls. Ends when standard input is closed.
final class StdinTailSource: TailBatchSource, @unchecked Sendable {
    private let monitor = Monitor()
    private let framer: LineFramer
    private let batchSize: Int
    // Guarded by `monitor`.
    private var ready: [RecordBatch] = []
    private var free: [RecordBatch] = []
    private var created = 0
    private var done = false
    private var failure: InputError?
    /// Read end / write end of the "a batch is ready" pipe.
    private var notify: [CInt] = [-1, -1]
    private var thread: WorkerThread?
    private var finished = false
    /// The error that ended standard input, if any (returned once).
    func takeFailure() -> InputError? {
        self.monitor.withLock {
            defer { self.failure = nil }
            return self.failure
        }
    }

    static let maxBatches = 4

    init(batchSize: Int, maxRecordSize: Int) {
        self.batchSize = batchSize
        self.framer = LineFramer(source: FileSource.standardInput(), sourceIndex: 0, batchSize: batchSize, maxRecordSize: maxRecordSize)
        _ = pipe(&self.notify)
        for fd in self.notify where fd >= 0 { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    }

    deinit {
        for fd in self.notify where fd >= 0 { close(fd) }
    }

    /// Starts the reader thread (not joined: it may stay blocked on a silent pipe until exit).
    func start() {
        let thread = WorkerThread { [self] in self.readLoop() }
        self.thread = thread
        thread.start()
        thread.detach()
    }

    private func readLoop() {
        while true {
            var spare: RecordBatch?
            self.monitor.lock()
            while spare == nil {
                if let batch = self.free.popLast() {
                    spare = batch
                } else if self.created < StdinTailSource.maxBatches {
                    self.created += 1
                    spare = RecordBatch(capacity: self.batchSize + self.batchSize / 4)
                } else {
                    self.monitor.wait()
                }
            }
            self.monitor.unlock()
            let batch: RecordBatch?
            var failure: InputError?
            do {
                batch = try self.framer.nextBatch(reusing: spare)
            } catch {
                batch = nil
                failure = error
            }
            self.monitor.withLock {
                if let batch {
                    self.ready.append(batch)
                } else {
                    self.free.append(spare!)
                    self.done = true
                    self.failure = failure
                }
            }
            var byte: UInt8 = 1
            _ = write(self.notify[1], &byte, 1)
            if batch == nil { return }
        }
    }

    func nextBatch(reusing: RecordBatch?, timeoutMilliseconds: Int, wakeDescriptor: CInt) -> TailBatch? {
        if self.thread == nil { self.start() }
        if let reusing {
            self.monitor.withLock {
                self.free.append(reusing)
                self.monitor.broadcast()
            }
        }
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let end = Int64(deadline.tv_sec) * 1000 + Int64(deadline.tv_nsec) / 1_000_000 + Int64(timeoutMilliseconds)
        while true {
            let (batch, ended) = self.monitor.withLock { () -> (RecordBatch?, Bool) in
                if !self.ready.isEmpty { return (self.ready.removeFirst(), false) }
                return (nil, self.done)
            }
            if let batch {
                return TailBatch(batch: batch, path: "<stdin>", fileID: 0)
            }
            if ended {
                self.finished = true
                return nil
            }
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let remaining = end - (Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000)
            if remaining <= 0 { return nil }
            var descriptors = [pollfd(fd: self.notify[0], events: Int16(POLLIN), revents: 0)]
            if wakeDescriptor >= 0 { descriptors.append(pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0)) }
            let n = poll(&descriptors, nfds_t(descriptors.count), CInt(clamping: remaining))
            if n < 0 { return nil }
            var scratch = [UInt8](repeating: 0, count: 64)
            while read(self.notify[0], &scratch, scratch.count) > 0 {}
            if descriptors.count > 1 && descriptors[1].revents != 0 { return nil }
        }
    }

    var isFinished: Bool { self.finished }
    var positions: [TailPosition] { [] }
    var lagBytes: Int64 { 0 }
    var fileCount: Int { 1 }
}

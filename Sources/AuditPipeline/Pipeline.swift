import AuditInput
#if canImport(Glibc)
import Glibc
#endif

/// How the pipeline runs.
public struct PipelineOptions: Sendable {
    /// Worker threads that tokenize and evaluate batches (default: the number of online CPUs).
    public var workers: Int = PipelineOptions.defaultWorkers
    /// Target batch size in bytes. 2 MiB: each batch crosses three threads (reader, worker, in-order
    /// stage), and on one core 1 MiB batches spent about 5% more CPU in those hand-offs (measured with
    /// `taskset -c 0 audithound replay --workers 1 --batch-size 1MiB|2MiB` on a 1 GB log: 1.27-1.29 s
    /// vs 1.19-1.23 s); peak RSS grows from 36 to 40 MiB.
    public var batchSize: Int = PipelineOptions.defaultBatchSize
    public static let defaultBatchSize = 2 << 20
    /// Longest record accepted (larger ones are reported and skipped without being loaded).
    public var maxRecordSize: Int = 64 << 20
    /// Compression of the inputs.
    public var compression: InputCompression = .auto
    /// Record format of the inputs (CloudWatch, AKS envelopes); `.auto` recognises them per record and
    /// picks the framing per input (see `makeRecordFramer`). Workers must decode with the same format.
    public var inputFormat: InputFormat = .auto
    /// Batches alive at once (reading ahead, in workers, waiting for the in-order stage). Bounds memory:
    /// roughly `batchesInFlight × batchSize` plus one oversized record.
    public var batchesInFlight: Int? = nil
    /// Read, process and consume on the calling thread, one batch after the other (see `runInline`). nil
    /// (the default): when there is one worker, the process may use a single CPU, and every input is a
    /// regular file.
    public var inline: Bool? = nil
    /// Workers read their own batches and run the in-order stage themselves (see `runSharedReading`).
    /// nil (the default): with several workers when every input is a regular file that is not gzip.
    public var workersRead: Bool? = nil

    public init() {}

    public static var defaultWorkers: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
}

/// One input of a run.
public struct SourceInfo: Sendable {
    public var index: Int
    /// The path as given (`-` for stdin).
    public var path: String
    /// The name used in messages and alert positions (`<stdin>` for `-`).
    public var displayName: String
}

/// What the reader saw.
public struct PipelineReport: Sendable {
    public var bytesRead: Int64 = 0
    public var inputErrors: [InputError] = []
    public var stopped = false
    public var sources: [SourceInfo] = []
    /// Batches allocated during the run (bounded by `batchesInFlight`: the memory bound).
    public var batchesCreated = 0
}

/// The concurrent pipeline: reader threads cut the inputs into batches at record boundaries, `workers`
/// threads process batches in parallel, and the calling thread receives the results **in input order**
/// (the in-order stage, where sinks, summaries and stateful detectors run). For plain regular files and
/// several workers, the workers read the batches and run the in-order stage themselves, one at a time
/// (`runSharedReading`); with one worker on one CPU, one thread does everything (`runInline`).
///
/// Order: inputs in the order given (directories already expanded in byte-wise path order), and inside
/// an input, record order. The output depends only on the inputs, never on the number of workers.
///
/// Several inputs are read (and decompressed) in parallel: with `workers` ≥ 2 and several inputs, up to
/// `min(workers, inputs)` reader threads each claim the next unread input. Readers of inputs after the
/// one the in-order stage is consuming may only run ahead by their own small pool of batches, and
/// workers always take the earliest input's batches first, so the earliest input never starves.
///
/// Why POSIX threads and not Swift concurrency: the work is CPU-bound, batch-sized and must never
/// suspend inside a worker; plain threads with one mutex and condition variable per pipeline keep the
/// hot loop free of async machinery and make the blocking, bounded queues explicit.
///
/// Memory is bounded: each reader owns a fixed pool of batches that circulates between it, the workers
/// and the in-order stage; when none is free, the reader waits (backpressure). In all at most
/// `batchesInFlight` (default `2 × workers + 2`) batches exist.
public final class Pipeline<Result>: @unchecked Sendable {
    private let inputs: [String]
    private let options: PipelineOptions
    private let monitor = Monitor()

    private struct WorkItem {
        var source: Int
        var sequence: Int
        var batch: RecordBatch
        var reader: Int
    }

    private struct Key: Hashable {
        var source: Int
        var sequence: Int
    }

    // Guarded by `monitor`.
    private var freeBatches: [[RecordBatch]] = []
    private var created: [Int] = []
    private var work: [WorkItem] = []
    private var nextSource = 0
    private var readersRunning = 0
    /// Batches produced per source, once its reader has finished it.
    private var finishedCount: [Int: Int] = [:]
    private var results: [Key: (Result, WorkItem)] = [:]
    private var report = PipelineReport()
    private var inputErrors: [(Int, InputError)] = []
    private var stopping = false

    public init(inputs: [String], options: PipelineOptions) {
        self.inputs = inputs
        self.options = options
    }

    /// Runs the pipeline to the end of the inputs (or until a stop is requested).
    /// - Parameters:
    ///   - makeWorker: called once per worker thread; returns the function that processes one batch
    ///     (it may keep per-thread state such as a JSON tape and a rule evaluator).
    ///   - consume: called on the calling thread with each batch's result, in input order.
    public func run(makeWorker: @escaping @Sendable () -> (RecordBatch, SourceInfo) -> Result,
                    consume: (Result, RecordBatch, SourceInfo) -> Void) -> PipelineReport {
        let workerCount = max(1, options.workers)
        let poolSize = max(2, options.batchesInFlight ?? (workerCount * 2 + 2))
        var sources: [SourceInfo] = []
        for (i, p) in inputs.enumerated() {
            sources.append(SourceInfo(index: i, path: p, displayName: p == "-" ? "<stdin>" : p))
        }
        report.sources = sources
        if options.inline ?? (workerCount == 1 && Pipeline.usableCPUs() == 1 && inputs.allSatisfy(Pipeline.isRegularFile)) {
            return runInline(makeWorker: makeWorker, consume: consume, sources: sources)
        }
        if options.workersRead ?? (workerCount > 1 && inputs.allSatisfy { Pipeline.isPlainRegularFile($0, options.compression) }) {
            return withoutActuallyEscaping(consume) { consume in
                runSharedReading(workerCount: workerCount, poolSize: poolSize, makeWorker: makeWorker,
                                 consume: ConsumeBox(consume), sources: sources)
            }
        }
        let sourcesCopy = sources
        let readerCount = max(1, min(workerCount, sources.count))
        let perReader = max(2, poolSize / readerCount)
        freeBatches = Array(repeating: [], count: readerCount)
        created = Array(repeating: 0, count: readerCount)
        readersRunning = readerCount

        var readers: [WorkerThread] = []
        for r in 0..<readerCount {
            let t = WorkerThread { [self] in self.readLoop(reader: r, pool: perReader, sources: sourcesCopy) }
            t.start()
            readers.append(t)
        }
        var workers: [WorkerThread] = []
        for _ in 0..<workerCount {
            let t = WorkerThread { [self] in
                let process = makeWorker()
                self.workLoop(process, sources: sourcesCopy)
            }
            t.start()
            workers.append(t)
        }

        // The in-order stage. On a stop request it finishes every batch already handed to the workers
        // and returns, even when a reader is still blocked reading a pipe.
        var current = Key(source: 0, sequence: 0)
        var stoppedEarly = false
        while current.source < sources.count {
            monitor.lock()
            var entry: (Result, WorkItem)? = nil
            while true {
                if let e = results.removeValue(forKey: current) {
                    entry = e
                    break
                }
                if let n = finishedCount[current.source], current.sequence >= n { break }
                if StopSignal.requested && !hasPendingWork(upTo: current) {
                    stoppedEarly = true
                    break
                }
                monitor.wait(.results, milliseconds: 100)
            }
            if stoppedEarly {
                stopping = true
                report.stopped = true
                monitor.broadcastAll()
                monitor.unlock()
                break
            }
            guard let (result, item) = entry else {
                // This source is done: move to the next one.
                monitor.unlock()
                current = Key(source: current.source + 1, sequence: 0)
                continue
            }
            monitor.unlock()
            consume(result, item.batch, sources[item.source])
            monitor.withLock {
                freeBatches[item.reader].append(item.batch)
                monitor.broadcast(.free)
            }
            current.sequence += 1
        }
        if !stoppedEarly {
            monitor.withLock {
                stopping = true
                monitor.broadcastAll()
            }
            for r in readers { r.join() }
            for w in workers { w.join() }
        } else {
            // Stopped by a signal: a reader may stay blocked on a silent pipe; don't wait for it.
            for t in readers + workers { t.detach() }
        }
        return monitor.withLock {
            report.batchesCreated = created.reduce(0, +)
            report.inputErrors = inputErrors.sorted { $0.0 < $1.0 }.map { $0.1 }
            return report
        }
    }

    /// One thread does everything, batch after batch: read, process, consume. On a single CPU the threads
    /// of the concurrent pipeline can only take turns, and each batch paid for the hand-offs between them
    /// (measured with `taskset -c 0 audithound replay --workers 1`, median CPU time of 9 runs: 282 ms
    /// threaded, 262 ms inline on the 208 MB corpus; 1.17 s and 1.11 s on the 1 GB one). Same batches,
    /// same order, same output. Only for regular files: a read there never waits, so a stop request is
    /// seen after the current batch.
    private func runInline(makeWorker: @Sendable () -> (RecordBatch, SourceInfo) -> Result,
                           consume: (Result, RecordBatch, SourceInfo) -> Void, sources: [SourceInfo]) -> PipelineReport {
        let process = makeWorker()
        var spare: RecordBatch? = nil
        var created = 0
        sourceLoop: for source in sources {
            if StopSignal.requested {
                report.stopped = true
                break
            }
            let input: ByteSource
            do {
                input = try openInput(path: source.path, compression: options.compression)
            } catch {
                report.inputErrors.append(error)
                continue
            }
            let framer = makeRecordFramer(source: input, format: options.inputFormat, sourceIndex: source.index,
                                          batchSize: options.batchSize, maxRecordSize: options.maxRecordSize)
            defer { report.bytesRead += framer.bytesRead }
            while true {
                if StopSignal.requested {
                    report.stopped = true
                    break sourceLoop
                }
                let reuse: RecordBatch
                if let b = spare {
                    reuse = b
                } else {
                    reuse = RecordBatch(capacity: options.batchSize + options.batchSize / 4)
                    created += 1
                }
                spare = reuse
                let batch: RecordBatch?
                do {
                    batch = try framer.nextBatch(reusing: reuse)
                } catch {
                    report.inputErrors.append(error)
                    break
                }
                guard let batch else { break }
                consume(process(batch, source), batch, source)
            }
        }
        report.batchesCreated = created
        return report
    }

    /// The CPUs this process may run on (its affinity mask; 1 under `taskset -c 0`).
    /// Read from the `Cpus_allowed` mask of `/proc/self/status` (Glibc's `sched_getaffinity` needs
    /// `_GNU_SOURCE`, which Swift's Glibc module does not define); the online CPUs when unreadable.
    static func usableCPUs() -> Int {
        guard let f = fopen("/proc/self/status", "r") else { return PipelineOptions.defaultWorkers }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 4096)
        while fgets(&line, Int32(line.count), f) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard text.hasPrefix("Cpus_allowed:") else { continue }
            var count = 0
            for c in text.dropFirst("Cpus_allowed:".count) {
                if let digit = c.hexDigitValue { count += digit.nonzeroBitCount }
            }
            return count > 0 ? count : PipelineOptions.defaultWorkers
        }
        return PipelineOptions.defaultWorkers
    }

    /// A regular file that is read as it is: not gzip (by `compression`, or by its first two bytes). A
    /// path that cannot be looked at counts too: opening it fails, and that is reported in order.
    static func isPlainRegularFile(_ path: String, _ compression: InputCompression) -> Bool {
        var info = stat()
        if path == "-" { return false }
        if stat(path, &info) != 0 { return true }
        guard (info.st_mode & S_IFMT) == S_IFREG else { return false }
        switch compression {
        case .none: return true
        case .gzip: return false
        case .auto:
            let fd = open(path, O_RDONLY)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            var magic: (UInt8, UInt8) = (0, 0)
            let n = withUnsafeMutableBytes(of: &magic) { read(fd, $0.baseAddress, 2) }
            return !(n == 2 && magic.0 == 0x1f && magic.1 == 0x8b)
        }
    }

    static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return path != "-" && stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    /// Whether a batch of `key`'s source (or an earlier one) is still queued or being processed. Lock held.
    private func hasPendingWork(upTo key: Key) -> Bool {
        if results[key] != nil { return true }
        return work.contains { $0.source == key.source } || inFlight.contains(key.source)
    }

    private var inFlight: [Int] = []

    private func takeFreeBatch(reader: Int, pool: Int) -> RecordBatch? {
        monitor.lock()
        defer { monitor.unlock() }
        while true {
            if let b = freeBatches[reader].popLast() { return b }
            if created[reader] < pool {
                created[reader] += 1
                return RecordBatch(capacity: options.batchSize + options.batchSize / 4)
            }
            if StopSignal.requested || stopping { return nil }
            monitor.wait(.free, milliseconds: 200)
        }
    }

    private func readLoop(reader: Int, pool: Int, sources: [SourceInfo]) {
        defer {
            monitor.withLock {
                readersRunning -= 1
                monitor.broadcast(.work)
                monitor.broadcast(.results)
            }
        }
        while true {
            let claimed: Int? = monitor.withLock {
                guard nextSource < sources.count, !StopSignal.requested, !stopping else { return nil }
                nextSource += 1
                return nextSource - 1
            }
            guard let index = claimed else { return }
            let source = sources[index]
            var sequence = 0
            defer {
                let produced = sequence
                monitor.withLock {
                    finishedCount[index] = produced
                    monitor.broadcast(.results)
                }
            }
            let input: ByteSource
            do {
                input = try openInput(path: source.path, compression: options.compression)
            } catch {
                monitor.withLock { inputErrors.append((index, error)) }
                continue
            }
            let framer = makeRecordFramer(source: input, format: options.inputFormat, sourceIndex: source.index,
                                          batchSize: options.batchSize, maxRecordSize: options.maxRecordSize)
            while true {
                if StopSignal.requested {
                    monitor.withLock { report.stopped = true }
                    break
                }
                guard let reuse = takeFreeBatch(reader: reader, pool: pool) else {
                    monitor.withLock { report.stopped = report.stopped || StopSignal.requested }
                    break
                }
                let batch: RecordBatch?
                do {
                    batch = try framer.nextBatch(reusing: reuse)
                } catch {
                    monitor.withLock {
                        inputErrors.append((index, error))
                        freeBatches[reader].append(reuse)
                    }
                    break
                }
                guard let batch else {
                    monitor.withLock { freeBatches[reader].append(reuse) }
                    break
                }
                let item = WorkItem(source: index, sequence: sequence, batch: batch, reader: reader)
                monitor.withLock {
                    // Keep the queue ordered by (source, sequence): workers take the earliest input first.
                    var at = work.count
                    while at > 0 && (work[at - 1].source > index) { at -= 1 }
                    work.insert(item, at: at)
                    monitor.broadcast(.work)
                }
                sequence += 1
            }
            monitor.withLock { report.bytesRead += framer.bytesRead }
        }
    }

    private func workLoop(_ process: (RecordBatch, SourceInfo) -> Result, sources: [SourceInfo]) {
        while true {
            monitor.lock()
            while work.isEmpty && readersRunning > 0 && !stopping { monitor.wait(.work) }
            if work.isEmpty {
                monitor.unlock()
                return
            }
            let item = work.removeFirst()
            inFlight.append(item.source)
            monitor.unlock()
            let result = process(item.batch, sources[item.source])
            monitor.withLock {
                if let k = inFlight.firstIndex(of: item.source) { inFlight.remove(at: k) }
                results[Key(source: item.source, sequence: item.sequence)] = (result, item)
                monitor.broadcast(.results)
            }
        }
    }

    // MARK: Workers that read

    /// The in-order stage's function, handed to worker threads (only one of them calls it at a time,
    /// under `consuming`, and `run` returns only after they have all ended).
    private final class ConsumeBox: @unchecked Sendable {
        let call: (Result, RecordBatch, SourceInfo) -> Void
        init(_ call: @escaping (Result, RecordBatch, SourceInfo) -> Void) { self.call = call }
    }

    // Guarded by `monitor` (shared reading).
    private var pool: [RecordBatch] = []
    private var poolCreated = 0
    private var consuming = false
    private var consumer: ConsumeBox? = nil
    private var next = Key(source: 0, sequence: 0)
    /// Guarded by `readLock`: the input being framed, and its next batch number.
    private var reading: (index: Int, framer: RecordFramer?, sequence: Int) = (0, nil, 0)
    private let readLock = Monitor()

    /// Regular files that are not compressed, with several workers: no reader thread and no in-order
    /// thread. A worker takes a free batch, reads and frames it under the read lock (a `read(2)` of a
    /// regular file never waits), processes it, and hands the result in; whichever worker hands in the
    /// result the in-order stage waits for runs that stage, for it and for the consecutive results that
    /// are already there. The calling thread only waits for the workers to end.
    ///
    /// Why: with a reader thread and an in-order thread next to the workers, every batch woke both of
    /// them, each time preempting a worker (on 2 cores, `perf stat` counted ~590 context switches for
    /// the 208 MB corpus, against 6 for one thread doing everything). Same batches, same order, same
    /// output; memory bounded by the same `batchesInFlight` pool.
    private func runSharedReading(workerCount: Int, poolSize: Int,
                                  makeWorker: @escaping @Sendable () -> (RecordBatch, SourceInfo) -> Result,
                                  consume: ConsumeBox, sources: [SourceInfo]) -> PipelineReport {
        let count = sources.count
        consumer = consume
        var workers: [WorkerThread] = []
        for _ in 0..<workerCount {
            let t = WorkerThread { [self] in
                let process = makeWorker()
                while let item = self.readNext(poolSize: poolSize, sources: sources) {
                    let result = process(item.batch, sources[item.source])
                    monitor.withLock {
                        results[Key(source: item.source, sequence: item.sequence)] = (result, item)
                        drainInOrder(sources: sources)
                    }
                }
            }
            t.start()
            workers.append(t)
        }
        for w in workers { w.join() }
        consumer = nil
        return monitor.withLock {
            if let framer = reading.framer { report.bytesRead += framer.bytesRead }
            if StopSignal.requested && (next.source < count) { report.stopped = true }
            report.batchesCreated = poolCreated
            report.inputErrors = inputErrors.sorted { $0.0 < $1.0 }.map { $0.1 }
            return report
        }
    }

    /// The next batch to process, read by the calling worker; nil at the end of the inputs or on a stop
    /// request.
    private func readNext(poolSize: Int, sources: [SourceInfo]) -> WorkItem? {
        // A free batch first (backpressure: the pool is bounded).
        let reuse: RecordBatch? = monitor.withLock {
            while true {
                if StopSignal.requested || stopping { return nil }
                if let b = pool.popLast() { return b }
                if poolCreated < poolSize {
                    poolCreated += 1
                    return RecordBatch(capacity: options.batchSize + options.batchSize / 4)
                }
                monitor.wait(.free, milliseconds: 200)
            }
        }
        guard let reuse else {
            monitor.withLock { report.stopped = report.stopped || StopSignal.requested }
            return nil
        }
        readLock.lock()
        defer { readLock.unlock() }
        while reading.index < sources.count {
            let index = reading.index
            if reading.framer == nil {
                do {
                    let input = try openInput(path: sources[index].path, compression: options.compression)
                    reading.framer = makeRecordFramer(source: input, format: options.inputFormat, sourceIndex: index,
                                                      batchSize: options.batchSize, maxRecordSize: options.maxRecordSize)
                    reading.sequence = 0
                } catch {
                    monitor.withLock { inputErrors.append((index, error)) }
                    finishSource(index, batches: 0, bytes: 0, sources: sources)
                    continue
                }
            }
            let framer = reading.framer!
            var batch: RecordBatch? = nil
            var failure: InputError? = nil
            do {
                batch = try framer.nextBatch(reusing: reuse)
            } catch {
                failure = error
            }
            if let batch {
                let item = WorkItem(source: index, sequence: reading.sequence, batch: batch, reader: 0)
                reading.sequence += 1
                return item
            }
            if let failure { monitor.withLock { inputErrors.append((index, failure)) } }
            finishSource(index, batches: reading.sequence, bytes: framer.bytesRead, sources: sources)
            if StopSignal.requested { break }
        }
        monitor.withLock {
            pool.append(reuse)
            monitor.broadcast(.free)
        }
        return nil
    }

    /// Input `index` has no more batches (read lock held): moves the reading on and lets the in-order
    /// stage pass it.
    private func finishSource(_ index: Int, batches: Int, bytes: Int64, sources: [SourceInfo]) {
        reading = (index + 1, nil, 0)
        monitor.withLock {
            finishedCount[index] = batches
            report.bytesRead += bytes
            // The in-order stage may be waiting at the end of this input with later results ready.
            drainInOrder(sources: sources)
        }
    }

    /// Runs the in-order stage on the results that are ready, in order, unless another thread already
    /// does (it then takes these too). Lock held; released while `consume` runs.
    private func drainInOrder(sources: [SourceInfo]) {
        guard !consuming, let consume = consumer else { return }
        consuming = true
        while next.source < sources.count {
            if let n = finishedCount[next.source], next.sequence >= n {
                next = Key(source: next.source + 1, sequence: 0)
                continue
            }
            guard let (result, item) = results.removeValue(forKey: next) else { break }
            monitor.unlock()
            consume.call(result, item.batch, sources[item.source])
            monitor.lock()
            pool.append(item.batch)
            monitor.broadcast(.free)
            next.sequence += 1
        }
        consuming = false
    }
}

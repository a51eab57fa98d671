import AuditInput
#if canImport(Glibc)
import Glibc
#endif

/// How the pipeline runs.
public struct PipelineOptions: Sendable {
    /// Worker threads that tokenize and evaluate batches (default: the number of online CPUs).
    public var workers: Int = PipelineOptions.defaultWorkers
    /// Target batch size in bytes.
    public var batchSize: Int = 1 << 20
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

/// The concurrent pipeline: one reader thread cuts the inputs into batches at record boundaries, `workers`
/// threads process batches in parallel, and the calling thread receives the results **in input order**
/// (the in-order stage, where sinks, summaries and stateful detectors run).
///
/// Why POSIX threads and not Swift concurrency: the work is CPU-bound, batch-sized and must never
/// suspend inside a worker; plain threads with one mutex and condition variable per pipeline keep the
/// hot loop free of async machinery and make the blocking, bounded queues explicit.
///
/// Memory is bounded: a fixed pool of `batchesInFlight` batches circulates between the reader, the
/// workers and the in-order stage; when none is free, the reader waits (backpressure). Output order
/// depends only on the input, never on the number of workers.
public final class Pipeline<Result>: @unchecked Sendable {
    private let inputs: [String]
    private let options: PipelineOptions
    private let monitor = Monitor()

    // Guarded by `monitor`.
    private var freeBatches: [RecordBatch] = []
    private var created = 0
    private var work: [(sequence: Int, batch: RecordBatch, source: Int)] = []
    private var workHead = 0
    private var readerDone = false
    private var produced = 0
    private var results: [Int: (Result, RecordBatch, Int)] = [:]
    private var report = PipelineReport()
    private var stopping = false
    private var batchesConsumed = 0

    public init(inputs: [String], options: PipelineOptions) {
        self.inputs = inputs
        self.options = options
    }

    /// Runs the pipeline to the end of the inputs (or until a stop is requested).
    /// - Parameters:
    ///   - makeWorker: called once per worker thread; returns the function that processes one batch
    ///     (it may keep per-thread state such as a JSON tape and a rule evaluator).
    ///   - consume: called on the calling thread with each batch's result, in input order.
    ///   - inputError: called on the calling thread, in order, when an input fails (unreadable path,
    ///     corrupt gzip); records before the failure point have been delivered.
    public func run(makeWorker: @escaping @Sendable () -> (RecordBatch, SourceInfo) -> Result,
                    consume: (Result, RecordBatch, SourceInfo) -> Void) -> PipelineReport {
        let workerCount = max(1, options.workers)
        let poolSize = max(2, options.batchesInFlight ?? (workerCount * 2 + 2))
        var sources: [SourceInfo] = []
        for (i, p) in inputs.enumerated() {
            sources.append(SourceInfo(index: i, path: p, displayName: p == "-" ? "<stdin>" : p))
        }
        report.sources = sources
        let sourcesCopy = sources

        let reader = WorkerThread { [self] in self.readAll(poolSize: poolSize, sources: sourcesCopy) }
        reader.start()
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
        // and returns, even when the reader is still blocked reading a pipe.
        var next = 0
        var stoppedEarly = false
        while true {
            monitor.lock()
            while results[next] == nil && !(readerDone && next >= produced) {
                if StopSignal.requested && next >= produced {
                    stoppedEarly = true
                    break
                }
                monitor.wait(milliseconds: 100)
            }
            if stoppedEarly {
                stopping = true
                report.stopped = true
                monitor.broadcast()
                monitor.unlock()
                break
            }
            guard let (result, batch, source) = results.removeValue(forKey: next) else {
                monitor.unlock()
                break
            }
            monitor.unlock()
            consume(result, batch, sources[source])
            monitor.withLock {
                batchesConsumed += 1
                freeBatches.append(batch)
                monitor.broadcast()
            }
            next += 1
        }
        if !stoppedEarly {
            reader.join()
            for w in workers { w.join() }
        }
        return monitor.withLock {
            report.batchesCreated = created
            return report
        }
    }

    private func takeFreeBatch(poolSize: Int) -> RecordBatch? {
        monitor.lock()
        defer { monitor.unlock() }
        while true {
            if let b = freeBatches.popLast() { return b }
            if created < poolSize {
                created += 1
                return RecordBatch(capacity: options.batchSize + options.batchSize / 4)
            }
            if StopSignal.requested { return nil }
            monitor.wait(milliseconds: 200)
        }
    }

    private func readAll(poolSize: Int, sources: [SourceInfo]) {
        var sequence = 0
        outer: for source in sources {
            if StopSignal.requested { break }
            let input: ByteSource
            do {
                input = try openInput(path: source.path, compression: options.compression)
            } catch {
                monitor.withLock { report.inputErrors.append(error) }
                continue
            }
            let framer = makeRecordFramer(source: input, format: options.inputFormat, sourceIndex: source.index,
                                          batchSize: options.batchSize, maxRecordSize: options.maxRecordSize)
            while true {
                if StopSignal.requested {
                    monitor.withLock { report.stopped = true }
                    break outer
                }
                guard let reuse = takeFreeBatch(poolSize: poolSize) else {
                    monitor.withLock { report.stopped = true }
                    break outer
                }
                let batch: RecordBatch?
                do {
                    batch = try framer.nextBatch(reusing: reuse)
                } catch {
                    monitor.withLock {
                        report.inputErrors.append(error)
                        freeBatches.append(reuse)
                    }
                    break
                }
                guard let batch else {
                    monitor.withLock { freeBatches.append(reuse) }
                    break
                }
                monitor.withLock {
                    work.append((sequence, batch, source.index))
                    produced = sequence + 1
                    monitor.broadcast()
                }
                sequence += 1
            }
            monitor.withLock { report.bytesRead += framer.bytesRead }
        }
        monitor.withLock {
            readerDone = true
            monitor.broadcast()
        }
    }

    private func workLoop(_ process: (RecordBatch, SourceInfo) -> Result, sources: [SourceInfo]) {
        while true {
            monitor.lock()
            while workHead >= work.count && !readerDone && !stopping { monitor.wait() }
            if workHead >= work.count {
                monitor.unlock()
                return
            }
            let item = work[workHead]
            workHead += 1
            if workHead > 64 && workHead * 2 > work.count {
                work.removeFirst(workHead)
                workHead = 0
            }
            monitor.unlock()
            let result = process(item.batch, sources[item.source])
            monitor.withLock {
                results[item.sequence] = (result, item.batch, item.source)
                monitor.broadcast()
            }
        }
    }
}

import AuditInput
import AuditRules
#if canImport(Glibc)
import Glibc
#endif

/// How `TailRunner` runs.
public struct TailConfiguration: Sendable {
    /// Paths or globs to follow, or `["-"]` for standard input (which cannot be mixed with paths).
    public var paths: [String]
    /// Where to start in existing files that the checkpoint does not mention (or without a checkpoint).
    public var start: TailStart = .end
    /// Checkpoint file (`nil`: none). Its alert journal is `PATH.journal`.
    public var checkpointPath: String?
    /// Least time between two checkpoints while events flow, in milliseconds.
    public var checkpointIntervalMilliseconds = 1000
    /// Status line interval in milliseconds (`nil`: no status lines).
    public var statsIntervalMilliseconds: Int?
    /// How files are followed.
    public var follow = FollowOptions()
    /// Rule evaluation settings.
    public var settings = ReplaySettings()
    /// Recent alert keys remembered to suppress repeats (several stages of one request).
    public var rememberedAlerts = 1 << 16
    /// Of those, how many are saved in the checkpoint (at least as many as were loaded at start, so a
    /// second crash still knows the alerts of the first run).
    public var checkpointedAlerts = 4096
    /// Install handlers: SIGINT/SIGTERM stop (a second one exits at once), SIGHUP reloads the rules.
    public var handleSignals = false
    /// Options of the stateful detectors (aggregate rules). Their state is saved beside the checkpoint,
    /// in `CHECKPOINT.state`, at every checkpoint, and loaded on restart.
    public var stateful = StatefulOptions()
    /// A state file to start from when there is no saved state yet (e.g. `audithound baseline learn`).
    public var initialStatePath: String?

    /// A configuration following `paths`.
    public init(paths: [String]) {
        self.paths = paths
    }
}

/// What a tail run did.
public struct TailReport: Sendable {
    /// Audit events read.
    public var events = 0
    /// Alerts emitted.
    public var alerts = 0
    /// Alerts not emitted because their rule already fired for the same auditID.
    public var duplicatesSuppressed = 0
    /// Records that could not be used.
    public var malformed = 0
    /// Bytes of complete lines processed.
    public var bytes: Int64 = 0
    /// Successful rule reloads.
    public var reloads = 0
    /// Stopped by `stop()` or a signal (false: standard input ended).
    public var stopped = false

    /// An empty report.
    public init() {}
}

/// A failure that ends a tail run.
public struct TailError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public var message: String

    /// The message.
    public var description: String { self.message }
}

/// `audithound tail`: follows files (or standard input), evaluates rules on every new event and
/// emits alerts, on the calling thread, in order; checkpoints its progress so that a restart resumes
/// without skipping an event or emitting an alert twice.
///
/// Per batch of complete lines: `ReplayWorker.process` → alerts not seen before (by auditID and rule,
/// `AlertKeyWindow`) → `emit` → their keys appended to the alert journal. At most every
/// `checkpointIntervalMilliseconds` (and when stopping) the checkpoint is saved: the followed files'
/// positions, which cover exactly the batches processed, and the recent alert keys; then the journal is
/// emptied. After a crash the events since the checkpoint are processed again and the alerts they had
/// already produced are found in the checkpoint or the journal and suppressed.
///
/// The only window for a repeated alert is a crash between `emit` returning and the journal write (two
/// consecutive system calls); alerts are never lost.
public final class TailRunner: @unchecked Sendable {
    /// The configuration.
    public let configuration: TailConfiguration
    private var ruleSet: CompiledRuleSet
    private let emit: ([Alert]) -> Void
    private let diagnostic: (String) -> Void
    private let reloadRules: (() -> CompiledRuleSet?)?

    private let monitor = Monitor()
    // Guarded by `monitor`.
    private var stopRequested = false
    private var reloadRequested = false
    private var wakeWrite: CInt = -1

    /// Creates a runner.
    ///
    /// - Parameters:
    ///   - configuration: what to follow and how.
    ///   - ruleSet: the rules to evaluate.
    ///   - emit: writes alerts (in order) and returns once they are out; called on the `run` thread.
    ///   - diagnostic: one line for stderr: notices about files, malformed records, status lines.
    ///   - reloadRules: loads the rules again on SIGHUP or `requestReload()`; `nil` from it keeps the
    ///     current rules (it reports its own errors).
    public init(configuration: TailConfiguration, ruleSet: CompiledRuleSet,
                emit: @escaping ([Alert]) -> Void,
                diagnostic: @escaping (String) -> Void,
                reloadRules: (() -> CompiledRuleSet?)? = nil) {
        self.configuration = configuration
        self.ruleSet = ruleSet
        self.emit = emit
        self.diagnostic = diagnostic
        self.reloadRules = reloadRules
    }

    /// Asks `run` to stop: it finishes the batch at hand, saves the checkpoint and returns. Any thread.
    public func stop() {
        self.monitor.withLock {
            self.stopRequested = true
            self.wake()
        }
    }

    /// Asks `run` to reload the rules before the next batch. Any thread.
    public func requestReload() {
        self.monitor.withLock {
            self.reloadRequested = true
            self.wake()
        }
    }

    /// Writes to the wake-up pipe; the lock must be held.
    private func wake() {
        guard self.wakeWrite >= 0 else { return }
        var byte: UInt8 = 1
        _ = write(self.wakeWrite, &byte, 1)
    }

    /// Follows until `stop()`, SIGINT/SIGTERM (with `handleSignals`) or the end of standard input.
    ///
    /// - Throws: `TailError` when the checkpoint cannot be read, or cannot be written at all.
    public func run() throws(TailError) -> TailReport {
        let paths = self.configuration.paths
        if paths.isEmpty { throw TailError(message: "no path to follow") }
        let fromStdin = paths.contains("-")
        if fromStdin && paths.count > 1 { throw TailError(message: "'-' (standard input) cannot be followed together with files") }

        var wakePipe: [CInt] = [-1, -1]
        guard pipe(&wakePipe) == 0 else { throw TailError(message: "cannot create a pipe: \(errorText())") }
        for fd in wakePipe { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        self.monitor.withLock {
            self.wakeWrite = wakePipe[1]
            if self.stopRequested { self.wake() }
        }
        defer {
            self.monitor.withLock { self.wakeWrite = -1 }
            if self.configuration.handleSignals { TailSignals.detach() }
            close(wakePipe[0])
            close(wakePipe[1])
        }
        if self.configuration.handleSignals { TailSignals.install(wake: wakePipe[1]) }

        // Checkpoint and journal.
        var window = AlertKeyWindow(capacity: self.configuration.rememberedAlerts)
        var resume: [TailPosition]?
        var journal: AlertJournal?
        var loadedKeys = 0
        let checkpointPath = fromStdin ? nil : self.configuration.checkpointPath
        if let checkpointPath {
            do {
                if let saved = try TailCheckpoint.load(path: checkpointPath) {
                    resume = saved.positions
                    for key in saved.alertKeys {
                        if window.insert(key) { loadedKeys += 1 }
                    }
                }
                for key in try AlertJournal.read(path: checkpointPath + ".journal") {
                    if window.insert(key) { loadedKeys += 1 }
                }
                journal = try AlertJournal(path: checkpointPath + ".journal")
            } catch {
                throw TailError(message: error.description)
            }
        }

        let source: TailBatchSource
        if fromStdin {
            source = StdinTailSource(batchSize: self.configuration.follow.batchSize, maxRecordSize: self.configuration.follow.maxRecordSize)
        } else {
            let follower = TailFollower(patterns: paths.map(TailPattern.init), options: self.configuration.follow)
            let diagnostic = self.diagnostic
            follower.onNotice = { diagnostic("tail: " + $0) }
            follower.start(at: self.configuration.start, resume: resume)
            source = follower
        }

        var report = TailReport()
        var worker = ReplayWorker(ruleSet: self.ruleSet, settings: self.configuration.settings)
        // Stateful rules: state persisted with the checkpoint so windows and baselines survive restarts.
        var detectors = StatefulDetectors(ruleSet: self.ruleSet, options: self.configuration.stateful)
        let statePath = checkpointPath.map { $0 + ".state" }
        var newestEventTime = Int64.min
        var newestEventWall: Int64 = 0
        for path in [statePath, self.configuration.initialStatePath].compactMap({ $0 }) {
            if path == statePath && access(path, F_OK) != 0 { continue }  // no state saved yet
            guard let bytes = try? readWholeFile(path) else {
                self.diagnostic("tail: \(path): cannot read the stateful-rule state; starting without it")
                continue
            }
            do {
                for note in try detectors.load(bytes) { self.diagnostic("tail: \(path): \(note)") }
                break
            } catch {
                self.diagnostic("tail: \(path): \(error.message); starting without it")
            }
        }
        let checkpointKeys = max(self.configuration.checkpointedAlerts, loadedKeys)

        /// Saves the checkpoint, then empties the journal. Returns false (after reporting) on failure.
        func saveCheckpoint() -> Bool {
            guard let checkpointPath else { return true }
            let checkpoint = TailCheckpoint(positions: source.positions, alertKeys: window.recent(checkpointKeys))
            do {
                if let statePath, !detectors.isEmpty { try atomicWrite(detectors.save(), to: statePath) }
                try checkpoint.save(path: checkpointPath)
            } catch {
                self.diagnostic("tail: checkpoint not saved: \(error)")
                return false
            }
            journal?.reset()
            return true
        }
        // Record where the run starts right away: a crash before the first batch then resumes here.
        if !saveCheckpoint() { throw TailError(message: "cannot write the checkpoint \(checkpointPath ?? "")") }

        var spare: RecordBatch?
        var dirty = false
        var lastCheckpoint = monotonicMs()
        let statsInterval = self.configuration.statsIntervalMilliseconds.map { Int64(max(1, $0)) }
        var lastStats = monotonicMs()
        var statsEvents = 0
        var statsAlerts = 0
        var problemBudget = 10
        var problemWindowStart = monotonicMs()
        var problemsHidden = 0
        let checkpointInterval = Int64(max(1, self.configuration.checkpointIntervalMilliseconds))

        while true {
            let (stop, reload) = self.monitor.withLock { () -> (Bool, Bool) in
                let flags = (self.stopRequested, self.reloadRequested)
                self.reloadRequested = false
                return flags
            }
            let signalStop = self.configuration.handleSignals && StopSignal.requested
            if stop || signalStop {
                report.stopped = true
                break
            }
            if reload || (self.configuration.handleSignals && TailSignals.takeReload()) {
                if let reloaded = self.reloadRules?() {
                    self.ruleSet = reloaded
                    worker = ReplayWorker(ruleSet: reloaded, settings: self.configuration.settings)
                    let carried = detectors.save()
                    detectors = StatefulDetectors(ruleSet: reloaded, options: self.configuration.stateful)
                    if !detectors.isEmpty, let notes = try? detectors.load(carried) {
                        for note in notes { self.diagnostic("tail: stateful state: \(note)") }
                    }
                    report.reloads += 1
                    self.diagnostic("tail: rules reloaded (\(reloaded.rules.count) rules)")
                } else {
                    self.diagnostic("tail: rules not reloaded; keeping the previous rules")
                }
            }

            var now = monotonicMs()
            if dirty && now - lastCheckpoint >= checkpointInterval {
                if saveCheckpoint() { dirty = false }
                lastCheckpoint = now
            }
            if let statsInterval, now - lastStats >= statsInterval {
                let seconds = Double(now - lastStats) / 1000
                let rate = seconds > 0 ? Double(statsEvents) / seconds : 0
                self.diagnostic("tail: \(Int(rate.rounded())) events/s, lag \(source.lagBytes) bytes, alerts \(report.alerts) (+\(statsAlerts)), malformed \(report.malformed), files \(source.fileCount)")
                statsEvents = 0
                statsAlerts = 0
                lastStats = now
            }

            var timeout: Int64 = 1000
            if dirty { timeout = min(timeout, lastCheckpoint + checkpointInterval - now) }
            if let statsInterval { timeout = min(timeout, lastStats + statsInterval - now) }
            guard let tail = source.nextBatch(reusing: spare, timeoutMilliseconds: Int(max(1, timeout)), wakeDescriptor: wakePipe[0]) else {
                spare = nil
                drain(wakePipe[0])
                if source.isFinished { break }
                // Idle: release held-back stateful observations whose lateness allowance has passed.
                // Event time moves on with the wall clock from the newest event seen (logs may lag the
                // wall clock, so the wall clock itself would make their events late).
                if !detectors.isEmpty && newestEventTime != .min {
                    let eventNow = newestEventTime &+ (wallClockNanos() &- newestEventWall)
                    emitAlerts(detectors.advance(toEventTime: eventNow), now: monotonicMs())
                }
                continue
            }
            spare = nil

            let info = SourceInfo(index: tail.fileID, path: tail.path, displayName: tail.path)
            let result = worker.process(tail.batch, source: info)
            report.events += result.events
            report.bytes += Int64(result.bytes)
            statsEvents += result.events
            report.malformed += result.problems.count
            now = monotonicMs()
            if now - problemWindowStart >= 10_000 {
                if problemsHidden > 0 { self.diagnostic("tail: \(problemsHidden) more malformed records not shown") }
                problemBudget = 10
                problemsHidden = 0
                problemWindowStart = now
            }
            for problem in result.problems {
                if problemBudget > 0 {
                    problemBudget -= 1
                    self.diagnostic("malformed: " + TextEscaper.escape(problem.description))
                } else {
                    problemsHidden += 1
                }
            }

            if result.lastTime > newestEventTime {
                newestEventTime = result.lastTime
                newestEventWall = wallClockNanos()
            }
            var alerts = result.alerts
            if !result.observations.isEmpty { alerts += detectors.observe(result.observations) }
            emitAlerts(alerts, now: now)
            dirty = true
            spare = tail.batch
        }

        if let stdin = source as? StdinTailSource, let failure = stdin.takeFailure() {
            self.diagnostic("tail: \(failure)")
        }
        if source.isFinished && !report.stopped {
            // End of a finite input (stdin): close the open windows.
            emitAlerts(detectors.finish(), now: monotonicMs())
        }
        if !saveCheckpoint() { throw TailError(message: "cannot write the checkpoint \(checkpointPath ?? "")") }
        return report

        /// De-duplicates, emits and journals alerts.
        func emitAlerts(_ alerts: [Alert], now: Int64) {
            var fresh: [Alert] = []
            var keys: [UInt64] = []
            for alert in alerts {
                if let key = AlertKeyWindow.key(for: alert) {
                    if !window.insert(key) {
                        report.duplicatesSuppressed += 1
                        continue
                    }
                    keys.append(key)
                }
                fresh.append(alert)
            }
            if !fresh.isEmpty {
                self.emit(fresh)
                report.alerts += fresh.count
                statsAlerts += fresh.count
                do {
                    try journal?.append(keys)
                } catch {
                    // Without the journal a crash could repeat these alerts: checkpoint now instead.
                    self.diagnostic("tail: \(error)")
                    _ = saveCheckpoint()
                    lastCheckpoint = now
                }
            }
        }
    }
}

/// Reads a non-blocking descriptor until it is empty.
private func drain(_ fd: CInt) {
    var scratch = [UInt8](repeating: 0, count: 64)
    while read(fd, &scratch, scratch.count) > 0 {}
}

/// Wall-clock time in nanoseconds since the Unix epoch (to advance event-time windows when idle).
private func wallClockNanos() -> Int64 {
    var t = timespec()
    clock_gettime(CLOCK_REALTIME, &t)
    return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
}

/// Milliseconds on the monotonic clock.
private func monotonicMs() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}

/// Signal handling for `tail`: SIGINT/SIGTERM set `StopSignal` (a second one exits at once), SIGHUP
/// asks for a rule reload; both write a byte to the runner's wake-up pipe so its wait ends at once.
enum TailSignals {
    nonisolated(unsafe) static let reload: UnsafeMutablePointer<sig_atomic_t> = {
        let p = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)
        p.initialize(to: 0)
        return p
    }()
    nonisolated(unsafe) static let wakeDescriptor: UnsafeMutablePointer<CInt> = {
        let p = UnsafeMutablePointer<CInt>.allocate(capacity: 1)
        p.initialize(to: -1)
        return p
    }()

    /// Installs the handlers; they write to `wake`.
    static func install(wake: CInt) {
        // Initialise the globals before a handler can touch them.
        _ = StopSignal.requested
        reload.pointee = 0
        wakeDescriptor.pointee = wake
        let stopHandler: @convention(c) (CInt) -> Void = { sig in
            if StopSignal.flag.pointee != 0 { _exit(128 + sig) }
            StopSignal.flag.pointee = 1
            var byte: UInt8 = 1
            _ = write(TailSignals.wakeDescriptor.pointee, &byte, 1)
        }
        let reloadHandler: @convention(c) (CInt) -> Void = { _ in
            TailSignals.reload.pointee = 1
            var byte: UInt8 = 1
            _ = write(TailSignals.wakeDescriptor.pointee, &byte, 1)
        }
        var action = sigaction()
        action.__sigaction_handler.sa_handler = stopHandler
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGINT, &action, nil)
        sigaction(SIGTERM, &action, nil)
        action.__sigaction_handler.sa_handler = reloadHandler
        action.sa_flags = SA_RESTART
        sigaction(SIGHUP, &action, nil)
    }

    /// Stops writing to the (soon closed) wake-up pipe.
    static func detach() {
        wakeDescriptor.pointee = -1
    }

    /// Whether SIGHUP arrived since the last call.
    static func takeReload() -> Bool {
        if reload.pointee == 0 { return false }
        reload.pointee = 0
        return true
    }
}

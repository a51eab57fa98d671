import AuditPipeline
import AuditRules
import Foundation

/// The stateful stage of `replay` (and `baseline learn`): options, state file, timing, summary.
final class StatefulStage {
    static let help = """
      --state FILE          Load stateful-rule state (a first_seen baseline from 'audithound baseline
                            learn', or state saved with --save-state) before reading.
      --save-state FILE     Save the stateful-rule state (baselines, pending sequences) at the end.
      --max-lateness D      How far behind the newest event time an event may arrive and still count for
                            stateful rules (default 2m; e.g. 30s, 5m, 0). Older ones are reported as late.
    """
    static let valueOptions: Set<String> = ["state", "save-state", "max-lateness"]

    let detectors: StatefulDetectors
    let command: String
    let savePath: String?
    /// Seconds spent in the stateful stage.
    private(set) var seconds = 0.0

    /// Reads the options and loads `--state`; nil (after reporting) when the state file cannot be used.
    init?(_ a: Arguments, ruleSet: CompiledRuleSet, command: String, learnOnly: Bool = false, loadState: Bool = true,
          err: OutputStream) throws(UsageError) {
        var options = StatefulOptions()
        options.learnOnly = learnOnly
        if let v = a.value("max-lateness") {
            guard let d = StatefulDuration.parse(v) else { throw UsageError(message: "--max-lateness: '\(v)' is not a duration (e.g. 2m, 30s, 0)") }
            options.maxLateness = d
        }
        self.command = command
        self.detectors = StatefulDetectors(ruleSet: ruleSet, options: options)
        self.savePath = a.value("save-state")
        if loadState, let path = a.value("state") {
            guard Self.load(path, into: detectors, command: command, err: err) else { return nil }
        }
    }

    /// Loads a state file into `detectors`; false (after reporting) when it cannot be used.
    static func load(_ path: String, into detectors: StatefulDetectors, command: String, err: OutputStream) -> Bool {
        guard let data = FileManager.default.contents(atPath: path) else {
            err.line("audithound \(command): \(path): cannot read state file")
            return false
        }
        do {
            for note in try detectors.load([UInt8](data)) { err.line("audithound \(command): \(path): \(note)") }
        } catch {
            err.line("audithound \(command): \(path): \(error.message)")
            return false
        }
        return true
    }

    /// Writes `bytes` to `path` atomically (temporary file, then rename).
    static func write(_ bytes: [UInt8], to path: String, command: String, err: OutputStream) -> Bool {
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
            return true
        } catch {
            err.line("audithound \(command): \(path): cannot write state file: \(error.localizedDescription)")
            return false
        }
    }

    /// The alerts completed by a batch's observations.
    func observe(_ observations: [Observation]) -> [Alert] {
        if observations.isEmpty { return [] }
        let t0 = monotonicSeconds()
        defer { seconds += monotonicSeconds() - t0 }
        return detectors.observe(observations)
    }

    /// End of input: the remaining alerts.
    func finish() -> [Alert] {
        let t0 = monotonicSeconds()
        defer { seconds += monotonicSeconds() - t0 }
        return detectors.finish()
    }

    /// Saves the state when `--save-state` was given; false when that failed.
    func saveIfRequested(err: OutputStream) -> Bool {
        guard let savePath else { return true }
        return Self.write(detectors.save(), to: savePath, command: command, err: err)
    }

    /// Summary lines (nothing when there are no stateful rules).
    func printSummary(to err: OutputStream, events: Int) {
        let r = detectors.report
        guard !r.rules.isEmpty else { return }
        let perEvent = events > 0 ? seconds * 1e9 / Double(events) : 0
        err.line("stateful: \(r.rules.count) rules, \(r.observations) observations, \(r.alerts) alerts; stage \(format(seconds * 1000, 1)) ms (\(format(perEvent, 1)) ns/event)")
        if r.late > 0 {
            err.line("stateful: \(r.late) observations were more than \(StatefulDuration.format(detectors.options.maxLateness)) behind the newest event time seen (or in the loaded state) and were dropped (raise --max-lateness): "
                     + r.rules.filter { $0.late > 0 }.map { "\($0.name) \($0.late)" }.joined(separator: ", "))
        }
        if r.forcedReleases > 0 { err.line("stateful: hold-back buffer full: \(r.forcedReleases) observations processed before their lateness expired") }
        for rule in r.rules where rule.evicted > 0 {
            err.line("stateful: '\(rule.name)' reached its key limit: \(rule.evicted) least recently used keys evicted (raise max_keys)")
        }
    }
}

import AuditLogGen
import AuditPipeline
import AuditRules
import Foundation
import XCTest

/// Stateful rules through the pipeline: workers make observations, the in-order stage runs the
/// detectors; output identical for any number of workers; state carried across runs.
final class StatefulReplayTests: XCTestCase {
    /// A generated log with attacks (forbidden bursts, secret harvesting, RBAC changes...), as lines.
    static let log: [UInt8] = {
        var gen = AuditLogGenerator(seed: 5, attackRate: 0.004)
        var buffer: [UInt8] = []
        for _ in 0..<12_000 { gen.appendEvent(to: &buffer) }
        gen.finish(to: &buffer)
        return buffer
    }()

    static let ruleSet: CompiledRuleSet = {
        let loaded = RuleCompiler.load(DefaultRules.files)
        precondition(!loaded.hasErrors, "\(loaded.diagnostics)")
        return loaded.ruleSet!
    }()

    /// Replays `paths` with the default rules: every alert as JSON, in output order (per batch: its
    /// alerts, then the stateful alerts its observations complete; at the end the remaining stateful
    /// alerts unless `finish` is false).
    func replay(_ paths: [String], workers: Int, batchSize: Int = 1 << 16, detectors: StatefulDetectors? = nil,
                finish: Bool = true) -> (alerts: [String], stateful: [String], detectors: StatefulDetectors) {
        let ruleSet = Self.ruleSet
        let stateful = detectors ?? StatefulDetectors(ruleSet: ruleSet)
        var options = PipelineOptions()
        options.workers = workers
        options.batchSize = batchSize
        var alerts: [String] = []
        var statefulAlerts: [String] = []
        _ = Pipeline<ReplayBatchResult>(inputs: paths, options: options).run(makeWorker: {
            let w = ReplayWorker(ruleSet: ruleSet, settings: ReplaySettings())
            return { batch, source in w.process(batch, source: source) }
        }, consume: { result, _, _ in
            for a in result.alerts {
                XCTAssertNil(ruleSet.rules.first { $0.name == a.rule }?.aggregate, "stateful rule '\(a.rule)' alerted from a worker")
                alerts.append(AlertFormatter.json(a, hostname: "h"))
            }
            let more = stateful.observe(result.observations).map { AlertFormatter.json($0, hostname: "h") }
            alerts += more
            statefulAlerts += more
        })
        if finish {
            let more = stateful.finish().map { AlertFormatter.json($0, hostname: "h") }
            alerts += more
            statefulAlerts += more
        }
        return (alerts, statefulAlerts, stateful)
    }

    func testOutputIsIdenticalForAnyNumberOfWorkers() {
        let path = writeTemp(Self.log, name: "stateful-det.log")
        defer { unlink(path) }
        let reference = replay([path], workers: 1)
        let rules = Set(reference.stateful.compactMap { line -> String? in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["rule"] as? String
        })
        XCTAssertTrue(rules.isSuperset(of: ["Burst of Denied Requests From One Source", "Burst of Forbidden Requests by One Identity",
                                            "Bulk Secret Reads by One Identity"]), "\(rules)")
        XCTAssertTrue(reference.stateful.allSatisfy { $0.contains(#""evidence":{"aggregate":"#) })
        XCTAssertEqual(reference.detectors.report.late, 0)
        for (workers, batch) in [(2, 1 << 16), (4, 1 << 16), (3, 1 << 16), (2, 4096), (4, 1 << 20)] {
            let run = replay([path], workers: workers, batchSize: batch)
            XCTAssertEqual(run.alerts.count, reference.alerts.count, "workers=\(workers) batch=\(batch)")
            XCTAssertEqual(run.stateful, reference.stateful, "workers=\(workers) batch=\(batch)")
            if batch == 1 << 16 { XCTAssertEqual(run.alerts, reference.alerts, "workers=\(workers)") }
        }
    }

    func testStateSavedAfterOneFileContinuesInTheNext() throws {
        // Split the log in two files at a line boundary; replaying the first, saving, loading into new
        // detectors and replaying the second gives the stateful alerts of one run over both.
        let lines = Self.log.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let half = lines.count / 2
        let a = writeTemp(Array(lines[..<half].joined(separator: [UInt8(ascii: "\n")])) + [UInt8(ascii: "\n")], name: "stateful-a.log")
        let b = writeTemp(Array(lines[half...].joined(separator: [UInt8(ascii: "\n")])), name: "stateful-b.log")
        defer { unlink(a); unlink(b) }
        let whole = replay([a, b], workers: 2)
        XCTAssertFalse(whole.stateful.isEmpty)
        let first = replay([a], workers: 2, finish: false)
        let saved = first.detectors.save()
        let restored = StatefulDetectors(ruleSet: Self.ruleSet)
        XCTAssertEqual(try restored.load(saved), [])
        let second = replay([b], workers: 2, detectors: restored)
        XCTAssertEqual(first.stateful + second.stateful, whole.stateful)
    }
}

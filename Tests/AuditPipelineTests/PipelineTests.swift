import XCTest
import AuditInput
import AuditRules
@testable import AuditPipeline

/// Rules used by the pipeline tests (independent of the default ruleset).
let pipelineTestRules = """
- macro: done
  condition: ka.stage in (ResponseComplete, ResponseStarted)
- rule: Forbidden
  desc: t
  condition: done and ka.auth.decision = forbid
  output: forbidden %ka.user.name %ka.verb %ka.target.resource
  priority: WARNING
- rule: Secret Read
  desc: t
  condition: done and ka.target.resource = secrets and ka.verb in (get, list)
  output: secret %ka.target.name by %ka.user.name
  priority: NOTICE
"""

/// A deterministic log: `count` events, about a third of which fire a rule, some lines malformed.
func syntheticLog(count: Int, seed: UInt64 = 1, malformedEvery: Int = 0, padding: Int = 0) -> [UInt8] {
    var s = seed
    func next() -> UInt64 {
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return s >> 33
    }
    var out: [UInt8] = []
    let verbs = ["get", "list", "create", "update", "watch"]
    let resources = ["pods", "secrets", "configmaps", "leases"]
    let pad = String(repeating: "x", count: padding)
    for i in 0..<count {
        if malformedEvery > 0 && i % malformedEvery == malformedEvery - 1 {
            out += Array("{\"kind\":\"Event\", broken\n".utf8)
            continue
        }
        let verb = verbs[Int(next() % 5)]
        let resource = resources[Int(next() % 4)]
        let decision = next() % 4 == 0 ? "forbid" : "allow"
        let line = "{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"level\":\"Metadata\",\"auditID\":\"id-\(i)\",\"stage\":\"ResponseComplete\",\"requestURI\":\"/api/v1/\(resource)\",\"verb\":\"\(verb)\",\"user\":{\"username\":\"user-\(next() % 7)\"},\"sourceIPs\":[\"10.0.0.\(next() % 200)\"],\"userAgent\":\"test\(pad)\",\"objectRef\":{\"resource\":\"\(resource)\",\"namespace\":\"ns\",\"name\":\"obj-\(i)\",\"apiVersion\":\"v1\"},\"responseStatus\":{\"metadata\":{},\"code\":\(decision == "forbid" ? 403 : 200)},\"requestReceivedTimestamp\":\"2026-11-23T10:00:00.000000Z\",\"stageTimestamp\":\"2026-11-23T10:\(String(format: "%02d", (i / 60) % 60)):\(String(format: "%02d", i % 60)).000000Z\",\"annotations\":{\"authorization.k8s.io/decision\":\"\(decision)\",\"authorization.k8s.io/reason\":\"\"}}\n"
        out += Array(line.utf8)
    }
    return out
}

func writeTemp(_ bytes: [UInt8], name: String) -> String {
    let path = NSTemporaryDirectory() + "audithound-\(getpid())-\(name)"
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    return path
}

func compiledTestRules() -> CompiledRuleSet {
    let loaded = RuleCompiler.load([RuleFile(path: "test.yaml", text: pipelineTestRules)])
    precondition(!loaded.hasErrors, "\(loaded.diagnostics)")
    return loaded.ruleSet!
}

/// Runs a replay through the pipeline and returns the alerts as JSON lines plus the counters.
func replay(_ paths: [String], workers: Int, batchSize: Int, ruleSet: CompiledRuleSet, slowConsumer: Bool = false,
            inline: Bool? = nil, workersRead: Bool? = nil, stopAfterBatches: Int? = nil)
    -> (alerts: [String], events: Int, problems: [String], report: PipelineReport) {
    var options = PipelineOptions()
    options.workers = workers
    options.batchSize = batchSize
    options.inline = inline
    options.workersRead = workersRead
    var batches = 0
    defer { StopSignal.reset() }
    var alerts: [String] = []
    var events = 0
    var problems: [String] = []
    let report = Pipeline<ReplayBatchResult>(inputs: paths, options: options).run(makeWorker: {
        let w = ReplayWorker(ruleSet: ruleSet, settings: ReplaySettings())
        return { batch, source in w.process(batch, source: source) }
    }, consume: { r, _, _ in
        if slowConsumer { usleep(2000) }
        batches += 1
        if let n = stopAfterBatches, batches >= n { StopSignal.request() }
        events += r.events
        problems += r.problems.map { $0.description }
        alerts += r.alerts.map { AlertFormatter.json($0, hostname: "h") }
    })
    return (alerts, events, problems, report)
}

final class PipelineTests: XCTestCase {
    func testOutputIsIdenticalForAnyNumberOfWorkers() {
        let ruleSet = compiledTestRules()
        let a = writeTemp(syntheticLog(count: 6000, seed: 3, malformedEvery: 97), name: "det-a.log")
        let b = writeTemp(syntheticLog(count: 3000, seed: 9), name: "det-b.log")
        defer { unlink(a); unlink(b) }
        let reference = replay([a, b], workers: 1, batchSize: 1 << 20, ruleSet: ruleSet)
        XCTAssertGreaterThan(reference.alerts.count, 2000, "the log must produce thousands of alerts")
        XCTAssertEqual(reference.events, 9000 - 6000 / 97)
        XCTAssertEqual(reference.problems.count, 6000 / 97)
        // Workers reading their own batches (the default for plain files) and a reader thread.
        for (workers, batch) in [(2, 4096), (4, 1000), (8, 65536), (3, 777)] {
            for workersRead in [true, false] {
                let r = replay([a, b], workers: workers, batchSize: batch, ruleSet: ruleSet, workersRead: workersRead)
                XCTAssertEqual(r.alerts, reference.alerts, "workers=\(workers) batch=\(batch) workersRead=\(workersRead)")
                XCTAssertEqual(r.problems, reference.problems, "workers=\(workers) batch=\(batch) workersRead=\(workersRead)")
                XCTAssertEqual(r.events, reference.events, "workers=\(workers) batch=\(batch) workersRead=\(workersRead)")
            }
        }
        // One thread doing everything (the single-CPU mode) and the threaded pipeline agree.
        for inline in [true, false] {
            let r = replay([a, b], workers: 1, batchSize: 1 << 20, ruleSet: ruleSet, inline: inline)
            XCTAssertEqual(r.alerts, reference.alerts, "inline=\(inline)")
            XCTAssertEqual(r.problems, reference.problems, "inline=\(inline)")
            XCTAssertEqual(r.events, reference.events, "inline=\(inline)")
        }
        // Alerts come out in input order: file a before file b, lines ascending.
        let inputs = reference.alerts.compactMap { line -> (String, Int)? in
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let input = obj["input"] as? String, let colon = input.lastIndex(of: ":") else { return nil }
            return (String(input[..<colon]), Int(input[input.index(after: colon)...])!)
        }
        XCTAssertEqual(inputs.count, reference.alerts.count)
        for k in 1..<inputs.count {
            let (p0, l0) = inputs[k - 1], (p1, l1) = inputs[k]
            XCTAssertTrue(p0 == p1 ? l0 <= l1 : p0 == a && p1 == b, "out of order at \(k)")
        }
    }

    func testMalformedLinesReportedWithExactLineNumbers() {
        let ruleSet = compiledTestRules()
        let path = writeTemp(syntheticLog(count: 50, malformedEvery: 10), name: "malformed.log")
        defer { unlink(path) }
        let r = replay([path], workers: 2, batchSize: 300, ruleSet: ruleSet)
        XCTAssertEqual(r.problems.map { String($0.split(separator: ":")[1]) }, ["10", "20", "30", "40", "50"])
        XCTAssertTrue(r.problems.allSatisfy { $0.hasPrefix(path + ":") && $0.contains("invalid JSON") })
        XCTAssertEqual(r.events, 45)
    }

    func testRecordLargerThanBatchAndSplitRecords() {
        let ruleSet = compiledTestRules()
        // 200 KB user agents with 4 KiB batches: every record spans many batch sizes.
        let path = writeTemp(syntheticLog(count: 40, seed: 5, padding: 200_000), name: "big.log")
        defer { unlink(path) }
        let large = replay([path], workers: 1, batchSize: 1 << 22, ruleSet: ruleSet)
        for workersRead in [true, false] {
            let small = replay([path], workers: 3, batchSize: 4096, ruleSet: ruleSet, workersRead: workersRead)
            XCTAssertEqual(small.events, 40)
            XCTAssertEqual(small.alerts, large.alerts)
            XCTAssertTrue(small.problems.isEmpty, "\(small.problems)")
        }
    }

    func testSlowConsumerDoesNotGrowMemory() {
        let ruleSet = compiledTestRules()
        let path = writeTemp(syntheticLog(count: 20000), name: "slow.log")
        defer { unlink(path) }
        for workersRead in [true, false] {
            let r = replay([path], workers: 2, batchSize: 8192, ruleSet: ruleSet, slowConsumer: true, workersRead: workersRead)
            XCTAssertEqual(r.events, 20000)
            // Hundreds of batches went through, but only the fixed pool was ever allocated.
            XCTAssertLessThanOrEqual(r.report.batchesCreated, 2 * 2 + 2, "workersRead=\(workersRead)")
            XCTAssertGreaterThan(r.report.bytesRead, Int64(8192 * 100))
        }
    }

    func testInlineModeUsesOneBatchReportsErrorsAndStops() {
        let ruleSet = compiledTestRules()
        let path = writeTemp(syntheticLog(count: 3000, seed: 4), name: "inline.log")
        defer { unlink(path) }
        let all = replay(["/nonexistent/audit.log", path], workers: 1, batchSize: 8192, ruleSet: ruleSet, inline: true)
        XCTAssertEqual(all.events, 3000)
        XCTAssertEqual(all.report.batchesCreated, 1, "one batch, refilled")
        XCTAssertEqual(all.report.inputErrors.count, 1)
        XCTAssertTrue(all.report.inputErrors[0].description.contains("/nonexistent/audit.log"))
        XCTAssertEqual(all.report.bytesRead, Int64(syntheticLog(count: 3000, seed: 4).count))
        // A stop request: the batch in hand is finished and consumed, nothing after it is read.
        let stopped = replay([path], workers: 1, batchSize: 8192, ruleSet: ruleSet, inline: true, stopAfterBatches: 3)
        XCTAssertTrue(stopped.report.stopped)
        XCTAssertGreaterThan(stopped.events, 0)
        XCTAssertLessThan(stopped.events, 3000)
        XCTAssertEqual(stopped.alerts, Array(all.alerts.prefix(stopped.alerts.count)))
    }

    func testUnreadableInputIsReportedAndOthersStillProcessed() {
        let ruleSet = compiledTestRules()
        let path = writeTemp(syntheticLog(count: 100), name: "ok.log")
        defer { unlink(path) }
        for workersRead in [true, false] {
            let r = replay(["/nonexistent/audit.log", path, "/nonexistent/other.log"], workers: 2, batchSize: 1 << 16,
                           ruleSet: ruleSet, workersRead: workersRead)
            XCTAssertEqual(r.events, 100)
            XCTAssertEqual(r.report.inputErrors.count, 2)
            XCTAssertTrue(r.report.inputErrors[0].description.contains("/nonexistent/audit.log"))
            XCTAssertTrue(r.report.inputErrors[1].description.contains("/nonexistent/other.log"))
            XCTAssertEqual(r.report.bytesRead, Int64(syntheticLog(count: 100).count))
        }
    }

    func testWorkersThatReadStopAfterTheBatchesInHand() {
        let ruleSet = compiledTestRules()
        let path = writeTemp(syntheticLog(count: 6000, seed: 4), name: "stop2.log")
        defer { unlink(path) }
        let all = replay([path], workers: 2, batchSize: 8192, ruleSet: ruleSet, workersRead: true)
        XCTAssertEqual(all.events, 6000)
        XCTAssertFalse(all.report.stopped)
        let stopped = replay([path], workers: 2, batchSize: 8192, ruleSet: ruleSet, workersRead: true, stopAfterBatches: 3)
        XCTAssertTrue(stopped.report.stopped)
        XCTAssertGreaterThan(stopped.events, 0)
        XCTAssertLessThan(stopped.events, 6000)
        // What was read was processed and consumed in order: a prefix of the whole run's alerts.
        XCTAssertEqual(stopped.alerts, Array(all.alerts.prefix(stopped.alerts.count)))
        XCTAssertLessThanOrEqual(stopped.report.batchesCreated, 2 * 2 + 2)
    }

    func testDeduplicatorSuppressesRepeatsOfOneRequest() {
        var d = AlertDeduplicator(capacity: 4)
        func alert(_ id: String, _ rule: String) -> Alert {
            Alert(rule: rule, priority: .notice, time: 0, message: "", outputFields: [], tags: [], auditID: id, input: "x:1")
        }
        XCTAssertTrue(d.admit(alert("a", "r1")))
        XCTAssertFalse(d.admit(alert("a", "r1")))
        XCTAssertTrue(d.admit(alert("a", "r2")))
        XCTAssertTrue(d.admit(alert("b", "r1")))
        XCTAssertEqual(d.suppressed, 1)
    }
}

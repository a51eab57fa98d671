import XCTest
import Foundation
import AuditJSON
import AuditInput
import AuditLogGen
@testable import AuditRules
@testable import AuditPipeline

/// Replay leaves request and response bodies unparsed until a rule reads them
/// (``ReplaySettings/deferBodies``): the results must be those of a strict parse.
final class DeferredBodyReplayTests: XCTestCase {
    private let ruleSet: CompiledRuleSet = {
        let loaded = RuleCompiler.load(DefaultRules.files)
        precondition(!loaded.hasErrors, "\(loaded.diagnostics)")
        return loaded.ruleSet!
    }()

    private func run(_ path: String, deferBodies: Bool) -> (alerts: [String], observations: [String], events: Int,
                                                             problems: [String], bodiesParsed: Int) {
        var s = ReplaySettings()
        s.deferBodies = deferBodies
        let settings = s
        let ruleSet = self.ruleSet
        var options = PipelineOptions()
        options.workers = 1
        var alerts: [String] = []
        var observations: [String] = []
        var events = 0
        var problems: [String] = []
        let workers = WorkerList()
        _ = Pipeline<ReplayBatchResult>(inputs: [path], options: options).run(makeWorker: {
            let w = ReplayWorker(ruleSet: ruleSet, settings: settings)
            workers.add(w)
            return { batch, source in w.process(batch, source: source) }
        }, consume: { r, _, _ in
            events += r.events
            problems += r.problems.map { $0.description }
            alerts += r.alerts.map { AlertFormatter.json($0, hostname: "h") }
            observations += r.observations.map { "\($0.rule) \($0.step) \($0.time) \($0.occurrences) \($0.key) \($0.distinct) \($0.input)" }
        })
        return (alerts, observations, events, problems, workers.bodiesParsed)
    }

    private func write(_ bytes: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "audithound-deferred-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testGeneratedTrafficGivesTheSameAlertsAndObservations() throws {
        var generator = AuditLogGenerator(seed: 5, attackRate: 0.05)
        var buffer: [UInt8] = []
        for _ in 0..<4000 { generator.appendEvent(to: &buffer) }
        generator.finish(to: &buffer)
        let withBodies = buffer.split(separator: 0x0A).filter { line in
            let s = String(decoding: line, as: UTF8.self)
            return s.contains("\"requestObject\":{") || s.contains("\"responseObject\":{")
        }.count
        let path = try write(buffer)
        let strict = run(path, deferBodies: false)
        let lazy = run(path, deferBodies: true)
        XCTAssertGreaterThan(strict.alerts.count, 100)
        XCTAssertGreaterThan(strict.observations.count, 100)
        XCTAssertEqual(lazy.alerts, strict.alerts)
        XCTAssertEqual(lazy.observations, strict.observations)
        XCTAssertEqual(lazy.events, strict.events)
        XCTAssertEqual(lazy.problems, [])
        XCTAssertEqual(strict.problems, [])
        XCTAssertEqual(strict.bodiesParsed, 0)
        // Only some of the events with bodies had a body read.
        XCTAssertGreaterThan(withBodies, 500)
        XCTAssertGreaterThan(lazy.bodiesParsed, 0)
        XCTAssertLessThan(lazy.bodiesParsed, withBodies / 2)
    }

    func testBrokenBodiesAreReportedOnlyWhenReadAndTheEventIsKept() throws {
        func event(_ id: String, _ members: String) -> String {
            #"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"\#(id)","stage":"ResponseComplete","stageTimestamp":"2026-11-23T10:00:00Z","user":{"username":"mallory@example.com","groups":["system:authenticated"]},"sourceIPs":["203.0.113.9"],"# + members + "}"
        }
        let lines = [
            // A privileged pod whose body holds a grammar fault (a doubled comma): a rule reads it.
            event("a", #""verb":"create","requestURI":"/api/v1/namespaces/default/pods","objectRef":{"resource":"pods","namespace":"default","name":"p"},"responseStatus":{"code":201},"requestObject":{"kind":"Pod","spec":{"containers":[{"name":"c","image":"alpine","securityContext":{"privileged":true}},,]}}"#),
            // A lease renewal with the same kind of fault: no rule reads lease bodies.
            event("b", #""verb":"update","requestURI":"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1","objectRef":{"resource":"leases","namespace":"kube-node-lease","name":"n1","apiGroup":"coordination.k8s.io"},"responseStatus":{"code":200},"requestObject":{"kind":"Lease","spec":{"holderIdentity":"n1",,}}"#),
            // A privileged pod with a valid body.
            event("c", #""verb":"create","requestURI":"/api/v1/namespaces/default/pods","objectRef":{"resource":"pods","namespace":"default","name":"q"},"responseStatus":{"code":201},"requestObject":{"kind":"Pod","spec":{"containers":[{"name":"c","image":"alpine","securityContext":{"privileged":true}}]}}"#),
        ]
        let path = try write(Array((lines.joined(separator: "\n") + "\n").utf8))
        let lazy = run(path, deferBodies: true)
        XCTAssertEqual(lazy.events, 3, "no event is dropped")
        XCTAssertEqual(lazy.problems.count, 1, "\(lazy.problems)")
        XCTAssertTrue(lazy.problems.first?.hasPrefix("\(path):1: invalid JSON in the request or response body: ") == true,
                      "\(lazy.problems)")
        // The event with the broken body was still evaluated (rules on its metadata alert).
        XCTAssertTrue(lazy.alerts.contains { $0.contains("\"audit_id\":\"a\"") && $0.contains("\"rule\":\"Workload Changed\"") })
        let strict = run(path, deferBodies: false)
        XCTAssertEqual(strict.events, 1)
        XCTAssertEqual(strict.problems.count, 2, "\(strict.problems)")
        // The privileged pod with the valid body alerts the same way in both modes.
        let privileged = { (alerts: [String]) in alerts.filter { $0.contains("\"rule\":\"Privileged Container Created\"") } }
        XCTAssertEqual(privileged(strict.alerts).count, 1)
        XCTAssertEqual(privileged(lazy.alerts), privileged(strict.alerts))
    }
}

/// The workers a pipeline made (they are made on its threads).
private final class WorkerList: @unchecked Sendable {
    private let lock = NSLock()
    private var workers: [ReplayWorker] = []
    func add(_ w: ReplayWorker) { lock.lock(); workers.append(w); lock.unlock() }
    var bodiesParsed: Int { lock.lock(); defer { lock.unlock() }; return workers.reduce(0) { $0 + $1.evaluator.bodiesParsed } }
}

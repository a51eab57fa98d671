import XCTest
import AuditRules
@testable import AuditPipeline

/// Stateful rules in tail mode: they fire on live input, and their windows survive a restart through
/// the state saved beside the checkpoint.
final class TailStatefulTests: XCTestCase {
    static let rules = """
    - rule: Burst
      desc: four events of one user in a window
      condition: ka.verb exists
      aggregate: {type: threshold, key: [ka.user.name], window: 10m, count: 4}
      output: burst by %ka.user.name
      priority: WARNING
    """

    final class Box: @unchecked Sendable {
        let lock = NSLock()
        var alerts: [Alert] = []
    }

    /// Runs a tail on `log` until `body` returns, then stops it; returns the alerts.
    func runTail(_ log: String, checkpoint: String, _ body: () -> Void) throws -> [Alert] {
        let loaded = RuleCompiler.load([RuleFile(path: "t.yaml", text: Self.rules)])
        let ruleSet = try XCTUnwrap(loaded.ruleSet, "\(loaded.diagnostics)")
        var c = TailConfiguration(paths: [log])
        c.checkpointPath = checkpoint
        c.start = .beginning
        c.stateful.maxLateness = 0
        let box = Box()
        let runner = TailRunner(configuration: c, ruleSet: ruleSet, emit: { a in box.lock.withLock { box.alerts += a } },
                                diagnostic: { _ in })
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            _ = try? runner.run()
            done.signal()
        }
        thread.start()
        Thread.sleep(forTimeInterval: 0.3)
        body()
        Thread.sleep(forTimeInterval: 1.0)
        runner.stop()
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        return box.lock.withLock { box.alerts }
    }

    func testThresholdFiresLiveInOneRun() throws {
        let dir = NSTemporaryDirectory() + "audithound-tail-stateful-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = dir + "/audit.log"
        let alerts = try runTail(log, checkpoint: dir + "/cp") {
            tailAppend(log, Array((tailEvent("s1") + tailEvent("s2") + tailEvent("s3") + tailEvent("s4")).utf8))
        }
        XCTAssertEqual(alerts.map(\.rule), ["Burst"])
    }

    func testThresholdFiresLiveAndItsWindowSurvivesARestart() throws {
        let dir = NSTemporaryDirectory() + "audithound-tail-stateful-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = dir + "/audit.log", checkpoint = dir + "/cp"
        // Two events before the restart: no alert yet.
        let first = try runTail(log, checkpoint: checkpoint) {
            tailAppend(log, Array((tailEvent("s1") + tailEvent("s2")).utf8))
        }
        XCTAssertEqual(first.count, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint + ".state"), "stateful state saved beside the checkpoint")
        // Two more after it: the count of four is only reached if the window was carried over.
        let second = try runTail(log, checkpoint: checkpoint) {
            // Later event times (the first run's clock moved on while it idled).
            let later = (tailEvent("s3") + tailEvent("s4")).replacingOccurrences(of: "T10:00:00.000000Z", with: "T10:00:30.000000Z")
            tailAppend(log, Array(later.utf8))
        }
        XCTAssertEqual(second.map(\.rule), ["Burst"])
        XCTAssertEqual(second.first?.message, "burst by u [4 events within 10m for ka.user.name=u]")
    }
}

import XCTest

/// Runs the built `audithound` binary (found next to the test bundle).
struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

func audithoundBinary() throws -> URL {
    var dir = Bundle(for: CLITests.self).bundleURL
    for _ in 0..<3 {
        let candidate = dir.appendingPathComponent("audithound")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    throw XCTSkip("audithound binary not built next to the tests")
}

func runCLI(_ args: [String], stdin: Data? = nil) throws -> CLIResult {
    let p = Process()
    p.executableURL = try audithoundBinary()
    p.arguments = args
    let out = Pipe()
    let errPath = NSTemporaryDirectory() + "audithound-cli-stderr-\(UUID().uuidString)"
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    defer { try? FileManager.default.removeItem(atPath: errPath) }
    p.standardOutput = out
    p.standardError = errHandle
    let input = Pipe()
    p.standardInput = input
    try p.run()
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try input.fileHandleForWriting.close()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    try errHandle.close()
    let errData = FileManager.default.contents(atPath: errPath) ?? Data()
    return CLIResult(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
}

let cliEvent = #"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"%ID%","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/secrets/s","verb":"get","user":{"username":"mallory"},"sourceIPs":["10.1.1.1"],"objectRef":{"resource":"secrets","namespace":"default","name":"s","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":403},"requestReceivedTimestamp":"2026-11-23T10:00:00.000000Z","stageTimestamp":"2026-11-23T10:00:00.500000Z","annotations":{"authorization.k8s.io/decision":"forbid","authorization.k8s.io/reason":"no RBAC policy matched"}}"#

let cliRules = """
- rule: Forbidden
  desc: a denied request
  condition: ka.auth.decision = forbid
  output: denied %ka.user.name %ka.verb %ka.target.resource (%ka.auth.reason)
  priority: warning
  tags: [test]
"""

final class CLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("audithound-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func testHelpAndUsageErrors() throws {
        for command in [["--help"], ["replay", "--help"], ["stats", "--help"], ["rules", "--help"]] {
            let r = try runCLI(command)
            XCTAssertEqual(r.status, 0, "\(command)")
            XCTAssertTrue(r.stdout.contains("Usage"), "\(command)")
        }
        XCTAssertEqual(try runCLI(["frobnicate"]).status, 2)
        XCTAssertEqual(try runCLI(["replay", "--format", "xml"]).status, 2)
        XCTAssertEqual(try runCLI(["stats", "--no-such-flag"]).status, 2)
        XCTAssertEqual(try runCLI([]).status, 2)
    }

    func testReplayJSONAlertsAndExitCodes() throws {
        let rules = try write("r.yaml", cliRules)
        let log = try write("a.log", cliEvent.replacingOccurrences(of: "%ID%", with: "one") + "\nnot json\n" + cliEvent.replacingOccurrences(of: "%ID%", with: "two") + "\n")
        let r = try runCLI(["replay", "--rules", rules, "--format", "json", log])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        let obj = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        XCTAssertEqual(obj["rule"] as? String, "Forbidden")
        XCTAssertEqual(obj["priority"] as? String, "Warning")
        XCTAssertEqual(obj["audit_id"] as? String, "one")
        XCTAssertEqual(obj["input"] as? String, log + ":1")
        XCTAssertEqual(obj["source"] as? String, "k8s_audit")
        XCTAssertEqual(obj["time"] as? String, "2026-11-23T10:00:00.500000000Z")
        let fields = obj["output_fields"] as! [String: Any]
        XCTAssertEqual(fields["ka.user.name"] as? String, "mallory")
        XCTAssertTrue(r.stderr.contains(log + ":2"), r.stderr)
        XCTAssertTrue(r.stderr.contains("malformed: 1"), r.stderr)
        // --strict turns malformed input into a failure; a missing path is exit 1.
        XCTAssertEqual(try runCLI(["replay", "--rules", rules, "--strict", log]).status, 1)
        XCTAssertEqual(try runCLI(["replay", "--rules", rules, dir.appendingPathComponent("missing.log").path]).status, 1)
        // stdin.
        let s = try runCLI(["replay", "--rules", rules, "-"], stdin: Data((cliEvent.replacingOccurrences(of: "%ID%", with: "x") + "\n").utf8))
        XCTAssertEqual(s.status, 0)
        XCTAssertTrue(s.stdout.contains("denied mallory get secrets (no RBAC policy matched)"), s.stdout)
    }

    func testInvalidRulesExitOneWithPositions() throws {
        let bad = try write("bad.yaml", "- rule: X\n  desc: d\n  condition: ka.verb = get and ka.nosuch.field = 1\n  output: o\n  priority: WARNING\n- rule: Y\n  desc: d\n  condition: ka.verb =\n  output: o\n  priority: LOUD\n")
        let r = try runCLI(["rules", "validate", "--rules", bad])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stdout.contains("\(bad):3:"), r.stdout)
        XCTAssertTrue(r.stdout.contains("unknown field 'ka.nosuch.field'"), r.stdout)
        XCTAssertTrue(r.stdout.contains("\(bad):10:"), r.stdout)
        XCTAssertTrue(r.stdout.contains("LOUD"), r.stdout)
        XCTAssertTrue(r.stdout.contains("\(bad):8:"), r.stdout)
        let log = try write("a.log", cliEvent + "\n")
        XCTAssertEqual(try runCLI(["replay", "--rules", bad, log]).status, 1)
    }

    func testDefaultRulesValidateAndList() throws {
        let v = try runCLI(["rules", "validate"])
        XCTAssertEqual(v.status, 0, v.stdout)
        let l = try runCLI(["rules", "list", "--format", "json"])
        XCTAssertEqual(l.status, 0)
        XCTAssertFalse(l.stdout.isEmpty)
        for line in l.stdout.split(separator: "\n") {
            XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(line.utf8)))
        }
    }

    func testStatsJSON() throws {
        let log = try write("s.log", cliEvent.replacingOccurrences(of: "%ID%", with: "1") + "\n\n{\"kind\":\"Event\"}\n" + cliEvent.replacingOccurrences(of: "%ID%", with: "2") + "\n")
        let r = try runCLI(["stats", "--format", "json", log])
        XCTAssertEqual(r.status, 0, r.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(obj["events"] as? Int, 2)
        XCTAssertEqual(obj["malformed"] as? Int, 1)
        XCTAssertEqual((obj["by_verb"] as? [String: Int])?["get"], 2)
        XCTAssertEqual((obj["by_decision"] as? [String: Int])?["forbid"], 2)
        let samples = obj["malformed_samples"] as! [[String: String]]
        XCTAssertEqual(samples.first?["input"], log + ":3")
        XCTAssertEqual(try runCLI(["stats", "/does/not/exist"]).status, 1)
    }

    func testSIGTERMFlushesAlertsAndSummary() throws {
        let rules = try write("r.yaml", cliRules)
        let p = Process()
        p.executableURL = try audithoundBinary()
        p.arguments = ["replay", "--rules", rules, "--format", "json", "-"]
        let input = Pipe(), out = Pipe(), err = Pipe()
        p.standardInput = input
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Feed 500 alerting events, then keep stdin open (a live stream) and send SIGTERM.
        var text = ""
        for i in 0..<500 { text += cliEvent.replacingOccurrences(of: "%ID%", with: "e\(i)") + "\n" }
        input.fileHandleForWriting.write(Data(text.utf8))
        Thread.sleep(forTimeInterval: 1.0)
        kill(p.processIdentifier, SIGTERM)
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        try? input.fileHandleForWriting.close()
        let stdout = String(decoding: outData, as: UTF8.self), stderr = String(decoding: errData, as: UTF8.self)
        XCTAssertEqual(stdout.split(separator: "\n").count, 500, stderr)
        XCTAssertTrue(stderr.contains("stopped early by a signal"), stderr)
        XCTAssertTrue(stderr.contains("alerts: 500"), stderr)
    }
}

final class BuiltinRulesLayeringTests: XCTestCase {
    func testBuiltinRulesCanBeLayeredWithOverrides() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("audithound-layer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = try runCLI(["rules", "list", "--format", "json"])
        let someRule = try XCTUnwrap(base.stdout.split(separator: "\n").first.flatMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }?["rule"] as? String)
        let override = dir.appendingPathComponent("o.yaml")
        try "- rule: \(someRule)\n  enabled: false\n".write(to: override, atomically: true, encoding: .utf8)
        let layered = try runCLI(["rules", "list", "--format", "json", "--rules", "builtin", "--rules", override.path])
        XCTAssertEqual(layered.status, 0, layered.stderr)
        let disabled = layered.stdout.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }.first { $0["rule"] as? String == someRule }
        XCTAssertEqual(disabled?["enabled"] as? Bool, false)
        XCTAssertEqual(base.stdout.split(separator: "\n").count, layered.stdout.split(separator: "\n").count)
    }
}

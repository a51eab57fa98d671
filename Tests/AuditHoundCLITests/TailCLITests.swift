import XCTest
import Foundation

/// `audithound tail` as a child process: kill -9 and restart from the checkpoint, SIGTERM, SIGHUP,
/// stdin, usage. Alerts go to files so that what a killed process emitted can still be read.
final class TailCLITests: XCTestCase {
    var dir = ""
    var rules = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "audithound-tail-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        rules = dir + "/rules.yaml"
        try Self.rules(name: "Every Event").write(toFile: rules, atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func testKillNineAndRestartLosesNothingAndRepeatsNothing() throws {
        let log = dir + "/audit.log"
        let checkpoint = dir + "/checkpoint"
        let args = ["tail", "--rules", rules, "--format", "json", "--checkpoint", checkpoint,
                    "--checkpoint-interval", "100ms", "--from-start", log]
        let writer = CLILogWriter(path: log)
        var runs: [TailChild] = [try TailChild(args, dir: dir)]
        XCTAssertTrue(waitUntil(5) { FileManager.default.fileExists(atPath: checkpoint) })
        var expected: [String] = []
        func alerted() -> [String] { runs.flatMap { $0.alertIDs() } }
        func catchUp() {
            XCTAssertTrue(waitUntil(15) { alerted().count >= expected.count }, "\(alerted().count) of \(expected.count)")
        }

        for i in 0..<3000 {
            expected.append(writer.append("k\(i)"))
            if i % 50 == 49 { usleep(5_000) }
            switch i {
            case 999, 2299:
                // Kill -9 once the alerts so far are out (the checkpoint may be older: the events since
                // are read again and their alerts suppressed).
                catchUp()
                if i == 2299 {
                    usleep(300_000)  // a checkpoint happens; then more alerts go to the journal only
                    for j in 0..<100 { expected.append(writer.append("j\(j)")) }
                    catchUp()
                }
                usleep(50_000)
                runs.last!.kill(SIGKILL)
                XCTAssertEqual(runs.last!.waitForExit(), 128 + SIGKILL)
            case 1500:
                // Rotation while nothing follows the file: found again by inode in its directory.
                writer.rotate(renamingTo: dir + "/audit-1.log")
            case 1700, 2400:
                runs.append(try TailChild(args, dir: dir))
            case 2700:
                writer.rotate(renamingTo: dir + "/audit-2.log")
            default:
                break
            }
        }
        writer.close()
        catchUp()
        usleep(300_000)
        runs.last!.kill(SIGTERM)
        XCTAssertEqual(runs.last!.waitForExit(), 0, runs.last!.stderr)

        let got = alerted()
        let counts = Dictionary(got.map { ($0, 1) }, uniquingKeysWith: +)
        XCTAssertEqual(counts.filter { $0.value > 1 }.keys.sorted(), [], "alerted twice")
        XCTAssertEqual(Set(got), Set(expected))
        XCTAssertEqual(got.count, expected.count)
        XCTAssertTrue(runs[1].stderr.contains("audit-1.log: resuming at byte"), runs[1].stderr)
    }

    func testSIGTERMSavesTheCheckpointAndARestartResumesThere() throws {
        let log = dir + "/audit.log"
        let checkpoint = dir + "/checkpoint"
        let args = ["tail", "--rules", rules, "--format", "json", "--checkpoint", checkpoint, log]
        let writer = CLILogWriter(path: log)
        for i in 0..<5 { writer.append("before-\(i)") }  // there before the first start: not read
        let first = try TailChild(args, dir: dir)
        XCTAssertTrue(waitUntil(5) { FileManager.default.fileExists(atPath: checkpoint) })
        var expected: [String] = []
        for i in 0..<100 { expected.append(writer.append("a\(i)")) }
        XCTAssertTrue(waitUntil(10) { first.alertIDs().count >= 100 })
        first.kill(SIGTERM)
        XCTAssertEqual(first.waitForExit(), 0, first.stderr)
        XCTAssertEqual(first.alertIDs(), expected)
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: log)[.size] as? Int)
        let text = try String(contentsOfFile: checkpoint, encoding: .utf8)
        XCTAssertTrue(text.contains(" \(size) 105 \(log)\n"), text)

        var later: [String] = []
        for i in 0..<50 { later.append(writer.append("b\(i)")) }
        let second = try TailChild(args, dir: dir)
        XCTAssertTrue(waitUntil(10) { second.alertIDs().count >= 50 })
        usleep(200_000)
        second.kill(SIGINT)
        XCTAssertEqual(second.waitForExit(), 0, second.stderr)
        XCTAssertEqual(second.alertIDs(), later)
        XCTAssertTrue(second.alertInputs().first?.hasSuffix("audit.log:106") ?? false, "\(second.alertInputs().prefix(1))")
    }

    func testStdinIsALiveStream() throws {
        let child = try TailChild(["tail", "--rules", rules, "--format", "json", "-"], dir: dir, stdinPipe: true)
        child.writeStdin(cliTailEvent("s0"))
        // Alerted while the pipe is still open.
        XCTAssertTrue(waitUntil(5) { child.alertIDs() == ["s0"] }, child.stderr)
        child.writeStdin(cliTailEvent("s1") + String(cliTailEvent("s2").dropLast()))  // the last line has no newline
        child.closeStdin()
        XCTAssertEqual(child.waitForExit(), 0, child.stderr)
        XCTAssertEqual(child.alertIDs(), ["s0", "s1", "s2"])
    }

    func testSIGHUPReloadsTheRulesAndKeepsThemWhenTheNewOnesAreBad() throws {
        let log = dir + "/audit.log"
        let writer = CLILogWriter(path: log)
        let child = try TailChild(["tail", "--rules", rules, "--format", "json", log], dir: dir)
        usleep(300_000)
        writer.append("e1")
        XCTAssertTrue(waitUntil(5) { child.alertIDs().count == 1 })
        try Self.rules(name: "Second Rule").write(toFile: rules, atomically: true, encoding: .utf8)
        child.kill(SIGHUP)
        XCTAssertTrue(waitUntil(5) { child.stderr.contains("rules reloaded") }, child.stderr)
        writer.append("e2")
        XCTAssertTrue(waitUntil(5) { child.alertIDs().count == 2 })
        try "- rule: Broken\n  desc: x\n  condition: ka.verb =\n  output: o\n  priority: WARNING\n".write(toFile: rules, atomically: true, encoding: .utf8)
        child.kill(SIGHUP)
        XCTAssertTrue(waitUntil(5) { child.stderr.contains("keeping the previous rules") }, child.stderr)
        XCTAssertTrue(child.stderr.contains(rules + ":3:"), child.stderr)
        writer.append("e3")
        XCTAssertTrue(waitUntil(5) { child.alertIDs().count == 3 })
        child.kill(SIGTERM)
        XCTAssertEqual(child.waitForExit(), 0)
        XCTAssertEqual(child.alertRules(), ["Every Event", "Second Rule", "Second Rule"])
    }

    func testStatsLinesAndGlobPickUpNewFiles() throws {
        let child = try TailChild(["tail", "--rules", rules, "--stats-interval", "200ms", dir + "/*.log"], dir: dir)
        usleep(300_000)
        let a = CLILogWriter(path: dir + "/a.log")
        let b = CLILogWriter(path: dir + "/b.log")
        a.append("a1")
        b.append("b1")
        XCTAssertTrue(waitUntil(5) { child.stdout.components(separatedBy: "\n").filter { !$0.isEmpty }.count == 2 }, child.stdout)
        XCTAssertTrue(waitUntil(5) { child.stderr.contains("alerts 2") && child.stderr.contains("files 2") }, child.stderr)
        child.kill(SIGTERM)
        XCTAssertEqual(child.waitForExit(), 0)
        XCTAssertTrue(child.stdout.contains("[Every Event] event a1"), child.stdout)
    }

    func testUsageErrors() throws {
        XCTAssertEqual(try TailChild(["tail", "--help"], dir: dir).waitForExit(), 0)
        XCTAssertEqual(try TailChild(["tail"], dir: dir).waitForExit(), 2)
        XCTAssertEqual(try TailChild(["tail", "--stats-interval", "soon", "x.log"], dir: dir).waitForExit(), 2)
        XCTAssertEqual(try TailChild(["tail", "-", "x.log"], dir: dir).waitForExit(), 2)
        XCTAssertEqual(try TailChild(["tail", "--checkpoint", dir + "/cp", "-"], dir: dir).waitForExit(), 2)
        XCTAssertEqual(try TailChild(["tail", "--rules", dir + "/missing.yaml", "x.log"], dir: dir).waitForExit(), 1)
        try "nonsense\n".write(toFile: dir + "/cp", atomically: true, encoding: .utf8)
        let damaged = try TailChild(["tail", "--checkpoint", dir + "/cp", dir + "/x.log"], dir: dir)
        XCTAssertEqual(damaged.waitForExit(), 1)
        XCTAssertTrue(damaged.stderr.contains("not an audithound tail checkpoint"), damaged.stderr)
    }

    // MARK: Helpers

    static func rules(name: String) -> String {
        """
        - rule: \(name)
          desc: fires on every event
          condition: ka.verb exists
          output: event %ka.auditid
          priority: WARNING
        """
    }

    func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }
}

func cliTailEvent(_ id: String) -> String {
    "{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"level\":\"Metadata\",\"auditID\":\"\(id)\",\"stage\":\"ResponseComplete\",\"requestURI\":\"/api/v1/pods\",\"verb\":\"get\",\"user\":{\"username\":\"u\"},\"stageTimestamp\":\"2026-11-23T10:00:00.000000Z\"}\n"
}

/// The built `audithound` binary, next to the test bundle.
func tailTestBinary() throws -> URL {
    var directory = Bundle(for: TailCLITests.self).bundleURL
    for _ in 0..<3 {
        let candidate = directory.appendingPathComponent("audithound")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        directory = directory.deletingLastPathComponent()
    }
    throw XCTSkip("audithound binary not built next to the tests")
}

/// A log writer holding its file open with O_APPEND, like the API server.
final class CLILogWriter {
    let path: String
    private var fd: CInt

    init(path: String) {
        self.path = path
        self.fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
    }

    @discardableResult
    func append(_ id: String) -> String {
        let line = cliTailEvent(id)
        _ = line.withCString { write(self.fd, $0, strlen($0)) }
        return id
    }

    func rotate(renamingTo newPath: String) {
        Glibc.close(self.fd)
        rename(self.path, newPath)
        self.fd = open(self.path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
    }

    func close() {
        Glibc.close(self.fd)
    }
}

/// `audithound` running as a child, stdout and stderr going to files.
final class TailChild {
    let process = Process()
    let outPath: String
    let errPath: String
    private var input: Pipe?

    init(_ arguments: [String], dir: String, stdinPipe: Bool = false) throws {
        let id = UUID().uuidString
        self.outPath = dir + "/out-\(id)"
        self.errPath = dir + "/err-\(id)"
        _ = FileManager.default.createFile(atPath: self.outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: self.errPath, contents: nil)
        self.process.executableURL = try tailTestBinary()
        self.process.arguments = arguments
        self.process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: self.outPath))
        self.process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: self.errPath))
        if stdinPipe {
            let pipe = Pipe()
            self.input = pipe
            self.process.standardInput = pipe
        } else {
            self.process.standardInput = FileHandle.nullDevice
        }
        try self.process.run()
    }

    deinit {
        if self.process.isRunning {
            Glibc.kill(self.process.processIdentifier, SIGKILL)
            self.process.waitUntilExit()
        }
    }

    var stdout: String { (try? String(contentsOfFile: self.outPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: self.errPath, encoding: .utf8)) ?? "" }

    /// The JSON alerts written so far (complete lines only).
    private func alerts() -> [[String: Any]] {
        let text = self.stdout
        var lines = text.components(separatedBy: "\n")
        lines.removeLast()  // empty, or a line still being written
        return lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func alertIDs() -> [String] { self.alerts().compactMap { $0["audit_id"] as? String } }
    func alertRules() -> [String] { self.alerts().compactMap { $0["rule"] as? String } }
    func alertInputs() -> [String] { self.alerts().compactMap { $0["input"] as? String } }

    func kill(_ signal: CInt) {
        Glibc.kill(self.process.processIdentifier, signal)
    }

    func writeStdin(_ text: String) {
        self.input?.fileHandleForWriting.write(Data(text.utf8))
    }

    func closeStdin() {
        try? self.input?.fileHandleForWriting.close()
    }

    /// Waits (up to 20 s) and returns the exit status (128 + signal when killed by a signal).
    func waitForExit() -> Int32 {
        let deadline = Date().addingTimeInterval(20)
        while self.process.isRunning && Date() < deadline { usleep(10_000) }
        if self.process.isRunning {
            XCTFail("audithound tail did not exit")
            Glibc.kill(self.process.processIdentifier, SIGKILL)
        }
        self.process.waitUntilExit()
        return self.process.terminationReason == .uncaughtSignal ? 128 + self.process.terminationStatus : self.process.terminationStatus
    }
}

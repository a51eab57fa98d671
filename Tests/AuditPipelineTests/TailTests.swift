import XCTest
import Foundation
import AuditInput
import AuditRules
import AuditPipeline

/// `TailRunner` and `TailFollower` against real files, with a writer appending at a steady rate while
/// the files are rotated, truncated, deleted and re-created. Every case checks that the auditIDs
/// alerted on are exactly the ones written: nothing lost, nothing twice.
final class TailTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "audithound-tail-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    // MARK: Rotation and friends

    func testRenameRotationLiteralPath() throws {
        let log = dir + "/audit.log"
        let tail = try TailHarness(config(paths: [log]))
        let writer = TailLogWriter(path: log)
        var expected: [String] = []
        for i in 0..<1500 {
            expected.append(writer.append("r\(i)"))
            if i % 500 == 499 { writer.rotate(renamingTo: log + ".\(i / 500)") }
            pace(i)
        }
        writer.close()
        tail.assertAlerts(equal: expected)
        // A rotated file is read to its end before the new one: the order is the order written.
        XCTAssertEqual(tail.ids, expected)
        // Rotated files are closed once read to their end and quiet.
        let closed = tail.waitUntil(seconds: 5) { tail.notices.filter { $0.contains("closed") }.count >= 3 }
        XCTAssertTrue(closed, tail.notices.joined(separator: "\n"))
        tail.stop()
    }

    func testRotatedFileIsReadToItsEndBeforeTheNewOne() throws {
        // The tail is behind when the rotation happens (polling, small batches): the rest of the
        // rotated file still comes before the new file's lines.
        let log = dir + "/audit.log"
        var c = config(paths: [log])
        c.follow.useInotify = false
        c.follow.pollIntervalMilliseconds = 300
        c.follow.batchSize = 1024
        let tail = try TailHarness(c)
        let writer = TailLogWriter(path: log)
        var expected = [writer.append("old-first")]
        tail.waitForCount(1)  // the old file is open
        for i in 0..<100 { expected.append(writer.append("old-\(i)")) }
        writer.rotate(renamingTo: log + ".1")
        for i in 0..<100 { expected.append(writer.append("new-\(i)")) }
        writer.close()
        tail.assertAlerts(equal: expected)
        XCTAssertEqual(tail.ids, expected)
        tail.stop()
    }

    func testRenameRotationWithGlobKeepsFollowingTheRenamedFile() throws {
        let tail = try TailHarness(config(paths: [dir + "/*.log"]))
        let writer = TailLogWriter(path: dir + "/audit.log")
        var expected: [String] = []
        for i in 0..<1200 {
            expected.append(writer.append("g\(i)"))
            // The API server's own names: audit-<timestamp>.log, which still matches *.log.
            if i % 400 == 399 { writer.rotate(renamingTo: dir + "/audit-2026-11-23T10-0\(i / 400).log") }
            pace(i)
        }
        writer.close()
        tail.assertAlerts(equal: expected)
        let report = tail.stop()
        XCTAssertEqual(report.alerts, expected.count)
    }

    func testCopyTruncateWithTheCopiesMatched() throws {
        // logrotate copytruncate: the copy (audit.log.1) matches too, so lines the tail had not read
        // before the truncation come from the copy, and the lines it had read are not alerted twice.
        let log = dir + "/audit.log"
        let tail = try TailHarness(config(paths: [log + "*"]))
        let writer = TailLogWriter(path: log)
        var expected: [String] = []
        for i in 0..<1500 {
            expected.append(writer.append("c\(i)"))
            if i % 500 == 499 { copyTruncate(log, to: log + ".\(i / 500)") }
            pace(i)
        }
        writer.close()
        tail.assertAlerts(equal: expected)
        tail.stop()
    }

    func testCopyTruncateLiteralPathStartsAgainFromZero() throws {
        let log = dir + "/audit.log"
        let tail = try TailHarness(config(paths: [log]))
        let writer = TailLogWriter(path: log)
        var expected: [String] = []
        for round in 0..<3 {
            for i in 0..<300 {
                expected.append(writer.append("t\(round)-\(i)"))
                pace(i)
            }
            // Let the tail catch up (tail -F loses what it had not read at the truncation, too).
            tail.waitForCount(expected.count)
            copyTruncate(log, to: dir + "/copy.\(round)")
        }
        writer.close()
        tail.assertAlerts(equal: expected)
        XCTAssertTrue(tail.notices.contains { $0.contains("truncated") }, tail.notices.joined(separator: "\n"))
        tail.stop()
    }

    func testTruncatedAndRewrittenPastTheOldOffsetIsNoticedByFingerprint() throws {
        // Polling, so the rewrite happens before the follower looks: the file is then longer than the
        // old offset, and only its changed first bytes tell that it was rewritten.
        let log = dir + "/audit.log"
        var c = config(paths: [log])
        c.follow.useInotify = false
        c.follow.pollIntervalMilliseconds = 300
        let tail = try TailHarness(c)
        let writer = TailLogWriter(path: log)
        var expected: [String] = []
        for i in 0..<20 { expected.append(writer.append("before-\(i)")) }
        tail.waitForCount(expected.count)
        var burst: [String] = []
        for i in 0..<60 { burst.append(tailEvent("after-\(i)")) }
        // Truncate and write more than before in one go, between two polls.
        let fd = open(log, O_WRONLY | O_TRUNC)
        _ = burst.joined().withCString { write(fd, $0, strlen($0)) }
        close(fd)
        expected += (0..<60).map { "after-\($0)" }
        writer.close()
        tail.assertAlerts(equal: expected)
        XCTAssertTrue(tail.notices.contains { $0.contains("truncated or rewritten") }, tail.notices.joined(separator: "\n"))
        tail.stop()
    }

    func testDeletionAndRecreation() throws {
        let log = dir + "/audit.log"
        var c = config(paths: [log])
        c.follow.rescanIntervalMilliseconds = 200
        let tail = try TailHarness(c)
        let writer = TailLogWriter(path: log)
        var expected: [String] = []
        for i in 0..<400 {
            expected.append(writer.append("d\(i)"))
            pace(i)
        }
        // Deleted while the writer still holds it: what it writes now is read through the open file.
        unlink(log)
        for i in 0..<100 { expected.append(writer.append("deleted-\(i)")) }
        writer.reopen()
        for i in 0..<400 {
            expected.append(writer.append("new-\(i)"))
            pace(i)
        }
        writer.close()
        tail.assertAlerts(equal: expected)
        tail.stop()
    }

    func testFileAndDirectoryThatDoNotExistYet() throws {
        let sub = dir + "/later/audit"
        let log = sub + "/audit.log"
        let tail = try TailHarness(config(paths: [log]))
        Thread.sleep(forTimeInterval: 0.3)
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
        let writer = TailLogWriter(path: log)
        var expected: [String] = []
        for i in 0..<300 {
            expected.append(writer.append("n\(i)"))
            pace(i)
        }
        writer.close()
        tail.assertAlerts(equal: expected)
        tail.stop()
    }

    func testPollingWithoutInotify() throws {
        let log = dir + "/audit.log"
        var c = config(paths: [log])
        c.follow.useInotify = false
        let tail = try TailHarness(c)
        let writer = TailLogWriter(path: log)
        var expected: [String] = []
        for i in 0..<600 {
            expected.append(writer.append("p\(i)"))
            if i == 299 { writer.rotate(renamingTo: log + ".1") }
            pace(i)
        }
        writer.close()
        tail.assertAlerts(equal: expected)
        tail.stop()
    }

    func testManyFilesThroughAGlobIncludingNewOnes() throws {
        let tail = try TailHarness(config(paths: [dir + "/node-*.log"]))
        var writers = (0..<12).map { TailLogWriter(path: dir + "/node-\($0).log") }
        var expected: [String] = []
        for i in 0..<1200 {
            if i == 600 {
                // More files appear while following.
                writers += (12..<24).map { TailLogWriter(path: dir + "/node-\($0).log") }
            }
            let w = i % writers.count
            expected.append(writers[w].append("m\(w)-\(i)"))
            pace(i)
        }
        writers.forEach { $0.close() }
        tail.assertAlerts(equal: expected)
        let report = tail.stop()
        XCTAssertEqual(report.events, expected.count)
    }

    // MARK: Lines

    func testPartialLineIsHeldUntilItsNewline() throws {
        let log = dir + "/audit.log"
        tailAppend(log, [])
        let tail = try TailHarness(config(paths: [log]))
        Thread.sleep(forTimeInterval: 0.2)
        let line = tailEvent("partial")
        let cut = line.utf8.count / 2
        tailAppend(log, Array(line.utf8.prefix(cut)))
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertEqual(tail.ids, [])
        XCTAssertEqual(tail.malformed, [])
        // The rest, plus a CRLF line and blank lines.
        let start = Date()
        tailAppend(log, Array(line.utf8.dropFirst(cut)) + Array("\n  \n".utf8) + Array(tailEvent("crlf").dropLast().utf8) + [13, 10])
        tail.waitForCount(2)
        let latency = Date().timeIntervalSince(start)
        XCTAssertLessThan(latency, 0.25 * 4, "write-to-alert delay \(latency) s")  // 250 ms target, slack for CI
        XCTAssertEqual(tail.ids, ["partial", "crlf"])
        XCTAssertEqual(tail.malformed, [])
        tail.stop()
    }

    func testStartsAtTheEndOrFromTheStart() throws {
        let log = dir + "/audit.log"
        tailAppend(log, Array((tailEvent("old-1") + tailEvent("old-2")).utf8) + Array("{\"kind\":\"Ev".utf8))
        let atEnd = try TailHarness(config(paths: [log]))
        Thread.sleep(forTimeInterval: 0.2)
        // The partial line present at start is completed and read; the complete ones are not.
        tailAppend(log, Array("ent\",\"auditID\":\"was-partial\",\"verb\":\"get\",\"stage\":\"ResponseComplete\"}\n".utf8))
        atEnd.assertAlerts(equal: ["was-partial"])
        atEnd.stop()

        var c = config(paths: [log])
        c.start = .beginning
        let fromStart = try TailHarness(c)
        fromStart.assertAlerts(equal: ["old-1", "old-2", "was-partial"])
        XCTAssertEqual(fromStart.inputs, ["\(log):1", "\(log):2", "\(log):3"])
        fromStart.stop()
    }

    func testOversizedLineIsSkippedAndFollowingLinesRead() throws {
        let log = dir + "/audit.log"
        tailAppend(log, [])
        var c = config(paths: [log])
        c.follow.maxRecordSize = 2000
        c.follow.batchSize = 1024
        let tail = try TailHarness(c)
        Thread.sleep(forTimeInterval: 0.2)
        tailAppend(log, Array(tailEvent("small-1").utf8))
        for _ in 0..<10 {
            tailAppend(log, [UInt8](repeating: UInt8(ascii: "x"), count: 700))
            Thread.sleep(forTimeInterval: 0.02)
        }
        tailAppend(log, Array(("\n" + tailEvent("small-2")).utf8))
        tail.assertAlerts(equal: ["small-1", "small-2"], malformed: 1)
        XCTAssertEqual(tail.malformed.count, 1)
        XCTAssertTrue(tail.malformed.first?.contains("record of 7000 bytes exceeds") ?? false, "\(tail.malformed)")
        tail.stop()
    }

    // MARK: Checkpoints

    func testCheckpointResumesAcrossARestartAndARotationWhileStopped() throws {
        let log = dir + "/audit.log"
        var c = config(paths: [log])
        c.checkpointPath = dir + "/checkpoint"
        let writer = TailLogWriter(path: log)
        var expected: [String] = []
        let first = try TailHarness(c)
        for i in 0..<300 {
            expected.append(writer.append("a\(i)"))
            pace(i)
        }
        first.assertAlerts(equal: expected)
        first.stop()
        let saved = try XCTUnwrap(TailCheckpoint.load(path: dir + "/checkpoint"))
        XCTAssertEqual(saved.positions.count, 1)
        XCTAssertEqual(saved.positions.first?.line, 300)

        // While nothing follows: more lines, then a rotation, then lines in the new file.
        var missed: [String] = []
        for i in 0..<100 { missed.append(writer.append("b\(i)")) }
        writer.rotate(renamingTo: dir + "/audit-old.log")
        for i in 0..<100 { missed.append(writer.append("c\(i)")) }

        let second = try TailHarness(c)
        second.assertAlerts(equal: missed)
        XCTAssertTrue(second.notices.contains { $0.contains("audit-old.log: resuming at byte") }, second.notices.joined(separator: "\n"))
        for i in 0..<100 {
            missed.append(writer.append("d\(i)"))
            pace(i)
        }
        writer.close()
        second.assertAlerts(equal: missed)
        second.stop()
    }

    func testAlertsDerivedAgainAfterACrashAreSuppressedByTheJournal() throws {
        // A crash is simulated by putting back the checkpoint and journal as they were on disk while
        // the first run was still going; the second run reads the same events again.
        let log = dir + "/audit.log"
        let checkpoint = dir + "/checkpoint"
        var c = config(paths: [log])
        c.checkpointPath = checkpoint
        c.checkpointIntervalMilliseconds = 3_600_000  // only the checkpoint at start
        c.start = .beginning
        let writer = TailLogWriter(path: log)
        var expected: [String] = []
        for i in 0..<50 { expected.append(writer.append("k\(i)")) }
        let first = try TailHarness(c)
        first.assertAlerts(equal: expected)
        let checkpointAtCrash = try Data(contentsOf: URL(fileURLWithPath: checkpoint))
        let journalAtCrash = try Data(contentsOf: URL(fileURLWithPath: checkpoint + ".journal"))
        XCTAssertEqual(journalAtCrash.count, 50 * 8)
        first.stop()
        try checkpointAtCrash.write(to: URL(fileURLWithPath: checkpoint))
        try journalAtCrash.write(to: URL(fileURLWithPath: checkpoint + ".journal"))
        XCTAssertEqual(try TailCheckpoint.load(path: checkpoint)?.positions.first?.offset, 0)

        let second = try TailHarness(c)
        var more: [String] = []
        for i in 0..<50 { more.append(writer.append("l\(i)")) }
        second.assertAlerts(equal: more)
        let report = second.stop()
        XCTAssertEqual(report.duplicatesSuppressed, 50)
        XCTAssertEqual(report.events, 100)
    }

    func testCheckpointEntryWithAnotherFingerprintIsANewFile() throws {
        // Same device and inode (inode reuse) but other first bytes: the file is read from the start.
        let log = dir + "/audit.log"
        let writer = TailLogWriter(path: log)
        var expected: [String] = []
        for i in 0..<10 { expected.append(writer.append("f\(i)")) }
        writer.close()
        var info = stat()
        XCTAssertEqual(stat(log, &info), 0)
        let identity = FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), fingerprintLength: 256, fingerprint: 12345)
        try TailCheckpoint(positions: [TailPosition(identity: identity, path: log, offset: Int64(info.st_size), line: 10)], alertKeys: [])
            .save(path: dir + "/checkpoint")
        var c = config(paths: [log])
        c.checkpointPath = dir + "/checkpoint"
        let tail = try TailHarness(c)
        tail.assertAlerts(equal: expected)
        tail.stop()

        // With the right fingerprint it resumes at the offset: nothing is read again.
        let fd = open(log, O_RDONLY)
        let real = try XCTUnwrap(FileIdentity(descriptor: fd))
        XCTAssertTrue(real.matches(descriptor: fd))
        close(fd)
        XCTAssertEqual(real.fingerprintLength, 256)
        try TailCheckpoint(positions: [TailPosition(identity: real, path: log, offset: Int64(info.st_size), line: 10)], alertKeys: [])
            .save(path: dir + "/checkpoint")
        let resumed = try TailHarness(c)
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertEqual(resumed.ids, [])
        resumed.stop()
    }

    func testCheckpointFormatRoundTripsAndRejectsDamage() throws {
        let identity = FileIdentity(device: 2049, inode: 77, fingerprintLength: 256, fingerprint: 0xdead_beef_0123_4567)
        let odd = dir + "/a dir/50% done\nnew.log"
        let checkpoint = TailCheckpoint(
            positions: [TailPosition(identity: identity, path: odd, offset: 123_456, line: 789),
                        TailPosition(identity: FileIdentity(device: 1, inode: 2, fingerprintLength: 0, fingerprint: 0), path: "/x", offset: 0, line: 0)],
            alertKeys: [1, .max, 0x1234])
        let path = dir + "/cp"
        try checkpoint.save(path: path)
        XCTAssertEqual(try TailCheckpoint.load(path: path), checkpoint)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".tmp"))
        XCTAssertNil(try TailCheckpoint.load(path: dir + "/missing"))

        let text = try String(contentsOfFile: path, encoding: .utf8)
        try text.replacingOccurrences(of: "123456", with: "12x456").write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TailCheckpoint.load(path: path)) { error in
            XCTAssertTrue("\(error)".contains("line 2 is damaged"), "\(error)")
        }
        try "something else\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TailCheckpoint.load(path: path))
        // A runner refuses a damaged checkpoint instead of starting over silently.
        var c = config(paths: [dir + "/audit.log"])
        c.checkpointPath = path
        let runner = TailRunner(configuration: c, ruleSet: try Self.ruleSet(), emit: { _ in }, diagnostic: { _ in })
        XCTAssertThrowsError(try runner.run())
    }

    func testAlertKeyWindowRemembersTheMostRecentKeys() {
        var window = AlertKeyWindow(capacity: 3)
        XCTAssertTrue(window.insert(1))
        XCTAssertFalse(window.insert(1))
        XCTAssertTrue(window.insert(2))
        XCTAssertTrue(window.insert(3))
        XCTAssertTrue(window.insert(4))  // evicts 1
        XCTAssertEqual(window.recent(10), [2, 3, 4])
        XCTAssertEqual(window.recent(2), [3, 4])
        XCTAssertTrue(window.insert(1))
        XCTAssertFalse(window.insert(4))
        XCTAssertEqual(window.recent(3), [3, 4, 1])
        let a = Alert(rule: "R", priority: .warning, time: 0, message: "", outputFields: [], tags: [], auditID: "x", input: "")
        var b = a
        b.rule = "S"
        XCTAssertNotEqual(AlertKeyWindow.key(for: a), AlertKeyWindow.key(for: b))
        b.auditID = ""
        XCTAssertNil(AlertKeyWindow.key(for: b))
    }

    func testRuleReloadSwapsRules() throws {
        let log = dir + "/audit.log"
        tailAppend(log, [])
        let other = """
        - rule: Gets Only
          desc: t
          condition: ka.verb = get
          output: get %ka.auditid
          priority: NOTICE
        """
        var reloads = [try Self.ruleSet(other), nil]
        let tail = try TailHarness(config(paths: [log]), reload: { reloads.removeFirst() })
        Thread.sleep(forTimeInterval: 0.2)
        tailAppend(log, Array(tailEvent("before").utf8))
        tail.waitForCount(1)
        tail.runner.requestReload()
        XCTAssertTrue(tail.waitUntil(seconds: 3) { tail.notices.contains { $0.contains("rules reloaded (1 rules)") } })
        tailAppend(log, Array((tailEvent("listed", verb: "list") + tailEvent("got")).utf8))
        tail.waitForCount(2)
        // A failed reload keeps the rules in force.
        tail.runner.requestReload()
        XCTAssertTrue(tail.waitUntil(seconds: 3) { tail.notices.contains { $0.contains("keeping the previous rules") } })
        tailAppend(log, Array((tailEvent("listed-2", verb: "list") + tailEvent("got-2")).utf8))
        tail.assertAlerts(equal: ["before", "got", "got-2"])
        XCTAssertEqual(tail.rules.last, "Gets Only")
        XCTAssertEqual(tail.stop().reloads, 1)
    }

    func testIdleFollowerDoesNotSpin() throws {
        let log = dir + "/audit.log"
        tailAppend(log, [])
        let follower = TailFollower(patterns: [TailPattern(log)])
        follower.start(at: .end, resume: nil)
        XCTAssertTrue(follower.usesInotify)
        var before = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &before)
        let start = Date()
        XCTAssertNil(follower.nextBatch(timeoutMilliseconds: 1000))
        let waited = Date().timeIntervalSince(start)
        var after = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &after)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        let cpu = seconds(after.ru_utime) + seconds(after.ru_stime) - seconds(before.ru_utime) - seconds(before.ru_stime)
        XCTAssertGreaterThan(waited, 0.9)
        XCTAssertLessThan(cpu, 0.05, "an idle wait of 1 s used \(cpu) s of CPU")
        // And a write wakes it at once.
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.1) { tailAppend(log, Array(tailEvent("wake").utf8)) }
        let woke = Date()
        let batch = follower.nextBatch(timeoutMilliseconds: 5000)
        XCTAssertEqual(batch?.batch.records.count, 1)
        XCTAssertLessThan(Date().timeIntervalSince(woke), 0.5)
        XCTAssertEqual(follower.positions.first?.line, 1)
    }

    // MARK: Helpers

    func config(paths: [String]) -> TailConfiguration {
        var c = TailConfiguration(paths: paths)
        c.follow.retireAfterMilliseconds = 300
        return c
    }

    static let everyEventRules = """
    - rule: Every Event
      desc: fires on every event
      condition: ka.verb exists
      output: event %ka.auditid
      priority: WARNING
    """

    static func ruleSet(_ text: String = everyEventRules) throws -> CompiledRuleSet {
        let loaded = RuleCompiler.load([RuleFile(path: "tail-test.yaml", text: text)])
        return try XCTUnwrap(loaded.ruleSet, "\(loaded.diagnostics)")
    }

    /// Pauses now and then so that the writer runs at a steady rate (about 2 lines per ms).
    func pace(_ i: Int) {
        if i % 20 == 19 { usleep(10_000) }
    }

    func copyTruncate(_ path: String, to copy: String) {
        let data = FileManager.default.contents(atPath: path) ?? Data()
        _ = FileManager.default.createFile(atPath: copy, contents: data)
        truncate(path, 0)
    }
}

/// One audit event line (with its newline) with the given auditID.
func tailEvent(_ id: String, verb: String = "get") -> String {
    "{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"level\":\"Metadata\",\"auditID\":\"\(id)\",\"stage\":\"ResponseComplete\",\"requestURI\":\"/api/v1/pods\",\"verb\":\"\(verb)\",\"user\":{\"username\":\"u\"},\"objectRef\":{\"resource\":\"pods\",\"namespace\":\"ns\",\"name\":\"p\",\"apiVersion\":\"v1\"},\"stageTimestamp\":\"2026-11-23T10:00:00.000000Z\"}\n"
}

/// Appends bytes with one write (O_APPEND), creating the file.
func tailAppend(_ path: String, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
    precondition(fd >= 0, "cannot open \(path)")
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

/// A log writer that keeps its file open (O_APPEND), like the API server.
final class TailLogWriter {
    let path: String
    private var fd: CInt

    init(path: String) {
        self.path = path
        self.fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
    }

    /// Writes one event line and returns its auditID.
    @discardableResult
    func append(_ id: String) -> String {
        let line = tailEvent(id)
        _ = line.withCString { write(self.fd, $0, strlen($0)) }
        return id
    }

    /// The API server's rotation: close, rename, start a new file.
    func rotate(renamingTo newPath: String) {
        Glibc.close(self.fd)
        rename(self.path, newPath)
        self.fd = open(self.path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
    }

    /// Opens the path again (after it was deleted).
    func reopen() {
        Glibc.close(self.fd)
        self.fd = open(self.path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
    }

    func close() {
        if self.fd >= 0 { Glibc.close(self.fd) }
        self.fd = -1
    }
}

/// A `TailRunner` on its own thread, collecting alerts and diagnostics.
final class TailHarness: @unchecked Sendable {
    let runner: TailRunner
    private let lock = NSLock()
    private var alerts: [Alert] = []
    private var diagnostics: [String] = []
    private var report: TailReport?
    private var failure: Error?
    private let done = DispatchSemaphore(value: 0)

    init(_ configuration: TailConfiguration, reload: (() -> CompiledRuleSet?)? = nil) throws {
        let ruleSet = try TailTests.ruleSet()
        var runner: TailRunner!
        let lock = self.lock
        weak var weakSelf: TailHarness?
        runner = TailRunner(
            configuration: configuration, ruleSet: ruleSet,
            emit: { alerts in
                lock.lock()
                weakSelf?.alerts += alerts
                lock.unlock()
            },
            diagnostic: { line in
                lock.lock()
                weakSelf?.diagnostics.append(line)
                lock.unlock()
            },
            reloadRules: reload)
        self.runner = runner
        weakSelf = self
        let thread = Thread { [self] in
            do {
                let report = try self.runner.run()
                self.lock.lock()
                self.report = report
                self.lock.unlock()
            } catch {
                self.lock.lock()
                self.failure = error
                self.lock.unlock()
            }
            self.done.signal()
        }
        thread.start()
        // Let the initial scan happen before the test writes.
        Thread.sleep(forTimeInterval: 0.3)
    }

    var ids: [String] { self.lock.withLock { self.alerts.map(\.auditID) } }
    var rules: [String] { self.lock.withLock { self.alerts.map(\.rule) } }
    var inputs: [String] { self.lock.withLock { self.alerts.map(\.input) } }
    var notices: [String] { self.lock.withLock { self.diagnostics } }
    var malformed: [String] { self.notices.filter { $0.hasPrefix("malformed") } }

    /// Polls `condition` every 10 ms for up to `seconds`.
    func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return condition()
    }

    func waitForCount(_ count: Int, seconds: Double = 30) {
        _ = self.waitUntil(seconds: seconds) { self.ids.count >= count }
    }

    /// Waits for the alerts to reach `expected`, then checks: same auditIDs, each once (order aside).
    func assertAlerts(equal expected: [String], malformed: Int = 0, file: StaticString = #filePath, line: UInt = #line) {
        self.waitForCount(expected.count)
        Thread.sleep(forTimeInterval: 0.15)  // anything extra would show up now
        let got = self.ids
        let counts = Dictionary(got.map { ($0, 1) }, uniquingKeysWith: +)
        let doubled = counts.filter { $0.value > 1 }.keys.sorted()
        XCTAssertEqual(doubled, [], "alerted more than once", file: file, line: line)
        let missing = Set(expected).subtracting(got)
        XCTAssertEqual(missing.count, 0, "lost \(missing.count): \(missing.sorted().prefix(10)); notices: \(self.notices.suffix(20))", file: file, line: line)
        let extra = Set(got).subtracting(expected)
        XCTAssertEqual(extra.count, 0, "unexpected: \(extra.sorted().prefix(10))", file: file, line: line)
        XCTAssertEqual(got.count, expected.count, file: file, line: line)
        XCTAssertEqual(self.malformed.count, malformed, "\(self.malformed)", file: file, line: line)
    }

    /// Stops the runner and returns its report.
    @discardableResult
    func stop() -> TailReport {
        self.runner.stop()
        XCTAssertEqual(self.done.wait(timeout: .now() + 10), .success, "the runner did not stop")
        return self.lock.withLock {
            if let failure = self.failure { XCTFail("run failed: \(failure)") }
            return self.report ?? TailReport()
        }
    }
}

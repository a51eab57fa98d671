import XCTest
#if canImport(FoundationXML)
import FoundationXML
#endif

/// One event for the replay-feature CLI tests: a denied request by `user` at `time`.
func reportEvent(id: String, time: String, user: String = "mallory", verb: String = "get", namespace: String = "default") -> String {
    let quotedUser = String(decoding: try! JSONSerialization.data(withJSONObject: [user]), as: UTF8.self).dropFirst().dropLast()
    return cliEvent.replacingOccurrences(of: "%ID%", with: id)
        .replacingOccurrences(of: #""username":"mallory""#, with: "\"username\":\(quotedUser)")
        .replacingOccurrences(of: #""verb":"get""#, with: "\"verb\":\"\(verb)\"")
        .replacingOccurrences(of: #""namespace":"default""#, with: "\"namespace\":\"\(namespace)\"")
        .replacingOccurrences(of: "2026-11-23T10:00:00.000000Z", with: time)
        .replacingOccurrences(of: "2026-11-23T10:00:00.500000Z", with: time)
}

final class ReportCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("audithound-report-\(UUID().uuidString)")
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

    func jsonLines(_ stdout: String) -> [[String: Any]] {
        stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// Two logs over the same minute: a at even seconds, b at odd seconds.
    func overlappingLogs() throws -> (String, String) {
        var a = "", b = ""
        for s in 0..<30 {
            let line = reportEvent(id: "\(s % 2 == 0 ? "a" : "b")\(s)", time: String(format: "2026-11-23T10:00:%02d.000000Z", s)) + "\n"
            if s % 2 == 0 { a += line } else { b += line }
        }
        return (try write("a.log", a), try write("b.log", b))
    }

    func testSortTimeInterleavesFilesIdenticallyForOneAndFourWorkers() throws {
        let rules = try write("rules.yaml", cliRules)
        let (a, b) = try overlappingLogs()
        let byInput = try runCLI(["replay", "--rules", rules, "--format", "json", "--quiet", a, b])
        XCTAssertEqual(byInput.status, 0, byInput.stderr)
        XCTAssertEqual(jsonLines(byInput.stdout).compactMap { $0["audit_id"] as? String }.prefix(2), ["a0", "a2"], "default: input order")
        var outputs: [String] = []
        for workers in ["1", "4"] {
            let r = try runCLI(["replay", "--rules", rules, "--format", "json", "--quiet", "--sort", "time", "--workers", workers, a, b])
            XCTAssertEqual(r.status, 0, r.stderr)
            let ids = jsonLines(r.stdout).compactMap { $0["audit_id"] as? String }
            XCTAssertEqual(ids, (0..<30).map { "\($0 % 2 == 0 ? "a" : "b")\($0)" }, "workers \(workers)")
            outputs.append(r.stdout)
        }
        XCTAssertEqual(outputs[0], outputs[1])
    }

    func testSortTimeKeepsStatefulAlertsAndEveryAlert() throws {
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("samples/audit.log").path
        guard FileManager.default.fileExists(atPath: sample) else { throw XCTSkip("samples/audit.log not present") }
        let input = try runCLI(["replay", "--format", "json", "--quiet", sample])
        let sorted = try runCLI(["replay", "--format", "json", "--quiet", "--sort", "time", "--workers", "3", sample])
        XCTAssertEqual(input.status, 0, input.stderr)
        XCTAssertEqual(sorted.status, 0, sorted.stderr)
        let a = input.stdout.split(separator: "\n"), s = sorted.stdout.split(separator: "\n")
        XCTAssertEqual(a.sorted(), s.sorted(), "the same alerts, only reordered")
        XCTAssertTrue(s.contains { $0.contains("\"evidence\":") }, "stateful-rule alerts are included")
        let times = jsonLines(sorted.stdout).compactMap { (($0["output_fields"] as? [String: Any])?["evt.time"] as? NSNumber)?.int64Value }
        XCTAssertEqual(times.count, s.count)
        XCTAssertEqual(times, times.sorted())
    }

    func testNarrowingFlagsAndSummary() throws {
        let rules = try write("rules.yaml", cliRules)
        let log = try write("n.log", [
            reportEvent(id: "1", time: "2026-11-23T10:00:00.000000Z", user: "mallory", verb: "get", namespace: "default"),
            reportEvent(id: "2", time: "2026-11-23T10:00:05.000000Z", user: "malcolm", verb: "list", namespace: "prod"),
            reportEvent(id: "3", time: "2026-11-23T10:00:10.000000Z", user: "bob", verb: "get", namespace: "prod"),
            reportEvent(id: "4", time: "2026-11-23T10:00:15.000000Z", user: "system:node:n1", verb: "watch", namespace: "prod"),
        ].joined(separator: "\n") + "\n")
        func ids(_ extra: [String]) throws -> [String] {
            let r = try runCLI(["replay", "--rules", rules, "--format", "json"] + extra + [log])
            XCTAssertEqual(r.status, 0, r.stderr)
            return jsonLines(r.stdout).compactMap { $0["audit_id"] as? String }
        }
        XCTAssertEqual(try ids(["--user", "mal*"]), ["1", "2"])
        XCTAssertEqual(try ids(["--user", "bob,system:node:n1"]), ["3", "4"])
        XCTAssertEqual(try ids(["--namespace", "prod", "--verb", "get", "--verb", "watch"]), ["3", "4"])
        XCTAssertEqual(try ids(["--resource", "secrets", "--user", "mallory"]), ["1"])
        XCTAssertEqual(try ids(["--resource", "pods"]), [])
        XCTAssertEqual(try ids(["--since", "2026-11-23T10:00:05Z", "--until", "2026-11-23T10:00:15Z"]), ["2", "3"])
        XCTAssertEqual(try ids(["--since", "2026-11-23T11:00:05+01:00"]), ["2", "3", "4"])
        XCTAssertEqual(try ids(["--since", "1h"]), [], "these events are long before the last hour")
        XCTAssertEqual(try ids(["--until", "1h"]), ["1", "2", "3", "4"])
        let r = try runCLI(["replay", "--rules", rules, "--verb", "get", log])
        XCTAssertTrue(r.stderr.contains("events: 4 (evaluated 2, filtered out 2), malformed: 0"), r.stderr)
        for bad in [["--since", "yesterday"], ["--until", "5y"], ["--sort", "rule"],
                    ["--since", "2026-11-23T10:00:10Z", "--until", "2026-11-23T10:00:10Z"], ["--report", ""]] {
            XCTAssertEqual(try runCLI(["replay", "--rules", rules] + bad + [log]).status, 2, "\(bad)")
        }
    }

    /// A log with a hostile user name, two priorities and one malformed line; returns the report's text.
    func makeReport(extra: [String] = []) throws -> (html: String, path: String, alerts: Int) {
        let rules = try write("rules.yaml", cliRules + """

        - rule: Secrets Touched
          desc: any secret request
          condition: ka.target.resource = secrets and ka.verb = list
          output: secrets listed by %ka.user.name
          priority: critical
        """)
        let hostile = "<script>alert(1)</script>"
        let log = try write("hostile.log", [
            reportEvent(id: "h1", time: "2026-11-23T10:00:00.000000Z", user: hostile),
            reportEvent(id: "h2", time: "2026-11-23T10:03:00.000000Z", user: "eve\u{1b}[2J\"'&", verb: "list"),
            "{\"kind\":\"Event\", <img src=x onerror=alert(2)>",
            reportEvent(id: "<i>id</i>", time: "2026-11-23T10:07:30.000000Z", user: hostile, namespace: "kube-system"),
        ].joined(separator: "\n") + "\n")
        let report = dir.appendingPathComponent("report.html").path
        let r = try runCLI(["replay", "--rules", rules, "--report", report, "--format", "json"] + extra + [log])
        XCTAssertEqual(r.status, 0, r.stderr)
        let html = try String(contentsOfFile: report, encoding: .utf8)
        return (html, report, r.stdout.split(separator: "\n").count)
    }

    func testReportStructureAndEscaping() throws {
        let (html, _, alerts) = try makeReport()
        XCTAssertEqual(alerts, 4, "Forbidden for each event, plus Secrets Touched for h2")
        for needle in ["<!DOCTYPE html>", "id=\"summary\"", "id=\"timeline\"", "<svg", "id=\"top\"", "Identities", "Source IPs",
                       "User agents", "id=\"alerts\"", "id=\"malformed\"", "Malformed input (1)", "hostile.log:3",
                       "hostile.log:2", "Critical", "Warning", "10.1.1.1"] {
            XCTAssertTrue(html.contains(needle), needle)
        }
        XCTAssertEqual(html.components(separatedBy: "<div class=\"alert\" id=\"alert-").count - 1, alerts, "one entry per alert")
        XCTAssertTrue(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        XCTAssertTrue(html.contains("eve\\x1b[2J&quot;&#39;&amp;"))
        XCTAssertTrue(html.contains("&lt;i&gt;id&lt;/i&gt;"))
        XCTAssertFalse(html.lowercased().contains("<script"), "no script at all, and nothing raw from the log")
        XCTAssertFalse(html.contains("<img"))
        XCTAssertFalse(html.contains("<i>"))
        XCTAssertFalse(html.unicodeScalars.contains { $0.value == 0x1b })
        XCTAssertFalse(html.contains("src="), "self-contained")
    }

    func testReportIsWellFormedXML() throws {
        let (html, _, alerts) = try makeReport(extra: ["--sort", "time"])
        #if canImport(FoundationXML)
        let doc = try XMLDocument(data: Data(html.utf8), options: [])
        XCTAssertEqual(doc.rootElement()?.name, "html")
        XCTAssertEqual(try doc.nodes(forXPath: "//div[@class='alert']").count, alerts)
        XCTAssertEqual(try doc.nodes(forXPath: "//*[local-name()='svg']").count, 1)
        #else
        throw XCTSkip("FoundationXML not available")
        #endif
    }

    func testReportRendersInHeadlessChromium() throws {
        let candidates = ["chromium", "chromium-browser", "google-chrome"]
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
        guard let browser = candidates.lazy.compactMap({ name in
            paths.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        }).first else { throw XCTSkip("no chromium installed") }
        let (_, report, _) = try makeReport()
        let png = dir.appendingPathComponent("report.png").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: browser)
        p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--screenshot=\(png)", "--window-size=1200,2000",
                       URL(fileURLWithPath: report).absoluteString]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        let size = (try? FileManager.default.attributesOfItem(atPath: png)[.size] as? Int) ?? 0
        XCTAssertGreaterThan(size, 0, "chromium wrote no screenshot")
    }
}

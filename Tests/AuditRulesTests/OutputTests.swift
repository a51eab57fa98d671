import XCTest
import Foundation
import AuditJSON
import AuditInput
@testable import AuditRules

private extension EngineHarness {
    /// The alerts for an event given as raw bytes (which may hold invalid UTF-8).
    func alerts(bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> [Alert] {
        bytes.withUnsafeBytes { raw -> [Alert] in
            let tape = JSONTape()
            do {
                try tape.parse(raw)
            } catch {
                XCTFail("bad test JSON: \(error)", file: file, line: line)
                return []
            }
            let e = AuditEvent(root: tape.root)
            var indexes: [Int] = []
            evaluator.evaluate(e) { indexes.append($0) }
            return indexes.map { evaluator.render(rule: $0, time: e.time ?? 0, auditID: "a-1", input: "audit.log:7") }
        }
    }
}

/// Parses one JSON alert line with Foundation; fails the test when it is not a JSON object.
private func parseJSON(_ line: String, file: StaticString = #filePath, line l: UInt = #line) -> [String: Any] {
    guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
        XCTFail("not a JSON object: \(line)", file: file, line: l)
        return [:]
    }
    return object
}

final class OutputTests: XCTestCase {
    private func harness(output: String, tags: String = "[k8s]", priority: String = "WARNING") throws -> EngineHarness {
        try EngineHarness("""
        - rule: Out
          desc: d
          condition: ka.verb exists
          output: \(output)
          priority: \(priority)
          tags: \(tags)
        """)
    }

    private let pod = EngineEvent.json([
        "requestURI": "/api/v1/namespaces/default/pods/web/exec?command=sh&command=-c&container=app",
        "requestObject": ["spec": ["containers": [["name": "a", "image": "nginx:1"], ["name": "b", "image": "busybox"]]]],
    ])

    func testFieldRendering() throws {
        let h = try harness(output: "user=%ka.user.name target=%ka.target.name/%ka.target.resource (imp=%ka.impuser.name) images=%ka.req.pod.containers.image cmd=%ka.uri.param[command] first=%ka.req.pod.containers.image[0]. 100% %%ka.verb")
        let alerts = h.alerts(pod)
        XCTAssertEqual(alerts.count, 1)
        XCTAssertEqual(alerts.first?.message,
                       "user=alice target=web/pods (imp=<NA>) images=(nginx:1,busybox) cmd=sh first=(nginx:1). 100% %create")
        XCTAssertEqual(alerts.first?.outputFields.map(\.name),
                       ["ka.user.name", "ka.target.name", "ka.target.resource", "ka.impuser.name", "ka.req.pod.containers.image",
                        "ka.uri.param[command]", "ka.req.pod.containers.image[0]", "ka.verb"])
        XCTAssertEqual(alerts.first?.outputFields[3].values, nil)
        XCTAssertEqual(alerts.first?.outputFields[4].values ?? [], ["nginx:1", "busybox"])
        XCTAssertEqual(alerts.first?.outputFields[4].isList, true)
        XCTAssertEqual(alerts.first?.rule, "Out")
        XCTAssertEqual(alerts.first?.priority, .warning)
        XCTAssertEqual(alerts.first?.input, "test.jsonl:1")
        // An empty list is not available.
        XCTAssertEqual(h.alerts(EngineEvent.json(["requestObject": ["spec": ["containers": [[String: Any]]()]]])).first?.message,
                       "user=alice target=web/pods (imp=<NA>) images=<NA> cmd=<NA> first=<NA>. 100% %create")
    }

    func testFoldedOutputLosesItsTrailingLineBreakOnly() throws {
        let h = try EngineHarness("""
        - rule: Folded
          desc: d
          condition: ka.verb exists
          output: >
            Ingress created (user=%ka.user.name
            ns=%ka.target.namespace)
          priority: INFO
        - rule: Value at the end
          desc: d
          condition: ka.verb exists
          output: "user=%ka.user.name  \\n"
          priority: INFO
        """)
        let alerts = h.alerts(EngineEvent.json(["user/username": "bob\n"]))
        XCTAssertEqual(alerts.map(\.message), ["Ingress created (user=bob\n ns=default)", "user=bob\n"])
        XCTAssertEqual(h.ruleSet.rules[0].outputText, "Ingress created (user=%ka.user.name ns=%ka.target.namespace)\n")
    }

    func testTextEscaping() {
        XCTAssertEqual(TextEscaper.escape("plain text é ✓"), "plain text é ✓")
        XCTAssertEqual(TextEscaper.escape("a\u{1B}[31mred\u{1B}[0m"), "a\\x1b[31mred\\x1b[0m")
        XCTAssertEqual(TextEscaper.escape("l1\nl2\r\tx\u{0}\u{7F}"), "l1\\nl2\\r\\tx\\x00\\x7f")
        XCTAssertEqual(TextEscaper.escape("c1:\u{85}\u{9B}"), "c1:\\u{85}\\u{9b}")
        XCTAssertEqual(TextEscaper.escape("bidi:\u{202E}txt\u{2066}\u{2069}\u{200F}\u{61C}"), "bidi:\\u{202e}txt\\u{2066}\\u{2069}\\u{200f}\\u{61c}")
        XCTAssertEqual(TextEscaper.escape("sep\u{2028}\u{2029}"), "sep\\u{2028}\\u{2029}")
        let a = Alert(rule: "R\u{1B}", priority: .notice, time: 1_700_000_000_123_456_789, message: "m\u{1B}]0;title\u{7}",
                      outputFields: [], tags: [], auditID: "x", input: "i")
        XCTAssertEqual(AlertFormatter.text(a), "2023-11-14T22:13:20.123456789Z Notice [R\\x1b] m\\x1b]0;title\\x07")
    }

    func testTimeFormats() {
        XCTAssertEqual(TimeFormat.rfc3339(0), "1970-01-01T00:00:00.000000000Z")
        XCTAssertEqual(TimeFormat.rfc3339(1_709_251_199_000_000_001), "2024-02-29T23:59:59.000000001Z")
        XCTAssertEqual(TimeFormat.rfc3339(-1), "1969-12-31T23:59:59.999999999Z")
        XCTAssertEqual(TimeFormat.timeOfDay(1_540_476_552_581_541_000), "14:09:12.581541000")
    }

    func testJSONAlert() throws {
        let h = try harness(output: "Pod (user=%ka.user.name imp=%ka.impuser.name images=%ka.req.pod.containers.image code=%ka.response.code groups=%ka.user.groups t=%evt.time)",
                            tags: "[k8s, mitre_execution, k8s, T1609]")
        let alert = try XCTUnwrap(h.alerts(pod).first)
        let line = AlertFormatter.json(alert, hostname: "host-1")
        XCTAssertFalse(line.contains("\n"))
        let o = parseJSON(line)
        XCTAssertEqual(o["hostname"] as? String, "host-1")
        XCTAssertEqual(o["rule"] as? String, "Out")
        XCTAssertEqual(o["priority"] as? String, "Warning")
        XCTAssertEqual(o["source"] as? String, "k8s_audit")
        XCTAssertEqual(o["tags"] as? [String], ["T1609", "k8s", "mitre_execution"])
        XCTAssertEqual(o["time"] as? String, "2026-01-02T03:04:05.123456789Z")
        XCTAssertEqual(o["audit_id"] as? String, "id")
        XCTAssertEqual(o["input"] as? String, "test.jsonl:1")
        XCTAssertEqual(o["output"] as? String,
                       "03:04:05.123456789: Warning Pod (user=alice imp=<NA> images=(nginx:1,busybox) code=201 groups=(dev,system:authenticated) t=2026-01-02T03:04:05.123456789Z)")
        let fields = try XCTUnwrap(o["output_fields"] as? [String: Any])
        XCTAssertEqual(Set(fields.keys), ["evt.time", "ka.user.name", "ka.impuser.name", "ka.req.pod.containers.image", "ka.response.code", "ka.user.groups"])
        XCTAssertEqual((fields["evt.time"] as? NSNumber)?.int64Value, 1_767_323_045_123_456_789)
        XCTAssertEqual(fields["ka.user.name"] as? String, "alice")
        XCTAssertTrue(fields["ka.impuser.name"] is NSNull)
        XCTAssertEqual(fields["ka.req.pod.containers.image"] as? [String], ["nginx:1", "busybox"])
        XCTAssertEqual(fields["ka.user.groups"] as? [String], ["dev", "system:authenticated"])
        XCTAssertEqual(fields["ka.response.code"] as? String, "201")
        // Keys in sorted order, as Falco emits them.
        let keys = ["audit_id", "hostname", "input", "output", "output_fields", "priority", "rule", "source", "tags", "time"]
        let offsets = keys.map { line.range(of: "\"\($0)\":")?.lowerBound.utf16Offset(in: line) ?? -1 }
        XCTAssertEqual(offsets, offsets.sorted())
        XCTAssertFalse(offsets.contains(-1))
        // Missing list fields are null too; every priority has its long name.
        for (written, long) in [("EMERGENCY", "Emergency"), ("alert", "Alert"), ("Critical", "Critical"), ("ERROR", "Error"),
                                ("warn", "Warning"), ("NOTICE", "Notice"), ("INFO", "Informational"), ("debug", "Debug")] {
            let p = try harness(output: "x %ka.user.groups", priority: written)
            let a = try XCTUnwrap(p.alerts(EngineEvent.json(["user": ["username": "u"]])).first)
            let j = parseJSON(AlertFormatter.json(a, hostname: "h"))
            XCTAssertEqual(j["priority"] as? String, long)
            XCTAssertTrue((j["output_fields"] as? [String: Any])?["ka.user.groups"] is NSNull)
            XCTAssertEqual(j["tags"] as? [String], ["k8s"])
        }
    }

    func testJSONAlertWithHostileValues() throws {
        let h = try harness(output: "user=%ka.user.name ns=%ka.target.namespace")
        // Invalid UTF-8 bytes, control characters (escaped in the log), quotes and backslashes, U+2028.
        var bytes = Array(#"{"kind":"Event","auditID":"x","verb":"get","stageTimestamp":"2026-01-02T03:04:05Z","user":{"username":"ev"#.utf8)
        bytes += [0xFF, 0xC3, 0x28, 0xED, 0xA0, 0x80]
        bytes += Array(#"il"},"objectRef":{"namespace":"a\u001b[2J\"\\\u2028\ud800\u0000b"}}"#.utf8)
        let alerts = h.alerts(bytes: bytes)
        let alert = try XCTUnwrap(alerts.first)
        let line = AlertFormatter.json(alert, hostname: "h\"\u{1}")
        XCTAssertTrue(line.utf8.allSatisfy { $0 >= 0x20 }, "raw control bytes in JSON output")
        let o = parseJSON(line)
        let fields = try XCTUnwrap(o["output_fields"] as? [String: Any])
        let user = try XCTUnwrap(fields["ka.user.name"] as? String)
        XCTAssertTrue(user.hasPrefix("ev") && user.hasSuffix("il") && user.contains("\u{FFFD}"), user)
        let ns = try XCTUnwrap(fields["ka.target.namespace"] as? String)
        XCTAssertTrue(ns.hasPrefix("a\u{1B}[2J\"\\\u{2028}") && ns.hasSuffix("\u{0}b"), ns.debugDescription)
        XCTAssertEqual(o["hostname"] as? String, "h\"\u{1}")
        XCTAssertEqual(o["time"] as? String, "2026-01-02T03:04:05.000000000Z")
        // The text form shows the escape and control characters visibly.
        let text = AlertFormatter.text(alert)
        XCTAssertFalse(text.unicodeScalars.contains { $0.value < 0x20 || (0x7F..<0xA0).contains($0.value) || $0.value == 0x2028 }, text)
        XCTAssertTrue(text.contains("\\x1b[2J"), text)
    }

    func testEvidenceInJSON() {
        var a = Alert(rule: "R", priority: .critical, time: 0, message: "m", outputFields: [("ka.verb", ["get"], false)],
                      tags: ["b", "a"], auditID: "id\n", input: "in")
        a.evidence = ["zeta": ["1"], "auditIDs": ["x", "y\u{0}"]]
        let line = AlertFormatter.json(a, hostname: "h")
        let o = parseJSON(line)
        XCTAssertEqual((o["evidence"] as? [String: [String]])?["auditIDs"], ["x", "y\u{0}"])
        XCTAssertEqual(o["audit_id"] as? String, "id\n")
        XCTAssertEqual(o["tags"] as? [String], ["a", "b"])
        XCTAssertEqual(o["output"] as? String, "00:00:00.000000000: Critical m")
        XCTAssertLessThan(line.range(of: "\"audit_id\"")!.lowerBound, line.range(of: "\"evidence\"")!.lowerBound)
        XCTAssertLessThan(line.range(of: "\"evidence\"")!.lowerBound, line.range(of: "\"hostname\"")!.lowerBound)
    }
}

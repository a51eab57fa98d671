import XCTest
import AuditInput
import AuditRules
@testable import AuditPipeline
#if canImport(FoundationXML)
import FoundationXML
#endif

/// One audit event line with the fields the replay filters look at. `time` nil: no timestamps at all.
func featureEvent(id: String, time: String?, user: String = "alice", verb: String = "get", resource: String = "secrets",
                  namespace: String? = "default", userJSON: String? = nil, agent: String = "kubectl/v1.31") -> String {
    let userValue = userJSON ?? JSONEscaper.quote(user)
    let ns = namespace.map { ",\"namespace\":\(JSONEscaper.quote($0))" } ?? ""
    let times = time.map { ",\"requestReceivedTimestamp\":\"\($0)\",\"stageTimestamp\":\"\($0)\"" } ?? ""
    return "{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"level\":\"Metadata\",\"auditID\":\"\(id)\",\"stage\":\"ResponseComplete\","
        + "\"requestURI\":\"/api/v1/\(resource)\",\"verb\":\(JSONEscaper.quote(verb)),\"user\":{\"username\":\(userValue)},"
        + "\"sourceIPs\":[\"10.0.0.9\",\"192.0.2.7\"],\"userAgent\":\(JSONEscaper.quote(agent)),"
        + "\"objectRef\":{\"resource\":\(JSONEscaper.quote(resource))\(ns),\"name\":\"x\",\"apiVersion\":\"v1\"},"
        + "\"responseStatus\":{\"metadata\":{},\"code\":200}\(times)}"
}

/// Every completed request alerts.
let featureRules = """
- rule: Every Request
  desc: t
  condition: ka.stage = ResponseComplete
  output: request %ka.verb %ka.target.resource by %ka.user.name
  priority: NOTICE
"""

final class ReplayFeatureTests: XCTestCase {
    var paths: [String] = []

    override func tearDown() {
        for p in paths { unlink(p) }
        paths = []
    }

    func write(_ lines: [String], _ name: String) -> String {
        let p = writeTemp(Array((lines.joined(separator: "\n") + "\n").utf8), name: "feature-\(name)")
        paths.append(p)
        return p
    }

    func ruleSet() -> CompiledRuleSet {
        let loaded = RuleCompiler.load([RuleFile(path: "feature.yaml", text: featureRules)])
        XCTAssertFalse(loaded.hasErrors, "\(loaded.diagnostics)")
        return loaded.ruleSet!
    }

    /// Replays `inputs` through the pipeline into a recorder; returns the recorder.
    func run(_ inputs: [String], filter: EventFilter = EventFilter(), workers: Int = 2, batchSize: Int = 1 << 20) -> ReplayRecorder {
        let rules = ruleSet()
        var settings = ReplaySettings()
        settings.filter = filter
        settings.collectAlertContext = true
        var options = PipelineOptions()
        options.workers = workers
        options.batchSize = batchSize
        let recorder = ReplayRecorder()
        let workerSettings = settings
        _ = Pipeline<ReplayBatchResult>(inputs: inputs, options: options).run(makeWorker: {
            let w = ReplayWorker(ruleSet: rules, settings: workerSettings)
            return { batch, source in w.process(batch, source: source) }
        }, consume: { r, _, _ in
            recorder.add(r)
            for (i, a) in r.alerts.enumerated() { recorder.add(a, context: r.alertContexts[i]) }
        })
        return recorder
    }

    func ids(_ r: ReplayRecorder) -> [String] { r.alerts.map { $0.alert.auditID } }

    // MARK: Time parsing and window

    func testParseTimeAcceptsRFC3339AndRelativeDurations() {
        let now: Int64 = 1_795_428_000_000_000_000  // 2026-11-23T10:00:00Z
        XCTAssertEqual(EventFilter.parseTime("2026-11-23T10:00:00Z", now: 0), now)
        XCTAssertEqual(EventFilter.parseTime("2026-11-23T12:00:00.5+02:00", now: 0), now + 500_000_000)
        XCTAssertEqual(EventFilter.parseTime("90s", now: now), now - 90 * 1_000_000_000)
        XCTAssertEqual(EventFilter.parseTime("30m", now: now), now - 1800 * 1_000_000_000)
        XCTAssertEqual(EventFilter.parseTime("2h", now: now), now - 7200 * 1_000_000_000)
        XCTAssertEqual(EventFilter.parseTime("7d", now: now), now - 7 * 86_400 * 1_000_000_000)
        XCTAssertEqual(EventFilter.parseTime("1w", now: now), now - 7 * 86_400 * 1_000_000_000)
        XCTAssertEqual(EventFilter.parseTime("0m", now: now), now)
        for bad in ["", "h", "2x", "-2h", "2 h", "1.5h", "2026-11-23", "yesterday", "99999999999999h"] {
            XCTAssertNil(EventFilter.parseTime(bad, now: now), bad)
        }
    }

    func testTimeWindowIsInclusiveAtSinceAndExclusiveAtUntil() {
        let log = write([
            featureEvent(id: "t0", time: "2026-11-23T10:00:09.999999999Z"),
            featureEvent(id: "t1", time: "2026-11-23T10:00:10Z"),
            featureEvent(id: "t2", time: "2026-11-23T10:00:15Z"),
            featureEvent(id: "t3", time: "2026-11-23T10:00:19.999999999Z"),
            featureEvent(id: "t4", time: "2026-11-23T10:00:20Z"),
            featureEvent(id: "none", time: nil),
        ], "window.log")
        let since = EventFilter.parseTime("2026-11-23T10:00:10Z", now: 0)!
        let until = EventFilter.parseTime("2026-11-23T10:00:20Z", now: 0)!
        let both = run([log], filter: EventFilter(since: since, until: until))
        XCTAssertEqual(ids(both), ["t1", "t2", "t3"])
        XCTAssertEqual(both.events, 6)
        XCTAssertEqual(both.filtered, 3, "outside the window and the event without a time")
        XCTAssertEqual(both.malformed, 0, "filtered events are not malformed")
        XCTAssertEqual(both.evaluated, 3)
        XCTAssertEqual(ids(run([log], filter: EventFilter(since: since))), ["t1", "t2", "t3", "t4"])
        XCTAssertEqual(ids(run([log], filter: EventFilter(until: until))), ["t0", "t1", "t2", "t3"])
        // Without a filter every event is replayed, the untimed one included.
        let all = run([log])
        XCTAssertEqual(ids(all), ["t0", "t1", "t2", "t3", "t4", "none"])
        XCTAssertEqual(all.filtered, 0)
    }

    // MARK: Narrowing

    func testEachNarrowingListAndTheirCombination() {
        let t = "2026-11-23T10:00:00Z"
        let log = write([
            featureEvent(id: "a", time: t, user: "alice", verb: "get", resource: "secrets", namespace: "default"),
            featureEvent(id: "b", time: t, user: "bob", verb: "list", resource: "pods", namespace: "prod"),
            featureEvent(id: "sa", time: t, user: "system:serviceaccount:kube-system:replicaset-controller", verb: "update",
                         resource: "pods", namespace: "kube-system"),
            featureEvent(id: "node", time: t, user: "system:node:n1", verb: "get", resource: "nodes", namespace: nil),
            featureEvent(id: "esc", time: t, verb: "delete", resource: "configmaps", namespace: "prod", userJSON: #""al\u0069ce""#),
            "{\"kind\":\"Event\", broken",
        ], "narrow.log")
        XCTAssertEqual(ids(run([log], filter: EventFilter(users: ["alice"]))), ["a", "esc"], "exact, escapes decoded")
        XCTAssertEqual(ids(run([log], filter: EventFilter(users: ["ali"]))), [], "exact match only without *")
        XCTAssertEqual(ids(run([log], filter: EventFilter(users: ["system:*"]))), ["sa", "node"])
        XCTAssertEqual(ids(run([log], filter: EventFilter(users: ["system:serviceaccount:kube-system:*", "bob"]))), ["b", "sa"])
        XCTAssertEqual(ids(run([log], filter: EventFilter(users: ["al*"]))), ["a", "esc"], "prefix through an escape")
        XCTAssertEqual(ids(run([log], filter: EventFilter(users: ["*"]))).count, 5, "a bare * matches every user")
        XCTAssertEqual(ids(run([log], filter: EventFilter(namespaces: ["prod"]))), ["b", "esc"])
        XCTAssertEqual(ids(run([log], filter: EventFilter(namespaces: ["default", "kube-system"]))), ["a", "sa"],
                       "an event without a namespace does not pass")
        XCTAssertEqual(ids(run([log], filter: EventFilter(verbs: EventFilter.list(["get,list"])))), ["a", "b", "node"])
        XCTAssertEqual(ids(run([log], filter: EventFilter(resources: ["pods"]))), ["b", "sa"])
        XCTAssertEqual(ids(run([log], filter: EventFilter(namespaces: ["prod"], verbs: ["list", "delete"], resources: ["configmaps"]))), ["esc"])
        let r = run([log], filter: EventFilter(verbs: ["get"]))
        XCTAssertEqual(r.filtered, 3)
        XCTAssertEqual(r.malformed, 1, "the broken line is malformed, not filtered")
        XCTAssertEqual(EventFilter.list(["get,list", "watch", ",,"]), ["get", "list", "watch"])
        XCTAssertTrue(EventFilter().isEmpty)
        XCTAssertFalse(EventFilter(verbs: ["get"]).isEmpty)
        XCTAssertEqual(EventFilter(users: ["a*"], verbs: ["get", "list"]).summary, "user a*, verb get|list")
    }

    func testAlertContextComesFromTheEvent() {
        let log = write([featureEvent(id: "c", time: "2026-11-23T10:00:00Z", user: "carol", agent: "curl/8")], "context.log")
        let r = run([log])
        XCTAssertEqual(r.alerts.first?.context, AlertContext(user: "carol", sourceIP: "192.0.2.7", userAgent: "curl/8"))
    }

    // MARK: Histogram

    func testHistogramCountsPerMinuteAndStaysBounded() {
        var h = TimeHistogram()
        let minute = TimeHistogram.minuteNanos
        let base: Int64 = 1_795_428_000_000_000_000
        for k in 0..<10 { h.add(base + Int64(k) * 1_000_000_000) }   // one minute
        h.add(base + minute + 5)
        h.add(base - 1)                                              // the minute before
        XCTAssertEqual(h.buckets.map { $0.count }, [1, 10, 1])
        XCTAssertEqual(h.buckets.map { $0.start }, [base - minute, base, base + minute])
        XCTAssertEqual(h.total, 12)

        var wide = TimeHistogram()
        for k in 0..<5000 { wide.add(base + Int64(k) * minute) }
        XCTAssertLessThanOrEqual(wide.buckets.count, TimeHistogram.maxBuckets)
        XCTAssertEqual(wide.width, 4 * minute)
        XCTAssertEqual(wide.total, 5000)
        XCTAssertTrue(wide.buckets.allSatisfy { $0.start % wide.width == 0 })

        h.merge(wide)
        XCTAssertEqual(h.width, wide.width)
        XCTAssertEqual(h.total, 5012)
        XCTAssertEqual(h.buckets.map { $0.count }.reduce(0, +), 5012)
    }

    // MARK: Sorting

    func testTimeOrderInterleavesOverlappingFilesForAnyWorkers() {
        // File a: even seconds, file b: odd seconds, over the same minute; b also repeats a's last time.
        var a: [String] = [], b: [String] = []
        for s in stride(from: 0, to: 40, by: 2) { a.append(featureEvent(id: "a\(s)", time: String(format: "2026-11-23T10:00:%02dZ", s))) }
        for s in stride(from: 1, to: 40, by: 2) { b.append(featureEvent(id: "b\(s)", time: String(format: "2026-11-23T10:00:%02dZ", s))) }
        b.append(featureEvent(id: "b38", time: "2026-11-23T10:00:38Z"))
        let pa = write(a, "sort-a.log"), pb = write(b, "sort-b.log")
        var reference: [String]? = nil
        for (workers, batch) in [(1, 1 << 20), (4, 700), (4, 1 << 20)] {
            let r = run([pa, pb], workers: workers, batchSize: batch)
            XCTAssertEqual(ids(r).first, "a0", "input order: file a first")
            let sorted = r.alertsInTimeOrder().map { $0.alert.auditID }
            var expected: [String] = []
            for s in 0..<40 { expected.append(s % 2 == 0 ? "a\(s)" : "b\(s)"); if s == 38 { expected.append("b38") } }
            XCTAssertEqual(sorted, expected, "workers=\(workers) batch=\(batch): interleaved, ties in input order")
            if let reference { XCTAssertEqual(sorted, reference) } else { reference = sorted }
        }
    }

    // MARK: HTML report

    func reportData(alerts: Int, hostile: String) -> ReplayReportData {
        let recorder = ReplayRecorder()
        var d = ReplayReportData(recorder: recorder, timeOrder: true)
        let base: Int64 = 1_795_428_000_000_000_000
        for k in 0..<alerts {
            let a = Alert(rule: "Rule \(k % 3) \(hostile)", priority: k % 2 == 0 ? .warning : .critical, time: base + Int64(k) * 30_000_000_000,
                          message: "user=\(hostile) ctl=\u{1b}[31m bidi=\u{202e} nul=\u{0}", outputFields: [], tags: [],
                          auditID: "id-\(k)-\(hostile)", input: "/logs/a&b.log:\(k + 1)")
            d.alerts.append(RecordedAlert(alert: a, context: AlertContext(user: hostile, sourceIP: "192.0.2.\(k % 4)", userAgent: "ua \(hostile)"), sequence: k))
            d.histogram.add(a.time)
            d.histogram.add(a.time + 1)
        }
        d.events = alerts * 2
        d.evaluated = alerts * 2
        d.malformed = 1
        d.problems = [InputProblem(path: "/logs/a&b.log", line: 9, item: 0, byteOffset: 100, reason: "invalid JSON: \(hostile)")]
        d.inputs = ["/logs/a&b.log", hostile]
        d.filter = EventFilter(users: [hostile]).summary
        d.firstTime = base
        d.lastTime = base + Int64(alerts) * 30_000_000_000
        return d
    }

    func testReportHasEverySectionAndOneEntryPerAlert() {
        let html = HTMLReport.render(reportData(alerts: 7, hostile: "eve"))
        for needle in ["<!DOCTYPE html>", "id=\"summary\"", "id=\"timeline\"", "id=\"top\"", "id=\"alerts\"", "id=\"malformed\"",
                       "<svg", "</svg>", "Identities", "Source IPs", "User agents", "/logs/a&amp;b.log:3", "id-2-eve"] {
            XCTAssertTrue(html.contains(needle), needle)
        }
        XCTAssertEqual(html.components(separatedBy: "<div class=\"alert\" id=\"alert-").count - 1, 7)
        // Alerts 30 s apart: 4 minute buckets of events; alert bars per bucket and priority: 2 + 2 + 2 + 1.
        XCTAssertEqual(html.components(separatedBy: "<rect").count - 1, 4 + 7)
        // Self-contained and script-free.
        for banned in ["<script", "src=", "<link", "@import", "url(", "https://"] {
            XCTAssertFalse(html.lowercased().contains(banned), banned)
        }
        XCTAssertFalse(html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"))
        XCTAssertTrue(HTMLReport.render(ReplayReportData()).contains("No alerts."))
    }

    func testReportEscapesHostileLogText() {
        let hostile = "<script>alert(1)</script>\"'&"
        let html = HTMLReport.render(reportData(alerts: 3, hostile: hostile))
        XCTAssertFalse(html.contains("<script"), "raw markup from the log")
        XCTAssertFalse(html.contains("alert(1)</"), "raw markup from the log")
        XCTAssertTrue(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"))
        XCTAssertFalse(html.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n") || $0.value == 0x7f || $0.value == 0x202e })
        XCTAssertTrue(html.contains("ctl=\\x1b[31m bidi=\\u{202e} nul=\\x00"))
        XCTAssertEqual(HTMLReport.escape("a<b>&\"'\u{7}\u{fffe}"), "a&lt;b&gt;&amp;&quot;&#39;\\x07\\u{fffe}")
    }

    func testReportIsWellFormed() throws {
        let html = HTMLReport.render(reportData(alerts: 25, hostile: "<b>x</b>&amp;\u{1}"))
        #if canImport(FoundationXML) || os(macOS)
        let doc = try XMLDocument(data: Data(html.utf8), options: [])
        XCTAssertEqual(doc.rootElement()?.name, "html")
        XCTAssertEqual(try doc.nodes(forXPath: "//svg|//*[local-name()='svg']").count, 1)
        XCTAssertEqual(try doc.nodes(forXPath: "//div[@class='alert']").count, 25)
        #endif
        // Tag balance, independently of an XML parser.
        var stack: [String] = []
        var rest = Substring(html)
        while let open = rest.firstIndex(of: "<") {
            guard let close = rest[open...].firstIndex(of: ">") else { return XCTFail("unterminated tag") }
            let tag = rest[rest.index(after: open)..<close]
            rest = rest[rest.index(after: close)...]
            if tag.hasPrefix("!") || tag.hasSuffix("/") { continue }
            let name = String(tag.drop(while: { $0 == "/" }).prefix(while: { $0 != " " }))
            if name == "style" {   // no markup inside the style sheet
                guard let end = rest.range(of: "</style>") else { return XCTFail("unclosed style") }
                XCTAssertFalse(rest[..<end.lowerBound].contains("<"))
                rest = rest[end.upperBound...]
                continue
            }
            if tag.hasPrefix("/") {
                XCTAssertEqual(stack.popLast(), name, "mismatched </\(name)>")
            } else {
                stack.append(name)
            }
        }
        XCTAssertEqual(stack, [])
    }
}

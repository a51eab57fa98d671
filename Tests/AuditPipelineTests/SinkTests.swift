import AuditPipeline
import AuditRules
import Foundation
import XCTest

// MARK: A tiny HTTP/1.1 receiver on 127.0.0.1

/// A real HTTP server on a POSIX socket: one thread accepts, one thread per connection answers
/// (`Connection: close`). What it answers is decided per request by `respond`.
final class TestReceiver: @unchecked Sendable {
    struct Request {
        var path: String
        /// Header names in lower case.
        var headers: [String: String]
        var body: Data
        var time: Double
        var status: Int

        var json: Any? { try? JSONSerialization.jsonObject(with: self.body) }
    }

    struct Response {
        var status: Int = 200
        var headers: [(String, String)] = []
        var body: String = ""
        var delay: Double = 0
    }

    let port: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var log: [Request] = []
    private var respond: @Sendable (Request, Int) -> Response
    private var stopped = false

    /// A port nobody listens on (yet).
    static func freePort() -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return UInt16(bigEndian: addr.sin_port)
    }

    init(port: UInt16 = 0, respond: @escaping @Sendable (Request, Int) -> Response = { _, _ in Response() }) throws {
        self.respond = respond
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = port.bigEndian
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw XCTSkip("cannot listen on 127.0.0.1:\(port)")
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        self.port = UInt16(bigEndian: addr.sin_port)
        self.listener = fd
        Thread.detachNewThread { [self] in self.acceptLoop() }
    }

    deinit { self.stop() }

    var url: URL { URL(string: "http://127.0.0.1:\(self.port)/alerts")! }

    /// Requests received so far (with the status answered).
    var requests: [Request] { self.lock.withLock { self.log } }

    func setResponder(_ r: @escaping @Sendable (Request, Int) -> Response) {
        self.lock.withLock { self.respond = r }
    }

    func stop() {
        let first = self.lock.withLock { () -> Bool in
            defer { self.stopped = true }
            return !self.stopped
        }
        if first {
            shutdown(self.listener, Int32(SHUT_RDWR))
            close(self.listener)
        }
    }

    private func acceptLoop() {
        while true {
            let c = accept(self.listener, nil, nil)
            if c < 0 {
                if errno == EINTR { continue }
                return
            }
            Thread.detachNewThread { [self] in self.serve(c) }
        }
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var data = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        func fill() -> Bool {
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { return false }
            data.append(contentsOf: chunk[0..<n])
            return true
        }
        var headerEnd: Int? = nil
        while headerEnd == nil {
            guard fill() else { return }
            if let r = Data(data).range(of: Data("\r\n\r\n".utf8)) { headerEnd = r.upperBound }
        }
        let head = String(decoding: data[0..<headerEnd!], as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        let path = lines[0].split(separator: " ").dropFirst().first.map(String.init) ?? "/"
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        if headers["expect"]?.lowercased() == "100-continue" {
            let cont = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
            _ = write(fd, cont, cont.count)
        }
        while data.count - headerEnd! < length {
            guard fill() else { return }
        }
        var request = Request(path: path, headers: headers, body: Data(data[headerEnd!..<(headerEnd! + length)]),
                              time: SinkClock.now(), status: 0)
        let (responder, index) = self.lock.withLock { (self.respond, self.log.count) }
        let response = responder(request, index)
        request.status = response.status
        self.lock.withLock { self.log.append(request) }
        if response.delay > 0 { Thread.sleep(forTimeInterval: response.delay) }
        var text = "HTTP/1.1 \(response.status) X\r\nContent-Length: \(response.body.utf8.count)\r\nConnection: close\r\n"
        for (k, v) in response.headers { text += "\(k): \(v)\r\n" }
        text += "\r\n" + response.body
        let bytes = Array(text.utf8)
        _ = write(fd, bytes, bytes.count)
    }
}

/// Collects sink log lines.
final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    var all: [String] { self.lock.withLock { self.lines } }
    var text: String { self.all.joined(separator: "\n") }
    var sink: SinkLog { { [self] line in self.lock.withLock { self.lines.append(line) } } }
}

func makeAlert(_ i: Int, rule: String = "Forbidden", priority: Priority = .warning, time: Int64? = nil,
               user: String = "mallory", message: String? = nil) -> Alert {
    let t = time ?? (1_795_428_000_000_000_000 + Int64(i) * 1_000_000)
    return Alert(rule: rule, priority: priority, time: t, message: message ?? "denied \(user) #\(i)",
                 outputFields: [("ka.user.name", [user], false), ("ka.verb", ["get"], false), ("ka.target.namespace", nil, false)],
                 tags: ["k8s", "test"], auditID: "audit-\(i)", input: "log:\(i)")
}

/// Alert ids in the bodies of the requests answered 2xx.
func deliveredIDs(_ requests: [TestReceiver.Request]) -> [String] {
    var ids: [String] = []
    for r in requests where (200..<300).contains(r.status) {
        if let one = r.json as? [String: Any], let id = one["alert_id"] as? String { ids.append(id) }
        if let many = r.json as? [[String: Any]] {
            for o in many {
                if let id = o["alert_id"] as? String { ids.append(id) }
                if let id = (o["annotations"] as? [String: Any])?["alert_id"] as? String { ids.append(id) }
            }
        }
    }
    return ids
}

final class SinkTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "audithound-sinks-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func fastOptions(_ url: URL, format: WebhookFormat = .falco, spool: Bool = true) -> WebhookOptions {
        var o = WebhookOptions(url: url)
        o.format = format
        o.retryInitial = 0.02
        o.retryMax = 0.1
        o.timeout = 2
        o.batchInterval = 0.05
        if spool { o.spoolRoot = dir + "/spool" }
        return o
    }

    // MARK: Records, ids, filters

    func testAlertIDIsStableAndJSONRecordKeepsKeysSorted() throws {
        let a = makeAlert(1)
        let id = AlertID.make(for: a)
        XCTAssertEqual(id, AlertID.make(for: makeAlert(1)))
        XCTAssertNotEqual(id, AlertID.make(for: makeAlert(2)))
        XCTAssertNotEqual(id, AlertID.make(for: makeAlert(1, rule: "Other")))
        XCTAssertNotNil(id.range(of: "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", options: .regularExpression), id)

        var s = SinkAlert(alert: a, id: id)
        s.suppressedRepeats = 3
        s.rateLimited = 2
        let line = SinkRecord.json(s, hostname: "h")
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(obj["alert_id"] as? String, id)
        XCTAssertEqual(obj["suppressed_repeats"] as? Int, 3)
        XCTAssertEqual(obj["rate_limited"] as? Int, 2)
        XCTAssertEqual(obj["audit_id"] as? String, "audit-1")
        XCTAssertEqual(obj["rule"] as? String, "Forbidden")
        // Keys in sorted order, as Falco writes them.
        let keys = try NSRegularExpression(pattern: "(?:^\\{|,)\"([a-z_]+)\":").matches(in: line, range: NSRange(line.startIndex..., in: line))
            .map { String(line[Range($0.range(at: 1), in: line)!]) }
        let topLevel = keys.filter { ["alert_id", "audit_id", "hostname", "input", "output", "output_fields", "priority", "rate_limited", "rule", "source", "suppressed_repeats", "tags", "time"].contains($0) }
        XCTAssertEqual(topLevel, topLevel.sorted())
        XCTAssertTrue(SinkRecord.text(s).hasSuffix("(3 similar suppressed) (2 rate-limited)"), SinkRecord.text(s))
        // Without counts, no extra keys.
        XCTAssertFalse(SinkRecord.json(SinkAlert(alert: a, id: id), hostname: "h").contains("suppressed"))
    }

    final class Collect: AlertSink {
        var name = "collect"
        var got: [SinkAlert] = []
        func send(_ alert: SinkAlert) { got.append(alert) }
        func flush() {}
        func close(deadline: Double) -> SinkReport { SinkReport(name: name, counters: counters) }
        var counters: SinkCounters { var c = SinkCounters(); c.sent = got.count; return c }
    }

    func testFiltersPerSinkDedupeWindowAndRateLimitOnEventTime() {
        let set = SinkSet()
        let all = Collect(), warnings = Collect(), deduped = Collect(), limited = Collect()
        set.add(all)
        var f = AlertFilter()
        f.minimumPriority = .error
        set.add(warnings, filter: f)
        var d = AlertFilter()
        d.dedupeWindow = 300 * 1_000_000_000  // 5 min
        set.add(deduped, filter: d)
        var r = AlertFilter()
        r.rateLimit = (2, 60_000_000_000)
        set.add(limited, filter: r)
        let minute: Int64 = 60_000_000_000
        let t0: Int64 = 1_795_428_000_000_000_000
        // Same rule and fields, 1 minute apart (event time): 0..6 min, then another user.
        for i in 0...6 { set.send(makeAlert(i, time: t0 + Int64(i) * minute)) }
        set.send(makeAlert(100, priority: .critical, time: t0 + 6 * minute + 1, user: "eve"))
        XCTAssertEqual(all.got.count, 8)
        XCTAssertEqual(warnings.got.map { $0.alert.auditID }, ["audit-100"])
        // Dedupe: minute 0 passes, 1-4 suppressed, 5 passes carrying 4, 6 suppressed; eve is a different key.
        XCTAssertEqual(deduped.got.map { $0.alert.auditID }, ["audit-0", "audit-5", "audit-100"])
        XCTAssertEqual(deduped.got.map { $0.suppressedRepeats }, [0, 4, 0])
        // Rate limit 2/min per rule (fixed windows from the first alert): #6 and eve share a window.
        XCTAssertEqual(limited.got.count, 8)
        for i in 0..<5 { set.send(makeAlert(200 + i, time: t0 + 10 * minute + Int64(i))) }
        set.send(makeAlert(300, time: t0 + 11 * minute))
        XCTAssertEqual(limited.got.suffix(3).map { $0.alert.auditID }, ["audit-200", "audit-201", "audit-300"])
        XCTAssertEqual(limited.got.last?.rateLimited, 3)
        // The same id for every sink.
        XCTAssertEqual(all.got[0].id, deduped.got[0].id)
        let reports = set.finish(timeout: 1)
        XCTAssertEqual(reports[2].counters.suppressed, 5 + 5)  // the second burst is suppressed too
        XCTAssertEqual(reports[3].counters.rateLimited, 3)
    }

    func testFileSinkAppendsJSONLinesAndRotates() throws {
        let path = dir + "/alerts.jsonl"
        // Alerts 10...44 render to lines of the same length: 10 lines per file.
        let line = SinkRecord.json(SinkAlert(alert: makeAlert(10), id: AlertID.make(for: makeAlert(10))), hostname: "h")
        let sink = try FileSink(path: path, hostname: "h", maxSize: (line.utf8.count + 1) * 10 + 5, keep: 2)
        let set = SinkSet()
        set.add(sink)
        for i in 10..<45 { set.send(makeAlert(i)) }
        let report = set.finish(timeout: 1)[0]
        XCTAssertEqual(report.counters.sent, 35)
        func lines(_ p: String) -> [String] {
            ((try? String(contentsOfFile: p, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        XCTAssertEqual(lines(path).count, 5)
        XCTAssertEqual(lines(path + ".1").count, 10)
        XCTAssertEqual(lines(path + ".2").count, 10)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".3"))
        for l in lines(path) + lines(path + ".1") {
            XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(l.utf8)), l)
        }
        XCTAssertTrue(lines(path).last!.contains("\"audit_id\":\"audit-44\""))
        // Appends across runs.
        let again = try FileSink(path: path, hostname: "h")
        again.send(SinkAlert(alert: makeAlert(99), id: AlertID.make(for: makeAlert(99))))
        _ = again.close(deadline: 0)
        XCTAssertEqual(lines(path).count, 6)
    }

    // MARK: Webhooks

    func testFalcoFormatOnePostPerAlertWithHeaders() throws {
        let server = try TestReceiver()
        var o = fastOptions(server.url, spool: false)
        o.headers = [("Authorization", "Bearer tok-123456"), ("X-Team", "sec")]
        let sink = try WebhookSink(options: o, hostname: "h", log: nil)
        let set = SinkSet()
        set.add(sink)
        for i in 0..<5 { set.send(makeAlert(i)) }
        let report = set.finish(timeout: 10)[0]
        XCTAssertEqual(report.counters.sent, 5)
        XCTAssertEqual(report.counters.retried, 0)
        let requests = server.requests
        XCTAssertEqual(requests.count, 5)
        for (i, r) in requests.enumerated() {
            XCTAssertEqual(r.path, "/alerts")
            XCTAssertEqual(r.headers["content-type"], "application/json")
            XCTAssertEqual(r.headers["authorization"], "Bearer tok-123456")
            XCTAssertEqual(r.headers["x-team"], "sec")
            let obj = try XCTUnwrap(r.json as? [String: Any])
            XCTAssertEqual(obj["audit_id"] as? String, "audit-\(i)")  // in order
            XCTAssertEqual(obj["alert_id"] as? String, AlertID.make(for: makeAlert(i)))
            XCTAssertEqual(obj["priority"] as? String, "Warning")
            XCTAssertNotNil(obj["output_fields"] as? [String: Any])
        }
        XCTAssertFalse(report.name.contains("alerts"), report.name)  // the URL path is not shown
    }

    func testBatchFormatGroupsByCountAndTime() throws {
        let server = try TestReceiver()
        var o = fastOptions(server.url, format: .batch, spool: false)
        o.batchSize = 4
        o.batchInterval = 0.2
        let sink = try WebhookSink(options: o, hostname: "h", log: nil)
        for i in 0..<10 { sink.send(SinkAlert(alert: makeAlert(i), id: "id-\(i)")) }
        // Two full batches go at once; the last two wait for the interval.
        Thread.sleep(forTimeInterval: 0.6)
        let sizes = server.requests.map { ($0.json as? [Any])?.count ?? -1 }
        XCTAssertEqual(sizes, [4, 4, 2])
        XCTAssertEqual(deliveredIDs(server.requests), (0..<10).map { "id-\($0)" })
        XCTAssertEqual(sink.close(deadline: SinkClock.now() + 5).counters.sent, 10)
    }

    func testReceiverDownThenUpLosesNothing() throws {
        for spool in [false, true] {
            let port = TestReceiver.freePort()
            let log = LogLines()
            let url = URL(string: "http://127.0.0.1:\(port)/alerts")!
            let sink = try WebhookSink(options: fastOptions(url, format: .batch, spool: spool), hostname: "h", log: log.sink)
            for i in 0..<30 { sink.send(SinkAlert(alert: makeAlert(i), id: "id-\(i)")) }
            Thread.sleep(forTimeInterval: 0.5)
            XCTAssertGreaterThan(sink.counters.retried, 0)
            XCTAssertEqual(sink.counters.sent, 0)
            let server = try TestReceiver(port: port)
            let report = sink.close(deadline: SinkClock.now() + 10)
            XCTAssertEqual(report.counters.sent, 30, "spool \(spool)")
            XCTAssertEqual(report.counters.spooled, 0)
            XCTAssertEqual(deliveredIDs(server.requests), (0..<30).map { "id-\($0)" })
            XCTAssertTrue(log.text.contains("receiver failing (connection refused)"), log.text)
            XCTAssertTrue(log.text.contains("receiver back after"), log.text)
            server.stop()
            try? FileManager.default.removeItem(atPath: dir + "/spool")
        }
    }

    func testServerErrorsAreRetriedThenDelivered() throws {
        let server = try TestReceiver { _, n in TestReceiver.Response(status: n < 2 ? 500 : 200) }
        let sink = try WebhookSink(options: fastOptions(server.url), hostname: "h", log: nil)
        for i in 0..<3 { sink.send(SinkAlert(alert: makeAlert(i), id: "id-\(i)")) }
        let report = sink.close(deadline: SinkClock.now() + 10)
        XCTAssertEqual(report.counters.sent, 3)
        XCTAssertEqual(report.counters.retried, 2)
        XCTAssertEqual(report.counters.failed, 0)
        XCTAssertEqual(server.requests.map { $0.status }, [500, 500, 200, 200, 200])
        XCTAssertEqual(deliveredIDs(server.requests), ["id-0", "id-1", "id-2"])
    }

    func testTooManyRequestsHonoursRetryAfter() throws {
        let server = try TestReceiver { _, n in
            n == 0 ? TestReceiver.Response(status: 429, headers: [("Retry-After", "1")]) : TestReceiver.Response()
        }
        let sink = try WebhookSink(options: fastOptions(server.url), hostname: "h", log: nil)
        sink.send(SinkAlert(alert: makeAlert(0), id: "id-0"))
        let report = sink.close(deadline: SinkClock.now() + 10)
        XCTAssertEqual(report.counters.sent, 1)
        XCTAssertEqual(report.counters.retried, 1)
        let r = server.requests
        XCTAssertEqual(r.count, 2)
        // The backoff alone would retry after 10-20 ms; Retry-After asked for 1 s.
        XCTAssertGreaterThan(r[1].time - r[0].time, 0.9)
    }

    func testSlowReceiverNeverBlocksOtherSinksAndTimeoutKeepsAlertsSpooled() throws {
        let server = try TestReceiver { _, _ in TestReceiver.Response(delay: 0.3) }
        let log = LogLines()
        var o = fastOptions(server.url)
        o.timeout = 5
        let set = SinkSet()
        set.add(try WebhookSink(options: o, hostname: "h", log: log.sink))
        set.add(try FileSink(path: dir + "/all.jsonl", hostname: "h"))
        let start = SinkClock.now()
        for i in 0..<20 { set.send(makeAlert(i)) }
        set.flush()
        XCTAssertLessThan(SinkClock.now() - start, 1.0, "send waited for the slow receiver (0.3 s per alert)")
        XCTAssertEqual(try String(contentsOfFile: dir + "/all.jsonl", encoding: .utf8).split(separator: "\n").count, 20)
        // Give up after 1 s: what is left stays in the spool and is said so.
        let reports = set.finish(timeout: 1)
        let webhook = reports[0]
        XCTAssertGreaterThan(webhook.counters.sent, 0)
        XCTAssertGreaterThan(webhook.counters.spooled, 0)
        XCTAssertEqual(webhook.counters.sent + webhook.counters.spooled, 20)
        XCTAssertLessThan(SinkClock.now() - start, 3)
        XCTAssertTrue(webhook.warnings.joined().contains("kept in the spool"), webhook.warnings.joined())
        // The next start sends the rest.
        server.setResponder { _, _ in TestReceiver.Response() }
        let again = try WebhookSink(options: o, hostname: "h", log: log.sink)
        XCTAssertEqual(again.counters.recovered, webhook.counters.spooled)
        XCTAssertEqual(again.close(deadline: SinkClock.now() + 10).counters.sent, webhook.counters.spooled)
        XCTAssertEqual(Set(deliveredIDs(server.requests)), Set((0..<20).map { AlertID.make(for: makeAlert($0)) }))
        XCTAssertTrue(log.text.contains("left in the spool by an earlier run"), log.text)
    }

    func testRequestTimeoutIsRetried() throws {
        let server = try TestReceiver { _, n in TestReceiver.Response(delay: n == 0 ? 1.5 : 0) }
        var o = fastOptions(server.url)
        o.timeout = 0.4
        let log = LogLines()
        let sink = try WebhookSink(options: o, hostname: "h", log: log.sink)
        sink.send(SinkAlert(alert: makeAlert(0), id: "id-0"))
        let report = sink.close(deadline: SinkClock.now() + 10)
        XCTAssertEqual(report.counters.sent, 1)
        XCTAssertGreaterThanOrEqual(report.counters.retried, 1)
        // Given up after the timeout (0.4 s), not after the slow answer (1.5 s).
        let times = server.requests.map { $0.time }
        XCTAssertEqual(times.count, 2)
        XCTAssertGreaterThan(times[1] - times[0], 0.35)
        XCTAssertLessThan(times[1] - times[0], 1.3)
        XCTAssertTrue(log.text.contains("timed out"), log.text)
    }

    func testClientErrorGoesToDeadLetterAndSecretsNeverLeak() throws {
        let secret = "s3cr3t-token-value-42"
        let server = try TestReceiver { request, _ in
            // A careless receiver that echoes the credentials in its error message.
            TestReceiver.Response(status: 400, body: "bad request from \(request.headers["authorization"] ?? "")")
        }
        let log = LogLines()
        var o = fastOptions(URL(string: "http://user:pa55word@127.0.0.1:\(server.port)/hooks/T000/B000/XXXXSECRETPATH")!)
        o.headers = [("Authorization", "Bearer " + secret)]
        let sink = try WebhookSink(options: o, hostname: "h", log: log.sink)
        for i in 0..<3 { sink.send(SinkAlert(alert: makeAlert(i), id: "id-\(i)")) }
        let report = sink.close(deadline: SinkClock.now() + 10)
        XCTAssertEqual(report.counters.failed, 3)
        XCTAssertEqual(report.counters.sent, 0)
        XCTAssertEqual(report.counters.retried, 0)
        XCTAssertEqual(server.requests.count, 3)
        XCTAssertEqual(server.requests[0].headers["authorization"], "Bearer " + secret)
        let deadPath = dir + "/spool/dead-letter.jsonl"
        XCTAssertEqual(report.deadLetterPath, deadPath)
        let dead = try String(contentsOfFile: deadPath, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(dead.count, 3)
        let first = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(dead[0].utf8)) as? [String: Any])
        XCTAssertEqual(first["status"] as? Int, 400)
        XCTAssertEqual((first["alert"] as? [String: Any])?["alert_id"] as? String, "id-0")
        XCTAssertTrue(log.text.contains("HTTP 400"), log.text)
        let everything = log.text + dead.joined() + report.name + report.summaryLine + report.warnings.joined()
        for leak in [secret, "pa55word", "XXXXSECRETPATH"] {
            XCTAssertFalse(everything.contains(leak), "\(leak) leaked: \(everything)")
        }
    }

    func testSpoolFullDropsOldestLoudly() throws {
        let port = TestReceiver.freePort()
        let log = LogLines()
        var o = fastOptions(URL(string: "http://127.0.0.1:\(port)/")!)
        o.spoolMaxSize = 16 << 10
        let sink = try WebhookSink(options: o, hostname: "h", log: log.sink)
        for i in 0..<200 { sink.send(SinkAlert(alert: makeAlert(i), id: "id-\(i)")) }
        let dropped = sink.counters.dropped
        XCTAssertGreaterThan(dropped, 0)
        XCTAssertTrue(log.text.contains("ALERTS DROPPED"), log.text)
        let server = try TestReceiver(port: port)
        let report = sink.close(deadline: SinkClock.now() + 10)
        XCTAssertEqual(report.counters.sent + report.counters.dropped, 200)
        XCTAssertTrue(report.warnings.joined().contains("DROPPED"))
        let ids = deliveredIDs(server.requests)
        XCTAssertEqual(ids.last, "id-199")  // the newest are kept
        XCTAssertEqual(ids.count, report.counters.sent)
    }

    func testMemoryQueueDropOldestAndBlockPolicy() throws {
        let port = TestReceiver.freePort()
        var o = fastOptions(URL(string: "http://127.0.0.1:\(port)/")!, spool: false)
        o.queueCapacity = 5
        let dropping = try WebhookSink(options: o, hostname: "h", log: nil)
        for i in 0..<12 { dropping.send(SinkAlert(alert: makeAlert(i), id: "id-\(i)")) }
        XCTAssertEqual(dropping.counters.dropped, 7)
        let server = try TestReceiver(port: port)
        let r1 = dropping.close(deadline: SinkClock.now() + 10)
        XCTAssertEqual(r1.counters.sent, 5)
        XCTAssertEqual(deliveredIDs(server.requests).last, "id-11")

        // block: send waits for room instead of dropping.
        server.setResponder { _, _ in TestReceiver.Response(delay: 0.05) }
        o.url = server.url
        o.whenFull = .block
        o.queueCapacity = 2
        let blocking = try WebhookSink(options: o, hostname: "h", log: nil)
        let start = SinkClock.now()
        for i in 0..<8 { blocking.send(SinkAlert(alert: makeAlert(i), id: "b-\(i)")) }
        XCTAssertGreaterThan(SinkClock.now() - start, 0.2)
        let r2 = blocking.close(deadline: SinkClock.now() + 10)
        XCTAssertEqual(r2.counters.dropped, 0)
        XCTAssertEqual(r2.counters.sent, 8)
    }

    func testSpoolSurvivesRestartAndSkipsTornLine() throws {
        let port = TestReceiver.freePort()
        let o = fastOptions(URL(string: "http://127.0.0.1:\(port)/")!, format: .batch)
        let first = try WebhookSink(options: o, hostname: "h", log: nil)
        for i in 0..<10 { first.send(SinkAlert(alert: makeAlert(i), id: "id-\(i)")) }
        // A second process cannot use the same spool.
        XCTAssertThrowsError(try WebhookSink(options: o, hostname: "h", log: nil))
        let r1 = first.close(deadline: SinkClock.now() + 0.2)
        XCTAssertEqual(r1.counters.spooled, 10)
        // A machine crash could leave half a line at the end of a segment.
        let spoolDir = try XCTUnwrap(first.spoolDirectory)
        let segment = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: spoolDir).filter { $0.hasPrefix("seg-") }.sorted().last)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: spoolDir + "/" + segment))
        handle.seekToEndOfFile()
        handle.write(Data("{\"alert_id\":\"torn".utf8))
        try handle.close()

        let server = try TestReceiver(port: port)
        let log = LogLines()
        let second = try WebhookSink(options: o, hostname: "h", log: log.sink)
        XCTAssertEqual(second.counters.recovered, 10)
        second.send(SinkAlert(alert: makeAlert(10), id: "id-10"))
        let r2 = second.close(deadline: SinkClock.now() + 10)
        XCTAssertEqual(r2.counters.sent, 11)
        XCTAssertEqual(deliveredIDs(server.requests), (0...10).map { "id-\($0)" })
        XCTAssertTrue(log.text.contains("incomplete line"), log.text)
        // Everything delivered: nothing is re-sent by a third start.
        let before = server.requests.count
        let third = try WebhookSink(options: o, hostname: "h", log: nil)
        XCTAssertEqual(third.counters.recovered, 0)
        _ = third.close(deadline: SinkClock.now() + 1)
        XCTAssertEqual(server.requests.count, before)
    }

    // MARK: Payload shapes

    func testSlackPayloadShape() throws {
        let server = try TestReceiver()
        let sink = try WebhookSink(options: fastOptions(server.url, format: .slack, spool: false), hostname: "h", log: nil)
        sink.send(SinkAlert(alert: makeAlert(1, priority: .critical, user: "<!channel> & co"), id: "id-1"))
        sink.send(SinkAlert(alert: makeAlert(2, priority: .notice), id: "id-2"))
        XCTAssertEqual(sink.close(deadline: SinkClock.now() + 10).counters.sent, 2)
        let bodies = server.requests.map { $0.json as? [String: Any] }
        XCTAssertEqual(bodies.count, 2)  // one message per alert
        let m = try XCTUnwrap(bodies[0])
        XCTAssertEqual(m["text"] as? String, "[Critical] Forbidden")
        let attachments = try XCTUnwrap(m["attachments"] as? [[String: Any]])
        XCTAssertEqual(attachments.count, 1)
        let a = attachments[0]
        XCTAssertEqual(a["color"] as? String, "#a30200")
        XCTAssertEqual(a["title"] as? String, "Forbidden")
        XCTAssertEqual(a["text"] as? String, "denied &lt;!channel&gt; &amp; co #1")  // no mention possible
        XCTAssertNotNil(a["fallback"] as? String)
        XCTAssertNotNil(a["ts"] as? Int)
        let fields = try XCTUnwrap(a["fields"] as? [[String: Any]])
        for f in fields {
            XCTAssertNotNil(f["title"] as? String)
            XCTAssertNotNil(f["value"] as? String)
            XCTAssertNotNil(f["short"] as? Bool)
        }
        let byTitle = Dictionary(fields.map { ($0["title"] as! String, $0["value"] as! String) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(byTitle["rule"], "Forbidden")
        XCTAssertEqual(byTitle["priority"], "Critical")
        XCTAssertEqual(byTitle["ka.user.name"], "&lt;!channel&gt; &amp; co")
        XCTAssertEqual(byTitle["ka.target.namespace"], "&lt;NA&gt;")
        XCTAssertEqual(byTitle["alert_id"], "id-1")
        let second = try XCTUnwrap((bodies[1]?["attachments"] as? [[String: Any]])?.first)
        XCTAssertNotEqual(second["color"] as? String, "#a30200")
    }

    func testAlertmanagerPayloadShape() throws {
        let server = try TestReceiver()
        let root = URL(string: "http://127.0.0.1:\(server.port)")!
        var o = fastOptions(root, format: .alertmanager, spool: false)
        o.batchSize = 10
        let sink = try WebhookSink(options: o, hostname: "node-1", log: nil)
        for i in 0..<3 { sink.send(SinkAlert(alert: makeAlert(i), id: "id-\(i)")) }
        XCTAssertEqual(sink.close(deadline: SinkClock.now() + 10).counters.sent, 3)
        let r = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(r.path, "/api/v2/alerts")
        let alerts = try XCTUnwrap(r.json as? [[String: Any]])
        XCTAssertEqual(alerts.count, 3)
        let labelName = try NSRegularExpression(pattern: "^[a-zA-Z_][a-zA-Z0-9_]*$")
        for (i, alert) in alerts.enumerated() {
            XCTAssertEqual(Set(alert.keys), ["labels", "annotations", "startsAt"])
            let labels = try XCTUnwrap(alert["labels"] as? [String: String])  // every value a string
            XCTAssertEqual(labels["alertname"], "Forbidden")
            XCTAssertEqual(labels["rule"], "Forbidden")
            XCTAssertEqual(labels["priority"], "Warning")
            XCTAssertEqual(labels["source"], "k8s_audit")
            XCTAssertEqual(labels["hostname"], "node-1")
            XCTAssertEqual(labels["ka_user_name"], "mallory")
            XCTAssertNil(labels["ka_target_namespace"])  // missing values are not labels
            for name in labels.keys {
                XCTAssertEqual(labelName.numberOfMatches(in: name, range: NSRange(name.startIndex..., in: name)), 1, name)
                XCTAssertFalse(name.hasPrefix("__"))
            }
            let annotations = try XCTUnwrap(alert["annotations"] as? [String: String])
            XCTAssertEqual(annotations["summary"], "Warning: Forbidden")
            XCTAssertEqual(annotations["description"], "denied mallory #\(i)")
            XCTAssertEqual(annotations["alert_id"], "id-\(i)")
            XCTAssertEqual(annotations["audit_id"], "audit-\(i)")
            let startsAt = try XCTUnwrap(alert["startsAt"] as? String)
            XCTAssertNotNil(startsAt.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$"#, options: .regularExpression), startsAt)
        }
    }
}

import Foundation
import XCTest

/// An audit event that the `sinkRules` rule alerts on; `%ID%` and `%TS%` (seconds, `10:MM:SS`) vary.
private let sinkEvent = #"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"%ID%","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/secrets/s","verb":"get","user":{"username":"mallory"},"sourceIPs":["10.1.1.1"],"objectRef":{"resource":"secrets","namespace":"default","name":"s","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":403},"requestReceivedTimestamp":"2026-11-23T10:%TS%.000000Z","stageTimestamp":"2026-11-23T10:%TS%.500000Z","annotations":{"authorization.k8s.io/decision":"forbid","authorization.k8s.io/reason":"no RBAC policy matched"}}"#

private let sinkRules = """
- rule: Forbidden
  desc: a denied request
  condition: ka.auth.decision = forbid
  output: denied %ka.user.name %ka.verb %ka.target.resource
  priority: warning
  tags: [test]
"""

/// A receiver written in Python (http.server): a second, independent HTTP implementation. Logs every
/// request (path, headers, body, status answered) as a JSON line. Modes: `ok`, `status:N`,
/// `ok-first:N` (then 503), `fail-first:N` (503, then 200). A 400 echoes the Authorization header, as
/// a careless receiver might.
private let receiverScript = """
import http.server, json, sys, threading
port, mode, log = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lock = threading.Lock()
count = [0]
def decide(k):
    kind, _, arg = mode.partition(':')
    if kind == 'ok': return 200
    if kind == 'status': return int(arg)
    if kind == 'ok-first': return 200 if k <= int(arg) else 503
    if kind == 'fail-first': return 503 if k <= int(arg) else 200
    return 500
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        with lock:
            count[0] += 1
            status = decide(count[0])
            with open(log, 'a') as f:
                f.write(json.dumps({'path': self.path, 'status': status, 'headers': dict(self.headers),
                                    'body': body.decode('utf-8', 'replace')}) + '\\n')
        reply = ('rejected: ' + str(self.headers.get('Authorization'))).encode() if status == 400 else b''
        self.send_response(status)
        self.send_header('Content-Length', str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(('127.0.0.1', port), Handler)
print('ready', server.server_address[1], flush=True)
server.serve_forever()
"""

final class SinkCLITests: XCTestCase {
    var dir: URL!
    var receivers: [Process] = []

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("audithound-sinkcli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try receiverScript.write(to: dir.appendingPathComponent("receiver.py"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        for p in receivers where p.isRunning { p.terminate(); p.waitUntilExit() }
        try? FileManager.default.removeItem(at: dir)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func events(_ ids: [String], seconds: [Int]? = nil) -> String {
        var text = ""
        for (i, id) in ids.enumerated() {
            let s = seconds?[i] ?? 0
            let ts = String(format: "%02d:%02d", s / 60, s % 60)
            text += sinkEvent.replacingOccurrences(of: "%ID%", with: id).replacingOccurrences(of: "%TS%", with: ts) + "\n"
        }
        return text
    }

    /// Starts the Python receiver (port 0: any) and returns its port.
    func startReceiver(port: Int = 0, mode: String, log: String) throws -> Int {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", dir.appendingPathComponent("receiver.py").path, String(port), mode, log]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { throw XCTSkip("python3 is not available") }
        receivers.append(p)
        var text = ""
        let deadline = Date().addingTimeInterval(10)
        while !text.contains("\n") && Date() < deadline {
            let data = out.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
        }
        guard text.hasPrefix("ready "), let bound = Int(text.dropFirst(6).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            p.terminate()
            throw XCTSkip("the python3 receiver did not start: \(text)")
        }
        return bound
    }

    func received(_ log: String) -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// (audit_id, alert_id) of the alerts in the bodies of requests answered 200.
    func acknowledged(_ log: String) -> [(String, String)] {
        var out: [(String, String)] = []
        for r in received(log) where r["status"] as? Int == 200 {
            guard let body = r["body"] as? String, let array = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]] else { continue }
            for a in array { out.append((a["audit_id"] as? String ?? "", a["alert_id"] as? String ?? "")) }
        }
        return out
    }

    func testKill9MidOutageThenRestartDeliversEveryAlert() throws {
        let rules = try write("r.yaml", sinkRules)
        let ids = (0..<50).map { "ev-\($0)" }
        let input = try write("a.log", events(ids))
        let empty = try write("empty.log", "")
        let spool = dir.appendingPathComponent("spool").path
        let log1 = dir.appendingPathComponent("rx1.jsonl").path, log2 = dir.appendingPathComponent("rx2.jsonl").path
        // The receiver takes two batches, then fails (503), then goes away.
        let port = try startReceiver(mode: "ok-first:2", log: log1)
        func args(_ path: String) -> [String] {
            ["replay", "--rules", rules, "--output", "webhook:http://127.0.0.1:\(port)/falco;format=batch",
             "--webhook-batch-size", "5", "--webhook-batch-interval", "20ms", "--webhook-retry-initial", "50ms",
             "--webhook-retry-max", "200ms", "--spool", spool, "--flush-timeout", "60s", path]
        }
        let p = Process()
        p.executableURL = try audithoundBinary()
        p.arguments = args(input)
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        let deadline = Date().addingTimeInterval(20)
        while received(log1).count < 4 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertGreaterThanOrEqual(received(log1).count, 4, "the receiver saw too few requests")
        receivers[0].terminate()
        receivers[0].waitUntilExit()
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertTrue(p.isRunning, "audithound should still be retrying")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)
        let firstRun = acknowledged(log1)
        XCTAssertEqual(firstRun.count, 10)

        // Restart with the same spool; the receiver is back (one more 503 first).
        _ = try startReceiver(port: port, mode: "fail-first:1", log: log2)
        let r = try runCLI(args(empty))
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("left in the spool by an earlier run"), r.stderr)
        XCTAssertFalse(r.stderr.contains("not delivered yet"), r.stderr)
        let all = firstRun + acknowledged(log2)
        XCTAssertEqual(Set(all.map { $0.0 }), Set(ids), "every alert arrives at least once")
        // Stable ids: an alert sent twice carries the same alert_id.
        XCTAssertEqual(Set(all.map { $0.1 }).count, 50)
        XCTAssertGreaterThanOrEqual(all.count, 50)
    }

    func testSecretsInHeadersAndURLsNeverAppearInOutput() throws {
        let rules = try write("r.yaml", sinkRules)
        let input = try write("a.log", events(["one", "two"]))
        let tokenFile = try write("key.txt", "file-secret-value-99\n")
        setenv("AUDITHOUND_TEST_TOKEN", "env-secret-value-77", 1)
        defer { unsetenv("AUDITHOUND_TEST_TOKEN") }
        let log = dir.appendingPathComponent("rx.jsonl").path
        let port = try startReceiver(mode: "status:400", log: log)
        let spool = dir.appendingPathComponent("spool").path
        let r = try runCLI(["replay", "--rules", rules, "--format", "json",
                            "--output", "stdout", "--output", "webhook:http://127.0.0.1:\(port)/services/T00/B00/PATHSECRET1234",
                            "--webhook-header", "Authorization: Bearer ${AUDITHOUND_TEST_TOKEN}",
                            "--webhook-header", "X-Api-Key: @\(tokenFile)", "--spool", spool, input])
        XCTAssertEqual(r.status, 0, r.stderr)
        let requests = received(log)
        XCTAssertEqual(requests.count, 2)
        let headers = requests.first?["headers"] as? [String: String] ?? [:]
        XCTAssertEqual(headers["Authorization"], "Bearer env-secret-value-77")
        XCTAssertEqual(headers["X-Api-Key"], "file-secret-value-99")
        XCTAssertTrue(r.stderr.contains("HTTP 400"), r.stderr)
        XCTAssertTrue(r.stderr.contains("failed 2"), r.stderr)
        let dead = try String(contentsOfFile: spool + "/dead-letter.jsonl", encoding: .utf8)
        XCTAssertEqual(dead.split(separator: "\n").count, 2)
        for secret in ["env-secret-value-77", "file-secret-value-99", "PATHSECRET1234"] {
            XCTAssertFalse(r.stdout.contains(secret), secret)
            XCTAssertFalse(r.stderr.contains(secret), "\(secret) in: \(r.stderr)")
            XCTAssertFalse(dead.contains(secret), secret)
        }
        // A header naming a variable that is not set is an error that names the variable only.
        let bad = try runCLI(["replay", "--rules", rules, "--output", "webhook:http://127.0.0.1:\(port)/",
                              "--webhook-header", "Authorization: ${AUDITHOUND_NO_SUCH_VAR}", input])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("AUDITHOUND_NO_SUCH_VAR is not set"), bad.stderr)
    }

    func testConfigFileDeclaresOutputsAndFlagsOverrideIt() throws {
        let rules = try write("r.yaml", sinkRules)
        let input = try write("a.log", events(["a", "b", "c"], seconds: [0, 1, 2]))
        let log = dir.appendingPathComponent("rx.jsonl").path
        let port = try startReceiver(mode: "ok", log: log)
        let out = dir.appendingPathComponent("out.jsonl").path
        let config = try write("audithound.yaml", """
        spool: \(dir.appendingPathComponent("spool").path)
        flush_timeout: 10s
        webhook_headers:
          X-Cluster: prod
        outputs:
          - type: file
            path: \(out)
          - type: webhook
            url: http://127.0.0.1:\(port)/hook
            format: batch
            batch_interval: 10ms
            headers:
              X-Team: sec
          - type: webhook
            url: http://127.0.0.1:\(port)/critical
            min_priority: critical
          - type: stdout
            format: json
        """)
        let r = try runCLI(["replay", "--rules", rules, "--config", config, input])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 3)
        XCTAssertTrue(r.stdout.hasPrefix("{\"alert_id\":"), r.stdout)
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").count, 3)
        let requests = received(log)
        XCTAssertEqual(Set(requests.map { $0["path"] as? String }), ["/hook"])  // nothing is critical
        XCTAssertEqual(acknowledged(log).count, 3)
        let headers = requests.first?["headers"] as? [String: String] ?? [:]
        XCTAssertEqual(headers["X-Cluster"], "prod")
        XCTAssertEqual(headers["X-Team"], "sec")
        XCTAssertTrue(r.stderr.contains("outputs:"), r.stderr)
        XCTAssertTrue(r.stderr.contains("file \(out): sent 3"), r.stderr)

        // --output replaces the file's outputs; general flags win over the file's general settings.
        let r2 = try runCLI(["replay", "--rules", rules, "--config", config, "--output", "stdout", "--format", "text",
                             "--dedupe-window", "1h", input])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertEqual(r2.stdout.split(separator: "\n").count, 1, r2.stdout)
        XCTAssertEqual(received(log).count, requests.count)

        // Problems in the file: every one, with its position; exit 1.
        let broken = try write("broken.yaml", """
        flush_timeout: soon
        outputs:
          - type: file
          - type: webhook
            url: http://127.0.0.1:1/
            colour: red
        """)
        let r3 = try runCLI(["replay", "--rules", rules, "--config", broken, input])
        XCTAssertEqual(r3.status, 1)
        XCTAssertTrue(r3.stderr.contains("broken.yaml:1:1: flush_timeout"), r3.stderr)
        XCTAssertTrue(r3.stderr.contains("broken.yaml:3:5: a file output needs a path"), r3.stderr)
        XCTAssertTrue(r3.stderr.contains("broken.yaml:6:5: colour: unknown setting"), r3.stderr)
        XCTAssertEqual(r3.stdout, "")
        // Flag errors are usage errors.
        XCTAssertEqual(try runCLI(["replay", "--output", "ftp://x", input]).status, 2)
        XCTAssertEqual(try runCLI(["replay", "--webhook-format", "xml", input]).status, 2)
        XCTAssertEqual(try runCLI(["replay", "--rate-limit", "many", input]).status, 2)
        let help = try runCLI(["replay", "--help"])
        XCTAssertTrue(help.stdout.contains("--webhook-format"), help.stdout)
    }

    func testDedupeWindowAndRateLimitOnTheCommandLine() throws {
        let rules = try write("r.yaml", sinkRules)
        // The same alert at 10:00, 10:01, 10:02 and 10:06 (event time).
        let input = try write("a.log", events(["a", "b", "c", "d"], seconds: [0, 60, 120, 360]))
        let r = try runCLI(["replay", "--rules", rules, "--dedupe-window", "5m", input])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, r.stdout)
        XCTAssertTrue(lines[1].hasPrefix("2026-11-23T10:06:00"), lines[1])
        XCTAssertTrue(lines[1].hasSuffix("(2 similar suppressed)"), lines[1])
        XCTAssertTrue(r.stderr.contains("suppressed 2 repeats"), r.stderr)
        let j = try runCLI(["replay", "--rules", rules, "--format", "json", "--dedupe-window", "5m", input])
        let last = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(j.stdout.split(separator: "\n").last!.utf8)) as? [String: Any])
        XCTAssertEqual(last["suppressed_repeats"] as? Int, 2)
        // At most one per hour of event time.
        let limited = try runCLI(["replay", "--rules", rules, "--rate-limit", "1/h", input])
        XCTAssertEqual(limited.stdout.split(separator: "\n").count, 1, limited.stdout)
        XCTAssertTrue(limited.stderr.contains("rate-limited 3"), limited.stderr)
    }
}

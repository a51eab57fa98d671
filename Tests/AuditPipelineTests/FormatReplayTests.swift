import AuditInput
import AuditLogGen
import AuditRules
import CZlib
import Foundation
import XCTest
@testable import AuditPipeline

/// Rules that fire often on the generator's traffic.
private let formatRules = """
- rule: Pod Write
  desc: t
  condition: ka.target.resource = pods and ka.verb in (create, update, patch, delete)
  output: pod write by %ka.user.name (%ka.verb)
  priority: NOTICE
- rule: Anonymous Request
  desc: t
  condition: ka.user.name = system:anonymous
  output: anonymous %ka.uri
  priority: WARNING
- rule: Config Read
  desc: t
  condition: ka.target.resource in (configmaps, secrets) and ka.verb in (get, list)
  output: read %ka.target.name
  priority: NOTICE
- rule: Created
  desc: t
  condition: ka.response.code = 201
  output: created %ka.target.resource
  priority: NOTICE
- rule: Any Get
  desc: t
  condition: ka.verb = get
  output: get %ka.uri
  priority: DEBUG
"""

private func formatRuleSet() -> CompiledRuleSet {
    let loaded = RuleCompiler.load([RuleFile(path: "formats.yaml", text: formatRules)])
    precondition(!loaded.hasErrors, "\(loaded.diagnostics)")
    return loaded.ruleSet!
}

/// One alert, reduced to what must not depend on the input format, plus its position.
private struct AlertKey: Equatable, CustomStringConvertible {
    var rule: String
    var auditID: String
    var input: String
    var description: String { "\(rule) \(auditID) @\(input)" }
}

private struct FormatRun {
    var alerts: [AlertKey] = []
    var events = 0
    var problems: [String] = []
    var truncated = 0
    var report = PipelineReport()
}

private func replayFormat(_ paths: [String], format: InputFormat = .auto, workers: Int = 2, batchSize: Int = 1 << 20,
                          ruleSet: CompiledRuleSet) -> FormatRun {
    var options = PipelineOptions()
    options.workers = workers
    options.batchSize = batchSize
    options.inputFormat = format
    var workerSettings = ReplaySettings()
    workerSettings.inputFormat = format
    let settings = workerSettings
    var run = FormatRun()
    run.report = Pipeline<ReplayBatchResult>(inputs: paths, options: options).run(makeWorker: {
        let w = ReplayWorker(ruleSet: ruleSet, settings: settings)
        return { batch, source in w.process(batch, source: source) }
    }, consume: { r, _, _ in
        run.events += r.events
        run.truncated += r.truncatedMessages
        run.problems += r.problems.map { $0.description }
        run.alerts += r.alerts.map { AlertKey(rule: $0.rule, auditID: $0.auditID, input: $0.input) }
    })
    return run
}

/// One gzip member of `bytes`.
private func gzipped(_ bytes: [UInt8]) -> [UInt8] {
    var stream = z_stream()
    precondition(deflateInit2_(&stream, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY,
                               ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK)
    defer { deflateEnd(&stream) }
    var input = bytes
    var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(bytes.count))) + 64)
    let produced = input.withUnsafeMutableBufferPointer { inBuf in
        output.withUnsafeMutableBufferPointer { outBuf in
            stream.next_in = inBuf.baseAddress
            stream.avail_in = UInt32(inBuf.count)
            stream.next_out = outBuf.baseAddress
            stream.avail_out = UInt32(outBuf.count)
            precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END)
            return outBuf.count - Int(stream.avail_out)
        }
    }
    return Array(output[0..<produced])
}

private func utf8(_ s: String) -> [UInt8] { Array(s.utf8) }

/// A JSON string literal holding `text`.
private func quoteJSON(_ text: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0x22]
    for b in text {
        switch b {
        case 0x22: out += [0x5C, 0x22]
        case 0x5C: out += [0x5C, 0x5C]
        case 0x0A: out += [0x5C, UInt8(ascii: "n")]
        case 0..<0x20: out += utf8(String(format: "\\u%04x", b))
        default: out.append(b)
        }
    }
    return out + [0x22]
}

private func base64Text(_ bytes: [UInt8]) -> [UInt8] { utf8(Data(bytes).base64EncodedString()) }

/// A compact subscription payload holding `messages` (DATA_MESSAGE) or a control message.
private func subscriptionPayload(_ messages: [[UInt8]], control: Bool = false) -> [UInt8] {
    if control {
        return utf8(#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1510109208016,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#)
    }
    var out = utf8(#"{"messageType":"DATA_MESSAGE","owner":"111111111111","logGroup":"/aws/eks/test/cluster","logStream":"kube-apiserver-audit-71976ca11bea5d3083393f7d32dab75b","subscriptionFilters":["k8s-audit"],"logEvents":["#)
    for (i, m) in messages.enumerated() {
        if i > 0 { out.append(UInt8(ascii: ",")) }
        out += utf8(#"{"id":"362370460000000000000000000000000000000000\#(i)","timestamp":1795428000000,"message":"#) + quoteJSON(m) + utf8("}")
    }
    return out + utf8("]}")
}

private func chunks<T>(_ items: [T], of size: Int) -> [[T]] {
    stride(from: 0, to: items.count, by: size).map { Array(items[$0..<min($0 + size, items.count)]) }
}

private func lineCount(_ bytes: [UInt8]) -> Int { bytes.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) } }

final class FormatReplayTests: XCTestCase {
    private var directory = ""
    private var events: [[UInt8]] = []
    private let ruleSet = formatRuleSet()
    private var reference = FormatRun()
    private var plainPath = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "audithound-formats-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var generator = AuditLogGenerator(seed: 21, attackRate: 0.05)
        var buffer: [UInt8] = []
        for _ in 0..<500 { generator.appendEvent(to: &buffer) }
        generator.finish(to: &buffer)
        events = buffer.split(separator: 0x0A).map(Array.init)
        plainPath = try write(buffer, "plain.log")
        reference = replayFormat([plainPath], ruleSet: ruleSet)
        XCTAssertGreaterThan(reference.alerts.count, 100)
        XCTAssertEqual(reference.events, events.count)
        XCTAssertEqual(reference.problems, [])
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    @discardableResult
    private func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = directory + "/" + name
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The reference alerts with each event's position replaced by `positions[event index]`.
    private func expected(_ positions: [String]) -> [AlertKey] {
        reference.alerts.map { alert in
            let line = Int(alert.input[alert.input.index(after: alert.input.lastIndex(of: ":")!)...])!
            return AlertKey(rule: alert.rule, auditID: alert.auditID, input: positions[line - 1])
        }
    }

    /// Replays `paths` with auto-detection and with the forced `format`, at two batch sizes, and checks
    /// the alerts (rules, auditIDs, order and positions) against the plain replay.
    private func check(_ paths: [String], format: InputFormat, positions: [String],
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(positions.count, events.count, file: file, line: line)
        let want = expected(positions)
        for (mode, batch) in [(InputFormat.auto, 1 << 20), (.auto, 3000), (format, 1 << 20), (format, 700)] {
            let run = replayFormat(paths, format: mode, workers: batch < 1000 ? 3 : 2, batchSize: batch, ruleSet: ruleSet)
            XCTAssertEqual(run.problems, [], "\(mode) batch \(batch)", file: file, line: line)
            XCTAssertEqual(run.report.inputErrors.map(\.description), [], file: file, line: line)
            XCTAssertEqual(run.events, events.count, "\(mode) batch \(batch)", file: file, line: line)
            XCTAssertEqual(run.alerts.count, want.count, "\(mode) batch \(batch)", file: file, line: line)
            if let k = zip(run.alerts, want).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
                XCTFail("\(mode) batch \(batch): alert \(k) is \(run.alerts[k]), expected \(want[k])", file: file, line: line)
            }
        }
    }

    func testPlainLinesForcedAndAuto() {
        let run = replayFormat([plainPath], format: .lines, ruleSet: ruleSet)
        XCTAssertEqual(run.alerts, reference.alerts)
        XCTAssertEqual(run.events, reference.events)
    }

    func testCloudWatchS3ExportTree() throws {
        // <prefix>/aws-logs-write-test, <prefix>/<taskId>/<stream>/00000N.gz, events in path order.
        let root = directory + "/export"
        try write(utf8("Permission Check Successful"), "export/eks-audit/aws-logs-write-test")
        let parts = chunks(Array(events.indices), of: (events.count + 2) / 3)
        let files = ["0f15b84a-1adb-492a-820c-c0cedcaf1933/kube-apiserver-audit-0aaa/000000.gz",
                     "0f15b84a-1adb-492a-820c-c0cedcaf1933/kube-apiserver-audit-0aaa/000001.gz",
                     "0f15b84a-1adb-492a-820c-c0cedcaf1933/kube-apiserver-audit-1bbb/000000.gz"]
        var positions = [String](repeating: "", count: events.count)
        for (part, name) in zip(parts, files) {
            var text: [UInt8] = []
            for (lineIndex, e) in part.enumerated() {
                let stamp = e % 2 == 0 ? "2026-11-23T10:00:00.\(String(format: "%03d", e % 1000))Z" : "1795428000\(String(format: "%03d", e % 1000))"
                text += utf8(stamp + " ") + events[e] + [0x0A]
                positions[e] = "\(root)/eks-audit/\(name):\(lineIndex + 1)"
            }
            try write(gzipped(text), "export/eks-audit/" + name)
        }
        let inputs = try expandInputPaths([root])
        XCTAssertEqual(inputs.count, 4)
        XCTAssertTrue(inputs.last!.hasSuffix("aws-logs-write-test"))
        check(inputs, format: .cloudwatchExport, positions: positions)
    }

    func testSubscriptionPayloadsRawEncodedAndLambda() throws {
        let groups = chunks(Array(events.indices), of: 7)
        var raw = subscriptionPayload([], control: true) + [0x0A]
        var encoded = base64Text(gzipped(subscriptionPayload([], control: true))) + [0x0A]
        var lambda: [UInt8] = []
        var positions: [[String]] = [[], [], []].map { _ in [String](repeating: "", count: events.count) }
        for (g, group) in groups.enumerated() {
            let payload = subscriptionPayload(group.map { events[$0] })
            raw += payload + [0x0A]
            encoded += base64Text(gzipped(payload)) + [0x0A]
            lambda += utf8(#"{"awslogs":{"data":""#) + base64Text(gzipped(payload)) + utf8("\"}}\n")
            for (k, e) in group.enumerated() {
                positions[0][e] = "\(directory)/sub-raw.json:\(g + 2)#\(k + 1)"
                positions[1][e] = "\(directory)/sub-base64.txt:\(g + 2)#\(k + 1)"
                positions[2][e] = "\(directory)/lambda.jsonl:\(g + 1)#\(k + 1)"
            }
        }
        check([try write(raw, "sub-raw.json")], format: .subscription, positions: positions[0])
        check([try write(encoded, "sub-base64.txt")], format: .subscription, positions: positions[1])
        check([try write(lambda, "lambda.jsonl")], format: .subscription, positions: positions[2])
    }

    func testFilterLogEventsPagesPrettyAndCompact() throws {
        let pages = chunks(Array(events.indices), of: 10)
        var pretty: [UInt8] = []
        var compact: [UInt8] = []
        var positions: [[String]] = [[], []].map { _ in [String](repeating: "", count: events.count) }
        for (p, page) in pages.enumerated() {
            let startLine = lineCount(pretty) + 1
            pretty += utf8("{\n    \"events\": [\n")
            var items: [[UInt8]] = []
            for (k, e) in page.enumerated() {
                let item = utf8("        {\n            \"logStreamName\": \"kube-apiserver-audit-71976ca11bea5d3083393f7d32dab75b\",\n            \"timestamp\": 1795428000000,\n            \"message\": ")
                    + quoteJSON(events[e]) + utf8(",\n            \"ingestionTime\": 1795428001000,\n            \"eventId\": \"0009153912038291232420090157000009685557945601024766\(k)\"\n        }")
                items.append(item)
                positions[0][e] = "\(directory)/pages.json:\(startLine)#\(k + 1)"
                positions[1][e] = "\(directory)/pages-compact.json:1#\(k + 1)"
            }
            pretty += Array(items.joined(separator: utf8(",\n"))) + utf8("\n    ],\n    \"nextToken\": \"token-\(p)\"\n}\n")
            // Compact pages back to back; every other one in the get-log-events shape.
            let compactItems = page.map { utf8(#"{"timestamp":1795428000000,"message":"#) + quoteJSON(events[$0]) + utf8(#","ingestionTime":1}"#) }
            if p % 2 == 0 {
                compact += utf8(#"{"events":["#) + Array(compactItems.joined(separator: [UInt8(ascii: ",")])) + utf8(#"],"nextToken":"t"}"#)
            } else {
                compact += utf8(#"{"nextForwardToken":"f/1","events":["#) + Array(compactItems.joined(separator: [UInt8(ascii: ",")]))
                    + utf8(#"],"nextBackwardToken":"b/1"}"#)
            }
        }
        check([try write(pretty, "pages.json")], format: .filterLogEvents, positions: positions[0])
        check([try write(compact, "pages-compact.json")], format: .filterLogEvents, positions: positions[1])
    }

    func testFirehoseConcatenatedGzipMembers() throws {
        let groups = chunks(Array(events.indices), of: 9)
        var object = gzipped(subscriptionPayload([], control: true))
        var positions = [String](repeating: "", count: events.count)
        let path = directory + "/firehose/2026/11/23/10/stream-1-2026-11-23-10-00-00-a188030a"
        for group in groups {
            object += gzipped(subscriptionPayload(group.map { events[$0] }))
            for (k, e) in group.enumerated() { positions[e] = "\(path):1#\(k + 1)" }
        }
        object += gzipped(subscriptionPayload([], control: true))
        check([try write(object, "firehose/2026/11/23/10/stream-1-2026-11-23-10-00-00-a188030a")], format: .firehose,
              positions: positions)
    }

    func testAKSDiagnosticRecordsWithByteOrderMark() throws {
        let groups = chunks(Array(events.indices), of: 6)
        var text: [UInt8] = [0xEF, 0xBB, 0xBF]
        var positions = [String](repeating: "", count: events.count)
        func record(_ category: String, _ log: [UInt8]) -> [UInt8] {
            utf8("    {\n      \"operationName\": \"Microsoft.ContainerService/managedClusters/diagnosticLogs/Read\",\n      \"category\": \"\(category)\",\n      \"properties\": {\n        \"log\": ")
                + quoteJSON(log + [0x0A]) + utf8(",\n        \"stream\": \"stdout\",\n        \"pod\": \"kube-apiserver-79599f95c7-qn557\"\n      },\n      \"time\": \"2020-05-05T16:16:37.0000000Z\"\n    }")
        }
        for (g, group) in groups.enumerated() {
            let startLine = lineCount(text) + 1
            var records: [[UInt8]] = []
            for (k, e) in group.enumerated() {
                records.append(record(k % 2 == 0 ? "kube-audit" : "kube-audit-admin", events[e]))
                positions[e] = "\(directory)/aks.json:\(startLine)#\(records.count)"
                if k == 2 { records.append(record("kube-apiserver", utf8("I1123 10:00:00.000000 1 log.go:1] not audit"))) }
            }
            text += utf8("{\n  \"records\": [\n") + Array(records.joined(separator: utf8(",\n"))) + utf8("\n  ]\n}")
            text += g % 2 == 0 ? utf8("\n") : []
        }
        check([try write(text, "aks.json")], format: .aks, positions: positions)
    }

    func testMixedRecordsInOneFileAreRecognisedPerRecord() throws {
        var text: [UInt8] = []
        var positions = [String](repeating: "", count: events.count)
        let path = directory + "/mixed.log"
        for (e, event) in events.enumerated() {
            let lineNumber = e + 1
            switch e % 7 {
            case 0:
                text += event
                positions[e] = "\(path):\(lineNumber)"
            case 1:
                text += utf8("2026-11-23T10:00:00.000Z ") + event
                positions[e] = "\(path):\(lineNumber)"
            case 2:
                text += subscriptionPayload([event])
                positions[e] = "\(path):\(lineNumber)#1"
            case 3:
                text += base64Text(gzipped(subscriptionPayload([event])))
                positions[e] = "\(path):\(lineNumber)#1"
            case 4:
                text += utf8(#"{"awslogs":{"data":""#) + base64Text(gzipped(subscriptionPayload([event]))) + utf8("\"}}")
                positions[e] = "\(path):\(lineNumber)#1"
            case 5:
                text += utf8(#"{"logStreamName":"kube-apiserver-audit-1","timestamp":1,"message":"#) + quoteJSON(event) + utf8(#","eventId":"1"}"#)
                positions[e] = "\(path):\(lineNumber)"
            default:
                text += utf8(#"{"category":"kube-audit","properties":{"log":"#) + quoteJSON(event) + utf8("}}")
                positions[e] = "\(path):\(lineNumber)"
            }
            text.append(0x0A)
        }
        try write(text, "mixed.log")
        let want = expected(positions)
        for batch in [1 << 20, 2000] {
            let run = replayFormat([path], batchSize: batch, ruleSet: ruleSet)
            XCTAssertEqual(run.problems, [])
            XCTAssertEqual(run.events, events.count)
            XCTAssertEqual(run.alerts, want)
        }
        // Forcing one format reports the records of the other shapes, and keeps going.
        let forced = replayFormat([path], format: .subscription, ruleSet: ruleSet)
        XCTAssertEqual(forced.events, (0..<events.count).filter { (2...4).contains($0 % 7) }.count)
        XCTAssertEqual(forced.problems.count, events.count - forced.events)
        XCTAssertTrue(forced.problems.allSatisfy { $0.hasSuffix("not a record of the input format subscription") }, "\(forced.problems.prefix(3))")
    }

    func testTruncatedMessagesAreReportedCountedAndTheRunGoesOn() throws {
        let groups = chunks(Array(events.indices), of: 8)
        var text: [UInt8] = []
        var truncatedEvents: Set<Int> = []
        var expectedProblems: [String] = []
        let path = directory + "/truncated.json"
        for (g, group) in groups.enumerated() {
            var messages: [[UInt8]] = []
            for (k, e) in group.enumerated() {
                var message = events[e]
                if e % 13 == 5 {
                    message = Array(message.prefix(message.count / 2))
                    if e % 2 == 0 { message += utf8("[Truncated...]") }
                    truncatedEvents.insert(e)
                    expectedProblems.append("\(path):\(g + 1)#\(k + 1): message truncated by CloudWatch")
                }
                messages.append(message)
            }
            text += subscriptionPayload(messages) + [0x0A]
        }
        try write(text, "truncated.json")
        let run = replayFormat([path], ruleSet: ruleSet)
        XCTAssertGreaterThan(truncatedEvents.count, 10)
        XCTAssertEqual(run.truncated, truncatedEvents.count)
        XCTAssertEqual(run.events, events.count - truncatedEvents.count)
        XCTAssertEqual(run.problems.map { String($0.prefix(while: { $0 != "(" })).trimmingCharacters(in: .whitespaces) }, expectedProblems)
        // Every alert of the other events is still there, in order.
        let kept = reference.alerts.filter { alert in
            !truncatedEvents.contains(Int(alert.input[alert.input.index(after: alert.input.lastIndex(of: ":")!)...])! - 1)
        }
        XCTAssertEqual(run.alerts.map { "\($0.rule) \($0.auditID)" }, kept.map { "\($0.rule) \($0.auditID)" })

        // stats counts them too.
        var options = PipelineOptions()
        options.workers = 2
        var stats = AuditStats()
        _ = Pipeline<AuditStats>(inputs: [path], options: options).run(makeWorker: {
            let w = StatsWorker(inputFormat: .auto)
            return { batch, source in w.process(batch, source: source) }
        }, consume: { s, _, _ in stats.merge(s) })
        XCTAssertEqual(stats.events, run.events)
        XCTAssertEqual(stats.truncatedMessages, truncatedEvents.count)
        XCTAssertEqual(stats.malformed, truncatedEvents.count)
    }

    func testRealAKSEventHubSamples() throws {
        let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/data/real/aks-eventhub")
        let names = ["event.json", "sample_EventHubs_event.json", "sample_KubeAuditLog_event.json"]
        let paths = names.map { data.appendingPathComponent($0).path }
        guard paths.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) else {
            throw XCTSkip("real AKS samples not present at \(data.path)")
        }
        for format in [InputFormat.auto] {
            let run = replayFormat(paths, format: format, ruleSet: ruleSet)
            XCTAssertEqual(run.problems, [])
            XCTAssertEqual(run.events, 22 + 1 + 1)
            let gets = run.alerts.filter { $0.rule == "Any Get" }
            XCTAssertEqual(gets.count, 17 + 1, "\(gets)")
            XCTAssertTrue(gets.first?.input.hasPrefix(paths[0] + ":1#") == true, "\(gets.first!)")
            XCTAssertEqual(gets.first?.auditID, "55ffceaa-b7c3-478e-98c6-e509cd2f0dd7")
            XCTAssertEqual(gets.last?.input, paths[1] + ":1")
        }
        let forced = replayFormat(Array(paths.prefix(2)), format: .aks, ruleSet: ruleSet)
        XCTAssertEqual(forced.problems, [])
        XCTAssertEqual(forced.events, 23)
    }
}

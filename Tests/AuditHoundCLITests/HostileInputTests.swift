import CZlib
import Foundation
import Glibc
import XCTest

/// Hostile inputs through the real `audithound` binary: each must end with a clear `path:line: reason`
/// report, the documented exit status and bounded memory (peak RSS measured with `wait4`).
final class HostileInputTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("audithound-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        signal(SIGPIPE, SIG_IGN)  // a child that exits early must not kill the test runner
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    private func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    @discardableResult
    private func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        try Data(bytes).write(to: dir.appendingPathComponent(name))
        return path(name)
    }

    @discardableResult
    private func write(_ name: String, _ text: String) throws -> String { try write(name, Array(text.utf8)) }

    /// Asserts a peak RSS bound, except under a sanitizer (whose shadow memory and quarantine make RSS
    /// meaningless).
    private func assertPeakRSS(_ run: MeasuredRun, below mebibytes: Int, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        guard !sanitizerActive else { return }
        XCTAssertLessThan(run.peakRSSKiB, mebibytes << 10, "\(what): peak RSS \(run.peakRSSKiB >> 10) MiB", file: file, line: line)
    }

    // MARK: - JSON structure

    func testNestingHundredThousandDeep() throws {
        let arrays = [UInt8](repeating: UInt8(ascii: "["), count: 100_000) + [UInt8](repeating: UInt8(ascii: "]"), count: 100_000)
        var objects = Array(#"{"kind":"Event","auditID":"d","verb":"get","x":"#.utf8)
        for _ in 0..<100_000 { objects += Array(#"{"a":"#.utf8) }
        objects += Array("1".utf8) + [UInt8](repeating: UInt8(ascii: "}"), count: 100_001)
        let p = try write("deep.log", arrays + [0x0A] + objects + [0x0A] + Array(hostileEvent("ok").utf8) + [0x0A])
        let r = try runMeasured(["replay", "--rules", try write("r.yaml", anyGetRule), p])
        XCTAssertEqual(r.exitCode, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("deep.log:1: invalid JSON: nesting too deep"), r.stderr)
        XCTAssertTrue(r.stderr.contains("deep.log:2: invalid JSON: nesting too deep"), r.stderr)
        XCTAssertTrue(r.stderr.contains("events: 1 (evaluated 1), malformed: 2, alerts: 1"), r.stderr)
        assertPeakRSS(r, below: 100, "deep nesting")
        // Pretty-printed framing (whole JSON values) copes too.
        let v = try runMeasured(["replay", "--input-format", "filter-log-events", "--rules", path("r.yaml"), p])
        XCTAssertTrue(v.stderr.contains("deep.log:1: invalid JSON: nesting too deep"), v.stderr)
        XCTAssertEqual(try runMeasured(["replay", "--strict", "--rules", path("r.yaml"), p]).exitCode, 1)
    }

    func testNumbersOutOfRangeAndRepeatedKeys() throws {
        var lines: [String] = []
        for (i, code) in ["1e999999", String(repeating: "9", count: 10_000), "-" + String(repeating: "1", count: 10_000) + ".5e-999999",
                          "403"].enumerated() {
            lines.append(hostileEvent("n\(i)").replacingOccurrences(of: #""code":403"#, with: #""code":\#(code)"#))
        }
        // The same key 10 000 times: at the top level, inside `user`, and as the whole object.
        let repeated = Array(repeating: #""verb":"get""#, count: 10_000).joined(separator: ",")
        lines.append(hostileEvent("k1").replacingOccurrences(of: #""verb":"get""#, with: repeated))
        let users = (0..<10_000).map { #""username":"u\#($0)""# }.joined(separator: ",")
        lines.append(hostileEvent("k2").replacingOccurrences(of: #""username":"mallory""#, with: users))
        lines.append("{" + Array(repeating: #""auditID":"x""#, count: 10_000).joined(separator: ",") + "}")
        let p = try write("numbers.log", lines.joined(separator: "\n") + "\n")
        let r = try runMeasured(["replay", "--format", "json", "--rules", try write("r.yaml", anyGetRule), p])
        XCTAssertEqual(r.exitCode, 0, r.stderr)
        // The last line (only `auditID`, 10 000 times) is an event too; it matches no rule.
        XCTAssertTrue(r.stderr.contains("events: 7 (evaluated 7), malformed: 0, alerts: 6"), r.stderr)
        for line in r.stdoutLines { XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(line.utf8)), line) }
    }

    // MARK: - Size

    func testTwoHundredMegabyteLineIsSkippedNotLoaded() throws {
        let p = path("big.log")
        XCTAssertTrue(FileManager.default.createFile(atPath: p, contents: nil))
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: p))
        h.write(Data(#"{"kind":"Event","auditID":"big","verb":"get","pad":""#.utf8))
        let chunk = Data(repeating: UInt8(ascii: "a"), count: 1 << 20)
        for _ in 0..<200 { h.write(chunk) }
        h.write(Data(("\"}\n" + hostileEvent("after") + "\n").utf8))
        try h.close()
        let r = try runMeasured(["replay", "--max-record-size", "16MiB", "--rules", try write("r.yaml", anyGetRule), p])
        XCTAssertEqual(r.exitCode, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("big.log:1: record of 209715254 bytes exceeds the maximum record size of 16777216 bytes; skipped"),
                      r.stderr)
        XCTAssertTrue(r.stderr.contains("events: 1 (evaluated 1), malformed: 1, alerts: 1"), r.stderr)
        assertPeakRSS(r, below: 100, "200 MB line with a 16 MiB limit")
    }

    func testTenMillionBackslashes() throws {
        let even = [UInt8](repeating: UInt8(ascii: "\\"), count: 10_000_000)
        let valid = Array(hostileEvent("bs").replacingOccurrences(of: #""verb":"get""#, with: #""verb":"get","pad":"@""#).utf8)
        let at = valid.firstIndex(of: UInt8(ascii: "@"))!
        let line1 = Array(valid[..<at]) + even + Array(valid[(at + 1)...])
        let line2 = Array(#"{"auditID":""#.utf8) + even + [UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "}")]
        let p = try write("bs.log", line1 + [0x0A] + line2 + [0x0A])
        let r = try runMeasured(["replay", "--rules", try write("r.yaml", anyGetRule), p])
        XCTAssertEqual(r.exitCode, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("bs.log:2: invalid JSON: "), r.stderr)
        XCTAssertTrue(r.stderr.contains("events: 1 (evaluated 1), malformed: 1, alerts: 1"), r.stderr)
        assertPeakRSS(r, below: 120, "10 million backslashes")
    }

    /// 1 GiB of zeros on one line from a ~1 MiB gzip file (64 members), with the default 64 MiB limit;
    /// then 1 GiB of 1 MiB lines, each parsed and rejected.
    func testGzipBomb() throws {
        let oneLine = gzipMember([UInt8](repeating: UInt8(ascii: "0"), count: 16 << 20))
        var bomb: [UInt8] = []
        for _ in 0..<64 { bomb += oneLine }
        XCTAssertLessThan(bomb.count, 2 << 20, "the bomb should be about 1 MiB")
        let p = try write("bomb.gz", bomb)
        let r = try runMeasured(["replay", p])
        XCTAssertEqual(r.exitCode, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("bomb.gz:1: record of 1073741824 bytes exceeds the maximum record size of 67108864 bytes; skipped"),
                      r.stderr)
        XCTAssertTrue(r.stderr.contains("malformed: 1"), r.stderr)
        assertPeakRSS(r, below: 256, "1 GiB gzip bomb, default limit")

        var lines = [UInt8](repeating: UInt8(ascii: "0"), count: 16 << 20)
        for k in 1...16 { lines[(k << 20) - 1] = 0x0A }
        let member = gzipMember(lines)
        bomb = []
        for _ in 0..<64 { bomb += member }
        let q = try write("lines.gz", bomb)
        let s = try runMeasured(["replay", q])
        XCTAssertEqual(s.exitCode, 0, s.stderr)
        XCTAssertTrue(s.stderr.contains("lines.gz:1024: invalid JSON") || s.stderr.contains("lines.gz:1: invalid JSON"), s.stderr)
        XCTAssertTrue(s.stderr.contains("events: 0 (evaluated 0), malformed: 1024"), s.stderr)
        assertPeakRSS(s, below: 100, "1 GiB of 1 MiB lines")
    }

    /// A producer that never sends a newline: memory stays bounded by --max-record-size while it runs,
    /// and the record is reported when the stream ends (or the run is stopped).
    func testEndlessStdinWithoutNewline() throws {
        for format in ["lines", "firehose"] {
            var hwmWhileRunning = 0
            let r = try runMeasured(["replay", "--max-record-size", "1MiB", "--input-format", format, "-"], feed: { fd, pid in
                let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20)
                let start = Array(#"{"auditID":""#.utf8)
                _ = writeAll(fd, start)
                for _ in 0..<256 { if !writeAll(fd, chunk) { break } }
                hwmWhileRunning = peakRSSKiB(ofRunning: pid) ?? 0
            })
            XCTAssertEqual(r.exitCode, 0, "\(format): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("<stdin>:1: record of 268435468 bytes exceeds the maximum record size of 1048576 bytes; skipped"),
                          "\(format): \(r.stderr)")
            if !sanitizerActive {
                XCTAssertLessThan(hwmWhileRunning, 64 << 10, "\(format): VmHWM while streaming")
            }
            assertPeakRSS(r, below: 64, "\(format): endless stdin")
        }
        // Stopped by a signal in the middle of the endless record: summary, no crash.
        let r = try runMeasured(["replay", "--max-record-size", "1MiB", "-"], feed: { fd, pid in
            let chunk = [UInt8](repeating: UInt8(ascii: "b"), count: 1 << 20)
            for _ in 0..<64 { if !writeAll(fd, chunk) { break } }
            kill(pid, SIGTERM)
            for _ in 0..<64 { if !writeAll(fd, chunk) { break } }
        })
        XCTAssertTrue(r.stderr.contains("stopped early by a signal"), r.stderr)
        assertPeakRSS(r, below: 64, "endless stdin, stopped")
    }

    func testRandomBytes() throws {
        var generator = SplitMix(seed: 42)
        var bytes = [UInt8](repeating: 0, count: 8 << 20)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: generator.next()) }
        let p = try write("random.bin", bytes)
        let r = try runMeasured(["replay", p])
        XCTAssertEqual(r.exitCode, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("random.bin:1: "), r.stderr)
        XCTAssertTrue(r.stderr.contains("events: 0 (evaluated 0), malformed: "), r.stderr)
        XCTAssertFalse(r.stderr.utf8.contains(0x1B), "raw ESC on stderr")
        XCTAssertEqual(try runMeasured(["replay", "--strict", p]).exitCode, 1)
        // Forced gzip on random bytes, and a gzip header followed by garbage: an input error naming the file.
        let g = try runMeasured(["replay", "--compression", "gzip", p])
        XCTAssertEqual(g.exitCode, 1, g.stderr)
        XCTAssertTrue(g.stderr.contains("random.bin: "), g.stderr)
        let corrupt = try write("corrupt.gz", Array(gzipMember(Array(hostileEvent("z").utf8)).prefix(10)) + Array(bytes.prefix(1 << 20)))
        let c = try runMeasured(["replay", corrupt])
        XCTAssertEqual(c.exitCode, 1, c.stderr)
        XCTAssertTrue(c.stderr.contains("corrupt.gz: "), c.stderr)
    }

    /// Regression: `--max-record-size` near Int.max overflowed the framers' buffer arithmetic (a trap), and
    /// a size with a unit overflowed while parsing.
    func testHugeSizeOptions() throws {
        let p = try write("one.log", hostileEvent("s") + "\n")
        // A pretty-printed event makes `auto` pick the JSON-value framer.
        let pretty = try write("pretty.log", "{\n" + hostileEvent("s").dropFirst() + "\n")
        for (format, input) in [("lines", p), ("auto", pretty)] {
            let r = try runMeasured(["replay", "--input-format", format, "--max-record-size", "9223372036854775807", input])
            XCTAssertEqual(r.exitCode, 0, "\(format): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("events: 1 (evaluated 1)"), "\(format): \(r.stderr)")
        }
        let r = try runMeasured(["replay", "--max-record-size", "9999999999999999GiB", p])
        XCTAssertEqual(r.exitCode, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("is not a size"), r.stderr)
    }

    // MARK: - Output safety

    /// Invalid UTF-8, lone surrogates, NUL, ESC sequences, C1 and bidi controls in a user name: the JSON alert
    /// parses, the text alert holds no raw control character, and bad records are reported.
    func testHostileStringsInAlerts() throws {
        var user: [UInt8] = Array("m".utf8) + [0xFF, 0xC3, 0x28, 0xED, 0xA0, 0x80, 0xC0, 0xAF, 0xF4, 0x90, 0x80, 0x80]
        user += Array(#"\u001b[2J\u001b]0;owned\u0007\u0000\ud800\udc00x\uDBFF"#.utf8)
        user += [0xC2, 0x9B, 0xC2, 0x85, 0xE2, 0x80, 0xAE, 0xE2, 0x81, 0xA6, 0xE2, 0x80, 0x8B, 0xF3, 0xA0, 0x80, 0x81, 0xE2, 0x82]
        let template = Array(hostileEvent("h").utf8)
        let marker = Array("mallory".utf8)
        let at = template.indices.first { template[$0...].starts(with: marker) }!
        let event = Array(template[..<at]) + user + Array(template[(at + marker.count)...])
        let badLines: [[UInt8]] = [
            Array(#"{"auditID":"a"#.utf8) + [0x1B] + Array(#"[31m"}"#.utf8),  // raw ESC inside a string: invalid JSON
            [0x00, 0x00, 0x7B, 0x7D],  // NUL bytes
            Array(#"{"auditID":"b","verb":"get"}"#.utf8) + [0x00],
        ]
        var file = event + [0x0A]
        for line in badLines { file += line + [0x0A] }
        let p = try write("hostile.log", file)
        let rules = try write("r.yaml", anyGetRule)

        let json = try runMeasured(["replay", "--format", "json", "--rules", rules, p])
        XCTAssertEqual(json.exitCode, 0, json.stderr)
        XCTAssertEqual(json.stdoutLines.count, 1, json.stderr)
        for line in json.stdoutLines {
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
            let fields = try XCTUnwrap(object["output_fields"] as? [String: Any])
            let name = try XCTUnwrap(fields["ka.user.name"] as? String)
            XCTAssertTrue(name.contains("\u{FFFD}"), name)
            XCTAssertTrue(name.contains("\u{1B}[2J"), name)
            XCTAssertTrue(name.contains("\u{0}"), name)
            XCTAssertTrue(name.contains("\u{10000}x"), name)  // a valid escaped surrogate pair
        }
        XCTAssertFalse(json.stdout.contains(0x1B), "raw ESC in JSON output")

        let text = try runMeasured(["replay", "--rules", rules, p])
        XCTAssertEqual(text.exitCode, 0, text.stderr)
        XCTAssertEqual(text.stdoutLines.count, 1, text.stderr)
        let out = String(decoding: text.stdout, as: UTF8.self)
        for scalar in out.unicodeScalars where scalar != "\n" {
            XCTAssertFalse(scalar.value < 0x20 || (0x7F..<0xA0).contains(scalar.value) || (0x202A...0x202E).contains(scalar.value)
                           || (0x2066...0x2069).contains(scalar.value) || scalar.value == 0x200B || (0xE0000...0xE007F).contains(scalar.value),
                           "raw U+\(String(scalar.value, radix: 16)) in the text alert: \(out.debugDescription)")
        }
        for visible in [#"\x1b[2J"#, #"\x1b]0;owned\x07"#, #"\x00"#, #"\u{9b}"#, #"\u{85}"#, #"\u{202e}"#, #"\u{2066}"#, #"\u{200b}"#, #"\u{e0001}"#] {
            XCTAssertTrue(out.contains(visible), "\(visible) missing in \(out)")
        }
        XCTAssertTrue(text.stderr.contains("hostile.log:2: invalid JSON: unescaped control character in string"), text.stderr)
        XCTAssertTrue(text.stderr.contains("hostile.log:3: invalid JSON"), text.stderr)
        XCTAssertTrue(text.stderr.contains("hostile.log:4: invalid JSON"), text.stderr)
        XCTAssertFalse(text.stderr.utf8.contains(0x1B), "raw ESC on stderr")
    }

    /// File names are log-controlled too (a directory of logs): diagnostics escape them.
    func testHostileFileNamesAreEscaped() throws {
        let logs = dir.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        try Data("{\"a\":1}\n".utf8).write(to: logs.appendingPathComponent("x\u{1B}[31mred.log"))
        try Data(gzipMember(Array(hostileEvent("g").utf8)).prefix(20)).write(to: logs.appendingPathComponent("y\u{1B}]0;t\u{7}.gz"))
        for command in ["replay", "stats"] {
            let r = try runMeasured([command, logs.path])
            let output = r.stderr + String(decoding: r.stdout, as: UTF8.self)
            XCTAssertEqual(r.exitCode, 1, output)
            XCTAssertTrue(output.contains(#"x\x1b[31mred.log:1: "#), output)
            XCTAssertTrue(output.contains(#"y\x1b]0;t\x07.gz: truncated gzip stream"#), output)
            XCTAssertFalse(r.stderr.utf8.contains(0x1B) || r.stdout.contains(0x1B), "\(command): raw ESC in \(r.stderr.debugDescription)")
        }
        // A rule file that cannot be read, for every command that loads rules (tail exits at once).
        let log = logs.appendingPathComponent("x\u{1B}[31mred.log").path
        let rules = dir.appendingPathComponent("r\u{1B}[2Jmissing.yaml").path
        for args in [["replay", "--rules", rules, log], ["rules", "validate", "--rules", rules], ["tail", "--rules", rules, log]] {
            let r = try runMeasured(args)
            XCTAssertNotEqual(r.exitCode, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains(#"r\x1b[2Jmissing.yaml: cannot read rule file"#), "\(args[0]): \(r.stderr)")
            XCTAssertFalse(r.stderr.utf8.contains(0x1B), "\(args[0]): raw ESC in \(r.stderr.debugDescription)")
        }
    }

    // MARK: - Rules cannot hang the engine

    func testTenThousandRulesLoad() throws {
        var text = "- list: users\n  items: [" + (0..<100).map { "u\($0)" }.joined(separator: ", ") + "]\n"
        text += "- macro: denied\n  condition: ka.auth.decision = forbid\n"
        for i in 0..<10_000 {
            text += "- rule: Rule \(i)\n  desc: rule \(i)\n  condition: denied and ka.user.name in (users) and ka.verb = v\(i)\n"
            text += "  output: r\(i) %ka.user.name %ka.verb\n  priority: INFO\n  tags: [t\(i % 7)]\n"
        }
        text += "- rule: Last\n  desc: fires\n  condition: denied and ka.verb = get\n  output: last %ka.user.name\n  priority: INFO\n"
        let rules = try write("many.yaml", text)
        let v = try runMeasured(["rules", "validate", "--rules", rules])
        XCTAssertEqual(v.exitCode, 0, v.stderr + String(decoding: v.stdout, as: UTF8.self))
        XCTAssertTrue(String(decoding: v.stdout, as: UTF8.self).contains("10001 rules"), String(decoding: v.stdout, as: UTF8.self))
        let events = (0..<200).map { hostileEvent("e\($0)") }.joined(separator: "\n") + "\n"
        let r = try runMeasured(["replay", "--rules", rules, try write("e.log", events)])
        XCTAssertEqual(r.exitCode, 0, r.stderr)
        XCTAssertEqual(r.stdoutLines.count, 200, r.stderr)
    }

    func testNestedAndExplodingConditionsAreRejected() throws {
        let deep = "- rule: Deep\n  desc: d\n  condition: " + String(repeating: "(", count: 5_000) + "ka.verb = get"
            + String(repeating: ")", count: 5_000) + "\n  output: x\n  priority: INFO\n"
        // Each macro (list) uses the previous one twice: 2^40 nodes (items) if expanded naively.
        var macros = "- macro: m0\n  condition: ka.verb = get\n"
        var lists = "- list: l0\n  items: [a, b]\n"
        for i in 1..<40 {
            macros += "- macro: m\(i)\n  condition: (m\(i - 1) or m\(i - 1))\n"
            lists += "- list: l\(i)\n  items: [l\(i - 1), l\(i - 1)]\n"
        }
        macros += "- rule: Macros\n  desc: d\n  condition: m39\n  output: x\n  priority: INFO\n"
        lists += "- rule: Lists\n  desc: d\n  condition: ka.user.name in (l39)\n  output: x\n  priority: INFO\n"
        var chain = "- macro: c0\n  condition: ka.verb = get\n"
        for i in 1..<3_000 { chain += "- macro: c\(i)\n  condition: c\(i - 1) and ka.verb exists\n" }
        chain += "- rule: Chain\n  desc: d\n  condition: c2999\n  output: x\n  priority: INFO\n"
        let cases = [("deep.yaml", deep, "deep.yaml:3:"), ("macros.yaml", macros, "too large"), ("lists.yaml", lists, "more than 100000 items"),
                     ("chain.yaml", chain, "nest too deeply")]
        for (name, text, expected) in cases {
            let r = try runMeasured(["rules", "validate", "--rules", try write(name, text)])
            let output = r.stderr + String(decoding: r.stdout, as: UTF8.self)
            XCTAssertEqual(r.exitCode, 1, "\(name): \(output)")
            XCTAssertTrue(output.contains(expected), "\(name): \(output)")
            XCTAssertTrue(output.contains(name + ":"), "\(name): no path:line:column in \(output)")
        }
    }

    /// Matchers on huge values and adversarial patterns: a backtracking glob or a quadratic search would not
    /// finish; these take well under a second.
    func testMatchersOnHostileValues() throws {
        let rules = """
        - list: prefixes
          items: [\((0..<2_000).map { "/p\($0)/x" }.joined(separator: ", "))]
        - list: names
          items: [\((0..<10_000).map { "n\($0)" }.joined(separator: ", "))]
        - rule: Glob
          desc: d
          condition: ka.user.name glob "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b" or ka.user.name iglob "*A?A*A[a]A*a*A*a*a*A*c"
          output: glob
          priority: INFO
        - rule: Contains
          desc: d
          condition: ka.user.name contains "\(String(repeating: "a", count: 2_000))b" or ka.user.name icontains "\(String(repeating: "A", count: 300))B"
          output: contains
          priority: INFO
        - rule: Sets
          desc: d
          condition: ka.uri pmatch (prefixes) or ka.user.name in (names) or ka.user.name endswith zzz or ka.user.name startswith zzz
          output: sets
          priority: INFO
        - rule: Control
          desc: d
          condition: ka.user.name startswith aaaa and ka.uri startswith /a/a
          output: control %ka.verb
          priority: INFO
        """
        let name = String(repeating: "a", count: 200_000)
        let uri = String(repeating: "/a", count: 100_000)
        let event = hostileEvent("m").replacingOccurrences(of: "mallory", with: name)
            .replacingOccurrences(of: "/api/v1/namespaces/default/secrets/s", with: uri)
        let r = try runMeasured(["replay", "--rules", try write("m.yaml", rules), try write("m.log", event + "\n")])
        XCTAssertEqual(r.exitCode, 0, r.stderr)
        XCTAssertEqual(r.stdoutLines.count, 1, r.stderr)
        XCTAssertTrue(r.stdoutLines.first?.hasSuffix("[Control] control get") ?? false, r.stdoutLines.joined(separator: "\n"))
    }
}

// MARK: - Helpers

/// A rule that fires on every `get` and prints the user name.
private let anyGetRule = """
- rule: Any Get
  desc: fires on every get
  condition: ka.verb = get
  output: user=%ka.user.name
  priority: WARNING
  tags: [test]
"""

/// A complete audit event (a forbidden `get`), auditID `id`.
private func hostileEvent(_ id: String) -> String {
    cliEvent.replacingOccurrences(of: "%ID%", with: id)
}

/// The outcome of one measured run of the binary.
private struct MeasuredRun {
    /// The exit status, or nil when a signal ended the process.
    var exitCode: Int32?
    var stdout: [UInt8]
    var stderr: String
    /// Peak resident set size of the process (its VmHWM, sampled every 2 ms while it ran), in KiB.
    var peakRSSKiB: Int

    var stdoutLines: [String] {
        String(decoding: stdout, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}

/// Whether this test process runs under AddressSanitizer or ThreadSanitizer (then the binary does too).
private let sanitizerActive: Bool = {
    let handle = dlopen(nil, RTLD_NOW)
    defer { if let handle { dlclose(handle) } }
    return dlsym(handle, "__asan_init") != nil || dlsym(handle, "__tsan_init") != nil
}()

/// Runs `audithound` and measures its peak RSS. Standard input is /dev/null, or a pipe that `feed` writes
/// to (closed when `feed` returns).
///
/// The peak is the child's VmHWM, sampled while it runs: `getrusage(RUSAGE_CHILDREN)` and `wait4` report
/// `ru_maxrss` that includes the test runner's own RSS, because Linux folds the high-water mark of the
/// address space an `execve` replaces (the parent's, with posix_spawn's vfork) into it.
private func runMeasured(_ args: [String], feed: ((Int32, pid_t) -> Void)? = nil) throws -> MeasuredRun {
    let binary = try audithoundBinary().path
    let base = NSTemporaryDirectory() + "audithound-hostile-\(UUID().uuidString)"
    let outPath = base + ".out", errPath = base + ".err"
    defer {
        unlink(outPath)
        unlink(errPath)
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    var pipeFDs: [Int32] = [-1, -1]
    if feed != nil {
        guard pipe(&pipeFDs) == 0 else { throw POSIXError(.EIO) }
        for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }  // the child gets only its dup2'd copy
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[0], 0)
    } else {
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    }
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let argv: [UnsafeMutablePointer<CChar>?] = ([binary] + args).map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, binary, &actions, nil, argv, environ)
    if feed != nil { close(pipeFDs[0]) }
    guard spawned == 0 else {
        if feed != nil { close(pipeFDs[1]) }
        throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO)
    }
    let sampler = PeakSampler(pid: pid)
    let thread = Thread { sampler.run() }
    thread.start()
    if let feed {
        feed(pipeFDs[1], pid)
        close(pipeFDs[1])
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let peak = sampler.stop()
    let exited = status & 0x7F == 0
    return MeasuredRun(exitCode: exited ? (status >> 8) & 0xFF : nil,
                       stdout: Array(FileManager.default.contents(atPath: outPath) ?? Data()),
                       stderr: String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self),
                       peakRSSKiB: peak)
}

/// Samples a running process's VmHWM every 2 ms until stopped (the child exits before `waitpid` returns,
/// so the last samples are taken while it still exists).
private final class PeakSampler: @unchecked Sendable {
    let pid: pid_t
    private let lock = NSLock()
    private var peak = 0
    private var stopped = false
    private let finished = DispatchSemaphore(value: 0)

    init(pid: pid_t) { self.pid = pid }

    func run() {
        while true {
            let sample = peakRSSKiB(ofRunning: pid) ?? 0
            lock.lock()
            peak = max(peak, sample)
            let done = stopped
            lock.unlock()
            if done { break }
            usleep(2_000)
        }
        finished.signal()
    }

    /// Stops sampling and returns the largest VmHWM seen.
    func stop() -> Int {
        lock.lock()
        stopped = true
        lock.unlock()
        finished.wait()
        lock.lock()
        defer { lock.unlock() }
        return peak
    }
}

/// Writes all of `bytes` to `fd`; false when the reader went away.
@discardableResult
private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { raw in
        var done = 0
        while done < raw.count {
            let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            done += n
        }
        return true
    }
}

/// VmHWM (peak RSS so far) of a running process, in KiB.
private func peakRSSKiB(ofRunning pid: pid_t) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
    }
    return nil
}

/// Compresses `bytes` into one gzip member with zlib (best compression).
private func gzipMember(_ bytes: [UInt8]) -> [UInt8] {
    var stream = z_stream()
    precondition(deflateInit2_(&stream, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY,
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

/// A small deterministic pseudo-random generator (SplitMix64).
private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

import XCTest
@testable import AuditJSON

/// Parses `text` and returns the tape's re-serialisation, or the error.
func parseResult(_ text: String, maxDepth: Int = 1024) -> Result<String, JSONError> {
    let tape = JSONTape(maxDepth: maxDepth)
    let bytes = Array(text.utf8)
    return bytes.withUnsafeBytes { raw in
        do throws(JSONError) {
            try tape.parse(raw)
            return .success(canonical(tape.root))
        } catch {
            return .failure(error)
        }
    }
}

/// A canonical compact serialisation built from the tape (decoded strings re-escaped minimally).
func canonical(_ v: JSONValue) -> String {
    switch v.kind {
    case .null: return "null"
    case .bool: return v.boolValue! ? "true" : "false"
    case .number: return String(decoding: v.rawBytes, as: UTF8.self)
    case .string: return quote(v.decodedString())
    case .array: return "[" + v.elements.map(canonical).joined(separator: ",") + "]"
    case .object: return "{" + v.members.map { quote($0.key.decodedString()) + ":" + canonical($0.value) }.joined(separator: ",") + "}"
    case .deferred:
        // Parsed on its own, strictly (as a reader of the deferred value would).
        let tape = JSONTape()
        do throws(JSONError) {
            try tape.parse(v.rawBytes)
            return canonical(tape.root)
        } catch {
            return "<invalid deferred value: \(error)>"
        }
    }
}

func quote(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
        default: out.unicodeScalars.append(u)
        }
    }
    return out + "\""
}

final class TokenizerTests: XCTestCase {
    func testAcceptsValidDocuments() {
        let cases: [(String, String)] = [
            ("{}", "{}"), ("[]", "[]"), (" [ ] ", "[]"), ("0", "0"), ("-0", "-0"), ("-1.5e+10", "-1.5e+10"),
            ("\"\"", "\"\""), ("true", "true"), ("false", "false"), ("null", "null"),
            ("{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}", "{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}"),
            ("\r\n\t{ \"a\" : 1 , \"b\" : [ true , false ] }\n", "{\"a\":1,\"b\":[true,false]}"),
            ("\"a\\nb\\u00e9\\ud83d\\ude00\\/\"", quote("a\nbé😀/")),
            ("[[[[[]]]]]", "[[[[[]]]]]"),
            ("1E400", "1E400"),
        ]
        for (input, expected) in cases {
            switch parseResult(input) {
            case .success(let out): XCTAssertEqual(out, expected, "input: \(input)")
            case .failure(let e): XCTFail("rejected \(input): \(e)")
            }
        }
    }

    func testRejectsWithOffsets() {
        let cases: [(String, Int, JSONError.Reason)] = [
            ("", 0, .empty), ("   ", 3, .empty), ("{", 1, .unexpectedEnd), ("[1,]", 3, .expectedValue),
            ("{\"a\":1,}", 7, .expectedKey), ("{\"a\" 1}", 5, .expectedColon), ("[1 2]", 3, .expectedCommaOrBracket),
            ("{\"a\":1 \"b\"}", 7, .expectedCommaOrBrace), ("01", 1, .trailingCharacters), ("1.", 2, .invalidNumber),
            ("-", 1, .invalidNumber), ("1e", 2, .invalidNumber), (".5", 0, .unexpectedCharacter),
            ("tru", 0, .invalidLiteral), ("nul", 0, .invalidLiteral), ("fals", 0, .invalidLiteral), ("truex", 4, .trailingCharacters),
            ("\"abc", 4, .unterminatedString), ("\"a\\x\"", 2, .invalidEscape), ("\"\\u12G4\"", 1, .invalidEscape),
            ("\"a\u{01}b\"", 2, .controlCharacterInString), ("[1]]", 3, .trailingCharacters), ("{\"a\":1}x", 7, .trailingCharacters),
            ("[\"aaaaaaaaaaaaaaaaaaaaa\u{1F}\"]", 23, .controlCharacterInString),
        ]
        for (input, offset, reason) in cases {
            switch parseResult(input) {
            case .success(let out): XCTFail("accepted \(input) as \(out)")
            case .failure(let e):
                XCTAssertEqual(e.offset, offset, "offset for \(input)")
                XCTAssertEqual(e.reason, reason, "reason for \(input)")
            }
        }
    }

    func testDepthLimit() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        guard case .failure(let e) = parseResult(deep) else { return XCTFail("accepted 100000-deep nesting") }
        XCTAssertEqual(e.reason, .tooDeep)
        XCTAssertEqual(e.offset, 1024)
        let ok = String(repeating: "[", count: 1024) + String(repeating: "]", count: 1024)
        guard case .success = parseResult(ok) else { return XCTFail("rejected 1024-deep nesting") }
        guard case .failure = parseResult(String(repeating: "[", count: 11) + String(repeating: "]", count: 11), maxDepth: 10) else {
            return XCTFail("maxDepth not honoured")
        }
    }

    func testLookupsPathsAndPointers() throws {
        let doc = #"{"kind":"Event","objectRef":{"resource":"pods","namespace":"default"},"requestObject":{"spec":{"containers":[{"image":"nginx"},{"image":"busybox","securityContext":{"privileged":true}}]}},"annotations":{"authorization.k8s.io/decision":"allow","a~b/c":"x"},"responseStatus":{"code":201},"esc":"p\u006fds"}"#
        let bytes = Array(doc.utf8)
        let tape = JSONTape()
        try bytes.withUnsafeBytes { raw in
            try tape.parse(raw)
            let root = tape.root
            XCTAssertTrue(root.member("kind")!.stringEquals("Event"))
            XCTAssertFalse(root.member("kind")!.stringEquals("Even"))
            XCTAssertNil(root.member("missing"))
            XCTAssertTrue(root.value(at: JSONPath("objectRef.resource"))!.stringEquals("pods"))
            XCTAssertNil(root.value(at: JSONPath("objectRef.resource.x")))
            XCTAssertTrue(root.value(at: JSONPath(components: ["annotations", "authorization.k8s.io/decision"]))!.stringEquals("allow"))
            XCTAssertEqual(root.value(at: JSONPath("responseStatus.code"))!.int64Value, 201)
            XCTAssertTrue(root.member("esc")!.hasEscapes)
            XCTAssertTrue(root.member("esc")!.stringEquals("pods"))
            XCTAssertFalse(root.member("esc")!.stringEquals("podz"))
            XCTAssertEqual(root.member("esc")!.decodedString(), "pods")
            let image = try root.value(at: JSONPointer("/requestObject/spec/containers/1/image"))
            XCTAssertEqual(image?.decodedString(), "busybox")
            XCTAssertEqual(try root.value(at: JSONPointer("/requestObject/spec/containers/1/securityContext/privileged"))?.boolValue, true)
            XCTAssertNil(try root.value(at: JSONPointer("/requestObject/spec/containers/2")))
            XCTAssertNil(try root.value(at: JSONPointer("/requestObject/spec/containers/01")))
            XCTAssertTrue(try root.value(at: JSONPointer("/annotations/a~0b~1c"))!.stringEquals("x"))
            XCTAssertEqual(try root.value(at: JSONPointer(""))?.kind, .object)
            XCTAssertEqual(String(decoding: root.member("objectRef")!.rawBytes, as: UTF8.self), #"{"resource":"pods","namespace":"default"}"#)
            XCTAssertEqual(root.value(at: JSONPath("requestObject.spec.containers"))!.count, 2)
            XCTAssertEqual(root.count, 6)
        }
        XCTAssertThrowsError(try JSONPointer("a/b"))
        XCTAssertThrowsError(try JSONPointer("/a~2"))
    }

    func testDuplicateKeysLastOneWins() throws {
        let bytes = Array(#"{"verb":"delete","x":{"p":false,"p":true},"verb":"create"}"#.utf8)
        let tape = JSONTape()
        try bytes.withUnsafeBytes { raw in
            try tape.parse(raw)
            XCTAssertEqual(tape.root.member("verb")?.decodedString(), "create")
            XCTAssertEqual(tape.root.value(at: JSONPath("x.p"))?.boolValue, true)
            XCTAssertEqual(try tape.root.value(at: JSONPointer("/x/p"))?.boolValue, true)
        }
        // A key written with escapes is the same key: the last spelling wins; lookups step over
        // containers (empty or not) and never match keys inside them.
        let mixed = Array(#"{"a":[],"v\u0065rb":"get","b":{},"verb":"list","c":[1,{"verb":"x"}],"k":1,"v\u0065rb":"watch","d":{"verb":"y"}}"#.utf8)
        try mixed.withUnsafeBytes { raw in
            try tape.parse(raw)
            XCTAssertEqual(tape.root.member("verb")?.decodedString(), "watch")
            XCTAssertEqual(tape.root.member("k")?.int64Value, 1)
            XCTAssertEqual(tape.root.member("c")?.count, 2)
            XCTAssertEqual(tape.root.member("b")?.isObject, true)
            XCTAssertEqual(tape.root.member("d")?.member("verb")?.decodedString(), "y")
            XCTAssertNil(tape.root.member("ver"))
            XCTAssertNil(tape.root.member(""))
        }
    }

    func testNumbers() throws {
        for (text, int, double) in [("0", Int64(0), 0.0), ("-12", -12, -12), ("9223372036854775807", Int64.max, 9.223372036854775807e18),
                                    ("1.5", nil, 1.5), ("2e3", 2000, 2000)] as [(String, Int64?, Double)] {
            let bytes = Array(text.utf8)
            let tape = JSONTape()
            try bytes.withUnsafeBytes { raw in
                try tape.parse(raw)
                XCTAssertEqual(tape.root.int64Value, int, text)
                XCTAssertEqual(tape.root.doubleValue, double, text)
            }
        }
        let big = Array("9223372036854775808".utf8)
        let tape = JSONTape()
        try big.withUnsafeBytes { raw in
            try tape.parse(raw)
            XCTAssertNil(tape.root.int64Value)
        }
    }

    /// Random valid documents, printed with random whitespace, parse back to the same canonical text.
    func testRandomDocumentsRoundTrip() {
        var rng = SplitMix(seed: 42)
        for _ in 0..<2000 {
            let (pretty, canon) = randomDocument(&rng, depth: 0)
            switch parseResult(pretty) {
            case .success(let out): XCTAssertEqual(out, canon, "input: \(pretty)")
            case .failure(let e): XCTFail("rejected \(pretty): \(e)")
            }
        }
    }

    /// Random mutations of valid documents never crash, and the tape stays reusable.
    func testRandomMutationsNeverCrash() {
        var rng = SplitMix(seed: 7)
        let tape = JSONTape(maxDepth: 64)
        var accepted = 0
        for _ in 0..<20000 {
            var bytes = Array(randomDocument(&rng, depth: 0).0.utf8)
            mutate(&bytes, &rng, inserting: Array("{}[]\",:\\0e-".utf8))
            bytes.withUnsafeBytes { raw in
                if (try? tape.parse(raw)) != nil {
                    accepted += 1
                    _ = canonical(tape.root)
                }
            }
        }
        XCTAssertGreaterThan(accepted, 0)
    }

    func testTapeReuseDoesNotGrowAfterWarmup() throws {
        let tape = JSONTape(initialCapacity: 64)
        let doc = Array((#"{"a":["# + String(repeating: "1,", count: 500) + "1]}").utf8)
        try doc.withUnsafeBytes { try tape.parse($0) }
        let capacity = tape.capacity
        for _ in 0..<100 { try doc.withUnsafeBytes { try tape.parse($0) } }
        XCTAssertEqual(tape.capacity, capacity)
        XCTAssertEqual(tape.root.member("a")!.count, 501)
    }

    func testDensestDocumentsAroundTheReservedTapeLimit() throws {
        // Small documents are parsed into a tape reserved up front (2 words per byte, no capacity checks);
        // larger ones grow the tape as they go. The densest documents (empty containers, one-digit
        // numbers, empty strings) must fit on both sides of the limit, and strings must end exactly at
        // their quote whether it falls in a 16- or 32-byte window or in the last bytes of the input.
        let tape = JSONTape(initialCapacity: 64)
        for total in [JSONTape.reserveLimit - 7, JSONTape.reserveLimit + 9, 3 * JSONTape.reserveLimit] {
            for unit in ["[],", "1,", "\"\",", "{},"] {
                let count = (total - 2) / unit.utf8.count
                let text = "[" + String(repeating: unit, count: count) + String(unit.dropLast()) + "]"
                let bytes = Array(text.utf8)
                try bytes.withUnsafeBytes { try tape.parse($0) }
                XCTAssertEqual(tape.root.count, count + 1, "\(unit) x \(count)")
                XCTAssertLessThanOrEqual(tape.wordCount, 2 * bytes.count + 2)
            }
        }
        for length in 0..<72 {
            let content = String(repeating: "a", count: length)
            for suffix in ["", " ", String(repeating: " ", count: 17), String(repeating: " ", count: 33)] {
                let text = "[\"\(content)\",\"x\\\"\(content)\"]" + suffix
                XCTAssertEqual(try? parseResult(text).get(), "[\"\(content)\",\"x\\\"\(content)\"]", text)
                XCTAssertThrowsError(try parseResult("[\"\(content)\u{01}\"]" + suffix).get())
                XCTAssertThrowsError(try parseResult("[\"\(content)" + suffix).get())
            }
        }
    }

    func testStringsWithEscapesAndStopsAtEveryPosition() {
        // Short strings are recognised 16 (baseline) or 32 (AVX2) bytes at a time: put an escape, a control
        // character or the closing quote at every position around those windows, inside arrays and as
        // object keys.
        for length in 0..<70 {
            for at in 0...length {
                var chars = Array(repeating: Character("a"), count: length)
                chars.insert(contentsOf: #"\""#, at: at)
                let content = String(chars)
                let decoded = String(content.replacingOccurrences(of: #"\""#, with: "\""))
                XCTAssertEqual(try? parseResult("[\"\(content)\",1]").get(), "[\(quote(decoded)),1]", content)
                XCTAssertEqual(try? parseResult("{\"\(content)\":\"\(content)\",\"\(content)x\":2}").get(),
                               "{\(quote(decoded)):\(quote(decoded)),\(quote(decoded + "x")):2}", content)
                var bad = Array(repeating: Character("a"), count: length)
                bad.insert("\u{01}", at: at)
                XCTAssertThrowsError(try parseResult("[\"\(String(bad))\",1]").get(), "control at \(at) of \(length)")
                XCTAssertThrowsError(try parseResult("{\"a\":1,\"\(String(bad))\":2}").get(), "control in key at \(at) of \(length)")
            }
            // A stop right after the closing quote, inside the same window, is the parser's business.
            let plain = String(repeating: "b", count: length)
            XCTAssertThrowsError(try parseResult("[\"\(plain)\"\u{01},1]").get())
            XCTAssertEqual(try? parseResult("[\"\(plain)\",\"\\\\\"]").get(), "[\(quote(plain)),\(quote("\\"))]")
        }
    }

    // MARK: JSONTestSuite

    func testJSONTestSuite() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/data/JSONTestSuite/test_parsing").standardized
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: dir.path), !files.isEmpty else {
            throw XCTSkip("../shared/data/JSONTestSuite not present")
        }
        var checked = 0
        var implementationDefined: [String: Bool] = [:]
        for name in files.sorted() where name.hasSuffix(".json") {
            let data = try Data(contentsOf: dir.appendingPathComponent(name))
            let tape = JSONTape()
            let ok = data.withUnsafeBytes { (try? tape.parse($0)) != nil }
            if name.hasPrefix("y_") { XCTAssertTrue(ok, "must accept \(name)"); checked += 1 }
            if name.hasPrefix("n_") { XCTAssertFalse(ok, "must reject \(name)"); checked += 1 }
            if name.hasPrefix("i_") { implementationDefined[name] = ok }
        }
        XCTAssertGreaterThan(checked, 250)
        // Decisions documented in the README: huge numbers, invalid UTF-8 and lone surrogates are accepted;
        // nesting beyond 1024 is rejected.
        XCTAssertEqual(implementationDefined["i_number_huge_exp.json"], true)
        XCTAssertEqual(implementationDefined["i_string_UTF-8_invalid_sequence.json"], true)
        XCTAssertEqual(implementationDefined["i_string_1st_surrogate_but_2nd_missing.json"], true)
        XCTAssertEqual(implementationDefined["i_structure_500_nested_arrays.json"], true)
    }
}

struct SplitMix {
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

/// A random document: (text with random whitespace and escapes, canonical text).
/// One to three random edits: a byte overwritten, removed, or one of `inserting` inserted.
func mutate(_ bytes: inout [UInt8], _ rng: inout SplitMix, inserting alphabet: [UInt8]) {
    for _ in 0..<(1 + Int(rng.next() % 3)) where !bytes.isEmpty {
        let at = Int(rng.next() % UInt64(bytes.count))
        switch rng.next() % 3 {
        case 0: bytes[at] = UInt8(truncatingIfNeeded: rng.next())
        case 1: bytes.remove(at: at)
        default: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
        }
    }
}

func randomDocument(_ rng: inout SplitMix, depth: Int) -> (String, String) {
    func ws() -> String { ["", " ", "\n", "\t", "\r\n ", ""][Int(rng.next() % 6)] }
    let choice = depth > 4 ? rng.next() % 4 : rng.next() % 6
    switch choice {
    case 0: return ["null", "true", "false"].map { ($0, $0) }[Int(rng.next() % 3)]
    case 1:
        let n = ["0", "-1", "123456789", "1.25", "-0.5e-3", "6E+10"][Int(rng.next() % 6)]
        return (n, n)
    case 2, 3:
        let alphabet: [Character] = ["a", "b", "Z", " ", "\"", "\\", "\n", "é", "😀", "/", "\u{01}"]
        var s = ""
        for _ in 0..<Int(rng.next() % 12) { s.append(alphabet[Int(rng.next() % UInt64(alphabet.count))]) }
        var text = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += rng.next() % 2 == 0 ? "\\n" : "\\u000a"
            case "/": text += rng.next() % 2 == 0 ? "/" : "\\/"
            case "é": text += rng.next() % 2 == 0 ? "é" : "\\u00E9"
            case "😀": text += rng.next() % 2 == 0 ? "😀" : "\\ud83d\\ude00"
            case _ where u.value < 0x20: text += "\\u0001"
            default: text.unicodeScalars.append(u)
            }
        }
        return (text + "\"", quote(s))
    case 4:
        var parts: [(String, String)] = []
        for _ in 0..<Int(rng.next() % 5) { parts.append(randomDocument(&rng, depth: depth + 1)) }
        return ("[" + ws() + parts.map { $0.0 }.joined(separator: ws() + "," + ws()) + ws() + "]",
                "[" + parts.map { $0.1 }.joined(separator: ",") + "]")
    default:
        var parts: [(String, String)] = []
        for k in 0..<Int(rng.next() % 5) {
            let v = randomDocument(&rng, depth: depth + 1)
            parts.append((ws() + "\"k\(k)\"" + ws() + ":" + ws() + v.0, "\"k\(k)\":" + v.1))
        }
        return ("{" + parts.map { $0.0 }.joined(separator: ",") + ws() + "}", "{" + parts.map { $0.1 }.joined(separator: ",") + "}")
    }
}

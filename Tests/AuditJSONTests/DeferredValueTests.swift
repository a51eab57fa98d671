import XCTest
@testable import AuditJSON

/// ``JSONTape/deferredKeys``: values skipped by the 64-byte block scanner must end exactly where the full
/// parser says they end, and be rejected whenever the scanner's checks (strings, escapes, bracket nesting,
/// depth) fail, whatever the block boundaries.
final class DeferredValueTests: XCTestCase {
    /// Parses with the given deferred keys; the canonical form expands deferred values by parsing them.
    func deferredResult(_ bytes: [UInt8], keys: [String], maxDepth: Int = 1024) -> Result<(String, Int), JSONError> {
        let tape = JSONTape(maxDepth: maxDepth)
        tape.deferredKeys = keys
        return bytes.withUnsafeBytes { raw in
            do throws(JSONError) {
                try tape.parse(raw)
                return .success((canonical(tape.root), countDeferred(tape.root)))
            } catch {
                return .failure(error)
            }
        }
    }

    func strictResult(_ bytes: [UInt8], maxDepth: Int = 1024) -> Result<String, JSONError> {
        parseResult(String(decoding: bytes, as: UTF8.self), maxDepth: maxDepth)
    }

    func countDeferred(_ v: JSONValue) -> Int {
        switch v.kind {
        case .deferred: return 1
        case .array: return v.elements.reduce(0) { $0 + countDeferred($1) }
        case .object: return v.members.reduce(0) { $0 + countDeferred($1.value) }
        default: return 0
        }
    }

    func testDeferredMembersKeepTheirBytesAndParseToTheSameValues() throws {
        let doc = #"{"kind":"Event","requestObject":{"spec":{"containers":[{"image":"nginx","args":["a\"]}","\\"]}]}},"x":[1,{"y":"}"}],"responseObject":["{",{"a":"\u005d"}],"requestObject2":{"a":1},"tail":true}"#
        let bytes = Array(doc.utf8)
        let tape = JSONTape()
        tape.deferredKeys = ["requestObject", "responseObject"]
        try bytes.withUnsafeBytes { raw in
            try tape.parse(raw)
            let root = tape.root
            let request = try XCTUnwrap(root.member("requestObject"))
            XCTAssertTrue(request.isDeferred)
            XCTAssertEqual(request.kind, .deferred)
            XCTAssertNil(request.member("spec"), "a deferred value has no members on the tape")
            XCTAssertEqual(String(decoding: request.rawBytes, as: UTF8.self),
                           #"{"spec":{"containers":[{"image":"nginx","args":["a\"]}","\\"]}]}}"#)
            XCTAssertTrue(try XCTUnwrap(root.member("responseObject")).isDeferred)
            XCTAssertEqual(String(decoding: try XCTUnwrap(root.member("responseObject")).rawBytes, as: UTF8.self), #"["{",{"a":"\u005d"}]"#)
            XCTAssertFalse(try XCTUnwrap(root.member("requestObject2")).isDeferred, "only exact key names are deferred")
            XCTAssertFalse(try XCTUnwrap(root.member("x")).isDeferred)
            XCTAssertEqual(root.member("tail")?.boolValue, true)
            XCTAssertEqual(canonical(root), try strictResult(bytes).get())
        }
        // Scalars under a deferred key are parsed as usual.
        guard case .success(let (text, deferred)) = deferredResult(Array(#"{"requestObject":"s","responseObject":null}"#.utf8),
                                                                 keys: ["requestObject", "responseObject"]) else { return XCTFail() }
        XCTAssertEqual(text, #"{"requestObject":"s","responseObject":null}"#)
        XCTAssertEqual(deferred, 0)
    }

    func testRandomDocumentsGiveTheSameValuesDeferredOrNot() {
        var rng = SplitMix(seed: 4242)
        var deferred = 0
        for _ in 0..<3000 {
            let (pretty, canon) = randomDocument(&rng, depth: 0)
            switch deferredResult(Array(pretty.utf8), keys: ["k1", "k3"]) {
            case .success(let (out, count)):
                XCTAssertEqual(out, canon, "input: \(pretty)")
                deferred += count
            case .failure(let e): XCTFail("rejected \(pretty): \(e)")
            }
        }
        XCTAssertGreaterThan(deferred, 100)
    }

    /// Whatever the damage: when the strict parser accepts, the deferred parse gives the same values; when
    /// the deferred parse rejects, so does the strict one; when only the strict parser rejects, the fault
    /// lies inside a deferred value (which then fails to parse on its own).
    func testMutatedDocumentsAgreeWithTheStrictParser() {
        var rng = SplitMix(seed: 99)
        var onlyStrictRejected = 0
        for round in 0..<30000 {
            var bytes = Array(randomDocument(&rng, depth: 0).0.utf8)
            if round % 3 == 0 {
                // Long documents, so that values span several 64-byte blocks.
                bytes = Array("{\"k1\":[".utf8) + bytes + Array(",".utf8) + Array(randomDocument(&rng, depth: 0).0.utf8) + Array("],\"k2\":1}".utf8)
            }
            mutate(&bytes, &rng, inserting: Array("{}[]\",:\\0e-\u{01}".utf8))
            let strict = strictResult(bytes, maxDepth: 64)
            let lazy = deferredResult(bytes, keys: ["k1", "k3"], maxDepth: 64)
            switch (strict, lazy) {
            case (.success(let a), .success(let (b, _))):
                XCTAssertEqual(a, b, "input: \(String(decoding: bytes, as: UTF8.self))")
            case (.success(let a), .failure(let e)):
                XCTFail("deferred parse rejected what the strict parser accepts (\(e)): \(a)")
            case (.failure, .success(let (b, _))):
                onlyStrictRejected += 1
                XCTAssertTrue(b.contains("<invalid deferred value"), "the fault should be inside a deferred value: \(String(decoding: bytes, as: UTF8.self))")
            case (.failure, .failure):
                break
            }
        }
        XCTAssertGreaterThan(onlyStrictRejected, 0, "some faults should fall inside deferred values")
    }

    /// Backslash runs, escaped quotes and brackets in strings at every position around the 64-byte block
    /// boundaries, and at the very end of the input.
    func testEscapesAndStringsAtEveryBlockPosition() {
        let fillers = ["", "a", "ab\\\\", "\\\"", "\\\\\\\"", "}]", "{[", "\\u005C", "\\/", "é"]
        for pad in 0..<140 {
            for f in fillers {
                for g in fillers {
                    let inner = String(repeating: "x", count: pad) + f + "]}\\\"" + g
                    let head = "{\"k1\":{\"s\":\"" + inner + "\",\"t\":[\"" + g + "\",{}]"
                    let doc = head + "},\"k2\":\"" + f + "\"}"
                    let bytes = Array(doc.utf8)
                    guard case .success(let expected) = strictResult(bytes) else { return XCTFail("bad fixture \(doc)") }
                    switch deferredResult(bytes, keys: ["k1"]) {
                    case .success(let (out, count)):
                        XCTAssertEqual(out, expected)
                        XCTAssertEqual(count, 1)
                    case .failure(let e): XCTFail("rejected \(doc): \(e)")
                    }
                    // Cut inside the string, and just before the value's closing brace.
                    for cut in [Array(head.utf8.prefix(12 + pad + f.utf8.count)), Array(head.utf8)] {
                        if case .success = deferredResult(cut, keys: ["k1"]) {
                            XCTFail("accepted a cut document: \(String(decoding: cut, as: UTF8.self))")
                        }
                    }
                }
            }
        }
    }

    func testWhatTheScannerRejectsWithOffsets() {
        let cases: [(String, Int, JSONError.Reason)] = [
            (#"{"k1":{"a":"x"#, 13, .unterminatedString),
            (#"{"k1":{"a":1"#, 12, .unexpectedEnd),
            ("{\"k1\":{\"a\":\"x\u{01}\"}}", 13, .controlCharacterInString),
            (#"{"k1":{"a":"\x"}}"#, 12, .invalidEscape),
            (#"{"k1":{"a":"\u12G4"}}"#, 12, .invalidEscape),
            (#"{"k1":{"a":1\n}}"#, 12, .unexpectedCharacter),
            ("{\"k1\":{\"a\":\"" + String(repeating: "y", count: 100) + "\u{1F}\"}}", 112, .controlCharacterInString),
        ]
        for (input, offset, reason) in cases {
            switch deferredResult(Array(input.utf8), keys: ["k1"]) {
            case .success(let (out, _)): XCTFail("accepted \(input) as \(out)")
            case .failure(let e):
                XCTAssertEqual(e.offset, offset, "offset for \(input)")
                XCTAssertEqual(e.reason, reason, "reason for \(input)")
            }
            if case .success = strictResult(Array(input.utf8)) { XCTFail("fixture should be invalid JSON: \(input)") }
        }
        // Grammar faults inside a deferred value (here a missing colon, doubled commas, a `[` closed by
        // `}`) are found when the value is parsed.
        for input in [#"{"k1":{"a" 1,,}}"#, #"{"k1":{"a":[1}]}"#] {
            guard case .success(let (out, _)) = deferredResult(Array(input.utf8), keys: ["k1"]) else { return XCTFail(input) }
            XCTAssertTrue(out.contains("<invalid deferred value"), input)
        }
    }

    func testNestingInsideDeferredValues() {
        // Deeper than the 64 levels kept in a register, matched brackets of both kinds.
        let kinds = (0..<300).map { $0 % 3 == 0 ? ("[", "]") : ("{\"a\":", "}") }
        let deep = "{\"k1\":" + kinds.map { $0.0 }.joined() + "1" + kinds.reversed().map { $0.1 }.joined() + "}"
        guard case .success(let expected) = strictResult(Array(deep.utf8)) else { return XCTFail("bad fixture") }
        guard case .success(let (out, _)) = deferredResult(Array(deep.utf8), keys: ["k1"]) else { return XCTFail("rejected deep value") }
        XCTAssertEqual(out, expected)
        // One bracket missing deep down: the value never ends.
        let short = "{\"k1\":" + kinds.map { $0.0 }.joined() + "1" + kinds.reversed().dropFirst().map { $0.1 }.joined() + "}"
        if case .success = deferredResult(Array(short.utf8), keys: ["k1"]) { XCTFail("accepted unbalanced brackets") }
        // The depth limit counts the containers around the deferred value, as the strict parser does.
        for limit in [3, 10, 70, 100] {
            for depth in [limit - 2, limit - 1, limit, limit + 5] where depth > 0 {
                let doc = "{\"k1\":" + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}"
                let strict = strictResult(Array(doc.utf8), maxDepth: limit)
                let lazy = deferredResult(Array(doc.utf8), keys: ["k1"], maxDepth: limit)
                switch (strict, lazy) {
                case (.success, .success): break
                case (.failure(let a), .failure(let b)):
                    XCTAssertEqual(a, b, "limit \(limit), depth \(depth)")
                default: XCTFail("limit \(limit), depth \(depth): strict \(strict), deferred \(lazy)")
                }
            }
        }
    }
}

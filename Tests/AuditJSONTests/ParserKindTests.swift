import XCTest
@testable import AuditJSON

/// The two builds of the parser (``JSONParserKind``): the baseline one and the AVX2 one must write the
/// same tape, word for word, and reject the same documents with the same error at the same offset.
/// The other tests of this target run the kind this machine picks (``JSONParserKind/automatic``); these
/// compare the kinds directly, and are skipped where only the baseline runs.
final class ParserKindTests: XCTestCase {
    /// The tape's words after parsing `bytes` with `kind`, or the error.
    func tapeResult(_ bytes: [UInt8], kind: JSONParserKind, keys: [String] = [], maxDepth: Int = 1024) -> Result<[UInt64], JSONError> {
        let tape = JSONTape(maxDepth: maxDepth, parser: kind)
        XCTAssertEqual(tape.parserKind, kind)
        tape.deferredKeys = keys
        return bytes.withUnsafeBytes { raw in
            do throws(JSONError) {
                try tape.parse(raw)
                return .success(Array(UnsafeBufferPointer(start: tape.words, count: tape.wordCount)))
            } catch {
                return .failure(error)
            }
        }
    }

    /// Fails (with the document) when the kinds disagree; returns whether the document was accepted.
    @discardableResult
    func assertSameTape(_ bytes: [UInt8], keys: [String] = [], maxDepth: Int = 1024,
                        file: StaticString = #filePath, line: UInt = #line) -> Bool {
        let base = tapeResult(bytes, kind: .baseline, keys: keys, maxDepth: maxDepth)
        let avx2 = tapeResult(bytes, kind: .avx2, keys: keys, maxDepth: maxDepth)
        switch (base, avx2) {
        case (.success(let a), .success(let b)):
            XCTAssertEqual(a, b, "tapes differ: \(String(decoding: bytes, as: UTF8.self))", file: file, line: line)
            return true
        case (.failure(let a), .failure(let b)):
            XCTAssertEqual(a, b, "errors differ: \(String(decoding: bytes, as: UTF8.self))", file: file, line: line)
        default:
            XCTFail("baseline \(base), avx2 \(avx2): \(String(decoding: bytes, as: UTF8.self))", file: file, line: line)
        }
        return false
    }

    override func setUpWithError() throws {
        guard JSONParserKind.available.contains(.avx2) else {
            throw XCTSkip("this build or CPU has no AVX2 parser: nothing to compare")
        }
    }

    func testAutomaticPicksTheAVX2ParserWhereItRuns() {
        // The environment variable AUDITHOUND_PARSER=baseline is the only reason not to.
        if let v = getenv("AUDITHOUND_PARSER"), String(cString: v) == "baseline" {
            XCTAssertEqual(JSONParserKind.automatic, .baseline)
        } else {
            XCTAssertEqual(JSONParserKind.automatic, .avx2)
            XCTAssertEqual(JSONTape().parserKind, .avx2)
        }
        XCTAssertEqual(JSONTape(parser: .baseline).parserKind, .baseline)
    }

    func testRandomAndMutatedDocuments() {
        var rng = SplitMix(seed: 2026)
        var accepted = 0
        var rejected = 0
        for round in 0..<20000 {
            var bytes = Array(randomDocument(&rng, depth: 0).0.utf8)
            if round % 3 == 0 {
                bytes = Array("{\"k1\":[".utf8) + bytes + Array(",".utf8) + Array(randomDocument(&rng, depth: 0).0.utf8) + Array("],\"k2\":1}".utf8)
            }
            if round % 2 == 1 { mutate(&bytes, &rng, inserting: Array("{}[]\",:\\0e-\u{01} ".utf8)) }
            let keys = round % 4 < 2 ? ["k1", "k3"] : []
            if assertSameTape(bytes, keys: keys, maxDepth: 64) { accepted += 1 } else { rejected += 1 }
        }
        XCTAssertGreaterThan(accepted, 5000)
        XCTAssertGreaterThan(rejected, 1000)
    }

    /// Strings of every length up to three 32-byte windows, with an escape, a control character or the
    /// closing quote at every position, as values and keys, followed by 0 to 40 bytes of input.
    func testStringStopsAtEveryPositionAndDistanceFromTheEnd() {
        for length in 0..<100 {
            for at in stride(from: 0, through: length, by: length > 40 ? 3 : 1) {
                let chars = Array(repeating: UInt8(ascii: "a"), count: length)
                for stop in [Array(#"\""#.utf8), [0x01], Array(#"\u00e9"#.utf8), Array(#"\q"#.utf8), [0x22]] {
                    var content = chars
                    content.insert(contentsOf: stop, at: at)
                    assertSameTape(Array("[\"".utf8) + content + Array("\",1]".utf8))
                    assertSameTape(Array("{\"".utf8) + content + Array("\":\"".utf8) + content + Array("\"}".utf8))
                }
            }
            let plain = Array(repeating: UInt8(ascii: "c"), count: length)
            for tail in 0..<40 {
                let spaces = Array(repeating: UInt8(ascii: " "), count: tail)
                assertSameTape(Array("[\"".utf8) + plain + Array("\"]".utf8) + spaces)
                assertSameTape(Array("[\"".utf8) + plain + spaces)
                assertSameTape(Array("\"".utf8) + plain + Array("\"".utf8) + spaces)
            }
        }
    }

    /// Deferred values whose strings, escapes and brackets fall at every position around the block
    /// boundaries, cut at every length.
    func testDeferredValuesAtEveryBlockPosition() {
        let fillers = ["", "a", "ab\\\\", "\\\"", "}]", "{[", "\\u005C", "é", "\u{01}"]
        for pad in 0..<80 {
            for f in fillers {
                let inner = String(repeating: "x", count: pad) + f + "]}\\\""
                let doc = Array(("{\"k1\":{\"s\":\"" + inner + "\",\"t\":[\"" + f + "\",{}]},\"k2\":\"" + f + "\"}").utf8)
                assertSameTape(doc, keys: ["k1"])
                assertSameTape(doc, keys: ["k1"], maxDepth: 2)
                for cut in stride(from: 1, to: doc.count, by: 7) {
                    assertSameTape(Array(doc.prefix(cut)), keys: ["k1"])
                }
            }
        }
    }

    /// Documents larger than the reserved-tape limit, parsed with capacity checks.
    func testLargeDocuments() {
        var rng = SplitMix(seed: 11)
        var parts: [String] = []
        var size = 0
        while size < 3 * JSONTape.reserveLimit {
            let part = randomDocument(&rng, depth: 0).0
            parts.append(part)
            size += part.utf8.count + 1
        }
        let doc = Array(("[" + parts.joined(separator: ",") + "]").utf8)
        XCTAssertTrue(assertSameTape(doc))
        XCTAssertTrue(assertSameTape(Array("{\"k1\":".utf8) + doc + Array(",\"k2\":".utf8) + doc + Array("}".utf8), keys: ["k2"]))
    }

    func testJSONTestSuite() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/data/JSONTestSuite/test_parsing").standardized
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: dir.path), !files.isEmpty else {
            throw XCTSkip("../shared/data/JSONTestSuite not present")
        }
        var compared = 0
        for name in files.sorted() where name.hasSuffix(".json") {
            let bytes = try [UInt8](Data(contentsOf: dir.appendingPathComponent(name)))
            assertSameTape(bytes)
            compared += 1
        }
        XCTAssertGreaterThan(compared, 300)
    }
}

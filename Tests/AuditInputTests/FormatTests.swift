@testable import AuditInput
import AuditJSON
import Foundation
import XCTest

// MARK: Helpers

/// Runs any framer to the end and flattens what it produced.
func collectRecords(_ framer: RecordFramer, file: StaticString = #filePath, line: UInt = #line) throws -> FramedOutput {
    var output = FramedOutput()
    var spare: RecordBatch?
    while let batch = try framer.nextBatch(reusing: spare) {
        XCTAssertFalse(batch.isEmpty, file: file, line: line)
        for record in batch.records {
            XCTAssertLessThanOrEqual(record.start + record.count, batch.byteCount, file: file, line: line)
            output.records.append(.init(bytes: Array(batch.recordBytes(record)), line: record.line, offset: record.byteOffset))
        }
        for d in batch.diagnostics {
            output.diagnostics.append(.init(kind: d.kind, line: d.line, offset: d.byteOffset, count: d.byteCount))
        }
        spare = batch
    }
    return output
}

/// The obvious whole-buffer splitting into JSON values and non-JSON lines: the oracle for
/// `JSONValueFramer`.
func referenceValueFraming(_ bytes: [UInt8], maxRecordSize: Int = 64 << 20) -> FramedOutput {
    var output = FramedOutput()
    var i = 0
    var line = 1
    let n = bytes.count
    if n >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { i = 3 }
    func add(_ start: Int, _ end: Int, _ recordLine: Int) {
        if end - start > maxRecordSize {
            output.diagnostics.append(.init(kind: .oversizedRecord, line: recordLine, offset: Int64(start), count: Int64(end - start)))
        } else {
            output.records.append(.init(bytes: Array(bytes[start..<end]), line: recordLine, offset: Int64(start)))
        }
    }
    while i < n {
        let c = bytes[i]
        if c == 0x0A { line += 1; i += 1; continue }
        if c == 0x20 || c == 0x09 || c == 0x0D { i += 1; continue }
        let start = i
        let recordLine = line
        if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
            var depth = 0
            var inString = false
            var escaped = false
            var end = n
            while i < n {
                let b = bytes[i]
                i += 1
                if b == 0x0A { line += 1 }
                if inString {
                    if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                    continue
                }
                if b == UInt8(ascii: "\"") { inString = true }
                if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") { depth += 1 }
                if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 { end = i; break }
                }
            }
            add(start, min(end, n), recordLine)
        } else {
            var end = start
            while end < n && bytes[end] != 0x0A { end += 1 }
            var stop = end
            if stop > start && bytes[stop - 1] == 0x0D { stop -= 1 }
            add(start, stop, recordLine)
            i = end
        }
    }
    return output
}

/// A JSON string literal for `text` (quotes, backslashes and control characters escaped).
func jsonQuoted(_ text: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [UInt8(ascii: "\"")]
    for b in text {
        switch b {
        case UInt8(ascii: "\""): out += [0x5C, UInt8(ascii: "\"")]
        case 0x5C: out += [0x5C, 0x5C]
        case 0x0A: out += [0x5C, UInt8(ascii: "n")]
        case 0..<0x20: out += Array(String(format: "\\u%04x", b).utf8)
        default: out.append(b)
        }
    }
    out.append(UInt8(ascii: "\""))
    return out
}

func eventJSON(_ id: String, verb: String = "get", resource: String = "pods") -> [UInt8] {
    bytesOf(#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"\#(id)","stage":"ResponseComplete","verb":"\#(verb)","user":{"username":"u {with} \"braces\""},"objectRef":{"resource":"\#(resource)","namespace":"ns"},"responseStatus":{"code":200},"stageTimestamp":"2026-11-23T10:00:00.000000Z"}"#)
}

/// Runs a decoder over one record and returns (events as item:auditID, problems as item:description).
func decodeRecord(_ decoder: RecordDecoder, _ record: [UInt8]) -> (events: [String], problems: [String]) {
    var events: [String] = []
    var problems: [String] = []
    _ = record.withUnsafeBytes { bytes in
        decoder.forEachAuditEvent(inRecord: bytes, event: { e, item in
            events.append("\(item):\(e.auditID?.decodedString() ?? "?")")
        }, problem: { p, item in
            problems.append("\(item):\(p.description)")
        })
    }
    return (events, problems)
}

func base64(_ bytes: [UInt8]) -> [UInt8] { Array(Data(bytes).base64EncodedString().utf8) }

// MARK: - JSONValueFramer

final class ValueFramerFormatTests: XCTestCase {
    private func frame(_ text: [UInt8], batchSize: Int = 1 << 20, chunks: [Int] = [1 << 20], maxRecordSize: Int = 64 << 20)
        throws -> FramedOutput
    {
        let framer = JSONValueFramer(source: ChunkedSource(text, chunkSizes: chunks), batchSize: batchSize, maxRecordSize: maxRecordSize)
        return try collectRecords(framer)
    }

    func testConcatenatedValuesWithoutSeparators() throws {
        let out = try frame(bytesOf(#"{"a":1}{"b":[2,{"c":3}]}[4,5]{"d":{}}"#))
        XCTAssertEqual(out.records.map { String(decoding: $0.bytes, as: UTF8.self) },
                       [#"{"a":1}"#, #"{"b":[2,{"c":3}]}"#, "[4,5]", #"{"d":{}}"#])
        XCTAssertEqual(out.records.map(\.line), [1, 1, 1, 1])
        XCTAssertEqual(out.records.map(\.offset), [0, 7, 24, 29])
        XCTAssertTrue(out.diagnostics.isEmpty)
    }

    func testStringsWithBracesAndEscapedQuotes() throws {
        let text = bytesOf(#"{"s":"}{][\"}","t":"\\"}{"u":"\\\"{"}"#)
        let out = try frame(text)
        XCTAssertEqual(out.records.map { String(decoding: $0.bytes, as: UTF8.self) },
                       [#"{"s":"}{][\"}","t":"\\"}"#, #"{"u":"\\\"{"}"#])
        for batch in [1, 2, 3, 5] {
            XCTAssertEqual(try frame(text, batchSize: batch, chunks: [1, 2, 3]), out, "batch \(batch)")
        }
    }

    func testAnUnterminatedStringDoesNotSwallowTheRecordsAfterIt() throws {
        let text = bytesOf("{\"auditID\":\"broken\n{\"a\":1}\n{\"b\":\"x\\\n{\"c\":2}\n")
        let out = try frame(text)
        XCTAssertEqual(out.records.map { String(decoding: $0.bytes, as: UTF8.self) },
                       [#"{"auditID":"broken"#, #"{"a":1}"#, #"{"b":"x\"#, #"{"c":2}"#])
        XCTAssertEqual(out.records.map(\.line), [1, 2, 3, 4])
        for batch in [1, 2, 3, 7] {
            XCTAssertEqual(try frame(text, batchSize: batch, chunks: [1, 2, 3]), out, "batch \(batch)")
        }
    }

    func testFuzzCaseBrokenValuesWithTinyRecordLimit() throws {
        // Found by fuzz-framing: broken values, CR LF, quotes and a byte-order mark with an 8-byte record
        // limit must frame the same whatever the batch and read sizes.
        let bytes: [UInt8] = [0x5B, 0x7D, 0x0D, 0x0A, 0x0A, 0x5B, 0x31, 0x2C, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x62, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x5B, 0x7D, 0x0D, 0x0A, 0x0A, 0x5B, 0x31, 0x2C, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x62, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0xBB, 0xBF, 0x7B, 0x22, 0x63, 0x22, 0x3A, 0x33, 0x79]
        let whole = try frame(bytes, batchSize: 4096, chunks: [1 << 20], maxRecordSize: 8)
        let small = try frame(bytes, batchSize: 1, chunks: [16, 14, 11], maxRecordSize: 8)
        XCTAssertEqual(small, whole)
    }

    func testPrettyPrintedValuesAndLineNumbers() throws {
        let text = bytesOf("{\n  \"events\": [\n    {\"m\": \"x\"}\n  ]\n}\n\n  [1,\n2]{\"z\":0}\n{}\r\n")
        let out = try frame(text)
        XCTAssertEqual(out.records.map(\.line), [1, 7, 8, 9])
        XCTAssertEqual(out.records[1].bytes, bytesOf("[1,\n2]"))
        XCTAssertEqual(out.records[2].bytes, bytesOf("{\"z\":0}"))
        XCTAssertEqual(out.records[3].bytes, bytesOf("{}"))
        XCTAssertEqual(out.records[1].offset, Int64(text.lastIndex(of: UInt8(ascii: "1"))! - 1))
    }

    func testNonJSONLinesAreLineRecords() throws {
        let text = bytesOf("2026-11-23T10:00:00.000Z {\"a\":\"}\"}\r\nH4sIAAAA\n{\"b\":1} trailing\n")
        let out = try frame(text)
        XCTAssertEqual(out.records.map { String(decoding: $0.bytes, as: UTF8.self) },
                       ["2026-11-23T10:00:00.000Z {\"a\":\"}\"}", "H4sIAAAA", "{\"b\":1}", "trailing"])
        XCTAssertEqual(out.records.map(\.line), [1, 2, 3, 3])
    }

    func testByteOrderMarkBeforePrettyValue() throws {
        let text: [UInt8] = [0xEF, 0xBB, 0xBF] + bytesOf("{\n \"a\": 1\n}\n")
        for chunk in [1, 2, 64] {
            let out = try frame(text, chunks: [chunk])
            XCTAssertEqual(out.records.count, 1)
            XCTAssertEqual(out.records.first?.offset, 3)
            XCTAssertEqual(out.records.first?.bytes.first, UInt8(ascii: "{"))
        }
    }

    func testUnterminatedValueAtEndIsHandedOut() throws {
        let out = try frame(bytesOf("{\"a\":1}\n{\"b\":\"cut"))
        XCTAssertEqual(out.records.count, 2)
        XCTAssertEqual(out.records[1].bytes, bytesOf("{\"b\":\"cut"))
        XCTAssertEqual(out.records[1].line, 2)
    }

    func testMatchesReferenceAcrossTinyBatches() throws {
        var random = TestRandom(state: 99)
        let pieces = [
            #"{"kind":"Event","s":"a}b{c\"d\\"}"#, "{\n  \"x\": [1, 2,\n {\"y\": \"]\"}]\n}", "[]", "{}",
            "2026-11-23T10:00:00.000Z {\"e\":1}", "H4sIAAAAAAAA", "\"quoted {\"", "   ", "\r", "\t",
            #"{"esc":"\\\\\"\\"}"#, "[{\"a\":[[[\"]]]\"]]]}]",
        ]
        for round in 0..<40 {
            var text: [UInt8] = round % 5 == 0 ? [0xEF, 0xBB, 0xBF] : []
            for _ in 0..<(5 + random.below(25)) {
                text += bytesOf(pieces[random.below(pieces.count)])
                switch random.below(4) {
                case 0: text += bytesOf("\n")
                case 1: text += bytesOf("\r\n")
                case 2: text += bytesOf(" ")
                default: break
                }
            }
            let maxRecordSize = round % 3 == 0 ? 20 : 64 << 20
            let expected = referenceValueFraming(text, maxRecordSize: maxRecordSize)
            for (batch, chunks) in [(1, [1]), (2, [3, 1]), (3, [7]), (7, [2, 5]), (64, [13]), (1 << 16, [1 << 16])] {
                let out = try frame(text, batchSize: batch, chunks: chunks, maxRecordSize: maxRecordSize)
                XCTAssertEqual(out, expected, "round \(round) batch \(batch): \(String(decoding: text, as: UTF8.self))")
            }
        }
    }

    func testOversizedValueIsSkippedAndReported() throws {
        let big = bytesOf("{\"pad\":\"" + String(repeating: "}", count: 5000) + "\"}")
        let text = bytesOf("{\"a\":1}\n") + big + bytesOf("{\"b\":2}\n")
        let out = try frame(text, batchSize: 64, chunks: [100], maxRecordSize: 1000)
        XCTAssertEqual(out.records.map { String(decoding: $0.bytes, as: UTF8.self) }, ["{\"a\":1}", "{\"b\":2}"])
        XCTAssertEqual(out.diagnostics, [.init(kind: .oversizedRecord, line: 2, offset: 8, count: Int64(big.count))])
        XCTAssertEqual(out.records[1].offset, Int64(8 + big.count))
    }

    func testSourceFailureDeliversEarlierRecordsThenThrows() throws {
        let failure = InputError(path: "memory", offset: 10, reason: "truncated gzip stream")
        let source = ChunkedSource(bytesOf("{\"a\":1}{\"b\":"), chunkSizes: [4], failAtEnd: failure)
        let framer = JSONValueFramer(source: source, batchSize: 1 << 16)
        let batch = try XCTUnwrap(try framer.nextBatch(reusing: nil))
        XCTAssertEqual(batch.records.count, 1)
        XCTAssertEqual(batch.diagnostics.map(\.kind), [.incompleteRecord])
        XCTAssertThrowsError(try framer.nextBatch(reusing: nil)) { error in
            XCTAssertEqual((error as? InputError)?.reason, "truncated gzip stream")
        }
    }

    func testEmptyAndBlankInputsGiveNoBatch() throws {
        XCTAssertEqual(try frame([]).records.count, 0)
        XCTAssertEqual(try frame(bytesOf(" \n\r\n\t")).records.count, 0)
    }
}

// MARK: - Framing detection

final class DetectionFormatTests: XCTestCase {
    private func detect(_ text: String, atEnd: Bool = true) -> RecordFraming? {
        Array(text.utf8).withUnsafeBytes { detectFraming($0, atEnd: atEnd) }
    }

    func testDetection() {
        XCTAssertEqual(detect("{\"kind\":\"Event\"}\n{\"kind\":\"Event\"}\n"), .lines)
        XCTAssertEqual(detect("{\"kind\":\"Event\"}  \r\n"), .lines)
        XCTAssertEqual(detect("2026-11-23T10:00:00.000Z {}\n"), .lines)
        XCTAssertEqual(detect("H4sIAAAA\n"), .lines)
        XCTAssertEqual(detect("{\n  \"events\": []\n}\n"), .jsonValues)
        XCTAssertEqual(detect("{\"a\":\"}\n\"}"), .jsonValues)
        XCTAssertEqual(detect("{\"messageType\":\"DATA_MESSAGE\"}{\"messageType\":\"DATA_MESSAGE\"}"), .jsonValues)
        XCTAssertEqual(detect("\u{FEFF}{\n\"category\":\"kube-audit\"}"), .jsonValues)
        XCTAssertEqual(detect(""), .lines)
        XCTAssertNil(detect("{\"a\":", atEnd: false))
        XCTAssertNil(detect("{\"a\":1}", atEnd: false))
        XCTAssertEqual(detect("{\"a\":1}", atEnd: true), .lines)
        XCTAssertNil(Array<UInt8>([0xEF, 0xBB]).withUnsafeBytes { detectFraming($0, atEnd: false) })
    }

    func testAutoFramerPeeksWithoutLosingBytes() throws {
        let pretty = bytesOf("\n{\n \"a\": \"x\"\n}\n{\"b\":1}{\"c\":2}\n")
        for chunk in [1, 3, 1 << 16] {
            let framer = makeRecordFramer(source: ChunkedSource(pretty, chunkSizes: [chunk]), format: .auto, batchSize: 8)
            XCTAssertTrue(framer is JSONValueFramer)
            let out = try collectRecords(framer)
            XCTAssertEqual(out.records.map(\.line), [2, 5, 5])
            XCTAssertEqual(framer.bytesRead, Int64(pretty.count))
        }
        let lines = bytesOf("{\"a\":1}\n{\"b\":2}\n")
        let framer = makeRecordFramer(source: ChunkedSource(lines, chunkSizes: [2]), format: .auto)
        XCTAssertTrue(framer is LineFramer)
        XCTAssertEqual(try collectRecords(framer).records.count, 2)
        XCTAssertTrue(makeRecordFramer(source: ChunkedSource(lines), format: .firehose) is JSONValueFramer)
        XCTAssertTrue(makeRecordFramer(source: ChunkedSource(pretty), format: .cloudwatchExport) is LineFramer)
    }

    func testFirstLineLongerThanThePeekWindow() throws {
        let pad = String(repeating: "x", count: 400_000)
        let bigEvent = bytesOf(#"{"kind":"Event","auditID":"a","pad":"\#(pad)"}"#) + bytesOf("\n{\"kind\":\"Event\"}\n")
        let lines = makeRecordFramer(source: ChunkedSource(bigEvent, chunkSizes: [70_000]), format: .auto)
        XCTAssertTrue(lines is LineFramer)
        XCTAssertEqual(try collectRecords(lines).records.map(\.line), [1, 2])
        let bigPayload = bytesOf(#"{"messageType":"DATA_MESSAGE","logEvents":[{"message":"\#(pad)"}]}{"messageType":"CONTROL_MESSAGE"}"#)
        let values = makeRecordFramer(source: ChunkedSource(bigPayload, chunkSizes: [70_000]), format: .auto)
        XCTAssertTrue(values is JSONValueFramer)
        XCTAssertEqual(try collectRecords(values).records.count, 2)
    }

    func testPeekFailureIsRaisedAfterThePeekedBytes() throws {
        let failure = InputError(path: "memory", reason: "corrupt gzip data")
        let framer = makeRecordFramer(source: ChunkedSource(bytesOf("{\"a\":1}{\"b\""), chunkSizes: [5], failAtEnd: failure),
                                      format: .auto)
        let batch = try XCTUnwrap(try framer.nextBatch(reusing: nil))
        XCTAssertEqual(batch.records.count, 1)
        XCTAssertEqual(batch.diagnostics.map(\.kind), [.incompleteRecord])
        XCTAssertThrowsError(try framer.nextBatch(reusing: nil))
    }
}

// MARK: - Base64 and inflate

final class Base64FormatTests: XCTestCase {
    private func decode(_ text: String) throws(Base64Error) -> [UInt8] {
        let buffer = ScratchBuffer(capacity: 16)
        let bytes = Array(text.utf8)
        var failure: Base64Error?
        bytes.withUnsafeBytes { raw in
            do throws(Base64Error) { try Base64.decode(raw, into: buffer) } catch { failure = error }
        }
        if let failure { throw failure }
        return Array(buffer.bytes)
    }

    func testRFC4648Vectors() throws {
        let vectors = ["": "", "Zg==": "f", "Zm8=": "fo", "Zm9v": "foo", "Zm9vYg==": "foob", "Zm9vYmE=": "fooba", "Zm9vYmFy": "foobar"]
        for (encoded, plain) in vectors {
            XCTAssertEqual(try decode(encoded), Array(plain.utf8), encoded)
        }
    }

    func testWhitespaceMissingPaddingAndURLSafeAlphabet() throws {
        XCTAssertEqual(try decode("Zm9v\r\nYmFy\n"), Array("foobar".utf8))
        XCTAssertEqual(try decode("Zm9vYg"), Array("foob".utf8))
        XCTAssertEqual(try decode("-_8"), [0xFB, 0xFF])
        XCTAssertEqual(try decode("+/8="), [0xFB, 0xFF])
    }

    func testRoundTripOfRandomBytes() throws {
        var random = TestRandom(state: 5)
        for length in [1, 2, 3, 4, 5, 100, 1001] {
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            XCTAssertEqual(try decode(Data(bytes).base64EncodedString()), bytes)
        }
    }

    func testInvalidInputIsAnErrorNotACrash() {
        let cases: [(String, Base64Error)] = [
            ("Zm9v!mFy", Base64Error(offset: 4, reason: .invalidCharacter)),
            ("Zm9vY", Base64Error(offset: 5, reason: .truncated)),
            ("Zg==Zg==", Base64Error(offset: 4, reason: .dataAfterPadding)),
            ("Zg===", Base64Error(offset: 4, reason: .dataAfterPadding)),
            ("=Zg", Base64Error(offset: 0, reason: .invalidCharacter)),
            ("Zm9v\u{00e9}", Base64Error(offset: 4, reason: .invalidCharacter)),
            ("{\"not\":\"base64\"}", Base64Error(offset: 0, reason: .invalidCharacter)),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try decode(text), text) { error in
                XCTAssertEqual(error as? Base64Error, expected, text)
            }
        }
    }
}

final class InflateFormatTests: XCTestCase {
    private func inflate(_ bytes: [UInt8], limit: Int = 1 << 20) throws(InflateError) -> [UInt8] {
        let output = ScratchBuffer()
        var failure: InflateError?
        bytes.withUnsafeBytes { raw in
            do throws(InflateError) { try Inflater().inflate(raw, into: output, limit: limit) } catch { failure = error }
        }
        if let failure { throw failure }
        return Array(output.bytes)
    }

    func testInflatesSingleAndMultipleMembers() throws {
        let a = sampleLines(300)
        let b = bytesOf("second member")
        XCTAssertEqual(try inflate(gzipMember(a)), a)
        XCTAssertEqual(try inflate(gzipMember(a) + gzipMember(b) + [0, 0]), a + b)
    }

    func testCorruptTruncatedAndOversizedPayloadsAreErrors() {
        let gz = gzipMember(sampleLines(300))
        XCTAssertThrowsError(try inflate(Array(gz.prefix(gz.count / 2))))
        var corrupt = gz
        corrupt[20] ^= 0xFF
        corrupt[21] ^= 0xFF
        XCTAssertThrowsError(try inflate(corrupt))
        XCTAssertThrowsError(try inflate(bytesOf("not gzip at all")))
        XCTAssertThrowsError(try inflate(gz, limit: 1000)) { error in
            XCTAssertTrue((error as? InflateError)?.reason.contains("larger than") == true)
        }
    }
}

// MARK: - Record decoding

final class FormatTests: XCTestCase {
    private func payload(_ messages: [[UInt8]], type: String = "DATA_MESSAGE") -> [UInt8] {
        var out = bytesOf(#"{"messageType":"\#(type)","owner":"111111111111","logGroup":"/aws/eks/c/cluster","logStream":"kube-apiserver-audit-0123","subscriptionFilters":["f"],"logEvents":["#)
        for (i, m) in messages.enumerated() {
            if i > 0 { out += bytesOf(",") }
            out += bytesOf(#"{"id":"3625\#(i)","timestamp":1505159705000,"message":"#) + jsonQuoted(m) + bytesOf("}")
        }
        return out + bytesOf("]}")
    }

    func testPlainEventsAndLists() {
        let decoder = RecordDecoder()
        XCTAssertEqual(decodeRecord(decoder, eventJSON("p1")).events, ["0:p1"])
        XCTAssertEqual(decoder.lastKind, .plain)
        let list = bytesOf(#"{"kind":"EventList","items":["#) + eventJSON("i1") + bytesOf(",") + eventJSON("i2") + bytesOf("]}")
        XCTAssertEqual(decodeRecord(decoder, list).events, ["1:i1", "2:i2"])
        XCTAssertEqual(decodeRecord(decoder, bytesOf("{\"kind\":\"Event\", broken")).problems.first?.hasPrefix("0:invalid JSON") , true)
    }

    func testExportLinesWithRFC3339AndEpochPrefixes() {
        let decoder = RecordDecoder()
        XCTAssertEqual(decodeRecord(decoder, bytesOf("2017-09-11T19:55:05.000Z ") + eventJSON("x1")).events, ["0:x1"])
        XCTAssertEqual(decoder.lastKind, .exportLine)
        XCTAssertEqual(decodeRecord(decoder, bytesOf("1505159705000 ") + eventJSON("x2")).events, ["0:x2"])
        let bad = decodeRecord(decoder, bytesOf("2017-13-45 nonsense"))
        XCTAssertEqual(bad.events, [])
        XCTAssertEqual(bad.problems.count, 1)
        XCTAssertTrue(decodeRecord(decoder, bytesOf("Permission Check Successful")).problems.isEmpty)
        XCTAssertEqual(decoder.lastKind, .exportProbe)
    }

    func testSubscriptionPayloadRawEncodedAndLambda() {
        let decoder = RecordDecoder()
        let raw = payload([eventJSON("s1"), eventJSON("s2"), eventJSON("s3")])
        XCTAssertEqual(decodeRecord(decoder, raw).events, ["1:s1", "2:s2", "3:s3"])
        XCTAssertEqual(decoder.lastKind, .subscription)

        let encoded = base64(gzipMember(raw))
        XCTAssertEqual(decodeRecord(decoder, encoded).events, ["1:s1", "2:s2", "3:s3"])
        XCTAssertEqual(decoder.lastKind, .encodedSubscription)
        XCTAssertEqual(decodeRecord(decoder, jsonQuoted(encoded)).events, ["1:s1", "2:s2", "3:s3"])
        let slashes = [UInt8(ascii: "\"")] + encoded.flatMap { $0 == UInt8(ascii: "/") ? [0x5C, $0] : [$0] } + [UInt8(ascii: "\"")]
        XCTAssertEqual(decodeRecord(decoder, slashes).events, ["1:s1", "2:s2", "3:s3"])
        XCTAssertEqual(decoder.lastKind, .encodedSubscription)

        let lambda = bytesOf(#"{"awslogs":{"data":""#) + encoded + bytesOf(#""}}"#)
        XCTAssertEqual(decodeRecord(decoder, lambda).events, ["1:s1", "2:s2", "3:s3"])
        XCTAssertEqual(decoder.lastKind, .lambda)
        // A JSON writer that escapes '/' in the base64 text.
        let escaped = bytesOf(#"{"awslogs":{"data":""#) + encoded.flatMap { $0 == UInt8(ascii: "/") ? [0x5C, $0] : [$0] } + bytesOf(#""}}"#)
        XCTAssertEqual(decodeRecord(decoder, escaped).events, ["1:s1", "2:s2", "3:s3"])
    }

    func testControlMessagesAreSkippedSilently() {
        let decoder = RecordDecoder()
        let control = payload([bytesOf("CWL CONTROL MESSAGE: Checking health of destination Firehose.")], type: "CONTROL_MESSAGE")
        let result = decodeRecord(decoder, control)
        XCTAssertEqual(result.events, [])
        XCTAssertEqual(result.problems, [])
        XCTAssertEqual(decodeRecord(decoder, base64(gzipMember(control))).problems, [])
    }

    func testPowertoolsLambdaSampleDecodes() {
        // The Lambda sample event from the AWS docs: two plain-text messages, not audit events.
        let sample = bytesOf(#"{"awslogs":{"data":"H4sIAAAAAAAAAHWPwQqCQBCGX0Xm7EFtK+smZBEUgXoLCdMhFtKV3akI8d0bLYmibvPPN3wz00CJxmQnTO41whwWQRIctmEcB6sQbFC3CjW3XW8kxpOpP+OC22d1Wml1qZkQGtoMsScxaczKN3plG8zlaHIta5KqWsozoTYw3/djzwhpLwivWFGHGpAFe7DL68JlBUk+l7KSN7tCOEJ4M3/qOI49vMHj+zCKdlFqLaU2ZHV2a4Ct/an0/ivdX8oYc1UVX860fQDQiMdxRQEAAA=="}}"#)
        let result = decodeRecord(RecordDecoder(), sample)
        XCTAssertEqual(result.events, [])
        XCTAssertEqual(result.problems.count, 2)
        XCTAssertTrue(result.problems[0].hasPrefix("1:log message is not a JSON audit event"), "\(result.problems)")
        XCTAssertTrue(result.problems[1].hasPrefix("2:"))
    }

    func testFilterLogEventsPagesAndSingleLogEvents() {
        let decoder = RecordDecoder()
        let page = bytesOf(#"{"events":[{"logStreamName":"kube-apiserver-audit-1","timestamp":1,"message":"#) + jsonQuoted(eventJSON("f1"))
            + bytesOf(#","ingestionTime":2,"eventId":"9"},{"timestamp":1,"message":"#) + jsonQuoted(eventJSON("f2"))
            + bytesOf(#"}],"nextToken":"abc","searchedLogStreams":[]}"#)
        XCTAssertEqual(decodeRecord(decoder, page).events, ["1:f1", "2:f2"])
        XCTAssertEqual(decoder.lastKind, .logEventsPage)
        let getLogEvents = bytesOf(#"{"nextForwardToken":"f/1","events":[{"ingestionTime":1,"timestamp":1,"message":"#) + jsonQuoted(eventJSON("g1"))
            + bytesOf(#"}],"nextBackwardToken":"b/1"}"#)
        XCTAssertEqual(decodeRecord(decoder, getLogEvents).events, ["1:g1"])
        let single = bytesOf(#"{"logStreamName":"s","timestamp":1,"message":"#) + jsonQuoted(eventJSON("l1")) + bytesOf(#","eventId":"1"}"#)
        XCTAssertEqual(decodeRecord(decoder, single).events, ["0:l1"])
        XCTAssertEqual(decoder.lastKind, .logEvent)
    }

    func testAKSRecordsAndSingleRecord() {
        let decoder = RecordDecoder()
        func record(_ category: String, _ event: [UInt8]) -> [UInt8] {
            bytesOf(#"{"operationName":"Microsoft.ContainerService/managedClusters/diagnosticLogs/Read","category":"\#(category)","properties":{"log":"#)
                + jsonQuoted(event + bytesOf("\n")) + bytesOf(#","stream":"stdout","pod":"kube-apiserver-1"},"time":"2020-05-05T16:16:37.0000000Z"}"#)
        }
        let batch = bytesOf(#"{"records": ["#) + record("kube-audit", eventJSON("k1")) + bytesOf(",")
            + record("kube-apiserver", bytesOf("I0505 some log line")) + bytesOf(",") + record("kube-audit-admin", eventJSON("k3")) + bytesOf("]}")
        let result = decodeRecord(decoder, batch)
        XCTAssertEqual(result.events, ["1:k1", "3:k3"])
        XCTAssertEqual(result.problems, [])
        XCTAssertEqual(decoder.lastKind, .aksRecords)
        XCTAssertEqual(decodeRecord(decoder, record("kube-audit", eventJSON("k4"))).events, ["0:k4"])
        XCTAssertEqual(decoder.lastKind, .aksRecord)
    }

    func testTruncatedMessagesAreReportedWithTheirIndex() {
        let full = eventJSON("t1")
        let cut = Array(full.prefix(full.count - 40))
        let marked = Array(full.prefix(120)) + bytesOf("[Truncated...]")
        let decoder = RecordDecoder()
        let result = decodeRecord(decoder, payload([eventJSON("t0"), cut, marked, bytesOf("not json at all"), eventJSON("t4")]))
        XCTAssertEqual(result.events, ["1:t0", "5:t4"])
        XCTAssertEqual(result.problems.count, 3)
        XCTAssertTrue(result.problems[0].hasPrefix("2:message truncated by CloudWatch"), result.problems[0])
        XCTAssertTrue(result.problems[1].hasPrefix("3:message truncated by CloudWatch"), result.problems[1])
        XCTAssertTrue(result.problems[2].hasPrefix("4:log message is not a JSON audit event"), result.problems[2])
        // Truncated export lines too.
        let line = decodeRecord(decoder, bytesOf("2017-09-11T19:55:05.000Z ") + cut)
        XCTAssertTrue(line.problems.first?.hasPrefix("0:message truncated by CloudWatch") == true)
    }

    func testUndecodablePayloadsAreProblemsNotCrashes() {
        let decoder = RecordDecoder()
        let badBase64 = decodeRecord(decoder, bytesOf(#"{"awslogs":{"data":"H4sI!!!!"}}"#))
        XCTAssertEqual(badBase64.problems.count, 1)
        XCTAssertTrue(badBase64.problems[0].contains("invalid base64"), badBase64.problems[0])
        let gz = gzipMember(payload([eventJSON("z")]))
        let truncated = decodeRecord(decoder, base64(Array(gz.prefix(gz.count - 10))))
        XCTAssertTrue(truncated.problems.first?.contains("truncated compressed payload") == true, "\(truncated.problems)")
        let notPayload = decodeRecord(decoder, base64(gzipMember(bytesOf("{\"hello\":1}"))))
        XCTAssertTrue(notPayload.problems.first?.contains("not a CloudWatch Logs subscription payload") == true)
        let wrapper = decodeRecord(decoder, bytesOf(#"{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1"},7]}"#))
        XCTAssertEqual(wrapper.problems, ["1:log event without a message string", "2:log event without a message string"])
        let bomb = RecordDecoder(maxPayloadSize: 100)
        XCTAssertTrue(decodeRecord(bomb, base64(gz)).problems.first?.contains("larger than 100 bytes") == true)
    }

    func testForcedFormatRejectsOtherShapes() {
        let subscription = RecordDecoder(format: .subscription)
        XCTAssertEqual(decodeRecord(subscription, eventJSON("e")).problems, ["0:not a record of the input format subscription"])
        XCTAssertEqual(decodeRecord(subscription, payload([eventJSON("e")])).events, ["1:e"])
        let aks = RecordDecoder(format: .aks)
        XCTAssertEqual(decodeRecord(aks, payload([eventJSON("e")])).problems, ["0:not a record of the input format aks"])
        let export = RecordDecoder(format: .cloudwatchExport)
        XCTAssertEqual(decodeRecord(export, eventJSON("e")).problems, ["0:not a record of the input format cloudwatch-export"])
        // `lines` never unwraps: a payload is just an object without auditID.
        let lines = RecordDecoder(format: .lines)
        XCTAssertEqual(decodeRecord(lines, payload([eventJSON("e")])).events, [])
        XCTAssertEqual(decodeRecord(lines, eventJSON("e")).events, ["0:e"])
        // Invalid JSON is reported as such whatever the format.
        XCTAssertTrue(decodeRecord(aks, bytesOf("{oops")).problems.first?.hasPrefix("0:invalid JSON") == true)
    }

    func testMessageOffsetsPointIntoTheRecord() {
        let record = payload([bytesOf("{\"kind\":\"Event\",\"cut")])
        var offsets: [Int] = []
        _ = record.withUnsafeBytes { bytes in
            RecordDecoder().forEachAuditEvent(inRecord: bytes, event: { _, _ in }, problem: { p, _ in offsets.append(p.offset) })
        }
        let messageKey = bytesOf("\"message\":\"")
        let at = (0...(record.count - messageKey.count)).first { Array(record[$0..<($0 + messageKey.count)]) == messageKey }!
        XCTAssertEqual(offsets, [at + messageKey.count])
    }

    func testUnescapeMatchesTheTokenizerDecoding() throws {
        let strings = [#""plain""#, #""a\"b\\c\/d\n\t\r\b\f""#, #""\u00e9\u20ac\ud83d\ude00 x""#,
                       #""lone \ud800 and \udc00 end""#, #""\ud800\u0041""#, #""\"kind\":\"Event\",\"x\":\"\\\"q\\\"\"""#,
                       "\"raw \u{00e9} utf8\""]
        let tape = JSONTape()
        for text in strings {
            let bytes = Array(text.utf8)
            try bytes.withUnsafeBytes { raw in
                try tape.parse(raw)
                var expected: [UInt8] = []
                tape.root.appendDecoded(to: &expected)
                let buffer = ScratchBuffer(capacity: 16)
                buffer.append(UInt8(ascii: "<"))
                appendUnescaped(tape.root.rawBytes, to: buffer)
                XCTAssertEqual(Array(buffer.bytes), [UInt8(ascii: "<")] + expected, text)
            }
        }
    }

    func testInputFormatNames() {
        XCTAssertEqual(InputFormat.names, ["auto", "lines", "cloudwatch-export", "subscription", "filter-log-events", "firehose", "aks"])
        XCTAssertEqual(InputFormat(rawValue: "filter-log-events"), .filterLogEvents)
    }
}

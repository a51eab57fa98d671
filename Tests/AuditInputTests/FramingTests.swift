import AuditInput
import Foundation
import XCTest

// MARK: Test helpers shared by the AuditInput tests

/// An in-memory source returning chunks of cycling sizes, optionally failing after its bytes.
final class ChunkedSource: ByteSource {
    let name: String
    private let bytes: [UInt8]
    private let chunkSizes: [Int]
    private var position = 0
    private var chunkIndex = 0
    private let failure: InputError?
    var readCalls = 0

    init(_ bytes: [UInt8], chunkSizes: [Int] = [1 << 20], name: String = "memory", failAtEnd: InputError? = nil) {
        self.bytes = bytes
        self.chunkSizes = chunkSizes
        self.name = name
        self.failure = failAtEnd
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(InputError) -> Int {
        self.readCalls += 1
        if self.position == self.bytes.count, let failure = self.failure { throw failure }
        let size = self.chunkSizes[self.chunkIndex % self.chunkSizes.count]
        self.chunkIndex += 1
        let n = min(size, buffer.count, self.bytes.count - self.position)
        for i in 0..<n { buffer[i] = self.bytes[self.position + i] }
        self.position += n
        return n
    }
}

/// A simple deterministic generator (SplitMix64).
struct TestRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(self.next() % UInt64(n)) }
}

/// What a framer produced, flattened for comparison.
struct FramedOutput: Equatable {
    struct Item: Equatable {
        var bytes: [UInt8]
        var line: Int
        var offset: Int64
    }
    struct Diagnostic: Equatable {
        var kind: FramingDiagnostic.Kind
        var line: Int
        var offset: Int64
        var count: Int64
    }
    var records: [Item] = []
    var diagnostics: [Diagnostic] = []
}

/// The obvious, slow framing of `bytes`: the oracle the framer is compared with.
func referenceFraming(_ bytes: [UInt8], maxRecordSize: Int = 64 << 20) -> FramedOutput {
    var output = FramedOutput()
    var lineStart = 0
    var line = 0
    func handle(_ start: Int, _ end: Int) {
        line += 1
        var s = start
        var e = end
        if s == 0 && e - s >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { s += 3 }
        if e > s && bytes[e - 1] == 0x0D { e -= 1 }
        if bytes[s..<e].allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }
        if e - s > maxRecordSize {
            output.diagnostics.append(.init(kind: .oversizedRecord, line: line, offset: Int64(s), count: Int64(e - s)))
        } else {
            output.records.append(.init(bytes: Array(bytes[s..<e]), line: line, offset: Int64(s)))
        }
    }
    for (i, byte) in bytes.enumerated() where byte == 0x0A {
        handle(lineStart, i)
        lineStart = i + 1
    }
    if lineStart < bytes.count { handle(lineStart, bytes.count) }
    return output
}

/// Runs `framer` to the end, checking batch invariants on the way.
func collect(_ framer: LineFramer, reuse: Bool = true, file: StaticString = #filePath, line: UInt = #line)
    throws -> FramedOutput
{
    var output = FramedOutput()
    var spare: RecordBatch?
    var expectedSequence = 0
    while let batch = try framer.nextBatch(reusing: reuse ? spare : nil) {
        XCTAssertEqual(batch.sequence, expectedSequence, file: file, line: line)
        XCTAssertFalse(batch.isEmpty, "empty batches are never returned", file: file, line: line)
        expectedSequence += 1
        for record in batch.records {
            XCTAssertLessThanOrEqual(record.start + record.count, batch.byteCount, file: file, line: line)
            output.records.append(.init(bytes: Array(batch.recordBytes(record)), line: record.line, offset: record.byteOffset))
        }
        for d in batch.diagnostics {
            output.diagnostics.append(.init(kind: d.kind, line: d.line, offset: d.byteOffset, count: d.byteCount))
        }
        // The padding after the lines is readable.
        batch.withBytes { bytes in
            let after = UnsafeRawBufferPointer(start: bytes.baseAddress! + bytes.count, count: RecordBatch.paddingSize)
            XCTAssertTrue(after.allSatisfy { $0 == 0 }, file: file, line: line)
        }
        spare = batch
    }
    return output
}

func bytesOf(_ text: String) -> [UInt8] { Array(text.utf8) }

// MARK: Framing tests

final class FramingTests: XCTestCase {
    private func frame(
        _ bytes: [UInt8], batchSize: Int = 1 << 20, maxRecordSize: Int = 64 << 20, chunks: [Int] = [1 << 20]
    ) throws -> FramedOutput {
        let framer = LineFramer(
            source: ChunkedSource(bytes, chunkSizes: chunks), batchSize: batchSize, maxRecordSize: maxRecordSize)
        let output = try collect(framer)
        XCTAssertEqual(framer.bytesRead, Int64(bytes.count))
        return output
    }

    func testSimpleLinesWithExactPositions() throws {
        let output = try frame(bytesOf("{\"a\":1}\n{\"b\":2}\n"))
        XCTAssertEqual(output.records, [
            .init(bytes: bytesOf("{\"a\":1}"), line: 1, offset: 0),
            .init(bytes: bytesOf("{\"b\":2}"), line: 2, offset: 8),
        ])
        XCTAssertEqual(output.diagnostics, [])
    }

    func testCRLFIsStripped() throws {
        let output = try frame(bytesOf("{}\r\n[1]\r\n\r\n\"x\"\r\n"))
        XCTAssertEqual(output.records.map(\.bytes), [bytesOf("{}"), bytesOf("[1]"), bytesOf("\"x\"")])
        XCTAssertEqual(output.records.map(\.line), [1, 2, 4])
    }

    func testByteOrderMarkSkippedOnlyAtStreamStart() throws {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        let input = bom + bytesOf("{\"a\":1}\n") + bom + bytesOf("{}\n")
        for chunk in [1, 2, 1 << 20] {
            let output = try frame(input, batchSize: 4, chunks: [chunk])
            XCTAssertEqual(output.records, [
                .init(bytes: bytesOf("{\"a\":1}"), line: 1, offset: 3),
                .init(bytes: bom + bytesOf("{}"), line: 2, offset: 11),
            ])
        }
        // A stream that is only a BOM has no records.
        XCTAssertEqual(try frame(bom).records, [])
    }

    func testBlankAndWhitespaceLinesKeepLineNumbers() throws {
        let output = try frame(bytesOf("\n   \n\t\r\n{}\n \n\n[]\n"))
        XCTAssertEqual(output.records, [
            .init(bytes: bytesOf("{}"), line: 4, offset: 8),
            .init(bytes: bytesOf("[]"), line: 7, offset: 14),
        ])
    }

    func testLastLineWithoutNewlineIsARecord() throws {
        let output = try frame(bytesOf("{}\n{\"last\":true}"), batchSize: 3, chunks: [2])
        XCTAssertEqual(output.records.map(\.bytes), [bytesOf("{}"), bytesOf("{\"last\":true}")])
        XCTAssertEqual(output.records.last?.line, 2)
        XCTAssertEqual(try frame(bytesOf("{}\r")).records.map(\.bytes), [bytesOf("{}")])
    }

    func testEmptyAndBlankOnlyInputsGiveNoBatch() throws {
        for input in ["", "\n", "\n\n  \n\r\n", "   "] {
            let framer = LineFramer(source: ChunkedSource(bytesOf(input)), batchSize: 2)
            XCTAssertNil(try framer.nextBatch(), "input \(input.debugDescription)")
            XCTAssertNil(try framer.nextBatch())
        }
    }

    func testLeadingWhitespaceIsKeptInsideRecords() throws {
        XCTAssertEqual(try frame(bytesOf("  {} \n")).records.map(\.bytes), [bytesOf("  {} ")])
    }

    /// Random inputs, framed with many batch and chunk sizes, must match the reference split.
    func testMatchesReferenceAcrossBatchBoundaries() throws {
        var random = TestRandom(state: 42)
        let pieces: [[UInt8]] = [
            bytesOf("{\"kind\":\"Event\"}"), bytesOf("x"), bytesOf(""), bytesOf(" "), bytesOf("\t "),
            bytesOf("\r"), [0xEF, 0xBB, 0xBF], bytesOf("{\"long\":\"") + [UInt8](repeating: 0x61, count: 300) + bytesOf("\"}"),
        ]
        for round in 0..<60 {
            var input: [UInt8] = random.below(4) == 0 ? [0xEF, 0xBB, 0xBF] : []
            for _ in 0..<random.below(40) {
                input += pieces[random.below(pieces.count)]
                if random.below(3) == 0 { input += pieces[random.below(pieces.count)] }
                input += random.below(5) == 0 ? bytesOf("\r\n") : bytesOf("\n")
            }
            if random.below(2) == 0 { input += pieces[random.below(pieces.count)] }
            let maxRecordSize = [64 << 20, 20, 1, 299, 302][round % 5]
            let expected = referenceFraming(input, maxRecordSize: maxRecordSize)
            for batchSize in [1, 2, 3, 7, 64, 1 << 20] {
                for chunks in [[1 << 20], [1], [5, 1, 3, 17], [7]] {
                    let output = try frame(input, batchSize: batchSize, maxRecordSize: maxRecordSize, chunks: chunks)
                    XCTAssertEqual(output, expected, "round \(round) batch \(batchSize) chunks \(chunks)")
                    if output != expected { return }
                }
            }
        }
    }

    func testRecordsSplitAcrossTinyBatches() throws {
        var input: [UInt8] = []
        for i in 0..<500 { input += bytesOf("{\"i\":\(i),\"pad\":\"\(String(repeating: "p", count: i % 23))\"}\n") }
        let expected = referenceFraming(input)
        XCTAssertEqual(expected.records.count, 500)
        let framer = LineFramer(source: ChunkedSource(input, chunkSizes: [3, 11]), batchSize: 7)
        var batches = 0
        var output = FramedOutput()
        while let batch = try framer.nextBatch() {
            batches += 1
            for r in batch.records { output.records.append(.init(bytes: Array(batch.recordBytes(r)), line: r.line, offset: r.byteOffset)) }
        }
        XCTAssertEqual(output, expected)
        XCTAssertGreaterThan(batches, 100)
        XCTAssertEqual(framer.linesRead, 500)
    }

    func testTwentyMegabyteLine() throws {
        let big = bytesOf("{\"x\":\"") + [UInt8](repeating: 0x62, count: 20 << 20) + bytesOf("\"}")
        let input = bytesOf("{\"a\":1}\n") + big + bytesOf("\n{\"b\":2}\n")
        let framer = LineFramer(source: ChunkedSource(input, chunkSizes: [1 << 20, 65_537]))
        let output = try collect(framer)
        XCTAssertEqual(output.records.count, 3)
        XCTAssertEqual(output.records.map(\.line), [1, 2, 3])
        XCTAssertEqual(output.records.map(\.offset), [0, 8, Int64(9 + big.count)])
        XCTAssertTrue(output.records[1].bytes == big)
        XCTAssertEqual(output.diagnostics, [])
    }

    func testOversizedRecordIsSkippedAndReported() throws {
        let line2 = [UInt8](repeating: 0x7A, count: 5000)
        var input = bytesOf("{\"n\":1}\n") + line2 + bytesOf("\r\n{\"n\":3}\n")
        let line4Offset = input.count
        input += [UInt8](repeating: 0x41, count: 101) + bytesOf("\n")  // line 4: one byte too long
        input += [UInt8](repeating: 0x42, count: 100) + bytesOf("\r\n")  // line 5: exactly the maximum
        input += bytesOf("{\"n\":6}")
        for batchSize in [7, 64, 1 << 20] {
            let output = try frame(input, batchSize: batchSize, maxRecordSize: 100, chunks: [13, 1000])
            XCTAssertEqual(output.records.map(\.line), [1, 3, 5, 6], "batch \(batchSize)")
            XCTAssertEqual(output.records[2].bytes.count, 100)
            XCTAssertEqual(output.diagnostics, [
                .init(kind: .oversizedRecord, line: 2, offset: 8, count: 5000),
                .init(kind: .oversizedRecord, line: 4, offset: Int64(line4Offset), count: 101),
            ], "batch \(batchSize)")
        }
    }

    func testOversizedRecordIsNotLoaded() throws {
        let maxRecordSize = 1 << 20
        let input = bytesOf("{}\n") + [UInt8](repeating: 0x63, count: 30 << 20) + bytesOf("\n[]\n")
        let framer = LineFramer(source: ChunkedSource(input), batchSize: 64 << 10, maxRecordSize: maxRecordSize)
        var maxCapacity = 0
        var output = FramedOutput()
        var spare: RecordBatch?
        while let batch = try framer.nextBatch(reusing: spare) {
            maxCapacity = max(maxCapacity, batch.capacity)
            output.records += batch.records.map { .init(bytes: Array(batch.recordBytes($0)), line: $0.line, offset: $0.byteOffset) }
            output.diagnostics += batch.diagnostics.map { .init(kind: $0.kind, line: $0.line, offset: $0.byteOffset, count: $0.byteCount) }
            XCTAssertTrue(batch.diagnostics.allSatisfy { $0.description.contains("line 2") })
            spare = batch
        }
        XCTAssertEqual(output.records.map(\.bytes), [bytesOf("{}"), bytesOf("[]")])
        XCTAssertEqual(output.records.map(\.line), [1, 3])
        XCTAssertEqual(output.diagnostics, [.init(kind: .oversizedRecord, line: 2, offset: 3, count: 30 << 20)])
        XCTAssertLessThanOrEqual(maxCapacity, maxRecordSize + 5, "the oversized line must not be buffered")
    }

    func testOversizedLineAtEndOfStream() throws {
        let input = bytesOf("{}\n") + [UInt8](repeating: 0x63, count: 50) + bytesOf("\r")
        let output = try frame(input, batchSize: 8, maxRecordSize: 10, chunks: [4])
        XCTAssertEqual(output.records.map(\.line), [1])
        XCTAssertEqual(output.diagnostics, [.init(kind: .oversizedRecord, line: 2, offset: 3, count: 50)])
    }

    func testReusedBatchKeepsItsBuffer() throws {
        var input: [UInt8] = []
        for i in 0..<20_000 { input += bytesOf("{\"i\":\(i)}\n") }
        let framer = LineFramer(source: ChunkedSource(input, chunkSizes: [4096]), batchSize: 16 << 10)
        guard let first = try framer.nextBatch() else { return XCTFail("no batch") }
        let base = first.withBytes { $0.baseAddress }
        let capacity = first.capacity
        var batches = 1
        var records = first.records.count
        while let batch = try framer.nextBatch(reusing: first) {
            XCTAssertTrue(batch === first)
            XCTAssertEqual(batch.withBytes { $0.baseAddress }, base)
            XCTAssertEqual(batch.capacity, capacity)
            records += batch.records.count
            batches += 1
        }
        XCTAssertEqual(records, 20_000)
        XCTAssertGreaterThan(batches, 5)
        XCTAssertEqual(framer.linesRead, 20_000)
    }

    func testBatchesStayNearTheTargetSize() throws {
        var input: [UInt8] = []
        for i in 0..<100_000 { input += bytesOf("{\"event\":\(i),\"verb\":\"get\"}\n") }
        let framer = LineFramer(source: ChunkedSource(input, chunkSizes: [100_000]), batchSize: 256 << 10)
        var sizes: [Int] = []
        while let batch = try framer.nextBatch() { sizes.append(batch.byteCount) }
        XCTAssertEqual(sizes.reduce(0, +), input.count)
        for size in sizes.dropLast() {
            XCTAssertGreaterThan(size, (256 << 10) - 100)
            XCTAssertLessThanOrEqual(size, 256 << 10)
        }
    }

    func testSourceErrorDeliversEarlierRecordsThenThrows() throws {
        let failure = InputError(path: "broken.gz", offset: 1234, reason: "truncated gzip stream")
        let input = bytesOf("{\"a\":1}\n\n{\"b\":2}\n{\"partial\":")
        let framer = LineFramer(
            source: ChunkedSource(input, chunkSizes: [5], failAtEnd: failure), batchSize: 1 << 20)
        guard let batch = try framer.nextBatch() else { return XCTFail("expected the records before the failure") }
        XCTAssertEqual(batch.records.map { Array(batch.recordBytes($0)) }, [bytesOf("{\"a\":1}"), bytesOf("{\"b\":2}")])
        XCTAssertEqual(batch.diagnostics.count, 1)
        XCTAssertEqual(batch.diagnostics.first?.kind, .incompleteRecord)
        XCTAssertEqual(batch.diagnostics.first?.line, 4)
        XCTAssertEqual(batch.diagnostics.first?.byteOffset, 17)
        XCTAssertEqual(batch.diagnostics.first?.byteCount, 11)
        for _ in 0..<2 {
            XCTAssertThrowsError(try framer.nextBatch()) { error in
                XCTAssertEqual((error as? InputError)?.path, "broken.gz")
                XCTAssertEqual((error as? InputError)?.offset, 1234)
            }
        }
    }

    func testSourceErrorWithNothingPendingThrowsImmediately() {
        let failure = InputError(path: "p", offset: 0, reason: "read failed")
        let framer = LineFramer(source: ChunkedSource([], failAtEnd: failure))
        XCTAssertThrowsError(try framer.nextBatch())
    }

    /// On a pipe, a batch is handed out as soon as the writer pauses: a live producer is not waited on.
    func testPipeBatchIsDeliveredWithoutWaitingForMoreInput() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let readEnd = fds[0]
        let writeEnd = fds[1]
        let delivered = DispatchSemaphore(value: 0)
        let writerDone = DispatchSemaphore(value: 0)
        let waitedInVain = LockedFlag()
        Thread.detachNewThread {
            writeAll(writeEnd, bytesOf("{\"first\":1}\n{\"sec"))
            if delivered.wait(timeout: .now() + 10) == .timedOut { waitedInVain.set() }
            writeAll(writeEnd, bytesOf("ond\":2}\n"))
            close(writeEnd)
            writerDone.signal()
        }
        let framer = LineFramer(source: FileSource(fileDescriptor: readEnd, name: "pipe", ownsDescriptor: true))
        let first = try framer.nextBatch()
        delivered.signal()
        XCTAssertEqual(first?.records.count, 1)
        guard let second = try framer.nextBatch() else { return XCTFail("missing second batch") }
        XCTAssertEqual(second.records.map { Array(second.recordBytes($0)) }, [bytesOf("{\"second\":2}")])
        XCTAssertEqual(second.records.first?.line, 2)
        XCTAssertNil(try framer.nextBatch())
        writerDone.wait()
        XCTAssertFalse(waitedInVain.isSet, "the framer waited for more input before delivering the first record")
    }
}

/// A flag shared with a writer thread.
final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { self.lock.withLock { self.value = true } }
    var isSet: Bool { self.lock.withLock { self.value } }
}

/// Writes all of `bytes` to `fd` (for pipe writer threads).
func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            return
        }
        offset += n
    }
}

import AuditInput
import CZlib
import Foundation
import XCTest

/// Compresses `bytes` into one gzip member with zlib's deflate.
func gzipMember(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
    var stream = z_stream()
    precondition(deflateInit2_(&stream, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY,
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

/// Reads `source` to the end with cycling read sizes; returns the bytes and the error, if any.
func drain(_ source: ByteSource, sizes: [Int] = [65_536]) -> (bytes: [UInt8], error: InputError?) {
    var result: [UInt8] = []
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: sizes.max()!, alignment: 1)
    defer { buffer.deallocate() }
    var index = 0
    while true {
        let size = sizes[index % sizes.count]
        index += 1
        do {
            let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<size]))
            if n == 0 { return (result, nil) }
            result += buffer[0..<n]
        } catch {
            return (result, error)
        }
    }
}

/// Deterministic, compressible audit-like text.
func sampleLines(_ count: Int, seed: UInt64 = 7) -> [UInt8] {
    var random = TestRandom(state: seed)
    var text: [UInt8] = []
    let verbs = ["get", "list", "watch", "create", "delete", "patch"]
    for i in 0..<count {
        text += bytesOf("{\"kind\":\"Event\",\"auditID\":\"\(random.next())\",\"verb\":\"\(verbs[random.below(verbs.count)])\",\"n\":\(i)}\n")
    }
    return text
}

final class GzipTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("audithound-gzip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: self.directory)
    }

    private func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let url = self.directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func testSingleMemberIsDetectedAndDecoded() throws {
        let original = sampleLines(5000)
        let path = try write(gzipMember(original), "one.json.gz")
        for sizes in [[65_536], [1, 7, 4093], [1 << 20]] {
            let source = try openInput(path: path)
            XCTAssertTrue(source is GzipSource)
            XCTAssertEqual(source.name, path)
            let (bytes, error) = drain(source, sizes: sizes)
            XCTAssertNil(error)
            XCTAssertTrue(bytes == original, "read sizes \(sizes)")
        }
    }

    func testDetectionDoesNotDependOnTheExtension() throws {
        let original = sampleLines(10)
        let path = try write(gzipMember(original), "plain-name.json")
        XCTAssertTrue(drain(try openInput(path: path)).bytes == original)
        let plain = try write(original, "looks-compressed.gz")
        XCTAssertTrue(drain(try openInput(path: plain)).bytes == original)
    }

    func testMultiMemberDecodesAsOneStream() throws {
        let a = sampleLines(300, seed: 1)
        let b = sampleLines(200, seed: 2)
        // A member boundary in the middle of a line, and an empty member.
        let c = bytesOf("{\"split\":")
        let d = bytesOf("true}\n")
        let compressed = gzipMember(a) + gzipMember(b, level: 1) + gzipMember(c) + gzipMember([]) + gzipMember(d)
        let path = try write(compressed, "multi.gz")
        let (bytes, error) = drain(try openInput(path: path), sizes: [1, 100, 9999])
        XCTAssertNil(error)
        XCTAssertTrue(bytes == a + b + c + d)

        let framer = LineFramer(source: try openInput(path: path), batchSize: 4096)
        let output = try collect(framer)
        XCTAssertEqual(output.records.count, 501)
        XCTAssertEqual(output.records.last?.bytes, bytesOf("{\"split\":true}"))
        XCTAssertEqual(output.records.last?.line, 501)
    }

    func testTrailingZeroPaddingIsTolerated() throws {
        let original = sampleLines(50)
        let path = try write(gzipMember(original) + [UInt8](repeating: 0, count: 1000), "padded.gz")
        let (bytes, error) = drain(try openInput(path: path))
        XCTAssertNil(error)
        XCTAssertTrue(bytes == original)
    }

    func testTruncatedStreamDeliversDecodedBytesThenFails() throws {
        let original = sampleLines(20_000)
        let compressed = gzipMember(original)
        let cut = compressed.count / 2
        let path = try write(Array(compressed[0..<cut]), "truncated.gz")
        let source = try openInput(path: path)
        let (bytes, error) = drain(source, sizes: [3000, 77])
        let failure = try XCTUnwrap(error)
        XCTAssertEqual(failure.path, path)
        XCTAssertEqual(failure.offset, Int64(cut))
        XCTAssertTrue(failure.reason.contains("truncated"), failure.reason)
        XCTAssertTrue(failure.description.contains(path))
        // Everything decodable before the cut was delivered, and it is a prefix of the original.
        XCTAssertGreaterThan(bytes.count, original.count / 3)
        XCTAssertTrue(bytes[...] == original[0..<bytes.count])
        // The source stays failed.
        XCTAssertNotNil(drain(source).error)
    }

    func testMissingTrailerStillDeliversAllData() throws {
        let original = sampleLines(1000)
        let compressed = gzipMember(original)
        let path = try write(Array(compressed.dropLast(4)), "notrailer.gz")
        let (bytes, error) = drain(try openInput(path: path))
        XCTAssertNotNil(error)
        XCTAssertTrue(bytes == original)
    }

    func testTruncatedStreamThroughTheFramer() throws {
        let original = sampleLines(20_000)
        let compressed = gzipMember(original)
        let path = try write(Array(compressed[0..<(compressed.count * 2 / 3)]), "cut.gz")
        let framer = LineFramer(source: try openInput(path: path), batchSize: 64 << 10)
        var lines: [Int] = []
        var incomplete: [FramingDiagnostic] = []
        var thrown: InputError?
        do {
            while let batch = try framer.nextBatch() {
                lines += batch.records.map(\.line)
                incomplete += batch.diagnostics.filter { $0.kind == .incompleteRecord }
            }
        } catch {
            thrown = error
        }
        XCTAssertEqual(thrown?.path, path)
        XCTAssertEqual(lines, Array(1...lines.count), "every line before the cut came out, in order")
        XCTAssertGreaterThan(lines.count, 10_000)
        if let partial = incomplete.first {
            XCTAssertEqual(partial.line, lines.count + 1)
        }
    }

    func testCorruptStreamFailsWithOffset() throws {
        let original = sampleLines(20_000)
        var compressed = gzipMember(original)
        let middle = compressed.count / 2
        for i in middle..<(middle + 64) { compressed[i] ^= 0x5A }
        let path = try write(compressed, "corrupt.gz")
        // Bytes decoded before the damage is detected may be garbage; only the error is checked.
        let (_, error) = drain(try openInput(path: path), sizes: [4096])
        let failure = try XCTUnwrap(error)
        XCTAssertEqual(failure.path, path)
        XCTAssertTrue(failure.reason.contains("corrupt") || failure.reason.contains("truncated"), failure.reason)
        let offset = try XCTUnwrap(failure.offset)
        XCTAssertGreaterThanOrEqual(offset, Int64(middle))
        XCTAssertLessThanOrEqual(offset, Int64(compressed.count))
    }

    func testBadHeaderAndTrailingGarbageFail() throws {
        let original = sampleLines(10)
        var badMethod = gzipMember(original)
        badMethod[2] = 7  // compression method must be 8 (deflate)
        XCTAssertNotNil(drain(try openInput(path: try write(badMethod, "badmethod.gz"))).error)

        let garbage = gzipMember(original) + bytesOf("not gzip")
        let path = try write(garbage, "garbage.gz")
        let (bytes, error) = drain(try openInput(path: path))
        XCTAssertTrue(bytes == original, "the member before the garbage is delivered")
        let offset = try XCTUnwrap(error?.offset)
        XCTAssertTrue((Int64(garbage.count - 8)...Int64(garbage.count)).contains(offset), "offset \(offset)")
    }

    func testForcedCompression() throws {
        let original = sampleLines(10)
        let compressed = gzipMember(original)
        let gzPath = try write(compressed, "f.gz")
        let plainPath = try write(original, "f.json")
        XCTAssertTrue(drain(try openInput(path: gzPath, compression: .none)).bytes == compressed)
        XCTAssertTrue(drain(try openInput(path: gzPath, compression: .gzip)).bytes == original)
        let (_, error) = drain(try openInput(path: plainPath, compression: .gzip))
        XCTAssertEqual(error?.path, plainPath)
        XCTAssertNotNil(error?.offset)
        let empty = try write([], "empty")
        XCTAssertNotNil(drain(try openInput(path: empty, compression: .gzip)).error)
        XCTAssertEqual(drain(try openInput(path: empty)).bytes, [])
    }

    /// Files made by the `gzip` tool decode too (skipped when the tool is not installed).
    func testGzipToolOutputIncludingConcatenation() throws {
        let tool = "/usr/bin/gzip"
        guard FileManager.default.isExecutableFile(atPath: tool) else { throw XCTSkip("no \(tool)") }
        let a = sampleLines(2000, seed: 3)
        let b = sampleLines(100, seed: 4)
        var compressed: [UInt8] = []
        for (part, name) in [(a, "a.json"), (b, "b.json")] {
            let path = try write(part, name)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = ["-n", "-9", path]
            try process.run()
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0)
            compressed += try [UInt8](Data(contentsOf: URL(fileURLWithPath: path + ".gz")))
        }
        let path = try write(compressed, "tool.gz")
        let (bytes, error) = drain(try openInput(path: path))
        XCTAssertNil(error)
        XCTAssertTrue(bytes == a + b)
    }

    func testGzipOverAPipe() throws {
        let original = sampleLines(30_000)
        let compressed = gzipMember(original)
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let writeEnd = fds[1]
        Thread.detachNewThread {
            var offset = 0
            while offset < compressed.count {
                let end = min(compressed.count, offset + 1 + offset % 7919)
                writeAll(writeEnd, Array(compressed[offset..<end]))
                offset = end
            }
            close(writeEnd)
        }
        let source = try GzipSource(wrapping: FileSource(fileDescriptor: fds[0], name: "pipe", ownsDescriptor: true))
        let (bytes, error) = drain(source, sizes: [100_000, 13])
        XCTAssertNil(error)
        XCTAssertTrue(bytes == original)
    }
}

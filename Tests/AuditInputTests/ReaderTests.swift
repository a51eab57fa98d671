import AuditInput
import Foundation
import XCTest

final class ReaderTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("audithound-reader-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: self.directory)
    }

    @discardableResult
    private func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let url = self.directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
        return url.path
    }

    private func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var random = TestRandom(state: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }

    // MARK: Files

    func testSmallFileReadInOddSizes() throws {
        let original = bytesOf("{\"a\":1}\n{\"b\":2}\n")
        let path = try write(original, "small.json")
        for sizes in [[1], [3, 5], [4096]] {
            let source = try openInput(path: path)
            XCTAssertTrue(source is FileSource)
            XCTAssertEqual(source.name, path)
            let (bytes, error) = drain(source, sizes: sizes)
            XCTAssertNil(error)
            XCTAssertEqual(bytes, original, "sizes \(sizes)")
        }
    }

    func testMultiMegabyteFile() throws {
        let original = randomBytes(5 << 20, seed: 9)
        let path = try write(original, "big.bin")
        let (bytes, error) = drain(try openInput(path: path, compression: .none), sizes: [65_537, 7, 1_000_003])
        XCTAssertNil(error)
        XCTAssertTrue(bytes == original)
        let (whole, _) = drain(try FileSource(path: path), sizes: [8 << 20])
        XCTAssertTrue(whole == original)
    }

    func testShortFilesSurviveTheGzipPeek() throws {
        for content in [[], [0x1f], [0x1f, 0x8c], bytesOf("x"), bytesOf("{}")] as [[UInt8]] {
            let path = try write(content, "short-\(content.count)-\(content.first ?? 0)")
            XCTAssertEqual(drain(try openInput(path: path), sizes: [1]).bytes, content)
        }
    }

    func testMissingFileAndDirectoryAreErrorsNamingThePath() throws {
        let missing = self.directory.appendingPathComponent("nope.json").path
        XCTAssertThrowsError(try openInput(path: missing)) { error in
            let e = error as? InputError
            XCTAssertEqual(e?.path, missing)
            XCTAssertTrue(e?.description.contains(missing) ?? false)
        }
        XCTAssertThrowsError(try openInput(path: self.directory.path)) { error in
            XCTAssertEqual((error as? InputError)?.reason, "is a directory")
        }
    }

    // MARK: Pipes and standard input

    func testPipeWithWriterThread() throws {
        let original = randomBytes(3 << 20, seed: 5)
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let writeEnd = fds[1]
        Thread.detachNewThread {
            var offset = 0
            var step = 1
            while offset < original.count {
                let end = min(original.count, offset + step)
                writeAll(writeEnd, Array(original[offset..<end]))
                offset = end
                step = step * 3 % 100_003 + 1
            }
            close(writeEnd)
        }
        let source = FileSource(fileDescriptor: fds[0], name: "pipe", ownsDescriptor: true)
        let (bytes, error) = drain(source, sizes: [1 << 20, 3])
        XCTAssertNil(error)
        XCTAssertTrue(bytes == original)
    }

    /// `-` reads descriptor 0; gzip is detected there without losing the peeked bytes.
    func testDashReadsStandardInputWithGzipDetection() throws {
        let plain = sampleLines(3000)
        for (payload, expectGzip) in [(gzipMember(plain), true), (plain, false)] {
            var fds: [Int32] = [0, 0]
            XCTAssertEqual(pipe(&fds), 0)
            let savedStdin = dup(STDIN_FILENO)
            XCTAssertGreaterThanOrEqual(savedStdin, 0)
            XCTAssertEqual(dup2(fds[0], STDIN_FILENO), STDIN_FILENO)
            close(fds[0])
            defer {
                dup2(savedStdin, STDIN_FILENO)
                close(savedStdin)
            }
            let writeEnd = fds[1]
            Thread.detachNewThread {
                // The first write is a single byte, so the peek must wait for the second one.
                writeAll(writeEnd, [payload[0]])
                usleep(20_000)
                writeAll(writeEnd, Array(payload[1...]))
                close(writeEnd)
            }
            let source = try openInput(path: "-")
            XCTAssertEqual(source.name, "<stdin>")
            XCTAssertEqual(source is GzipSource, expectGzip)
            let (bytes, error) = drain(source, sizes: [4096, 1])
            XCTAssertNil(error)
            XCTAssertTrue(bytes == plain)
        }
    }

    // MARK: Path expansion

    func testDirectoryExpansionOrder() throws {
        try write([], "logs/b.json")
        try write([], "logs/a.json")
        try write([], "logs/B.json")
        try write([], "logs/a.json.gz")
        try write([], "logs/a/z.json")
        try write([], "logs/a/m/1.json")
        try write([], "logs/a-b.json")
        try write([], "logs/.hidden.json")
        try write([], "logs/.git/config")
        try write([], "logs/sub/deeper/x.json")
        let root = self.directory.appendingPathComponent("logs").path
        try FileManager.default.createSymbolicLink(atPath: root + "/link-to-dir", withDestinationPath: root + "/sub")
        try FileManager.default.createSymbolicLink(atPath: root + "/link-to-file.json", withDestinationPath: root + "/b.json")
        try FileManager.default.createSymbolicLink(atPath: root + "/dangling.json", withDestinationPath: root + "/nothing")

        let expanded = try expandInputPaths([root])
        let relative = expanded.map { String($0.dropFirst(root.count + 1)) }
        XCTAssertEqual(relative, [
            "B.json", "a/m/1.json", "a/z.json", "a-b.json", "a.json", "a.json.gz", "b.json", "link-to-file.json",
            "sub/deeper/x.json",
        ])
        // A trailing slash does not double the separator.
        XCTAssertEqual(try expandInputPaths([root + "/"]), expanded)
    }

    func testExpansionKeepsFilesDashAndOrderAsGiven() throws {
        let b = try write([], "b.json")
        let a = try write([], "a.json")
        let hidden = try write([], ".explicit.json")
        try write([], "dir/x.json")
        let dir = self.directory.appendingPathComponent("dir").path
        XCTAssertEqual(try expandInputPaths([b, "-", a, dir, hidden, b]), [b, "-", a, dir + "/x.json", hidden, b])
        XCTAssertEqual(try expandInputPaths([]), [])
    }

    func testExpansionOfMissingPathNamesIt() throws {
        let a = try write([], "a.json")
        let missing = self.directory.appendingPathComponent("missing").path
        XCTAssertThrowsError(try expandInputPaths([a, missing])) { error in
            XCTAssertEqual((error as? InputError)?.path, missing)
            XCTAssertEqual((error as? InputError)?.reason, "no such file or directory")
        }
    }
}

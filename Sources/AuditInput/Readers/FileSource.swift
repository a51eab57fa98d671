import Glibc

/// Reads a file, a FIFO, a pipe or standard input with plain `read(2)` calls.
///
/// Reads go straight into the caller's buffer (no intermediate copy), so large buffers give large
/// reads. Works for files of any size and for non-seekable descriptors. The descriptor is closed on
/// `deinit` when the source owns it (not for standard input).
public final class FileSource: ByteSource {
    /// The path as given, or `<stdin>`.
    public let name: String

    private let fd: CInt
    private let ownsDescriptor: Bool
    private let isRegularFile: Bool
    /// Bytes already read by `peek` that `read` must hand out first.
    private var pending: [UInt8] = []
    private var pendingIndex = 0
    /// Bytes read from the descriptor so far (for error offsets).
    private var offset: Int64 = 0
    private var failure: InputError?

    /// Opens `path` for reading.
    ///
    /// - Throws: `InputError` naming `path` when it cannot be opened or is a directory.
    public init(path: String) throws(InputError) {
        var fd: CInt
        repeat {
            fd = open(path, O_RDONLY | O_CLOEXEC)
        } while fd < 0 && errno == EINTR
        guard fd >= 0 else {
            throw InputError(path: path, reason: "cannot open: \(errnoDescription())")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = "cannot stat: \(errnoDescription())"
            close(fd)
            throw InputError(path: path, reason: reason)
        }
        let kind = info.st_mode & S_IFMT
        if kind == S_IFDIR {
            close(fd)
            throw InputError(path: path, reason: "is a directory")
        }
        self.name = path
        self.fd = fd
        self.ownsDescriptor = true
        self.isRegularFile = kind == S_IFREG
        if self.isRegularFile {
            _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        }
    }

    /// Wraps an already open descriptor (e.g. one end of a pipe).
    ///
    /// - Parameters:
    ///   - fileDescriptor: a descriptor open for reading.
    ///   - name: the name used in diagnostics.
    ///   - ownsDescriptor: close the descriptor on `deinit`.
    public init(fileDescriptor: CInt, name: String, ownsDescriptor: Bool) {
        self.name = name
        self.fd = fileDescriptor
        self.ownsDescriptor = ownsDescriptor
        var info = stat()
        self.isRegularFile = fstat(fileDescriptor, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    /// Standard input (descriptor 0), named `<stdin>`. It is not closed on `deinit`.
    public static func standardInput() -> FileSource {
        FileSource(fileDescriptor: STDIN_FILENO, name: "<stdin>", ownsDescriptor: false)
    }

    deinit {
        if self.ownsDescriptor {
            close(self.fd)
        }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(InputError) -> Int {
        if let failure = self.failure {
            throw failure
        }
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        if self.pendingIndex < self.pending.count {
            let n = min(buffer.count, self.pending.count - self.pendingIndex)
            self.pending.withUnsafeBytes { bytes in
                base.copyMemory(from: bytes.baseAddress! + self.pendingIndex, byteCount: n)
            }
            self.pendingIndex += n
            if self.pendingIndex == self.pending.count {
                self.pending.removeAll()
                self.pendingIndex = 0
            }
            return n
        }
        return try self.readDescriptor(into: base, count: buffer.count)
    }

    public func canRead(withinMilliseconds milliseconds: Int) -> Bool {
        if self.isRegularFile || self.pendingIndex < self.pending.count || self.failure != nil { return true }
        var descriptor = pollfd(fd: self.fd, events: Int16(POLLIN), revents: 0)
        // POLLHUP (writer gone) and POLLERR also count as ready: the read returns at once.
        return poll(&descriptor, 1, CInt(clamping: milliseconds)) != 0
    }

    /// Reads until `count` bytes are buffered or the stream ends, and returns them without consuming
    /// them: the following `read` calls hand them out first. Fewer bytes mean the stream is shorter.
    func peek(_ count: Int) throws(InputError) -> [UInt8] {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 1)
        defer { scratch.deallocate() }
        while self.pending.count - self.pendingIndex < count {
            let missing = count - (self.pending.count - self.pendingIndex)
            let n = try self.readDescriptor(into: scratch.baseAddress!, count: missing)
            if n == 0 { break }
            self.pending.append(contentsOf: scratch[0..<n])
        }
        return Array(self.pending[self.pendingIndex..<min(self.pending.count, self.pendingIndex + count)])
    }

    /// One `read(2)` into `base`, retried on `EINTR`; bypasses the pending bytes.
    private func readDescriptor(into base: UnsafeMutableRawPointer, count: Int) throws(InputError) -> Int {
        // Linux caps a single read at 0x7ffff000 bytes anyway.
        let request = min(count, 1 << 30)
        while true {
            let n = Glibc.read(self.fd, base, request)
            if n >= 0 {
                self.offset += Int64(n)
                return n
            }
            if errno == EINTR { continue }
            let error = InputError(path: self.name, offset: self.offset, reason: "read failed: \(errnoDescription())")
            self.failure = error
            throw error
        }
    }
}

/// `strerror(errno)` as a String.
func errnoDescription(_ code: CInt = errno) -> String {
    if let text = strerror(code) {
        return String(cString: text)
    }
    return "error \(code)"
}

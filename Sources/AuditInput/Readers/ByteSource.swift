/// A forward-only stream of bytes: a file, a pipe, standard input, or a decompressor wrapping
/// another source.
///
/// Sources are used by one thread at a time (the reader thread); they are not `Sendable`.
public protocol ByteSource: AnyObject {
    /// The name used in diagnostics: the path as given, or `<stdin>`.
    var name: String { get }

    /// Reads up to `buffer.count` bytes into `buffer` and returns how many were written.
    ///
    /// Returns 0 only at the end of the stream (or when `buffer` is empty). A read may return fewer
    /// bytes than requested even before the end (pipes, decompressors). Once a read has thrown, the
    /// source stays failed and later reads throw the same error.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(InputError) -> Int

    /// Whether the next `read` will return without waiting for a writer: data is buffered, the
    /// source is a regular file, or the end of the stream was reached. For a pipe or terminal,
    /// waits up to `milliseconds` for data to arrive (0: just checks).
    ///
    /// Readers use this to hand out what they already have instead of blocking on a live pipe.
    /// Sources that cannot tell return `true` (the default).
    func canRead(withinMilliseconds milliseconds: Int) -> Bool
}

extension ByteSource {
    /// Default: assume reads never wait.
    public func canRead(withinMilliseconds milliseconds: Int) -> Bool { true }
}

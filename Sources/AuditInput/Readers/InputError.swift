/// A failure to read an input: a path that cannot be opened or listed, a read error, or a truncated or
/// corrupt compressed stream.
///
/// Errors raised while reading are delivered only after every byte decoded before the failure point
/// has been handed out, so the records before a damaged spot still count.
public struct InputError: Error, CustomStringConvertible, Sendable {
    /// The path the error is about, as the user gave it (`<stdin>` for standard input).
    public var path: String
    /// The byte offset in the file where the problem was found, when known. For a compressed input
    /// this is the offset in the *compressed* bytes.
    public var offset: Int64?
    /// A short human-readable reason, e.g. `no such file or directory` or `truncated gzip stream`.
    public var reason: String

    /// Creates an error about `path`.
    public init(path: String, offset: Int64? = nil, reason: String) {
        self.path = path
        self.offset = offset
        self.reason = reason
    }

    /// `path: reason`, or `path: reason (at byte N)` when the offset is known.
    public var description: String {
        if let offset = self.offset {
            return "\(self.path): \(self.reason) (at byte \(offset))"
        }
        return "\(self.path): \(self.reason)"
    }
}

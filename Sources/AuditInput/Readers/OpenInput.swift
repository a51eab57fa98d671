/// How an input's bytes are compressed.
public enum InputCompression: Sendable, Equatable {
    /// gzip when the stream starts with the gzip magic bytes `1f 8b`, plain otherwise.
    case auto
    /// Plain bytes, never decompressed.
    case none
    /// gzip (single- or multi-member); anything else is an error.
    case gzip
}

/// Opens a file, or standard input for `"-"`, and decompresses it when needed.
///
/// With `.auto`, the first two bytes are peeked (without losing them, so this works on pipes and
/// standard input) and gzip is used when they are the gzip magic `1f 8b`. The file name's extension
/// is not looked at.
///
/// - Throws: `InputError` naming `path` when it is missing, unreadable or a directory.
public func openInput(path: String, compression: InputCompression = .auto) throws(InputError) -> ByteSource {
    let file = path == "-" ? FileSource.standardInput() : try FileSource(path: path)
    switch compression {
    case .none:
        return file
    case .gzip:
        return try GzipSource(wrapping: file)
    case .auto:
        let magic = try file.peek(2)
        if magic == [0x1f, 0x8b] {
            return try GzipSource(wrapping: file)
        }
        return file
    }
}

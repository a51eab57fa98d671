import Glibc

/// A path to follow: a plain path, or a shell glob (`*`, `?`, `[...]`) such as
/// `/var/log/kubernetes/audit/*.log`, expanded with Glibc `glob(3)` every time the follower looks for
/// new files.
public struct TailPattern: Sendable, Hashable {
    /// The path or glob as given.
    public let text: String
    /// Whether `text` holds glob metacharacters.
    public let isGlob: Bool

    /// Wraps a path or glob as given on the command line.
    public init(_ text: String) {
        self.text = text
        self.isGlob = hasGlobMetacharacters(text)
    }

    /// The directory that holds the files this pattern names (`.` for a bare name). May itself be a glob.
    public var directory: String {
        guard let slash = self.text.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        if slash == self.text.utf8.startIndex { return "/" }
        return String(self.text[..<slash])
    }

    /// The paths the pattern names right now, sorted byte-wise: for a plain path, the path itself when
    /// something exists there; for a glob, its matches (none when nothing matches). Whether a match is a
    /// regular file is left to the caller.
    public func currentPaths() -> [String] {
        if !self.isGlob {
            var info = stat()
            return stat(self.text, &info) == 0 ? [self.text] : []
        }
        return globPaths(self.text, onlyDirectories: false)
    }

    /// The existing directories to watch for this pattern (the directory glob expanded).
    func currentDirectories() -> [String] {
        let directory = self.directory
        if hasGlobMetacharacters(directory) {
            return globPaths(directory, onlyDirectories: true)
        }
        var info = stat()
        guard stat(directory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { return [] }
        return [directory]
    }
}

/// Whether `text` contains `*`, `?` or `[`.
func hasGlobMetacharacters(_ text: String) -> Bool {
    text.utf8.contains { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") }
}

/// Expands a glob with `glob(3)`; unreadable directories are skipped, no match gives `[]`.
func globPaths(_ pattern: String, onlyDirectories: Bool) -> [String] {
    var result = glob_t()
    defer { globfree(&result) }
    let flags = onlyDirectories ? GLOB_ONLYDIR : 0
    guard glob(pattern, flags, nil, &result) == 0 else { return [] }
    var paths: [String] = []
    paths.reserveCapacity(Int(result.gl_pathc))
    for index in 0..<Int(result.gl_pathc) {
        guard let entry = result.gl_pathv[index] else { continue }
        var path = String(cString: entry)
        if onlyDirectories {
            // GLOB_ONLYDIR is only a hint: check.
            var info = stat()
            guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { continue }
            if path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        }
        paths.append(path)
    }
    return paths
}

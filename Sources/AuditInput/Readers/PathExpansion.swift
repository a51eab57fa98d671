import Glibc

/// Expands command-line input paths into the list of inputs to read, in a deterministic order.
///
/// - `"-"` (standard input) is kept as is, at its position.
/// - A path that is not a directory (regular file, FIFO, symbolic link to a file, …) is kept as
///   given, even when its name starts with a dot.
/// - A directory is walked recursively, depth-first. The entries of each directory are visited in
///   byte-wise order of their names (so `B.json` < `a.json` < `a.json.gz` < `b`), and a
///   sub-directory is descended into at its place in that order; the result is therefore sorted by
///   path *components*, compared byte-wise. Inside a walk:
///   - hidden entries (names starting with `.`) are skipped, files and directories alike;
///   - regular files and symbolic links to regular files are included;
///   - symbolic links to directories are not followed (no cycles), other kinds (sockets, FIFOs,
///     devices) and dangling links are skipped.
///   Returned paths are the directory path joined with the entry names by `/`.
/// - Paths are not de-duplicated: a file named twice is read twice.
///
/// File names that are not valid UTF-8 are repaired by `String` (U+FFFD) and then fail to open
/// later with an error naming them; they are not dropped silently.
///
/// - Throws: `InputError` naming the first path that does not exist or cannot be listed.
public func expandInputPaths(_ paths: [String]) throws(InputError) -> [String] {
    var result: [String] = []
    for path in paths {
        if path == "-" {
            result.append(path)
            continue
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            let reason = errno == ENOENT ? "no such file or directory" : "cannot stat: \(errnoDescription())"
            throw InputError(path: path, reason: reason)
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            try appendDirectory(path, to: &result)
        } else {
            result.append(path)
        }
    }
    return result
}

/// Appends the files under `directory`, see `expandInputPaths`.
private func appendDirectory(_ directory: String, to result: inout [String]) throws(InputError) {
    guard let handle = opendir(directory) else {
        throw InputError(path: directory, reason: "cannot list directory: \(errnoDescription())")
    }
    var names: [[UInt8]] = []
    while true {
        errno = 0
        guard let entry = readdir(handle) else {
            if errno != 0 {
                let reason = "cannot list directory: \(errnoDescription())"
                closedir(handle)
                throw InputError(path: directory, reason: reason)
            }
            break
        }
        let name = withUnsafeBytes(of: &entry.pointee.d_name) { raw -> [UInt8] in
            let length = strnlen(raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
            return Array(raw[0..<length])
        }
        // Skips ".", ".." and every other hidden entry.
        if name.first == UInt8(ascii: ".") { continue }
        names.append(name)
    }
    closedir(handle)
    names.sort { $0.lexicographicallyPrecedes($1) }

    let prefix = directory.hasSuffix("/") ? directory : directory + "/"
    for name in names {
        let path = prefix + String(decoding: name, as: UTF8.self)
        var info = stat()
        guard lstat(path, &info) == 0 else {
            // Vanished since it was listed (or a name that did not survive UTF-8 repair): keep it,
            // so opening it reports the problem.
            result.append(path)
            continue
        }
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            try appendDirectory(path, to: &result)
        case S_IFREG:
            result.append(path)
        case S_IFLNK:
            var target = stat()
            if stat(path, &target) == 0 && (target.st_mode & S_IFMT) == S_IFREG {
                result.append(path)
            }
        default:
            break
        }
    }
}

import AuditInput
import AuditRules
#if canImport(Glibc)
import Glibc
#endif

/// A checkpoint or alert journal that cannot be read or written.
public struct TailCheckpointError: Error, CustomStringConvertible, Sendable {
    /// The file concerned.
    public var path: String
    /// What went wrong.
    public var reason: String

    /// `path: reason`.
    public var description: String { "\(self.path): \(self.reason)" }
}

/// What `audithound tail` saves to resume after a restart (also after `kill -9`): for each followed
/// file its identity and the offset up to which every event was processed and its alerts emitted,
/// plus the keys of the most recent alerts (to suppress them when they are derived again).
///
/// Saved atomically: written to `PATH.tmp`, synced, renamed over `PATH`, and the directory synced.
/// The format is text, one item per line:
///
///     audithound-tail-checkpoint 1
///     file <device> <inode> <fingerprint length> <fingerprint hex> <offset> <line> <path, %-escaped>
///     key <alert key hex>
public struct TailCheckpoint: Sendable, Equatable {
    /// Where each followed file stands.
    public var positions: [TailPosition]
    /// Keys (`AlertKeyWindow.key(for:)`) of recent alerts, oldest first.
    public var alertKeys: [UInt64]

    static let header = "audithound-tail-checkpoint 1"

    /// Creates a checkpoint.
    public init(positions: [TailPosition], alertKeys: [UInt64]) {
        self.positions = positions
        self.alertKeys = alertKeys
    }

    /// Reads the checkpoint at `path`; `nil` when there is no file there.
    ///
    /// - Throws: when the file exists but cannot be read or is not a checkpoint.
    public static func load(path: String) throws(TailCheckpointError) -> TailCheckpoint? {
        guard let bytes = try readWholeFile(path) else { return nil }
        return try TailCheckpoint(text: String(decoding: bytes, as: UTF8.self), path: path)
    }

    /// Parses the text of a checkpoint (`path` is for error messages).
    init(text: String, path: String) throws(TailCheckpointError) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)[...]
        guard lines.first == Substring(TailCheckpoint.header) else {
            throw TailCheckpointError(path: path, reason: "not an audithound tail checkpoint (remove it to start afresh)")
        }
        lines = lines.dropFirst()
        var positions: [TailPosition] = []
        var keys: [UInt64] = []
        for (index, line) in lines.enumerated() {
            let fields = line.split(separator: " ", maxSplits: 7, omittingEmptySubsequences: false)
            func bad() -> TailCheckpointError {
                TailCheckpointError(path: path, reason: "line \(index + 2) is damaged (remove the file to start afresh)")
            }
            switch fields.first {
            case "file":
                guard fields.count == 8, let device = UInt64(fields[1]), let inode = UInt64(fields[2]),
                      let length = Int(fields[3]), (0...FileIdentity.fingerprintSize).contains(length),
                      let fingerprint = UInt64(fields[4], radix: 16), let offset = Int64(fields[5]), offset >= 0,
                      let number = Int(fields[6]), number >= 0, let filePath = percentDecoded(fields[7])
                else { throw bad() }
                let identity = FileIdentity(device: device, inode: inode, fingerprintLength: length, fingerprint: fingerprint)
                positions.append(TailPosition(identity: identity, path: filePath, offset: offset, line: number))
            case "key":
                guard fields.count == 2, let key = UInt64(fields[1], radix: 16) else { throw bad() }
                keys.append(key)
            default:
                throw bad()
            }
        }
        self.init(positions: positions, alertKeys: keys)
    }

    /// The checkpoint's text.
    var text: String {
        var out = TailCheckpoint.header + "\n"
        for p in self.positions {
            out += "file \(p.identity.device) \(p.identity.inode) \(p.identity.fingerprintLength) "
            out += String(p.identity.fingerprint, radix: 16)
            out += " \(p.offset) \(p.line) \(percentEncoded(p.path))\n"
        }
        for key in self.alertKeys {
            out += "key " + String(key, radix: 16) + "\n"
        }
        return out
    }

    /// Writes the checkpoint to `path` atomically (temporary file, fsync, rename, fsync of the directory).
    public func save(path: String) throws(TailCheckpointError) {
        try atomicWrite(Array(self.text.utf8), to: path)
    }
}

/// Writes `bytes` to `path` atomically: temporary file, fsync, rename, fsync of the directory.
func atomicWrite(_ bytes: [UInt8], to path: String) throws(TailCheckpointError) {
    let temporary = path + ".tmp"
    let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw TailCheckpointError(path: temporary, reason: "cannot create: \(errorText())") }
    let written = writeFully(fd, bytes)
    let synced = written && fsync(fd) == 0
    let failure = errorText()
    close(fd)
    guard synced else {
        unlink(temporary)
        throw TailCheckpointError(path: temporary, reason: "cannot write: \(failure)")
    }
    guard rename(temporary, path) == 0 else {
        let reason = errorText()
        unlink(temporary)
        throw TailCheckpointError(path: path, reason: "cannot replace: \(reason)")
    }
    syncDirectory(of: path)
}

/// Append-only file of the keys of alerts emitted since the last checkpoint (`CHECKPOINT.journal`),
/// written right after the alerts, before the next batch: after a crash the alerts derived again
/// from the events after the checkpoint are recognised and suppressed. Each key is 8 bytes (little
/// endian); a torn last key is ignored. Emptied after every checkpoint.
final class AlertJournal {
    let path: String
    private let fd: CInt
    private var buffer: [UInt8] = []

    init(path: String) throws(TailCheckpointError) {
        self.path = path
        self.fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard self.fd >= 0 else { throw TailCheckpointError(path: path, reason: "cannot open: \(errorText())") }
    }

    deinit { close(self.fd) }

    /// Appends keys with one `write(2)` (survives the process being killed; not synced).
    func append(_ keys: [UInt64]) throws(TailCheckpointError) {
        guard !keys.isEmpty else { return }
        self.buffer.removeAll(keepingCapacity: true)
        for key in keys {
            withUnsafeBytes(of: key.littleEndian) { self.buffer.append(contentsOf: $0) }
        }
        guard writeFully(self.fd, self.buffer) else {
            throw TailCheckpointError(path: self.path, reason: "cannot append: \(errorText())")
        }
    }

    /// Empties the journal (after a checkpoint that holds its keys).
    func reset() {
        _ = ftruncate(self.fd, 0)
    }

    /// The keys in the journal at `path`, oldest first (none when there is no journal).
    static func read(path: String) throws(TailCheckpointError) -> [UInt64] {
        guard let bytes = try readWholeFile(path) else { return [] }
        var keys: [UInt64] = []
        var index = 0
        while index + 8 <= bytes.count {
            var key: UInt64 = 0
            for shift in 0..<8 { key |= UInt64(bytes[index + shift]) << (8 * UInt64(shift)) }
            keys.append(key)
            index += 8
        }
        return keys
    }
}

/// The recent alert keys: suppresses an alert of a rule for an auditID already alerted on (the API
/// server logs several stages of one request, and after a restart the alerts since the checkpoint are
/// derived again). Remembers the most recent `capacity` keys.
public struct AlertKeyWindow: Sendable {
    private var seen: Set<UInt64> = []
    private var ring: [UInt64] = []
    private var next = 0
    /// How many keys are remembered.
    public let capacity: Int

    /// Creates an empty window remembering up to `capacity` keys.
    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// The key of an alert: a 64-bit hash of its auditID and rule name; `nil` without an auditID
    /// (such alerts are never suppressed).
    public static func key(for alert: Alert) -> UInt64? {
        if alert.auditID.isEmpty { return nil }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in alert.auditID.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        hash = (hash ^ 0xff) &* 0x100_0000_01b3
        for byte in alert.rule.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }

    /// Remembers `key`; returns false when it was already there.
    public mutating func insert(_ key: UInt64) -> Bool {
        if self.seen.contains(key) { return false }
        if self.ring.count < self.capacity {
            self.ring.append(key)
        } else {
            self.seen.remove(self.ring[self.next])
            self.ring[self.next] = key
            self.next = (self.next + 1) % self.capacity
        }
        self.seen.insert(key)
        return true
    }

    /// The `limit` most recent keys, oldest first.
    public func recent(_ limit: Int) -> [UInt64] {
        let ordered = self.ring.count < self.capacity ? self.ring : Array(self.ring[self.next...] + self.ring[..<self.next])
        return Array(ordered.suffix(max(0, limit)))
    }
}

// MARK: File helpers

/// The whole file, or `nil` when it does not exist.
func readWholeFile(_ path: String) throws(TailCheckpointError) -> [UInt8]? {
    let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 {
        if errno == ENOENT { return nil }
        throw TailCheckpointError(path: path, reason: "cannot open: \(errorText())")
    }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n < 0 { throw TailCheckpointError(path: path, reason: "cannot read: \(errorText())") }
        if n == 0 { return bytes }
        bytes.append(contentsOf: chunk[0..<n])
    }
}

/// Writes all of `bytes`, retrying on short writes and `EINTR`.
func writeFully(_ fd: CInt, _ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }
}

/// fsync of the directory holding `path`, so a rename in it is durable.
private func syncDirectory(of path: String) {
    let directory: String
    if let slash = path.lastIndex(of: "/") {
        directory = slash == path.startIndex ? "/" : String(path[..<slash])
    } else {
        directory = "."
    }
    let fd = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { return }
    _ = fsync(fd)
    close(fd)
}

/// `strerror(errno)`.
func errorText() -> String {
    guard let text = strerror(errno) else { return "error \(errno)" }
    return String(cString: text)
}

/// Escapes bytes that would break the line format (controls, space, `%`, DEL) as `%XX`.
func percentEncoded(_ text: String) -> String {
    var out: [UInt8] = []
    let digits = Array("0123456789ABCDEF".utf8)
    for byte in text.utf8 {
        if byte <= 0x20 || byte == 0x25 || byte == 0x7F {
            out += [0x25, digits[Int(byte >> 4)], digits[Int(byte & 15)]]
        } else {
            out.append(byte)
        }
    }
    return String(decoding: out, as: UTF8.self)
}

/// Reverses `percentEncoded`; `nil` for a malformed escape.
func percentDecoded(_ text: Substring) -> String? {
    var bytes: [UInt8] = []
    var iterator = Array(text.utf8)[...]
    while let byte = iterator.popFirst() {
        if byte == 0x25 {
            guard let high = iterator.popFirst(), let low = iterator.popFirst(),
                  let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            else { return nil }
            bytes.append(value)
        } else {
            bytes.append(byte)
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}

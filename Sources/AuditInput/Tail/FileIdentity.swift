import Glibc

/// Which file a followed log is, across renames and restarts.
///
/// Device and inode name a file while it exists, but inode numbers are reused once a file is deleted,
/// so the identity also carries a fingerprint: a hash of the file's first `fingerprintLength` bytes
/// (at most ``FileIdentity/fingerprintSize``). A log file is append-only, so its first bytes never
/// change; a different file that got the same inode (or a file truncated and written again) almost
/// certainly starts with other bytes. An empty file has a fingerprint of length 0, which matches any
/// file with the same device and inode; followers extend it as the file grows.
public struct FileIdentity: Sendable, Hashable, CustomStringConvertible {
    /// How many leading bytes the fingerprint covers once the file is that long.
    public static let fingerprintSize = 256

    /// `st_dev` of the file.
    public var device: UInt64
    /// `st_ino` of the file.
    public var inode: UInt64
    /// How many leading bytes `fingerprint` covers (0 ... `fingerprintSize`).
    public var fingerprintLength: Int
    /// FNV-1a (64 bit) of the first `fingerprintLength` bytes.
    public var fingerprint: UInt64

    /// Creates an identity from its parts (e.g. read back from a checkpoint).
    public init(device: UInt64, inode: UInt64, fingerprintLength: Int, fingerprint: UInt64) {
        self.device = device
        self.inode = inode
        self.fingerprintLength = fingerprintLength
        self.fingerprint = fingerprint
    }

    /// The identity of the open file `descriptor`: its device, inode and the fingerprint of its first
    /// bytes (up to `fingerprintSize`). Returns `nil` when the descriptor cannot be examined.
    public init?(descriptor: CInt) {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return nil }
        let length = Int(min(Int64(info.st_size), Int64(FileIdentity.fingerprintSize)))
        guard let hash = fingerprintOfPrefix(descriptor: descriptor, count: length) else { return nil }
        self.init(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), fingerprintLength: length, fingerprint: hash)
    }

    /// Whether the open file `descriptor` is this file: same device and inode, at least
    /// `fingerprintLength` bytes long, and those bytes hash to `fingerprint`.
    public func matches(descriptor: CInt) -> Bool {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return false }
        guard UInt64(info.st_dev) == self.device && UInt64(info.st_ino) == self.inode else { return false }
        return self.prefixMatches(descriptor: descriptor, size: Int64(info.st_size))
    }

    /// Whether the first `fingerprintLength` bytes of `descriptor` (a file of `size` bytes) still
    /// hash to `fingerprint`; device and inode are not looked at.
    func prefixMatches(descriptor: CInt, size: Int64) -> Bool {
        if self.fingerprintLength == 0 { return true }
        guard size >= Int64(self.fingerprintLength) else { return false }
        return fingerprintOfPrefix(descriptor: descriptor, count: self.fingerprintLength) == self.fingerprint
    }

    /// `dev:inode#length:hash`.
    public var description: String {
        "\(self.device):\(self.inode)#\(self.fingerprintLength):\(String(self.fingerprint, radix: 16))"
    }
}

/// FNV-1a (64 bit) of the first `count` bytes of `descriptor` (read with `pread`, so the file
/// position does not move). `nil` when they cannot be read in full.
func fingerprintOfPrefix(descriptor: CInt, count: Int) -> UInt64? {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    if count == 0 { return hash }
    return withUnsafeTemporaryAllocation(byteCount: count, alignment: 8) { buffer -> UInt64? in
        var done = 0
        while done < count {
            let n = pread(descriptor, buffer.baseAddress! + done, count - done, off_t(done))
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            done += n
        }
        for index in 0..<count {
            hash = (hash ^ UInt64(buffer[index])) &* 0x100_0000_01b3
        }
        return hash
    }
}

/// Milliseconds on the monotonic clock.
func monotonicMilliseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}

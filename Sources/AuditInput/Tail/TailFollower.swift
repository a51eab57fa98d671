import Glibc

/// Where following a file stands: enough to resume after a restart.
///
/// `offset` is just past the last complete line handed out in a batch (a partial last line is not
/// counted), so a follower restarted there reads every line that was not handed out yet.
public struct TailPosition: Sendable, Equatable {
    /// Which file.
    public var identity: FileIdentity
    /// Its path when last seen.
    public var path: String
    /// Bytes of the file covered by the batches handed out.
    public var offset: Int64
    /// Lines in those bytes (blank and skipped lines included): the next line is `line + 1`.
    public var line: Int

    /// Creates a position.
    public init(identity: FileIdentity, path: String, offset: Int64, line: Int) {
        self.identity = identity
        self.path = path
        self.offset = offset
        self.line = line
    }
}

/// A batch of complete lines of one followed file.
public struct TailBatch {
    /// The records; `batch.sourceIndex` is `fileID`.
    public var batch: RecordBatch
    /// The file's path when it was read (for messages and alert positions).
    public var path: String
    /// The follower's number for the file (stable while the file is followed, never reused).
    public var fileID: Int

    /// Creates a batch description.
    public init(batch: RecordBatch, path: String, fileID: Int) {
        self.batch = batch
        self.path = path
        self.fileID = fileID
    }
}

/// Where to start in files that exist when following starts and that no checkpoint mentions.
public enum TailStart: Sendable, Equatable {
    /// After the last complete line: only what is written from now on.
    case end
    /// From the first byte.
    case beginning
}

/// How a `TailFollower` watches and reads.
public struct FollowOptions: Sendable {
    /// Use inotify on the files' directories (polling when unavailable).
    public var useInotify = true
    /// How often to look for changes when inotify cannot be used (polling), in milliseconds.
    public var pollIntervalMilliseconds = 200
    /// With inotify, how often to look anyway (missed events, files behind symbolic links), in ms.
    public var rescanIntervalMilliseconds = 1000
    /// How long a file that no longer matches (renamed away, deleted) is still watched for late
    /// writes after it was read to its end, in milliseconds. Then its partial last line, if any, is
    /// handed out as a record and the file is closed.
    public var retireAfterMilliseconds = 5000
    /// Target batch size in bytes.
    public var batchSize = 256 << 10
    /// Longest line accepted; longer lines are skipped with a diagnostic.
    public var maxRecordSize = 64 << 20

    /// Default options.
    public init() {}
}

/// Follows log files like `tail -F`: hands out their complete lines as they are appended, through
/// rotation, truncation, deletion and re-creation, and files that do not exist yet.
///
/// - Files are named by `TailPattern`s (paths or globs). Every file a pattern names is followed; a
///   file that appears later is read from its first byte.
/// - Files are tracked by identity (device and inode, see `FileIdentity`), not by name, and read
///   through a descriptor kept open: a renamed (rotated) file is read to its end before the file that
///   took its name, and a deleted file is read to its end too. A file that no longer matches is
///   closed after `retireAfterMilliseconds` without growth.
/// - A file that shrinks (logrotate `copytruncate`) or whose first bytes change is read again from 0.
/// - A partial last line is held until its newline arrives; batches only hold complete lines. Lines
///   end at `\n`; a `\r` before it and a UTF-8 byte order mark at the start of a file are dropped;
///   blank lines are skipped.
/// - Changes are noticed with inotify on the files' directories; without inotify (or for files behind
///   symbolic links) by polling. Waiting never spins.
///
/// One thread uses a follower. `positions` covers exactly the batches handed out so far.
public final class TailFollower {
    /// The patterns followed.
    public let patterns: [TailPattern]
    /// The options.
    public let options: FollowOptions
    /// Called with a one-line notice when something happens to a file (appeared, rotated,
    /// truncated, closed, unreadable).
    public var onNotice: ((String) -> Void)?

    private let watcher: DirectoryWatcher
    private var files: [Int: FollowedFile] = [:]
    /// Open files by device and inode.
    private var byKey: [FileKey: Int] = [:]
    /// The file that last held each path (a new file there is read after it).
    private var pathOwner: [String: Int] = [:]
    private var nextID = 0
    private var nextSequence = 0
    /// Round-robin position among files.
    private var lastServed = -1
    private var lastDiscovery: Int64 = .min
    /// Some directory could not be watched, or a file is behind a symbolic link: poll.
    private var mustPoll = true
    private var started = false
    /// During the first discovery: how to position files that exist now.
    private var initialStart: TailStart = .end
    private var resume: [TailPosition]?
    /// A batch to fill next (kept across calls that found nothing).
    private var spare: RecordBatch?

    /// Creates a follower for `patterns` (nothing is opened before `start`).
    public init(patterns: [TailPattern], options: FollowOptions = FollowOptions()) {
        self.patterns = patterns
        self.options = options
        self.watcher = DirectoryWatcher(useInotify: options.useInotify)
    }

    deinit {
        for file in self.files.values { close(file.descriptor) }
    }

    /// Whether inotify is in use (false: polling).
    public var usesInotify: Bool { self.watcher.isActive }

    /// Opens the files that exist now and positions them.
    ///
    /// - Parameters:
    ///   - start: where to start in existing files that `resume` does not mention.
    ///   - resume: the positions of a previous run, or `nil` when there is none. A file whose identity
    ///     (device, inode and fingerprint) is in `resume` continues at its offset (or at 0 when it is
    ///     now shorter than that); every other existing file is then read from its first byte, since it
    ///     appeared after the previous run's last checkpoint. A resumed file that was renamed away while
    ///     nothing followed it is looked for in its old directory and read to its end first.
    public func start(at start: TailStart, resume: [TailPosition]?) {
        precondition(!self.started, "start may be called once")
        self.started = true
        self.initialStart = start
        self.resume = resume
        for position in resume ?? [] {
            self.recoverRenamed(position)
        }
        self.discover(now: monotonicMilliseconds())
        self.initialStart = .beginning
        self.resume = nil
    }

    /// The position of every open file, covering every batch handed out so far.
    public var positions: [TailPosition] {
        self.files.keys.sorted().map { id in
            let file = self.files[id]!
            return TailPosition(identity: file.identity, path: file.path, offset: file.committedOffset, line: file.committedLine)
        }
    }

    /// Bytes written to the open files but not handed out yet (as of the last look at their sizes).
    public var lagBytes: Int64 {
        self.files.values.reduce(0) { $0 + max(0, $1.size - $1.committedOffset) }
    }

    /// Number of files open.
    public var fileCount: Int { self.files.count }

    /// Returns the next batch of complete lines, waiting up to `timeoutMilliseconds` for one.
    ///
    /// Returns `nil` when the time passed without a complete line, or as soon as `wakeDescriptor`
    /// (when >= 0) is readable: the caller drains it (otherwise the next call returns at once).
    ///
    /// - Parameter reusing: a batch to refill (e.g. the previous one, once processed); nobody may use
    ///   it any more. The follower keeps it when it returns `nil`.
    public func nextBatch(reusing: RecordBatch? = nil, timeoutMilliseconds: Int, wakeDescriptor: CInt = -1) -> TailBatch? {
        if !self.started { self.start(at: .end, resume: nil) }
        let deadline = monotonicMilliseconds() + Int64(max(0, timeoutMilliseconds))
        if let reusing { self.spare = reusing }
        while true {
            var now = monotonicMilliseconds()
            if now - self.lastDiscovery >= Int64(self.discoveryInterval) {
                self.discover(now: now)
            }
            if let batch = self.readNext(reusing: &self.spare) { return batch }
            if let batch = self.retireIdle(now: now, reusing: &self.spare) { return batch }
            now = monotonicMilliseconds()
            if now >= deadline { return nil }
            let untilDiscovery = self.lastDiscovery + Int64(self.discoveryInterval) - now
            let wait = Int(max(1, min(deadline - now, untilDiscovery, Int64(self.nextRetirement(now: now)))))
            let wakeup = self.watcher.wait(milliseconds: wait, wakeDescriptor: wakeDescriptor)
            if wakeup.woken { return nil }
            now = monotonicMilliseconds()
            if wakeup.directoryChanged || wakeup.timedOut {
                self.discover(now: now)
            } else {
                self.refresh(now: now)
            }
        }
    }

    /// Milliseconds between expansions of the patterns.
    private var discoveryInterval: Int {
        self.mustPoll ? self.options.pollIntervalMilliseconds : self.options.rescanIntervalMilliseconds
    }

    // MARK: Finding files

    /// Expands the patterns, opens new files, notices files that no longer match, then refreshes sizes.
    private func discover(now: Int64) {
        self.lastDiscovery = now
        var poll = !self.watcher.isActive
        var directories: [String] = []
        var seen = Set<Int>()
        for pattern in self.patterns {
            let dirs = pattern.currentDirectories()
            if dirs.isEmpty { poll = true }
            directories.append(contentsOf: dirs)
            for path in pattern.currentPaths() {
                var info = stat()
                guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
                var link = stat()
                if lstat(path, &link) == 0 && (link.st_mode & S_IFMT) == S_IFLNK { poll = true }
                let key = FileKey(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
                if let id = self.byKey[key], let file = self.files[id] {
                    if !seen.contains(id) && file.path != path {
                        file.path = path
                    }
                    seen.insert(id)
                    self.pathOwner[path] = id
                } else if let file = self.open(path: path, key: key, now: now) {
                    seen.insert(file.id)
                }
            }
        }
        if self.watcher.isActive && !self.watcher.watch(directories) { poll = true }
        self.mustPoll = poll
        for file in self.files.values {
            if seen.contains(file.id) {
                if file.retiredSince != nil {
                    file.retiredSince = nil
                }
            } else if file.retiredSince == nil {
                file.retiredSince = now
                self.notice("\(file.path): no longer matches (renamed or deleted); reading it to its end")
            }
        }
        self.refresh(now: now)
    }

    /// Opens a newly found file and decides where to start reading it.
    private func open(path: String, key: FileKey, now: Int64) -> FollowedFile? {
        var descriptor: CInt
        repeat {
            descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        } while descriptor < 0 && errno == EINTR
        guard descriptor >= 0 else {
            if errno != ENOENT { self.notice("\(path): cannot open: \(errnoDescription())") }
            return nil
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0,
              UInt64(info.st_dev) == key.device && UInt64(info.st_ino) == key.inode,
              let identity = FileIdentity(descriptor: descriptor)
        else {
            // Replaced between stat and open: the next discovery sees the new file.
            close(descriptor)
            return nil
        }
        let file = FollowedFile(id: self.nextID, path: path, descriptor: descriptor, identity: identity)
        self.nextID += 1
        file.size = Int64(info.st_size)
        file.lastGrowth = now

        var how = "following"
        if let previous = self.resume?.first(where: { $0.identity.device == key.device && $0.identity.inode == key.inode }),
           previous.identity.prefixMatches(descriptor: descriptor, size: file.size)
        {
            if previous.offset <= file.size {
                file.position(offset: previous.offset, line: previous.line)
                how = "resuming at byte \(previous.offset)"
            } else {
                how = "shorter than at the checkpoint; reading from the start"
            }
        } else if self.resume == nil && self.initialStart == .end {
            let (offset, lines) = endOfLastLine(descriptor: descriptor, size: file.size)
            file.position(offset: offset, line: lines)
            how = "following from its end (byte \(offset))"
        } else {
            how = "reading from the start"
        }
        if let owner = self.pathOwner[path], owner != file.id, self.files[owner] != nil {
            file.predecessor = owner
            how += " after the rotated file"
        }
        self.files[file.id] = file
        self.byKey[key] = file.id
        self.pathOwner[path] = file.id
        self.notice("\(path): \(how)")
        return file
    }

    /// A resumed file no longer at its path: look for it (same device and inode, same first bytes) in
    /// its directory, and follow it so that its rest is read before the file now at its path.
    private func recoverRenamed(_ position: TailPosition) {
        var info = stat()
        if stat(position.path, &info) == 0 && UInt64(info.st_dev) == position.identity.device
            && UInt64(info.st_ino) == position.identity.inode
        {
            return  // still there: discovery finds it
        }
        let pattern = TailPattern(position.path)
        let directory = pattern.directory
        guard let handle = opendir(directory) else { return }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            guard UInt64(entry.pointee.d_ino) == position.identity.inode else { continue }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            let path = directory == "/" ? "/" + name : directory + "/" + name
            let key = FileKey(device: position.identity.device, inode: position.identity.inode)
            guard stat(path, &info) == 0, UInt64(info.st_dev) == key.device, UInt64(info.st_ino) == key.inode,
                  (info.st_mode & S_IFMT) == S_IFREG, self.byKey[key] == nil
            else { continue }
            guard let file = self.open(path: path, key: key, now: monotonicMilliseconds()) else { return }
            self.pathOwner[position.path] = file.id
            return
        }
    }

    /// Looks at the size of every open file: notices growth, truncation and replaced contents, and
    /// extends short fingerprints.
    private func refresh(now: Int64) {
        for file in self.files.values {
            var info = stat()
            guard fstat(file.descriptor, &info) == 0 else { continue }
            let size = Int64(info.st_size)
            if size == file.size { continue }
            file.lastGrowth = now
            if size < file.readOffset || !file.identity.prefixMatches(descriptor: file.descriptor, size: size) {
                self.notice("\(file.path): truncated or rewritten; reading from the start")
                file.position(offset: 0, line: 0)
                file.identity.fingerprintLength = 0
            }
            file.size = size
            if file.identity.fingerprintLength < FileIdentity.fingerprintSize && size > Int64(file.identity.fingerprintLength),
               let extended = FileIdentity(descriptor: file.descriptor)
            {
                file.identity = extended
            }
        }
    }

    // MARK: Reading

    /// Reads the next batch from a file with unread bytes (round robin; a file that took over a
    /// rotated file's path waits until that one is read to its end).
    private func readNext(reusing spare: inout RecordBatch?) -> TailBatch? {
        let ids = self.files.keys.sorted()
        guard !ids.isEmpty else { return nil }
        let first = ids.firstIndex(where: { $0 > self.lastServed }) ?? 0
        for step in 0..<ids.count {
            let file = self.files[ids[(first + step) % ids.count]]!
            guard file.size > file.readOffset else { continue }
            if let predecessor = file.predecessor {
                if let before = self.files[predecessor], before.size > before.readOffset { continue }
                file.predecessor = nil
            }
            let batch = spare ?? RecordBatch(capacity: self.options.batchSize)
            spare = nil
            self.fill(batch, from: file)
            if !batch.isEmpty {
                self.lastServed = file.id
                self.nextSequence += 1
                return TailBatch(batch: batch, path: file.path, fileID: file.id)
            }
            spare = batch
        }
        return nil
    }

    /// Reads what `file` has (up to about one batch) into `batch`: the complete lines become records,
    /// a partial last line stays in the file's carry.
    private func fill(_ batch: RecordBatch, from file: FollowedFile) {
        batch.reset(sourceIndex: file.id, sequence: self.nextSequence)
        let batchSize = max(1, self.options.batchSize)
        var limit = max(batchSize, file.carry.count + 4096)
        if batch.capacity < limit {
            batch.grow_slowPath(to: limit, preserving: 0)
        }
        limit = batch.capacity
        var state = FillState()
        state.count = file.carry.count
        state.scanFrom = state.count
        state.base = file.readOffset - Int64(file.carry.count)
        file.carry.withUnsafeBytes { carry in
            if carry.count > 0 { batch.storage.copyMemory(from: carry.baseAddress!, byteCount: carry.count) }
        }
        file.carry.removeAll(keepingCapacity: true)

        while true {
            if state.count == limit {
                if !batch.isEmpty { break }
                if state.recordStart > 0 {
                    // Only blank lines so far: move the partial line to the front.
                    let tail = state.count - state.recordStart
                    memmove(batch.storage, batch.storage + state.recordStart, tail)
                    state.base += Int64(state.recordStart)
                    state.count = tail
                    state.scanFrom -= state.recordStart
                    state.recordStart = 0
                }
                if state.count == limit {
                    if state.count > self.options.maxRecordSize + 4 {
                        // Certainly too long (even without a CR and a BOM): skip it as it arrives.
                        let last = batch.storage.load(fromByteOffset: state.count - 1, as: UInt8.self)
                        file.skipping = SkipState(line: file.lines + 1, offset: state.base, bytes: Int64(state.count), lastByte: last)
                        state.base += Int64(state.count)
                        state.count = 0
                        state.scanFrom = 0
                    } else {
                        limit = min(limit * 2, self.options.maxRecordSize + 5)
                        batch.grow_slowPath(to: limit, preserving: state.count)
                        limit = batch.capacity
                    }
                }
            }
            let room = min(limit - state.count, max(batchSize, 4096))
            let n = pread(file.descriptor, batch.storage + state.count, room, off_t(file.readOffset))
            if n < 0 {
                if errno == EINTR { continue }
                self.notice("\(file.path): read failed: \(errnoDescription())")
                break
            }
            if n == 0 {
                // At the end: if the file shrank meanwhile, the next refresh sees a changed size.
                file.size = file.readOffset
                break
            }
            file.readOffset += Int64(n)
            if let skip = file.skipping {
                let chunk = batch.storage + state.count
                guard let newline = memchr(chunk, 0x0A, n) else {
                    file.skipping = SkipState(line: skip.line, offset: skip.offset, bytes: skip.bytes + Int64(n),
                                              lastByte: chunk.load(fromByteOffset: n - 1, as: UInt8.self))
                    state.base += Int64(n)
                    continue
                }
                let length = UnsafeRawPointer(newline) - UnsafeRawPointer(chunk)
                let last = length > 0 ? chunk.load(fromByteOffset: length - 1, as: UInt8.self) : skip.lastByte
                let bytes = skip.bytes + Int64(length) - (last == 0x0D ? 1 : 0)
                file.skipping = nil
                file.lines += 1
                self.reportOversized(batch, line: skip.line, offset: skip.offset, bytes: bytes)
                state.recordStart = state.count + length + 1
                state.scanFrom = state.recordStart
                state.count += n
            } else {
                state.count += n
            }
            self.scanLines(batch, file, &state)
            if !batch.isEmpty && state.count >= batchSize { break }
        }

        // The partial last line waits for its newline.
        let tail = state.count - state.recordStart
        if tail > 0 {
            file.carry.append(contentsOf: UnsafeRawBufferPointer(start: batch.storage + state.recordStart, count: tail))
        }
        batch.byteCount = state.recordStart
        memset(batch.storage + state.recordStart, 0, RecordBatch.paddingSize)
        if file.size < file.readOffset { file.size = file.readOffset }
    }

    /// Where filling a batch stands.
    private struct FillState {
        /// Bytes in the buffer.
        var count = 0
        /// Start of the current (incomplete) line.
        var recordStart = 0
        /// Bytes before this hold no unprocessed `\n`.
        var scanFrom = 0
        /// File offset of buffer position 0 (moves when bytes are dropped or compacted).
        var base: Int64 = 0
    }

    /// Turns every complete line in `scanFrom..<count` into a record.
    private func scanLines(_ batch: RecordBatch, _ file: FollowedFile, _ state: inout FillState) {
        var position = state.scanFrom
        while position < state.count {
            guard let newline = memchr(batch.storage + position, 0x0A, state.count - position) else { break }
            let index = UnsafeRawPointer(newline) - UnsafeRawPointer(batch.storage)
            self.emitLine(batch, file, start: state.recordStart, end: index, base: state.base)
            state.recordStart = index + 1
            position = index + 1
        }
        state.scanFrom = state.count
    }

    /// Handles the line `start..<end` of the buffer (`end`: its `\n`, or the end of a final line).
    private func emitLine(_ batch: RecordBatch, _ file: FollowedFile, start: Int, end: Int, base: Int64) {
        file.lines += 1
        var first = start
        var stop = end
        let storage = batch.storage
        if base + Int64(first) == 0 && stop - first >= 3 && storage.load(fromByteOffset: first, as: UInt8.self) == 0xEF
            && storage.load(fromByteOffset: first + 1, as: UInt8.self) == 0xBB
            && storage.load(fromByteOffset: first + 2, as: UInt8.self) == 0xBF
        {
            first += 3
        }
        if stop > first && storage.load(fromByteOffset: stop - 1, as: UInt8.self) == 0x0D { stop -= 1 }
        var blank = true
        var index = first
        while index < stop {
            let byte = storage.load(fromByteOffset: index, as: UInt8.self)
            if byte != 0x20 && byte != 0x09 && byte != 0x0D {
                blank = false
                break
            }
            index += 1
        }
        if blank { return }
        if stop - first > self.options.maxRecordSize {
            self.reportOversized(batch, line: file.lines, offset: base + Int64(first), bytes: Int64(stop - first))
            return
        }
        batch.records.append(Record(start: first, count: stop - first, line: file.lines, byteOffset: base + Int64(first)))
    }

    private func reportOversized(_ batch: RecordBatch, line: Int, offset: Int64, bytes: Int64) {
        let reason = "record of \(bytes) bytes exceeds the maximum record size of \(self.options.maxRecordSize) bytes; skipped"
        batch.diagnostics.append(
            FramingDiagnostic(kind: .oversizedRecord, line: line, byteOffset: offset, byteCount: bytes, reason: reason))
    }

    // MARK: Retiring

    /// Milliseconds until the next file may be closed (a large number when none is retiring).
    private func nextRetirement(now: Int64) -> Int {
        var soonest = Int64(Int32.max)
        for file in self.files.values {
            guard let since = file.retiredSince else { continue }
            let due = max(since, file.lastGrowth) + Int64(self.options.retireAfterMilliseconds)
            soonest = min(soonest, max(1, due - now))
        }
        return Int(soonest)
    }

    /// Closes files that stopped matching and were idle for `retireAfterMilliseconds` after being
    /// read to their end. A partial last line they still hold is handed out as a final record.
    private func retireIdle(now: Int64, reusing spare: inout RecordBatch?) -> TailBatch? {
        for id in self.files.keys.sorted() {
            let file = self.files[id]!
            guard let since = file.retiredSince, file.readOffset >= file.size,
                  now - max(since, file.lastGrowth) >= Int64(self.options.retireAfterMilliseconds)
            else { continue }
            // Last look for late writes.
            var info = stat()
            if fstat(file.descriptor, &info) == 0 && Int64(info.st_size) != file.size {
                self.refresh(now: now)
                continue
            }
            var result: TailBatch?
            if let skip = file.skipping {
                let batch = spare ?? RecordBatch(capacity: self.options.batchSize)
                spare = nil
                batch.reset(sourceIndex: file.id, sequence: self.nextSequence)
                self.reportOversized(batch, line: skip.line, offset: skip.offset, bytes: skip.bytes)
                file.skipping = nil
                file.lines += 1
                batch.byteCount = 0
                memset(batch.storage, 0, RecordBatch.paddingSize)
                result = TailBatch(batch: batch, path: file.path, fileID: file.id)
            } else if !file.carry.isEmpty {
                let batch = spare ?? RecordBatch(capacity: max(self.options.batchSize, file.carry.count))
                spare = nil
                batch.reset(sourceIndex: file.id, sequence: self.nextSequence)
                if batch.capacity < file.carry.count { batch.grow_slowPath(to: file.carry.count, preserving: 0) }
                let count = file.carry.count
                file.carry.withUnsafeBytes { batch.storage.copyMemory(from: $0.baseAddress!, byteCount: count) }
                file.carry.removeAll()
                self.emitLine(batch, file, start: 0, end: count, base: file.readOffset - Int64(count))
                batch.byteCount = count
                memset(batch.storage + count, 0, RecordBatch.paddingSize)
                if !batch.isEmpty { result = TailBatch(batch: batch, path: file.path, fileID: file.id) }
            }
            self.notice("\(file.path): closed (no longer matches, read to its end)")
            close(file.descriptor)
            self.files[id] = nil
            self.byKey[FileKey(device: file.identity.device, inode: file.identity.inode)] = nil
            if self.pathOwner[file.path] == id { self.pathOwner[file.path] = nil }
            for (path, owner) in self.pathOwner where owner == id { self.pathOwner[path] = nil }
            if let result {
                self.nextSequence += 1
                return result
            }
        }
        return nil
    }

    private func notice(_ text: String) {
        self.onNotice?(text)
    }
}

/// Device and inode.
struct FileKey: Hashable {
    var device: UInt64
    var inode: UInt64
}

/// A line longer than the maximum being discarded as it arrives.
struct SkipState {
    var line: Int
    /// File offset of the line's first byte.
    var offset: Int64
    /// Bytes of it seen so far.
    var bytes: Int64
    /// The last byte seen (a `\r` before the `\n` is not counted).
    var lastByte: UInt8
}

/// One open, followed file.
final class FollowedFile {
    let id: Int
    var path: String
    let descriptor: CInt
    var identity: FileIdentity
    /// Next byte to read.
    var readOffset: Int64 = 0
    /// The partial last line: the bytes `readOffset - carry.count ..< readOffset`.
    var carry: [UInt8] = []
    /// Lines completed before the carry.
    var lines = 0
    /// The file's size when last looked at.
    var size: Int64 = 0
    /// When the size last changed (monotonic ms).
    var lastGrowth: Int64 = 0
    /// Since when no pattern names it (monotonic ms).
    var retiredSince: Int64?
    /// The file that held this file's path before it: read to its end first.
    var predecessor: Int?
    var skipping: SkipState?

    init(id: Int, path: String, descriptor: CInt, identity: FileIdentity) {
        self.id = id
        self.path = path
        self.descriptor = descriptor
        self.identity = identity
    }

    /// Bytes covered by the batches handed out: up to the partial line, or the skipped line's start.
    var committedOffset: Int64 {
        if let skip = self.skipping { return skip.offset }
        return self.readOffset - Int64(self.carry.count)
    }

    /// Lines in `committedOffset` bytes.
    var committedLine: Int { self.lines }

    /// Continues at `offset`, which starts line `line + 1`.
    func position(offset: Int64, line: Int) {
        self.readOffset = offset
        self.lines = line
        self.carry.removeAll()
        self.skipping = nil
    }
}

/// Where the last complete line of `descriptor` (of `size` bytes) ends, and how many lines come before.
func endOfLastLine(descriptor: CInt, size: Int64) -> (offset: Int64, lines: Int) {
    let chunkSize = 1 << 20
    return withUnsafeTemporaryAllocation(byteCount: chunkSize, alignment: 16) { buffer -> (Int64, Int) in
        var offset: Int64 = 0
        var lines = 0
        var lastEnd: Int64 = 0
        while offset < size {
            let n = pread(descriptor, buffer.baseAddress!, min(chunkSize, Int(size - offset)), off_t(offset))
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            var position = 0
            while position < n, let newline = memchr(buffer.baseAddress! + position, 0x0A, n - position) {
                let index = UnsafeRawPointer(newline) - UnsafeRawPointer(buffer.baseAddress!)
                lines += 1
                lastEnd = offset + Int64(index) + 1
                position = index + 1
            }
            offset += Int64(n)
        }
        return (lastEnd, lines)
    }
}

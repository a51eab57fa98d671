import Glibc

/// What a wait for changes found.
struct WatchWakeup {
    /// A file in a watched directory was created, renamed, deleted or changed attributes (or the
    /// kernel's queue overflowed): the patterns must be expanded again.
    var directoryChanged = false
    /// Some file was written to (or anything else: poll everything).
    var contentChanged = false
    /// The caller's wake-up descriptor became readable.
    var woken = false
    /// The timeout passed.
    var timedOut = false
}

/// Watches directories with inotify (`inotify_init1` / `inotify_add_watch`), one watch per directory:
/// a directory watch reports writes, creations, renames and deletions of the files inside it.
/// Without inotify (`init` fails, or not wanted) it only sleeps, and callers poll.
final class DirectoryWatcher {
    /// The inotify descriptor, or -1 when polling.
    private let descriptor: CInt
    /// Watched directories by path.
    private var watches: [String: CInt] = [:]
    /// Read buffer for events.
    private var buffer: UnsafeMutableRawPointer
    private static let bufferSize = 64 * 1024

    private static let directoryMask: UInt32 =
        UInt32(IN_CREATE) | UInt32(IN_DELETE) | UInt32(IN_MOVED_FROM) | UInt32(IN_MOVED_TO) | UInt32(IN_ATTRIB)
        | UInt32(IN_DELETE_SELF) | UInt32(IN_MOVE_SELF) | UInt32(IN_IGNORED) | UInt32(IN_Q_OVERFLOW)
    private static let watchMask: UInt32 =
        UInt32(IN_MODIFY) | UInt32(IN_CREATE) | UInt32(IN_DELETE) | UInt32(IN_MOVED_FROM) | UInt32(IN_MOVED_TO)
        | UInt32(IN_ATTRIB) | UInt32(IN_DELETE_SELF) | UInt32(IN_MOVE_SELF) | UInt32(IN_ONLYDIR)

    /// Creates a watcher; `useInotify: false` (or a kernel without inotify) gives a polling watcher.
    init(useInotify: Bool) {
        self.descriptor = useInotify ? inotify_init1(CInt(IN_NONBLOCK | IN_CLOEXEC)) : -1
        self.buffer = UnsafeMutableRawPointer.allocate(byteCount: DirectoryWatcher.bufferSize, alignment: 8)
    }

    deinit {
        if self.descriptor >= 0 { close(self.descriptor) }
        self.buffer.deallocate()
    }

    /// Whether inotify is in use.
    var isActive: Bool { self.descriptor >= 0 }

    /// Makes sure each directory is watched (adding a watch again is harmless: the kernel returns the
    /// same watch for the same directory). Returns false when one of them could not be watched.
    func watch(_ directories: [String]) -> Bool {
        guard self.descriptor >= 0 else { return false }
        var all = true
        for directory in directories {
            let wd = inotify_add_watch(self.descriptor, directory, DirectoryWatcher.watchMask)
            if wd < 0 {
                all = false
                self.watches[directory] = nil
            } else {
                self.watches[directory] = wd
            }
        }
        return all
    }

    /// Waits until a watched directory reports something, `wakeDescriptor` (if >= 0) is readable, or
    /// `milliseconds` pass. Consumes the inotify events (not the wake-up descriptor's bytes).
    func wait(milliseconds: Int, wakeDescriptor: CInt) -> WatchWakeup {
        var wakeup = WatchWakeup()
        var descriptors: [pollfd] = []
        if self.descriptor >= 0 { descriptors.append(pollfd(fd: self.descriptor, events: Int16(POLLIN), revents: 0)) }
        if wakeDescriptor >= 0 { descriptors.append(pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0)) }
        let ready = poll(&descriptors, nfds_t(descriptors.count), CInt(clamping: max(0, milliseconds)))
        if ready == 0 {
            wakeup.timedOut = true
            return wakeup
        }
        if ready < 0 {
            // EINTR: a signal; the caller looks at its flags.
            wakeup.woken = true
            return wakeup
        }
        for entry in descriptors where entry.revents != 0 {
            if entry.fd == wakeDescriptor {
                wakeup.woken = true
            } else {
                self.drain(into: &wakeup)
            }
        }
        return wakeup
    }

    /// Reads every queued inotify event and sums up what they mean.
    private func drain(into wakeup: inout WatchWakeup) {
        while true {
            let n = read(self.descriptor, self.buffer, DirectoryWatcher.bufferSize)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            var offset = 0
            let headerSize = MemoryLayout<inotify_event>.size
            while offset + headerSize <= n {
                let mask = self.buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                let nameLength = Int(self.buffer.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                if mask & DirectoryWatcher.directoryMask != 0 {
                    wakeup.directoryChanged = true
                } else {
                    wakeup.contentChanged = true
                }
                offset += headerSize + nameLength
            }
        }
    }
}

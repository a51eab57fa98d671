#if canImport(Glibc)
import Glibc
#endif

/// A mutex with condition variables (pthread). Locks are taken once per batch, never per event.
///
/// Waiters wait on the condition that concerns them (see ``Condition``), so that handing a batch to a
/// worker does not also wake the readers and the in-order stage for nothing.
final class Monitor: @unchecked Sendable {
    /// What a thread waits for.
    enum Condition: Int, CaseIterable {
        /// A batch to process, or the end of the input (workers).
        case work
        /// A result, or the end of a source (the in-order stage).
        case results
        /// A free batch (readers).
        case free
    }

    private var mutex = pthread_mutex_t()
    private let conditions: UnsafeMutablePointer<pthread_cond_t>

    init() {
        pthread_mutex_init(&mutex, nil)
        conditions = .allocate(capacity: Condition.allCases.count)
        for c in 0..<Condition.allCases.count {
            (conditions + c).initialize(to: pthread_cond_t())
            pthread_cond_init(conditions + c, nil)
        }
    }

    deinit {
        for c in 0..<Condition.allCases.count { pthread_cond_destroy(conditions + c) }
        conditions.deallocate()
        pthread_mutex_destroy(&mutex)
    }

    func lock() { pthread_mutex_lock(&mutex) }
    func unlock() { pthread_mutex_unlock(&mutex) }
    /// Waits for a broadcast of `c`; the lock must be held.
    func wait(_ c: Condition) { pthread_cond_wait(conditions + c.rawValue, &mutex) }
    /// Waits at most `milliseconds` for a broadcast of `c`; the lock must be held.
    func wait(_ c: Condition, milliseconds: Int) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var deadline = now
        let total = Int(now.tv_nsec) + milliseconds * 1_000_000
        deadline.tv_sec += total / 1_000_000_000
        deadline.tv_nsec = total % 1_000_000_000
        pthread_cond_timedwait(conditions + c.rawValue, &mutex, &deadline)
    }
    /// Wakes the threads waiting for `c`.
    func broadcast(_ c: Condition) { pthread_cond_broadcast(conditions + c.rawValue) }
    /// Users with a single kind of waiter use one condition through these.
    func wait() { wait(.work) }
    func wait(milliseconds: Int) { wait(.work, milliseconds: milliseconds) }
    func broadcast() { broadcast(.work) }

    /// Wakes every waiting thread.
    func broadcastAll() {
        for c in 0..<Condition.allCases.count { pthread_cond_broadcast(conditions + c) }
    }

    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// Starts a detached POSIX thread running `body`; `join()` waits for it.
final class WorkerThread: @unchecked Sendable {
    private var thread = pthread_t()
    private let body: () -> Void

    init(_ body: @escaping () -> Void) {
        self.body = body
    }

    func start() {
        let box = Unmanaged.passRetained(self)
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        // Deep JSON is parsed iteratively, but leave room for the rule compiler's recursion.
        pthread_attr_setstacksize(&attributes, 8 << 20)
        pthread_create(&thread, &attributes, { raw in
            let me = Unmanaged<WorkerThread>.fromOpaque(raw!).takeRetainedValue()
            me.body()
            return nil
        }, box.toOpaque())
        pthread_attr_destroy(&attributes)
    }

    func join() {
        pthread_join(thread, nil)
    }

    /// Gives up on joining: the thread's resources are freed when it ends (for a reader that may stay
    /// blocked on a silent pipe until the process exits).
    func detach() {
        pthread_detach(thread)
    }
}

/// Process-wide stop request (SIGINT/SIGTERM): a plain flag read by the reader between batches.
public enum StopSignal {
    nonisolated(unsafe) static let flag: UnsafeMutablePointer<sig_atomic_t> = {
        let p = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)
        p.initialize(to: 0)
        return p
    }()

    /// True once SIGINT or SIGTERM arrived (or ``request()`` was called).
    public static var requested: Bool { flag.pointee != 0 }

    public static func request() { flag.pointee = 1 }
    public static func reset() { flag.pointee = 0 }

    /// Installs handlers for SIGINT and SIGTERM that set the flag (a second signal exits at once).
    public static func install() {
        _ = flag
        let handler: @convention(c) (Int32) -> Void = { sig in
            if StopSignal.flag.pointee != 0 { _exit(128 + sig) }
            StopSignal.flag.pointee = 1
        }
        // No SA_RESTART: a blocking read of a pipe returns EINTR so the reader can notice the flag.
        var action = sigaction()
        action.__sigaction_handler.sa_handler = handler
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(SIGINT, &action, nil)
        sigaction(SIGTERM, &action, nil)
    }
}

import AuditJSON
import AuditInput
import AuditRules

/// Narrows a replay to a time window and to given users, namespaces, verbs and resources, without a rule.
///
/// Applied by ``ReplayWorker`` before evaluation. An event passes when its time is inside the window and,
/// for every list that is not empty, its value equals one of the list's entries (a list narrows; several
/// lists must all match). Matching compares the event's decoded bytes with the patterns' UTF-8 bytes and
/// allocates nothing.
///
/// - The window is `since <= time < until` (event time as ``AuditEvent/time``, nanoseconds): `since` is
///   inclusive, `until` exclusive. When a bound is set, an event without a usable time does not pass.
/// - A user pattern ending in `*` matches every user name that starts with the text before the `*`
///   (`system:serviceaccount:kube-system:*`); every other pattern is an exact match.
/// - An event without the field (a cluster-scoped object has no namespace) does not pass that list.
public struct EventFilter: Sendable {
    /// First event time kept (inclusive), nanoseconds since the Unix epoch.
    public var since: Int64?
    /// Events at or after this time are dropped (exclusive), nanoseconds since the Unix epoch.
    public var until: Int64?
    /// User names (`user.username`); a trailing `*` makes a prefix match.
    public var users: [String] { didSet { compile() } }
    /// Namespaces (`objectRef.namespace`).
    public var namespaces: [String] { didSet { compile() } }
    /// Verbs (`verb`).
    public var verbs: [String] { didSet { compile() } }
    /// Resources (`objectRef.resource`).
    public var resources: [String] { didSet { compile() } }

    private var userExact: [[UInt8]] = []
    private var userPrefixes: [[UInt8]] = []
    private var namespaceBytes: [[UInt8]] = []
    private var verbBytes: [[UInt8]] = []
    private var resourceBytes: [[UInt8]] = []

    public init(since: Int64? = nil, until: Int64? = nil, users: [String] = [], namespaces: [String] = [],
                verbs: [String] = [], resources: [String] = []) {
        self.since = since
        self.until = until
        self.users = users
        self.namespaces = namespaces
        self.verbs = verbs
        self.resources = resources
        compile()
    }

    private mutating func compile() {
        userExact = users.filter { !$0.hasSuffix("*") }.map { Array($0.utf8) }
        userPrefixes = users.filter { $0.hasSuffix("*") }.map { Array($0.utf8.dropLast()) }
        namespaceBytes = namespaces.map { Array($0.utf8) }
        verbBytes = verbs.map { Array($0.utf8) }
        resourceBytes = resources.map { Array($0.utf8) }
    }

    /// True when the filter keeps every event.
    public var isEmpty: Bool {
        since == nil && until == nil && users.isEmpty && namespaces.isEmpty && verbs.isEmpty && resources.isEmpty
    }

    /// Whether `event` (whose time, already parsed, is `time`) passes. No allocation.
    public func matches(_ event: AuditEvent, time: Int64?) -> Bool {
        if since != nil || until != nil {
            guard let t = time else { return false }
            if let s = since, t < s { return false }
            if let u = until, t >= u { return false }
        }
        if !verbBytes.isEmpty && !Self.equalsAny(event.verb, verbBytes) { return false }
        if !resourceBytes.isEmpty && !Self.equalsAny(event.resource, resourceBytes) { return false }
        if !namespaceBytes.isEmpty && !Self.equalsAny(event.namespace, namespaceBytes) { return false }
        if !userExact.isEmpty || !userPrefixes.isEmpty {
            guard let name = event.userName, name.isString else { return false }
            if !Self.equalsAny(name, userExact) && !userPrefixes.contains(where: { Self.hasPrefix(name, $0) }) { return false }
        }
        return true
    }

    private static func equalsAny(_ value: JSONValue?, _ patterns: [[UInt8]]) -> Bool {
        guard let value, value.isString else { return false }
        for p in patterns where p.withUnsafeBytes({ value.stringEquals($0) }) { return true }
        return false
    }

    /// Whether the decoded string `value` starts with `prefix`, walking its decoded pieces.
    private static func hasPrefix(_ value: JSONValue, _ prefix: [UInt8]) -> Bool {
        if prefix.isEmpty { return true }
        var matched = 0
        var ok = true
        prefix.withUnsafeBytes { p in
            value.forEachDecodedPiece { piece in
                guard ok, matched < p.count else { return }
                let n = min(piece.count, p.count - matched)
                for k in 0..<n where piece[k] != p[matched + k] {
                    ok = false
                    return
                }
                matched += n
            }
        }
        return ok && matched == prefix.count
    }

    /// Parses a `--since`/`--until` value: an RFC 3339 timestamp (`2026-11-23T10:00:00Z`,
    /// `2026-11-23T12:00:00.5+02:00`) or a duration before `now` (`90s`, `30m`, `2h`, `7d`, `1w`).
    /// Returns nanoseconds since the Unix epoch, nil when the text is neither.
    public static func parseTime(_ text: String, now: Int64) -> Int64? {
        var bytes = Array(text.utf8)
        if let t = bytes.withUnsafeBytes({ parseRFC3339Nanos($0) }) { return t }
        guard let unit = bytes.popLast(), !bytes.isEmpty, bytes.count <= 12, bytes.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        let seconds: Int64
        switch unit {
        case UInt8(ascii: "s"): seconds = 1
        case UInt8(ascii: "m"): seconds = 60
        case UInt8(ascii: "h"): seconds = 3600
        case UInt8(ascii: "d"): seconds = 86_400
        case UInt8(ascii: "w"): seconds = 7 * 86_400
        default: return nil
        }
        guard let n = Int64(String(decoding: bytes, as: UTF8.self)) else { return nil }
        let (span, o1) = n.multipliedReportingOverflow(by: seconds * 1_000_000_000)
        let (t, o2) = now.subtractingReportingOverflow(span)
        return o1 || o2 ? nil : t
    }

    /// Splits repeated option values and comma lists (`--verb get,list --verb watch`), dropping empty parts.
    public static func list(_ values: [String]) -> [String] {
        values.flatMap { $0.split(separator: ",").map { String($0) } }.filter { !$0.isEmpty }
    }

    /// A short description for summaries and reports, e.g. `since 2026-11-23T10:00:00.000000000Z, verb get|list`.
    public var summary: String {
        var parts: [String] = []
        if let s = since { parts.append("since \(TimeFormat.rfc3339(s))") }
        if let u = until { parts.append("until \(TimeFormat.rfc3339(u))") }
        if !users.isEmpty { parts.append("user " + users.joined(separator: "|")) }
        if !namespaces.isEmpty { parts.append("namespace " + namespaces.joined(separator: "|")) }
        if !verbs.isEmpty { parts.append("verb " + verbs.joined(separator: "|")) }
        if !resources.isEmpty { parts.append("resource " + resources.joined(separator: "|")) }
        return parts.joined(separator: ", ")
    }
}

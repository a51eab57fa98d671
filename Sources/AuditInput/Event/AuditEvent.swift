import AuditJSON

/// The stage of an audit event.
public enum AuditStage: UInt8, Sendable, CaseIterable {
    case requestReceived, responseStarted, responseComplete, panic, unknown

    /// The stage as the API server writes it.
    public var name: String {
        switch self {
        case .requestReceived: return "RequestReceived"
        case .responseStarted: return "ResponseStarted"
        case .responseComplete: return "ResponseComplete"
        case .panic: return "Panic"
        case .unknown: return "unknown"
        }
    }
}

/// A view of one Kubernetes audit `Event` (`audit.k8s.io/v1` or `v1beta1`) on a parsed tape.
///
/// Construction walks the event's top-level members once and remembers where each known member is, so
/// every accessor afterwards is a short walk inside one small object. Nothing is allocated and nothing is
/// decoded: accessors return ``JSONValue``s (byte ranges into the input).
///
/// The known members are kept as tape indices (0 = absent; no member value sits at index 0, where a
/// document's root starts), so the whole view is under 100 bytes of plain values: it is passed to every
/// field extractor, and a view of `JSONValue?`s (six times larger) cost a memory copy per extraction.
public struct AuditEvent {
    /// The event object.
    public let root: JSONValue
    @usableFromInline var _auditID: Int32 = 0
    @inlinable public var auditID: JSONValue? {
        get { _auditID == 0 ? nil : root.sameTape(index: Int(_auditID)) }
        set { _auditID = newValue.map { Int32(truncatingIfNeeded: $0.index) } ?? 0 }
    }
    @usableFromInline var _stageValue: Int32 = 0
    @inlinable public var stageValue: JSONValue? {
        get { _stageValue == 0 ? nil : root.sameTape(index: Int(_stageValue)) }
        set { _stageValue = newValue.map { Int32(truncatingIfNeeded: $0.index) } ?? 0 }
    }
    @usableFromInline var _level: Int32 = 0
    @inlinable public var level: JSONValue? {
        get { _level == 0 ? nil : root.sameTape(index: Int(_level)) }
        set { _level = newValue.map { Int32(truncatingIfNeeded: $0.index) } ?? 0 }
    }
    @usableFromInline var _verb: Int32 = 0
    @inlinable public var verb: JSONValue? {
        get { _verb == 0 ? nil : root.sameTape(index: Int(_verb)) }
        set { _verb = newValue.map { Int32(truncatingIfNeeded: $0.index) } ?? 0 }
    }
    @usableFromInline var _requestURI: Int32 = 0
    @inlinable public var requestURI: JSONValue? {
        get { _requestURI == 0 ? nil : root.sameTape(index: Int(_requestURI)) }
        set { _requestURI = newValue.map { Int32(truncatingIfNeeded: $0.index) } ?? 0 }
    }
    @usableFromInline var _user: Int32 = 0
    @inlinable public var user: JSONValue? {
        get { _user == 0 ? nil : root.sameTape(index: Int(_user)) }
        set { _user = newValue.map { Int32(truncatingIfNeeded: $0.index) } ?? 0 }
    }
    @usableFromInline var _impersonatedUser: Int32 = 0
    @inlinable public var impersonatedUser: JSONValue? {
        get { _impersonatedUser == 0 ? nil : root.sameTape(index: Int(_impersonatedUser)) }
        set { _impersonatedUser = newValue.map { Int32(truncatingIfNeeded: $0.index) } ?? 0 }
    }
    @usableFromInline var _sourceIPs: Int32 = 0
    @inlinable public var sourceIPs: JSONValue? {
        get { _sourceIPs == 0 ? nil : root.sameTape(index: Int(_sourceIPs)) }
        set { _sourceIPs = newValue.map { Int32(truncatingIfNeeded: $0.index) } ?? 0 }
    }
    @usableFromInline var _userAgent: Int32 = 0
    @inlinable public var userAgent: JSONValue? {
        get { _userAgent == 0 ? nil : root.sameTape(index: Int(_userAgent)) }
        set { _userAgent = newValue.map { Int32(truncatingIfNeeded: $0.index) } ?? 0 }
    }
    @usableFromInline var _objectRef: Int32 = 0
    @inlinable public var objectRef: JSONValue? {
        get { _objectRef == 0 ? nil : root.sameTape(index: Int(_objectRef)) }
        set { _objectRef = newValue.map { Int32(truncatingIfNeeded: $0.index) } ?? 0 }
    }
    @usableFromInline var _responseStatus: Int32 = 0
    @inlinable public var responseStatus: JSONValue? {
        get { _responseStatus == 0 ? nil : root.sameTape(index: Int(_responseStatus)) }
        set { _responseStatus = newValue.map { Int32(truncatingIfNeeded: $0.index) } ?? 0 }
    }
    @usableFromInline var _requestObject: Int32 = 0
    @inlinable public var requestObject: JSONValue? {
        get { _requestObject == 0 ? nil : root.sameTape(index: Int(_requestObject)) }
        set { _requestObject = newValue.map { Int32(truncatingIfNeeded: $0.index) } ?? 0 }
    }
    @usableFromInline var _responseObject: Int32 = 0
    @inlinable public var responseObject: JSONValue? {
        get { _responseObject == 0 ? nil : root.sameTape(index: Int(_responseObject)) }
        set { _responseObject = newValue.map { Int32(truncatingIfNeeded: $0.index) } ?? 0 }
    }
    /// True when the request or response body was left unparsed by the tape (``JSONTape/deferredKeys``):
    /// ``requestObject`` / ``responseObject`` then only give their raw bytes (parse the event's
    /// `root.rawBytes` again without deferral to read inside them).
    @inlinable public var hasDeferredBody: Bool {
        (_requestObject != 0 && root.sameTape(index: Int(_requestObject)).isDeferred)
            || (_responseObject != 0 && root.sameTape(index: Int(_responseObject)).isDeferred)
    }
    @usableFromInline var _requestReceivedTimestamp: Int32 = 0
    @inlinable public var requestReceivedTimestamp: JSONValue? {
        get { _requestReceivedTimestamp == 0 ? nil : root.sameTape(index: Int(_requestReceivedTimestamp)) }
        set { _requestReceivedTimestamp = newValue.map { Int32(truncatingIfNeeded: $0.index) } ?? 0 }
    }
    @usableFromInline var _stageTimestamp: Int32 = 0
    @inlinable public var stageTimestamp: JSONValue? {
        get { _stageTimestamp == 0 ? nil : root.sameTape(index: Int(_stageTimestamp)) }
        set { _stageTimestamp = newValue.map { Int32(truncatingIfNeeded: $0.index) } ?? 0 }
    }
    @usableFromInline var _annotations: Int32 = 0
    @inlinable public var annotations: JSONValue? {
        get { _annotations == 0 ? nil : root.sameTape(index: Int(_annotations)) }
        set { _annotations = newValue.map { Int32(truncatingIfNeeded: $0.index) } ?? 0 }
    }
    @usableFromInline var _kind: Int32 = 0
    @inlinable public var kind: JSONValue? {
        get { _kind == 0 ? nil : root.sameTape(index: Int(_kind)) }
        set { _kind = newValue.map { Int32(truncatingIfNeeded: $0.index) } ?? 0 }
    }
    @usableFromInline var _apiVersion: Int32 = 0
    @inlinable public var apiVersion: JSONValue? {
        get { _apiVersion == 0 ? nil : root.sameTape(index: Int(_apiVersion)) }
        set { _apiVersion = newValue.map { Int32(truncatingIfNeeded: $0.index) } ?? 0 }
    }

    /// The top-level members the view remembers.
    public enum Member: UInt8, Sendable {
        case auditID, stage, level, verb, requestURI, user, impersonatedUser, sourceIPs, userAgent, objectRef, responseStatus,
             requestObject, responseObject, requestReceivedTimestamp, stageTimestamp, annotations, kind, apiVersion
    }

    /// The value of a top-level member (nil when absent).
    @inlinable public func value(of m: Member) -> JSONValue? {
        let at: Int32
        switch m {
        case .auditID: at = _auditID
        case .stage: at = _stageValue
        case .level: at = _level
        case .verb: at = _verb
        case .requestURI: at = _requestURI
        case .user: at = _user
        case .impersonatedUser: at = _impersonatedUser
        case .sourceIPs: at = _sourceIPs
        case .userAgent: at = _userAgent
        case .objectRef: at = _objectRef
        case .responseStatus: at = _responseStatus
        case .requestObject: at = _requestObject
        case .responseObject: at = _responseObject
        case .requestReceivedTimestamp: at = _requestReceivedTimestamp
        case .stageTimestamp: at = _stageTimestamp
        case .annotations: at = _annotations
        case .kind: at = _kind
        case .apiVersion: at = _apiVersion
        }
        return at == 0 ? nil : root.sameTape(index: Int(at))
    }

    /// Indexes the top-level members of `root` (which must be an object).
    @inlinable public init(root: JSONValue) {
        self.root = root
        for (key, value) in root.members {
            let k = key.rawBytes
            // Dispatch on length, then compare: top-level keys never carry escapes in real logs; an
            // escaped key falls back to the decoded comparison.
            if key.hasEscapes {
                assignEscaped(key, value)
                continue
            }
            let at = Int32(truncatingIfNeeded: value.index)
            // Whole-word comparisons: a key of 4-7 bytes is two overlapping 4-byte loads, 8-16 bytes two
            // overlapping 8-byte loads, 24 bytes three; never a byte outside the key.
            let b = k.baseAddress!
            switch k.count {
            case 4:
                let w = b.loadUnaligned(as: UInt32.self)
                if w == keyWord4("verb") { _verb = at } else if w == keyWord4("user") { _user = at } else if w == keyWord4("kind") { _kind = at }
            case 5:
                if keyEquals5(b, "stage") { _stageValue = at } else if keyEquals5(b, "level") { _level = at }
            case 7:
                if keyEquals7(b, "auditID") { _auditID = at }
            case 9:
                if keyEquals16(b, 9, "sourceIPs") { _sourceIPs = at } else if keyEquals16(b, 9, "userAgent") { _userAgent = at }
                else if keyEquals16(b, 9, "objectRef") { _objectRef = at }
            case 10:
                if keyEquals16(b, 10, "requestURI") { _requestURI = at } else if keyEquals16(b, 10, "apiVersion") { _apiVersion = at }
            case 11:
                if keyEquals16(b, 11, "annotations") { _annotations = at }
            case 13:
                if keyEquals16(b, 13, "requestObject") { _requestObject = at }
            case 14:
                if keyEquals16(b, 14, "responseStatus") { _responseStatus = at } else if keyEquals16(b, 14, "responseObject") { _responseObject = at }
                else if keyEquals16(b, 14, "stageTimestamp") { _stageTimestamp = at }
            case 16:
                if keyEquals16(b, 16, "impersonatedUser") { _impersonatedUser = at }
            case 24:
                if keyEquals16(b, 16, "requestReceivedTimestamp") && keyEquals16(b + 8, 16, "eceivedTimestamp") { _requestReceivedTimestamp = at }
            default:
                break
            }
        }
    }

    @usableFromInline mutating func assignEscaped(_ key: JSONValue, _ value: JSONValue) {
        let names: [StaticString] = ["verb", "user", "kind", "stage", "level", "auditID", "sourceIPs", "userAgent", "objectRef",
                                     "requestURI", "apiVersion", "annotations", "requestObject", "responseStatus",
                                     "responseObject", "stageTimestamp", "impersonatedUser", "requestReceivedTimestamp"]
        for (i, name) in names.enumerated() where key.stringEquals(name) {
            switch i {
            case 0: verb = value
            case 1: user = value
            case 2: kind = value
            case 3: stageValue = value
            case 4: level = value
            case 5: auditID = value
            case 6: sourceIPs = value
            case 7: userAgent = value
            case 8: objectRef = value
            case 9: requestURI = value
            case 10: apiVersion = value
            case 11: annotations = value
            case 12: requestObject = value
            case 13: responseStatus = value
            case 14: responseObject = value
            case 15: stageTimestamp = value
            case 16: impersonatedUser = value
            default: requestReceivedTimestamp = value
            }
            return
        }
    }

    /// The event's stage.
    @inlinable public var stage: AuditStage {
        guard let s = stageValue, s.isString else { return .unknown }
        let b = s.rawBytes
        switch b.count {
        case 15:
            if s.stringEquals("RequestReceived") { return .requestReceived }
            if s.stringEquals("ResponseStarted") { return .responseStarted }
        case 16:
            if s.stringEquals("ResponseComplete") { return .responseComplete }
        case 5:
            if s.stringEquals("Panic") { return .panic }
        default: break
        }
        return .unknown
    }

    @inlinable public var userName: JSONValue? { user?.member("username") }
    @inlinable public var userGroups: JSONValue? { user?.member("groups") }
    @inlinable public var impersonatedUserName: JSONValue? { impersonatedUser?.member("username") }
    @inlinable public var resource: JSONValue? { objectRef?.member("resource") }
    @inlinable public var subresource: JSONValue? { objectRef?.member("subresource") }
    @inlinable public var namespace: JSONValue? { objectRef?.member("namespace") }
    @inlinable public var name: JSONValue? { objectRef?.member("name") }
    @inlinable public var apiGroup: JSONValue? { objectRef?.member("apiGroup") }
    @inlinable public var objectAPIVersion: JSONValue? { objectRef?.member("apiVersion") }
    @inlinable public var responseCodeValue: JSONValue? { responseStatus?.member("code") }
    /// The response code, when present and an integer.
    @inlinable public var responseCode: Int? { responseCodeValue?.int64Value.map { Int($0) } }
    @inlinable public var authorizationDecision: JSONValue? { annotations?.member("authorization.k8s.io/decision") }
    @inlinable public var authorizationReason: JSONValue? { annotations?.member("authorization.k8s.io/reason") }

    /// The last entry of `sourceIPs`: the address the API server itself saw (earlier entries come from
    /// `X-Forwarded-For` and can be forged by the client).
    @inlinable public var sourceIP: JSONValue? {
        guard let list = sourceIPs, list.isArray else { return nil }
        var last: JSONValue? = nil
        for v in list.elements { last = v }
        return last
    }

    /// `stageTimestamp` in nanoseconds since the Unix epoch (nil when absent or malformed).
    @inlinable public var stageTime: Int64? { stageTimestamp.flatMap { parseRFC3339Nanos($0.rawBytes) } }
    /// `requestReceivedTimestamp` in nanoseconds since the Unix epoch.
    @inlinable public var requestReceivedTime: Int64? { requestReceivedTimestamp.flatMap { parseRFC3339Nanos($0.rawBytes) } }
    /// The event time AuditHound uses (as Falco's k8saudit plugin: `stageTimestamp`, else the received time).
    @inlinable public var time: Int64? { stageTime ?? requestReceivedTime }
}

/// Parses the RFC 3339 timestamps of a stream of events, remembering the date and time to the second of
/// the last one: consecutive events mostly share it, and then only the fraction and the zone are read.
/// Gives exactly what ``parseRFC3339Nanos(_:)`` gives.
public struct TimestampCache {
    private var w0: UInt64 = 0
    private var w1: UInt64 = 0
    private var w2: UInt32 = 0
    private var seconds: Int64 = 0
    private var valid = false

    public init() {}

    /// The event time (as ``AuditEvent/time``) of `e`.
    @inlinable public mutating func time(of e: AuditEvent) -> Int64? {
        if let s = e.stageTimestamp, let t = parse(s.rawBytes) { return t }
        return e.requestReceivedTimestamp.flatMap { parse($0.rawBytes) }
    }

    public mutating func parse(_ b: UnsafeRawBufferPointer) -> Int64? {
        guard b.count >= 20 else { return parseRFC3339Nanos(b) }
        let p = b.baseAddress!
        let a0 = p.loadUnaligned(as: UInt64.self)
        let a1 = p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        let a2 = p.loadUnaligned(fromByteOffset: 15, as: UInt32.self)
        if valid && a0 == w0 && a1 == w1 && a2 == w2 {
            // Same date and time to the second: read the rest as the full parser does.
            guard let (nanos, i) = rfc3339Fraction(b, 19) else { return nil }
            // A zone other than Z (rare) takes the full parser.
            guard i + 1 == b.count, b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") else { return parseRFC3339Nanos(b) }
            let (total, overflow) = seconds.addingReportingOverflow(Int64(nanos))
            return overflow ? nil : total
        }
        guard let t = parseRFC3339Nanos(b) else { return nil }
        // Remember the second when the zone is UTC (Z): the cached value is then the time of the second.
        if b[b.count - 1] == UInt8(ascii: "Z") || b[b.count - 1] == UInt8(ascii: "z") {
            let nanos = Int64(rfc3339Fraction(b, 19)?.nanos ?? 0)
            w0 = a0
            w1 = a1
            w2 = a2
            seconds = t - nanos
            valid = true
        }
        return t
    }
}

// Key comparison helpers for `AuditEvent.init`: the expected words are read from the static text.

@inlinable @inline(__always) func keyWord4(_ s: StaticString, _ offset: Int = 0) -> UInt32 {
    UnsafeRawPointer(s.utf8Start + offset).loadUnaligned(as: UInt32.self)
}

@inlinable @inline(__always) func keyEquals5(_ b: UnsafeRawPointer, _ s: StaticString) -> Bool {
    b.loadUnaligned(as: UInt32.self) == keyWord4(s) && b.load(fromByteOffset: 4, as: UInt8.self) == s.utf8Start[4]
}

@inlinable @inline(__always) func keyEquals7(_ b: UnsafeRawPointer, _ s: StaticString) -> Bool {
    b.loadUnaligned(as: UInt32.self) == keyWord4(s) && (b + 3).loadUnaligned(as: UInt32.self) == keyWord4(s, 3)
}

/// A key of `n` bytes (8 <= n <= 16) equals the first `n` bytes of `s` (which has at least `n`).
@inlinable @inline(__always) func keyEquals16(_ b: UnsafeRawPointer, _ n: Int, _ s: StaticString) -> Bool {
    let t = UnsafeRawPointer(s.utf8Start)
    return b.loadUnaligned(as: UInt64.self) == t.loadUnaligned(as: UInt64.self)
        && (b + (n - 8)).loadUnaligned(as: UInt64.self) == (t + (n - 8)).loadUnaligned(as: UInt64.self)
}

/// The optional fraction of an RFC 3339 time at `i` (`.` and digits; digits beyond the ninth are read
/// and ignored): its nanoseconds and the index after it; nil for a dot without digits.
@inlinable func rfc3339Fraction(_ b: UnsafeRawBufferPointer, _ i: Int) -> (nanos: Int, end: Int)? {
    let n = b.count
    guard i < n, b[i] == UInt8(ascii: ".") else { return (0, i) }
    var j = i + 1
    var scale = 100_000_000
    var nanos = 0
    while j < n, b[j] >= 48, b[j] <= 57 {
        if scale > 0 { nanos += Int(b[j] - 48) * scale; scale /= 10 }
        j += 1
    }
    return j == i + 1 ? nil : (nanos, j)
}

/// Parses an RFC 3339 timestamp (`2026-11-23T10:00:00.123456Z`, `...+02:00`; `t`/space accepted as the
/// separator, up to nine fraction digits) to nanoseconds since the Unix epoch. No allocation.
@inlinable public func parseRFC3339Nanos(_ b: UnsafeRawBufferPointer) -> Int64? {
    let n = b.count
    guard n >= 20 else { return nil }
    @inline(__always) func digits(_ at: Int, _ count: Int) -> Int? {
        var v = 0
        for k in at..<(at + count) {
            let d = Int(b[k]) &- 48
            if d < 0 || d > 9 { return nil }
            v = v &* 10 &+ d
        }
        return v
    }
    guard let year = digits(0, 4), b[4] == UInt8(ascii: "-"), let month = digits(5, 2), b[7] == UInt8(ascii: "-"),
          let day = digits(8, 2), b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t") || b[10] == UInt8(ascii: " "),
          let hour = digits(11, 2), b[13] == UInt8(ascii: ":"), let minute = digits(14, 2), b[16] == UInt8(ascii: ":"),
          let second = digits(17, 2),
          (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
    guard let (nanos, end) = rfc3339Fraction(b, 19) else { return nil }
    var i = end
    guard i < n else { return nil }
    var offsetSeconds = 0
    if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
        i += 1
    } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
        guard i + 6 <= n, let oh = digits(i + 1, 2), b[i + 3] == UInt8(ascii: ":"), let om = digits(i + 4, 2) else { return nil }
        offsetSeconds = (oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "+") ? 1 : -1)
        i += 6
    } else {
        return nil
    }
    guard i == n else { return nil }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let mp = (month + 9) % 12
    let doy = (153 * mp + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    let days = era * 146_097 + doe - 719_468
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
    let (scaled, overflow) = Int64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
    if overflow { return nil }
    let (total, overflow2) = scaled.addingReportingOverflow(Int64(nanos))
    return overflow2 ? nil : total
}

/// Why a record did not yield audit events.
public enum RecordProblem: Sendable, Equatable {
    case invalidJSON(JSONError)
    case notAnAuditEvent
    case missingAuditID
    case recordTooLarge

    public var description: String {
        switch self {
        case .invalidJSON(let e): return "invalid JSON: \(e)"
        case .notAnAuditEvent: return "not an audit event (expected an Event, an EventList or an array of events)"
        case .missingAuditID: return "audit event without auditID"
        case .recordTooLarge: return "record larger than the maximum record size"
        }
    }
}

/// Splits one parsed record into audit events: an `Event` object, an `EventList` (its `items`), or a JSON
/// array of either (the webhook backend's batches). Calls `event` for each event with its position in the
/// record (0 for a single event; the item index, counted from 1, inside lists), and `problem` for each
/// part that is not a usable event. Returns the number of events delivered.
@inlinable @discardableResult
public func forEachAuditEvent(in root: JSONValue,
                              event: (AuditEvent, Int) -> Void,
                              problem: (RecordProblem, Int) -> Void) -> Int {
    var delivered = 0
    var item = 0
    // `AuditEvent` keeps tape indices in 32 bits: a document needs over a gigabyte of JSON to exceed
    // them (possible only with a raised --max-record-size); it is reported instead of misread.
    if root.nextIndex > Int(Int32.max) {
        problem(.recordTooLarge, 0)
        return 0
    }
    func visit(_ v: JSONValue, depth: Int, position: Int) {
        if v.isArray {
            guard depth < 3 else { problem(.notAnAuditEvent, position); return }
            for element in v.elements {
                item += 1
                visit(element, depth: depth + 1, position: item)
            }
            return
        }
        guard v.isObject else { problem(.notAnAuditEvent, position); return }
        let e = AuditEvent(root: v)
        if let kind = e.kind, kind.stringEquals("EventList") {
            guard depth < 3, let items = v.member("items"), items.isArray else { problem(.notAnAuditEvent, position); return }
            for element in items.elements {
                item += 1
                visit(element, depth: depth + 1, position: item)
            }
            return
        }
        if let kind = e.kind, !kind.stringEquals("Event") { problem(.notAnAuditEvent, position); return }
        guard let id = e.auditID, id.isString, id.rawBytes.count > 0 else {
            // An object that looks nothing like an event is reported as such.
            if e.kind == nil && e.verb == nil && e.stageValue == nil { problem(.notAnAuditEvent, position) } else { problem(.missingAuditID, position) }
            return
        }
        delivered += 1
        event(e, position)
    }
    visit(root, depth: 0, position: 0)
    return delivered
}

// The fixed parts of an audit `Event` line, written in the API server's key order:
// kind, apiVersion, level, auditID, stage, requestURI, verb, user, impersonatedUser, sourceIPs,
// userAgent, objectRef, responseStatus, requestObject, responseObject, requestReceivedTimestamp,
// stageTimestamp, annotations. Map-typed fields (annotations, user.extra, labels, data) are
// written with sorted keys, as Go's encoder does. `&`, `<`, `>` inside strings are written as
// `\u0026`, `\u003c`, `\u003e`, also as Go's encoder does (so request URIs carry `\u0026`).

/// The audit stage of one event.
enum Stage: UInt8 {
    case requestReceived, responseStarted, responseComplete

    var text: StaticString {
        switch self {
        case .requestReceived: return "RequestReceived"
        case .responseStarted: return "ResponseStarted"
        case .responseComplete: return "ResponseComplete"
        }
    }
}

/// The audit level an event was logged at.
enum Level: UInt8 {
    case metadata, request, requestResponse

    var text: StaticString {
        switch self {
        case .metadata: return "Metadata"
        case .request: return "Request"
        case .requestResponse: return "RequestResponse"
        }
    }
}

/// Who made a request, as precomputed JSON: the `"user":{…},"sourceIPs":[…],"userAgent":"…"`
/// members, plus the text the authorizer gives as its reason.
struct Identity {
    /// `"user":{…},"sourceIPs":[…],"userAgent":"…"` (no surrounding commas).
    var block: Text
    /// The `authorization.k8s.io/reason` text for allowed requests, JSON-escaped.
    var reason: Text
    /// The user name (plain ASCII, never needs escaping).
    var name: Text
}

extension ByteWriter {
    /// `{"kind":"Event",…,"stage":"…","requestURI":"` — the caller writes the URI next.
    @inline(__always)
    mutating func head(_ level: Level, _ id: UUID128, _ stage: Stage) {
        self.put("{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"level\":\"")
        self.put(level.text)
        self.put("\",\"auditID\":\"")
        self.uuid(id)
        self.put("\",\"stage\":\"")
        self.put(stage.text)
        self.put("\",\"requestURI\":\"")
    }

    /// Closes the URI and writes the verb and the identity block.
    @inline(__always)
    mutating func verb(_ verb: StaticString, _ who: Identity) {
        self.put("\",\"verb\":\"")
        self.put(verb)
        self.put("\",")
        self.put(who.block)
    }

    /// `,"objectRef":{…}` with the members that are present.
    mutating func objectRef(_ resource: StaticString, ns: Text? = nil, name: Text? = nil, uid: UUID128? = nil,
                            group: StaticString? = nil, version: StaticString = "v1", rv: Int? = nil,
                            sub: StaticString? = nil) {
        self.put(",\"objectRef\":{\"resource\":\"")
        self.put(resource)
        if let ns {
            self.put("\",\"namespace\":\"")
            self.put(ns)
        }
        if let name {
            self.put("\",\"name\":\"")
            self.put(name)
        }
        if let uid {
            self.put("\",\"uid\":\"")
            self.uuid(uid)
        }
        if let group {
            self.put("\",\"apiGroup\":\"")
            self.put(group)
        }
        self.put("\",\"apiVersion\":\"")
        self.put(version)
        if let rv {
            self.put("\",\"resourceVersion\":\"")
            self.int(rv)
        }
        if let sub {
            self.put("\",\"subresource\":\"")
            self.put(sub)
        }
        self.put("\"}")
    }

    /// `,"responseStatus":{"metadata":{},"code":N}` for a success.
    @inline(__always)
    mutating func status(_ code: Int) {
        self.put(",\"responseStatus\":{\"metadata\":{},\"code\":")
        self.int(code)
        self.byte(UInt8(ascii: "}"))
    }

    /// Opens a failure status: `,"responseStatus":{"metadata":{},"status":"Failure","message":"`.
    /// The caller writes the message, then calls `statusFailureTail`.
    mutating func statusFailureHead() {
        self.put(",\"responseStatus\":{\"metadata\":{},\"status\":\"Failure\",\"message\":\"")
    }

    /// Ends a failure status: reason, details (already-rendered members, may be empty) and code.
    mutating func statusFailureTail(reason: StaticString, details: (inout ByteWriter) -> Void, code: Int) {
        self.put("\",\"reason\":\"")
        self.put(reason)
        self.put("\",\"details\":{")
        details(&self)
        self.put("},\"code\":")
        self.int(code)
        self.byte(UInt8(ascii: "}"))
    }

    /// `,"requestReceivedTimestamp":"…","stageTimestamp":"…"`.
    @inline(__always)
    mutating func times(_ received: Int64, _ stageTime: Int64) {
        self.put(",\"requestReceivedTimestamp\":\"")
        self.timestamp(received)
        self.put("\",\"stageTimestamp\":\"")
        self.timestamp(stageTime)
        self.byte(UInt8(ascii: "\""))
    }

    /// `,"annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"…"}`
    /// and the end of the event line.
    @inline(__always)
    mutating func allowAndEnd(_ reason: Text) {
        self.put(",\"annotations\":{\"authorization.k8s.io/decision\":\"allow\",\"authorization.k8s.io/reason\":\"")
        self.put(reason)
        self.put("\"}}\n")
    }

    /// Like `allowAndEnd`, with the pod-security annotation that pod creations carry.
    mutating func allowPodAndEnd(_ reason: Text, policy: StaticString) {
        self.put(",\"annotations\":{\"authorization.k8s.io/decision\":\"allow\",\"authorization.k8s.io/reason\":\"")
        self.put(reason)
        self.put("\",\"pod-security.kubernetes.io/enforce-policy\":\"")
        self.put(policy)
        self.put("\"}}\n")
    }

    /// A forbidden request: decision `forbid` and an empty reason, as RBAC leaves it.
    mutating func forbidAndEnd() {
        self.put(",\"annotations\":{\"authorization.k8s.io/decision\":\"forbid\",\"authorization.k8s.io/reason\":\"\"}}\n")
    }

    /// Ends a `RequestReceived` event (it has no status and no annotations).
    @inline(__always)
    mutating func end() { self.put("}\n") }

    // MARK: Time

    /// RFC 3339 with microseconds, UTC: `2026-11-23T10:00:00.123456Z` (no quotes).
    mutating func timestamp(_ micros: Int64) {
        let (days, microsOfDay) = Self.split(micros)
        self.date(days)
        let secs = Int(microsOfDay / 1_000_000)
        self.byte(UInt8(ascii: "T"))
        self.clock(secs)
        self.byte(UInt8(ascii: "."))
        self.fixed(Int(microsOfDay % 1_000_000), width: 6)
        self.byte(UInt8(ascii: "Z"))
    }

    /// RFC 3339 to the second, as `metav1.Time` renders: `2026-11-23T10:00:00Z` (no quotes).
    mutating func timestampSeconds(_ micros: Int64) {
        let (days, microsOfDay) = Self.split(micros)
        self.date(days)
        self.byte(UInt8(ascii: "T"))
        self.clock(Int(microsOfDay / 1_000_000))
        self.byte(UInt8(ascii: "Z"))
    }

    @inline(__always)
    static func split(_ micros: Int64) -> (Int, Int64) {
        let perDay: Int64 = 86_400_000_000
        var days = micros / perDay
        var rem = micros % perDay
        if rem < 0 { rem += perDay; days -= 1 }
        return (Int(days), rem)
    }

    /// Writes `YYYY-MM-DD` for a day count since 1970-01-01 (proleptic Gregorian).
    mutating func date(_ daysSinceEpoch: Int) {
        // Civil-from-days over 400-year eras.
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        self.fixed(year, width: 4)
        self.byte(UInt8(ascii: "-"))
        self.fixed(month, width: 2)
        self.byte(UInt8(ascii: "-"))
        self.fixed(day, width: 2)
    }

    @inline(__always)
    mutating func clock(_ secondsOfDay: Int) {
        self.fixed(secondsOfDay / 3600, width: 2)
        self.byte(UInt8(ascii: ":"))
        self.fixed(secondsOfDay / 60 % 60, width: 2)
        self.byte(UInt8(ascii: ":"))
        self.fixed(secondsOfDay % 60, width: 2)
    }

    /// A Go duration as client-go writes watch timeouts: `7m31s`.
    mutating func minutesSeconds(_ seconds: Int) {
        if seconds >= 60 {
            self.int(seconds / 60)
            self.byte(UInt8(ascii: "m"))
        }
        self.int(seconds % 60)
        self.byte(UInt8(ascii: "s"))
    }
}

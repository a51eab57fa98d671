import AuditJSON

/// The shape a record was recognised as (see ``InputFormat``).
public enum RecordKind: Sendable, Equatable {
    /// An audit `Event`, `EventList` or array of them (or an object that is none of the shapes below).
    case plain
    /// A CloudWatch S3 export line `<timestamp> <message>`.
    case exportLine
    /// A subscription-filter payload as JSON (`messageType`/`logEvents`).
    case subscription
    /// Base64 text (usually of gzip) of a subscription payload, bare or as a JSON string.
    case encodedSubscription
    /// The Lambda wrapper `{"awslogs":{"data":"<base64 gzip>"}}`.
    case lambda
    /// A `filter-log-events` / `get-log-events` page `{"events":[…]}`.
    case logEventsPage
    /// One CloudWatch log event `{"timestamp":…,"message":…}`.
    case logEvent
    /// An Azure diagnostic-log batch `{"records":[…]}`.
    case aksRecords
    /// One Azure diagnostic-log record `{"category":…,"properties":{"log":…}}`.
    case aksRecord
    /// A JSON string holding an audit event's JSON text.
    case quotedMessage
    /// The S3 export permission probe `aws-logs-write-test` (skipped).
    case exportProbe

    /// Whether a record of this kind is accepted when `format` is forced.
    func belongs(to format: InputFormat) -> Bool {
        switch format {
        case .auto: return true
        case .lines: return self == .plain
        case .cloudwatchExport: return self == .exportLine || self == .exportProbe
        case .subscription, .firehose: return self == .subscription || self == .encodedSubscription || self == .lambda
        case .filterLogEvents: return self == .logEventsPage || self == .logEvent || self == .quotedMessage
        case .aks: return self == .aksRecords || self == .aksRecord
        }
    }
}

/// Turns one framed record of any ``InputFormat`` into audit events: recognises the record's shape,
/// unpacks the envelope (base64, gzip, JSON string escapes), tokenizes the audit event JSON and
/// splits it with ``forEachAuditEvent(in:event:problem:)``.
///
/// One decoder per worker thread: it owns three reusable tapes (record, decoded payload, message)
/// and scratch buffers that only grow, so once warmed up it allocates nothing per record or event.
/// Events and values handed to the callbacks are valid only during the callback.
///
/// Positions: the `item` passed to the callbacks is 0 for a record that holds one event; inside a
/// wrapper (subscription payload, `filter-log-events` page, AKS batch) it is the 1-based index of
/// the log event or record in the wrapper; for a plain `EventList` or array, the 1-based item index.
///
/// What is skipped silently: `CONTROL_MESSAGE` payloads (CloudWatch's reachability probes), AKS
/// records of categories other than `kube-audit` and `kube-audit-admin` (they share the Event Hub
/// with the other control-plane logs), and the S3 export's `Permission Check Successful` probe.
public final class RecordDecoder {
    /// The format records are expected in.
    public let format: InputFormat
    /// The largest decompressed payload accepted (bytes).
    public let maxPayloadSize: Int
    /// What the last record was recognised as (for diagnostics and tests).
    public private(set) var lastKind: RecordKind = .plain

    private let recordTape: JSONTape
    private let payloadTape: JSONTape
    private let messageTape: JSONTape
    private let message = ScratchBuffer()
    private let compressed = ScratchBuffer()
    private let payload = ScratchBuffer()
    private let inflater = Inflater()

    /// The audit-event members whose object or array values the decoder's tapes leave unparsed (see
    /// ``JSONTape/deferredKeys``): the request and response bodies.
    public static let bodyKeys = ["requestObject", "responseObject"]

    /// When true, request and response bodies are not parsed (``bodyKeys``): events whose bodies are
    /// read must be parsed again (``AuditEvent/hasDeferredBody``). Off by default.
    public var deferBodies = false {
        didSet {
            let keys = deferBodies ? RecordDecoder.bodyKeys : []
            for tape in [recordTape, payloadTape, messageTape] { tape.deferredKeys = keys }
        }
    }

    /// Creates a decoder for records of `format`.
    ///
    /// - Parameters:
    ///   - maxDepth: JSON nesting limit of every tape.
    ///   - maxPayloadSize: largest base64/gzip payload after decompression (default 64 MiB).
    public init(format: InputFormat = .auto, maxDepth: Int = 1024, maxPayloadSize: Int = 64 << 20) {
        self.format = format
        self.maxPayloadSize = maxPayloadSize
        self.recordTape = JSONTape(maxDepth: maxDepth)
        self.payloadTape = JSONTape(maxDepth: maxDepth)
        self.messageTape = JSONTape(maxDepth: maxDepth)
    }

    /// Calls `event` for every audit event in `record` and `problem` for every part that is not a
    /// usable event, with the item position (see the type's documentation). Returns the number of
    /// events delivered.
    @discardableResult
    public func forEachAuditEvent(inRecord record: UnsafeRawBufferPointer,
                                  event: (AuditEvent, Int) -> Void,
                                  problem: (FormatProblem, Int) -> Void) -> Int {
        if self.format == .lines {
            self.lastKind = .plain
            return self.plain(record, event: event, problem: problem)
        }
        var start = 0
        while start < record.count, isSpace(record[start]) { start += 1 }
        let first: UInt8 = start < record.count ? record[start] : 0

        switch first {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            do {
                try self.recordTape.parse(record)
            } catch {
                self.lastKind = .plain
                problem(FormatProblem(.invalidJSON(error), offset: error.offset), 0)
                return 0
            }
            let root = self.recordTape.root
            let kind = root.isObject ? classify(root) : .plain
            self.lastKind = kind
            guard self.accept(kind, problem) else { return 0 }
            return self.unwrap(root, kind: kind, event: event, problem: problem)

        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            guard let messageStart = exportMessageStart(record, from: start) else { break }
            self.lastKind = .exportLine
            guard self.accept(.exportLine, problem) else { return 0 }
            let text = UnsafeRawBufferPointer(rebasing: record[messageStart...])
            return self.decodeMessageText(text, tape: self.recordTape, offset: messageStart, item: 0,
                                          event: event, problem: problem)

        case UInt8(ascii: "\""):
            do {
                try self.recordTape.parse(record)
            } catch {
                break
            }
            let root = self.recordTape.root
            guard root.isString else { break }
            if Base64.looksLikeGzip(root.rawBytes) {
                self.lastKind = .encodedSubscription
                guard self.accept(.encodedSubscription, problem) else { return 0 }
                if !root.hasEscapes { return self.decodeEncodedPayload(root.rawBytes, event: event, problem: problem) }
                // Base64 with escaped '/': unescape first (the text is consumed before the buffer is reused).
                self.message.removeAll()
                appendUnescaped(root.rawBytes, to: self.message)
                return self.decodeEncodedPayload(self.message.bytes, event: event, problem: problem)
            }
            self.lastKind = .quotedMessage
            guard self.accept(.quotedMessage, problem) else { return 0 }
            return self.decodeMessage(root, offset: start, item: 0, event: event, problem: problem)

        case UInt8(ascii: "H"):
            let text = UnsafeRawBufferPointer(rebasing: record[start...])
            guard Base64.looksLikeGzip(text) else { break }
            self.lastKind = .encodedSubscription
            guard self.accept(.encodedSubscription, problem) else { return 0 }
            return self.decodeEncodedPayload(text, event: event, problem: problem)

        case UInt8(ascii: "P"):
            if isExportProbe(UnsafeRawBufferPointer(rebasing: record[start...])) {
                self.lastKind = .exportProbe
                return 0
            }

        default:
            break
        }
        // Not a recognised shape: what the JSON parser makes of it.
        self.lastKind = .plain
        do {
            try self.recordTape.parse(record)
        } catch {
            problem(FormatProblem(.invalidJSON(error), offset: error.offset), 0)
            return 0
        }
        guard self.accept(.plain, problem) else { return 0 }
        return self.unwrap(self.recordTape.root, kind: .plain, event: event, problem: problem)
    }

    // MARK: Shapes

    /// Reports a record of the wrong shape when a format is forced.
    @inline(__always)
    private func accept(_ kind: RecordKind, _ problem: (FormatProblem, Int) -> Void) -> Bool {
        if kind.belongs(to: self.format) { return true }
        problem(FormatProblem(.unexpectedRecord(self.format)), 0)
        return false
    }

    /// A plain record: tokenize and split.
    private func plain(_ record: UnsafeRawBufferPointer, event: (AuditEvent, Int) -> Void,
                       problem: (FormatProblem, Int) -> Void) -> Int {
        do {
            try self.recordTape.parse(record)
        } catch {
            problem(FormatProblem(.invalidJSON(error), offset: error.offset), 0)
            return 0
        }
        return AuditInput.forEachAuditEvent(in: self.recordTape.root, event: event, problem: { p, item in
            problem(FormatProblem(.event(p)), item)
        })
    }

    /// Dispatches a parsed JSON record (or decoded payload) of a known kind.
    private func unwrap(_ root: JSONValue, kind: RecordKind, event: (AuditEvent, Int) -> Void,
                        problem: (FormatProblem, Int) -> Void) -> Int {
        switch kind {
        case .plain:
            return AuditInput.forEachAuditEvent(in: root, event: event, problem: { p, item in
                problem(FormatProblem(.event(p), offset: 0), item)
            })
        case .subscription:
            return self.subscription(root, offsets: true, event: event, problem: problem)
        case .lambda:
            guard let data = root.member("awslogs")?.member("data"), data.isString else {
                problem(FormatProblem(.malformedWrapper("Lambda wrapper without an awslogs.data string")), 0)
                return 0
            }
            if data.hasEscapes {
                // e.g. '/' written as '\/'; the text is consumed before the buffer is reused.
                self.message.removeAll()
                appendUnescaped(data.rawBytes, to: self.message)
                return self.decodeEncodedPayload(self.message.bytes, event: event, problem: problem)
            }
            return self.decodeEncodedPayload(data.rawBytes, event: event, problem: problem)
        case .logEventsPage:
            guard let events = root.member("events"), events.isArray else {
                problem(FormatProblem(.malformedWrapper("log events page without an events array")), 0)
                return 0
            }
            return self.logEvents(events, offsets: true, event: event, problem: problem)
        case .logEvent:
            guard let text = root.member("message"), text.isString else {
                problem(FormatProblem(.malformedWrapper("log event without a message string"), offset: root.byteOffset), 0)
                return 0
            }
            return self.decodeMessage(text, offset: text.byteOffset, item: 0, event: event, problem: problem)
        case .aksRecords:
            guard let records = root.member("records"), records.isArray else {
                problem(FormatProblem(.malformedWrapper("diagnostic log without a records array")), 0)
                return 0
            }
            var delivered = 0
            var index = 0
            for record in records.elements {
                index += 1
                delivered += self.aksRecord(record, item: index, event: event, problem: problem)
            }
            return delivered
        case .aksRecord:
            return self.aksRecord(root, item: 0, event: event, problem: problem)
        case .exportLine, .encodedSubscription, .quotedMessage, .exportProbe:
            return 0
        }
    }

    /// A subscription payload: `DATA_MESSAGE` log events; other message types are skipped.
    /// `offsets`: the payload was parsed from the record's own bytes, so value offsets are positions.
    private func subscription(_ root: JSONValue, offsets: Bool, event: (AuditEvent, Int) -> Void,
                              problem: (FormatProblem, Int) -> Void) -> Int {
        if let type = root.member("messageType"), !type.stringEquals("DATA_MESSAGE") { return 0 }
        guard let events = root.member("logEvents"), events.isArray else {
            problem(FormatProblem(.malformedWrapper("subscription payload without a logEvents array")), 0)
            return 0
        }
        return self.logEvents(events, offsets: offsets, event: event, problem: problem)
    }

    /// The elements of a `logEvents` / `events` array: each one's `message`.
    private func logEvents(_ events: JSONValue, offsets: Bool, event: (AuditEvent, Int) -> Void,
                           problem: (FormatProblem, Int) -> Void) -> Int {
        var delivered = 0
        var index = 0
        for logEvent in events.elements {
            index += 1
            guard logEvent.isObject, let text = logEvent.member("message"), text.isString else {
                problem(FormatProblem(.malformedWrapper("log event without a message string"),
                                      offset: offsets ? logEvent.byteOffset : 0), index)
                continue
            }
            delivered += self.decodeMessage(text, offset: offsets ? text.byteOffset : 0, item: index,
                                            event: event, problem: problem)
        }
        return delivered
    }

    /// One AKS diagnostic record: `properties.log` of the audit categories.
    private func aksRecord(_ record: JSONValue, item: Int, event: (AuditEvent, Int) -> Void,
                           problem: (FormatProblem, Int) -> Void) -> Int {
        if let category = record.member("category"), category.isString,
           !category.stringEquals("kube-audit") && !category.stringEquals("kube-audit-admin") {
            return 0
        }
        guard record.isObject, let text = record.member("properties")?.member("log"), text.isString else {
            problem(FormatProblem(.malformedWrapper("diagnostic record without a properties.log string"),
                                  offset: record.byteOffset), item)
            return 0
        }
        return self.decodeMessage(text, offset: text.byteOffset, item: item, event: event, problem: problem)
    }

    // MARK: Payloads and messages

    /// Base64 text of a (usually gzip) subscription payload: decode, inflate, parse, unwrap.
    private func decodeEncodedPayload(_ text: UnsafeRawBufferPointer, event: (AuditEvent, Int) -> Void,
                                      problem: (FormatProblem, Int) -> Void) -> Int {
        self.compressed.removeAll()
        do {
            try Base64.decode(text, into: self.compressed)
        } catch {
            problem(FormatProblem(.undecodablePayload(error.description)), 0)
            return 0
        }
        var json = self.compressed.bytes
        if json.count >= 2 && json[0] == 0x1F && json[1] == 0x8B {
            do {
                try self.inflater.inflate(json, into: self.payload, limit: self.maxPayloadSize)
            } catch {
                problem(FormatProblem(.undecodablePayload("subscription payload: \(error.description)")), 0)
                return 0
            }
            json = self.payload.bytes
        }
        do {
            try self.payloadTape.parse(json)
        } catch {
            problem(FormatProblem(.undecodablePayload(
                "decoded subscription payload is not valid JSON: \(error.reason.rawValue) at byte \(error.offset)")), 0)
            return 0
        }
        let root = self.payloadTape.root
        guard root.isObject, root.member("logEvents") != nil || root.member("messageType") != nil else {
            problem(FormatProblem(.malformedWrapper("decoded data is not a CloudWatch Logs subscription payload")), 0)
            return 0
        }
        return self.subscription(root, offsets: false, event: event, problem: problem)
    }

    /// A JSON string holding event JSON: unescape it into the message buffer, then parse and split.
    private func decodeMessage(_ text: JSONValue, offset: Int, item: Int, event: (AuditEvent, Int) -> Void,
                               problem: (FormatProblem, Int) -> Void) -> Int {
        if !text.hasEscapes {
            return self.decodeMessageText(text.rawBytes, tape: self.messageTape, offset: offset, item: item,
                                          event: event, problem: problem)
        }
        self.message.removeAll()
        appendUnescaped(text.rawBytes, to: self.message)
        return self.decodeMessageText(self.message.bytes, tape: self.messageTape, offset: offset, item: item,
                                      event: event, problem: problem)
    }

    /// Event JSON text (a log message): parse into `tape` and split; a parse failure is a truncated
    /// or an invalid message.
    private func decodeMessageText(_ text: UnsafeRawBufferPointer, tape: JSONTape, offset: Int, item: Int,
                                   event: (AuditEvent, Int) -> Void, problem: (FormatProblem, Int) -> Void) -> Int {
        do {
            try tape.parse(text)
        } catch {
            if looksTruncated(text, error) {
                problem(FormatProblem(.truncatedMessage(bytes: text.count), offset: offset), item)
            } else {
                problem(FormatProblem(.invalidMessage(error), offset: offset), item)
            }
            return 0
        }
        return AuditInput.forEachAuditEvent(in: tape.root, event: { e, inner in
            event(e, item > 0 ? item : inner)
        }, problem: { p, inner in
            problem(FormatProblem(.event(p), offset: offset), item > 0 ? item : inner)
        })
    }
}

// MARK: - Recognition

/// Classifies a JSON object record by its top-level keys. A key decides as soon as it is met
/// (`kind` comes first in audit events, so plain events cost one step).
private func classify(_ root: JSONValue) -> RecordKind {
    var hasMessage = false
    var hasLogEventField = false
    var hasProperties = false
    var hasCategory = false
    for (key, _) in root.members {
        switch key.rawBytes.count {
        case 4:
            if key.stringEquals("kind") { return .plain }
        case 6:
            if key.stringEquals("events") { return .logEventsPage }
        case 7:
            if key.stringEquals("awslogs") { return .lambda }
            if key.stringEquals("records") { return .aksRecords }
            if key.stringEquals("message") { hasMessage = true }
            if key.stringEquals("eventId") { hasLogEventField = true }
        case 8:
            if key.stringEquals("category") { hasCategory = true }
        case 9:
            if key.stringEquals("logEvents") { return .subscription }
            if key.stringEquals("timestamp") { hasLogEventField = true }
        case 10:
            if key.stringEquals("properties") { hasProperties = true }
        case 11:
            if key.stringEquals("messageType") { return .subscription }
        case 13:
            if key.stringEquals("ingestionTime") || key.stringEquals("logStreamName") { hasLogEventField = true }
        default:
            break
        }
    }
    if hasProperties && hasCategory { return .aksRecord }
    if hasMessage && hasLogEventField { return .logEvent }
    return .plain
}

@inline(__always) private func isSpace(_ c: UInt8) -> Bool {
    c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0A
}

/// The start of the message in a CloudWatch export line `<timestamp> <message>`, or `nil` when the
/// line does not start with an RFC 3339 timestamp or an epoch-millisecond number and a space.
func exportMessageStart(_ line: UnsafeRawBufferPointer, from start: Int) -> Int? {
    var end = start
    let n = line.count
    while end < n && end - start <= 40 && line[end] != 0x20 && line[end] != 0x09 { end += 1 }
    guard end < n, end > start else { return nil }
    let stamp = UnsafeRawBufferPointer(rebasing: line[start..<end])
    var allDigits = true
    for c in stamp where c < UInt8(ascii: "0") || c > UInt8(ascii: "9") {
        allDigits = false
        break
    }
    if allDigits {
        guard (10...16).contains(stamp.count) else { return nil }
    } else if parseRFC3339Nanos(stamp) == nil {
        return nil
    }
    var message = end
    while message < n && (line[message] == 0x20 || line[message] == 0x09) { message += 1 }
    return message
}

/// Whether a message that failed to parse was cut short: it starts like JSON and the text ran out
/// inside the value (the parser stopped within its last few bytes: a cut string, number, literal or
/// escape), or CloudWatch's `[Truncated...]` marker ends it.
private func looksTruncated(_ text: UnsafeRawBufferPointer, _ error: JSONError) -> Bool {
    var end = text.count
    while end > 0 && isSpace(text[end - 1]) { end -= 1 }
    var start = 0
    while start < end && isSpace(text[start]) { start += 1 }
    guard start < end, text[start] == UInt8(ascii: "{") || text[start] == UInt8(ascii: "[") else { return false }
    if error.reason == .unexpectedEnd || error.reason == .unterminatedString || error.offset >= end - 8 { return true }
    let marker: StaticString = "[Truncated"
    let m = marker.utf8CodeUnitCount
    // The marker near the end ("...[Truncated...]", "[Truncated]").
    let from = max(0, end - m - 8)
    guard end - from >= m else { return false }
    var i = from
    while i + m <= end {
        if memoryEquals(text, at: i, marker) { return true }
        i += 1
    }
    return false
}

/// Whether the text is the S3 export's permission probe body.
private func isExportProbe(_ text: UnsafeRawBufferPointer) -> Bool {
    let probe: StaticString = "Permission Check Successful"
    var end = text.count
    while end > 0 && isSpace(text[end - 1]) { end -= 1 }
    return end == probe.utf8CodeUnitCount && memoryEquals(text, at: 0, probe)
}

private func memoryEquals(_ text: UnsafeRawBufferPointer, at offset: Int, _ s: StaticString) -> Bool {
    let n = s.utf8CodeUnitCount
    guard offset + n <= text.count else { return false }
    let p = s.utf8Start
    for k in 0..<n where text[offset + k] != p[k] { return false }
    return true
}

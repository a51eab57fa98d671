import AuditJSON

/// Why (part of) a record did not yield audit events, for every input format.
public struct FormatProblem: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// The record itself is not valid JSON.
        case invalidJSON(JSONError)
        /// A parsed value is not a usable audit event (see `RecordProblem`).
        case event(RecordProblem)
        /// A CloudWatch log event message is cut short (CloudWatch truncates large events): it is
        /// not complete JSON, or it ends with a `[Truncated...]` marker.
        case truncatedMessage(bytes: Int)
        /// A wrapped message (CloudWatch log event, AKS `properties.log`) is not valid JSON, and does
        /// not look truncated.
        case invalidMessage(JSONError)
        /// A wrapper lacks a part it must have (e.g. a log event without a `message` string).
        case malformedWrapper(String)
        /// Base64 or compressed data inside the record could not be decoded.
        case undecodablePayload(String)
        /// The record is not of the forced input format.
        case unexpectedRecord(InputFormat)
    }

    /// What went wrong.
    public var kind: Kind
    /// Offset in the record's bytes of the problem, or of the wrapped part it concerns (0 when the
    /// part lives in decoded data, e.g. a base64 payload).
    public var offset: Int

    /// Creates a problem.
    public init(_ kind: Kind, offset: Int = 0) {
        self.kind = kind
        self.offset = offset
    }

    /// Whether this is a message truncated by CloudWatch.
    public var isTruncatedMessage: Bool {
        if case .truncatedMessage = self.kind { return true }
        return false
    }

    /// One line of explanation.
    public var description: String {
        switch self.kind {
        case .invalidJSON(let e):
            return "invalid JSON: \(e.reason.rawValue) at byte \(e.offset) of the record"
        case .event(let p):
            return p.description
        case .truncatedMessage(let bytes):
            return "message truncated by CloudWatch (\(bytes) bytes, not complete JSON)"
        case .invalidMessage(let e):
            return "log message is not a JSON audit event: \(e.reason.rawValue) at byte \(e.offset) of the message"
        case .malformedWrapper(let what):
            return what
        case .undecodablePayload(let what):
            return what
        case .unexpectedRecord(let format):
            return "not a record of the input format \(format.rawValue)"
        }
    }
}

/// The shape of the records in an input: plain audit JSON, or one of the envelopes that CloudWatch
/// Logs (where EKS writes its audit log) and Azure Monitor (AKS diagnostic settings) wrap the audit
/// events in.
///
/// | format | one record is | framing |
/// | --- | --- | --- |
/// | `lines` | an `Event`, an `EventList` or a JSON array of them (the API server's log and webhook backends) | lines |
/// | `cloudwatch-export` | `<RFC 3339 or epoch-ms timestamp> <event JSON>` (S3 export objects, `…/<taskId>/<stream>/000000.gz`) | lines |
/// | `subscription` | a subscription-filter payload `{"messageType":"DATA_MESSAGE",…,"logEvents":[…]}`: raw JSON, base64 (of gzip) text, or the Lambda wrapper `{"awslogs":{"data":…}}` | JSON values |
/// | `firehose` | the same payloads concatenated without separators (`{…}{…}`), as Firehose writes them to S3 | JSON values |
/// | `filter-log-events` | an `aws logs filter-log-events` / `get-log-events` page `{"events":[…]}`, one log event `{"timestamp":…,"message":…}`, or one message as a JSON string (`jq '.events[].message'`) | JSON values |
/// | `aks` | an Azure diagnostic-log batch `{"records":[{"category":"kube-audit","properties":{"log":…}}]}` or one such record | JSON values |
///
/// `auto` (the default) recognises every one of these **per record**, so one input may mix them;
/// the framing is chosen per input from its first bytes (see ``makeRecordFramer(source:format:sourceIndex:batchSize:maxRecordSize:)``).
/// Forcing a format makes the reader expect only that shape (anything else is reported as a
/// problem) and fixes the framing.
public enum InputFormat: String, Sendable, CaseIterable {
    /// Recognise every format per record.
    case auto
    /// Plain audit JSON: `Event`, `EventList` or arrays of them, one per line.
    case lines
    /// CloudWatch Logs S3 export lines: `<timestamp> <message>`.
    case cloudwatchExport = "cloudwatch-export"
    /// CloudWatch Logs subscription-filter payloads (raw, base64/gzip, Lambda wrapper).
    case subscription
    /// `aws logs filter-log-events` / `get-log-events` output pages or single log events.
    case filterLogEvents = "filter-log-events"
    /// Kinesis Firehose objects: subscription payloads back to back, usually without separators.
    case firehose
    /// Azure AKS diagnostic records (`kube-audit`, `kube-audit-admin`), e.g. from Event Hubs.
    case aks

    /// The names accepted on the command line (`--input-format`), in declaration order.
    public static var names: [String] { allCases.map(\.rawValue) }

    /// Whether records of this format are lines (false: complete JSON values, which may span lines
    /// or share one). `auto` decides per input.
    var usesLineFraming: Bool {
        switch self {
        case .lines, .cloudwatchExport: return true
        case .auto, .subscription, .filterLogEvents, .firehose, .aks: return false
        }
    }
}

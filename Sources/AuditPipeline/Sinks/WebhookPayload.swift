import AuditRules
import Foundation

/// What a webhook sink POSTs (always `Content-Type: application/json`).
public enum WebhookFormat: String, Sendable, CaseIterable {
    /// One alert object per request: the body Falco's `http_output` and falcosidekick's clients send
    /// (Falco's alert JSON, plus `alert_id`, `audit_id`, `input`).
    case falco
    /// A JSON array of alert objects per request, batched by count and time.
    case batch
    /// A Slack incoming-webhook message per alert: `text` plus one attachment coloured by priority,
    /// with the rule, the output and the output fields.
    case slack
    /// Alertmanager's API: `POST /api/v2/alerts` with an array of
    /// `{labels, annotations, startsAt}`, batched by count and time.
    case alertmanager

    /// Whether requests carry several alerts.
    var batches: Bool { self == .batch || self == .alertmanager }
}

/// Builds request bodies from spooled records (``SinkRecord/json(_:hostname:)`` lines).
enum WebhookPayload {
    /// The body for `records`, or `nil` when a record is not valid JSON (only checked by the formats that
    /// need to read it).
    static func body(_ records: [String], format: WebhookFormat) -> String? {
        switch format {
        case .falco:
            return records.first
        case .batch:
            return "[" + records.joined(separator: ",") + "]"
        case .slack:
            guard let first = records.first, let alert = parse(first) else { return nil }
            return slack(alert)
        case .alertmanager:
            var items: [String] = []
            for r in records {
                guard let alert = parse(r) else { return nil }
                items.append(alertmanager(alert))
            }
            return "[" + items.joined(separator: ",") + "]"
        }
    }

    static func parse(_ record: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(record.utf8))) as? [String: Any]
    }

    /// A JSON value (from JSONSerialization) as display text: strings as is, arrays joined with `,`.
    static func text(_ value: Any?) -> String? {
        switch value {
        case nil, is NSNull: return nil
        case let s as String: return s
        case let a as [Any]: return a.compactMap { text($0) }.joined(separator: ",")
        case let n as NSNumber: return n.stringValue
        default: return "\(value!)"
        }
    }

    /// The rule's message: `output` without Falco's `HH:MM:SS.nnnnnnnnn: Priority ` prefix.
    static func message(_ alert: [String: Any]) -> String {
        let output = text(alert["output"]) ?? ""
        let priority = text(alert["priority"]) ?? ""
        if let r = output.range(of: ": " + priority + " "), output.distance(from: output.startIndex, to: r.lowerBound) <= 20 {
            return String(output[r.upperBound...])
        }
        return output
    }

    static func quote(_ s: String) -> String { JSONEscaper.quote(s) }

    static func clip(_ s: String, _ limit: Int) -> String {
        s.count <= limit ? s : String(s.prefix(limit)) + "…"
    }

    // MARK: Slack

    /// Slack's attachment colour for a priority name.
    static func slackColor(_ priority: String) -> String {
        switch Priority(parsing: priority) ?? .debug {
        case .emergency, .alert, .critical: return "#a30200"
        case .error: return "#e01e5a"
        case .warning: return "#ecb22e"
        case .notice: return "#36c5f0"
        case .informational: return "#439fe0"
        case .debug: return "#9e9e9e"
        }
    }

    /// Slack treats `&`, `<` and `>` as control characters (links, mentions such as `<!channel>`): log
    /// text must not be able to ping a channel.
    static func slackEscape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            default: out.append(ch)
            }
        }
        return out
    }

    static func slack(_ alert: [String: Any]) -> String {
        let rule = text(alert["rule"]) ?? ""
        let priority = text(alert["priority"]) ?? ""
        let message = message(alert)
        var fields: [(String, String, Bool)] = [
            ("rule", rule, true), ("priority", priority, true),
            ("source", text(alert["source"]) ?? "", true), ("hostname", text(alert["hostname"]) ?? "", true),
        ]
        if let outputFields = alert["output_fields"] as? [String: Any] {
            for key in outputFields.keys.sorted() where key != "evt.time" {
                fields.append((key, text(outputFields[key]) ?? "<NA>", true))
            }
        }
        if let tags = text(alert["tags"]), !tags.isEmpty { fields.append(("tags", tags.replacingOccurrences(of: ",", with: ", "), false)) }
        for key in ["time", "audit_id", "input", "alert_id"] {
            if let v = text(alert[key]) { fields.append((key, v, key != "input")) }
        }
        var s = "{\"text\":" + quote(slackEscape("[\(priority)] \(rule)"))
        s += ",\"attachments\":[{\"color\":" + quote(slackColor(priority))
        s += ",\"fallback\":" + quote(slackEscape(clip(text(alert["output"]) ?? message, 3000)))
        s += ",\"title\":" + quote(slackEscape(rule))
        s += ",\"text\":" + quote(slackEscape(clip(message, 3000)))
        s += ",\"fields\":["
        for (i, f) in fields.enumerated() {
            if i > 0 { s += "," }
            s += "{\"title\":" + quote(slackEscape(f.0)) + ",\"value\":" + quote(slackEscape(clip(f.1, 1000)))
            s += ",\"short\":" + (f.2 ? "true" : "false") + "}"
        }
        s += "],\"footer\":\"AuditHound\""
        if let time = (alert["output_fields"] as? [String: Any])?["evt.time"] as? NSNumber {
            s += ",\"ts\":\(time.int64Value / 1_000_000_000)"
        }
        s += "}]}"
        return s
    }

    // MARK: Alertmanager

    /// A Prometheus label name for a field name: `[a-zA-Z_][a-zA-Z0-9_]*` (`ka.user.name` →
    /// `ka_user_name`), never starting with the reserved `__`.
    static func labelName(_ field: String) -> String {
        var out = ""
        for u in field.unicodeScalars {
            let ok = (u >= "a" && u <= "z") || (u >= "A" && u <= "Z") || u == "_" || (u >= "0" && u <= "9")
            out.unicodeScalars.append(ok ? u : "_")
        }
        if let first = out.unicodeScalars.first, first >= "0" && first <= "9" { out = "_" + out }
        while out.hasPrefix("__") { out.removeFirst() }
        return out.isEmpty ? "_" : out
    }

    /// One Alertmanager alert. Labels (which identify and group alerts): `alertname` (the rule), `rule`,
    /// `priority`, `source`, `hostname` and the output fields (except `evt.time`); annotations:
    /// `summary`, `description` (the message), `output`, `tags`, `audit_id`, `input`, `alert_id`;
    /// `startsAt`: the event time.
    static func alertmanager(_ alert: [String: Any]) -> String {
        let rule = text(alert["rule"]) ?? ""
        let priority = text(alert["priority"]) ?? ""
        var labels: [String: String] = [
            "alertname": rule, "rule": rule, "priority": priority,
            "source": text(alert["source"]) ?? "", "hostname": text(alert["hostname"]) ?? "",
        ]
        if let outputFields = alert["output_fields"] as? [String: Any] {
            for (key, value) in outputFields where key != "evt.time" {
                let name = labelName(key)
                if labels[name] == nil, let v = text(value), !v.isEmpty { labels[name] = clip(v, 1024) }
            }
        }
        var annotations: [String: String] = [
            "summary": "\(priority): \(rule)", "description": message(alert), "output": text(alert["output"]) ?? "",
        ]
        for key in ["audit_id", "input", "alert_id", "tags"] {
            if let v = text(alert[key]) { annotations[key] = v }
        }
        func object(_ d: [String: String]) -> String {
            "{" + d.keys.sorted().map { quote($0) + ":" + quote(d[$0]!) }.joined(separator: ",") + "}"
        }
        var s = "{\"labels\":" + object(labels) + ",\"annotations\":" + object(annotations)
        if let time = text(alert["time"]) { s += ",\"startsAt\":" + quote(time) }
        return s + "}"
    }
}

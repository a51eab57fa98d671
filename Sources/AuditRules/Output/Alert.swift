import AuditJSON
import AuditInput

/// One alert: a rule matched an event. Built only when a rule fires (this is where Strings are made).
public struct Alert: Sendable {
    public var rule: String
    public var priority: Priority
    /// Event time, nanoseconds since the Unix epoch.
    public var time: Int64
    /// The rule's output with `%field`s filled in (raw values; escape for display with ``TextEscaper``).
    public var message: String
    /// Every `%field` of the output: name, values (nil = not available), whether the field is a list.
    public var outputFields: [(name: String, values: [String]?, isList: Bool)]
    public var tags: [String]
    public var source: String
    public var auditID: String
    /// Where the event came from: `path:line`, with `#item` inside EventLists/arrays.
    public var input: String
    /// Extra evidence (stateful rules: contributing auditIDs and the like).
    public var evidence: [String: [String]] = [:]

    public init(rule: String, priority: Priority, time: Int64, message: String, outputFields: [(name: String, values: [String]?, isList: Bool)],
                tags: [String], source: String = "k8s_audit", auditID: String, input: String) {
        self.rule = rule
        self.priority = priority
        self.time = time
        self.message = message
        self.outputFields = outputFields
        self.tags = tags
        self.source = source
        self.auditID = auditID
        self.input = input
    }
}

extension RuleEvaluator {
    /// Renders the alert of rule `index` for the event last evaluated.
    public func render(rule index: Int, time: Int64, auditID: String, input: String) -> Alert {
        let rule = ruleSet.rules[index]
        var message = ""
        func text(_ slot: Int) -> (String?, Bool) {
            let values = self.values(ofSlot: slot)
            let isList = ruleSet.fields[slot].definition.isList
            if values.isEmpty { return (nil, isList) }
            let strings = values.map { String(decoding: $0, as: UTF8.self) }
            if isList { return ("(" + strings.joined(separator: ",") + ")", true) }
            return (strings[0], false)
        }
        for segment in rule.output {
            switch segment {
            case .text(let t): message += t
            case .field(let slot): message += text(slot).0 ?? "<NA>"
            }
        }
        var fields: [(name: String, values: [String]?, isList: Bool)] = []
        for slot in rule.outputFields {
            let values = self.values(ofSlot: slot)
            let isList = ruleSet.fields[slot].definition.isList
            fields.append((ruleSet.fields[slot].displayName, values.isEmpty ? nil : values.map { String(decoding: $0, as: UTF8.self) }, isList))
        }
        return Alert(rule: rule.name, priority: rule.priority, time: time, message: message, outputFields: fields,
                     tags: rule.tags, source: rule.source, auditID: auditID, input: input)
    }
}

/// Formats times as Falco does.
public enum TimeFormat {
    static func civil(_ nanos: Int64) -> (y: Int, mo: Int, d: Int, h: Int, mi: Int, s: Int, ns: Int) {
        var secs = nanos / 1_000_000_000
        var ns = Int(nanos % 1_000_000_000)
        if ns < 0 { ns += 1_000_000_000; secs -= 1 }
        var days = Int(secs / 86_400)
        var rem = Int(secs % 86_400)
        if rem < 0 { rem += 86_400; days -= 1 }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return (y, m, d, rem / 3600, (rem % 3600) / 60, rem % 60, ns)
    }

    static func pad(_ v: Int, _ width: Int) -> String {
        if v >= 0 && width <= 9 {
            // Fixed-width digits without intermediate strings.
            var digits: [UInt8] = Array(repeating: 0x30, count: width)
            var x = v
            var k = width - 1
            while k >= 0 && x > 0 {
                digits[k] = UInt8(0x30 + x % 10)
                x /= 10
                k -= 1
            }
            if x == 0 { return String(decoding: digits, as: UTF8.self) }
        }
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// `2026-11-23T10:00:00.123456789Z` (UTC, nine fraction digits), as in Falco's JSON `time`.
    public static func rfc3339(_ nanos: Int64) -> String {
        let c = civil(nanos)
        return "\(pad(c.y, 4))-\(pad(c.mo, 2))-\(pad(c.d, 2))T\(pad(c.h, 2)):\(pad(c.mi, 2)):\(pad(c.s, 2)).\(pad(c.ns, 9))Z"
    }

    /// `10:00:00.123456789` (UTC time of day), the prefix of Falco's text output.
    public static func timeOfDay(_ nanos: Int64) -> String {
        let c = civil(nanos)
        return "\(pad(c.h, 2)):\(pad(c.mi, 2)):\(pad(c.s, 2)).\(pad(c.ns, 9))"
    }
}

/// Makes text from the log safe for a terminal: control characters (C0, DEL, C1) — which include the
/// ESC of ANSI sequences — become visible escapes (`\x1b`, `\n`, `\u{85}`), and so do the invisible
/// characters that reorder or hide text (bidi controls, line/paragraph separators, zero-width
/// space, word joiner and invisible operators, BOM, interlinear annotation, tag characters); invalid UTF-8 has
/// already become U+FFFD.
public enum TextEscaper {
    public static func escape(_ s: String) -> String {
        // Most text is printable ASCII and comes back unchanged: one pass over the bytes decides.
        var text = s
        let plain = text.withUTF8 { bytes -> Bool in
            for b in bytes where b < 0x20 || b >= 0x7F { return false }
            return true
        }
        if plain { return text }
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for u in s.unicodeScalars {
            switch u.value {
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x00..<0x20, 0x7F:
                out += "\\x" + hex2(UInt8(u.value))
            case 0x80..<0xA0, 0x061C, 0x200E, 0x200F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069,
                 0x200B, 0x2060...0x2064, 0xFEFF, 0xFFF9...0xFFFB, 0xE0000...0xE007F:  // zero-width, BOM, tags
                out += "\\u{" + String(u.value, radix: 16) + "}"
            default:
                out.unicodeScalars.append(u)
            }
        }
        return out
    }

    static func hex2(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String(digits[Int(b >> 4)]) + String(digits[Int(b & 15)])
    }
}

/// JSON string escaping (always valid JSON: control characters escaped, U+2028/9 escaped).
public enum JSONEscaper {
    public static func quote(_ s: String, into out: inout String) {
        out += "\""
        // Most text needs no escape at all: printable ASCII without quotes or backslashes.
        var text = s
        let plain = text.withUTF8 { bytes -> Bool in
            for b in bytes where b < 0x20 || b >= 0x7F || b == 0x22 || b == 0x5C { return false }
            return true
        }
        if plain {
            out += text
            out += "\""
            return
        }
        for u in s.unicodeScalars {
            switch u.value {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x00..<0x20, 0x7F, 0x2028, 0x2029:
                out += "\\u" + hex4(u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }

    static func hex4(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }

    public static func quote(_ s: String) -> String {
        var out = ""
        quote(s, into: &out)
        return out
    }
}

/// Alert formats: text for people, JSON (Falco's alert object plus AuditHound's keys) for machines.
public enum AlertFormatter {
    /// `2026-11-23T10:00:00.123456789Z Warning [Rule name] message` with log-controlled text escaped.
    public static func text(_ a: Alert) -> String {
        "\(TimeFormat.rfc3339(a.time)) \(a.priority.name) [\(TextEscaper.escape(a.rule))] \(TextEscaper.escape(a.message))"
    }

    /// One line of JSON with Falco's keys (`hostname`, `output`, `output_fields`, `priority`, `rule`,
    /// `source`, `tags`, `time`) plus `audit_id`, `input` and, for stateful rules, `evidence`; keys sorted as
    /// Falco sorts them. `output` is Falco's full line: `HH:MM:SS.nnnnnnnnn: Priority message`.
    public static func json(_ a: Alert, hostname: String) -> String {
        var s = "{\"audit_id\":"
        JSONEscaper.quote(a.auditID, into: &s)
        if !a.evidence.isEmpty {
            s += ",\"evidence\":{"
            for (k, (key, values)) in a.evidence.sorted(by: { $0.key < $1.key }).enumerated() {
                if k > 0 { s += "," }
                JSONEscaper.quote(key, into: &s)
                s += ":["
                for (i, v) in values.enumerated() {
                    if i > 0 { s += "," }
                    JSONEscaper.quote(v, into: &s)
                }
                s += "]"
            }
            s += "}"
        }
        s += ",\"hostname\":"
        JSONEscaper.quote(hostname, into: &s)
        s += ",\"input\":"
        JSONEscaper.quote(a.input, into: &s)
        s += ",\"output\":"
        JSONEscaper.quote("\(TimeFormat.timeOfDay(a.time)): \(a.priority.name) \(a.message)", into: &s)
        s += ",\"output_fields\":{"
        var entries: [(String, String)] = [("evt.time", String(a.time))]
        for f in a.outputFields where f.name != "evt.time" {
            var v = ""
            if let values = f.values {
                if f.isList {
                    v = "["
                    for (i, x) in values.enumerated() {
                        if i > 0 { v += "," }
                        JSONEscaper.quote(x, into: &v)
                    }
                    v += "]"
                } else {
                    JSONEscaper.quote(values[0], into: &v)
                }
            } else {
                v = "null"
            }
            entries.append((f.name, v))
        }
        for (i, e) in entries.sorted(by: { $0.0 < $1.0 }).enumerated() {
            if i > 0 { s += "," }
            JSONEscaper.quote(e.0, into: &s)
            s += ":" + e.1
        }
        s += "},\"priority\":"
        JSONEscaper.quote(a.priority.name, into: &s)
        s += ",\"rule\":"
        JSONEscaper.quote(a.rule, into: &s)
        s += ",\"source\":"
        JSONEscaper.quote(a.source, into: &s)
        s += ",\"tags\":["
        for (i, t) in Array(Set(a.tags)).sorted().enumerated() {
            if i > 0 { s += "," }
            JSONEscaper.quote(t, into: &s)
        }
        s += "],\"time\":"
        JSONEscaper.quote(TimeFormat.rfc3339(a.time), into: &s)
        s += "}"
        return s
    }
}

// The `aggregate:` key of a rule: what a stateful rule counts, per which key, over which event-time window.

/// The kind of stateful detection a rule performs.
public enum AggregateKind: String, Sendable, CaseIterable {
    /// At least `count` matching events per key within `window`.
    case threshold
    /// At least N distinct values of one or more fields per key within `window` (optionally at most
    /// `max_count` events: broad but sparse activity).
    case distinct
    /// A key never seen before (after a learning period; learned values are forgotten after a while).
    case firstSeen = "first_seen"
    /// The rule's condition, then the `then` condition for the same key within `within`.
    case sequence
}

/// One field of an aggregation key or distinct value: a field as written in conditions
/// (`ka.user.name`, `ka.uri.param[x]`), optionally reduced to its network (`ka.sourceip/24`).
public struct AggregateField: Sendable, Equatable, CustomStringConvertible {
    /// The field name with its argument, e.g. `ka.sourceip` or `jevt.value[/user/extra]`.
    public var field: String
    /// For `field/N`: IPv4 addresses are reduced to their /N network, IPv6 addresses to their /64.
    public var networkPrefix: Int?
    /// Where it was written.
    public var location: SourceLocation

    /// A key or distinct field.
    public init(field: String, networkPrefix: Int? = nil, location: SourceLocation) {
        self.field = field
        self.networkPrefix = networkPrefix
        self.location = location
    }

    /// Same field and prefix (the location does not count).
    public static func == (a: AggregateField, b: AggregateField) -> Bool {
        a.field == b.field && a.networkPrefix == b.networkPrefix
    }

    /// As written: `ka.sourceip/24`.
    public var description: String { networkPrefix.map { "\(field)/\($0)" } ?? field }
}

/// One distinct-count condition: the number of distinct values of `fields` (taken together) must
/// reach `count`.
public struct DistinctCondition: Sendable, Equatable {
    /// The fields whose values, joined with `/`, are counted.
    public var fields: [AggregateField]
    /// Distinct values needed.
    public var count: Int

    /// `ka.target.name` or `ka.target.namespace+ka.target.name`.
    public var name: String { fields.map(\.description).joined(separator: "+") }
}

/// A rule's `aggregate:` mapping, checked by the loader.
public struct AggregateSpec: Sendable {
    /// What the rule detects.
    public var kind: AggregateKind
    /// The fields whose values form the key that events are grouped by (empty: one group).
    public var key: [AggregateField]
    /// threshold, distinct: the window length in nanoseconds of event time.
    public var window: Int64 = 0
    /// threshold: events needed per key and window.
    public var count: Int = 0
    /// distinct: every condition must hold.
    public var distinct: [DistinctCondition] = []
    /// distinct: at most this many events in the window (the alert then comes when the window closes).
    public var maxCount: Int? = nil
    /// first_seen: how long (event time from the first observation) values are learned silently.
    public var learning: Int64 = 0
    /// first_seen: a learned value not seen for this long is forgotten (nil: never).
    public var forgetAfter: Int64? = nil
    /// first_seen: how often a value must be seen while learning to count as known.
    public var minObservations: Int = 1
    /// sequence: the second step, a rule name or a condition.
    public var then: LocatedText? = nil
    /// sequence: the longest time between the first step and `then`.
    public var within: Int64 = 0
    /// Most keys kept for this rule (least recently used ones are evicted beyond it); nil: the default.
    public var maxKeys: Int? = nil
    /// Where the `aggregate:` key is.
    public var location: SourceLocation

    /// Keys kept when `max_keys` is not given.
    public static let defaultMaxKeys = 10_000
    /// Values kept for first_seen rules when `max_keys` is not given.
    public static let defaultMaxBaselineKeys = 100_000

    /// The effective key limit.
    public var keyLimit: Int { maxKeys ?? (kind == .firstSeen ? Self.defaultMaxBaselineKeys : Self.defaultMaxKeys) }

    /// What saved state depends on: the kind, the key and distinct fields and the `then` step. State
    /// saved under another fingerprint is not loaded.
    public var fingerprint: String {
        var s = kind.rawValue + "|" + key.map(\.description).joined(separator: ",")
        if !distinct.isEmpty { s += "|" + distinct.map(\.name).joined(separator: ",") }
        if let then { s += "|" + then.text }
        return s
    }
}

// MARK: - Durations

/// Event-time durations written as `30s`, `5m`, `1h30m`, `7d`, `500ms`.
public enum StatefulDuration {
    /// One second in nanoseconds.
    public static let nanosPerSecond: Int64 = 1_000_000_000

    /// Parses one or more `<number><unit>` parts (units ms, s, m, h, d, w); nil when malformed.
    /// A bare `0` is zero.
    public static func parse(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        if bytes == [UInt8(ascii: "0")] { return 0 }
        var i = 0
        var total: Int64 = 0
        var parts = 0
        while i < bytes.count {
            var n: Int64 = 0
            let start = i
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
                n = n * 10 + Int64(bytes[i] - 0x30)
                i += 1
                if n > 1 << 40 { return nil }
            }
            guard i > start else { return nil }
            let unitStart = i
            while i < bytes.count, (bytes[i] >= 0x61 && bytes[i] <= 0x7A) { i += 1 }
            let scale: Int64
            switch String(decoding: bytes[unitStart..<i], as: UTF8.self) {
            case "ms": scale = 1_000_000
            case "s": scale = nanosPerSecond
            case "m": scale = 60 * nanosPerSecond
            case "h": scale = 3600 * nanosPerSecond
            case "d": scale = 86_400 * nanosPerSecond
            case "w": scale = 7 * 86_400 * nanosPerSecond
            default: return nil
            }
            let (product, overflow) = n.multipliedReportingOverflow(by: scale)
            guard !overflow, product <= Int64.max - total else { return nil }
            total += product
            parts += 1
        }
        return parts > 0 ? total : nil
    }

    /// `5m`, `1h30m`, `7d`, `2m30s`, `250ms` (the largest units first; `0s` for zero).
    public static func format(_ nanos: Int64) -> String {
        if nanos <= 0 { return "0s" }
        var rest = nanos
        var s = ""
        for (unit, scale) in [("d", 86_400 * nanosPerSecond), ("h", 3600 * nanosPerSecond), ("m", 60 * nanosPerSecond),
                              ("s", nanosPerSecond), ("ms", 1_000_000)] where rest >= scale {
            s += "\(rest / scale)\(unit)"
            rest %= scale
        }
        return s.isEmpty ? "\(nanos)ns" : s
    }
}

// MARK: - Parsing

/// Reads the `aggregate:` mapping of a rule. Every problem is reported with its file position.
enum AggregateSpecParser {
    static let commonKeys: Set<String> = ["type", "key", "max_keys"]
    static let keysByKind: [AggregateKind: Set<String>] = [
        .threshold: ["window", "count"],
        .distinct: ["window", "distinct", "max_count"],
        .firstSeen: ["learning", "forget_after", "min_observations"],
        .sequence: ["then", "within"],
    ]

    /// Parses `node`; `loc` turns YAML positions into file positions; `located` keeps a scalar's
    /// position information (for `then:` conditions).
    static func parse(_ node: YAMLNode, rule: String, loc: (YAMLPosition) -> SourceLocation,
                      located: (YAMLScalar) -> LocatedText) -> (AggregateSpec?, [RuleDiagnostic]) {
        var problems: [RuleDiagnostic] = []
        func error(_ p: YAMLPosition, _ message: String, _ snippet: String? = nil) {
            problems.append(RuleDiagnostic(loc(p), .error, "aggregate of rule '\(rule)': \(message)", snippet: snippet))
        }
        guard case .mapping(let pairs, let position) = node else {
            error(node.position, "must be a mapping with type, key and the type's settings, e.g. {type: threshold, key: [ka.sourceip], window: 5m, count: 20}")
            return (nil, problems)
        }
        var map: [String: (key: YAMLScalar, value: YAMLNode)] = [:]
        for pair in pairs { map[pair.key.value] = pair }
        guard let typeEntry = map["type"] else {
            error(position, "needs a type: threshold, distinct, first_seen or sequence")
            return (nil, problems)
        }
        guard case .scalar(let typeScalar) = typeEntry.value, let kind = AggregateKind(rawValue: typeScalar.value) else {
            error(typeEntry.value.position, "unknown type (expected threshold, distinct, first_seen or sequence)", typeEntry.value.scalar?.value)
            return (nil, problems)
        }
        let allowed = commonKeys.union(keysByKind[kind]!)
        for pair in pairs where !allowed.contains(pair.key.value) {
            let all = Set(keysByKind.values.flatMap { $0 })
            if all.contains(pair.key.value) {
                error(pair.key.position, "'\(pair.key.value)' does not apply to type \(kind.rawValue) (its settings: \(keysByKind[kind]!.sorted().joined(separator: ", ")))", pair.key.value)
            } else {
                error(pair.key.position, "unknown setting '\(pair.key.value)' (allowed for \(kind.rawValue): \(allowed.sorted().joined(separator: ", ")))", pair.key.value)
            }
        }
        var spec = AggregateSpec(kind: kind, key: [], location: loc(map["type"]!.key.position))

        func fields(_ node: YAMLNode, what: String) -> [AggregateField]? {
            var scalars: [YAMLScalar] = []
            switch node {
            case .scalar(let s):
                if s.isNull { return [] }
                scalars = [s]
            case .sequence(let items, _):
                for item in items {
                    guard case .scalar(let s) = item, !s.isNull else {
                        error(item.position, "\(what) must be field names")
                        return nil
                    }
                    scalars.append(s)
                }
            case .mapping(_, let p):
                error(p, "\(what) must be a field or a list of fields, e.g. [ka.user.name, ka.sourceip]")
                return nil
            }
            var out: [AggregateField] = []
            for s in scalars {
                guard let f = field(s.value, at: loc(s.position)) else {
                    error(s.position, "'\(s.value)' is not a field (write a field name, optionally with /N for a network prefix)", s.value)
                    return nil
                }
                out.append(f)
            }
            return out
        }
        func positiveInt(_ name: String, required: Bool) -> Int? {
            guard let entry = map[name] else {
                if required { error(position, "type \(kind.rawValue) needs '\(name)'") }
                return nil
            }
            guard case .scalar(let s) = entry.value, let n = Int(s.value), n >= 1, n <= 1 << 30 else {
                error(entry.value.position, "'\(name)' must be a whole number from 1", entry.value.scalar?.value)
                return nil
            }
            return n
        }
        func duration(_ name: String, required: Bool, allowZero: Bool = false) -> Int64? {
            guard let entry = map[name] else {
                if required { error(position, "type \(kind.rawValue) needs '\(name)' (a duration such as 5m)") }
                return nil
            }
            guard case .scalar(let s) = entry.value, let d = StatefulDuration.parse(s.value), d > 0 || (allowZero && d == 0) else {
                error(entry.value.position, "'\(name)' must be a duration such as 30s, 5m, 2h or 7d", entry.value.scalar?.value)
                return nil
            }
            return d
        }

        if let k = map["key"] {
            if let f = fields(k.value, what: "key") { spec.key = f }
        } else if kind != .firstSeen {
            // A key is optional for windows and sequences (one group for everything), required for
            // first_seen (the key is the value that is new or not).
        } else {
            error(position, "type first_seen needs 'key': the field(s) whose value combination is new or known")
        }
        if kind == .firstSeen && map["key"] != nil && spec.key.isEmpty {
            error(map["key"]!.value.position, "type first_seen needs at least one key field")
        }
        spec.maxKeys = positiveInt("max_keys", required: false)

        switch kind {
        case .threshold:
            spec.window = duration("window", required: true) ?? 0
            spec.count = positiveInt("count", required: true) ?? 0
        case .distinct:
            spec.window = duration("window", required: true) ?? 0
            spec.maxCount = positiveInt("max_count", required: false)
            guard let entry = map["distinct"] else {
                error(position, "type distinct needs 'distinct': {field: F, count: N} or a list of them")
                break
            }
            var items: [YAMLNode] = []
            if case .sequence(let list, _) = entry.value { items = list } else { items = [entry.value] }
            if items.isEmpty { error(entry.value.position, "'distinct' needs at least one {field: F, count: N}") }
            for item in items {
                guard case .mapping(let itemPairs, let itemPosition) = item else {
                    error(item.position, "each distinct condition must be a mapping {field: F, count: N}")
                    continue
                }
                var fieldsNode: YAMLNode? = nil
                var count: Int? = nil
                for (k, v) in itemPairs {
                    switch k.value {
                    case "field", "fields": fieldsNode = v
                    case "count":
                        if case .scalar(let s) = v, let n = Int(s.value), n >= 1, n <= 1 << 20 { count = n } else {
                            error(v.position, "distinct 'count' must be a whole number from 1", v.scalar?.value)
                        }
                    default:
                        error(k.position, "unknown distinct setting '\(k.value)' (expected field and count)", k.value)
                    }
                }
                guard let fieldsNode else {
                    error(itemPosition, "a distinct condition needs 'field'")
                    continue
                }
                guard let f = fields(fieldsNode, what: "distinct field"), !f.isEmpty else { continue }
                guard let count else {
                    if !itemPairs.contains(where: { $0.key.value == "count" }) { error(itemPosition, "a distinct condition needs 'count'") }
                    continue
                }
                spec.distinct.append(DistinctCondition(fields: f, count: count))
            }
        case .firstSeen:
            spec.learning = duration("learning", required: false, allowZero: true) ?? 7 * 86_400 * StatefulDuration.nanosPerSecond
            spec.forgetAfter = duration("forget_after", required: false)
            spec.minObservations = positiveInt("min_observations", required: false) ?? 1
        case .sequence:
            spec.within = duration("within", required: true) ?? 0
            if let entry = map["then"] {
                if case .scalar(let s) = entry.value, !s.isNull, !s.value.allSatisfy({ $0 == " " || $0 == "\n" }) {
                    spec.then = located(s)
                } else {
                    error(entry.value.position, "'then' must be a rule name or a condition")
                }
            } else {
                error(position, "type sequence needs 'then': the rule name or condition of the second step")
            }
        }
        return (problems.isEmpty ? spec : nil, problems)
    }

    /// `ka.sourceip`, `ka.uri.param[x]`, `ka.sourceip/24` (the prefix must follow the name or `]`).
    static func field(_ text: String, at location: SourceLocation) -> AggregateField? {
        var name = text
        var prefix: Int? = nil
        let closing = text.lastIndex(of: "]")
        let hasArgument = text.contains("[")
        if let slash = text.lastIndex(of: "/"), hasArgument ? (closing.map { slash > $0 } ?? false) : true {
            let digits = text[text.index(after: slash)...]
            guard let n = Int(digits), n >= 0, n <= 32 else { return nil }
            prefix = n
            name = String(text[..<slash])
        }
        guard let first = name.unicodeScalars.first, first.properties.isAlphabetic,
              !name.contains(" ") else { return nil }
        return AggregateField(field: name, networkPrefix: prefix, location: location)
    }
}

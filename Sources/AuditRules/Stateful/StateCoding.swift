import AuditJSON

/// Reading and writing the pieces of the stateful state file (JSON).
enum StateCoding {
    // MARK: Writing

    static func write(_ strings: [String], into w: inout String) {
        w += "["
        for (i, s) in strings.enumerated() {
            if i > 0 { w += "," }
            JSONEscaper.quote(s, into: &w)
        }
        w += "]"
    }

    /// A time that may be unset (`Int64.min`) as a number or null.
    static func time(_ t: Int64) -> String { t == .min ? "null" : String(t) }

    /// An observation, under its rule's name.
    static func write(_ o: Observation, name: String, into w: inout String) {
        w += "{\"rule\":"
        JSONEscaper.quote(name, into: &w)
        w += ",\"step\":\(o.step),\"time\":\(o.time),\"occurrences\":\(o.occurrences),\"last_time\":\(o.lastTime),\"key\":"
        write(o.keyValues, into: &w)
        w += ",\"distinct\":"
        write(o.distinct, into: &w)
        w += ",\"audit_id\":"
        JSONEscaper.quote(o.auditID, into: &w)
        w += ",\"source\":"
        JSONEscaper.quote(o.source, into: &w)
        w += ",\"line\":\(o.line),\"item\":\(o.item),\"output\":["
        for (i, f) in o.outputValues().enumerated() {
            if i > 0 { w += "," }
            if let f { write(f, into: &w) } else { w += "null" }
        }
        w += "]}"
    }

    // MARK: Reading

    static func required(_ v: JSONValue?, _ what: String) throws(StatefulStateError) -> JSONValue {
        guard let v, !v.isNull else { throw StatefulStateError(message: "missing \(what)") }
        return v
    }

    static func int(_ v: JSONValue?, _ what: String) throws(StatefulStateError) -> Int64 {
        guard let n = v?.int64Value else { throw StatefulStateError(message: "\(what) must be a whole number") }
        return n
    }

    static func time(_ v: JSONValue?, _ what: String) throws(StatefulStateError) -> Int64 {
        if v == nil || v!.isNull { return .min }
        return try int(v, what)
    }

    static func string(_ v: JSONValue?, _ what: String) throws(StatefulStateError) -> String {
        guard let v, v.isString else { throw StatefulStateError(message: "\(what) must be a string") }
        return v.decodedString()
    }

    static func array(_ v: JSONValue?, _ what: String) throws(StatefulStateError) -> [JSONValue] {
        guard let v, v.kind == .array else { throw StatefulStateError(message: "\(what) must be a list") }
        var out: [JSONValue] = []
        for e in v.elements { out.append(e) }
        return out
    }

    static func strings(_ v: JSONValue?, _ what: String) throws(StatefulStateError) -> [String] {
        var out: [String] = []
        for e in try array(v, what) { out.append(try string(e, what)) }
        return out
    }

    /// An observation and its rule's name (its `rule` index is not set).
    static func observation(_ v: JSONValue) throws(StatefulStateError) -> (String, Observation) {
        let name = try string(v.member("rule"), "rule")
        var output: [[String]?] = []
        for f in try array(v.member("output"), "output") { output.append(f.isNull ? nil : try strings(f, "output values")) }
        let time = try int(v.member("time"), "time")
        let o = Observation(rule: -1, step: Int(try int(v.member("step"), "step")), time: time,
                            occurrences: Int(max(1, try int(v.member("occurrences"), "occurrences"))),
                            lastTime: try int(v.member("last_time"), "last_time"),
                            key: try strings(v.member("key"), "key").joined(separator: "\u{1F}"),
                            distinct: try strings(v.member("distinct"), "distinct"),
                            auditID: try string(v.member("audit_id"), "audit_id"), source: try string(v.member("source"), "source"),
                            line: Int(try int(v.member("line"), "line")), item: Int(try int(v.member("item"), "item")),
                            output: output)
        return (name, o)
    }
}

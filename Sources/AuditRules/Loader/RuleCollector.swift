/// A rule file's path and text.
public struct RuleFile: Sendable {
    public var path: String
    public var text: String

    public init(path: String, text: String) {
        self.path = path
        self.text = text
    }
}

/// Everything loaded from the rule files, with appends and overrides applied, in load order.
public struct RuleCollection: Sendable {
    public var rules: [RuleDefinition] = []
    public var macros: [String: MacroDefinition] = [:]
    public var lists: [String: ListDefinition] = [:]
    public var diagnostics: [RuleDiagnostic] = []
    /// Rules skipped because their `source` is not `k8s_audit`.
    public var skippedRules: [String] = []

    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
}

/// Reads rule files in order and merges their items as Falco does.
///
/// - A later `- list:`/`- macro:` with the name of an earlier one replaces it, or extends it with
///   `append: true` or `override: {items|condition: append}`.
/// - A later `- rule:` with an existing name must say `append: true` or `override:`; a rule item holding
///   only `enabled:` switches an existing rule on or off. Redefining a rule without either is an error in
///   the same file and replaces the earlier rule (with a notice) in a later file.
/// - A rule without `source` is a `k8s_audit` rule (AuditHound only reads audit logs); rules for other
///   sources are skipped with a notice.
/// Every problem is collected; nothing stops at the first one.
public enum RuleCollector {
    public static func collect(_ files: [RuleFile]) -> RuleCollection {
        var c = Collector()
        for file in files { c.load(file) }
        return c.result
    }
}

private let ruleKeys: Set<String> = ["rule", "condition", "output", "priority", "desc", "tags", "enabled", "source", "exceptions",
                                     "append", "override", "skip-if-unknown-filter", "warn_evttypes", "capture", "capture_duration",
                                     "aggregate", "fields", "level"]
private let macroKeys: Set<String> = ["macro", "condition", "append", "override", "source"]
private let listKeys: Set<String> = ["list", "items", "append", "override", "source"]

private struct Collector {
    var result = RuleCollection()
    var ruleIndex: [String: Int] = [:]
    var ruleFile: [String: String] = [:]
    /// Rules skipped because of their source.
    var skipped: Set<String> = []
    var order = 0
    var path = ""

    func loc(_ p: YAMLPosition) -> SourceLocation { SourceLocation(path: path, line: p.line, column: p.column) }

    mutating func error(_ p: YAMLPosition, _ message: String, _ snippet: String? = nil) {
        result.diagnostics.append(RuleDiagnostic(loc(p), .error, message, snippet: snippet))
    }

    mutating func warning(_ p: YAMLPosition, _ message: String, _ severity: RuleDiagnostic.Severity = .warning) {
        result.diagnostics.append(RuleDiagnostic(loc(p), severity, message))
    }

    mutating func load(_ file: RuleFile) {
        path = file.path
        let root: YAMLNode?
        do {
            root = try YAMLReader.parse(file.text)
        } catch {
            let lines = file.text.split(separator: "\n", omittingEmptySubsequences: false)
            let snippet = error.position.line >= 1 && error.position.line <= lines.count ? String(lines[error.position.line - 1]) : nil
            self.error(error.position, "YAML: \(error.message)", snippet)
            return
        }
        guard let root else { return }
        guard case .sequence(let items, _) = root else {
            error(root.position, "a rule file must be a YAML sequence of rule, macro and list items")
            return
        }
        for item in items {
            guard case .mapping(let pairs, let position) = item else {
                error(item.position, "expected a mapping (- rule:, - macro: or - list:)")
                continue
            }
            var map: [String: (key: YAMLScalar, value: YAMLNode)] = [:]
            for pair in pairs { map[pair.key.value] = pair }
            if map["rule"] != nil {
                loadRule(map, position)
            } else if map["macro"] != nil {
                loadMacro(map, position)
            } else if map["list"] != nil {
                loadList(map, position)
            } else if map["required_engine_version"] != nil || map["required_plugin_versions"] != nil {
                continue
            } else {
                error(position, "unknown item: expected one of rule, macro, list, required_engine_version, required_plugin_versions",
                      pairs.first?.key.value)
            }
        }
    }

    // MARK: Helpers

    mutating func scalar(_ map: [String: (key: YAMLScalar, value: YAMLNode)], _ key: String) -> YAMLScalar? {
        guard let entry = map[key] else { return nil }
        guard case .scalar(let s) = entry.value else {
            error(entry.value.position, "'\(key)' must be a single value")
            return nil
        }
        return s
    }

    mutating func bool(_ map: [String: (key: YAMLScalar, value: YAMLNode)], _ key: String) -> Bool? {
        guard let s = scalar(map, key) else { return nil }
        switch s.value.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            error(s.position, "'\(key)' must be true or false", s.value)
            return nil
        }
    }

    mutating func stringList(_ node: YAMLNode, _ what: String) -> [String]? {
        switch node {
        case .sequence(let items, _):
            var out: [String] = []
            for item in items {
                guard case .scalar(let s) = item else {
                    error(item.position, "\(what) must hold plain values")
                    return nil
                }
                out.append(s.value)
            }
            return out
        case .scalar(let s):
            if s.isNull { return [] }
            error(s.position, "\(what) must be a list, e.g. [a, b]", s.value)
            return nil
        case .mapping(_, let p):
            error(p, "\(what) must be a list, e.g. [a, b]")
            return nil
        }
    }

    func located(_ s: YAMLScalar) -> LocatedText {
        LocatedText(text: s.value, location: loc(s.position),
                    lineStarts: s.segments.map { (offset: $0.valueOffset, line: $0.position.line, column: $0.position.column) })
    }

    /// Parses `override:` into key -> (append?, position of the key). Keys outside `replaceable` are errors,
    /// and so is `append` for keys outside `appendable`.
    mutating func overrides(_ map: [String: (key: YAMLScalar, value: YAMLNode)], appendable: Set<String>,
                            replaceable: Set<String>) -> [String: (append: Bool, position: YAMLPosition)]? {
        guard let entry = map["override"] else { return nil }
        guard case .mapping(let pairs, _) = entry.value else {
            error(entry.value.position, "'override' must map keys to append or replace, e.g. {condition: append}")
            return [:]
        }
        var out: [String: (append: Bool, position: YAMLPosition)] = [:]
        for (k, v) in pairs {
            guard replaceable.contains(k.value) else {
                error(k.position, "'\(k.value)' cannot be overridden here (allowed: \(replaceable.sorted().joined(separator: ", ")))", k.value)
                continue
            }
            guard case .scalar(let s) = v, s.value == "append" || s.value == "replace" else {
                error(v.position, "override of '\(k.value)' must be append or replace")
                continue
            }
            if s.value == "append" && !appendable.contains(k.value) {
                error(s.position, "'\(k.value)' can only be replaced, not appended to", s.value)
                continue
            }
            out[k.value] = (s.value == "append", k.position)
        }
        return out
    }

    /// Checks an override item against its `override:` map as Falco does: every overridable key the
    /// item gives must be listed in `override:`, and every key listed must be given. Returns false
    /// when there were problems (they are reported).
    mutating func checkOverride(_ map: [String: (key: YAMLScalar, value: YAMLNode)],
                                _ ov: [String: (append: Bool, position: YAMLPosition)],
                                overridable: [String], what: String) -> Bool {
        var ok = true
        for key in overridable where map[key] != nil && ov[key] == nil {
            error(map[key]!.key.position, "\(what) gives '\(key)' but override: does not say how to apply it (add \(key): append or \(key): replace)", key)
            ok = false
        }
        for (key, entry) in ov.sorted(by: { $0.key < $1.key }) where map[key] == nil {
            error(entry.position, "override of '\(key)' but \(what) gives no '\(key)'", key)
            ok = false
        }
        return ok
    }

    // MARK: Lists

    mutating func loadList(_ map: [String: (key: YAMLScalar, value: YAMLNode)], _ position: YAMLPosition) {
        guard let nameScalar = scalar(map, "list") else { return }
        let name = nameScalar.value
        for key in map.keys.sorted() where !listKeys.contains(key) { warning(map[key]!.key.position, "unknown key '\(key)' in list '\(name)' ignored") }
        let appendFlag = bool(map, "append") ?? false
        let ov = overrides(map, appendable: ["items"], replaceable: ["items"])
        if appendFlag, ov != nil {
            error(map["override"]!.key.position, "list '\(name)': 'append: true' and 'override' cannot be used together", name)
            return
        }
        if let ov, !checkOverride(map, ov, overridable: ["items"], what: "list '\(name)'") { return }
        guard let itemsEntry = map["items"] else {
            error(position, "list '\(name)' has no items", name)
            return
        }
        guard let items = stringList(itemsEntry.value, "list items") else { return }
        let appending = appendFlag || ov?["items"]?.append == true
        if appending {
            guard result.lists[name] != nil else {
                error(nameScalar.position, "cannot append to list '\(name)': no earlier definition", name)
                return
            }
            result.lists[name]!.items += items
        } else {
            result.lists[name] = ListDefinition(name: name, items: items, location: loc(nameScalar.position))
        }
    }

    // MARK: Macros

    mutating func loadMacro(_ map: [String: (key: YAMLScalar, value: YAMLNode)], _ position: YAMLPosition) {
        guard let nameScalar = scalar(map, "macro") else { return }
        let name = nameScalar.value
        for key in map.keys.sorted() where !macroKeys.contains(key) { warning(map[key]!.key.position, "unknown key '\(key)' in macro '\(name)' ignored") }
        if let source = scalar(map, "source"), !isAuditSource(source.value) { return }
        let appendFlag = bool(map, "append") ?? false
        let ov = overrides(map, appendable: ["condition"], replaceable: ["condition"])
        if appendFlag, ov != nil {
            error(map["override"]!.key.position, "macro '\(name)': 'append: true' and 'override' cannot be used together", name)
            return
        }
        if let ov, !checkOverride(map, ov, overridable: ["condition"], what: "macro '\(name)'") { return }
        guard let cond = scalar(map, "condition") else {
            error(position, "macro '\(name)' has no condition", name)
            return
        }
        if appendFlag || ov?["condition"]?.append == true {
            guard result.macros[name] != nil else {
                error(nameScalar.position, "cannot append to macro '\(name)': no earlier definition", name)
                return
            }
            result.macros[name]!.condition.append(located(cond))
        } else {
            result.macros[name] = MacroDefinition(name: name, condition: ConditionText(located(cond)), location: loc(nameScalar.position))
        }
    }

    // MARK: Rules

    mutating func loadRule(_ map: [String: (key: YAMLScalar, value: YAMLNode)], _ position: YAMLPosition) {
        guard let nameScalar = scalar(map, "rule") else { return }
        let name = nameScalar.value
        for key in map.keys.sorted() where !ruleKeys.contains(key) { warning(map[key]!.key.position, "unknown key '\(key)' in rule '\(name)' ignored") }
        if let source = scalar(map, "source"), !isAuditSource(source.value) {
            if !skipped.contains(name) { result.skippedRules.append(name) }
            skipped.insert(name)
            warning(source.position, "rule '\(name)' skipped: source '\(source.value)' is not k8s_audit", .notice)
            return
        }
        if ruleIndex[name] == nil, skipped.contains(name) {
            // An append, override or enabled item for a rule of another source.
            warning(nameScalar.position, "rule '\(name)' skipped: it changes a rule of another source", .notice)
            return
        }
        let appendFlag = bool(map, "append") ?? false
        let ov = overrides(map, appendable: ["condition", "output", "desc", "tags", "exceptions"],
                           replaceable: ["condition", "output", "desc", "priority", "tags", "exceptions", "enabled", "aggregate"])
        if appendFlag, ov != nil {
            error(map["override"]!.key.position, "rule '\(name)': 'append: true' and 'override' cannot be used together", name)
            return
        }
        let enabled = bool(map, "enabled")
        let priorityScalar = scalar(map, "priority")
        var priority: Priority? = nil
        if let p = priorityScalar {
            priority = Priority(parsing: p.value)
            if priority == nil {
                error(p.position, "unknown priority '\(p.value)' (expected Emergency, Alert, Critical, Error, Warning, Notice, Informational or Debug)", p.value)
            }
        }
        var tags: [String]? = nil
        if let t = map["tags"] { tags = stringList(t.value, "tags") }
        var exceptions: [RuleException]? = nil
        if let e = map["exceptions"] { exceptions = parseExceptions(e.value) }
        let condition = scalar(map, "condition")
        let output = scalar(map, "output")
        let desc = scalar(map, "desc")
        let aggregate = map["aggregate"].flatMap { parseAggregate($0.value, rule: name) }

        if let index = ruleIndex[name] {
            if appendFlag {
                if let condition { result.rules[index].condition.append(located(condition)) }
                if let exceptions { mergeExceptions(exceptions, into: index) }
                if output != nil || priorityScalar != nil || desc != nil || tags != nil || map["aggregate"] != nil {
                    warning(position, "append: true only appends condition and exceptions; other keys of rule '\(name)' ignored (use override:)")
                }
                if let enabled { result.rules[index].enabled = enabled }
                return
            }
            if let ov {
                let overridable = ["condition", "output", "desc", "priority", "tags", "exceptions", "enabled", "aggregate"]
                guard checkOverride(map, ov, overridable: overridable, what: "rule '\(name)'") else { return }
                func appends(_ key: String) -> Bool { ov[key]?.append == true }
                if let condition {
                    if appends("condition") { result.rules[index].condition.append(located(condition)) } else {
                        result.rules[index].condition = ConditionText(located(condition))
                    }
                }
                if let output {
                    if appends("output") { result.rules[index].outputSource.append(located(output)) } else {
                        result.rules[index].outputSource = ConditionText(located(output))
                    }
                }
                if let desc {
                    if appends("desc") { result.rules[index].description += " " + desc.value } else { result.rules[index].description = desc.value }
                }
                if let priority { result.rules[index].priority = priority }
                if let tags {
                    if appends("tags") { result.rules[index].tags += tags } else { result.rules[index].tags = tags }
                }
                if let exceptions {
                    if appends("exceptions") { mergeExceptions(exceptions, into: index) } else {
                        result.rules[index].exceptions = requireFields(exceptions)
                    }
                }
                if let enabled { result.rules[index].enabled = enabled }
                if let aggregate { result.rules[index].aggregate = aggregate }
                return
            }
            if let enabled, condition == nil, output == nil, desc == nil, priorityScalar == nil, tags == nil, exceptions == nil,
               map["aggregate"] == nil {
                result.rules[index].enabled = enabled
                return
            }
            if ruleFile[name] == path {
                error(nameScalar.position, "duplicate rule '\(name)' (use append: true or override: to change an existing rule)", name)
                return
            }
            warning(nameScalar.position, "rule '\(name)' replaces its earlier definition", .notice)
        } else if appendFlag || ov != nil {
            error(nameScalar.position, "cannot append to or override rule '\(name)': no earlier definition", name)
            return
        } else if enabled != nil && condition == nil && output == nil {
            error(nameScalar.position, "cannot enable or disable rule '\(name)': no earlier definition", name)
            return
        }

        var missing: [String] = []
        if condition == nil { missing.append("condition") }
        if output == nil { missing.append("output") }
        if priorityScalar == nil { missing.append("priority") }
        if desc == nil { missing.append("desc") }
        if !missing.isEmpty { error(nameScalar.position, "rule '\(name)' lacks \(missing.joined(separator: ", "))", name) }
        // A rule with problems is still kept when it has a condition (the load has failed anyway): its
        // condition and output are then checked too, and later items that change it find it.
        guard let condition else { return }
        let outputText = output.map(located) ?? LocatedText(text: "", location: loc(nameScalar.position))
        let rule = RuleDefinition(name: name, condition: ConditionText(located(condition)), outputSource: ConditionText(outputText),
                                  priority: priority ?? .warning, description: desc?.value ?? "", tags: tags ?? [], enabled: enabled ?? true,
                                  source: "k8s_audit", exceptions: requireFields(exceptions ?? []), location: loc(nameScalar.position),
                                  order: order, aggregate: aggregate)
        order += 1
        if let index = ruleIndex[name] {
            result.rules[index] = rule
        } else {
            ruleIndex[name] = result.rules.count
            result.rules.append(rule)
        }
        ruleFile[name] = path
    }

    /// Falco's exception append: an exception with a new name is added (it needs fields); values given
    /// for an existing name are added to that exception (fields and comps cannot change).
    mutating func mergeExceptions(_ new: [RuleException], into index: Int) {
        for ex in new {
            if let k = result.rules[index].exceptions.firstIndex(where: { $0.name == ex.name }) {
                if ex.hasFields || ex.hasComps {
                    error(at: ex.location, "exception '\(ex.name)' of rule '\(result.rules[index].name)' exists: appending can add values only, not fields or comps")
                    continue
                }
                result.rules[index].exceptions[k].values += ex.values
            } else {
                result.rules[index].exceptions += requireFields([ex])
            }
        }
    }

    /// The exceptions that have fields; the others are reported.
    mutating func requireFields(_ exceptions: [RuleException]) -> [RuleException] {
        exceptions.filter { ex in
            if !ex.hasFields { error(at: ex.location, "exception '\(ex.name)' needs fields") }
            return ex.hasFields
        }
    }

    mutating func error(at location: SourceLocation, _ message: String) {
        result.diagnostics.append(RuleDiagnostic(location, .error, message))
    }

    /// Reads a rule's `aggregate:` mapping (problems are reported; nil when it has any).
    mutating func parseAggregate(_ node: YAMLNode, rule: String) -> AggregateSpec? {
        let (spec, problems) = AggregateSpecParser.parse(node, rule: rule, loc: { self.loc($0) }, located: { self.located($0) })
        result.diagnostics += problems
        return spec
    }

    func isAuditSource(_ s: String) -> Bool { s == "k8s_audit" || s == "k8saudit" || s == "k8s-audit" }

    mutating func parseExceptions(_ node: YAMLNode) -> [RuleException]? {
        guard case .sequence(let items, _) = node else {
            error(node.position, "exceptions must be a list of {name, fields, comps, values}")
            return nil
        }
        var out: [RuleException] = []
        for item in items {
            guard case .mapping(let pairs, let p) = item else {
                error(item.position, "an exception must be a mapping with name, fields, comps, values")
                continue
            }
            var map: [String: YAMLNode] = [:]
            for (k, v) in pairs { map[k.value] = v }
            guard case .scalar(let nameScalar)? = map["name"] else {
                error(p, "exception without a name")
                continue
            }
            var fields: [String] = []
            var fieldsIsList = false
            switch map["fields"] {
            case .scalar(let s)?: fields = [s.value]
            case .sequence?:
                guard let list = stringList(map["fields"]!, "exception fields") else { continue }
                fields = list
                fieldsIsList = true
            case .mapping(_, let fp)?:
                error(fp, "exception '\(nameScalar.value)': fields must be a field or a list of fields")
                continue
            case nil:
                break
            }
            var comps: [String] = []
            switch map["comps"] {
            case .scalar(let s)?: comps = [s.value]
            case .sequence?:
                guard let list = stringList(map["comps"]!, "exception comps") else { continue }
                comps = list
            case nil: comps = []
            case .mapping(_, let cp)?:
                error(cp, "exception comps must be an operator or a list of operators")
                continue
            }
            var values: [[[String]]] = []
            if let v = map["values"] {
                guard case .sequence(let tuples, _) = v else {
                    error(v.position, "exception values must be a list")
                    continue
                }
                for tuple in tuples {
                    switch tuple {
                    case .scalar(let s): values.append([[s.value]])
                    case .sequence(let elements, _):
                        var t: [[String]] = []
                        for e in elements {
                            switch e {
                            case .scalar(let s): t.append([s.value])
                            case .sequence: t.append(stringList(e, "exception value") ?? [])
                            case .mapping(_, let ep): error(ep, "exception values cannot be mappings")
                            }
                        }
                        values.append(t)
                    case .mapping(_, let tp): error(tp, "exception values cannot be mappings")
                    }
                }
            }
            out.append(RuleException(name: nameScalar.value, fields: fields, fieldsIsList: fieldsIsList, comps: comps, values: values,
                                     location: loc(nameScalar.position), hasFields: map["fields"] != nil, hasComps: map["comps"] != nil))
        }
        return out
    }
}

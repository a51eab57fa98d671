/// The result of compiling rule files: the rule set (nil when there were errors) and every diagnostic.
public struct RuleLoadResult: Sendable {
    public var ruleSet: CompiledRuleSet?
    public var collection: RuleCollection
    public var diagnostics: [RuleDiagnostic]

    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
}

/// Loads and compiles rule files: YAML -> collection (appends, overrides) -> macro expansion, list
/// resolution, field binding -> instruction sequences. Reports all problems at once.
public enum RuleCompiler {
    public static func load(_ files: [RuleFile], registry: FieldRegistry = .standard) -> RuleLoadResult {
        let collection = RuleCollector.collect(files)
        var compiler = Compiler(collection: collection, registry: registry)
        let set = compiler.compile()
        let diagnostics = collection.diagnostics + compiler.diagnostics
        let hasErrors = diagnostics.contains { $0.severity == .error }
        return RuleLoadResult(ruleSet: hasErrors ? nil : set, collection: collection, diagnostics: diagnostics)
    }
}

/// The boolean structure after macro expansion.
indirect enum Expr {
    case and([Expr]), or([Expr]), not(Expr), predicate(Int), constant(Bool)
}

private struct Compiler {
    let collection: RuleCollection
    let registry: FieldRegistry
    var diagnostics: [RuleDiagnostic] = []
    var fields: [BoundField] = []
    var fieldSlots: [String: Int] = [:]
    var instructions = ContiguousArray<Instruction>()
    var predicates = ContiguousArray<Predicate>()
    var sets: [ByteSet] = []
    var constants: [UnsafeMutableRawBufferPointer] = []
    var constantCache: [String: UnsafeRawBufferPointer] = [:]
    /// Parsed macro conditions (nil when the macro's condition has a syntax error, already reported).
    var macroASTs: [String: ConditionNode?] = [:]
    var reportedMacros: Set<String> = []
    var levels: AuditLevelNeeded = .metadata

    init(collection: RuleCollection, registry: FieldRegistry) {
        self.collection = collection
        self.registry = registry
    }

    mutating func compile() -> CompiledRuleSet {
        var compiled: [CompiledRule] = []
        for rule in collection.rules {
            levels = .metadata
            let start = instructions.count
            var ok = true
            var expr: Expr = .constant(false)
            switch parse(rule.condition, what: "rule '\(rule.name)'") {
            case .some(let ast):
                var stack: [String] = []
                if let e = lower(ast, text: rule.condition, stack: &stack) {
                    expr = e
                } else {
                    ok = false
                }
            case .none:
                ok = false
            }
            var exceptionExprs: [Expr] = []
            for exception in rule.exceptions {
                if let e = lowerException(exception, rule: rule) { exceptionExprs.append(.not(e)) } else { ok = false }
            }
            if !exceptionExprs.isEmpty { expr = .and([expr] + exceptionExprs) }
            let (segments, outputFields) = compileOutput(rule)
            if ok { emit(expr) } else { instructions.append(.constant(false)) }
            let masks = ok ? (mask(expr, field: "verb"), mask(expr, field: "stage"), mask(expr, field: "resource")) : (0, 0, 0)
            compiled.append(CompiledRule(name: rule.name, priority: rule.priority, tags: rule.tags, description: rule.description,
                                         enabled: rule.enabled && ok, source: rule.source, location: rule.location,
                                         output: segments, outputFields: outputFields, outputText: rule.output, levelNeeded: levels,
                                         programStart: start, programEnd: instructions.count,
                                         verbMask: masks.0, stageMask: masks.1, resourceMask: masks.2))
        }
        return CompiledRuleSet(rules: compiled, fields: fields, instructions: instructions, predicates: predicates, sets: sets,
                               constants: constants)
    }

    // MARK: Parsing with positions

    mutating func parse(_ text: ConditionText, what: String) -> ConditionNode? {
        do {
            return try ConditionParser.parse(text.text)
        } catch {
            let l = text.location(ofOffset: error.span.offset)
            diagnostics.append(RuleDiagnostic(l, .error, "condition of \(what): \(error.message)", snippet: snippet(text.text, error.span)))
            return nil
        }
    }

    func snippet(_ text: String, _ span: ConditionSpan) -> String {
        let bytes = Array(text.utf8)
        let start = max(0, min(span.offset, bytes.count))
        let end = max(start, min(bytes.count, span.offset + max(span.length, 1)))
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    mutating func report(_ text: ConditionText, _ span: ConditionSpan, _ message: String) {
        diagnostics.append(RuleDiagnostic(text.location(ofOffset: span.offset), .error, message, snippet: snippet(text.text, span)))
    }

    // MARK: Lowering

    mutating func lower(_ node: ConditionNode, text: ConditionText, stack: inout [String]) -> Expr? {
        switch node {
        case .and(let children):
            var out: [Expr] = []
            var ok = true
            for c in children { if let e = lower(c, text: text, stack: &stack) { out.append(e) } else { ok = false } }
            return ok ? .and(out) : nil
        case .or(let children):
            var out: [Expr] = []
            var ok = true
            for c in children { if let e = lower(c, text: text, stack: &stack) { out.append(e) } else { ok = false } }
            return ok ? .or(out) : nil
        case .not(let child):
            return lower(child, text: text, stack: &stack).map { .not($0) }
        case .reference(let name, let span):
            guard let macro = collection.macros[name] else {
                if collection.lists[name] != nil {
                    report(text, span, "'\(name)' is a list, not a macro: use it as a value, e.g. field in (\(name))")
                } else {
                    report(text, span, "unknown macro '\(name)'")
                }
                return nil
            }
            if stack.contains(name) {
                report(text, span, "macro '\(name)' refers to itself (\((stack + [name]).joined(separator: " -> ")))")
                return nil
            }
            if macroASTs[name] == nil {
                macroASTs[name] = .some(parse(macro.condition, what: "macro '\(name)'"))
            }
            guard let ast = macroASTs[name]!, !reportedMacros.contains(name) else { return nil }
            stack.append(name)
            defer { stack.removeLast() }
            let lowered = lower(ast, text: macro.condition, stack: &stack)
            if lowered == nil { reportedMacros.insert(name) }
            return lowered
        case .exists(let field, _):
            guard let slot = bind(field, text: text) else { return nil }
            return .predicate(addPredicate(Predicate(slot: Int32(slot), op: .exists, value: UnsafeRawBufferPointer(start: nil, count: 0),
                                                     number: nil, set: -1, otherSlot: -1, setItems: 0)))
        case .compare(let field, let op, let operand, let span):
            guard let slot = bind(field, text: text) else { return nil }
            return lowerComparison(slot: slot, op: op, operand: operand, span: span, text: text)
        }
    }

    mutating func lowerComparison(slot: Int, op: ComparisonOperator, operand: ConditionOperand, span: ConditionSpan,
                                  text: ConditionText) -> Expr? {
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        let listOp = op == .in_ || op == .intersects || op == .pmatch
        if case .field(let other) = operand {
            guard let otherSlot = bind(other, text: text) else { return nil }
            guard op == .eq || op == .ne else {
                report(text, span, "only = and != can compare two fields")
                return nil
            }
            return .predicate(addPredicate(Predicate(slot: Int32(slot), op: op == .eq ? .fieldEq : .fieldNe, value: empty, number: nil,
                                                     set: -1, otherSlot: Int32(otherSlot), setItems: 0)))
        }
        if listOp {
            var values: [String] = []
            switch operand {
            case .value(let name, let vspan):
                guard let list = collection.lists[name] else {
                    report(text, vspan, "'\(op.rawValue)' needs a list: '\(name)' is not a known list (write (\(name)) for a literal)")
                    return nil
                }
                var seen: Set<String> = []
                values = expandList(list.items, seen: &seen)
            case .list(let items, _):
                var seen: Set<String> = []
                for item in items {
                    if !item.isQuoted, let list = collection.lists[item.text] {
                        values += expandList(list.items, seen: &seen)
                    } else {
                        values.append(item.text)
                    }
                }
            case .field:
                return nil
            }
            if op == .pmatch {
                // pmatch keeps the prefixes in a list (each tested as a path prefix).
                let items = values.map { constant($0) }
                let set = ByteSet(items: items)
                sets.append(set)
                return .predicate(addPredicate(Predicate(slot: Int32(slot), op: .pmatch, value: empty, number: nil,
                                                         set: Int32(sets.count - 1), otherSlot: -1, setItems: Int32(items.count))))
            }
            let set = ByteSet(items: Array(Set(values)).sorted().map { constant($0) })
            sets.append(set)
            return .predicate(addPredicate(Predicate(slot: Int32(slot), op: op == .in_ ? .inSet : .intersects, value: empty, number: nil,
                                                     set: Int32(sets.count - 1), otherSlot: -1, setItems: Int32(values.count))))
        }
        guard case .value(var v, _) = operand else {
            report(text, span, "'\(op.rawValue)' takes a single value, not a list")
            return nil
        }
        let pop: PredicateOp
        switch op {
        case .eq: pop = .eq
        case .ne: pop = .ne
        case .lt: pop = .lt
        case .le: pop = .le
        case .gt: pop = .gt
        case .ge: pop = .ge
        case .contains, .bcontains: pop = .contains
        case .icontains:
            pop = .icontains
            v = String(v.map { $0.isASCII ? Character($0.lowercased()) : $0 })
        case .startswith, .bstartswith: pop = .startswith
        case .endswith: pop = .endswith
        case .glob: pop = .glob
        default:
            report(text, span, "operator '\(op.rawValue)' is not supported here")
            return nil
        }
        let bytes = constant(v)
        return .predicate(addPredicate(Predicate(slot: Int32(slot), op: pop, value: bytes, number: parseInteger(bytes), set: -1,
                                                 otherSlot: -1, setItems: 0)))
    }

    func expandList(_ items: [String], seen: inout Set<String>) -> [String] {
        var out: [String] = []
        for item in items {
            if let nested = collection.lists[item], !seen.contains(item) {
                seen.insert(item)
                out += expandList(nested.items, seen: &seen)
            } else {
                out.append(item)
            }
        }
        return out
    }

    mutating func lowerException(_ exception: RuleException, rule: RuleDefinition) -> Expr? {
        let where_ = "exception '\(exception.name)' of rule '\(rule.name)'"
        func error(_ m: String) {
            diagnostics.append(RuleDiagnostic(exception.location, .error, "\(where_): \(m)"))
        }
        var slots: [Int] = []
        for f in exception.fields {
            guard let slot = bindName(f) else {
                error("unknown field '\(f)'")
                return nil
            }
            slots.append(slot)
        }
        func op(_ s: String) -> ComparisonOperator? { ComparisonOperator(rawValue: s == "==" ? "=" : s) }
        if !exception.fieldsIsList {
            let comp = exception.comps.first ?? "in"
            guard let o = op(comp), o == .in_ || o == .intersects || o == .pmatch else {
                error("with a single field, comps must be in, intersects or pmatch (got '\(comp)')")
                return nil
            }
            let values = exception.values.flatMap { $0.flatMap { $0 } }
            if values.isEmpty { return .constant(false) }
            let items = values.map { ListItem.value($0, ConditionSpan(offset: 0, length: 0), quoted: true) }
            let text = ConditionText(LocatedText(text: "", location: exception.location))
            return lowerComparison(slot: slots[0], op: o, operand: .list(items, ConditionSpan(offset: 0, length: 0)),
                                   span: ConditionSpan(offset: 0, length: 0), text: text)
        }
        if !exception.comps.isEmpty && exception.comps.count != slots.count {
            error("comps has \(exception.comps.count) entries but fields has \(slots.count)")
            return nil
        }
        var alternatives: [Expr] = []
        let text = ConditionText(LocatedText(text: "", location: exception.location))
        for tuple in exception.values {
            guard tuple.count == slots.count else {
                error("a values entry has \(tuple.count) items but fields has \(slots.count)")
                return nil
            }
            var parts: [Expr] = []
            for (k, slot) in slots.enumerated() {
                let compText = exception.comps.isEmpty ? "=" : exception.comps[k]
                guard let o = op(compText) else {
                    error("unknown operator '\(compText)'")
                    return nil
                }
                let element = tuple[k]
                let operand: ConditionOperand
                if o == .in_ || o == .intersects || o == .pmatch {
                    operand = .list(element.map { .value($0, ConditionSpan(offset: 0, length: 0), quoted: true) }, ConditionSpan(offset: 0, length: 0))
                } else {
                    operand = .value(element.first ?? "", ConditionSpan(offset: 0, length: 0))
                }
                guard let e = lowerComparison(slot: slot, op: o, operand: operand, span: ConditionSpan(offset: 0, length: 0), text: text) else { return nil }
                parts.append(e)
            }
            alternatives.append(.and(parts))
        }
        return alternatives.isEmpty ? .constant(false) : .or(alternatives)
    }

    // MARK: Fields

    mutating func bind(_ field: FieldReference, text: ConditionText) -> Int? {
        guard let definition = registry.lookup(field.name) else {
            report(text, field.span, "unknown field '\(field.name)'")
            return nil
        }
        do {
            return try slot(definition, argumentText: field.argument)
        } catch {
            report(text, field.span, "field '\(field.name)': \(error.message)")
            return nil
        }
    }

    /// Binds a field written as text, e.g. `ka.uri.param[command]`.
    mutating func bindName(_ written: String) -> Int? {
        var name = written
        var argument: String? = nil
        if let open = written.firstIndex(of: "["), written.hasSuffix("]") {
            name = String(written[..<open])
            argument = String(written[written.index(after: open)..<written.index(before: written.endIndex)])
        }
        guard let definition = registry.lookup(name) else { return nil }
        return try? slot(definition, argumentText: argument)
    }

    mutating func slot(_ definition: FieldDefinition, argumentText: String?) throws(FieldArgumentError) -> Int {
        let argument = try registry.compileArgument(argumentText, for: definition)
        levels = max(levels, definition.level)
        let display = argumentText.map { "\(definition.name)[\($0)]" } ?? definition.name
        if let s = fieldSlots[display] { return s }
        fields.append(BoundField(definition: definition, argument: argument, displayName: display))
        fieldSlots[display] = fields.count - 1
        return fields.count - 1
    }

    mutating func constant(_ s: String) -> UnsafeRawBufferPointer {
        if let c = constantCache[s] { return c }
        let bytes = Array(s.utf8)
        let m = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, bytes.count), alignment: 1)
        m.copyBytes(from: bytes)
        constants.append(m)
        let r = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(m)[0..<bytes.count])
        constantCache[s] = r
        return r
    }

    mutating func addPredicate(_ p: Predicate) -> Int {
        predicates.append(p)
        return predicates.count - 1
    }

    // MARK: Output templates

    /// Splits `output` into text and `%field` references (a field name is letters, digits, `_` and `.`,
    /// optionally followed by `[argument]`).
    mutating func compileOutput(_ rule: RuleDefinition) -> ([OutputSegment], [Int]) {
        var segments: [OutputSegment] = []
        var slots: [Int] = []
        let chars = Array(rule.output.unicodeScalars)
        var text = ""
        var i = 0
        func isNameChar(_ c: Unicode.Scalar) -> Bool {
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_" || c == "."
        }
        while i < chars.count {
            let c = chars[i]
            if c == "%" && i + 1 < chars.count && isNameChar(chars[i + 1]) {
                var j = i + 1
                while j < chars.count && isNameChar(chars[j]) { j += 1 }
                var name = String(String.UnicodeScalarView(chars[(i + 1)..<j]))
                while name.hasSuffix(".") { name.removeLast(); j -= 1 }
                var argument: String? = nil
                if j < chars.count && chars[j] == "[" {
                    if let close = chars[j...].firstIndex(of: "]") {
                        argument = String(String.UnicodeScalarView(chars[(j + 1)..<close]))
                        j = close + 1
                    }
                }
                if let definition = registry.lookup(name) {
                    do {
                        let savedLevel = levels
                        let slot = try self.slot(definition, argumentText: argument)
                        levels = savedLevel
                        if !text.isEmpty { segments.append(.text(text)); text = "" }
                        segments.append(.field(slot))
                        if !slots.contains(slot) { slots.append(slot) }
                    } catch {
                        diagnostics.append(RuleDiagnostic(rule.location, .error, "output of rule '\(rule.name)': field '\(name)': \(error.message)"))
                    }
                } else {
                    diagnostics.append(RuleDiagnostic(rule.location, .error, "output of rule '\(rule.name)': unknown field '%\(name)'", snippet: "%" + name))
                }
                i = j
                continue
            }
            text.unicodeScalars.append(c)
            i += 1
        }
        if !text.isEmpty { segments.append(.text(text)) }
        return (segments, slots)
    }

    // MARK: Emission and indexing

    mutating func emit(_ e: Expr) {
        switch e {
        case .predicate(let p):
            instructions.append(.test(Int32(p)))
        case .constant(let b):
            instructions.append(.constant(b))
        case .not(let c):
            emit(c)
            instructions.append(.not)
        case .and(let children), .or(let children):
            var isAnd = false
            if case .and = e { isAnd = true }
            if children.isEmpty { instructions.append(.constant(isAnd)); return }
            var patches: [Int] = []
            for (k, c) in children.enumerated() {
                emit(c)
                if k < children.count - 1 {
                    patches.append(instructions.count)
                    instructions.append(isAnd ? .jumpIfFalse(0) : .jumpIfTrue(0))
                }
            }
            let end = Int32(instructions.count)
            for p in patches { instructions[p] = isAnd ? .jumpIfFalse(end) : .jumpIfTrue(end) }
        }
    }

    /// The set of event keys (as a bit mask) for which `e` can be true; all bits when unknown.
    func mask(_ e: Expr, field: String) -> UInt64 {
        switch e {
        case .and(let children):
            return children.reduce(allMask) { $0 & mask($1, field: field) }
        case .or(let children):
            return children.reduce(0) { $0 | mask($1, field: field) }
        case .not, .constant:
            if case .constant(false) = e { return 0 }
            return allMask
        case .predicate(let index):
            let p = predicates[index]
            let f = fields[Int(p.slot)]
            var plain = false
            if case .none = f.argument { plain = f.definition.name == fieldName(for: field) }
            guard plain || (field == "stage" && isStagePointer(f)) else { return allMask }
            func bit(_ s: String) -> UInt64 {
                switch field {
                case "verb": return verbBit(text: s)
                case "stage": return stageBit(text: s)
                default: return resourceBit(text: s)
                }
            }
            switch p.op {
            case .eq:
                return bit(String(decoding: p.value, as: UTF8.self))
            case .inSet, .intersects:
                return sets[Int(p.set)].items.reduce(UInt64(0)) { $0 | bit(String(decoding: $1, as: UTF8.self)) }
            default:
                return allMask
            }
        }
    }

    func fieldName(for key: String) -> String {
        switch key {
        case "verb": return "ka.verb"
        case "stage": return "ka.stage"
        default: return "ka.target.resource"
        }
    }

    func isStagePointer(_ f: BoundField) -> Bool {
        if case .pointer(let p) = f.argument, f.definition.name == "jevt.value", p.text == "/stage" { return true }
        return false
    }
}

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
        // In file order, then by position (stable: problems at one place keep the order they were found in).
        var fileOrder: [String: Int] = [:]
        for (k, f) in files.enumerated() where fileOrder[f.path] == nil { fileOrder[f.path] = k }
        let diagnostics = (collection.diagnostics + compiler.diagnostics).enumerated().sorted { a, b in
            let la = a.element.location, lb = b.element.location
            let ka = (fileOrder[la.path] ?? Int.max, la.line, la.column, a.offset)
            let kb = (fileOrder[lb.path] ?? Int.max, lb.line, lb.column, b.offset)
            return ka < kb
        }.map(\.element)
        let hasErrors = diagnostics.contains { $0.severity == .error }
        return RuleLoadResult(ruleSet: hasErrors ? nil : set, collection: collection, diagnostics: diagnostics)
    }
}

/// The boolean structure after macro expansion.
indirect enum Expr {
    case and([Expr]), or([Expr]), not(Expr), predicate(Int), constant(Bool)
    /// A macro's condition, evaluated at most once per event (see ``Compiler/memos``).
    case memo(Int)

    /// The same condition with constants folded away: `x in ()` of an empty list is false, so a rule
    /// that needs it never runs (its index masks become empty), and `not x in ()` costs nothing. The
    /// default ruleset has several lists that users fill in (block lists, allowed identities) and that
    /// are empty until they do.
    var simplified: Expr {
        switch self {
        case .and(let children):
            return Expr.fold(children, identity: true, Expr.and)
        case .or(let children):
            return Expr.fold(children, identity: false, Expr.or)
        case .not(let e):
            let s = e.simplified
            if case .constant(let b) = s { return .constant(!b) }
            return .not(s)
        case .predicate, .constant, .memo:
            return self
        }
    }

    /// `and` (identity true) or `or` (identity false) of `children`, simplified: a child equal to the
    /// identity drops out, one equal to its opposite decides the whole.
    private static func fold(_ children: [Expr], identity: Bool, _ make: ([Expr]) -> Expr) -> Expr {
        var kept: [Expr] = []
        for c in children {
            let s = c.simplified
            if case .constant(let b) = s {
                if b != identity { return s }
                continue
            }
            kept.append(s)
        }
        return kept.isEmpty ? .constant(identity) : (kept.count == 1 ? kept[0] : make(kept))
    }
}

/// A macro lowered once and shared by every condition that names it. Macros are pure (a condition of
/// the event), so their value can be computed once per event and reused: `ah_system_identity` or
/// `ah_once` appear in dozens of rules, and expanding them inline made every event test the same
/// predicates again and again.
struct Memo {
    var expr: Expr
    /// Condition nodes of the macro fully expanded (counted against ``Compiler/maxNodes`` at every use, as
    /// if inlined, so that the limit on a rule's size does not depend on this optimisation).
    var nodes: Int
    var levels: AuditLevelNeeded
    var masks: (verb: UInt64, stage: UInt64, resource: UInt64)
    /// Predicate tests in the body (memos counted once): one-test macros are inlined instead.
    var tests: Int
}

private struct Compiler {
    let collection: RuleCollection
    let registry: FieldRegistry
    var diagnostics: [RuleDiagnostic] = []
    var fields: [BoundField] = []
    var fieldSlots: [String: Int] = [:]
    var instructions = ContiguousArray<Instruction>()
    var predicates = ContiguousArray<Predicate>()
    /// Predicates by a hash of their content (see ``addPredicate(_:)``).
    var predicateIndex: [UInt64: [Int]] = [:]
    var sets: [ByteSet] = []
    var constants: [UnsafeMutableRawBufferPointer] = []
    var constantCache: [String: UnsafeRawBufferPointer] = [:]
    /// Parsed macro conditions (nil when the macro's condition has a syntax error, already reported).
    var macroASTs: [String: ConditionNode?] = [:]
    var reportedMacros: Set<String> = []
    /// Macros lowered so far, by name, and their shared bodies.
    var memoByName: [String: Int] = [:]
    var memos: [Memo] = []
    var levels: AuditLevelNeeded = .metadata
    /// Current nesting of `lower` (conditions inside macros inside conditions...).
    var depth = 0
    /// Deepest nesting accepted after macro expansion (keeps lowering, emission and indexing, which
    /// recurse, far from the end of a thread's stack).
    static let maxDepth = 1000
    var depthReported = false
    /// Most condition nodes one rule may lower (macros expanded) and most items one list reference may
    /// expand to: macros or lists that each use the previous one twice would otherwise grow
    /// exponentially and hang loading.
    static let maxNodes = 100_000
    static let maxListItems = 100_000
    var nodes = 0

    init(collection: RuleCollection, registry: FieldRegistry) {
        self.collection = collection
        self.registry = registry
    }

    mutating func compile() -> CompiledRuleSet {
        // Every macro's syntax is checked, used or not (fields and names are checked where it is used).
        for macro in collection.macros.values.sorted(by: { ($0.location.path, $0.location.line) < ($1.location.path, $1.location.line) }) {
            macroASTs[macro.name] = .some(parse(macro.condition, what: "macro '\(macro.name)'"))
        }
        var compiled: [CompiledRule] = []
        for rule in collection.rules {
            levels = .metadata
            depthReported = false
            nodes = 0
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
            expr = expr.simplified
            let (segments, outputFields) = compileOutput(rule)
            let entry = ok ? emit(expr) : Instruction.reject
            let masks = ok ? (mask(expr, field: "verb"), mask(expr, field: "stage"), mask(expr, field: "resource")) : (0, 0, 0)
            var aggregate: CompiledAggregate? = nil
            if let spec = rule.aggregate {
                aggregate = compileAggregate(spec, rule: rule)
                if aggregate == nil { ok = false }
            }
            compiled.append(CompiledRule(name: rule.name, priority: rule.priority, tags: rule.tags, description: rule.description,
                                         enabled: rule.enabled && ok, source: rule.source, location: rule.location,
                                         output: segments, outputFields: outputFields, outputText: rule.output, levelNeeded: levels,
                                         programEntry: entry,
                                         verbMask: masks.0, stageMask: masks.1, resourceMask: masks.2, aggregate: aggregate))
        }
        // The shared macro bodies go after every rule's program; a node with `isCall` takes one's value.
        var memoEntries = ContiguousArray<Int32>()
        for m in memos { memoEntries.append(emit(m.expr)) }
        // A predicate tested from several nodes (the same test in several rules, or a one-test macro that
        // was inlined) becomes a shared body of one node: it runs once per event, and its other uses read
        // the result.
        var uses = [Int](repeating: 0, count: predicates.count)
        for node in instructions where !node.isCall { uses[Int(node.operand)] += 1 }
        let bodiesStart = instructions.count
        var sharedBody = [Int32](repeating: -1, count: predicates.count)
        for p in uses.indices where uses[p] >= 2 {
            instructions.append(Instruction(operand: Int32(p), onTrue: Instruction.accept, onFalse: Instruction.reject, isCall: false))
            sharedBody[p] = Int32(memoEntries.count)
            memoEntries.append(Int32(instructions.count - 1))
        }
        for i in 0..<bodiesStart where !instructions[i].isCall {
            let id = sharedBody[Int(instructions[i].operand)]
            if id >= 0 {
                instructions[i].operand = id
                instructions[i].isCall = true
            }
        }
        return CompiledRuleSet(rules: compiled, fields: fields, instructions: instructions, predicates: predicates, sets: sets,
                               constants: constants, memos: memoEntries)
    }

    // MARK: Stateful rules

    /// Binds the key and distinct fields of a rule's `aggregate:` and compiles a sequence's `then` step
    /// (a rule's name: that rule's condition and exceptions; otherwise a condition). Nil on errors
    /// (reported).
    mutating func compileAggregate(_ spec: AggregateSpec, rule: RuleDefinition) -> CompiledAggregate? {
        var ok = true
        func bind(_ f: AggregateField) -> Int {
            var name = f.field
            var argument: String? = nil
            if let open = name.firstIndex(of: "["), name.hasSuffix("]") {
                argument = String(name[name.index(after: open)..<name.index(before: name.endIndex)])
                name = String(name[..<open])
            }
            guard let definition = registry.lookup(name) else {
                diagnostics.append(RuleDiagnostic(f.location, .error, "aggregate of rule '\(rule.name)': unknown field '\(f.field)'", snippet: f.field))
                ok = false
                return -1
            }
            do {
                return try slot(definition, argumentText: argument)
            } catch {
                diagnostics.append(RuleDiagnostic(f.location, .error, "aggregate of rule '\(rule.name)': field '\(name)': \(error.message)",
                                                  snippet: f.field))
                ok = false
                return -1
            }
        }
        let keySlots = spec.key.map(bind)
        let distinctSlots = spec.distinct.map { $0.fields.map(bind) }
        var thenEntry: Int32? = nil
        var thenMasks: (verb: UInt64, stage: UInt64, resource: UInt64) = (0, 0, 0)
        if spec.kind == .sequence, let then = spec.then {
            let trimmed = String(then.text.drop { $0 == " " || $0 == "\n" }.reversed().drop { $0 == " " || $0 == "\n" }.reversed())
            var expr: Expr? = nil
            if let target = collection.rules.first(where: { $0.name == trimmed }) {
                var stack: [String] = []
                if let ast = parse(target.condition, what: "rule '\(target.name)'"), let e = lower(ast, text: target.condition, stack: &stack) {
                    var parts = [e]
                    for exception in target.exceptions {
                        if let x = lowerException(exception, rule: target) { parts.append(.not(x)) } else { ok = false }
                    }
                    expr = parts.count == 1 ? e : .and(parts)
                }
            } else {
                let text = ConditionText(then)
                var stack: [String] = []
                if let ast = parse(text, what: "'then' of rule '\(rule.name)'") { expr = lower(ast, text: text, stack: &stack) }
            }
            if let expr, ok {
                thenEntry = emit(expr)
                thenMasks = (mask(expr, field: "verb"), mask(expr, field: "stage"), mask(expr, field: "resource"))
            } else {
                ok = false
            }
        }
        guard ok else { return nil }
        return CompiledAggregate(spec: spec, keySlots: keySlots, distinctSlots: distinctSlots, thenEntry: thenEntry,
                                 thenMasks: thenMasks)
    }

    // MARK: Parsing with positions

    mutating func parse(_ text: ConditionText, what: String) -> ConditionNode? {
        do {
            return try ConditionParser.parse(text.text)
        } catch {
            let l = text.location(ofOffset: error.span.offset)
            let message = filePositions(in: error.message, text)
            diagnostics.append(RuleDiagnostic(l, .error, "condition of \(what): \(message)", snippet: snippet(text.text, error.span)))
            return nil
        }
    }

    /// Rewrites "at offset N" (an offset in the condition text) in a parser message as "at line:column".
    func filePositions(in message: String, _ text: ConditionText) -> String {
        let marker = Array(" at offset ".utf8)
        let bytes = Array(message.utf8)
        guard bytes.count > marker.count else { return message }
        var start = -1
        for i in stride(from: bytes.count - marker.count, through: 0, by: -1) where Array(bytes[i..<(i + marker.count)]) == marker {
            start = i
            break
        }
        guard start >= 0 else { return message }
        var end = start + marker.count
        var offset = 0
        while end < bytes.count, bytes[end] >= 0x30, bytes[end] <= 0x39, offset < 1 << 40 {
            offset = offset * 10 + Int(bytes[end] - 0x30)
            end += 1
        }
        guard end > start + marker.count else { return message }
        let l = text.location(ofOffset: offset)
        return String(decoding: bytes[..<start], as: UTF8.self) + " at \(l.line):\(l.column)" + String(decoding: bytes[end...], as: UTF8.self)
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
        depth += 1
        defer { depth -= 1 }
        if depth > Compiler.maxDepth {
            if !depthReported {
                depthReported = true
                var span = ConditionSpan(offset: 0, length: 0)
                if case .reference(_, let s) = node { span = s }
                report(text, span, "conditions nest too deeply after macro expansion (more than \(Compiler.maxDepth) levels)")
            }
            return nil
        }
        nodes += 1
        if nodes > Compiler.maxNodes {
            if !depthReported {  // one report per rule, for either limit
                depthReported = true
                report(text, ConditionSpan(offset: 0, length: 0),
                       "condition is too large after macro expansion (more than \(Compiler.maxNodes) operations)")
            }
            return nil
        }
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
            return ok ? .or(fuseAlternatives(out)) : nil
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
            if let id = memoByName[name] {
                let m = memos[id]
                nodes += m.nodes
                if nodes > Compiler.maxNodes {
                    if !depthReported {
                        depthReported = true
                        report(text, span, "condition is too large after macro expansion (more than \(Compiler.maxNodes) operations)")
                    }
                    return nil
                }
                levels = max(levels, m.levels)
                return m.tests >= 2 ? .memo(id) : m.expr
            }
            if macroASTs[name] == nil {
                macroASTs[name] = .some(parse(macro.condition, what: "macro '\(name)'"))
            }
            guard let ast = macroASTs[name]!, !reportedMacros.contains(name) else { return nil }
            stack.append(name)
            defer { stack.removeLast() }
            let nodesBefore = nodes
            let outerLevels = levels
            levels = .metadata
            let lowered = lower(ast, text: macro.condition, stack: &stack)?.simplified
            let macroLevels = levels
            levels = max(outerLevels, macroLevels)
            guard let lowered else {
                reportedMacros.insert(name)
                return nil
            }
            let id = memos.count
            memos.append(Memo(expr: lowered, nodes: nodes - nodesBefore, levels: macroLevels,
                              masks: (mask(lowered, field: "verb"), mask(lowered, field: "stage"), mask(lowered, field: "resource")),
                              tests: testCount(lowered)))
            memoByName[name] = id
            return memos[id].tests >= 2 ? .memo(id) : lowered
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
        if fields[slot].definition.isList {
            // Falco: list fields support exists, in (every value in the set) and intersects (any value in the
            // set). AuditHound also accepts the matching operators (contains, startswith, glob, pmatch, ...),
            // true when any value matches; =, != and the ordering operators stay errors, as in Falco.
            switch op {
            case .eq, .ne, .lt, .le, .gt, .ge:
                let name = fields[slot].displayName
                let hint = op == .ne ? "not \(name) intersects (x)" : "\(name) intersects (x)"
                report(text, span, "'\(name)' is a list field: '\(op.rawValue)' is not supported on list fields; use in (every "
                       + "value in the set) or intersects (any value in the set), e.g. \(hint)")
                return nil
            default:
                break
            }
        }
        if case .field(let other) = operand {
            guard let otherSlot = bind(other, text: text) else { return nil }
            guard let pop = predicateOp(op) else {
                report(text, span, "'\(op.rawValue)' cannot compare with another field (val())")
                return nil
            }
            return .predicate(addPredicate(Predicate(slot: Int32(slot), op: pop, value: empty, number: nil, set: -1,
                                                     otherSlot: Int32(otherSlot), setItems: 0)))
        }
        if listOp {
            var values: [String] = []
            switch operand {
            case .value(let name, let vspan):
                guard collection.lists[name] != nil else {
                    report(text, vspan, "'\(op.rawValue)' needs a list: '\(name)' is not a known list (write (\(name)) for a literal)")
                    return nil
                }
                expandList(name, into: &values)
            case .list(let items, _):
                for item in items {
                    if !item.isQuoted, collection.lists[item.text] != nil {
                        expandList(item.text, into: &values)
                    } else {
                        values.append(item.text)
                    }
                }
            case .field:
                return nil
            }
            // An empty list holds nothing: `in`, `intersects` and `pmatch` are false whatever the field.
            if values.isEmpty { return .constant(false) }
            if values.count >= Compiler.maxListItems {
                report(text, span, "the list expands to more than \(Compiler.maxListItems) items (lists nested too often?)")
                return nil
            }
            if op == .pmatch {
                // Prefixes compare by path components: a trailing '/' adds nothing (except for the root).
                var prefixes: [String] = []
                for var v in values {
                    while v.count > 1 && v.hasSuffix("/") { v.removeLast() }
                    if !prefixes.contains(v) { prefixes.append(v) }
                }
                let set = ByteSet(items: prefixes.map { constant($0) })
                sets.append(set)
                return .predicate(addPredicate(Predicate(slot: Int32(slot), op: .pmatch, value: empty, number: nil,
                                                         set: Int32(sets.count - 1), otherSlot: -1, setItems: Int32(prefixes.count))))
            }
            let unique = Array(Set(values)).sorted()
            let set = ByteSet(items: unique.map { constant($0) })
            sets.append(set)
            return .predicate(addPredicate(Predicate(slot: Int32(slot), op: op == .in_ ? .inSet : .intersects, value: empty, number: nil,
                                                     set: Int32(sets.count - 1), otherSlot: -1, setItems: Int32(unique.count))))
        }
        guard case .value(var v, let vspan) = operand else {
            report(text, span, "'\(op.rawValue)' takes a single value, not a list")
            return nil
        }
        guard let pop = predicateOp(op) else {
            report(text, span, "operator '\(op.rawValue)' is not supported here")
            return nil
        }
        let bytes: UnsafeRawBufferPointer
        switch op {
        case .bcontains, .bstartswith:
            // Falco: the operand is the bytes written as hex digits (`bcontains 6c69` looks for "li").
            guard let decoded = hexDecode(v) else {
                report(text, vspan, "'\(op.rawValue)' takes bytes written as an even number of hex digits, e.g. 6c6f67 (found '\(v)')")
                return nil
            }
            bytes = constant(bytes: decoded)
        case .icontains:
            v = String(v.map { $0.isASCII ? Character($0.lowercased()) : $0 })
            bytes = constant(v)
        default:
            bytes = constant(v)
        }
        return .predicate(addPredicate(Predicate(slot: Int32(slot), op: pop, value: bytes, number: parseInteger(bytes), set: -1,
                                                 otherSlot: -1, setItems: 0)))
    }

    /// Fuses the alternatives of an `or` that test one field with `contains`, `icontains` or
    /// `startswith` (three or more of the same kind) into one predicate over the set of patterns: the
    /// value is then scanned once instead of once per pattern. `or` of pure tests is commutative, so the
    /// fused test takes the place of the first one.
    mutating func fuseAlternatives(_ children: [Expr]) -> [Expr] {
        var groups: [String: [Int]] = [:]
        var order: [String] = []
        for (k, c) in children.enumerated() {
            guard case .predicate(let p) = c else { continue }
            let pred = predicates[p]
            guard pred.otherSlot < 0, pred.op == .contains || pred.op == .icontains || pred.op == .startswith else { continue }
            let key = "\(pred.slot)/\(pred.op.rawValue)"
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(k)
        }
        var out = children
        var removed = Set<Int>()
        for key in order {
            guard let members = groups[key], members.count >= 3, case .predicate(let first) = children[members[0]] else { continue }
            let pred = predicates[first]
            var patterns: [UnsafeRawBufferPointer] = []
            for m in members {
                if case .predicate(let p) = children[m] { patterns.append(predicates[p].value) }
            }
            var set = ByteSet(items: patterns)
            let op: PredicateOp
            switch pred.op {
            case .contains:
                op = .containsAny
                set.buildPairs(foldCase: false)
            case .icontains:
                op = .icontainsAny
                set.buildPairs(foldCase: true)
            default:
                op = .startswithAny
            }
            sets.append(set)
            out[members[0]] = .predicate(addPredicate(Predicate(slot: pred.slot, op: op, value: UnsafeRawBufferPointer(start: nil, count: 0),
                                                                number: nil, set: Int32(sets.count - 1), otherSlot: -1,
                                                                setItems: Int32(patterns.count))))
            for m in members.dropFirst() { removed.insert(m) }
        }
        if removed.isEmpty { return children }
        return out.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
    }

    func predicateOp(_ op: ComparisonOperator) -> PredicateOp? {
        switch op {
        case .eq: return .eq
        case .ne: return .ne
        case .lt: return .lt
        case .le: return .le
        case .gt: return .gt
        case .ge: return .ge
        case .contains, .bcontains: return .contains
        case .icontains: return .icontains
        case .startswith, .bstartswith: return .startswith
        case .endswith: return .endswith
        case .glob: return .glob
        case .iglob: return .iglob
        case .in_: return .inSet
        case .intersects: return .intersects
        case .pmatch: return .pmatch
        }
    }

    /// Appends the items of list `name`, expanding items that name other lists (a list met again inside
    /// its own expansion adds nothing).
    func expandList(_ name: String, into out: inout [String]) {
        var stack: [String] = []
        expandList(name, stack: &stack, into: &out)
    }

    private func expandList(_ name: String, stack: inout [String], into out: inout [String]) {
        guard let list = collection.lists[name], !stack.contains(name) else { return }
        stack.append(name)
        for item in list.items {
            if out.count >= Compiler.maxListItems { break }
            if collection.lists[item] != nil {
                expandList(item, stack: &stack, into: &out)
            } else {
                out.append(item)
            }
        }
        stack.removeLast()
    }

    /// Lowers an exception as Falco expands it: `fields` one field -> `field comp (v1, v2, ...)`; `fields` a
    /// list -> `(f1 c1 v1 and f2 c2 v2 ...) or (...)` over the value tuples. Values are written bare (so a
    /// list name expands to the list) unless they contain a space; a tuple element that is itself a list
    /// becomes `(a, b)`.
    mutating func lowerException(_ exception: RuleException, rule: RuleDefinition) -> Expr? {
        let where_ = "exception '\(exception.name)' of rule '\(rule.name)'"
        func error(_ m: String) {
            diagnostics.append(RuleDiagnostic(exception.location, .error, "\(where_): \(m)"))
        }
        var slots: [Int] = []
        var ok = true
        for f in exception.fields {
            guard let slot = bindName(f) else {
                error("unknown field '\(f)'")
                ok = false
                continue
            }
            slots.append(slot)
        }
        func op(_ s: String) -> ComparisonOperator? { ComparisonOperator(rawValue: s == "==" ? "=" : s) }
        func isListOp(_ o: ComparisonOperator) -> Bool { o == .in_ || o == .intersects || o == .pmatch }
        var comps: [ComparisonOperator] = []
        for c in exception.comps {
            guard let o = op(c) else {
                error("unknown operator '\(c)' in comps")
                ok = false
                continue
            }
            comps.append(o)
        }
        guard ok else { return nil }
        let noSpan = ConditionSpan(offset: 0, length: 0)
        let text = ConditionText(LocatedText(text: "", location: exception.location))
        func item(_ v: String) -> ListItem { .value(v, noSpan, quoted: v.contains(" ")) }
        // Compiles one comparison; problems are reported with the exception's name.
        func compare(_ slot: Int, _ o: ComparisonOperator, _ operand: ConditionOperand) -> Expr? {
            let before = diagnostics.count
            let e = lowerComparison(slot: slot, op: o, operand: operand, span: noSpan, text: text)
            for k in before..<diagnostics.count { diagnostics[k].message = "\(where_): " + diagnostics[k].message }
            return e
        }
        if !exception.fieldsIsList {
            guard slots.count == 1 else { return nil }
            let o = comps.first ?? .in_
            guard comps.count <= 1, isListOp(o) else {
                error("with a single field, comps must be in, intersects or pmatch (got '\(exception.comps.joined(separator: ", "))')")
                return nil
            }
            let values = exception.values.flatMap { $0.flatMap { $0 } }
            if values.isEmpty { return .constant(false) }
            return compare(slots[0], o, .list(values.map(item), noSpan))
        }
        if exception.hasComps && comps.count != slots.count {
            error("comps has \(comps.count) entries but fields has \(slots.count)")
            return nil
        }
        if !exception.hasComps { comps = Array(repeating: .eq, count: slots.count) }
        var alternatives: [Expr] = []
        for tuple in exception.values {
            guard tuple.count == slots.count else {
                error("a values entry has \(tuple.count) items but fields has \(slots.count)")
                return nil
            }
            var parts: [Expr] = []
            for (k, slot) in slots.enumerated() {
                let o = comps[k]
                let element = tuple[k]
                let operand: ConditionOperand
                if isListOp(o) {
                    operand = .list(element.map(item), noSpan)
                } else {
                    guard element.count == 1 else {
                        error("'\(exception.comps[k])' compares with one value, but a values entry gives a list for \(exception.fields[k])")
                        return nil
                    }
                    operand = .value(element[0], noSpan)
                }
                guard let e = compare(slot, o, operand) else { return nil }
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
        let display = argumentText.map { "\(definition.name)[\($0)]" } ?? definition.name
        let field = BoundField(definition: definition, argument: argument, displayName: display)
        levels = max(levels, field.levelNeeded)
        if let s = fieldSlots[display] { return s }
        fields.append(field)
        fieldSlots[display] = fields.count - 1
        return fields.count - 1
    }

    mutating func constant(_ s: String) -> UnsafeRawBufferPointer {
        if let c = constantCache[s] { return c }
        let r = constant(bytes: Array(s.utf8))
        constantCache[s] = r
        return r
    }

    /// Copies bytes into memory owned by the rule set.
    mutating func constant(bytes: [UInt8]) -> UnsafeRawBufferPointer {
        let m = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, bytes.count), alignment: 1)
        m.copyBytes(from: bytes)
        constants.append(m)
        return UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(m)[0..<bytes.count])
    }

    /// Adds a predicate, or returns the index of an identical one (same field, operator and operand): a test
    /// that several rules or macros spell alike is then one predicate, whose result ``compile()`` shares.
    mutating func addPredicate(_ p: Predicate) -> Int {
        // Candidates by a hash of the content, then compared in full.
        let items = p.set >= 0 ? sets[Int(p.set)].items : UnsafeBufferPointer(start: nil, count: 0)
        var h = UInt64(UInt32(bitPattern: p.slot)) << 40 ^ UInt64(p.op.rawValue) << 32 ^ UInt64(UInt32(bitPattern: p.otherSlot))
        h = fastHash(p.value, seed: h)
        for item in items { h = fastHash(item, seed: h) }
        for k in predicateIndex[h, default: []] {
            let q = predicates[k]
            guard q.slot == p.slot, q.op == p.op, q.otherSlot == p.otherSlot, bytesEqual(q.value, p.value) else { continue }
            let other = q.set >= 0 ? sets[Int(q.set)].items : UnsafeBufferPointer(start: nil, count: 0)
            if other.count == items.count && zip(other, items).allSatisfy({ bytesEqual($0, $1) }) { return k }
        }
        predicates.append(p)
        predicateIndex[h, default: []].append(predicates.count - 1)
        return predicates.count - 1
    }

    // MARK: Output templates

    /// Splits `output` into text and `%field` references (a field name is letters, digits, `_` and `.`,
    /// optionally followed by `[argument]`). Trailing white space (the line break a `>` block scalar
    /// ends with) is dropped.
    mutating func compileOutput(_ rule: RuleDefinition) -> ([OutputSegment], [Int]) {
        var segments: [OutputSegment] = []
        var slots: [Int] = []
        var bytes = Array(rule.output.utf8)
        while let last = bytes.last, last == 0x20 || last == 0x0A || last == 0x09 || last == 0x0D { bytes.removeLast() }
        var text: [UInt8] = []
        var i = 0
        func isNameByte(_ c: UInt8) -> Bool {
            (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c == 0x2E
        }
        func flush() {
            if !text.isEmpty { segments.append(.text(String(decoding: text, as: UTF8.self))); text = [] }
        }
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "%") && i + 1 < bytes.count && isNameByte(bytes[i + 1]) {
                var j = i + 1
                while j < bytes.count && isNameByte(bytes[j]) { j += 1 }
                while bytes[j - 1] == UInt8(ascii: ".") { j -= 1 }
                let name = String(decoding: bytes[(i + 1)..<j], as: UTF8.self)
                var argument: String? = nil
                if j < bytes.count && bytes[j] == UInt8(ascii: "["), let close = bytes[j...].firstIndex(of: UInt8(ascii: "]")) {
                    argument = String(decoding: bytes[(j + 1)..<close], as: UTF8.self)
                    j = close + 1
                }
                // Only for diagnostics: locating an offset walks the source text.
                var written: String { String(decoding: bytes[i..<j], as: UTF8.self) }
                var at: SourceLocation { rule.outputSource.location(ofOffset: i) }
                if let definition = registry.lookup(name) {
                    do {
                        let savedLevel = levels
                        let slot = try self.slot(definition, argumentText: argument)
                        levels = savedLevel
                        flush()
                        segments.append(.field(slot))
                        if !slots.contains(slot) { slots.append(slot) }
                    } catch {
                        diagnostics.append(RuleDiagnostic(at, .error, "output of rule '\(rule.name)': field '\(name)': \(error.message)", snippet: written))
                    }
                } else {
                    diagnostics.append(RuleDiagnostic(at, .error, "output of rule '\(rule.name)': unknown field '\(name)'", snippet: written))
                }
                i = j
                continue
            }
            text.append(c)
            i += 1
        }
        flush()
        return (segments, slots)
    }

    // MARK: Emission and indexing

    /// Predicate tests in `e` (a shared macro counts as one).
    func testCount(_ e: Expr) -> Int {
        switch e {
        case .and(let children), .or(let children): return children.reduce(0) { $0 + testCount($1) }
        case .not(let c): return testCount(c)
        case .predicate, .memo: return 1
        case .constant: return 0
        }
    }

    /// Emits the decision graph of `e` (see ``Instruction``) and returns its entry: a node, or the verdict
    /// of a constant condition.
    mutating func emit(_ e: Expr) -> Int32 {
        emit(e, onTrue: Instruction.accept, onFalse: Instruction.reject)
    }

    /// Emits `e` so that evaluation goes on at `onTrue` when it holds and at `onFalse` when it does not, and
    /// returns where it starts. Children are emitted last to first, so that each one's successor is known
    /// when it is emitted: a chain's nodes are contiguous, in reverse order.
    mutating func emit(_ e: Expr, onTrue: Int32, onFalse: Int32) -> Int32 {
        switch e {
        case .predicate(let p):
            instructions.append(Instruction(operand: Int32(p), onTrue: onTrue, onFalse: onFalse, isCall: false))
            return Int32(instructions.count - 1)
        case .memo(let id):
            instructions.append(Instruction(operand: Int32(id), onTrue: onTrue, onFalse: onFalse, isCall: true))
            return Int32(instructions.count - 1)
        case .constant(let b):
            return b ? onTrue : onFalse
        case .not(let c):
            return emit(c, onTrue: onFalse, onFalse: onTrue)
        case .and(let children):
            var next = onTrue
            for c in children.reversed() { next = emit(c, onTrue: next, onFalse: onFalse) }
            return next
        case .or(let children):
            var next = onFalse
            for c in children.reversed() { next = emit(c, onTrue: onTrue, onFalse: next) }
            return next
        }
    }

    /// The set of event keys (as a bit mask) for which `e` can be true; all bits when unknown.
    func mask(_ e: Expr, field: String) -> UInt64 {
        switch e {
        case .and(let children):
            return children.reduce(allMask) { $0 & mask($1, field: field) }
        case .or(let children):
            return children.reduce(0) { $0 | mask($1, field: field) }
        case .memo(let id):
            switch field {
            case "verb": return memos[id].masks.verb
            case "stage": return memos[id].masks.stage
            default: return memos[id].masks.resource
            }
        case .not, .constant:
            if case .constant(false) = e { return 0 }
            return allMask
        case .predicate(let index):
            let p = predicates[index]
            let f = fields[Int(p.slot)]
            var plain = false
            if case .none = f.argument { plain = f.definition.name == fieldName(for: field) }
            guard plain || (field == "stage" && isStagePointer(f)), p.otherSlot < 0 else { return allMask }
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

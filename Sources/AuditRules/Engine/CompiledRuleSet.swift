import AuditJSON
import AuditInput

/// A field bound at compile time: its definition and compiled argument.
public struct BoundField: Sendable {
    public let definition: FieldDefinition
    public let argument: FieldArgument
    /// The name as written, with its argument: `ka.uri.param[command]`.
    public let displayName: String

    /// The least audit level at which the field has data: its definition's, or for a JSON pointer into
    /// the request or response body, the level that logs that body.
    public var levelNeeded: AuditLevelNeeded {
        var level = definition.level
        if case .pointer(let pointer) = argument {
            if pointer.text.hasPrefix("/requestObject") { level = max(level, .request) }
            if pointer.text.hasPrefix("/responseObject") { level = max(level, .requestResponse) }
        }
        return level
    }

    /// Whether the field reads inside the request or response body (it needs more than the Metadata
    /// level). The evaluator parses deferred bodies (``AuditEvent/hasDeferredBody``) before extracting
    /// such a field.
    public var readsBodies: Bool { levelNeeded > .metadata }
}

/// A piece of a rule's `output`: literal text or a `%field`.
public enum OutputSegment: Sendable {
    case text(String)
    case field(Int)
}

/// One compiled rule.
public struct CompiledRule: Sendable {
    public let name: String
    public let priority: Priority
    public let tags: [String]
    public let description: String
    public let enabled: Bool
    public let source: String
    public let location: SourceLocation
    /// The rule's output template, and the field slots it names (in order of first appearance).
    public let output: [OutputSegment]
    public let outputFields: [Int]
    public let outputText: String
    /// The least audit level that gives every field this rule's condition reads.
    public let levelNeeded: AuditLevelNeeded
    /// Where the condition's decision graph starts: a node of ``CompiledRuleSet/instructions``, or a verdict
    /// (``Instruction/accept``, ``Instruction/reject``) when the condition is constant.
    let programEntry: Int32
    let verbMask: UInt64
    let stageMask: UInt64
    let resourceMask: UInt64
    /// For a stateful rule (`aggregate:`): its settings and bound fields. Such a rule's matches become
    /// ``Observation``s for ``StatefulDetectors`` instead of alerts.
    public let aggregate: CompiledAggregate?
}

/// The compiled `aggregate:` of a stateful rule.
public struct CompiledAggregate: Sendable {
    /// The settings as loaded.
    public let spec: AggregateSpec
    /// The field slots of `spec.key`, in order.
    public let keySlots: [Int]
    /// The field slots of each of `spec.distinct`'s conditions.
    public let distinctSlots: [[Int]]
    /// sequence: the entry of the `then` step's decision graph (nil for other kinds) and its index masks.
    let thenEntry: Int32?
    let thenMasks: (verb: UInt64, stage: UInt64, resource: UInt64)
}

/// An enabled rule as the evaluator sees it: its program and its index masks. `step` is 0 for a rule's
/// condition, 1 for the `then` step of a sequence rule.
struct RuleProgram {
    var rule: Int32
    /// The entry of the condition's decision graph (see ``Instruction``).
    var entry: Int32
    var verbMask: UInt64
    var stageMask: UInt64
    var resourceMask: UInt64
    var step: Int32 = 0
}

/// One node of a condition's decision graph: test predicate `operand` (or, when `isCall`, take the value
/// of shared body `operand`, see ``CompiledRuleSet/memos``), then go on to `onTrue` or `onFalse`.
/// Those are the next node's index, or a verdict: ``accept`` or ``reject`` (negative).
///
/// `and`, `or` and `not` leave no node of their own: they only wire the successors (`a and b`: a's true
/// edge leads to b, its false edge to the verdict of the whole; `not a` swaps a's edges), so evaluating a
/// condition is one loop of tests with a two-way choice after each, and no dispatch on an opcode. That
/// dispatch (an indirect jump the CPU mispredicts at almost every step) was most of the evaluation time
/// of the previous stack-machine form.
struct Instruction {
    static let accept: Int32 = -1
    static let reject: Int32 = -2
    var operand: Int32
    var onTrue: Int32
    var onFalse: Int32
    var isCall: Bool
}

enum PredicateOp: UInt8 {
    case eq, ne, lt, le, gt, ge, inSet, intersects, contains, icontains, startswith, endswith, glob, iglob, pmatch, exists
    /// Fused `or` chains on one field (the compiler's doing): any of the set's items is a substring
    /// (`containsAny`, `icontainsAny`) or a prefix (`startswithAny`).
    case containsAny, icontainsAny, startswithAny
}

/// One test of a field. The right-hand side is `value` (with `number` when it is an integer), the set
/// `set` (list operators), or, when `otherSlot >= 0`, the values of another field (`val(field)`).
struct Predicate {
    var slot: Int32
    var op: PredicateOp
    var value: UnsafeRawBufferPointer
    var number: Int64?
    var set: Int32
    var otherSlot: Int32
    var setItems: Int32
}

/// A rule set compiled for evaluation: fields bound to extractors, macros expanded, lists resolved,
/// conditions lowered to short-circuit instruction sequences, rules indexed by verb, stage and resource.
/// Immutable and shared by every worker; each worker evaluates with its own ``RuleEvaluator``.
public final class CompiledRuleSet: @unchecked Sendable {
    public let rules: [CompiledRule]
    public let fields: [BoundField]
    let instructions: ContiguousArray<Instruction>
    let predicates: ContiguousArray<Predicate>
    let sets: [ByteSet]
    /// The entries of the shared bodies' decision graphs (what nodes with `isCall` read): macros used by
    /// several rules, and predicates tested from several nodes (a body of one node each).
    let memos: ContiguousArray<Int32>
    private let constants: [UnsafeMutableRawBufferPointer]
    /// Indices of enabled rules, in load order.
    let enabledRules: [Int32]
    /// What the evaluator needs of each enabled rule, in load order (plain values: no reference counting
    /// per rule and event).
    let programs: ContiguousArray<RuleProgram>
    /// Per rule: what a worker needs to make the observations of a stateful rule (nil for other rules).
    let observationPlans: [ObservationPlan?]

    init(rules: [CompiledRule], fields: [BoundField], instructions: ContiguousArray<Instruction>, predicates: ContiguousArray<Predicate>,
         sets: [ByteSet], constants: [UnsafeMutableRawBufferPointer], memos: ContiguousArray<Int32>) {
        self.memos = memos
        self.rules = rules
        self.fields = fields
        self.instructions = instructions
        self.predicates = predicates
        self.sets = sets
        self.constants = constants
        self.enabledRules = rules.indices.filter { rules[$0].enabled }.map { Int32($0) }
        var programs = ContiguousArray<RuleProgram>()
        for i in enabledRules {
            let r = rules[Int(i)]
            programs.append(RuleProgram(rule: i, entry: r.programEntry, verbMask: r.verbMask,
                                        stageMask: r.stageMask, resourceMask: r.resourceMask))
            if let a = r.aggregate, let thenEntry = a.thenEntry {
                programs.append(RuleProgram(rule: i, entry: thenEntry, verbMask: a.thenMasks.verb,
                                            stageMask: a.thenMasks.stage, resourceMask: a.thenMasks.resource, step: 1))
            }
        }
        self.programs = programs
        self.observationPlans = rules.map { r in r.aggregate.map { ObservationPlan($0, outputFields: r.outputFields) } }
    }

    deinit {
        for s in sets { s.deallocate() }
        for c in constants { c.deallocate() }
    }

    /// The number of enabled rules.
    public var enabledCount: Int { enabledRules.count }
}

// MARK: - Event keys used by the rule index

let knownVerbs: [String] = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "proxy"]
let allMask: UInt64 = ~0

/// The verb's bit: 62 when absent, 63 for a verb that is not one of ``knownVerbs`` (or not a string),
/// every bit when the raw text has escapes (the index cannot tell; the condition decides).
@inline(__always) func verbBit(_ v: JSONValue?) -> UInt64 {
    guard let v, !v.isNull else { return 1 << 62 }
    guard v.isString else { return 1 << 63 }
    if v.hasEscapes { return allMask }
    let b = v.rawBytes
    switch b.count {
    case 3:
        if v.stringEquals("get") { return 1 << 0 }
    case 4:
        if v.stringEquals("list") { return 1 << 1 }
    case 5:
        if v.stringEquals("watch") { return 1 << 2 }
        if v.stringEquals("patch") { return 1 << 5 }
        if v.stringEquals("proxy") { return 1 << 8 }
    case 6:
        if v.stringEquals("create") { return 1 << 3 }
        if v.stringEquals("update") { return 1 << 4 }
        if v.stringEquals("delete") { return 1 << 6 }
    case 16:
        if v.stringEquals("deletecollection") { return 1 << 7 }
    default: break
    }
    return 1 << 63
}

func verbBit(text: String) -> UInt64 {
    if let i = knownVerbs.firstIndex(of: text) { return 1 << UInt64(i) }
    return 1 << 63
}

/// The stage's bit: 62 when absent, 63 for an unknown stage, every bit when the raw text has escapes.
@inline(__always) func stageBit(_ e: AuditEvent) -> UInt64 {
    guard let v = e.stageValue, !v.isNull else { return 1 << 62 }
    if v.isString && v.hasEscapes { return allMask }
    let s = e.stage
    return s == .unknown ? 1 << 63 : 1 << UInt64(s.rawValue)
}

func stageBit(text: String) -> UInt64 {
    switch text {
    case "RequestReceived": return 1 << UInt64(AuditStage.requestReceived.rawValue)
    case "ResponseStarted": return 1 << UInt64(AuditStage.responseStarted.rawValue)
    case "ResponseComplete": return 1 << UInt64(AuditStage.responseComplete.rawValue)
    case "Panic": return 1 << UInt64(AuditStage.panic.rawValue)
    default: return 1 << 63
    }
}

/// The resource's bit: a hash of its text (the raw JSON text for a non-string, which is also its field
/// text) into bits 0–61; 63 when absent; every bit when the raw text has escapes.
@inline(__always) func resourceBit(_ v: JSONValue?) -> UInt64 {
    guard let v, !v.isNull else { return 1 << 63 }
    if v.isString && v.hasEscapes { return allMask }
    return 1 << (fnv1a(v.rawBytes) % 62)
}

func resourceBit(text: String) -> UInt64 {
    var bytes = Array(text.utf8)
    return bytes.withUnsafeMutableBytes { 1 << (fnv1a(UnsafeRawBufferPointer($0)) % 62) }
}

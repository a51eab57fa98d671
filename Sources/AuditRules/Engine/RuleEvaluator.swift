import AuditJSON
import AuditInput

/// Evaluates a ``CompiledRuleSet`` on events. One evaluator per worker thread (it holds per-event
/// scratch state); the rule set itself is shared.
///
/// Per event: each field is extracted at most once (cached by slot), conditions short-circuit, and rules
/// whose verb, stage or resource cannot match are skipped without running. Once the scratch buffers have
/// grown, evaluating an event that matches no rule allocates nothing.
public final class RuleEvaluator {
    public let ruleSet: CompiledRuleSet
    let arena = ScratchArena()
    var output: FieldOutput
    private var cacheGeneration: UnsafeMutablePointer<UInt32>
    private var cacheStart: UnsafeMutablePointer<Int32>
    private var cacheCount: UnsafeMutablePointer<Int32>
    private var generation: UInt32 = 0
    private var event: AuditEvent? = nil
    private let fieldCount: Int
    // Raw copies of the rule set's hot tables: no reference counting in the evaluation loop.
    private let predicates: UnsafeMutableBufferPointer<Predicate>
    private let sets: UnsafeMutableBufferPointer<ByteSet>
    private let instructions: UnsafeMutableBufferPointer<Instruction>
    private let programs: UnsafeMutableBufferPointer<RuleProgram>
    private let slots: UnsafeMutablePointer<FieldSlot>

    /// A field's extractor and compiled argument, side by side for the hot path.
    struct FieldSlot {
        let extract: FieldExtractor
        let argument: FieldArgument
    }
    /// Rule programs run so far (rules the index skipped are not counted); for tests and statistics.
    public private(set) var programsRun = 0
    /// Field tests run so far (tests skipped by short-circuiting are not counted); for tests and statistics.
    public private(set) var predicatesRun = 0

    public init(ruleSet: CompiledRuleSet) {
        self.ruleSet = ruleSet
        self.output = FieldOutput(arena: arena)
        fieldCount = max(1, ruleSet.fields.count)
        cacheGeneration = .allocate(capacity: fieldCount)
        cacheGeneration.initialize(repeating: 0, count: fieldCount)
        cacheStart = .allocate(capacity: fieldCount)
        cacheStart.initialize(repeating: 0, count: fieldCount)
        cacheCount = .allocate(capacity: fieldCount)
        cacheCount.initialize(repeating: 0, count: fieldCount)
        predicates = .allocate(capacity: max(1, ruleSet.predicates.count))
        _ = predicates.initialize(from: ruleSet.predicates)
        sets = .allocate(capacity: max(1, ruleSet.sets.count))
        _ = sets.initialize(from: ruleSet.sets)
        instructions = .allocate(capacity: max(1, ruleSet.instructions.count))
        _ = instructions.initialize(from: ruleSet.instructions)
        programs = .allocate(capacity: max(1, ruleSet.programs.count))
        _ = programs.initialize(from: ruleSet.programs)
        slots = .allocate(capacity: fieldCount)
        for (i, f) in ruleSet.fields.enumerated() {
            (slots + i).initialize(to: FieldSlot(extract: f.definition.extract, argument: f.argument))
        }
    }

    deinit {
        cacheGeneration.deallocate()
        cacheStart.deallocate()
        cacheCount.deallocate()
        predicates.deallocate()
        sets.deallocate()
        instructions.deallocate()
        programs.deallocate()
        slots.deinitialize(count: ruleSet.fields.count)
        slots.deallocate()
    }

    /// Starts a new event: forgets the previous event's field values.
    @inline(__always) func begin(_ e: AuditEvent) {
        generation &+= 1
        if generation == 0 {
            cacheGeneration.update(repeating: 0, count: fieldCount)
            generation = 1
        }
        arena.reset()
        output.removeAll()
        event = e
    }

    /// Evaluates every enabled rule on `e` and calls `match` with the index (in ``CompiledRuleSet/rules``)
    /// of each rule that matches, in rule order. Field values stay available (``values(ofSlot:)``,
    /// ``render(rule:)``) until the next call.
    public func evaluate(_ e: AuditEvent, _ match: (Int) -> Void) {
        evaluate(e, steps: { rule, step in if step == 0 { match(rule) } })
    }

    /// Like ``evaluate(_:_:)``, and also reports the `then` step of sequence rules: `match(rule, step)`
    /// gets step 0 when the rule's condition matches, 1 when its `then` condition matches.
    public func evaluate(_ e: AuditEvent, steps match: (_ rule: Int, _ step: Int) -> Void) {
        begin(e)
        let verb = verbBit(e.verb)
        let stage = stageBit(e)
        let resource = resourceBit(e.resource)
        let programs = self.programs
        for k in 0..<programs.count {
            let p = programs[k]
            if p.verbMask & verb == 0 || p.stageMask & stage == 0 || p.resourceMask & resource == 0 { continue }
            programsRun &+= 1
            if run(Int(p.start), Int(p.end)) { match(Int(p.rule), Int(p.step)) }
        }
    }

    /// Evaluates one rule on `e` (no index pruning); for tests and tools.
    public func matches(rule index: Int, _ e: AuditEvent) -> Bool {
        begin(e)
        let rule = ruleSet.rules[index]
        programsRun &+= 1
        return run(rule.programStart, rule.programEnd)
    }

    @inline(__always) private func run(_ start: Int, _ end: Int) -> Bool {
        var acc = false
        var pc = start
        let instructions = self.instructions
        while pc < end {
            switch instructions[pc] {
            case .test(let p):
                acc = test(Int(p))
                pc &+= 1
            case .jumpIfFalse(let target):
                pc = acc ? pc &+ 1 : Int(target)
            case .jumpIfTrue(let target):
                pc = acc ? Int(target) : pc &+ 1
            case .not:
                acc = !acc
                pc &+= 1
            case .constant(let b):
                acc = b
                pc &+= 1
            }
        }
        return acc
    }

    /// Extracts (once per event) the values of a field slot; returns the range in `output.values`.
    @inline(__always) func extract(_ slot: Int) -> Range<Int> {
        if cacheGeneration[slot] == generation {
            let s = Int(cacheStart[slot])
            return s..<(s &+ Int(cacheCount[slot]))
        }
        let start = output.values.count
        if let e = event { slots[slot].extract(e, slots[slot].argument, &output) }
        let count = output.values.count &- start
        cacheGeneration[slot] = generation
        cacheStart[slot] = Int32(start)
        cacheCount[slot] = Int32(count)
        return start..<(start &+ count)
    }

    /// The values of a field slot for the current event (empty = not available).
    public func values(ofSlot slot: Int) -> ArraySlice<UnsafeRawBufferPointer> {
        output.values[extract(slot)]
    }

    private func test(_ index: Int) -> Bool {
        predicatesRun &+= 1
        let p = predicates[index]
        let range = extract(Int(p.slot))
        if range.isEmpty { return false }
        if p.op == .exists { return true }
        if p.otherSlot >= 0 { return testAgainstField(p, range) }
        return output.values.withUnsafeBufferPointer { all -> Bool in
            switch p.op {
            case .inSet:
                let set = sets[Int(p.set)]
                for i in range where !set.contains(all[i]) { return false }
                return true
            case .intersects:
                let set = sets[Int(p.set)]
                for i in range where set.contains(all[i]) { return true }
                return false
            case .pmatch:
                let set = sets[Int(p.set)]
                for i in range {
                    for prefix in set.items where pathPrefixMatch(all[i], prefix) { return true }
                }
                return false
            default:
                for i in range where compare(all[i], p.op, p.value, p.number) { return true }
                return false
            }
        }
    }

    /// `field op val(other)`: `in` = every value of the field is a value of `other`, `intersects` = any;
    /// other operators compare each value of the field with the first value of `other`.
    private func testAgainstField(_ p: Predicate, _ range: Range<Int>) -> Bool {
        // Extract first: extraction appends to `output.values`, which must not be borrowed meanwhile.
        let other = extract(Int(p.otherSlot))
        if other.isEmpty { return false }
        return output.values.withUnsafeBufferPointer { all -> Bool in
            switch p.op {
            case .inSet:
                outer: for i in range {
                    for j in other where bytesEqual(all[i], all[j]) { continue outer }
                    return false
                }
                return true
            case .intersects:
                for i in range {
                    for j in other where bytesEqual(all[i], all[j]) { return true }
                }
                return false
            default:
                let rhs = all[other.lowerBound]
                let number = p.op == .lt || p.op == .le || p.op == .gt || p.op == .ge ? parseInteger(rhs) : nil
                for i in range where compare(all[i], p.op, rhs, number) { return true }
                return false
            }
        }
    }

    @inline(__always) private func compare(_ v: UnsafeRawBufferPointer, _ op: PredicateOp, _ rhs: UnsafeRawBufferPointer,
                                           _ number: Int64?) -> Bool {
        switch op {
        case .eq: return bytesEqual(v, rhs)
        case .ne: return !bytesEqual(v, rhs)
        case .contains: return bytesContains(v, rhs)
        case .icontains: return bytesContainsCaseInsensitive(v, rhs)
        case .startswith: return bytesHasPrefix(v, rhs)
        case .endswith: return bytesHasSuffix(v, rhs)
        case .glob: return globMatch(v, rhs)
        case .iglob: return globMatch(v, rhs, foldCase: true)
        case .pmatch: return pathPrefixMatch(v, rhs)
        case .lt, .le, .gt, .ge:
            let c: Int
            if let b = number, let a = parseInteger(v) {
                c = a < b ? -1 : (a > b ? 1 : 0)
            } else {
                c = bytesCompare(v, rhs)
            }
            switch op {
            case .lt: return c < 0
            case .le: return c <= 0
            case .gt: return c > 0
            default: return c >= 0
            }
        default: return false
        }
    }
}

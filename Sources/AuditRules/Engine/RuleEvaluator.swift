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
    }

    deinit {
        cacheGeneration.deallocate()
        cacheStart.deallocate()
        cacheCount.deallocate()
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
        begin(e)
        let verb = verbBit(e.verb)
        let stage = stageBit(e)
        let resource = resourceBit(e.resource)
        let rules = ruleSet.rules
        for r in ruleSet.enabledRules {
            let rule = rules[Int(r)]
            if rule.verbMask & verb == 0 || rule.stageMask & stage == 0 || rule.resourceMask & resource == 0 { continue }
            if run(rule.programStart, rule.programEnd) { match(Int(r)) }
        }
    }

    /// Evaluates one rule on `e` (no index pruning); for tests and tools.
    public func matches(rule index: Int, _ e: AuditEvent) -> Bool {
        begin(e)
        let rule = ruleSet.rules[index]
        return run(rule.programStart, rule.programEnd)
    }

    @inline(__always) private func run(_ start: Int, _ end: Int) -> Bool {
        var acc = false
        var pc = start
        let instructions = ruleSet.instructions
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
        let field = ruleSet.fields[slot]
        if let e = event { field.definition.extract(e, field.argument, &output) }
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
        let p = ruleSet.predicates[index]
        let range = extract(Int(p.slot))
        if range.isEmpty { return false }
        if p.op == .exists { return true }
        return output.values.withUnsafeBufferPointer { all -> Bool in
            switch p.op {
            case .inSet:
                let set = ruleSet.sets[Int(p.set)]
                for i in range where !set.contains(all[i]) { return false }
                return true
            case .intersects:
                let set = ruleSet.sets[Int(p.set)]
                for i in range where set.contains(all[i]) { return true }
                return false
            case .pmatch:
                let set = ruleSet.sets[Int(p.set)]
                for i in range {
                    for prefix in set.items where pathPrefixMatch(all[i], prefix) { return true }
                }
                return false
            case .fieldEq, .fieldNe:
                let other = extract(Int(p.otherSlot))
                if other.isEmpty { return false }
                // Re-read: extraction may have grown the buffer.
                return output.values.withUnsafeBufferPointer { all2 in
                    let equal = bytesEqual(all2[range.lowerBound], all2[other.lowerBound])
                    return p.op == .fieldEq ? equal : !equal
                }
            default:
                for i in range where compare(all[i], p) { return true }
                return false
            }
        }
    }

    @inline(__always) private func compare(_ v: UnsafeRawBufferPointer, _ p: Predicate) -> Bool {
        switch p.op {
        case .eq: return bytesEqual(v, p.value)
        case .ne: return !bytesEqual(v, p.value)
        case .contains: return bytesContains(v, p.value)
        case .icontains: return bytesContainsCaseInsensitive(v, p.value)
        case .startswith: return bytesHasPrefix(v, p.value)
        case .endswith: return bytesHasSuffix(v, p.value)
        case .glob: return globMatch(v, p.value)
        case .lt, .le, .gt, .ge:
            let c: Int
            if let a = parseInteger(v), let b = p.number {
                c = a < b ? -1 : (a > b ? 1 : 0)
            } else {
                c = bytesCompare(v, p.value)
            }
            switch p.op {
            case .lt: return c < 0
            case .le: return c <= 0
            case .gt: return c > 0
            default: return c >= 0
            }
        default: return false
        }
    }
}

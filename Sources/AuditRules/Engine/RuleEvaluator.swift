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
    /// The event being evaluated, in memory the evaluator owns, so that extractors borrow it in place
    /// (an `AuditEvent` is a few hundred bytes of plain values: copying it per extraction showed up as a
    /// tenth of the evaluation time). Valid once ``begin(_:)`` has run.
    private let event: UnsafeMutablePointer<AuditEvent>
    private var hasEvent = false
    /// The current event's bodies were left unparsed (``AuditEvent/hasDeferredBody``) and no field that
    /// reads them has been extracted yet.
    private var bodiesDeferred = false
    /// Per field slot: ``BoundField/readsBodies``.
    private let slotReadsBodies: UnsafeMutablePointer<Bool>
    /// Where events with deferred bodies are parsed again, in full, when a field reads a body.
    private let fullTape: JSONTape
    /// Events parsed again in full so far (for tests and statistics).
    public private(set) var bodiesParsed = 0
    /// The error met when parsing the current event again for its bodies (they then count as absent).
    public private(set) var bodyError: JSONError? = nil
    private let fieldCount: Int
    // Raw copies of the rule set's hot tables: no reference counting in the evaluation loop.
    private let predicates: UnsafeMutableBufferPointer<Predicate>
    private let sets: UnsafeMutableBufferPointer<ByteSet>
    private let instructions: UnsafeMutableBufferPointer<Instruction>
    private let programs: UnsafeMutableBufferPointer<RuleProgram>
    private let slots: UnsafeMutablePointer<FieldSlot>
    private let programBuckets: ProgramBuckets
    /// Per (verb and stage bucket, resource bit): the programs to run, as a range of `resolvedItems`
    /// (start -1: not computed yet). Filled lazily: an event stream meets few combinations.
    private let resolvedStart: UnsafeMutablePointer<Int32>
    private let resolvedCount: UnsafeMutablePointer<Int32>
    private var resolvedItems: UnsafeMutablePointer<Int32>
    private var resolvedUsed = 0
    private var resolvedCapacity = 1024
    // Shared bodies (macros, tests used from several nodes) and their per-event results.
    private let memoEntries: UnsafeMutableBufferPointer<Int32>
    /// Per shared body: the generation it was computed in, times two, plus its value (one load tells
    /// whether it is known for this event and what it is).
    private let memoState: UnsafeMutablePointer<UInt64>

    /// Per rule: where its merge slots are in ``mergeSlots`` (count -1: the rule's observations are not
    /// merged, see ``ObservationPlan/merges``).
    struct MergePlan {
        var start: Int32
        var count: Int32
    }
    let mergePlans: UnsafeMutablePointer<MergePlan>
    /// The field slots whose values identify a repeat: key fields, then every distinct field.
    let mergeSlots: UnsafeMutablePointer<Int32>

    /// A field's extractor and compiled argument, side by side for the hot path.
    struct FieldSlot {
        let extract: FieldExtractor
        let argument: FieldArgument
        /// 0: call `extract`; 1: top-level member `member`; 2: key `key` of top-level member `member`
        /// (see ``FieldAccess``; only for fields without an argument).
        let kind: UInt8
        let member: AuditEvent.Member
        let key: UnsafeRawBufferPointer
    }
    /// Rule programs run so far (rules the index skipped are not counted); for tests and statistics.
    public private(set) var programsRun = 0
    /// Field tests run so far (tests skipped by short-circuiting are not counted); for tests and statistics.
    public private(set) var predicatesRun = 0

    public init(ruleSet: CompiledRuleSet, maxDepth: Int = 1024) {
        self.ruleSet = ruleSet
        fullTape = JSONTape(maxDepth: maxDepth)
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
        event = .allocate(capacity: 1)
        programBuckets = ProgramBuckets(ruleSet.programs)
        resolvedStart = .allocate(capacity: programBuckets.bucketCount * 64)
        resolvedStart.initialize(repeating: -1, count: programBuckets.bucketCount * 64)
        resolvedCount = .allocate(capacity: programBuckets.bucketCount * 64)
        resolvedCount.initialize(repeating: 0, count: programBuckets.bucketCount * 64)
        resolvedItems = .allocate(capacity: resolvedCapacity)
        memoEntries = .allocate(capacity: max(1, ruleSet.memos.count))
        _ = memoEntries.initialize(from: ruleSet.memos)
        memoState = .allocate(capacity: max(1, ruleSet.memos.count))
        memoState.initialize(repeating: 0, count: max(1, ruleSet.memos.count))
        mergePlans = .allocate(capacity: max(1, ruleSet.rules.count))
        var flatSlots: [Int32] = []
        for (i, plan) in ruleSet.observationPlans.enumerated() {
            guard let plan, plan.merges else {
                (mergePlans + i).initialize(to: MergePlan(start: 0, count: -1))
                continue
            }
            let start = flatSlots.count
            flatSlots += plan.keySlots.map { Int32($0) }
            for slots in plan.distinctSlots { flatSlots += slots.map { Int32($0) } }
            (mergePlans + i).initialize(to: MergePlan(start: Int32(start), count: Int32(flatSlots.count - start)))
        }
        mergeSlots = .allocate(capacity: max(1, flatSlots.count))
        mergeSlots.initialize(from: flatSlots, count: flatSlots.count)
        slots = .allocate(capacity: fieldCount)
        slotReadsBodies = .allocate(capacity: fieldCount)
        slotReadsBodies.initialize(repeating: false, count: fieldCount)
        for (i, f) in ruleSet.fields.enumerated() { slotReadsBodies[i] = f.readsBodies }
        for (i, f) in ruleSet.fields.enumerated() {
            var kind: UInt8 = 0
            var member = AuditEvent.Member.auditID
            var key = UnsafeRawBufferPointer(start: nil, count: 0)
            if case .none = f.argument, let access = f.definition.access {
                switch access {
                case .member(let m):
                    kind = 1
                    member = m
                case .memberKey(let m, let k):
                    kind = 2
                    member = m
                    key = UnsafeRawBufferPointer(start: k.utf8Start, count: k.utf8CodeUnitCount)
                }
            }
            (slots + i).initialize(to: FieldSlot(extract: f.definition.extract, argument: f.argument, kind: kind, member: member, key: key))
        }
    }

    deinit {
        if hasEvent { event.deinitialize(count: 1) }
        event.deallocate()
        memoEntries.deallocate()
        memoState.deallocate()
        cacheGeneration.deallocate()
        cacheStart.deallocate()
        cacheCount.deallocate()
        predicates.deallocate()
        sets.deallocate()
        instructions.deallocate()
        programs.deallocate()
        programBuckets.deallocate()
        resolvedStart.deallocate()
        resolvedCount.deallocate()
        resolvedItems.deallocate()
        slots.deinitialize(count: ruleSet.fields.count)
        slots.deallocate()
        slotReadsBodies.deallocate()
        mergePlans.deallocate()
        mergeSlots.deallocate()
    }

    /// Starts a new event: forgets the previous event's field values.
    @inline(__always) func begin(_ e: AuditEvent) {
        generation &+= 1
        if generation == 0 {
            cacheGeneration.update(repeating: 0, count: fieldCount)
            memoState.update(repeating: 0, count: max(1, memoEntries.count))
            generation = 1
        }
        arena.reset()
        output.removeAll()
        if hasEvent { event.deinitialize(count: 1) }
        event.initialize(to: e)
        hasEvent = true
        bodiesDeferred = e.hasDeferredBody
        bodyError = nil
    }

    /// Replaces the current event, whose bodies the tape left unparsed, by the same event parsed in full
    /// (values extracted so far point into the input bytes, which both views share). When that parse
    /// fails, the bodies count as absent and ``bodyError`` tells why.
    @inline(never) private func parseBodies() {
        bodiesDeferred = false
        bodiesParsed &+= 1
        let root = event.pointee.root
        do throws(JSONError) {
            try fullTape.parse(root.rawBytes)
            event.pointee = AuditEvent(root: fullTape.root)
        } catch {
            bodyError = JSONError(offset: root.byteOffset + error.offset, reason: error.reason)
            event.pointee.requestObject = nil
            event.pointee.responseObject = nil
        }
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
        if let b = programBuckets.bucketIndex(verb: verb, stage: stage), resource.nonzeroBitCount == 1 {
            // Only the programs whose verb, stage and resource masks admit this event: the bucket's list
            // filtered by the resource bit, computed on first use and kept (see ``resolvedStart``). When
            // the cache is full (huge rule sets meeting many combinations), the full scan below decides.
            let key = b &* 64 &+ resource.trailingZeroBitCount
            if resolvedStart[key] >= 0 || resolve(key, bucket: b, resource: resource) {
                let start = Int(resolvedStart[key])
                let end = start &+ Int(resolvedCount[key])
                let items = resolvedItems
                for k in start..<end {
                    let p = programs[Int(items[k])]
                    programsRun &+= 1
                    if run(p.entry) { match(Int(p.rule), Int(p.step)) }
                }
                return
            }
        }
        for k in 0..<programs.count {
            let p = programs[k]
            if p.verbMask & verb == 0 || p.stageMask & stage == 0 || p.resourceMask & resource == 0 { continue }
            programsRun &+= 1
            if run(p.entry) { match(Int(p.rule), Int(p.step)) }
        }
    }

    /// Most program numbers kept in `resolvedItems` (4 MiB): the combinations an event stream meets are
    /// few, but a hostile one with a very large rule set could otherwise grow it without bound.
    var resolvedLimit = 1 << 20

    /// Computes the program list of `key`; false (nothing kept) when it would pass ``resolvedLimit``.
    @inline(never) private func resolve(_ key: Int, bucket b: Int, resource: UInt64) -> Bool {
        let range = programBuckets.range(of: b)
        if resolvedUsed + range.count > resolvedLimit { return false }
        if resolvedUsed + range.count > resolvedCapacity {
            var c = resolvedCapacity * 2
            while c < resolvedUsed + range.count { c *= 2 }
            let n = UnsafeMutablePointer<Int32>.allocate(capacity: c)
            n.update(from: resolvedItems, count: resolvedUsed)
            resolvedItems.deallocate()
            resolvedItems = n
            resolvedCapacity = c
        }
        let start = resolvedUsed
        for k in range {
            let index = programBuckets.items[k]
            if programs[Int(index)].resourceMask & resource != 0 {
                resolvedItems[resolvedUsed] = index
                resolvedUsed += 1
            }
        }
        resolvedStart[key] = Int32(start)
        resolvedCount[key] = Int32(resolvedUsed - start)
        return true
    }

    /// Evaluates one rule on `e` (no index pruning); for tests and tools.
    public func matches(rule index: Int, _ e: AuditEvent) -> Bool {
        begin(e)
        let rule = ruleSet.rules[index]
        programsRun &+= 1
        return run(rule.programEntry)
    }

    /// Walks a decision graph (see ``Instruction``) from `entry` to its verdict.
    @inline(__always) private func run(_ entry: Int32) -> Bool {
        var pc = entry
        let instructions = self.instructions.baseAddress!
        while pc >= 0 {
            let node = instructions + Int(pc)
            let operand = Int(node.pointee.operand)
            let v: Bool
            if node.pointee.isCall {
                // A shared body already computed for this event is read here, without a call.
                let state = memoState[operand]
                v = state &>> 1 == UInt64(generation) ? state & 1 != 0 : computeShared(operand)
            } else {
                v = test(operand)
            }
            pc = v ? node.pointee.onTrue : node.pointee.onFalse
        }
        return pc == Instruction.accept
    }

    /// Computes shared body `id` for the current event and remembers its value (``run(_:)`` reads it
    /// from ``memoState`` once it is known).
    @inline(never) private func computeShared(_ id: Int) -> Bool {
        let v = run(memoEntries[id])
        memoState[id] = UInt64(generation) &<< 1 | (v ? 1 : 0)
        return v
    }

    /// Extracts (once per event) the values of a field slot; returns the range in the output's values.
    @inline(__always) func extract(_ slot: Int) -> Range<Int> {
        if cacheGeneration[slot] == generation {
            let s = Int(cacheStart[slot])
            return s..<(s &+ Int(cacheCount[slot]))
        }
        return extractNew(slot)
    }

    /// ``extract(_:)`` of a slot not extracted yet for this event.
    @inline(never) private func extractNew(_ slot: Int) -> Range<Int> {
        if bodiesDeferred && slotReadsBodies[slot] { parseBodies() }
        let start = output.count
        if hasEvent {
            let s = slots + slot
            switch s.pointee.kind {
            case 1:
                if let v = event.pointee.value(of: s.pointee.member) { output.add(json: v) }
            case 2:
                if let v = event.pointee.value(of: s.pointee.member)?.member(s.pointee.key) { output.add(json: v) }
            default:
                s.pointee.extract(event.pointee, s.pointee.argument, &output)
            }
        }
        let count = output.count &- start
        cacheGeneration[slot] = generation
        cacheStart[slot] = Int32(start)
        cacheCount[slot] = Int32(count)
        return start..<(start &+ count)
    }

    /// The values of a field slot for the current event (empty = not available). The buffer is valid
    /// until the next extraction of a slot not extracted yet, or the next event.
    public func values(ofSlot slot: Int) -> UnsafeBufferPointer<UnsafeRawBufferPointer> {
        let r = extract(slot)
        return UnsafeBufferPointer(start: output.base + r.lowerBound, count: r.count)
    }

    private func test(_ index: Int) -> Bool {
        predicatesRun &+= 1
        let p = predicates.baseAddress! + index
        let range = extract(Int(p.pointee.slot))
        if range.isEmpty { return false }
        let op = p.pointee.op
        if op == .exists { return true }
        if p.pointee.otherSlot >= 0 { return testAgainstField(p.pointee, range) }
        let all = output.base
        switch op {
        case .eq:
            let rhs = p.pointee.value
            for i in range where bytesEqual(all[i], rhs) { return true }
            return false
        case .startswith:
            let rhs = p.pointee.value
            for i in range where bytesHasPrefix(all[i], rhs) { return true }
            return false
        case .contains:
            let rhs = p.pointee.value
            for i in range where bytesContains(all[i], rhs) { return true }
            return false
        case .inSet:
            let set = sets.baseAddress! + Int(p.pointee.set)
            for i in range where !set.pointee.contains(all[i]) { return false }
            return true
        case .intersects:
            let set = sets.baseAddress! + Int(p.pointee.set)
            for i in range where set.pointee.contains(all[i]) { return true }
            return false
        case .pmatch:
            let set = sets.baseAddress! + Int(p.pointee.set)
            for i in range {
                for prefix in set.pointee.items where pathPrefixMatch(all[i], prefix) { return true }
            }
            return false
        case .containsAny:
            let set = sets.baseAddress! + Int(p.pointee.set)
            for i in range where set.pointee.substringOf(all[i], foldCase: false) { return true }
            return false
        case .icontainsAny:
            let set = sets.baseAddress! + Int(p.pointee.set)
            for i in range where set.pointee.substringOf(all[i], foldCase: true) { return true }
            return false
        case .startswithAny:
            let set = sets.baseAddress! + Int(p.pointee.set)
            for i in range {
                for prefix in set.pointee.items where bytesHasPrefix(all[i], prefix) { return true }
            }
            return false
        default:
            return compareAny(p, range)
        }
    }

    /// The other operators (less frequent; kept out of line so that `test` stays small).
    @inline(never) private func compareAny(_ p: UnsafeMutablePointer<Predicate>, _ range: Range<Int>) -> Bool {
        let all = output.base
        let op = p.pointee.op
        let rhs = p.pointee.value
        let number = p.pointee.number
        for i in range where compare(all[i], op, rhs, number) { return true }
        return false
    }

    /// `field op val(other)`: `in` = every value of the field is a value of `other`, `intersects` = any;
    /// other operators compare each value of the field with the first value of `other`.
    private func testAgainstField(_ p: Predicate, _ range: Range<Int>) -> Bool {
        // Extract first: extraction may move the output's values.
        let other = extract(Int(p.otherSlot))
        if other.isEmpty { return false }
        let all = output.base
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

/// The rule programs grouped by the event's verb and stage: for each pair of verb bit and stage bit (see
/// ``verbBit(_:)`` and ``stageBit(_:)``), the programs whose masks admit both, in load order. An event
/// then meets only the programs of its bucket, and only the resource mask is left to check.
struct ProgramBuckets {
    /// Verb bits with a bucket: the known verbs (0–8), absent (62) and other (63).
    static let verbBits: [Int] = Array(0..<knownVerbs.count) + [62, 63]
    /// Stage bits with a bucket: the stages (0–4), absent (62) and other (63).
    static let stageBits: [Int] = Array(0..<AuditStage.allCases.count) + [62, 63]
    /// Bucket number of each verb bit and stage bit (-1: none; such events take the full scan).
    private let verbSlot: UnsafeMutablePointer<Int8>
    private let stageSlot: UnsafeMutablePointer<Int8>
    /// Bucket b holds `items[starts[b] ..< starts[b + 1]]`.
    private let starts: UnsafeMutablePointer<Int32>
    let items: UnsafeMutablePointer<Int32>
    private let stageCount: Int

    init(_ programs: ContiguousArray<RuleProgram>) {
        stageCount = Self.stageBits.count
        verbSlot = .allocate(capacity: 64)
        verbSlot.initialize(repeating: -1, count: 64)
        stageSlot = .allocate(capacity: 64)
        stageSlot.initialize(repeating: -1, count: 64)
        for (k, bit) in Self.verbBits.enumerated() { verbSlot[bit] = Int8(k) }
        for (k, bit) in Self.stageBits.enumerated() { stageSlot[bit] = Int8(k) }
        var lists: [Int32] = []
        var starts: [Int32] = []
        for v in Self.verbBits {
            for s in Self.stageBits {
                starts.append(Int32(lists.count))
                for (k, p) in programs.enumerated() where p.verbMask & (1 << UInt64(v)) != 0 && p.stageMask & (1 << UInt64(s)) != 0 {
                    lists.append(Int32(k))
                }
            }
        }
        starts.append(Int32(lists.count))
        self.starts = .allocate(capacity: starts.count)
        self.starts.initialize(from: starts, count: starts.count)
        items = .allocate(capacity: max(1, lists.count))
        items.initialize(from: lists, count: lists.count)
    }

    func deallocate() {
        verbSlot.deallocate()
        stageSlot.deallocate()
        starts.deallocate()
        items.deallocate()
    }

    /// The number of buckets.
    var bucketCount: Int { Self.verbBits.count * stageCount }

    /// The bucket of an event with these verb and stage bits; nil when either is not a single bucketed bit
    /// (escaped text: all bits), and every program must be checked.
    @inline(__always) func bucketIndex(verb: UInt64, stage: UInt64) -> Int? {
        guard verb.nonzeroBitCount == 1, stage.nonzeroBitCount == 1 else { return nil }
        let v = Int(verbSlot[verb.trailingZeroBitCount])
        let s = Int(stageSlot[stage.trailingZeroBitCount])
        guard v >= 0, s >= 0 else { return nil }
        return v &* stageCount &+ s
    }

    /// The positions in ``items`` of bucket `b`'s programs.
    @inline(__always) func range(of b: Int) -> Range<Int> {
        Int(starts[b])..<Int(starts[b &+ 1])
    }
}

import Foundation
import XCTest
import AuditJSON
import AuditInput
@testable import AuditRules

// Stateful rules (`aggregate:`): loading and compiling, each detector's semantics on event time (window
// edges, re-arming, lateness, eviction), state save/load, and each default stateful rule on its attack
// and on near misses.

// MARK: - Helpers

/// 2026-03-14T09:00:00Z in nanoseconds.
let statefulT0: Int64 = 1_773_478_800 * 1_000_000_000

/// Nanoseconds `seconds` after `statefulT0`.
func at(_ seconds: Double) -> Int64 { statefulT0 + Int64((seconds * 1e9).rounded()) }

let minute = 60.0
let day = 86_400.0

/// `json` (an event from `auditEvent`) moved to `seconds` after `statefulT0`.
func timed(_ json: String, _ seconds: Double) -> String {
    let ts = TimeFormat.rfc3339(at(seconds))
    return json.replacingOccurrences(of: "2026-03-14T09:26:53.612001Z", with: ts)
        .replacingOccurrences(of: "2026-03-14T09:26:53.589793Z", with: ts)
}

/// Evaluates events, turns the matches of stateful rules into observations as a worker does (repeats
/// merged within `batch` events) and feeds them to detectors.
final class StatefulHarness {
    let ruleSet: CompiledRuleSet
    var detectors: StatefulDetectors
    let evaluator: RuleEvaluator
    private let tape = JSONTape()
    /// The line number of the last event fed (the observations' input position is `test:line`).
    var line = 0

    init(ruleSet: CompiledRuleSet, options: StatefulOptions = StatefulOptions()) {
        self.ruleSet = ruleSet
        self.detectors = StatefulDetectors(ruleSet: ruleSet, options: options)
        self.evaluator = RuleEvaluator(ruleSet: ruleSet)
    }

    /// Rules written after the default macros and lists (`ah_*`).
    convenience init?(rules yaml: String, options: StatefulOptions = StatefulOptions(), file: StaticString = #filePath, line: UInt = #line) {
        let result = RuleCompiler.load([DefaultRules.files[0], RuleFile(path: "test.yaml", text: yaml)])
        guard let set = result.ruleSet else {
            XCTFail("rules do not load:\n" + result.diagnostics.map(\.description).joined(separator: "\n"), file: file, line: line)
            return nil
        }
        self.init(ruleSet: set, options: options)
    }

    /// The observations of `events`, in order.
    func observations(_ events: [String], batch: Int = 1) -> [Observation] {
        var out: [Observation] = []
        var start = 0
        while start < events.count {
            var merger = ObservationMerger()
            var list: [Observation] = []
            for json in events[start..<min(events.count, start + batch)] {
                line += 1
                let bytes = Array(json.utf8)
                bytes.withUnsafeBytes { buffer in
                    do {
                        try tape.parse(buffer)
                    } catch {
                        XCTFail("test event is not JSON: \(json)")
                        return
                    }
                    let event = AuditEvent(root: tape.root)
                    if event.stage == .requestReceived { return }
                    evaluator.evaluate(event, steps: { rule, step in
                        guard ruleSet.rules[rule].aggregate != nil else { return }
                        evaluator.observe(rule: rule, step: step, time: event.time ?? 0, auditID: event.auditID, source: "test",
                                          line: line, item: 0, into: &list, merging: &merger)
                    })
                }
            }
            out += list
            start += batch
        }
        return out
    }

    /// The alerts `events` complete.
    func feed(_ events: [String], batch: Int = 1) -> [Alert] {
        detectors.observe(observations(events, batch: batch))
    }

    /// `feed` then `finish`.
    func run(_ events: [String], batch: Int = 1) -> [Alert] {
        feed(events, batch: batch) + detectors.finish()
    }
}

/// xorshift64*: reproducible random streams for tests.
struct XorShift {
    var state: UInt64
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}

/// A forbidden request by `user` from `ip` at `seconds`.
func forbidden(_ seconds: Double, ip: String = "203.0.113.9", user: String = "mallory", resource: String = "pods",
               id: Int = 0) -> String {
    timed(auditEvent(verb: "list", resource: resource, user: user, decision: "forbid", sourceIPs: [ip], auditID: "id-\(id)"), seconds)
}

let burstRules = """
- rule: Burst
  desc: forbidden requests from one address
  condition: ka.response.code = 403
  output: burst (user=%ka.user.name ip=%ka.sourceip)
  priority: WARNING
  aggregate: {type: threshold, key: [ka.sourceip], window: 5m, count: 5}
"""

// MARK: - Loading and compiling

final class StatefulLoadingTests: XCTestCase {
    func testLRUTableAgreesWithADictionaryUnderRandomUse() {
        // Random inserts, lookups (by String and by bytes), touches and removals against a reference
        // (a dictionary plus a use order), with a small capacity so evictions happen, and keys that share
        // prefixes so probe runs are long and deletions must move later entries back.
        var rng = XorShift(state: 0x9E37_79B9_7F4A_7C15)
        for capacity in [1, 7, 64, 1000] {
            var table = LRUTable<Int>(capacity: capacity)
            var reference: [String: Int] = [:]
            var order: [String] = []  // least recently used first
            for step in 0..<20_000 {
                let key = "user-\(rng.next() % 600)\u{1F}agent"
                let found = table.slot(key)
                let byBytes = Array(key.utf8).withUnsafeBytes { table.slot(bytes: $0) }
                XCTAssertEqual(found, byBytes)
                XCTAssertEqual(found.map { table.value($0) }, reference[key], "step \(step)")
                XCTAssertEqual(found.map { table.key($0) }, reference[key] == nil ? nil : key)
                switch rng.next() % 4 {
                case 0, 1:
                    if let slot = found {
                        table.touch(slot)
                        order.removeAll { $0 == key }
                        order.append(key)
                    } else {
                        let r = table.insert(key, step)
                        if reference.count >= capacity {
                            let victim = order.removeFirst()
                            XCTAssertEqual(r.evicted?.key, victim)
                            reference[victim] = nil
                        } else {
                            XCTAssertNil(r.evicted)
                        }
                        reference[key] = step
                        order.append(key)
                    }
                case 2:
                    if let slot = found {
                        XCTAssertEqual(table.remove(slot), reference[key])
                        reference[key] = nil
                        order.removeAll { $0 == key }
                    }
                default:
                    break
                }
                XCTAssertEqual(table.count, reference.count)
            }
            XCTAssertEqual(table.slotsOldestFirst.map { table.key($0) }, order, "capacity \(capacity)")
        }
    }

    func testObservationTextsOfABatchStayApart() {
        // Several rules' observations share one text buffer per batch; each must read back its own key,
        // distinct values (none, one, several), auditID (escaped in the JSON) and output fields (absent,
        // one value, a list).
        let rules = """
        - rule: NoDistinct
          desc: x
          condition: ka.verb = list
          output: n %ka.user.name %ka.target.name
          priority: NOTICE
          aggregate: {type: threshold, key: [ka.user.name, ka.sourceip/24], window: 5m, count: 50}
        - rule: TwoDistinct
          desc: x
          condition: ka.verb = list
          output: t %ka.user.groups %ka.target.resource
          priority: NOTICE
          aggregate:
            type: distinct
            key: [ka.user.name]
            window: 5m
            distinct: [{field: ka.target.resource, count: 9}, {field: [ka.target.namespace, ka.verb], count: 9}]
        """
        guard let h = StatefulHarness(rules: rules) else { return }
        let events = (0..<3).map { i in
            timed(auditEvent(verb: "list", resource: "pods-\(i)", namespace: "ns\(i)", user: "u\u{1F}\(i)",
                             groups: ["g\(i)", "h"], sourceIPs: ["10.1.\(i).7"], auditID: "a\\\"\(i)"), Double(i))
        }
        let list = h.observations(events, batch: 3)
        XCTAssertEqual(list.count, 6)
        for (k, o) in list.enumerated() {
            let i = k / 2
            XCTAssertEqual(o.auditID, "a\\\"\(i)")
            XCTAssertEqual(o.source, "test")
            if k % 2 == 0 {
                XCTAssertEqual(h.ruleSet.rules[o.rule].name, "NoDistinct")
                XCTAssertEqual(o.keyValues, ["u\u{FFFD}\(i)", "10.1.\(i).0/24"])
                XCTAssertEqual(o.distinct, [])
                XCTAssertEqual(o.outputValues().map { $0 ?? ["-"] }, [["u\u{1F}\(i)"], ["-"]])
            } else {
                XCTAssertEqual(h.ruleSet.rules[o.rule].name, "TwoDistinct")
                XCTAssertEqual(o.key, "u\u{FFFD}\(i)")
                XCTAssertEqual(o.distinct, ["pods-\(i)", "ns\(i)/list"])
                XCTAssertEqual(o.outputValues().map { $0 ?? ["-"] }, [["g\(i)", "h"], ["pods-\(i)"]])
            }
            XCTAssertTrue(o.texts === list[0].texts, "one text buffer per batch")
            o.withKeyBytes { XCTAssertEqual(Array($0), Array(o.key.utf8)) }
        }
        // An observation with texts of its own reads back the same way.
        let own = Observation(rule: 0, step: 1, time: 5, lastTime: 6, key: "k\u{1F}x", distinct: [], auditID: "id",
                              source: "s", line: 3, item: 2, output: [nil, ["a", "b"], []])
        XCTAssertEqual(own.keyValues, ["k", "x"])
        XCTAssertEqual(own.distinct, [])
        XCTAssertEqual(own.auditID, "id")
        XCTAssertEqual(own.input, "s:3#2")
        XCTAssertEqual(own.outputValues().map { $0 ?? ["-"] }, [["-"], ["a", "b"], ["-"]])
    }

    func testMergerFindsExactRepeatsOnly() {
        // Repeats are found whatever the table size; keys that differ in any byte (or only in how bytes
        // split between values) are never merged; a reset forgets the batch.
        var merger = ObservationMerger()
        func look(_ values: [String], as observation: Int) -> Int? {
            merger.material.count = 0
            merger.material.append(values.count)
            for v in values {
                merger.material.append(v.utf8.count)
                Array(v.utf8).withUnsafeBytes { merger.material.append($0) }
            }
            return merger.lookupOrInsert(observation: observation)
        }
        for i in 0..<5_000 { XCTAssertNil(look(["user-\(i)", "10.0.\(i % 256).1"], as: i)) }
        for i in stride(from: 0, to: 5_000, by: 7) { XCTAssertEqual(look(["user-\(i)", "10.0.\(i % 256).1"], as: -1), i) }
        XCTAssertNil(look(["ab", "c"], as: 9_000))
        XCTAssertNil(look(["a", "bc"], as: 9_001))
        XCTAssertNil(look(["abc"], as: 9_002))
        XCTAssertEqual(look(["a", "bc"], as: -1), 9_001)
        merger.reset()
        XCTAssertNil(look(["user-1", "10.0.1.1"], as: 0))
    }

    func testHeldBackObservationsComeOutInTimeThenArrivalOrder() {
        // Mostly in order (the queue), with late and equal times mixed in (the heap), pops interleaved
        // with pushes: the order is always (time, arrival), as a full sort gives it.
        var rng = SystemRandomNumberGenerator()
        for round in 0..<40 {
            var held = ObservationHeap()
            var pending: [(time: Int64, sequence: UInt64)] = []
            var popped: [(time: Int64, sequence: UInt64)] = []
            var expected: [(time: Int64, sequence: UInt64)] = []
            var clock: Int64 = 1_000
            for sequence in 0..<UInt64(3_000) {
                let late = Int.random(in: 0..<100, using: &rng) < (round % 4) * 10
                clock += Int64.random(in: 0...3, using: &rng)
                let time = late ? clock - Int64.random(in: 1...50, using: &rng) : clock
                let o = Observation(rule: Int(sequence), step: 0, time: time, lastTime: time, key: "k", distinct: [], auditID: "",
                                    source: "s", line: 1, item: 0, output: [])
                held.push(o, sequence)
                pending.append((time, sequence))
                XCTAssertEqual(held.count, pending.count)
                if Int.random(in: 0..<3, using: &rng) == 0 {
                    // Pop everything up to a time, as the detectors do.
                    let limit = clock - Int64.random(in: 0...20, using: &rng)
                    pending.sort { $0.time != $1.time ? $0.time < $1.time : $0.sequence < $1.sequence }
                    while let first = pending.first, first.time <= limit {
                        expected.append(first)
                        pending.removeFirst()
                    }
                    while let t = held.minTime, t <= limit, let o = held.popMin() { popped.append((o.time, UInt64(o.rule))) }
                    XCTAssertEqual(held.minTime, pending.map(\.time).min())
                }
            }
            XCTAssertEqual(held.sorted.map { $0.sequence }, pending.sorted { $0.time != $1.time ? $0.time < $1.time : $0.sequence < $1.sequence }.map(\.sequence))
            while let o = held.popMin() { popped.append((o.time, UInt64(o.rule))) }
            expected += pending.sorted { $0.time != $1.time ? $0.time < $1.time : $0.sequence < $1.sequence }
            XCTAssertEqual(popped.map(\.sequence), expected.map(\.sequence), "round \(round)")
            XCTAssertEqual(held.count, 0)
            XCTAssertNil(held.popMin())
        }
    }

    func testAggregateIsParsedAndCompiled() throws {
        let h = try XCTUnwrap(StatefulHarness(rules: """
        - rule: Secret Harvest
          desc: d
          condition: ka.target.resource = secrets
          output: harvest by %ka.user.name
          priority: NOTICE
          aggregate:
            type: distinct
            key: [ka.user.name, ka.sourceip/24]
            window: 1h30m
            distinct:
              - {field: [ka.target.namespace, ka.target.name], count: 3}
              - {field: ka.verb, count: 2}
            max_count: 40
            max_keys: 500
        """))
        let rule = h.ruleSet.rules[0]
        let a = try XCTUnwrap(rule.aggregate)
        XCTAssertEqual(a.spec.kind, .distinct)
        XCTAssertEqual(a.spec.key.map(\.description), ["ka.user.name", "ka.sourceip/24"])
        XCTAssertEqual(a.spec.window, at(90 * minute) - statefulT0)
        XCTAssertEqual(a.spec.distinct.map(\.name), ["ka.target.namespace+ka.target.name", "ka.verb"])
        XCTAssertEqual(a.spec.distinct.map(\.count), [3, 2])
        XCTAssertEqual(a.spec.maxCount, 40)
        XCTAssertEqual(a.spec.keyLimit, 500)
        XCTAssertEqual(a.keySlots.count, 2)
        XCTAssertEqual(a.distinctSlots.map(\.count), [2, 1])
        XCTAssertEqual(h.ruleSet.fields[a.keySlots[1]].displayName, "ka.sourceip")
    }

    func testFirstSeenDefaultsAndSequenceThenRule() throws {
        let h = try XCTUnwrap(StatefulHarness(rules: """
        - rule: Role Changed
          desc: d
          condition: ka.target.resource = roles and ka.verb = patch
          output: role changed by %ka.user.name
          priority: INFO
        - rule: New Agent
          desc: d
          condition: ka.verb = get
          output: new agent %ka.useragent
          priority: NOTICE
          aggregate: {type: first_seen, key: ka.useragent}
        - rule: Role Then Pod
          desc: d
          condition: ka.target.resource = pods and ka.verb = create
          output: pod after role change by %ka.user.name
          priority: WARNING
          aggregate: {type: sequence, key: [ka.user.name], then: Role Changed, within: 5m}
        """))
        let firstSeen = try XCTUnwrap(h.ruleSet.rules[1].aggregate?.spec)
        XCTAssertEqual(firstSeen.learning, Int64(7 * day) * 1_000_000_000)
        XCTAssertNil(firstSeen.forgetAfter)
        XCTAssertEqual(firstSeen.minObservations, 1)
        XCTAssertEqual(firstSeen.keyLimit, AggregateSpec.defaultMaxBaselineKeys)
        // The `then` step is the named rule's condition: evaluated as step 1 of rule 2.
        var steps: [[Int]] = []
        for json in [auditEvent(verb: "patch", resource: "roles", name: "r"), auditEvent(verb: "create", resource: "pods")] {
            let bytes = Array(json.utf8)
            bytes.withUnsafeBytes { b in
                let tape = JSONTape()
                try? tape.parse(b)
                var s: [Int] = []
                h.evaluator.evaluate(AuditEvent(root: tape.root), steps: { rule, step in if rule == 2 { s.append(step) } })
                steps.append(s)
            }
        }
        XCTAssertEqual(steps, [[1], [0]])
        // The plain evaluate() reports rule matches (step 0) only.
        var plain: [Int] = []
        let bytes = Array(auditEvent(verb: "patch", resource: "roles", name: "r").utf8)
        bytes.withUnsafeBytes { b in
            let tape = JSONTape()
            try? tape.parse(b)
            h.evaluator.evaluate(AuditEvent(root: tape.root)) { plain.append($0) }
        }
        XCTAssertEqual(plain, [0])
    }

    func testAggregateErrorsHaveFilePositions() {
        func errors(_ aggregate: String) -> [String] {
            let yaml = """
            - rule: R
              desc: d
              condition: ka.verb = get
              output: o
              priority: INFO
              aggregate: \(aggregate)
            """
            let r = RuleCompiler.load([RuleFile(path: "x.yaml", text: yaml)])
            XCTAssertNil(r.ruleSet, aggregate)
            return r.diagnostics.filter { $0.severity == .error }.map(\.description)
        }
        XCTAssertTrue(errors("{type: burst, key: [ka.sourceip]}")[0].hasPrefix("x.yaml:6:21: error: aggregate of rule 'R': unknown type"))
        XCTAssertTrue(errors("{type: threshold, key: [ka.sourceip], window: 5m}")[0].contains("needs 'count'"))
        XCTAssertTrue(errors("{type: threshold, key: [ka.sourceip], window: 5 minutes, count: 3}")[0]
            .hasPrefix("x.yaml:6:60: error: aggregate of rule 'R': 'window' must be a duration"))
        XCTAssertTrue(errors("{type: threshold, window: 5m, count: 0}")[0].contains("'count' must be a whole number from 1"))
        XCTAssertTrue(errors("{type: threshold, window: 5m, count: 3, learning: 7d}")[0].contains("'learning' does not apply to type threshold"))
        XCTAssertTrue(errors("{type: threshold, window: 5m, count: 3, colour: red}")[0].contains("unknown setting 'colour'"))
        XCTAssertTrue(errors("{type: first_seen}")[0].contains("needs 'key'"))
        XCTAssertTrue(errors("{type: distinct, window: 5m}")[0].contains("needs 'distinct'"))
        XCTAssertTrue(errors("{type: sequence, within: 5m}")[0].contains("needs 'then'"))
        XCTAssertTrue(errors("[threshold]")[0].contains("must be a mapping"))
        // Field names are checked by the compiler, at the field's position.
        XCTAssertEqual(errors("{type: threshold, key: [ka.nope], window: 5m, count: 3}"),
                       ["x.yaml:6:38: error: aggregate of rule 'R': unknown field 'ka.nope'\n    ka.nope"])
        XCTAssertTrue(errors("{type: threshold, key: [ka.uri.param], window: 5m, count: 3}")[0].contains("field 'ka.uri.param'"))
        XCTAssertTrue(errors("{type: threshold, key: [ka.sourceip/33], window: 5m, count: 3}")[0].contains("is not a field"))
        // A `then` condition is checked like any condition, with its position.
        let then = errors("{type: sequence, then: ka.verb = , within: 5m}")
        XCTAssertTrue(then[0].hasPrefix("x.yaml:6:"), then[0])
        XCTAssertTrue(then[0].contains("'then' of rule 'R'"), then[0])
        XCTAssertTrue(errors("{type: sequence, then: no_such_macro, within: 5m}")[0].contains("unknown macro 'no_such_macro'"))
    }

    func testAggregateCanBeReplacedByOverride() throws {
        let result = RuleCompiler.load([
            RuleFile(path: "a.yaml", text: burstRules),
            RuleFile(path: "b.yaml", text: """
            - rule: Burst
              aggregate: {type: threshold, key: [ka.user.name], window: 1m, count: 50}
              override:
                aggregate: replace
            """),
        ])
        let set = try XCTUnwrap(result.ruleSet, result.diagnostics.map(\.description).joined(separator: "\n"))
        let spec = try XCTUnwrap(set.rules[0].aggregate?.spec)
        XCTAssertEqual(spec.count, 50)
        XCTAssertEqual(spec.key.map(\.field), ["ka.user.name"])
        // Giving aggregate in an override item without listing it is an error, as for other keys.
        let bad = RuleCompiler.load([
            RuleFile(path: "a.yaml", text: burstRules),
            RuleFile(path: "b.yaml", text: """
            - rule: Burst
              priority: ERROR
              aggregate: {type: threshold, window: 1m, count: 50}
              override:
                priority: replace
            """),
        ])
        XCTAssertTrue(bad.hasErrors)
    }

    func testDurations() {
        XCTAssertEqual(StatefulDuration.parse("30s"), 30_000_000_000)
        XCTAssertEqual(StatefulDuration.parse("1h30m"), 5_400_000_000_000)
        XCTAssertEqual(StatefulDuration.parse("7d"), 604_800_000_000_000)
        XCTAssertEqual(StatefulDuration.parse("250ms"), 250_000_000)
        XCTAssertEqual(StatefulDuration.parse("0"), 0)
        XCTAssertNil(StatefulDuration.parse("5"))
        XCTAssertNil(StatefulDuration.parse("m"))
        XCTAssertNil(StatefulDuration.parse("5 m"))
        XCTAssertNil(StatefulDuration.parse("99999999999999d"))
        XCTAssertEqual(StatefulDuration.format(5_400_000_000_000), "1h30m")
        XCTAssertEqual(StatefulDuration.format(36_585_000_000), "36s585ms")
        XCTAssertEqual(StatefulDuration.format(0), "0s")
    }

    func testNetworkPrefixes() {
        XCTAssertEqual(NetworkPrefix.network(of: "203.0.113.77", ipv4Bits: 24), "203.0.113.0/24")
        XCTAssertEqual(NetworkPrefix.network(of: "10.244.7.31", ipv4Bits: 16), "10.244.0.0/16")
        XCTAssertEqual(NetworkPrefix.network(of: "2001:db8:1:2:3::4", ipv4Bits: 24), "2001:db8:1:2::/64")
        XCTAssertEqual(NetworkPrefix.network(of: "::1", ipv4Bits: 24), "0:0:0:0::/64")
        XCTAssertEqual(NetworkPrefix.network(of: "::ffff:198.51.100.7", ipv4Bits: 16), "198.51.0.0/16")
        XCTAssertEqual(NetworkPrefix.network(of: "fe80::1%eth0", ipv4Bits: 16), "fe80:0:0:0::/64")
        for notAnAddress in ["256.1.1.1", "1.2.3", "1.2.3.4.5", "abc", "1::2::3", "12345::", "", "1.2.3.4x"] {
            XCTAssertEqual(NetworkPrefix.network(of: notAnAddress, ipv4Bits: 24), notAnAddress)
        }
    }
}

// MARK: - Primitives

final class StatefulDetectorTests: XCTestCase {
    // threshold

    func testThresholdNeedsCountEventsInsideTheWindow() throws {
        // N-1 events: nothing, even at the end of input.
        var h = try XCTUnwrap(StatefulHarness(rules: burstRules))
        XCTAssertEqual(h.run((0..<4).map { forbidden(Double($0) * 10, id: $0) }).count, 0)
        // N events within the window: one alert, at the N-th, naming key, count and window.
        h = try XCTUnwrap(StatefulHarness(rules: burstRules))
        let alerts = h.run((0..<5).map { forbidden(Double($0) * 10, id: $0) })
        XCTAssertEqual(alerts.count, 1)
        let a = try XCTUnwrap(alerts.first)
        XCTAssertEqual(a.rule, "Burst")
        XCTAssertEqual(a.time, at(40))
        XCTAssertEqual(a.auditID, "id-4")
        XCTAssertEqual(a.message, "burst (user=mallory ip=203.0.113.9) [5 events within 5m for ka.sourceip=203.0.113.9]")
        XCTAssertEqual(a.evidence["audit_ids"], ["id-0", "id-1", "id-2", "id-3", "id-4"])
        XCTAssertEqual(a.evidence["key"], ["ka.sourceip=203.0.113.9"])
        XCTAssertEqual(a.evidence["count"], ["5"])
        XCTAssertEqual(a.evidence["window"], ["5m"])
        XCTAssertEqual(a.evidence["window_start"], [TimeFormat.rfc3339(at(0))])
        XCTAssertEqual(a.input, "test:5")
        XCTAssertTrue(AlertFormatter.json(a, hostname: "h").contains(#""evidence":{"aggregate":["threshold"],"audit_ids":["id-0""#))
    }

    func testThresholdWindowEdges() throws {
        // The 5th event exactly one window after the first is outside it (windows are [start, start+5m)).
        var h = try XCTUnwrap(StatefulHarness(rules: burstRules))
        var events = (0..<4).map { forbidden(Double($0), id: $0) }
        events.append(forbidden(5 * minute, id: 4))
        XCTAssertEqual(h.run(events).count, 0)
        // One millisecond earlier it counts.
        h = try XCTUnwrap(StatefulHarness(rules: burstRules))
        events[4] = forbidden(5 * minute - 0.001, id: 4)
        XCTAssertEqual(h.run(events).count, 1)
        // Other keys do not add up.
        h = try XCTUnwrap(StatefulHarness(rules: burstRules))
        XCTAssertEqual(h.run((0..<8).map { forbidden(Double($0), ip: $0 % 2 == 0 ? "198.51.100.1" : "198.51.100.2", id: $0) }).count, 0)
    }

    func testThresholdAlertsOncePerWindowAndRearms() throws {
        let h = try XCTUnwrap(StatefulHarness(rules: burstRules))
        // 15 events in the first window: one alert.
        var events = (0..<15).map { forbidden(Double($0) * 10, id: $0) }
        // The window (opened at 0) closes at 5m; 5 more events after it: a second alert.
        events += (0..<5).map { forbidden(6 * minute + Double($0), id: 100 + $0) }
        // 4 more in that second window: nothing more.
        events += (0..<4).map { forbidden(7 * minute + Double($0), id: 200 + $0) }
        let alerts = h.run(events)
        XCTAssertEqual(alerts.map(\.auditID), ["id-4", "id-104"])
        XCTAssertEqual(alerts[1].evidence["window_start"], [TimeFormat.rfc3339(at(6 * minute))])
    }

    // lateness

    func testOutOfOrderEventsWithinTheLatenessCount() throws {
        var options = StatefulOptions()
        options.maxLateness = Int64(30 * 1e9)
        let h = try XCTUnwrap(StatefulHarness(rules: burstRules, options: options))
        // Arrival order 4, 0, 3, 1, 2 (all within 30 s of each other): counted in event-time order.
        let order = [4, 0, 3, 1, 2]
        let alerts = h.run(order.map { forbidden(Double($0) * 5, id: $0) })
        XCTAssertEqual(alerts.count, 1)
        XCTAssertEqual(alerts.first?.auditID, "id-4", "the alert comes with the 5th event in event time")
        XCTAssertEqual(alerts.first?.evidence["audit_ids"], ["id-0", "id-1", "id-2", "id-3", "id-4"])
        XCTAssertEqual(h.detectors.report.late, 0)
    }

    func testEventsLaterThanTheLatenessAreCountedAsLate() throws {
        var options = StatefulOptions()
        options.maxLateness = Int64(2 * minute * 1e9)
        let h = try XCTUnwrap(StatefulHarness(rules: burstRules, options: options))
        // Another source's event at 10m moves event time on; the 4 events at 5m..., then one at 7m59s.
        var events = [forbidden(10 * minute, ip: "192.0.2.1", id: 99)]
        events += (0..<4).map { forbidden(8 * minute + Double($0), id: $0) }   // within 2m of 10m: kept
        events.append(forbidden(7 * minute + 59, id: 4))                        // 2m01s behind: late
        XCTAssertEqual(h.run(events).count, 0)
        let report = h.detectors.report
        XCTAssertEqual(report.late, 1)
        XCTAssertEqual(report.rules.first?.late, 1)
        XCTAssertEqual(report.observations, 6)
        // Exactly at the lateness limit still counts.
        let h2 = try XCTUnwrap(StatefulHarness(rules: burstRules, options: options))
        events[5] = forbidden(8 * minute, id: 4)
        XCTAssertEqual(h2.run(events).count, 1)
        XCTAssertEqual(h2.detectors.report.late, 0)
    }

    func testHeldBackObservationsWaitForTheWatermarkOrAnAdvance() throws {
        var options = StatefulOptions()
        options.maxLateness = Int64(2 * minute * 1e9)
        let h = try XCTUnwrap(StatefulHarness(rules: burstRules, options: options))
        // All five in one second: held back (lateness 2m), so no alert yet.
        XCTAssertEqual(h.feed((0..<5).map { forbidden(Double($0) * 0.2, id: $0) }).count, 0)
        XCTAssertEqual(h.detectors.report.buffered, 5)
        // Event time (e.g. the wall clock of an idle tail) passing the lateness releases them.
        XCTAssertEqual(h.detectors.advance(toEventTime: at(2 * minute + 0.5)).count, 0)
        XCTAssertEqual(h.detectors.advance(toEventTime: at(2 * minute + 1)).map(\.auditID), ["id-4"])
        XCTAssertEqual(h.detectors.report.buffered, 0)
        // With no lateness, alerts come at once.
        var immediate = StatefulOptions()
        immediate.maxLateness = 0
        let h0 = try XCTUnwrap(StatefulHarness(rules: burstRules, options: immediate))
        XCTAssertEqual(h0.feed((0..<5).map { forbidden(Double($0), id: $0) }).count, 1)
    }

    func testFullHoldBackBufferReleasesTheOldest() throws {
        var options = StatefulOptions()
        options.maxBuffered = 3
        let h = try XCTUnwrap(StatefulHarness(rules: burstRules, options: options))
        XCTAssertEqual(h.feed((0..<5).map { forbidden(Double($0), id: $0) }).count, 0)
        XCTAssertEqual(h.detectors.report.buffered, 3)
        XCTAssertEqual(h.detectors.report.forcedReleases, 2)
        XCTAssertEqual(h.detectors.finish().count, 1)
    }

    // eviction

    func testKeyLimitEvictsTheLeastRecentlyUsedKeys() throws {
        let rules = burstRules.replacingOccurrences(of: "count: 5}", with: "count: 5, max_keys: 100}")
        var options = StatefulOptions()
        options.maxLateness = 0
        let h = try XCTUnwrap(StatefulHarness(rules: rules, options: options))
        // 5000 one-off sources (a flood of new keys) and, every 1000th event, the attacker's address.
        var events: [String] = []
        for i in 0..<5000 {
            if i % 1000 == 999 {
                events.append(forbidden(Double(i) * 0.01, ip: "203.0.113.66", id: i))
            } else {
                events.append(forbidden(Double(i) * 0.01, ip: "10.\(i / 65536).\(i / 256 % 256).\(i % 256)", id: i))
            }
        }
        // The attacker is evicted between its events (100 keys, 999 others in between): no alert.
        XCTAssertEqual(h.run(events).count, 0)
        let report = try XCTUnwrap(h.detectors.report.rules.first)
        XCTAssertEqual(report.evicted, 5000 - 100)
        // With its events close together it stays among the most recently used and fires.
        let h2 = try XCTUnwrap(StatefulHarness(rules: rules, options: options))
        var mixed: [String] = []
        for i in 0..<5000 {
            let attacker = i >= 2000 && i % 40 == 0
            mixed.append(forbidden(Double(i) * 0.01, ip: attacker ? "203.0.113.66" : "10.9.\(i / 256 % 256).\(i % 256)", id: i))
        }
        let alerts = h2.run(mixed)
        XCTAssertEqual(alerts.map { $0.evidence["key"] ?? [] }, [["ka.sourceip=203.0.113.66"]])
        XCTAssertLessThanOrEqual(h2.detectors.report.rules[0].keys, 100)
    }

    // distinct

    let harvestRules = """
    - rule: Harvest
      desc: d
      condition: ka.target.resource = secrets and ka.verb = get
      output: harvest (user=%ka.user.name secret=%ka.target.name)
      priority: WARNING
      aggregate:
        type: distinct
        key: [ka.user.name]
        window: 10m
        distinct: {field: [ka.target.namespace, ka.target.name], count: 4}
    """

    func secretGet(_ seconds: Double, _ name: String, ns: String = "shop", user: String = "mallory", id: Int) -> String {
        timed(auditEvent(verb: "get", resource: "secrets", namespace: ns, name: name, user: user, auditID: "id-\(id)"), seconds)
    }

    func testDistinctCountsValuesNotEvents() throws {
        // Many reads of three secrets: no alert.
        var h = try XCTUnwrap(StatefulHarness(rules: harvestRules))
        XCTAssertEqual(h.run((0..<30).map { secretGet(Double($0), "s\($0 % 3)", id: $0) }).count, 0)
        // The same name in another namespace is another secret: the 4th distinct value fires.
        h = try XCTUnwrap(StatefulHarness(rules: harvestRules))
        var events = (0..<30).map { secretGet(Double($0), "s\($0 % 3)", id: $0) }
        events.append(secretGet(40, "s0", ns: "payments", id: 99))
        let alerts = h.run(events, batch: 7)
        XCTAssertEqual(alerts.count, 1)
        let a = try XCTUnwrap(alerts.first)
        XCTAssertEqual(a.auditID, "id-99")
        XCTAssertEqual(a.evidence["distinct.ka.target.namespace+ka.target.name"], ["payments/s0", "shop/s0", "shop/s1", "shop/s2"])
        XCTAssertEqual(a.evidence["count"], ["31"], "merged repeats still count as events")
        XCTAssertEqual(a.evidence["audit_ids"], ["id-0", "id-1", "id-2", "id-99"], "evidence: the requests that brought a new value")
        XCTAssertTrue(a.message.hasSuffix("[4 distinct ka.target.namespace+ka.target.name in 31 events within 10m for ka.user.name=mallory]"),
                      a.message)
    }

    /// Broad but sparse: at least 3 paths and both decisions by one user within 10 minutes, in at most
    /// `maxCount` requests.
    func sparseRules(maxCount: Int) -> String {
        """
        - rule: Sparse
          desc: d
          condition: ka.verb in (get, list)
          output: sparse (user=%ka.user.name uri=%ka.uri)
          priority: NOTICE
          aggregate:
            type: distinct
            key: [ka.user.name]
            window: 10m
            distinct: [{field: ka.uri.path, count: 3}, {field: ka.auth.decision, count: 2}]
            max_count: \(maxCount)
        """
    }

    func testDistinctWithMaxCountIsJudgedWhenTheWindowCloses() throws {
        let rules = sparseRules(maxCount: 10)
        func request(_ seconds: Double, _ i: Int, decision: String = "allow") -> String {
            timed(auditEvent(verb: "get", resource: "pods", name: "p\(i % 4)", decision: decision, auditID: "id-\(i)"), seconds)
        }
        // 8 requests, 4 paths, allowed and forbidden: the alert comes when the window closes (an event at
        // 13m closes it), made from the request that completed the distinct conditions (the forbidden one).
        var h = try XCTUnwrap(StatefulHarness(rules: rules))
        let sparse = (0..<8).map { request(Double($0), $0, decision: $0 == 3 ? "forbid" : "allow") }
        XCTAssertEqual(h.feed(sparse).count, 0, "nothing before the window closes")
        let alerts = h.run([timed(auditEvent(verb: "get", user: "other", auditID: "later"), 13 * minute)])
        XCTAssertEqual(alerts.map(\.auditID), ["id-3"])
        XCTAssertEqual(alerts.first?.evidence["count"], ["8"])
        // 11 requests: too many for broad-but-sparse.
        h = try XCTUnwrap(StatefulHarness(rules: rules))
        XCTAssertEqual(h.run((0..<11).map { request(Double($0), $0, decision: $0 == 3 ? "forbid" : "allow") }).count, 0)
        // Only allowed requests: the decision condition fails.
        h = try XCTUnwrap(StatefulHarness(rules: rules))
        XCTAssertEqual(h.run((0..<8).map { request(Double($0), $0) }).count, 0)
        // At the end of input an open window is judged on what it holds.
        h = try XCTUnwrap(StatefulHarness(rules: rules))
        XCTAssertEqual(h.run(sparse).count, 1)
    }

    // first_seen

    let agentRules = """
    - rule: New Agent
      desc: d
      condition: ka.verb = get
      output: new agent (user=%ka.user.name agent=%ka.useragent)
      priority: NOTICE
      aggregate:
        type: first_seen
        key: [ka.user.name, ka.useragent]
        learning: 1d
        forget_after: 10d
        min_observations: 2
    """

    func agentEvent(_ seconds: Double, agent: String, user: String = "sa", id: Int = 0) -> String {
        timed(auditEvent(verb: "get", user: user, userAgent: agent, auditID: "id-\(id)"), seconds)
    }

    func testFirstSeenLearnsThenAlertsOncePerNewValue() throws {
        let h = try XCTUnwrap(StatefulHarness(rules: agentRules))
        var events = [agentEvent(0, agent: "client-go"), agentEvent(60, agent: "client-go"), agentEvent(120, agent: "kubectl")]
        // After the learning day: the known value is quiet; a new one alerts once; the one seen only once
        // while learning (fewer than min_observations) alerts too.
        events += [agentEvent(day + 1, agent: "client-go", id: 1), agentEvent(day + 2, agent: "curl/8.5", id: 2),
                   agentEvent(day + 3, agent: "curl/8.5", id: 3), agentEvent(day + 4, agent: "kubectl", id: 4),
                   agentEvent(day + 5, agent: "kubectl", id: 5), agentEvent(day + 6, agent: "curl/8.5", user: "other", id: 6)]
        let alerts = h.run(events)
        XCTAssertEqual(alerts.map(\.auditID), ["id-2", "id-4", "id-6"])
        let a = alerts[0]
        XCTAssertEqual(a.message, "new agent (user=sa agent=curl/8.5) [first seen: ka.user.name=sa, ka.useragent=curl/8.5]")
        XCTAssertEqual(a.evidence["new_value"], ["ka.user.name=sa", "ka.useragent=curl/8.5"])
        XCTAssertNil(a.evidence["seen_before"])
        XCTAssertTrue(alerts[1].evidence["seen_before"]?.first?.hasPrefix("1 times while learning") == true)
    }

    func testFirstSeenForgetsValuesNotSeenForForgetAfter() throws {
        let h = try XCTUnwrap(StatefulHarness(rules: agentRules))
        let events = [agentEvent(0, agent: "a"), agentEvent(1, agent: "a"),
                      agentEvent(day + 1, agent: "a", id: 1),            // known
                      agentEvent(day + 9 * day, agent: "a", id: 2),      // 9 days later: still known
                      agentEvent(day + 19 * day + 1, agent: "a", id: 3)] // 10 days and 1 s later: forgotten, new again
        XCTAssertEqual(h.run(events).map(\.auditID), ["id-3"])
    }

    func testLearnedBaselineAlertsWithoutALearningPeriod() throws {
        var learn = StatefulOptions()
        learn.learnOnly = true
        let learner = try XCTUnwrap(StatefulHarness(rules: agentRules, options: learn))
        // Learning only: never alerts, even after the learning period.
        XCTAssertEqual(learner.run([agentEvent(0, agent: "a"), agentEvent(5 * day, agent: "a"), agentEvent(6 * day, agent: "b")]).count, 0)
        XCTAssertEqual(learner.detectors.baselineSummary.map(\.values), [2])
        XCTAssertEqual(learner.detectors.baselineSummary.map(\.known), [1], "b was seen once: fewer than min_observations")
        let baseline = learner.detectors.save()
        // Detection with the baseline: alerts right away for new values, and for b.
        let h = try XCTUnwrap(StatefulHarness(rules: agentRules))
        XCTAssertEqual(try h.detectors.load(baseline), [])
        XCTAssertEqual(h.run([agentEvent(7 * day, agent: "a", id: 1), agentEvent(7 * day + 1, agent: "b", id: 2),
                              agentEvent(7 * day + 2, agent: "c", id: 3)]).map(\.auditID), ["id-2", "id-3"])
    }

    // sequence

    let sequenceRules = """
    - rule: Role Then Workload
      desc: d
      condition: ka.target.resource = rolebindings and ka.verb in (create, patch)
      output: workload after RBAC change (user=%ka.user.name workload=%ka.target.name)
      priority: WARNING
      aggregate:
        type: sequence
        key: [ka.user.name]
        then: ka.target.resource = deployments and ka.verb = create
        within: 5m
    """

    func binding(_ seconds: Double, user: String = "alice", id: Int) -> String {
        timed(auditEvent(verb: "patch", resource: "rolebindings", name: "rb", apiGroup: "rbac.authorization.k8s.io", user: user,
                         auditID: "id-\(id)"), seconds)
    }

    func deployment(_ seconds: Double, user: String = "alice", id: Int) -> String {
        timed(auditEvent(verb: "create", resource: "deployments", name: "miner", apiGroup: "apps", user: user, auditID: "id-\(id)"), seconds)
    }

    func testSequenceWithinTheSpanForTheSameKey() throws {
        var h = try XCTUnwrap(StatefulHarness(rules: sequenceRules))
        let alerts = h.run([binding(0, id: 1), deployment(4 * minute, id: 2), deployment(4 * minute + 30, id: 3)])
        XCTAssertEqual(alerts.map(\.auditID), ["id-2"], "one alert per sequence")
        XCTAssertEqual(alerts.first?.evidence["first_step_audit_ids"], ["id-1"])
        XCTAssertEqual(alerts.first?.evidence["elapsed"], ["4m"])
        XCTAssertEqual(alerts.first?.message,
                       "workload after RBAC change (user=alice workload=miner) [sequence: second step 4m after the first (within 5m) for ka.user.name=alice]")
        // Too late, another user, or the wrong order: nothing.
        h = try XCTUnwrap(StatefulHarness(rules: sequenceRules))
        XCTAssertEqual(h.run([binding(0, id: 1), deployment(5 * minute + 1, id: 2)]).count, 0)
        h = try XCTUnwrap(StatefulHarness(rules: sequenceRules))
        XCTAssertEqual(h.run([binding(0, id: 1), deployment(60, user: "bob", id: 2)]).count, 0)
        h = try XCTUnwrap(StatefulHarness(rules: sequenceRules))
        XCTAssertEqual(h.run([deployment(0, id: 2), binding(60, id: 1)]).count, 0)
        // A new first step re-arms it.
        h = try XCTUnwrap(StatefulHarness(rules: sequenceRules))
        XCTAssertEqual(h.run([binding(0, id: 1), deployment(60, id: 2), binding(120, id: 3), deployment(180, id: 4)]).map(\.auditID),
                       ["id-2", "id-4"])
    }

    // state

    func testSaveAndLoadContinueExactlyWhereTheRunStopped() throws {
        let rules = burstRules + "\n" + harvestRules + "\n" + agentRules + "\n" + sequenceRules
        var events: [String] = []
        for i in 0..<12 { events.append(forbidden(Double(i) * 20, ip: i % 3 == 0 ? "198.51.100.3" : "203.0.113.9", id: i)) }
        events.append(agentEvent(230, agent: "a", id: 50))
        events.append(agentEvent(231, agent: "a", id: 51))
        events.append(binding(240, id: 60))
        for i in 0..<6 { events.append(secretGet(250 + Double(i), "s\(i)", id: 70 + i)) }
        events.append(deployment(300, id: 80))
        events.append(agentEvent(day + 1000, agent: "b", id: 90))
        events.append(binding(day + 1100, id: 91))
        events.append(deployment(day + 1130, id: 92))
        let continuous = try XCTUnwrap(StatefulHarness(rules: rules))
        let continuousAlerts = continuous.run(events)
        let expected = continuousAlerts.map { AlertFormatter.json($0, hostname: "h") }
        XCTAssertEqual(continuousAlerts.map(\.rule), ["Burst", "Harvest", "Role Then Workload", "New Agent", "Role Then Workload"])
        XCTAssertEqual(continuous.detectors.report.late, 0)

        for cut in [1, 5, 9, 15, 20, 23, 24] {
            let first = try XCTUnwrap(StatefulHarness(rules: rules))
            var got = first.feed(Array(events[..<cut])).map { AlertFormatter.json($0, hostname: "h") }
            let saved = first.detectors.save()
            let second = try XCTUnwrap(StatefulHarness(rules: rules))
            second.line = cut
            XCTAssertEqual(try second.detectors.load(saved), [])
            XCTAssertEqual(second.detectors.save(), saved, "save(load(x)) == x at cut \(cut)")
            got += second.run(Array(events[cut...])).map { AlertFormatter.json($0, hostname: "h") }
            XCTAssertEqual(got, expected, "cut at \(cut)")
        }
    }

    func testDetectorsAreAskedOnlyWhenSomethingIsDue() throws {
        // The detectors act on the clock (windows close, values are forgotten, sequences expire) only
        // when one of them has something due; asking every detector at every clock move must give the
        // same alerts and counters, on a random stream with jitter, idle gaps of days and advances.
        let rules = burstRules + "\n" + harvestRules + "\n" + agentRules + "\n" + sequenceRules + "\n" + sparseRules(maxCount: 40)
        var rng = XorShift(state: 0x9E37_79B9_7F4A_7C15)
        for round in 0..<6 {
            var events: [String] = []
            var advances: [Int: Int64] = [:]
            var clock = 0.0
            for i in 0..<600 {
                clock += Double(rng.next() % 40)
                if rng.next() % 97 == 0 { clock += Double(rng.next() % 4) * day }
                let jitter = rng.next() % 5 == 0 ? Double(rng.next() % 100) : 0
                let t = max(0, clock - jitter)
                let user = ["alice", "bob", "carol"][Int(rng.next() % 3)]
                switch rng.next() % 6 {
                case 0: events.append(forbidden(t, ip: "203.0.113.\(rng.next() % 3)", user: user, id: i))
                case 1: events.append(secretGet(t, "s\(rng.next() % 12)", id: i))
                case 2: events.append(agentEvent(t, agent: "agent-\(rng.next() % 4)", user: user, id: i))
                case 3: events.append(binding(t, user: user, id: i))
                case 4: events.append(deployment(t, user: user, id: i))
                default: events.append(timed(auditEvent(verb: "get", resource: "pods", name: "p\(rng.next() % 5)", user: user,
                                                        decision: rng.next() % 4 == 0 ? "forbid" : "allow", auditID: "id-\(i)"), t))
                }
                if rng.next() % 50 == 0 { advances[i] = at(clock + Double(rng.next() % 900)) }
            }
            func run(gated: Bool) throws -> ([String], StatefulReport) {
                let h = try XCTUnwrap(StatefulHarness(rules: rules))
                h.detectors.gatesAdvances = gated
                var alerts: [Alert] = []
                let observations = h.observations(events, batch: 1 + round * 7)
                for o in observations {
                    alerts += h.detectors.observe(o)
                    if let time = advances[o.line - 1] { alerts += h.detectors.advance(toEventTime: time) }
                }
                alerts += h.detectors.finish()
                return (alerts.map { AlertFormatter.json($0, hostname: "h") }, h.detectors.report)
            }
            let (gated, gatedReport) = try run(gated: true)
            let (every, everyReport) = try run(gated: false)
            XCTAssertGreaterThan(every.count, 5, "round \(round)")
            XCTAssertEqual(gated.count, every.count, "round \(round)")
            if let k = (0..<min(gated.count, every.count)).first(where: { gated[$0] != every[$0] }) {
                XCTFail("round \(round), alert \(k): \(gated[k]) instead of \(every[k])")
            }
            XCTAssertEqual(gatedReport.rules.map(\.keys), everyReport.rules.map(\.keys), "round \(round)")
            XCTAssertEqual(gatedReport.late, everyReport.late, "round \(round)")
        }
    }

    func testLoadReportsChangedRulesAndRejectsGarbage() throws {
        let h = try XCTUnwrap(StatefulHarness(rules: burstRules))
        _ = h.feed([forbidden(0, id: 1)])
        let saved = h.detectors.save()
        let changed = try XCTUnwrap(StatefulHarness(rules: burstRules.replacingOccurrences(of: "key: [ka.sourceip]", with: "key: [ka.user.name]")))
        XCTAssertEqual(try changed.detectors.load(saved).first,
                       "stateful rule 'Burst' changed its kind, key or fields; it starts without saved state")
        let other = try XCTUnwrap(StatefulHarness(rules: burstRules.replacingOccurrences(of: "rule: Burst", with: "rule: Other")))
        XCTAssertEqual(try other.detectors.load(saved).first, "stateful rule 'Burst' is not loaded; its saved state is dropped")
        for garbage in ["", "{}", "[1]", #"{"format":"audithound-stateful","version":2}"#,
                        #"{"format":"audithound-stateful","version":1,"rules":[{"name":"Burst","fingerprint":"threshold|ka.sourceip","state":{"windows":7}}],"pending":[]}"#] {
            XCTAssertThrowsError(try StatefulHarness(rules: burstRules)!.detectors.load(Array(garbage.utf8)), garbage)
        }
    }
}

// MARK: - The default stateful rules

final class DefaultStatefulRulesTests: XCTestCase {
    func harness() throws -> StatefulHarness {
        StatefulHarness(ruleSet: try XCTUnwrap(DefaultRuleSet.ruleSet()))
    }

    /// The names of the default rules that alert on `events` (fed in order, then the end of input).
    func fired(_ events: [String]) throws -> [String] {
        try harness().run(events).map(\.rule)
    }

    func assertFires(_ rule: String, _ events: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let names = try fired(events)
        XCTAssertEqual(names.filter { $0 == rule }.count, 1, "'\(rule)' should fire once; fired: \(names)", file: file, line: line)
    }

    func assertQuiet(_ rule: String, _ events: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let names = try fired(events)
        XCTAssertFalse(names.contains(rule), "'\(rule)' fired on a near miss", file: file, line: line)
    }

    func testEveryDefaultStatefulRuleIsTested() throws {
        let set = try XCTUnwrap(DefaultRuleSet.ruleSet())
        let tested: Set<String> = ["Burst of Denied Requests From One Source", "Burst of Forbidden Requests by One Identity",
                                   "Permission Enumeration Across Resource Types", "Bulk Secret Reads by One Identity",
                                   "New Identity Listing Secrets Cluster-Wide", "New User Agent for Service Account",
                                   "System Identity From New Source Network", "First Exec by User in Namespace",
                                   "RBAC Change Followed by Workload Change", "Broad Sparse Reconnaissance"]
        let stateful = Set(set.rules.filter { $0.aggregate != nil && $0.enabled }.map(\.name))
        XCTAssertEqual(stateful, tested)
        for rule in set.rules where rule.aggregate != nil {
            XCTAssertTrue(rule.tags.contains("stateful"), rule.name)
        }
    }

    func testDeniedBurstFromOneSource() throws {
        let rule = "Burst of Denied Requests From One Source"
        // 20 denials from one address by several users within two minutes.
        try assertFires(rule, (0..<20).map { forbidden(Double($0) * 6, user: "u\($0 % 4)", id: $0) })
        // Failed authentications (401, written at ResponseStarted without a user) count too.
        try assertFires(rule, (0..<20).map {
            timed(auditEvent(verb: "get", resource: "secrets", user: nil, stage: "ResponseStarted", code: 401, decision: nil,
                             sourceIPs: ["198.51.100.200"], auditID: "a\($0)"), Double($0))
        })
        // Near misses: 19 denials; 20 spread over ten minutes; 20 denials from 20 addresses.
        try assertQuiet(rule, (0..<19).map { forbidden(Double($0), id: $0) })
        try assertQuiet(rule, (0..<20).map { forbidden(Double($0) * 30, id: $0) })
        try assertQuiet(rule, (0..<20).map { forbidden(Double($0), ip: "198.51.100.\($0)", id: $0) })
    }

    func testForbiddenBurstByOneIdentity() throws {
        let rule = "Burst of Forbidden Requests by One Identity"
        try assertFires(rule, (0..<20).map { forbidden(Double($0) * 25, ip: "10.0.0.\($0)", user: "system:serviceaccount:web:frontend", id: $0) })
        try assertQuiet(rule, (0..<19).map { forbidden(Double($0), user: "system:serviceaccount:web:frontend", id: $0) })
        try assertQuiet(rule, (0..<20).map { forbidden(Double($0) * 40, user: "alice", id: $0) })
        try assertQuiet(rule, (0..<20).map { forbidden(Double($0), user: "system:anonymous", id: $0) })
    }

    func testPermissionEnumerationAcrossResourceTypes() throws {
        let rule = "Permission Enumeration Across Resource Types"
        let types = ["pods", "secrets", "nodes", "configmaps", "deployments"]
        try assertFires(rule, types.enumerated().map { forbidden(Double($0.offset) * 60, resource: $0.element, id: $0.offset) })
        // Four types, many times each: a misconfigured client, not enumeration.
        try assertQuiet(rule, (0..<40).map { forbidden(Double($0), resource: types[$0 % 4], id: $0) })
        // Five types, but allowed.
        try assertQuiet(rule, types.enumerated().map {
            timed(auditEvent(verb: "list", resource: $0.element, user: "mallory", auditID: "id-\($0.offset)"), Double($0.offset))
        })
        // Five types over more than ten minutes.
        try assertQuiet(rule, types.enumerated().map { forbidden(Double($0.offset) * 3 * minute, resource: $0.element, id: $0.offset) })
    }

    func testBulkSecretReads() throws {
        let rule = "Bulk Secret Reads by One Identity"
        func get(_ i: Int, name: String? = nil, user: String = "system:serviceaccount:monitoring:grafana", decision: String = "allow") -> String {
            timed(auditEvent(verb: "get", resource: "secrets", namespace: ["shop", "data"][i % 2], name: name ?? "secret-\(i)",
                             user: user, decision: decision, auditID: "id-\(i)"), Double(i) * 20)
        }
        try assertFires(rule, (0..<10).map { get($0) })
        try assertFires(rule, (0..<10).map { get($0, user: "mallory", decision: "forbid") })
        try assertQuiet(rule, (0..<9).map { get($0) })
        try assertQuiet(rule, (0..<40).map { get($0, name: "db-credentials") })
        try assertQuiet(rule, (0..<10).map { get($0, name: "sh.helm.release.v1.app.v\($0)") })
        try assertQuiet(rule, (0..<10).map { get($0, user: "system:serviceaccount:cert-manager:cert-manager") })
        try assertQuiet(rule, (0..<10).map { get($0, user: "system:kube-controller-manager") })
    }

    func testNewIdentityListingSecretsClusterWide() throws {
        let rule = "New Identity Listing Secrets Cluster-Wide"
        func list(_ seconds: Double, user: String, namespace: String? = nil) -> String {
            timed(auditEvent(verb: "list", resource: "secrets", namespace: namespace, user: user), seconds)
        }
        let learning = [list(0, user: "system:serviceaccount:argocd:argocd-application-controller"), list(3600, user: "system:kube-controller-manager")]
        try assertFires(rule, learning + [list(8 * day, user: "system:serviceaccount:argocd:argocd-application-controller"),
                                          list(8 * day + 5, user: "mallory")])
        // Near misses: during the learning week; a namespaced list; a known identity.
        try assertQuiet(rule, learning + [list(2 * day, user: "mallory")])
        try assertQuiet(rule, learning + [list(8 * day, user: "mallory", namespace: "shop")])
        try assertQuiet(rule, learning + [list(8 * day, user: "system:kube-controller-manager")])
    }

    func testNewUserAgentForServiceAccount() throws {
        let rule = "New User Agent for Service Account"
        let sa = "system:serviceaccount:shop:api"
        func req(_ seconds: Double, agent: String, user: String = sa) -> String {
            timed(auditEvent(verb: "get", resource: "configmaps", user: user, userAgent: agent), seconds)
        }
        let clientGo = "api/v1.4.2 (linux/amd64) kubernetes/$Format"
        let learning = (0..<3).map { req(Double($0) * 3600, agent: clientGo) }
        try assertFires(rule, learning + [req(8 * day, agent: clientGo), req(8 * day + 1, agent: "kubectl/v1.30.2 (linux/amd64) kubernetes/3968350")])
        // A user agent seen once while learning is not learned (min_observations 3).
        try assertFires(rule, learning + [req(7200, agent: "curl/8.5.0"), req(8 * day, agent: "curl/8.5.0")])
        try assertQuiet(rule, learning + [req(8 * day, agent: clientGo)])
        try assertQuiet(rule, learning + [req(8 * day, agent: "kubectl/v1.30.2", user: "alice")])
    }

    func testSystemIdentityFromNewSourceNetwork() throws {
        let rule = "System Identity From New Source Network"
        func req(_ seconds: Double, user: String, ip: String) -> String {
            timed(auditEvent(verb: "get", resource: "nodes", namespace: nil, name: "n", user: user, groups: ["system:nodes"], sourceIPs: [ip]), seconds)
        }
        let learning = (0..<3).map { req(Double($0) * 60, user: "system:node:ip-10-0-1-\($0)", ip: "10.0.1.\($0 + 5)") }
        try assertFires(rule, learning + [req(8 * day, user: "system:serviceaccount:kube-system:coredns", ip: "198.51.100.7")])
        // Another node of a known network; a person from a new network.
        try assertQuiet(rule, learning + [req(8 * day, user: "system:node:ip-10-0-200-9", ip: "10.0.200.9")])
        try assertQuiet(rule, learning + [req(8 * day, user: "alice", ip: "198.51.100.7")])
    }

    func testFirstExecByUserInNamespace() throws {
        let rule = "First Exec by User in Namespace"
        func exec(_ seconds: Double, ns: String, decision: String = "allow") -> String {
            timed(execEvent(["sh"], namespace: ns, stage: decision == "allow" ? "ResponseStarted" : "ResponseComplete",
                            code: decision == "allow" ? 101 : 403, decision: decision), seconds)
        }
        let learning = [exec(0, ns: "shop")]
        try assertFires(rule, learning + [exec(8 * day, ns: "shop"), exec(8 * day + 60, ns: "payments")])
        try assertQuiet(rule, learning + [exec(8 * day, ns: "shop")])
        try assertQuiet(rule, learning + [exec(8 * day, ns: "payments", decision: "forbid")])
    }

    func testRBACChangeFollowedByWorkloadChange() throws {
        let rule = "RBAC Change Followed by Workload Change"
        func bind(_ seconds: Double, user: String = "alice") -> String {
            timed(auditEvent(verb: "create", resource: "clusterrolebindings", namespace: nil, name: "x", apiGroup: "rbac.authorization.k8s.io",
                             user: user, auditID: "b-\(seconds)"), seconds)
        }
        func deploy(_ seconds: Double, user: String = "alice", resource: String = "daemonsets") -> String {
            timed(auditEvent(verb: "create", resource: resource, name: "agent", apiGroup: "apps", user: user, auditID: "d-\(seconds)"), seconds)
        }
        try assertFires(rule, [bind(0), deploy(3 * minute)])
        try assertQuiet(rule, [bind(0), deploy(6 * minute)])
        try assertQuiet(rule, [bind(0), deploy(60, user: "bob")])
        try assertQuiet(rule, [bind(0, user: "system:serviceaccount:argocd:argocd-application-controller"),
                               deploy(60, user: "system:serviceaccount:argocd:argocd-application-controller")])
        try assertQuiet(rule, [bind(0), deploy(60, resource: "services")])
    }

    func testBroadSparseReconnaissance() throws {
        let rule = "Broad Sparse Reconnaissance"
        let resources = ["pods", "secrets", "nodes", "configmaps", "services", "deployments"]
        func probe(_ i: Int, spacing: Double = 10, someForbidden: Bool = true) -> String {
            let resource = resources[i % resources.count]
            return timed(auditEvent(verb: i % 2 == 0 ? "list" : "get", resource: resource, name: i % 2 == 0 ? nil : "x\(i)",
                                    user: "mallory", decision: someForbidden && i % 3 == 0 ? "forbid" : "allow",
                                    sourceIPs: ["203.0.113.40"], auditID: "p\(i)"), Double(i) * spacing)
        }
        // 20 requests over 6 resource types and ~12 paths, some forbidden: alert when the window closes.
        try assertFires(rule, (0..<20).map { probe($0) })
        // The same spread at controller volume (over 75 requests in the window): quiet.
        try assertQuiet(rule, (0..<80).map { probe($0, spacing: 5) })
        // Everything allowed: quiet.
        try assertQuiet(rule, (0..<20).map { probe($0, someForbidden: false) })
    }
}

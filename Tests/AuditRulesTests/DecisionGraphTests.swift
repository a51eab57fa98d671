import XCTest
import AuditInput
@testable import AuditRules
@testable import AuditLogGen

/// Random conditions, compiled to decision graphs, against a direct evaluation of the same conditions:
/// every way of nesting `and`, `or`, `not`, parentheses, shared macros (two tests or more), inlined macros
/// (one test) and repeated tests must give the truth table of the text.
final class DecisionGraphTests: XCTestCase {
    /// A condition over four atoms (each true or false per event) and two macros.
    indirect enum Cond: Sendable {
        case atom(Int)
        case macro(Int)
        case not(Cond)
        case and([Cond])
        case or([Cond])
    }

    /// The atoms' texts; atom k is true when bit k of the event number is set.
    static let atoms = ["ka.verb = get", "ka.user.name = alice", "ka.target.resource = pods", "ka.target.namespace in (default, dev)"]
    /// The macros: `m0` has two tests (shared body), `m1` one (inlined).
    static let macros: [(name: String, cond: Cond)] = [
        ("m0", .and([.or([.atom(0), .atom(1)]), .not(.atom(2))])),
        ("m1", .atom(3)),
    ]

    static func event(_ bits: Int) -> String {
        EngineEvent.json([
            "verb": bits & 1 != 0 ? "get" : "list",
            "user/username": bits & 2 != 0 ? "alice" : "bob",
            "objectRef/resource": bits & 4 != 0 ? "pods" : "secrets",
            "objectRef/namespace": bits & 8 != 0 ? "dev" : "prod",
        ])
    }

    static func text(_ c: Cond) -> String {
        switch c {
        case .atom(let k): return atoms[k]
        case .macro(let k): return macros[k].name
        case .not(let x): return "not (\(text(x)))"
        case .and(let xs): return "(" + xs.map(text).joined(separator: " and ") + ")"
        case .or(let xs): return "(" + xs.map(text).joined(separator: " or ") + ")"
        }
    }

    static func truth(_ c: Cond, _ bits: Int) -> Bool {
        switch c {
        case .atom(let k): return bits & (1 << k) != 0
        case .macro(let k): return truth(macros[k].cond, bits)
        case .not(let x): return !truth(x, bits)
        case .and(let xs): return xs.allSatisfy { truth($0, bits) }
        case .or(let xs): return xs.contains { truth($0, bits) }
        }
    }

    static func random(_ rng: inout SplitMix64, depth: Int) -> Cond {
        let r = rng.next() % 10
        if depth == 0 || r < 3 {
            return rng.next() % 4 == 0 ? .macro(Int(rng.next() % 2)) : .atom(Int(rng.next() % 4))
        }
        switch r {
        case 3, 4: return .not(random(&rng, depth: depth - 1))
        case 5, 6, 7: return .and((0..<(2 + Int(rng.next() % 3))).map { _ in random(&rng, depth: depth - 1) })
        default: return .or((0..<(2 + Int(rng.next() % 3))).map { _ in random(&rng, depth: depth - 1) })
        }
    }

    func testRandomConditionsMatchTheirTruthTables() throws {
        var rng = SplitMix64(seed: 7)
        let conditions = (0..<300).map { _ in Self.random(&rng, depth: 4) }
        var yaml = Self.macros.map { "- macro: \($0.name)\n  condition: \(Self.text($0.cond))\n" }.joined()
        for (i, c) in conditions.enumerated() {
            yaml += "- rule: R\(i)\n  desc: d\n  condition: \(Self.text(c))\n  output: o\n  priority: INFO\n"
        }
        let h = try EngineHarness(yaml)
        // Shared tests were found: four atoms, each one predicate.
        XCTAssertEqual(h.ruleSet.predicates.count, 4)
        for bits in 0..<16 {
            let expected = conditions.indices.filter { Self.truth(conditions[$0], bits) }.map { "R\($0)" }
            XCTAssertEqual(h.fired(Self.event(bits)), expected, "event \(bits)")
            // A predicate runs at most once per event, whatever the number of rules.
            EngineHarness.withEvent(Self.event(bits)) { e in
                let before = h.evaluator.predicatesRun
                h.evaluator.evaluate(e) { _ in }
                XCTAssertLessThanOrEqual(h.evaluator.predicatesRun - before, 4)
            }
        }
    }
}

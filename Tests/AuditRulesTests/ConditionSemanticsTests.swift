import XCTest
import Foundation
import AuditJSON
import AuditInput
@testable import AuditRules

// MARK: - Shared helpers for the engine tests (RuleLoader, ConditionSemantics, Output, FalcoCompat)

/// Builds an audit event as JSON text: sensible defaults (a successful pod creation by `alice`) with
/// `changes` applied. A value of `nil` (written `Optional<Any>.none as Any`, or use ``EngineEvent/remove``)
/// removes the key; `NSNull()` writes JSON `null`. Keys with a `/` name nested objects (`objectRef/name`).
enum EngineEvent {
    /// Marks a key for removal.
    static let remove = Removal()
    struct Removal {}

    static var defaults: [String: Any] { [
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "auditID": "11111111-2222-3333-4444-555555555555",
        "level": "RequestResponse",
        "stage": "ResponseComplete",
        "verb": "create",
        "requestURI": "/api/v1/namespaces/default/pods",
        "user": ["username": "alice", "groups": ["dev", "system:authenticated"]],
        "sourceIPs": ["10.0.0.1"],
        "userAgent": "kubectl/v1.30.0",
        "objectRef": ["resource": "pods", "namespace": "default", "name": "web", "apiVersion": "v1"],
        "responseStatus": ["metadata": [String: Any](), "code": 201],
        "requestReceivedTimestamp": "2026-01-02T03:04:05.000000Z",
        "stageTimestamp": "2026-01-02T03:04:05.123456789Z",
        "annotations": ["authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "RBAC: allowed"],
    ] }

    /// The default event with `changes` applied, as compact JSON text with sorted keys.
    static func json(_ changes: [String: Any] = [:]) -> String {
        var root = defaults
        for (key, value) in changes.sorted(by: { $0.key < $1.key }) {
            set(&root, key.split(separator: "/").map(String.init), value)
        }
        let data = try! JSONSerialization.data(withJSONObject: root, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    private static func set(_ object: inout [String: Any], _ path: [String], _ value: Any) {
        guard let first = path.first else { return }
        if path.count == 1 {
            if value is Removal { object.removeValue(forKey: first) } else { object[first] = value }
            return
        }
        var child = object[first] as? [String: Any] ?? [:]
        set(&child, Array(path.dropFirst()), value)
        object[first] = child
    }
}

/// Compiles rule files and evaluates audit events given as JSON text.
final class EngineHarness {
    let result: RuleLoadResult
    let ruleSet: CompiledRuleSet
    let evaluator: RuleEvaluator

    /// Fails the test (and throws) when the files have errors.
    init(files: [RuleFile], file: StaticString = #filePath, line: UInt = #line) throws {
        result = RuleCompiler.load(files)
        let errors = result.diagnostics.filter { $0.severity == .error }
        guard errors.isEmpty, let set = result.ruleSet else {
            XCTFail("rules do not compile:\n" + errors.map(\.description).joined(separator: "\n"), file: file, line: line)
            throw XCTSkip("rules do not compile")
        }
        ruleSet = set
        evaluator = RuleEvaluator(ruleSet: set)
    }

    convenience init(_ yaml: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try self.init(files: [RuleFile(path: "rules.yaml", text: yaml)], file: file, line: line)
    }

    /// Parses `json` and calls `body` with the event (valid only inside `body`).
    static func withEvent<T>(_ json: String, file: StaticString = #filePath, line: UInt = #line,
                             _ body: (AuditEvent) throws -> T) rethrows -> T? {
        let bytes = Array(json.utf8)
        return try bytes.withUnsafeBytes { raw -> T? in
            let tape = JSONTape()
            do {
                try tape.parse(raw)
            } catch {
                XCTFail("bad test JSON: \(error)", file: file, line: line)
                return nil
            }
            return try body(AuditEvent(root: tape.root))
        }
    }

    /// The names of the rules that fire on `json` (with the rule index), after checking that evaluating
    /// every enabled rule on its own (no index) gives the same rules.
    func fired(_ json: String, file: StaticString = #filePath, line: UInt = #line) -> [String] {
        EngineHarness.withEvent(json, file: file, line: line) { e -> [String] in
            var indexed: [Int] = []
            evaluator.evaluate(e) { indexed.append($0) }
            let unindexed = ruleSet.rules.indices.filter { ruleSet.rules[$0].enabled && evaluator.matches(rule: $0, e) }
            XCTAssertEqual(indexed, unindexed, "the rule index changed the result", file: file, line: line)
            return indexed.map { ruleSet.rules[$0].name }
        } ?? []
    }

    /// The alerts for `json`, rendered while the event is alive.
    func alerts(_ json: String, input: String = "test.jsonl:1", file: StaticString = #filePath, line: UInt = #line) -> [Alert] {
        EngineHarness.withEvent(json, file: file, line: line) { e -> [Alert] in
            var indexes: [Int] = []
            evaluator.evaluate(e) { indexes.append($0) }
            return indexes.map { evaluator.render(rule: $0, time: e.time ?? 0, auditID: "id", input: input) }
        } ?? []
    }

    /// How many rule programs the evaluator ran on `json` (rules skipped by the index are not counted).
    func programsRun(_ json: String, file: StaticString = #filePath, line: UInt = #line) -> Int {
        EngineHarness.withEvent(json, file: file, line: line) { e -> Int in
            let before = evaluator.programsRun
            evaluator.evaluate(e) { _ in }
            return evaluator.programsRun - before
        } ?? -1
    }
}

/// A rule file with one rule `T` whose condition is `condition`, after `preamble` (lists and macros).
func engineRuleFile(_ condition: String, preamble: String = "", output: String = "o") -> String {
    let indented = condition.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n")
    return preamble + """

    - rule: T
      desc: test rule
      condition: |
    \(indented)
      output: \(output)
      priority: INFO

    """
}

/// The package's sibling `shared` directory (…/Tests/AuditRulesTests/X.swift -> ../../../shared), if present.
func engineSharedDirectory() -> URL? {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let shared = root.deletingLastPathComponent().appendingPathComponent("shared")
    return FileManager.default.fileExists(atPath: shared.path) ? shared : nil
}

// MARK: - Tests

final class ConditionSemanticsTests: XCTestCase {

    func testEmptyListsFoldAwayAndRulesThatNeedThemNeverRun() throws {
        let h = try EngineHarness("""
        - list: blocked
          items: []
        - list: allowed
          items: []
        - rule: Blocked
          desc: d
          condition: ka.user.name in (blocked) and ka.verb exists
          output: o
          priority: INFO
        - rule: Not allowed
          desc: d
          condition: ka.verb = get and not ka.user.name in (allowed)
          output: o
          priority: INFO
        - rule: Empty intersects or verb
          desc: d
          condition: ka.user.groups intersects (blocked) or ka.verb = get
          output: o
          priority: INFO
        - rule: Empty pmatch
          desc: d
          condition: ka.uri.path pmatch (allowed)
          output: o
          priority: INFO
        """)
        let get = EngineEvent.json(["verb": "get"])
        // `fired` also checks every rule on its own, without the index: the folding changes no answer.
        XCTAssertEqual(h.fired(get), ["Not allowed", "Empty intersects or verb"])
        XCTAssertEqual(h.fired(EngineEvent.json(["verb": "list"])), [])
        // Blocked and Empty pmatch can never match: the index never runs them.
        XCTAssertEqual(h.programsRun(get), 2)
        let blocked = h.ruleSet.rules.first { $0.name == "Blocked" }!
        XCTAssertEqual(blocked.verbMask, 0)
    }

    /// A pod creation with list fields, numbers and booleans.
    static let pod = EngineEvent.json([
        "requestObject": [
            "kind": "Pod",
            "spec": [
                "hostNetwork": true,
                "containers": [
                    ["name": "app", "image": "nginx:1.25", "securityContext": ["privileged": true]],
                    ["name": "side", "image": "busybox", "securityContext": ["privileged": false]],
                ],
                "volumes": [["name": "v", "hostPath": ["path": "/etc/ssl"]]],
            ],
        ],
        "responseObject": ["metadata": ["name": "web"]],
    ])

    /// Evaluates `condition` on `json`; fails the test when it does not compile.
    func eval(_ condition: String, _ json: String = pod, preamble: String = "",
              file: StaticString = #filePath, line: UInt = #line) -> Bool? {
        guard let h = try? EngineHarness(engineRuleFile(condition, preamble: preamble), file: file, line: line) else { return nil }
        return h.fired(json, file: file, line: line) == ["T"]
    }

    func expect(_ cases: [(String, Bool)], _ json: String = pod, preamble: String = "", file: StaticString = #filePath, line: UInt = #line) {
        for (condition, expected) in cases {
            XCTAssertEqual(eval(condition, json, preamble: preamble, file: file, line: line), expected, condition, file: file, line: line)
        }
    }

    /// The compile errors for `condition`.
    func errors(_ condition: String, preamble: String = "") -> [RuleDiagnostic] {
        RuleCompiler.load([RuleFile(path: "r.yaml", text: engineRuleFile(condition, preamble: preamble))]).diagnostics.filter { $0.severity == .error }
    }

    func testOperatorsOnPresentScalarFields() {
        expect([
            ("ka.user.name = alice", true), ("ka.user.name = bob", false), ("ka.user.name == alice", true),
            ("ka.user.name = Alice", false), ("ka.user.name = \"alice\"", true), ("ka.user.name = 'alice'", true),
            ("ka.user.name != bob", true), ("ka.user.name != alice", false),
            ("ka.user.name contains lic", true), ("ka.user.name contains LIC", false), ("ka.user.name contains \"\"", true),
            ("ka.user.name icontains LIC", true), ("ka.user.name icontains lix", false),
            ("ka.user.name startswith al", true), ("ka.user.name startswith li", false),
            ("ka.user.name endswith ice", true), ("ka.user.name endswith al", false),
            ("ka.uri glob \"/api/v1/*/default/*\"", true), ("ka.uri glob \"/api/v2/*\"", false),
            ("ka.user.name glob \"al?ce\"", true), ("ka.user.name glob \"[a-c]lice\"", true), ("ka.user.name glob \"[!a]lice\"", false),
            ("ka.user.name glob \"ALICE\"", false), ("ka.user.name iglob \"AL*\"", true), ("ka.user.name iglob \"B*\"", false),
            ("ka.uri pmatch (/api/v1)", true), ("ka.uri pmatch (/api/v)", false), ("ka.uri pmatch (/x, /api/v1/namespaces/)", true),
            ("ka.uri pmatch (/api/v1/namespaces/default/pods)", true),
            ("ka.user.name exists", true),
            ("ka.user.name bcontains 6c69", true), ("ka.user.name bcontains 6c6a", false),
            ("ka.user.name bstartswith 616C", true), ("ka.user.name bstartswith 6c", false),
            ("ka.verb in (create, update)", true), ("ka.verb in (get, update)", false), ("ka.verb in ()", false),
            ("ka.verb intersects (create)", true), ("ka.verb intersects (get)", false),
        ])
    }

    func testNumericComparisons() {
        // The response code is the JSON number 201. Falco's plugin fields are text; AuditHound compares
        // two integers as numbers (so 201 > 99), anything else byte-wise.
        expect([
            ("ka.response.code < 300", true), ("ka.response.code < 201", false), ("ka.response.code <= 201", true),
            ("ka.response.code > 200", true), ("ka.response.code >= 202", false), ("ka.response.code > 99", true),
            ("ka.response.code >= -5", true), ("ka.response.code > 99999999999999999999", false),
            ("ka.response.code > 9999999999999999999", false),
            ("ka.user.name > 5", true),  // "alice" > "5" byte-wise
        ])
    }

    func testMissingFieldsAreFalseAndTheirNegationTrue() {
        // No impersonated user in the event.
        let ops = ["= bob", "!= bob", "contains b", "icontains b", "startswith b", "endswith b", "glob \"*\"", "iglob \"*\"",
                   "pmatch (/)", "in (bob)", "intersects (bob)", "< 5", ">= 5", "bcontains 62", "bstartswith 62", "exists"]
        for op in ops {
            XCTAssertEqual(eval("ka.impuser.name \(op)"), false, op)
            XCTAssertEqual(eval("not ka.impuser.name \(op)"), true, "not " + op)
        }
        // JSON null counts as missing.
        let nullSub = EngineEvent.json(["objectRef/subresource": NSNull()])
        expect([("ka.target.subresource exists", false), ("not ka.target.subresource exists", true),
                ("jevt.value[/objectRef/subresource] exists", false)], nullSub)
        // Comparisons between two fields are false when either is missing.
        expect([("ka.user.name != val(ka.impuser.name)", false), ("ka.impuser.name = val(ka.impuser.name)", false)])
    }

    func testListFields() {
        // groups = [dev, system:authenticated]
        expect([
            ("ka.user.groups in (dev, system:authenticated, other)", true),
            ("ka.user.groups in (dev)", false),                 // in: every value must be in the set
            ("ka.user.groups intersects (dev)", true),          // intersects: any value
            ("ka.user.groups intersects (x, y)", false),
            ("ka.user.groups exists", true),
            ("not ka.user.groups in (dev)", true),
            ("ka.req.pod.containers.privileged intersects (true)", true),
            ("ka.req.pod.containers.privileged in (true)", false),
            ("ka.req.pod.containers.image.repository in (nginx, busybox)", true),
            ("ka.req.pod.volumes.hostpath pmatch (/etc)", true),
            ("ka.req.pod.volumes.hostpath pmatch (/et)", false),
        ])
        // Empty and missing lists: not available.
        let noGroups = EngineEvent.json(["user": ["username": "alice", "groups": [String]()]])
        expect([("ka.user.groups exists", false), ("ka.user.groups in (a)", false), ("not ka.user.groups in (a)", true),
                ("ka.user.groups intersects (a)", false), ("not ka.user.groups intersects (a)", true)], noGroups)
        // Falco: list fields support exists, in and intersects only. AuditHound also accepts the matching
        // operators (true when any value matches); =, != and the ordering operators are compile errors.
        for op in ["= dev", "!= dev", "< 5", ">= 5"] {
            let e = errors("ka.user.groups \(op)")
            XCTAssertEqual(e.count, 1, op)
            XCTAssertTrue(e.first?.message.contains("is a list field") ?? false, e.first?.message ?? op)
        }
        expect([
            ("ka.user.groups contains authent", true), ("ka.user.groups contains xyz", false),
            ("ka.user.groups startswith system:", true), ("ka.user.groups endswith ev", true), ("ka.user.groups endswith ex", false),
            ("ka.user.groups glob \"sys*\"", true), ("ka.user.groups iglob \"DE?\"", true), ("ka.user.groups icontains AUTH", true),
            ("not ka.user.groups contains xyz", true),
        ])
    }

    func testNumbersAndBooleansComparedAsJSONText() {
        expect([
            ("ka.response.code startswith 2", true), ("ka.response.code startswith 4", false),
            ("ka.response.code = 201", true), ("ka.response.code = \"201\"", true), ("ka.response.code in (200, 201)", true),
            ("ka.req.pod.host_network intersects (true)", true), ("ka.req.pod.host_network = true", true),
            ("ka.req.pod.host_network = True", false), ("ka.req.pod.host_pid exists", false),
            ("jevt.value[/requestObject/spec/hostNetwork] = true", true),
            ("jevt.value[/responseStatus] = '{\"code\":201,\"metadata\":{}}'", true),
        ])
    }

    func testPrecedenceAndParentheses() {
        // a = true, b = false, c = true
        let a = "ka.verb=create", b = "ka.verb=get", c = "ka.user.name=alice"
        expect([
            ("\(a) or \(b) and not \(c)", true),        // a or (b and not c)
            ("(\(a) or \(b)) and not \(c)", false),
            ("\(b) or \(a) and not \(c)", false),       // b or (a and not c)
            ("\(b) or \(c) and \(a)", true),
            ("not \(a) or \(c)", true),                 // (not a) or c
            ("not (\(a) or \(c))", false),
            ("not not \(a)", true),
            ("\(a) and (\(b) or (\(c) and not \(b)))", true),
        ])
    }

    func testShortCircuit() throws {
        // The second operand is not evaluated when the first decides.
        let h = try EngineHarness(engineRuleFile("ka.verb = get and ka.user.name = alice and ka.target.name = web"))
        let run = EngineHarness.withEvent(Self.pod) { e -> (Bool, Int) in
            let before = h.evaluator.predicatesRun
            let matched = h.evaluator.matches(rule: 0, e)
            return (matched, h.evaluator.predicatesRun - before)
        }
        XCTAssertEqual(run?.0, false)
        XCTAssertEqual(run?.1, 1)
        let h2 = try EngineHarness(engineRuleFile("ka.verb = create or ka.user.name = alice or ka.target.name = web"))
        let run2 = EngineHarness.withEvent(Self.pod) { e -> (Bool, Int) in
            let before = h2.evaluator.predicatesRun
            let matched = h2.evaluator.matches(rule: 0, e)
            return (matched, h2.evaluator.predicatesRun - before)
        }
        XCTAssertEqual(run2?.0, true)
        XCTAssertEqual(run2?.1, 1)
        // Nested: (false and x) or y evaluates y, not x.
        let h3 = try EngineHarness(engineRuleFile("(ka.verb = get and ka.user.name = alice) or ka.target.name = web"))
        let run3 = EngineHarness.withEvent(Self.pod) { e -> (Bool, Int) in
            let before = h3.evaluator.predicatesRun
            let matched = h3.evaluator.matches(rule: 0, e)
            return (matched, h3.evaluator.predicatesRun - before)
        }
        XCTAssertEqual(run3?.0, true)
        XCTAssertEqual(run3?.1, 2)
    }

    func testMacrosCallingMacrosAndNestedLists() {
        let preamble = """
        - list: inner
          items: [alice, "carol"]
        - list: outer
          items: [bob, inner]
        - list: empty
          items: []
        - macro: is_create
          condition: ka.verb = create
        - macro: by_known
          condition: ka.user.name in (outer)
        - macro: known_create
          condition: is_create and by_known
        - macro: deep
          condition: (known_create and not is_get)
        - macro: is_get
          condition: ka.verb = get
        """
        expect([
            ("deep", true), ("not deep", false), ("known_create and is_get", false), ("is_get or known_create", true),
            ("ka.user.name in (outer)", true), ("ka.user.name in outer", true), ("ka.user.name in (inner)", true),
            ("ka.user.name in (bob, inner)", true),
            ("ka.user.name in (\"inner\")", false),      // quoted: a literal, not the list
            ("ka.user.name in ('outer', x)", false),
            ("ka.user.name in (empty)", false), ("not ka.user.name in (empty)", true),
            ("ka.user.name in (empty, alice)", true),
            ("ka.user.name intersects (outer)", true),
            ("ka.target.name in (outer, web)", true),
        ], preamble: preamble)
        // A list that names itself (through another) does not loop.
        let cyclic = """
        - list: l1
          items: [a, l2]
        - list: l2
          items: [alice, l1]
        """
        expect([("ka.user.name in (l1)", true), ("ka.user.name in (l2)", true), ("ka.user.name in (l1, l2)", true)], preamble: cyclic)
        // A list named twice is expanded twice (its name is not added as a literal).
        let twice = """
        - list: names
          items: [bob]
        """
        expect([("ka.user.name in (names, names)", false)], EngineEvent.json(["user/username": "names"]), preamble: twice)
    }

    func testFieldToFieldComparisons() {
        // ka.target.name = web, ka.resp.name = web, ka.user.name = alice
        expect([
            ("ka.target.name = val(ka.resp.name)", true), ("ka.target.name != val(ka.resp.name)", false),
            ("ka.user.name = val(ka.target.name)", false), ("ka.user.name != val(ka.target.name)", true),
            // The right-hand field is not extracted yet when the comparison runs.
            ("ka.resp.name = val(ka.target.name)", true),
            ("ka.uri contains val(ka.target.namespace)", true), ("ka.uri startswith val(ka.target.namespace)", false),
            ("ka.uri endswith val(ka.target.resource)", true),
            ("ka.target.namespace in val(ka.user.groups)", false), ("ka.target.namespace intersects val(ka.user.groups)", false),
        ])
        let sameGroup = EngineEvent.json(["objectRef/namespace": "dev"])
        expect([("ka.target.namespace in val(ka.user.groups)", true), ("ka.target.namespace intersects val(ka.user.groups)", true),
                ("ka.user.groups in val(ka.user.groups)", true)], sameGroup)
    }

    func testHostileInputsStayLinear() {
        // A 1 MB value against patterns that make naive backtracking matchers exponential or quadratic.
        let big = String(repeating: "a", count: 1 << 20)
        let json = EngineEvent.json(["requestURI": big])
        expect([
            ("ka.uri glob \"*a*a*a*a*b\"", false),
            ("ka.uri glob \"*a*a*a*a*a\"", true),
            ("ka.uri glob \"*?*?*?*?b\"", false),
            ("ka.uri contains aaaaaaaaaaaaaaaaaaaaaaaaaaaaab", false),
            ("ka.uri icontains AAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", false),
            ("ka.uri endswith b", false),
            ("ka.uri pmatch (/a, aaaa)", false),
        ], json)
        // The same directly on the matchers: 1 MB, 20-element pattern.
        let value = Array(big.utf8)
        let pattern = Array("*a*a*a*a*a*a*a*a*a*b".utf8)
        value.withUnsafeBytes { v in
            pattern.withUnsafeBytes { p in
                XCTAssertFalse(globMatch(v, p))
            }
        }
    }

    func testGlobDetails() {
        func g(_ s: String, _ p: String) -> Bool {
            Array(s.utf8).withUnsafeBytes { sv in Array(p.utf8).withUnsafeBytes { pv in globMatch(sv, pv) } }
        }
        XCTAssertTrue(g("", ""))
        XCTAssertTrue(g("", "*"))
        XCTAssertFalse(g("", "?"))
        XCTAssertTrue(g("a/b/c", "a*c"))              // * crosses '/' (fnmatch without FNM_PATHNAME)
        XCTAssertTrue(g("a*b", "a\\*b"))
        XCTAssertFalse(g("axb", "a\\*b"))
        XCTAssertTrue(g("]", "[]]"))
        XCTAssertTrue(g("b", "[!]a]"))
        XCTAssertFalse(g("a", "[!]a]"))
        XCTAssertTrue(g("-", "[a-]"))
        XCTAssertTrue(g("[", "["))                    // unterminated class: a literal
        XCTAssertTrue(g("abcabd", "*ab?"))
        XCTAssertTrue(g("mississippi", "*sip*"))
        XCTAssertFalse(g("mississippi", "*sipx*"))
        XCTAssertTrue(g("aXbXc", "a*b*c"))
        XCTAssertFalse(g("abc", "ab"))
    }

    func testRuleIndexSkipsRulesThatCannotMatch() throws {
        let h = try EngineHarness("""
        - list: stages
          items: [ResponseComplete]
        - rule: Create
          desc: d
          condition: ka.verb=create and ka.user.name exists
          output: o
          priority: INFO
        - rule: Stage pointer
          desc: d
          condition: jevt.value[/stage] in (stages) and ka.user.name exists
          output: o
          priority: INFO
        - rule: Stage field
          desc: d
          condition: ka.stage = ResponseStarted and ka.user.name exists
          output: o
          priority: INFO
        - rule: Secrets
          desc: d
          condition: ka.target.resource in (secrets, configmaps) and ka.user.name exists
          output: o
          priority: INFO
        - rule: Not create
          desc: d
          condition: not ka.verb=create
          output: o
          priority: INFO
        """)
        let create = EngineEvent.json([:])
        XCTAssertEqual(h.fired(create), ["Create", "Stage pointer"])
        // Create (verb), Stage pointer (stage); Stage field and Secrets pruned; Not create runs (no mask from `not`).
        XCTAssertEqual(h.programsRun(create), 3)
        let get = EngineEvent.json(["verb": "get", "stage": "ResponseStarted", "objectRef/resource": "secrets"])
        XCTAssertEqual(h.fired(get), ["Stage field", "Secrets", "Not create"])
        XCTAssertEqual(h.programsRun(get), 3)
        // Values the index cannot classify by their raw text still give the right answer.
        let escaped = #"{"auditID":"x","verb":"cre\u0061te","stage":"Response\u0043omplete","user":{"username":"u"},"objectRef":{"resource":"s\u0065crets"}}"#
        XCTAssertEqual(h.fired(escaped), ["Create", "Stage pointer", "Secrets"])
        let odd = #"{"auditID":"x","verb":7,"stage":null,"user":{"username":"u"},"objectRef":{"resource":5}}"#
        XCTAssertEqual(h.fired(odd), ["Not create"])
        let numbers = try EngineHarness(engineRuleFile("ka.verb = 7 and ka.target.resource = 5"))
        XCTAssertEqual(numbers.fired(odd), ["T"])
        // Nothing but an auditID: only the negated rule holds (not on a missing field is true).
        let missing = #"{"auditID":"x"}"#
        XCTAssertEqual(h.fired(missing), ["Not create"])
        XCTAssertEqual(h.programsRun(missing), 1)
    }

    func testFusedAlternativesMatchTheirParts() throws {
        // Three or more `contains`/`icontains`/`startswith` alternatives on one field become one set
        // test; it must give what the separate tests give, on scalar and list fields, with patterns of
        // one byte (no pair table), at the end of the value, overlapping, and in other cases.
        let patterns = ["kube-hunter", "Nmap", "ab", "b", "zz"]
        let values = ["", "a", "b", "kube-hunter", "xkube-hunte", "my kube-hunter/1.0", "NMAP", "nmap scripting", "xxab", "aab",
                      "zzz", "kube-hunteR", "Ω kube-hunter", "A", "z", "ZZ"]
        let ops: [(String, (String, String) -> Bool)] = [
            ("contains", { $0.contains($1) }),
            ("icontains", { $0.lowercased().contains($1.lowercased()) }),
            ("startswith", { $0.hasPrefix($1) }),
        ]
        for (op, reference) in ops {
            for count in [3, 4, 5] {
                let chosen = Array(patterns.prefix(count))
                let condition = chosen.map { "ka.useragent \(op) \"\($0)\"" }.joined(separator: " or ")
                    + " or ka.verb = nothing"
                let h = try EngineHarness(engineRuleFile(condition))
                // The alternatives were fused into one test: a value that matches none runs two tests.
                let run = EngineHarness.withEvent(EngineEvent.json(["userAgent": "none of them"])) { e -> Int in
                    let before = h.evaluator.predicatesRun
                    _ = h.evaluator.matches(rule: 0, e)
                    return h.evaluator.predicatesRun - before
                }
                XCTAssertEqual(run, 2, condition)
                let groups = try EngineHarness(engineRuleFile(chosen.map { "ka.user.groups \(op) \"\($0)\"" }.joined(separator: " or ")))
                for v in values {
                    let expected = chosen.contains { reference(v, $0) }
                    XCTAssertEqual(h.fired(EngineEvent.json(["userAgent": v])) == ["T"], expected, "\(v) \(condition)")
                    let list = ["system:authenticated", v]
                    XCTAssertEqual(groups.fired(EngineEvent.json(["user/groups": list])) == ["T"], list.contains { x in chosen.contains { reference(x, $0) } },
                                   "groups \(list) \(op)")
                }
            }
        }
    }

    func testSharedMacrosAreEvaluatedOncePerEvent() throws {
        // Three rules use the same two-test macro: its tests run once per event, not once per rule, and
        // every rule still sees its value (true or false). A one-test macro is inlined.
        let h = try EngineHarness("""
        - macro: sys
          condition: ka.user.name startswith "system:" and not ka.user.name startswith "system:serviceaccount:"
        - macro: one
          condition: ka.verb = get
        - rule: A
          desc: d
          condition: sys and one
          output: o
          priority: INFO
        - rule: B
          desc: d
          condition: not sys and ka.target.resource = pods
          output: o
          priority: INFO
        - rule: C
          desc: d
          condition: (sys or ka.user.name = alice) and one
          output: o
          priority: INFO
        """)
        func predicates(_ json: String) -> Int {
            EngineHarness.withEvent(json) { e -> Int in
                let before = h.evaluator.predicatesRun
                h.evaluator.evaluate(e) { _ in }
                return h.evaluator.predicatesRun - before
            } ?? -1
        }
        let node = EngineEvent.json(["verb": "get", "user/username": "system:node:n1", "objectRef/resource": "pods"])
        XCTAssertEqual(h.fired(node), ["A", "C"])
        // sys: 2 tests, once; A: one (ka.verb = get); B: nothing more (not sys is false); C: nothing more
        // (the same test as A's, already run for this event).
        XCTAssertEqual(predicates(node), 3)
        let alice = EngineEvent.json(["verb": "get", "user/username": "alice", "objectRef/resource": "pods"])
        XCTAssertEqual(h.fired(alice), ["B", "C"])
        // sys: 1 test (false at the first); B: resource; C: user name, verb.
        XCTAssertEqual(predicates(alice), 4)
        let sa = EngineEvent.json(["verb": "list", "user/username": "system:serviceaccount:a:b", "objectRef/resource": "pods"])
        XCTAssertEqual(h.fired(sa), ["B"])
        // A macro's value is per event: the next event recomputes it.
        XCTAssertEqual(h.fired(node), ["A", "C"])
    }

    func testIdenticalTestsAreOnePredicateRunOncePerEvent() throws {
        // The same test written in several rules (or by an inlined one-test macro) is one predicate, run
        // at most once per event; a list with the same items in another order is the same test, one with
        // other items is not.
        let h = try EngineHarness("""
        - macro: anon
          condition: ka.user.name = "system:anonymous"
        - rule: X
          desc: d
          condition: anon and ka.verb = get
          output: o
          priority: INFO
        - rule: Y
          desc: d
          condition: ka.verb = get and not anon
          output: o
          priority: INFO
        - rule: Z
          desc: d
          condition: not ka.verb = get and ka.verb in (list, get)
          output: o
          priority: INFO
        - rule: W
          desc: d
          condition: ka.verb in (get, list) or ka.verb in (get, watch)
          output: o
          priority: INFO
        """)
        let set = h.ruleSet
        // anon, `ka.verb = get`, `ka.verb in (get, list)` and `ka.verb in (get, watch)`.
        XCTAssertEqual(set.predicates.count, 4)
        /// The rules that fire (with and without the index), after checking that one evaluation runs each
        /// of the four predicates at most once.
        func run(_ json: String) -> [String] {
            EngineHarness.withEvent(json) { e in
                let start = h.evaluator.predicatesRun
                h.evaluator.evaluate(e) { _ in }
                XCTAssertLessThanOrEqual(h.evaluator.predicatesRun - start, 4)
            }
            return h.fired(json)
        }
        let anonGet = EngineEvent.json(["verb": "get", "user/username": "system:anonymous"])
        XCTAssertEqual(run(anonGet), ["X", "W"])
        let aliceGet = EngineEvent.json(["verb": "get", "user/username": "alice"])
        XCTAssertEqual(run(aliceGet), ["Y", "W"])
        let aliceList = EngineEvent.json(["verb": "list", "user/username": "alice"])
        XCTAssertEqual(run(aliceList), ["Z", "W"])
        let anonWatch = EngineEvent.json(["verb": "watch", "user/username": "system:anonymous"])
        XCTAssertEqual(run(anonWatch), ["W"])
        // One evaluation of `aliceGet` with every rule: anon (1), verb = get (1), the (get, list) list
        // (1, true: W is decided). Z's `not ka.verb = get` reads the shared result.
        EngineHarness.withEvent(aliceGet) { e in
            let start = h.evaluator.predicatesRun
            h.evaluator.evaluate(e) { _ in }
            XCTAssertEqual(h.evaluator.predicatesRun - start, 3)
        }
    }

    func testProgramListsStayBoundedAndCorrectWhenTheCacheIsFull() throws {
        // The per-(verb, stage, resource) program lists are cached up to a limit; past it the evaluator
        // filters the bucket as it goes. Both ways give the unindexed answer (checked by `fired`).
        let h = try EngineHarness("""
        - rule: Any get
          desc: d
          condition: ka.verb = get
          output: o
          priority: INFO
        - rule: Pods
          desc: d
          condition: ka.target.resource = pods and ka.user.name exists
          output: o
          priority: INFO
        - rule: Everything
          desc: d
          condition: ka.user.name exists
          output: o
          priority: INFO
        """)
        h.evaluator.resolvedLimit = 4
        for verb in ["get", "list", "create"] {
            for resource in ["pods", "secrets", "nodes", "configmaps"] {
                let e = EngineEvent.json(["verb": verb, "objectRef/resource": resource, "user/username": "u"])
                var expected = ["Everything"]
                if resource == "pods" { expected.insert("Pods", at: 0) }
                if verb == "get" { expected.insert("Any get", at: 0) }
                XCTAssertEqual(h.fired(e), expected, "\(verb) \(resource)")
                XCTAssertEqual(h.fired(e), expected, "\(verb) \(resource), again")
            }
        }
    }

    func testOrAndConstantsInTheIndex() throws {
        let h = try EngineHarness("""
        - rule: Either
          desc: d
          condition: ka.verb=create or ka.user.name=bob
          output: o
          priority: INFO
        - rule: Both verbs
          desc: d
          condition: (ka.verb=create or ka.verb=get) and ka.target.resource=pods
          output: o
          priority: INFO
        """)
        XCTAssertEqual(h.fired(EngineEvent.json(["verb": "get", "user/username": "bob"])), ["Either", "Both verbs"])
        XCTAssertEqual(h.fired(EngineEvent.json(["verb": "delete", "user/username": "bob"])), ["Either"])
        XCTAssertEqual(h.programsRun(EngineEvent.json(["verb": "delete"])), 1)
    }

    func testReusedEvaluatorMatchesFreshEvaluators() throws {
        let rules = """
        - list: admins
          items: [root, "admin"]
        - macro: writes
          condition: ka.verb in (create, update, patch, delete)
        - rule: Admin write
          desc: d
          condition: writes and ka.user.name in (admins)
          output: o %ka.user.name
          priority: WARNING
        - rule: Escaped user
          desc: d
          condition: ka.user.name contains "é" or ka.uri.param[command] = sh
          output: o %ka.uri.param[command]
          priority: WARNING
        - rule: Privileged
          desc: d
          condition: ka.req.pod.containers.privileged intersects (true) and ka.user.groups intersects (ops)
          output: o %ka.req.pod.containers.image
          priority: WARNING
        - rule: Named
          desc: d
          condition: ka.target.name = val(ka.resp.name)
          output: o
          priority: INFO
        """
        var events: [String] = []
        for i in 0..<40 {
            var changes: [String: Any] = [
                "verb": ["create", "get", "delete", "patch"][i % 4],
                "user": ["username": ["root", "alice", "\u{e9}lise", "admin"][i % 3], "groups": i % 5 == 0 ? ["ops"] : ["dev", "x\(i)"]],
                "requestURI": "/api/v1/namespaces/ns/pods/p/exec?command=\(i % 2 == 0 ? "sh" : "bash")&x=%20\(i)",
            ]
            if i % 3 == 0 {
                changes["requestObject"] = ["spec": ["containers": [["image": "img\(i)", "securityContext": ["privileged": i % 2 == 0]]]]]
            }
            if i % 4 == 1 { changes["responseObject"] = ["metadata": ["name": i % 8 == 1 ? "web" : "other"]] }
            events.append(EngineEvent.json(changes))
        }
        let shared = try EngineHarness(rules)
        var reused: [[String]] = []
        var renderedReused: [[String]] = []
        for e in events {
            reused.append(shared.fired(e))
            renderedReused.append(shared.alerts(e).map(\.message))
        }
        var anyFired = 0
        for (k, e) in events.enumerated() {
            let fresh = try EngineHarness(rules)
            XCTAssertEqual(fresh.fired(e), reused[k], "event \(k)")
            XCTAssertEqual(fresh.alerts(e).map(\.message), renderedReused[k], "event \(k)")
            anyFired += reused[k].count
        }
        XCTAssertGreaterThan(anyFired, 20)
        // Reverse order on the shared evaluator: same results.
        for (k, e) in events.enumerated().reversed() {
            XCTAssertEqual(shared.fired(e), reused[k], "event \(k) (reverse)")
        }
    }

    func testDeepMacroChains() throws {
        func chain(_ n: Int) -> String {
            var text = "- macro: m0\n  condition: ka.verb = create\n"
            for i in 1..<n { text += "- macro: m\(i)\n  condition: (m\(i - 1) and ka.user.name exists)\n" }
            return text
        }
        // 300 macros deep: fine.
        let h = try EngineHarness(engineRuleFile("m299", preamble: chain(300)))
        XCTAssertEqual(h.fired(Self.pod), ["T"])
        XCTAssertEqual(h.fired(EngineEvent.json(["verb": "get"])), [])
        // 3000 deep: one clear error, no stack overflow.
        let e = errors("m2999", preamble: chain(3000))
        XCTAssertEqual(e.count, 1)
        XCTAssertTrue(e.first?.message.contains("nest too deeply") ?? false, e.first?.message ?? "")
    }

    func testCompileErrorsForBadOperands() {
        XCTAssertEqual(errors("ka.user.name in unknown_list").count, 1)
        XCTAssertEqual(errors("ka.user.name bcontains xyz").count, 1)       // not hex
        XCTAssertEqual(errors("ka.user.name bstartswith 6").count, 1)       // odd number of digits
        XCTAssertEqual(errors("ka.verb = create and unknown_macro").count, 1)
        XCTAssertEqual(errors("ka.nope = 1").count, 1)
        XCTAssertEqual(errors("ka.uri.param = 1").count, 1)                // missing argument
        XCTAssertEqual(errors("ka.verb = create", preamble: "").count, 0)
    }
}

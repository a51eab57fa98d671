import XCTest
import Foundation
import AuditJSON
import AuditInput
@testable import AuditRules

/// The 1-based line and column (in Unicode scalars) where the `occurrence`-th `needle` starts in `text`.
private func position(of needle: String, in text: String, occurrence: Int = 1) -> (line: Int, column: Int) {
    var searchStart = text.startIndex
    var found: Range<String.Index>? = nil
    for _ in 0..<occurrence {
        guard let r = text.range(of: needle, range: searchStart..<text.endIndex) else { return (-1, -1) }
        found = r
        searchStart = r.upperBound
    }
    let prefix = text[text.startIndex..<found!.lowerBound]
    let line = prefix.filter { $0 == "\n" }.count + 1
    let lineStart = prefix.lastIndex(of: "\n").map { prefix.index(after: $0) } ?? prefix.startIndex
    return (line, prefix[lineStart...].unicodeScalars.count + 1)
}

private func load(_ files: [(String, String)]) -> RuleLoadResult {
    RuleCompiler.load(files.map { RuleFile(path: $0.0, text: $0.1) })
}

private func load(_ text: String, path: String = "rules.yaml") -> RuleLoadResult {
    load([(path, text)])
}

final class RuleLoaderTests: XCTestCase {
    /// Asserts that `result` has an error at the place `needle` is found in `text`, whose message
    /// contains `message`.
    private func assertError(_ result: RuleLoadResult, at needle: String, in text: String, occurrence: Int = 1, path: String = "rules.yaml",
                             offset: Int = 0, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        let p = position(of: needle, in: text, occurrence: occurrence)
        let expected = SourceLocation(path: path, line: p.line, column: p.column + offset)
        let errors = result.diagnostics.filter { $0.severity == .error }
        XCTAssertTrue(errors.contains { $0.location == expected && $0.message.contains(message) },
                      "no error '\(message)' at \(expected); got:\n" + errors.map(\.description).joined(separator: "\n"), file: file, line: line)
    }

    private let base = """
    - list: admins
      items: [root, "kube admin"]
    - macro: writes
      condition: ka.verb in (create, update, patch, delete)
    - rule: Admin write
      desc: An admin wrote something
      condition: writes and ka.user.name in (admins)
      output: Admin write (user=%ka.user.name verb=%ka.verb)
      priority: WARNING
      tags: [k8s, admin]
    - rule: Secret read
      desc: Someone read a secret
      condition: ka.verb = get and ka.target.resource = secrets
      output: Secret read by %ka.user.name
      priority: info
      tags: [k8s]

    """

    func testLoadsListsMacrosAndRules() throws {
        let h = try EngineHarness(base)
        XCTAssertEqual(h.ruleSet.rules.map(\.name), ["Admin write", "Secret read"])
        XCTAssertEqual(h.ruleSet.rules.map(\.priority), [.warning, .informational])
        XCTAssertEqual(h.ruleSet.rules[0].tags, ["k8s", "admin"])
        XCTAssertEqual(h.ruleSet.rules[0].description, "An admin wrote something")
        XCTAssertEqual(h.ruleSet.rules[0].location, SourceLocation(path: "rules.yaml", line: 5, column: 9))
        XCTAssertEqual(h.fired(EngineEvent.json(["user/username": "root"])), ["Admin write"])
        XCTAssertEqual(h.fired(EngineEvent.json(["user/username": "kube admin", "verb": "delete"])), ["Admin write"])
        XCTAssertEqual(h.fired(EngineEvent.json(["verb": "get", "objectRef/resource": "secrets"])), ["Secret read"])
        XCTAssertEqual(h.fired(EngineEvent.json([:])), [])
        XCTAssertEqual(h.result.diagnostics.count, 0, h.result.diagnostics.map(\.description).joined(separator: "\n"))
    }

    func testLegacyAppend() throws {
        let more = """
        - list: admins
          items: [alice]
          append: true
        - macro: writes
          condition: or ka.verb = get
          append: true
        - rule: Secret read
          condition: and ka.target.namespace = prod
          append: true
        """
        let h = try EngineHarness(files: [RuleFile(path: "a.yaml", text: base), RuleFile(path: "b.yaml", text: more)])
        XCTAssertEqual(h.fired(EngineEvent.json([:])), ["Admin write"])                            // alice appended to admins
        XCTAssertEqual(h.fired(EngineEvent.json(["verb": "get", "objectRef/resource": "pods"])), ["Admin write"])  // writes or get
        XCTAssertEqual(h.fired(EngineEvent.json(["verb": "get", "objectRef/resource": "secrets", "user/username": "bob"])), [])
        XCTAssertEqual(h.fired(EngineEvent.json(["verb": "get", "objectRef/resource": "secrets", "objectRef/namespace": "prod",
                                                 "user/username": "bob"])), ["Secret read"])
        // The appended text is joined with a space, as in Falco.
        XCTAssertEqual(h.result.collection.rules[1].condition.text, "ka.verb = get and ka.target.resource = secrets and ka.target.namespace = prod")
        // Appending to something that does not exist is an error.
        let orphan = "- list: nothing\n  items: [a]\n  append: true\n- macro: nomacro\n  condition: x\n  append: true\n"
        let r = load(orphan)
        assertError(r, at: "nothing", in: orphan, "cannot append to list 'nothing'")
        assertError(r, at: "nomacro", in: orphan, "cannot append to macro 'nomacro'")
    }

    func testOverride() throws {
        let more = """
        - list: admins
          items: [alice]
          override:
            items: append
        - macro: writes
          condition: ka.verb = patch
          override:
            condition: replace
        - rule: Admin write
          condition: and ka.target.namespace != kube-system
          output: Admin changed %ka.target.name
          priority: ERROR
          tags: [mitre]
          desc: replaced
          override:
            condition: append
            output: replace
            priority: replace
            tags: append
            desc: replace
        """
        let h = try EngineHarness(files: [RuleFile(path: "a.yaml", text: base), RuleFile(path: "b.yaml", text: more)])
        let rule = h.ruleSet.rules[0]
        XCTAssertEqual(rule.priority, .error)
        XCTAssertEqual(rule.tags, ["k8s", "admin", "mitre"])
        XCTAssertEqual(rule.description, "replaced")
        XCTAssertEqual(rule.outputText, "Admin changed %ka.target.name")
        XCTAssertEqual(h.fired(EngineEvent.json(["verb": "patch"])), ["Admin write"])          // alice + patch
        XCTAssertEqual(h.fired(EngineEvent.json(["verb": "create"])), [])                      // writes replaced
        XCTAssertEqual(h.fired(EngineEvent.json(["verb": "patch", "objectRef/namespace": "kube-system"])), [])
        XCTAssertEqual(h.alerts(EngineEvent.json(["verb": "patch"])).map(\.message), ["Admin changed web"])
        // A list replaced (no override, no append) in a later file.
        let replaced = try EngineHarness(files: [RuleFile(path: "a.yaml", text: base),
                                                 RuleFile(path: "b.yaml", text: "- list: admins\n  items: [bob]\n")])
        XCTAssertEqual(replaced.fired(EngineEvent.json(["user/username": "root"])), [])
        XCTAssertEqual(replaced.fired(EngineEvent.json(["user/username": "bob"])), ["Admin write"])
    }

    func testOverrideMistakes() {
        let more = """
        - rule: Admin write
          condition: and ka.verb = get
          output: x
          override:
            condition: append
        - rule: Secret read
          override:
            condition: append
        - rule: Secret read
          priority: ERROR
          override:
            priority: append
        - rule: Secret read
          condition: ka.verb = get
          append: true
          override:
            condition: append
        - rule: Nope
          condition: x
          override:
            condition: append
        - list: admins
          items: [a]
          override:
            condition: append
        """
        let r = load([("a.yaml", base), ("b.yaml", more)])
        assertError(r, at: "output: x", in: more, path: "b.yaml", "gives 'output' but override: does not say how")
        assertError(r, at: "condition: append", in: more, occurrence: 2, path: "b.yaml", "override of 'condition' but rule 'Secret read' gives no 'condition'")
        assertError(r, at: "append", in: more, occurrence: 3, path: "b.yaml", offset: 0, "'priority' can only be replaced")
        assertError(r, at: "override", in: more, occurrence: 4, path: "b.yaml", "'append: true' and 'override' cannot be used together")
        assertError(r, at: "Nope", in: more, path: "b.yaml", "cannot append to or override rule 'Nope'")
        assertError(r, at: "condition: append", in: more, occurrence: 5, path: "b.yaml", "'condition' cannot be overridden here")
        XCTAssertNil(r.ruleSet)
    }

    func testEnabledOnlyItems() throws {
        let off = "- rule: Admin write\n  enabled: false\n"
        let on = "- rule: Admin write\n  enabled: true\n"
        let h = try EngineHarness(files: [RuleFile(path: "a.yaml", text: base), RuleFile(path: "b.yaml", text: off)])
        XCTAssertFalse(h.ruleSet.rules[0].enabled)
        XCTAssertEqual(h.ruleSet.enabledCount, 1)
        XCTAssertEqual(h.fired(EngineEvent.json(["user/username": "root"])), [])
        let h2 = try EngineHarness(files: [RuleFile(path: "a.yaml", text: base), RuleFile(path: "b.yaml", text: off),
                                           RuleFile(path: "c.yaml", text: on)])
        XCTAssertTrue(h2.ruleSet.rules[0].enabled)
        XCTAssertEqual(h2.fired(EngineEvent.json(["user/username": "root"])), ["Admin write"])
        // Also in the same file, and with override.
        let h3 = try EngineHarness(base + "- rule: Secret read\n  enabled: false\n  override:\n    enabled: replace\n")
        XCTAssertEqual(h3.ruleSet.rules.map(\.enabled), [true, false])
        // A rule defined disabled, enabled later.
        let h4 = try EngineHarness("""
        - rule: R
          desc: d
          condition: ka.verb = create
          output: o
          priority: DEBUG
          enabled: false
        - rule: R
          enabled: true
        """)
        XCTAssertEqual(h4.fired(EngineEvent.json([:])), ["R"])
        let r = load("- rule: Ghost\n  enabled: false\n")
        assertError(r, at: "Ghost", in: "- rule: Ghost\n  enabled: false\n", "cannot enable or disable rule 'Ghost'")
    }

    func testDuplicateRules() throws {
        let dup = base + """
        - rule: Secret read
          desc: again
          condition: ka.verb = list
          output: o
          priority: INFO
        """
        let r = load(dup)
        assertError(r, at: "Secret read", in: dup, occurrence: 3, "duplicate rule 'Secret read'")
        XCTAssertNil(r.ruleSet)
        // In a later file: replaced, with a notice.
        let later = "- rule: Secret read\n  desc: again\n  condition: ka.verb = list\n  output: o\n  priority: INFO\n"
        let h = try EngineHarness(files: [RuleFile(path: "a.yaml", text: base), RuleFile(path: "b.yaml", text: later)])
        XCTAssertEqual(h.ruleSet.rules.map(\.name), ["Admin write", "Secret read"])
        XCTAssertEqual(h.fired(EngineEvent.json(["verb": "list"])), ["Secret read"])
        XCTAssertEqual(h.fired(EngineEvent.json(["verb": "get", "objectRef/resource": "secrets"])), [])
        let notices = h.result.diagnostics.filter { $0.severity == .notice }
        XCTAssertEqual(notices.map(\.location), [SourceLocation(path: "b.yaml", line: 1, column: 9)])
        XCTAssertTrue(notices.first?.message.contains("replaces") ?? false)
    }

    func testDiagnosticPositions() {
        let text = """
        - list: known
          items: [a]
        - rule: Unknown macro
          desc: d
          condition: ka.verb = create and no_such_macro
          output: o
          priority: INFO
        - rule: Unknown list
          desc: d
          condition: ka.verb = create and ka.user.name in no_such_list
          output: o
          priority: INFO
        - rule: Unknown field
          desc: d
          condition: >
            ka.verb = create and
              ka.user.nam = alice
          output: o
          priority: INFO
        - rule: Bad priority
          desc: d
          condition: ka.verb = create
          output: o
          priority: SEVERE
        - rule: Syntax
          desc: d
          condition: "ka.verb = create and (ka.user.name = x"
          output: o
          priority: INFO
        - rule: Missing
          desc: d
          priority: INFO
        - rule: Output field
          desc: d
          condition: ka.verb = create
          output: user=%ka.user.name pod=%ka.pod.name
          priority: INFO
        - rule: List as macro
          desc: d
          condition: known
          output: o
          priority: INFO
        """
        let r = load(text)
        assertError(r, at: "no_such_macro", in: text, "unknown macro 'no_such_macro'")
        assertError(r, at: "no_such_list", in: text, "'no_such_list' is not a known list")
        assertError(r, at: "ka.user.nam ", in: text, "unknown field 'ka.user.nam'")
        assertError(r, at: "SEVERE", in: text, "unknown priority 'SEVERE'")
        // An unclosed parenthesis: reported at the end of the text (the closing quote), naming where '(' is.
        assertError(r, at: "= x\"", in: text, offset: 3, "expected ')' to close '(' at 27:36")
        assertError(r, at: "Missing", in: text, "lacks condition, output")
        assertError(r, at: "%ka.pod.name", in: text, "unknown field 'ka.pod.name'")
        assertError(r, at: "known\n  output", in: text, "is a list, not a macro")
        XCTAssertEqual(r.diagnostics.filter { $0.severity == .error }.count, 8, r.diagnostics.map(\.description).joined(separator: "\n"))
        XCTAssertNil(r.ruleSet)
        // Diagnostics render as path:line:column: severity: message.
        let d = r.diagnostics.first { $0.message.contains("no_such_macro") }
        XCTAssertEqual(d?.description.hasPrefix("rules.yaml:5:35: error: "), true, d?.description ?? "")
    }

    func testConditionSyntaxErrorPositionInFoldedAndAppendedConditions() {
        let text = """
        - rule: Folded
          desc: d
          condition: >
            ka.verb = create
            and ka.user.name startwith x
          output: o
          priority: INFO
        """
        let r = load(text)
        assertError(r, at: "startwith", in: text, "startwith")
        // A problem in an appended condition points into the file that appended it.
        let first = "- macro: m\n  condition: ka.verb = create\n- rule: R\n  desc: d\n  condition: m\n  output: o\n  priority: INFO\n"
        let second = """
        # comment
        - rule: R
          condition: >
            and
              not ka.target.nme exists
          append: true
        - macro: m
          condition: or ka.verb in unknown_list
          override:
            condition: append
        """
        let r2 = load([("a.yaml", first), ("b.yaml", second)])
        assertError(r2, at: "ka.target.nme", in: second, path: "b.yaml", "unknown field 'ka.target.nme'")
        assertError(r2, at: "unknown_list", in: second, path: "b.yaml", "not a known list")
        XCTAssertEqual(r2.diagnostics.filter { $0.severity == .error }.count, 2, r2.diagnostics.map(\.description).joined(separator: "\n"))
        // Quoted scalars with escapes and non-ASCII text before the error.
        let quoted = "- rule: Q\n  desc: d\n  condition: \"ka.user.name = \\\"é\\\" and ka.bad.field = 1\"\n  output: o\n  priority: INFO\n"
        let r3 = load(quoted)
        assertError(r3, at: "ka.bad.field", in: quoted, "unknown field 'ka.bad.field'")
    }

    func testYAMLSyntaxError() {
        let text = "- rule: R\n  desc: d\n  condition: [unclosed\n  output: o\n"
        let r = load(text)
        let errors = r.diagnostics.filter { $0.severity == .error }
        XCTAssertEqual(errors.count, 1)
        XCTAssertEqual(errors.first?.location.path, "rules.yaml")
        XCTAssertTrue(errors.first?.message.hasPrefix("YAML: ") ?? false)
        XCTAssertGreaterThanOrEqual(errors.first?.location.line ?? 0, 3)
        let tab = "- rule: R\n\tdesc: d\n"
        let r2 = load(tab)
        XCTAssertEqual(r2.diagnostics.first?.location, SourceLocation(path: "rules.yaml", line: 2, column: 1))
        // A YAML error in one file does not hide the problems of the others.
        let r3 = load([("bad.yaml", text), ("good.yaml", "- rule: G\n  desc: d\n  condition: nomacro\n  output: o\n  priority: INFO\n")])
        XCTAssertEqual(r3.diagnostics.filter { $0.severity == .error }.map(\.location.path), ["bad.yaml", "good.yaml"])
    }

    func testAllProblemsReportedAtOnce() {
        let text = """
        - rule: One
          desc: d
          condition: ka.verb = create and nope_macro
          output: o
          priority: INFO
        - rule: Two
          desc: d
          condition: ka.nofield = 1
          output: o
          priority: INFO
        - rule: Three
          desc: d
          condition: ka.verb = create and ka.bad.three = 1
          output: o
          priority: LOUD
        - rule: Four
          desc: d
          condition: ka.verb in missing_list
          output: o
          priority: INFO
        - rule: Five
          desc: d
          condition: ka.verb = = create
          output: o
          priority: INFO
        - macro: unused_broken
          condition: ka.verb = (
        """
        let r = load(text)
        let errors = r.diagnostics.filter { $0.severity == .error }
        // Three has two problems: its priority, and (checked all the same) its condition.
        XCTAssertEqual(errors.count, 7, errors.map(\.description).joined(separator: "\n"))
        XCTAssertEqual(errors.map(\.location.line), [3, 8, 13, 15, 18, 23, 27])   // sorted by position
    }

    func testOtherSourcesAreSkippedWithANotice() throws {
        let text = base + """
        - rule: Shell in container
          desc: d
          condition: proc.name = bash and container.id != host
          output: shell %proc.name
          priority: WARNING
          source: syscall
        - rule: Shell in container
          enabled: false
        - rule: Shell in container
          condition: and proc.pname = x
          append: true
        - macro: spawned_process
          condition: evt.type = execve
          source: syscall
        - rule: Plugin rule
          desc: d
          condition: ka.verb = create
          output: o
          priority: INFO
          source: k8s_audit
        """
        let h = try EngineHarness(text)
        XCTAssertEqual(h.ruleSet.rules.map(\.name), ["Admin write", "Secret read", "Plugin rule"])
        XCTAssertEqual(h.result.collection.skippedRules, ["Shell in container"])
        let notices = h.result.diagnostics.filter { $0.severity == .notice }
        XCTAssertEqual(notices.count, 3, notices.map(\.description).joined(separator: "\n"))
        XCTAssertEqual(notices.first?.location.line, position(of: "source: syscall", in: text).line)
    }

    func testMacroCycles() {
        let text = """
        - macro: a
          condition: ka.verb = create and b
        - macro: b
          condition: not c
        - macro: c
          condition: a
        - macro: self_ref
          condition: self_ref or ka.verb = get
        - rule: R
          desc: d
          condition: a
          output: o
          priority: INFO
        - rule: S
          desc: d
          condition: self_ref
          output: o
          priority: INFO
        - rule: T
          desc: d
          condition: c and a
          output: o
          priority: INFO
        """
        let r = load(text)
        let errors = r.diagnostics.filter { $0.severity == .error }
        XCTAssertGreaterThanOrEqual(errors.count, 2)
        XCTAssertTrue(errors.contains { $0.message.contains("a -> b -> c -> a") }, errors.map(\.description).joined(separator: "\n"))
        XCTAssertTrue(errors.contains { $0.message.contains("self_ref -> self_ref") })
        XCTAssertNil(r.ruleSet)
    }

    func testMissingKeysAndBadShapes() {
        let text = """
        - rule: No output
          desc: d
          condition: ka.verb = create
          priority: INFO
        - macro: no_condition
        - list: no_items
        - list: bad_items
          items: {a: b}
        - rule: Bad tags
          desc: d
          condition: ka.verb = create
          output: o
          priority: INFO
          tags: k8s
        - rule: Bad enabled
          desc: d
          condition: ka.verb = create
          output: o
          priority: INFO
          enabled: maybe
        - something: else
        """
        let r = load(text)
        assertError(r, at: "No output", in: text, "lacks output")
        assertError(r, at: "macro", in: text, offset: 0, "macro 'no_condition' has no condition")
        assertError(r, at: "list: no_items", in: text, "list 'no_items' has no items")
        assertError(r, at: "{a: b}", in: text, "must be a list")
        assertError(r, at: "k8s", in: text, "tags must be a list")
        assertError(r, at: "maybe", in: text, "'enabled' must be true or false")
        assertError(r, at: "something", in: text, "unknown item")
    }

    func testExceptionsExpandLikeFalco() throws {
        let text = """
        - list: robots
          items: [ci-bot, deploy-bot]
        - rule: Writes
          desc: d
          condition: ka.verb in (create, update)
          output: o
          priority: INFO
          exceptions:
            - name: robots_in_ns
              fields: [ka.user.name, ka.target.namespace]
              comps: [in, =]
              values:
                - [robots, ci]
                - [[alice, "bob smith"], dev]
            - name: single_field
              fields: ka.target.name
              values: [allowed-1, allowed-2]
            - name: prefix
              fields: [ka.uri]
              comps: [startswith]
              values:
                - [/apis/batch]
            - name: default_comps
              fields: [ka.user.name, ka.verb]
              values:
                - [carol, update]
            - name: no_values
              fields: [ka.user.name]
              comps: [=]
        """
        let h = try EngineHarness(text)
        func fires(_ changes: [String: Any], line: UInt = #line) -> Bool { h.fired(EngineEvent.json(changes), line: line) == ["Writes"] }
        XCTAssertTrue(fires([:]))
        // robots_in_ns: the list name expands; both fields must match.
        XCTAssertFalse(fires(["user/username": "ci-bot", "objectRef/namespace": "ci"]))
        XCTAssertTrue(fires(["user/username": "ci-bot", "objectRef/namespace": "prod"]))
        XCTAssertTrue(fires(["user/username": "robots", "objectRef/namespace": "ci"]))
        XCTAssertFalse(fires(["user/username": "bob smith", "objectRef/namespace": "dev"]))    // list value inside a tuple
        XCTAssertFalse(fires(["user/username": "alice", "objectRef/namespace": "dev"]))
        XCTAssertTrue(fires(["user/username": "alice", "objectRef/namespace": "ci"]))
        // single_field: field in (values)
        XCTAssertFalse(fires(["objectRef/name": "allowed-2"]))
        XCTAssertTrue(fires(["objectRef/name": "allowed-3"]))
        // prefix
        XCTAssertFalse(fires(["requestURI": "/apis/batch/v1/jobs"]))
        // default comps are =
        XCTAssertFalse(fires(["user/username": "carol", "verb": "update"]))
        XCTAssertTrue(fires(["user/username": "carol", "verb": "create"]))
        // An exception on a missing field does not apply (Falco: the comparison is false).
        XCTAssertTrue(fires(["objectRef": ["resource": "pods"]]))
    }

    func testExceptionAppendAndReplace() throws {
        let text = """
        - rule: Writes
          desc: d
          condition: ka.verb = create
          output: o
          priority: INFO
          exceptions:
            - name: users
              fields: [ka.user.name]
              values:
                - [alice]
        - rule: Writes
          exceptions:
            - name: users
              values:
                - [bob]
            - name: namespaces
              fields: ka.target.namespace
              values: [kube-system]
          override:
            exceptions: append
        """
        let h = try EngineHarness(text)
        XCTAssertEqual(h.result.collection.rules[0].exceptions.map(\.name), ["users", "namespaces"])
        XCTAssertEqual(h.fired(EngineEvent.json(["user/username": "alice"])), [])
        XCTAssertEqual(h.fired(EngineEvent.json(["user/username": "bob"])), [])
        XCTAssertEqual(h.fired(EngineEvent.json(["user/username": "carol", "objectRef/namespace": "kube-system"])), [])
        XCTAssertEqual(h.fired(EngineEvent.json(["user/username": "carol"])), ["Writes"])
        // Replace drops the earlier exceptions.
        let replace = try EngineHarness(text.replacingOccurrences(of: "exceptions: append", with: "exceptions: replace")
            .replacingOccurrences(of: "    - name: users\n      values:\n        - [bob]\n", with: ""))
        XCTAssertEqual(replace.fired(EngineEvent.json(["user/username": "alice"])), ["Writes"])
        XCTAssertEqual(replace.fired(EngineEvent.json(["objectRef/namespace": "kube-system"])), [])
        // Mistakes: fields on an existing exception, a new one without fields, unknown field, bad comps.
        let bad = """
        - rule: Writes
          desc: d
          condition: ka.verb = create
          output: o
          priority: INFO
          exceptions:
            - name: users
              fields: [ka.user.name]
              values: [[alice]]
            - name: typo
              fields: [ka.user.nam]
              values: [[x]]
            - name: single
              fields: ka.user.name
              comps: =
              values: [x]
            - name: sizes
              fields: [ka.user.name, ka.verb]
              comps: [=]
              values: [[a, b]]
            - name: tuple
              fields: [ka.user.name, ka.verb]
              values: [[a]]
            - name: list_field
              fields: [ka.user.groups]
              values: [[admins]]
        - rule: Writes
          exceptions:
            - name: users
              fields: [ka.verb]
              values: [[get]]
            - name: fresh
              values: [[x]]
          append: true
        """
        let r = load(bad)
        assertError(r, at: "typo", in: bad, "unknown field 'ka.user.nam'")
        assertError(r, at: "single", in: bad, "comps must be in, intersects or pmatch")
        assertError(r, at: "sizes", in: bad, "comps has 1 entries but fields has 2")
        assertError(r, at: "tuple", in: bad, "has 1 items but fields has 2")
        assertError(r, at: "list_field", in: bad, "is a list field")
        assertError(r, at: "users", in: bad, occurrence: 2, "can add values only")
        assertError(r, at: "fresh", in: bad, "needs fields")
    }

    func testGKEStyleExceptionOverride() throws {
        let main = """
        - rule: Disallowed K8s User
          desc: d
          condition: not ka.user.name in (admins)
          output: o
          priority: WARNING
        - list: admins
          items: [root]
        """
        let gke = """
        - rule: Disallowed K8s User
          exceptions:
            - name: google-container-engine-robot
              fields: [ka.user.name]
              comps: [endswith]
              values:
                - ["@container-engine-robot.iam.gserviceaccount.com"]
          override: 
            exceptions: append
        """
        let h = try EngineHarness(files: [RuleFile(path: "main.yaml", text: main), RuleFile(path: "gke.yaml", text: gke)])
        XCTAssertEqual(h.fired(EngineEvent.json(["user/username": "x@container-engine-robot.iam.gserviceaccount.com"])), [])
        XCTAssertEqual(h.fired(EngineEvent.json(["user/username": "mallory"])), ["Disallowed K8s User"])
        XCTAssertEqual(h.fired(EngineEvent.json(["user/username": "root"])), [])
    }
}

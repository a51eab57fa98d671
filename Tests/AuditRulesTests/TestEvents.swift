import Foundation
import XCTest
import AuditJSON
import AuditInput
@testable import AuditRules

// Builders of realistic Kubernetes audit events (audit.k8s.io/v1 Event JSON, as the API server's log
// backend writes them) for rule tests, and helpers that evaluate rule sets on them.

// MARK: - JSON text

/// A JSON string literal for `s` (quotes included), escaped as Go's encoder does (`&`, `<`, `>` as \u00XX).
func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "&": out += "\\u0026"
        case "<": out += "\\u003c"
        case ">": out += "\\u003e"
        default:
            if scalar.value < 0x20 {
                out += String(format: "\\u%04x", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

/// A JSON array of strings.
func jsonStrings(_ items: [String]) -> String {
    "[" + items.map(jsonString).joined(separator: ",") + "]"
}

/// A JSON object from already-encoded member values (nil values are left out), keys in the given order.
func jsonObject(_ members: [(String, String?)]) -> String {
    "{" + members.compactMap { key, value in value.map { jsonString(key) + ":" + $0 } }.joined(separator: ",") + "}"
}

/// Percent-encodes a query component the way Go's url.QueryEscape does (space as %20 here, like kubectl).
func queryEscape(_ s: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-_.~")
    return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
}

// MARK: - Events

/// The JSON text of one audit event.
///
/// Defaults describe an ordinary, allowed request by a human user from a private address, logged at
/// `ResponseComplete`. The URI is derived from the object reference unless `uri` is given (`query` is
/// appended to a derived URI). The code defaults to 201 for create, 403 when `decision` is `forbid`, 200
/// otherwise. The level defaults to the least one carrying the given bodies.
func auditEvent(verb: String = "get",
                resource: String? = "pods",
                subresource: String? = nil,
                namespace: String? = "default",
                name: String? = nil,
                apiGroup: String? = nil,
                apiVersion: String = "v1",
                user: String? = "alice@example.com",
                groups: [String] = ["system:authenticated"],
                impersonatedUser: String? = nil,
                impersonatedGroups: [String]? = nil,
                stage: String = "ResponseComplete",
                level: String? = nil,
                code: Int? = nil,
                decision: String? = "allow",
                reason: String? = nil,
                requestObject: String? = nil,
                responseObject: String? = nil,
                uri: String? = nil,
                query: String? = nil,
                sourceIPs: [String] = ["10.0.4.17"],
                userAgent: String? = "kubectl/v1.30.2 (linux/amd64) kubernetes/3968350",
                annotations: [String: String] = [:],
                auditID: String = "4f3c2e1a-9b8d-4c7e-a6f5-0123456789ab") -> String {
    let responseCode = code ?? (decision == "forbid" ? 403 : (verb == "create" ? 201 : 200))
    let eventLevel = level ?? (responseObject != nil ? "RequestResponse" : (requestObject != nil ? "Request" : "Metadata"))
    var requestURI = uri ?? {
        var path = (apiGroup ?? "").isEmpty ? "/api/\(apiVersion)" : "/apis/\(apiGroup!)/\(apiVersion)"
        if let namespace { path += "/namespaces/\(namespace)" }
        if let resource { path += "/\(resource)" }
        if let name, verb != "create" || subresource != nil { path += "/\(name)" }
        if let subresource { path += "/\(subresource)" }
        return path
    }()
    if uri == nil, let query { requestURI += "?" + query }

    var objectRef: String? = nil
    if let resource {
        objectRef = jsonObject([
            ("resource", jsonString(resource)),
            ("namespace", namespace.map(jsonString)),
            ("name", name.map(jsonString)),
            ("apiGroup", apiGroup.flatMap { $0.isEmpty ? nil : jsonString($0) }),
            ("apiVersion", jsonString(apiVersion)),
            ("subresource", subresource.map(jsonString)),
        ])
    }
    var userMembers: [(String, String?)] = []
    if let user {
        userMembers = [("username", jsonString(user)), ("uid", jsonString("7d0c6a4e-58b1-4c3e-9a0f-3b2d1c0e9f8a")),
                       ("groups", jsonStrings(groups))]
    }
    var impersonated: String? = nil
    if let impersonatedUser {
        impersonated = jsonObject([("username", jsonString(impersonatedUser)), ("groups", impersonatedGroups.map(jsonStrings))])
    }
    var statusMembers: [(String, String?)] = [("metadata", "{}")]
    if responseCode >= 400 {
        statusMembers += [("status", jsonString("Failure")),
                          ("message", jsonString(responseCode == 401 ? "Authentication failed, attempted: bearer" : "request refused")),
                          ("reason", jsonString(responseCode == 401 ? "Unauthorized" : "Forbidden"))]
    }
    statusMembers.append(("code", String(responseCode)))

    var allAnnotations = annotations
    if let decision { allAnnotations["authorization.k8s.io/decision"] = decision }
    if let reason { allAnnotations["authorization.k8s.io/reason"] = reason }
    let annotationText = allAnnotations.isEmpty ? nil
        : jsonObject(allAnnotations.keys.sorted().map { ($0, jsonString(allAnnotations[$0]!)) })

    return jsonObject([
        ("kind", jsonString("Event")),
        ("apiVersion", jsonString("audit.k8s.io/v1")),
        ("level", jsonString(eventLevel)),
        ("auditID", jsonString(auditID)),
        ("stage", jsonString(stage)),
        ("requestURI", jsonString(requestURI)),
        ("verb", jsonString(verb)),
        ("user", jsonObject(userMembers)),
        ("impersonatedUser", impersonated),
        ("sourceIPs", jsonStrings(sourceIPs)),
        ("userAgent", userAgent.map(jsonString)),
        ("objectRef", objectRef),
        ("responseStatus", jsonObject(statusMembers)),
        ("requestObject", requestObject),
        ("responseObject", responseObject),
        ("requestReceivedTimestamp", jsonString("2026-03-14T09:26:53.589793Z")),
        ("stageTimestamp", jsonString("2026-03-14T09:26:53.612001Z")),
        ("annotations", annotationText),
    ])
}

/// An exec request (`kubectl exec POD -- COMMAND...`) as the API server logs it: the command is only in
/// the URI's query, one `command=` parameter per word. Logged at `ResponseStarted` with 101 Switching
/// Protocols when the stream opens (the default).
func execEvent(_ command: [String],
               pod: String = "web-7c9f8b6d5-x2x4q",
               namespace: String = "default",
               user: String = "alice@example.com",
               groups: [String] = ["system:authenticated"],
               verb: String = "create",
               stage: String = "ResponseStarted",
               code: Int? = 101,
               decision: String? = "allow",
               subresource: String = "exec") -> String {
    let query = command.map { "command=" + queryEscape($0) }.joined(separator: "&")
        + "&container=app&stdin=true&stdout=true&tty=true"
    return auditEvent(verb: verb, resource: "pods", subresource: subresource, namespace: namespace, name: pod,
                      user: user, groups: groups, stage: stage, code: code, decision: decision, query: query)
}

// MARK: - Request objects

/// A container of a pod spec.
func container(_ name: String = "app", image: String = "nginx:1.27.0", privileged: Bool? = nil,
               capabilities: [String]? = nil, command: [String]? = nil, args: [String]? = nil) -> String {
    var securityContext: String? = nil
    if privileged != nil || capabilities != nil {
        securityContext = jsonObject([
            ("privileged", privileged.map { String($0) }),
            ("capabilities", capabilities.map { jsonObject([("add", jsonStrings($0))]) }),
        ])
    }
    return jsonObject([
        ("name", jsonString(name)),
        ("image", jsonString(image)),
        ("command", command.map(jsonStrings)),
        ("args", args.map(jsonStrings)),
        ("resources", "{}"),
        ("securityContext", securityContext),
    ])
}

/// A Pod object (the request object of a pod creation, or of an ephemeral-container update).
func podObject(name: String = "web-7c9f8b6d5-x2x4q", namespace: String = "default",
               containers: [String] = [container()], initContainers: [String] = [], ephemeralContainers: [String] = [],
               hostNetwork: Bool? = nil, hostPID: Bool? = nil, hostIPC: Bool? = nil, hostPaths: [String] = [],
               serviceAccount: String? = nil, owner: (kind: String, name: String)? = nil) -> String {
    let volumes = hostPaths.enumerated().map { i, path in
        jsonObject([("name", jsonString("host-\(i)")), ("hostPath", jsonObject([("path", jsonString(path)), ("type", jsonString(""))]))])
    }
    let metadata = jsonObject([
        ("name", jsonString(name)),
        ("namespace", jsonString(namespace)),
        ("ownerReferences", owner.map { "[" + jsonObject([("apiVersion", jsonString("apps/v1")), ("kind", jsonString($0.kind)),
                                                          ("name", jsonString($0.name)), ("controller", "true")]) + "]" }),
    ])
    let spec = jsonObject([
        ("volumes", volumes.isEmpty ? nil : "[" + volumes.joined(separator: ",") + "]"),
        ("initContainers", initContainers.isEmpty ? nil : "[" + initContainers.joined(separator: ",") + "]"),
        ("containers", "[" + containers.joined(separator: ",") + "]"),
        ("ephemeralContainers", ephemeralContainers.isEmpty ? nil : "[" + ephemeralContainers.joined(separator: ",") + "]"),
        ("restartPolicy", jsonString("Always")),
        ("serviceAccountName", serviceAccount.map(jsonString)),
        ("hostNetwork", hostNetwork.map { String($0) }),
        ("hostPID", hostPID.map { String($0) }),
        ("hostIPC", hostIPC.map { String($0) }),
    ])
    return jsonObject([("kind", jsonString("Pod")), ("apiVersion", jsonString("v1")), ("metadata", metadata), ("spec", spec)])
}

/// A Role or ClusterRole object; each rule is (verbs, resources) in the core and apps groups.
func roleObject(kind: String = "ClusterRole", name: String = "ops", rules: [(verbs: [String], resources: [String])]) -> String {
    let ruleTexts = rules.map { rule in
        jsonObject([("verbs", jsonStrings(rule.verbs)), ("apiGroups", jsonStrings(["", "apps"])), ("resources", jsonStrings(rule.resources))])
    }
    return jsonObject([
        ("kind", jsonString(kind)), ("apiVersion", jsonString("rbac.authorization.k8s.io/v1")),
        ("metadata", jsonObject([("name", jsonString(name))])),
        ("rules", "[" + ruleTexts.joined(separator: ",") + "]"),
    ])
}

/// A RoleBinding or ClusterRoleBinding object; subjects are (kind, name, namespace).
func bindingObject(kind: String = "ClusterRoleBinding", name: String = "ops-binding", role: String,
                   subjects: [(kind: String, name: String, namespace: String?)]) -> String {
    let subjectTexts = subjects.map { s in
        jsonObject([
            ("kind", jsonString(s.kind)),
            ("apiGroup", s.kind == "ServiceAccount" ? nil : jsonString("rbac.authorization.k8s.io")),
            ("name", jsonString(s.name)),
            ("namespace", s.namespace.map(jsonString)),
        ])
    }
    return jsonObject([
        ("kind", jsonString(kind)), ("apiVersion", jsonString("rbac.authorization.k8s.io/v1")),
        ("metadata", jsonObject([("name", jsonString(name))])),
        ("subjects", "[" + subjectTexts.joined(separator: ",") + "]"),
        ("roleRef", jsonObject([("apiGroup", jsonString("rbac.authorization.k8s.io")), ("kind", jsonString("ClusterRole")),
                                ("name", jsonString(role))])),
    ])
}

/// A Service object.
func serviceObject(name: String = "web", type: String = "ClusterIP", nodePort: Int? = nil) -> String {
    let port = jsonObject([("protocol", jsonString("TCP")), ("port", "80"), ("targetPort", "8080"), ("nodePort", nodePort.map { String($0) })])
    return jsonObject([
        ("kind", jsonString("Service")), ("apiVersion", jsonString("v1")),
        ("metadata", jsonObject([("name", jsonString(name))])),
        ("spec", jsonObject([("ports", "[" + port + "]"), ("selector", jsonObject([("app", jsonString(name))])), ("type", jsonString(type))])),
    ])
}

// MARK: - Evaluation

/// The default ruleset, loaded once.
enum DefaultRuleSet {
    static let loaded: RuleLoadResult = RuleCompiler.load(DefaultRules.files)

    /// The compiled default ruleset (fails the calling test when it did not load).
    static func ruleSet(file: StaticString = #filePath, line: UInt = #line) -> CompiledRuleSet? {
        guard let set = loaded.ruleSet else {
            XCTFail("the default ruleset does not load:\n" + loaded.diagnostics.map(\.description).joined(separator: "\n"),
                    file: file, line: line)
            return nil
        }
        return set
    }

    /// The default ruleset followed by extra rule files (e.g. overrides that fill an allow list).
    static func load(adding extra: [RuleFile], file: StaticString = #filePath, line: UInt = #line) -> CompiledRuleSet? {
        let result = RuleCompiler.load(DefaultRules.files + extra)
        guard let set = result.ruleSet else {
            XCTFail("the default ruleset plus overrides does not load:\n" + result.diagnostics.map(\.description).joined(separator: "\n"),
                    file: file, line: line)
            return nil
        }
        return set
    }
}

/// The names of the rules of `ruleSet` (default: the default ruleset) that fire on the event `json`.
/// Also renders each fired rule's alert, failing the test if the message ends with a line break (an
/// output written as a folded `>` scalar instead of `>-`).
func firedRules(_ json: String, ruleSet: CompiledRuleSet? = nil, file: StaticString = #filePath, line: UInt = #line) -> Set<String> {
    guard let set = ruleSet ?? DefaultRuleSet.ruleSet(file: file, line: line) else { return [] }
    let bytes = Array(json.utf8)
    return bytes.withUnsafeBytes { buffer -> Set<String> in
        let tape = JSONTape()
        do {
            try tape.parse(buffer)
        } catch {
            XCTFail("test event is not valid JSON (\(error)): \(json)", file: file, line: line)
            return []
        }
        let event = AuditEvent(root: tape.root)
        let evaluator = RuleEvaluator(ruleSet: set)
        var indices: [Int] = []
        evaluator.evaluate(event) { indices.append($0) }
        var names = Set<String>()
        for index in indices {
            let alert = evaluator.render(rule: index, time: 0, auditID: "test", input: "test:1")
            if alert.message.hasSuffix("\n") || alert.message.isEmpty {
                XCTFail("rule '\(alert.rule)' renders an empty message or one ending with a line break", file: file, line: line)
            }
            names.insert(set.rules[index].name)
        }
        return names
    }
}

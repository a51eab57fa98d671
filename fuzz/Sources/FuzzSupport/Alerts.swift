// Rule evaluation and alert rendering shared by the `rules` and `render` targets.

import AuditInput
import AuditJSON
import AuditRules

/// Evaluates `ruleSet` on the JSON document `bytes` (if it parses), renders every alert in text and
/// JSON, and checks the text is terminal-safe and the JSON is valid. Returns the number of alerts.
@discardableResult
public func renderAlerts(ruleSet: CompiledRuleSet, evaluator: RuleEvaluator, event bytes: UnsafeRawBufferPointer,
                         tape: JSONTape, checkTape: JSONTape) -> Int {
    do {
        try tape.parse(bytes)
    } catch {
        return 0
    }
    let root = tape.root
    guard root.isObject else { return 0 }
    let event = AuditEvent(root: root)
    var matched: [Int] = []
    evaluator.evaluate(event) { matched.append($0) }
    for index in matched {
        let alert = evaluator.render(rule: index, time: event.time ?? 0, auditID: event.auditID?.decodedString() ?? "",
                                     input: "fuzz.log:1")
        let text = AlertFormatter.text(alert)
        check(isTerminalSafe(text), "text alert holds a raw control or bidi character: \(text.debugDescription)")
        let json = AlertFormatter.json(alert, hostname: "fuzz\u{1b}host")
        check(isValidJSON(json, tape: checkTape), "JSON alert is not valid JSON: \(json.debugDescription)")
        check(!json.contains("\n"), "JSON alert spans lines")
    }
    return matched.count
}

/// Events the `rules` target evaluates fuzzed rules on: a typical exec, a pod creation and a
/// forbidden request with hostile values.
public let sampleEvents: [String] = [
    #"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"e1","stage":"ResponseStarted","requestURI":"/api/v1/namespaces/default/pods/web/exec?command=sh&command=-c&container=app","verb":"create","user":{"username":"alice","groups":["dev","system:authenticated"]},"sourceIPs":["10.0.0.1"],"userAgent":"kubectl/v1.30","objectRef":{"resource":"pods","namespace":"default","name":"web","apiVersion":"v1","subresource":"exec"},"responseStatus":{"metadata":{},"code":101},"requestReceivedTimestamp":"2026-11-23T10:00:00.000000Z","stageTimestamp":"2026-11-23T10:00:00.100000Z","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC"}}"#,
    #"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"e2","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/prod/pods","verb":"create","user":{"username":"system:serviceaccount:prod:deployer"},"sourceIPs":["192.168.1.7","10.0.0.2"],"objectRef":{"resource":"pods","namespace":"prod","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201},"requestObject":{"kind":"Pod","metadata":{"name":"x"},"spec":{"hostNetwork":true,"volumes":[{"name":"root","hostPath":{"path":"/"}}],"containers":[{"name":"c","image":"docker.io/library/busybox:latest","securityContext":{"privileged":true}}]}},"responseObject":{"metadata":{"name":"x"}},"requestReceivedTimestamp":"2026-11-23T10:00:01Z","stageTimestamp":"2026-11-23T10:00:01.2Z"}"#,
    #"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"e3\u001b[2J","stage":"ResponseComplete","requestURI":"/api/v1/secrets?watch=1","verb":"list","user":{"username":"m\u001b]0;x\u0007\u202e\u0085al\ud800lory"},"sourceIPs":["::1"],"objectRef":{"resource":"secrets","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":403,"reason":"Forbidden"},"requestReceivedTimestamp":"2026-11-23T10:00:02Z","stageTimestamp":"2026-11-23T10:00:02Z","annotations":{"authorization.k8s.io/decision":"forbid","authorization.k8s.io/reason":"no \n policy"}}"#,
]

/// A rule whose output names every field of the registry (with arguments where needed), and rules
/// that exercise every operator; all on the `k8s_audit` source.
public func everyFieldRules(registry: FieldRegistry = .standard) -> String {
    var outputs: [String] = []
    for field in registry.all {
        switch field.argument {
        case .none:
            outputs.append("%" + field.name)
        case .optionalIndex:
            outputs.append("%" + field.name)
            outputs.append("%" + field.name + "[0]")
            outputs.append("%" + field.name + "[1]")
        case .requiredKey:
            outputs.append("%" + field.name + "[command]")
            outputs.append("%" + field.name + "[watch]")
        case .requiredPointer:
            outputs.append("%" + field.name + "[/requestObject/spec]")
            outputs.append("%" + field.name + "[/user/username]")
            outputs.append("%" + field.name + "[/sourceIPs/0]")
        }
    }
    return """
    - list: fuzz_users
      items: [alice, "system:admin", mallory]
    - macro: fuzz_any
      condition: (ka.verb exists or not ka.verb exists)
    - rule: Every Field
      desc: renders every field
      condition: fuzz_any
      output: "\(outputs.joined(separator: " | "))"
      priority: WARNING
      source: k8s_audit
      tags: [fuzz]
    - rule: Operators
      desc: every operator
      condition: >
        ka.user.name glob "*a*?*l*" or ka.uri pmatch (/api/v1, /apis) or ka.req.pod.containers.image contains busybox
        or ka.target.name icontains WEB or ka.verb in (get, list, watch) or ka.user.groups intersects (dev, ops)
        or ka.response.code >= 400 or ka.uri startswith /api or ka.useragent endswith "v1.30" or ka.user.name in (fuzz_users)
        or ka.target.namespace != default or ka.response.code < 200 or ka.uri.param[command] = sh
        or ka.target.name = val(ka.target.namespace) or ka.sourceips intersects (10.0.0.1, "::1")
        or jevt.value[/requestObject/spec/hostNetwork] = true or ka.auditid iglob "E*"
      output: op %ka.user.name %ka.sourceips %jevt.value[/requestObject/spec/volumes]
      priority: NOTICE
      tags: [fuzz]
    """
}

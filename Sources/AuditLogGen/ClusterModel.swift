// The simulated cluster: nodes, namespaces, workloads, identities. Built once per generator from
// its seed; every name and JSON fragment is precomputed into a `TextArena`, so rendering an
// event only copies bytes.

/// Kubernetes release the simulated cluster runs (user agents, image tags).
let k8sVersion = "v1.31.4"
let k8sGitCommit = "a78aa47"

struct Node {
    var name: Text
    var ip: Text
    var uid: UUID128
    var leaseUID: UUID128
    var kubelet: Identity
    var kubeProxy: Identity
}

struct AppNamespace {
    var name: Text
    /// Secret names in this namespace (`db-credentials`, `<ns>-tls`, …), 4 of them.
    var secrets: [Text]
    var configMaps: [Text]
}

struct Deployment {
    var namespace: Int
    var name: Text
    /// Image reference, e.g. `registry.example.com/shop/checkout-api:1.14.3`.
    var image: Text
    var imageRepo: String
    var port: Int
    var replicas: Int
    var uid: UUID128
    var replicaSetHash: Text
    var replicaSetUID: UUID128
    /// Indices into `ClusterModel.pods`.
    var pods: [Int]
    /// Environment variable names the containers carry.
    var envCount: Int
    var cpuMilli: Int
    var memoryMi: Int
}

struct Pod {
    var namespace: Int
    var deployment: Int
    var name: Text
    var uid: UUID128
    var node: Int
}

/// A controller identity and what it lists and watches.
struct Watcher {
    var who: Identity
    /// Indices into `ClusterModel.watchResources`.
    var resources: [Int]
}

/// A resource type that controllers list and watch.
struct WatchResource {
    /// `/api/v1/pods` or `/apis/apps/v1/replicasets` (cluster-wide collection path).
    var path: Text
    var resource: Text
    var group: Text?
    var version: Text
}

final class ClusterModel {
    let arena = TextArena()
    let nodes: [Node]
    let namespaces: [AppNamespace]
    let deployments: [Deployment]
    let pods: [Pod]
    let watchers: [Watcher]
    let watchResources: [WatchResource]
    let humans: [Identity]
    /// The humans' groups-derived kind: 0 admin, 1 developer, 2 sre.
    let humanRoles: [Int]
    let controllerManager: Identity
    let scheduler: Identity
    let ciDeployer: Identity
    let argocd: Identity
    let certManager: Identity
    let anonymousProbe: Identity
    let replicaSetController: Identity
    let endpointSliceController: Identity
    let deploymentController: Identity
    let kcmLeaseUID: UUID128
    let schedulerLeaseUID: UUID128
    /// Names of pods that no longer exist (targets of 404s).
    let gonePods: [Text]
    let clusterDomain: Text

    init(seed: UInt64) {
        var rng = SplitMix64(seed: seed ^ 0x5EED_C1A5_7E12_0001)
        let arena = self.arena
        func t(_ s: String) -> Text { arena.make(s) }

        let ua = { (component: String, os: String, suffix: String) -> String in
            "\(component)/\(k8sVersion) (\(os)) kubernetes/\(k8sGitCommit)\(suffix)"
        }
        func identity(user: String, ip: String, agent: String, reason: String) -> Identity {
            Identity(block: t("\"user\":\(user),\"sourceIPs\":[\"\(ip)\"],\"userAgent\":\"\(agent)\""),
                     reason: t(reason), name: t(Self.username(in: user)))
        }
        func uuidString(_ id: UUID128) -> String {
            let storage = ByteStorage(capacity: 64)
            var w = ByteWriter(storage)
            w.uuid(id)
            return String(decoding: w.bytes, as: UTF8.self)
        }
        func saUser(_ ns: String, _ name: String, pod: (String, String)? = nil) -> String {
            let uid = uuidString(UUID128.random(&rng))
            let jti = uuidString(UUID128.random(&rng))
            var extra = "\"authentication.kubernetes.io/credential-id\":[\"JTI=\(jti)\"]"
            if let (podName, nodeName) = pod {
                extra += ",\"authentication.kubernetes.io/node-name\":[\"\(nodeName)\"]"
                extra += ",\"authentication.kubernetes.io/node-uid\":[\"\(uuidString(UUID128.random(&rng)))\"]"
                extra += ",\"authentication.kubernetes.io/pod-name\":[\"\(podName)\"]"
                extra += ",\"authentication.kubernetes.io/pod-uid\":[\"\(uuidString(UUID128.random(&rng)))\"]"
            }
            return "{\"username\":\"system:serviceaccount:\(ns):\(name)\",\"uid\":\"\(uid)\","
                + "\"groups\":[\"system:serviceaccounts\",\"system:serviceaccounts:\(ns)\",\"system:authenticated\"],"
                + "\"extra\":{\(extra)}}"
        }
        func crbReason(_ binding: String, _ role: String, _ kind: String, _ subject: String) -> String {
            "RBAC: allowed by ClusterRoleBinding \\\"\(binding)\\\" of ClusterRole \\\"\(role)\\\" to \(kind) \\\"\(subject)\\\""
        }
        let region = "eu-west-1"
        self.clusterDomain = t("\(region).compute.internal")

        // Nodes: 24 workers in three subnets.
        var nodes: [Node] = []
        var nodeNames: [String] = []
        for i in 0..<24 {
            let a = [12, 44, 78][i % 3]
            let b = 10 + rng.below(240)
            let ip = "10.0.\(a).\(b)"
            let name = "ip-10-0-\(a)-\(b).\(region).compute.internal"
            nodeNames.append(name)
            let kubelet = identity(
                user: "{\"username\":\"system:node:\(name)\",\"groups\":[\"system:nodes\",\"system:authenticated\"]}",
                ip: ip, agent: ua("kubelet", "linux/amd64", ""), reason: "")
            let proxy = identity(
                user: saUser("kube-system", "kube-proxy", pod: ("kube-proxy-\(Self.randomSuffix(&rng, 5))", name)),
                ip: ip, agent: ua("kube-proxy", "linux/amd64", ""),
                reason: crbReason("system:node-proxier", "system:node-proxier", "ServiceAccount", "kube-proxy/kube-system"))
            nodes.append(Node(name: t(name), ip: t(ip), uid: .random(&rng), leaseUID: .random(&rng),
                              kubelet: kubelet, kubeProxy: proxy))
        }
        self.nodes = nodes

        // Application namespaces and workloads.
        let apps: [(String, [(String, String, Int)])] = [
            ("shop", [("checkout-api", "registry.example.com/shop/checkout-api:1.14.3", 8080),
                      ("cart", "registry.example.com/shop/cart:2.3.0", 8080),
                      ("catalog", "registry.example.com/shop/catalog:0.9.12", 8081)]),
            ("payments", [("payments-api", "registry.example.com/payments/payments-api:4.2.1", 8443),
                          ("ledger-worker", "registry.example.com/payments/ledger-worker:4.2.1", 9090)]),
            ("web", [("frontend", "registry.example.com/web/frontend:7.1.0", 3000),
                     ("auth-proxy", "quay.io/oauth2-proxy/oauth2-proxy:v7.6.0", 4180)]),
            ("search", [("query-api", "registry.example.com/search/query-api:3.0.4", 8080),
                        ("indexer", "registry.example.com/search/indexer:3.0.4", 8080)]),
            ("data", [("etl-runner", "registry.example.com/data/etl-runner:1.8.0", 8080),
                      ("kafka-connect", "docker.io/confluentinc/cp-kafka-connect:7.6.1", 8083)]),
            ("monitoring", [("prometheus", "quay.io/prometheus/prometheus:v2.54.1", 9090),
                            ("grafana", "docker.io/grafana/grafana:11.2.0", 3000),
                            ("alertmanager", "quay.io/prometheus/alertmanager:v0.27.0", 9093)]),
        ]
        var namespaces: [AppNamespace] = []
        var deployments: [Deployment] = []
        var pods: [Pod] = []
        for (nsIndex, (ns, workloads)) in apps.enumerated() {
            namespaces.append(AppNamespace(
                name: t(ns),
                secrets: [t("db-credentials"), t("\(ns)-tls"), t("registry-pull"), t("api-keys")],
                configMaps: [t("kube-root-ca.crt"), t("\(ns)-settings"), t("feature-flags")]))
            for (name, image, port) in workloads {
                let replicas = 2 + rng.below(3)
                let hash = Self.randomSuffix(&rng, 10)
                var podIndices: [Int] = []
                for _ in 0..<replicas {
                    podIndices.append(pods.count)
                    pods.append(Pod(namespace: nsIndex, deployment: deployments.count,
                                    name: t("\(name)-\(hash)-\(Self.randomSuffix(&rng, 5))"),
                                    uid: .random(&rng), node: rng.below(nodes.count)))
                }
                let repo = String(image[..<image.lastIndex(of: ":")!])
                deployments.append(Deployment(
                    namespace: nsIndex, name: t(name), image: t(image), imageRepo: repo, port: port,
                    replicas: replicas, uid: .random(&rng), replicaSetHash: t(hash), replicaSetUID: .random(&rng),
                    pods: podIndices, envCount: 6 + rng.below(30), cpuMilli: [100, 250, 500, 1000][rng.below(4)],
                    memoryMi: [128, 256, 512, 1024, 2048][rng.below(5)]))
            }
        }
        self.namespaces = namespaces
        self.deployments = deployments
        self.pods = pods
        self.gonePods = (0..<16).map { _ in
            let d = deployments[rng.below(deployments.count)]
            return t("\(String(decoding: UnsafeRawBufferPointer(start: d.name.start, count: d.name.count), as: UTF8.self))-\(Self.randomSuffix(&rng, 10))-\(Self.randomSuffix(&rng, 5))")
        }

        // Control plane. The controller manager and scheduler run on the control-plane hosts.
        let cpIP = "10.0.0.\(10 + rng.below(3))"
        self.controllerManager = identity(
            user: "{\"username\":\"system:kube-controller-manager\",\"groups\":[\"system:authenticated\"]}",
            ip: cpIP, agent: ua("kube-controller-manager", "linux/amd64", "/leader-election"),
            reason: crbReason("system:kube-controller-manager", "system:kube-controller-manager", "User",
                              "system:kube-controller-manager"))
        self.scheduler = identity(
            user: "{\"username\":\"system:kube-scheduler\",\"groups\":[\"system:authenticated\"]}",
            ip: cpIP, agent: ua("kube-scheduler", "linux/amd64", "/scheduler"),
            reason: crbReason("system:kube-scheduler", "system:kube-scheduler", "User", "system:kube-scheduler"))
        self.kcmLeaseUID = .random(&rng)
        self.schedulerLeaseUID = .random(&rng)
        func controller(_ name: String) -> Identity {
            identity(user: saUser("kube-system", name), ip: cpIP,
                     agent: ua("kube-controller-manager", "linux/amd64", "/system:serviceaccount:kube-system:\(name)"),
                     reason: crbReason("system:controller:\(name)", "system:controller:\(name)", "User",
                                       "system:serviceaccount:kube-system:\(name)"))
        }
        self.replicaSetController = controller("replicaset-controller")
        self.endpointSliceController = controller("endpointslice-controller")
        self.deploymentController = controller("deployment-controller")

        // What gets listed and watched.
        let resources: [(String, String, String?, String)] = [
            ("/api/v1/pods", "pods", nil, "v1"), ("/api/v1/nodes", "nodes", nil, "v1"),
            ("/api/v1/services", "services", nil, "v1"), ("/api/v1/namespaces", "namespaces", nil, "v1"),
            ("/api/v1/configmaps", "configmaps", nil, "v1"), ("/api/v1/serviceaccounts", "serviceaccounts", nil, "v1"),
            ("/api/v1/persistentvolumeclaims", "persistentvolumeclaims", nil, "v1"),
            ("/apis/apps/v1/replicasets", "replicasets", "apps", "v1"),
            ("/apis/apps/v1/deployments", "deployments", "apps", "v1"),
            ("/apis/apps/v1/daemonsets", "daemonsets", "apps", "v1"),
            ("/apis/apps/v1/statefulsets", "statefulsets", "apps", "v1"),
            ("/apis/batch/v1/jobs", "jobs", "batch", "v1"), ("/apis/batch/v1/cronjobs", "cronjobs", "batch", "v1"),
            ("/apis/discovery.k8s.io/v1/endpointslices", "endpointslices", "discovery.k8s.io", "v1"),
            ("/apis/policy/v1/poddisruptionbudgets", "poddisruptionbudgets", "policy", "v1"),
            ("/apis/storage.k8s.io/v1/storageclasses", "storageclasses", "storage.k8s.io", "v1"),
            ("/apis/rbac.authorization.k8s.io/v1/clusterroles", "clusterroles", "rbac.authorization.k8s.io", "v1"),
            ("/apis/rbac.authorization.k8s.io/v1/rolebindings", "rolebindings", "rbac.authorization.k8s.io", "v1"),
            ("/apis/networking.k8s.io/v1/ingresses", "ingresses", "networking.k8s.io", "v1"),
            ("/apis/autoscaling/v2/horizontalpodautoscalers", "horizontalpodautoscalers", "autoscaling", "v2"),
            ("/apis/cert-manager.io/v1/certificates", "certificates", "cert-manager.io", "v1"),
        ]
        self.watchResources = resources.map {
            WatchResource(path: t($0.0), resource: t($0.1), group: $0.2.map { t($0) }, version: t($0.3))
        }
        func idx(_ names: String...) -> [Int] { names.map { n in resources.firstIndex { $0.1 == n }! } }
        var watchers: [Watcher] = [
            Watcher(who: self.replicaSetController, resources: idx("replicasets", "pods")),
            Watcher(who: self.deploymentController, resources: idx("deployments", "replicasets", "pods")),
            Watcher(who: self.endpointSliceController, resources: idx("services", "pods", "endpointslices", "nodes")),
            Watcher(who: controller("daemon-set-controller"), resources: idx("daemonsets", "pods", "nodes")),
            Watcher(who: controller("statefulset-controller"), resources: idx("statefulsets", "pods", "persistentvolumeclaims")),
            Watcher(who: controller("job-controller"), resources: idx("jobs", "pods")),
            Watcher(who: controller("cronjob-controller"), resources: idx("cronjobs", "jobs")),
            Watcher(who: controller("namespace-controller"), resources: idx("namespaces")),
            Watcher(who: controller("generic-garbage-collector"), resources: idx("replicasets", "pods", "configmaps", "jobs", "endpointslices")),
            Watcher(who: controller("resourcequota-controller"), resources: idx("pods", "services", "configmaps", "persistentvolumeclaims")),
            Watcher(who: controller("horizontal-pod-autoscaler"), resources: idx("horizontalpodautoscalers")),
            Watcher(who: controller("disruption-controller"), resources: idx("poddisruptionbudgets", "pods", "deployments")),
            Watcher(who: controller("service-account-controller"), resources: idx("serviceaccounts", "namespaces")),
            Watcher(who: controller("node-controller"), resources: idx("nodes", "pods")),
            Watcher(who: controller("pvc-protection-controller"), resources: idx("persistentvolumeclaims", "pods")),
            Watcher(who: self.scheduler, resources: idx("pods", "nodes", "persistentvolumeclaims", "storageclasses", "poddisruptionbudgets")),
        ]
        let coredns = "coredns-6f6b679f8f-\(Self.randomSuffix(&rng, 5))"
        watchers.append(Watcher(
            who: identity(user: saUser("kube-system", "coredns", pod: (coredns, nodeNames[1])), ip: "10.244.1.\(2 + rng.below(200))",
                          agent: "coredns/v0.0.0 (linux/amd64) kubernetes/$Format",
                          reason: crbReason("system:coredns", "system:coredns", "ServiceAccount", "coredns/kube-system")),
            resources: idx("services", "endpointslices", "namespaces")))
        let metrics = "metrics-server-5fd8f7d6c7-\(Self.randomSuffix(&rng, 5))"
        watchers.append(Watcher(
            who: identity(user: saUser("kube-system", "metrics-server", pod: (metrics, nodeNames[2])), ip: "10.244.2.\(2 + rng.below(200))",
                          agent: "metrics-server/v0.7.2 (linux/amd64) kubernetes/$Format",
                          reason: crbReason("system:metrics-server", "system:metrics-server", "ServiceAccount",
                                            "metrics-server/kube-system")),
            resources: idx("nodes", "pods")))
        let certPod = "cert-manager-7d4b5c8f9b-\(Self.randomSuffix(&rng, 5))"
        self.certManager = identity(
            user: saUser("cert-manager", "cert-manager", pod: (certPod, nodeNames[3])), ip: "10.244.3.\(2 + rng.below(200))",
            agent: "cert-manager-controller/v1.15.3 (linux/amd64) cert-manager/1a56c5e",
            reason: crbReason("cert-manager-controller-certificates", "cert-manager-controller-certificates",
                              "ServiceAccount", "cert-manager/cert-manager"))
        watchers.append(Watcher(who: self.certManager, resources: idx("certificates", "ingresses")))
        let apiserver = identity(
            user: "{\"username\":\"system:apiserver\",\"uid\":\"\(uuidString(.random(&rng)))\",\"groups\":[\"system:authenticated\",\"system:masters\"]}",
            ip: "::1", agent: ua("kube-apiserver", "linux/amd64", ""), reason: "")
        watchers.append(Watcher(who: apiserver, resources: idx("namespaces", "services", "clusterroles", "rolebindings")))
        self.watchers = watchers

        // Continuous delivery.
        self.ciDeployer = identity(
            user: saUser("ci", "deployer"), ip: "10.0.200.\(10 + rng.below(40))",
            agent: ua("kubectl", "linux/amd64", ""),
            reason: "RBAC: allowed by RoleBinding \\\"deployer-edit/ci\\\" of ClusterRole \\\"edit\\\" to ServiceAccount \\\"deployer/ci\\\"")
        let argoPod = "argocd-application-controller-0"
        self.argocd = identity(
            user: saUser("argocd", "argocd-application-controller", pod: (argoPod, nodeNames[5])),
            ip: "10.244.5.\(2 + rng.below(200))", agent: "argocd-application-controller/v2.12.4+27d1e64 (linux/amd64) kubernetes/$Format",
            reason: crbReason("argocd-application-controller", "argocd-application-controller", "ServiceAccount",
                              "argocd-application-controller/argocd"))

        // People, on the corporate VPN.
        let people: [(String, String, String, Int)] = [
            ("alice@example.com", "platform-admins", "darwin/arm64", 0),
            ("bob@example.com", "developers", "linux/amd64", 1),
            ("carol@example.com", "sre", "darwin/arm64", 2),
            ("dave@example.com", "developers", "windows/amd64", 1),
            ("erin@example.com", "data-team", "linux/amd64", 1),
            ("frank@example.com", "developers", "darwin/arm64", 1),
        ]
        var humans: [Identity] = []
        var roles: [Int] = []
        for (name, group, os, role) in people {
            let reason: String
            switch role {
            case 0: reason = crbReason("platform-admins", "cluster-admin", "Group", group)
            case 2: reason = crbReason("sre-edit", "edit", "Group", group)
            default: reason = crbReason("\(group)-view", "view", "Group", group)
            }
            humans.append(identity(
                user: "{\"username\":\"\(name)\",\"groups\":[\"\(group)\",\"system:authenticated\"]}",
                ip: "10.8.\(rng.below(4)).\(2 + rng.below(250))",
                agent: ua("kubectl", os, ""), reason: reason))
            roles.append(role)
        }
        self.humans = humans
        self.humanRoles = roles

        self.anonymousProbe = identity(
            user: "{\"username\":\"system:anonymous\",\"groups\":[\"system:unauthenticated\"]}",
            ip: "10.0.0.\(100 + rng.below(50))", agent: "kube-probe/1.31",
            reason: crbReason("system:public-info-viewer", "system:public-info-viewer", "Group", "system:unauthenticated"))
    }

    /// The `username` value inside a user JSON object.
    static func username(in userJSON: String) -> String {
        let key = "\"username\":\""
        guard let r = userJSON.firstRange(of: key) else { return "" }
        let rest = userJSON[r.upperBound...]
        return String(rest[..<rest.firstIndex(of: "\"")!])
    }

    /// The alphabet Kubernetes uses for generated name suffixes.
    static let suffixAlphabet = Array("bcdfghjklmnpqrstvwxz2456789".utf8)

    static func randomSuffix(_ rng: inout SplitMix64, _ n: Int) -> String {
        var bytes: [UInt8] = []
        for _ in 0..<n { bytes.append(suffixAlphabet[rng.below(suffixAlphabet.count)]) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

// Benign background traffic: what a healthy 24-node cluster's API server logs all day.
//
// The simulated audit policy (it decides levels and stages):
// - `RequestReceived` is omitted for node, control-plane and kube-system identities; people and
//   CI service accounts get `RequestReceived` + `ResponseComplete` pairs with the same auditID.
// - Long-running requests (watches) log `ResponseStarted` and, minutes later, `ResponseComplete`.
// - Reads, secrets, tokens, events and non-resource URLs: `Metadata`.
// - Lease, node-status, pod-status, endpoint-slice and binding writes, configmap writes: `Request`.
// - Workload writes (pods, deployments, services) by controllers and CI: `RequestResponse`.
//
// Every template renders from a `Spec` whose `seed` drives all its choices, so the second stage
// of a request renders the same request as the first.

/// What kind of request a background event is.
enum Template: UInt8, CaseIterable {
    case nodeLease, leaderLease, nodeGet, nodeStatusPatch, podStatusPatch, podGet
    case controllerList, controllerWatch, kubeletWatch, kubeProxyWatch
    case endpointSliceUpdate, schedulerBinding, replicaSetPodCreate
    case probe, discovery, human, ci, eventCreate, certManagerSecret, tokenRequest

    /// Relative frequency (per request, not per event).
    var weight: Int {
        switch self {
        case .nodeLease: return 180
        case .leaderLease: return 80
        case .nodeGet: return 50
        case .nodeStatusPatch: return 50
        case .podStatusPatch: return 45
        case .podGet: return 50
        case .controllerList: return 40
        case .controllerWatch: return 80
        case .kubeletWatch: return 40
        case .kubeProxyWatch: return 20
        case .endpointSliceUpdate: return 40
        case .schedulerBinding: return 10
        case .replicaSetPodCreate: return 10
        case .probe: return 60
        case .discovery: return 30
        case .human: return 40
        case .ci: return 12
        case .eventCreate: return 50
        case .certManagerSecret: return 10
        case .tokenRequest: return 20
        }
    }
}

/// One request of background traffic, enough to render any of its stages.
struct Spec {
    var template: Template
    var id: UUID128
    /// `requestReceivedTimestamp`, microseconds since the epoch.
    var received: Int64
    /// Drives every choice the template makes.
    var seed: UInt64
    /// Template parameter (the watch timeout in seconds for watches).
    var param: Int
}

struct BackgroundRenderer {
    let m: ClusterModel
    /// Generator start, microseconds since the epoch.
    let start: Int64

    /// A resourceVersion that grows with time, as etcd revisions do.
    @inline(__always)
    func rv(_ t: Int64, _ r: inout SplitMix64) -> Int {
        48_213_000 + Int((t - self.start) / 1_500) + r.below(700)
    }

    func render(_ s: Spec, _ stage: Stage, _ at: Int64, _ w: inout ByteWriter) {
        switch s.template {
        case .nodeLease: self.nodeLease(s, at, &w)
        case .leaderLease: self.leaderLease(s, at, &w)
        case .nodeGet: self.nodeGet(s, at, &w)
        case .nodeStatusPatch: self.nodeStatusPatch(s, at, &w)
        case .podStatusPatch: self.podStatusPatch(s, at, &w)
        case .podGet: self.podGet(s, at, &w)
        case .controllerList: self.controllerList(s, at, &w)
        case .controllerWatch, .kubeletWatch, .kubeProxyWatch: self.watch(s, stage, at, &w)
        case .endpointSliceUpdate: self.endpointSliceUpdate(s, at, &w)
        case .schedulerBinding: self.schedulerBinding(s, at, &w)
        case .replicaSetPodCreate: self.replicaSetPodCreate(s, at, &w)
        case .probe: self.probe(s, at, &w)
        case .discovery: self.discovery(s, at, &w)
        case .human: self.human(s, stage, at, &w)
        case .ci: self.ci(s, stage, at, &w)
        case .eventCreate: self.eventCreate(s, at, &w)
        case .certManagerSecret: self.certManagerSecret(s, at, &w)
        case .tokenRequest: self.tokenRequest(s, at, &w)
        }
    }

    // MARK: Kubelets

    func nodeLease(_ s: Spec, _ at: Int64, _ w: inout ByteWriter) {
        var r = SplitMix64(seed: s.seed)
        let node = self.m.nodes[r.below(self.m.nodes.count)]
        let conflict = r.chance(0.003)
        let rv = self.rv(at, &r)
        w.head(.request, s.id, .responseComplete)
        w.put("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/")
        w.put(node.name)
        w.put("?timeout=10s")
        w.verb("update", node.kubelet)
        w.objectRef("leases", ns: Text.kubeNodeLease, name: node.name, uid: node.leaseUID,
                    group: "coordination.k8s.io", rv: rv)
        if conflict {
            w.statusFailureHead()
            w.put("Operation cannot be fulfilled on leases.coordination.k8s.io \\\"")
            w.put(node.name)
            w.put("\\\": the object has been modified; please apply your changes to the latest version and try again")
            w.statusFailureTail(reason: "Conflict", details: {
                $0.put("\"name\":\""); $0.put(node.name); $0.put("\",\"group\":\"coordination.k8s.io\",\"kind\":\"leases\"")
            }, code: 409)
        } else {
            w.status(200)
        }
        w.put(",\"requestObject\":{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":{\"name\":\"")
        w.put(node.name)
        w.put("\",\"namespace\":\"kube-node-lease\",\"uid\":\"")
        w.uuid(node.leaseUID)
        w.put("\",\"resourceVersion\":\"")
        w.int(rv)
        w.put("\",\"creationTimestamp\":\"")
        w.timestampSeconds(self.start - 86_400_000_000 * 41)
        w.put("\",\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"name\":\"")
        w.put(node.name)
        w.put("\",\"uid\":\"")
        w.uuid(node.uid)
        w.put("\"}],\"managedFields\":[{\"manager\":\"kubelet\",\"operation\":\"Update\",\"apiVersion\":\"coordination.k8s.io/v1\",\"time\":\"")
        w.timestampSeconds(at - 10_000_000)
        w.put("\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{\"f:ownerReferences\":{\".\":{},\"k:{\\\"uid\\\":\\\"")
        w.uuid(node.uid)
        w.put("\\\"}\":{}}},\"f:spec\":{\"f:holderIdentity\":{},\"f:leaseDurationSeconds\":{},\"f:renewTime\":{}}}}]},\"spec\":{\"holderIdentity\":\"")
        w.put(node.name)
        w.put("\",\"leaseDurationSeconds\":40,\"renewTime\":\"")
        w.timestamp(at - Int64(r.range(800, 9_000)))
        w.put("\"}}")
        w.times(at - Int64(r.range(900, 9_000)), at)
        w.allowAndEnd(Text.empty)
    }

    func nodeGet(_ s: Spec, _ at: Int64, _ w: inout ByteWriter) {
        var r = SplitMix64(seed: s.seed)
        let node = self.m.nodes[r.below(self.m.nodes.count)]
        w.head(.metadata, s.id, .responseComplete)
        w.put("/api/v1/nodes/")
        w.put(node.name)
        w.put("?resourceVersion=0\\u0026timeout=10s")
        w.verb("get", node.kubelet)
        w.objectRef("nodes", name: node.name)
        w.status(200)
        w.times(at - Int64(r.range(300, 3_000)), at)
        w.allowAndEnd(Text.empty)
    }

    func nodeStatusPatch(_ s: Spec, _ at: Int64, _ w: inout ByteWriter) {
        var r = SplitMix64(seed: s.seed)
        let node = self.m.nodes[r.below(self.m.nodes.count)]
        let beat = at - Int64(r.range(2_000, 40_000))
        w.head(.request, s.id, .responseComplete)
        w.put("/api/v1/nodes/")
        w.put(node.name)
        w.put("/status?timeout=10s")
        w.verb("patch", node.kubelet)
        w.objectRef("nodes", name: node.name, sub: "status")
        w.status(200)
        w.put(",\"requestObject\":{\"status\":{\"$setElementOrder/conditions\":[{\"type\":\"MemoryPressure\"},{\"type\":\"DiskPressure\"},{\"type\":\"PIDPressure\"},{\"type\":\"Ready\"}],\"conditions\":[")
        let kinds: [StaticString] = ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
        for (i, k) in kinds.enumerated() {
            if i > 0 { w.byte(UInt8(ascii: ",")) }
            w.put("{\"lastHeartbeatTime\":\"")
            w.timestampSeconds(beat)
            w.put("\",\"type\":\"")
            w.put(k)
            w.put("\"}")
        }
        w.put("]}}")
        w.times(at - Int64(r.range(1_500, 12_000)), at)
        w.allowAndEnd(Text.empty)
    }

    func podStatusPatch(_ s: Spec, _ at: Int64, _ w: inout ByteWriter) {
        var r = SplitMix64(seed: s.seed)
        let pod = self.m.pods[r.below(self.m.pods.count)]
        let node = self.m.nodes[pod.node]
        let dep = self.m.deployments[pod.deployment]
        let ns = self.m.namespaces[pod.namespace]
        let changed = at - Int64(r.range(1_000_000, 600_000_000))
        w.head(.request, s.id, .responseComplete)
        w.put("/api/v1/namespaces/")
        w.put(ns.name)
        w.put("/pods/")
        w.put(pod.name)
        w.put("/status")
        w.verb("patch", node.kubelet)
        w.objectRef("pods", ns: ns.name, name: pod.name, sub: "status")
        w.status(200)
        w.put(",\"requestObject\":{\"metadata\":{\"uid\":\"")
        w.uuid(pod.uid)
        w.put("\"},\"status\":{\"$setElementOrder/conditions\":[{\"type\":\"PodReadyToStartContainers\"},{\"type\":\"Initialized\"},{\"type\":\"Ready\"},{\"type\":\"ContainersReady\"},{\"type\":\"PodScheduled\"}],\"conditions\":[{\"lastTransitionTime\":\"")
        w.timestampSeconds(changed)
        w.put("\",\"status\":\"True\",\"type\":\"Ready\"},{\"lastTransitionTime\":\"")
        w.timestampSeconds(changed)
        w.put("\",\"status\":\"True\",\"type\":\"ContainersReady\"}],\"containerStatuses\":[{\"containerID\":\"containerd://")
        for _ in 0..<4 { w.hex(r.next(), digits: 16) }
        w.put("\",\"image\":\"")
        w.put(dep.image)
        w.put("\",\"imageID\":\"")
        w.put(dep.image)
        w.put("@sha256:")
        var digest = SplitMix64(seed: dep.uid.lo)
        for _ in 0..<4 { w.hex(digest.next(), digits: 16) }
        w.put("\",\"lastState\":{},\"name\":\"")
        w.put(dep.name)
        w.put("\",\"ready\":true,\"restartCount\":")
        w.int(r.chance(0.9) ? 0 : r.range(1, 4))
        w.put(",\"started\":true,\"state\":{\"running\":{\"startedAt\":\"")
        w.timestampSeconds(changed - 4_000_000)
        w.put("\"}}}]}}")
        w.times(at - Int64(r.range(1_500, 9_000)), at)
        w.allowAndEnd(Text.empty)
    }

    func podGet(_ s: Spec, _ at: Int64, _ w: inout ByteWriter) {
        var r = SplitMix64(seed: s.seed)
        let pod = self.m.pods[r.below(self.m.pods.count)]
        let node = self.m.nodes[pod.node]
        let ns = self.m.namespaces[pod.namespace]
        let gone = r.chance(0.02)
        let name = gone ? self.m.gonePods[r.below(self.m.gonePods.count)] : pod.name
        w.head(.metadata, s.id, .responseComplete)
        w.put("/api/v1/namespaces/")
        w.put(ns.name)
        w.put("/pods/")
        w.put(name)
        w.verb("get", node.kubelet)
        w.objectRef("pods", ns: ns.name, name: name)
        if gone {
            w.notFound("pods", name)
        } else {
            w.status(200)
        }
        w.times(at - Int64(r.range(400, 4_000)), at)
        w.allowAndEnd(Text.empty)
    }

    func tokenRequest(_ s: Spec, _ at: Int64, _ w: inout ByteWriter) {
        var r = SplitMix64(seed: s.seed)
        let pod = self.m.pods[r.below(self.m.pods.count)]
        let node = self.m.nodes[pod.node]
        let ns = self.m.namespaces[pod.namespace]
        w.head(.metadata, s.id, .responseComplete)
        w.put("/api/v1/namespaces/")
        w.put(ns.name)
        w.put("/serviceaccounts/default/token")
        w.verb("create", node.kubelet)
        w.objectRef("serviceaccounts", ns: ns.name, name: Text.defaultName, sub: "token")
        w.status(201)
        w.times(at - Int64(r.range(2_000, 15_000)), at)
        w.allowAndEnd(Text.empty)
    }

    func eventCreate(_ s: Spec, _ at: Int64, _ w: inout ByteWriter) {
        var r = SplitMix64(seed: s.seed)
        let pod = self.m.pods[r.below(self.m.pods.count)]
        let ns = self.m.namespaces[pod.namespace]
        let bySchedulerAPI = r.chance(0.3)
        let who = bySchedulerAPI ? self.m.scheduler : self.m.nodes[pod.node].kubelet
        let patch = !bySchedulerAPI && r.chance(0.4)
        w.head(.metadata, s.id, .responseComplete)
        if bySchedulerAPI {
            w.put("/apis/events.k8s.io/v1/namespaces/")
            w.put(ns.name)
            w.put("/events")
            w.verb("create", who)
            w.objectRef("events", ns: ns.name, group: "events.k8s.io")
            w.status(201)
        } else if patch {
            let eventBits = r.next()
            w.put("/api/v1/namespaces/")
            w.put(ns.name)
            w.put("/events/")
            w.put(pod.name)
            w.byte(UInt8(ascii: "."))
            w.hex(eventBits, digits: 16)
            w.verb("patch", who)
            w.put(",\"objectRef\":{\"resource\":\"events\",\"namespace\":\"")
            w.put(ns.name)
            w.put("\",\"name\":\"")
            w.put(pod.name)
            w.byte(UInt8(ascii: "."))
            w.hex(eventBits, digits: 16)
            w.put("\",\"apiVersion\":\"v1\"}")
            w.status(200)
        } else {
            w.put("/api/v1/namespaces/")
            w.put(ns.name)
            w.put("/events")
            w.verb("create", who)
            w.objectRef("events", ns: ns.name)
            w.status(201)
        }
        w.times(at - Int64(r.range(800, 6_000)), at)
        w.allowAndEnd(bySchedulerAPI ? who.reason : Text.empty)
    }

    // MARK: Control plane

    func leaderLease(_ s: Spec, _ at: Int64, _ w: inout ByteWriter) {
        var r = SplitMix64(seed: s.seed)
        let isScheduler = r.chance(0.5)
        let who = isScheduler ? self.m.scheduler : self.m.controllerManager
        let name: StaticString = isScheduler ? "kube-scheduler" : "kube-controller-manager"
        let uid = isScheduler ? self.m.schedulerLeaseUID : self.m.kcmLeaseUID
        let update = r.chance(0.5)
        let conflict = update && r.chance(0.01)
        let rv = self.rv(at, &r)
        w.head(update ? .request : .metadata, s.id, .responseComplete)
        w.put("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/")
        w.put(name)
        w.put("?timeout=5s")
        if update {
            w.verb("update", who)
            w.objectRef("leases", ns: Text.kubeSystem, name: Text(name), uid: uid, group: "coordination.k8s.io", rv: rv)
        } else {
            w.verb("get", who)
            w.objectRef("leases", ns: Text.kubeSystem, name: Text(name), group: "coordination.k8s.io")
        }
        if conflict {
            w.statusFailureHead()
            w.put("Operation cannot be fulfilled on leases.coordination.k8s.io \\\"")
            w.put(name)
            w.put("\\\": the object has been modified; please apply your changes to the latest version and try again")
            w.statusFailureTail(reason: "Conflict", details: {
                $0.put("\"name\":\""); $0.put(name); $0.put("\",\"group\":\"coordination.k8s.io\",\"kind\":\"leases\"")
            }, code: 409)
        } else {
            w.status(200)
        }
        if update {
            w.put(",\"requestObject\":{\"kind\":\"Lease\",\"apiVersion\":\"coordination.k8s.io/v1\",\"metadata\":{\"name\":\"")
            w.put(name)
            w.put("\",\"namespace\":\"kube-system\",\"uid\":\"")
            w.uuid(uid)
            w.put("\",\"resourceVersion\":\"")
            w.int(rv)
            w.put("\",\"creationTimestamp\":\"")
            w.timestampSeconds(self.start - 86_400_000_000 * 97)
            w.put("\"},\"spec\":{\"holderIdentity\":\"ip-10-0-0-11.")
            w.put(self.m.clusterDomain)
            w.byte(UInt8(ascii: "_"))
            w.uuid(UUID128(hi: uid.lo | 0x4000, lo: uid.hi | 0x8000_0000_0000_0000))
            w.put("\",\"leaseDurationSeconds\":15,\"acquireTime\":\"")
            w.timestamp(self.start - 86_400_000_000 * 3 + 417_233)
            w.put("\",\"renewTime\":\"")
            w.timestamp(at - Int64(r.range(500, 4_000)))
            w.put("\",\"leaseTransitions\":")
            w.int(isScheduler ? 4 : 7)
            w.put("}}")
        }
        w.times(at - Int64(r.range(600, 5_000)), at)
        w.allowAndEnd(who.reason)
    }

    func controllerList(_ s: Spec, _ at: Int64, _ w: inout ByteWriter) {
        var r = SplitMix64(seed: s.seed)
        let watcher = self.m.watchers[r.below(self.m.watchers.count)]
        let res = self.m.watchResources[watcher.resources[r.below(watcher.resources.count)]]
        w.head(.metadata, s.id, .responseComplete)
        w.put(res.path)
        w.put("?limit=500\\u0026resourceVersion=0")
        w.verb("list", watcher.who)
        w.watchRef(res)
        w.status(200)
        w.times(at - Int64(r.range(2_000, 90_000)), at)
        w.allowAndEnd(watcher.who.reason)
    }

    /// Watches: `ResponseStarted` when the stream opens, `ResponseComplete` when it times out.
    func watch(_ s: Spec, _ stage: Stage, _ at: Int64, _ w: inout ByteWriter) {
        var r = SplitMix64(seed: s.seed)
        let timeout = s.param
        let rv = self.rv(s.received, &r)
        w.head(.metadata, s.id, stage)
        let who: Identity
        switch s.template {
        case .kubeletWatch:
            let nodeIndex = r.below(self.m.nodes.count)
            who = self.m.nodes[nodeIndex].kubelet
            // A node's pods use configmaps everywhere but secrets from two namespaces only.
            let secret = r.chance(0.3)
            let ns = self.m.namespaces[(nodeIndex + (secret ? r.below(2) : r.below(self.m.namespaces.count))) % self.m.namespaces.count]
            let name = secret ? ns.secrets[r.chance(0.5) ? 0 : 2] : ns.configMaps[r.below(ns.configMaps.count)]
            w.put("/api/v1/namespaces/")
            w.put(ns.name)
            w.put(secret ? "/secrets" : "/configmaps")
            w.put("?allowWatchBookmarks=true\\u0026fieldSelector=metadata.name%3D")
            w.put(name)
            w.put("\\u0026resourceVersion=")
            w.int(rv)
            w.put("\\u0026timeout=")
            w.minutesSeconds(timeout)
            w.put("\\u0026timeoutSeconds=")
            w.int(timeout)
            w.put("\\u0026watch=true")
            w.verb("watch", who)
            w.objectRef(secret ? "secrets" : "configmaps", ns: ns.name)
        case .kubeProxyWatch:
            who = self.m.nodes[r.below(self.m.nodes.count)].kubeProxy
            let slices = r.chance(0.5)
            w.put(slices ? "/apis/discovery.k8s.io/v1/endpointslices" : "/api/v1/services")
            w.put("?allowWatchBookmarks=true\\u0026labelSelector=%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name\\u0026resourceVersion=")
            w.int(rv)
            w.put("\\u0026timeout=")
            w.minutesSeconds(timeout)
            w.put("\\u0026timeoutSeconds=")
            w.int(timeout)
            w.put("\\u0026watch=true")
            w.verb("watch", who)
            if slices {
                w.objectRef("endpointslices", group: "discovery.k8s.io")
            } else {
                w.objectRef("services")
            }
        default:
            let watcher = self.m.watchers[r.below(self.m.watchers.count)]
            who = watcher.who
            let res = self.m.watchResources[watcher.resources[r.below(watcher.resources.count)]]
            w.put(res.path)
            w.put("?allowWatchBookmarks=true\\u0026resourceVersion=")
            w.int(rv)
            w.put("\\u0026timeout=")
            w.minutesSeconds(timeout)
            w.put("\\u0026timeoutSeconds=")
            w.int(timeout)
            w.put("\\u0026watch=true")
            w.verb("watch", who)
            w.watchRef(res)
        }
        w.status(200)
        w.times(s.received, at)
        w.allowAndEnd(who.reason)
    }

    func endpointSliceUpdate(_ s: Spec, _ at: Int64, _ w: inout ByteWriter) {
        var r = SplitMix64(seed: s.seed)
        let depIndex = r.below(self.m.deployments.count)
        let dep = self.m.deployments[depIndex]
        let ns = self.m.namespaces[dep.namespace]
        let who = self.m.endpointSliceController
        let rv = self.rv(at, &r)
        let sliceUID = UUID128(hi: dep.uid.hi ^ 0x1111_0000, lo: dep.uid.lo ^ 0x2222)
        let svcUID = UUID128(hi: dep.uid.hi ^ 0x3333_0000, lo: dep.uid.lo ^ 0x4444)
        w.head(.request, s.id, .responseComplete)
        w.put("/apis/discovery.k8s.io/v1/namespaces/")
        w.put(ns.name)
        w.put("/endpointslices/")
        w.put(dep.name)
        w.byte(UInt8(ascii: "-"))
        w.suffix(dep.uid.lo, 5)
        w.verb("update", who)
        w.put(",\"objectRef\":{\"resource\":\"endpointslices\",\"namespace\":\"")
        w.put(ns.name)
        w.put("\",\"name\":\"")
        w.put(dep.name)
        w.byte(UInt8(ascii: "-"))
        w.suffix(dep.uid.lo, 5)
        w.put("\",\"uid\":\"")
        w.uuid(sliceUID)
        w.put("\",\"apiGroup\":\"discovery.k8s.io\",\"apiVersion\":\"v1\",\"resourceVersion\":\"")
        w.int(rv)
        w.put("\"}")
        w.status(200)
        w.put(",\"requestObject\":{\"kind\":\"EndpointSlice\",\"apiVersion\":\"discovery.k8s.io/v1\",\"metadata\":{\"name\":\"")
        w.put(dep.name)
        w.byte(UInt8(ascii: "-"))
        w.suffix(dep.uid.lo, 5)
        w.put("\",\"generateName\":\"")
        w.put(dep.name)
        w.put("-\",\"namespace\":\"")
        w.put(ns.name)
        w.put("\",\"uid\":\"")
        w.uuid(sliceUID)
        w.put("\",\"resourceVersion\":\"")
        w.int(rv)
        w.put("\",\"generation\":")
        w.int(100 + Int((at - self.start) / 60_000_000))
        w.put(",\"creationTimestamp\":\"")
        w.timestampSeconds(self.start - 86_400_000_000 * 12)
        w.put("\",\"labels\":{\"app.kubernetes.io/name\":\"")
        w.put(dep.name)
        w.put("\",\"endpointslice.kubernetes.io/managed-by\":\"endpointslice-controller.k8s.io\",\"kubernetes.io/service-name\":\"")
        w.put(dep.name)
        w.put("\"},\"annotations\":{\"endpoints.kubernetes.io/last-change-trigger-time\":\"")
        w.timestampSeconds(at - Int64(r.range(1_000_000, 30_000_000)))
        w.put("\"},\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"name\":\"")
        w.put(dep.name)
        w.put("\",\"uid\":\"")
        w.uuid(svcUID)
        w.put("\",\"controller\":true,\"blockOwnerDeletion\":true}]},\"addressType\":\"IPv4\",\"endpoints\":[")
        for (i, podIndex) in dep.pods.enumerated() {
            let pod = self.m.pods[podIndex]
            if i > 0 { w.byte(UInt8(ascii: ",")) }
            w.put("{\"addresses\":[\"10.244.")
            w.int(pod.node)
            w.byte(UInt8(ascii: "."))
            w.int(2 + podIndex % 250)
            w.put("\"],\"conditions\":{\"ready\":")
            let ready = r.chance(0.97)
            w.put(ready ? "true" : "false")
            w.put(",\"serving\":")
            w.put(ready ? "true" : "false")
            w.put(",\"terminating\":false},\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"")
            w.put(ns.name)
            w.put("\",\"name\":\"")
            w.put(pod.name)
            w.put("\",\"uid\":\"")
            w.uuid(pod.uid)
            w.put("\"},\"nodeName\":\"")
            w.put(self.m.nodes[pod.node].name)
            w.put("\",\"zone\":\"eu-west-1")
            w.byte(UInt8(ascii: "a") + UInt8(pod.node % 3))
            w.put("\"}")
        }
        w.put("],\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":")
        w.int(dep.port)
        w.put("}]}")
        w.times(at - Int64(r.range(1_500, 15_000)), at)
        w.allowAndEnd(who.reason)
    }

    func schedulerBinding(_ s: Spec, _ at: Int64, _ w: inout ByteWriter) {
        var r = SplitMix64(seed: s.seed)
        let dep = self.m.deployments[r.below(self.m.deployments.count)]
        let ns = self.m.namespaces[dep.namespace]
        let node = self.m.nodes[r.below(self.m.nodes.count)]
        let podSuffix = r.next()
        let podUID = UUID128.random(&r)
        w.head(.request, s.id, .responseComplete)
        w.put("/api/v1/namespaces/")
        w.put(ns.name)
        w.put("/pods/")
        w.podName(dep, podSuffix)
        w.put("/binding")
        w.verb("create", self.m.scheduler)
        w.put(",\"objectRef\":{\"resource\":\"pods\",\"namespace\":\"")
        w.put(ns.name)
        w.put("\",\"name\":\"")
        w.podName(dep, podSuffix)
        w.put("\",\"uid\":\"")
        w.uuid(podUID)
        w.put("\",\"apiVersion\":\"v1\",\"subresource\":\"binding\"}")
        w.status(201)
        w.put(",\"requestObject\":{\"kind\":\"Binding\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"")
        w.podName(dep, podSuffix)
        w.put("\",\"namespace\":\"")
        w.put(ns.name)
        w.put("\",\"uid\":\"")
        w.uuid(podUID)
        w.put("\",\"creationTimestamp\":null},\"target\":{\"kind\":\"Node\",\"name\":\"")
        w.put(node.name)
        w.put("\"}}")
        w.times(at - Int64(r.range(2_000, 20_000)), at)
        w.allowAndEnd(self.m.scheduler.reason)
    }

    func replicaSetPodCreate(_ s: Spec, _ at: Int64, _ w: inout ByteWriter) {
        var r = SplitMix64(seed: s.seed)
        let dep = self.m.deployments[r.below(self.m.deployments.count)]
        let ns = self.m.namespaces[dep.namespace]
        let who = self.m.replicaSetController
        let podSuffix = r.next()
        let podUID = UUID128.random(&r)
        let rv = self.rv(at, &r)
        let received = at - Int64(r.range(5_000, 40_000))
        w.head(.requestResponse, s.id, .responseComplete)
        w.put("/api/v1/namespaces/")
        w.put(ns.name)
        w.put("/pods")
        w.verb("create", who)
        w.objectRef("pods", ns: ns.name)
        w.status(201)
        w.put(",\"requestObject\":")
        w.pod(dep, ns, suffix: podSuffix, created: nil, response: nil, model: self.m)
        w.put(",\"responseObject\":")
        w.pod(dep, ns, suffix: podSuffix, created: received, response: (podUID, rv), model: self.m)
        w.times(received, at)
        w.allowPodAndEnd(who.reason, policy: "baseline:latest")
    }

    func probe(_ s: Spec, _ at: Int64, _ w: inout ByteWriter) {
        var r = SplitMix64(seed: s.seed)
        w.head(.metadata, s.id, .responseComplete)
        switch r.below(3) {
        case 0: w.put("/healthz")
        case 1: w.put("/livez")
        default: w.put("/readyz")
        }
        w.verb("get", self.m.anonymousProbe)
        w.status(200)
        w.times(at - Int64(r.range(100, 1_500)), at)
        w.allowAndEnd(self.m.anonymousProbe.reason)
    }

    func discovery(_ s: Spec, _ at: Int64, _ w: inout ByteWriter) {
        var r = SplitMix64(seed: s.seed)
        let who: Identity
        if r.chance(0.3) {
            who = self.m.humans[r.below(self.m.humans.count)]
        } else {
            who = self.m.watchers[r.below(self.m.watchers.count)].who
        }
        w.head(.metadata, s.id, .responseComplete)
        switch r.below(4) {
        case 0: w.put("/api?timeout=32s")
        case 1: w.put("/apis?timeout=32s")
        case 2: w.put("/version?timeout=32s")
        default: w.put("/openapi/v3?timeout=32s")
        }
        w.verb("get", who)
        w.status(200)
        w.times(at - Int64(r.range(200, 2_500)), at)
        w.allowAndEnd(Text.discoveryReason)
    }

    func certManagerSecret(_ s: Spec, _ at: Int64, _ w: inout ByteWriter) {
        var r = SplitMix64(seed: s.seed)
        // cert-manager owns the TLS secrets of three namespaces only.
        let ns = self.m.namespaces[[0, 1, 2][r.below(3)]]
        let who = self.m.certManager
        w.head(.metadata, s.id, .responseComplete)
        w.put("/api/v1/namespaces/")
        w.put(ns.name)
        w.put("/secrets/")
        w.put(ns.secrets[1])
        w.verb("get", who)
        w.objectRef("secrets", ns: ns.name, name: ns.secrets[1])
        w.status(200)
        w.times(at - Int64(r.range(500, 5_000)), at)
        w.allowAndEnd(who.reason)
    }

    // MARK: People

    /// kubectl get/describe/logs by a person, with `RequestReceived` + `ResponseComplete`.
    func human(_ s: Spec, _ stage: Stage, _ at: Int64, _ w: inout ByteWriter) {
        var r = SplitMix64(seed: s.seed)
        let hi = r.below(self.m.humans.count)
        let who = self.m.humans[hi]
        let role = self.m.humanRoles[hi]
        let dep = self.m.deployments[r.below(self.m.deployments.count)]
        let ns = self.m.namespaces[dep.namespace]
        let pod = self.m.pods[dep.pods[r.below(dep.pods.count)]]
        var action = r.below(1000)
        // Only people with edit rights read secrets; only developers get the odd 403.
        if action >= 985 && action < 995 && role == 1 { action = 100 }
        if action >= 995 && role != 1 { action = 10 }
        let done = stage == .responseComplete
        w.head(.metadata, s.id, stage)
        var failure = 0
        var gone = Text.empty
        switch action {
        case 0..<250:
            w.put("/api/v1/namespaces/")
            w.put(ns.name)
            w.put("/pods?limit=500")
            w.verb("list", who)
            w.objectRef("pods", ns: ns.name)
        case 250..<450:
            let isGone = r.chance(0.04)
            gone = isGone ? self.m.gonePods[r.below(self.m.gonePods.count)] : pod.name
            failure = isGone ? 404 : 0
            w.put("/api/v1/namespaces/")
            w.put(ns.name)
            w.put("/pods/")
            w.put(gone)
            w.verb("get", who)
            w.objectRef("pods", ns: ns.name, name: gone)
        case 450..<600:
            w.put("/apis/apps/v1/namespaces/")
            w.put(ns.name)
            w.put("/deployments?limit=500")
            w.verb("list", who)
            w.objectRef("deployments", ns: ns.name, group: "apps")
        case 600..<700:
            w.put("/apis/apps/v1/namespaces/")
            w.put(ns.name)
            w.put("/deployments/")
            w.put(dep.name)
            w.verb("get", who)
            w.objectRef("deployments", ns: ns.name, name: dep.name, group: "apps")
        case 700..<800:
            // kubectl describe pod: the events of the pod.
            w.put("/api/v1/namespaces/")
            w.put(ns.name)
            w.put("/events?fieldSelector=involvedObject.name%3D")
            w.put(pod.name)
            w.put("%2CinvolvedObject.namespace%3D")
            w.put(ns.name)
            w.put("%2CinvolvedObject.uid%3D")
            w.uuid(pod.uid)
            w.put("\\u0026limit=500")
            w.verb("list", who)
            w.objectRef("events", ns: ns.name)
        case 800..<920:
            w.put("/api/v1/namespaces/")
            w.put(ns.name)
            w.put("/pods/")
            w.put(pod.name)
            w.put("/log?container=")
            w.put(dep.name)
            w.put("\\u0026tailLines=")
            w.int([20, 100, 200, 500][r.below(4)])
            w.verb("get", who)
            w.objectRef("pods", ns: ns.name, name: pod.name, sub: "log")
        case 920..<985:
            w.put("/api/v1/namespaces/")
            w.put(ns.name)
            w.put("/services?limit=500")
            w.verb("list", who)
            w.objectRef("services", ns: ns.name)
        case 985..<995:
            let secret = ns.secrets[[0, 2][r.below(2)]]
            w.put("/api/v1/namespaces/")
            w.put(ns.name)
            w.put("/secrets/")
            w.put(secret)
            w.verb("get", who)
            w.objectRef("secrets", ns: ns.name, name: secret)
        default:
            failure = 403
            w.put("/api/v1/nodes?limit=500")
            w.verb("list", who)
            w.objectRef("nodes")
        }
        if !done {
            w.times(s.received, at)
            w.end()
            return
        }
        switch failure {
        case 404:
            w.notFound("pods", gone)
        case 403:
            w.statusFailureHead()
            w.put("nodes is forbidden: User \\\"")
            w.put(who.name)
            w.put("\\\" cannot list resource \\\"nodes\\\" in API group \\\"\\\" at the cluster scope")
            w.statusFailureTail(reason: "Forbidden", details: { $0.put("\"kind\":\"nodes\"") }, code: 403)
        default:
            w.status(200)
        }
        w.times(s.received, at)
        if failure == 403 { w.forbidAndEnd() } else { w.allowAndEnd(who.reason) }
    }

    // MARK: Continuous delivery

    /// Deployments by CI: image bumps, new deployments, configmaps, ClusterIP services.
    func ci(_ s: Spec, _ stage: Stage, _ at: Int64, _ w: inout ByteWriter) {
        var r = SplitMix64(seed: s.seed)
        let who = r.chance(0.5) ? self.m.ciDeployer : self.m.argocd
        let dep = self.m.deployments[r.below(self.m.deployments.count)]
        let ns = self.m.namespaces[dep.namespace]
        let action = r.below(100)
        let done = stage == .responseComplete
        let rv = self.rv(at, &r)
        let conflict = r.chance(0.15)
        let build = r.range(100, 999)
        switch action {
        case 0..<40:
            // Image bump.
            w.head(.requestResponse, s.id, stage)
            w.put("/apis/apps/v1/namespaces/")
            w.put(ns.name)
            w.put("/deployments/")
            w.put(dep.name)
            w.put("?fieldManager=kubectl-client-side-apply\\u0026fieldValidation=Strict")
            w.verb("patch", who)
            w.objectRef("deployments", ns: ns.name, name: dep.name, group: "apps")
            if !done { break }
            w.status(200)
            w.put(",\"requestObject\":{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"kubectl.kubernetes.io/restartedAt\":\"")
            w.timestampSeconds(s.received)
            w.put("\"}},\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"")
            w.put(dep.name)
            w.put("\"}],\"containers\":[{\"image\":\"")
            w.put(dep.image)
            w.put("-b")
            w.int(build)
            w.put("\",\"name\":\"")
            w.put(dep.name)
            w.put("\"}]}}}}")
            w.put(",\"responseObject\":")
            w.deployment(dep, ns, uid: dep.uid, rv: rv, created: self.start - 86_400_000_000 * 30,
                         managedAt: s.received, build: build, model: self.m)
        case 40..<55:
            w.head(.requestResponse, s.id, stage)
            w.put("/apis/apps/v1/namespaces/")
            w.put(ns.name)
            w.put("/deployments?fieldManager=kubectl-client-side-apply\\u0026fieldValidation=Strict")
            w.verb("create", who)
            w.objectRef("deployments", ns: ns.name, name: dep.name, group: "apps")
            if !done { break }
            if conflict {
                w.alreadyExists("deployments", "apps", dep.name)
            } else {
                w.status(201)
            }
            w.put(",\"requestObject\":")
            w.deployment(dep, ns, uid: nil, rv: nil, created: nil, managedAt: nil, build: build, model: self.m)
            if !conflict {
                w.put(",\"responseObject\":")
                w.deployment(dep, ns, uid: UUID128.random(&r), rv: rv, created: s.received, managedAt: s.received,
                             build: build, model: self.m)
            }
        case 55..<80:
            let update = r.chance(0.6)
            w.head(.request, s.id, stage)
            w.put("/api/v1/namespaces/")
            w.put(ns.name)
            w.put("/configmaps")
            if update {
                w.byte(UInt8(ascii: "/"))
                w.put(dep.name)
                w.put("-config")
            }
            w.put("?fieldManager=kubectl-client-side-apply\\u0026fieldValidation=Strict")
            w.verb(update ? "update" : "create", who)
            w.put(",\"objectRef\":{\"resource\":\"configmaps\",\"namespace\":\"")
            w.put(ns.name)
            w.put("\",\"name\":\"")
            w.put(dep.name)
            w.put("-config\",\"apiVersion\":\"v1\"}")
            if !done { break }
            if conflict && !update {
                w.alreadyExistsConfigMap(dep.name)
            } else {
                w.status(update ? 200 : 201)
            }
            w.put(",\"requestObject\":")
            w.configMap(dep, ns, rv: update ? rv : nil, &r)
        default:
            w.head(.requestResponse, s.id, stage)
            w.put("/api/v1/namespaces/")
            w.put(ns.name)
            w.put("/services?fieldManager=kubectl-client-side-apply\\u0026fieldValidation=Strict")
            w.verb("create", who)
            w.objectRef("services", ns: ns.name, name: dep.name)
            if !done { break }
            if conflict {
                w.alreadyExists("services", nil, dep.name)
            } else {
                w.status(201)
            }
            w.put(",\"requestObject\":")
            w.service(dep, ns, clusterIP: nil, uid: nil, rv: nil, created: nil)
            if !conflict {
                w.put(",\"responseObject\":")
                w.service(dep, ns, clusterIP: UInt32(r.below(65_000)), uid: UUID128.random(&r), rv: rv,
                          created: s.received)
            }
        }
        w.times(s.received, at)
        if done {
            w.allowAndEnd(who.reason)
        } else {
            w.end()
        }
    }
}

// MARK: - Fragments

extension Text: @unchecked Sendable {}

extension Text {
    static let empty = Text(start: UnsafePointer(bitPattern: 1)!, count: 0)
    static let kubeSystem = Text("kube-system")
    static let kubeNodeLease = Text("kube-node-lease")
    static let defaultName = Text("default")
    static let discoveryReason = Text(
        "RBAC: allowed by ClusterRoleBinding \\\"system:discovery\\\" of ClusterRole \\\"system:discovery\\\" to Group \\\"system:authenticated\\\"")

    /// A view of a static literal.
    init(_ s: StaticString) {
        self.init(start: s.utf8Start, count: s.utf8CodeUnitCount)
    }
}

extension ByteWriter {
    /// `objectRef` of a cluster-wide list or watch.
    mutating func watchRef(_ res: WatchResource) {
        self.put(",\"objectRef\":{\"resource\":\"")
        self.put(res.resource)
        if let g = res.group {
            self.put("\",\"apiGroup\":\"")
            self.put(g)
        }
        self.put("\",\"apiVersion\":\"")
        self.put(res.version)
        self.put("\"}")
    }

    /// Five (or `n`) characters of a generated-name suffix, from `bits`.
    mutating func suffix(_ bits: UInt64, _ n: Int) {
        var x = bits
        for _ in 0..<n {
            self.byte(ClusterModel.suffixAlphabet[Int(x % 27)])
            x /= 27
        }
    }

    /// `<deployment>-<replicaset hash>-<5 chars>`.
    mutating func podName(_ dep: Deployment, _ bits: UInt64) {
        self.put(dep.name)
        self.byte(UInt8(ascii: "-"))
        self.put(dep.replicaSetHash)
        self.byte(UInt8(ascii: "-"))
        self.suffix(bits, 5)
    }

    mutating func notFound(_ resource: StaticString, _ name: Text) {
        self.statusFailureHead()
        self.put(resource)
        self.put(" \\\"")
        self.put(name)
        self.put("\\\" not found")
        self.statusFailureTail(reason: "NotFound", details: {
            $0.put("\"name\":\""); $0.put(name); $0.put("\",\"kind\":\""); $0.put(resource); $0.put("\"")
        }, code: 404)
    }

    mutating func alreadyExists(_ resource: StaticString, _ group: StaticString?, _ name: Text) {
        self.statusFailureHead()
        self.put(resource)
        if let group {
            self.byte(UInt8(ascii: "."))
            self.put(group)
        }
        self.put(" \\\"")
        self.put(name)
        self.put("\\\" already exists")
        self.statusFailureTail(reason: "AlreadyExists", details: {
            $0.put("\"name\":\""); $0.put(name)
            if let group { $0.put("\",\"group\":\""); $0.put(group) }
            $0.put("\",\"kind\":\""); $0.put(resource); $0.put("\"")
        }, code: 409)
    }

    mutating func alreadyExistsConfigMap(_ deployment: Text) {
        self.statusFailureHead()
        self.put("configmaps \\\"")
        self.put(deployment)
        self.put("-config\\\" already exists")
        self.statusFailureTail(reason: "AlreadyExists", details: {
            $0.put("\"name\":\""); $0.put(deployment); $0.put("-config\",\"kind\":\"configmaps\"")
        }, code: 409)
    }

    /// `"labels":{"app.kubernetes.io/name":…,"app.kubernetes.io/part-of":…}`.
    mutating func appLabels(_ dep: Deployment, _ ns: AppNamespace) {
        self.put("\"labels\":{\"app.kubernetes.io/name\":\"")
        self.put(dep.name)
        self.put("\",\"app.kubernetes.io/part-of\":\"")
        self.put(ns.name)
        self.put("\"}")
    }

    /// One application container. Sizes vary with the deployment's env count.
    mutating func container(_ dep: Deployment, build: Int?, tokenSuffix: UInt64?) {
        self.put("{\"name\":\"")
        self.put(dep.name)
        self.put("\",\"image\":\"")
        self.put(dep.image)
        if let build {
            self.put("-b")
            self.int(build)
        }
        self.put("\",\"ports\":[{\"name\":\"http\",\"containerPort\":")
        self.int(dep.port)
        self.put(",\"protocol\":\"TCP\"}],\"env\":[")
        for i in 0..<dep.envCount {
            if i > 0 { self.byte(UInt8(ascii: ",")) }
            let (name, value) = envTable[i % envTable.count]
            self.put("{\"name\":\"")
            self.put(name)
            if i >= envTable.count {
                self.byte(UInt8(ascii: "_"))
                self.int(i / envTable.count)
            }
            if i % 9 == 8 {
                self.put("\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"db-credentials\",\"key\":\"")
                self.put(value)
                self.put("\"}}}")
            } else if i % 7 == 6 {
                self.put("\",\"valueFrom\":{\"fieldRef\":{\"apiVersion\":\"v1\",\"fieldPath\":\"")
                self.put(value)
                self.put("\"}}}")
            } else {
                self.put("\",\"value\":\"")
                self.put(value)
                self.put("\"}")
            }
        }
        self.put("],\"resources\":{\"limits\":{\"cpu\":\"")
        self.int(dep.cpuMilli * 2)
        self.put("m\",\"memory\":\"")
        self.int(dep.memoryMi)
        self.put("Mi\"},\"requests\":{\"cpu\":\"")
        self.int(dep.cpuMilli)
        self.put("m\",\"memory\":\"")
        self.int(dep.memoryMi / 2)
        self.put("Mi\"}},\"volumeMounts\":[{\"name\":\"tmp\",\"mountPath\":\"/tmp\"}")
        if let tokenSuffix {
            self.put(",{\"name\":\"kube-api-access-")
            self.suffix(tokenSuffix, 5)
            self.put("\",\"readOnly\":true,\"mountPath\":\"/var/run/secrets/kubernetes.io/serviceaccount\"}")
        }
        self.put("],\"livenessProbe\":{\"httpGet\":{\"path\":\"/healthz\",\"port\":")
        self.int(dep.port)
        self.put(",\"scheme\":\"HTTP\"},\"initialDelaySeconds\":10,\"timeoutSeconds\":1,\"periodSeconds\":10,\"successThreshold\":1,\"failureThreshold\":3},\"readinessProbe\":{\"httpGet\":{\"path\":\"/ready\",\"port\":")
        self.int(dep.port)
        self.put(",\"scheme\":\"HTTP\"},\"timeoutSeconds\":1,\"periodSeconds\":5,\"successThreshold\":1,\"failureThreshold\":3},\"terminationMessagePath\":\"/dev/termination-log\",\"terminationMessagePolicy\":\"File\",\"imagePullPolicy\":\"IfNotPresent\",\"securityContext\":{\"capabilities\":{\"drop\":[\"ALL\"]},\"runAsNonRoot\":true,\"readOnlyRootFilesystem\":true,\"allowPrivilegeEscalation\":false}}")
    }

    /// A Pod spec body (`{"volumes":…,"containers":…,…}`).
    mutating func podSpec(_ dep: Deployment, tokenSuffix: UInt64?, build: Int?, node: Text?) {
        self.put("{\"volumes\":[{\"name\":\"tmp\",\"emptyDir\":{}}")
        if let tokenSuffix {
            self.put(",{\"name\":\"kube-api-access-")
            self.suffix(tokenSuffix, 5)
            self.put("\",\"projected\":{\"sources\":[{\"serviceAccountToken\":{\"expirationSeconds\":3607,\"path\":\"token\"}},{\"configMap\":{\"name\":\"kube-root-ca.crt\",\"items\":[{\"key\":\"ca.crt\",\"path\":\"ca.crt\"}]}},{\"downwardAPI\":{\"items\":[{\"path\":\"namespace\",\"fieldRef\":{\"apiVersion\":\"v1\",\"fieldPath\":\"metadata.namespace\"}}]}}],\"defaultMode\":420}}")
        }
        self.put("],\"containers\":[")
        self.container(dep, build: build, tokenSuffix: tokenSuffix)
        self.put("],\"restartPolicy\":\"Always\",\"terminationGracePeriodSeconds\":30,\"dnsPolicy\":\"ClusterFirst\",\"serviceAccountName\":\"default\",\"serviceAccount\":\"default\"")
        if let node {
            self.put(",\"nodeName\":\"")
            self.put(node)
            self.byte(UInt8(ascii: "\""))
        }
        self.put(",\"securityContext\":{\"runAsUser\":10001,\"runAsGroup\":10001,\"fsGroup\":10001,\"seccompProfile\":{\"type\":\"RuntimeDefault\"}},\"schedulerName\":\"default-scheduler\",\"tolerations\":[{\"key\":\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300},{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300}],\"priority\":0,\"enableServiceLinks\":true,\"preemptionPolicy\":\"PreemptLowerPriority\"}")
    }

    /// A Pod as the replicaset controller sends it (`response == nil`) or as the API server
    /// returns it (uid, resourceVersion, timestamps, managed fields, status).
    mutating func pod(_ dep: Deployment, _ ns: AppNamespace, suffix bits: UInt64, created: Int64?,
                      response: (UUID128, Int)?, model: ClusterModel) {
        self.put("{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{")
        if let (uid, rv) = response {
            self.put("\"name\":\"")
            self.podName(dep, bits)
            self.put("\",\"generateName\":\"")
            self.put(dep.name)
            self.byte(UInt8(ascii: "-"))
            self.put(dep.replicaSetHash)
            self.put("-\",\"namespace\":\"")
            self.put(ns.name)
            self.put("\",\"uid\":\"")
            self.uuid(uid)
            self.put("\",\"resourceVersion\":\"")
            self.int(rv)
            self.put("\",\"creationTimestamp\":\"")
            self.timestampSeconds(created ?? 0)
            self.put("\",")
        } else {
            self.put("\"generateName\":\"")
            self.put(dep.name)
            self.byte(UInt8(ascii: "-"))
            self.put(dep.replicaSetHash)
            self.put("-\",\"namespace\":\"")
            self.put(ns.name)
            self.put("\",\"creationTimestamp\":null,")
        }
        self.put("\"labels\":{\"app.kubernetes.io/name\":\"")
        self.put(dep.name)
        self.put("\",\"app.kubernetes.io/part-of\":\"")
        self.put(ns.name)
        self.put("\",\"pod-template-hash\":\"")
        self.put(dep.replicaSetHash)
        self.put("\"},\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"")
        self.put(dep.name)
        self.byte(UInt8(ascii: "-"))
        self.put(dep.replicaSetHash)
        self.put("\",\"uid\":\"")
        self.uuid(dep.replicaSetUID)
        self.put("\",\"controller\":true,\"blockOwnerDeletion\":true}]")
        if response != nil {
            self.put(",\"managedFields\":[{\"manager\":\"kube-controller-manager\",\"operation\":\"Update\",\"apiVersion\":\"v1\",\"time\":\"")
            self.timestampSeconds(created ?? 0)
            self.put("\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{\"f:generateName\":{},\"f:labels\":{\".\":{},\"f:app.kubernetes.io/name\":{},\"f:app.kubernetes.io/part-of\":{},\"f:pod-template-hash\":{}},\"f:ownerReferences\":{\".\":{},\"k:{\\\"uid\\\":\\\"")
            self.uuid(dep.replicaSetUID)
            self.put("\\\"}\":{}}},\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"")
            self.put(dep.name)
            self.put("\\\"}\":{\".\":{},\"f:env\":{},\"f:image\":{},\"f:imagePullPolicy\":{},\"f:livenessProbe\":{},\"f:name\":{},\"f:ports\":{},\"f:readinessProbe\":{},\"f:resources\":{},\"f:securityContext\":{},\"f:volumeMounts\":{}}},\"f:dnsPolicy\":{},\"f:restartPolicy\":{},\"f:schedulerName\":{},\"f:securityContext\":{},\"f:terminationGracePeriodSeconds\":{},\"f:volumes\":{}}}}]")
        }
        self.put("},\"spec\":")
        self.podSpec(dep, tokenSuffix: response == nil ? nil : bits >> 20, build: nil, node: nil)
        if response != nil {
            self.put(",\"status\":{\"phase\":\"Pending\",\"qosClass\":\"Burstable\"}}")
        } else {
            self.put(",\"status\":{}}")
        }
    }

    /// A Deployment: the client's version (`uid == nil`) or the stored object.
    mutating func deployment(_ dep: Deployment, _ ns: AppNamespace, uid: UUID128?, rv: Int?, created: Int64?,
                             managedAt: Int64?, build: Int, model: ClusterModel) {
        self.put("{\"kind\":\"Deployment\",\"apiVersion\":\"apps/v1\",\"metadata\":{\"name\":\"")
        self.put(dep.name)
        self.put("\",\"namespace\":\"")
        self.put(ns.name)
        if let uid, let rv {
            self.put("\",\"uid\":\"")
            self.uuid(uid)
            self.put("\",\"resourceVersion\":\"")
            self.int(rv)
            self.put("\",\"generation\":")
            self.int(40 + build % 50)
            self.put(",\"creationTimestamp\":\"")
            self.timestampSeconds(created ?? 0)
            self.put("\",")
        } else {
            self.put("\",\"creationTimestamp\":null,")
        }
        self.appLabels(dep, ns)
        self.put(",\"annotations\":{\"deployment.kubernetes.io/revision\":\"")
        self.int(build % 60 + 1)
        self.put("\"}")
        if let managedAt {
            self.put(",\"managedFields\":[{\"manager\":\"kubectl-client-side-apply\",\"operation\":\"Update\",\"apiVersion\":\"apps/v1\",\"time\":\"")
            self.timestampSeconds(managedAt)
            self.put("\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{\"f:labels\":{\".\":{},\"f:app.kubernetes.io/name\":{},\"f:app.kubernetes.io/part-of\":{}}},\"f:spec\":{\"f:progressDeadlineSeconds\":{},\"f:replicas\":{},\"f:revisionHistoryLimit\":{},\"f:selector\":{},\"f:strategy\":{\"f:rollingUpdate\":{\".\":{},\"f:maxSurge\":{},\"f:maxUnavailable\":{}},\"f:type\":{}},\"f:template\":{\"f:metadata\":{\"f:labels\":{\".\":{},\"f:app.kubernetes.io/name\":{},\"f:app.kubernetes.io/part-of\":{}}},\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"")
            self.put(dep.name)
            self.put("\\\"}\":{\".\":{},\"f:env\":{},\"f:image\":{},\"f:imagePullPolicy\":{},\"f:livenessProbe\":{},\"f:name\":{},\"f:ports\":{},\"f:readinessProbe\":{},\"f:resources\":{},\"f:securityContext\":{},\"f:volumeMounts\":{}}},\"f:dnsPolicy\":{},\"f:restartPolicy\":{},\"f:securityContext\":{},\"f:volumes\":{}}}}}},{\"manager\":\"kube-controller-manager\",\"operation\":\"Update\",\"apiVersion\":\"apps/v1\",\"time\":\"")
            self.timestampSeconds(managedAt)
            self.put("\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{\"f:annotations\":{\".\":{},\"f:deployment.kubernetes.io/revision\":{}}},\"f:status\":{\"f:availableReplicas\":{},\"f:conditions\":{},\"f:observedGeneration\":{},\"f:readyReplicas\":{},\"f:replicas\":{},\"f:updatedReplicas\":{}}},\"subresource\":\"status\"}]")
        }
        self.put("},\"spec\":{\"replicas\":")
        self.int(dep.replicas)
        self.put(",\"selector\":{\"matchLabels\":{\"app.kubernetes.io/name\":\"")
        self.put(dep.name)
        self.put("\"}},\"template\":{\"metadata\":{\"creationTimestamp\":null,")
        self.appLabels(dep, ns)
        self.put("},\"spec\":")
        self.podSpec(dep, tokenSuffix: nil, build: build, node: nil)
        self.put("},\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxUnavailable\":\"25%\",\"maxSurge\":\"25%\"}},\"revisionHistoryLimit\":10,\"progressDeadlineSeconds\":600},\"status\":")
        if uid != nil {
            self.put("{\"observedGeneration\":")
            self.int(39 + build % 50)
            self.put(",\"replicas\":")
            self.int(dep.replicas)
            self.put(",\"updatedReplicas\":")
            self.int(dep.replicas)
            self.put(",\"readyReplicas\":")
            self.int(dep.replicas)
            self.put(",\"availableReplicas\":")
            self.int(dep.replicas)
            self.put(",\"conditions\":[{\"type\":\"Available\",\"status\":\"True\",\"lastUpdateTime\":\"")
            self.timestampSeconds(created ?? 0)
            self.put("\",\"lastTransitionTime\":\"")
            self.timestampSeconds(created ?? 0)
            self.put("\",\"reason\":\"MinimumReplicasAvailable\",\"message\":\"Deployment has minimum availability.\"}]}}")
        } else {
            self.put("{}}")
        }
    }

    /// An application ConfigMap with an embedded YAML file (newlines escaped as `\n`).
    mutating func configMap(_ dep: Deployment, _ ns: AppNamespace, rv: Int?, _ r: inout SplitMix64) {
        self.put("{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"")
        self.put(dep.name)
        self.put("-config\",\"namespace\":\"")
        self.put(ns.name)
        if let rv {
            self.put("\",\"resourceVersion\":\"")
            self.int(rv)
            self.byte(UInt8(ascii: "\""))
        } else {
            self.put("\",\"creationTimestamp\":null")
        }
        self.put(",")
        self.appLabels(dep, ns)
        self.put("},\"data\":{\"LOG_FORMAT\":\"json\",\"LOG_LEVEL\":\"")
        self.put(r.chance(0.8) ? "info" : "debug")
        self.put("\",\"application.yaml\":\"server:\\n  port: ")
        self.int(dep.port)
        self.put("\\n  shutdown: graceful\\nmanagement:\\n  endpoints:\\n    web:\\n      exposure:\\n        include: health,info,prometheus\\ncache:\\n  ttl: ")
        self.int(r.range(30, 600))
        self.put("s\\n  max-entries: ")
        self.int(r.range(1, 64) * 1000)
        self.put("\\nupstream:\\n  timeout: 2s\\n  retries: 3\\n  url: http://")
        self.put(dep.name)
        self.put("-backend.")
        self.put(ns.name)
        self.put(".svc.cluster.local:8080\\n\",\"feature-flags.json\":\"{\\\"newCheckout\\\":")
        self.put(r.chance(0.5) ? "true" : "false")
        self.put(",\\\"searchV2\\\":")
        self.put(r.chance(0.5) ? "true" : "false")
        self.put(",\\\"rolloutPercent\\\":")
        self.int(r.range(0, 100))
        self.put("}\"}}")
    }

    /// A ClusterIP Service: the client's version (`uid == nil`) or the stored object.
    mutating func service(_ dep: Deployment, _ ns: AppNamespace, clusterIP: UInt32?, uid: UUID128?, rv: Int?,
                          created: Int64?) {
        self.put("{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"")
        self.put(dep.name)
        self.put("\",\"namespace\":\"")
        self.put(ns.name)
        if let uid, let rv {
            self.put("\",\"uid\":\"")
            self.uuid(uid)
            self.put("\",\"resourceVersion\":\"")
            self.int(rv)
            self.put("\",\"creationTimestamp\":\"")
            self.timestampSeconds(created ?? 0)
            self.put("\",")
        } else {
            self.put("\",\"creationTimestamp\":null,")
        }
        self.appLabels(dep, ns)
        self.put("},\"spec\":{\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":80,\"targetPort\":")
        self.int(dep.port)
        self.put("}],\"selector\":{\"app.kubernetes.io/name\":\"")
        self.put(dep.name)
        self.byte(UInt8(ascii: "\""))
        if let ip = clusterIP {
            self.put("},\"clusterIP\":\"172.20.")
            self.int(Int(ip / 256 % 256))
            self.byte(UInt8(ascii: "."))
            self.int(Int(ip % 254 + 1))
            self.put("\",\"clusterIPs\":[\"172.20.")
            self.int(Int(ip / 256 % 256))
            self.byte(UInt8(ascii: "."))
            self.int(Int(ip % 254 + 1))
            self.put("\"],\"type\":\"ClusterIP\",\"sessionAffinity\":\"None\",\"ipFamilies\":[\"IPv4\"],\"ipFamilyPolicy\":\"SingleStack\",\"internalTrafficPolicy\":\"Cluster\"},\"status\":{\"loadBalancer\":{}}}")
        } else {
            self.put("},\"type\":\"ClusterIP\"},\"status\":{\"loadBalancer\":{}}}")
        }
    }
}

/// Environment variables of the application containers: (name, value). Every ninth is a
/// secretKeyRef (value = key), every seventh a fieldRef (value = field path).
let envTable: [(StaticString, StaticString)] = [
    ("LOG_LEVEL", "info"), ("HTTP_PORT", "8080"), ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector.monitoring:4317"),
    ("OTEL_SERVICE_NAME", "service"), ("FEATURE_FLAGS_URL", "http://flags.platform.svc.cluster.local"),
    ("CACHE_TTL_SECONDS", "300"), ("POD_NAME", "metadata.name"), ("REGION", "eu-west-1"),
    ("DB_USER", "username"), ("DB_HOST", "postgres.data.svc.cluster.local"), ("DB_PORT", "5432"),
    ("DB_POOL_SIZE", "20"), ("JAVA_TOOL_OPTIONS", "-XX:MaxRAMPercentage=75 -XX:+UseG1GC"),
    ("NODE_NAME", "spec.nodeName"), ("KAFKA_BROKERS", "kafka-0.kafka.data:9092,kafka-1.kafka.data:9092,kafka-2.kafka.data:9092"),
    ("REDIS_URL", "redis://redis-master.shop:6379/0"), ("TRACING_SAMPLE_RATE", "0.05"),
    ("DB_SECRET", "secret"), ("METRICS_PATH", "/metrics"), ("GRACEFUL_SHUTDOWN_SECONDS", "25"),
    ("POD_IP", "status.podIP"), ("MAX_REQUEST_BODY_BYTES", "1048576"), ("TZ", "UTC"),
    ("UPSTREAM_TIMEOUT", "2s"), ("RATE_LIMIT_RPS", "250"), ("ENVIRONMENT", "production"), ("API_TOKEN", "token"),
    ("POD_NAMESPACE", "metadata.namespace"),
]

// Generated from rules/*.yaml by `AUDITHOUND_REGENERATE=1 swift test --filter EmbeddedRulesTests`. Do not edit.

/// AuditHound's default ruleset, embedded in the binary (the files of `rules/`, in name order).
public enum DefaultRules {
    public static let files: [RuleFile] = [
        RuleFile(path: "<builtin>/00-macros.yaml", text: #"""
# AuditHound default ruleset: shared lists and macros.
#
# Files load in name order (00-, 10-, 20-, ...); a later file, or your own override file loaded after
# these, can extend any list or macro below:
#
#   - list: ah_trusted_secret_readers
#     items: [system:serviceaccount:vault:vault]
#     override:
#       items: append
#
#   - macro: ah_system_identity
#     condition: or ka.user.name = "ci-robot"
#     override:
#       condition: append
#
# Every name here starts with ah_ so that this ruleset can be loaded next to Falco's own k8s audit rules
# without one replacing the other's macros (pod, kcreate, kevt, ...).

# ---------------------------------------------------------------------------------------------------
# Request stages and outcomes
# ---------------------------------------------------------------------------------------------------

# One event per request. The API server writes an ordinary request once it is complete
# (ResponseComplete). A streaming upgrade (exec, attach, port-forward, kubelet proxy websockets) is
# written when the stream opens (ResponseStarted, code 101) and again when it closes (ResponseComplete,
# still 101): the rules take the first one, so the alert comes when the session starts. A request that
# failed before the upgrade has no ResponseStarted and is taken at ResponseComplete.
# If your audit policy omits the ResponseStarted stage, replace this macro with
# `ka.stage = ResponseComplete` (see rules/README.md).
- macro: ah_once
  condition: >
    (ka.stage = ResponseComplete and not ka.response.code = 101) or
    (ka.stage = ResponseStarted and ka.response.code = 101)

# The authorizer refused the request. Events without the decision annotation (old API servers,
# requests refused before authorization such as a denied impersonation) count when the code is 403.
- macro: ah_denied
  condition: ka.auth.decision = forbid or (not ka.auth.decision exists and ka.response.code = 403)

# The authorizer did not refuse the request (an admission rejection still counts as allowed).
- macro: ah_allowed
  condition: not ah_denied

# The API server answered with a 2xx code: the change (or read) happened.
- macro: ah_succeeded
  condition: ka.response.code >= 200 and ka.response.code < 300

# A server-side dry run (kubectl --dry-run=server) changes nothing.
- macro: ah_dry_run
  condition: ka.uri.param[dryRun] exists

# A write that took effect: one event per request, 2xx, not a dry run.
- macro: ah_applied
  condition: ah_succeeded and not ah_dry_run and ah_once

- list: ah_write_verbs
  items: [create, update, patch, delete, deletecollection]

- list: ah_read_verbs
  items: [get, list, watch]

# ---------------------------------------------------------------------------------------------------
# Identities
# ---------------------------------------------------------------------------------------------------

# Exact user names treated as system identities. Empty by default: append your own automation here.
- list: ah_extra_system_users
  items: []

# Managed-platform control-plane identities that are not spelled system:*.
# AKS: aksService, masterclient, nodeclient (control plane and node bootstrap).
- list: ah_platform_users
  items: [aksService, masterclient, nodeclient, aksProblemDetector]

# A control-plane component, a node, a kube-system (or managed-platform) service account, or a cloud
# provider's own identity. Almost every rule ignores these: they are the cluster running itself.
#   - system:* users except service accounts, system:anonymous and system:admin (a person: OpenShift's
#     and old clusters' administrator certificate): kube-controller-manager,
#     kube-scheduler, kube-proxy, apiserver, nodes (system:node:*), bootstrap tokens, GKE's
#     system:gke-*/system:l7-lb-controller/... components;
#   - service accounts of kube-system, of GKE's gke-* namespaces and of OpenShift's openshift-*
#     namespaces;
#   - EKS control-plane identities (eks:*), AKS's (ah_platform_users), GKE's container-engine robot.
# A stolen kube-system token is exempt too: the "Service Account Token Used From Public IP" rule and
# the forbidden-request rules still look at it.
- macro: ah_system_identity
  condition: >
    (ka.user.name startswith "system:"
      and not ka.user.name startswith "system:serviceaccount:"
      and not ka.user.name in (system:anonymous, system:unsecured, system:admin))
    or ka.user.name startswith "system:serviceaccount:kube-system:"
    or ka.user.name startswith "system:serviceaccount:gke-"
    or ka.user.name startswith "system:serviceaccount:openshift-"
    or ka.user.name startswith "eks:"
    or ka.user.name endswith "@container-engine-robot.iam.gserviceaccount.com"
    or ka.user.name in (ah_platform_users)
    or ka.user.name in (ah_extra_system_users)

- macro: ah_service_account
  condition: ka.user.name startswith "system:serviceaccount:"

# Unauthenticated requests: the API server's anonymous authenticator names them system:anonymous (in
# group system:unauthenticated). Testing the name only keeps this cheap: it runs on every request.
- macro: ah_anonymous
  condition: ka.user.name = "system:anonymous"

# Namespaces the cluster itself runs in.
- list: ah_system_namespaces
  items: [kube-system, kube-public, kube-node-lease]

# ---------------------------------------------------------------------------------------------------
# Resources
# ---------------------------------------------------------------------------------------------------

- list: ah_workload_resources
  items: [pods, deployments, daemonsets, statefulsets, replicasets, jobs, cronjobs, replicationcontrollers]

- list: ah_rbac_role_resources
  items: [roles, clusterroles]

- list: ah_rbac_binding_resources
  items: [rolebindings, clusterrolebindings]

# A pod created (not a subresource such as pods/binding or pods/eviction).
- macro: ah_pod_created
  condition: ka.verb = create and ka.target.resource = pods and not ka.target.subresource exists

# An ephemeral container added to a running pod (kubectl debug): the request object is the pod.
- macro: ah_ephemeral_container_added
  condition: ka.target.subresource = ephemeralcontainers and ka.target.resource = pods and ka.verb in (update, patch)

# A pod or a workload object itself (not its status, scale or other subresource).
- macro: ah_workload_object
  condition: ka.target.resource in (ah_workload_resources) and not ka.target.subresource exists

# ---------------------------------------------------------------------------------------------------
# Pods that may legitimately use host-level settings (privileged, host namespaces, host paths)
# ---------------------------------------------------------------------------------------------------

# Image repositories (the image without tag or digest) that are expected to run privileged or with
# host access: CNI, CSI, kube-proxy, node agents, monitoring and runtime-security agents. A pod is
# exempt only when ALL its containers (init and ephemeral ones included) use images from this list.
- list: ah_host_access_images
  items: [
    registry.k8s.io/kube-proxy, k8s.gcr.io/kube-proxy,
    docker.io/calico/node, calico/node, quay.io/calico/node, docker.io/calico/cni, calico/cni, quay.io/calico/cni,
    docker.io/calico/pod2daemon-flexvol, calico/pod2daemon-flexvol, docker.io/calico/csi, calico/csi,
    docker.io/calico/node-driver-registrar, calico/node-driver-registrar,
    quay.io/cilium/cilium, docker.io/cilium/cilium, cilium/cilium,
    docker.io/weaveworks/weave-kube, weaveworks/weave-kube, docker.io/weaveworks/weave-npc,
    docker.io/flannel/flannel, flannel/flannel, docker.io/flannel/flannel-cni-plugin, docker.io/rancher/mirrored-flannelcni-flannel,
    quay.io/prometheus/node-exporter, docker.io/prom/node-exporter, prom/node-exporter,
    docker.io/falcosecurity/falco, falcosecurity/falco, docker.io/falcosecurity/falco-driver-loader, falcosecurity/falco-driver-loader,
    docker.io/falcosecurity/falco-no-driver, falcosecurity/falco-no-driver,
    registry.k8s.io/sig-storage/csi-node-driver-registrar, registry.k8s.io/sig-storage/livenessprobe,
    registry.k8s.io/dns/k8s-dns-node-cache, registry.k8s.io/nfd/node-feature-discovery,
    docker.io/fluent/fluent-bit, fluent/fluent-bit, cr.fluentbit.io/fluent/fluent-bit,
    docker.io/datadog/agent, datadog/agent, gcr.io/datadoghq/agent, public.ecr.aws/datadog/agent,
    docker.io/sysdig/agent, quay.io/sysdig/agent-slim,
    nvcr.io/nvidia/k8s-device-plugin, nvcr.io/nvidia/gpu-operator
  ]

# Namespaces whose pods, when a system controller or the kubelet creates them, may use host-level
# settings: their workloads (DaemonSets such as kube-proxy, aws-node, cilium, GKE's and AKS's node
# agents) are installed and managed by the platform, and changing them is itself caught by
# "Workload Created or Changed in System Namespace".
- list: ah_host_access_namespaces
  items: [kube-system]

- macro: ah_pod_images_trusted_for_host_access
  condition: >
    ka.req.pod.containers.image.repository in (ah_host_access_images)
    and (not ka.req.pod.initContainers.image exists
         or ka.req.pod.initContainers.image.repository in (ah_host_access_images))
    and (not ka.req.pod.ephemeralContainers.image exists
         or ka.req.pod.ephemeralContainers.image.repository in (ah_host_access_images))

- macro: ah_expected_host_access_pod
  condition: >
    ah_pod_images_trusted_for_host_access
    or (ka.target.namespace in (ah_host_access_namespaces) and ah_system_identity)

# ---------------------------------------------------------------------------------------------------
# Network sources
# ---------------------------------------------------------------------------------------------------

# The address the API server saw (ka.sourceip, the last entry of sourceIPs) is private, loopback,
# link-local, carrier-grade NAT (100.64.0.0/10) or an IPv6 local address (fc00::/7, fe80::/10, ::1).
- macro: ah_private_source_ip
  condition: >
    ka.sourceip startswith "10." or ka.sourceip startswith "192.168." or ka.sourceip startswith "127."
    or ka.sourceip glob "172.1[6-9].*" or ka.sourceip glob "172.2[0-9].*" or ka.sourceip glob "172.3[01].*"
    or ka.sourceip glob "100.6[4-9].*" or ka.sourceip glob "100.[7-9][0-9].*"
    or ka.sourceip glob "100.1[01][0-9].*" or ka.sourceip glob "100.12[0-7].*"
    or ka.sourceip startswith "169.254." or ka.sourceip = "::1" or ka.sourceip startswith "f"
"""#),
        RuleFile(path: "<builtin>/10-access.yaml", text: #"""
# AuditHound default ruleset: authentication, authorization, identities and client sources.

# ---------------------------------------------------------------------------------------------------
# Anonymous access
# ---------------------------------------------------------------------------------------------------

# Paths anonymous clients may read on a hardened cluster (system:public-info-viewer and service-account
# issuer discovery). Matched as path prefixes: /readyz covers /readyz/etcd.
- list: ah_anonymous_public_paths
  items: [/healthz, /livez, /readyz, /version, /.well-known/openid-configuration, /openid/v1/jwks]

- rule: Anonymous Access Allowed
  desc: >
    An unauthenticated request (system:anonymous / system:unauthenticated) was authorized for something
    other than the public health, version and OIDC discovery endpoints. Anonymous access beyond those
    is a misconfiguration (a binding to system:anonymous or system:unauthenticated) that anyone who can
    reach the API server can use.
  condition: >
    ah_anonymous and ka.auth.decision = allow and ah_once
    and not ka.uri.path pmatch (ah_anonymous_public_paths)
  output: >-
    Anonymous request allowed (user=%ka.user.name verb=%ka.verb uri=%ka.uri code=%ka.response.code
    reason=%ka.auth.reason source=%ka.sourceip useragent=%ka.useragent)
  priority: WARNING
  tags: [k8s, initial-access, T1078.001]

- rule: Anonymous Write Request
  desc: >
    An unauthenticated client was authorized to create, change or delete an object. Unauthenticated
    writes give anyone on the network control of the cluster: treat as an active compromise.
  condition: >
    ka.verb in (ah_write_verbs) and ah_anonymous and ka.auth.decision = allow and ah_once
  output: >-
    Anonymous write request allowed (user=%ka.user.name verb=%ka.verb resource=%ka.target.resource
    name=%ka.target.name ns=%ka.target.namespace code=%ka.response.code reason=%ka.auth.reason
    source=%ka.sourceip useragent=%ka.useragent)
  priority: CRITICAL
  tags: [k8s, initial-access, T1078.001, T1610]

# ---------------------------------------------------------------------------------------------------
# Denied requests (single events; bursts are a stateful rule, see README)
# ---------------------------------------------------------------------------------------------------

- rule: Request Forbidden
  desc: >
    The authorizer refused a request. The reason annotation says which authorizer decided; the message
    says what was missing. Audit trail for probing and for broken RBAC; one denial alone is rarely an
    attack.
  condition: ah_denied and ah_once
  output: >-
    Request forbidden (user=%ka.user.name verb=%ka.verb resource=%ka.target.resource
    subresource=%ka.target.subresource name=%ka.target.name ns=%ka.target.namespace uri=%ka.uri
    reason=%ka.auth.reason message=%ka.response.message source=%ka.sourceip useragent=%ka.useragent)
  priority: INFO
  tags: [k8s, discovery, T1613, T1069]

# Failed authentication is written once, at ResponseStarted, with code 401 and an empty user.
- rule: Authentication Failed
  desc: >
    A request carried credentials the API server did not accept (or none where they are needed): an
    expired or revoked token, a forged certificate, a password guess. Audit trail; a burst of these is a
    stateful rule.
  condition: ka.response.code = 401 and ka.stage in (ResponseStarted, ResponseComplete)
  output: >-
    Authentication failed (verb=%ka.verb uri=%ka.uri message=%ka.response.message source=%ka.sourceip
    useragent=%ka.useragent)
  priority: INFO
  tags: [k8s, credential-access, T1110]

# Service accounts that are known to be denied now and then (e.g. an operator probing for optional
# APIs). Full user names.
- list: ah_known_forbidden_service_accounts
  items: []

- rule: Service Account Request Forbidden
  desc: >
    A service account was refused a request. Workloads use the API in fixed, tested ways, so a denial
    suggests a stolen token being tried, or a workload doing something it was not built to do.
  condition: >
    ah_service_account and ah_denied and ah_once
    and not ka.user.name in (ah_known_forbidden_service_accounts)
  output: >-
    Service account request forbidden (user=%ka.user.name verb=%ka.verb resource=%ka.target.resource
    subresource=%ka.target.subresource name=%ka.target.name ns=%ka.target.namespace uri=%ka.uri
    reason=%ka.auth.reason source=%ka.sourceip useragent=%ka.useragent)
  priority: NOTICE
  tags: [k8s, discovery, T1613, T1550.001]

# ---------------------------------------------------------------------------------------------------
# Discovery
# ---------------------------------------------------------------------------------------------------

- list: ah_self_review_resources
  items: [selfsubjectaccessreviews, selfsubjectrulesreviews]

- rule: Permission Self-Review
  desc: >
    A user asked the API server what they may do (kubectl auth can-i, can-i --list). Common for people
    and dashboards; in an incident it shows an attacker mapping what a stolen credential allows.
  condition: >
    ka.target.resource in (ah_self_review_resources) and ka.verb = create
    and not ah_system_identity and not ah_service_account and ah_once
  output: >-
    Permission self-review (user=%ka.user.name resource=%ka.target.resource source=%ka.sourceip
    useragent=%ka.useragent)
  priority: NOTICE
  tags: [k8s, discovery, T1069, T1613]

# Service accounts that legitimately check their own permissions (full user names).
- list: ah_trusted_self_reviewers
  items: []

- rule: Service Account Permission Self-Review
  desc: >
    A service account asked what it may do. Few workloads ever do this; tools run from inside a
    compromised pod (kubectl auth can-i --list, peirates, kdigger) do it first thing.
  condition: >
    ka.target.resource in (ah_self_review_resources) and ka.verb = create
    and ah_service_account and not ah_system_identity
    and not ka.user.name in (ah_trusted_self_reviewers) and ah_once
  output: >-
    Service account checked its own permissions (user=%ka.user.name resource=%ka.target.resource
    source=%ka.sourceip useragent=%ka.useragent)
  priority: WARNING
  tags: [k8s, discovery, T1069, T1613]

# Fragments of user agents of Kubernetes attack and recon tools, spelled as the tools send them
# (case-sensitive `contains` is several times cheaper than `icontains`, and this runs on most requests).
- macro: ah_offensive_user_agent
  condition: >
    ka.useragent contains "kube-hunter" or ka.useragent contains "peirates" or ka.useragent contains "kubiscan"
    or ka.useragent contains "KubiScan" or ka.useragent contains "kubesploit" or ka.useragent contains "kdigger"
    or ka.useragent contains "rakkess" or ka.useragent contains "access-matrix" or ka.useragent contains "trufflehog"
    or ka.useragent contains "azurehound" or ka.useragent contains "kubeletctl"
    or ka.useragent contains "Nmap Scripting Engine"

- rule: Offensive Tool User Agent
  desc: >
    A request came from a client that names itself after a Kubernetes attack or scanning tool. The user
    agent is set by the client, so its absence proves nothing, but its presence is rarely innocent.
    (System identities are skipped: they make most of the traffic, and the check costs a dozen
    substring searches per request.)
  condition: not ah_system_identity and ah_offensive_user_agent and ah_once
  output: >-
    Request from offensive tool (useragent=%ka.useragent user=%ka.user.name verb=%ka.verb uri=%ka.uri
    decision=%ka.auth.decision code=%ka.response.code source=%ka.sourceip)
  priority: WARNING
  tags: [k8s, discovery, T1613, T1046]

- macro: ah_scripted_user_agent
  condition: >
    ka.useragent startswith "curl/" or ka.useragent startswith "Wget" or ka.useragent startswith "python-requests"
    or ka.useragent startswith "Python-urllib" or ka.useragent startswith "python-httpx" or ka.useragent startswith "aiohttp"
    or ka.useragent startswith "Go-http-client" or ka.useragent startswith "okhttp" or ka.useragent icontains "powershell"

- rule: Scripted Client Read Secrets
  desc: >
    Secrets were read with a generic HTTP client (curl, wget, python-requests, Go's default client,
    PowerShell) rather than kubectl or a controller: typical of a token used by hand or by a script
    after it was stolen.
  condition: >
    ka.target.resource = secrets and ka.verb in (get, list) and ah_allowed
    and ah_scripted_user_agent and not ah_system_identity and ah_once
  output: >-
    Secrets read by scripted client (user=%ka.user.name verb=%ka.verb secret=%ka.target.name
    ns=%ka.target.namespace useragent=%ka.useragent code=%ka.response.code source=%ka.sourceip)
  priority: NOTICE
  tags: [k8s, credential-access, T1552.007]

# ---------------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------------

# Addresses to alert on (threat intelligence, Tor exit nodes, former employees' VPN egress...): exact
# addresses as the API server logs them. Empty by default.
- list: ah_blocked_source_ips
  items: []

- rule: Request From Listed Source IP
  desc: >
    A request came from an address on your block list (ah_blocked_source_ips). Uses the address the API
    server saw (the last entry of sourceIPs), not the forgeable X-Forwarded-For entries.
  condition: ka.sourceip in (ah_blocked_source_ips) and ah_once
  output: >-
    Request from listed source address (source=%ka.sourceip user=%ka.user.name verb=%ka.verb uri=%ka.uri
    decision=%ka.auth.decision code=%ka.response.code useragent=%ka.useragent)
  priority: WARNING
  tags: [k8s, initial-access, T1078]

# Service accounts known to be used from outside the cluster (CI systems...). Full user names.
- list: ah_external_service_accounts
  items: []

- rule: Service Account Token Used From Public IP
  desc: >
    A service account's token was used from a public address. Pods reach the API server from private
    addresses, so a token used from the internet was most likely copied out of a pod. On clusters whose
    nodes have public addresses and no private path to the API server, tune ah_private_source_ip.
  condition: >
    ah_service_account and ka.sourceip exists and not ah_private_source_ip
    and ah_allowed and ah_once and not ka.user.name in (ah_external_service_accounts)
  output: >-
    Service account token used from public address (user=%ka.user.name source=%ka.sourceip
    verb=%ka.verb uri=%ka.uri code=%ka.response.code useragent=%ka.useragent)
  priority: NOTICE
  tags: [k8s, credential-access, T1550.001, T1528]

# ---------------------------------------------------------------------------------------------------
# Impersonation and powerful accounts
# ---------------------------------------------------------------------------------------------------

# Identities that hold every permission (or bypass RBAC).
- list: ah_privileged_users
  items: [system:admin, admin, cluster-admin, kubernetes-admin, kubernetes-super-admin, system:apiserver,
          system:kube-controller-manager, system:kube-scheduler]

- rule: Impersonation of Privileged Identity
  desc: >
    A request impersonated an administrator, a control-plane component, a node, a kube-system service
    account or the system:masters group. Impersonate permission on these is as good as holding their
    rights.
  condition: >
    ka.impuser.name exists and ah_allowed and ah_once
    and (ka.impuser.name in (ah_privileged_users)
         or ka.impuser.name startswith "system:node:"
         or ka.impuser.name startswith "system:serviceaccount:kube-system:"
         or jevt.value[/impersonatedUser/groups] contains "system:masters")
  output: >-
    Privileged identity impersonated (user=%ka.user.name impersonated=%ka.impuser.name
    groups=%jevt.value[/impersonatedUser/groups] verb=%ka.verb uri=%ka.uri code=%ka.response.code
    source=%ka.sourceip)
  priority: ERROR
  tags: [k8s, privilege-escalation, T1078]

# Proxies and platforms that impersonate users by design (Rancher, Teleport, kube-oidc-proxy...).
- list: ah_trusted_impersonators
  items: []

- rule: Impersonation Used
  desc: >
    A user acted as another user (kubectl --as). Normal for access proxies; otherwise a sign that
    someone holds impersonate rights and uses them.
  condition: >
    ka.impuser.name exists and ah_allowed and ah_once and not ah_system_identity
    and not ka.user.name in (ah_trusted_impersonators)
  output: >-
    Impersonation used (user=%ka.user.name impersonated=%ka.impuser.name verb=%ka.verb uri=%ka.uri
    code=%ka.response.code source=%ka.sourceip)
  priority: NOTICE
  tags: [k8s, privilege-escalation, T1078]

# Shared administrator accounts that should only be used in an emergency.
- list: ah_break_glass_users
  items: [kubernetes-admin, kubernetes-super-admin, system:admin, admin, cluster-admin, minikube-user, kube-admin]

- rule: Break-Glass Account Used
  desc: >
    A shared administrator account (kubeadm's kubernetes-admin, OpenShift's system:admin, a member of
    system:masters, which bypasses RBAC and cannot be revoked) changed something. These accounts should
    be kept for emergencies; day-to-day use hides who did what.
  condition: >
    ka.verb in (ah_write_verbs) and ah_once
    and (ka.user.name in (ah_break_glass_users) or ka.user.groups intersects (system:masters))
    and not ah_system_identity
  output: >-
    Break-glass account used (user=%ka.user.name groups=%ka.user.groups verb=%ka.verb
    resource=%ka.target.resource name=%ka.target.name ns=%ka.target.namespace source=%ka.sourceip
    useragent=%ka.useragent)
  priority: NOTICE
  tags: [k8s, initial-access, T1078]

# The people and automation expected to use the cluster. Used only by the rule below, which is
# disabled by default: fill this list, then enable the rule.
- list: ah_allowed_users
  items: []

- rule: Unlisted User Activity
  desc: >
    A user that is not a system identity, not a service account and not in ah_allowed_users made a
    request. Disabled by default: enable it once ah_allowed_users names your people and automation.
  condition: >
    ka.user.name exists and not ah_system_identity and not ah_service_account and ah_once
    and not ah_anonymous and not ka.user.name in (ah_allowed_users)
  output: >-
    Request by user not on the allow list (user=%ka.user.name verb=%ka.verb uri=%ka.uri
    code=%ka.response.code source=%ka.sourceip useragent=%ka.useragent)
  priority: WARNING
  enabled: false
  tags: [k8s, initial-access, T1078]
"""#),
        RuleFile(path: "<builtin>/20-workloads.yaml", text: #"""
# AuditHound default ruleset: pod specifications, workloads and commands run in containers.
#
# Pod-spec rules look at every pod created, whoever creates it: a Deployment's pods are created by the
# replicaset-controller, so the alert names the controller as user and shows the owner. Rules on the
# workload objects themselves (Deployments, DaemonSets, ...) name the person or automation.

# ---------------------------------------------------------------------------------------------------
# Pod specifications
# ---------------------------------------------------------------------------------------------------

- rule: Privileged Container Created
  desc: >
    A pod was created with a privileged container (regular, init or ephemeral), or a privileged
    ephemeral container was added to a running pod. A privileged container has every capability and
    the host's devices: escaping to the node is one command away.
  condition: >
    ((ah_pod_created
      and (ka.req.pod.containers.privileged intersects (true)
           or ka.req.pod.initContainers.privileged intersects (true)
           or ka.req.pod.ephemeralContainers.privileged intersects (true)))
     or (ah_ephemeral_container_added and ka.req.pod.ephemeralContainers.privileged intersects (true)))
    and ah_applied and not ah_expected_host_access_pod
  output: >-
    Privileged container created (user=%ka.user.name pod=%ka.resp.name ns=%ka.target.namespace
    images=%ka.req.pod.containers.image init=%ka.req.pod.initContainers.image
    ephemeral=%ka.req.pod.ephemeralContainers.image owner=%jevt.value[/requestObject/metadata/ownerReferences/0/kind]/%jevt.value[/requestObject/metadata/ownerReferences/0/name]
    source=%ka.sourceip)
  priority: WARNING
  tags: [k8s, privilege-escalation, T1610, T1611]

# Host paths that give a container the node: matched as path prefixes (/etc/kubernetes covers
# /etc/kubernetes/pki).
- list: ah_sensitive_host_path_prefixes
  items: [
    /proc, /root, /boot, /etc/kubernetes, /etc/ssh, /etc/shadow, /etc/sudoers, /etc/cron.d, /etc/crontab,
    /etc/systemd, /etc/containerd, /etc/docker, /etc/crio,
    /var/lib/kubelet, /var/lib/etcd, /var/lib/docker, /var/lib/containerd, /var/lib/cri-o,
    /var/run/docker.sock, /run/docker.sock, /var/run/containerd, /run/containerd, /var/run/crio, /run/crio,
    /var/run/cri-dockerd.sock, /run/cri-dockerd.sock, /home/admin
  ]

# Directories that are sensitive as a whole but whose sub-directories are often mounted harmlessly
# (/etc/ssl/certs, /var/log): matched exactly.
- list: ah_sensitive_host_paths_exact
  items: [/, /etc, /etc/, /var, /var/run, /run, /var/lib, /home, /usr, /dev, /sys]

- macro: ah_sensitive_host_path
  condition: >
    ka.req.pod.volumes.hostpath pmatch (ah_sensitive_host_path_prefixes)
    or ka.req.pod.volumes.hostpath intersects (ah_sensitive_host_paths_exact)

- rule: Sensitive Host Path Mounted
  desc: >
    A pod was created with a hostPath volume on a sensitive part of the node: the root, /etc, /proc,
    the kubelet's or etcd's data, kubeconfigs and PKI, static pod manifests, or a container runtime
    socket. Each of these lets the pod take over the node or the cluster.
  condition: ah_pod_created and ah_sensitive_host_path and ah_applied and not ah_expected_host_access_pod
  output: >-
    Pod with sensitive host path created (user=%ka.user.name pod=%ka.resp.name ns=%ka.target.namespace
    hostpaths=%ka.req.pod.volumes.hostpath images=%ka.req.pod.containers.image
    owner=%jevt.value[/requestObject/metadata/ownerReferences/0/kind]/%jevt.value[/requestObject/metadata/ownerReferences/0/name]
    source=%ka.sourceip)
  priority: WARNING
  tags: [k8s, privilege-escalation, T1611]

- rule: Host Network Pod Created
  desc: >
    A pod was created in the node's network namespace (hostNetwork): it sees all node traffic, binds
    node ports and reaches services bound to localhost, such as the kubelet's read-only port.
  condition: ah_pod_created and ka.req.pod.host_network = true and ah_applied and not ah_expected_host_access_pod
  output: >-
    Pod using host network created (user=%ka.user.name pod=%ka.resp.name ns=%ka.target.namespace
    images=%ka.req.pod.containers.image
    owner=%jevt.value[/requestObject/metadata/ownerReferences/0/kind]/%jevt.value[/requestObject/metadata/ownerReferences/0/name]
    source=%ka.sourceip)
  priority: WARNING
  tags: [k8s, privilege-escalation, T1611]

- rule: Host PID Pod Created
  desc: >
    A pod was created in the node's process namespace (hostPID): it sees every process on the node,
    their environments and, with enough rights, can enter them (nsenter).
  condition: ah_pod_created and ka.req.pod.host_pid = true and ah_applied and not ah_expected_host_access_pod
  output: >-
    Pod using host PID namespace created (user=%ka.user.name pod=%ka.resp.name ns=%ka.target.namespace
    images=%ka.req.pod.containers.image
    owner=%jevt.value[/requestObject/metadata/ownerReferences/0/kind]/%jevt.value[/requestObject/metadata/ownerReferences/0/name]
    source=%ka.sourceip)
  priority: WARNING
  tags: [k8s, privilege-escalation, T1611]

- rule: Host IPC Pod Created
  desc: >
    A pod was created in the node's IPC namespace (hostIPC): it can read and write the shared memory of
    every process on the node.
  condition: ah_pod_created and ka.req.pod.host_ipc = true and ah_applied and not ah_expected_host_access_pod
  output: >-
    Pod using host IPC namespace created (user=%ka.user.name pod=%ka.resp.name ns=%ka.target.namespace
    images=%ka.req.pod.containers.image
    owner=%jevt.value[/requestObject/metadata/ownerReferences/0/kind]/%jevt.value[/requestObject/metadata/ownerReferences/0/name]
    source=%ka.sourceip)
  priority: WARNING
  tags: [k8s, privilege-escalation, T1611]

# Capabilities that break container isolation. The fields hold each container's capabilities.add list
# as JSON text, hence `contains`. NET_ADMIN and NET_RAW are not here: service-mesh init containers
# (istio-init, linkerd-init) add them to every meshed pod. Append them if you run no mesh.
- macro: ah_dangerous_capability_in_containers
  condition: >
    ka.req.pod.containers.add_capabilities contains SYS_ADMIN or ka.req.pod.containers.add_capabilities contains SYS_PTRACE
    or ka.req.pod.containers.add_capabilities contains SYS_MODULE or ka.req.pod.containers.add_capabilities contains SYS_RAWIO
    or ka.req.pod.containers.add_capabilities contains SYS_BOOT or ka.req.pod.containers.add_capabilities contains BPF
    or ka.req.pod.containers.add_capabilities contains DAC_READ_SEARCH or ka.req.pod.containers.add_capabilities contains DAC_OVERRIDE
    or ka.req.pod.containers.add_capabilities contains SYSLOG or ka.req.pod.containers.add_capabilities contains PERFMON
    or ka.req.pod.containers.add_capabilities icontains '"all"'

- macro: ah_dangerous_capability_in_init
  condition: >
    ka.req.pod.initContainers.add_capabilities contains SYS_ADMIN or ka.req.pod.initContainers.add_capabilities contains SYS_PTRACE
    or ka.req.pod.initContainers.add_capabilities contains SYS_MODULE or ka.req.pod.initContainers.add_capabilities contains SYS_RAWIO
    or ka.req.pod.initContainers.add_capabilities contains SYS_BOOT or ka.req.pod.initContainers.add_capabilities contains BPF
    or ka.req.pod.initContainers.add_capabilities contains DAC_READ_SEARCH or ka.req.pod.initContainers.add_capabilities contains DAC_OVERRIDE
    or ka.req.pod.initContainers.add_capabilities contains SYSLOG or ka.req.pod.initContainers.add_capabilities contains PERFMON
    or ka.req.pod.initContainers.add_capabilities icontains '"all"'

- macro: ah_dangerous_capability_in_ephemeral
  condition: >
    ka.req.pod.ephemeralContainers.add_capabilities contains SYS_ADMIN or ka.req.pod.ephemeralContainers.add_capabilities contains SYS_PTRACE
    or ka.req.pod.ephemeralContainers.add_capabilities contains SYS_MODULE or ka.req.pod.ephemeralContainers.add_capabilities contains SYS_RAWIO
    or ka.req.pod.ephemeralContainers.add_capabilities contains SYS_BOOT or ka.req.pod.ephemeralContainers.add_capabilities contains BPF
    or ka.req.pod.ephemeralContainers.add_capabilities contains DAC_READ_SEARCH or ka.req.pod.ephemeralContainers.add_capabilities contains DAC_OVERRIDE
    or ka.req.pod.ephemeralContainers.add_capabilities contains SYSLOG or ka.req.pod.ephemeralContainers.add_capabilities contains PERFMON
    or ka.req.pod.ephemeralContainers.add_capabilities icontains '"all"'

- macro: ah_dangerous_capability_added
  condition: >
    ah_dangerous_capability_in_containers or ah_dangerous_capability_in_init or ah_dangerous_capability_in_ephemeral

- rule: Dangerous Capability Added
  desc: >
    A container (regular, init or ephemeral) was given a Linux capability that breaks isolation:
    SYS_ADMIN, SYS_PTRACE, SYS_MODULE, SYS_RAWIO, SYS_BOOT, BPF, PERFMON, DAC_READ_SEARCH, DAC_OVERRIDE,
    SYSLOG or ALL.
  condition: >
    ((ah_pod_created and ah_dangerous_capability_added)
         or (ah_ephemeral_container_added and ah_dangerous_capability_in_ephemeral))
    and ah_applied and not ah_expected_host_access_pod
  output: >-
    Container with dangerous capabilities created (user=%ka.user.name pod=%ka.resp.name ns=%ka.target.namespace
    capabilities=%ka.req.pod.containers.add_capabilities init=%ka.req.pod.initContainers.add_capabilities
    ephemeral=%ka.req.pod.ephemeralContainers.add_capabilities images=%ka.req.pod.containers.image
    source=%ka.sourceip)
  priority: WARNING
  tags: [k8s, privilege-escalation, T1611]

- rule: Workload Created or Changed in System Namespace
  desc: >
    Someone other than the cluster's own components created or changed a pod or workload in
    kube-system, kube-public or kube-node-lease. Attackers hide there (names like kube-proxy-x7k2q) and
    borrow the powerful service accounts that live there; installs into kube-system (helm charts) also
    show here.
  condition: >
    ah_workload_object and ka.verb in (create, update, patch)
    and ka.target.namespace in (ah_system_namespaces) and not ah_system_identity and ah_applied
  output: >-
    Workload created or changed in system namespace (user=%ka.user.name verb=%ka.verb
    resource=%ka.target.resource name=%ka.target.name ns=%ka.target.namespace
    images=%ka.req.pod.containers.image source=%ka.sourceip useragent=%ka.useragent)
  priority: WARNING
  tags: [k8s, persistence, T1610, T1036.005]

- rule: Controller Service Account Assigned in kube-system
  desc: >
    Someone other than the cluster's components created a pod or workload in kube-system that runs as
    one of the controller service accounts (*-controller). Those accounts hold broad rights (creating
    tokens, approving certificates, aggregating roles); running code as them is a known privilege
    escalation.
  condition: >
    ah_workload_object and ka.verb in (create, update, patch)
    and ka.target.namespace = kube-system and not ah_system_identity
    and (jevt.value[/requestObject/spec/serviceAccountName] endswith controller
         or jevt.value[/requestObject/spec/template/spec/serviceAccountName] endswith controller
         or jevt.value[/requestObject/spec/jobTemplate/spec/template/spec/serviceAccountName] endswith controller) and ah_applied
  output: >-
    Controller service account assigned in kube-system (user=%ka.user.name resource=%ka.target.resource
    name=%ka.target.name serviceaccount=%jevt.value[/requestObject/spec/serviceAccountName]
    template_serviceaccount=%jevt.value[/requestObject/spec/template/spec/serviceAccountName]
    source=%ka.sourceip)
  priority: CRITICAL
  tags: [k8s, privilege-escalation, T1078, T1610]

# Image repositories (without tag or digest) of crypto miners and attack toolkits, in the short and
# docker.io/ spellings.
- list: ah_malicious_image_repositories
  items: [
    xmrig/xmrig, docker.io/xmrig/xmrig, metal3d/xmrig, docker.io/metal3d/xmrig,
    servethehome/monero_cpu_minergate, docker.io/servethehome/monero_cpu_minergate,
    kalilinux/kali-rolling, docker.io/kalilinux/kali-rolling, kalilinux/kali-last-release,
    docker.io/kalilinux/kali-last-release, aquasec/kube-hunter, docker.io/aquasec/kube-hunter
  ]

# Crypto-mining markers in container commands and arguments.
- macro: ah_miner_command
  condition: >
    ka.req.pod.containers.command icontains xmrig or ka.req.pod.containers.args icontains xmrig
    or ka.req.pod.containers.command icontains "stratum+tcp" or ka.req.pod.containers.args icontains "stratum+tcp"
    or ka.req.pod.containers.args icontains "--donate-level" or ka.req.pod.containers.command icontains cpuminer
    or ka.req.pod.initContainers.command icontains xmrig or ka.req.pod.initContainers.args icontains "stratum+tcp"
    or ka.req.pod.ephemeralContainers.command icontains xmrig or ka.req.pod.ephemeralContainers.args icontains "stratum+tcp"

- rule: Pod With Known Malicious Image or Command
  desc: >
    A pod was created (or an ephemeral container added) with a crypto-miner or attack-toolkit image,
    or with a mining command line (xmrig, stratum+tcp://).
  condition: >
    ah_allowed and (ah_pod_created or ah_ephemeral_container_added)
    and (ka.req.pod.containers.image.repository intersects (ah_malicious_image_repositories)
         or ka.req.pod.initContainers.image.repository intersects (ah_malicious_image_repositories)
         or ka.req.pod.ephemeralContainers.image.repository intersects (ah_malicious_image_repositories)
         or ah_miner_command) and ah_once
  output: >-
    Pod with malicious image or command (user=%ka.user.name pod=%ka.resp.name ns=%ka.target.namespace
    images=%ka.req.pod.containers.image init=%ka.req.pod.initContainers.image
    ephemeral=%ka.req.pod.ephemeralContainers.image command=%ka.req.pod.containers.command
    args=%ka.req.pod.containers.args code=%ka.response.code source=%ka.sourceip)
  priority: CRITICAL
  tags: [k8s, execution, T1204.003, T1496]

- rule: Pod Security Violation Recorded
  desc: >
    Pod Security Admission recorded a violation of the namespace's audit level (the
    pod-security.kubernetes.io/audit-violations annotation): the pod or workload asks for more than
    its namespace's policy allows. A cheap signal available at the Metadata audit level.
  condition: ka.verb in (create, update, patch) and ka.security.pod.violations exists and ah_once
  output: >-
    Pod security violation (user=%ka.user.name verb=%ka.verb resource=%ka.target.resource
    name=%ka.target.name ns=%ka.target.namespace violations=%ka.security.pod.violations
    code=%ka.response.code)
  priority: NOTICE
  tags: [k8s, privilege-escalation, T1610, T1611]

- rule: Admission Policy Violation Recorded
  desc: >
    A ValidatingAdmissionPolicy with the Audit action recorded a failed validation on this request
    (the validation.policy.admission.k8s.io/validation_failure annotation).
  condition: ka.verb in (ah_write_verbs) and ka.validations.admission.policy.failure exists and ah_once
  output: >-
    Admission policy violation (user=%ka.user.name verb=%ka.verb resource=%ka.target.resource
    name=%ka.target.name ns=%ka.target.namespace failure=%ka.validations.admission.policy.failure
    code=%ka.response.code)
  priority: NOTICE
  tags: [k8s, defense-evasion, T1610]

# ---------------------------------------------------------------------------------------------------
# Commands in running containers: exec, attach, port-forward, debug containers, kubelet proxy
# ---------------------------------------------------------------------------------------------------

- macro: ah_exec
  condition: ka.target.subresource = exec and ka.target.resource = pods and ka.verb in (create, get)

# Users (full names) whose exec, attach and port-forward sessions are expected (backup hooks,
# operators...). They are still checked by the command rules below.
- list: ah_known_exec_users
  items: []

- rule: Exec Into Pod
  desc: >
    Someone ran a command in a running container (kubectl exec). The audit trail of interactive access:
    every session gives one alert, with the command. Commands that look like an attack also raise the
    rules below.
  condition: ah_exec and ah_allowed and not ka.user.name in (ah_known_exec_users) and ah_once
  output: >-
    Exec into pod (user=%ka.user.name pod=%ka.target.name ns=%ka.target.namespace
    container=%ka.uri.param[container] command=%ka.exec.command code=%ka.response.code
    source=%ka.sourceip useragent=%ka.useragent)
  priority: NOTICE
  tags: [k8s, execution, T1609]

- rule: Attach to Pod
  desc: >
    Someone attached to the main process of a running container (kubectl attach), getting its input
    and output.
  condition: >
    ka.target.resource = pods and ka.target.subresource = attach and ka.verb in (create, get)
    and ah_allowed and not ka.user.name in (ah_known_exec_users) and ah_once
  output: >-
    Attach to pod (user=%ka.user.name pod=%ka.target.name ns=%ka.target.namespace
    container=%ka.uri.param[container] code=%ka.response.code source=%ka.sourceip useragent=%ka.useragent)
  priority: NOTICE
  tags: [k8s, execution, T1609]

- rule: Port Forward to Pod
  desc: >
    Someone opened a tunnel to a pod's ports (kubectl port-forward), reaching services that are not
    exposed outside the cluster and bypassing network policies.
  condition: >
    ka.target.resource = pods and ka.target.subresource = portforward and ka.verb in (create, get)
    and ah_allowed and not ka.user.name in (ah_known_exec_users) and ah_once
  output: >-
    Port forward to pod (user=%ka.user.name pod=%ka.target.name ns=%ka.target.namespace
    ports=%ka.uri.param[ports] code=%ka.response.code source=%ka.sourceip useragent=%ka.useragent)
  priority: NOTICE
  tags: [k8s, execution, T1609]

- rule: Exec Into System Namespace Pod
  desc: >
    Someone other than the cluster's own components ran a command in a pod of kube-system, kube-public
    or kube-node-lease, where the pods carry powerful service accounts and host access.
  condition: >
    ah_exec and ah_allowed and ka.target.namespace in (ah_system_namespaces)
    and not ah_system_identity and not ka.user.name in (ah_known_exec_users) and ah_once
  output: >-
    Exec into system namespace pod (user=%ka.user.name pod=%ka.target.name ns=%ka.target.namespace
    command=%ka.exec.command code=%ka.response.code source=%ka.sourceip)
  priority: WARNING
  tags: [k8s, execution, T1609]

- rule: Ephemeral Container Added
  desc: >
    A debug container was added to a running pod (kubectl debug). It shares the pod's namespaces,
    volumes and service account, and may use any image.
  condition: ah_ephemeral_container_added and ah_applied
  output: >-
    Ephemeral container added (user=%ka.user.name pod=%ka.target.name ns=%ka.target.namespace
    containers=%ka.req.pod.ephemeralContainers.name images=%ka.req.pod.ephemeralContainers.image
    source=%ka.sourceip)
  priority: NOTICE
  tags: [k8s, execution, T1609, T1610]

# The command rules below fire whatever the authorization decision: a refused reverse shell still
# shows what the requester meant to do. ka.exec.command is the URL-decoded command, words joined with
# spaces (sh -c "curl ..." gives `sh -c curl ...`).

- macro: ah_reverse_shell_command
  condition: >
    ka.exec.command contains "/dev/tcp/" or ka.exec.command contains "/dev/udp/"
    or ka.exec.command contains "bash -i" or ka.exec.command contains "nc -e" or ka.exec.command contains "ncat -e"
    or ka.exec.command contains "nc -c" or ka.exec.command contains "-e /bin/sh" or ka.exec.command contains "-e /bin/bash"
    or ka.exec.command contains mkfifo or ka.exec.command contains "socat " or ka.exec.command contains "import socket"
    or ka.exec.command contains "pty.spawn" or ka.exec.command contains fsockopen or ka.exec.command contains TCPSocket

- rule: Reverse Shell via Pod Exec
  desc: >
    An exec command looks like a reverse shell: bash's /dev/tcp, netcat or ncat with -e/-c, a named
    pipe (mkfifo), socat, or a scripting one-liner opening a socket.
  condition: ah_exec and ah_reverse_shell_command and ah_once
  output: >-
    Reverse shell command in pod exec (user=%ka.user.name pod=%ka.target.name ns=%ka.target.namespace
    command=%ka.exec.command decision=%ka.auth.decision code=%ka.response.code source=%ka.sourceip)
  priority: CRITICAL
  tags: [k8s, execution, T1609, T1059.004]

- rule: Download via Pod Exec
  desc: >
    An exec command fetches something from a URL with curl or wget: tools and payloads are brought into
    a running container this way.
  condition: >
    ah_exec and (ka.exec.command contains curl or ka.exec.command contains wget)
    and ka.exec.command contains "://" and ah_once
  output: >-
    Download in pod exec (user=%ka.user.name pod=%ka.target.name ns=%ka.target.namespace
    command=%ka.exec.command decision=%ka.auth.decision code=%ka.response.code source=%ka.sourceip)
  priority: WARNING
  tags: [k8s, execution, T1609, T1105]

- macro: ah_metadata_service_address
  condition: >
    ka.exec.command contains "169.254.169.254" or ka.exec.command contains "169.254.170.2"
    or ka.exec.command contains "fd00:ec2::254" or ka.exec.command contains "metadata.google.internal"
    or ka.exec.command contains "100.100.100.200" or ka.exec.command contains "/computeMetadata/"
    or ka.exec.command contains "/latest/meta-data"

- rule: Cloud Metadata Access via Pod Exec
  desc: >
    An exec command reaches the cloud instance metadata service (169.254.169.254,
    metadata.google.internal, ...), where the node's cloud credentials live.
  condition: ah_exec and ah_metadata_service_address and ah_once
  output: >-
    Cloud metadata access in pod exec (user=%ka.user.name pod=%ka.target.name ns=%ka.target.namespace
    command=%ka.exec.command decision=%ka.auth.decision code=%ka.response.code source=%ka.sourceip)
  priority: ERROR
  tags: [k8s, credential-access, T1552.005, T1609]

- macro: ah_credential_path
  condition: >
    ka.exec.command contains "/var/run/secrets/" or ka.exec.command contains "/run/secrets/kubernetes.io"
    or ka.exec.command contains "/etc/kubernetes" or ka.exec.command contains ".kube/config"
    or ka.exec.command contains "/environ" or ka.exec.command contains "/etc/shadow"
    or ka.exec.command contains ".aws/credentials" or ka.exec.command contains "application_default_credentials"
    or ka.exec.command contains "id_rsa" or ka.exec.command contains "id_ed25519"
    or ka.exec.command contains "/var/lib/kubelet/pki"

- rule: Credential File Read via Pod Exec
  desc: >
    An exec command touches credentials: the pod's service-account token
    (/var/run/secrets/kubernetes.io/serviceaccount) or other projected tokens, kubeconfigs, the node's
    Kubernetes PKI, process environments, cloud credential files or SSH keys.
  condition: ah_exec and ah_credential_path and ah_once
  output: >-
    Credential access in pod exec (user=%ka.user.name pod=%ka.target.name ns=%ka.target.namespace
    command=%ka.exec.command decision=%ka.auth.decision code=%ka.response.code source=%ka.sourceip)
  priority: WARNING
  tags: [k8s, credential-access, T1528, T1552.001, T1609]

- rule: File Copy via Pod Exec
  desc: >
    Files were copied out of or into a container (kubectl cp runs tar through exec): data leaving a pod,
    or tools going in.
  condition: ah_exec and ka.uri.param[command] in (tar, /bin/tar, /usr/bin/tar) and ah_once
  output: >-
    File copy through pod exec (user=%ka.user.name pod=%ka.target.name ns=%ka.target.namespace
    command=%ka.exec.command decision=%ka.auth.decision code=%ka.response.code source=%ka.sourceip)
  priority: NOTICE
  tags: [k8s, collection, T1609, T1005]

# Network, recon and package tools; any word of the exec command equal to one of these.
- list: ah_exec_suspicious_tools
  items: [
    kubectl, /usr/bin/kubectl, /usr/local/bin/kubectl, nc, ncat, netcat, /bin/nc, /usr/bin/nc, nmap, masscan,
    socat, tcpdump, telnet, ssh, scp, sftp, apt, apt-get, /usr/bin/apt-get, apk, /sbin/apk, yum, dnf, pip, pip3,
    nsenter, /usr/bin/nsenter, chroot, mount, crictl, docker, ctr, insmod
  ]

- rule: Suspicious Tool Run via Pod Exec
  desc: >
    An exec command runs a tool that application containers rarely need: kubectl (using the pod's
    token), network scanners and relays, package managers installing tooling, or host-escape helpers
    (nsenter, chroot, mount, crictl, docker).
  condition: ah_exec and ka.uri.params[command] intersects (ah_exec_suspicious_tools) and ah_once
  output: >-
    Suspicious tool in pod exec (user=%ka.user.name pod=%ka.target.name ns=%ka.target.namespace
    command=%ka.exec.command decision=%ka.auth.decision code=%ka.response.code source=%ka.sourceip)
  priority: WARNING
  tags: [k8s, execution, T1609, T1059]

- macro: ah_node_proxy
  condition: ka.target.subresource = proxy and ka.target.resource = nodes

# Kubelet endpoints that run code or open streams in containers.
- macro: ah_kubelet_execution_path
  condition: >
    ka.uri.path contains "/proxy/exec/" or ka.uri.path contains "/proxy/run/" or ka.uri.path contains "/proxy/attach/"
    or ka.uri.path contains "/proxy/portforward/" or ka.uri.path contains "/proxy/cri/"
    or ka.uri.path contains "/proxy/checkpoint/"

- rule: Kubelet Command Execution via Node Proxy
  desc: >
    A request went through the API server's node proxy to the kubelet's exec, run, attach, port-forward
    or checkpoint endpoints. This bypasses the pods/exec permission and its audit trail: the command is
    only visible here.
  condition: ah_node_proxy and ah_kubelet_execution_path and ah_once
  output: >-
    Kubelet command execution through node proxy (user=%ka.user.name node=%ka.target.name uri=%ka.uri
    decision=%ka.auth.decision code=%ka.response.code source=%ka.sourceip useragent=%ka.useragent)
  priority: CRITICAL
  tags: [k8s, execution, T1609]

# Monitoring agents scrape these kubelet paths through the node proxy all the time.
- macro: ah_kubelet_monitoring_path
  condition: >
    ka.uri.path glob "*/proxy/metrics*" or ka.uri.path glob "*/proxy/stats*" or ka.uri.path glob "*/proxy/healthz*"
    or ka.uri.path glob "*/proxy/spec*"

# Users (full names) that use the node proxy by design (monitoring agents not covered above...).
- list: ah_known_node_proxy_users
  items: []

- rule: Kubelet API Accessed via Node Proxy
  desc: >
    Someone other than the cluster's components used the nodes/proxy subresource to reach a kubelet
    endpoint other than its metrics and health checks (pod lists, logs, configz, debug handlers).
  condition: >
    ah_node_proxy and ah_allowed and not ah_kubelet_monitoring_path
    and not ah_system_identity and not ka.user.name in (ah_known_node_proxy_users) and ah_once
  output: >-
    Kubelet API accessed through node proxy (user=%ka.user.name node=%ka.target.name uri=%ka.uri
    code=%ka.response.code source=%ka.sourceip useragent=%ka.useragent)
  priority: NOTICE
  tags: [k8s, discovery, T1613, T1609]

# ---------------------------------------------------------------------------------------------------
# Workload objects
# ---------------------------------------------------------------------------------------------------

- rule: Job or CronJob Created or Modified
  desc: >
    Someone other than the cluster's controllers created or changed a Job or CronJob. CronJobs are the
    cluster's scheduled tasks: a persistence mechanism that survives pod deletion.
  condition: >
    ka.target.resource in (jobs, cronjobs) and not ka.target.subresource exists
    and ka.verb in (create, update, patch) and not ah_system_identity and ah_applied
  output: >-
    Job or CronJob created or modified (user=%ka.user.name verb=%ka.verb resource=%ka.target.resource
    name=%ka.target.name ns=%ka.target.namespace source=%ka.sourceip useragent=%ka.useragent)
  priority: NOTICE
  tags: [k8s, persistence, T1053.007]

- rule: DaemonSet Created
  desc: >
    Someone other than the cluster's controllers created a DaemonSet: a pod on every node, the widest
    foothold a workload can get.
  condition: >
    ka.target.resource = daemonsets and not ka.target.subresource exists
    and ka.verb = create and not ah_system_identity and ah_applied
  output: >-
    DaemonSet created (user=%ka.user.name name=%ka.target.name ns=%ka.target.namespace
    source=%ka.sourceip useragent=%ka.useragent)
  priority: NOTICE
  tags: [k8s, persistence, T1610]

- rule: Workload Changed
  desc: >
    Audit trail: someone other than the cluster's controllers created, changed or deleted a pod,
    Deployment, DaemonSet, StatefulSet, ReplicaSet, Job or CronJob (patches included: that is how
    sidecars are injected into running Deployments).
  condition: >
    ah_workload_object and ka.verb in (ah_write_verbs) and not ah_system_identity and ah_applied
  output: >-
    Workload changed (user=%ka.user.name verb=%ka.verb resource=%ka.target.resource name=%ka.target.name
    ns=%ka.target.namespace source=%ka.sourceip useragent=%ka.useragent)
  priority: INFO
  tags: [k8s, audit-trail, T1610]

- rule: Node Created by Non-Node Identity
  desc: >
    A Node object was created by something other than a kubelet registering itself. A fake node
    attracts pods (and with them their secrets and tokens) to a machine the attacker controls.
  condition: >
    ka.target.resource = nodes and not ka.target.subresource exists and ka.verb = create
    and not ka.user.name startswith "system:node:" and not ah_system_identity and ah_applied
  output: >-
    Node created by non-node identity (user=%ka.user.name node=%ka.target.name source=%ka.sourceip
    useragent=%ka.useragent)
  priority: WARNING
  tags: [k8s, persistence, T1078, T1552.007]
"""#),
        RuleFile(path: "<builtin>/30-rbac.yaml", text: #"""
# AuditHound default ruleset: RBAC, service accounts, tokens and certificates.
#
# Role and binding rules read the request object (audit level Request or more). For a patch the request
# object is the patch: RBAC rules lists are replaced whole by merge patches, so they are still seen; a
# JSON patch is checked against the response object (RequestResponse) where a rule says so.

# RBAC objects (other API groups have CRDs named roles or rolebindings too).
- macro: ah_rbac_role
  condition: ka.target.resource in (ah_rbac_role_resources) and ka.target.apigroup = rbac.authorization.k8s.io

- macro: ah_rbac_binding
  condition: ka.target.resource in (ah_rbac_binding_resources) and ka.target.apigroup = rbac.authorization.k8s.io

# ---------------------------------------------------------------------------------------------------
# Bindings
# ---------------------------------------------------------------------------------------------------

# Roles that grant full control of the cluster.
- list: ah_admin_cluster_roles
  items: [cluster-admin]

- rule: Binding to cluster-admin
  desc: >
    A RoleBinding or ClusterRoleBinding to cluster-admin was created, or subjects were added to one
    (roleRef cannot change, so updates change who holds it). Whoever is bound holds every permission.
  condition: >
    ah_rbac_binding and ka.verb in (create, update, patch) and not ah_system_identity
    and (ka.req.binding.role in (ah_admin_cluster_roles)
         or (ka.verb = patch and ka.target.name in (ah_admin_cluster_roles))) and ah_applied
  output: >-
    Binding to cluster-admin (user=%ka.user.name verb=%ka.verb resource=%ka.target.resource
    binding=%ka.target.name ns=%ka.target.namespace role=%ka.req.binding.role
    subjects=%ka.req.binding.subjects source=%ka.sourceip)
  priority: WARNING
  tags: [k8s, privilege-escalation, T1098.006]

- rule: Binding Grants Access to Anonymous Users
  desc: >
    A role binding names system:anonymous or system:unauthenticated as a subject: whatever the role
    allows, anyone who can reach the API server may now do, without credentials.
  condition: >
    ah_rbac_binding and ka.verb in (create, update, patch) and not ah_system_identity
    and (ka.req.binding.subjects.group_names intersects (system:unauthenticated, system:anonymous)
         or ka.req.binding.subjects.user_names intersects (system:anonymous)) and ah_applied
  output: >-
    Binding grants access to anonymous users (user=%ka.user.name verb=%ka.verb resource=%ka.target.resource
    binding=%ka.target.name ns=%ka.target.namespace role=%ka.req.binding.role
    subjects=%ka.req.binding.subjects source=%ka.sourceip)
  priority: CRITICAL
  tags: [k8s, persistence, T1098.006, T1078.001]

- rule: Binding Grants Access to All Authenticated Users
  desc: >
    A role binding names system:authenticated or system:serviceaccounts as a subject: every
    authenticated identity (on GKE, any Google account) or every service account in the cluster gets
    the role.
  condition: >
    ah_rbac_binding and ka.verb in (create, update, patch) and not ah_system_identity
    and ka.req.binding.subjects.group_names intersects (system:authenticated, system:serviceaccounts) and ah_applied
  output: >-
    Binding grants access to all authenticated users (user=%ka.user.name verb=%ka.verb
    resource=%ka.target.resource binding=%ka.target.name ns=%ka.target.namespace
    role=%ka.req.binding.role subjects=%ka.req.binding.subjects source=%ka.sourceip)
  priority: WARNING
  tags: [k8s, persistence, T1098.006]

- list: ah_admin_like_roles
  items: [cluster-admin, admin, edit]

- rule: Default Service Account Granted Admin Role
  desc: >
    A binding gives a namespace's default service account cluster-admin, admin or edit. Every pod that
    does not name a service account runs as default, so every such pod gets these rights.
  condition: >
    ah_rbac_binding and ka.verb in (create, update, patch) and not ah_system_identity
    and ka.req.binding.subjects.serviceaccount_names intersects (default)
    and ka.req.binding.role in (ah_admin_like_roles) and ah_applied
  output: >-
    Default service account granted admin role (user=%ka.user.name binding=%ka.target.name
    ns=%ka.target.namespace role=%ka.req.binding.role
    serviceaccounts=%ka.req.binding.subjects.serviceaccount_ns_names source=%ka.sourceip)
  priority: ERROR
  tags: [k8s, privilege-escalation, T1098.006, T1078.001]

# ---------------------------------------------------------------------------------------------------
# Roles
# ---------------------------------------------------------------------------------------------------

- rule: Role With Wildcard Permissions
  desc: >
    A Role or ClusterRole was created or changed to allow every verb or every resource ('*'). Wildcards
    grant everything, including permissions added to the API later.
  condition: >
    ah_rbac_role and ka.verb in (create, update, patch) and not ah_system_identity
    and (ka.req.role.rules.verbs intersects ("*") or ka.req.role.rules.resources intersects ("*")
         or (not ka.req.role.rules exists and jevt.value[/responseObject/rules] contains '"*"')) and ah_applied
  output: >-
    Role with wildcard permissions (user=%ka.user.name verb=%ka.verb resource=%ka.target.resource
    role=%ka.target.name ns=%ka.target.namespace rules=%ka.req.role.rules source=%ka.sourceip)
  priority: WARNING
  tags: [k8s, privilege-escalation, T1098.006]

# Subresources and resources that are as good as cluster access: running code in pods, talking to
# kubelets, minting tokens, approving certificates.
- list: ah_high_risk_role_resources
  items: [
    pods/exec, pods/attach, pods/portforward, pods/ephemeralcontainers, nodes/proxy,
    serviceaccounts/token, certificatesigningrequests/approval, signers
  ]

- list: ah_rbac_resources
  items: [roles, clusterroles, rolebindings, clusterrolebindings]

# The rules' verbs and resources are read as two flat lists (as Falco does): a role granting
# `create secrets` and `get configmaps` counts as secrets + get.
- macro: ah_high_risk_role_rules
  condition: >
    ka.req.role.rules.verbs intersects (escalate, bind, impersonate)
    or ka.req.role.rules.resources intersects (ah_high_risk_role_resources)
    or (ka.req.role.rules.resources intersects (secrets) and ka.req.role.rules.verbs intersects (get, list, watch))
    or (ka.req.role.rules.resources intersects (ah_rbac_resources)
        and ka.req.role.rules.verbs intersects (create, update, patch))

- rule: Role Grants High-Risk Permissions
  desc: >
    A Role or ClusterRole was created or changed to grant a permission that leads to more: escalate,
    bind or impersonate; exec, attach or port-forward into pods; the kubelet API (nodes/proxy);
    minting service-account tokens; approving certificates; reading secrets; writing RBAC objects.
  condition: >
    ah_rbac_role and ka.verb in (create, update, patch) and not ah_system_identity
    and ah_high_risk_role_rules and ah_applied
  output: >-
    Role grants high-risk permissions (user=%ka.user.name verb=%ka.verb resource=%ka.target.resource
    role=%ka.target.name ns=%ka.target.namespace verbs=%ka.req.role.rules.verbs
    resources=%ka.req.role.rules.resources source=%ka.sourceip)
  priority: WARNING
  tags: [k8s, privilege-escalation, T1098.006]

- rule: ClusterRole With Write Permissions Created
  desc: >
    A ClusterRole allowing create, update, patch or delete was created. Operators install these, so
    this is a notice; it shows who can now change objects across every namespace.
  condition: >
    ka.target.resource = clusterroles and ka.verb = create and not ah_system_identity
    and ka.req.role.rules.verbs intersects (create, update, patch, delete, deletecollection) and ah_applied
  output: >-
    ClusterRole with write privileges created (user=%ka.user.name role=%ka.target.name
    verbs=%ka.req.role.rules.verbs resources=%ka.req.role.rules.resources source=%ka.sourceip)
  priority: NOTICE
  tags: [k8s, persistence, T1098.006]

- rule: System Role or Binding Modified or Deleted
  desc: >
    Someone other than the cluster's components changed or deleted a built-in role or binding (names
    starting system: or eks:). Weakening them breaks the cluster; strengthening them is a quiet way to
    grant rights that reviews overlook.
  condition: >
    (ah_rbac_role or ah_rbac_binding) and ka.verb in (update, patch, delete)
    and (ka.target.name startswith "system:" or ka.target.name startswith "eks:")
    and not ah_system_identity and ah_applied
  output: >-
    System role or binding modified or deleted (user=%ka.user.name verb=%ka.verb resource=%ka.target.resource
    name=%ka.target.name ns=%ka.target.namespace source=%ka.sourceip)
  priority: WARNING
  tags: [k8s, privilege-escalation, T1098.006]

# Service accounts that manage RBAC by design (GitOps controllers, operator managers). Full user names.
- list: ah_trusted_rbac_managers
  items: [
    system:serviceaccount:argocd:argocd-application-controller,
    system:serviceaccount:flux-system:kustomize-controller, system:serviceaccount:flux-system:helm-controller,
    system:serviceaccount:olm:olm-operator-serviceaccount
  ]

- rule: Service Account Changed RBAC
  desc: >
    A workload's service account created, changed or deleted a role or binding. Apart from GitOps and
    operator managers, workloads do not manage RBAC; a token that does is escalating or persisting.
  condition: >
    (ah_rbac_role or ah_rbac_binding) and ka.verb in (ah_write_verbs)
    and ah_service_account and not ah_system_identity and not ka.user.name in (ah_trusted_rbac_managers) and ah_applied
  output: >-
    Service account changed RBAC (user=%ka.user.name verb=%ka.verb resource=%ka.target.resource
    name=%ka.target.name ns=%ka.target.namespace source=%ka.sourceip)
  priority: NOTICE
  tags: [k8s, privilege-escalation, T1098.006]

- rule: RBAC Role Changed
  desc: Audit trail of Roles and ClusterRoles created, changed or deleted by anyone but the cluster's components.
  condition: ah_rbac_role and ka.verb in (ah_write_verbs) and not ah_system_identity and ah_applied
  output: >-
    RBAC role changed (user=%ka.user.name verb=%ka.verb resource=%ka.target.resource name=%ka.target.name
    ns=%ka.target.namespace source=%ka.sourceip)
  priority: INFO
  tags: [k8s, audit-trail, T1098.006]

- rule: RBAC Binding Changed
  desc: Audit trail of RoleBindings and ClusterRoleBindings created, changed or deleted by anyone but the cluster's components.
  condition: ah_rbac_binding and ka.verb in (ah_write_verbs) and not ah_system_identity and ah_applied
  output: >-
    RBAC binding changed (user=%ka.user.name verb=%ka.verb resource=%ka.target.resource name=%ka.target.name
    ns=%ka.target.namespace role=%ka.req.binding.role subjects=%ka.req.binding.subjects source=%ka.sourceip)
  priority: INFO
  tags: [k8s, audit-trail, T1098.006]

# ---------------------------------------------------------------------------------------------------
# Certificates, tokens and service accounts
# ---------------------------------------------------------------------------------------------------

- rule: Certificate Signing Request Approved
  desc: >
    Someone other than the cluster's components approved a certificate signing request. An approved
    client certificate is a credential that RBAC changes and token revocation do not touch, valid until
    it expires.
  condition: >
    ka.target.resource = certificatesigningrequests and ka.target.subresource = approval
    and ka.verb in (update, patch) and not ah_system_identity and ah_applied
  output: >-
    Certificate signing request approved (user=%ka.user.name csr=%ka.target.name source=%ka.sourceip
    useragent=%ka.useragent)
  priority: WARNING
  tags: [k8s, persistence, T1649, T1098]

- rule: Certificate Signing Request Created
  desc: >
    Someone other than a node or the cluster's components asked for a certificate. With the
    kube-apiserver-client signer, an approved request is a client credential for any user name.
  condition: >
    ka.target.resource = certificatesigningrequests and not ka.target.subresource exists
    and ka.verb = create and not ah_system_identity and ah_applied
  output: >-
    Certificate signing request created (user=%ka.user.name csr=%ka.target.name
    signer=%jevt.value[/requestObject/spec/signerName] usages=%jevt.value[/requestObject/spec/usages]
    source=%ka.sourceip)
  priority: NOTICE
  tags: [k8s, persistence, T1649]

# Users (full names) that mint service-account tokens by design.
- list: ah_trusted_token_requesters
  items: []

- rule: Service Account Token Requested
  desc: >
    Someone other than a kubelet or the cluster's components minted a token for a service account
    (TokenRequest API, kubectl create token). The token acts as the service account wherever it goes.
  condition: >
    ka.target.resource = serviceaccounts and ka.target.subresource = token
    and ka.verb = create and not ah_system_identity and not ka.user.name in (ah_trusted_token_requesters) and ah_applied
  output: >-
    Service account token requested (user=%ka.user.name serviceaccount=%ka.target.name
    ns=%ka.target.namespace source=%ka.sourceip useragent=%ka.useragent)
  priority: WARNING
  tags: [k8s, credential-access, T1528]

- rule: Service Account Created in System Namespace
  desc: >
    Someone other than the cluster's components created a service account in kube-system, kube-public or
    kube-node-lease, where it blends in with the components' own accounts.
  condition: >
    ka.target.resource = serviceaccounts and not ka.target.subresource exists
    and ka.verb = create and ka.target.namespace in (ah_system_namespaces) and not ah_system_identity and ah_applied
  output: >-
    Service account created in system namespace (user=%ka.user.name serviceaccount=%ka.target.name
    ns=%ka.target.namespace source=%ka.sourceip)
  priority: WARNING
  tags: [k8s, persistence, T1136]

- rule: Service Account Created or Deleted
  desc: Audit trail of service accounts created or deleted by anyone but the cluster's components.
  condition: >
    ka.target.resource = serviceaccounts and not ka.target.subresource exists
    and ka.verb in (create, delete, deletecollection) and not ah_system_identity and ah_applied
  output: >-
    Service account created or deleted (user=%ka.user.name verb=%ka.verb serviceaccount=%ka.target.name
    ns=%ka.target.namespace source=%ka.sourceip)
  priority: INFO
  tags: [k8s, audit-trail, T1136]

- rule: EKS aws-auth ConfigMap Changed
  desc: >
    The aws-auth ConfigMap in kube-system was changed. On EKS it maps IAM roles and users to Kubernetes
    users and groups: one line there makes an AWS identity a cluster administrator.
  condition: >
    ka.target.resource = configmaps and ka.target.namespace = kube-system
    and ka.target.name = aws-auth and ka.verb in (create, update, patch, delete) and not ah_system_identity and ah_applied
  output: >-
    EKS aws-auth ConfigMap changed (user=%ka.user.name verb=%ka.verb source=%ka.sourceip
    useragent=%ka.useragent)
  priority: WARNING
  tags: [k8s, persistence, T1098]
"""#),
        RuleFile(path: "<builtin>/40-secrets-config.yaml", text: #"""
# AuditHound default ruleset: secrets and configuration.
#
# Secret rules only need the Metadata audit level: never log secrets at Request or RequestResponse
# (rules/audit-policy.yaml keeps them at Metadata).

# Controllers and operators that read secrets by design (full user names). Adjust to where you install
# them; these are the charts' default namespaces.
- list: ah_trusted_secret_readers
  items: [
    system:serviceaccount:cert-manager:cert-manager, system:serviceaccount:cert-manager:cert-manager-cainjector,
    system:serviceaccount:flux-system:kustomize-controller, system:serviceaccount:flux-system:helm-controller,
    system:serviceaccount:flux-system:source-controller,
    system:serviceaccount:argocd:argocd-application-controller, system:serviceaccount:argocd:argocd-server,
    system:serviceaccount:argocd:argocd-repo-server,
    system:serviceaccount:external-secrets:external-secrets,
    system:serviceaccount:trivy-system:trivy-operator,
    system:serviceaccount:ingress-nginx:ingress-nginx,
    system:serviceaccount:kyverno:kyverno-admission-controller, system:serviceaccount:kyverno:kyverno-background-controller,
    system:serviceaccount:gatekeeper-system:gatekeeper-admin,
    system:serviceaccount:istio-system:istiod,
    system:serviceaccount:monitoring:prometheus-operator, system:serviceaccount:velero:velero
  ]

# Helm 3 keeps releases in secrets named sh.helm.release.v1.<release>.v<n> and lists them with the
# label selector owner=helm.
- macro: ah_helm_release_secret
  condition: >
    ka.target.name startswith "sh.helm.release.v1." or ka.uri.param[labelSelector] contains "owner=helm"

- rule: Secret Read by Non-System Identity
  desc: >
    A person or a workload's service account (not a cluster component, not a known controller) read
    secrets (get or list; watches are controllers' long-lived informers). Secrets hold tokens, keys and
    passwords: in an incident, this is the list of what was taken.
  condition: >
    ka.target.resource = secrets and ka.verb in (get, list) and ah_succeeded
    and not ah_system_identity and not ka.user.name in (ah_trusted_secret_readers) and not ah_helm_release_secret and ah_once
  output: >-
    Secret read (user=%ka.user.name verb=%ka.verb secret=%ka.target.name ns=%ka.target.namespace
    source=%ka.sourceip useragent=%ka.useragent)
  priority: NOTICE
  tags: [k8s, credential-access, T1552.007]

- rule: Secrets Listed Across Cluster or in kube-system
  desc: >
    Someone listed the secrets of every namespace (GET /api/v1/secrets) or of kube-system, where the
    components' credentials live: a bulk grab rather than an application reading its own secret.
  condition: >
    ka.target.resource = secrets and ka.verb = list and ah_succeeded
    and (not ka.target.namespace exists or ka.target.namespace in (ah_system_namespaces))
    and not ah_system_identity and not ka.user.name in (ah_trusted_secret_readers) and not ah_helm_release_secret and ah_once
  output: >-
    Secrets listed across cluster or in system namespace (user=%ka.user.name ns=%ka.target.namespace
    uri=%ka.uri source=%ka.sourceip useragent=%ka.useragent)
  priority: WARNING
  tags: [k8s, credential-access, T1552.007]

- rule: Secret Read Denied
  desc: >
    A person or a workload was refused a secret. Repeated denials are a stateful rule; a single one is
    already worth a look when it comes from a service account.
  condition: >
    ka.target.resource = secrets and ka.verb in (ah_read_verbs) and ah_denied
    and not ah_system_identity and ah_once
  output: >-
    Secret read denied (user=%ka.user.name verb=%ka.verb secret=%ka.target.name ns=%ka.target.namespace
    reason=%ka.auth.reason source=%ka.sourceip useragent=%ka.useragent)
  priority: NOTICE
  tags: [k8s, credential-access, T1552.007]

- rule: Secret Changed
  desc: Audit trail of secrets created, changed or deleted by anyone but the cluster's components.
  condition: >
    ka.target.resource = secrets and ka.verb in (ah_write_verbs) and not ah_system_identity
    and not ah_helm_release_secret and ah_applied
  output: >-
    Secret changed (user=%ka.user.name verb=%ka.verb secret=%ka.target.name ns=%ka.target.namespace
    source=%ka.sourceip)
  priority: INFO
  tags: [k8s, audit-trail, T1552.007]

# Credential-looking text in a ConfigMap's data (keys or values), case-insensitive.
- macro: ah_configmap_has_credentials
  condition: >
    ka.req.configmap.obj icontains "aws_access_key_id" or ka.req.configmap.obj icontains "aws-access-key-id"
    or ka.req.configmap.obj icontains "aws_secret_access_key" or ka.req.configmap.obj icontains "aws-secret-access-key"
    or ka.req.configmap.obj contains AKIA or ka.req.configmap.obj icontains "password"
    or ka.req.configmap.obj icontains "passwd" or ka.req.configmap.obj icontains "passphrase"
    or ka.req.configmap.obj icontains "client_secret" or ka.req.configmap.obj icontains "api_key"
    or ka.req.configmap.obj icontains "apikey" or ka.req.configmap.obj contains "PRIVATE KEY-----"

- rule: ConfigMap With Credentials
  desc: >
    A ConfigMap was created or changed with data that looks like credentials (cloud access keys,
    passwords, API keys, private keys). ConfigMaps are readable by far more identities than secrets and
    are not encrypted at rest.
  condition: >
    ka.target.resource = configmaps and ka.verb in (create, update, patch)
    and ah_configmap_has_credentials and ah_applied
  output: >-
    ConfigMap with credentials (user=%ka.user.name verb=%ka.verb configmap=%ka.req.configmap.name
    ns=%ka.target.namespace source=%ka.sourceip)
  priority: WARNING
  tags: [k8s, credential-access, T1552.001]

- list: ah_dns_configmaps
  items: [coredns, kube-dns, coredns-custom]

- rule: Cluster DNS Configuration Changed
  desc: >
    Someone other than the cluster's components changed or deleted the CoreDNS / kube-dns
    configuration. Rewriting cluster DNS sends traffic meant for a service, or for an external
    domain, to the attacker.
  condition: >
    ka.target.resource = configmaps and ka.target.namespace = kube-system
    and ka.target.name in (ah_dns_configmaps) and ka.verb in (update, patch, delete) and not ah_system_identity and ah_applied
  output: >-
    Cluster DNS configuration changed (user=%ka.user.name verb=%ka.verb configmap=%ka.target.name
    source=%ka.sourceip useragent=%ka.useragent)
  priority: WARNING
  tags: [k8s, persistence, T1557]

- rule: ConfigMap Created or Deleted
  desc: Audit trail of ConfigMaps created or deleted by anyone but the cluster's components.
  condition: >
    ka.target.resource = configmaps and ka.verb in (create, delete, deletecollection)
    and not ah_system_identity and ah_applied
  output: >-
    ConfigMap created or deleted (user=%ka.user.name verb=%ka.verb configmap=%ka.target.name
    ns=%ka.target.namespace source=%ka.sourceip)
  priority: INFO
  tags: [k8s, audit-trail, T1552.001]
"""#),
        RuleFile(path: "<builtin>/50-cluster.yaml", text: #"""
# AuditHound default ruleset: admission control, exposure, defense evasion and destructive changes.

# ---------------------------------------------------------------------------------------------------
# Admission control
# ---------------------------------------------------------------------------------------------------

- list: ah_admission_resources
  items: [
    mutatingwebhookconfigurations, validatingwebhookconfigurations, validatingadmissionpolicies,
    validatingadmissionpolicybindings, mutatingadmissionpolicies, mutatingadmissionpolicybindings
  ]

# Controllers that keep their own webhook configurations up to date (CA bundle injection, policy
# engines, meshes). Full user names; adjust to where you install them.
- list: ah_webhook_managers
  items: [
    system:serviceaccount:cert-manager:cert-manager-cainjector, system:serviceaccount:cert-manager:cert-manager-webhook,
    system:serviceaccount:kyverno:kyverno-admission-controller, system:serviceaccount:gatekeeper-system:gatekeeper-admin,
    system:serviceaccount:istio-system:istiod, system:serviceaccount:linkerd:linkerd-destination,
    system:serviceaccount:linkerd:linkerd-proxy-injector
  ]

- rule: Admission Webhook Configuration Changed
  desc: >
    A mutating or validating admission webhook configuration, or an admission policy or binding, was
    created, changed or deleted by someone other than the cluster's components or a known manager. A
    mutating webhook sees and can rewrite every object it matches (injecting containers, stealing
    secrets); deleting a validating one switches off a policy engine.
  condition: >
    ka.target.resource in (ah_admission_resources) and ka.verb in (ah_write_verbs)
    and not ah_system_identity and not ka.user.name in (ah_webhook_managers) and ah_applied
  output: >-
    Admission control configuration changed (user=%ka.user.name verb=%ka.verb resource=%ka.target.resource
    name=%ka.target.name source=%ka.sourceip useragent=%ka.useragent)
  priority: WARNING
  tags: [k8s, persistence, T1610, T1562.001]

# ---------------------------------------------------------------------------------------------------
# Exposure
# ---------------------------------------------------------------------------------------------------

- rule: NodePort Service Created
  desc: >
    Someone other than the cluster's components created a NodePort service, or made a service one: the
    port opens on every node's address, outside ingress controllers and cloud firewalls set for load
    balancers.
  condition: >
    ka.target.resource = services and not ka.target.subresource exists
    and ka.verb in (create, update, patch) and ka.req.service.type = NodePort and not ah_system_identity and ah_applied
  output: >-
    NodePort service created (user=%ka.user.name verb=%ka.verb service=%ka.target.name ns=%ka.target.namespace
    ports=%ka.req.service.ports source=%ka.sourceip)
  priority: WARNING
  tags: [k8s, initial-access, T1133]

# Names and namespaces of applications that must not face the internet directly.
- list: ah_sensitive_service_names
  items: [
    kubernetes-dashboard, dashboard-metrics-scraper, centraldashboard, kubeflow-dashboard, argocd-server,
    grafana, prometheus, prometheus-server, prometheus-operated, alertmanager, alertmanager-operated, kibana,
    jenkins, redis, redis-master, postgres, postgresql, mysql, mariadb, mongodb, elasticsearch, etcd,
    jupyter, jupyterhub, vault
  ]

- list: ah_sensitive_app_namespaces
  items: [kubernetes-dashboard, kubeflow]

- rule: Sensitive App Exposed via LoadBalancer
  desc: >
    A LoadBalancer service was created (or a service made one) for an application that should not face
    the internet: the Kubernetes dashboard, Kubeflow, Argo CD, monitoring UIs, databases, etcd, Vault.
  condition: >
    ka.target.resource = services and not ka.target.subresource exists
    and ka.verb in (create, update, patch) and ka.req.service.type = LoadBalancer
    and (ka.target.name in (ah_sensitive_service_names) or ka.target.namespace in (ah_sensitive_app_namespaces)) and ah_applied
  output: >-
    Sensitive application exposed through a load balancer (user=%ka.user.name service=%ka.target.name
    ns=%ka.target.namespace ports=%ka.req.service.ports source=%ka.sourceip)
  priority: WARNING
  tags: [k8s, initial-access, T1133]

- rule: Ingress Without TLS Created
  desc: >
    An Ingress was created without a tls section: its traffic, logins and tokens included, crosses the
    network in clear text (unless TLS ends at an outer load balancer).
  condition: >
    ka.target.resource = ingresses and ka.verb = create
    and jevt.value[/requestObject/spec] exists and not jevt.value[/requestObject/spec/tls] exists and ah_applied
  output: >-
    Ingress without TLS created (user=%ka.user.name ingress=%ka.target.name ns=%ka.target.namespace
    source=%ka.sourceip)
  priority: NOTICE
  tags: [k8s, exposure, T1040]

- rule: Service Created or Deleted
  desc: Audit trail of services created or deleted by anyone but the cluster's components.
  condition: >
    ka.target.resource = services and not ka.target.subresource exists
    and ka.verb in (create, delete, deletecollection) and not ah_system_identity and ah_applied
  output: >-
    Service created or deleted (user=%ka.user.name verb=%ka.verb service=%ka.target.name
    ns=%ka.target.namespace type=%ka.req.service.type source=%ka.sourceip)
  priority: INFO
  tags: [k8s, audit-trail, T1133]

- rule: Namespace Created
  desc: Audit trail of namespaces created by anyone but the cluster's components.
  condition: >
    ka.target.resource = namespaces and not ka.target.subresource exists and ka.verb = create
    and not ah_system_identity and ah_applied
  output: Namespace created (user=%ka.user.name namespace=%ka.target.name source=%ka.sourceip)
  priority: INFO
  tags: [k8s, audit-trail, T1610]

# ---------------------------------------------------------------------------------------------------
# Defense evasion and destruction
# ---------------------------------------------------------------------------------------------------

- rule: Kubernetes Events Deleted
  desc: >
    Someone other than the cluster's components deleted Kubernetes Events, the cluster's short-lived
    record of what happened to pods and nodes: covering tracks.
  condition: >
    ka.target.resource = events and ka.verb in (delete, deletecollection) and not ah_system_identity and ah_applied
  output: >-
    Kubernetes events deleted (user=%ka.user.name verb=%ka.verb event=%ka.target.name ns=%ka.target.namespace
    source=%ka.sourceip useragent=%ka.useragent)
  priority: WARNING
  tags: [k8s, defense-evasion, T1070]

- rule: Namespace Deleted
  desc: >
    Someone other than the cluster's components deleted a namespace, and with it everything in it.
  condition: >
    ka.target.resource = namespaces and not ka.target.subresource exists
    and ka.verb in (delete, deletecollection) and not ah_system_identity and ah_applied
  output: Namespace deleted (user=%ka.user.name namespace=%ka.target.name source=%ka.sourceip useragent=%ka.useragent)
  priority: NOTICE
  tags: [k8s, impact, T1485]

- rule: Collection Deleted
  desc: >
    Someone other than the cluster's components deleted a whole collection of objects in one request
    (deletecollection), for instance every pod or secret of a namespace.
  condition: ka.verb = deletecollection and not ah_system_identity and ah_applied
  output: >-
    Collection deleted (user=%ka.user.name resource=%ka.target.resource ns=%ka.target.namespace uri=%ka.uri
    source=%ka.sourceip useragent=%ka.useragent)
  priority: NOTICE
  tags: [k8s, impact, T1485]

# Namespaces of runtime-security, policy and audit tooling. Adjust to your installs.
- list: ah_security_namespaces
  items: [
    falco, falco-system, kyverno, gatekeeper-system, aqua, twistlock, prisma-cloud, sysdig-agent, sysdig,
    trivy-system, kubescape, neuvector, crowdstrike, falcon-system, wiz, tetragon, stackrox
  ]

- list: ah_security_workload_resources
  items: [daemonsets, deployments, statefulsets]

- rule: Security Tooling Tampered
  desc: >
    Someone other than the cluster's components deleted or changed a runtime-security, policy or
    monitoring workload (or its whole namespace): a classic step before the noisy part of an attack.
  condition: >
    not ah_system_identity
    and ((ka.target.resource in (ah_security_workload_resources) and ka.target.namespace in (ah_security_namespaces)
          and ka.verb in (update, patch, delete, deletecollection) and not ka.target.subresource = status)
         or (ka.target.resource = namespaces and not ka.target.subresource exists
             and ka.target.name in (ah_security_namespaces) and ka.verb = delete)) and ah_applied
  output: >-
    Security tooling tampered with (user=%ka.user.name verb=%ka.verb resource=%ka.target.resource
    subresource=%ka.target.subresource name=%ka.target.name ns=%ka.target.namespace source=%ka.sourceip
    useragent=%ka.useragent)
  priority: WARNING
  tags: [k8s, defense-evasion, T1562.001]

- rule: Audit Configuration Changed
  desc: >
    An API object that controls audit logging was created, changed or deleted: a dynamic audit sink
    (auditregistration.k8s.io, old clusters) or OpenShift's API server audit profile
    (apiservers.config.openshift.io).
  condition: >
    ka.verb in (ah_write_verbs) and not ah_system_identity
    and (ka.target.resource = auditsinks
         or (ka.target.resource = apiservers and ka.target.apigroup = config.openshift.io)) and ah_applied
  output: >-
    Audit configuration changed (user=%ka.user.name verb=%ka.verb resource=%ka.target.resource
    name=%ka.target.name source=%ka.sourceip useragent=%ka.useragent)
  priority: WARNING
  tags: [k8s, defense-evasion, T1562.008]
"""#),
        RuleFile(path: "<builtin>/60-stateful.yaml", text: #"""
# AuditHound default ruleset: stateful rules (bursts, distinct counts, first-seen values, sequences).
#
# Each rule below has an `aggregate:` key (see rules/README.md, "Stateful rules"). Its condition selects
# the events it looks at, as usual; the alert comes only when the aggregate says so: N events per key in a
# window, N distinct values, a value never seen before, or a second step after the first. The file stays
# valid Falco YAML, but Falco does not know `aggregate:` (recent versions report it in their rule schema
# check) and would fire on every matching event: do not load this file into Falco.
#
# Windows are on event time (stageTimestamp). Tune a rule without copying it:
#
#   - rule: Burst of Denied Requests From One Source
#     aggregate: {type: threshold, key: [ka.sourceip], window: 5m, count: 50}
#     override:
#       aggregate: replace
#
# first_seen rules learn silently for their learning period (event time from the first event they see)
# before they alert; `audithound baseline learn PATH... --state FILE` learns from past logs instead, and
# `replay`/`tail` with `--state FILE` start alerting at once.

# ---------------------------------------------------------------------------------------------------
# Bursts of denied requests
# ---------------------------------------------------------------------------------------------------

- rule: Burst of Denied Requests From One Source
  desc: >
    One client address got many authentication failures (401) or authorization denials (403) in a few
    minutes: a credential being guessed, a stolen token being tried against many APIs, or a scanner.
    One alert per source and window; the evidence lists the requests.
  condition: >
    (ka.response.code = 401 and ka.stage in (ResponseStarted, ResponseComplete))
    or (ah_denied and ah_once)
  aggregate:
    type: threshold
    key: [ka.sourceip]
    window: 5m
    count: 20
  output: >-
    Burst of denied requests from one source (source=%ka.sourceip last user=%ka.user.name verb=%ka.verb
    uri=%ka.uri code=%ka.response.code useragent=%ka.useragent)
  priority: WARNING
  tags: [k8s, discovery, T1613, T1110, stateful]

- rule: Burst of Forbidden Requests by One Identity
  desc: >
    One identity was refused many requests in a few minutes. Workloads and people use the API in ways
    their permissions allow; a run of denials is someone (or a stolen token) finding out what is allowed,
    or a broken deployment.
  condition: ah_denied and ah_once and not ah_anonymous
  aggregate:
    type: threshold
    key: [ka.user.name]
    window: 10m
    count: 20
  output: >-
    Burst of forbidden requests by one identity (user=%ka.user.name last verb=%ka.verb
    resource=%ka.target.resource ns=%ka.target.namespace source=%ka.sourceip useragent=%ka.useragent)
  priority: WARNING
  tags: [k8s, discovery, T1613, T1069, stateful]

- rule: Permission Enumeration Across Resource Types
  desc: >
    One identity was refused requests on many different resource types within minutes: probing what it
    may do (typical of a stolen credential or an enumeration tool), not a single misconfigured client.
  condition: ah_denied and ah_once and ka.target.resource exists
  aggregate:
    type: distinct
    key: [ka.user.name]
    window: 10m
    distinct: {field: ka.target.resource, count: 5}
  output: >-
    Permission enumeration across resource types (user=%ka.user.name last verb=%ka.verb
    resource=%ka.target.resource source=%ka.sourceip useragent=%ka.useragent)
  priority: WARNING
  tags: [k8s, discovery, T1613, T1069, stateful]

# ---------------------------------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------------------------------

- rule: Bulk Secret Reads by One Identity
  desc: >
    One identity read (or tried to read) many different secrets one by one within minutes: credential
    harvesting. Failed reads count too: a harvester does not know beforehand what it may read.
  condition: >
    ka.target.resource = secrets and ka.verb = get and ka.target.name exists and ah_once
    and not ah_system_identity and not ka.user.name in (ah_trusted_secret_readers) and not ah_helm_release_secret
  aggregate:
    type: distinct
    key: [ka.user.name]
    window: 10m
    distinct: {field: [ka.target.namespace, ka.target.name], count: 10}
  output: >-
    Bulk secret reads by one identity (user=%ka.user.name last secret=%ka.target.name
    ns=%ka.target.namespace code=%ka.response.code source=%ka.sourceip useragent=%ka.useragent)
  priority: WARNING
  tags: [k8s, credential-access, T1552.007, stateful]

- rule: New Identity Listing Secrets Cluster-Wide
  desc: >
    An identity listed the secrets of all namespaces for the first time (after the learning period):
    operators that need it do so from the day they are installed; an attacker with a fresh foothold does
    so once, early.
  condition: >
    ka.target.resource = secrets and ka.verb = list and not ka.target.namespace exists
    and ah_succeeded and ah_once
  aggregate:
    type: first_seen
    key: [ka.user.name]
    learning: 7d
    forget_after: 90d
  output: >-
    New identity listing secrets cluster-wide (user=%ka.user.name uri=%ka.uri source=%ka.sourceip
    useragent=%ka.useragent)
  priority: WARNING
  tags: [k8s, credential-access, T1552.007, stateful]

# ---------------------------------------------------------------------------------------------------
# New clients and networks for known identities
# ---------------------------------------------------------------------------------------------------

- rule: New User Agent for Service Account
  desc: >
    A service account made a request with a user agent it has not used before. Workloads use one client
    library; a token taken out of a pod and used with kubectl, curl or a script shows up as a new user
    agent. Upgrades change user agents too (the version is part of it): expect a few alerts after them.
    A value seen fewer than 3 times while learning is not learned.
  condition: ah_service_account and ah_once and ka.verb != watch
  aggregate:
    type: first_seen
    key: [ka.user.name, ka.useragent]
    learning: 7d
    forget_after: 30d
    min_observations: 3
  output: >-
    New user agent for service account (user=%ka.user.name useragent=%ka.useragent verb=%ka.verb
    resource=%ka.target.resource ns=%ka.target.namespace source=%ka.sourceip)
  priority: NOTICE
  tags: [k8s, credential-access, T1528, T1078.004, stateful]

- rule: System Identity From New Source Network
  desc: >
    A control-plane component, node or kube-system service account made a request from a network (the
    /16 of the address the API server saw) from which no system identity has made requests before. These
    identities run on the cluster's own nodes and pods; a new network means a stolen node or controller
    credential used from outside.
  condition: ah_system_identity and ah_once and ka.sourceip exists
  aggregate:
    type: first_seen
    key: [ka.sourceip/16]
    learning: 7d
    forget_after: 30d
    min_observations: 3
  output: >-
    System identity from new source network (user=%ka.user.name source=%ka.sourceip verb=%ka.verb
    resource=%ka.target.resource useragent=%ka.useragent)
  priority: WARNING
  tags: [k8s, initial-access, T1078.004, stateful]

- rule: First Exec by User in Namespace
  desc: >
    A user ran a command in a pod of a namespace they have not exec'd into before (after the learning
    period). Engineers exec into the same few namespaces; a first session elsewhere is worth a look.
  condition: ah_exec and ah_allowed and ah_once
  aggregate:
    type: first_seen
    key: [ka.user.name, ka.target.namespace]
    learning: 7d
    forget_after: 60d
  output: >-
    First exec by user in namespace (user=%ka.user.name ns=%ka.target.namespace pod=%ka.target.name
    command=%ka.exec.command source=%ka.sourceip useragent=%ka.useragent)
  priority: NOTICE
  tags: [k8s, execution, T1609, stateful]

# ---------------------------------------------------------------------------------------------------
# Sequences and reconnaissance
# ---------------------------------------------------------------------------------------------------

- rule: RBAC Change Followed by Workload Change
  desc: >
    A person changed a role or a binding and then, within five minutes, created or changed a workload:
    the pattern of granting a service account new rights and starting something that uses them. Service
    accounts and cluster components are left out (GitOps controllers apply RBAC and workloads together
    all day).
  condition: >
    (ah_rbac_role or ah_rbac_binding) and ka.verb in (create, update, patch) and ah_applied
    and not ah_system_identity and not ah_service_account
  aggregate:
    type: sequence
    key: [ka.user.name]
    then: >
      ka.target.resource in (pods, deployments, daemonsets, statefulsets, jobs, cronjobs)
      and not ka.target.subresource exists and ka.verb in (create, update, patch) and ah_applied
    within: 5m
  output: >-
    RBAC change followed by workload change (user=%ka.user.name workload=%ka.target.resource
    name=%ka.target.name ns=%ka.target.namespace verb=%ka.verb source=%ka.sourceip)
  priority: WARNING
  tags: [k8s, privilege-escalation, T1098, T1610, stateful]

- rule: Broad Sparse Reconnaissance
  desc: >
    One identity from one address touched many different API paths and resource types, with both allowed
    and forbidden answers, in few requests within ten minutes: someone exploring what a credential can
    reach. Controllers also touch many paths but in far more requests; the upper bound on requests keeps
    them out. The alert comes when the ten minutes are over.
  condition: ah_once and ka.verb in (get, list) and not ah_system_identity
  aggregate:
    type: distinct
    key: [ka.user.name, ka.sourceip]
    window: 10m
    distinct:
      - {field: ka.uri.path, count: 6}
      - {field: ka.target.resource, count: 4}
      - {field: ka.auth.decision, count: 2}
    max_count: 75
  output: >-
    Broad sparse reconnaissance (user=%ka.user.name source=%ka.sourceip last uri=%ka.uri
    useragent=%ka.useragent)
  priority: NOTICE
  tags: [k8s, discovery, T1613, T1087, stateful]
"""#),
    ]
}

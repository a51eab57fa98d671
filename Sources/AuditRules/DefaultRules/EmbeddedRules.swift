// Generated from rules/*.yaml by `AUDITHOUND_REGENERATE=1 swift test --filter EmbeddedRulesTests`. Do not edit.

/// AuditHound's default ruleset, embedded in the binary (the files of `rules/`, in name order).
public enum DefaultRules {
    public static let files: [RuleFile] = [
        RuleFile(path: "<builtin>/audithound-rules.yaml", text: #"""
# AuditHound default ruleset (first cut; see rules/README.md).
# Falco rule syntax: lists, macros and rules. Every rule reads the k8s_audit source.

- list: audithound_long_running_subresources
  items: [exec, attach, portforward]

- macro: response_done
  condition: ka.stage in (ResponseComplete)

- macro: response_started
  condition: ka.stage in (ResponseStarted, ResponseComplete)

- macro: is_create
  condition: ka.verb = create

- macro: is_pod
  condition: ka.target.resource = pods and not ka.target.subresource exists

- rule: Exec Into Pod
  desc: Someone opened a shell or ran a command in a running container (kubectl exec).
  condition: response_started and ka.target.resource = pods and ka.target.subresource = exec and is_create
  output: Exec into pod (user=%ka.user.name pod=%ka.target.name ns=%ka.target.namespace command=%ka.exec.command source=%ka.sourceip)
  priority: NOTICE
  tags: [k8s, execution, T1609]

- rule: Privileged Pod Created
  desc: A pod with a privileged container (also init and ephemeral containers) was created.
  condition: >
    response_done and is_pod and is_create and
    (ka.req.pod.containers.privileged intersects (true) or
     ka.req.pod.initContainers.privileged intersects (true) or
     ka.req.pod.ephemeralContainers.privileged intersects (true))
  output: Privileged pod created (user=%ka.user.name pod=%ka.resp.name ns=%ka.target.namespace images=%ka.req.pod.containers.image)
  priority: WARNING
  tags: [k8s, privilege-escalation, T1610, T1611]

- rule: Request Forbidden
  desc: Authorization denied a request; the reason says which rule or RBAC binding was missing.
  condition: response_done and ka.auth.decision = forbid
  output: Request forbidden (user=%ka.user.name verb=%ka.verb resource=%ka.target.resource ns=%ka.target.namespace reason=%ka.auth.reason source=%ka.sourceip)
  priority: INFO
  tags: [k8s, discovery, T1613]
"""#),
    ]
}

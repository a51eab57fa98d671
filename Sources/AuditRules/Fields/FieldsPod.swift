import AuditJSON
import AuditInput

// The per-container list fields of a pod: ka.req.pod.containers.*, ka.req.pod.initContainers.* and
// ka.req.pod.ephemeralContainers.*. Each walks requestObject.spec.<list>; an index argument selects one
// container; a container without the value is skipped (except eff_run_as_*, which fall back to the pod).

extension FieldRegistry {
    static func podFields() -> [FieldDefinition] {
        containerFields(list: "containers", label: "containers", noun: "containers", hostPorts: true)
            + containerFields(list: "initContainers", label: "initContainers", noun: "init containers", hostPorts: true)
            + containerFields(list: "ephemeralContainers", label: "ephemeralContainers", noun: "ephemeral containers", hostPorts: false)
    }

    private static func containerFields(list: StaticString, label: String, noun: String, hostPorts: Bool) -> [FieldDefinition] {
        let prefix = "ka.req.pod.\(label)."
        func field(_ suffix: String, _ description: String, _ extract: @escaping FieldExtractor) -> FieldDefinition {
            FieldDefinition(name: prefix + suffix, isList: true, argument: .optionalIndex, level: .request,
                            description: description, extract: extract)
        }
        func securityContext(_ suffix: String, _ key: StaticString, _ what: String) -> FieldDefinition {
            field(suffix, "For a pod, the \(what) of each of its \(noun) (from the container's security context).") { e, argument, out in
                forEachSelected(requestSpec(e)?.member(list), argument) { out.add(optional: path($0, "securityContext", key)) }
            }
        }
        func effective(_ suffix: String, _ key: StaticString, _ what: String) -> FieldDefinition {
            field(suffix, "For a pod, the \(what) each of its \(noun) starts with: the container's securityContext value, else the pod's, else 0.") { e, argument, out in
                let spec = requestSpec(e)
                let podValue = path(spec, "securityContext", key)
                forEachSelected(spec?.member(list), argument) { c in
                    if let v = path(c, "securityContext", key), !v.isNull {
                        out.add(json: v)
                    } else if let podValue, !podValue.isNull {
                        out.add(json: podValue)
                    } else {
                        out.add("0")
                    }
                }
            }
        }
        func joined(_ suffix: String, _ key: StaticString, _ what: String) -> FieldDefinition {
            field(suffix, "For a pod, the \(what) of each of its \(noun), joined with spaces (one entry per container that has one).") { e, argument, out in
                forEachSelected(requestSpec(e)?.member(list), argument) { c in
                    guard let words = c.member(key), words.isArray else { return }
                    out.add(building: { w in
                        var first = true
                        for word in words.elements where !word.isNull {
                            if !first { w.append(UInt8(ascii: " ")) }
                            first = false
                            w.append(json: word)
                        }
                    })
                }
            }
        }

        var fields: [FieldDefinition] = [
            field("name", "For a pod, the names of its \(noun).") { e, argument, out in
                forEachSelected(requestSpec(e)?.member(list), argument) { out.add(optional: $0.member("name")) }
            },
            field("image", "For a pod, the images of its \(noun).") { e, argument, out in
                forEachSelected(requestSpec(e)?.member(list), argument) { out.add(optional: $0.member("image")) }
            },
            field("image.repository", "For a pod, the image repositories of its \(noun): the image without tag and digest (registry ports kept).") { e, argument, out in
                forEachSelected(requestSpec(e)?.member(list), argument) { addRepository($0.member("image"), &out) }
            },
            joined("command", "command", "command"),
            joined("args", "args", "arguments"),
            securityContext("privileged", "privileged", "privileged flag"),
            securityContext("allow_privilege_escalation", "allowPrivilegeEscalation", "allowPrivilegeEscalation flag"),
            securityContext("read_only_fs", "readOnlyRootFilesystem", "readOnlyRootFilesystem flag"),
            securityContext("run_as_user", "runAsUser", "runAsUser"),
            securityContext("run_as_group", "runAsGroup", "runAsGroup"),
            securityContext("proc_mount", "procMount", "procMount type"),
            effective("eff_run_as_user", "runAsUser", "user ID"),
            effective("eff_run_as_group", "runAsGroup", "group ID"),
            field("add_capabilities", "For a pod, the capabilities each of its \(noun) adds: one entry per container, the JSON text of its capabilities.add list (e.g. [\"NET_ADMIN\"]).") { e, argument, out in
                forEachSelected(requestSpec(e)?.member(list), argument) { out.add(optional: path($0, "securityContext", "capabilities", "add")) }
            },
        ]
        if hostPorts {
            fields.append(field("host_port", "For a pod, the ports of its \(noun): each port's hostPort, or its containerPort when it has no hostPort.") { e, argument, out in
                forEachSelected(requestSpec(e)?.member(list), argument) { c in
                    guard let ports = c.member("ports"), ports.isArray else { return }
                    for p in ports.elements {
                        if let host = p.member("hostPort"), !host.isNull {
                            out.add(json: host)
                        } else {
                            out.add(optional: p.member("containerPort"))
                        }
                    }
                }
            })
        }
        return fields
    }
}

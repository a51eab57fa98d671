import AuditJSON
import AuditInput

// Fields read from the request object (audit level Request and up), except the per-container lists.

extension FieldRegistry {
    static func requestFields() -> [FieldDefinition] {
        [
            // MARK: Role bindings
            FieldDefinition(name: "ka.req.binding.subjects", isList: true, level: .request,
                            description: "For a (cluster) role binding, its subjects, each as JSON text.") { e, _, out in
                out.addElements(of: e.requestObject?.member("subjects"))
            },
            FieldDefinition(name: "ka.req.binding.subjects.user_names", isList: true, level: .request,
                            description: "For a (cluster) role binding, the names of its User subjects.") { e, _, out in
                addSubjectNames(e, "User", &out)
            },
            FieldDefinition(name: "ka.req.binding.subjects.serviceaccount_names", isList: true, level: .request,
                            description: "For a (cluster) role binding, the names of its ServiceAccount subjects.") { e, _, out in
                addSubjectNames(e, "ServiceAccount", &out)
            },
            FieldDefinition(name: "ka.req.binding.subjects.serviceaccount_ns_names", isList: true, level: .request,
                            description: "For a (cluster) role binding, its ServiceAccount subjects as namespace:name.") { e, _, out in
                guard let subjects = e.requestObject?.member("subjects"), subjects.isArray else { return }
                for s in subjects.elements {
                    guard let kind = s.member("kind"), kind.stringEquals("ServiceAccount"), let name = s.member("name"), !name.isNull else { continue }
                    let namespace = s.member("namespace")
                    out.add(building: { w in
                        if let namespace, !namespace.isNull { w.append(json: namespace) }
                        w.append(UInt8(ascii: ":"))
                        w.append(json: name)
                    })
                }
            },
            FieldDefinition(name: "ka.req.binding.subjects.group_names", isList: true, level: .request,
                            description: "For a (cluster) role binding, the names of its Group subjects.") { e, _, out in
                addSubjectNames(e, "Group", &out)
            },
            FieldDefinition(name: "ka.req.binding.role", level: .request,
                            description: "For a (cluster) role binding, the name of the role it grants.") { e, _, out in
                out.add(optional: path(e.requestObject, "roleRef", "name"))
            },
            FieldDefinition(name: "ka.req.binding.subject.has_name", argument: .requiredKey, level: .request,
                            description: "Deprecated: for a (cluster) role binding, true if one of its subjects has the given name, else false.") { e, argument, out in
                guard case .key(_, let key) = argument, let subjects = e.requestObject?.member("subjects"), subjects.isArray else { return }
                var found = false
                key.bytes.withUnsafeBytes { k in
                    for s in subjects.elements where s.member("name")?.stringEquals(k) == true {
                        found = true
                        break
                    }
                }
                out.add(found ? "true" : "false")
            },

            // MARK: Config maps
            FieldDefinition(name: "ka.req.configmap.obj", level: .request,
                            description: "For a configmap, its data, as JSON text.") { e, _, out in
                out.add(optional: e.requestObject?.member("data"))
            },

            // MARK: Pods (pod-level settings; per-container lists are elsewhere)
            FieldDefinition(name: "ka.req.container.image", level: .request,
                            description: "Deprecated: the image of the pod's first container.") { e, _, out in
                out.add(optional: requestSpec(e)?.member("containers")?.element(0)?.member("image"))
            },
            FieldDefinition(name: "ka.req.container.image.repository", level: .request,
                            description: "Deprecated: the image repository (no tag, no digest) of the pod's first container.") { e, _, out in
                addRepository(requestSpec(e)?.member("containers")?.element(0)?.member("image"), &out)
            },
            FieldDefinition(name: "ka.req.pod.host_ipc", level: .request,
                            description: "For a pod, its hostIPC flag.") { e, _, out in
                out.add(optional: requestSpec(e)?.member("hostIPC"))
            },
            FieldDefinition(name: "ka.req.pod.host_network", level: .request,
                            description: "For a pod, its hostNetwork flag.") { e, _, out in
                out.add(optional: requestSpec(e)?.member("hostNetwork"))
            },
            FieldDefinition(name: "ka.req.container.host_network", level: .request,
                            description: "Deprecated name of ka.req.pod.host_network.") { e, _, out in
                out.add(optional: requestSpec(e)?.member("hostNetwork"))
            },
            FieldDefinition(name: "ka.req.pod.host_pid", level: .request,
                            description: "For a pod, its hostPID flag.") { e, _, out in
                out.add(optional: requestSpec(e)?.member("hostPID"))
            },
            FieldDefinition(name: "ka.req.container.privileged", level: .request,
                            description: "Deprecated: for a pod, true if any of its (regular) containers is privileged, else false.") { e, _, out in
                guard let containers = requestSpec(e)?.member("containers"), containers.isArray else { return }
                var any = false
                for c in containers.elements where path(c, "securityContext", "privileged")?.boolValue == true {
                    any = true
                    break
                }
                out.add(any ? "true" : "false")
            },
            FieldDefinition(name: "ka.req.pod.run_as_user", level: .request,
                            description: "For a pod, the runAsUser of its pod-level security context.") { e, _, out in
                out.add(optional: path(requestSpec(e), "securityContext", "runAsUser"))
            },
            FieldDefinition(name: "ka.req.pod.run_as_group", level: .request,
                            description: "For a pod, the runAsGroup of its pod-level security context.") { e, _, out in
                out.add(optional: path(requestSpec(e), "securityContext", "runAsGroup"))
            },
            FieldDefinition(name: "ka.req.pod.fs_group", level: .request,
                            description: "For a pod, the fsGroup of its pod-level security context.") { e, _, out in
                out.add(optional: path(requestSpec(e), "securityContext", "fsGroup"))
            },
            FieldDefinition(name: "ka.req.pod.supplemental_groups", isList: true, level: .request,
                            description: "For a pod, the supplementalGroups of its pod-level security context.") { e, _, out in
                out.addElements(of: path(requestSpec(e), "securityContext", "supplementalGroups"))
            },

            // MARK: Volumes
            FieldDefinition(name: "ka.req.pod.volumes.hostpath", isList: true, argument: .optionalIndex, level: .request,
                            description: "For a pod, the host paths of its hostPath volumes.") { e, argument, out in
                forEachSelected(requestSpec(e)?.member("volumes"), argument) { out.add(optional: path($0, "hostPath", "path")) }
            },
            FieldDefinition(name: "ka.req.volume.hostpath", argument: .requiredKey, level: .request,
                            description: "Deprecated: for a pod, true if a hostPath volume uses the given path (a prefix when it ends in *), else false.") { e, argument, out in
                guard case .key(_, let key) = argument, let volumes = requestSpec(e)?.member("volumes"), volumes.isArray else { return }
                var found = false
                key.bytes.withUnsafeBytes { k in
                    let prefix = k.count > 0 && k[k.count - 1] == UInt8(ascii: "*")
                    for v in volumes.elements {
                        guard let p = path(v, "hostPath", "path"), p.isString else { continue }
                        let text = fieldText(p, out.arena)
                        if text.elementsEqual(k) || (prefix && text.starts(with: k[0..<(k.count - 1)])) {
                            found = true
                            break
                        }
                    }
                }
                out.add(found ? "true" : "false")
            },
            FieldDefinition(name: "ka.req.pod.volumes.flexvolume_driver", isList: true, argument: .optionalIndex, level: .request,
                            description: "For a pod, the drivers of its flexVolume volumes.") { e, argument, out in
                forEachSelected(requestSpec(e)?.member("volumes"), argument) { out.add(optional: path($0, "flexVolume", "driver")) }
            },
            FieldDefinition(name: "ka.req.pod.volumes.volume_type", isList: true, argument: .optionalIndex, level: .request,
                            description: "For a pod, the type of each volume (every key of the volume other than name: hostPath, configMap, ...).") { e, argument, out in
                forEachSelected(requestSpec(e)?.member("volumes"), argument) { volume in
                    for (key, _) in volume.members where !key.stringEquals("name") { out.add(json: key) }
                }
            },

            // MARK: Roles
            FieldDefinition(name: "ka.req.role.rules", isList: true, level: .request,
                            description: "For a role or cluster role, its rules, each as JSON text.") { e, _, out in
                out.addElements(of: e.requestObject?.member("rules"))
            },
            FieldDefinition(name: "ka.req.role.rules.apiGroups", isList: true, argument: .optionalIndex, level: .request,
                            description: "For a role or cluster role, the API groups of its rules.") { e, argument, out in
                forEachSelected(e.requestObject?.member("rules"), argument) { out.addElements(of: $0.member("apiGroups")) }
            },
            FieldDefinition(name: "ka.req.role.rules.nonResourceURLs", isList: true, argument: .optionalIndex, level: .request,
                            description: "For a role or cluster role, the non-resource URLs of its rules.") { e, argument, out in
                forEachSelected(e.requestObject?.member("rules"), argument) { out.addElements(of: $0.member("nonResourceURLs")) }
            },
            FieldDefinition(name: "ka.req.role.rules.verbs", isList: true, argument: .optionalIndex, level: .request,
                            description: "For a role or cluster role, the verbs of its rules.") { e, argument, out in
                forEachSelected(e.requestObject?.member("rules"), argument) { out.addElements(of: $0.member("verbs")) }
            },
            FieldDefinition(name: "ka.req.role.rules.resources", isList: true, argument: .optionalIndex, level: .request,
                            description: "For a role or cluster role, the resources of its rules.") { e, argument, out in
                forEachSelected(e.requestObject?.member("rules"), argument) { out.addElements(of: $0.member("resources")) }
            },

            // MARK: Services
            FieldDefinition(name: "ka.req.service.type", level: .request,
                            description: "For a service, its type (ClusterIP, NodePort, LoadBalancer, ExternalName).") { e, _, out in
                out.add(optional: requestSpec(e)?.member("type"))
            },
            FieldDefinition(name: "ka.req.service.ports", isList: true, argument: .optionalIndex, level: .request,
                            description: "For a service, its ports, each as JSON text.") { e, argument, out in
                forEachSelected(requestSpec(e)?.member("ports"), argument) { out.add(json: $0) }
            },
        ]
    }
}

/// Adds the names of the binding subjects of the given kind.
private func addSubjectNames(_ e: AuditEvent, _ kind: StaticString, _ out: inout FieldOutput) {
    guard let subjects = e.requestObject?.member("subjects"), subjects.isArray else { return }
    for s in subjects.elements {
        guard let k = s.member("kind"), k.stringEquals(kind) else { continue }
        out.add(optional: s.member("name"))
    }
}

/// Adds the repository part of an image reference (see ``imageRepository(_:)``).
@inline(__always) func addRepository(_ image: JSONValue?, _ out: inout FieldOutput) {
    guard let image, !image.isNull else { return }
    out.add(imageRepository(fieldText(image, out.arena)))
}

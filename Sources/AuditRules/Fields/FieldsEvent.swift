import AuditJSON
import AuditInput

// Fields read from the event's metadata (present at every audit level), and the response object name.

extension FieldRegistry {
    static func eventFields() -> [FieldDefinition] {
        [
            // MARK: Falco ka.* fields
            FieldDefinition(name: "ka.auditid", access: .member(.auditID), description: "The audit ID that identifies the request (shared by all its stages).") { e, _, out in
                out.add(optional: e.auditID)
            },
            FieldDefinition(name: "ka.stage", access: .member(.stage), description: "The stage the event was written at (RequestReceived, ResponseStarted, ResponseComplete, Panic).") { e, _, out in
                out.add(optional: e.stageValue)
            },
            FieldDefinition(name: "ka.auth.decision", access: .memberKey(.annotations, "authorization.k8s.io/decision"), description: "The authorizer's decision (allow or forbid), from the authorization.k8s.io/decision annotation.") { e, _, out in
                out.add(optional: e.authorizationDecision)
            },
            FieldDefinition(name: "ka.auth.reason", access: .memberKey(.annotations, "authorization.k8s.io/reason"), description: "Why the authorizer decided so, from the authorization.k8s.io/reason annotation.") { e, _, out in
                out.add(optional: e.authorizationReason)
            },
            FieldDefinition(name: "ka.auth.openshift.decision", description: "OpenShift only: the authentication decision of the OpenShift API server extension.") { e, _, out in
                out.add(optional: e.annotations?.member("authentication.openshift.io/decision"))
            },
            FieldDefinition(name: "ka.auth.openshift.username", description: "OpenShift only: the user name the OpenShift authentication was for.") { e, _, out in
                out.add(optional: e.annotations?.member("authentication.openshift.io/username"))
            },
            FieldDefinition(name: "ka.validations.admission.policy.failure", description: "The failure a validating admission policy reported, from its annotation.") { e, _, out in
                out.add(optional: e.annotations?.member("validation.policy.admission.k8s.io/validation_failure"))
            },
            FieldDefinition(name: "ka.security.pod.violations", description: "The Pod Security admission violations reported in audit mode, from its annotation.") { e, _, out in
                out.add(optional: e.annotations?.member("pod-security.kubernetes.io/audit-violations"))
            },
            FieldDefinition(name: "ka.user.name", access: .memberKey(.user, "username"), description: "The name of the user who made the request.") { e, _, out in
                out.add(optional: e.userName)
            },
            FieldDefinition(name: "ka.user.groups", isList: true, description: "The groups of the user who made the request.") { e, _, out in
                out.addElements(of: e.userGroups)
            },
            FieldDefinition(name: "ka.impuser.name", access: .memberKey(.impersonatedUser, "username"), description: "The user the requester impersonated, if any.") { e, _, out in
                out.add(optional: e.impersonatedUserName)
            },
            FieldDefinition(name: "ka.verb", access: .member(.verb), description: "The request verb (get, list, watch, create, update, patch, delete, ...).") { e, _, out in
                out.add(optional: e.verb)
            },
            FieldDefinition(name: "ka.uri", access: .member(.requestURI), description: "The request URI as the client sent it, query included.") { e, _, out in
                out.add(optional: e.requestURI)
            },
            FieldDefinition(name: "ka.target.name", access: .memberKey(.objectRef, "name"), description: "The name of the object the request is about.") { e, _, out in
                out.add(optional: e.name)
            },
            FieldDefinition(name: "ka.target.namespace", access: .memberKey(.objectRef, "namespace"), description: "The namespace of the object the request is about.") { e, _, out in
                out.add(optional: e.namespace)
            },
            FieldDefinition(name: "ka.target.resource", access: .memberKey(.objectRef, "resource"), description: "The resource type the request is about (pods, secrets, ...).") { e, _, out in
                out.add(optional: e.resource)
            },
            FieldDefinition(name: "ka.target.subresource", access: .memberKey(.objectRef, "subresource"), description: "The subresource the request is about (exec, log, status, ...).") { e, _, out in
                out.add(optional: e.subresource)
            },
            FieldDefinition(name: "ka.target.pod.name", level: .requestResponse,
                            description: "For a request on pods (not on a subresource), the pod name from the response object.") { e, _, out in
                guard let resource = e.resource, resource.stringEquals("pods") else { return }
                if let sub = e.subresource, !sub.isNull, !sub.stringEquals("") { return }
                out.add(optional: path(e.responseObject, "metadata", "name"))
            },
            FieldDefinition(name: "ka.req.configmap.name", description: "For a request on a configmap, its name (the target object name).") { e, _, out in
                out.add(optional: e.name)
            },
            FieldDefinition(name: "ka.resp.name", level: .requestResponse, description: "The name of the object in the response.") { e, _, out in
                out.add(optional: path(e.responseObject, "metadata", "name"))
            },
            FieldDefinition(name: "ka.response.code", access: .memberKey(.responseStatus, "code"), description: "The HTTP status code of the response, as text (e.g. 201).") { e, _, out in
                out.add(optional: e.responseCodeValue)
            },
            FieldDefinition(name: "ka.response.reason", access: .memberKey(.responseStatus, "reason"), description: "The machine-readable reason of the response status, mostly present on failures (Forbidden, NotFound, ...).") { e, _, out in
                out.add(optional: e.responseStatus?.member("reason"))
            },
            FieldDefinition(name: "ka.useragent", access: .member(.userAgent), description: "The user agent of the client.") { e, _, out in
                out.add(optional: e.userAgent)
            },
            FieldDefinition(name: "ka.sourceips", isList: true, argument: .optionalIndex,
                            description: "The client addresses: the X-Forwarded-For chain, then the address the API server saw (last).") { e, argument, out in
                forEachSelected(e.sourceIPs, argument) { out.add(json: $0) }
            },
            FieldDefinition(name: "ka.cluster.name", description: "The cluster name, from the non-standard cluster_name annotation some pipelines add.") { e, _, out in
                out.add(optional: e.annotations?.member("cluster_name"))
            },

            // MARK: AuditHound additions
            FieldDefinition(name: "ka.sourceip", description: "AuditHound: the address the API server saw the request come from (the last entry of sourceIPs; earlier entries come from X-Forwarded-For and can be forged).") { e, _, out in
                out.add(optional: e.sourceIP)
            },
            FieldDefinition(name: "ka.level", description: "AuditHound: the audit level the event was logged at (Metadata, Request, RequestResponse).") { e, _, out in
                out.add(optional: e.level)
            },
            FieldDefinition(name: "ka.target.apigroup", description: "AuditHound: the API group of the target resource (empty text for the core group when the API server writes it).") { e, _, out in
                out.add(optional: e.apiGroup)
            },
            FieldDefinition(name: "ka.target.apiversion", description: "AuditHound: the API version of the target resource (v1, v1beta1, ...).") { e, _, out in
                out.add(optional: e.objectAPIVersion)
            },
            FieldDefinition(name: "ka.user.uid", description: "AuditHound: the UID of the user who made the request.") { e, _, out in
                out.add(optional: e.user?.member("uid"))
            },
            FieldDefinition(name: "ka.response.status", description: "AuditHound: the status of the response (Success or Failure), when the API server reports one.") { e, _, out in
                out.add(optional: e.responseStatus?.member("status"))
            },
            FieldDefinition(name: "ka.response.message", description: "AuditHound: the human-readable message of the response status, mostly present on failures.") { e, _, out in
                out.add(optional: e.responseStatus?.member("message"))
            },
        ]
    }
}

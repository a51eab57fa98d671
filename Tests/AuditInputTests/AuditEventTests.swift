import XCTest
import AuditJSON
@testable import AuditInput

final class AuditEventTests: XCTestCase {
    let full = #"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"abc-1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/kube-system/pods?limit=1","verb":"list","user":{"username":"system:serviceaccount:kube-system:x","groups":["system:serviceaccounts","system:authenticated"]},"impersonatedUser":{"username":"eve"},"sourceIPs":["203.0.113.9","10.0.0.7"],"userAgent":"kubectl/v1.30","objectRef":{"resource":"pods","subresource":"log","namespace":"kube-system","name":"p1","apiGroup":"","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"2026-11-23T10:00:00.000001Z","stageTimestamp":"2026-11-23T12:00:00.5+02:00","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed"}}"#

    func withEvents(_ text: String, _ body: ([(AuditEvent, Int)], [(RecordProblem, Int)]) -> Void) {
        let bytes = Array(text.utf8)
        let tape = JSONTape()
        bytes.withUnsafeBytes { raw in
            do {
                try tape.parse(raw)
            } catch {
                XCTFail("parse: \(error)")
                return
            }
            var events: [(AuditEvent, Int)] = []
            var problems: [(RecordProblem, Int)] = []
            forEachAuditEvent(in: tape.root, event: { events.append(($0, $1)) }, problem: { problems.append(($0, $1)) })
            body(events, problems)
        }
    }

    func testCoreFields() {
        withEvents(full) { events, problems in
            XCTAssertTrue(problems.isEmpty)
            XCTAssertEqual(events.count, 1)
            let e = events[0].0
            XCTAssertEqual(events[0].1, 0)
            XCTAssertEqual(e.auditID?.decodedString(), "abc-1")
            XCTAssertEqual(e.stage, .responseComplete)
            XCTAssertEqual(e.level?.decodedString(), "RequestResponse")
            XCTAssertTrue(e.verb!.stringEquals("list"))
            XCTAssertEqual(e.requestURI?.decodedString(), "/api/v1/namespaces/kube-system/pods?limit=1")
            XCTAssertEqual(e.userName?.decodedString(), "system:serviceaccount:kube-system:x")
            XCTAssertEqual(e.userGroups?.count, 2)
            XCTAssertEqual(e.impersonatedUserName?.decodedString(), "eve")
            XCTAssertEqual(e.sourceIP?.decodedString(), "10.0.0.7", "the last sourceIPs entry is the one the API server saw")
            XCTAssertEqual(e.userAgent?.decodedString(), "kubectl/v1.30")
            XCTAssertEqual(e.resource?.decodedString(), "pods")
            XCTAssertEqual(e.subresource?.decodedString(), "log")
            XCTAssertEqual(e.namespace?.decodedString(), "kube-system")
            XCTAssertEqual(e.name?.decodedString(), "p1")
            XCTAssertEqual(e.apiGroup?.decodedString(), "")
            XCTAssertEqual(e.objectAPIVersion?.decodedString(), "v1")
            XCTAssertEqual(e.responseCode, 200)
            XCTAssertEqual(e.authorizationDecision?.decodedString(), "allow")
            XCTAssertEqual(e.authorizationReason?.decodedString(), "RBAC: allowed")
            // 2026-11-23T10:00:00Z = 1795428000 s.
            XCTAssertEqual(e.requestReceivedTime, 1_795_428_000_000_001_000)
            XCTAssertEqual(e.stageTime, 1_795_428_000_500_000_000)
            XCTAssertEqual(e.time, e.stageTime)
        }
    }

    func testV1beta1AndEscapedKeys() {
        let text = #"{"kind":"Event","apiVersion":"audit.k8s.io/v1beta1","auditID":"x","st\u0061ge":"ResponseStarted","verb":"create","timestamp":"2017-01-01T00:00:00Z"}"#
        withEvents(text) { events, _ in
            XCTAssertEqual(events.count, 1)
            XCTAssertEqual(events[0].0.stage, .responseStarted)
            XCTAssertNil(events[0].0.time)
        }
    }

    func testEventListAndArraysSplitIntoItems() {
        let e1 = full, e2 = full.replacingOccurrences(of: "abc-1", with: "abc-2")
        let list = #"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":["# + e1 + "," + e2 + "]}"
        withEvents(list) { events, problems in
            XCTAssertTrue(problems.isEmpty)
            XCTAssertEqual(events.map { $0.0.auditID!.decodedString() }, ["abc-1", "abc-2"])
            XCTAssertEqual(events.map { $0.1 }, [1, 2])
        }
        withEvents("[" + e1 + ",42," + e2 + "]") { events, problems in
            XCTAssertEqual(events.map { $0.1 }, [1, 3])
            XCTAssertEqual(problems.count, 1)
            XCTAssertEqual(problems.first?.0, .notAnAuditEvent)
            XCTAssertEqual(problems.first?.1, 2)
        }
        withEvents("[" + list + "," + e1 + "]") { events, _ in
            XCTAssertEqual(events.count, 3)
        }
    }

    func testProblems() {
        withEvents(#"{"kind":"Event","verb":"get","stage":"ResponseComplete"}"#) { events, problems in
            XCTAssertTrue(events.isEmpty)
            XCTAssertEqual(problems.first?.0, .missingAuditID)
        }
        withEvents(#"{"hello":"world"}"#) { _, problems in XCTAssertEqual(problems.first?.0, .notAnAuditEvent) }
        withEvents(#"{"kind":"Pod","auditID":"x"}"#) { _, problems in XCTAssertEqual(problems.first?.0, .notAnAuditEvent) }
        withEvents(#""just a string""#) { _, problems in XCTAssertEqual(problems.first?.0, .notAnAuditEvent) }
        withEvents(#"{"kind":"EventList","items":{}}"#) { _, problems in XCTAssertEqual(problems.first?.0, .notAnAuditEvent) }
        withEvents(#"{"kind":"Event","auditID":"","verb":"get"}"#) { _, problems in XCTAssertEqual(problems.first?.0, .missingAuditID) }
    }

    func testTimestamps() {
        func t(_ s: String) -> Int64? {
            var b = Array(s.utf8)
            return b.withUnsafeMutableBytes { parseRFC3339Nanos(UnsafeRawBufferPointer($0)) }
        }
        XCTAssertEqual(t("1970-01-01T00:00:00Z"), 0)
        XCTAssertEqual(t("1970-01-01T00:00:01.5Z"), 1_500_000_000)
        XCTAssertEqual(t("1970-01-01T01:00:00+01:00"), 0)
        XCTAssertEqual(t("1969-12-31T23:59:59Z"), -1_000_000_000)
        XCTAssertEqual(t("2000-02-29T00:00:00Z"), 951_782_400_000_000_000)
        XCTAssertEqual(t("2026-11-23T10:00:00.123456789123Z"), 1_795_428_000_123_456_789)
        XCTAssertNil(t("9999-12-31T23:59:59Z"), "out of the Int64 nanosecond range: nil, not a crash")
        XCTAssertNil(t("2026-13-01T00:00:00Z"))
        XCTAssertNil(t("2026-11-23 10:00:00"))
        XCTAssertNil(t("2026-11-23T10:00:00.Z"))
        XCTAssertNil(t("2026-11-23T10:00:00Zjunk"))
    }

    func testTimestampCacheGivesWhatTheParserGives() {
        // A stream where consecutive timestamps share their second (cache hits), change it, change zone,
        // lose or gain the fraction, or are invalid after a valid one with the same prefix.
        let stream = ["2026-11-23T10:00:00.1Z", "2026-11-23T10:00:00.123456Z", "2026-11-23T10:00:00Z", "2026-11-23T10:00:00.Z",
                      "2026-11-23T10:00:00.5z", "2026-11-23T10:00:00.5+01:00", "2026-11-23T10:00:00.5Zjunk", "2026-11-23T10:00:00.5",
                      "2026-11-23T10:00:01.000000001Z", "2026-11-23T10:00:01.9999999999Z", "2026-11-23T10:00:01.9x",
                      "2026-11-23T10:00:01+02:00", "2026-11-23T10:00:01.25Z", "1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59.75Z",
                      "2026-13-23T10:00:01.25Z", "2026-11-23T10:00:01.25Z", "short", "2026-11-23T10:00:01.25Z"]
        var cache = TimestampCache()
        for text in stream + stream.reversed() {
            var b = Array(text.utf8)
            b.withUnsafeMutableBytes { raw in
                let bytes = UnsafeRawBufferPointer(raw)
                XCTAssertEqual(cache.parse(bytes), parseRFC3339Nanos(bytes), text)
            }
        }
    }
}

import AuditLogGen
import Foundation
import XCTest

final class GeneratorTests: XCTestCase {
    // MARK: Helpers

    private func lines(seed: UInt64, events: Int, attackRate: Double = 0, finish: Bool = true) -> [[UInt8]] {
        var gen = AuditLogGenerator(seed: seed, attackRate: attackRate)
        var buffer: [UInt8] = []
        for _ in 0..<events { gen.appendEvent(to: &buffer) }
        if finish { gen.finish(to: &buffer) }
        return split(buffer)
    }

    private func split(_ buffer: [UInt8]) -> [[UInt8]] {
        buffer.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast().map(Array.init)
    }

    private func object(_ line: [UInt8], file: StaticString = #filePath, line l: UInt = #line) throws -> [String: Any] {
        let any = try JSONSerialization.jsonObject(with: Data(line))
        return try XCTUnwrap(any as? [String: Any], "not an object: \(String(decoding: line, as: UTF8.self))",
                             file: file, line: l)
    }

    private func string(_ o: [String: Any], _ path: String...) -> String? {
        var cur: Any? = o
        for p in path { cur = (cur as? [String: Any])?[p] }
        return cur as? String
    }

    // MARK: Determinism

    func testSameSeedGivesSameBytes() {
        var a = AuditLogGenerator(seed: 7, attackRate: 0.01)
        var b = AuditLogGenerator(seed: 7, attackRate: 0.01)
        var ba: [UInt8] = []
        var bb: [UInt8] = []
        a.generate(approximateBytes: 1_000_000, chunkSize: 64 << 10) { ba.append(contentsOf: $0) }
        b.generate(approximateBytes: 1_000_000, chunkSize: 1 << 20) { bb.append(contentsOf: $0) }
        XCTAssertGreaterThanOrEqual(ba.count, 1_000_000)
        XCTAssertEqual(ba, bb)
        XCTAssertEqual(ba.last, UInt8(ascii: "\n"))
    }

    func testAppendEventMatchesGenerate() {
        var gen = AuditLogGenerator(seed: 11)
        var viaAppend: [UInt8] = []
        for _ in 0..<500 { gen.appendEvent(to: &viaAppend) }
        var other = AuditLogGenerator(seed: 11)
        var viaGenerate: [UInt8] = []
        other.generate(approximateBytes: viaAppend.count) { viaGenerate.append(contentsOf: $0) }
        XCTAssertTrue(viaGenerate.starts(with: viaAppend))
    }

    func testDifferentSeedsGiveDifferentBytes() {
        XCTAssertNotEqual(lines(seed: 1, events: 200), lines(seed: 2, events: 200))
    }

    func testChunksEndAtLineBoundaries() {
        var gen = AuditLogGenerator(seed: 3)
        var chunks = 0
        let total = gen.generate(approximateBytes: 300_000, chunkSize: 16 << 10) { chunk in
            chunks += 1
            XCTAssertEqual(chunk.last, UInt8(ascii: "\n"))
            XCTAssertEqual(chunk.first, UInt8(ascii: "{"))
        }
        XCTAssertGreaterThan(chunks, 10)
        XCTAssertGreaterThanOrEqual(total, 300_000)
        XCTAssertEqual(gen.pendingCount, 0)
    }

    // MARK: Shape

    func testEveryLineIsAnAuditEvent() throws {
        let all = lines(seed: 5, events: 3000, attackRate: 0.02)
        XCTAssertGreaterThan(all.count, 3000)
        let prefix = Array(#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":""#.utf8)
        var previous = ""
        var levels = Set<String>()
        for line in all {
            XCTAssertTrue(line.starts(with: prefix), String(decoding: line, as: UTF8.self))
            let e = try object(line)
            let level = try XCTUnwrap(e["level"] as? String)
            levels.insert(level)
            XCTAssertTrue(["Metadata", "Request", "RequestResponse"].contains(level))
            let id = try XCTUnwrap(e["auditID"] as? String)
            XCTAssertEqual(id.count, 36)
            let stage = try XCTUnwrap(e["stage"] as? String)
            XCTAssertTrue(["RequestReceived", "ResponseStarted", "ResponseComplete"].contains(stage))
            XCTAssertNotNil(e["requestURI"] as? String)
            XCTAssertNotNil(e["verb"] as? String)
            XCTAssertNotNil(string(e, "user", "username"))
            XCTAssertNotNil(e["sourceIPs"] as? [String])
            let received = try XCTUnwrap(e["requestReceivedTimestamp"] as? String)
            let stamp = try XCTUnwrap(e["stageTimestamp"] as? String)
            XCTAssertEqual(stamp.count, 27)  // 2026-11-23T10:00:00.123456Z
            XCTAssertTrue(stamp.hasSuffix("Z"))
            XCTAssertLessThanOrEqual(received, stamp)
            XCTAssertLessThanOrEqual(previous, stamp, "stageTimestamp went backwards")
            previous = stamp
            if stage == "RequestReceived" {
                XCTAssertNil(e["responseStatus"])
                XCTAssertNil(e["annotations"])
                XCTAssertNil(e["requestObject"])
            } else {
                XCTAssertNotNil(string(e, "annotations", "authorization.k8s.io/decision"))
                XCTAssertNotNil((e["responseStatus"] as? [String: Any])?["code"] as? Int)
            }
            if level == "Metadata" {
                XCTAssertNil(e["requestObject"])
                XCTAssertNil(e["responseObject"])
            }
            if level != "RequestResponse" { XCTAssertNil(e["responseObject"]) }
        }
        XCTAssertEqual(levels, ["Metadata", "Request", "RequestResponse"])
        XCTAssertTrue(previous.hasPrefix("2026-11-23T10:"))
    }

    func testStagePairsShareAuditIDs() throws {
        var stages: [String: [(String, String, String)]] = [:]
        for line in lines(seed: 9, events: 4000, attackRate: 0.01) {
            let e = try object(line)
            let id = try XCTUnwrap(e["auditID"] as? String)
            let key = "\(e["verb"] ?? "") \(e["requestURI"] ?? "") \(string(e, "user", "username") ?? "")"
            stages[id, default: []].append((try XCTUnwrap(e["stage"] as? String), key,
                                            try XCTUnwrap(e["requestReceivedTimestamp"] as? String)))
        }
        var pairs = 0
        var streams = 0
        for (id, list) in stages {
            let names = list.map(\.0)
            XCTAssertEqual(names.last, "ResponseComplete", id)
            XCTAssertEqual(Set(names).count, names.count, "duplicate stage for \(id)")
            XCTAssertEqual(Set(list.map(\.1)).count, 1, "stages of \(id) describe different requests")
            XCTAssertEqual(Set(list.map(\.2)).count, 1, "stages of \(id) disagree on the receive time")
            if names.contains("RequestReceived") { pairs += 1 }
            if names.contains("ResponseStarted") { streams += 1 }
        }
        XCTAssertGreaterThan(pairs, 50)
        XCTAssertGreaterThan(streams, 50)
    }

    // MARK: Attacks

    func testAttacksAbsentWhenDisabled() throws {
        let all = lines(seed: 21, events: 6000)
        let text = all.map { String(decoding: $0, as: UTF8.self) }
        for t in text {
            XCTAssertFalse(t.contains(AttackScenario.auditIDPrefix))
            for needle in [#""privileged":true"#, #""hostNetwork":true"#, #""hostPID":true"#, #""hostIPC":true"#,
                           #""hostPath""#, #""type":"NodePort""#, #""subresource":"exec""#, #""subresource":"attach""#,
                           #""subresource":"portforward""#, #""subresource":"ephemeralcontainers""#,
                           "aws_access_key_id", #""name":"cluster-admin"}"#, "mutatingwebhookconfigurations"] {
                XCTAssertFalse(t.contains(needle), "benign traffic contains \(needle)")
            }
        }
        for line in all {
            let e = try object(line)
            if string(e, "user", "username") == "system:anonymous" {
                XCTAssertTrue(["/healthz", "/livez", "/readyz"].contains(e["requestURI"] as? String ?? ""))
            }
        }
        XCTAssertFalse(all.isEmpty)
    }

    func testEveryScenarioIsInjectedWhenEnabled() throws {
        var seen: [AttackScenario: [[String: Any]]] = [:]
        var raw: [AttackScenario: [String]] = [:]
        for line in lines(seed: 13, events: 4000, attackRate: 0.03) {
            let e = try object(line)
            let id = try XCTUnwrap(e["auditID"] as? String)
            guard let s = AttackScenario.scenario(forAuditID: id) else { continue }
            seen[s, default: []].append(e)
            raw[s, default: []].append(String(decoding: line, as: UTF8.self))
        }
        XCTAssertEqual(Set(seen.keys), Set(AttackScenario.allCases))

        let exec = try XCTUnwrap(seen[.execIntoPod])
        XCTAssertTrue(exec.contains { $0["stage"] as? String == "ResponseStarted" && string($0, "objectRef", "subresource") == "exec" })
        XCTAssertTrue(raw[.execIntoPod]!.allSatisfy { $0.contains(#"exec?command=sh\u0026command=-c\u0026command="#) })

        XCTAssertTrue(raw[.privilegedPod]!.contains { $0.contains(#""securityContext":{"privileged":true}"#) })
        XCTAssertTrue(raw[.sensitiveHostPathMount]!.contains { $0.contains(#""hostPath":{"path":"/""#) })
        XCTAssertTrue(raw[.hostNetworkPod]!.contains { $0.contains(#""hostNetwork":true"#) })
        XCTAssertTrue(raw[.nodePortService]!.contains { $0.contains(#""type":"NodePort""#) })
        XCTAssertTrue(raw[.clusterAdminBinding]!.contains { $0.contains(#""kind":"ClusterRole","name":"cluster-admin""#) })
        XCTAssertTrue(raw[.awsKeyInConfigMap]!.contains { $0.contains("aws_access_key_id") })

        let anonymous = try XCTUnwrap(seen[.anonymousRequestAllowed]?.first)
        XCTAssertEqual(string(anonymous, "user", "username"), "system:anonymous")
        XCTAssertEqual(string(anonymous, "annotations", "authorization.k8s.io/decision"), "allow")

        let burst = try XCTUnwrap(seen[.forbiddenBurst])
        let forbidden = burst.filter { string($0, "annotations", "authorization.k8s.io/decision") == "forbid" }
        XCTAssertGreaterThanOrEqual(forbidden.count, 20)
        XCTAssertEqual(Set(forbidden.map { ($0["sourceIPs"] as? [String])?.first ?? "" }).count, 1)
        XCTAssertTrue(forbidden.allSatisfy { ($0["responseStatus"] as? [String: Any])?["code"] as? Int == 403 })

        let harvest = try XCTUnwrap(seen[.secretHarvest])
        let gets = harvest.filter { $0["verb"] as? String == "get" && string($0, "objectRef", "resource") == "secrets" }
        let firstOccurrence = gets.filter { ($0["auditID"] as? String ?? "").hasPrefix("a77ac4e0-000e-4000-8000-00000000") }
        XCTAssertEqual(Set(firstOccurrence.map { "\(string($0, "objectRef", "namespace")!)/\(string($0, "objectRef", "name")!)" }).count, 20)
        XCTAssertEqual(Set(gets.map { string($0, "user", "username") ?? "" }).count, 1)
    }

    func testInjectAndStandaloneScenarios() throws {
        var gen = AuditLogGenerator(seed: 4)
        var buffer: [UInt8] = []
        for _ in 0..<10 { gen.appendEvent(to: &buffer) }
        gen.inject(.mutatingWebhook)
        for _ in 0..<200 { gen.appendEvent(to: &buffer) }
        gen.finish(to: &buffer)
        let ids = try split(buffer).map { try XCTUnwrap(try object($0)["auditID"] as? String) }
        XCTAssertTrue(ids.contains { AttackScenario.scenario(forAuditID: $0) == .mutatingWebhook })
        XCTAssertEqual(gen.attacksScheduled, 1)

        for scenario in AttackScenario.allCases {
            let events = scenario.events(seed: 2, occurrence: 1)
            XCTAssertFalse(events.isEmpty, scenario.name)
            XCTAssertEqual(events, scenario.events(seed: 2, occurrence: 1), "\(scenario.name) is not deterministic")
            for e in events {
                XCTAssertNotEqual(e.last, UInt8(ascii: "\n"))
                let o = try object(e)
                XCTAssertEqual(AttackScenario.scenario(forAuditID: o["auditID"] as? String ?? ""), scenario)
            }
        }
        XCTAssertNil(AttackScenario.scenario(forAuditID: "f893a2ee-fb32-455e-b1c1-8690ee42c90b"))
    }
}

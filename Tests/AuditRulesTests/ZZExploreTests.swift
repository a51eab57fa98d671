import XCTest
import AuditJSON
import AuditInput
import AuditLogGen
@testable import AuditRules

final class ZZExploreTests: XCTestCase {
    func testExplore() throws {
        guard let set = DefaultRuleSet.ruleSet() else { return }
        var gen = AuditLogGenerator(seed: 7)
        var buf: [UInt8] = []
        for _ in 0..<60000 { gen.appendEvent(to: &buf) }
        var counts: [String: Int] = [:]
        for line in buf.split(separator: UInt8(ascii: "\n")) {
            let s = String(decoding: line, as: UTF8.self)
            let fired = firedRules(s, ruleSet: set)
            if fired.isEmpty { continue }
            let o = try JSONSerialization.jsonObject(with: Data(line)) as! [String: Any]
            let u = (o["user"] as? [String: Any])?["username"] as? String ?? "-"
            let ref = o["objectRef"] as? [String: Any] ?? [:]
            let key = "\(fired.sorted()) \(u) \(o["verb"] ?? "") \(ref["resource"] ?? "") \(ref["subresource"] ?? "") \(ref["namespace"] ?? "") \(ref["name"] ?? "")"
            counts[key, default: 0] += 1
        }
        for (k, v) in counts.sorted(by: { $0.value > $1.value }).prefix(400) { print("BG \(v) \(k)") }
    }
}

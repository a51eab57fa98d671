import Foundation
import XCTest
@testable import AuditRules

/// Keeps `Sources/AuditRules/DefaultRules/EmbeddedRules.swift` (the ruleset built into the binary) equal to
/// the files of `rules/`, and checks that the default ruleset loads cleanly.
///
/// Run `AUDITHOUND_REGENERATE=1 swift test --filter EmbeddedRulesTests` after editing `rules/*.yaml` to
/// rewrite EmbeddedRules.swift.
final class EmbeddedRulesTests: XCTestCase {
    /// The package root, from this file's path (…/Tests/AuditRulesTests/EmbeddedRulesTests.swift).
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let rulesDirectory = packageRoot.appendingPathComponent("rules")
    static let generatedFile = packageRoot.appendingPathComponent("Sources/AuditRules/DefaultRules/EmbeddedRules.swift")
    /// Files of rules/ that are not rule files.
    static let notRuleFiles: Set<String> = ["audit-policy.yaml"]
    static let regenerateHint = "run `AUDITHOUND_REGENERATE=1 swift test --filter EmbeddedRulesTests` to regenerate EmbeddedRules.swift"

    /// The rule files of rules/ in load order (byte-wise name order), as embedded: path `<builtin>/NAME`,
    /// text without the final line break.
    static func ruleFilesOnDisk() throws -> [RuleFile] {
        let names = try FileManager.default.contentsOfDirectory(atPath: rulesDirectory.path)
            .filter { ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && !notRuleFiles.contains($0) }
            .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        return try names.map { name in
            var text = try String(contentsOf: rulesDirectory.appendingPathComponent(name), encoding: .utf8)
            if text.hasSuffix("\n") { text.removeLast() }
            return RuleFile(path: "<builtin>/\(name)", text: text)
        }
    }

    /// The Swift source of EmbeddedRules.swift for `files`.
    static func generatedSource(_ files: [RuleFile]) -> String {
        var s = """
        // Generated from rules/*.yaml by `AUDITHOUND_REGENERATE=1 swift test --filter EmbeddedRulesTests`. Do not edit.

        /// AuditHound's default ruleset, embedded in the binary (the files of `rules/`, in name order).
        public enum DefaultRules {
            public static let files: [RuleFile] = [

        """
        for file in files {
            s += "        RuleFile(path: \"\(file.path)\", text: #\"\"\"\n"
            s += file.text
            s += "\n\"\"\"#),\n"
        }
        s += "    ]\n}\n"
        return s
    }

    func testEmbeddedRulesMatchRuleFiles() throws {
        let onDisk = try Self.ruleFilesOnDisk()
        XCTAssertFalse(onDisk.isEmpty, "no rule files found in \(Self.rulesDirectory.path)")
        for file in onDisk {
            // A raw string literal ends at the first """#; a rule file must not contain it.
            XCTAssertFalse(file.text.contains("\"\"\"#"), "\(file.path) contains \"\"\"#, which cannot be embedded")
            XCTAssertFalse(file.text.contains("\r"), "\(file.path) has CR line breaks; use LF only")
        }
        if ProcessInfo.processInfo.environment["AUDITHOUND_REGENERATE"] != nil {
            try Self.generatedSource(onDisk).write(to: Self.generatedFile, atomically: true, encoding: .utf8)
            print("EmbeddedRulesTests: rewrote \(Self.generatedFile.path) from \(onDisk.count) rule file(s); rebuild to use it")
            return
        }
        let embedded = DefaultRules.files
        let embeddedNames = embedded.map(\.path)
        let diskNames = onDisk.map(\.path)
        guard embeddedNames == diskNames else {
            XCTFail("EmbeddedRules.swift holds \(embeddedNames) but rules/ has \(diskNames): \(Self.regenerateHint)")
            return
        }
        for (e, d) in zip(embedded, onDisk) where e.text != d.text {
            let eLines = e.text.split(separator: "\n", omittingEmptySubsequences: false)
            let dLines = d.text.split(separator: "\n", omittingEmptySubsequences: false)
            let first = zip(eLines, dLines).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(eLines.count, dLines.count)
            let shown = first < dLines.count ? String(dLines[first]) : "<end of file>"
            XCTFail("\(d.path) differs from the embedded copy from line \(first + 1) (on disk: \(shown)): \(Self.regenerateHint)")
        }
    }

    func testGeneratedSourceRoundTrips() {
        let files = [RuleFile(path: "<builtin>/a.yaml", text: "- list: x\n  items: [\"a\\b\", 'c']"),
                     RuleFile(path: "<builtin>/b.yaml", text: "# only a comment")]
        let source = Self.generatedSource(files)
        XCTAssertTrue(source.hasPrefix("// Generated from rules/*.yaml"))
        XCTAssertTrue(source.contains("RuleFile(path: \"<builtin>/a.yaml\", text: #\"\"\"\n- list: x\n  items: [\"a\\b\", 'c']\n\"\"\"#),\n"))
        XCTAssertTrue(source.hasSuffix("    ]\n}\n"))
    }

    func testDefaultRulesetLoadsWithoutDiagnostics() {
        let result = RuleCompiler.load(DefaultRules.files)
        let problems = result.diagnostics.filter { $0.severity == .error || $0.severity == .warning }
        XCTAssertTrue(problems.isEmpty, "default ruleset diagnostics:\n" + problems.map(\.description).joined(separator: "\n"))
        XCTAssertNotNil(result.ruleSet)
        XCTAssertGreaterThan(result.ruleSet?.enabledCount ?? 0, 50)
    }

    func testRuleFilesOnDiskLoadWithoutDiagnostics() throws {
        let result = RuleCompiler.load(try Self.ruleFilesOnDisk())
        let problems = result.diagnostics.filter { $0.severity == .error || $0.severity == .warning }
        XCTAssertTrue(problems.isEmpty, "rules/ diagnostics:\n" + problems.map(\.description).joined(separator: "\n"))
    }
}

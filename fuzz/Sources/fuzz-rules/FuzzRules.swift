// Fuzz target: loading a rule file (RuleCompiler.load: YAML, collection, macros, lists, conditions,
// field binding, compilation) from fuzzed text; when it compiles, its rules are evaluated on a few
// sample events and every alert is rendered (text must be terminal-safe, JSON valid).

import AuditJSON
import AuditRules
import FuzzSupport

nonisolated(unsafe) let tape = JSONTape()
nonisolated(unsafe) let checkTape = JSONTape()
let events: [[UInt8]] = sampleEvents.map { Array($0.utf8) }

@_cdecl("fuzz_rules_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, count in
        fuzzOne(String(decoding: UnsafeRawBufferPointer(start: count > 0 ? data : nil, count: count), as: UTF8.self))
        return 0
    }
}

func fuzzOne(_ text: String) {
    let path = "fuzz.yaml"
    let result = RuleCompiler.load([RuleFile(path: path, text: text)])
    for d in result.diagnostics {
        check(d.location.line >= 0 && d.location.column >= 0, "diagnostic at \(d.location)")
        check(!d.description.isEmpty, "empty diagnostic")
    }
    check(result.hasErrors == (result.ruleSet == nil), "rule set present although errors were reported (or the reverse)")
    guard let ruleSet = result.ruleSet else { return }
    let evaluator = RuleEvaluator(ruleSet: ruleSet)
    for event in events {
        event.withUnsafeBytes { bytes in
            _ = renderAlerts(ruleSet: ruleSet, evaluator: evaluator, event: bytes, tape: tape, checkTape: checkTape)
        }
    }
}

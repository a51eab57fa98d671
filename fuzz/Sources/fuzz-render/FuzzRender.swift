// Fuzz target: rendering rule output over a fuzzed event. A fixed rule set names every field in its
// output and exercises every operator; the input is the event JSON. Checks the text alert holds no
// raw control/bidi character and the JSON alert is valid JSON, whatever bytes the event held.

import AuditJSON
import AuditRules
import FuzzSupport

let ruleSet: CompiledRuleSet = {
    let result = RuleCompiler.load([RuleFile(path: "fuzz-render.yaml", text: everyFieldRules())])
    guard let set = result.ruleSet else {
        check(false, "the render target's rules do not load: \(result.diagnostics)")
        fatalError()
    }
    return set
}()
nonisolated(unsafe) let evaluator = RuleEvaluator(ruleSet: ruleSet)
nonisolated(unsafe) let tape = JSONTape(initialCapacity: 64)
nonisolated(unsafe) let checkTape = JSONTape()

@_cdecl("fuzz_render_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    _ = ruleSet
    return runFuzzer(argc, argv) { data, count in
        renderAlerts(ruleSet: ruleSet, evaluator: evaluator, event: UnsafeRawBufferPointer(start: count > 0 ? data : nil, count: count),
                     tape: tape, checkTape: checkTape)
        return 0
    }
}

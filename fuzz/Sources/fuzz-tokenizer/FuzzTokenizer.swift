// Fuzz target: the JSON tokenizer. Parses the input, compares accept/reject and the node count
// with a plain reference validator, and walks every value through every view (decoding, lookups,
// JSON Pointers, numbers).

import AuditJSON
import FuzzSupport

let maxDepth = 64
nonisolated(unsafe) let tape = JSONTape(maxDepth: maxDepth, initialCapacity: 64)
/// The same parse with values under short keys deferred (JSONTape.deferredKeys).
nonisolated(unsafe) let deferringTape: JSONTape = {
    let t = JSONTape(maxDepth: maxDepth, initialCapacity: 64)
    t.deferredKeys = ["a", "b", "k", "requestObject"]
    return t
}()
nonisolated(unsafe) let valueTape = JSONTape(maxDepth: maxDepth, initialCapacity: 64)

@_cdecl("fuzz_tokenizer_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, count in fuzzOne(UnsafeRawBufferPointer(start: count > 0 ? data : nil, count: count)) }
}

func fuzzOne(_ bytes: UnsafeRawBufferPointer) -> CInt {
    checkDeferred(bytes)
    let count = bytes.count
    let expected = referenceValidate(bytes, maxDepth: maxDepth)
    do {
        try tape.parse(bytes)
    } catch {
        check(expected == nil, "tokenizer rejects a valid document: \(error)")
        check(error.offset >= 0 && error.offset <= count, "error offset \(error.offset) outside 0...\(count)")
        return 0
    }
    guard let nodes = expected else {
        check(false, "tokenizer accepts an invalid document")
        return 0
    }
    check(tape.wordCount == 2 * nodes, "tape has \(tape.wordCount) words, expected \(2 * nodes)")
    walkJSON(tape.root)
    return 0
}

/// The deferring parse agrees with the strict one: it accepts what the strict parser accepts; what it
/// rejects the strict parser rejects; when only the strict parser rejects, a deferred value holds the
/// fault (it fails to parse on its own); values it deferred parse on their own exactly when the whole
/// document is valid.
func checkDeferred(_ bytes: UnsafeRawBufferPointer) {
    let strictOK = (try? tape.parse(bytes)) != nil
    do {
        try deferringTape.parse(bytes)
    } catch {
        check(!strictOK, "deferring parse rejects a valid document: \(error)")
        return
    }
    walkJSON(deferringTape.root)
    var deferredFailures = 0
    func visit(_ v: JSONValue) {
        switch v.kind {
        case .deferred:
            if (try? valueTape.parse(v.rawBytes)) == nil { deferredFailures += 1 }
        case .array: for e in v.elements { visit(e) }
        case .object: for (_, m) in v.members { visit(m) }
        default: break
        }
    }
    visit(deferringTape.root)
    if strictOK {
        check(deferredFailures == 0, "a deferred value of a valid document does not parse")
    } else {
        check(deferredFailures > 0, "the deferring parse accepts an invalid document whose deferred values all parse")
    }
}

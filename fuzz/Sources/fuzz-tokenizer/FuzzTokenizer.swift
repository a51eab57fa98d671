// Fuzz target: the JSON tokenizer. Parses the input, compares accept/reject and the node count
// with a plain reference validator, and walks every value through every view (decoding, lookups,
// JSON Pointers, numbers).

import AuditJSON
import FuzzSupport

let maxDepth = 64
nonisolated(unsafe) let tape = JSONTape(maxDepth: maxDepth, initialCapacity: 64)

@_cdecl("fuzz_tokenizer_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, count in fuzzOne(UnsafeRawBufferPointer(start: count > 0 ? data : nil, count: count)) }
}

func fuzzOne(_ bytes: UnsafeRawBufferPointer) -> CInt {
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

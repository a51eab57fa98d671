// Fuzz target: the YAML-subset reader (YAMLReader.parse) on arbitrary text. Checks that errors
// carry a position inside the text and that every node's position is inside the text.

import AuditRules
import FuzzSupport

@_cdecl("fuzz_yaml_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, count in
        fuzzOne(String(decoding: UnsafeRawBufferPointer(start: count > 0 ? data : nil, count: count), as: UTF8.self))
        return 0
    }
}

func lineCount(_ text: String) -> Int {
    var n = 1
    var afterCR = false
    for b in text.utf8 {
        if b == 0x0D { n += 1; afterCR = true; continue }
        if b == 0x0A && !afterCR { n += 1 }
        afterCR = false
    }
    return n
}

func checkPosition(_ p: YAMLPosition, lines: Int, _ what: String) {
    check(p.line >= 1 && p.line <= lines + 1, "\(what): line \(p.line) outside 1...\(lines + 1)")
    check(p.column >= 1, "\(what): column \(p.column)")
}

func walk(_ node: YAMLNode, lines: Int, depth: Int) {
    check(depth <= YAMLReader.maxDepth + 1, "node nested \(depth) deep, over the limit \(YAMLReader.maxDepth)")
    checkPosition(node.position, lines: lines, "node")
    if let s = node.scalar {
        checkPosition(s.position, lines: lines, "scalar")
        let n = s.value.utf8.count
        for offset in [0, n / 2, n] { checkPosition(s.position(atUTF8Offset: offset), lines: lines, "scalar offset") }
    } else if let items = node.items {
        for item in items { walk(item, lines: lines, depth: depth + 1) }
    } else if let pairs = node.pairs {
        for (key, value) in pairs {
            checkPosition(key.position, lines: lines, "key")
            check(node[key.value] != nil, "mapping lookup of its own key \(key.value) fails")
            walk(value, lines: lines, depth: depth + 1)
        }
    }
    _ = node.kindName
}

func fuzzOne(_ text: String) {
    let lines = lineCount(text)
    do {
        guard let root = try YAMLReader.parse(text) else { return }
        walk(root, lines: lines, depth: 1)
    } catch {
        checkPosition(error.position, lines: lines, "error \(error.message)")
        check(!error.description.isEmpty, "empty error text")
    }
}

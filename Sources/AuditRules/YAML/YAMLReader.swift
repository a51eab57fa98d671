// Entry point of the YAML-subset reader used for Falco rule files and AuditHound's config.

/// Reads the subset of YAML 1.2 that Falco rule files use, into a `YAMLNode` tree.
///
/// Supported:
/// - block sequences and mappings, including `- key: value` items and a sequence at the
///   same indentation as its mapping key (`items:` followed by `- a` lines);
/// - plain scalars (also folded over several lines), single-quoted (`''`), double-quoted
///   (all YAML escapes, line folding, escaped line breaks), and `|` / `>` block scalars with
///   chomping (`-`, `+`) and indentation (`1`-`9`) indicators;
/// - flow sequences and mappings (`[a, "b", [c]]`, `{k: v}`) over several lines, nested,
///   with trailing commas;
/// - comments, an optional `---` at the start and an optional `...` at the end.
///
/// Everything else is an error with a line and column, never a silent misread: anchors,
/// aliases, tags, directives, several documents, `?` complex keys, collections as keys,
/// `<<` merge keys, single-pair mappings inside flow sequences, duplicate keys, tabs used as
/// indentation, bad indentation, and nesting deeper than `maxDepth`. Where YAML 1.2 and
/// libyaml-style parsers disagree (`[?x]`, `{a:[b]}`, text of a top-level block scalar in
/// column 1), the reader reports an error instead of picking one reading.
///
/// Indentation: continuation lines of multi-line plain and quoted scalars must be indented
/// more than the enclosing block collection (so a missing closing quote cannot swallow the
/// next key); lines inside a flow collection may line up with the enclosing key.
///
/// Scalars stay strings: the consumer decides what `true` or `15` means. Input line breaks
/// may be `\n`, `\r\n` or `\r`; a leading byte-order mark is ignored.
///
/// The reader is linear in the size of its input.
public enum YAMLReader {
    /// Deepest nesting of collections accepted (block and flow together).
    public static let maxDepth = 256

    /// Parses one document. Returns `nil` when the document is empty (only blank lines,
    /// comments and document markers).
    public static func parse(_ text: String) throws(YAMLError) -> YAMLNode? {
        let bytes = try Self.normalize(text)
        var parser = YAMLParser(bytes: bytes, maxDepth: Self.maxDepth)
        return try parser.parseDocument()
    }

    /// UTF-8 bytes with every line break turned into `\n` and the byte-order mark removed.
    /// Rejects control characters other than tab and line breaks.
    static func normalize(_ text: String) throws(YAMLError) -> [UInt8] {
        var utf8 = Substring(text).utf8
        if utf8.starts(with: [0xEF, 0xBB, 0xBF]) { utf8 = utf8.dropFirst(3) }
        // Most files have no carriage return and no control character but tab and line feed: nothing to
        // change (a byte-by-byte copy of the default rules was a tenth of the start-up's rule loading).
        var whole = Array(text.utf8)
        let unchanged = whole.withUnsafeBufferPointer { bytes in
            !bytes.contains { ($0 < 0x20 && $0 != YAMLChar.tab && $0 != YAMLChar.lf) || $0 == 0x7F }
        }
        if unchanged {
            if whole.starts(with: [0xEF, 0xBB, 0xBF]) { whole.removeFirst(3) }
            return whole
        }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var line = 1
        var lineStart = 0
        var afterCR = false
        for byte in utf8 {
            switch byte {
            case YAMLChar.cr:
                out.append(YAMLChar.lf)
                line += 1
                lineStart = out.count
                afterCR = true
                continue
            case YAMLChar.lf:
                if afterCR {
                    afterCR = false
                    continue
                }
                out.append(YAMLChar.lf)
                line += 1
                lineStart = out.count
                continue
            case 0x00..<0x20 where byte != YAMLChar.tab, 0x7F:
                var column = 1
                for previous in out[lineStart...] where previous & 0xC0 != 0x80 { column += 1 }
                let hex = String(byte, radix: 16, uppercase: true)
                throw YAMLError(message: "control character U+\(String(repeating: "0", count: 4 - hex.count))\(hex) is not allowed",
                                position: YAMLPosition(line: line, column: column))
            default:
                afterCR = false
                out.append(byte)
            }
        }
        return out
    }
}

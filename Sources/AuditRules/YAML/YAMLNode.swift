// The document tree produced by `YAMLReader`: positions, scalars, nodes and errors.

/// A place in the source text. Both numbers are 1-based.
///
/// `column` counts Unicode scalars (not bytes) from the start of the line, so a line that
/// starts with `é` has its second character at column 2. A tab counts as one column.
public struct YAMLPosition: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// Line number, starting at 1. `\n`, `\r\n` and a lone `\r` each end a line.
    public var line: Int
    /// Column, starting at 1, in Unicode scalars.
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// `line:column`, e.g. `12:5`.
    public var description: String { "\(self.line):\(self.column)" }
}

/// A scalar value, always kept as text: the reader never interprets `true`, `42` or `1.5`.
///
/// ## Mapping offsets in `value` back to the file
///
/// `segments` records, in increasing `valueOffset` order, the places where `value` continues
/// verbatim from a new place in the source. Within one segment, the characters of `value`
/// were copied one-to-one from the source, starting at `position`, one column per character.
/// A new segment starts at the content of every source line after the first (multi-line
/// plain, quoted and block scalars) and after every escape sequence or `''` in quoted scalars.
/// Characters the reader made up (a space or `\n` from line folding, the output of an escape)
/// belong to the preceding segment and map just past its verbatim text. `position(atUTF8Offset:)`
/// does the lookup. An empty or null scalar has no segments.
public struct YAMLScalar: Sendable, Equatable {
    /// How the scalar was written in the source.
    public enum Style: Sendable, Equatable {
        /// Unquoted, possibly folded over several lines.
        case plain
        /// `'...'`, where `''` stands for one `'`.
        case singleQuoted
        /// `"..."`, with backslash escapes.
        case doubleQuoted
        /// `|` block scalar: line breaks kept.
        case literal
        /// `>` block scalar: line breaks folded into spaces.
        case folded
    }

    /// One verbatim run of `value`; see the type's documentation.
    public struct Segment: Sendable, Equatable {
        /// Offset in `value.utf8` where the run starts.
        public var valueOffset: Int
        /// Source position of the run's first character.
        public var position: YAMLPosition

        public init(valueOffset: Int, position: YAMLPosition) {
            self.valueOffset = valueOffset
            self.position = position
        }
    }

    /// The content, after unquoting, unescaping, folding and chomping.
    public var value: String
    /// How the scalar was written.
    public var style: Style
    /// Where the scalar's node starts: the first character of a plain scalar, the opening
    /// quote of a quoted one, the `|` or `>` indicator of a block scalar. For an empty value
    /// (`key:` with nothing after it, or a bare `-`) it is the position just after the `:` or `-`.
    public var position: YAMLPosition
    /// `true` for a plain scalar that is empty, `~`, `null`, `Null` or `NULL` (YAML 1.2 core
    /// schema). Quoted and block scalars are never null.
    public var isNull: Bool
    /// Verbatim runs of `value` and where they come from; see the type's documentation.
    public var segments: [Segment]

    public init(value: String, style: Style = .plain, position: YAMLPosition, isNull: Bool = false,
                segments: [Segment] = []) {
        self.value = value
        self.style = style
        self.position = position
        self.isNull = isNull
        self.segments = segments
    }

    /// The source position of the character that starts at `offset` in `value.utf8`.
    ///
    /// Exact for characters copied from the source; characters produced by folding or escapes
    /// map just past the preceding verbatim text (for an escape: its backslash). An offset at
    /// or past the end maps just past the last character. Without segments, returns `position`.
    public func position(atUTF8Offset offset: Int) -> YAMLPosition {
        guard !self.segments.isEmpty, offset >= self.segments[0].valueOffset else { return self.position }
        // Last segment whose valueOffset <= offset (binary search: segments are sorted).
        var low = 0
        var high = self.segments.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if self.segments[mid].valueOffset <= offset { low = mid } else { high = mid - 1 }
        }
        let segment = self.segments[low]
        let utf8 = self.value.utf8
        let end = min(offset, utf8.count)
        var columns = 0
        if segment.valueOffset < end {
            let from = utf8.index(utf8.startIndex, offsetBy: segment.valueOffset)
            let to = utf8.index(utf8.startIndex, offsetBy: end)
            for byte in utf8[from..<to] where byte & 0xC0 != 0x80 { columns += 1 }
        }
        return YAMLPosition(line: segment.position.line, column: segment.position.column + columns)
    }

    static func null(at position: YAMLPosition) -> YAMLScalar {
        YAMLScalar(value: "", style: .plain, position: position, isNull: true, segments: [])
    }
}

/// A node of the document tree.
public indirect enum YAMLNode: Sendable {
    /// A scalar (every leaf value, including null).
    case scalar(YAMLScalar)
    /// A block (`- item`) or flow (`[a, b]`) sequence, and where it starts.
    case sequence([YAMLNode], YAMLPosition)
    /// A block (`key: value`) or flow (`{k: v}`) mapping in source order, and where it starts.
    /// Keys are unique: the reader rejects duplicates.
    case mapping([(key: YAMLScalar, value: YAMLNode)], YAMLPosition)

    /// Where the node starts: see `YAMLScalar.position`; the first `-` or first key of a block
    /// collection; the opening bracket of a flow collection.
    public var position: YAMLPosition {
        switch self {
        case .scalar(let scalar): return scalar.position
        case .sequence(_, let position): return position
        case .mapping(_, let position): return position
        }
    }

    /// The scalar, if this node is one.
    public var scalar: YAMLScalar? {
        if case .scalar(let scalar) = self { return scalar }
        return nil
    }

    /// The items, if this node is a sequence.
    public var items: [YAMLNode]? {
        if case .sequence(let items, _) = self { return items }
        return nil
    }

    /// The key/value pairs in source order, if this node is a mapping.
    public var pairs: [(key: YAMLScalar, value: YAMLNode)]? {
        if case .mapping(let pairs, _) = self { return pairs }
        return nil
    }

    /// The value for `key` if this node is a mapping that has it (keys compare by content).
    public subscript(key: String) -> YAMLNode? {
        guard case .mapping(let pairs, _) = self else { return nil }
        for pair in pairs where pair.key.value == key { return pair.value }
        return nil
    }

    /// `"scalar"`, `"sequence"` or `"mapping"`, for error messages.
    public var kindName: String {
        switch self {
        case .scalar: return "scalar"
        case .sequence: return "sequence"
        case .mapping: return "mapping"
        }
    }
}

/// A syntax error, or a YAML feature this reader does not support.
public struct YAMLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, in plain words.
    public var message: String
    /// Where it went wrong.
    public var position: YAMLPosition

    public init(message: String, position: YAMLPosition) {
        self.message = message
        self.position = position
    }

    /// `line L, column C: message`.
    public var description: String {
        "line \(self.position.line), column \(self.position.column): \(self.message)"
    }
}

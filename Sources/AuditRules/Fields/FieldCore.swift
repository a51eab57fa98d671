import AuditJSON
import AuditInput

/// Bump-allocated scratch memory for one event's computed field values (decoded strings, joined
/// lists, URL-decoded parameters).
///
/// Memory handed out stays valid until ``reset()``; blocks are kept across events, so once the arena has
/// grown to the largest event's needs, extraction allocates nothing.
public final class ScratchArena {
    private var blocks: [UnsafeMutableRawBufferPointer] = []
    private var current = 0
    private var used = 0
    private let blockSize: Int
    /// The buffer behind ``FieldOutput``'s values.
    private(set) var valueStorage: UnsafeMutablePointer<UnsafeRawBufferPointer>
    private(set) var valueCapacity: Int

    public init(blockSize: Int = 64 << 10) {
        self.blockSize = blockSize
        valueCapacity = 64
        valueStorage = .allocate(capacity: valueCapacity)
    }

    deinit {
        for b in blocks { b.deallocate() }
        valueStorage.deallocate()
    }

    /// Doubles the value buffer (rare: once the largest event's needs are met, never again).
    @inline(never) func growValues() {
        let bigger = UnsafeMutablePointer<UnsafeRawBufferPointer>.allocate(capacity: valueCapacity * 2)
        bigger.moveInitialize(from: valueStorage, count: valueCapacity)
        valueStorage.deallocate()
        valueStorage = bigger
        valueCapacity *= 2
    }

    /// Forgets everything handed out since the last reset.
    @inline(__always) public func reset() {
        current = 0
        used = 0
    }

    /// Returns `count` bytes of scratch memory, valid until the next ``reset()``.
    public func allocate(_ count: Int) -> UnsafeMutableRawBufferPointer {
        while current < blocks.count {
            let block = blocks[current]
            if used + count <= block.count {
                let r = UnsafeMutableRawBufferPointer(rebasing: block[used..<(used + count)])
                used += count
                return r
            }
            current += 1
            used = 0
        }
        let size = max(blockSize, count)
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        blocks.append(block)
        current = blocks.count - 1
        used = count
        return UnsafeMutableRawBufferPointer(rebasing: block[0..<count])
    }

    /// Copies bytes into the arena.
    public func copy(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let m = allocate(bytes.count)
        if bytes.count > 0 { m.copyMemory(from: bytes) }
        return UnsafeRawBufferPointer(m)
    }

    /// A builder for a value assembled from pieces (e.g. a list joined with spaces). Only one builder may
    /// be open at a time; nothing else may be allocated from the arena until it is finished.
    public func build(_ body: (inout ArenaWriter) -> Void) -> UnsafeRawBufferPointer {
        var w = ArenaWriter(arena: self)
        body(&w)
        return w.finish()
    }

    fileprivate var tail: (block: Int, used: Int) { (current, used) }
}

/// Appends bytes to a value under construction in a ``ScratchArena``.
public struct ArenaWriter {
    let arena: ScratchArena
    var pieces: UnsafeMutableRawBufferPointer
    var count = 0

    init(arena: ScratchArena) {
        self.arena = arena
        self.pieces = arena.allocate(0)
    }

    /// Appends bytes.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        ensure(bytes.count)
        UnsafeMutableRawBufferPointer(rebasing: pieces[count..<(count + bytes.count)]).copyMemory(from: bytes)
        count += bytes.count
    }

    /// Appends one byte.
    public mutating func append(_ byte: UInt8) {
        ensure(1)
        pieces[count] = byte
        count += 1
    }

    /// Appends a JSON value as text: decoded content for strings, JSON text otherwise.
    public mutating func append(json v: JSONValue) {
        if v.isString && v.hasEscapes {
            v.forEachDecodedPiece { append($0) }
        } else {
            append(v.rawBytes)
        }
    }

    private mutating func ensure(_ extra: Int) {
        if count + extra <= pieces.count { return }
        // Grow: take a fresh, larger region and move what we have (rare: values are small).
        let bigger = arena.allocate(max(256, (count + extra) * 2))
        if count > 0 { UnsafeMutableRawBufferPointer(rebasing: bigger[0..<count]).copyMemory(from: UnsafeRawBufferPointer(rebasing: pieces[0..<count])) }
        pieces = bigger
    }

    mutating func finish() -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: pieces[0..<count])
    }
}

/// The values one field extraction produced for one event: texts (UTF-8 bytes), each either in the
/// event's input bytes or in the ``ScratchArena``. No values means "not available" (Falco's `<NA>`).
///
/// The values live in a buffer owned by the arena (grown, never shrunk), so that appending one is a
/// store and a count increment: no array uniqueness checks or reference counting on the hot path.
public struct FieldOutput {
    let arena: ScratchArena
    /// How many values have been added since the last ``removeAll()``.
    public private(set) var count = 0

    public init(arena: ScratchArena) {
        self.arena = arena
    }

    /// The values, in order (a copy; for tests and tools).
    public var values: [UnsafeRawBufferPointer] {
        Array(UnsafeBufferPointer(start: arena.valueStorage, count: count))
    }

    /// The storage of the values (valid until the next add).
    @inline(__always) var base: UnsafeMutablePointer<UnsafeRawBufferPointer> { arena.valueStorage }

    /// Adds a value given as bytes that outlive the event (input bytes, arena bytes or static text).
    @inline(__always) public mutating func add(_ text: UnsafeRawBufferPointer) {
        if count == arena.valueCapacity { arena.growValues() }
        arena.valueStorage[count] = text
        count &+= 1
    }

    /// Adds static text.
    @inline(__always) public mutating func add(_ text: StaticString) {
        add(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Adds a JSON value as Falco does: a string's decoded content; any other value as its JSON text
    /// (`true`, `201`, `{"a":1}`). JSON `null` counts as a missing value.
    @inline(__always) public mutating func add(json v: JSONValue) {
        if v.isNull { return }
        if v.isString && v.hasEscapes {
            add(arena.build { $0.append(json: v) })
        } else {
            add(v.rawBytes)
        }
    }

    /// Adds a value assembled in the arena.
    public mutating func add(building body: (inout ArenaWriter) -> Void) {
        add(arena.build(body))
    }

    public mutating func removeAll() {
        count = 0
    }
}

/// A field's argument, compiled once: `ka.uri.param[command]` has a key, `ka.req.pod.containers.image[0]`
/// an index, `jevt.value[/objectRef/name]` a JSON pointer.
public enum FieldArgument: Sendable, Hashable {
    case none
    case key(String, JSONKey)
    case index(Int)
    case pointer(JSONPointer)
}

/// What kind of argument a field takes.
public enum FieldArgumentKind: Sendable {
    case none
    /// `field[key]`, required.
    case requiredKey
    /// `field[N]`, optional: selects the N-th element of the lists met on the path.
    case optionalIndex
    /// `field[/json/pointer]`, required.
    case requiredPointer
}

/// The audit level an event must have been logged at for a field to carry data.
public enum AuditLevelNeeded: Int, Sendable, Comparable {
    case metadata = 0, request = 1, requestResponse = 2

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    public var name: String {
        switch self {
        case .metadata: return "Metadata"
        case .request: return "Request"
        case .requestResponse: return "RequestResponse"
        }
    }
}

/// Extracts a field's values from one event into `output`. Must not allocate on the heap except through
/// `output`'s arena (and that only when a value has to be computed).
public typealias FieldExtractor = @Sendable (_ event: AuditEvent, _ argument: FieldArgument, _ output: inout FieldOutput) -> Void

/// How a simple field reads its value, for the evaluator to do it inline (no closure call): a top-level
/// member of the event, or a key of a top-level object member. The field's extractor must give exactly
/// the same values (`FieldTests` checks every field that has one).
public enum FieldAccess: Sendable {
    case member(AuditEvent.Member)
    case memberKey(AuditEvent.Member, StaticString)
}

/// One field of the rule language.
public struct FieldDefinition: Sendable {
    /// The name, e.g. `ka.user.name`.
    public var name: String
    /// Whether the field yields a list of values.
    public var isList: Bool
    public var argument: FieldArgumentKind
    /// One sentence for `rules fields` and the docs.
    public var description: String
    /// The least audit level at which the field has data.
    public var level: AuditLevelNeeded
    public var extract: FieldExtractor
    /// Set for simple fields: see ``FieldAccess``.
    public var access: FieldAccess?

    public init(name: String, isList: Bool = false, argument: FieldArgumentKind = .none, level: AuditLevelNeeded = .metadata,
                access: FieldAccess? = nil, description: String, extract: @escaping FieldExtractor) {
        self.access = access
        self.name = name
        self.isList = isList
        self.argument = argument
        self.description = description
        self.level = level
        self.extract = extract
    }
}

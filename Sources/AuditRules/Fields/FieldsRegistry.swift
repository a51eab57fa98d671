import AuditJSON
import AuditInput

/// Why a field's argument was rejected, e.g. `ka.uri.param requires an argument: ka.uri.param[name]`.
public struct FieldArgumentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, in one sentence (no position: the caller knows where the field was written).
    public var message: String

    /// Creates an error.
    public init(message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// Every field of the rule language: Falco's `ka.*` fields (same names and meaning), the `jevt.*` fields
/// of Falco's json plugin that the k8s audit rules use, `evt.time`, and AuditHound's own additions.
///
/// Look fields up by name once, when compiling rules; the ``FieldDefinition/extract`` closures are then
/// called per event and allocate nothing outside the output's ``ScratchArena``.
public struct FieldRegistry: Sendable {
    /// The fields, by name.
    private let byName: [String: FieldDefinition]
    /// Other names for fields: alias -> the name of the field it stands for.
    public let aliases: [String: String]
    /// Every field, sorted by name (aliases not repeated).
    public let all: [FieldDefinition]

    /// Builds a registry from definitions (names must be unique) and aliases (alias -> field name).
    public init(_ definitions: [FieldDefinition], aliases: [String: String] = [:]) {
        var map: [String: FieldDefinition] = [:]
        for d in definitions {
            precondition(map[d.name] == nil, "field \(d.name) defined twice")
            map[d.name] = d
        }
        for (alias, target) in aliases {
            precondition(map[alias] == nil && map[target] != nil, "bad field alias \(alias) -> \(target)")
        }
        self.byName = map
        self.aliases = aliases
        self.all = definitions.sorted { $0.name < $1.name }
    }

    /// The standard fields.
    public static let standard = FieldRegistry(
        eventFields() + uriFields() + requestFields() + podFields() + jsonAndTimeFields(),
        aliases: ["json.value": "jevt.value", "json.obj": "jevt.obj", "json.rawtime": "jevt.rawtime"])

    /// The field named `name`, following aliases (`json.value` gives the `jevt.value` definition).
    public func lookup(_ name: String) -> FieldDefinition? {
        if let d = byName[name] { return d }
        if let target = aliases[name] { return byName[target] }
        return nil
    }

    /// Compiles a field's argument text (`command`, `0`, `/a/b`; `nil` when the field is written without
    /// brackets) for `definition`.
    public func compileArgument(_ text: String?, for definition: FieldDefinition) throws(FieldArgumentError) -> FieldArgument {
        let name = definition.name
        switch definition.argument {
        case .none:
            guard let text else { return .none }
            throw FieldArgumentError(message: "\(name) takes no argument (found [\(text)])")
        case .requiredKey:
            guard let text else {
                throw FieldArgumentError(message: "\(name) requires an argument: \(name)[key]")
            }
            guard !text.isEmpty else { throw FieldArgumentError(message: "\(name) requires a non-empty key") }
            return .key(text, JSONKey(text))
        case .optionalIndex:
            guard let text else { return .none }
            let digits = text.utf8
            guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(text) else {
                throw FieldArgumentError(message: "\(name) takes an optional index: \(name)[N] with N a number from 0 (found [\(text)])")
            }
            return .index(n)
        case .requiredPointer:
            guard let text else {
                throw FieldArgumentError(message: "\(name) requires a JSON pointer: \(name)[/path/to/value]")
            }
            do {
                return .pointer(try JSONPointer(text))
            } catch {
                throw FieldArgumentError(message: "\(name): invalid JSON pointer '\(text)' (it must start with '/'; write '~' as ~0 and '/' inside a key as ~1)")
            }
        }
    }
}

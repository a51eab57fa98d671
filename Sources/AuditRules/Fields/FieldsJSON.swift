import AuditJSON
import AuditInput

// The json-plugin fields Falco's k8s audit rules use (jevt.*), and the event time (evt.time*).

extension FieldRegistry {
    static func jsonAndTimeFields() -> [FieldDefinition] {
        [
            FieldDefinition(name: "jevt.value", argument: .requiredPointer,
                            description: "The value at an RFC 6901 JSON pointer in the event (jevt.value[/objectRef/name]): a string as is, anything else as JSON text.") { e, argument, out in
                guard case .pointer(let pointer) = argument else { return }
                out.add(optional: e.root.value(at: pointer))
            },
            FieldDefinition(name: "jevt.obj", description: "The whole event as JSON text (compact, as the API server wrote it).") { e, _, out in
                out.add(e.root.rawBytes)
            },
            FieldDefinition(name: "jevt.rawtime", description: "The event time (stageTimestamp, else requestReceivedTimestamp) in nanoseconds since the Unix epoch, as decimal text.") { e, _, out in
                guard let t = e.time else { return }
                out.add(building: { appendDecimal(t, to: &$0) })
            },
            FieldDefinition(name: "evt.time", description: "The event time (stageTimestamp, else requestReceivedTimestamp) as RFC 3339 text in UTC with nanoseconds (2026-11-23T10:00:00.123456789Z).") { e, _, out in
                addRFC3339(e.time, &out)
            },
            FieldDefinition(name: "evt.time.iso8601", description: "The event time as ISO 8601 text in UTC with nanoseconds; the same text as evt.time.") { e, _, out in
                addRFC3339(e.time, &out)
            },
        ]
    }
}

/// Adds `nanos` (since the Unix epoch) as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`; nothing when absent or outside
/// the years 0000–9999.
private func addRFC3339(_ nanos: Int64?, _ out: inout FieldOutput) {
    guard let nanos else { return }
    let (seconds, fraction) = floorDivide(nanos, 1_000_000_000)
    let (days, secondOfDay) = floorDivide(seconds, 86_400)
    let (year, month, day) = civilDate(daysSinceEpoch: days)
    guard (0...9999).contains(year) else { return }
    out.add(building: { w in
        appendPadded(year, width: 4, to: &w)
        w.append(UInt8(ascii: "-"))
        appendPadded(month, width: 2, to: &w)
        w.append(UInt8(ascii: "-"))
        appendPadded(day, width: 2, to: &w)
        w.append(UInt8(ascii: "T"))
        appendPadded(Int(secondOfDay / 3600), width: 2, to: &w)
        w.append(UInt8(ascii: ":"))
        appendPadded(Int(secondOfDay / 60 % 60), width: 2, to: &w)
        w.append(UInt8(ascii: ":"))
        appendPadded(Int(secondOfDay % 60), width: 2, to: &w)
        w.append(UInt8(ascii: "."))
        appendPadded(Int(fraction), width: 9, to: &w)
        w.append(UInt8(ascii: "Z"))
    })
}

/// Division rounding toward minus infinity, with a remainder in `0..<d`.
@inline(__always) private func floorDivide(_ n: Int64, _ d: Int64) -> (quotient: Int64, remainder: Int64) {
    var q = n / d
    var r = n % d
    if r < 0 {
        q -= 1
        r += d
    }
    return (q, r)
}

/// The proleptic Gregorian date of a day counted from 1970-01-01.
private func civilDate(daysSinceEpoch: Int64) -> (year: Int, month: Int, day: Int) {
    // Count from 0000-03-01, so that the leap day ends each 4/100/400-year cycle.
    let z = daysSinceEpoch + 719_468
    let (era, dayOfEra) = floorDivide(z, 146_097)                                      // 400-year eras
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)     // from March 1st
    let monthFromMarch = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
    let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    return (Int(year), Int(month), Int(day))
}

#if canImport(Glibc)
import Glibc
#endif
#if canImport(AuditJSONParserAVX2)
import CCPUID
#endif

/// Which parser `JSONTape` runs: the baseline one, or the one built for AVX2 CPUs (module
/// AuditJSONParserAVX2, x86-64 only). Both write identical tapes and report identical errors; the AVX2
/// one scans strings and deferred bodies 32 bytes at a time.
public enum JSONParserKind: String, Sendable, CaseIterable {
    case baseline
    case avx2

    /// The kinds this build and this CPU can run.
    public static var available: [JSONParserKind] {
        CPUFeatures.hasAVX2Parser ? [.baseline, .avx2] : [.baseline]
    }

    /// The kind a new tape uses: AVX2 when the build has it and the CPU supports it, unless the
    /// environment variable `AUDITHOUND_PARSER=baseline` asks for the baseline one.
    public static let automatic: JSONParserKind = {
        if let v = getenv("AUDITHOUND_PARSER"), String(cString: v) == "baseline" { return .baseline }
        return CPUFeatures.hasAVX2Parser ? .avx2 : .baseline
    }()
}

/// What the CPU can run, from the `cpuid` instruction (module CCPUID: a header over the compiler's
/// `cpuid.h`). Reading `/proc/cpuinfo` instead cost about 2 ms at start-up.
enum CPUFeatures {
    /// The AVX2 parser is built in, the CPU has every feature its module was compiled for
    /// (`-target-cpu haswell`: AVX, AVX2, BMI1/2, FMA, F16C, LZCNT, MOVBE, POPCNT, PCLMULQDQ), and the
    /// operating system saves the AVX registers (OSXSAVE, and XCR0 enables the SSE and AVX state).
    static let hasAVX2Parser: Bool = {
        #if canImport(AuditJSONParserAVX2)
        var r: [UInt32] = [0, 0, 0, 0]  // eax, ebx, ecx, edx
        guard audithound_cpuid(1, 0, &r) != 0 else { return false }
        // ECX bits: 1 PCLMULQDQ, 12 FMA, 22 MOVBE, 23 POPCNT, 27 OSXSAVE, 28 AVX, 29 F16C.
        let needed1: UInt32 = 1 << 1 | 1 << 12 | 1 << 22 | 1 << 23 | 1 << 27 | 1 << 28 | 1 << 29
        guard r[2] & needed1 == needed1 else { return false }
        // XCR0 bits 1 (SSE state) and 2 (AVX state): the kernel saves the YMM registers.
        guard audithound_xgetbv(0) & 6 == 6 else { return false }
        guard audithound_cpuid(7, 0, &r) != 0 else { return false }
        // EBX bits: 3 BMI1, 5 AVX2, 8 BMI2.
        let needed7: UInt32 = 1 << 3 | 1 << 5 | 1 << 8
        guard r[1] & needed7 == needed7 else { return false }
        guard audithound_cpuid(0x8000_0001, 0, &r) != 0 else { return false }
        // ECX bit 5: LZCNT (ABM).
        return r[2] & (1 << 5) != 0
        #else
        return false
        #endif
    }()
}

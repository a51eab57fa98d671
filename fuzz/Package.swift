// swift-tools-version:6.0
// libFuzzer targets for AuditHound. Not part of the product; see README.md in this folder.
//
// The main package exports only `AuditJSON` as a library product, so this package compiles the
// main package's source folders itself: Sources/AuditJSON, AuditInput, AuditRules and CZlib here
// are symbolic links to ../../Sources/<Module>. Each fuzz target is an executable whose entry
// point is libFuzzer's `main`; build them with `run.sh` (which passes -sanitize=fuzzer,address).
import PackageDescription

let fuzzTargets = ["tokenizer", "framing", "yaml", "condition", "rules", "render", "decoder"]

let package = Package(
    name: "AuditHoundFuzz",
    targets: [
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib"),
        .target(name: "AuditJSON", path: "Sources/AuditJSON"),
        .target(name: "AuditInput", dependencies: ["AuditJSON", "CZlib"], path: "Sources/AuditInput"),
        .target(name: "AuditRules", dependencies: ["AuditJSON", "AuditInput"], path: "Sources/AuditRules"),
        .target(name: "CFuzzerDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzerDriver", "AuditJSON", "AuditInput", "AuditRules"]),
    ] + fuzzTargets.map { name in
        .executableTarget(name: "fuzz-\(name)", dependencies: ["FuzzSupport", "AuditJSON", "AuditInput", "AuditRules"])
    }
)

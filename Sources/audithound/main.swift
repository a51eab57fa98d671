import AuditHoundCLI
#if canImport(Glibc)
import Glibc
#endif

exit(AuditHoundCommand.main(Array(CommandLine.arguments.dropFirst())))

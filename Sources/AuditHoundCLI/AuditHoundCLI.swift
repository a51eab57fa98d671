/// Entry point of the `audithound` command-line tool.
public enum AuditHoundCommand {
    /// Runs the tool with the given arguments (without the program name) and returns the exit status.
    public static func main(_ arguments: [String]) -> Int32 {
        return 0
    }
}

import ArgumentParser
import Extraction
import Store
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Exit statuses of extract, embed and merge (README.md): 0 all done, 1 error,
/// 3 the run completed but some files failed, 64 bad flags, 75 another process holds the database.
enum ExtractExit {
    static let someFailed: Int32 = 3
    static let locked: Int32 = 75
}

/// True when something exists at `path` (file, folder or dangling link aside).
func pathExists(_ path: String) -> Bool {
    var s = stat()
    return stat(path, &s) == 0
}

/// A `warning: ` line on stderr.
func printWarning(_ message: String) {
    writeStandardError("warning: \(message)\n")
}

/// Prints the one-line `error: ...` and returns the exit status to throw: 75 for a lock
/// conflict, 1 for anything else.
func exitError(_ error: Error) -> Error {
    if error is ExitCode || error is CleanExit { return error }
    writeStandardError("error: \(error)\n")
    if case StoreError.locked = error { return ExitCode(ExtractExit.locked) }
    return ExitCode.failure
}

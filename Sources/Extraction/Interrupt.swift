import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Ctrl-C (SIGINT) and SIGTERM during an extraction: the first one asks the run to stop after
/// committing what it has computed, the second one kills as usual. Either way the database is
/// consistent (every batch is one transaction); stopping cleanly also prints the summary.
public enum Interrupt {
    private static let received = Atomic<Int32>(0)

    /// The signal received since `install`, or 0.
    public static var signal: Int32 { received.load(ordering: .relaxed) }

    /// Installs the handlers for SIGINT and SIGTERM.
    public static func install() {
        // Initialize the lazy static here, not in the handler (swift_once is not signal-safe).
        received.store(0, ordering: .relaxed)
        for sig in [SIGINT, SIGTERM] {
            _ = Glibc.signal(sig) { s in
                // Async-signal-safe only: an atomic store and signal().
                Interrupt.received.store(s, ordering: .relaxed)
                _ = Glibc.signal(s, SIG_DFL)
            }
        }
    }
}

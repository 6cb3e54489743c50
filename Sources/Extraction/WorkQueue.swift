#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A mutex with one condition variable (pthread), for the producer/consumer queue.
final class Monitor: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()

    init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }

    /// Waits on the condition; call only inside `locked`.
    func wait() { pthread_cond_wait(&condition, &mutex) }
    func broadcast() { pthread_cond_broadcast(&condition) }
}

/// Worker threads pull indices 0..<count in order and push results into a bounded FIFO the
/// consumer pops; `cancel()` stops them early. Bounded so decoded inputs cannot pile up in memory
/// while the backbone is slower than the decoders.
final class WorkQueue<Result>: @unchecked Sendable {
    private let monitor = Monitor()
    /// Popped slots are set to nil at once: a result holds megabytes of decoded input.
    private var items: [Result?] = []
    private var head = 0
    private let capacity: Int
    private var nextIndex = 0
    private let count: Int
    private var running = 0
    private var cancelled = false
    private var threads: [pthread_t] = []

    init(count: Int, capacity: Int) {
        self.count = count
        self.capacity = max(1, capacity)
    }

    /// Starts `workers` threads; each calls `makeWork()` once, then `work(index)` per claimed index.
    func start(workers: Int, makeWork: @escaping @Sendable () -> (Int) -> Result) {
        running = workers
        for _ in 0..<workers {
            let box = Unmanaged.passRetained(
                ThreadBody { [self] in
                    let work = makeWork()
                    while let i = claim() {
                        let r = work(i)
                        if !push(r) { break }
                    }
                    monitor.locked {
                        running -= 1
                        monitor.broadcast()
                    }
                })
            var thread = pthread_t()
            let rc = pthread_create(
                &thread, nil,
                { raw in
                    #if canImport(Darwin)
                        let body = Unmanaged<ThreadBody>.fromOpaque(raw).takeRetainedValue()
                    #else
                        let body = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
                    #endif
                    body.run()
                    return nil
                }, box.toOpaque())
            if rc != 0 {
                // No thread: run nothing for it, but do not wait for it either.
                box.release()
                monitor.locked { running -= 1 }
            } else {
                threads.append(thread)
            }
        }
    }

    private func claim() -> Int? {
        monitor.locked {
            guard !cancelled, nextIndex < count else { return nil }
            defer { nextIndex += 1 }
            return nextIndex
        }
    }

    private func push(_ r: Result) -> Bool {
        monitor.locked {
            while items.count - head >= capacity && !cancelled { monitor.wait() }
            if cancelled { return false }
            items.append(r)
            monitor.broadcast()
            return true
        }
    }

    /// The next result, or nil when every worker has finished and the queue is empty.
    func pop() -> Result? {
        monitor.locked {
            while head == items.count && running > 0 { monitor.wait() }
            guard head < items.count else { return nil }
            let r = items[head].take()
            head += 1
            if head >= 256 {
                items.removeFirst(head)
                head = 0
            }
            monitor.broadcast()
            return r
        }
    }

    /// Stops the workers after their current item and drops queued results.
    func cancel() {
        monitor.locked {
            cancelled = true
            items.removeAll()
            head = 0
            monitor.broadcast()
        }
    }

    /// Waits for every worker thread to exit.
    func join() {
        for t in threads { pthread_join(t, nil) }
        threads.removeAll()
    }
}

private final class ThreadBody: @unchecked Sendable {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// The train/val/test split of an image, as stored in `images.split`.
public enum Split: String, CaseIterable, Sendable, Comparable {
    case train, val, test

    public static func < (a: Split, b: Split) -> Bool { a.order < b.order }
    private var order: Int {
        switch self {
        case .train: 0
        case .val: 1
        case .test: 2
        }
    }
}

/// Path hashes behind splits and shards. Both come from SHA-256 of the image's path relative to
/// the dataset root ('/'-separated, UTF-8), so anyone can recompute them (see README.md):
/// the split key is the first 8 digest bytes (big-endian) mod 10000, the shard index is the next
/// 8 bytes mod N. Separate bytes keep shard membership independent of the split.
public struct PathHash: Sendable, Hashable {
    /// 0..<10000: an image is in val when `splitKey < val basis points`, then test, then train.
    let splitKey: Int
    /// Hash bits for shard selection.
    let shardBits: UInt64

    public init(path: String) {
        let d = SHA256.hash(Array(path.utf8))
        var a: UInt64 = 0
        var b: UInt64 = 0
        for i in 0..<8 {
            a = a << 8 | UInt64(d[i])
            b = b << 8 | UInt64(d[8 + i])
        }
        splitKey = Int(a % 10_000)
        shardBits = b
    }

    /// The 1-based shard (1...count) this path belongs to.
    public func shard(of count: Int) -> Int { Int(shardBits % UInt64(count)) + 1 }
}

/// Split percentages and the rule that turns a class's paths into splits.
///
/// Rule (also in README.md): every image first gets its split from its own path hash alone
/// (`splitKey < val*100` → val, `< (val+test)*100` → test, else train). Then, per class, required
/// splits that came out empty are filled in the order train, val, test: train is required when the
/// class has an image, val and test when it has 3 or more images and their percentage is not 0.
/// An empty required split takes the image with the smallest (splitKey, path) from the largest
/// other split (ties: train, val, test). So adding or removing images never moves an existing
/// image, except the at most three images per class that such a fill moves in or back out.
public struct SplitPolicy: Sendable, Equatable {
    /// Basis points (1/100 of a percent) of val and test.
    let valBasisPoints: Int
    let testBasisPoints: Int

    /// Throws `StoreError.invalid` unless both are in 0...100 and their sum is below 100.
    public init(valPercent: Double, testPercent: Double) throws {
        guard valPercent.isFinite, testPercent.isFinite, valPercent >= 0, testPercent >= 0,
            valPercent + testPercent < 100
        else {
            throw StoreError.invalid(
                "split percentages must be >= 0 and sum to less than 100 (val \(valPercent), test \(testPercent))")
        }
        valBasisPoints = Int((valPercent * 100).rounded())
        testBasisPoints = Int((testPercent * 100).rounded())
    }

    public static let standard = try! SplitPolicy(valPercent: 10, testPercent: 10)

    public var valPercent: Double { Double(valBasisPoints) / 100 }
    public var testPercent: Double { Double(testBasisPoints) / 100 }

    /// The split an image would get from its own hash, before the per-class fill.
    func baseSplit(_ hash: PathHash) -> Split {
        if hash.splitKey < valBasisPoints { return .val }
        if hash.splitKey < valBasisPoints + testBasisPoints { return .test }
        return .train
    }

    /// Splits of one class's images: `members` are (path, hash) pairs; the result is by path.
    public func assign(_ members: [(path: String, hash: PathHash)]) -> [String: Split] {
        var result: [String: Split] = [:]
        var bySplit: [Split: [(key: Int, path: String)]] = [.train: [], .val: [], .test: []]
        for m in members {
            let s = baseSplit(m.hash)
            result[m.path] = s
            bySplit[s]!.append((m.hash.splitKey, m.path))
        }
        let n = members.count
        var required: [Split] = n >= 1 ? [.train] : []
        if n >= 3 {
            if valBasisPoints > 0 { required.append(.val) }
            if testBasisPoints > 0 { required.append(.test) }
        }
        for target in required where bySplit[target]!.isEmpty {
            let donor = Split.allCases.filter { $0 != target }.max { a, b in
                let ca = bySplit[a]!.count
                let cb = bySplit[b]!.count
                return ca != cb ? ca < cb : a > b  // equal counts: the earlier split (train, val, test) wins
            }!
            guard let pick = bySplit[donor]!.min(by: { ($0.key, $0.path) < ($1.key, $1.path) }) else { continue }
            bySplit[donor]!.removeAll { $0.path == pick.path }
            bySplit[target]!.append(pick)
            result[pick.path] = target
        }
        return result
    }
}

import Dispatch
import Foundation
import Imaging
import Report

/// The thumbnails of the images a report shows, made once per path from ROOT/path: a 128 px JPEG,
/// or a placeholder that says why there is none (never an error).
struct ReportTiles {
    /// The dataset folder (`--images`, else the database's `meta.root`); nil when unknown.
    let root: String?
    private var tiles: [String: ImageTile] = [:]
    /// Paths whose file was not found.
    private(set) var missing = 0

    init(root: String?) { self.root = root }

    /// The tile of `path`, made by `make` before.
    subscript(path: String) -> ImageTile {
        guard let t = tiles[path] else { preconditionFailure("ReportTiles: no tile made for \(path)") }
        return t
    }

    /// Makes the tiles of `paths` not made yet, on every core (a TurboJPEG decoder and encoder each).
    mutating func make(_ paths: [String]) {
        var seen = Set(tiles.keys)
        var todo: [String] = []
        for p in paths where seen.insert(p).inserted { todo.append(p) }
        guard !todo.isEmpty else { return }
        let root = root
        let wanted = todo
        let results = Slots<ImageTile>(count: todo.count)
        let threads = min(todo.count, ProcessInfo.processInfo.activeProcessorCount)
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let maker = ThumbnailMaker(maxSide: 128, quality: 80)
            for i in stride(from: t, to: wanted.count, by: threads) {
                results[i] = Self.tile(wanted[i], root: root, maker: maker)
            }
        }
        for (i, p) in todo.enumerated() {
            let t = results[i]!
            if case .placeholder(let reason) = t.picture, reason.hasPrefix("file not found") { missing += 1 }
            tiles[p] = t
        }
    }

    /// The tile of one stored path.
    static func tile(_ path: String, root: String?, maker: ThumbnailMaker) -> ImageTile {
        guard let root else { return ImageTile(path: path, link: nil, picture: .placeholder("image folder unknown")) }
        let full = root.hasSuffix("/") ? root + path : root + "/" + path
        let link = fileURL(forPath: full)
        guard pathExists(full) else {
            return ImageTile(path: path, link: link, picture: .placeholder("file not found: \(full)"))
        }
        do {
            let t = try maker.make(fromFileAt: full)
            return ImageTile(path: path, link: link, picture: .jpeg(t.jpeg, width: t.width, height: t.height))
        } catch {
            return ImageTile(path: path, link: link, picture: .placeholder("\(error)"))
        }
    }
}

/// Result slots filled by worker threads, each slot by one thread.
private final class Slots<Element>: @unchecked Sendable {
    private var storage: [Element?]
    private let lock = NSLock()
    init(count: Int) { storage = Array(repeating: nil, count: count) }
    subscript(i: Int) -> Element? {
        get { lock.withLock { storage[i] } }
        set { lock.withLock { storage[i] = newValue } }
    }
}

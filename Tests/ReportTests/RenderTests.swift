import Foundation
import XCTest

@testable import Report

/// The page renderer on hand-made content: escaping, data blocks, every section and chart, and
/// the empty cases.
final class RenderTests: XCTestCase {
    static let hostile = "<script>alert(1)</script>"
    static let hostilePath = "dir/\"><img src=x onerror=alert(2)>&amp;.jpg"

    /// Content that fills every part of the page; `name` is used for a class, a path and a setting.
    static func fullContent(className name: String = "daisy", path: String = "daisy/1.jpg") -> ReportContent {
        var r = ReportContent()
        r.database = "/tmp/\(name).sqlite"
        r.subject = "run 3 of sweep 1: \(name)"
        let classes = [name, "roses", "tulips"]
        r.dataset.imageRoot = "/photos/\(name)"
        r.dataset.notes = ["1 of the image files shown on this page were not found under /photos/\(name)"]
        r.dataset.classes = classes.enumerated().map { ClassCounts(name: $1, train: 10 + $0, val: 2, test: 3) }
        var b = BackboneContent()
        b.id = 1
        b.weightsName = "\(name).h5"
        b.views = [("orig", 45), ("hflip", 45)]
        r.dataset.backbones = [b]
        r.dataset.maps = nil
        r.dataset.failures = [
            FailureGroup(reason: "not_image", count: 3, files: [(path: path, message: "not a JPEG: \(name)")])
        ]
        let tile = ImageTile(
            path: path, link: fileURL(forPath: "/photos/" + path),
            picture: .jpeg([0xFF, 0xD8, 0xFF, 0xD9], width: 4, height: 3))
        let missing = ImageTile(path: path, link: nil, picture: .placeholder("file not found: /photos/\(path)"))
        var d = DuplicatesContent()
        d.threshold = 0.95
        d.images = 45
        d.pairs = 2
        d.leakCount = 1
        d.leaks = [
            LeakPair(cosine: 0.99, a: tile, b: missing, labelA: name, labelB: "roses", splitA: "train", splitB: "test")
        ]
        r.dataset.duplicates = .shown(d)

        var t = TrainingContent()
        t.runID = 3
        t.summary = "adam lr 1e-3, 3 epochs, \(name)"
        t.settings = [("model", "softmax"), ("note", name)]
        t.curve = (1...3).map {
            EpochPoint(
                epoch: $0, trainLoss: 1 / Double($0), trainAccuracy: 0.5 + 0.1 * Double($0), valLoss: 1.2 / Double($0),
                valAccuracy: 0.6)
        }
        t.keptEpoch = 2
        var w = SweepContent()
        w.id = 1
        w.runCount = 4
        w.rankedBy = "val accuracy"
        w.settingNames = ["lr", "epochs"]
        w.leaderboard = [
            LeaderboardRow(rank: 1, runID: 3, settings: ["1e-3", "3"], valAccuracy: 0.6, valLoss: 0.4, cvAccuracy: nil)
        ]
        var h = SweepHeatmap()
        h.xName = "epochs"
        h.yName = "lr"
        h.xValues = ["1", "3"]
        h.yValues = ["1e-3", name]
        h.accuracy = [[0.5, 0.6], [nil, 0.55]]
        h.bestRun = [[1, 3], [nil, 4]]
        h.runsPerCell = 1
        w.heatmap = .shown(h)
        w.baselines = [BaselineRow(runID: 5, name: "5-NN (cosine)", valAccuracy: 0.5, testAccuracy: 0.4)]
        t.sweep = .shown(w)
        r.training = .shown(t)

        var res = ResultsContent()
        res.count = 9
        res.accuracy = 7.0 / 9
        res.loss = 0.5
        res.perClass = classes.map { ClassScores(name: $0, precision: 0.75, recall: 2.0 / 3, f1: 0.7, support: 3) }
        res.confusion = [[2, 1, 0], [0, 3, 0], [1, 0, 2]]
        res.mistakes = [
            Mistake(image: tile, trueClass: name, predicted: "roses", probability: 0.51),
            Mistake(image: missing, trueClass: "tulips", predicted: name, probability: 0.7),
        ]
        res.mistakeCount = 2
        r.results = .shown(res)

        var e = EmbeddingContent()
        e.method = "PCA of \(name)"
        e.classes = classes
        e.points = (0..<9).map {
            MapPoint(
                x: Double($0), y: Double($0 * $0), classIndex: $0 % 3, path: $0 == 0 ? path : "p\($0).jpg",
                split: "test", mistakenFor: $0 == 0 ? "roses" : nil)
        }
        e.explained = [0.4, 0.2]
        r.embedding = .shown(e)
        r.dataBlocks = [
            DataBlock(
                id: "tlearn-evaluate",
                json: "{\"class\":\"\(name.replacingOccurrences(of: "\"", with: "\\\""))\",\"x\":1}")
        ]
        return r
    }

    func testEscapeHTMLEscapesMarkupCharacters() {
        XCTAssertEqual(escapeHTML("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;")
        XCTAssertEqual(escapeHTML("plain é ✓"), "plain é ✓")
    }

    func testJSONInAScriptBlockCannotEndItAndParsesToTheSameValue() throws {
        let json = #"{"label":"</script><script>alert(1)</script>","path":"a&b<!--"}"#
        let safe = escapeJSONForScript(json)
        XCTAssertFalse(safe.contains("<"))
        XCTAssertFalse(safe.contains(">"))
        let a = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: String]
        let b = try JSONSerialization.jsonObject(with: Data(safe.utf8)) as! [String: String]
        XCTAssertEqual(a, b)
    }

    func testBase64MatchesFoundation() {
        var bytes: [UInt8] = []
        for n in 0..<40 {
            XCTAssertEqual(base64(bytes), Data(bytes).base64EncodedString(), "\(n) bytes")
            bytes.append(UInt8(truncatingIfNeeded: n * 37 + 11))
        }
    }

    func testFileURLPercentEncodesAndRoundTrips() {
        let path = "/tmp/a b#c?/é 100%.jpg"
        let url = fileURL(forPath: path)
        XCTAssertEqual(url, "file:///tmp/a%20b%23c%3F/%C3%A9%20100%25.jpg")
        XCTAssertEqual(URL(string: url)?.path, path)
    }

    func testNiceTicksAreRoundAndCoverTheRange() {
        let unit = niceTicks(0, 1)
        XCTAssertEqual(unit.count, 6)
        for (i, v) in unit.enumerated() { XCTAssertEqual(v, Double(i) * 0.2, accuracy: 1e-12) }
        XCTAssertEqual(niceTicks(0, 500), [0, 100, 200, 300, 400, 500])
        XCTAssertEqual(niceTicks(0, 512), [0, 200, 400])
        XCTAssertEqual(niceTicks(-3, 7, count: 5), [-2, 0, 2, 4, 6])
        XCTAssertEqual(niceTicks(3, 3), [3])
        XCTAssertEqual(niceTicks(.nan, 1), [])
    }

    func testEverySectionAndChartIsPresent() {
        let page = renderReport(Self.fullContent())
        for id in ["dataset", "training", "results", "embedding"] {
            XCTAssertTrue(page.contains("<section id=\"\(id)\" data-section=\"\(id)\""), "section \(id)")
        }
        for kind in [
            "class-counts", "loss-curve", "accuracy-curve", "sweep-heatmap", "confusion", "class-scores",
            "embedding-map",
        ] {
            XCTAssertTrue(page.contains("data-chart=\"\(kind)\""), "chart \(kind)")
        }
        XCTAssertFalse(page.contains("data-empty="), "nothing is empty")
        XCTAssertTrue(
            page.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"\(contentSecurityPolicy)\">"))
        // Confusion cells carry their counts, in row order.
        let counts = page.components(separatedBy: "data-count=\"").dropFirst().compactMap {
            Int($0.prefix { $0 != "\"" })
        }
        XCTAssertEqual(counts, [2, 1, 0, 0, 3, 0, 1, 0, 2])
        XCTAssertTrue(page.contains("data-mark=\"2.0\""), "kept epoch marked")
        XCTAssertTrue(page.contains("src=\"data:image/jpeg;base64,/9j/2Q==\""), "thumbnail inline")
        XCTAssertTrue(page.contains("data-placeholder=\"file not found: /photos/daisy/1.jpg\""))
    }

    func testHostileNamesAreTextEverywhere() {
        let page = renderReport(Self.fullContent(className: Self.hostile, path: Self.hostilePath))
        XCTAssertFalse(page.contains("<script>alert"), "a class name became a script")
        XCTAssertFalse(page.contains("<img src=x"), "a path became markup")
        XCTAssertTrue(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        XCTAssertTrue(page.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;&amp;amp;.jpg"))
        // The only script elements are the JSON data blocks.
        XCTAssertEqual(page.components(separatedBy: "<script").count - 1, 1)
        XCTAssertTrue(page.contains("<script type=\"application/json\" id=\"tlearn-evaluate\">"))
        XCTAssertTrue(page.contains("\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"))
    }

    func testEmptyPartsSayWhy() {
        var r = ReportContent()
        r.training = .empty("No runs yet: train a head.")
        r.results = .empty("No results: the test split is empty.")
        r.embedding = .empty("A map needs at least two vectors; the database has 1.")
        r.dataset.duplicates = .empty("Fewer than two images have vectors.")
        let page = renderReport(r)
        for reason in [
            "No runs yet: train a head.", "No results: the test split is empty.",
            "A map needs at least two vectors; the database has 1.", "Fewer than two images have vectors.",
            "The database has no images yet: run `tlearn extract`.",
        ] {
            XCTAssertTrue(page.contains("data-empty=\"\(escapeHTML(reason))\""), reason)
        }
        XCTAssertFalse(page.contains("data-chart="), "no charts without data")
    }

    func testHeatmapOnOneRowAndZeroSpreadStillDraws() {
        var r = Self.fullContent()
        guard case .shown(var t) = r.training, case .shown(var w)? = t.sweep, case .shown(var h) = w.heatmap else {
            return XCTFail()
        }
        h.yValues = ["1e-3"]
        h.accuracy = [[0.5, 0.5]]
        h.bestRun = [[1, 2]]
        w.heatmap = .shown(h)
        t.sweep = .shown(w)
        r.training = .shown(t)
        let page = renderReport(r)
        XCTAssertTrue(page.contains("data-chart=\"sweep-heatmap\""))
        for bad in ["\"nan", "nan\"", " nan", "NaN"] {
            XCTAssertFalse(page.contains(bad), "no NaN coordinates or colours: \(bad)")
        }
    }
}

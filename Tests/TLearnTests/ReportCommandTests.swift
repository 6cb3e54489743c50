import Foundation
import XCTest

@testable import Store

/// `tlearn report` on real databases: the 11 good fixture images extracted with the tiny weights,
/// one class labelled with HTML, one file name full of markup characters, and a small sweep.
final class ReportCommandTests: XCTestCase {
    static let hostileLabel = "<script>alert(1)</script>"
    static let oddName = "odd & \"name\" <1>.jpg"

    /// The fixture dataset through a manifest (a label may hold any text there): cats, dogs and
    /// `<script>alert(1)</script>`, 11 images, each class in train, val and test.
    func fixtureDatabase(sweep: Bool = true, extraExtract: [String] = []) throws -> (db: String, root: String) {
        let dir = try scratchFolder(self)
        let root = dir + "/photos"
        var manifest = "path,label\n"
        for (i, name) in goodFixtures.enumerated() {
            let label = ["cats", "dogs", Self.hostileLabel][i % 3]
            let relative = "set\(i % 3)/" + (name == "rgb_192x128.jpg" ? Self.oddName : name)
            try copyFixture(name, to: root, as: relative)
            manifest += "\"\(relative.replacingOccurrences(of: "\"", with: "\"\""))\",\(label)\n"
        }
        try manifest.write(toFile: dir + "/labels.csv", atomically: true, encoding: .utf8)
        let db = dir + "/r.sqlite"
        let extract = try runTlearn(
            [
                "extract", "--manifest", dir + "/labels.csv", "--images", root, "--db", db,
                "--weights", tinyWeights, "--input-size", "96", "--quiet",
            ] + extraExtract)
        XCTAssertEqual(extract.status, 0, extract.stderr)
        if sweep {
            let s = try runTlearn([
                "sweep", "--db", db, "--lr", "1e-3,1e-2", "--epochs", "1,3", "--batch-size", "2,4", "--dropout", "0",
                "--jobs", "1",
            ])
            XCTAssertEqual(s.status, 0, s.stderr)
        }
        return (db, root)
    }

    /// Runs `tlearn report` and returns the page.
    func report(_ db: String, _ extra: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws -> (
        path: String, html: String
    ) {
        let out = try scratchFolder(self) + "/report.html"
        let r = try runTlearn(["report", "--db", db, "--out", out] + extra)
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        XCTAssertEqual(r.stdout, out + "\n", file: file, line: line)
        return (out, try String(contentsOfFile: out, encoding: .utf8))
    }

    // MARK: Browser

    func testFixtureReportLoadsInChromiumWithEverySectionAndChartAndNoErrorsOrNetwork() throws {
        let browser = try Chromium.find()
        let (db, _) = try fixtureDatabase()
        let (page, _) = try report(db)
        let shot = try scratchFolder(self) + "/report.png"
        let load = try browser.load(page, screenshot: shot)
        XCTAssertEqual(load.console, [], "console messages while loading the report")
        XCTAssertEqual(load.pageRequests, [], "the report asked the network for something")
        XCTAssertEqual(
            Array(load.screenshot.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A],
            "screenshot is not a PNG")
        XCTAssertGreaterThan(load.screenshot.count, 20_000, "screenshot looks blank")
        let dom = load.dom
        for id in ["dataset", "training", "results", "embedding"] {
            XCTAssertTrue(dom.contains("data-section=\"\(id)\""), "section \(id) missing from the DOM")
        }
        for kind in [
            "class-counts", "loss-curve", "accuracy-curve", "sweep-heatmap", "confusion", "class-scores",
            "embedding-map",
        ] {
            XCTAssertTrue(dom.contains("data-chart=\"\(kind)\""), "chart \(kind) missing from the DOM")
        }
        let empty = dom.components(separatedBy: "data-empty=").dropFirst().map { $0.prefix(99) }
        XCTAssertEqual(empty, [], "a section is empty on a full database")
        XCTAssertFalse(dom.contains("<script>alert"), "the HTML label became a script element")
        XCTAssertTrue(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the HTML label is not shown as text")
        XCTAssertEqual(
            dom.components(separatedBy: "<script").count - 1,
            dom.components(separatedBy: "<script type=\"application/json\"").count - 1,
            "only JSON data blocks may be script elements")
        // The checks can fail: a page that logs an error and fetches from the network is caught.
        let control = try scratchFolder(self) + "/control.html"
        try """
        <!DOCTYPE html><html><head><meta charset="utf-8"><title>control</title></head><body>
        <img src="http://127.0.0.1:9/x.png"><script>console.error("control")</script></body></html>
        """.write(toFile: control, atomically: true, encoding: .utf8)
        let bad = try browser.load(control, screenshot: shot + ".control.png", width: 400, height: 300)
        XCTAssertTrue(
            bad.console.contains { $0.contains("control") }, "console check misses console.error: \(bad.console)")
        XCTAssertEqual(bad.pageRequests, ["http://127.0.0.1:9/x.png"], "network check misses the page's request")
    }

    // MARK: Numbers

    func testPageNumbersEqualEvaluateAndRunsJSON() throws {
        let (db, root) = try fixtureDatabase()
        let (_, html) = try report(db)
        let facts = try dataBlock(html, "tlearn-report")
        let runID = try XCTUnwrap(facts["run_id"] as? Int)
        let sweepID = try XCTUnwrap(facts["sweep_id"] as? Int)
        let chosen = try Database.open(db, readOnly: true).scalar(
            "SELECT best_run_id FROM sweeps WHERE id = ?1", [.integer(Int64(sweepID))])?.int
        XCTAssertEqual(Int64(runID), chosen, "default run: the newest sweep's chosen run")

        let evaluate = try runTlearn(["evaluate", "\(runID)", "--db", db, "--json", "--misclassified"])
        XCTAssertEqual(evaluate.status, 0, evaluate.stderr)
        let expected = try headJSONObject(evaluate.stdout)
        XCTAssertEqual(
            NSDictionary(dictionary: try dataBlock(html, "tlearn-evaluate")), NSDictionary(dictionary: expected))
        let runs = try runTlearn(["runs", "--db", db, "--json"])
        let all = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as? [[String: Any]])
        let entry = try XCTUnwrap(all.first { $0["id"] as? Int == runID })
        XCTAssertEqual(NSDictionary(dictionary: try dataBlock(html, "tlearn-run")), NSDictionary(dictionary: entry))

        // The visible numbers: accuracy, confusion cells, per-class bars.
        let confusion = try XCTUnwrap(expected["confusion"] as? [[Int]])
        let cells = attributes(try element(html, id: "chart-confusion"), "data-count").compactMap(Int.init)
        XCTAssertEqual(cells, confusion.flatMap { $0 })
        let testImages = try Database.open(db, readOnly: true).scalar(
            "SELECT count(*) FROM images WHERE split = 'test'")?.int
        XCTAssertEqual(Int64(cells.reduce(0, +)), testImages, "the confusion matrix sums to the test split")
        XCTAssertEqual(
            attributes(html, "data-accuracy").compactMap(Double.init), [try XCTUnwrap(expected["accuracy"] as? Double)])
        let perClass = try XCTUnwrap(expected["per_class"] as? [[String: Any]])
        let bars = attributes(try element(html, id: "chart-class-scores"), "data-value").compactMap(Double.init)
        XCTAssertEqual(bars, perClass.flatMap { c in ["precision", "recall", "f1"].map { c[$0] as! Double } })

        // Sweep: the heatmap's cells are the best val accuracy per (lr, epochs), the leaderboard its order.
        let sweepRuns = all.filter {
            $0["sweep_id"] as? Int == sweepID && $0["model"] as? String == "softmax" && $0["refit_of"] == nil
        }
        let refitOf = try XCTUnwrap(entry["refit_of"] as? Int, "the sweep's final run is its refit")
        XCTAssertEqual(sweepRuns.count, 8)
        var best: [String: Double] = [:]
        for r in sweepRuns {
            let c = try XCTUnwrap(r["config"] as? [String: Any])
            let key = "\(c["lr"]!)/\(c["epochs"]!)"
            best[key] = max(best[key] ?? -1, r["val_accuracy"] as! Double)
        }
        let heat = attributes(try element(html, id: "chart-sweep"), "data-value").compactMap(Double.init)
        XCTAssertEqual(
            heat, ["0.001/1", "0.001/3", "0.01/1", "0.01/3"].map { best[$0]! },
            "rows lr 1e-3, 1e-2; columns epochs 1, 3")
        let boardRuns = attributes(try element(html, tag: "table", dataTable: "leaderboard"), "data-run").compactMap(
            Int.init)
        XCTAssertEqual(Set(boardRuns), Set(sweepRuns.map { $0["id"] as! Int }))
        let losses = boardRuns.map { id in sweepRuns.first { $0["id"] as? Int == id }!["val_loss"] as! Double }
        XCTAssertEqual(losses, losses.sorted(), "leaderboard by val loss (sweep's default --select)")
        XCTAssertTrue(html.contains("ranked by val loss, then accuracy"))
        XCTAssertEqual(boardRuns.first, refitOf, "the leaderboard ranks as the sweep did: the point it refit first")

        // Thumbnails: the misclassified files, least confident first, each a JPEG of the file's shape.
        let wrong = try XCTUnwrap(expected["misclassified"] as? [[String: Any]])
        let order = wrong.sorted { a, b in
            let (pa, pb) = (a["probability"] as! Double, b["probability"] as! Double)
            return pa != pb ? pa < pb : (a["path"] as! String) < (b["path"] as! String)
        }.map { $0["path"] as! String }
        XCTAssertFalse(order.isEmpty, "the tiny random weights should get some test images wrong")
        let tiles = try thumbnails(try element(html, tag: "div", dataGallery: "mistakes"))
        XCTAssertEqual(tiles.map(\.path), order)
        let store = try Database.open(db, readOnly: true)
        for t in tiles {
            let size = try XCTUnwrap(
                store.rows("SELECT width, height FROM images WHERE path = ?1", [.text(t.path)]).first)
            let (w, h) = (Int(size[0].int!), Int(size[1].int!))
            let scale = min(1, 128 / Double(max(w, h)))
            let want = (max(1, Int((Double(w) * scale).rounded())), max(1, Int((Double(h) * scale).rounded())))
            let jpeg = try XCTUnwrap(jpegSize(t.jpeg), "\(t.path): thumbnail is not a JPEG")
            XCTAssertTrue(jpeg == want, "\(t.path): thumbnail \(jpeg), the \(w)x\(h) file should give \(want)")
            XCTAssertEqual(URL(string: try XCTUnwrap(t.link))?.path, root + "/" + t.path, "link to the full image")
        }
    }

    // MARK: Awkward databases

    func testHostileNamesAreEscapedAndLinksEncoded() throws {
        let (db, root) = try fixtureDatabase(sweep: false)
        XCTAssertEqual(try runTlearn(["train-head", "--db", db, "--epochs", "2"]).status, 0)
        let (_, html) = try report(db)
        XCTAssertFalse(html.contains("<script>alert"))
        XCTAssertFalse(html.contains("<1>.jpg"), "a file name became markup")
        XCTAssertTrue(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        XCTAssertEqual(
            html.components(separatedBy: "<script").count - 1, 3,
            "three JSON blocks (run, evaluate, report), no other script")
        // The odd file's map point names it (escaped), and the file URL is percent-encoded.
        XCTAssertTrue(html.contains("set2/odd &amp; &quot;name&quot; &lt;1&gt;.jpg"), "odd file name not shown as text")
        let links = attributes(html, "href").filter { $0.hasPrefix("file://") }
        XCTAssertFalse(links.isEmpty)
        for link in links {
            XCTAssertTrue(
                link.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "%/._~-:".contains($0)) },
                "not percent-encoded: \(link)")
            XCTAssertTrue(URL(string: link)?.path.hasPrefix(root + "/") ?? false, link)
        }
    }

    func testOneClassAndNoRunsStillGiveAPageThatSaysWhy() throws {
        let root = try scratchFolder(self) + "/one"
        for name in goodFixtures.prefix(4) { try copyFixture(name, to: root, as: "cats/\(name)") }
        let db = try scratchFolder(self) + "/one.sqlite"
        XCTAssertEqual(try extractTool(root, db).status, 0)
        let (_, html) = try report(db)
        XCTAssertTrue(html.contains("data-chart=\"class-counts\""), "the dataset is still drawn")
        let why = "Only one class (cats): a classifier needs two or more, so there are no runs to show."
        XCTAssertEqual(
            html.components(separatedBy: "data-empty=\"\(why)\"").count - 1, 2, "training and results say why")
        XCTAssertTrue(html.contains("data-chart=\"embedding-map\""), "four vectors still make a map")
    }

    func testNoRunsSaysHowToTrainOne() throws {
        let root = try goodFixtureTree(self)
        let db = try scratchFolder(self) + "/none.sqlite"
        XCTAssertEqual(try extractTool(root, db).status, 0)
        let (_, html) = try report(db)
        let why = "No runs yet: train a head with `tlearn train-head --db \(db)` or `tlearn sweep`."
        XCTAssertEqual(html.components(separatedBy: "data-empty=\"\(why)\"").count - 1, 2, html)
        XCTAssertTrue(html.contains("data-chart=\"class-counts\""))
        XCTAssertTrue(html.contains("data-chart=\"embedding-map\""))
        XCTAssertFalse(html.contains("tlearn-evaluate"), "no evaluation without a run")
    }

    func testNoValSplitGivesCurvesWithoutValidation() throws {
        let root = try goodFixtureTree(self)
        let db = try scratchFolder(self) + "/noval.sqlite"
        XCTAssertEqual(try extractTool(root, db, ["--val-percent", "0"]).status, 0)
        XCTAssertEqual(try runTlearn(["train-head", "--db", db, "--epochs", "3"]).status, 0)
        let (_, html) = try report(db)
        XCTAssertTrue(html.contains("data-empty=\"No validation curve: the val split is empty.\""))
        XCTAssertTrue(html.contains("data-chart=\"loss-curve\""))
        XCTAssertTrue(html.contains("data-chart=\"confusion\""))
        XCTAssertFalse(html.contains("data-series=\"val loss\""))
    }

    func testNoTestSplitSaysSoInResults() throws {
        let root = try goodFixtureTree(self)
        let db = try scratchFolder(self) + "/notest.sqlite"
        XCTAssertEqual(try extractTool(root, db, ["--test-percent", "0"]).status, 0)
        XCTAssertEqual(try runTlearn(["train-head", "--db", db, "--epochs", "2"]).status, 0)
        let (_, html) = try report(db)
        XCTAssertTrue(
            html.contains("data-empty=\"No results: \(db) has no test images of the model&#39;s classes"), html)
        XCTAssertFalse(html.contains("data-chart=\"confusion\""))
        XCTAssertTrue(html.contains("data-chart=\"loss-curve\""))
    }

    func testMissingImageFilesGetPlaceholdersAndImagesFindsThemAgain() throws {
        let (db, root) = try fixtureDatabase()
        let moved = root + "-moved"
        try FileManager.default.moveItem(atPath: root, toPath: moved)
        let (_, html) = try report(db)
        let placeholders = html.components(separatedBy: "data-placeholder=\"file not found").count - 1
        XCTAssertGreaterThan(placeholders, 0)
        XCTAssertEqual(html.components(separatedBy: "data:image/jpeg").count - 1, 0, "no thumbnails without files")
        XCTAssertTrue(html.contains("were not found under \(root)"), "the page says the files are missing")
        let (_, found) = try report(db, ["--images", moved])
        XCTAssertEqual(found.components(separatedBy: "data-placeholder=").count - 1, 0)
        XCTAssertEqual(found.components(separatedBy: "data:image/jpeg").count - 1, placeholders)
    }

    func testRunSelectionAndErrors() throws {
        let (db, _) = try fixtureDatabase()
        let (_, first) = try report(db, ["1"])
        XCTAssertEqual(try dataBlock(first, "tlearn-report")["run_id"] as? Int, 1)
        let (_, chosen) = try report(db, ["--sweep", "1"])
        let best = try Database.open(db, readOnly: true).scalar("SELECT best_run_id FROM sweeps WHERE id = 1")?.int
        XCTAssertEqual((try dataBlock(chosen, "tlearn-report")["run_id"] as? Int).map(Int64.init), best)
        let out = try scratchFolder(self) + "/x.html"
        for (args, message) in [
            (["99"], "no run 99 in \(db)"), (["--sweep", "7"], "no sweep 7 in \(db)"),
            (["9"], "run 9 is a nearest_centroid baseline of sweep 1"),
        ] {
            let r = try runTlearn(["report", "--db", db, "--out", out] + args)
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.stderr.hasPrefix("error: ") && r.stderr.contains(message), r.stderr)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one error line: \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "a failed report left a file")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(
            atPath: URL(fileURLWithPath: out).deletingLastPathComponent().path)
        XCTAssertEqual(leftovers, [], "temporary files left behind")
        let nowhere = try runTlearn(["report", "--db", db, "--out", out + "/missing/r.html"])
        XCTAssertEqual(nowhere.stderr, "error: cannot write \(out)/missing/r.html: No such file or directory\n")
    }

    // MARK: Reading the page

    /// The JSON object of `<script type="application/json" id="…">`.
    func dataBlock(_ html: String, _ id: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String:
        Any]
    {
        let start = "<script type=\"application/json\" id=\"\(id)\">"
        let body = try XCTUnwrap(
            html.components(separatedBy: start).dropFirst().first?.components(separatedBy: "</script>").first,
            "no data block \(id)", file: file, line: line)
        return try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], file: file, line: line)
    }

    /// The markup of the `<svg>` with `id`.
    func element(_ html: String, id: String) throws -> String {
        let rest = try XCTUnwrap(html.components(separatedBy: "id=\"\(id)\"").dropFirst().first, "no element \(id)")
        return try XCTUnwrap(rest.components(separatedBy: "</svg>").first)
    }

    func element(_ html: String, tag: String, dataTable: String) throws -> String {
        let rest = try XCTUnwrap(
            html.components(separatedBy: "data-table=\"\(dataTable)\"").dropFirst().first, "no table \(dataTable)")
        return try XCTUnwrap(rest.components(separatedBy: "</\(tag)>").first)
    }

    func element(_ html: String, tag: String, dataGallery: String) throws -> String {
        let rest = try XCTUnwrap(
            html.components(separatedBy: "data-gallery=\"\(dataGallery)\"").dropFirst().first,
            "no gallery \(dataGallery)")
        return try XCTUnwrap(rest.components(separatedBy: "</div>").first)
    }

    /// Every value of attribute `name` in `html`, in order, unescaped.
    func attributes(_ html: String, _ name: String) -> [String] {
        html.components(separatedBy: " \(name)=\"").dropFirst().map { unescape(String($0.prefix { $0 != "\"" })) }
    }

    func unescape(_ s: String) -> String {
        s.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    /// The tiles of a gallery: path, link and JPEG bytes.
    func thumbnails(_ gallery: String) throws -> [(path: String, link: String?, jpeg: [UInt8])] {
        try gallery.components(separatedBy: "<figure class=\"tile\"").dropFirst().map { figure in
            let path = try XCTUnwrap(attributes(" " + figure, "data-path").first)
            let link = attributes(figure, "href").first
            let b64 = try XCTUnwrap(
                figure.components(separatedBy: "src=\"data:image/jpeg;base64,").dropFirst().first?.prefix {
                    $0 != "\""
                },
                "\(path): no JPEG thumbnail")
            return (path, link, [UInt8](try XCTUnwrap(Data(base64Encoded: String(b64)))))
        }
    }

    /// Width and height from a JPEG's start-of-frame marker.
    func jpegSize(_ b: [UInt8]) -> (Int, Int)? {
        guard b.count > 4, b[0] == 0xFF, b[1] == 0xD8 else { return nil }
        var i = 2
        while i + 9 < b.count, b[i] == 0xFF {
            let marker = b[i + 1]
            let length = Int(b[i + 2]) << 8 | Int(b[i + 3])
            if (0xC0...0xCF).contains(marker) && ![0xC4, 0xC8, 0xCC].contains(marker) {
                return (Int(b[i + 7]) << 8 | Int(b[i + 8]), Int(b[i + 5]) << 8 | Int(b[i + 6]))
            }
            i += 2 + length
        }
        return nil
    }
}

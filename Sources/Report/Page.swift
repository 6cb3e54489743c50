/// The Content-Security-Policy of every page: nothing may be fetched (no network, no other file);
/// images only from `data:` URIs, styles only inline, no scripts at all (the JSON data blocks are
/// not scripts and are never run).
let contentSecurityPolicy =
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

/// The whole report as one self-contained HTML document.
public func renderReport(_ r: ReportContent) -> String {
    var s =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        + "<meta http-equiv=\"Content-Security-Policy\" content=\"\(contentSecurityPolicy)\">\n"
        + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        + "<meta name=\"generator\" content=\"tlearn report\">\n"
        + "<title>" + escapeHTML(r.title + (r.subject.isEmpty ? "" : ": " + r.subject)) + "</title>\n"
        + "<style>\n\(styleSheet)</style>\n"
    for block in r.dataBlocks {
        s += tag("script", ["type": "application/json", "id": block.id], escapeJSONForScript(block.json)) + "\n"
    }
    let written = r.generatedAt.isEmpty ? "" : ", written " + escapeHTML(r.generatedAt)
    s +=
        "</head><body>\n<header>" + tag("h1", [:], escapeHTML(r.title)) + "\n"
        + tag("p", ["class": "subject"], escapeHTML(r.subject)) + "\n"
        + "<p>database <code>\(escapeHTML(r.database))</code>\(written)</p>\n"
        + "<nav aria-label=\"Sections\"><a href=\"#dataset\">Dataset</a><a href=\"#training\">Training</a>"
        + "<a href=\"#results\">Results</a><a href=\"#embedding\">Embedding map</a></nav>\n</header>\n<main>\n"
    s += section("dataset", "Dataset", datasetSection(r.dataset))
    s += section("training", "Training", r.training.html(trainingSection))
    s += section("results", "Results", r.results.html(resultsSection))
    s += section("embedding", "Embedding map", r.embedding.html(embeddingSection))
    return s + "</main></body></html>\n"
}

extension Part {
    /// The content rendered by `body`, or the reason it is empty.
    func html(_ body: (Content) -> String) -> String {
        switch self {
        case .shown(let content): body(content)
        case .empty(let reason): emptyNote(reason)
        }
    }
}

/// Why a part of the page is empty, in words and in `data-empty`.
func emptyNote(_ reason: String) -> String {
    tag("p", ["class": "empty", "data-empty": reason], escapeHTML(reason)) + "\n"
}

func section(_ id: String, _ heading: String, _ body: String) -> String {
    tag(
        "section", ["id": id, "data-section": id, "aria-labelledby": "\(id)-heading"],
        tag("h2", ["id": "\(id)-heading"], escapeHTML(heading)) + "\n" + body) + "\n"
}

func paragraphs(_ lines: [String], className: String = "note") -> String {
    lines.map { tag("p", ["class": className], escapeHTML($0)) + "\n" }.joined()
}

/// A table; `numeric` columns are right-aligned, cells are escaped here.
func table(
    caption: String? = nil, header: [String], rows: [[String]], numeric: Set<Int> = [], name: String,
    rowAttributes: [String]? = nil
) -> String {
    var s = "<div class=\"scroll\">" + "<table data-table=\"\(escapeHTML(name))\">"
    if let caption { s += tag("caption", [:], escapeHTML(caption)) }
    s +=
        "<thead><tr>"
        + header.enumerated().map { i, h in
            "<th scope=\"col\"\(numeric.contains(i) ? " class=\"num\"" : "")>\(escapeHTML(h))</th>"
        }.joined() + "</tr></thead><tbody>"
    for (r, row) in rows.enumerated() {
        s +=
            "<tr\(rowAttributes?[r] ?? "")>"
            + row.enumerated().map { i, cell in
                "<td\(numeric.contains(i) ? " class=\"num\"" : "")>\(escapeHTML(cell))</td>"
            }.joined() + "</tr>"
    }
    return s + "</tbody></table></div>\n"
}

/// A thumbnail (or its placeholder) linking to the file, with a caption given as HTML.
func tile(_ t: ImageTile, captionHTML: String, data: KeyValuePairs<String, String> = [:], alt: String) -> String {
    var picture: String
    switch t.picture {
    case .jpeg(let bytes, let w, let h):
        picture = tag(
            "img",
            [
                "src": "data:image/jpeg;base64," + base64(bytes), "width": "\(w)", "height": "\(h)",
                "alt": alt, "data-width": "\(w)", "data-height": "\(h)",
            ])
    case .placeholder(let reason):
        picture = tag(
            "svg",
            [
                "class": "placeholder", "xmlns": "http://www.w3.org/2000/svg", "width": "128", "height": "96",
                "viewBox": "0 0 128 96", "role": "img", "aria-label": alt + ": " + reason, "data-placeholder": reason,
            ],
            svgTitle(reason) + "<rect width=\"128\" height=\"96\" fill=\"#eee\"/>"
                + "<path d=\"M0 0L128 96M128 0L0 96\" stroke=\"#ccc\"/>"
                + "<text x=\"64\" y=\"52\" text-anchor=\"middle\" font-size=\"12\" fill=\"#555\">no image</text>")
    }
    if let link = t.link { picture = tag("a", ["href": link, "title": t.path], picture) }
    var s = "<figure class=\"tile\" data-path=\"\(escapeHTML(t.path))\""
    for (key, value) in data { s += " \(key)=\"\(escapeHTML(value))\"" }
    return s + ">" + picture + "<figcaption>" + captionHTML + "</figcaption></figure>\n"
}

/// A definition list of facts.
func facts(_ items: [(String, String)]) -> String {
    "<dl class=\"facts\">" + items.map { "<dt>\(escapeHTML($0.0))</dt><dd>\(escapeHTML($0.1))</dd>" }.joined()
        + "</dl>\n"
}

// MARK: Dataset

func datasetSection(_ d: DatasetContent) -> String {
    var s = ""
    let train = d.classes.reduce(0) { $0 + $1.train }
    let val = d.classes.reduce(0) { $0 + $1.val }
    let test = d.classes.reduce(0) { $0 + $1.test }
    if d.classes.isEmpty {
        s += emptyNote("The database has no images yet: run `tlearn extract`.")
    } else {
        s +=
            "<p>\(plural(train + val + test, "image")) in \(plural(d.classes.count, "class", "classes")): "
            + "train \(train), val \(val), test \(test).</p>\n"
    }
    let root =
        d.imageRoot.map { "<code>\(escapeHTML($0))</code>" } ?? "unknown (the database records none; pass --images DIR)"
    s += "<p>Image folder: \(root)</p>\n" + paragraphs(d.notes)
    if !d.classes.isEmpty {
        let chart = groupedBarChart(
            id: "chart-class-counts", kind: "class-counts", title: "Images per class and split",
            description:
                "Grouped bars: for each of \(d.classes.count) classes, the number of train, val and test images.",
            categories: d.classes.map(\.name),
            series: [
                BarSeries(name: "train", values: d.classes.map { Double($0.train) }),
                BarSeries(name: "val", values: d.classes.map { Double($0.val) }),
                BarSeries(name: "test", values: d.classes.map { Double($0.test) }),
            ],
            yTitle: "images")
        let rows =
            d.classes.map { [$0.name, "\($0.train)", "\($0.val)", "\($0.test)", "\($0.train + $0.val + $0.test)"] }
            + [["total", "\(train)", "\(val)", "\(test)", "\(train + val + test)"]]
        let counts = table(
            header: ["class", "train", "val", "test", "total"], rows: rows, numeric: [1, 2, 3, 4], name: "class-counts")
        s += "<div class=\"row\"><div class=\"scroll\">\(chart)</div>\(counts)</div>\n"
    }

    s += "<h3>Backbones and stored vectors</h3>\n"
    if d.backbones.isEmpty {
        s += emptyNote("No backbone has vectors in this database.")
    } else {
        let rows = d.backbones.map { b in
            [
                "\(b.id)", b.weightsName, String(b.weightsSHA256.prefix(16)), cFormat("%g", b.alpha),
                "\(b.inputSize) px", "\(b.dim)",
                b.preprocessing,
                b.views.isEmpty ? "none" : b.views.map { "\($0.view) \($0.count)" }.joined(separator: ", "),
            ]
        }
        s += table(
            header: ["id", "weights", "sha256", "alpha", "input", "dim", "preprocessing", "views stored"], rows: rows,
            numeric: [0, 3, 5], name: "backbones")
    }
    let maps = d.maps.map { "\($0)" } ?? "none (this database has no maps table)"
    s += tag("p", ["data-maps": d.maps.map(String.init) ?? "none"], "Feature maps stored: \(maps).") + "\n"

    s += "<h3>Failures</h3>\n"
    if d.failures.isEmpty {
        s += "<p data-failures=\"0\">No file failed to extract.</p>\n"
    } else {
        let total = d.failures.reduce(0) { $0 + $1.count }
        s += "<p data-failures=\"\(total)\">\(plural(total, "file")) could not be used:</p>\n"
        for g in d.failures {
            var items = g.files.map { "<li><code>\(escapeHTML($0.path))</code>: \(escapeHTML($0.message))</li>" }
                .joined()
            if g.count > g.files.count {
                items += "<li>… and \(g.count - g.files.count) more (`tlearn info --failures`)</li>"
            }
            let summary = tag("summary", [:], escapeHTML("\(g.reason) (\(g.count))"))
            s +=
                (g.count <= 10
                    ? tag("details", ["open": "", "data-reason": g.reason], summary + "<ul>" + items + "</ul>")
                    : tag("details", ["data-reason": g.reason], summary + "<ul>" + items + "</ul>")) + "\n"
        }
    }
    return s + "<h3>Duplicates across splits</h3>\n" + d.duplicates.html(duplicatesPart)
}

func duplicatesPart(_ d: DuplicatesContent) -> String {
    let threshold = cFormat("%g", d.threshold)
    let text =
        "Pairs of images whose \(d.view) vectors have cosine similarity ≥ \(threshold) "
        + "(copies, re-encodings, and crops or recolourings of one photo), among \(d.images) images: "
        + "\(plural(d.pairs, "pair")), \(d.leakCount) in two different splits (a leak: the model is tested on an "
        + "image it has as good as seen). `tlearn duplicates --threshold \(threshold) --leaks-only` lists them."
    var s = tag("p", ["data-threshold": exact(d.threshold), "data-leaks": "\(d.leakCount)"], escapeHTML(text)) + "\n"
    if d.leakCount == 0 { return s + "<p>No leaks at this threshold.</p>\n" }
    if d.leakCount > d.leaks.count { s += "<p>The \(d.leaks.count) most similar:</p>\n" }
    s += "<div class=\"gallery\" data-gallery=\"leaks\">"
    for p in d.leaks {
        let differ = p.labelA != p.labelB ? " <span class=\"wrong\">(labels differ)</span>" : ""
        let caption =
            "cosine \(fixed(p.cosine, 4)): <code>\(escapeHTML(p.a.path))</code> and "
            + "<code>\(escapeHTML(p.b.path))</code>\(differ)"
        s +=
            tag(
                "figure", ["class": "pair", "data-cosine": exact(p.cosine)],
                "<div class=\"two\">" + tile(p.a, captionHTML: escapeHTML("\(p.splitA), \(p.labelA)"), alt: p.a.path)
                    + tile(p.b, captionHTML: escapeHTML("\(p.splitB), \(p.labelB)"), alt: p.b.path)
                    + "</div><figcaption>" + caption + "</figcaption>") + "\n"
    }
    return s + "</div>\n"
}

// MARK: Training

func trainingSection(_ t: TrainingContent) -> String {
    var s = tag("p", ["data-run": "\(t.runID)"], escapeHTML("Run \(t.runID): \(t.summary).")) + "\n"
    var items: [(String, String)] = [("trained", t.createdAt), ("seconds", fixed(t.seconds, 2))]
    if let e = t.keptEpoch { items.append(("kept epoch", "\(e)")) }
    if let e = t.stoppedEpoch { items.append(("stopped at epoch", "\(e)")) }
    items += [
        ("val accuracy", fixed(t.valAccuracy, 4)), ("val loss", fixed(t.valLoss, 4)),
        ("test accuracy", fixed(t.testAccuracy, 4)),
    ]
    s += facts(items) + paragraphs(t.notes)
    if t.curve.isEmpty {
        s += emptyNote("Run \(t.runID) has no per-epoch curve stored.")
    } else {
        s += curves(t)
    }
    s +=
        "<details><summary>Configuration of run \(t.runID)</summary>"
        + table(header: ["setting", "value"], rows: t.settings.map { [$0.key, $0.value] }, name: "config")
        + "</details>\n"
    if let sweep = t.sweep {
        s += "<h3>Sweep</h3>\n" + sweep.html { sweepPart($0, chosen: t.runID) }
    }
    return s
}

/// The loss and accuracy charts of a run, and their numbers.
func curves(_ t: TrainingContent) -> String {
    let hasVal = t.curve.contains { $0.valLoss != nil || $0.valAccuracy != nil }
    let mark = t.keptEpoch.map { (x: Double($0), label: "kept: epoch \($0)") }
    func line(_ name: String, _ value: (EpochPoint) -> Double?, val: Bool) -> LineSeries {
        LineSeries(
            name: name, points: t.curve.map { (Double($0.epoch), value($0) ?? .nan) }, dashed: val,
            marker: val ? .square : .circle)
    }
    var loss = [line("train loss", \.trainLoss, val: false)]
    var accuracy = [line("train accuracy", \.trainAccuracy, val: false)]
    if hasVal {
        loss.append(line("val loss", \.valLoss, val: true))
        accuracy.append(line("val accuracy", \.valAccuracy, val: true))
    }
    let what = hasVal ? "training (solid, circles) and validation (dashed, squares)" : "training"
    let kept = t.keptEpoch.map { "; a dashed vertical line marks epoch \($0), whose weights the run kept" } ?? ""
    let accuracies = t.curve.flatMap { [$0.trainAccuracy] + ($0.valAccuracy.map { [$0] } ?? []) }
    let floor = max(0, ((accuracies.min() ?? 0) * 10).rounded(.down) / 10)
    var s =
        "<div class=\"row\">"
        + lineChart(
            id: "chart-loss", kind: "loss-curve", title: "Loss per epoch",
            description: "Lines of \(what) loss over \(t.curve.count) epochs\(kept).",
            series: loss, xTitle: "epoch", yTitle: "loss", mark: mark)
        + lineChart(
            id: "chart-accuracy", kind: "accuracy-curve", title: "Accuracy per epoch",
            description: "Lines of \(what) accuracy over \(t.curve.count) epochs\(kept).",
            series: accuracy, xTitle: "epoch", yTitle: "accuracy", yRange: (floor, 1), mark: mark)
        + "</div>\n"
    if !hasVal { s += emptyNote("No validation curve: the val split is empty.") }
    let rows = t.curve.map {
        [
            "\($0.epoch)", fixed($0.trainLoss, 4), fixed($0.trainAccuracy, 4), fixed($0.valLoss, 4),
            fixed($0.valAccuracy, 4),
        ]
    }
    s +=
        "<details><summary>Per-epoch values</summary>"
        + table(
            header: ["epoch", "train loss", "train acc", "val loss", "val acc"], rows: rows, numeric: [0, 1, 2, 3, 4],
            name: "curve", rowAttributes: t.curve.map { $0.epoch == t.keptEpoch ? " class=\"chosen\"" : "" })
        + "</details>\n"
    return s
}

func sweepPart(_ w: SweepContent, chosen: Int64) -> String {
    var s =
        tag(
            "p", ["data-sweep": "\(w.id)"],
            escapeHTML(
                "Sweep \(w.id) (\(w.createdAt)): \(plural(w.runCount, "run")), ranked by \(w.rankedBy). "
                    + "Test accuracy is shown for the chosen run only: choosing on it would make it a validation set."))
        + "\n"
    s += "<div class=\"row\">" + w.heatmap.html(sweepHeatmap) + "<div><h4>Baselines on the same split</h4>"
    s +=
        w.baselines.isEmpty
        ? emptyNote("This sweep saved no baselines.")
        : table(
            header: ["run", "model", "val acc", "test acc"],
            rows: w.baselines.map { ["\($0.runID)", $0.name, fixed($0.valAccuracy, 4), fixed($0.testAccuracy, 4)] },
            numeric: [0, 2, 3], name: "baselines")
    s += "</div></div>\n"
    let cv = w.leaderboard.contains { $0.cvAccuracy != nil }
    let header = ["rank", "run"] + w.settingNames + (cv ? ["cv acc"] : []) + ["val acc", "val loss"]
    let rows = w.leaderboard.map { r in
        ["\(r.rank)", "\(r.runID)"] + r.settings + (cv ? [fixed(r.cvAccuracy, 4)] : []) + [
            fixed(r.valAccuracy, 4), fixed(r.valLoss, 4),
        ]
    }
    let caption =
        "Leaderboard: the best \(min(w.leaderboard.count, w.runCount)) of \(w.runCount) runs; "
        + "the chosen run is highlighted"
    return s
        + table(
            caption: caption, header: header, rows: rows,
            numeric: Set([0, 1] + (2 + w.settingNames.count..<header.count)),
            name: "leaderboard",
            rowAttributes: w.leaderboard.map {
                " data-run=\"\($0.runID)\"" + ($0.runID == chosen ? " class=\"chosen\"" : "")
            })
}

func sweepHeatmap(_ h: SweepHeatmap) -> String {
    let values = h.accuracy.flatMap { $0.compactMap { $0 } }
    let lo = values.min() ?? 0
    let hi = values.max() ?? 1
    let cells = h.accuracy.indices.map { yi in
        h.accuracy[yi].indices.map { xi -> HeatCell in
            let at = "\(h.yName) \(h.yValues[yi]), \(h.xName) \(h.xValues[xi])"
            guard let a = h.accuracy[yi][xi] else {
                return HeatCell(text: "–", shade: nil, title: "\(at): no val accuracy")
            }
            let run = h.bestRun[yi][xi].map { " (run \($0))" } ?? ""
            return HeatCell(
                text: fixed(a, 3), shade: hi > lo ? (a - lo) / (hi - lo) : 1,
                title: "\(at): best val accuracy \(fixed(a, 4))\(run)", data: ("data-value", exact(a)))
        }
    }
    let over = h.runsPerCell > 1 ? ", the best of the \(h.runsPerCell) runs that share the two values" : ""
    return "<div class=\"scroll\">"
        + heatmap(
            id: "chart-sweep", kind: "sweep-heatmap", title: "Val accuracy over \(h.yName) and \(h.xName)",
            description:
                "Heatmap: rows are \(h.yName) values, columns \(h.xName) values; "
                + "each cell shows the val accuracy\(over). Brighter is higher.",
            rowLabels: h.yValues, columnLabels: h.xValues, cells: cells, rowTitle: h.yName, columnTitle: h.xName,
            legend: ("val accuracy", fixed(lo, 3), fixed(hi, 3))) + "</div>"
}

// MARK: Results

func resultsSection(_ r: ResultsContent) -> String {
    let correct = r.confusion.indices.reduce(0) { $0 + r.confusion[$1][$1] }
    let loss = r.loss.map { ", loss \(fixed($0, 4))" } ?? ""
    var s =
        tag(
            "p", ["data-accuracy": exact(r.accuracy), "data-total": "\(r.count)"],
            escapeHTML(
                "On the \(r.split) split: accuracy \(fixed(r.accuracy, 4)) (\(correct)/\(r.count))\(loss), "
                    + "macro F1 \(fixed(r.macroF1, 4)).")) + "\n"
    s += paragraphs(r.notes)
    let names = r.perClass.map(\.name)
    let cells = r.confusion.enumerated().map { i, row in
        let total = row.reduce(0, +)
        return row.enumerated().map { j, n in
            let share = total == 0 ? 0 : Double(n) / Double(total)
            return HeatCell(
                text: "\(n)", shade: total == 0 ? nil : share,
                title: "true \(names[i]), predicted \(names[j]): \(n) of \(total) (\(fixed(100 * share, 1))%)",
                data: ("data-count", "\(n)"))
        }
    }
    s +=
        "<div class=\"row\"><div class=\"scroll\">"
        + heatmap(
            id: "chart-confusion", kind: "confusion", title: "Confusion matrix (\(r.split) split)",
            description: "Rows are true classes, columns predicted classes; each cell gives the image count, coloured "
                + "by its share of the row (brighter: larger share). The diagonal holds the correct predictions.",
            rowLabels: names, columnLabels: names, cells: cells, rowTitle: "true class", columnTitle: "predicted class",
            legend: ("share of row", "0%", "100%"))
        + "</div><div class=\"scroll\">"
        + groupedBarChart(
            id: "chart-class-scores", kind: "class-scores", title: "Precision, recall and F1 per class",
            description: "Grouped bars: for each class, precision, recall and F1 on the \(r.split) split, from 0 to 1.",
            categories: names,
            series: [
                BarSeries(name: "precision", values: r.perClass.map(\.precision)),
                BarSeries(name: "recall", values: r.perClass.map(\.recall)),
                BarSeries(name: "F1", values: r.perClass.map(\.f1)),
            ],
            yTitle: "score", yMax: 1, digits: 4)
        + "</div>"
        + table(
            header: ["class", "precision", "recall", "F1", "support"],
            rows: r.perClass.map {
                [$0.name, fixed($0.precision, 4), fixed($0.recall, 4), fixed($0.f1, 4), "\($0.support)"]
            },
            numeric: [1, 2, 3, 4], name: "class-scores")
        + "</div>\n"

    s += "<h3>Misclassified \(escapeHTML(r.split)) images</h3>\n"
    if r.mistakeCount == 0 {
        return s + "<p data-mistakes=\"0\">None: every \(escapeHTML(r.split)) image is classified correctly.</p>\n"
    }
    let shown = r.mistakes.count < r.mistakeCount ? " (the first \(r.mistakes.count) shown)" : ""
    s +=
        "<p data-mistakes=\"\(r.mistakeCount)\">\(plural(r.mistakeCount, "image")) of \(r.count), "
        + "least confident first\(shown). Each links to its file; the probability is the one the head gave "
        + "its wrong answer.</p>\n"
    s += "<div class=\"gallery\" data-gallery=\"mistakes\">"
    for m in r.mistakes {
        let caption =
            "<code>\(escapeHTML(m.image.path))</code><br>true <b>\(escapeHTML(m.trueClass))</b><br>"
            + "<span class=\"wrong\">predicted \(escapeHTML(m.predicted))</span> (\(fixed(m.probability, 3)))"
        s += tile(
            m.image, captionHTML: caption,
            data: ["data-true": m.trueClass, "data-predicted": m.predicted, "data-probability": exact(m.probability)],
            alt: "\(m.image.path): true \(m.trueClass), predicted \(m.predicted) (\(fixed(m.probability, 3)))")
    }
    return s + "</div>\n"
}

// MARK: Embedding map

func embeddingSection(_ e: EmbeddingContent) -> String {
    let wrong = e.points.filter { $0.mistakenFor != nil }.count
    var text = e.method
    if e.explained.count == 2 {
        text +=
            " The axes hold \(fixed(100 * e.explained[0], 1))% and \(fixed(100 * e.explained[1], 1))% of the variance."
    }
    let rings = wrong > 0 ? "; black rings mark the \(plural(wrong, "misclassified test image"))" : ""
    text += " Colour and shape show the class\(rings). Hover a point for its path."
    let classes = e.classes.enumerated().map { k, name in "\(name) (\(Palette.colourName(k)) \(MarkerShape.of(k).name))"
    }
    let chart = scatterPlot(
        id: "chart-embedding", e, title: "Embedding map (\(e.xLabel) and \(e.yLabel))",
        description: "Scatter plot of \(plural(e.points.count, "image")) projected on two axes. "
            + "Classes: \(classes.joined(separator: "; ")).")
    return tag("p", ["data-points": "\(e.points.count)"], escapeHTML(text)) + "\n<div class=\"scroll\">" + chart
        + "</div>\n"
}

import Formats
import Store

/// The head of a training run as one JSON document, enough to predict without tlearn:
/// logits = x · W + b, with x the backbone's embedding of the image.
public enum HeadJSON {
    /// Keys: format, run_id, created_at, model, classes, dim, logits, W (dim rows of n_classes), b,
    /// backbone {id, weights_sha256, weights_name, alpha, input_size, preprocessing, dim},
    /// config, seed, split_fingerprint, val_accuracy, val_loss, test_accuracy, metrics; a finetune run
    /// also map_shape and conv1 {kernel (channels rows of dim), bias}, the tuned Conv_1 the maps go through.
    public static func document(_ db: Connection, run: Int64) throws -> String {
        let rows = try db.rows(
            """
            SELECT r.classes, r.dim, NULL, r.created_at, r.config, r.seed, r.split_fingerprint,
                   r.val_accuracy, r.val_loss, r.test_accuracy, r.metrics,
                   b.id, b.weights_sha256, b.weights_name, b.alpha, b.input_size, b.preprocessing, b.dim,
                   json_valid(r.config), json_valid(r.metrics)
            FROM runs r JOIN backbones b ON b.id = r.backbone_id WHERE r.id = ?1
            """, [.integer(run)])
        guard let r = rows.first else {
            var ids = try db.rows("SELECT id FROM runs ORDER BY id").compactMap { $0[0].int }.map(String.init)
            // Keep the error one readable line when a database holds hundreds of sweep runs.
            if ids.count > 10 { ids = ids.prefix(5) + ["…"] + ids.suffix(5) }
            throw StoreError.invalid(
                "\(db.path) has no run \(run) (runs: \(ids.isEmpty ? "none; train one with tlearn train-head" : ids.joined(separator: ", ")))"
            )
        }
        let head: StoredModel
        do { head = try StoredModel.load(run: run, from: db) } catch {
            throw StoreError.invalid("\(db.path): \(error)")
        }
        if let backboneDim = r[17].int, backboneDim != Int64(head.dim) {
            throw StoreError.invalid(
                "\(db.path): run \(run) has dim \(head.dim) but its backbone \(r[11].int ?? 0) has dim \(backboneDim)")
        }
        let n = head.classes.count
        func number(_ v: SQLValue) -> String {
            switch v {
            case .integer(let i): String(i)
            case .real(let d): JSON.number(d)
            default: "null"
            }
        }
        func text(_ v: SQLValue) -> String { v.string.map(JSON.string) ?? "null" }
        // config and metrics are stored as JSON text; embedded as values, not re-quoted strings.
        func embedded(_ v: SQLValue, _ column: String, valid: SQLValue) throws -> String {
            guard let s = v.string else { return "null" }
            let t = s.drop { $0.isWhitespace }
            // SQLite's json_valid: a damaged stored value must not make the whole document unparsable.
            guard t.first == "{" || t.first == "[", valid.int == 1 else {
                throw StoreError.invalid("run \(run): \(column) is not a JSON object: \(s.prefix(40))")
            }
            return String(t)
        }
        let (w, b) = head.dense
        let wRows = try (0..<head.dim).map { i throws in
            try JSON.array(Array(w[(w.startIndex + i * n)..<(w.startIndex + (i + 1) * n)]))
        }
        var out = "{\n"
        out += "  \"format\": \"tlearn-head/1\",\n"
        out += "  \"run_id\": \(run),\n"
        out += "  \"model\": \(JSON.string(head.kind.rawValue)),\n"
        out += "  \"created_at\": \(text(r[3])),\n"
        out += "  \"classes\": [\(head.classes.map(JSON.string).joined(separator: ", "))],\n"
        out += "  \"dim\": \(head.dim),\n"
        out +=
            "  \"logits\": \"x @ W + b (x: the backbone's float32 embedding, W: dim x classes, b: classes); softmax gives probabilities in class order\",\n"
        out +=
            "  \"backbone\": {\"id\": \(number(r[11])), \"weights_sha256\": \(text(r[12])), \"weights_name\": \(text(r[13])), "
        out +=
            "\"alpha\": \(number(r[14])), \"input_size\": \(number(r[15])), \"preprocessing\": \(text(r[16])), \"dim\": \(number(r[17]))},\n"
        out += "  \"config\": \(try embedded(r[4], "config", valid: r[18])),\n"
        out += "  \"seed\": \(number(r[5])),\n"
        out += "  \"split_fingerprint\": \(text(r[6])),\n"
        out += "  \"val_accuracy\": \(number(r[7])),\n"
        out += "  \"val_loss\": \(number(r[8])),\n"
        out += "  \"test_accuracy\": \(number(r[9])),\n"
        out += "  \"metrics\": \(try embedded(r[10], "metrics", valid: r[19])),\n"
        if let map = head.map, let top = head.top {
            let d = head.dim
            let kRows = try (0..<map.channels).map { i throws in
                try JSON.array(
                    Array(top.kernel[(top.kernel.startIndex + i * d)..<(top.kernel.startIndex + (i + 1) * d)]))
            }
            out += "  \"map_shape\": [\(map.height), \(map.width), \(map.channels)],\n"
            out +=
                "  \"conv1\": {\"kernel\": [\n    " + kRows.joined(separator: ",\n    ")
                + "\n  ], \"bias\": \(try JSON.array(Array(top.bias)))},\n"
        }
        out += "  \"W\": [\n    " + wRows.joined(separator: ",\n    ") + "\n  ],\n"
        out += "  \"b\": \(try JSON.array(Array(b)))\n"
        return out + "}\n"
    }
}

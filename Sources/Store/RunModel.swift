import Formats

extension StoredModel {
    /// The model run `run` stores, read from the `runs` table of `db`: the kind and map shape from its
    /// config, the classes from its JSON list, the parameters from its head BLOB. `tlearn predict`,
    /// `evaluate` and SQL's head_* functions all load runs through here.
    public static func load(run: Int64, from db: Connection) throws -> StoredModel {
        // SQLite's own JSON functions read the config and the class list, so this needs no JSON code;
        // json_valid first, since json_extract on damaged text is an error rather than NULL.
        let row: [SQLValue]
        do {
            guard
                let found = try db.rows(
                    "SELECT json_valid(config), CASE WHEN json_valid(classes) THEN json_type(classes) = 'array' ELSE 0 END, dim, head FROM runs WHERE id = ?1",
                    [.integer(run)]
                ).first
            else {
                throw StoreError.invalid("no run with id \(run) in table runs")
            }
            row = found
        } catch let StoreError.sqlite(_, message, _) {
            throw StoreError.invalid("cannot read run \(run): \(message)")
        }
        guard row[0].int == 1 else { throw StoreError.invalid("run \(run): config is not a JSON object") }
        guard row[1].int == 1 else { throw StoreError.invalid("run \(run): classes is not a JSON array of names") }
        guard case .blob(let blob) = row[3], !blob.isEmpty else {
            throw StoreError.invalid("run \(run) stores no head weights (a baseline such as k-NN): it cannot predict")
        }
        let config = try db.rows(
            """
            SELECT coalesce(json_extract(config, '$.model'), 'softmax'), json_extract(config, '$.map_shape[0]'),
                   json_extract(config, '$.map_shape[1]'), json_extract(config, '$.map_shape[2]')
            FROM runs WHERE id = ?1
            """, [.integer(run)])[0]
        let kindName = config[0].string ?? ""
        guard let kind = ModelKind(rawValue: kindName) else {
            throw StoreError.invalid("run \(run) has model '\(kindName)', which this tlearn does not know")
        }
        var map: MapShape?
        if let h = config[1].int, let w = config[2].int, let c = config[3].int {
            map = MapShape(height: Int(h), width: Int(w), channels: Int(c))
        }
        var names: [String] = []
        for r in try db.rows(
            "SELECT value, type FROM runs, json_each(runs.classes) WHERE runs.id = ?1 ORDER BY key", [.integer(run)])
        {
            guard r[1].string == "text", let name = r[0].string else {
                throw StoreError.invalid("run \(run): classes is not a JSON array of names")
            }
            names.append(name)
        }
        do {
            return try blob.withUnsafeBytes { raw throws(FormatError) in
                try StoredModel(kind: kind, classes: names, dim: Int(row[2].int ?? 0), map: map, blob: raw)
            }
        } catch {
            throw StoreError.invalid("run \(run): \(error)")
        }
    }
}

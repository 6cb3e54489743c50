import Store

/// Values for `?1`, `?2`, ... and `:name` parameters, parsed from `--param` strings.
public struct QueryParameters: Sendable {
    public var positional: [SQLValue] = []
    public var named: [String: SQLValue] = [:]

    /// Values already typed, for callers that do not parse `--param` strings.
    public init(positional: [SQLValue] = [], named: [String: SQLValue] = [:]) {
        self.positional = positional
        self.named = named
    }

    /// `":name=value"` (also `@name=`, `$name=`) binds a named parameter; anything else binds
    /// the next positional one. Values are typed like the sqlite3 shell's `.parameter set`:
    /// a whole number written canonically is INTEGER (`007` stays TEXT), a decimal number with
    /// `.` or an exponent is REAL, `NULL` is NULL, the rest TEXT.
    public static func parse(_ arguments: [String]) throws -> QueryParameters {
        var out = QueryParameters()
        for a in arguments {
            if let first = a.first, ":@$".contains(first), let eq = a.firstIndex(of: "=") {
                let name = String(a[a.index(after: a.startIndex)..<eq])
                guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                    throw StoreError.invalid("--param \(a): the name before '=' must be letters, digits or '_'")
                }
                guard out.named[name] == nil else {
                    throw StoreError.invalid("--param \(a): \(first)\(name) is given twice")
                }
                out.named[name] = value(String(a[a.index(after: eq)...]))
            } else {
                out.positional.append(value(a))
            }
        }
        return out
    }

    /// The typed value of one `--param` string.
    public static func value(_ s: String) -> SQLValue {
        if s == "NULL" { return .null }
        if let i = Int64(s), String(i) == s || s == "+\(i)" { return .integer(i) }
        // Double() accepts "nan", "inf" and hex floats; only plain decimal numbers count.
        if s.contains(where: { ".eE".contains($0) }), s.allSatisfy({ "0123456789+-.eE".contains($0) }),
            let d = Double(s), d.isFinite
        {
            return .real(d)
        }
        return .text(s)
    }
}

/// Runs a text of one or more SQL statements, one at a time.
public enum SQLScript {
    /// One statement of a script, prepared and bound, ready to step.
    public struct Step {
        /// 1-based position in the script.
        public let index: Int
        public let sql: String
        public let statement: Statement
        /// Whether it returns rows (SELECT, some PRAGMAs, RETURNING).
        public var returnsRows: Bool { statement.columnCount > 0 }
    }

    /// Splits `sql` into statements, binds `parameters` to each and calls `body`, which steps it.
    /// A statement is prepared only after the previous one ran, so `CREATE TABLE t ...; SELECT
    /// ... FROM t` works. Parameters no statement uses are reported in the returned list.
    @discardableResult
    public static func run(
        _ sql: String, on db: Connection, parameters: QueryParameters = QueryParameters(), _ body: (Step) throws -> Void
    ) throws -> [String] {
        var rest = Substring(sql)
        var index = 0
        var usedPositional = Set<Int>()
        var usedNamed = Set<String>()
        while true {
            guard let statement = try nextStatement(&rest, db: db) else { break }
            index += 1
            try bind(parameters, to: statement, index: index, usedPositional: &usedPositional, usedNamed: &usedNamed)
            try body(Step(index: index, sql: statement.text, statement: statement))
        }
        if index == 0 { throw StoreError.invalid("no SQL statement to run (the text is empty or only comments)") }
        var unused: [String] = []
        for i in parameters.positional.indices where !usedPositional.contains(i + 1) { unused.append("?\(i + 1)") }
        for name in parameters.named.keys.sorted() where !usedNamed.contains(name) { unused.append(":\(name)") }
        return unused
    }

    /// The next statement, prepared, advancing `rest` past it; nil at the end.
    static func nextStatement(_ rest: inout Substring, db: Connection) throws -> Statement? {
        while true {
            let (statement, consumed) = try db.prepareFirst(of: rest)
            rest = Substring(String(decoding: Array(rest.utf8)[consumed...], as: UTF8.self))
            if let statement { return statement }
            if consumed == 0 { return nil }  // only whitespace or comments were left
        }
    }

    static func bind(
        _ p: QueryParameters, to statement: Statement, index: Int,
        usedPositional: inout Set<Int>, usedNamed: inout Set<String>
    ) throws {
        let sql = statement.text
        for i in stride(from: 1, through: statement.parameterCount, by: 1) {
            let name = statement.parameterName(i)
            if let name, let first = name.first, first != "?" {
                let key = String(name.dropFirst())
                guard let v = p.named[key] else {
                    throw StoreError.invalid(
                        "statement \(index) uses \(name) but no --param \(first)\(key)=VALUE is given: `\(sql)`")
                }
                usedNamed.insert(key)
                try statement.bind(v, at: Int32(i))
            } else {
                guard i <= p.positional.count else {
                    throw StoreError.invalid(
                        "statement \(index) uses ?\(i) but only \(p.positional.count) positional --param \(p.positional.count == 1 ? "is" : "are") given: `\(sql)`"
                    )
                }
                usedPositional.insert(i)
                try statement.bind(p.positional[i - 1], at: Int32(i))
            }
        }
    }
}

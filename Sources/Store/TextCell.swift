extension String {
    /// The string for one cell of an aligned text table: newline, carriage return and tab written as
    /// `\n`, `\r`, `\t`, so a label holding them cannot break the table's lines or columns.
    public var tableCell: String {
        var out = ""
        for u in unicodeScalars {
            switch u {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }
}

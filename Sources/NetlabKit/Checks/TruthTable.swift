/// A connectivity matrix's `expect:` text, as Kubernetes' network-policy e2e tests write their
/// truth tables: a header line naming the columns, then one line per source with one cell per
/// column. `.` means the source reaches the column's destination; `X` that it does not (refused or
/// dropped, either); netlab adds `R` (refused at once: RST or ICMP unreachable) and `D` (dropped
/// silently: no answer) where the way it fails is the point. Blank lines and lines starting with
/// `#` are skipped; the header may start with `-`, the corner netpol prints.
///
///              to-pod  to-svc  to-np
///     client1  .       .       X
///     node2    .       R       D
public struct TruthTable: Equatable, Sendable {
    public enum Cell: String, CaseIterable, Sendable {
        case connected = ".", blocked = "X", refused = "R", dropped = "D"
        /// How the report spells an observed probe: `.` answered, `R` refused, `D` no answer, `U` ICMP
        /// host/network unreachable, `F` fragmentation needed, `?` not probed (skipped or an error).
        public static func observed(replied: Bool, errorClass: ProbeErrorClass?) -> String {
            if replied { return Cell.connected.rawValue }
            switch errorClass {
            case .refused: return Cell.refused.rawValue
            case .timeout: return Cell.dropped.rawValue
            case .unreachable: return "U"
            case .fragNeeded: return "F"
            case nil: return "?"
            }
        }
    }

    /// A problem at a line (0-based, in the text) and column (0-based, in that line).
    public struct Problem: Equatable, Sendable {
        public var line: Int, column: Int, message: String
    }

    public enum Parsed: Equatable, Sendable { case table(TruthTable), problems([Problem]) }

    /// The cell for (row, column), every row and column given to `parse` present.
    public private(set) var cells: [String: [String: Cell]] = [:]

    public subscript(row: String, column: String) -> Cell? { cells[row]?[column] }

    /// The table, or every problem with it: an unknown or repeated row or column, a missing one, a
    /// row with too few or too many cells, a cell that is not `.`, `X`, `R` or `D`.
    public static func parse(_ text: String, rows: [String], columns: [String]) -> Parsed {
        var problems: [Problem] = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let content = lines.enumerated().map { (index: $0.offset, tokens: tokens($0.element)) }
            .filter { !$0.tokens.isEmpty && !$0.tokens[0].text.hasPrefix("#") }
        let symbols = Cell.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
        guard let header = content.first else {
            return .problems([Problem(line: 0, column: 0, message: "has no table; write a header line with the columns (\(columns.joined(separator: " "))), then one line per source (\(rows.joined(separator: ", "))) with a cell \(symbols) under each column")])
        }
        var headerTokens = header.tokens
        if headerTokens.first?.text == "-" { headerTokens.removeFirst() }
        var order: [String] = []
        for t in headerTokens {
            if !columns.contains(t.text) {
                problems.append(Problem(line: header.index, column: t.column, message: "names the column '\(t.text)', which is not one of the matrix's to: names (\(columns.joined(separator: ", ")))"))
            } else if order.contains(t.text) {
                problems.append(Problem(line: header.index, column: t.column, message: "names the column '\(t.text)' twice"))
            }
            order.append(t.text)
        }
        for c in columns where !order.contains(c) {
            problems.append(Problem(line: header.index, column: headerTokens.last.map { $0.column + $0.text.count } ?? 0,
                                    message: "has no column '\(c)'; the header names each of the matrix's to: entries once (\(columns.joined(separator: " ")))"))
        }
        var table = TruthTable()
        // Rows already reported (a wrong cell count): not said to be missing as well.
        var faulty: Set<String> = []
        for line in content.dropFirst() {
            let name = line.tokens[0]
            if !rows.contains(name.text) {
                problems.append(Problem(line: line.index, column: name.column, message: "has a row for '\(name.text)', which is not one of the matrix's from: (\(rows.joined(separator: ", ")))"))
                continue
            }
            if table.cells[name.text] != nil {
                problems.append(Problem(line: line.index, column: name.column, message: "has a second row for '\(name.text)'"))
                continue
            }
            let given = line.tokens.dropFirst()
            if given.count != order.count {
                let at = given.count > order.count ? given[given.startIndex + order.count].column : (line.tokens.last.map { $0.column + $0.text.count } ?? 0)
                faulty.insert(name.text)
                problems.append(Problem(line: line.index, column: at, message: "row '\(name.text)' has \(given.count) cell\(given.count == 1 ? "" : "s") for \(order.count) column\(order.count == 1 ? "" : "s") (\(order.joined(separator: " ")))"))
                continue
            }
            var row: [String: Cell] = [:]
            for (column, t) in zip(order, given) {
                guard let cell = Cell(rawValue: t.text) else {
                    problems.append(Problem(line: line.index, column: t.column, message: "row '\(name.text)', column '\(column)': '\(t.text)' is not a cell; write \(symbols) (reached, not reached, refused, dropped)"))
                    continue
                }
                row[column] = cell
            }
            table.cells[name.text] = row
        }
        let last = content.last!
        for r in rows where table.cells[r] == nil && !faulty.contains(r) {
            problems.append(Problem(line: last.index, column: 0, message: "has no row for '\(r)'; give each of the matrix's from: a line"))
        }
        return problems.isEmpty ? .table(table) : .problems(problems)
    }

    /// A line's words and the column (0-based) each starts at.
    static func tokens(_ line: String) -> [(text: String, column: Int)] {
        var out: [(String, Int)] = []
        var current = "", start = 0
        for (i, ch) in line.enumerated() {
            if ch == " " || ch == "\t" || ch == "\r" {
                if !current.isEmpty { out.append((current, start)); current = "" }
            } else {
                if current.isEmpty { start = i }
                current.append(ch)
            }
        }
        if !current.isEmpty { out.append((current, start)) }
        return out
    }
}

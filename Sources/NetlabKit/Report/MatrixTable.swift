/// A check's `matrix:` as the report prints it after the checks: the expected truth table, the
/// observed one and their comparison, as Kubernetes' network-policy e2e tests print theirs
/// (`.` where a cell is as expected, `X` where it is not).
extension RunReport {
    /// Every connectivity matrix among `results`, rows and columns in the order their cells ran.
    public static func matrixTables(_ results: [CheckResult]) -> [String] {
        var order: [String] = []
        var cells: [String: [CheckResult]] = [:]
        for r in results {
            guard let g = r.group, g.column != nil else { continue }
            if cells[g.name] == nil { order.append(g.name) }
            cells[g.name, default: []].append(r)
        }
        return order.map { name in
            let matrix = cells[name]!
            var rows: [String] = [], columns: [String] = []
            var byCell: [String: [String: CheckResult]] = [:]
            for r in matrix {
                let g = r.group!, column = g.column!
                if !rows.contains(g.row) { rows.append(g.row) }
                if !columns.contains(column) { columns.append(column) }
                byCell[g.row, default: [:]][column] = r
            }
            func grid(_ title: String, _ cell: (CheckResult) -> String) -> [String] {
                let body = rows.map { row in [row] + columns.map { byCell[row]?[$0].map(cell) ?? "" } }
                return ["  \(title):"] + textTable([["-"] + columns] + body, indent: "    ")
            }
            let wrong = matrix.filter { !$0.passed && $0.skipped == nil }.count
            let skipped = matrix.filter { $0.skipped != nil }.count
            let heading = "matrix \(name): \(matrix.count - wrong - skipped) of \(matrix.count) cells as expected"
                + (skipped > 0 ? ", \(skipped) not run" : "")
            let legend = "  (. reached, X not reached, R refused, D dropped (no answer), U unreachable, F fragmentation needed, ? not probed)"
            let about = matrix.first?.description.map { ["  \($0)"] } ?? []
            return ([heading] + about + [legend] + grid("expected") { $0.group!.expected } + grid("observed", observedCell)
                    + grid("comparison (. as expected, X not)") { $0.skipped != nil ? "?" : $0.passed ? "." : "X" })
                .joined(separator: "\n")
        }
    }

    /// A cell's observed symbol: what its probe saw (an `X` cell that was refused shows `R`).
    static func observedCell(_ r: CheckResult) -> String {
        guard r.skipped == nil, r.error == nil, let p = r.probe else { return "?" }
        return TruthTable.Cell.observed(replied: p.replied, errorClass: p.errorClass)
    }
}

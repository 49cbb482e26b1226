import Foundation

/// The Markdown summary of a run, for `--summary FILE` and GitHub's `$GITHUB_STEP_SUMMARY`:
/// a table of the checks, each failed expectation with expected and observed, and each check's
/// packet path as Mermaid (which GitHub draws), folded away for passing checks.
public enum RunSummary {
    public static func markdown(report: RunReport, diagrams: [String: PacketPathDiagram]) -> String {
        let failed = report.checks.filter { !$0.passed }
        var o: [String] = []
        let verdict = failed.isEmpty ? "✅ all \(report.checks.count) checks passed"
            : "❌ \(failed.count) of \(report.checks.count) check\(report.checks.count == 1 ? "" : "s") failed"
        o.append("## netlab run: \(cell(report.topology)) — \(verdict)")
        o.append("")
        o.append("| check | result | duration | description |")
        o.append("| --- | --- | ---: | --- |")
        for c in report.checks {
            o.append("| \(cell(c.name)) | \(c.skipped != nil ? "⏭ skipped" : c.passed ? "✅ pass" : "❌ **FAIL**") | \(ms(c.durationMs)) | \(cell(c.description ?? "")) |")
        }
        for c in report.checks {
            o.append("")
            let diagram = diagrams[c.name]
            if c.passed {
                guard let diagram else { continue }
                o.append("<details><summary>✅ \(html(c.name)): packet path</summary>")
                o.append("")
                o += fenced(diagram)
                o.append("</details>")
                continue
            }
            o.append("### ❌ \(cell(c.name))")
            if let d = c.description { o.append(""); o.append(cell(d)) }
            o.append("")
            if let e = c.error { o.append("**error:** \(cell(e))"); o.append("") }
            let bad = c.expectations.filter { !$0.passed }
            if !bad.isEmpty {
                o.append("| failed expectation | expected | observed |")
                o.append("| --- | --- | --- |")
                for x in bad { o.append("| \(cell(x.name)) | \(cell(x.expected)) | \(cell(x.observed)) |") }
                o.append("")
            }
            if let diagram { o += fenced(diagram) }
            if !c.artifacts.isEmpty {
                o.append("")
                o.append("Files: " + c.artifacts.map { "`\($0.replacingOccurrences(of: "`", with: "'"))`" }.joined(separator: ", "))
            }
        }
        return o.joined(separator: "\n") + "\n"
    }

    static func fenced(_ d: PacketPathDiagram) -> [String] { ["```mermaid", d.mermaid().trimmingCharacters(in: .newlines), "```"] }

    /// A Markdown table cell: no line breaks, `|` escaped, HTML neutralised.
    static func cell(_ s: String) -> String {
        html(s).replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }

    static func html(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    static func ms(_ v: Double) -> String { RunReport.ms(v) }
}

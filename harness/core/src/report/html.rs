//! The self-contained HTML index of a run (`index.html`).
//!
//! Contract: [`render_index`] is a pure function from the run summary and the
//! scenarios' ladder diagrams (SVG text, inlined) to one HTML page with no
//! external fetches (no scripts, fonts, stylesheets or images from anywhere).
//! Every scenario gets a row in the summary table and a section with its
//! checks and their evidence, its diagram and links to its artifacts
//! (relative paths, as in `ScenarioResult::artifacts`).

use super::{ScenarioResult, Summary, Verdict};
use std::collections::BTreeMap;
use std::fmt::Write;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An id for an HTML anchor.
pub(super) fn anchor(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("s-{s}")
}

fn verdict(v: Verdict) -> (&'static str, &'static str) {
    match v {
        Verdict::Pass => ("pass", "pass"),
        Verdict::Fail => ("FAIL", "fail"),
        Verdict::Error => ("ERROR", "error"),
        Verdict::Skip => ("skip", "skip"),
    }
}

fn secs(v: Option<f64>) -> String {
    v.map(|s| format!("{s:.3} s"))
        .unwrap_or_else(|| "–".to_string())
}

/// Only `<svg ...>...</svg>`: drops an XML declaration or doctype before it.
fn inline_svg(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => "",
    }
}

pub(super) const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#f3f3f3}.pass{color:#1a7f37;font-weight:bold}.fail,.error{color:#c1121f;font-weight:bold}.skip{color:#5a6b7b}
section{margin-top:2.5em;border-top:2px solid #ddd;padding-top:1em}
pre{background:#f7f7f7;padding:4px 8px;margin:2px 0 8px 1.5em;white-space:pre-wrap}
.ladder{overflow-x:auto;border:1px solid #ddd;margin:1em 0}.muted{color:#666}
li.ok::marker{content:'✓ ';color:#1a7f37}li.bad::marker{content:'✗ ';color:#c1121f}";

/// The run's `index.html`.
pub fn render_index(summary: &Summary, ladders: &BTreeMap<String, String>) -> String {
    let mut o = String::new();
    let passed = summary
        .scenarios
        .iter()
        .filter(|s| s.verdict == Verdict::Pass)
        .count();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>tcp-teardown-lab run</title><style>{STYLE}</style></head><body>\n\
         <h1>tcp-teardown-lab run</h1>\n<p class=\"muted\">{passed} of {} scenarios passed · kernel {} · profile {} · {:.1} s</p>\n",
        summary.scenarios.len(),
        esc(&summary.kernel),
        esc(&summary.profile),
        summary.wall_seconds
    );
    o.push_str("<table><tr><th>scenario</th><th>conclusion</th><th>verdict</th><th>measured</th><th>predicted</th><th>wall</th></tr>\n");
    for s in &summary.scenarios {
        let (text, class) = verdict(s.verdict);
        let _ = writeln!(
            o,
            "<tr><td><a href=\"#{}\">{}</a></td><td>{}</td><td class=\"{class}\">{text}</td><td>{}</td><td>{}</td><td>{:.2} s</td></tr>",
            anchor(&s.name),
            esc(&s.name),
            esc(&s.conclusion),
            secs(s.measured_seconds),
            secs(s.predicted_seconds),
            s.wall_seconds
        );
    }
    o.push_str("</table>\n");
    for s in &summary.scenarios {
        section(&mut o, s, ladders.get(&s.name));
    }
    o.push_str("</body></html>\n");
    o
}

/// One scenario's section: what it shows, its checks with their evidence,
/// its ladder diagram and links to its artifacts.
fn section(o: &mut String, s: &ScenarioResult, ladder: Option<&String>) {
    let (text, class) = verdict(s.verdict);
    let _ = writeln!(
        o,
        "<section id=\"{}\"><h2>{} <span class=\"{class}\">{text}</span></h2>\n<p>{} <span class=\"muted\">({}, {}, {}, {})</span></p>",
        anchor(&s.name),
        esc(&s.name),
        esc(&s.summary),
        esc(&s.conclusion),
        esc(&s.family),
        esc(&s.topology),
        esc(&s.file)
    );
    if let Some(r) = &s.reason {
        let _ = writeln!(o, "<p class=\"error\">{}</p>", esc(r));
    }
    if !s.ran_as.is_empty() {
        let who: Vec<String> = s
            .ran_as
            .iter()
            .map(|(name, account)| format!("{} as {}", esc(name), esc(account)))
            .collect();
        let _ = writeln!(o, "<p class=\"muted\">endpoints: {}</p>", who.join(" · "));
    }
    let _ = writeln!(
        o,
        "<p>measured {} · predicted {}</p>\n<h3>checks</h3><ul>",
        secs(s.measured_seconds),
        secs(s.predicted_seconds)
    );
    for c in &s.checks {
        let _ = write!(
            o,
            "<li class=\"{}\">{}",
            if c.ok { "ok" } else { "bad" },
            esc(&c.name)
        );
        if !c.evidence.is_empty() {
            let _ = write!(o, "<pre>{}</pre>", esc(&c.evidence.join("\n")));
        }
        o.push_str("</li>\n");
    }
    o.push_str("</ul>\n");
    match ladder {
        Some(svg) => {
            let _ = writeln!(o, "<div class=\"ladder\">{}</div>", inline_svg(svg));
        }
        None => o.push_str("<p class=\"muted\">no ladder diagram</p>\n"),
    }
    if !s.artifacts.is_empty() {
        o.push_str("<p>artifacts: ");
        let links: Vec<String> = s
            .artifacts
            .iter()
            .map(|(k, v)| format!("<a href=\"{}\">{}</a>", esc(v), esc(k)))
            .collect();
        o.push_str(&links.join(" · "));
        o.push_str("</p>\n");
    }
    o.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::Check;

    #[test]
    fn every_scenario_with_checks_and_links() {
        let sc = |name: &str, v: Verdict| ScenarioResult {
            name: name.into(),
            file: format!("scenarios/{name}.toml"),
            conclusion: "C1".into(),
            summary: "a <b> & c".into(),
            family: "v4".into(),
            topology: "switched".into(),
            profile: "fast".into(),
            verdict: v,
            reason: None,
            wall_seconds: 1.5,
            predicted_seconds: Some(2.0),
            measured_seconds: Some(2.1),
            checks: vec![Check {
                kernel: None,
                name: "C>S F.".into(),
                ok: v == Verdict::Pass,
                evidence: vec!["0.1 C>S F.".into()],
            }],
            ran_as: Default::default(),
            artifacts: [("pcap".to_string(), format!("{name}/capture.pcapng"))].into(),
        };
        let summary = Summary {
            repeats: vec![],
            scenarios: vec![sc("c1-close", Verdict::Pass), sc("c2-kill", Verdict::Fail)],
            wall_seconds: 3.0,
            kernel: "6.1".into(),
            profile: "fast".into(),
        };
        let ladders = [(
            "c1-close".to_string(),
            "<?xml version=\"1.0\"?><svg></svg>".to_string(),
        )]
        .into();
        let html = render_index(&summary, &ladders);
        assert!(html.contains("href=\"#s-c1-close\"") && html.contains("id=\"s-c2-kill\""));
        assert!(html.contains("a &lt;b&gt; &amp; c"));
        assert!(html.contains("href=\"c2-kill/capture.pcapng\""));
        assert!(!html.contains("<?xml"));
        assert!(html.contains("2.100 s") && html.contains("2.000 s"));
        for fetch in ["<script", "<link", " src=", "url(http", "@import"] {
            assert!(!html.contains(fetch), "self-contained: {fetch}");
        }
    }
}

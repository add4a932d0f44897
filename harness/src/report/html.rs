//! The self-contained HTML index of a run (`index.html`).

/// (placeholder until the HTML index lands)
pub fn render_index(
    _summary: &crate::report::Summary,
    _ladders: &std::collections::BTreeMap<String, String>,
) -> String {
    String::from("<!doctype html><title>teardown</title>")
}

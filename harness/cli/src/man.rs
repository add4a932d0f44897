//! `teardown man`: the man page, generated from the command line's
//! definition (clap_mangen), with the examples and the exit codes of
//! `--help` as preformatted EXAMPLES and EXIT STATUS sections.

use clap_mangen::Man;
use std::io::{self, Write};

/// Writes the roff man page of `cmd` (whose after-help holds examples, then
/// a line `Exit codes:` and the codes).
pub fn render(cmd: clap::Command, w: &mut dyn Write) -> io::Result<()> {
    let after = cmd
        .get_after_help()
        .map(|s| s.to_string())
        .unwrap_or_default();
    let (examples, codes) = after.split_once("Exit codes:").unwrap_or((&after, ""));
    let examples = examples.trim_start_matches("Examples:");
    let man = Man::new(cmd);
    man.render_title(w)?;
    man.render_name_section(w)?;
    man.render_synopsis_section(w)?;
    man.render_description_section(w)?;
    man.render_options_section(w)?;
    man.render_subcommands_section(w)?;
    preformatted(w, "EXAMPLES", examples)?;
    preformatted(w, "EXIT STATUS", codes)?;
    man.render_version_section(w)
}

/// A section whose lines are kept as they are (`.nf`): the columns of `--help`.
fn preformatted(w: &mut dyn Write, title: &str, text: &str) -> io::Result<()> {
    let text = text.trim_matches('\n');
    if text.trim().is_empty() {
        return Ok(());
    }
    writeln!(w, ".SH \"{title}\"\n.nf")?;
    for line in text.lines() {
        writeln!(w, "{}", escape(line))?;
    }
    writeln!(w, ".fi")
}

/// A line of text as roff reads it literally.
fn escape(line: &str) -> String {
    let s = line.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_roff_would_read_as_requests() {
        assert_eq!(escape("--out a\\b"), "\\-\\-out a\\eb");
        assert_eq!(escape(".hidden"), "\\&.hidden");
        assert_eq!(escape("can't"), "can't");
    }
}

//! Packet patterns in tcpdump's flag notation, and the line patterns (regular
//! expressions) of an external program's output, parsed once at validation.
//!
//! An item is `DIR FLAGS` (`C>S F.`), `DIR` being `C>S` or `S>C` and FLAGS
//! tcpdump's notation ([`TcpFlags::parse_tcpdump`]). Alternatives are
//! separated by `|` (`S>C F.|S>C .`); an alternative ending in `+` matches a
//! run of one or more consecutive packets (`C>S P.+`). [`PacketPattern::parse`]
//! never panics; its errors are the messages the scenario file reports.
//!
//! A [`LinePattern`] is a regular expression in the `regex` crate's syntax
//! (RE2-like: no backreferences or look-around, matching in time linear in
//! the line), unanchored: it matches anywhere in a line unless it says `^` or
//! `$`. It is compiled once, at validation, so an invalid one is a scenario
//! error before any lab exists.

use crate::evidence::{Side, TcpFlags};

/// One alternative of a packet pattern: who sends, which flags exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketAlt {
    pub side: Side,
    pub flags: TcpFlags,
    /// One or more consecutive packets (`+`).
    pub plus: bool,
    /// The alternative as written (trimmed, with its `+`).
    pub text: String,
}

impl PacketAlt {
    /// Whether a packet from `side` with exactly `flags` matches.
    pub fn matches(&self, side: Option<Side>, flags: TcpFlags) -> bool {
        side == Some(self.side) && flags == self.flags
    }
}

/// A packet pattern item: one or more alternatives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketPattern {
    /// The item as written in the file.
    pub written: String,
    pub alts: Vec<PacketAlt>,
}

impl PacketPattern {
    /// Parses `C>S F.`, `S>C F.|S>C .`, `C>S P.+`.
    pub fn parse(item: &str) -> Result<PacketPattern, String> {
        let mut alts = Vec::new();
        for alt in item.split('|') {
            let alt = alt.trim();
            let (body, plus) = match alt.strip_suffix('+') {
                Some(b) => (b.trim_end(), true),
                None => (alt, false),
            };
            let (dir, flags) = body
                .split_once(' ')
                .ok_or_else(|| format!("packet pattern `{body}` should look like `C>S F.`"))?;
            let side = match dir {
                "C>S" => Side::Client,
                "S>C" => Side::Server,
                _ => return Err(format!("packet direction `{dir}` should be `C>S` or `S>C`")),
            };
            let flags = TcpFlags::parse_tcpdump(flags.trim()).ok_or_else(|| {
                format!(
                    "packet flags `{}` are not tcpdump notation (S, S., F., P., R, R., .)",
                    flags.trim()
                )
            })?;
            alts.push(PacketAlt {
                side,
                flags,
                plus,
                text: alt.to_string(),
            });
        }
        Ok(PacketPattern {
            written: item.to_string(),
            alts,
        })
    }

    /// The item as written, trimmed.
    pub fn text(&self) -> &str {
        self.written.trim()
    }

    /// Whether one packet matches any alternative (a `+` counts as one).
    pub fn matches_one(&self, side: Option<Side>, flags: TcpFlags) -> bool {
        self.alts.iter().any(|a| a.matches(side, flags))
    }
}

/// Flag letters a `silent` expectation counts (`S F P R U .`, `.` meaning ACK).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlagSet {
    /// As written (`FR`).
    pub letters: String,
    /// The bits any of which a segment must carry.
    pub mask: u16,
}

impl FlagSet {
    /// Parses letters of `S F P R U .`; `None` when empty or another letter is present.
    pub fn parse(letters: &str) -> Option<FlagSet> {
        if letters.is_empty() {
            return None;
        }
        let mut mask = 0;
        for c in letters.chars() {
            mask |= match c {
                'S' => TcpFlags::SYN,
                'F' => TcpFlags::FIN,
                'P' => TcpFlags::PSH,
                'R' => TcpFlags::RST,
                'U' => TcpFlags::URG,
                '.' => TcpFlags::ACK,
                _ => return None,
            };
        }
        Some(FlagSet {
            letters: letters.to_string(),
            mask,
        })
    }

    /// `FR.` -> `F/R/ACK`.
    pub fn list(&self) -> String {
        self.letters
            .chars()
            .map(|c| {
                if c == '.' {
                    "ACK".to_string()
                } else {
                    c.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Whether a segment with these flags carries any of the letters.
    pub fn hit(&self, flags: TcpFlags) -> bool {
        flags.0 & self.mask != 0
    }
}

/// A compiled regular expression for the lines of an external program's
/// output (`wait = { stdout = "..." }`, `[[expect]] stderr = "..."`,
/// `dies ... line = "..."`). Two are equal when they are written alike.
#[derive(Clone)]
pub struct LinePattern(regex::Regex);

impl LinePattern {
    /// Compiles `text`; the error says what is wrong in one line.
    pub fn parse(text: &str) -> Result<LinePattern, String> {
        regex::Regex::new(text).map(LinePattern).map_err(|e| {
            let why = match &e {
                // regex-syntax's message shows the pattern with a caret, then `error: why`.
                regex::Error::Syntax(s) => s
                    .lines()
                    .rev()
                    .find_map(|l| l.strip_prefix("error: "))
                    .unwrap_or(s)
                    .to_string(),
                regex::Error::CompiledTooBig(limit) => {
                    format!("it compiles to more than {limit} bytes")
                }
                _ => e.to_string(),
            };
            format!("`{text}` is not a regular expression: {why}")
        })
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether it matches somewhere in `line`.
    pub fn is_match(&self, line: &str) -> bool {
        self.0.is_match(line)
    }
}

impl PartialEq for LinePattern {
    fn eq(&self, other: &LinePattern) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for LinePattern {}

impl std::fmt::Debug for LinePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("LinePattern").field(&self.as_str()).finish()
    }
}

/// `/expression/`, as the reports show it.
impl std::fmt::Display for LinePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "/{}/", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_patterns_match_anywhere_and_say_why_they_are_invalid() {
        let p = LinePattern::parse("reconnect(ing)?").unwrap();
        assert!(p.is_match("client: reconnecting in 1s"));
        assert!(!p.is_match("connected"));
        assert_eq!(p.to_string(), "/reconnect(ing)?/");
        assert_eq!(format!("{p:?}"), r#"LinePattern("reconnect(ing)?")"#);
        assert_eq!(p, LinePattern::parse("reconnect(ing)?").unwrap());
        assert_ne!(p, LinePattern::parse("reconnect").unwrap());
        assert!(LinePattern::parse("^got x$").unwrap().is_match("got x"));
        assert_eq!(
            LinePattern::parse("(oops").unwrap_err(),
            "`(oops` is not a regular expression: unclosed group"
        );
        assert_eq!(
            LinePattern::parse("a{2,1}").unwrap_err(),
            "`a{2,1}` is not a regular expression: invalid repetition count range, the start must be <= the end"
        );
    }

    #[test]
    fn alternatives_and_runs_are_kept() {
        let p = PacketPattern::parse(" S>C F.|S>C .+ ").unwrap();
        assert_eq!(p.text(), "S>C F.|S>C .+");
        assert_eq!(p.alts.len(), 2);
        assert!(!p.alts[0].plus && p.alts[1].plus);
        assert_eq!(p.alts[1].text, "S>C .+");
        let ack = TcpFlags::parse_tcpdump(".").unwrap();
        assert!(p.matches_one(Some(Side::Server), ack));
        assert!(!p.matches_one(Some(Side::Client), ack));
        assert!(!p.matches_one(None, ack));
    }

    #[test]
    fn errors_name_the_bad_part() {
        assert_eq!(
            PacketPattern::parse("C>S +").unwrap_err(),
            "packet pattern `C>S` should look like `C>S F.`"
        );
        assert_eq!(
            PacketPattern::parse("C>S F.++").unwrap_err(),
            "packet flags `F.+` are not tcpdump notation (S, S., F., P., R, R., .)"
        );
    }

    #[test]
    fn flag_sets() {
        let f = FlagSet::parse("FR.").unwrap();
        assert_eq!(f.list(), "F/R/ACK");
        assert!(f.hit(TcpFlags(TcpFlags::ACK)));
        assert!(!f.hit(TcpFlags(TcpFlags::PSH)));
        assert_eq!(FlagSet::parse(""), None);
        assert_eq!(FlagSet::parse("FX"), None);
    }
}

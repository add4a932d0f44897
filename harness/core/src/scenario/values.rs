//! Plain values of the scenario format, shared by the file layer and the
//! validated scenario: durations with units, the lab's shape, socket options.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// A duration written with a unit: `300ms`, `2s`, `1.5s`, `2m`, `1h`, `500us`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

/// Serialized as it is written (`300ms`, `2s`), so it round-trips through JSON and TOML.
impl Serialize for Dur {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl Dur {
    pub fn parse(text: &str) -> Result<Dur, String> {
        let t = text.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| {
                format!("duration `{t}` has no unit (write e.g. `300ms`, `2s`, `1m`)")
            })?;
        let (num, unit) = t.split_at(split);
        let value: f64 = num
            .parse()
            .map_err(|_| format!("`{t}` is not a duration (write e.g. `300ms`, `2s`, `1m`)"))?;
        let scale = match unit.trim() {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            other => {
                return Err(format!(
                    "unknown duration unit `{other}` in `{t}` (ms, s, m, h)"
                ))
            }
        };
        let secs = value * scale;
        if !secs.is_finite() || secs > 1e9 {
            return Err(format!("duration `{t}` is out of range"));
        }
        Ok(Dur(Duration::from_secs_f64(secs)))
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0.as_secs_f64()
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Dur::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_secs_f64() * 1000.0;
        if ms < 1000.0 {
            write!(f, "{ms}ms")
        } else {
            write!(f, "{}s", ms / 1000.0)
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Topology {
    /// Each host joined by a veth to a bridge in the wire namespace.
    #[default]
    Switched,
    /// The two hosts joined by one veth pair (a crossover cable).
    Direct,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    #[default]
    V4,
    V6,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    #[default]
    Fast,
    Faithful,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Fast => "fast",
            Profile::Faithful => "faithful",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnEof {
    /// Do nothing (the socket stays in CLOSE_WAIT).
    #[default]
    None,
    /// close() as soon as EOF is read.
    Close,
}

/// Socket options a built-in endpoint sets (the server sets them on the
/// listening socket, so the accepted socket inherits them).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocketOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive: Option<bool>,
    /// TCP_KEEPIDLE (whole seconds, 1..32767).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepidle: Option<Dur>,
    /// TCP_KEEPINTVL (whole seconds, 1..32767).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepintvl: Option<Dur>,
    /// TCP_KEEPCNT (1..127).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepcnt: Option<u32>,
    /// TCP_USER_TIMEOUT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_timeout: Option<Dur>,
    /// SO_LINGER {on, seconds}; `0s` makes close() send RST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linger: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodelay: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reuseaddr: Option<bool>,
    /// TCP_RTO_MAX_MS (kernel 6.15+, 1s..120s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto_max: Option<Dur>,
    /// TCP_SYNCNT (1..127): this socket's SYN retries, instead of tcp_syn_retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syncnt: Option<u32>,
}

impl SocketOptions {
    /// Fields set in `other` replace those here.
    pub fn merge(&mut self, other: &SocketOptions) {
        macro_rules! take {
            ($($f:ident),*) => { $( if other.$f.is_some() { self.$f = other.$f.clone(); } )* };
        }
        take!(
            keepalive,
            keepidle,
            keepintvl,
            keepcnt,
            user_timeout,
            linger,
            nodelay,
            reuseaddr,
            rto_max,
            syncnt
        );
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShutdownHow {
    Wr,
    Rd,
    Rdwr,
}

impl ShutdownHow {
    /// As the file writes it and the endpoint's `shutdown` command takes it.
    pub fn name(self) -> &'static str {
        match self {
            ShutdownHow::Wr => "wr",
            ShutdownHow::Rd => "rd",
            ShutdownHow::Rdwr => "rdwr",
        }
    }
}

/// Where in the run an expectation looks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum When {
    /// The last sample of the run.
    #[default]
    End,
    /// Every sample after `after` (or the whole run).
    Throughout,
    /// At least one sample after `after`.
    Ever,
}

#[cfg(test)]
mod dur_tests {
    use super::*;

    #[test]
    fn durations_round_trip_through_json() {
        for text in ["300ms", "2s", "0.5ms", "90s"] {
            let d = Dur::parse(text).unwrap();
            let json = serde_json::to_string(&d).unwrap();
            let back: Dur = serde_json::from_str(&json).unwrap();
            assert_eq!(back, d, "{text} -> {json}");
        }
        let o = SocketOptions {
            keepidle: Some(Dur::parse("2s").unwrap()),
            ..Default::default()
        };
        let back: SocketOptions =
            serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
        assert_eq!(back, o);
    }
}

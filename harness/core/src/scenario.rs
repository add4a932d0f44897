//! Scenario files: the TOML format, its validation and the profiles.
//!
//! Contract: [`Scenario::parse`] either returns a scenario in which every name
//! a step or expectation uses exists and every value is in range, or an error
//! of the form `file:line:col: what is wrong`. It does no I/O besides reading
//! the text it is given, so a malformed file is rejected before anything is
//! created in the kernel. Unknown keys are errors.
//!
//! A scenario has two hosts (`client`, `server`), endpoints (processes on a
//! host: the built-in `client`/`server` or an external command), a timeline of
//! steps (wait for a condition, then act) and expectations over the evidence.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;
use toml::Spanned;

/// The two hosts every lab has.
pub const HOSTS: [&str; 2] = ["client", "server"];
/// The capture ports on the wire.
pub const PORTS: [&str; 2] = ["client-port", "server-port"];

/// A scenario file error with its location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

impl std::error::Error for ScenarioError {}

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

/// A scenario file as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: String,
    /// Conclusion ID from SEED-CONCLUSIONS.md (`C1`..`C7`, `C4b`) or `X-...` beyond the seed.
    pub conclusion: String,
    pub summary: String,
    #[serde(default)]
    pub topology: Topology,
    /// Address family of the connection.
    #[serde(default)]
    pub ip: Family,
    #[serde(default)]
    pub hosts: BTreeMap<Spanned<String>, HostSpec>,
    pub endpoints: BTreeMap<Spanned<String>, Spanned<EndpointSpec>>,
    #[serde(rename = "step", default)]
    pub steps: Vec<Spanned<Step>>,
    #[serde(rename = "expect", default)]
    pub expects: Vec<Spanned<Expect>>,
    /// Per-profile overrides (`fast`, `faithful`).
    #[serde(default)]
    pub profile: BTreeMap<Spanned<String>, ProfileOverride>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    /// `net.ipv4.tcp_retries2 = 5`: written through the host namespace's /proc/sys.
    #[serde(default)]
    pub sysctl: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    /// Pin the neighbour entry for the peer (static ARP / NDP): resolution
    /// never fails in a cut, so TCP's segments keep reaching the wire.
    #[serde(default)]
    pub static_neighbour: bool,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileOverride {
    #[serde(default)]
    pub hosts: BTreeMap<Spanned<String>, HostSpec>,
    #[serde(default)]
    pub endpoints: BTreeMap<Spanned<String>, EndpointOverride>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointOverride {
    #[serde(default)]
    pub options: SocketOptions,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Program {
    /// Built-in client: connects to the server endpoint's address and port.
    Client,
    /// Built-in server: listens, accepts one connection.
    Server,
    /// An external command (`command = [...]`).
    External,
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

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    pub host: Spanned<String>,
    pub program: Program,
    /// Server: the port it listens on. Client: the port it connects to.
    #[serde(default = "default_port")]
    pub port: u16,
    /// External endpoints: argv; placeholders `{server_ip}`, `{server_port}`, `{client_ip}`.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// External endpoints: run `command` joined by spaces under `/bin/sh -c`.
    #[serde(default)]
    pub shell: bool,
    /// Start with the scenario (true) or only at a `start` step.
    #[serde(default = "yes")]
    pub start: bool,
    /// Read whatever arrives (true), or leave it unread in the receive queue.
    #[serde(default = "yes")]
    pub autoread: bool,
    /// What to do after reading EOF.
    #[serde(default)]
    pub on_eof: OnEof,
    /// Wait this long after EOF before `on_eof` acts (e.g. 300ms for a four-segment close).
    #[serde(default)]
    pub on_eof_delay: Option<Dur>,
    #[serde(default)]
    pub options: SocketOptions,
}

fn default_port() -> u16 {
    8080
}
fn yes() -> bool {
    true
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
            rto_max
        );
    }
}

/// One timeline step: wait for a condition (optional), then act (optional).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// A label expectations can refer to (`after = "close"`).
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub wait: Option<Spanned<Wait>>,
    #[serde(rename = "do", default)]
    pub action: Option<Spanned<Action>>,
    /// The endpoint an endpoint action applies to.
    #[serde(default)]
    pub endpoint: Option<Spanned<String>>,
    /// The host a host action applies to (power_off, link_down).
    #[serde(default)]
    pub host: Option<Spanned<String>>,
    /// `send`: how many bytes.
    #[serde(default)]
    pub bytes: Option<u64>,
    /// `kill`: the signal (`KILL`, `TERM`, `INT`, `STOP`, `CONT`, `HUP`).
    #[serde(default)]
    pub signal: Option<Spanned<String>>,
    /// `shutdown`: `wr`, `rd` or `rdwr`.
    #[serde(default)]
    pub how: Option<ShutdownHow>,
    /// `impair`: netem delay (and `jitter`) on the frames `from` sends.
    #[serde(default)]
    pub delay: Option<Dur>,
    #[serde(default)]
    pub jitter: Option<Dur>,
    /// `stream`: at most this many bytes per second (default: as fast as the connection takes).
    #[serde(default)]
    pub rate: Option<Spanned<u64>>,
    /// `drop`: whose segments the wire drops (`client`, `server`, `both`; default both).
    #[serde(default)]
    pub from: Option<Spanned<String>>,
    /// `drop`: only TCP segments carrying any of these flags (`F`, `R`, `S`, or `.` for
    /// pure ACKs, which also covers keepalive probes); absent: every frame.
    #[serde(default)]
    pub flags: Option<Spanned<String>>,
    /// `drop`: drop each frame with this probability (0..1) instead.
    #[serde(default)]
    pub probability: Option<Spanned<f64>>,
    /// `drop`: only the first `count` matching frames (per sending host), then
    /// let them pass with no `undrop` (so no harness action races the kernel's
    /// retransmission timer: "the FIN is lost once").
    #[serde(default)]
    pub count: Option<Spanned<u64>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Endpoint writes `bytes` bytes.
    Send,
    /// Endpoint writes continuously until the connection fails.
    Stream,
    /// Endpoint calls close().
    Close,
    /// Endpoint calls shutdown(`how`).
    Shutdown,
    /// Send a signal to the endpoint's process (`signal`, default KILL).
    Kill,
    /// Start an endpoint declared with `start = false`.
    Start,
    /// Kill the endpoint's process (SIGKILL) and start it again.
    Restart,
    /// Cut the wire in both directions (hosts keep link and carrier).
    Cut,
    /// Undo `cut`.
    Restore,
    /// Take the host's wire port down: the host loses carrier.
    LinkDown,
    LinkUp,
    /// The host's state vanishes without a packet leaving it.
    PowerOff,
    /// The host comes back empty with the same addresses and MAC.
    PowerOn,
    /// The wire drops selected segments (`from`, `flags`, `probability`).
    Drop,
    /// The wire stops every `drop`.
    Undrop,
    /// netem on the wire (needs sch_netem): `delay`, `jitter`, loss as `probability`, for `from`'s frames.
    Impair,
    /// Removes every `impair`.
    Unimpair,
}

impl Action {
    pub fn needs_endpoint(self) -> bool {
        matches!(
            self,
            Action::Send
                | Action::Stream
                | Action::Close
                | Action::Shutdown
                | Action::Kill
                | Action::Start
                | Action::Restart
        )
    }
    pub fn needs_host(self) -> bool {
        matches!(
            self,
            Action::LinkDown | Action::LinkUp | Action::PowerOff | Action::PowerOn
        )
    }
    pub fn name(self) -> &'static str {
        match self {
            Action::Send => "send",
            Action::Stream => "stream",
            Action::Close => "close",
            Action::Shutdown => "shutdown",
            Action::Kill => "kill",
            Action::Start => "start",
            Action::Restart => "restart",
            Action::Cut => "cut",
            Action::Restore => "restore",
            Action::LinkDown => "link_down",
            Action::LinkUp => "link_up",
            Action::PowerOff => "power_off",
            Action::PowerOn => "power_on",
            Action::Drop => "drop",
            Action::Undrop => "undrop",
            Action::Impair => "impair",
            Action::Unimpair => "unimpair",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShutdownHow {
    Wr,
    Rd,
    Rdwr,
}

/// A condition to wait for. Exactly one of `event`, `socket`, `gone`,
/// `packet`, `duration` is given.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wait {
    /// An application event kind (`connected`, `eof`, `error`, `received`, ...).
    #[serde(default)]
    pub event: Option<String>,
    /// Which endpoint the event comes from.
    #[serde(default)]
    pub source: Option<Spanned<String>>,
    /// With `event = "error"`: the errno name.
    #[serde(default)]
    pub errno: Option<String>,
    /// With `event = "received"`/`"sent"`: at least this many bytes in all.
    #[serde(default)]
    pub bytes: Option<u64>,
    /// A socket state seen by sock_diag on `host` (the connection's socket, not a
    /// listener, except for `LISTEN`), in a sampler round taken after the wait began.
    #[serde(default)]
    pub socket: Option<String>,
    /// `gone = true`: wait until `host` has no socket of the connection left.
    #[serde(default)]
    pub gone: Option<bool>,
    #[serde(default)]
    pub host: Option<Spanned<String>>,
    /// A packet in tcpdump notation (`C>S F.`) seen on `port`.
    #[serde(default)]
    pub packet: Option<String>,
    #[serde(default)]
    pub port: Option<Spanned<String>>,
    /// Just let time pass.
    #[serde(default)]
    pub duration: Option<Dur>,
    /// With `packet`: wait for this many such packets (default 1).
    #[serde(default)]
    pub count: Option<u32>,
    /// How long to wait before the scenario is an error (default 5s).
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// Instead of `timeout`: as long as the model says the connection of
    /// `source` (or of `host`'s endpoint) can live (`retransmission`,
    /// `keepalive`), plus 10 s; so one file serves the fast and faithful profiles.
    #[serde(default)]
    pub model_timeout: Option<Spanned<String>>,
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

/// One expectation. Exactly one of `packets`, `any_of`, `silent`, `socket`,
/// `event` says what kind it is.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// A name for the report; derived from the expectation when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// The connection's segments on `port` after `after`, in order, exactly:
    /// `["C>S F.", "S>C F.", "C>S ."]`. An item may list alternatives
    /// (`"S>C F.|S>C ."`) and a count (`"C>S R x1+"` would be written `"C>S R+"`).
    #[serde(default)]
    pub packets: Option<Vec<String>>,
    /// Like `packets`, any one of several whole sequences.
    #[serde(default)]
    pub any_of: Option<Vec<Vec<String>>>,
    /// Nothing from `from` (`client`, `server`, `any`) on `port` after `after`;
    /// with `flags`, nothing carrying any of those flags (`"F"`, `"R"`, `"FR"`).
    #[serde(default)]
    pub silent: Option<Spanned<String>>,
    #[serde(default)]
    pub flags: Option<String>,
    /// A socket state on `host` (`when` = end, throughout, ever). `CLOSED`
    /// means the connection has no socket left on that host.
    #[serde(default)]
    pub socket: Option<String>,
    #[serde(default)]
    pub host: Option<Spanned<String>>,
    #[serde(default)]
    pub when: When,
    /// An application event from `source` (with `errno` for errors).
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default)]
    pub source: Option<Spanned<String>>,
    #[serde(default)]
    pub errno: Option<Vec<String>>,
    /// `event`: `false` means the event must not happen.
    #[serde(default)]
    pub happens: Option<bool>,
    /// The capture port packet expectations read (default `server-port`).
    #[serde(default)]
    pub port: Option<Spanned<String>>,
    /// Only evidence after this named step acted.
    #[serde(default)]
    pub after: Option<Spanned<String>>,
    /// When `source`'s connection dies (its first error event) against the
    /// kernel model: `retransmission` (a dead path while data is in flight,
    /// counted from the original send of the first segment never acknowledged)
    /// or `keepalive` (an idle dead path, counted from the last segment received).
    #[serde(default)]
    pub dies: Option<Spanned<String>>,
    /// The retransmissions (`retransmission`) or keepalive probes (`keepalive`)
    /// `host` sends after `after`, against the model's times, one by one.
    #[serde(default)]
    pub schedule: Option<Spanned<String>>,
    /// With `socket`: the first sample of the connection in that state has its
    /// timer (sock_diag `expires_ms`) at least this long (`TIME_WAIT`: `55s`).
    #[serde(default)]
    pub timer_at_least: Option<Dur>,
    /// With `socket`: ... and at most this long.
    #[serde(default)]
    pub timer_at_most: Option<Dur>,
    /// When `host`'s socket of the connection vanishes (no RST, no event: an
    /// orphan) against the kernel model: `orphan_fin` (a closed socket whose
    /// FIN is never acknowledged, from the FIN's original send) or `fin_wait2`
    /// (a closed socket whose peer never sends its FIN, from the ACK of its FIN).
    #[serde(default)]
    pub gone: Option<Spanned<String>>,
}

/// A validated scenario, with the chosen profile applied.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub file: String,
    pub name: String,
    pub conclusion: String,
    pub summary: String,
    pub topology: Topology,
    pub ip: Family,
    pub profile: Profile,
    /// Host name -> sysctl name -> value, profile applied.
    pub sysctls: BTreeMap<String, BTreeMap<String, String>>,
    /// Hosts whose neighbour entry for the peer is pinned.
    pub static_neighbours: Vec<String>,
    pub endpoints: BTreeMap<String, EndpointSpec>,
    pub steps: Vec<Step>,
    pub expects: Vec<Expect>,
}

/// Line and column (1-based) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, span: std::ops::Range<usize>, message: impl Into<String>) -> ScenarioError {
        let (line, col) = line_col(self.text, span.start);
        ScenarioError {
            file: self.file.to_string(),
            line,
            col,
            message: message.into(),
        }
    }
}

const SIGNALS: [&str; 6] = ["KILL", "TERM", "INT", "STOP", "CONT", "HUP"];
const TCP_STATES: [&str; 12] = [
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "CLOSING",
    "CLOSED",
];
const EVENT_KINDS: [&str; 12] = [
    "listening",
    "accepted",
    "connected",
    "sent",
    "received",
    "eof",
    "error",
    "closed",
    "shutdown",
    "exited",
    "started",
    // A line an external program wrote on its stdout (the detail).
    "stdout",
];

/// Checks one packet pattern item: `C>S F.`, alternatives with `|`, optional
/// trailing `+` (one or more). Returns a message on error.
pub fn check_packet_pattern(item: &str) -> Result<(), String> {
    for alt in item.split('|') {
        let alt = alt.trim();
        let alt = alt.strip_suffix('+').unwrap_or(alt).trim_end();
        let (dir, flags) = alt
            .split_once(' ')
            .ok_or_else(|| format!("packet pattern `{alt}` should look like `C>S F.`"))?;
        if dir != "C>S" && dir != "S>C" {
            return Err(format!("packet direction `{dir}` should be `C>S` or `S>C`"));
        }
        if crate::evidence::TcpFlags::parse_tcpdump(flags.trim()).is_none() {
            return Err(format!(
                "packet flags `{}` are not tcpdump notation (S, S., F., P., R, R., .)",
                flags.trim()
            ));
        }
    }
    Ok(())
}

impl Scenario {
    /// The connection's server port: the built-in server's `port`, else the
    /// port of the endpoint on host `server`, else the port the built-in client
    /// connects to, else 8080.
    pub fn server_port(&self) -> u16 {
        let scenario = self;
        if let Some((_, e)) = scenario.endpoint_of(Program::Server) {
            return e.port;
        }
        if let Some(e) = scenario
            .endpoints
            .values()
            .find(|e| e.host.get_ref() == "server")
        {
            return e.port;
        }
        if let Some((_, e)) = scenario.endpoint_of(Program::Client) {
            return e.port;
        }
        8080
    }

    /// Parses and validates a scenario file's text for a profile.
    pub fn parse(file: &str, text: &str, profile: Profile) -> Result<Scenario, ScenarioError> {
        let ctx = Ctx { file, text };
        let raw: ScenarioFile = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            ctx.err(span, e.message().to_string())
        })?;
        Self::validate(&ctx, raw, profile)
    }

    fn validate(ctx: &Ctx, raw: ScenarioFile, profile: Profile) -> Result<Scenario, ScenarioError> {
        let endpoint_names: Vec<String> =
            raw.endpoints.keys().map(|k| k.get_ref().clone()).collect();
        let check_host = |h: &Spanned<String>| -> Result<(), ScenarioError> {
            if HOSTS.contains(&h.get_ref().as_str()) {
                Ok(())
            } else {
                Err(ctx.err(
                    h.span(),
                    format!(
                        "unknown host `{}` (hosts are `client` and `server`)",
                        h.get_ref()
                    ),
                ))
            }
        };
        let check_endpoint = |e: &Spanned<String>| -> Result<(), ScenarioError> {
            if endpoint_names.contains(e.get_ref()) {
                Ok(())
            } else {
                Err(ctx.err(
                    e.span(),
                    format!(
                        "unknown endpoint `{}` (declared: {})",
                        e.get_ref(),
                        endpoint_names.join(", ")
                    ),
                ))
            }
        };
        let check_port = |p: &Spanned<String>| -> Result<(), ScenarioError> {
            if PORTS.contains(&p.get_ref().as_str()) {
                Ok(())
            } else {
                Err(ctx.err(
                    p.span(),
                    format!(
                        "unknown port `{}` (ports are `client-port` and `server-port`)",
                        p.get_ref()
                    ),
                ))
            }
        };

        let mut sysctls: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        // Validates `hosts` and adds their sysctls to `into` (a throw-away map
        // for profiles not chosen, so their mistakes are caught too).
        let add_sysctls = |hosts: &BTreeMap<Spanned<String>, HostSpec>,
                           into: &mut BTreeMap<String, BTreeMap<String, String>>|
         -> Result<(), ScenarioError> {
            for (host, spec) in hosts {
                check_host(host)?;
                for (key, value) in &spec.sysctl {
                    let k = key.get_ref();
                    if !(k.starts_with("net.ipv4.")
                        || k.starts_with("net.ipv6.")
                        || k.starts_with("net.core."))
                    {
                        return Err(ctx.err(
                            key.span(),
                            format!("sysctl `{k}` is not a per-namespace net.* setting"),
                        ));
                    }
                    let v = match value.get_ref() {
                        toml::Value::Integer(i) => i.to_string(),
                        toml::Value::String(s) => s.clone(),
                        toml::Value::Boolean(b) => (*b as u8).to_string(),
                        _ => {
                            return Err(ctx.err(
                                value.span(),
                                format!("sysctl `{k}` wants a number or a string"),
                            ))
                        }
                    };
                    into.entry(host.get_ref().clone())
                        .or_default()
                        .insert(k.clone(), v);
                }
            }
            Ok(())
        };
        add_sysctls(&raw.hosts, &mut sysctls)?;

        let mut endpoints = BTreeMap::new();
        for (name, spec) in &raw.endpoints {
            let span = spec.span();
            let spec = spec.get_ref().clone();
            check_host(&spec.host)?;
            match spec.program {
                Program::External => {
                    if spec.command.as_ref().map(|c| c.is_empty()).unwrap_or(true) {
                        return Err(ctx.err(
                            span,
                            format!(
                                "endpoint `{}` is external but has no `command`",
                                name.get_ref()
                            ),
                        ));
                    }
                }
                _ => {
                    if spec.command.is_some() {
                        return Err(ctx.err(
                            span,
                            format!(
                                "endpoint `{}`: `command` goes with `program = \"external\"`",
                                name.get_ref()
                            ),
                        ));
                    }
                }
            }
            check_options(ctx, span.clone(), name.get_ref(), &spec.options)?;
            endpoints.insert(name.get_ref().clone(), spec);
        }
        if !endpoints
            .values()
            .any(|e| e.program == Program::Server || e.program == Program::External)
        {
            return Err(ctx.err(0..0, "a scenario needs a server endpoint"));
        }

        for (pname, over) in &raw.profile {
            let p = match pname.get_ref().as_str() {
                "fast" => Profile::Fast,
                "faithful" => Profile::Faithful,
                other => {
                    return Err(ctx.err(
                        pname.span(),
                        format!("unknown profile `{other}` (fast, faithful)"),
                    ))
                }
            };
            for (ename, eo) in &over.endpoints {
                check_endpoint(ename)?;
                check_options(ctx, ename.span(), ename.get_ref(), &eo.options)?;
            }
            if p == profile {
                add_sysctls(&over.hosts, &mut sysctls)?;
                for (ename, eo) in &over.endpoints {
                    if let Some(e) = endpoints.get_mut(ename.get_ref()) {
                        e.options.merge(&eo.options);
                    }
                }
            } else {
                add_sysctls(&over.hosts, &mut BTreeMap::new())?;
            }
        }

        let mut step_names: Vec<String> = Vec::new();
        let mut steps = Vec::new();
        for step in &raw.steps {
            let span = step.span();
            let s = step.get_ref().clone();
            if s.wait.is_none() && s.action.is_none() {
                return Err(ctx.err(span, "a step needs `wait`, `do`, or both"));
            }
            if let Some(w) = &s.wait {
                let wspan = w.span();
                let w = w.get_ref();
                let kinds = [
                    w.event.is_some(),
                    w.socket.is_some(),
                    w.gone.is_some(),
                    w.packet.is_some(),
                    w.duration.is_some(),
                ]
                .iter()
                .filter(|b| **b)
                .count();
                if kinds != 1 {
                    return Err(ctx.err(wspan, "`wait` needs exactly one of `event`, `socket`, `gone`, `packet`, `duration`"));
                }
                if let Some(ev) = &w.event {
                    if !EVENT_KINDS.contains(&ev.as_str()) {
                        return Err(ctx.err(
                            wspan,
                            format!("unknown event `{ev}` ({})", EVENT_KINDS.join(", ")),
                        ));
                    }
                    match &w.source {
                        Some(src) => check_endpoint(src)?,
                        None => {
                            return Err(ctx.err(wspan, "`wait.event` needs `source` (an endpoint)"))
                        }
                    }
                }
                if let Some(st) = &w.socket {
                    if !TCP_STATES.contains(&st.as_str()) {
                        return Err(ctx.err(wspan, format!("unknown socket state `{st}`")));
                    }
                }
                if let Some(m) = &w.model_timeout {
                    if !["retransmission", "keepalive"].contains(&m.get_ref().as_str()) {
                        return Err(ctx.err(
                            m.span(),
                            format!(
                                "unknown model `{}` (retransmission, keepalive)",
                                m.get_ref()
                            ),
                        ));
                    }
                    if w.timeout.is_some() {
                        return Err(ctx.err(
                            m.span(),
                            "`model_timeout` replaces `timeout`: give one of them",
                        ));
                    }
                }
                if w.count.is_some() && w.packet.is_none() {
                    return Err(ctx.err(wspan.clone(), "`count` goes with `packet`"));
                }
                if w.count == Some(0) {
                    return Err(ctx.err(wspan.clone(), "`count` must be at least 1"));
                }
                if let Some(src) = &w.source {
                    check_endpoint(src)?;
                }
                if let Some(h) = &w.host {
                    check_host(h)?;
                }
                if w.socket.is_some() || w.gone.is_some() {
                    match &w.host {
                        Some(h) => check_host(h)?,
                        None => return Err(ctx.err(wspan, "a socket wait needs `host`")),
                    }
                }
                if let Some(p) = &w.packet {
                    check_packet_pattern(p).map_err(|m| ctx.err(wspan.clone(), m))?;
                }
                if let Some(p) = &w.port {
                    check_port(p)?;
                }
                if let Some(e) = &w.errno {
                    if crate::errno::number(e).is_none() {
                        return Err(ctx.err(wspan, format!("unknown errno `{e}`")));
                    }
                }
            }
            if let Some(e) = &s.endpoint {
                check_endpoint(e)?;
            }
            if let Some(h) = &s.host {
                check_host(h)?;
            }
            if let Some(a) = &s.action {
                let act = *a.get_ref();
                if act.needs_endpoint() {
                    match &s.endpoint {
                        Some(e) => check_endpoint(e)?,
                        None => {
                            return Err(ctx.err(
                                a.span(),
                                format!("`do = \"{}\"` needs `endpoint`", act.name()),
                            ))
                        }
                    }
                }
                if act.needs_host() {
                    match &s.host {
                        Some(h) => check_host(h)?,
                        None => {
                            return Err(ctx
                                .err(a.span(), format!("`do = \"{}\"` needs `host`", act.name())))
                        }
                    }
                }
                if act == Action::Send && s.bytes.unwrap_or(0) == 0 {
                    return Err(ctx.err(a.span(), "`do = \"send\"` needs `bytes` > 0"));
                }
                if act == Action::Shutdown && s.how.is_none() {
                    return Err(ctx.err(a.span(), "`do = \"shutdown\"` needs `how` (wr, rd, rdwr)"));
                }
                if let Some(sig) = &s.signal {
                    if act != Action::Kill {
                        return Err(ctx.err(sig.span(), "`signal` goes with `do = \"kill\"`"));
                    }
                    if !SIGNALS.contains(&sig.get_ref().as_str()) {
                        return Err(ctx.err(
                            sig.span(),
                            format!(
                                "unknown signal `{}` ({})",
                                sig.get_ref(),
                                SIGNALS.join(", ")
                            ),
                        ));
                    }
                }
            }
            if let Some(r) = &s.rate {
                if s.action.as_ref().map(|a| *a.get_ref()) != Some(Action::Stream) {
                    return Err(ctx.err(r.span(), "`rate` goes with `do = \"stream\"`"));
                }
                if *r.get_ref() == 0 {
                    return Err(ctx.err(r.span(), "`rate` is bytes per second, more than 0"));
                }
            }
            let is_drop = s
                .action
                .as_ref()
                .map(|a| *a.get_ref() == Action::Drop)
                .unwrap_or(false);
            let is_impair = s
                .action
                .as_ref()
                .map(|a| *a.get_ref() == Action::Impair)
                .unwrap_or(false);
            for (present, key, ok) in [
                (
                    s.from.as_ref().map(|x| x.span()),
                    "from",
                    is_drop || is_impair,
                ),
                (s.flags.as_ref().map(|x| x.span()), "flags", is_drop),
                (
                    s.probability.as_ref().map(|x| x.span()),
                    "probability",
                    is_drop || is_impair,
                ),
                (s.count.as_ref().map(|x| x.span()), "count", is_drop),
            ] {
                if let Some(sp) = present {
                    if !ok {
                        let with = if key == "flags" || key == "count" {
                            "`do = \"drop\"`"
                        } else {
                            "`do = \"drop\"` or `do = \"impair\"`"
                        };
                        return Err(ctx.err(sp, format!("`{key}` goes with {with}")));
                    }
                }
            }
            if (s.delay.is_some() || s.jitter.is_some()) && !is_impair {
                return Err(ctx.err(
                    span.clone(),
                    "`delay` and `jitter` go with `do = \"impair\"`",
                ));
            }
            if is_impair && s.delay.is_none() && s.probability.is_none() {
                return Err(ctx.err(
                    span.clone(),
                    "`do = \"impair\"` needs `delay` or `probability` (loss)",
                ));
            }
            if let Some(f) = &s.from {
                if !["client", "server", "both"].contains(&f.get_ref().as_str()) {
                    return Err(ctx.err(f.span(), "`from` is `client`, `server` or `both`"));
                }
            }
            if let Some(f) = &s.flags {
                let t = f.get_ref();
                let ok = t == "." || (!t.is_empty() && t.chars().all(|c| "FRS".contains(c)));
                if !ok {
                    return Err(ctx.err(
                        f.span(),
                        format!(
                            "drop `flags = \"{t}\"`: use letters of F R S, or `.` for pure ACKs"
                        ),
                    ));
                }
            }
            if let Some(c) = &s.count {
                if *c.get_ref() == 0 || *c.get_ref() > i64::MAX as u64 {
                    return Err(ctx.err(
                        c.span(),
                        "drop `count` is how many matching frames to drop: 1 or more",
                    ));
                }
            }
            if let Some(p) = &s.probability {
                let v = *p.get_ref();
                if !(0.0..=1.0).contains(&v) {
                    return Err(ctx.err(p.span(), format!("probability {v} is outside 0..1")));
                }
                if s.flags.is_some() {
                    return Err(ctx.err(p.span(), "`probability` and `flags` do not go together"));
                }
            }
            if let Some(n) = &s.name {
                if step_names.contains(n) {
                    return Err(ctx.err(span, format!("step name `{n}` is used twice")));
                }
                step_names.push(n.clone());
            }
            steps.push(s);
        }

        let mut expects = Vec::new();
        for ex in &raw.expects {
            let span = ex.span();
            let e = ex.get_ref().clone();
            let kinds = [
                e.packets.is_some(),
                e.any_of.is_some(),
                e.silent.is_some(),
                e.socket.is_some(),
                e.event.is_some(),
                e.dies.is_some(),
                e.schedule.is_some(),
                e.gone.is_some(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            if kinds != 1 {
                return Err(ctx.err(span, "`expect` needs exactly one of `packets`, `any_of`, `silent`, `socket`, `event`, `dies`, `schedule`, `gone`"));
            }
            if (e.timer_at_least.is_some() || e.timer_at_most.is_some()) && e.socket.is_none() {
                return Err(ctx.err(span, "`timer_at_least` / `timer_at_most` go with `socket`"));
            }
            if let Some(g) = &e.gone {
                if !["orphan_fin", "fin_wait2"].contains(&g.get_ref().as_str()) {
                    return Err(ctx.err(
                        g.span(),
                        format!("unknown model `{}` (orphan_fin, fin_wait2)", g.get_ref()),
                    ));
                }
                if e.host.is_none() || e.after.is_none() {
                    return Err(ctx.err(
                        span,
                        "`gone` needs `host` (whose socket vanishes) and `after` (the step that closed it)",
                    ));
                }
            }
            for model in [&e.dies, &e.schedule].into_iter().flatten() {
                if !["retransmission", "keepalive"].contains(&model.get_ref().as_str()) {
                    return Err(ctx.err(
                        model.span(),
                        format!(
                            "unknown model `{}` (retransmission, keepalive)",
                            model.get_ref()
                        ),
                    ));
                }
            }
            if e.dies.is_some() && e.source.is_none() {
                return Err(ctx.err(
                    span,
                    "`dies` needs `source` (the endpoint whose connection dies)",
                ));
            }
            if e.schedule.is_some() && e.host.is_none() {
                return Err(ctx.err(span, "`schedule` needs `host` (the host that sends)"));
            }
            if (e.dies.is_some() || e.schedule.is_some()) && e.after.is_none() {
                return Err(ctx.err(
                    span,
                    "a timing expectation needs `after` (the step that starts the fault)",
                ));
            }
            let seqs: Vec<&Vec<String>> =
                e.packets.iter().chain(e.any_of.iter().flatten()).collect();
            for seq in seqs {
                for item in seq {
                    check_packet_pattern(item).map_err(|m| ctx.err(span.clone(), m))?;
                }
            }
            if let Some(s) = &e.silent {
                if !["client", "server", "any"].contains(&s.get_ref().as_str()) {
                    return Err(ctx.err(s.span(), "`silent` is `client`, `server` or `any`"));
                }
            }
            if let Some(seqs) = &e.any_of {
                if seqs.is_empty() {
                    return Err(ctx.err(span.clone(), "`any_of` needs at least one sequence"));
                }
            }
            if e.flags.is_some() && e.silent.is_none() {
                return Err(ctx.err(span.clone(), "`flags` goes with `silent`"));
            }
            if let Some(h) = &e.host {
                check_host(h)?;
            }
            if let Some(s) = &e.source {
                check_endpoint(s)?;
            }
            if let Some(f) = &e.flags {
                if f.is_empty() || !f.chars().all(|c| "SFPRU.".contains(c)) {
                    return Err(ctx.err(
                        span,
                        format!("`flags = \"{f}\"`: use letters of S F P R U ."),
                    ));
                }
            }
            if let Some(st) = &e.socket {
                if !TCP_STATES.contains(&st.as_str()) {
                    return Err(ctx.err(span, format!("unknown socket state `{st}`")));
                }
                match &e.host {
                    Some(h) => check_host(h)?,
                    None => return Err(ctx.err(span, "a socket expectation needs `host`")),
                }
            }
            if let Some(ev) = &e.event {
                if !EVENT_KINDS.contains(&ev.as_str()) {
                    return Err(ctx.err(span, format!("unknown event `{ev}`")));
                }
                match &e.source {
                    Some(s) => check_endpoint(s)?,
                    None => return Err(ctx.err(span, "an event expectation needs `source`")),
                }
            }
            for errno in e.errno.iter().flatten() {
                if crate::errno::number(errno).is_none() {
                    return Err(ctx.err(span.clone(), format!("unknown errno `{errno}`")));
                }
            }
            if let Some(p) = &e.port {
                check_port(p)?;
            }
            if let Some(a) = &e.after {
                if !step_names.contains(a.get_ref()) {
                    return Err(ctx.err(a.span(), format!("no step is named `{}`", a.get_ref())));
                }
            }
            expects.push(e);
        }

        let static_neighbours = raw
            .hosts
            .iter()
            .filter(|(_, h)| h.static_neighbour)
            .map(|(n, _)| n.get_ref().clone())
            .collect();
        Ok(Scenario {
            static_neighbours,
            file: ctx.file.to_string(),
            name: raw.name,
            conclusion: raw.conclusion,
            summary: raw.summary,
            topology: raw.topology,
            ip: raw.ip,
            profile,
            sysctls,
            endpoints,
            steps,
            expects,
        })
    }

    /// The endpoint of a program kind, if there is exactly one.
    pub fn endpoint_of(&self, program: Program) -> Option<(&String, &EndpointSpec)> {
        self.endpoints.iter().find(|(_, e)| e.program == program)
    }
}

fn check_options(
    ctx: &Ctx,
    span: std::ops::Range<usize>,
    name: &str,
    o: &SocketOptions,
) -> Result<(), ScenarioError> {
    let secs = |d: &Option<Dur>, what: &str, lo: f64, hi: f64| -> Result<(), ScenarioError> {
        if let Some(d) = d {
            let s = d.as_secs_f64();
            if s < lo || s > hi || s.fract() != 0.0 {
                return Err(ctx.err(
                    span.clone(),
                    format!(
                        "endpoint `{name}`: {what} must be whole seconds in {lo}..{hi} s, not {d}"
                    ),
                ));
            }
        }
        Ok(())
    };
    secs(&o.keepidle, "keepidle", 1.0, 32767.0)?;
    secs(&o.keepintvl, "keepintvl", 1.0, 32767.0)?;
    if let Some(c) = o.keepcnt {
        if !(1..=127).contains(&c) {
            return Err(ctx.err(
                span,
                format!("endpoint `{name}`: keepcnt must be 1..127, not {c}"),
            ));
        }
    }
    if let Some(r) = &o.rto_max {
        let ms = r.as_secs_f64() * 1000.0;
        if !(1000.0..=120000.0).contains(&ms) {
            return Err(ctx.err(
                span,
                format!("endpoint `{name}`: rto_max must be 1s..120s, not {r}"),
            ));
        }
    }
    if let Some(l) = &o.linger {
        if l.as_secs_f64().fract() != 0.0 {
            return Err(ctx.err(
                span,
                format!("endpoint `{name}`: linger is whole seconds, not {l}"),
            ));
        }
    }
    Ok(())
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

//! The scenario file as written: the serde layer, private to [`super`].
//!
//! These structs mirror the TOML one to one (every key optional where the
//! format lets it be left out, spans kept for error locations). Nothing
//! outside the scenario module sees them: `validate` turns them into the
//! typed [`super::Scenario`]. Unknown keys are errors (`deny_unknown_fields`).

use super::values::{Dur, Family, OnEof, ShutdownHow, SocketOptions, Topology, When};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// A scenario file as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScenarioFile {
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
    pub endpoints: BTreeMap<Spanned<String>, Spanned<EndpointFile>>,
    #[serde(rename = "step", default)]
    pub steps: Vec<Spanned<StepFile>>,
    #[serde(rename = "expect", default)]
    pub expects: Vec<Spanned<ExpectFile>>,
    /// Per-profile overrides (`fast`, `faithful`).
    #[serde(default)]
    pub profile: BTreeMap<Spanned<String>, ProfileOverride>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HostSpec {
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
pub(super) struct ProfileOverride {
    #[serde(default)]
    pub hosts: BTreeMap<Spanned<String>, HostSpec>,
    #[serde(default)]
    pub endpoints: BTreeMap<Spanned<String>, EndpointOverride>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EndpointOverride {
    #[serde(default)]
    pub options: SocketOptions,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum ProgramKind {
    /// Built-in client: connects to the server endpoint's address and port.
    Client,
    /// Built-in server: listens, accepts one connection.
    Server,
    /// An external command (`command = [...]`).
    External,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EndpointFile {
    pub host: Spanned<String>,
    pub program: ProgramKind,
    /// Server: the port it listens on. Client: the port it connects to.
    #[serde(default = "default_port")]
    pub port: u16,
    /// External endpoints: argv; placeholders `{server_ip}`, `{server_port}`, `{client_ip}`.
    #[serde(default)]
    pub command: Option<Spanned<Vec<Spanned<String>>>>,
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
    /// WaitFile this long after EOF before `on_eof` acts (e.g. 300ms for a four-segment close).
    #[serde(default)]
    pub on_eof_delay: Option<Dur>,
    #[serde(default)]
    pub options: SocketOptions,
    /// Who runs it: a user name or uid (default: the invoking user, else nobody).
    #[serde(default)]
    pub user: Option<Spanned<String>>,
    /// Built-in server: accept the connection (true), or only listen, so the
    /// handshakes complete into the accept queue and `close` closes the listener.
    #[serde(default)]
    pub accept: Option<Spanned<bool>>,
    /// Built-in endpoint: its reader waits in epoll_wait (not poll) and reports
    /// an error or hangup wake-up as `error` op=epoll (detail = the epoll flags).
    #[serde(default)]
    pub epoll: Option<Spanned<bool>>,
}

fn default_port() -> u16 {
    8080
}
fn yes() -> bool {
    true
}

/// One timeline step: wait for a condition (optional), then act (optional).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StepFile {
    /// A label expectations can refer to (`after = "close"`).
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub wait: Option<Spanned<WaitFile>>,
    #[serde(rename = "do", default)]
    pub action: Option<Spanned<ActionKind>>,
    /// The endpoint an endpoint action applies to.
    #[serde(default)]
    pub endpoint: Option<Spanned<String>>,
    /// The host a host action applies to (power_off, link_down).
    #[serde(default)]
    pub host: Option<Spanned<String>>,
    /// `send`: how many bytes.
    #[serde(default)]
    pub bytes: Option<u64>,
    /// `send`: the endpoint closes the socket itself once the write has
    /// returned (an application's `write(); close();`), with no round trip
    /// through the runner in between.
    #[serde(default)]
    pub then_close: Option<Spanned<bool>>,
    /// `write`: the line written (plus a newline) on an external program's stdin.
    #[serde(default)]
    pub text: Option<Spanned<String>>,
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
    /// `impair` with `probability`: how much each loss draw follows the
    /// previous one (0..1; netem's loss correlation).
    #[serde(default)]
    pub correlation: Option<Spanned<f64>>,
    /// `drop`: only the first `count` matching frames (per sending host), then
    /// let them pass with no `undrop` (so no harness action races the kernel's
    /// retransmission timer: "the FIN is lost once").
    #[serde(default)]
    pub count: Option<Spanned<u64>>,
    /// `drop`: where: `wire` (default; a loss on the path) or `host` (the
    /// sender's own interface: a local drop its TCP is told about).
    #[serde(default)]
    pub at: Option<Spanned<String>>,
    /// `reject`: the ICMP / ICMPv6 destination unreachable the wire answers
    /// with (`host-unreachable`, the default, `port-unreachable`,
    /// `admin-prohibited`, `net-unreachable`).
    #[serde(default)]
    pub with: Option<Spanned<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum ActionKind {
    /// Endpoint writes `bytes` bytes.
    Send,
    /// Endpoint writes continuously until the connection fails.
    Stream,
    /// Endpoint calls close().
    Close,
    /// Endpoint calls shutdown(`how`).
    Shutdown,
    /// Endpoint starts reading (a reader that ended, or `autoread = false`).
    Read,
    /// Endpoint calls connect(AF_UNSPEC) on its socket.
    Disconnect,
    /// Send a signal to the endpoint's process (`signal`, default KILL).
    Kill,
    /// Write `text` and a newline on an external endpoint's stdin.
    Write,
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
    /// The wire answers `from`'s TCP segments with ICMP / ICMPv6 destination
    /// unreachable (`with`) instead of forwarding them.
    Reject,
    /// The wire stops every `reject`.
    Unreject,
}

impl ActionKind {
    pub fn needs_endpoint(self) -> bool {
        matches!(
            self,
            ActionKind::Send
                | ActionKind::Stream
                | ActionKind::Close
                | ActionKind::Shutdown
                | ActionKind::Read
                | ActionKind::Disconnect
                | ActionKind::Kill
                | ActionKind::Write
                | ActionKind::Start
                | ActionKind::Restart
        )
    }
    pub fn needs_host(self) -> bool {
        matches!(
            self,
            ActionKind::LinkDown | ActionKind::LinkUp | ActionKind::PowerOff | ActionKind::PowerOn
        )
    }
    pub fn name(self) -> &'static str {
        match self {
            ActionKind::Send => "send",
            ActionKind::Stream => "stream",
            ActionKind::Close => "close",
            ActionKind::Shutdown => "shutdown",
            ActionKind::Read => "read",
            ActionKind::Disconnect => "disconnect",
            ActionKind::Kill => "kill",
            ActionKind::Write => "write",
            ActionKind::Start => "start",
            ActionKind::Restart => "restart",
            ActionKind::Cut => "cut",
            ActionKind::Restore => "restore",
            ActionKind::LinkDown => "link_down",
            ActionKind::LinkUp => "link_up",
            ActionKind::PowerOff => "power_off",
            ActionKind::PowerOn => "power_on",
            ActionKind::Drop => "drop",
            ActionKind::Undrop => "undrop",
            ActionKind::Reject => "reject",
            ActionKind::Unreject => "unreject",
            ActionKind::Impair => "impair",
            ActionKind::Unimpair => "unimpair",
        }
    }
}

/// A condition to wait for. Exactly one of `event`, `socket`, `gone`,
/// `packet`, `stdout`, `stderr`, `duration` is given.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WaitFile {
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
    /// A line that the external endpoint `source` prints on its stdout
    /// (`stderr`: its stderr) matching this regular expression.
    #[serde(default)]
    pub stdout: Option<Spanned<String>>,
    #[serde(default)]
    pub stderr: Option<Spanned<String>>,
    /// With `packet`: wait for this many such packets (default 1).
    #[serde(default)]
    pub count: Option<u32>,
    /// With `packet`: only packets announcing this window (the header's
    /// field; `window = 0`: the receiver's window closed).
    #[serde(default)]
    pub window: Option<u16>,
    /// How long to wait before the scenario is an error (default 5s).
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// Instead of `timeout`: as long as the model says the connection of
    /// `source` (or of `host`'s endpoint) can live (`retransmission`,
    /// `keepalive`), plus 10 s; so one file serves the fast and faithful profiles.
    #[serde(default)]
    pub model_timeout: Option<Spanned<String>>,
}

/// One expectation. Exactly one of `packets`, `any_of`, `silent`, `socket`,
/// `event`, `stdout`, `stderr`, `dies`, `schedule`, `gone` says what kind it is.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExpectFile {
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
    /// With `event`: the event's detail, exactly (`error` op=epoll: `EPOLLERR|EPOLLHUP`).
    #[serde(default)]
    pub detail: Option<Spanned<String>>,
    /// A line that the external endpoint `source` prints on its stdout
    /// (`stderr`: its stderr) matching this regular expression.
    #[serde(default)]
    pub stdout: Option<Spanned<String>>,
    #[serde(default)]
    pub stderr: Option<Spanned<String>>,
    /// `event`, `stdout`, `stderr`: `false` means it must not happen.
    #[serde(default)]
    pub happens: Option<bool>,
    /// The capture port packet expectations read (default `server-port`).
    #[serde(default)]
    pub port: Option<Spanned<String>>,
    /// Only evidence after this named step acted.
    #[serde(default)]
    pub after: Option<Spanned<String>>,
    /// When `source`'s connection dies (its first error event; an external
    /// program: its first line matching `line`) against the
    /// kernel model: `retransmission` (a dead path while data is in flight,
    /// counted from the original send of the first segment never acknowledged)
    /// or `keepalive` (an idle dead path, counted from the last segment received).
    #[serde(default)]
    pub dies: Option<Spanned<String>>,
    /// With `dies` on an external endpoint: its death is its first stdout or
    /// stderr line matching this regular expression (it reports no `error` event).
    #[serde(default)]
    pub line: Option<Spanned<String>>,
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
    /// A probe `host` sends before its RTO, against the kernel model:
    /// `tail_loss` (the tail loss probe after the last segment of a flight).
    #[serde(default)]
    pub probe: Option<Spanned<String>>,
    /// Only on these kernels: `{ since = "6.5", change = "ccce324dabfe tcp: ..." }`
    /// (or `before`, or both), naming the upstream change.
    #[serde(default)]
    pub kernel: Option<Spanned<KernelFile>>,
}

/// An expectation's kernel range as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KernelFile {
    #[serde(default)]
    pub since: Option<String>,
    #[serde(default)]
    pub before: Option<String>,
    /// Only for one family (`v4`, `v6`).
    #[serde(default)]
    pub family: Option<Family>,
    /// The upstream change behind the difference: commit id and title.
    pub change: String,
}

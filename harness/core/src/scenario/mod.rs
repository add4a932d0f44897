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
//!
//! Like smoltcp's packet views and representations, the file as written
//! (`file`, private: serde structs whose keys are all optional) is kept apart
//! from the validated scenario (this module's types): every action, wait and
//! expectation is an enum variant carrying exactly its values, parsed once
//! (packet patterns, signals, model names, hosts, states), so what reads a
//! [`Scenario`] matches exhaustively and never re-validates.
//!
//! - `file`: the serde layer; `validate`: file to [`Scenario`], error by error.
//! - [`terms`]: the closed sets of names (hosts, ports, states, models, ...).
//! - [`pattern`]: packet patterns (`C>S F.|C>S .`, `C>S P.+`), flag sets and
//!   line patterns (the regular expressions an external program's lines are
//!   matched with).
//! - [`values`]: durations, socket options and the other plain values.

mod file;
pub mod kernel;
mod on_kernel;
pub mod pattern;
pub mod terms;
#[cfg(test)]
mod tests;
mod validate;
pub mod values;

pub use kernel::{Feature, KernelFacts, KernelRange, KernelVersion};
pub use pattern::{FlagSet, LinePattern, PacketAlt, PacketPattern};
pub use terms::{
    CapturePort, DeathModel, DropAt, EventKind, Host, OrphanModel, ProbeModel, Quiet, RejectWith,
    Senders, Signal, Stream, TcpState,
};
pub use values::{Dur, Family, OnEof, Profile, ShutdownHow, SocketOptions, Topology, When};

use crate::evidence::{Connection, TcpFlags};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

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

/// A validated scenario, with the chosen profile applied.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub file: String,
    pub name: String,
    /// Conclusion ID from SEED-CONCLUSIONS.md (`C1`..`C7`, `C4b`) or `X-...` beyond the seed.
    pub conclusion: String,
    pub summary: String,
    pub topology: Topology,
    /// Address family of the connection.
    pub ip: Family,
    pub profile: Profile,
    /// Host -> sysctl name -> value, profile applied; written through the
    /// host namespace's /proc/sys.
    pub sysctls: BTreeMap<Host, BTreeMap<String, String>>,
    /// Hosts whose neighbour entry for the peer is pinned (static ARP / NDP):
    /// resolution never fails in a cut, so TCP's segments keep reaching the wire.
    pub static_neighbours: Vec<Host>,
    pub endpoints: BTreeMap<String, Endpoint>,
    pub steps: Vec<Step>,
    pub expects: Vec<Expect>,
    /// The running kernel's defaults the model uses ([`Scenario::for_kernel`]
    /// sets them; the newest kernels' until then).
    pub kernel: KernelFacts,
}

/// A netem impairment: `delay` with `jitter`, and random `loss` (0..1)
/// whose draws are correlated with the previous one by `loss_correlation`
/// (0..1; netem's `loss random P C`: bursts of losses, as on a bad radio link).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Netem {
    pub delay: Duration,
    pub jitter: Duration,
    pub loss: f64,
    pub loss_correlation: f64,
}

/// A process on a host.
#[derive(Clone, Debug, PartialEq)]
pub struct Endpoint {
    pub host: Host,
    pub program: Program,
    /// Server: the port it listens on. Client: the port it connects to.
    pub port: u16,
    /// Start with the scenario (true) or only at a `start` step.
    pub start: bool,
    /// Read whatever arrives (true), or leave it unread in the receive queue.
    pub autoread: bool,
    /// What to do after reading EOF.
    pub on_eof: OnEof,
    /// Wait this long after EOF before `on_eof` acts (e.g. 300ms for a four-segment close).
    pub on_eof_delay: Option<Dur>,
    /// Socket options (built-in endpoints), the profile's applied.
    pub options: SocketOptions,
    /// Who runs it (the lab resolves the account before it builds anything).
    pub user: RunAs,
    /// Built-in server: accepts its connection (true), or only listens (the
    /// handshakes complete into the accept queue; `close` closes the listener).
    pub accept: bool,
    /// Built-in endpoint: its reader waits in epoll_wait and reports an error
    /// or hangup wake-up as `error` op=epoll, detail = the flags (`EPOLLERR|EPOLLHUP`).
    pub epoll: bool,
}

/// Who an endpoint's process runs as. Whatever the account, it runs inside
/// its host's namespace; only root keeps any capability.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunAs {
    /// The default: the user who invoked the harness through sudo
    /// (SUDO_UID/SUDO_GID), else `nobody`; no capabilities.
    Invoker,
    /// `user = "NAME"` (a name or a numeric uid; `"root"` keeps root's privileges).
    Named {
        name: String,
        /// Where `user` is written.
        at: Location,
    },
}

/// What runs as an endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Program {
    /// Built-in client: connects to the server endpoint's address and port.
    Client,
    /// Built-in server: listens, accepts one connection.
    Server,
    /// An external command.
    External {
        /// argv (not empty); placeholders `{server_ip}`, `{server_port}`, `{client_ip}`
        /// (only those: validation refuses any other `{...}`).
        argv: Vec<String>,
        /// Run `argv` joined by spaces under `/bin/sh -c`.
        shell: bool,
        /// Where `command` is written, for errors found once the file is
        /// valid (the lab resolves the program before it builds anything).
        at: Location,
    },
}

/// A place in a scenario file, for an error found after validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub col: usize,
}

impl Location {
    /// An error at this place.
    pub fn error(&self, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: self.file.clone(),
            line: self.line,
            col: self.col,
            message: message.into(),
        }
    }
}

/// The placeholders an external command may hold. `{scratch}`: a directory
/// of the endpoint's own, empty at the scenario's start, owned by the
/// endpoint's user, kept across its restarts and its host's power cycles,
/// removed with the lab. `{shared}`: a directory the endpoints of every lab
/// one `teardown` process runs share, per account (owned by it, mode 0700),
/// for work worth doing once per suite (a database's template data
/// directory, built under `flock`), removed when the process ends.
///
/// `{keepidle}`, `{keepintvl}`, `{user_timeout}`: the endpoint's declared
/// option (its `options`, the profile's applied) as a duration (`1s`,
/// `500ms`: Go's `time.ParseDuration` syntax), so one declaration feeds both
/// the model and the program's command line, per profile.
pub const PLACEHOLDERS: [&str; 8] = [
    "{server_ip}",
    "{server_port}",
    "{client_ip}",
    "{scratch}",
    "{shared}",
    "{keepidle}",
    "{keepintvl}",
    "{user_timeout}",
];

/// An option placeholder's value from an endpoint's options: `None` when
/// `placeholder` is not one, `Some(None)` when the option is not declared.
pub fn option_placeholder(options: &SocketOptions, placeholder: &str) -> Option<Option<Dur>> {
    match placeholder {
        "{keepidle}" => Some(options.keepidle),
        "{keepintvl}" => Some(options.keepintvl),
        "{user_timeout}" => Some(options.user_timeout),
        _ => None,
    }
}

impl Program {
    pub fn is_external(&self) -> bool {
        matches!(self, Program::External { .. })
    }
}

/// One timeline step: wait for a condition (optional), then act (optional);
/// at least one of the two.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// A label expectations can refer to (`after = "close"`).
    pub name: Option<String>,
    pub wait: Option<StepWait>,
    pub action: Option<Action>,
    /// What the step does, for humans (`close client`, `kill client SIGKILL`):
    /// the step record's `action` and the `step` event's detail. Empty without an action.
    pub text: String,
}

/// An action: each variant carries exactly what it needs.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// The endpoint writes `bytes` bytes (more than 0); with `then_close`,
    /// it closes the socket as soon as the write has returned (its FIN queued
    /// at once by shutdown(SHUT_WR) when no received data is unread).
    Send {
        endpoint: String,
        bytes: u64,
        then_close: bool,
    },
    /// The endpoint writes continuously until the connection fails, at most
    /// `rate` bytes per second (default: as fast as the connection takes).
    Stream {
        endpoint: String,
        rate: Option<u64>,
    },
    /// The endpoint calls close().
    Close {
        endpoint: String,
    },
    /// The endpoint calls shutdown(`how`).
    Shutdown {
        endpoint: String,
        how: ShutdownHow,
    },
    /// The endpoint starts a reader (it has none: `autoread = false`, or its
    /// reader ended at EOF or an error); nothing if one is reading.
    Read {
        endpoint: String,
    },
    /// The endpoint calls connect(AF_UNSPEC) on its connected socket (tcp_disconnect).
    Disconnect {
        endpoint: String,
    },
    /// A signal to the endpoint's process (default KILL).
    Kill {
        endpoint: String,
        signal: Signal,
    },
    /// Writes `text` and a newline on an external endpoint's stdin (what a
    /// person would type into it: `SELECT pg_sleep(60);`).
    Write {
        endpoint: String,
        text: String,
    },
    /// Starts an endpoint declared with `start = false`.
    Start {
        endpoint: String,
    },
    /// Kills the endpoint's process (SIGKILL) and starts it again.
    Restart {
        endpoint: String,
    },
    /// Cuts the wire in both directions (hosts keep link and carrier).
    Cut,
    /// Undoes `cut`.
    Restore,
    /// Takes the host's wire port down: the host loses carrier.
    LinkDown {
        host: Host,
    },
    LinkUp {
        host: Host,
    },
    /// The host's state vanishes without a packet leaving it.
    PowerOff {
        host: Host,
    },
    /// The host comes back empty with the same addresses and MAC.
    PowerOn {
        host: Host,
    },
    /// The wire drops the segments `from` sends that `select` picks; with
    /// `count`, only the first `count` (per sending host), then lets them pass
    /// with no `undrop` (so no harness action races the kernel's
    /// retransmission timer: "the FIN is lost once").
    Drop {
        from: Senders,
        select: DropSelect,
        count: Option<u64>,
        at: DropAt,
    },
    /// The wire stops every `drop`.
    Undrop,
    /// netem on the wire (needs sch_netem) for `from`'s frames.
    Impair {
        from: Senders,
        netem: Netem,
    },
    /// Removes every `impair`.
    Unimpair,
    /// The wire answers `from`'s TCP segments with ICMP / ICMPv6 destination unreachable.
    Reject {
        from: Senders,
        with: RejectWith,
    },
    /// The wire stops every `reject`.
    Unreject,
}

impl Action {
    /// The endpoint an endpoint action applies to; `None` for wire and host
    /// actions. An endpoint action's time is when it began (what it causes, a
    /// FIN, an RST, comes after); a wire or host action's, when it is in force.
    pub fn endpoint(&self) -> Option<&str> {
        match self {
            Action::Send { endpoint, .. }
            | Action::Stream { endpoint, .. }
            | Action::Close { endpoint }
            | Action::Shutdown { endpoint, .. }
            | Action::Read { endpoint }
            | Action::Disconnect { endpoint }
            | Action::Kill { endpoint, .. }
            | Action::Write { endpoint, .. }
            | Action::Start { endpoint }
            | Action::Restart { endpoint } => Some(endpoint),
            Action::Cut
            | Action::Restore
            | Action::LinkDown { .. }
            | Action::LinkUp { .. }
            | Action::PowerOff { .. }
            | Action::PowerOn { .. }
            | Action::Drop { .. }
            | Action::Undrop
            | Action::Impair { .. }
            | Action::Unimpair
            | Action::Reject { .. }
            | Action::Unreject => None,
        }
    }

    /// Whether the step's time is when the action began rather than when it
    /// was done: an endpoint action (what it causes comes after), and an action
    /// that lifts a fault (restore, link up, undrop, unimpair), since frames
    /// pass while it is being applied and what passes then is its doing. An
    /// action that imposes a fault is timed when it is in force: frames already
    /// on their way while it was being applied are not its doing. (A flake: a
    /// FIN retransmitted while a restore was applied came before the restore's
    /// time, so the packets "after restore" missed it.)
    pub fn timed_at_start(&self) -> bool {
        match self {
            Action::Send { .. }
            | Action::Stream { .. }
            | Action::Close { .. }
            | Action::Shutdown { .. }
            | Action::Read { .. }
            | Action::Disconnect { .. }
            | Action::Kill { .. }
            | Action::Write { .. }
            | Action::Start { .. }
            | Action::Restart { .. }
            | Action::Restore
            | Action::LinkUp { .. }
            | Action::Undrop
            | Action::Unimpair
            | Action::Unreject => true,
            Action::Cut
            | Action::LinkDown { .. }
            | Action::PowerOff { .. }
            | Action::PowerOn { .. }
            | Action::Drop { .. }
            | Action::Impair { .. }
            | Action::Reject { .. } => false,
        }
    }
}

/// Which frames a `drop` step drops.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DropSelect {
    /// Every frame (no `flags`, no `probability`).
    All,
    /// TCP segments carrying any of these flags (`flags` of F, R, S).
    AnyFlag(TcpFlags),
    /// Pure ACKs (`flags = "."`), which also covers keepalive probes.
    PureAck,
    /// Each frame with this probability (0..1).
    Probability(f64),
}

/// A step's wait: the condition and how long it may take.
#[derive(Clone, Debug, PartialEq)]
pub struct StepWait {
    pub until: Wait,
    pub timeout: WaitTimeout,
}

/// A condition a step waits for.
#[derive(Clone, Debug, PartialEq)]
pub enum Wait {
    /// An application event of `source` (with `errno`; with `bytes`, a
    /// `received`/`sent` count of at least that many bytes in all).
    Event {
        source: String,
        kind: EventKind,
        errno: Option<String>,
        bytes: Option<u64>,
    },
    /// A socket state seen by sock_diag on `host` (the connection's socket, not a
    /// listener, except for `LISTEN`), in a sampler round taken after the wait began.
    Socket { host: Host, state: TcpState },
    /// `host` has no socket of the connection left (a round after the wait began).
    Gone { host: Host },
    /// `count` (1 or more) packets matching `pattern` seen on `port`, and
    /// announcing `window` when given.
    Packet {
        pattern: PacketPattern,
        port: CapturePort,
        count: u32,
        window: Option<u16>,
    },
    /// A line that the external endpoint `source` printed on `stream`,
    /// recorded since the previous step acted, matching `pattern`.
    Line {
        stream: Stream,
        source: String,
        pattern: LinePattern,
    },
    /// Just let time pass.
    Duration(Dur),
}

impl Wait {
    /// What is waited for, for humans (the error of a wait that timed out).
    pub fn describe(&self) -> String {
        match self {
            Wait::Event {
                source,
                kind,
                errno,
                bytes,
            } => {
                let mut s = format!("event `{kind}` from {source}");
                if let Some(x) = errno {
                    s.push_str(&format!(" ({x})"));
                }
                if let Some(b) = bytes {
                    s.push_str(&format!(" ({b} bytes)"));
                }
                s
            }
            Wait::Socket { host, state } => format!("{host} socket in {state}"),
            Wait::Gone { host } => format!("{host} socket gone"),
            Wait::Packet { pattern, port, .. } => {
                format!("packet {} on {port}", pattern.written)
            }
            Wait::Line {
                stream,
                source,
                pattern,
            } => format!("a {stream} line of {source} matching {pattern}"),
            Wait::Duration(_) => "nothing".into(),
        }
    }
}

/// How long a wait may take before the scenario is an error.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WaitTimeout {
    /// `timeout` (default 5 s).
    Fixed(Dur),
    /// `model_timeout`: as long as the model says the connection on `host`
    /// (the host of the wait's `source`, else its `host`, else the client) can
    /// live, plus 10 s; so one file serves the fast and faithful profiles.
    Model { model: DeathModel, host: Host },
    /// `model_timeout` on a `gone` wait naming an orphan's model (as `gone`
    /// expectations do: `orphan_fin`, `fin_wait2`, `zero_window`,
    /// `syn_recv`): as long as the model says the orphan on `host` lives,
    /// plus 10 s. (On a `gone` wait these names come first, so `zero_window`
    /// there is the orphan's persist timer.)
    Orphan { model: OrphanModel, host: Host },
}

/// One expectation: its report name, where it starts looking, what it checks.
#[derive(Clone, Debug, PartialEq)]
pub struct Expect {
    /// A name for the report; derived from the expectation when absent.
    pub name: Option<String>,
    /// Only evidence after this named step (which exists) acted.
    pub after: Option<String>,
    pub check: Expectation,
    /// Only on these kernels ([`kernel`]): the rest of the time another
    /// expectation of the scenario states what they do instead.
    pub kernel: Option<KernelRange>,
}

/// What an expectation checks: each kind carries exactly its values.
#[derive(Clone, Debug, PartialEq)]
pub enum Expectation {
    /// The connection's segments on `port` after `after`, in order, exactly;
    /// with `any_of`, any one of the sequences (at least one).
    Packets {
        port: CapturePort,
        sequences: Vec<Vec<PacketPattern>>,
        any_of: bool,
    },
    /// Nothing from `from` on `port` after `after`; with `flags`, nothing
    /// carrying any of those flags.
    Silent {
        port: CapturePort,
        from: Quiet,
        flags: Option<FlagSet>,
    },
    /// A socket state on `host`; with `timer`, bounds on the timer of the first
    /// sample in that state.
    Socket {
        host: Host,
        state: TcpState,
        when: When,
        timer: Option<TimerBounds>,
    },
    /// An application event from `source` (with an errno in `errno`, with
    /// exactly `detail`); `happens = false`: it must not happen.
    Event {
        source: String,
        kind: EventKind,
        errno: Option<Vec<String>>,
        detail: Option<String>,
        happens: bool,
    },
    /// A line the external endpoint `source` printed on `stream` matching
    /// `pattern`; `happens = false`: no such line.
    Line {
        stream: Stream,
        source: String,
        pattern: LinePattern,
        happens: bool,
    },
    /// When `source`'s connection (on `host`, the source's) dies, as `death`
    /// marks it, against the kernel model: `retransmission` (a dead path
    /// while data is in flight, counted from the original send of the first
    /// segment never acknowledged) or `keepalive` (an idle dead path, counted
    /// from the last segment received).
    Dies {
        model: DeathModel,
        source: String,
        host: Host,
        death: DeathMark,
    },
    /// The retransmissions or keepalive probes `host` sends after `after`,
    /// against the model's times, one by one.
    Schedule { model: DeathModel, host: Host },
    /// When `host`'s socket of the connection vanishes (no RST, no event: an
    /// orphan) against the kernel model: `orphan_fin` (a closed socket whose
    /// FIN is never acknowledged, from the FIN's original send) or `fin_wait2`
    /// (a closed socket whose peer never sends its FIN, from the ACK of its FIN).
    Gone { model: OrphanModel, host: Host },
    /// The probe `host` sends after the tail of its flight after `after`
    /// (`tail_loss`: its time from the tail, the segment it resends, and the
    /// RTO retransmission that follows it) against the model.
    Probe { model: ProbeModel, host: Host },
}

/// What a `dies` expectation takes as the endpoint's death.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeathMark {
    /// Its first `error` event (a built-in endpoint reports the failed call).
    ErrorEvent,
    /// `line = "..."`: its first stdout or stderr line matching the pattern
    /// (an external program says it in its own words: psql's
    /// `could not receive data from server: Connection timed out`).
    Line(LinePattern),
}

impl Expectation {
    /// Whether it can be decided from packets alone (`packets`, `any_of`, `silent`).
    pub fn is_packet(&self) -> bool {
        match self {
            Expectation::Packets { .. } | Expectation::Silent { .. } => true,
            Expectation::Socket { .. }
            | Expectation::Event { .. }
            | Expectation::Line { .. }
            | Expectation::Dies { .. }
            | Expectation::Schedule { .. }
            | Expectation::Gone { .. }
            | Expectation::Probe { .. } => false,
        }
    }

    /// Whether it is checked against the kernel model (`dies`, `schedule`,
    /// `gone`, `probe`): its check then comes with the model's predicted time and the
    /// measured one ([`crate::timing::Timed`]), which the report can show.
    pub fn has_model(&self) -> bool {
        match self {
            Expectation::Dies { .. }
            | Expectation::Schedule { .. }
            | Expectation::Gone { .. }
            | Expectation::Probe { .. } => true,
            Expectation::Packets { .. }
            | Expectation::Silent { .. }
            | Expectation::Socket { .. }
            | Expectation::Event { .. }
            | Expectation::Line { .. } => false,
        }
    }
}

/// `timer_at_least` / `timer_at_most`: the first sample of the connection in
/// the expected state has its timer (sock_diag `expires_ms`) within these
/// (`TIME_WAIT`: at least `55s`). At least one is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerBounds {
    pub at_least: Option<Dur>,
    pub at_most: Option<Dur>,
}

impl Scenario {
    /// Whether every endpoint on `host` is a built-in one (none counts):
    /// then its TCP sockets are all of the scenario's family, where an
    /// external program may open others (a dual-stack server's AF_INET6
    /// sockets for IPv4 peers).
    pub fn only_builtin_on(&self, host: Host) -> bool {
        self.endpoints
            .values()
            .filter(|e| e.host == host)
            .all(|e| matches!(e.program, Program::Client | Program::Server))
    }

    /// The built-in server endpoint, if there is one.
    pub fn builtin_server(&self) -> Option<(&String, &Endpoint)> {
        self.endpoints
            .iter()
            .find(|(_, e)| e.program == Program::Server)
    }

    /// The built-in client endpoint, if there is one.
    pub fn builtin_client(&self) -> Option<(&String, &Endpoint)> {
        self.endpoints
            .iter()
            .find(|(_, e)| e.program == Program::Client)
    }

    /// The host an endpoint (which exists: validation checked the name) runs on.
    pub fn host_of(&self, endpoint: &str) -> Option<Host> {
        self.endpoints.get(endpoint).map(|e| e.host)
    }

    /// The connection's server port: the built-in server's `port`, else the
    /// port of the endpoint on host `server`, else the port the built-in client
    /// connects to, else 8080.
    pub fn server_port(&self) -> u16 {
        if let Some((_, e)) = self.builtin_server() {
            return e.port;
        }
        if let Some(e) = self.endpoints.values().find(|e| e.host == Host::Server) {
            return e.port;
        }
        if let Some((_, e)) = self.builtin_client() {
            return e.port;
        }
        8080
    }

    /// The scenario's connection, known by its [`Scenario::server_port`]:
    /// what the waits, the expectations and the timing checks call "the connection".
    pub fn connection(&self) -> Connection {
        Connection::new(self.server_port())
    }

    /// The built-in or (failing that) external endpoint running on `host`.
    pub fn endpoint_on(&self, host: Host) -> Option<&Endpoint> {
        self.endpoints
            .values()
            .find(|e| e.host == host && !e.program.is_external())
            .or_else(|| self.endpoints.values().find(|e| e.host == host))
    }

    /// A sysctl of `host` as a number, if the scenario sets it.
    pub fn sysctl(&self, host: Host, key: &str) -> Option<u64> {
        self.sysctls
            .get(&host)
            .and_then(|m| m.get(key))
            .and_then(|v| v.trim().parse().ok())
    }
}

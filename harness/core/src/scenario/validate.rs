//! Validation: the file as written ([`super::file`]) to a typed [`Scenario`].
//!
//! Each part of the file has its function (hosts and sysctls, endpoints,
//! profiles, a step's wait, its action's arguments, its wire arguments, an
//! expectation); each runs its checks in a fixed order and reports the first
//! that fails at the span of the value (or table) at fault. Values are parsed
//! here once (names to [`terms`](super::terms) enums, packet patterns, flags,
//! signals, models) and the typed scenario is assembled from what passed.

use super::file::{
    ActionKind, EndpointFile, ExpectFile, HostSpec, ProfileOverride, ProgramKind, ScenarioFile,
    StepFile, WaitFile,
};
use super::values::{Dur, Profile, SocketOptions};
use super::{
    Action, CapturePort, DeathMark, DeathModel, DropAt, DropSelect, Endpoint, EventKind, Expect,
    Expectation, FlagSet, Host, LinePattern, OrphanModel, PacketPattern, ProbeModel, Program,
    Quiet, RejectWith, Scenario, ScenarioError, Senders, Signal, Step, StepWait, Stream, TcpState,
    TimerBounds, Wait, WaitTimeout,
};
use crate::evidence::TcpFlags;
use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;
use toml::Spanned;

type Span = Range<usize>;
type Sysctls = BTreeMap<Host, BTreeMap<String, String>>;

impl Scenario {
    /// Parses and validates a scenario file's text for a profile.
    pub fn parse(file: &str, text: &str, profile: Profile) -> Result<Scenario, ScenarioError> {
        parse(file, text, profile)
    }
}

/// Parses a file's text and validates it for a profile.
fn parse(file: &str, text: &str, profile: Profile) -> Result<Scenario, ScenarioError> {
    let mut ctx = Ctx {
        file,
        text,
        endpoint_names: Vec::new(),
    };
    let raw: ScenarioFile = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        ctx.err(span, e.message().to_string())
    })?;
    ctx.endpoint_names = raw.endpoints.keys().map(|k| k.get_ref().clone()).collect();
    validate(&ctx, raw, profile)
}

/// The file being validated and the names it declares.
struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
    endpoint_names: Vec<String>,
}

impl Ctx<'_> {
    fn err(&self, span: Span, message: impl Into<String>) -> ScenarioError {
        let (line, col) = super::line_col(self.text, span.start);
        ScenarioError {
            file: self.file.to_string(),
            line,
            col,
            message: message.into(),
        }
    }

    fn host(&self, h: &Spanned<String>) -> Result<Host, ScenarioError> {
        Host::parse(h.get_ref()).ok_or_else(|| {
            self.err(
                h.span(),
                format!(
                    "unknown host `{}` (hosts are `client` and `server`)",
                    h.get_ref()
                ),
            )
        })
    }

    fn endpoint(&self, e: &Spanned<String>) -> Result<String, ScenarioError> {
        if self.endpoint_names.contains(e.get_ref()) {
            Ok(e.get_ref().clone())
        } else {
            Err(self.err(
                e.span(),
                format!(
                    "unknown endpoint `{}` (declared: {})",
                    e.get_ref(),
                    self.endpoint_names.join(", ")
                ),
            ))
        }
    }

    fn port(&self, p: &Spanned<String>) -> Result<CapturePort, ScenarioError> {
        CapturePort::parse(p.get_ref()).ok_or_else(|| {
            self.err(
                p.span(),
                format!(
                    "unknown port `{}` (ports are `client-port` and `server-port`)",
                    p.get_ref()
                ),
            )
        })
    }

    fn death_model(&self, m: &Spanned<String>) -> Result<DeathModel, ScenarioError> {
        DeathModel::parse(m.get_ref()).ok_or_else(|| {
            self.err(
                m.span(),
                format!("unknown model `{}` ({})", m.get_ref(), DeathModel::names()),
            )
        })
    }

    fn errno(&self, span: &Span, name: &str) -> Result<(), ScenarioError> {
        match crate::errno::number(name) {
            Some(_) => Ok(()),
            None => Err(self.err(span.clone(), format!("unknown errno `{name}`"))),
        }
    }

    /// A regular expression for an external program's lines, compiled (an
    /// error at the string).
    fn line_pattern(&self, text: &Spanned<String>) -> Result<LinePattern, ScenarioError> {
        LinePattern::parse(text.get_ref()).map_err(|m| self.err(text.span(), m))
    }
}

/// `stdout = "..."` or `stderr = "..."` (a wait or an expectation), whichever
/// is given (the exactly-one-kind checks refuse both).
fn stream_key<'a>(
    stdout: &'a Option<Spanned<String>>,
    stderr: &'a Option<Spanned<String>>,
) -> Option<(Stream, &'a Spanned<String>)> {
    match (stdout, stderr) {
        (Some(t), _) => Some((Stream::Stdout, t)),
        (None, Some(t)) => Some((Stream::Stderr, t)),
        (None, None) => None,
    }
}

/// The endpoint whose lines a `stdout`/`stderr` wait or expectation (`what`)
/// reads: declared, and an external program (a built-in prints no lines).
fn external_source(
    ctx: &Ctx,
    endpoints: &BTreeMap<String, Endpoint>,
    src: &Spanned<String>,
    what: &str,
) -> Result<String, ScenarioError> {
    let name = ctx.endpoint(src)?;
    if endpoints
        .get(&name)
        .is_some_and(|e| e.program.is_external())
    {
        Ok(name)
    } else {
        Err(ctx.err(
            src.span(),
            format!(
                "`{what}` reads the lines an external program prints; `{name}` is a built-in endpoint, which prints none (it reports events: use `event`)"
            ),
        ))
    }
}

fn validate(ctx: &Ctx, raw: ScenarioFile, profile: Profile) -> Result<Scenario, ScenarioError> {
    let mut sysctls = Sysctls::new();
    add_sysctls(ctx, &raw.hosts, &mut sysctls)?;
    let mut endpoints = endpoints(ctx, &raw.endpoints)?;
    apply_profiles(ctx, &raw.profile, profile, &mut sysctls, &mut endpoints)?;
    let mut step_names: Vec<String> = Vec::new();
    let steps = raw
        .steps
        .iter()
        .map(|s| step(ctx, &endpoints, s, &mut step_names))
        .collect::<Result<Vec<_>, _>>()?;
    let expects = raw
        .expects
        .iter()
        .map(|e| expect(ctx, &endpoints, e, &step_names))
        .collect::<Result<Vec<_>, _>>()?;
    let static_neighbours = raw
        .hosts
        .iter()
        .filter(|(_, h)| h.static_neighbour)
        .filter_map(|(n, _)| Host::parse(n.get_ref()))
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
        kernel: Default::default(),
    })
}

// ---- hosts, endpoints, profiles ----------------------------------------------------

/// Validates `hosts` and adds their sysctls to `into` (a throw-away map for
/// profiles not chosen, so their mistakes are caught too).
fn add_sysctls(
    ctx: &Ctx,
    hosts: &BTreeMap<Spanned<String>, HostSpec>,
    into: &mut Sysctls,
) -> Result<(), ScenarioError> {
    for (host, spec) in hosts {
        let h = ctx.host(host)?;
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
            into.entry(h).or_default().insert(k.clone(), v);
        }
    }
    Ok(())
}

/// Every `{...}` in a command argument is one of [`super::PLACEHOLDERS`],
/// and an option placeholder names an option the endpoint declares.
fn check_placeholders(
    ctx: &Ctx,
    arg: &Spanned<String>,
    name: &str,
    options: &super::SocketOptions,
) -> Result<(), ScenarioError> {
    let text = arg.get_ref();
    let mut rest = text.as_str();
    while let Some(open) = rest.find('{') {
        let tail = &rest[open..];
        let Some(close) = tail.find('}') else {
            return Err(ctx.err(
                arg.span(),
                format!(
                    "endpoint `{name}`: `{text}` opens a placeholder with `{{` and never closes it"
                ),
            ));
        };
        let found = &tail[..=close];
        if !super::PLACEHOLDERS.contains(&found) {
            return Err(ctx.err(
                arg.span(),
                format!(
                    "endpoint `{name}`: unknown placeholder `{found}` in `{text}` (known: {})",
                    super::PLACEHOLDERS.join(", ")
                ),
            ));
        }
        if super::option_placeholder(options, found) == Some(None) {
            let option = &found[1..found.len() - 1];
            return Err(ctx.err(
                arg.span(),
                format!(
                    "endpoint `{name}`: `{found}` in `{text}` is the endpoint's `{option}` option, which it does not declare (add `options = {{ {option} = \"1s\" }}`)"
                ),
            ));
        }
        rest = &tail[close + 1..];
    }
    Ok(())
}

fn endpoints(
    ctx: &Ctx,
    raw: &BTreeMap<Spanned<String>, Spanned<EndpointFile>>,
) -> Result<BTreeMap<String, Endpoint>, ScenarioError> {
    let mut endpoints = BTreeMap::new();
    for (name, spec) in raw {
        let span = spec.span();
        let name = name.get_ref();
        let spec = spec.get_ref();
        let host = ctx.host(&spec.host)?;
        let program = match (spec.program, &spec.command) {
            (ProgramKind::External, Some(argv)) if !argv.get_ref().is_empty() => {
                for arg in argv.get_ref() {
                    check_placeholders(ctx, arg, name, &spec.options)?;
                }
                let at = ctx.err(argv.span(), "");
                Program::External {
                    argv: argv.get_ref().iter().map(|a| a.get_ref().clone()).collect(),
                    shell: spec.shell,
                    at: super::Location {
                        file: at.file,
                        line: at.line,
                        col: at.col,
                    },
                }
            }
            (ProgramKind::External, _) => {
                return Err(ctx.err(
                    span,
                    format!("endpoint `{name}` is external but has no `command`"),
                ))
            }
            (_, Some(_)) => {
                return Err(ctx.err(
                    span,
                    format!("endpoint `{name}`: `command` goes with `program = \"external\"`"),
                ))
            }
            (ProgramKind::Client, None) => Program::Client,
            (ProgramKind::Server, None) => Program::Server,
        };
        check_options(ctx, span.clone(), name, &spec.options)?;
        builtin_keys(ctx, name, spec, &program)?;
        let user = match &spec.user {
            None => super::RunAs::Invoker,
            Some(u) => {
                let text = u.get_ref();
                if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c == ':') {
                    return Err(ctx.err(
                        u.span(),
                        format!("endpoint `{name}`: `user = {text:?}` is not a user name or uid"),
                    ));
                }
                let at = ctx.err(u.span(), "");
                super::RunAs::Named {
                    name: text.clone(),
                    at: super::Location {
                        file: at.file,
                        line: at.line,
                        col: at.col,
                    },
                }
            }
        };
        endpoints.insert(
            name.clone(),
            Endpoint {
                host,
                program,
                port: spec.port,
                start: spec.start,
                autoread: spec.autoread,
                on_eof: spec.on_eof,
                on_eof_delay: spec.on_eof_delay,
                options: spec.options.clone(),
                user,
                accept: spec.accept.as_ref().is_none_or(|a| *a.get_ref()),
                epoll: spec.epoll.as_ref().is_some_and(|a| *a.get_ref()),
            },
        );
    }
    if !endpoints
        .values()
        .any(|e| e.program == Program::Server || e.program.is_external())
    {
        return Err(ctx.err(0..0, "a scenario needs a server endpoint"));
    }
    Ok(endpoints)
}

/// `accept` goes with the built-in server, `epoll` with a built-in endpoint.
fn builtin_keys(
    ctx: &Ctx,
    name: &str,
    spec: &EndpointFile,
    program: &Program,
) -> Result<(), ScenarioError> {
    if let Some(a) = &spec.accept {
        if *program != Program::Server {
            return Err(ctx.err(
                a.span(),
                format!("endpoint `{name}`: `accept` goes with `program = \"server\"`"),
            ));
        }
    }
    if let Some(e) = &spec.epoll {
        if program.is_external() {
            return Err(ctx.err(
                e.span(),
                format!("endpoint `{name}`: `epoll` goes with a built-in endpoint (`client` or `server`)"),
            ));
        }
    }
    Ok(())
}

/// Checks every profile's overrides; applies the chosen profile's.
fn apply_profiles(
    ctx: &Ctx,
    profiles: &BTreeMap<Spanned<String>, ProfileOverride>,
    chosen: Profile,
    sysctls: &mut Sysctls,
    endpoints: &mut BTreeMap<String, Endpoint>,
) -> Result<(), ScenarioError> {
    for (pname, over) in profiles {
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
            ctx.endpoint(ename)?;
            check_options(ctx, ename.span(), ename.get_ref(), &eo.options)?;
        }
        if p == chosen {
            add_sysctls(ctx, &over.hosts, sysctls)?;
            for (ename, eo) in &over.endpoints {
                if let Some(e) = endpoints.get_mut(ename.get_ref()) {
                    e.options.merge(&eo.options);
                }
            }
        } else {
            add_sysctls(ctx, &over.hosts, &mut Sysctls::new())?;
        }
    }
    Ok(())
}

fn check_options(
    ctx: &Ctx,
    span: Span,
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
    for (what, v) in [("keepcnt", o.keepcnt), ("syncnt", o.syncnt)] {
        if let Some(c) = v {
            if !(1..=127).contains(&c) {
                return Err(ctx.err(
                    span.clone(),
                    format!("endpoint `{name}`: {what} must be 1..127, not {c}"),
                ));
            }
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

// ---- steps ---------------------------------------------------------------------------

fn step(
    ctx: &Ctx,
    endpoints: &BTreeMap<String, Endpoint>,
    step: &Spanned<StepFile>,
    step_names: &mut Vec<String>,
) -> Result<Step, ScenarioError> {
    let span = step.span();
    let s = step.get_ref();
    if s.wait.is_none() && s.action.is_none() {
        return Err(ctx.err(span, "a step needs `wait`, `do`, or both"));
    }
    let wait = s
        .wait
        .as_ref()
        .map(|w| wait(ctx, endpoints, w))
        .transpose()?;
    // Checked even when the action does not use them.
    let endpoint = s.endpoint.as_ref().map(|e| ctx.endpoint(e)).transpose()?;
    let host = s.host.as_ref().map(|h| ctx.host(h)).transpose()?;
    let signal = match &s.action {
        Some(a) => action_args(ctx, s, a)?,
        None => None,
    };
    write_args(ctx, endpoints, s)?;
    builtin_action(ctx, endpoints, s)?;
    let wire = wire_args(ctx, s, &span)?;
    if let Some(n) = &s.name {
        if step_names.contains(n) {
            return Err(ctx.err(span, format!("step name `{n}` is used twice")));
        }
        step_names.push(n.clone());
    }
    let kind = s.action.as_ref().map(|a| *a.get_ref());
    let checked = Checked {
        endpoint: endpoint.unwrap_or_default(),
        host: host.unwrap_or(Host::Client),
        signal: signal.unwrap_or(Signal::Kill),
        wire,
    };
    Ok(Step {
        name: s.name.clone(),
        wait,
        action: kind.map(|k| assemble(k, s, checked)),
        text: kind.map(|k| describe(s, k)).unwrap_or_default(),
    })
}

/// A wait's condition and timeout, its names resolved.
fn wait(
    ctx: &Ctx,
    endpoints: &BTreeMap<String, Endpoint>,
    w: &Spanned<WaitFile>,
) -> Result<StepWait, ScenarioError> {
    let wspan = w.span();
    let w = w.get_ref();
    let (event, state) = wait_kind(ctx, w, &wspan)?;
    let line = line_wait(ctx, endpoints, w, &wspan)?;
    let a = wait_args(ctx, w, &wspan)?;
    let host_or_client = a.host.unwrap_or(Host::Client);
    let until = if let Some((source, kind)) = event {
        Wait::Event {
            source,
            kind,
            errno: w.errno.clone(),
            bytes: w.bytes,
        }
    } else if let Some(state) = state {
        Wait::Socket {
            host: host_or_client,
            state,
        }
    } else if w.gone.is_some() {
        Wait::Gone {
            host: host_or_client,
        }
    } else if let Some(pattern) = a.pattern {
        Wait::Packet {
            pattern,
            port: a.port.unwrap_or(CapturePort::ServerPort),
            count: w.count.unwrap_or(1),
            window: w.window,
        }
    } else if let Some((stream, source, pattern)) = line {
        Wait::Line {
            stream,
            source,
            pattern,
        }
    } else {
        Wait::Duration(w.duration.unwrap_or(Dur(Duration::ZERO)))
    };
    let model_host = a
        .source
        .and_then(|s| endpoints.get(&s).map(|e| e.host))
        .or(a.host)
        .unwrap_or(Host::Client);
    let timeout = match a.model {
        Some(LifeModel::Death(model)) => WaitTimeout::Model {
            model,
            host: model_host,
        },
        Some(LifeModel::Orphan(model)) => WaitTimeout::Orphan {
            model,
            host: model_host,
        },
        None => WaitTimeout::Fixed(w.timeout.unwrap_or(Dur(Duration::from_secs(5)))),
    };
    Ok(StepWait { until, timeout })
}

/// Which condition a wait is: exactly one; an event's kind and source, a socket's state.
fn wait_kind(
    ctx: &Ctx,
    w: &WaitFile,
    wspan: &Span,
) -> Result<(Option<EventWait>, Option<TcpState>), ScenarioError> {
    let kinds = [
        w.event.is_some(),
        w.socket.is_some(),
        w.gone.is_some(),
        w.packet.is_some(),
        w.stdout.is_some(),
        w.stderr.is_some(),
        w.duration.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if kinds != 1 {
        return Err(ctx.err(
            wspan.clone(),
            "`wait` needs exactly one of `event`, `socket`, `gone`, `packet`, `stdout`, `stderr`, `duration`",
        ));
    }
    let mut event = None;
    if let Some(ev) = &w.event {
        let kind = EventKind::parse_scenario(ev).ok_or_else(|| {
            ctx.err(
                wspan.clone(),
                format!("unknown event `{ev}` ({})", EventKind::scenario_names()),
            )
        })?;
        let source = match &w.source {
            Some(src) => ctx.endpoint(src)?,
            None => return Err(ctx.err(wspan.clone(), "`wait.event` needs `source` (an endpoint)")),
        };
        event = Some((source, kind));
    }
    let state = w
        .socket
        .as_ref()
        .map(|st| {
            TcpState::parse_scenario(st)
                .ok_or_else(|| ctx.err(wspan.clone(), format!("unknown socket state `{st}`")))
        })
        .transpose()?;
    Ok((event, state))
}

/// An event wait's source and kind.
type EventWait = (String, EventKind);

/// A line wait's stream, source and pattern.
type LineWait = (Stream, String, LinePattern);

/// A `stdout`/`stderr` wait: its stream, its source (an external endpoint,
/// required) and its pattern, compiled.
fn line_wait(
    ctx: &Ctx,
    endpoints: &BTreeMap<String, Endpoint>,
    w: &WaitFile,
    wspan: &Span,
) -> Result<Option<LineWait>, ScenarioError> {
    let Some((stream, text)) = stream_key(&w.stdout, &w.stderr) else {
        return Ok(None);
    };
    let source = match &w.source {
        Some(src) => external_source(ctx, endpoints, src, &format!("wait.{stream}"))?,
        None => {
            return Err(ctx.err(
                wspan.clone(),
                format!(
                    "`wait.{stream}` needs `source` (the external endpoint that prints the line)"
                ),
            ))
        }
    };
    Ok(Some((stream, source, ctx.line_pattern(text)?)))
}

/// The model a `model_timeout` names: a connection's death, or on a `gone`
/// wait an orphan's lifetime.
enum LifeModel {
    Death(DeathModel),
    Orphan(OrphanModel),
}

/// A wait's other keys, checked and parsed.
struct WaitArgs {
    model: Option<LifeModel>,
    source: Option<String>,
    host: Option<Host>,
    pattern: Option<PacketPattern>,
    port: Option<CapturePort>,
}

fn wait_args(ctx: &Ctx, w: &WaitFile, wspan: &Span) -> Result<WaitArgs, ScenarioError> {
    let model = match &w.model_timeout {
        None => None,
        Some(m) if w.gone.is_some() => match OrphanModel::parse(m.get_ref()) {
            Some(o) => Some(LifeModel::Orphan(o)),
            None => Some(LifeModel::Death(
                DeathModel::parse(m.get_ref()).ok_or_else(|| {
                    ctx.err(
                        m.span(),
                        format!(
                            "unknown model `{}` (on a `gone` wait: {}; or {})",
                            m.get_ref(),
                            OrphanModel::names(),
                            DeathModel::names()
                        ),
                    )
                })?,
            )),
        },
        Some(m) => Some(LifeModel::Death(ctx.death_model(m)?)),
    };
    if let (Some(m), Some(_)) = (&w.model_timeout, &w.timeout) {
        return Err(ctx.err(
            m.span(),
            "`model_timeout` replaces `timeout`: give one of them",
        ));
    }
    if w.count.is_some() && w.packet.is_none() {
        return Err(ctx.err(wspan.clone(), "`count` goes with `packet`"));
    }
    if w.window.is_some() && w.packet.is_none() {
        return Err(ctx.err(wspan.clone(), "`window` goes with `packet`"));
    }
    if w.count == Some(0) {
        return Err(ctx.err(wspan.clone(), "`count` must be at least 1"));
    }
    // A source or host on a wait that does not use it still has to exist.
    let source = w.source.as_ref().map(|s| ctx.endpoint(s)).transpose()?;
    let host = w.host.as_ref().map(|h| ctx.host(h)).transpose()?;
    if (w.socket.is_some() || w.gone.is_some()) && host.is_none() {
        return Err(ctx.err(wspan.clone(), "a socket wait needs `host`"));
    }
    let pattern = w
        .packet
        .as_ref()
        .map(|p| PacketPattern::parse(p).map_err(|m| ctx.err(wspan.clone(), m)))
        .transpose()?;
    let port = w.port.as_ref().map(|p| ctx.port(p)).transpose()?;
    if let Some(e) = &w.errno {
        ctx.errno(wspan, e)?;
    }
    if w.gone == Some(false) {
        return Err(ctx.err(
            wspan.clone(),
            "`gone = false` waits for nothing: write `gone = true` (the connection's socket is gone)",
        ));
    }
    Ok(WaitArgs {
        model,
        source,
        host,
        pattern,
        port,
    })
}

/// The checks of an action's own arguments (endpoint, host, bytes, how,
/// signal); returns the signal, parsed.
fn action_args(
    ctx: &Ctx,
    s: &StepFile,
    a: &Spanned<ActionKind>,
) -> Result<Option<Signal>, ScenarioError> {
    let act = *a.get_ref();
    if act.needs_endpoint() && s.endpoint.is_none() {
        return Err(ctx.err(
            a.span(),
            format!("`do = \"{}\"` needs `endpoint`", act.name()),
        ));
    }
    if act.needs_host() && s.host.is_none() {
        return Err(ctx.err(a.span(), format!("`do = \"{}\"` needs `host`", act.name())));
    }
    if act == ActionKind::Send && s.bytes.unwrap_or(0) == 0 {
        return Err(ctx.err(a.span(), "`do = \"send\"` needs `bytes` > 0"));
    }
    if let Some(t) = &s.then_close {
        if act != ActionKind::Send {
            return Err(ctx.err(t.span(), "`then_close` goes with `do = \"send\"`"));
        }
    }
    if act == ActionKind::Shutdown && s.how.is_none() {
        return Err(ctx.err(a.span(), "`do = \"shutdown\"` needs `how` (wr, rd, rdwr)"));
    }
    let Some(sig) = &s.signal else {
        return Ok(None);
    };
    if act != ActionKind::Kill {
        return Err(ctx.err(sig.span(), "`signal` goes with `do = \"kill\"`"));
    }
    Signal::parse(sig.get_ref()).map(Some).ok_or_else(|| {
        ctx.err(
            sig.span(),
            format!("unknown signal `{}` ({})", sig.get_ref(), Signal::names()),
        )
    })
}

/// `text` goes with `write`, which needs it and an external endpoint (a
/// built-in takes commands of its own: `send`, `close`, ...).
fn write_args(
    ctx: &Ctx,
    endpoints: &BTreeMap<String, Endpoint>,
    s: &StepFile,
) -> Result<(), ScenarioError> {
    let write = match &s.action {
        Some(a) if *a.get_ref() == ActionKind::Write => a,
        Some(_) | None => {
            return match &s.text {
                Some(t) => Err(ctx.err(t.span(), "`text` goes with `do = \"write\"`")),
                None => Ok(()),
            }
        }
    };
    if s.text.is_none() {
        return Err(ctx.err(
            write.span(),
            "`do = \"write\"` needs `text` (the line written on the program's stdin)",
        ));
    }
    let Some(e) = &s.endpoint else {
        return Ok(()); // `needs endpoint` is action_args' error.
    };
    let external = endpoints
        .get(e.get_ref())
        .is_some_and(|x| x.program.is_external());
    if external {
        Ok(())
    } else {
        Err(ctx.err(
            e.span(),
            format!(
                "`do = \"write\"` writes a line on an external program's stdin; `{}` is a built-in endpoint, which takes `send`, `stream`, `close`, `shutdown` and `kill`",
                e.get_ref()
            ),
        ))
    }
}

/// `read` and `disconnect` are commands of the built-in endpoint.
fn builtin_action(
    ctx: &Ctx,
    endpoints: &BTreeMap<String, Endpoint>,
    s: &StepFile,
) -> Result<(), ScenarioError> {
    let (Some(a), Some(e)) = (&s.action, &s.endpoint) else {
        return Ok(());
    };
    let act = *a.get_ref();
    if !matches!(act, ActionKind::Read | ActionKind::Disconnect) {
        return Ok(());
    }
    match endpoints.get(e.get_ref()) {
        Some(x) if x.program.is_external() => Err(ctx.err(
            e.span(),
            format!(
                "`do = \"{}\"` is a built-in endpoint's command; `{}` is external (use `write`)",
                act.name(),
                e.get_ref()
            ),
        )),
        _ => Ok(()),
    }
}

/// A step's wire arguments, checked: who sends, what is dropped, how many.
struct WireArgs {
    from: Senders,
    at: DropAt,
    with: RejectWith,
    select: DropSelect,
    count: Option<u64>,
    probability: Option<f64>,
}

/// The checks of `rate`, `from`, `flags`, `probability`, `count`, `delay`,
/// `jitter`: which actions they go with, then their values.
fn wire_args(ctx: &Ctx, s: &StepFile, span: &Span) -> Result<WireArgs, ScenarioError> {
    wire_keys(ctx, s, span)?;
    wire_values(ctx, s)
}

/// The wire keys a step gives go with its action.
fn wire_keys(ctx: &Ctx, s: &StepFile, span: &Span) -> Result<(), ScenarioError> {
    let act = s.action.as_ref().map(|a| *a.get_ref());
    if let Some(r) = &s.rate {
        if act != Some(ActionKind::Stream) {
            return Err(ctx.err(r.span(), "`rate` goes with `do = \"stream\"`"));
        }
        if *r.get_ref() == 0 {
            return Err(ctx.err(r.span(), "`rate` is bytes per second, more than 0"));
        }
    }
    let is_drop = act == Some(ActionKind::Drop);
    let is_impair = act == Some(ActionKind::Impair);
    let is_reject = act == Some(ActionKind::Reject);
    for (present, key, ok) in [
        (
            s.from.as_ref().map(|x| x.span()),
            "from",
            is_drop || is_impair || is_reject,
        ),
        (s.flags.as_ref().map(|x| x.span()), "flags", is_drop),
        (
            s.probability.as_ref().map(|x| x.span()),
            "probability",
            is_drop || is_impair,
        ),
        (s.count.as_ref().map(|x| x.span()), "count", is_drop),
        (s.at.as_ref().map(|x| x.span()), "at", is_drop),
        (s.with.as_ref().map(|x| x.span()), "with", is_reject),
    ] {
        if let (Some(sp), false) = (present, ok) {
            let with = if key == "with" {
                "`do = \"reject\"`"
            } else if matches!(key, "flags" | "count" | "at") {
                "`do = \"drop\"`"
            } else {
                "`do = \"drop\"` or `do = \"impair\"`"
            };
            return Err(ctx.err(sp, format!("`{key}` goes with {with}")));
        }
    }
    if (s.delay.is_some() || s.jitter.is_some()) && !is_impair {
        return Err(ctx.err(
            span.clone(),
            "`delay` and `jitter` go with `do = \"impair\"`",
        ));
    }
    if let Some(c) = &s.correlation {
        if !is_impair || s.probability.is_none() {
            return Err(ctx.err(
                c.span(),
                "`correlation` goes with `do = \"impair\"` and its `probability` (loss)",
            ));
        }
        if !(0.0..=1.0).contains(c.get_ref()) {
            return Err(ctx.err(
                c.span(),
                format!("correlation {} is outside 0..1", c.get_ref()),
            ));
        }
    }
    if is_impair && s.delay.is_none() && s.probability.is_none() {
        return Err(ctx.err(
            span.clone(),
            "`do = \"impair\"` needs `delay` or `probability` (loss)",
        ));
    }
    Ok(())
}

/// The wire keys' values, in range.
fn wire_values(ctx: &Ctx, s: &StepFile) -> Result<WireArgs, ScenarioError> {
    let from = match &s.from {
        None => Senders::Both,
        Some(f) => Senders::parse(f.get_ref())
            .ok_or_else(|| ctx.err(f.span(), "`from` is `client`, `server` or `both`"))?,
    };
    let mut select = match &s.flags {
        None => DropSelect::All,
        Some(f) => drop_flags(f.get_ref()).ok_or_else(|| {
            ctx.err(
                f.span(),
                format!(
                    "drop `flags = \"{}\"`: use letters of F R S, or `.` for pure ACKs",
                    f.get_ref()
                ),
            )
        })?,
    };
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
        select = DropSelect::Probability(v);
    }
    let at = match &s.at {
        None => DropAt::Wire,
        Some(a) => DropAt::parse(a.get_ref()).ok_or_else(|| {
            ctx.err(
                a.span(),
                format!("drop `at` is {}", DropAt::names().replace(", ", " or ")),
            )
        })?,
    };
    let with = match &s.with {
        None => RejectWith::HostUnreachable,
        Some(w) => RejectWith::parse(w.get_ref()).ok_or_else(|| {
            ctx.err(
                w.span(),
                format!("reject `with` is one of {}", RejectWith::names()),
            )
        })?,
    };
    Ok(WireArgs {
        from,
        at,
        with,
        select,
        count: s.count.as_ref().map(|c| *c.get_ref()),
        probability: s.probability.as_ref().map(|p| *p.get_ref()),
    })
}

/// `.` (pure ACKs) or letters of F R S (segments carrying any of them).
fn drop_flags(text: &str) -> Option<DropSelect> {
    if text == "." {
        return Some(DropSelect::PureAck);
    }
    if text.is_empty() {
        return None;
    }
    let mut any_of = 0u16;
    for c in text.chars() {
        any_of |= match c {
            'F' => TcpFlags::FIN,
            'R' => TcpFlags::RST,
            'S' => TcpFlags::SYN,
            _ => return None,
        };
    }
    Some(DropSelect::AnyFlag(TcpFlags(any_of)))
}

/// What a step's checks established: the names it uses, resolved.
struct Checked {
    /// The endpoint (present for an endpoint action).
    endpoint: String,
    /// The host (present for a host action).
    host: Host,
    signal: Signal,
    wire: WireArgs,
}

/// The typed action of a step whose checks all passed.
fn assemble(kind: ActionKind, s: &StepFile, c: Checked) -> Action {
    let endpoint = c.endpoint;
    let host = c.host;
    match kind {
        ActionKind::Send => Action::Send {
            endpoint,
            bytes: s.bytes.unwrap_or(0),
            then_close: s.then_close.as_ref().is_some_and(|t| *t.get_ref()),
        },
        ActionKind::Stream => Action::Stream {
            endpoint,
            rate: s.rate.as_ref().map(|r| *r.get_ref()),
        },
        ActionKind::Close => Action::Close { endpoint },
        ActionKind::Shutdown => Action::Shutdown {
            endpoint,
            how: s.how.unwrap_or(super::ShutdownHow::Wr),
        },
        ActionKind::Read => Action::Read { endpoint },
        ActionKind::Disconnect => Action::Disconnect { endpoint },
        ActionKind::Kill => Action::Kill {
            endpoint,
            signal: c.signal,
        },
        ActionKind::Write => Action::Write {
            endpoint,
            text: s
                .text
                .as_ref()
                .map(|t| t.get_ref().clone())
                .unwrap_or_default(),
        },
        ActionKind::Start => Action::Start { endpoint },
        ActionKind::Restart => Action::Restart { endpoint },
        ActionKind::Cut => Action::Cut,
        ActionKind::Restore => Action::Restore,
        ActionKind::LinkDown => Action::LinkDown { host },
        ActionKind::LinkUp => Action::LinkUp { host },
        ActionKind::PowerOff => Action::PowerOff { host },
        ActionKind::PowerOn => Action::PowerOn { host },
        ActionKind::Drop => Action::Drop {
            from: c.wire.from,
            select: c.wire.select,
            count: c.wire.count,
            at: c.wire.at,
        },
        ActionKind::Undrop => Action::Undrop,
        ActionKind::Impair => Action::Impair {
            from: c.wire.from,
            netem: super::Netem {
                delay: s.delay.map(|d| d.0).unwrap_or_default(),
                jitter: s.jitter.map(|d| d.0).unwrap_or_default(),
                loss: c.wire.probability.unwrap_or(0.0),
                loss_correlation: s.correlation.as_ref().map_or(0.0, |c| *c.get_ref()),
            },
        },
        ActionKind::Unimpair => Action::Unimpair,
        ActionKind::Reject => Action::Reject {
            from: c.wire.from,
            with: c.wire.with,
        },
        ActionKind::Unreject => Action::Unreject,
    }
}

/// A step as written, for humans: `close client`, `send client 100 bytes`,
/// `kill client SIGKILL`, `shutdown client wr`, `write psql "SELECT 1;"`
/// (every key the step gives).
fn describe(step: &StepFile, action: ActionKind) -> String {
    let mut s = action.name().to_string();
    if let Some(e) = &step.endpoint {
        s.push(' ');
        s.push_str(e.get_ref());
    }
    if let Some(h) = &step.host {
        s.push(' ');
        s.push_str(h.get_ref());
    }
    if let Some(b) = step.bytes {
        s.push_str(&format!(" {b} bytes"));
    }
    if step.then_close.as_ref().is_some_and(|t| *t.get_ref()) {
        s.push_str(", then close");
    }
    if let Some(t) = &step.text {
        s.push_str(&format!(" {:?}", t.get_ref()));
    }
    if let Some(sig) = &step.signal {
        s.push_str(&format!(" SIG{}", sig.get_ref()));
    }
    if let Some(h) = step.how {
        s.push(' ');
        s.push_str(h.name());
    }
    s
}

// ---- expectations ----------------------------------------------------------------------

/// The kernel models an expectation names (at most one is set).
struct Models {
    orphan: Option<OrphanModel>,
    death: Option<DeathModel>,
    probe: Option<ProbeModel>,
}

/// The checks that concern which kind an expectation is and what each kind
/// requires; returns the models named.
fn expect_kind(ctx: &Ctx, e: &ExpectFile, span: &Span) -> Result<Models, ScenarioError> {
    let kinds = [
        e.packets.is_some(),
        e.any_of.is_some(),
        e.silent.is_some(),
        e.socket.is_some(),
        e.event.is_some(),
        e.stdout.is_some(),
        e.stderr.is_some(),
        e.dies.is_some(),
        e.schedule.is_some(),
        e.gone.is_some(),
        e.probe.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if kinds != 1 {
        return Err(ctx.err(span.clone(), "`expect` needs exactly one of `packets`, `any_of`, `silent`, `socket`, `event`, `stdout`, `stderr`, `dies`, `schedule`, `gone`, `probe`"));
    }
    if (e.timer_at_least.is_some() || e.timer_at_most.is_some()) && e.socket.is_none() {
        return Err(ctx.err(
            span.clone(),
            "`timer_at_least` / `timer_at_most` go with `socket`",
        ));
    }
    let mut orphan = None;
    if let Some(g) = &e.gone {
        orphan = Some(OrphanModel::parse(g.get_ref()).ok_or_else(|| {
            ctx.err(
                g.span(),
                format!("unknown model `{}` ({})", g.get_ref(), OrphanModel::names()),
            )
        })?);
        if e.host.is_none() || e.after.is_none() {
            return Err(ctx.err(
                span.clone(),
                "`gone` needs `host` (whose socket vanishes) and `after` (the step that closed it)",
            ));
        }
    }
    let mut probe = None;
    if let Some(p) = &e.probe {
        probe = Some(ProbeModel::parse(p.get_ref()).ok_or_else(|| {
            ctx.err(
                p.span(),
                format!("unknown probe `{}` ({})", p.get_ref(), ProbeModel::names()),
            )
        })?);
        if e.host.is_none() || e.after.is_none() {
            return Err(ctx.err(
                span.clone(),
                "`probe` needs `host` (the host that sends the flight) and `after` (the step that sends it)",
            ));
        }
    }
    Ok(Models {
        orphan,
        death: timing_needs(ctx, e, span)?,
        probe,
    })
}

/// `dies` and `schedule`: the model, and what they need (`source`, `host`, `after`).
fn timing_needs(
    ctx: &Ctx,
    e: &ExpectFile,
    span: &Span,
) -> Result<Option<DeathModel>, ScenarioError> {
    let mut death = None;
    for model in [&e.dies, &e.schedule].into_iter().flatten() {
        death = Some(ctx.death_model(model)?);
    }
    if let (Some(d), Some(DeathModel::Synack)) = (&e.dies, death) {
        return Err(ctx.err(
            d.span(),
            "no application hears of a half-open request's end: check it with `gone = \"syn_recv\"` (and the SYN-ACKs with `schedule = \"synack\"`)",
        ));
    }
    if let (Some(d), Some(DeathModel::Unreachable)) = (&e.schedule, death) {
        return Err(ctx.err(
            d.span(),
            "the schedule of retransmissions answered by ICMP is not modelled yet: check the death with `dies = \"unreachable\"`",
        ));
    }
    if let (Some(d), Some(DeathModel::LocalDrop)) = (&e.schedule, death) {
        return Err(ctx.err(
            d.span(),
            "a local drop's probes never leave the host, so the capture holds no schedule: check the death with `dies = \"local_drop\"`",
        ));
    }
    if e.dies.is_some() && e.source.is_none() {
        return Err(ctx.err(
            span.clone(),
            "`dies` needs `source` (the endpoint whose connection dies)",
        ));
    }
    if e.schedule.is_some() && e.host.is_none() {
        return Err(ctx.err(
            span.clone(),
            "`schedule` needs `host` (the host that sends)",
        ));
    }
    if (e.dies.is_some() || e.schedule.is_some()) && e.after.is_none() {
        return Err(ctx.err(
            span.clone(),
            "a timing expectation needs `after` (the step that starts the fault)",
        ));
    }
    Ok(death)
}

/// Packet sequences, parsed (an error at the expectation's header).
fn sequences(
    ctx: &Ctx,
    e: &ExpectFile,
    span: &Span,
) -> Result<Vec<Vec<PacketPattern>>, ScenarioError> {
    e.packets
        .iter()
        .chain(e.any_of.iter().flatten())
        .map(|seq| {
            seq.iter()
                .map(|item| PacketPattern::parse(item).map_err(|m| ctx.err(span.clone(), m)))
                .collect()
        })
        .collect()
}

/// The names and values every expectation may carry, checked and parsed.
struct ExpectArgs {
    sequences: Vec<Vec<PacketPattern>>,
    quiet: Option<Quiet>,
    flags: Option<FlagSet>,
    host: Option<Host>,
    source: Option<String>,
    state: Option<TcpState>,
    event: Option<EventKind>,
    port: CapturePort,
}

/// Packet and `silent` expectations' values: the sequences and the silent side.
type PacketArgs = (Vec<Vec<PacketPattern>>, Option<Quiet>);

fn packet_args(ctx: &Ctx, e: &ExpectFile, span: &Span) -> Result<PacketArgs, ScenarioError> {
    let sequences = sequences(ctx, e, span)?;
    let quiet = e
        .silent
        .as_ref()
        .map(|s| {
            Quiet::parse(s.get_ref())
                .ok_or_else(|| ctx.err(s.span(), "`silent` is `client`, `server` or `any`"))
        })
        .transpose()?;
    if matches!(&e.any_of, Some(seqs) if seqs.is_empty()) {
        return Err(ctx.err(span.clone(), "`any_of` needs at least one sequence"));
    }
    if e.flags.is_some() && e.silent.is_none() {
        return Err(ctx.err(span.clone(), "`flags` goes with `silent`"));
    }
    Ok((sequences, quiet))
}

fn expect_args(ctx: &Ctx, e: &ExpectFile, span: &Span) -> Result<ExpectArgs, ScenarioError> {
    let (sequences, quiet) = packet_args(ctx, e, span)?;
    let host = e.host.as_ref().map(|h| ctx.host(h)).transpose()?;
    let source = e.source.as_ref().map(|s| ctx.endpoint(s)).transpose()?;
    let flags = e
        .flags
        .as_ref()
        .map(|f| {
            FlagSet::parse(f).ok_or_else(|| {
                ctx.err(
                    span.clone(),
                    format!("`flags = \"{f}\"`: use letters of S F P R U ."),
                )
            })
        })
        .transpose()?;
    let mut state = None;
    if let Some(st) = &e.socket {
        state = Some(
            TcpState::parse_scenario(st)
                .ok_or_else(|| ctx.err(span.clone(), format!("unknown socket state `{st}`")))?,
        );
        if host.is_none() {
            return Err(ctx.err(span.clone(), "a socket expectation needs `host`"));
        }
    }
    let mut event = None;
    if let Some(ev) = &e.event {
        event = Some(
            EventKind::parse_scenario(ev)
                .ok_or_else(|| ctx.err(span.clone(), format!("unknown event `{ev}`")))?,
        );
        if source.is_none() {
            return Err(ctx.err(span.clone(), "an event expectation needs `source`"));
        }
    }
    for errno in e.errno.iter().flatten() {
        ctx.errno(span, errno)?;
    }
    if let (Some(d), None) = (&e.detail, &e.event) {
        return Err(ctx.err(d.span(), "`detail` goes with `event`"));
    }
    let port = e.port.as_ref().map(|p| ctx.port(p)).transpose()?;
    Ok(ExpectArgs {
        sequences,
        quiet,
        flags,
        host,
        source,
        state,
        event,
        port: port.unwrap_or(CapturePort::ServerPort),
    })
}

fn expect(
    ctx: &Ctx,
    endpoints: &BTreeMap<String, Endpoint>,
    ex: &Spanned<ExpectFile>,
    step_names: &[String],
) -> Result<Expect, ScenarioError> {
    let span = ex.span();
    let e = ex.get_ref();
    let models = expect_kind(ctx, e, &span)?;
    let a = expect_args(ctx, e, &span)?;
    let lines = line_args(ctx, endpoints, e, &span)?;
    if let Some(after) = &e.after {
        if !step_names.contains(after.get_ref()) {
            return Err(ctx.err(
                after.span(),
                format!("no step is named `{}`", after.get_ref()),
            ));
        }
    }
    let kernel = e
        .kernel
        .as_ref()
        .map(|k| kernel_range(ctx, k))
        .transpose()?;
    Ok(Expect {
        name: e.name.clone(),
        after: e.after.as_ref().map(|a| a.get_ref().clone()),
        check: expectation(endpoints, e, a, lines, models),
        kernel,
    })
}

/// `kernel = { since = "6.5", before = "6.8", change = "..." }`: at least one
/// bound, `since` below `before`, and the change named.
fn kernel_range(
    ctx: &Ctx,
    k: &Spanned<super::file::KernelFile>,
) -> Result<super::KernelRange, ScenarioError> {
    let span = k.span();
    let f = k.get_ref();
    let version = |text: &Option<String>| {
        text.as_deref()
            .map(|t| {
                super::KernelVersion::parse(t).ok_or_else(|| {
                    ctx.err(
                        span.clone(),
                        format!("`{t}` is not a kernel version (major.minor, like 6.5)"),
                    )
                })
            })
            .transpose()
    };
    let (since, before) = (version(&f.since)?, version(&f.before)?);
    match (since, before) {
        (None, None) => Err(ctx.err(span, "a kernel range needs `since`, `before` or both")),
        (Some(s), Some(b)) if s >= b => Err(ctx.err(
            span,
            format!("the kernel range is empty: since {s} is not before {b}"),
        )),
        _ if f.change.trim().is_empty() => Err(ctx.err(
            span,
            "`change` names the upstream change behind the difference (commit and title)",
        )),
        _ => Ok(super::KernelRange {
            since,
            before,
            family: f.family,
            change: f.change.trim().to_string(),
        }),
    }
}

/// What an expectation says about an external program's lines: a
/// `stdout`/`stderr` expectation's stream and pattern, and how `dies` knows
/// the death.
struct LineArgs {
    line: Option<(Stream, LinePattern)>,
    death: DeathMark,
}

/// `stdout`/`stderr` (with an external `source`) and `line` (with `dies`),
/// checked and compiled.
fn line_args(
    ctx: &Ctx,
    endpoints: &BTreeMap<String, Endpoint>,
    e: &ExpectFile,
    span: &Span,
) -> Result<LineArgs, ScenarioError> {
    let mut line = None;
    if let Some((stream, text)) = stream_key(&e.stdout, &e.stderr) {
        let Some(src) = &e.source else {
            return Err(ctx.err(
                span.clone(),
                format!("a `{stream}` expectation needs `source` (the external endpoint that prints the line)"),
            ));
        };
        external_source(ctx, endpoints, src, stream.name())?;
        line = Some((stream, ctx.line_pattern(text)?));
    }
    Ok(LineArgs {
        line,
        death: death_mark(ctx, endpoints, e, span)?,
    })
}

/// What `dies` takes as the death: a built-in's first `error` event, or the
/// first line of an external program matching `line` (required there,
/// refused on a built-in).
fn death_mark(
    ctx: &Ctx,
    endpoints: &BTreeMap<String, Endpoint>,
    e: &ExpectFile,
    span: &Span,
) -> Result<DeathMark, ScenarioError> {
    let source = e
        .source
        .as_ref()
        .map(|s| s.get_ref().as_str())
        .unwrap_or("");
    let external = endpoints
        .get(source)
        .is_some_and(|x| x.program.is_external());
    match (&e.dies, &e.line, external) {
        (None, None, _) | (Some(_), None, false) => Ok(DeathMark::ErrorEvent),
        (None, Some(l), _) => Err(ctx.err(
            l.span(),
            "`line` goes with `dies` (the line an external program prints when its connection dies)",
        )),
        (Some(_), None, true) => Err(ctx.err(
            span.clone(),
            format!(
                "`dies` on the external endpoint `{source}` needs `line = \"REGEX\"`, the line it prints when its connection dies (a program reports no `error` event), e.g. `line = \"Connection timed out\"`"
            ),
        )),
        (Some(_), Some(l), false) => Err(ctx.err(
            l.span(),
            format!(
                "`line` is for `dies` on an external endpoint; the built-in `{source}` reports its death as an `error` event: leave `line` out"
            ),
        )),
        (Some(_), Some(l), true) => Ok(DeathMark::Line(ctx.line_pattern(l)?)),
    }
}

/// The typed expectation of one whose checks all passed.
fn expectation(
    endpoints: &BTreeMap<String, Endpoint>,
    e: &ExpectFile,
    a: ExpectArgs,
    lines: LineArgs,
    models: Models,
) -> Expectation {
    // Every kind's requirements hold (checked above); the defaults below are never used.
    let host = a.host.unwrap_or(Host::Client);
    let source = a.source.unwrap_or_default();
    let model = models.death.unwrap_or(DeathModel::Retransmission);
    if e.packets.is_some() || e.any_of.is_some() {
        Expectation::Packets {
            port: a.port,
            sequences: a.sequences,
            any_of: e.any_of.is_some(),
        }
    } else if let Some(from) = a.quiet {
        Expectation::Silent {
            port: a.port,
            from,
            flags: a.flags,
        }
    } else if let Some(state) = a.state {
        let timer =
            (e.timer_at_least.is_some() || e.timer_at_most.is_some()).then_some(TimerBounds {
                at_least: e.timer_at_least,
                at_most: e.timer_at_most,
            });
        Expectation::Socket {
            host,
            state,
            when: e.when,
            timer,
        }
    } else if let Some(kind) = a.event {
        Expectation::Event {
            source,
            kind,
            errno: e.errno.clone(),
            detail: e.detail.as_ref().map(|d| d.get_ref().clone()),
            happens: e.happens.unwrap_or(true),
        }
    } else if let Some((stream, pattern)) = lines.line {
        Expectation::Line {
            stream,
            source,
            pattern,
            happens: e.happens.unwrap_or(true),
        }
    } else if e.dies.is_some() {
        Expectation::Dies {
            death: lines.death,
            model,
            host: endpoints
                .get(&source)
                .map(|s| s.host)
                .unwrap_or(Host::Client),
            source,
        }
    } else if e.schedule.is_some() {
        Expectation::Schedule { model, host }
    } else if let Some(model) = models.probe {
        Expectation::Probe { model, host }
    } else {
        Expectation::Gone {
            model: models.orphan.unwrap_or(OrphanModel::OrphanFin),
            host,
        }
    }
}

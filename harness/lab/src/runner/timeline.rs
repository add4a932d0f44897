//! The timeline interpreter: a scenario's steps, in order, against a live lab:
//! its actions (send, close, kill, cut, power off, ...), its waits, and the
//! endpoint processes it starts and supervises.

use super::signals::aborted;

use crate::record::Recorder;

use crate::sys::now_ns;

use crate::topology::{Host, Lab};

use anyhow::{anyhow, Context, Result};

use std::collections::BTreeMap;

use std::io::{BufRead, BufReader, Write};

use std::net::{IpAddr, SocketAddr};

use std::path::PathBuf;

use std::process::{Child, ChildStdin, Command, Stdio};

use std::sync::atomic::{AtomicBool, Ordering};

use std::sync::Arc;

use std::time::{Duration, Instant};

use teardown_core::evidence::{Event, StepRecord, TcpFlags};

use teardown_core::scenario::{Action, Dur, Family, Program, Scenario, ShutdownHow, Step, Wait};

/// A running endpoint process.
pub(super) struct EndpointProc {
    pub(super) pid: i32,
    pub(super) stdin: Option<ChildStdin>,
    /// Set when the harness itself ended it (kill, restart, power off).
    pub(super) killed_by_harness: Arc<AtomicBool>,
}

/// Everything a running scenario holds.
pub(super) struct Run<'a> {
    pub(super) sc: &'a Scenario,
    pub(super) lab: &'a Lab,
    pub(super) recorder: Arc<Recorder>,
    pub(super) dir: PathBuf,
    pub(super) endpoints: BTreeMap<String, EndpointProc>,
    /// Samplers per host (stopped at power off, restarted at power on).
    pub(super) samplers: BTreeMap<&'static str, crate::sockdiag::Sampler>,
    /// Harness-side problems that make the verdict `error`.
    pub(super) problems: Vec<String>,
    /// When the latest step acted (packet waits look from there on).
    pub(super) last_acted_ns: u64,
    /// The ifindex each capture port is bound to (client-port, server-port).
    pub(super) capture_bound: Arc<Vec<std::sync::atomic::AtomicU32>>,
    pub(super) generation: usize,
    /// Counted drops in force: (`td_drop_fl01 from client`, its budget), reported
    /// at `undrop` and at the end of the timeline.
    pub(super) budgets: Vec<(String, crate::bpf::Budget)>,
}

pub(super) fn harness_event(kind: &str, detail: String) -> Event {
    Event {
        ts_ns: now_ns(),
        source: "harness".into(),
        kind: kind.into(),
        detail: Some(detail),
        ..Default::default()
    }
}

/// The addresses the connection uses.
pub(super) fn server_ip(sc: &Scenario) -> IpAddr {
    match sc.ip {
        Family::V4 => IpAddr::V4(Host::Server.v4()),
        Family::V6 => IpAddr::V6(Host::Server.v6()),
    }
}

pub(super) fn host_ip(sc: &Scenario, host: Host) -> IpAddr {
    match sc.ip {
        Family::V4 => IpAddr::V4(host.v4()),
        Family::V6 => IpAddr::V6(host.v6()),
    }
}

impl Run<'_> {
    /// One harness event per counted drop: how many frames it dropped, and how
    /// many matched after its budget was spent. Forgets the budgets.
    pub(super) fn report_budgets(&mut self) {
        for (what, b) in std::mem::take(&mut self.budgets) {
            let detail = match b.used() {
                Ok((dropped, passed)) => format!(
                    "{what}: dropped {dropped} (count {}), then let {passed} matching frame(s) pass",
                    b.count()
                ),
                Err(e) => format!("{what}: {e:#}"),
            };
            self.recorder.push_event(harness_event("drops", detail));
        }
    }

    pub(super) fn timeline(&mut self, steps: &mut Vec<StepRecord>) -> Result<()> {
        for host in [Host::Client, Host::Server] {
            self.start_sampler(host)?;
        }
        // Servers first, each listening before anything else starts.
        let mut names: Vec<(bool, String)> = self
            .sc
            .endpoints
            .iter()
            .filter(|(_, e)| e.start)
            .map(|(n, e)| (e.program != Program::Server, n.clone()))
            .collect();
        names.sort();
        for (_, n) in names {
            self.start_endpoint(&n)?;
        }
        for (i, step) in self.sc.steps.iter().enumerate() {
            let started_ns = now_ns();
            if let Some(w) = &step.wait {
                self.wait(i, w.get_ref())?;
            }
            let mut action = String::new();
            // A step's time: for an endpoint action, when it began (what it causes,
            // a FIN, an RST, comes after); for a wire fault, when it is in force
            // (frames already on their way while it was being applied are not its doing).
            let mut acted_ns = now_ns();
            if let Some(a) = &step.action {
                let act = *a.get_ref();
                action = describe(step, act);
                self.last_acted_ns = acted_ns;
                tracing::debug!(scenario = %self.sc.name, step = i + 1, action = %action, "acting");
                let result = self.act(step, act);
                if !act.needs_endpoint() {
                    acted_ns = now_ns();
                    self.last_acted_ns = acted_ns;
                }
                let detail = match &step.name {
                    Some(n) => format!("{n}: {action}"),
                    None => action.clone(),
                };
                self.recorder.push_event(Event {
                    ts_ns: acted_ns,
                    ..harness_event("step", detail)
                });
                result.with_context(|| format!("step {} ({action})", i + 1))?;
            }
            steps.push(StepRecord {
                index: i,
                name: step.name.clone(),
                action: action.clone(),
                started_ns,
                acted_ns,
            });
        }
        Ok(())
    }

    pub(super) fn start_sampler(&mut self, host: Host) -> Result<()> {
        let recorder = self.recorder.clone();
        let name = host.name();
        let sampler = crate::sockdiag::Sampler::start_timed(
            self.lab.host(host),
            name,
            crate::sockdiag::DEFAULT_PERIOD,
            move |ts, mut round: Vec<teardown_core::evidence::SockSample>| {
                if round.is_empty() {
                    // A round that found no socket still counts as a round (state NONE,
                    // no addresses): `expect` then knows the connection is gone.
                    round.push(crate::sockdiag::empty_round(ts, name));
                }
                recorder.push_round(name, ts, round);
            },
        )?;
        self.samplers.insert(name, sampler);
        Ok(())
    }

    pub(super) fn settle(&self) {
        // Quiet means no new frame for 100 ms (a delayed ACK is 40 ms); give up after 2 s.
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let before = self.recorder.with(|r| r.packets.len());
            let quiet = !self
                .recorder
                .wait_for(Instant::now() + Duration::from_millis(100), |r| {
                    r.packets.len() > before
                });
            if quiet || Instant::now() > deadline || aborted() {
                return;
            }
        }
    }

    pub(super) fn start_endpoint(&mut self, name: &str) -> Result<()> {
        let spec = self
            .sc
            .endpoints
            .get(name)
            .ok_or_else(|| anyhow!("no endpoint {name}"))?;
        let host = Host::parse(spec.host.get_ref()).ok_or_else(|| anyhow!("bad host"))?;
        let ns_path = self.lab.host(host).path().to_path_buf();
        let exe = std::env::current_exe().context("finding the teardown binary")?;
        self.generation += 1;
        // `<name>.<n>.stdout` / `.stderr`: one pair per process start in this scenario.
        let log_path = |ext: &str| self.dir.join(format!("{name}.{}.{ext}", self.generation));
        let mut cmd = match spec.program {
            Program::Client | Program::Server => {
                let port = spec.port;
                let addr = match spec.program {
                    Program::Server => SocketAddr::new(host_ip(self.sc, host), port),
                    _ => SocketAddr::new(server_ip(self.sc), port),
                };
                let config = crate::endpoint::EndpointConfig {
                    name: name.to_string(),
                    role: if spec.program == Program::Server {
                        crate::endpoint::Role::Server
                    } else {
                        crate::endpoint::Role::Client
                    },
                    addr,
                    options: spec.options.clone(),
                    autoread: spec.autoread,
                    on_eof: spec.on_eof,
                    on_eof_delay_ms: spec.on_eof_delay.map(|d| d.0.as_millis() as u64),
                    netns: Some(ns_path),
                };
                let mut c = Command::new(&exe);
                c.arg("endpoint").arg("--config").arg(config.to_json());
                c
            }
            Program::External => {
                let argv: Vec<String> = spec
                    .command
                    .clone()
                    .unwrap_or_default()
                    .iter()
                    .map(|a| self.substitute(a, spec.port))
                    .collect();
                let mut c = Command::new(&exe);
                c.arg("ns-exec").arg("--netns").arg(&ns_path).arg("--");
                if spec.shell {
                    c.arg("/bin/sh").arg("-c").arg(argv.join(" "));
                } else {
                    c.args(&argv);
                }
                c
            }
        };
        let external = spec.program == Program::External;
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(log_path("stderr"))
                    .or_else(|_| std::fs::File::create("/dev/null"))?,
            ));
        let listening_before = self.recorder.with(|r| {
            r.events
                .iter()
                .filter(|e| e.source == name && e.kind == "listening")
                .count()
        });
        let mut child: Child = cmd
            .spawn()
            .with_context(|| format!("starting endpoint {name}"))?;
        let pid = child.id() as i32;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let recorder = self.recorder.clone();
        let src = name.to_string();
        let stdout_log = log_path("stdout");
        std::thread::spawn(move || {
            let mut log = std::fs::File::create(stdout_log).ok();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !external {
                    if let Ok(mut e) = serde_json::from_str::<Event>(&line) {
                        e.source = src.clone();
                        recorder.push_event(e);
                        continue;
                    }
                }
                if external {
                    // What an external program prints is evidence too: an event per line.
                    recorder.push_event(Event {
                        ts_ns: now_ns(),
                        source: src.clone(),
                        kind: "stdout".into(),
                        detail: Some(line.clone()),
                        ..Default::default()
                    });
                }
                if let Some(l) = log.as_mut() {
                    let _ = writeln!(l, "{line}");
                }
            }
        });
        let killed = Arc::new(AtomicBool::new(false));
        let killed2 = killed.clone();
        let recorder = self.recorder.clone();
        let src = name.to_string();
        std::thread::spawn(move || {
            let status = child.wait();
            let detail = match status {
                Ok(st) => {
                    use std::os::unix::process::ExitStatusExt;
                    let by_harness = killed2.load(Ordering::SeqCst);
                    match (st.code(), st.signal()) {
                        (Some(0), _) => "exit 0".to_string(),
                        (_, Some(sig)) if by_harness => format!("killed by signal {sig}"),
                        // The harness ends endpoints at teardown; only a death during the run counts.
                        (_, Some(sig)) if aborted() => format!("killed by signal {sig}"),
                        (Some(c), _) if external || by_harness => format!("exit {c}"),
                        (Some(c), _) => format!("crashed: exit {c}"),
                        (_, Some(sig)) => format!("crashed: signal {sig}"),
                        _ => "exited".to_string(),
                    }
                }
                Err(e) => format!("wait failed: {e}"),
            };
            let detail = format!("{detail} (pid {pid})");
            recorder.push_event(Event {
                ts_ns: now_ns(),
                source: src,
                kind: "exited".into(),
                detail: Some(detail),
                ..Default::default()
            });
        });
        self.recorder
            .push_event(harness_event("started", format!("{name} pid {pid}")));
        if spec.program == Program::Server {
            // A new `listening` from this endpoint name, or this very process's exit.
            let src = name.to_string();
            let exited = format!("(pid {pid})");
            let ready = self
                .recorder
                .wait_for(Instant::now() + Duration::from_secs(5), |r| {
                    r.events
                        .iter()
                        .filter(|e| e.source == src && e.kind == "listening")
                        .count()
                        > listening_before
                        || r.events.iter().any(|e| {
                            e.source == src
                                && e.kind == "exited"
                                && e.detail.as_deref().unwrap_or("").ends_with(&exited)
                        })
                });
            if !ready {
                return Err(anyhow!(
                    "server endpoint {name} did not start listening within 5 s"
                ));
            }
        }
        self.endpoints.insert(
            name.to_string(),
            EndpointProc {
                pid,
                stdin,
                killed_by_harness: killed,
            },
        );
        Ok(())
    }

    fn substitute(&self, arg: &str, port: u16) -> String {
        arg.replace("{server_ip}", &server_ip(self.sc).to_string())
            .replace("{server_port}", &port.to_string())
            .replace("{client_ip}", &host_ip(self.sc, Host::Client).to_string())
    }

    fn command(&mut self, endpoint: &str, line: &str) -> Result<()> {
        let ep = self
            .endpoints
            .get_mut(endpoint)
            .ok_or_else(|| anyhow!("endpoint {endpoint} is not running"))?;
        let stdin = ep
            .stdin
            .as_mut()
            .ok_or_else(|| anyhow!("endpoint {endpoint} has no control pipe"))?;
        // One write for the whole line: a program that acts on the first bytes and
        // exits (nc on a reset) must not make a second write fail with EPIPE.
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .with_context(|| format!("telling {endpoint} to {line}"))?;
        stdin.flush()?;
        Ok(())
    }

    fn signal(&mut self, endpoint: &str, sig: nix::sys::signal::Signal) -> Result<()> {
        let ep = self
            .endpoints
            .get(endpoint)
            .ok_or_else(|| anyhow!("endpoint {endpoint} is not running"))?;
        if matches!(
            sig,
            nix::sys::signal::Signal::SIGKILL
                | nix::sys::signal::Signal::SIGTERM
                | nix::sys::signal::Signal::SIGINT
                | nix::sys::signal::Signal::SIGHUP
        ) {
            ep.killed_by_harness.store(true, Ordering::SeqCst);
        }
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(ep.pid), sig).map_err(|e| {
            anyhow!(
                "kill({}, {sig}): {}",
                ep.pid,
                teardown_core::errno::name(e as i32)
            )
        })
    }

    /// Kills an endpoint and waits until its process is gone.
    fn kill_and_wait(&mut self, endpoint: &str) -> Result<()> {
        let src = endpoint.to_string();
        // Counted before the signal: a process may be gone (and its `exited` recorded) at once.
        let before = self.recorder.with(|r| {
            r.events
                .iter()
                .filter(|e| e.source == src && e.kind == "exited")
                .count()
        });
        self.signal(endpoint, nix::sys::signal::Signal::SIGKILL)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        let gone = self.recorder.wait_for(deadline, |r| {
            r.events
                .iter()
                .filter(|e| e.source == src && e.kind == "exited")
                .count()
                > before
        });
        if !gone {
            return Err(anyhow!("endpoint {endpoint} did not exit after SIGKILL"));
        }
        self.endpoints.remove(endpoint);
        Ok(())
    }

    fn act(&mut self, step: &Step, action: Action) -> Result<()> {
        let endpoint = step
            .endpoint
            .as_ref()
            .map(|e| e.get_ref().clone())
            .unwrap_or_default();
        let host = step.host.as_ref().and_then(|h| Host::parse(h.get_ref()));
        match action {
            Action::Send => self.command(&endpoint, &format!("send {}", step.bytes.unwrap_or(0))),
            Action::Stream => match &step.rate {
                Some(r) => self.command(&endpoint, &format!("stream {}", r.get_ref())),
                None => self.command(&endpoint, "stream"),
            },
            Action::Close => self.command(&endpoint, "close"),
            Action::Shutdown => {
                let how = match step.how.unwrap_or(ShutdownHow::Wr) {
                    ShutdownHow::Wr => "wr",
                    ShutdownHow::Rd => "rd",
                    ShutdownHow::Rdwr => "rdwr",
                };
                self.command(&endpoint, &format!("shutdown {how}"))
            }
            Action::Kill => {
                let name = step
                    .signal
                    .as_ref()
                    .map(|s| s.get_ref().as_str())
                    .unwrap_or("KILL");
                let sig: nix::sys::signal::Signal = format!("SIG{name}")
                    .parse()
                    .map_err(|_| anyhow!("bad signal {name}"))?;
                if sig == nix::sys::signal::Signal::SIGKILL {
                    self.kill_and_wait(&endpoint)
                } else {
                    self.signal(&endpoint, sig)
                }
            }
            Action::Start => self.start_endpoint(&endpoint),
            Action::Restart => {
                if self.endpoints.contains_key(&endpoint) {
                    self.kill_and_wait(&endpoint)?;
                }
                self.start_endpoint(&endpoint)
            }
            Action::Cut | Action::Restore => {
                let cut = action == Action::Cut;
                crate::fault::set_cut(self.lab, cut)?;
                self.recorder.push_event(harness_event(
                    "fault",
                    (if cut { "cut" } else { "restore" }).to_string(),
                ));
                Ok(())
            }
            Action::LinkDown | Action::LinkUp => {
                let h = host.ok_or_else(|| anyhow!("no host"))?;
                let up = action == Action::LinkUp;
                crate::fault::set_link(self.lab, h, up)?;
                self.recorder.push_event(harness_event(
                    "fault",
                    format!("{} {}", if up { "link_up" } else { "link_down" }, h.name()),
                ));
                Ok(())
            }
            Action::PowerOff => {
                let h = host.ok_or_else(|| anyhow!("no host"))?;
                for (name, ep) in self.endpoints.iter() {
                    if self
                        .sc
                        .endpoints
                        .get(name)
                        .map(|s| s.host.get_ref() == h.name())
                        .unwrap_or(false)
                    {
                        ep.killed_by_harness.store(true, Ordering::SeqCst);
                    }
                }
                // The sampler's netlink socket holds the namespace: stop it first.
                if let Some(s) = self.samplers.remove(h.name()) {
                    s.stop()?;
                }
                crate::fault::power_off(self.lab, h)?;
                let on_host: Vec<String> = self
                    .sc
                    .endpoints
                    .iter()
                    .filter(|(_, s)| s.host.get_ref() == h.name())
                    .map(|(n, _)| n.clone())
                    .collect();
                for n in on_host {
                    self.endpoints.remove(&n);
                }
                self.recorder
                    .push_event(harness_event("fault", format!("power_off {}", h.name())));
                Ok(())
            }
            Action::Drop => {
                let flags = step.flags.as_ref().map(|f| f.get_ref().as_str());
                let probability = step.probability.as_ref().map(|p| *p.get_ref());
                let rule = crate::fault::rule_for(flags, probability);
                let count = step.count.as_ref().map(|c| *c.get_ref());
                let (from, hosts) = senders(step);
                for h in hosts {
                    if let Some(b) = crate::fault::drop_first(self.lab, h, &rule, count)? {
                        self.budgets
                            .push((format!("{} from {}", rule.name(), h.name()), b));
                    }
                }
                let first = count
                    .map(|c| format!(", the first {c}"))
                    .unwrap_or_default();
                self.recorder.push_event(harness_event(
                    "fault",
                    format!("drop {} from {from}{first}", rule.name()),
                ));
                Ok(())
            }
            Action::Impair => {
                let (from, hosts) = senders(step);
                let delay = step.delay.map(|d| d.0).unwrap_or_default();
                let jitter = step.jitter.map(|d| d.0).unwrap_or_default();
                let loss = step
                    .probability
                    .as_ref()
                    .map(|p| *p.get_ref())
                    .unwrap_or(0.0);
                for h in hosts {
                    crate::fault::impair(self.lab, h, delay, jitter, loss)?;
                }
                self.recorder.push_event(harness_event(
                    "fault",
                    format!(
                        "impair from {from}: delay {} jitter {} loss {loss}",
                        Dur(delay),
                        Dur(jitter)
                    ),
                ));
                Ok(())
            }
            Action::Unimpair => {
                crate::fault::unimpair(self.lab)?;
                self.recorder
                    .push_event(harness_event("fault", "unimpair".into()));
                Ok(())
            }
            Action::Undrop => {
                crate::fault::undrop(self.lab)?;
                self.recorder
                    .push_event(harness_event("fault", "undrop".into()));
                self.report_budgets();
                Ok(())
            }
            Action::PowerOn => {
                let h = host.ok_or_else(|| anyhow!("no host"))?;
                crate::fault::power_on(self.lab, h)?;
                self.start_sampler(h)?;
                // The capture must be on the new port before anything is sent through it.
                let loc = self.lab.port(h);
                let ifname = loc.ifname;
                let idx = loc.ns.run(|| crate::tc::ifindex(ifname))?;
                let slot = if h == Host::Client { 0 } else { 1 };
                let bound = self.capture_bound.clone();
                let following = self
                    .recorder
                    .wait_for(Instant::now() + Duration::from_secs(2), |_| {
                        bound[slot].load(Ordering::SeqCst) == idx
                    });
                if !following {
                    return Err(anyhow!(
                        "the capture did not follow {}'s new port within 2 s",
                        h.name()
                    ));
                }
                self.recorder
                    .push_event(harness_event("fault", format!("power_on {}", h.name())));
                Ok(())
            }
        }
    }

    fn wait(&mut self, index: usize, w: &Wait) -> Result<()> {
        let timeout = match &w.model_timeout {
            // The wait only bounds a hang (the timing itself is checked by `dies`): the model's
            // lifetime plus 10 s.
            Some(m) => {
                let server_port = self.sc.server_port();
                let host = w
                    .source
                    .as_ref()
                    .and_then(|s| self.sc.endpoints.get(s.get_ref()))
                    .map(|e| e.host.get_ref().clone())
                    .unwrap_or_else(|| "client".into());
                // The larger of the RTOs the connection showed: the model's death scales with it.
                let rto = self.recorder.with(|r| {
                    r.sockets
                        .iter()
                        .filter(|s| s.host == host && is_conn(s, server_port))
                        .filter_map(|s| s.tcp.as_ref().map(|t| t.rto_us))
                        .max()
                        .filter(|us| *us > 0)
                        .map(|us| Duration::from_micros(us as u64))
                });
                teardown_core::timing::model_life(self.sc, w, m.get_ref(), rto)
                    + Duration::from_secs(10)
            }
            None => w.timeout.unwrap_or(Dur(Duration::from_secs(5))).0,
        };
        if let Some(d) = w.duration {
            // A duration is the condition itself: time passing (abortable).
            let deadline = Instant::now() + d.0;
            self.recorder.wait_for(deadline, |_| false);
            return if aborted() {
                Err(anyhow!("interrupted"))
            } else {
                Ok(())
            };
        }
        let deadline = Instant::now() + timeout;
        let what = describe_wait(w);
        tracing::debug!(scenario = %self.sc.name, step = index + 1, "waiting up to {} for {what}", Dur(timeout));
        let server_port = self.sc.server_port();
        // Socket and `gone` waits need a sampler round taken after this wait began: an
        // older round may predate the connection itself, or the step that this wait
        // follows (a state seen before an `undrop` says nothing about after it).
        let from_ns = now_ns();
        let ok = if let Some(kind) = &w.event {
            let src = w
                .source
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_default();
            let errno = w.errno.clone();
            let bytes = w.bytes;
            self.recorder.wait_for(deadline, |r| {
                r.events.iter().any(|e| {
                    e.source == src
                        && &e.kind == kind
                        && errno
                            .as_ref()
                            .map(|x| e.errno.as_ref() == Some(x))
                            .unwrap_or(true)
                        && bytes.map(|b| e.bytes.unwrap_or(0) >= b).unwrap_or(true)
                })
            })
        } else if let Some(state) = &w.socket {
            let host = w
                .host
                .as_ref()
                .map(|h| h.get_ref().clone())
                .unwrap_or_default();
            let state = state.clone();
            self.recorder.wait_for(deadline, |r| {
                r.round_after(&host, from_ns).is_some_and(|mut round| {
                    round.any(|s| {
                        s.state == state
                            && if state == "LISTEN" {
                                // The server program's listener on the scenario's port.
                                s.local.ends_with(&format!(":{server_port}"))
                            } else {
                                is_conn(s, server_port)
                            }
                    })
                })
            })
        } else if w.gone == Some(true) {
            let host = w
                .host
                .as_ref()
                .map(|h| h.get_ref().clone())
                .unwrap_or_default();
            self.recorder.wait_for(deadline, |r| {
                r.round_after(&host, from_ns)
                    .is_some_and(|mut round| !round.any(|s| is_conn(s, server_port)))
            })
        } else if let Some(pattern) = &w.packet {
            let port = w
                .port
                .as_ref()
                .map(|p| p.get_ref().clone())
                .unwrap_or_else(|| "server-port".into());
            let alts = parse_alternatives(pattern);
            let client_ips = [IpAddr::V4(Host::Client.v4()), IpAddr::V6(Host::Client.v6())];
            // Packets since the previous step acted count: one may come between that
            // action and the start of this wait.
            let since = self.last_acted_ns;
            let want = w.count.unwrap_or(1) as usize;
            let mut seen = 0;
            let mut hits = 0;
            self.recorder.wait_for(deadline, |r| {
                hits += r.packets[seen..]
                    .iter()
                    .filter(|p| {
                        p.ts_ns >= since
                            && p.port == port
                            && alts.iter().any(|(from_client, flags)| {
                                client_ips.contains(&p.src.ip()) == *from_client
                                    && p.flags == *flags
                            })
                    })
                    .count();
                seen = r.packets.len();
                hits >= want
            })
        } else {
            true
        };
        if ok {
            Ok(())
        } else if aborted() {
            Err(anyhow!("interrupted"))
        } else {
            Err(anyhow!(
                "step {}: waited {} for {what}: not seen",
                index + 1,
                Dur(timeout)
            ))
        }
    }
}

/// A step's `from` (`client`, `server`, default `both`) and the hosts it names.
fn senders(step: &Step) -> (&str, Vec<Host>) {
    let from = step
        .from
        .as_ref()
        .map(|f| f.get_ref().as_str())
        .unwrap_or("both");
    let hosts = match from {
        "client" => vec![Host::Client],
        "server" => vec![Host::Server],
        _ => vec![Host::Client, Host::Server],
    };
    (from, hosts)
}

/// A sample of the scenario's connection (not a listener, not another socket).
fn is_conn(s: &teardown_core::evidence::SockSample, server_port: u16) -> bool {
    s.state != "LISTEN"
        && (s.local.ends_with(&format!(":{server_port}"))
            || s.remote.ends_with(&format!(":{server_port}")))
}

/// `C>S F.|S>C .` to (from_client, flags) alternatives (validated earlier).
fn parse_alternatives(pattern: &str) -> Vec<(bool, TcpFlags)> {
    pattern
        .split('|')
        .filter_map(|alt| {
            let alt = alt.trim().trim_end_matches('+').trim();
            let (dir, flags) = alt.split_once(' ')?;
            Some((dir == "C>S", TcpFlags::parse_tcpdump(flags.trim())?))
        })
        .collect()
}

fn describe_wait(w: &Wait) -> String {
    if let Some(e) = &w.event {
        let src = w
            .source
            .as_ref()
            .map(|s| s.get_ref().as_str())
            .unwrap_or("?");
        let mut s = format!("event `{e}` from {src}");
        if let Some(x) = &w.errno {
            s.push_str(&format!(" ({x})"));
        }
        if let Some(b) = w.bytes {
            s.push_str(&format!(" ({b} bytes)"));
        }
        s
    } else if let Some(st) = &w.socket {
        format!(
            "{} socket in {st}",
            w.host.as_ref().map(|h| h.get_ref().as_str()).unwrap_or("?")
        )
    } else if w.gone.is_some() {
        format!(
            "{} socket gone",
            w.host.as_ref().map(|h| h.get_ref().as_str()).unwrap_or("?")
        )
    } else if let Some(p) = &w.packet {
        format!(
            "packet {p} on {}",
            w.port
                .as_ref()
                .map(|h| h.get_ref().as_str())
                .unwrap_or("server-port")
        )
    } else {
        "nothing".into()
    }
}

fn describe(step: &Step, action: Action) -> String {
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
    if let Some(sig) = &step.signal {
        s.push_str(&format!(" SIG{}", sig.get_ref()));
    }
    if let Some(h) = step.how {
        s.push_str(&format!(" {h:?}").to_lowercase());
    }
    s
}

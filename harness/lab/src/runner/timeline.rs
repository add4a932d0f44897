//! The timeline interpreter: a scenario's steps, in order, against a live lab:
//! its actions (send, close, kill, cut, power off, ...) and its waits. The
//! endpoint processes are the [`Supervisor`]'s; whether a wait holds is the
//! core's ([`teardown_core::waits`]): here it only blocks on the recorder.

use super::signals::aborted;
use super::supervise::{harness_event, lab_host, Supervisor};
use crate::record::Recorder;
use crate::sys::now_ns;
use crate::topology::Lab;
use anyhow::{anyhow, Context, Result};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use teardown_core::evidence::{Event, StepRecord};
use teardown_core::scenario::{
    Action, DropAt, DropSelect, Dur, EventKind, Host, Netem, Program, Scenario, Senders, Step,
    StepWait, Wait,
};
use teardown_core::waits::{WaitContext, Waiting};

/// Everything a running scenario holds.
pub(super) struct Run<'a> {
    sc: &'a Scenario,
    lab: &'a Lab,
    recorder: Arc<Recorder>,
    endpoints: Supervisor,
    /// Samplers per host (stopped at power off, restarted at power on).
    samplers: BTreeMap<Host, crate::sockdiag::Sampler>,
    /// Harness-side problems that make the verdict `error`.
    pub(super) problems: Vec<String>,
    /// When the latest step acted (packet waits look from there on).
    last_acted_ns: u64,
    /// When the action just taken was in force, if earlier than its end (power off).
    in_force_ns: Option<u64>,
    /// The ifindex each capture port is bound to (client-port, server-port).
    capture_bound: Arc<Vec<AtomicU32>>,
    /// Counted drops in force: (`td_drop_fl01 from client`, its budget), reported
    /// at `undrop` and at the end of the timeline.
    budgets: Vec<(String, crate::bpf::Budget)>,
    /// Hosts with a local drop (`at = "host"`) on their own interface.
    local_drops: Vec<crate::topology::Host>,
    /// The start-up slot, held until the endpoints are ready ([`super::gate`]).
    pub(super) startup: Option<super::gate::Permit>,
}

/// A step that only waits for the endpoints to be ready: an event, a socket
/// state or an output line under a fixed timeout, with no action. The
/// start-up slot is held through it ([`super::gate`]).
fn readiness(step: &Step) -> bool {
    let Some(w) = &step.wait else { return false };
    step.action.is_none()
        && matches!(w.timeout, teardown_core::scenario::WaitTimeout::Fixed(_))
        && !matches!(w.until, Wait::Duration(_))
}

impl<'a> Run<'a> {
    pub(super) fn new(
        sc: &'a Scenario,
        lab: &'a Lab,
        recorder: Arc<Recorder>,
        dir: &Path,
        capture_bound: Arc<Vec<AtomicU32>>,
        start_ns: u64,
    ) -> Run<'a> {
        Run {
            sc,
            lab,
            endpoints: Supervisor::new(recorder.clone(), dir),
            recorder,
            samplers: BTreeMap::new(),
            problems: Vec::new(),
            last_acted_ns: start_ns,
            in_force_ns: None,
            capture_bound,
            budgets: Vec::new(),
            local_drops: Vec::new(),
            startup: None,
        }
    }

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
            self.recorder
                .push_event(harness_event(EventKind::Drops, detail));
        }
    }

    /// Stops the socket samplers (each problem is recorded).
    pub(super) fn stop_samplers(&mut self) {
        for (host, s) in std::mem::take(&mut self.samplers) {
            if let Err(e) = s.stop() {
                self.problems
                    .push(format!("socket sampler on {host}: {e:#}"));
            }
        }
    }

    /// Starts samplers and endpoints, then runs every step; records each step's times.
    pub(super) fn timeline(&mut self, steps: &mut Vec<StepRecord>) -> Result<()> {
        for host in [Host::Client, Host::Server] {
            self.start_sampler(host)?;
        }
        // Servers first, each listening before anything else starts.
        let mut names: Vec<(bool, &String)> = self
            .sc
            .endpoints
            .iter()
            .filter(|(_, e)| e.start)
            .map(|(n, e)| (e.program != Program::Server, n))
            .collect();
        names.sort();
        for (_, n) in names {
            self.endpoints.start(self.sc, self.lab, n)?;
        }
        for (i, step) in self.sc.steps.iter().enumerate() {
            if !(i == 0 && readiness(step)) {
                self.startup = None;
            }
            let started_ns = now_ns();
            if let Some(w) = &step.wait {
                self.wait(i, w)?;
            }
            let acted_ns = match &step.action {
                Some(a) => {
                    self.check_exits(&format!("before step {} ({})", i + 1, step.text))?;
                    self.step_action(i, step, a)?
                }
                None => now_ns(),
            };
            steps.push(StepRecord {
                index: i,
                name: step.name.clone(),
                action: step.text.clone(),
                started_ns,
                acted_ns,
            });
        }
        Ok(())
    }

    /// Runs a step's action and records it; returns the step's time.
    fn step_action(&mut self, i: usize, step: &Step, a: &Action) -> Result<u64> {
        let action = &step.text;
        // A step's time (Action::timed_at_start): for an endpoint action or one
        // that lifts a fault, when it began (what it causes comes after); for a
        // fault, when it is in force (frames already on their way while it was
        // being applied are not its doing).
        let mut acted_ns = now_ns();
        self.last_acted_ns = acted_ns;
        tracing::debug!(scenario = %self.sc.name, step = i + 1, action = %action, "acting");
        let result = self.act(a);
        if !a.timed_at_start() {
            // A power-off is in force once the host is isolated, however long
            // the rest of it takes (a flake: a 250 ms power-off under load hid
            // the first RTO retransmission from the timing check's anchor).
            acted_ns = self.in_force_ns.take().unwrap_or_else(now_ns);
            self.last_acted_ns = acted_ns;
        }
        let detail = match &step.name {
            Some(n) => format!("{n}: {action}"),
            None => action.clone(),
        };
        self.recorder.push_event(Event {
            ts_ns: acted_ns,
            ..harness_event(EventKind::Step, detail)
        });
        result.with_context(|| format!("step {} ({action})", i + 1))?;
        Ok(acted_ns)
    }

    fn start_sampler(&mut self, host: Host) -> Result<()> {
        use crate::sockdiag::Families;
        use teardown_core::scenario::Family;
        let recorder = self.recorder.clone();
        let families = match (self.sc.only_builtin_on(host), self.sc.ip) {
            (false, _) => Families::Both,
            (true, Family::V4) => Families::V4,
            (true, Family::V6) => Families::V6,
        };
        let sampler = crate::sockdiag::Sampler::start_families(
            self.lab.host(lab_host(host)),
            host,
            crate::sockdiag::DEFAULT_PERIOD,
            families,
            move |ts, mut round: Vec<teardown_core::evidence::SockSample>| {
                if round.is_empty() {
                    // A round that found no socket still counts as a round (a
                    // no-socket marker): `expect` then knows the connection is gone.
                    round.push(crate::sockdiag::empty_round(ts, host));
                }
                recorder.push_round(host, ts, round);
            },
        )?;
        self.samplers.insert(host, sampler);
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

    fn act(&mut self, action: &Action) -> Result<()> {
        match action {
            Action::Send {
                endpoint,
                bytes,
                then_close,
            } => {
                let close = if *then_close { " close" } else { "" };
                self.endpoints
                    .command(endpoint, &format!("send {bytes}{close}"))
            }
            Action::Stream { endpoint, rate } => match rate {
                Some(r) => self.endpoints.command(endpoint, &format!("stream {r}")),
                None => self.endpoints.command(endpoint, "stream"),
            },
            Action::Close { endpoint } => self.endpoints.command(endpoint, "close"),
            Action::Shutdown { endpoint, how } => self
                .endpoints
                .command(endpoint, &format!("shutdown {}", how.name())),
            Action::Read { endpoint } => self.endpoints.command(endpoint, "read"),
            Action::Disconnect { endpoint } => self.endpoints.command(endpoint, "disconnect"),
            Action::Kill { endpoint, signal } => self.endpoints.kill(endpoint, *signal),
            // The text as a line on the program's stdin (validation: an external endpoint).
            Action::Write { endpoint, text } => self.endpoints.command(endpoint, text),
            Action::Start { endpoint } => self.endpoints.start(self.sc, self.lab, endpoint),
            Action::Restart { endpoint } => {
                if self.endpoints.is_running(endpoint) {
                    self.endpoints.kill_and_wait(endpoint)?;
                }
                self.endpoints.start(self.sc, self.lab, endpoint)
            }
            Action::Cut | Action::Restore => {
                let cut = *action == Action::Cut;
                crate::fault::set_cut(self.lab, cut)?;
                self.fault((if cut { "cut" } else { "restore" }).to_string());
                Ok(())
            }
            Action::LinkDown { host } | Action::LinkUp { host } => {
                let up = matches!(action, Action::LinkUp { .. });
                crate::fault::set_link(self.lab, lab_host(*host), up)?;
                let what = if up { "link_up" } else { "link_down" };
                self.fault(format!("{what} {host}"));
                Ok(())
            }
            Action::PowerOff { host } => self.power_off(*host),
            Action::PowerOn { host } => self.power_on(*host),
            Action::Drop {
                from,
                select,
                count,
                at,
            } => self.drop_frames(*from, *select, *count, *at),
            Action::Undrop => {
                crate::fault::undrop(self.lab)?;
                crate::fault::undrop_local(self.lab, &std::mem::take(&mut self.local_drops))?;
                self.fault("undrop".into());
                self.report_budgets();
                Ok(())
            }
            Action::Impair { from, netem } => self.impair(*from, netem),
            Action::Unimpair => {
                crate::fault::unimpair(self.lab)?;
                self.fault("unimpair".into());
                Ok(())
            }
            Action::Reject { from, with } => {
                for h in from.hosts() {
                    crate::fault::reject(self.lab, lab_host(*h), *with)?;
                }
                self.fault(format!("reject from {from} with {with}"));
                Ok(())
            }
            Action::Unreject => {
                crate::fault::unreject(self.lab)?;
                self.fault("unreject".into());
                Ok(())
            }
        }
    }

    /// Records a fault in force.
    /// A `fault` event, stamped when the harness began applying it (the
    /// step's start: a frame the wire drops while a cut is still being
    /// applied falls inside the fault's band on the ladder, not before it;
    /// the step itself is stamped when the fault is in force).
    fn fault(&self, detail: String) {
        self.recorder.push_event(Event {
            ts_ns: self.last_acted_ns,
            ..harness_event(EventKind::Fault, detail)
        });
    }

    fn drop_frames(
        &mut self,
        from: Senders,
        select: DropSelect,
        count: Option<u64>,
        at: DropAt,
    ) -> Result<()> {
        let rule = crate::fault::rule_for(select);
        for h in from.hosts() {
            if let Some(b) = crate::fault::drop_at(self.lab, lab_host(*h), &rule, count, at)? {
                self.budgets.push((format!("{} from {h}", rule.name()), b));
            }
            if at == DropAt::Host {
                self.local_drops.push(lab_host(*h));
            }
        }
        let first = count
            .map(|c| format!(", the first {c}"))
            .unwrap_or_default();
        let place = match at {
            DropAt::Wire => "",
            DropAt::Host => " on its own interface (a local drop)",
        };
        self.fault(format!("drop {} from {from}{first}{place}", rule.name()));
        Ok(())
    }

    fn impair(&mut self, from: Senders, netem: &Netem) -> Result<()> {
        for h in from.hosts() {
            crate::fault::impair(self.lab, lab_host(*h), netem)?;
        }
        self.fault(format!(
            "impair from {from}: delay {} jitter {} loss {} correlation {}",
            Dur(netem.delay),
            Dur(netem.jitter),
            netem.loss,
            netem.loss_correlation
        ));
        Ok(())
    }

    fn power_off(&mut self, h: Host) -> Result<()> {
        self.endpoints.ending_with(self.sc, h);
        // The sampler's netlink socket holds the namespace: stop it first.
        if let Some(s) = self.samplers.remove(&h) {
            s.stop()?;
        }
        let in_force_ns = crate::fault::power_off(self.lab, lab_host(h))?;
        self.endpoints.forget_on(self.sc, h);
        self.recorder.push_event(Event {
            ts_ns: in_force_ns,
            ..harness_event(EventKind::Fault, format!("power_off {h}"))
        });
        self.in_force_ns = Some(in_force_ns);
        Ok(())
    }

    fn power_on(&mut self, h: Host) -> Result<()> {
        crate::fault::power_on(self.lab, lab_host(h))?;
        self.start_sampler(h)?;
        // The capture must be on the new port before anything is sent through it.
        let loc = self.lab.port(lab_host(h));
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
                "the capture did not follow {h}'s new port within 2 s"
            ));
        }
        self.fault(format!("power_on {h}"));
        Ok(())
    }

    /// Err with the real reason when an endpoint could not start or ended
    /// on its own in a way the scenario does not foresee
    /// ([`teardown_core::verdict::unforeseen_exit`]): its own words, or its
    /// exit and the last lines of its stderr.
    fn check_exits(&self, during: &str) -> Result<()> {
        let exit = self
            .recorder
            .with(|r| teardown_core::verdict::unforeseen_exit(self.sc, &r.events).cloned());
        let Some(e) = exit else {
            return Ok(());
        };
        let detail = e.detail.unwrap_or_default();
        if let Some(why) = detail.strip_prefix(teardown_core::verdict::FAILED_TO_START) {
            let why = why.rsplit_once(" (pid ").map_or(why, |(w, _)| w);
            return Err(anyhow!("endpoint {} failed to start: {why}", e.source));
        }
        let pid = detail
            .rsplit_once("(pid ")
            .and_then(|(_, p)| p.trim_end_matches(')').parse::<i32>().ok());
        let tail = pid
            .map(|p| self.endpoints.stderr_tail(p, 3))
            .unwrap_or_default();
        let said = if tail.is_empty() {
            "its stderr is empty".to_string()
        } else {
            format!("its stderr ends: {}", tail.join(" | "))
        };
        Err(anyhow!(
            "endpoint {} ended on its own, {detail}, {during}; {said}",
            e.source
        ))
    }

    fn wait(&mut self, index: usize, w: &StepWait) -> Result<()> {
        // A fixed timeout is a hang guard for a program's doing: it grows on a
        // slower machine (crate::pace). A model timeout already comes from
        // the model's lifetime of the connection.
        let written = self
            .recorder
            .with(|r| teardown_core::waits::timeout(self.sc, w, r));
        let (timeout, said) = match w.timeout {
            teardown_core::scenario::WaitTimeout::Fixed(_) => {
                (crate::pace::guard(written), crate::pace::describe(written))
            }
            _ => (written, Dur(written).to_string()),
        };
        let sc = self.sc;
        let ended = |r: &crate::record::Records| {
            teardown_core::verdict::unforeseen_exit(sc, &r.events).is_some()
        };
        if let Wait::Duration(d) = &w.until {
            // A duration is the condition itself: time passing (abortable,
            // and cut short by an endpoint's unforeseen end).
            let deadline = Instant::now() + d.0;
            self.recorder.wait_for(deadline, ended);
            self.check_exits(&format!("while step {} waited {}", index + 1, Dur(d.0)))?;
            return if aborted() {
                Err(anyhow!("interrupted"))
            } else {
                Ok(())
            };
        }
        let deadline = Instant::now() + timeout;
        let what = w.until.describe();
        tracing::debug!(scenario = %self.sc.name, step = index + 1, "waiting up to {} for {what}", Dur(timeout));
        let mut waiting = Waiting::new(
            &w.until,
            WaitContext {
                connection: self.sc.connection(),
                client_ips: vec![
                    IpAddr::V4(lab_host(Host::Client).v4()),
                    IpAddr::V6(lab_host(Host::Client).v6()),
                ],
                began_ns: now_ns(),
                since_ns: self.last_acted_ns,
            },
        );
        let held = self
            .recorder
            .wait_for(deadline, |r| ended(r) || waiting.holds(r));
        // An endpoint that could not start, or died on its own, is the reason
        // at once, not the wait's timeout.
        self.check_exits(&format!("while step {} waited for {what}", index + 1))?;
        if held {
            Ok(())
        } else if aborted() {
            Err(anyhow!("interrupted"))
        } else {
            Err(anyhow!(
                "step {}: waited {said} for {what}: not seen",
                index + 1
            ))
        }
    }
}

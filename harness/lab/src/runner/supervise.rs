//! Endpoint process supervision: starting a scenario's endpoints in their
//! host's namespace, relaying what they print into the records, telling them
//! what to do (stdin commands), signalling them, and waiting for their end.
//!
//! Contract: every process started gets an `exited` event when it ends
//! (detail ends with `(pid N)`), `crashed: ...` only when it died on its own
//! during the run (not when the harness killed it, not at teardown). Dropping
//! the [`Supervisor`] closes the endpoints' stdin, which ends the built-in
//! ones (the kernel closes what they held).

use super::signals::aborted;
use crate::account::Account;
use crate::record::Recorder;
use crate::sys::now_ns;
use crate::topology::Lab;
use anyhow::{anyhow, Context, Result};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use teardown_core::evidence::{Event, HARNESS};
use teardown_core::scenario::{Endpoint, EventKind, Family, Host, Program, Scenario, Signal};
use teardown_core::verdict::{FAILED, FAILED_TO_START};

/// The lab's host for a scenario's host name.
pub(super) fn lab_host(h: Host) -> crate::topology::Host {
    match h {
        Host::Client => crate::topology::Host::Client,
        Host::Server => crate::topology::Host::Server,
    }
}

/// The signal nix sends for a scenario's signal.
fn nix_signal(s: Signal) -> nix::sys::signal::Signal {
    use nix::sys::signal::Signal as N;
    match s {
        Signal::Kill => N::SIGKILL,
        Signal::Term => N::SIGTERM,
        Signal::Int => N::SIGINT,
        Signal::Stop => N::SIGSTOP,
        Signal::Cont => N::SIGCONT,
        Signal::Hup => N::SIGHUP,
    }
}

pub(super) fn harness_event(kind: EventKind, detail: String) -> Event {
    Event {
        detail: Some(detail),
        ..Event::new(now_ns(), HARNESS, kind)
    }
}

/// The address of a host in the connection's family.
pub(super) fn host_ip(sc: &Scenario, host: Host) -> IpAddr {
    let h = lab_host(host);
    match sc.ip {
        Family::V4 => IpAddr::V4(h.v4()),
        Family::V6 => IpAddr::V6(h.v6()),
    }
}

/// A running endpoint process.
struct EndpointProc {
    pid: i32,
    stdin: Option<ChildStdin>,
    /// Set when the harness itself ended it (kill, restart, power off).
    killed_by_harness: Arc<AtomicBool>,
}

/// A scenario's endpoint processes.
pub(super) struct Supervisor {
    recorder: Arc<Recorder>,
    /// Where the processes' stdout and stderr logs go.
    dir: PathBuf,
    /// Process starts so far (numbers the logs).
    generation: usize,
    procs: BTreeMap<String, EndpointProc>,
    /// Each process's stderr log, by pid (for the reason of a failed start).
    stderr_logs: BTreeMap<i32, PathBuf>,
}

impl Supervisor {
    pub(super) fn new(recorder: Arc<Recorder>, dir: &Path) -> Supervisor {
        Supervisor {
            recorder,
            dir: dir.to_path_buf(),
            generation: 0,
            procs: BTreeMap::new(),
            stderr_logs: BTreeMap::new(),
        }
    }

    pub(super) fn is_running(&self, name: &str) -> bool {
        self.procs.contains_key(name)
    }

    /// Starts an endpoint as its account; a built-in server must be
    /// listening within 5 s.
    pub(super) fn start(&mut self, sc: &Scenario, lab: &Lab, name: &str) -> Result<()> {
        let spec = sc
            .endpoints
            .get(name)
            .ok_or_else(|| anyhow!("no endpoint {name}"))?;
        let account =
            crate::account::resolve(&spec.user).map_err(|why| anyhow!("endpoint {name}: {why}"))?;
        self.generation += 1;
        // `<name>.<n>.stdout` / `.stderr`: one pair per process start in this scenario.
        let log_path = |ext: &str| self.dir.join(format!("{name}.{}.{ext}", self.generation));
        let mut cmd = endpoint_command(sc, lab, name, spec, &account)?;
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if spec.program.is_external() {
                // Its lines are events too (relay_stderr writes the log).
                Stdio::piped()
            } else {
                Stdio::from(
                    std::fs::File::create(log_path("stderr"))
                        .or_else(|_| std::fs::File::create("/dev/null"))?,
                )
            });
        let listening_before = self.listening_count(name);
        let mut child: Child = cmd
            .spawn()
            .with_context(|| format!("starting endpoint {name}"))?;
        let pid = child.id() as i32;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let external = spec.program.is_external();
        let mut relays = vec![self.relay_stdout(name, stdout, external, log_path("stdout"))];
        relays.extend(
            child
                .stderr
                .take()
                .map(|stderr| self.relay_stderr(name, stderr, log_path("stderr"))),
        );
        let killed = Arc::new(AtomicBool::new(false));
        self.stderr_logs.insert(pid, log_path("stderr"));
        self.reap(name, child, pid, external, killed.clone(), relays);
        self.recorder.push_event(harness_event(
            EventKind::Started,
            format!("{name} pid {pid} as {}", account.describe()),
        ));
        if spec.program == Program::Server {
            self.await_listening(name, pid, listening_before)?;
        }
        self.procs.insert(
            name.to_string(),
            EndpointProc {
                pid,
                stdin,
                killed_by_harness: killed,
            },
        );
        Ok(())
    }

    fn listening_count(&self, name: &str) -> usize {
        self.recorder.with(|r| {
            r.events
                .iter()
                .filter(|e| e.source == name && e.kind == EventKind::Listening)
                .count()
        })
    }

    /// What the process prints: a built-in's event lines go to the records;
    /// everything else to its stdout log (and, from an external program, to
    /// the records as `stdout` events).
    fn relay_stdout(
        &self,
        name: &str,
        stdout: ChildStdout,
        external: bool,
        log: PathBuf,
    ) -> JoinHandle<()> {
        let recorder = self.recorder.clone();
        let src = name.to_string();
        std::thread::spawn(move || {
            let mut log = std::fs::File::create(log).ok();
            Self::each_line(stdout, |raw| {
                let line = String::from_utf8_lossy(raw);
                if !external {
                    if let Ok(mut e) = serde_json::from_str::<Event>(&line) {
                        e.source = src.clone();
                        recorder.push_event(e);
                        return;
                    }
                }
                if external {
                    // What an external program prints is evidence too: an event per line.
                    recorder.push_event(Event {
                        detail: Some(line.into_owned()),
                        ..Event::new(now_ns(), src.clone(), EventKind::Stdout)
                    });
                }
                if let Some(l) = log.as_mut() {
                    let _ = l.write_all(raw).and_then(|_| l.write_all(b"\n"));
                }
            });
        })
    }

    /// An external program's stderr: each line to its stderr log and to the
    /// records as a `stderr` event (a built-in's stderr goes to the log
    /// directly: it holds no evidence).
    fn relay_stderr(&self, name: &str, stderr: ChildStderr, log: PathBuf) -> JoinHandle<()> {
        let recorder = self.recorder.clone();
        let src = name.to_string();
        std::thread::spawn(move || {
            let mut log = std::fs::File::create(log).ok();
            Self::each_line(stderr, |raw| {
                recorder.push_event(Event {
                    detail: Some(String::from_utf8_lossy(raw).into_owned()),
                    ..Event::new(now_ns(), src.clone(), EventKind::Stderr)
                });
                if let Some(l) = log.as_mut() {
                    let _ = l.write_all(raw).and_then(|_| l.write_all(b"\n"));
                }
            });
        })
    }

    /// Calls `f` with each line `from` gives until its end (without the `\n` or
    /// `\r\n`; a last line without one too), whatever its bytes: a line that is
    /// not UTF-8 must not stop the relay, or the program would block on a full pipe.
    fn each_line(from: impl std::io::Read, mut f: impl FnMut(&[u8])) {
        let mut reader = BufReader::new(from);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) => return,
                Ok(_) => {
                    let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
                    f(line.strip_suffix(b"\r").unwrap_or(line));
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// Waits for the process on a thread of its own and records its end, in
    /// the words [`teardown_core::verdict::unforeseen_exit`] reads. Its
    /// output relays are given up to 1 s to record the last lines first, so
    /// what it printed (a built-in's `error` event, the end of its stderr log)
    /// is on the record before its `exited` event (a child the program left
    /// behind may hold a pipe open longer).
    fn reap(
        &self,
        name: &str,
        mut child: Child,
        pid: i32,
        external: bool,
        killed: Arc<AtomicBool>,
        relays: Vec<JoinHandle<()>>,
    ) {
        let recorder = self.recorder.clone();
        let src = name.to_string();
        let stderr_log = self.stderr_logs.get(&pid).cloned();
        std::thread::spawn(move || {
            let status = child.wait();
            let deadline = Instant::now() + Duration::from_secs(1);
            while relays.iter().any(|r| !r.is_finished()) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            let detail = match status {
                Ok(st) => {
                    use std::os::unix::process::ExitStatusExt;
                    let by_harness = killed.load(Ordering::SeqCst);
                    match (st.code(), st.signal()) {
                        (Some(0), _) => "exit 0".to_string(),
                        (_, Some(sig)) if by_harness => format!("killed by signal {sig}"),
                        // The harness ends endpoints at teardown; only a death during the run counts.
                        (_, Some(sig)) if aborted() => format!("killed by signal {sig}"),
                        (Some(c), _) if by_harness => format!("exit {c}"),
                        (Some(c), _) if external => match exec_failure(c, stderr_log.as_deref()) {
                            Some(why) => format!("{FAILED_TO_START}{why}"),
                            None => format!("{FAILED}exit {c}"),
                        },
                        (Some(c), _) => format!("crashed: exit {c}"),
                        (_, Some(sig)) => format!("crashed: signal {sig}"),
                        _ => "exited".to_string(),
                    }
                }
                Err(e) => format!("wait failed: {e}"),
            };
            let detail = format!("{detail} (pid {pid})");
            recorder.push_event(Event {
                detail: Some(detail),
                ..Event::new(now_ns(), src, EventKind::Exited)
            });
        });
    }

    /// The last lines of a process's stderr (at most `n`, for a reason).
    pub(super) fn stderr_tail(&self, pid: i32, n: usize) -> Vec<String> {
        self.stderr_logs
            .get(&pid)
            .map(|p| last_lines(p, n))
            .unwrap_or_default()
    }

    /// A new `listening` from this endpoint name, or this very process's exit.
    fn await_listening(&self, name: &str, pid: i32, listening_before: usize) -> Result<()> {
        let exited = format!("(pid {pid})");
        // A hang guard: 5 s on the development machine, longer on a slower one.
        const WRITTEN: Duration = Duration::from_secs(5);
        let guard = crate::pace::guard(WRITTEN);
        let ready = self.recorder.wait_for(Instant::now() + guard, |r| {
            r.events
                .iter()
                .filter(|e| e.source == name && e.kind == EventKind::Listening)
                .count()
                > listening_before
                || r.events.iter().any(|e| {
                    e.source == name
                        && e.kind == EventKind::Exited
                        && e.detail.as_deref().unwrap_or("").ends_with(&exited)
                })
        });
        if ready {
            Ok(())
        } else {
            Err(anyhow!(
                "server endpoint {name} did not start listening within {} (a hang guard)",
                crate::pace::describe(WRITTEN)
            ))
        }
    }

    /// Writes one command line to an endpoint's stdin.
    pub(super) fn command(&mut self, endpoint: &str, line: &str) -> Result<()> {
        let ep = self
            .procs
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

    /// Sends a signal; SIGKILL also waits until the process is gone.
    pub(super) fn kill(&mut self, endpoint: &str, sig: Signal) -> Result<()> {
        if sig == Signal::Kill {
            self.kill_and_wait(endpoint)
        } else {
            self.signal(endpoint, sig)
        }
    }

    fn signal(&mut self, endpoint: &str, sig: Signal) -> Result<()> {
        let ep = self
            .procs
            .get(endpoint)
            .ok_or_else(|| anyhow!("endpoint {endpoint} is not running"))?;
        if sig.ends_process() {
            ep.killed_by_harness.store(true, Ordering::SeqCst);
        }
        let sig = nix_signal(sig);
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(ep.pid), sig).map_err(|e| {
            anyhow!(
                "kill({}, {sig}): {}",
                ep.pid,
                teardown_core::errno::name(e as i32)
            )
        })
    }

    /// Kills an endpoint and waits until its process is gone.
    pub(super) fn kill_and_wait(&mut self, endpoint: &str) -> Result<()> {
        let exits = |r: &crate::record::Records| {
            r.events
                .iter()
                .filter(|e| e.source == endpoint && e.kind == EventKind::Exited)
                .count()
        };
        // Counted before the signal: a process may be gone (and its `exited` recorded) at once.
        let before = self.recorder.with(exits);
        self.signal(endpoint, Signal::Kill)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        let gone = self.recorder.wait_for(deadline, |r| exits(r) > before);
        if !gone {
            return Err(anyhow!("endpoint {endpoint} did not exit after SIGKILL"));
        }
        self.procs.remove(endpoint);
        Ok(())
    }

    /// The processes on `host` are about to end with it (power off): by the harness.
    pub(super) fn ending_with(&self, sc: &Scenario, host: Host) {
        for (name, ep) in &self.procs {
            if sc.host_of(name) == Some(host) {
                ep.killed_by_harness.store(true, Ordering::SeqCst);
            }
        }
    }

    /// Forgets the processes of `host` (gone with its namespace).
    pub(super) fn forget_on(&mut self, sc: &Scenario, host: Host) {
        self.procs.retain(|name, _| sc.host_of(name) != Some(host));
    }
}

/// Why `ns-exec` could not run the program, when it exited with a shell's
/// status for that (127, 126) and said so last on stderr.
fn exec_failure(code: i32, stderr_log: Option<&Path>) -> Option<String> {
    if code != crate::exec::EXEC_NOT_FOUND && code != crate::exec::EXEC_NOT_EXECUTABLE {
        return None;
    }
    let last = last_lines(stderr_log?, 1).pop()?;
    last.strip_prefix(crate::exec::EXEC_FAILED)
        .map(str::to_string)
}

/// The last `n` lines of a log file (none if it can't be read).
fn last_lines(path: &Path, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

/// The command that runs an endpoint in its host's namespace as its
/// account: the built-in (`teardown endpoint --config JSON`) or an external
/// program (`teardown ns-exec`); both start as root, enter the namespace and
/// drop to the account themselves ([`crate::account`]).
fn endpoint_command(
    sc: &Scenario,
    lab: &Lab,
    name: &str,
    spec: &Endpoint,
    account: &Account,
) -> Result<Command> {
    let ns_path = lab.host(lab_host(spec.host)).path().to_path_buf();
    let exe = std::env::current_exe().context("finding the teardown binary")?;
    let mut c = Command::new(&exe);
    let role = match &spec.program {
        Program::Client => crate::endpoint::Role::Client,
        Program::Server => crate::endpoint::Role::Server,
        Program::External { argv, shell, .. } => {
            let scratch = if argv.iter().any(|a| a.contains("{scratch}")) {
                Some(scratch_dir(&lab.id, name, account)?)
            } else {
                None
            };
            let shared = if argv.iter().any(|a| a.contains("{shared}")) {
                Some(shared_dir(account)?)
            } else {
                None
            };
            let dirs = Dirs {
                scratch: scratch.as_deref(),
                shared: shared.as_deref(),
            };
            let argv: Vec<String> = argv
                .iter()
                .map(|a| substitute(sc, a, spec, &dirs))
                .collect();
            c.arg("ns-exec").arg("--netns").arg(&ns_path);
            c.arg("--user").arg(account.uid.to_string()).arg("--");
            if *shell {
                c.arg("/bin/sh").arg("-c").arg(argv.join(" "));
            } else {
                c.args(&argv);
            }
            return Ok(c);
        }
    };
    let addr = match role {
        crate::endpoint::Role::Server => SocketAddr::new(host_ip(sc, spec.host), spec.port),
        crate::endpoint::Role::Client => SocketAddr::new(host_ip(sc, Host::Server), spec.port),
    };
    let config = crate::endpoint::EndpointConfig {
        name: name.to_string(),
        role,
        addr,
        options: spec.options.clone(),
        autoread: spec.autoread,
        on_eof: spec.on_eof,
        on_eof_delay_ms: spec.on_eof_delay.map(|d| d.0.as_millis() as u64),
        netns: Some(ns_path),
        user: Some(account.uid.to_string()),
        accept: spec.accept,
        epoll: spec.epoll,
    };
    c.arg("endpoint").arg("--config").arg(config.to_json());
    Ok(c)
}

/// `{scratch}`: the endpoint's own directory for this lab
/// ([`crate::cleanup::scratch_dir`]), made on its first start, owned by its
/// account (mode 0700), kept across restarts, removed with the run's record.
fn scratch_dir(lab_id: &str, name: &str, account: &Account) -> Result<PathBuf> {
    own_dir(crate::cleanup::scratch_dir(lab_id).join(name), account)
}

/// `{shared}`: the account's directory of this process
/// ([`crate::cleanup::shared_dir`]), made on first use like `{scratch}`,
/// removed when the process's runs are over.
fn shared_dir(account: &Account) -> Result<PathBuf> {
    // Labs start endpoints side by side: one makes and chowns the directory
    // while the others wait, so none execs into it half-made.
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _making = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    own_dir(
        crate::cleanup::shared_dir().join(account.uid.to_string()),
        account,
    )
}

/// `dir`, made if missing, owned by `account`, mode 0700.
fn own_dir(dir: PathBuf, account: &Account) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if !dir.exists() {
        std::fs::create_dir_all(&dir)
            .map_err(|e| crate::sys::refused_io(format_args!("creating {}", dir.display()), &e))?;
        nix::unistd::chown(
            &dir,
            Some(nix::unistd::Uid::from_raw(account.uid)),
            Some(nix::unistd::Gid::from_raw(account.gid)),
        )
        .map_err(|e| crate::sys::refused(format_args!("chown {}", dir.display()), e))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(dir)
}

/// An external command's placeholders ([`teardown_core::scenario::PLACEHOLDERS`]):
/// the addresses and port, `{scratch}`, `{shared}`, and the endpoint's
/// declared options.
fn substitute(sc: &Scenario, arg: &str, spec: &Endpoint, dirs: &Dirs) -> String {
    let mut arg = arg
        .replace("{server_ip}", &host_ip(sc, Host::Server).to_string())
        .replace("{server_port}", &spec.port.to_string())
        .replace("{client_ip}", &host_ip(sc, Host::Client).to_string());
    for p in teardown_core::scenario::PLACEHOLDERS {
        // Validation made sure each one used is declared.
        if let Some(Some(d)) = teardown_core::scenario::option_placeholder(&spec.options, p) {
            arg = arg.replace(p, &d.to_string());
        }
    }
    if let Some(dir) = dirs.scratch {
        arg = arg.replace("{scratch}", &dir.to_string_lossy());
    }
    if let Some(dir) = dirs.shared {
        arg = arg.replace("{shared}", &dir.to_string_lossy());
    }
    arg
}

/// The directories an external command's placeholders name (made only when used).
struct Dirs<'a> {
    scratch: Option<&'a Path>,
    shared: Option<&'a Path>,
}

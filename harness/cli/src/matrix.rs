//! `teardown matrix`: the same suite on several kernels, each in a virtual
//! machine (and on the host as it is), merged into one report with a column
//! per kernel.
//!
//! Each guest is booted with virtme-ng (`vng`): it runs the given kernel
//! with the host's own file system as its root (read-only, writes to an
//! overlay), so the guest runs the very same `teardown`, Go, nc, socat and
//! tshark. What it writes goes to the matrix's folder, shared read-write.
//! virtme-ng is used rather than a launcher of our own because it already
//! does the hard parts well: the 9p/virtiofs root, the guest's init, a
//! distribution kernel's modules from an unpacked package (it runs depmod),
//! and the console.
//!
//! Contract:
//! - Scenario files are checked before anything boots (exit 2 on a bad one).
//! - The binary is copied once into the matrix's folder and every kernel
//!   runs that copy (a rebuild while guests run would otherwise change the
//!   file under them); a guest copies it once more into its RAM-backed
//!   /tmp, so its endpoints exec from memory, not over 9p.
//! - KVM is used when it really runs the guest: with `--accel auto` a short
//!   boot under KVM is tried first, and a /dev/kvm that can't boot the kernel
//!   (this development machine's, which runs only PVM guests) counts as
//!   none. Otherwise QEMU's emulation (TCG). The report says which. Every
//!   timing check stays as strict as on the host.
//! - Kernels run one after another (a guest gets every CPU of the host).
//! - Under emulation a guest runs one scenario per CPU at a time unless
//!   `--jobs` says otherwise ([`guest_jobs`]: the emulator's timers keep to
//!   the model's windows only then).

use crate::exit::{path_error, stdout_error};
use crate::run::{IpArg, ProfileArg};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use teardown_core::report::matrix::{self, Accel, KernelRun};
use teardown_core::report::Summary;
use teardown_lab::runner;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  sudo make matrix                               fetch Debian's 6.1 and 6.12 kernels, then run this
  sudo teardown matrix --ip both                 the host plus every kernel under target/matrix/kernels/
  sudo teardown matrix --kernel target/matrix/kernels/6.1.0-57-amd64 --filter 'x-connect-*'
  sudo teardown matrix --kernel host --kernel /boot/vmlinuz-6.12.117+deb12-amd64 --accel tcg")]
pub struct MatrixArgs {
    /// Scenario files or directories (default: scenarios/)
    pub paths: Vec<PathBuf>,
    /// A kernel to run the suite on: `host`, a kernel image (vmlinuz-*), or
    /// an unpacked kernel package holding boot/vmlinuz-* (repeatable;
    /// default: host plus every kernel under target/matrix/kernels/)
    #[arg(long = "kernel")]
    pub kernels: Vec<String>,
    /// kvm, tcg (QEMU's emulation), or auto: KVM when it boots the guest, else tcg
    #[arg(long, value_enum, default_value = "auto")]
    pub accel: AccelArg,
    /// Each guest's memory (QEMU's -m)
    #[arg(long, default_value = "2G")]
    pub memory: String,
    /// Each guest's CPUs (default: the host's)
    #[arg(long)]
    pub cpus: Option<usize>,
    /// Output directory (default: out/matrix-<date-time>/)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// As `teardown run --profile`
    #[arg(long, value_enum, default_value = "fast")]
    pub profile: ProfileArg,
    /// As `teardown run --ip`
    #[arg(long, value_enum)]
    pub ip: Option<IpArg>,
    /// As `teardown run --filter`
    #[arg(long)]
    pub filter: Option<String>,
    /// As `teardown run --jobs` (default: the run's own; under emulation, one per guest CPU)
    #[arg(long)]
    pub jobs: Option<usize>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccelArg {
    Auto,
    Kvm,
    Tcg,
}

/// Where `make matrix-kernels` unpacks Debian's kernel packages.
const KERNELS_DIR: &str = "target/matrix/kernels";

/// QEMU's emulation: every host CPU a thread; a 256 MB translation cache
/// keeps qemu near 640 MB instead of 1.5 GB.
const TCG_OPTS: &str = "-accel tcg,thread=multi,tb-size=256";

/// How long a trial boot under KVM may take. A KVM guest reaches its first
/// command in seconds; a /dev/kvm that can't run the kernel fails at once
/// or hangs, and this bounds only the hang.
const KVM_TRIAL: Duration = Duration::from_secs(60);

/// How long one kernel's suite may take in all: a guard against a hung
/// guest only (the fast suite over both families took under 8 minutes per
/// kernel under emulation here).
const GUEST_GUARD: Duration = Duration::from_secs(60 * 60);

/// How long a guest may go without finishing a scenario (or, before the
/// first, since it was started): a hang guard that names what was running.
/// The suite's longest scenario took under a minute in an emulated guest
/// here; ten minutes is ten times that, with boot.
const GUEST_STALL: Duration = Duration::from_secs(10 * 60);

/// How often a running guest's progress is printed (CI logs).
const PROGRESS_EVERY: Duration = Duration::from_secs(60);

/// A kernel to run on.
#[derive(Clone, Debug)]
enum Target {
    Host,
    Guest { label: String, image: PathBuf },
}

impl Target {
    fn label(&self) -> &str {
        match self {
            Target::Host => "host",
            Target::Guest { label, .. } => label,
        }
    }
}

pub fn main(args: MatrixArgs) -> anyhow::Result<i32> {
    // Bad input first: the scenarios, then the kernels; nothing boots before.
    let files = runner::scenario_files(&args.paths)?;
    let scenarios = runner::load_all(&files, args.profile.into())?;
    runner::check_programs(&scenarios)?;
    let targets = targets(&args.kernels)?;
    teardown_lab::sys::require_root()?;
    runner::install_watch()?;
    if targets.iter().any(|t| matches!(t, Target::Guest { .. })) {
        need_guest_tools()?;
    }
    let out = match &args.out {
        Some(o) => o.clone(),
        None => PathBuf::from(format!(
            "out/matrix-{}",
            runner::artifacts::chrono_like_stamp()
        )),
    };
    std::fs::create_dir_all(out.join("logs")).map_err(|e| path_error("creating", &out, e))?;
    let out = std::fs::canonicalize(&out).map_err(|e| path_error("reading", &out, e))?;
    std::fs::create_dir_all(out.join(".bin")).map_err(|e| path_error("creating", &out, e))?;
    let binary = out.join(".bin/teardown");
    let exe = std::env::current_exe()
        .map_err(|e| path_error("reading", Path::new("/proc/self/exe"), e))?;
    std::fs::copy(&exe, &binary).map_err(|e| path_error("copying the binary to", &binary, e))?;
    let cwd = std::env::current_dir().map_err(|e| path_error("reading", Path::new("."), e))?;
    let run_args = run_args(&args);
    let mut runs = Vec::new();
    for t in &targets {
        if runner::aborted() {
            return Err(teardown_core::missing("interrupted").into());
        }
        let label = t.label().to_string();
        let dir = out.join(&label);
        let log = out.join("logs").join(format!("{label}.log"));
        let (accel, boot) = match t {
            Target::Host => {
                say(format_args!("== {label}: the suite on the host's kernel"));
                run_host(&binary, &cwd, &run_args, &dir, &log)?;
                (Accel::Host, None)
            }
            Target::Guest { image, .. } => {
                let accel = choose_accel(args.accel, image, &out)?;
                say(format_args!(
                    "== {label}: booting {} ({}), log {}",
                    image.display(),
                    accel.describe(),
                    log.display()
                ));
                let cpus = args.cpus.unwrap_or_else(host_cpus);
                let vm = Vm {
                    image,
                    accel,
                    memory: &args.memory,
                    cpus,
                    share: &out,
                };
                let guest_args = guest_jobs(&run_args, args.jobs, accel, cpus);
                let boot = vm.run_suite(&binary, &cwd, &guest_args, &dir, &log)?;
                (accel, boot)
            }
        };
        let summary = read_summary(&dir)?;
        say(format_args!(
            "   {} scenarios on {} in {:.1} s",
            summary.scenarios.len(),
            summary.kernel,
            summary.wall_seconds
        ));
        runs.push(KernelRun {
            label,
            accel,
            boot_seconds: boot,
            dir: t.label().to_string(),
            summary,
        });
    }
    let merged = matrix::merge(&runs);
    write_reports(&out, &runs, &merged)?;
    let mut w = std::io::stdout().lock();
    write!(w, "{}", matrix::table(&merged)).map_err(stdout_error)?;
    writeln!(
        w,
        "output: {} (index.html: a column per kernel)",
        out.display()
    )
    .map_err(stdout_error)?;
    Ok(matrix::exit_code(&merged))
}

/// The merged `summary.json`, `junit.xml` and `index.html`.
fn write_reports(
    out: &Path,
    runs: &[KernelRun],
    merged: &matrix::MatrixSummary,
) -> anyhow::Result<()> {
    let write = |name: &str, text: String| {
        let p = out.join(name);
        std::fs::write(&p, text).map_err(|e| path_error("writing", &p, e))
    };
    write(
        "summary.json",
        serde_json::to_string_pretty(merged).expect("a matrix serializes") + "\n",
    )?;
    write("junit.xml", matrix::junit(runs))?;
    write("index.html", matrix::render_index(merged))?;
    Ok(())
}

/// The kernels asked for, or host plus every unpacked kernel.
fn targets(asked: &[String]) -> anyhow::Result<Vec<Target>> {
    if asked.is_empty() {
        let mut found = unpacked_kernels(Path::new(KERNELS_DIR));
        if found.is_empty() {
            return Err(teardown_core::bad_input(format!(
                "no guest kernels under {KERNELS_DIR}/: `make matrix-kernels` unpacks Debian's 6.1 and 6.12 there (or give --kernel)"
            ))
            .into());
        }
        found.insert(0, Target::Host);
        return Ok(found);
    }
    asked
        .iter()
        .map(|k| {
            if k == "host" {
                return Ok(Target::Host);
            }
            let p = Path::new(k);
            let image = if p.is_dir() {
                kernel_image_in(p).ok_or_else(|| {
                    teardown_core::bad_input(format!("--kernel {k}: no boot/vmlinuz-* in this folder"))
                })?
            } else if p.is_file() {
                p.to_path_buf()
            } else {
                return Err(teardown_core::bad_input(format!(
                    "--kernel {k}: neither `host`, a kernel image nor a folder holding boot/vmlinuz-*"
                )));
            };
            Ok(Target::Guest {
                label: image_label(&image),
                image,
            })
        })
        .collect::<Result<_, teardown_core::Error>>()
        .map_err(Into::into)
}

/// `boot/vmlinuz-*` of each folder under `dir`, oldest kernel first.
fn unpacked_kernels(dir: &Path) -> Vec<Target> {
    let mut found: Vec<Target> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| kernel_image_in(&e.path()))
        .map(|image| Target::Guest {
            label: image_label(&image),
            image,
        })
        .collect();
    found.sort_by_key(|t| {
        let v = teardown_core::scenario::KernelVersion::parse(t.label());
        (v.map(|v| (v.major, v.minor)), t.label().to_string())
    });
    found
}

fn kernel_image_in(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir.join("boot"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-"))
        })
}

/// `vmlinuz-6.1.0-57-amd64` -> `6.1.0-57-amd64`.
fn image_label(image: &Path) -> String {
    let name = image
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.strip_prefix("vmlinuz-").unwrap_or(&name).to_string()
}

/// What boots a guest: vng, QEMU, busybox (the guest's initramfs), udevd.
fn need_guest_tools() -> anyhow::Result<()> {
    need_tool(
        "vng",
        "virtme-ng: `make matrix` installs it (pip install virtme-ng)",
    )?;
    need_tool(
        "qemu-system-x86_64",
        "QEMU: `make matrix` installs it (apt-get install qemu-system-x86)",
    )?;
    need_tool(
        "busybox",
        "virtme-ng builds the guest's initramfs from it: `make matrix` installs it (apt-get install busybox-static)",
    )?;
    need_udevd()?;
    Ok(())
}

/// The guest's init (virtme-ng-init) finds the virtio-serial port it runs
/// the script over through udev; without systemd-udevd it falls back to the
/// console, the script's output is lost and vng exits 255.
fn need_udevd() -> anyhow::Result<()> {
    let found = [
        "/lib/systemd/systemd-udevd",
        "/usr/lib/systemd/systemd-udevd",
    ]
    .iter()
    .any(|p| Path::new(p).is_file());
    if found {
        Ok(())
    } else {
        Err(teardown_core::missing(
            "systemd-udevd not found: the guest's init needs it to reach the script's virtio-serial port (`make matrix` installs it: apt-get install udev)",
        )
        .into())
    }
}

fn need_tool(name: &str, hint: &str) -> anyhow::Result<()> {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    if found {
        Ok(())
    } else {
        Err(teardown_core::missing(format!("{name} not found: {hint}")).into())
    }
}

/// A guest's options: under emulation, without `--jobs`, one scenario per
/// guest CPU at a time. The timing checks stay as strict as on the host, and
/// the emulator's timers keep to them only when its CPUs are not shared out:
/// measured on Debian 6.1 here (2 CPUs, the suite over both families), 32
/// at once (the run's default) gave 6 timing checks 16 to 90 ms outside the
/// model's window, 8 at once 4, and 2 at once none (130 passed, 8 skipped,
/// 433 s). Under KVM a guest runs as the host does, with the run's default.
fn guest_jobs(run_args: &[String], asked: Option<usize>, accel: Accel, cpus: usize) -> Vec<String> {
    let mut v = run_args.to_vec();
    if asked.is_none() && accel == Accel::Tcg {
        v.push(format!("--jobs={}", cpus.max(1)));
    }
    v
}

/// The options each kernel's `teardown run` gets (`--out` aside).
fn run_args(a: &MatrixArgs) -> Vec<String> {
    let mut v: Vec<String> = a.paths.iter().map(|p| p.display().to_string()).collect();
    v.push("--quiet".into());
    v.push(format!(
        "--profile={}",
        match a.profile {
            ProfileArg::Fast => "fast",
            ProfileArg::Faithful => "faithful",
        }
    ));
    if let Some(ip) = a.ip {
        v.push(
            match ip {
                IpArg::V4 => "--ip=v4",
                IpArg::V6 => "--ip=v6",
                IpArg::Both => "--ip=both",
            }
            .into(),
        );
    }
    if let Some(f) = &a.filter {
        v.push(format!("--filter={f}"));
    }
    if let Some(j) = a.jobs {
        v.push(format!("--jobs={j}"));
    }
    v
}

fn run_host(
    binary: &Path,
    cwd: &Path,
    run_args: &[String],
    dir: &Path,
    log: &Path,
) -> anyhow::Result<()> {
    let logf = std::fs::File::create(log).map_err(|e| path_error("creating", log, e))?;
    let status = Command::new(binary)
        .arg("run")
        .args(run_args)
        .arg(format!("--out={}", dir.display()))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(
            logf.try_clone()
                .map_err(|e| path_error("opening", log, e))?,
        )
        .stderr(logf)
        .status()
        .map_err(|e| path_error("starting", binary, e))?;
    finished(status, dir, log)
}

/// A run's exit: 0, 1 (a check failed) and 3 (a scenario errored) leave a
/// summary to merge; anything else is the run's own failure.
fn finished(status: std::process::ExitStatus, dir: &Path, log: &Path) -> anyhow::Result<()> {
    match status.code() {
        Some(0 | 1 | 3) if dir.join("summary.json").is_file() => Ok(()),
        _ => {
            print_log_tail(log);
            Err(teardown_core::missing(format!(
                "the suite in {} ended with {status} and no summary: see {}",
                dir.display(),
                log.display()
            ))
            .into())
        }
    }
}

/// The last lines of a kernel's log, on stderr (a CI log shows why).
fn print_log_tail(log: &Path) {
    const LINES: usize = 20;
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(LINES)..];
    if tail.is_empty() {
        say(format_args!("   ({} is empty)", log.display()));
        return;
    }
    say(format_args!(
        "   the last {} lines of {}:",
        tail.len(),
        log.display()
    ));
    for l in tail {
        say(format_args!("   | {l}"));
    }
}

/// A guest suite's folder as it runs: the scenarios finished (their
/// `report.json` is written) and those begun but not finished.
#[derive(Debug, Default, PartialEq, Eq)]
struct SuiteProgress {
    finished: usize,
    running: Vec<String>,
}

impl SuiteProgress {
    fn read(dir: &Path) -> SuiteProgress {
        let mut p = SuiteProgress::default();
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = e.path();
            if !path.is_dir() {
                continue;
            }
            if path.join("report.json").is_file() {
                p.finished += 1;
            } else {
                p.running.push(e.file_name().to_string_lossy().into_owned());
            }
        }
        p.running.sort();
        p
    }

    fn describe(&self) -> String {
        let running = if self.running.is_empty() {
            "none".to_string()
        } else {
            self.running.join(", ")
        };
        format!("{} scenarios finished; running: {running}", self.finished)
    }
}

fn read_summary(dir: &Path) -> anyhow::Result<Summary> {
    let p = dir.join("summary.json");
    let text = std::fs::read_to_string(&p).map_err(|e| path_error("reading", &p, e))?;
    Ok(serde_json::from_str(&text).map_err(|e| {
        teardown_core::bad_input(format!("{}: not a run summary: {e}", p.display()))
    })?)
}

/// One guest.
struct Vm<'a> {
    image: &'a Path,
    accel: Accel,
    memory: &'a str,
    cpus: usize,
    /// Shared read-write with the guest (the matrix's folder).
    share: &'a Path,
}

impl Vm<'_> {
    /// vng's command line for `script` (run by the guest's shell).
    fn command(&self, script: &str) -> Command {
        let mut c = Command::new("vng");
        c.arg("--run")
            .arg(self.image)
            .args(["--user", "root", "--memory", self.memory])
            .arg(format!("--cpus={}", self.cpus))
            .arg(format!("--rwdir={}", self.share.display()))
            .arg("--exec")
            .arg(script)
            .stdin(Stdio::null())
            // A group of its own: a hang guard or Ctrl-C kills vng with the
            // QEMU under it (kill_group), and the terminal's SIGINT reaches
            // only this process, which does that.
            .process_group(0);
        if self.accel == Accel::Tcg {
            c.arg("--disable-kvm")
                .arg(format!("--qemu-opts={TCG_OPTS}"));
        }
        c
    }

    /// Boots, runs the suite into `dir`, powers off; the boot time (the
    /// guest's uptime at its first command).
    fn run_suite(
        &self,
        binary: &Path,
        cwd: &Path,
        run_args: &[String],
        dir: &Path,
        log: &Path,
    ) -> anyhow::Result<Option<f64>> {
        let uptime = log.with_extension("uptime");
        let _ = std::fs::remove_file(&uptime);
        let args: Vec<String> = run_args.iter().map(|a| quote(a)).collect();
        let script = format!(
            "cat /proc/uptime > {uptime} && cp {binary} /tmp/td-teardown && cd {cwd} && exec /tmp/td-teardown run {} --out={}",
            args.join(" "),
            quote(&dir.display().to_string()),
            uptime = quote(&uptime.display().to_string()),
            binary = quote(&binary.display().to_string()),
            cwd = quote(&cwd.display().to_string()),
        );
        let logf = std::fs::File::create(log).map_err(|e| path_error("creating", log, e))?;
        let mut child = self
            .command(&script)
            .stdout(
                logf.try_clone()
                    .map_err(|e| path_error("opening", log, e))?,
            )
            .stderr(logf)
            .spawn()
            .map_err(|e| path_error("starting", Path::new("vng"), e))?;
        let label = image_label(self.image);
        let status = match wait_with_guard(&mut child, GUEST_GUARD, Some((dir, &label))) {
            Ok(s) => s,
            Err(e) => {
                print_log_tail(log);
                return Err(e);
            }
        };
        finished(status, dir, log)?;
        Ok(std::fs::read_to_string(&uptime)
            .ok()
            .and_then(|t| t.split_whitespace().next()?.parse().ok()))
    }
}

/// Waits for the child, the leader of a process group of its own; kills the
/// group (by the child's pid) after `guard` or at SIGINT/SIGTERM. With a
/// suite's folder, prints its progress every [`PROGRESS_EVERY`] and kills
/// the group also when no scenario finished for [`GUEST_STALL`], naming
/// what was running.
fn wait_with_guard(
    child: &mut std::process::Child,
    guard: Duration,
    suite: Option<(&Path, &str)>,
) -> anyhow::Result<std::process::ExitStatus> {
    let start = Instant::now();
    let mut last = SuiteProgress::default();
    let mut last_change = start;
    let mut last_print = start;
    loop {
        if let Some(s) = child.try_wait()? {
            return Ok(s);
        }
        let mut why = None;
        if let Some((dir, label)) = suite {
            let now = SuiteProgress::read(dir);
            if now.finished != last.finished {
                last_change = Instant::now();
            }
            if last_print.elapsed() >= PROGRESS_EVERY {
                last_print = Instant::now();
                say(format_args!(
                    "   {label}: {} s, {}",
                    start.elapsed().as_secs(),
                    now.describe()
                ));
            }
            if last_change.elapsed() > GUEST_STALL {
                why = Some(format!(
                    "the guest finished no scenario for {} s (a hang guard): killed; {}",
                    GUEST_STALL.as_secs(),
                    now.describe()
                ));
            }
            last = now;
        }
        if why.is_none() && start.elapsed() > guard {
            why = Some(format!(
                "the guest did not finish within {} s (a hang guard): killed{}",
                guard.as_secs(),
                if suite.is_some() {
                    format!("; {}", last.describe())
                } else {
                    String::new()
                }
            ));
        }
        if why.is_none() && runner::aborted() {
            why = Some("interrupted: the guest was killed".to_string());
        }
        if let Some(why) = why {
            teardown_lab::cleanup::kill_group(child.id());
            let _ = child.wait();
            return Err(teardown_core::missing(why).into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `--accel auto`: KVM when a trial boot under it reaches its first
/// command, else QEMU's emulation.
fn choose_accel(asked: AccelArg, image: &Path, share: &Path) -> anyhow::Result<Accel> {
    match asked {
        AccelArg::Kvm => Ok(Accel::Kvm),
        AccelArg::Tcg => Ok(Accel::Tcg),
        AccelArg::Auto if !Path::new("/dev/kvm").exists() => Ok(Accel::Tcg),
        AccelArg::Auto => {
            let vm = Vm {
                image,
                accel: Accel::Kvm,
                memory: "512M",
                cpus: 1,
                share,
            };
            let marker = "td-kvm-boots";
            let mut child = vm
                .command(&format!("echo {marker}"))
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| path_error("starting", Path::new("vng"), e))?;
            let mut stdout = child.stdout.take().expect("piped");
            let reader = std::thread::spawn(move || {
                let mut s = String::new();
                let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
                s
            });
            let booted = match wait_with_guard(&mut child, KVM_TRIAL, None) {
                Ok(status) => {
                    status.success() && reader.join().unwrap_or_default().contains(marker)
                }
                Err(_) => false,
            };
            Ok(if booted { Accel::Kvm } else { Accel::Tcg })
        }
    }
}

/// A word for the guest's shell: single-quoted.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn host_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn say(line: std::fmt::Arguments) {
    eprintln!("{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suite_folder_tells_finished_from_running_scenarios() {
        let d = std::env::temp_dir().join(format!("td-matrix-progress-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for (name, done) in [("b-two", false), ("a-one", true), ("c-three", false)] {
            std::fs::create_dir_all(d.join(name)).unwrap();
            if done {
                std::fs::write(d.join(name).join("report.json"), "{}").unwrap();
            }
        }
        std::fs::write(d.join("summary.json"), "{}").unwrap();
        let p = SuiteProgress::read(&d);
        std::fs::remove_dir_all(&d).unwrap();
        assert_eq!(
            p,
            SuiteProgress {
                finished: 1,
                running: vec!["b-two".into(), "c-three".into()]
            }
        );
        assert_eq!(
            p.describe(),
            "1 scenarios finished; running: b-two, c-three"
        );
        assert_eq!(
            SuiteProgress::read(&d).describe(),
            "0 scenarios finished; running: none"
        );
    }

    #[test]
    fn labels_come_from_the_image_name() {
        assert_eq!(
            image_label(Path::new(
                "target/matrix/kernels/x/boot/vmlinuz-6.1.0-57-amd64"
            )),
            "6.1.0-57-amd64"
        );
    }

    #[test]
    fn words_reach_the_guest_shell_as_written() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s {}", quote("x-'*' $HOME")))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "x-'*' $HOME");
    }

    #[test]
    fn unknown_kernels_are_bad_input_before_anything_boots() {
        let e = targets(&["/nonexistent/vmlinuz".into()]).unwrap_err();
        assert!(e.to_string().contains("neither `host`"), "{e}");
    }

    #[test]
    fn an_emulated_guest_runs_one_scenario_per_cpu_unless_told() {
        let base = vec!["scenarios/".to_string()];
        assert_eq!(
            guest_jobs(&base, None, Accel::Tcg, 2),
            ["scenarios/", "--jobs=2"]
        );
        assert_eq!(guest_jobs(&base, None, Accel::Kvm, 2), ["scenarios/"]);
        // --jobs is already in the run's options; nothing is added.
        assert_eq!(guest_jobs(&base, Some(8), Accel::Tcg, 2), ["scenarios/"]);
    }
}

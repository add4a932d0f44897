//! Privileged: `teardown doctor` reports this kernel's features, exits 0
//! when every essential one is present, 3 without root, and leaves no
//! namespace behind.

mod lifecycle_common;

use lifecycle_common::*;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

/// The line of the table for `feature`: (status, need).
fn row<'a>(table: &'a str, feature: &str) -> (&'a str, &'a str) {
    let line = table
        .lines()
        .find(|l| l.starts_with(feature) && l[feature.len()..].starts_with("  "))
        .unwrap_or_else(|| panic!("no row `{feature}` in:\n{table}"));
    let mut words = line[feature.len()..].split_whitespace();
    (words.next().unwrap(), words.next().unwrap())
}

/// Whether sch_netem works here, asked of iproute2 in a namespace of our own.
fn netem_by_iproute2() -> bool {
    let ns = format!("td-dtest-{}", std::process::id());
    assert!(Command::new("ip")
        .args(["netns", "add", &ns])
        .status()
        .unwrap()
        .success());
    let ok = Command::new("ip")
        .args([
            "netns", "exec", &ns, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay",
            "1ms",
        ])
        .output()
        .unwrap()
        .status
        .success();
    assert!(Command::new("ip")
        .args(["netns", "del", &ns])
        .status()
        .unwrap()
        .success());
    ok
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn doctor_reports_features_and_leaves_nothing() {
    teardown_lab::require_privileged();
    let child = Command::new(BIN)
        .arg("doctor")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{table}{err}");
    assert!(table.starts_with("kernel "), "{table}");
    for essential in [
        "root or CAP_NET_ADMIN",
        "network namespaces",
        "veth",
        "bridge",
        "sock_diag SOCK_DESTROY",
    ] {
        assert_eq!(row(&table, essential), ("ok", "essential"), "{table}");
    }
    for optional in [
        "bpf(2)",
        "clsact + cls_bpf direct-action",
        "sch_netem",
        "nftables",
        "tcp_rto_min_us sysctl (6.11+)",
        "tcp_rto_max_ms + TCP_RTO_MAX_MS (6.15+)",
        "tcp_child_ehash_entries (5.19+)",
    ] {
        assert_eq!(row(&table, optional).1, "optional", "{table}");
    }
    // sch_netem as iproute2 finds it (missing on the development kernel).
    let netem = netem_by_iproute2();
    assert_eq!(
        row(&table, "sch_netem").0,
        if netem { "ok" } else { "missing" },
        "{table}"
    );
    if !netem {
        assert!(table.contains("this kernel lacks sch_netem"), "{table}");
    }
    // The sysctls as /proc/sys shows them in a fresh namespace.
    let ns =
        teardown_lab::netns::NetNs::create(&format!("td-dtest2-{}", std::process::id())).unwrap();
    let (min_us, max_ms) = ns
        .run(|| {
            Ok((
                std::path::Path::new("/proc/sys/net/ipv4/tcp_rto_min_us").exists(),
                std::path::Path::new("/proc/sys/net/ipv4/tcp_rto_max_ms").exists(),
            ))
        })
        .unwrap();
    ns.delete().unwrap();
    assert_eq!(
        row(&table, "tcp_rto_min_us sysctl (6.11+)").0,
        if min_us { "ok" } else { "missing" }
    );
    if !max_ms {
        assert_eq!(
            row(&table, "tcp_rto_max_ms + TCP_RTO_MAX_MS (6.15+)").0,
            "missing"
        );
    }
    // Its throw-away namespaces are gone.
    let left: Vec<String> = teardown_lab::netns::list()
        .into_iter()
        .filter(|n| {
            n == &format!("td-doctor-{pid}")
                || (n.starts_with("td-probe-") && n.contains(&format!("-{pid}-")))
        })
        .collect();
    assert!(left.is_empty(), "doctor left {left:?}");
    assert!(!netns_mounts()
        .iter()
        .any(|m| m.ends_with(&format!("td-doctor-{pid}"))));
}

#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn doctor_without_root_exits_3_before_probing() {
    teardown_lab::require_privileged();
    // A copy of the binary that an unprivileged user may run.
    let dir = temp_dir("doctor");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.join("teardown");
    std::fs::copy(BIN, &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(&bin)
        .arg("doctor")
        .output()
        .expect("setpriv (util-linux)");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs root or CAP_NET_ADMIN"));
    assert!(out.stdout.is_empty(), "probed without root: {out:?}");
}

/// What the runner probes before a scenario (its skip decision): every
/// sysctl the catalogue writes is found on this kernel, a per-device one
/// too (a throw-away namespace has no eth0 and no `neigh.default`: it is
/// probed on `lo`), and one no kernel has is missing with ENOENT.
#[test]
#[ignore = "privileged: needs root (make test runs it)"]
fn the_scenarios_sysctls_are_probed_as_present_and_a_made_up_one_as_missing() {
    teardown_lab::require_privileged();
    use teardown_core::scenario::Feature;
    for key in [
        "net.ipv4.neigh.eth0.base_reachable_time_ms",
        "net.ipv6.neigh.eth0.delay_first_probe_time",
        "net.ipv4.conf.eth0.arp_ignore",
        "net.ipv4.tcp_retries2",
    ] {
        let found = teardown_lab::doctor::probe_feature(&Feature::Sysctl(key.into()));
        assert!(found.is_ok(), "{key}: {found:?}");
    }
    let missing =
        teardown_lab::doctor::probe_feature(&Feature::Sysctl("net.ipv4.tcp_no_such_knob".into()));
    assert!(
        missing.as_ref().is_err_and(|e| e.contains("ENOENT")),
        "{missing:?}"
    );
}

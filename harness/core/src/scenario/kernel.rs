//! What a scenario asks of the kernel: the features it needs ([`Feature`],
//! `Scenario::needs`) and the expectations that hold only on some kernels
//! ([`KernelRange`], `Scenario::for_kernel`).
//!
//! Contract:
//! - A scenario's needs follow from its text alone: a netem `impair` step
//!   needs sch_netem, a `reject` step nftables' netdev reject, the `rto_max`
//!   option TCP_RTO_MAX_MS, every sysctl it writes that sysctl. The runner
//!   probes them once (as `teardown doctor` does) and reports a scenario
//!   whose need is missing as `skip`, with doctor's reason, without building
//!   its lab.
//! - An expectation with `kernel = { since = "6.5", change = "..." }` (or
//!   `before`, or both) holds only on kernels in that range, and says which
//!   upstream change makes the difference. Before a run the scenario is
//!   resolved for the running kernel: an expectation outside its range is
//!   left out, one inside carries the range in its name, so the report says
//!   which kernel's truth was checked. A check is never widened to cover two
//!   kernels; each kernel gets its own exact expectation.

use super::values::Family;
use std::fmt;

/// A kernel's `major.minor` (what a range compares; stable releases keep a
/// feature set within one minor version).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KernelVersion {
    pub major: u32,
    pub minor: u32,
}

impl KernelVersion {
    /// `6.5` as written in a scenario, or `uname -r` (`6.1.0-57-amd64`,
    /// `6.12.117+deb12-amd64`, `6.18.0`): the leading `major.minor`.
    pub fn parse(text: &str) -> Option<KernelVersion> {
        let mut parts = text.splitn(3, ['.', '-', '+']);
        let major = parts.next()?.parse().ok()?;
        let minor: String = parts
            .next()?
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        Some(KernelVersion {
            major,
            minor: minor.parse().ok()?,
        })
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The kernels an expectation holds on: `since` <= version < `before`
/// (either bound may be absent, not both), and the upstream change that
/// makes the difference (commit and title, as the scenario states it).
#[derive(Clone, Debug, PartialEq)]
pub struct KernelRange {
    pub since: Option<KernelVersion>,
    pub before: Option<KernelVersion>,
    /// Only for this family (a difference in one family's code, e.g. `tcp_v4_err`).
    pub family: Option<Family>,
    pub change: String,
}

impl KernelRange {
    pub fn contains(&self, v: KernelVersion, family: Family) -> bool {
        self.since.is_none_or(|s| v >= s)
            && self.before.is_none_or(|b| v < b)
            && self.family.is_none_or(|f| f == family)
    }

    /// `kernels 6.5 and later`, `kernels before 6.5, IPv4`, `kernels 6.5 up to 6.8 (not included)`.
    pub fn describe(&self) -> String {
        let versions = match (self.since, self.before) {
            (Some(s), None) => format!("kernels {s} and later"),
            (None, Some(b)) => format!("kernels before {b}"),
            (Some(s), Some(b)) => format!("kernels {s} up to {b} (not included)"),
            (None, None) => "every kernel".to_string(),
        };
        match self.family {
            Some(Family::V4) => format!("{versions}, IPv4"),
            Some(Family::V6) => format!("{versions}, IPv6"),
            None => versions,
        }
    }
}

/// What the model takes from the running kernel rather than from the
/// scenario: the defaults of knobs that exist only on some kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelFacts {
    /// net.ipv4.tcp_syn_linear_timeouts as the kernel has it (4 since 6.5;
    /// 0 on kernels without the sysctl, whose SYN backoff doubles from the
    /// first retransmission).
    pub syn_linear_timeouts: u32,
}

impl Default for KernelFacts {
    /// The newest kernels' defaults.
    fn default() -> Self {
        KernelFacts {
            syn_linear_timeouts: 4,
        }
    }
}

/// A kernel feature a scenario needs (`teardown doctor` probes each).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Feature {
    /// sch_netem: `impair` steps (delay, jitter, loss).
    Netem,
    /// nftables' netdev `reject` (NFT_REJECT_NETDEV): `reject` steps.
    NetdevReject,
    /// The TCP_RTO_MAX_MS socket option (6.15+): the `rto_max` option.
    RtoMaxOption,
    /// A sysctl the scenario writes (`net.ipv4.tcp_rto_max_ms`, 6.15+).
    Sysctl(String),
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Feature::Netem => f.write_str("sch_netem"),
            Feature::NetdevReject => f.write_str("nft netdev reject (NFT_REJECT_NETDEV)"),
            Feature::RtoMaxOption => f.write_str("the TCP_RTO_MAX_MS socket option (6.15+)"),
            Feature::Sysctl(k) => write!(f, "sysctl {k}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> KernelVersion {
        KernelVersion::parse(text).unwrap()
    }

    #[test]
    fn versions_come_from_uname_and_from_scenarios() {
        assert_eq!(v("6.1.0-57-amd64"), KernelVersion { major: 6, minor: 1 });
        assert_eq!(
            v("6.12.117+deb12-amd64"),
            KernelVersion {
                major: 6,
                minor: 12
            }
        );
        assert_eq!(
            v("6.18.0"),
            KernelVersion {
                major: 6,
                minor: 18
            }
        );
        assert_eq!(v("6.5"), KernelVersion { major: 6, minor: 5 });
        assert_eq!(
            v("5.15.0-91-generic"),
            KernelVersion {
                major: 5,
                minor: 15
            }
        );
        assert!(v("6.12") > v("6.5"), "numeric, not textual");
        for bad in ["", "6", "six.1", "6.", "6.x"] {
            assert_eq!(KernelVersion::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_range_holds_from_since_up_to_before() {
        let r = |since: Option<&str>, before: Option<&str>| KernelRange {
            since: since.map(v),
            before: before.map(v),
            family: None,
            change: "c".into(),
        };
        let on = |r: &KernelRange, k: &str| r.contains(v(k), Family::V4);
        let newer = r(Some("6.5"), None);
        assert!(!on(&newer, "6.1") && on(&newer, "6.5") && on(&newer, "6.18"));
        let older = r(None, Some("6.5"));
        assert!(on(&older, "6.1") && !on(&older, "6.5"));
        let between = r(Some("6.5"), Some("6.8"));
        assert!(!on(&between, "6.4") && on(&between, "6.7") && !on(&between, "6.8"));
        assert_eq!(older.describe(), "kernels before 6.5");
        assert_eq!(newer.describe(), "kernels 6.5 and later");
        let v4_only = KernelRange {
            family: Some(Family::V4),
            ..older
        };
        assert!(v4_only.contains(v("6.1"), Family::V4));
        assert!(!v4_only.contains(v("6.1"), Family::V6));
        assert_eq!(v4_only.describe(), "kernels before 6.5, IPv4");
    }
}

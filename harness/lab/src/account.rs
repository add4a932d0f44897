//! Who an endpoint runs as: a scenario's `user` resolved to an account, and
//! the drop to it in a fresh process.
//!
//! Contract: an endpoint runs as root only when its scenario says
//! `user = "root"`. Otherwise it runs as the account [`resolve`] names (the
//! user who invoked the harness through sudo, else `nobody`) with that
//! account's groups, no capabilities and `no_new_privs` (a setuid program it
//! runs gains nothing). The harness starts every endpoint as root, since
//! entering a namespace needs CAP_SYS_ADMIN, and the process drops to the
//! account itself ([`drop_to`]) after setns and before it runs anything of
//! the scenario's: the built-in endpoint before it opens its socket,
//! `ns-exec` before it execs the program.

use anyhow::{anyhow, Result};
use nix::unistd::{Gid, Uid, User};
use serde::{Deserialize, Serialize};
use std::ffi::CString;
use std::path::PathBuf;
use teardown_core::scenario::RunAs;

/// The account a process runs as.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (the account's, from the group database).
    pub groups: Vec<u32>,
    pub home: PathBuf,
}

/// The unprivileged account when no one invoked the harness through sudo.
const NOBODY: &str = "nobody";

impl Account {
    pub fn is_root(&self) -> bool {
        self.uid == 0
    }

    /// For the report and errors: `alice (uid 1000, gid 1000)`.
    pub fn describe(&self) -> String {
        format!("{} (uid {}, gid {})", self.name, self.uid, self.gid)
    }

    /// The account of a user name or a numeric uid.
    pub fn lookup(name_or_uid: &str) -> Result<Account, String> {
        let user = match name_or_uid.parse::<u32>() {
            Ok(uid) => User::from_uid(Uid::from_raw(uid)),
            Err(_) => User::from_name(name_or_uid),
        }
        .map_err(|e| format!("looking up user `{name_or_uid}`: {e}"))?
        .ok_or_else(|| format!("there is no user `{name_or_uid}` on this machine"))?;
        Ok(Account::of(user))
    }

    fn of(user: User) -> Account {
        let groups = CString::new(user.name.as_str())
            .ok()
            .and_then(|n| nix::unistd::getgrouplist(&n, user.gid).ok())
            .unwrap_or_else(|| vec![user.gid]);
        Account {
            name: user.name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            groups: groups.into_iter().map(Gid::as_raw).collect(),
            home: user.dir,
        }
    }
}

/// The account an endpoint runs as. The default: the user who invoked the
/// harness through sudo (SUDO_UID, with SUDO_GID as its group), so their own
/// programs and files are at hand; else `nobody`. An error says why the
/// account can't be used.
pub fn resolve(spec: &RunAs) -> Result<Account, String> {
    match spec {
        RunAs::Named { name, .. } => Account::lookup(name),
        RunAs::Invoker => invoker(),
    }
}

fn invoker() -> Result<Account, String> {
    let sudo_uid = std::env::var("SUDO_UID").ok().filter(|u| u != "0");
    let Some(uid) = sudo_uid else {
        return Account::lookup(NOBODY).map_err(|e| {
            format!("{e}: endpoints run as nobody when not started through sudo; give the endpoint a `user`")
        });
    };
    let mut account = Account::lookup(&uid).map_err(|e| format!("SUDO_UID={uid}: {e}"))?;
    if let Some(gid) = std::env::var("SUDO_GID")
        .ok()
        .and_then(|g| g.parse::<u32>().ok())
    {
        account.gid = gid;
        if !account.groups.contains(&gid) {
            account.groups.push(gid);
        }
    }
    Ok(account)
}

/// Drops the calling process to `account`, which must be its only thread:
/// groups, gid, uid, then `no_new_privs`; checks that no capability is left.
/// Sets HOME, USER and LOGNAME to the account's (for what it execs). A
/// no-op for root.
pub fn drop_to(account: &Account) -> Result<()> {
    if account.is_root() {
        return Ok(());
    }
    let groups: Vec<Gid> = account.groups.iter().map(|g| Gid::from_raw(*g)).collect();
    let step = |what: &str, r: nix::Result<()>| {
        r.map_err(|e| crate::sys::refused(format!("{what} for {}", account.describe()), e))
    };
    step("setgroups", nix::unistd::setgroups(&groups))?;
    step("setgid", nix::unistd::setgid(Gid::from_raw(account.gid)))?;
    // setuid from root to another uid clears the permitted, effective and
    // ambient capability sets (capabilities(7), "Effect of user ID changes").
    step("setuid", nix::unistd::setuid(Uid::from_raw(account.uid)))?;
    step(
        "prctl(PR_SET_NO_NEW_PRIVS)",
        nix::sys::prctl::set_no_new_privs(),
    )?;
    let left = effective_capabilities()?;
    if left != 0 {
        return Err(anyhow!(
            "still holding capabilities {left:#x} as {}",
            account.describe()
        ));
    }
    // The process is single-threaded here: nothing reads the environment meanwhile.
    std::env::set_var("HOME", &account.home);
    std::env::set_var("USER", &account.name);
    std::env::set_var("LOGNAME", &account.name);
    Ok(())
}

/// The effective capability set of the calling thread (CapEff in /proc).
pub fn effective_capabilities() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/thread-self/status")
        .map_err(|e| crate::sys::refused_io("reading /proc/thread-self/status", &e))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .ok_or_else(|| anyhow!("no CapEff in /proc/thread-self/status"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_nobody_resolve_by_name_and_by_uid() {
        let root = Account::lookup("root").unwrap();
        assert!(root.is_root());
        assert_eq!(Account::lookup("0").unwrap().name, "root");
        let nobody = Account::lookup("nobody").unwrap();
        assert!(!nobody.is_root());
        assert_eq!(
            nobody.describe(),
            format!("nobody (uid {}, gid {})", nobody.uid, nobody.gid)
        );
        let e = Account::lookup("td-no-such-user").unwrap_err();
        assert!(e.contains("there is no user `td-no-such-user`"), "{e}");
    }
}

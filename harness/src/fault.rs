//! Faults: cut / restore, link down / up, power off / on. (Crash, freeze and
//! restart are signals to endpoint processes: see the runner.)
//!
//! Contract: faults act in the wire, never on a host's own interface (drops
//! there are reported back to TCP and change its behaviour), except `link
//! down` in the direct topology, where the host's cable end is all there is.
//! - cut (switched): both bridge ports of the wire go to STP state
//!   `disabled`: the bridge forwards nothing either way, while both hosts keep
//!   link and carrier and the captures on the ports still see what each host
//!   sent into the cut.
//! - power off: the host's port is cut first, so not one packet escapes; then
//!   its processes are killed, its sockets destroyed and its namespace
//!   deleted. Power on: a fresh empty namespace with the same name, addresses
//!   and MAC, plugged back into the wire.

use crate::netns::NetNs;
use crate::rtnl::Rtnl;
use crate::topology::{link_index, set_link_up, set_port_forwarding, Host, Lab};
use anyhow::{anyhow, Result};
use std::sync::atomic::Ordering;

/// Cuts (`true`) or restores (`false`) the wire in both directions.
pub fn set_cut(lab: &Lab, cut: bool) -> Result<()> {
    if lab.wire.is_none() {
        return Err(anyhow!(
            "cut in the direct topology needs the cls_bpf drop filter, which this build lacks"
        ));
    }
    lab.set_wire_forwarding(!cut)?;
    lab.cut.store(cut, Ordering::SeqCst);
    Ok(())
}

/// Takes the host's wire port down (the host loses carrier) or up again.
pub fn set_link(lab: &Lab, host: Host, up: bool) -> Result<()> {
    let loc = lab.port(host);
    let ifname = loc.ifname;
    loc.ns.run(|| -> Result<()> {
        let mut rt = Rtnl::open()?;
        let idx = link_index(&mut rt, ifname)?;
        set_link_up(
            &mut rt,
            idx,
            up,
            &format!("setting {ifname} {}", if up { "up" } else { "down" }),
        )
    })?
}

/// Cuts only this host's port (switched) so nothing it sends escapes.
fn isolate(lab: &Lab, host: Host) -> Result<()> {
    let wire = lab
        .wire
        .as_ref()
        .ok_or_else(|| anyhow!("power off needs the switched topology"))?;
    wire.run(|| -> Result<()> {
        let mut rt = Rtnl::open()?;
        let idx = link_index(&mut rt, host.port())?;
        set_port_forwarding(&mut rt, idx, false, host.port())
    })?
}

/// The host's state vanishes without a packet leaving it.
pub fn power_off(lab: &Lab, host: Host) -> Result<()> {
    isolate(lab, host)?;
    let ns: &NetNs = lab.host(host);
    crate::cleanup::kill_all(ns);
    ns.run(crate::sockdiag::destroy_all_tcp)??;
    ns.delete()
}

/// The host comes back empty: same namespace name, addresses and MAC.
pub fn power_on(lab: &Lab, host: Host) -> Result<()> {
    let ns = lab.host(host);
    let fresh = NetNs::create(ns.name())?;
    debug_assert_eq!(fresh.path(), ns.path());
    lab.replug(host)?;
    if lab.cut.load(Ordering::SeqCst) {
        lab.set_wire_forwarding(false)?;
    }
    Ok(())
}

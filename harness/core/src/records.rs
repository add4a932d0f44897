//! The records a run gathers while a scenario runs, as plain data.
//!
//! Contract: [`Records`] holds what the capture, the sock_diag sampler and the
//! endpoints produced so far, in arrival order; its queries (e.g.
//! [`Records::round_after`]) are what the timeline's waits ask. The lab's
//! recorder owns one behind a lock and wakes its waiters on every push.

use crate::evidence::{Event, Packet, SockSample};

/// Whether a sample is of the scenario's connection as the runner and the
/// timing checks see it: not a listener, with either address on the server
/// port (`ip:port` or `[ip]:port`). (`expect`'s socket checks also match the
/// addresses against the hosts'.)
pub fn of_connection(s: &SockSample, server_port: u16) -> bool {
    s.state != "LISTEN" && (on_port(&s.local, server_port) || on_port(&s.remote, server_port))
}

/// Whether a sample's address (`ip:port`, `[ip]:port`) has this port.
pub fn on_port(addr: &str, port: u16) -> bool {
    addr.ends_with(&format!(":{port}"))
}

#[derive(Default, Debug)]
pub struct Records {
    pub packets: Vec<Packet>,
    pub events: Vec<Event>,
    pub sockets: Vec<SockSample>,
    /// ts_ns of the latest sock_diag round per host.
    pub rounds: Vec<(String, u64)>,
}

impl Records {
    /// The samples of `host`'s latest sock_diag round, if that round was taken
    /// after `after_ns`; `None` while there is no such round yet. A round that
    /// found no socket gives an empty iterator. Waits on socket states use it so
    /// that a round older than the wait (older than the step it follows) never
    /// answers it.
    pub fn round_after<'a>(
        &'a self,
        host: &'a str,
        after_ns: u64,
    ) -> Option<impl Iterator<Item = &'a SockSample> + 'a> {
        let last = self.rounds.iter().find(|(h, _)| h == host)?.1;
        (last > after_ns).then(|| {
            // Samples come in round order per host; the other host's rounds interleave.
            self.sockets
                .iter()
                .rev()
                .filter(move |s| s.host == host)
                .take_while(move |s| s.ts_ns >= last)
        })
    }

    /// Adds one sock_diag round of a host (possibly empty: the host has no socket).
    pub fn add_round(&mut self, host: &str, ts_ns: u64, samples: Vec<SockSample>) {
        self.sockets.extend(samples);
        match self.rounds.iter_mut().find(|(h, _)| h == host) {
            Some(entry) => entry.1 = ts_ns,
            None => self.rounds.push((host.to_string(), ts_ns)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ts_ns: u64, host: &str, state: &str) -> SockSample {
        SockSample {
            ts_ns,
            host: host.into(),
            state: state.into(),
            ..Default::default()
        }
    }

    fn states(r: &Records, host: &str, after_ns: u64) -> Option<Vec<String>> {
        r.round_after(host, after_ns)
            .map(|it| it.map(|s| s.state.clone()).collect())
    }

    #[test]
    fn the_connection_is_any_non_listener_on_the_server_port() {
        let mut s = sample(1, "client", "ESTABLISHED");
        s.local = "198.18.0.1:40000".into();
        s.remote = "198.18.0.2:8080".into();
        assert!(of_connection(&s, 8080));
        assert!(
            !of_connection(&s, 80),
            "a port ending in the same digits is another port"
        );
        assert!(!of_connection(&s, 0));
        s.remote = "[fd00:7d::2]:8080".into();
        assert!(of_connection(&s, 8080));
        s.state = "LISTEN".into();
        assert!(!of_connection(&s, 8080));
        assert!(!on_port("", 8080));
    }

    #[test]
    fn round_after_gives_only_a_round_newer_than_the_wait() {
        let mut r = Records::default();
        r.add_round("server", 100, vec![sample(100, "server", "ESTABLISHED")]);
        r.add_round("client", 105, vec![sample(105, "client", "FIN_WAIT1")]);
        {
            // The server's round at 100 is older than a wait that began at 100 or later.
            assert_eq!(states(&r, "server", 100), None);
            assert_eq!(
                states(&r, "server", 99),
                Some(vec!["ESTABLISHED".to_string()])
            );
            assert_eq!(states(&r, "nobody", 0), None);
        }
        // A later round showing the socket gone: empty, not the older state.
        r.add_round("server", 110, vec![]);
        r.add_round("client", 115, vec![sample(115, "client", "FIN_WAIT2")]);
        {
            assert_eq!(states(&r, "server", 100), Some(vec![]));
            assert_eq!(
                states(&r, "client", 100),
                Some(vec!["FIN_WAIT2".to_string()])
            );
        }
    }
}

//! The records a run gathers while a scenario runs, as plain data.
//!
//! Contract: [`Records`] holds what the capture, the sock_diag sampler and the
//! endpoints produced so far, in arrival order; its queries (e.g.
//! [`Records::round_after`]) are what the timeline's waits ask. The lab's
//! recorder owns one behind a lock and wakes its waiters on every push.

use crate::evidence::{Event, Packet, SockSample};
use crate::scenario::terms::Host;

#[derive(Default, Debug)]
pub struct Records {
    pub packets: Vec<Packet>,
    pub events: Vec<Event>,
    pub sockets: Vec<SockSample>,
    /// ts_ns of the latest sock_diag round per host.
    pub rounds: Vec<(Host, u64)>,
}

impl Records {
    /// The samples of `host`'s latest sock_diag round, if that round was taken
    /// after `after_ns`; `None` while there is no such round yet. A round that
    /// found no socket gives an empty iterator. Waits on socket states use it so
    /// that a round older than the wait (older than the step it follows) never
    /// answers it.
    pub fn round_after<'a>(
        &'a self,
        host: Host,
        after_ns: u64,
    ) -> Option<impl Iterator<Item = &'a SockSample> + 'a> {
        let last = self.rounds.iter().find(|(h, _)| *h == host)?.1;
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
    pub fn add_round(&mut self, host: Host, ts_ns: u64, samples: Vec<SockSample>) {
        self.sockets.extend(samples);
        match self.rounds.iter_mut().find(|(h, _)| *h == host) {
            Some(entry) => entry.1 = ts_ns,
            None => self.rounds.push((host, ts_ns)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::terms::TcpState;

    fn sample(ts_ns: u64, host: Host, state: TcpState) -> SockSample {
        let a = "198.18.0.1:40000".parse().unwrap();
        let b = "198.18.0.2:8080".parse().unwrap();
        SockSample::new(ts_ns, host, a, b, state)
    }

    fn states(r: &Records, host: Host, after_ns: u64) -> Option<Vec<TcpState>> {
        r.round_after(host, after_ns)
            .map(|it| it.map(|s| s.state).collect())
    }

    #[test]
    fn round_after_gives_only_a_round_newer_than_the_wait() {
        use Host::{Client, Server};
        let mut r = Records::default();
        r.add_round(
            Server,
            100,
            vec![sample(100, Server, TcpState::Established)],
        );
        r.add_round(Client, 105, vec![sample(105, Client, TcpState::FinWait1)]);
        {
            // The server's round at 100 is older than a wait that began at 100 or later.
            assert_eq!(states(&r, Server, 100), None);
            assert_eq!(states(&r, Server, 99), Some(vec![TcpState::Established]));
            assert_eq!(Records::default().round_after(Client, 0).map(|_| ()), None);
        }
        // A later round showing the socket gone: empty, not the older state.
        r.add_round(Server, 110, vec![]);
        r.add_round(Client, 115, vec![sample(115, Client, TcpState::FinWait2)]);
        {
            assert_eq!(states(&r, Server, 100), Some(vec![]));
            assert_eq!(states(&r, Client, 100), Some(vec![TcpState::FinWait2]));
        }
    }
}

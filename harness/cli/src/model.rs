//! `teardown model`: the timing model's predictions for the knobs given.

use std::io::Write;
use teardown_core::model;

/// `teardown model`.
#[derive(clap::Args, Debug)]
pub struct ModelArgs {
    /// net.ipv4.tcp_retries2
    #[arg(long, default_value_t = 15)]
    pub retries2: u32,
    /// The RTO measured before the fault (tcpi_rto), ms
    #[arg(long, default_value_t = 208)]
    pub rto_ms: u64,
    /// min(net.ipv4.tcp_rto_max_ms, TCP_RTO_MAX_MS), ms (1000..120000)
    #[arg(long, default_value_t = 120_000)]
    pub rto_max_ms: u64,
    /// TCP_USER_TIMEOUT, ms (0: unset)
    #[arg(long, default_value_t = 0)]
    pub user_timeout_ms: u64,
    /// Keepalive IDLE,INTVL,CNT in seconds (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT)
    #[arg(long, default_value = "7200,75,9", value_parser = model::parse_keepalive)]
    pub keepalive: (u64, u64, u32),
    /// net.ipv4.tcp_orphan_retries (0 means 8)
    #[arg(long, default_value_t = 0)]
    pub orphan_retries: u32,
    /// net.ipv4.tcp_fin_timeout, s
    #[arg(long, default_value_t = 60)]
    pub fin_timeout: u64,
    /// TCP_LINGER2, s (0: unset, negative: RST at close)
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub linger2: i32,
    /// net.ipv4.tcp_syn_retries
    #[arg(long, default_value_t = 6)]
    pub syn_retries: u32,
    /// net.ipv4.tcp_syn_linear_timeouts (0 on kernels before 6.5)
    #[arg(long, default_value_t = 4)]
    pub syn_linear_timeouts: u32,
    /// net.ipv4.tcp_synack_retries (or the listener's TCP_SYNCNT): a passive
    /// open whose SYN-ACK is never acknowledged
    #[arg(long, default_value_t = 5)]
    pub synack_retries: u32,
    /// Tail loss probe off. The kernel sends none when net.ipv4.tcp_early_retrans
    /// is not 3 or 4, SACK was not negotiated (--no-sack), nothing is in flight,
    /// or the connection is in loss recovery (congestion state not Open or CWR)
    #[arg(long)]
    pub no_tlp: bool,
    /// Smoothed RTT, ms (the TLP's 2*srtt; 0: negligible, as on a veth)
    #[arg(long, default_value_t = 0.0)]
    pub srtt_ms: f64,
    /// An RTT sample, ms: sets srtt and derives the RTO as srtt + max(4*rttvar,
    /// rto_min) with rttvar = rtt/2 (the kernel's first sample); overrides --rto-ms and --srtt-ms
    #[arg(long)]
    pub rtt_ms: Option<f64>,
    /// rto_min in force, ms (net.ipv4.tcp_rto_min_us, a route's rto_min)
    #[arg(long, default_value_t = 200)]
    pub rto_min_ms: u64,
    /// Segments in flight at the tail: 1 adds rto_min to the TLP's timeout, more add 2 ms
    #[arg(long, default_value_t = 1)]
    pub in_flight: u32,
    /// SACK not negotiated (no tail loss probe)
    #[arg(long)]
    pub no_sack: bool,
    /// Also predict zero-window probes (the persist timer, tcp_probe_timer): a sender
    /// whose peer's window is zero, with unsent data and nothing in flight; probes
    /// back off like RTOs (capped by --rto-max-ms) and the socket dies when
    /// --retries2 probes go unanswered, when --user-timeout-ms has passed since the
    /// first probe, or (--zero-window-orphan) by tcp_orphan_retries
    #[arg(long)]
    pub zero_window: bool,
    /// With --zero-window: the peer answers the probes (alive, window still zero):
    /// only TCP_USER_TIMEOUT or the orphan rules end it
    #[arg(long, requires = "zero_window")]
    pub zero_window_answered: bool,
    /// With --zero-window: the socket is orphaned (closed, its FIN queued behind the data)
    #[arg(long, requires = "zero_window")]
    pub zero_window_orphan: bool,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

impl ModelArgs {
    fn knobs(&self) -> model::Knobs {
        model::Knobs {
            retries2: self.retries2,
            rto_ms: self.rto_ms,
            rto_max_ms: self.rto_max_ms,
            user_timeout_ms: self.user_timeout_ms,
            keepalive: self.keepalive,
            orphan_retries: self.orphan_retries,
            fin_timeout: self.fin_timeout,
            linger2: self.linger2,
            syn_retries: self.syn_retries,
            syn_linear_timeouts: self.syn_linear_timeouts,
            synack_retries: self.synack_retries,
            no_tlp: self.no_tlp,
            srtt_ms: self.srtt_ms,
            rtt_ms: self.rtt_ms,
            rto_min_ms: self.rto_min_ms,
            in_flight: self.in_flight,
            no_sack: self.no_sack,
        }
    }
}

pub fn main(args: ModelArgs) -> anyhow::Result<i32> {
    let knobs = args.knobs();
    knobs.validate().map_err(teardown_core::bad_input)?;
    let p = model::predict(&knobs);
    let zw = args.zero_window.then(|| model::ZeroWindow {
        retries2: args.retries2,
        rto: p.knobs.rto,
        rto_max: p.knobs.rto_max,
        user_timeout: p.knobs.user_timeout,
        orphan: args.zero_window_orphan.then_some(args.orphan_retries),
        answered: Vec::new(),
        then_answered: args.zero_window_answered,
    });
    let text = if args.json {
        // Serializing the model's own prediction cannot fail but by a bug (exit 4).
        let mut v = serde_json::to_value(&p)?;
        if let (Some(k), Some(map)) = (&zw, v.as_object_mut()) {
            map.insert("zero_window_knobs".into(), serde_json::to_value(k)?);
            map.insert(
                "zero_window".into(),
                serde_json::to_value(model::zero_window(k))?,
            );
        }
        format!("{}\n", serde_json::to_string_pretty(&v)?)
    } else {
        let mut t = model::render(&p);
        if let Some(k) = &zw {
            t += "\n";
            t += &model::render_zero_window(k);
        }
        t
    };
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(crate::exit::stdout_error)?;
    Ok(0)
}

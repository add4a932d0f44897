//! The kernel's teardown timing model (KERNEL-FACTS.md), pure.

/// `teardown model`.
#[derive(clap::Args, Debug)]
pub struct ModelArgs {
    /// net.ipv4.tcp_retries2
    #[arg(long, default_value_t = 15)]
    pub retries2: u32,
}

pub fn model_main(_args: ModelArgs) -> anyhow::Result<i32> {
    Err(crate::unable("model is not written yet"))
}

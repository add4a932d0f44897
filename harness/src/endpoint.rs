//! (to be written)

#[derive(clap::Args, Debug)]
pub struct EndpointArgs {
    /// JSON endpoint configuration
    #[arg(long)]
    pub config: String,
}

pub fn endpoint_main(_args: EndpointArgs) -> anyhow::Result<i32> {
    Err(crate::unable("endpoint is not written yet"))
}

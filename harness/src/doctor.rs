//! (to be written)
pub fn doctor_main() -> anyhow::Result<i32> {
    Err(crate::unable("doctor is not written yet"))
}

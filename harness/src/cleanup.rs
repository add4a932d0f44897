//! (to be written)
pub fn clean_main() -> anyhow::Result<i32> {
    Err(crate::unable("clean is not written yet"))
}

//! Expectations: evaluates a scenario's `[[expect]]` entries on recorded evidence.

use crate::evidence::{Check, Evidence};
use crate::scenario::Scenario;

/// Every expectation of the scenario, in file order, each with its evidence.
pub fn evaluate(_scenario: &Scenario, _ev: &Evidence) -> Vec<Check> {
    todo!("expect::evaluate")
}

/// Only the packet expectations (`packets`, `any_of`, `silent`): what a capture alone can prove.
pub fn evaluate_packets(_scenario: &Scenario, _ev: &Evidence) -> Vec<Check> {
    todo!("expect::evaluate_packets")
}

//! A scenario resolved for a kernel: the features it needs and the
//! expectations that hold on that kernel (the types are in [`super::kernel`];
//! this module only reads a [`Scenario`], so `kernel` needs nothing of it).

use super::kernel::{Feature, KernelFacts, KernelVersion};
use super::{Action, Expect, Scenario};

impl Scenario {
    /// The kernel features this scenario needs, each once, in order.
    pub fn needs(&self) -> Vec<Feature> {
        let mut needs = Vec::new();
        for step in &self.steps {
            match step.action {
                Some(Action::Impair { .. }) => needs.push(Feature::Netem),
                Some(Action::Reject { .. }) => needs.push(Feature::NetdevReject),
                _ => {}
            }
        }
        if self.endpoints.values().any(|e| e.options.rto_max.is_some()) {
            needs.push(Feature::RtoMaxOption);
        }
        for map in self.sysctls.values() {
            needs.extend(map.keys().map(|k| Feature::Sysctl(k.clone())));
        }
        needs.sort();
        needs.dedup();
        needs
    }

    /// The scenario as it holds on kernel `v` with `facts`: expectations
    /// whose range leaves `v` (or this scenario's family) out are dropped;
    /// those with a range name it (`... [kernels before 6.5: <change>]`).
    pub fn for_kernel(&self, v: KernelVersion, facts: KernelFacts) -> Scenario {
        let mut sc = self.clone();
        sc.expects = self
            .expects
            .iter()
            .filter(|e| e.kernel.as_ref().is_none_or(|r| r.contains(v, self.ip)))
            .cloned()
            .collect();
        sc.kernel = facts;
        sc
    }

    /// Whether any expectation holds only on some kernels.
    pub fn kernel_dependent(&self) -> bool {
        self.expects.iter().any(|e| e.kernel.is_some())
    }
}

impl Expect {
    /// `kernels before 6.5: <change>` for an expectation with a range (a
    /// check's `kernel` field), `None` otherwise.
    pub fn kernel_note(&self) -> Option<String> {
        self.kernel
            .as_ref()
            .map(|r| format!("{}: {}", r.describe(), r.change))
    }

    /// ` [kernels before 6.5: <change>]` for an expectation with a range
    /// (the end of its check's name), empty otherwise.
    pub fn kernel_suffix(&self) -> String {
        self.kernel_note()
            .map_or(String::new(), |k| format!(" [{k}]"))
    }
}

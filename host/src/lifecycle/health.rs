//! When a module counts as unhealthy, and when it is still new enough to be rolled back
//! automatically.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthPolicy {
    /// A module faulting on more than this share of its events is unhealthy.
    pub max_fault_share: f64,
    /// No verdict before this many events.
    pub min_events: u64,
    /// Within this many events of being swapped in, an unhealthy module is rolled back.
    pub probation_events: u64,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy { max_fault_share: 0.05, min_events: 50, probation_events: 100_000 }
    }
}

impl HealthPolicy {
    pub fn validate(&self) -> Result<(), String> {
        if !(self.max_fault_share > 0.0 && self.max_fault_share <= 1.0) {
            return Err("module.health.max_fault_share must be above 0 and at most 1".into());
        }
        if self.min_events == 0 {
            return Err("module.health.min_events must be at least 1".into());
        }
        Ok(())
    }

    pub fn unhealthy(&self, events: u64, faults: u64) -> bool {
        events >= self.min_events && faults as f64 > self.max_fault_share * events as f64
    }

    pub fn on_probation(&self, events: u64) -> bool {
        events <= self.probation_events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let p = HealthPolicy::default();
        assert!(!p.unhealthy(10, 10), "too few events to judge");
        assert!(!p.unhealthy(1000, 50));
        assert!(p.unhealthy(1000, 51));
        assert!(p.on_probation(100_000) && !p.on_probation(100_001));
        assert!(HealthPolicy { max_fault_share: 0.0, ..p.clone() }.validate().is_err());
    }
}

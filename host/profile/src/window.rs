//! A state field's window: the latest events of a field like `status`, so the profile knows
//! its value and since when it holds.

use super::key::Key;
use serde::{Deserialize, Serialize};

/// The latest events of a state field, ordered by key: the newest is the value, and the run
/// of equal values at the end says since when it holds. Top-k of a union is order-free.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StateWindow {
    pub events: Vec<(Key, String)>,
}

impl StateWindow {
    pub(crate) fn merge(&mut self, at: Key, value: &str, cap: usize) {
        match self.events.binary_search_by(|(k, _)| k.cmp(&at)) {
            Ok(i) => {
                if self.events[i].1.as_str() < value {
                    self.events[i].1 = value.to_owned();
                }
            }
            Err(i) => {
                if self.events.len() >= cap && i == 0 {
                    return; // older than everything kept
                }
                self.events.insert(i, (at, value.to_owned()));
                if self.events.len() > cap {
                    self.events.drain(..self.events.len() - cap);
                }
            }
        }
    }

    /// The current value and the key of the first event of its final run.
    pub fn current(&self) -> Option<(&str, Key)> {
        let (_, value) = self.events.last()?;
        let since = self
            .events
            .iter()
            .rev()
            .take_while(|(_, v)| v == value)
            .last()
            .map(|(k, _)| *k)?;
        Some((value, since))
    }
}

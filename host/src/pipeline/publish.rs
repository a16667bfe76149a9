//! Where a batch's changed profiles go the moment they are merged: to every host's live view,
//! with the samples of the events merged into each (what the windowed metrics count). With
//! Kafka that is the changelog topic (each host reads all of it; the samples ride in a record
//! header); in one process without Kafka it is this host's view and window counts directly.

use crate::changelog::publisher::{encode, ChangelogPublisher, PublishError};
use crate::live::{Live, ProfileRecord};
use crate::profile::ProfileState;
use crate::windows::sample::Sample;
use crate::windows::Local;
use std::sync::Arc;

pub enum Publisher {
    InProcess { live: Arc<Live>, windows: Option<Arc<Local>> },
    Changelog { changelog: Arc<ChangelogPublisher>, live: Arc<Live> },
}

impl Publisher {
    /// Publishes `states` (rendered once each) and, beside each, `samples[i]` (when given);
    /// Ok once every host can see them.
    pub async fn publish(&self, states: &[ProfileState], samples: &[Vec<Sample>]) -> Result<(), PublishError> {
        if states.is_empty() {
            return Ok(());
        }
        match self {
            Publisher::InProcess { live, windows } => {
                live.apply_states(states);
                if let Some(w) = windows {
                    w.take_batch(states.iter().map(|s| s.viewer_id.as_str()).zip(samples));
                }
                Ok(())
            }
            Publisher::Changelog { changelog, live } => {
                let ctx = live.render_context();
                let batch = changelog.next_batch();
                let records: Vec<_> = states
                    .iter()
                    .enumerate()
                    .map(|(i, s)| encode(&ProfileRecord::of(s, &ctx), samples.get(i).map(Vec::as_slice), batch))
                    .collect();
                changelog.publish(&records).await
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Publisher::InProcess { .. } => "this host's view".into(),
            Publisher::Changelog { changelog, .. } => format!("topic {}", changelog.topic()),
        }
    }
}

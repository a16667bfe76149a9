//! Where a batch's changed profiles go the moment they are merged: to every host's live view.
//! With Kafka that is the changelog topic (each host reads all of it); in one process without
//! Kafka it is this host's view directly.

use crate::changelog::publisher::{encode, ChangelogPublisher, PublishError};
use crate::live::{Live, ProfileRecord};
use crate::profile::ProfileState;
use std::sync::Arc;

pub enum Publisher {
    InProcess(Arc<Live>),
    Changelog { changelog: Arc<ChangelogPublisher>, live: Arc<Live> },
}

impl Publisher {
    /// Publishes `states` (rendered once each); Ok once every host can see them.
    pub async fn publish(&self, states: &[ProfileState]) -> Result<(), PublishError> {
        if states.is_empty() {
            return Ok(());
        }
        match self {
            Publisher::InProcess(live) => {
                live.apply_states(states);
                Ok(())
            }
            Publisher::Changelog { changelog, live } => {
                let ctx = live.render_context();
                let records: Vec<(String, Vec<u8>)> = states.iter().map(|s| encode(&ProfileRecord::of(s, &ctx))).collect();
                changelog.publish(&records).await
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Publisher::InProcess(_) => "this host's view".into(),
            Publisher::Changelog { changelog, .. } => format!("topic {}", changelog.topic()),
        }
    }
}

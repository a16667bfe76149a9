//! Where a batch's changed profiles go the moment they are merged: to every host's live view,
//! with the samples of the events merged into each (what the windowed metrics count). With
//! Kafka that is the changelog topic (each host reads all of it; the samples ride in a record
//! header); in one process without Kafka it is this host's view and window counts directly.

use crate::changelog::publisher::{ChangelogPublisher, PublishError};
use crate::live::{Live, ProfileRecord};
use crate::changelog::publisher::Outgoing;
use crate::profile::{ProfileState, RenderContext};
use crate::windows::sample::Sample;
use crate::windows::Local;
use std::sync::Arc;

/// A changed profile, rendered once: its record and the record's JSON.
pub struct Rendered {
    pub record: ProfileRecord,
    pub json: Arc<str>,
}

impl Rendered {
    pub fn of(state: &ProfileState, ctx: &RenderContext) -> Rendered {
        let record = ProfileRecord::of(state, ctx);
        let json: Arc<str> = Arc::from(serde_json::to_string(&record).expect("profiles serialize"));
        Rendered { record, json }
    }
}

pub enum Publisher {
    InProcess { live: Arc<Live>, windows: Option<Arc<Local>> },
    Changelog { changelog: Arc<ChangelogPublisher>, live: Arc<Live> },
}

impl Publisher {
    /// The context profiles are rendered in.
    pub fn render_context(&self) -> RenderContext {
        match self {
            Publisher::InProcess { live, .. } | Publisher::Changelog { live, .. } => live.render_context(),
        }
    }

    /// Publishes rendered profiles and, beside each, `samples[i]` (when given: the samples of
    /// the events just merged into it); Ok once every host can see them.
    pub async fn publish(&self, rendered: &[Rendered], samples: &[Vec<Sample>]) -> Result<(), PublishError> {
        if rendered.is_empty() {
            return Ok(());
        }
        match self {
            Publisher::InProcess { live, windows } => {
                for r in rendered {
                    live.apply(&r.record, r.json.clone());
                }
                if let Some(w) = windows {
                    w.take_batch(rendered.iter().map(|r| r.record.profile.viewer_id.as_str()).zip(samples));
                }
                Ok(())
            }
            Publisher::Changelog { changelog, .. } => {
                let batch = changelog.next_batch();
                let records: Vec<Outgoing<'_>> = rendered
                    .iter()
                    .enumerate()
                    .map(|(i, r)| Outgoing::new(&r.record.profile.viewer_id, r.json.as_bytes(), samples.get(i).map(Vec::as_slice), batch))
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

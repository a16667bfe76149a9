//! Where a batch's changed profiles go the moment they are merged: to every host's live view.
//! With Kafka that is the changelog topic (each host reads all of it); in one process without
//! Kafka it is this host's view directly.

use crate::changelog::publisher::{ChangelogPublisher, PublishError};
use crate::live::{Live, ProfileRecord};
use crate::profile::{ProfileState, RenderContext};
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
    InProcess(Arc<Live>),
    Changelog { changelog: Arc<ChangelogPublisher>, live: Arc<Live> },
}

impl Publisher {
    /// The context profiles are rendered in.
    pub fn render_context(&self) -> RenderContext {
        match self {
            Publisher::InProcess(live) | Publisher::Changelog { live, .. } => live.render_context(),
        }
    }

    /// Publishes rendered profiles; Ok once every host can see them.
    pub async fn publish(&self, rendered: &[Rendered]) -> Result<(), PublishError> {
        if rendered.is_empty() {
            return Ok(());
        }
        match self {
            Publisher::InProcess(live) => {
                for r in rendered {
                    live.apply(&r.record, r.json.clone());
                }
                Ok(())
            }
            Publisher::Changelog { changelog, .. } => {
                let records: Vec<(&str, &[u8])> = rendered.iter().map(|r| (r.record.profile.viewer_id.as_str(), r.json.as_bytes())).collect();
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

//! Where a batch's changed profiles go the moment they are merged: to every host's live view,
//! with the samples of the events merged into each (what the windowed metrics count). With
//! Kafka that is the changelog topic (each host reads all of it; the samples ride in a record
//! header); in one process without Kafka it is this host's view and window counts directly.
//!
//! A batch's records are handed to the producer in its turn, so in merge order, and their
//! acknowledgements awaited after it: waiting in the turn made the broker's round trip part of
//! every batch's merge, one batch at a time, and it bounded the whole pipeline's rate. A batch
//! is still accepted (and so committed) only once the broker has its profiles.

use crate::changelog::publisher::{ChangelogPublisher, PublishError, Sent};
use crate::live::{Live, Viewer};
use crate::changelog::publisher::Outgoing;
use crate::profile::{ProfileState, RenderContext};
use crate::windows::sample::Sample;
use crate::windows::Local;
use super::{retry, Pipeline, PipelineError};
use std::sync::Arc;

/// A changed profile, rendered once: its JSON (what the changelog carries) and the live
/// view's entry for it (none before its first event), sharing that text.
pub struct Rendered {
    pub viewer_id: String,
    pub json: Arc<str>,
    pub viewer: Option<Arc<Viewer>>,
}

impl Rendered {
    pub fn of(state: &ProfileState, ctx: &RenderContext) -> Rendered {
        let (json, viewer) = Viewer::from_state(state, ctx);
        Rendered { viewer_id: state.viewer_id.clone(), json, viewer: viewer.map(Arc::new) }
    }
}

/// A batch's changed profiles on their way to every host: sent in the batch's turn (so in
/// merge order), acknowledged after it.
pub struct Publication {
    pub changed: Vec<Rendered>,
    pub samples: Vec<Vec<Sample>>,
    pub sending: Result<Sending, PublishError>,
}

impl Pipeline {
    /// Waits until every host can see a batch's profiles; what the broker did not take is sent
    /// again, for as long as it takes (a copy sent twice is harmless: the revision tells).
    pub(super) async fn acknowledged(&self, p: Publication) -> Result<(), PipelineError> {
        let failed = match p.sending {
            Ok(sending) => sending.acknowledged().await.err(),
            Err(e) => Some(e),
        };
        if let Some(e) = failed {
            tracing::warn!(error = %e, profiles = p.changed.len(), "changelog publish failed; sending again");
            retry::forever_publish(self, || self.publisher.publish(&p.changed, &p.samples)).await?;
        }
        self.metrics.inc("liveviewer_profiles_published_total", &[], p.changed.len() as u64);
        Ok(())
    }
}

/// A publication under way: the broker's acknowledgements still to come (none in one process).
pub struct Sending(Option<Sent>);

impl Sending {
    pub async fn acknowledged(self) -> Result<(), PublishError> {
        match self.0 {
            Some(sent) => sent.acknowledged().await,
            None => Ok(()),
        }
    }
}

pub enum Publisher {
    InProcess { live: Arc<Live>, windows: Option<Arc<Local>> },
    Changelog { changelog: Arc<ChangelogPublisher>, live: Arc<Live> },
}

impl Publisher {
    /// The context profiles are rendered in.
    pub fn render_context(&self) -> RenderContext {
        self.live().render_context()
    }

    /// This host's view: where its own profiles go first, however they go on.
    fn live(&self) -> &Live {
        match self {
            Publisher::InProcess { live, .. } | Publisher::Changelog { live, .. } => live,
        }
    }

    /// Publishes rendered profiles and, beside each, `samples[i]` (when given: the samples of
    /// the events just merged into it); Ok once every host can see them.
    pub async fn publish(&self, rendered: &[Rendered], samples: &[Vec<Sample>]) -> Result<(), PublishError> {
        self.send(rendered, samples)?.acknowledged().await
    }

    /// Starts [`Publisher::publish`] without waiting for the broker: in this host's view at
    /// once, on the changelog once [`Sending::acknowledged`] says so.
    pub fn send(&self, rendered: &[Rendered], samples: &[Vec<Sample>]) -> Result<Sending, PublishError> {
        if rendered.is_empty() {
            return Ok(Sending(None));
        }
        // This host's view takes its own profiles now, as they are sent. With the changelog,
        // its reader skips them (the origin header) instead of parsing every profile this host
        // publishes back; another host's newer copy still wins by its revision.
        for viewer in rendered.iter().filter_map(|r| r.viewer.clone()) {
            self.live().apply_viewer(viewer);
        }
        match self {
            Publisher::InProcess { windows, .. } => {
                if let Some(w) = windows {
                    w.take_batch(rendered.iter().map(|r| r.viewer_id.as_str()).zip(samples));
                }
                Ok(Sending(None))
            }
            Publisher::Changelog { changelog, live } => {
                let batch = changelog.next_batch();
                let records: Vec<Outgoing<'_>> = rendered
                    .iter()
                    .enumerate()
                    .map(|(i, r)| Outgoing::new(&r.viewer_id, r.json.as_bytes(), samples.get(i).map(Vec::as_slice), batch, live.origin()))
                    .collect();
                Ok(Sending(Some(changelog.send(&records)?)))
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

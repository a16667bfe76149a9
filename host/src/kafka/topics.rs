//! The topics the host writes besides its source: created at start when missing, with the
//! settings their use needs (compaction for the changelog and the fleet's registry). Where the
//! host may not create topics, the error names the topic and what it needs, for an operator
//! to create it.

use super::{client_config, KafkaContext};
use crate::config::KafkaConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use std::time::Duration;

/// Largest record of the modules topic: a module (up to the size limit) with its envelope.
pub const MODULES_MAX_MESSAGE_BYTES: usize = 8 << 20;

/// How long the changelog keeps every copy before compaction may drop the older ones.
pub const CHANGELOG_MIN_COMPACTION_LAG_MS: i64 = 15 * 60_000;

/// A topic the host needs, and how to make it.
#[derive(Debug, Clone)]
pub struct TopicSpec {
    pub name: String,
    /// None: as many partitions as the source topic.
    pub partitions: Option<i32>,
    pub configs: Vec<(&'static str, String)>,
}

pub fn specs(cfg: &KafkaConfig) -> Vec<TopicSpec> {
    vec![
        TopicSpec { name: cfg.dead_letter_topic(), partitions: Some(1), configs: vec![] },
        TopicSpec {
            name: cfg.changelog_topic.clone(),
            partitions: None,
            configs: vec![
                ("cleanup.policy", "compact".into()),
                // Segments roll every ten minutes, so that compaction keeps the topic near one
                // record per viewer instead of waiting for a gigabyte of history.
                ("segment.ms", "600000".into()),
                ("min.cleanable.dirty.ratio", "0.1".into()),
                // Every copy stays for 15 minutes: the samples they carry are what a host
                // taking over the windowed counts of a partition replays (docs/metrics.md).
                ("min.compaction.lag.ms", CHANGELOG_MIN_COMPACTION_LAG_MS.to_string()),
            ],
        },
        TopicSpec {
            name: cfg.metrics_topic.clone(),
            partitions: Some(1),
            configs: vec![
                // The latest record per key, and none older than a day and an hour.
                ("cleanup.policy", "compact,delete".into()),
                ("retention.ms", (26 * 3_600_000).to_string()),
                ("segment.ms", "3600000".into()),
                ("max.message.bytes", (4 << 20).to_string()),
            ],
        },
        TopicSpec {
            name: cfg.modules_topic.clone(),
            partitions: Some(1),
            configs: vec![("cleanup.policy", "compact".into()), ("max.message.bytes", MODULES_MAX_MESSAGE_BYTES.to_string())],
        },
    ]
}

/// Creates whichever of `specs` is missing.
pub async fn ensure(cfg: &KafkaConfig, specs: &[TopicSpec]) -> anyhow::Result<()> {
    let c = cfg.clone();
    let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    // What exists, and how many partitions the source has.
    let (existing, source_partitions) = tokio::task::spawn_blocking(move || -> anyhow::Result<(Vec<String>, i32)> {
        let consumer: BaseConsumer<KafkaContext> = client_config(&c, "liveviewer-topics").create_with_context(KafkaContext::new(&c)?)?;
        super::prime_token(consumer.client(), &c)?;
        let md = consumer.fetch_metadata(None, Duration::from_secs(10))?;
        let existing = md.topics().iter().filter(|t| t.error().is_none()).map(|t| t.name().to_owned()).collect();
        let source = md.topics().iter().find(|t| t.name() == c.topic).map_or(1, |t| t.partitions().len().max(1) as i32);
        Ok((existing, source))
    })
    .await??;
    let missing: Vec<&TopicSpec> = specs.iter().filter(|s| !existing.contains(&s.name)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let admin: AdminClient<KafkaContext> = client_config(cfg, "liveviewer-admin").create_with_context(KafkaContext::new(cfg)?)?;
    super::prime_token(admin.inner(), cfg)?;
    let new: Vec<NewTopic<'_>> = missing
        .iter()
        .map(|s| {
            let mut t = NewTopic::new(&s.name, s.partitions.unwrap_or(source_partitions), TopicReplication::Fixed(-1));
            for (k, v) in &s.configs {
                t = t.set(k, v);
            }
            t
        })
        .collect();
    let results = admin.create_topics(new.iter(), &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)))).await?;
    for r in results {
        match r {
            Ok(name) => tracing::info!(topic = %name, "created topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                let spec = missing.iter().find(|s| s.name == name);
                let settings = spec.map(|s| s.configs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")).unwrap_or_default();
                anyhow::bail!("topic {name} does not exist and the host cannot create it ({code}): create it with {settings}");
            }
        }
    }
    tracing::debug!(topics = ?names, "topics ready");
    Ok(())
}

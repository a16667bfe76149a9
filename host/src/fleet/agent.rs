//! This host's part in the fleet: reading the control topic (from its start, then on), making
//! the local module lifecycle follow the desired state, turning a local automatic rollback into
//! a fleet one, and publishing this host's status every few seconds.

use super::records::{self, Action, Desired, HostStatus, ModuleState, Record};
use super::{Fleet, FleetState};
use crate::config::KafkaConfig;
use crate::kafka::{client_config, KafkaContext};
use crate::lifecycle::candidate::{Deployer, Mode};
use crate::lifecycle::Lifecycle;
use crate::live::wall_ms;
use liveviewer_wire::time::format_millis;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Module versions kept in memory besides the ones the desired state names.
const SPARE_MODULES: usize = 8;

/// How often a host says how it is.
pub const STATUS_EVERY: Duration = Duration::from_secs(3);

fn consumer_config(cfg: &KafkaConfig) -> rdkafka::ClientConfig {
    let mut c = client_config(cfg, "liveviewer-fleet");
    c.set("group.id", format!("liveviewer-fleet-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.max.bytes", (64 << 20).to_string())
        .set("max.partition.fetch.bytes", (16 << 20).to_string());
    for (k, v) in &cfg.properties {
        c.set(k, v);
    }
    c
}

/// Applies one record to the state this host keeps; returns the desired state when the
/// record changed it.
fn absorb(state: &mut FleetState, key: &str, value: Option<&[u8]>) -> Option<Desired> {
    match records::parse(key, value) {
        Record::Module { version, bytes } => {
            state.modules.insert(version.to_owned(), bytes.to_vec());
            prune(state);
            None
        }
        Record::Desired(d) => {
            if state.desired.as_ref().is_some_and(|held| held.generation > d.generation) {
                return None;
            }
            state.desired = Some(d.clone());
            prune(state);
            Some(d)
        }
        Record::Host(h) => {
            state.hosts.insert(h.host_id.clone(), h);
            None
        }
        Record::HostGone(id) => {
            state.hosts.remove(id);
            None
        }
        Record::Other => None,
    }
}

/// Keeps the modules the desired state names and a few others.
fn prune(state: &mut FleetState) {
    if state.modules.len() <= SPARE_MODULES + 3 {
        return;
    }
    let named: Vec<String> = state.desired.iter().flat_map(|d| [Some(d.active.clone()), d.previous.clone(), d.shadow.clone()]).flatten().collect();
    let spare: Vec<String> = state.modules.keys().filter(|k| !named.contains(k)).cloned().collect();
    for k in spare.into_iter().skip(SPARE_MODULES) {
        state.modules.remove(&k);
    }
}

/// Reads the control topic from its start to its end: what a starting host needs before it
/// picks its module. Returns the state and the offset to follow from.
pub fn snapshot(cfg: &KafkaConfig, timeout: Duration) -> anyhow::Result<(FleetState, i64)> {
    let consumer: BaseConsumer<KafkaContext> = consumer_config(cfg).create_with_context(KafkaContext::new(cfg)?)?;
    crate::kafka::prime_token(consumer.client(), cfg)?;
    let topic = &cfg.modules_topic;
    let (low, high) = consumer.fetch_watermarks(topic, 0, Duration::from_secs(10))?;
    let mut state = FleetState::default();
    if high <= low {
        return Ok((state, high));
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)?;
    consumer.assign(&tpl)?;
    let start = Instant::now();
    let mut next = low;
    while next < high {
        anyhow::ensure!(start.elapsed() < timeout, "reading {topic}: at offset {next} of {high} after {timeout:?}");
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                next = m.offset() + 1;
                if let Some(key) = m.key().and_then(|k| std::str::from_utf8(k).ok()) {
                    absorb(&mut state, key, m.payload());
                }
            }
            Some(Err(e)) => tracing::debug!(error = %e, "reading the fleet topic"),
            None => {}
        }
    }
    Ok((state, high))
}

/// Follows the control topic from `from`, applying each new desired state.
pub async fn follow(cfg: KafkaConfig, fleet: Arc<Fleet>, deployer: Arc<Deployer>, applied: Arc<AtomicU64>, from: i64) {
    let consumer: StreamConsumer<KafkaContext> = loop {
        let made = KafkaContext::new(&cfg).and_then(|ctx| {
            let c = consumer_config(&cfg).create_with_context::<_, StreamConsumer<KafkaContext>>(ctx)?;
            crate::kafka::prime_token(c.client(), &cfg)?;
            Ok(c)
        });
        match made {
            Ok(c) => {
                let mut tpl = TopicPartitionList::new();
                if tpl.add_partition_offset(&cfg.modules_topic, 0, Offset::Offset(from)).is_ok() && c.assign(&tpl).is_ok() {
                    break c;
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the fleet topic yet"),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    // What was desired before this host followed: applied once, now.
    let initial = fleet.state.lock().expect("fleet").desired.clone();
    if let Some(d) = initial {
        converge(&fleet, &deployer, &d).await;
        applied.store(d.generation, Ordering::Relaxed);
    }
    loop {
        match consumer.recv().await {
            Ok(m) => {
                let Some(key) = m.key().and_then(|k| std::str::from_utf8(k).ok()) else { continue };
                let changed = absorb(&mut fleet.state.lock().expect("fleet"), key, m.payload());
                if let Some(d) = changed {
                    if d.generation > applied.load(Ordering::Relaxed) {
                        converge(&fleet, &deployer, &d).await;
                        applied.store(d.generation, Ordering::Relaxed);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "fleet topic");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Makes this host's lifecycle match `desired`: a module it already holds (previous, shadow)
/// is swapped in at once; another goes through the full gate first. A refusal leaves the
/// active module running and is reported in this host's status.
pub async fn converge(fleet: &Fleet, deployer: &Deployer, desired: &Desired) {
    let lifecycle = &deployer.lifecycle;
    let bytes_of = |v: &str| fleet.state.lock().expect("fleet").modules.get(v).cloned();
    // The shadow first: a promotion below may take it.
    let shadow_now = lifecycle.shadow().map(|s| s.deployed.module.version().0.clone());
    if shadow_now != desired.shadow && desired.active != shadow_now.clone().unwrap_or_default() {
        match &desired.shadow {
            None => {
                lifecycle.set_shadow(None);
            }
            Some(v) => match bytes_of(v) {
                Some(bytes) => {
                    let _ = deployer.submit(bytes, "fleet", Mode::Shadow).await;
                }
                None => tracing::warn!(version = %v, "the fleet's shadow module is not in the fleet topic"),
            },
        }
    }
    let active = lifecycle.active().module.version().0.clone();
    if active == desired.active {
        return;
    }
    let previous = lifecycle.previous().map(|p| p.module.version().0.clone());
    if previous.as_deref() == Some(desired.active.as_str()) {
        lifecycle.rollback(if desired.action == Action::AutoRollback { "fleet-unhealthy" } else { "fleet" });
    } else if lifecycle.shadow().is_some_and(|s| s.deployed.module.version().0 == desired.active) {
        lifecycle.promote();
    } else {
        match bytes_of(&desired.active) {
            Some(bytes) => {
                if let Err(refusal) = deployer.submit(bytes, "fleet", Mode::Active).await {
                    tracing::warn!(version = %desired.active, step = %refusal.step, reason = %refusal.reason, "this host refuses the fleet's module");
                }
            }
            None => tracing::warn!(version = %desired.active, "the fleet's module is not in the fleet topic"),
        }
    }
    tracing::info!(generation = desired.generation, action = ?desired.action, by = %desired.by, "followed the fleet's module change");
}

/// What the rest of the host knows about itself, for its status.
pub struct Runtime {
    pub listen: String,
    pub partitions: Vec<i32>,
    pub events_per_s: f64,
    pub lag: Option<i64>,
}

/// Publishes this host's status every few seconds, and a local automatic rollback as the
/// fleet's; on `stop`, leaves the fleet (a tombstone).
pub async fn report(
    fleet: Arc<Fleet>,
    lifecycle: Arc<Lifecycle>,
    applied: Arc<AtomicU64>,
    runtime: impl Fn() -> Runtime + Send + 'static,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let started_at = format_millis(wall_ms());
    let mut rollbacks = lifecycle.auto_rollbacks();
    let mut tick = tokio::time::interval(STATUS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = rollbacks.changed() => {
                if changed.is_ok() {
                    let rolled = rollbacks.borrow_and_update().clone();
                    if let Some((bad, good)) = rolled {
                        let reason = Some(format!("module {bad} unhealthy on {}", fleet.host_id));
                        let published = fleet
                            .change(Action::AutoRollback, reason, |d| {
                                if d.active != bad {
                                    return Err("the fleet has already moved on".into());
                                }
                                d.previous = Some(bad.clone());
                                d.active = good.clone();
                                Ok(())
                            }, &bad)
                            .await;
                        match published {
                            Ok(d) => tracing::warn!(generation = d.generation, "rolled the fleet back from an unhealthy module"),
                            Err(e) => tracing::info!(error = %e, "the fleet did not take this host's rollback"),
                        }
                    }
                }
            }
            // The guard `wait_for` returns is not Send: dropped inside, before any await here.
            _ = async { stop.wait_for(|s| *s).await.map(|_| ()) } => break,
        }
        let rt = runtime();
        let active = lifecycle.active();
        let now = wall_ms();
        let status = HostStatus {
            host_id: fleet.host_id.clone(),
            listen: rt.listen,
            started_at: started_at.clone(),
            updated_at: format_millis(now),
            updated_ms: now,
            module: ModuleState {
                active: active.module.version().0.clone(),
                previous: lifecycle.previous().map(|p| p.module.version().0.clone()),
                shadow: lifecycle.shadow().map(|s| s.deployed.module.version().0.clone()),
                healthy: !active.unhealthy.load(Ordering::Relaxed),
                refused: lifecycle.last_refused(),
            },
            generation: applied.load(Ordering::Relaxed),
            partitions: rt.partitions,
            events_per_s: rt.events_per_s,
            lag: rt.lag,
        };
        if let Err(e) = fleet.publish_status(&status).await {
            tracing::debug!(error = %e, "publishing this host's status");
        }
        fleet.state.lock().expect("fleet").hosts.insert(status.host_id.clone(), status);
    }
    if let Err(e) = fleet.leave().await {
        tracing::debug!(error = %e, "leaving the fleet");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(generation: u64, active: &str) -> Desired {
        Desired { generation, active: active.into(), previous: None, shadow: None, action: Action::Push, by: "h".into(), at: "t".into(), reason: None }
    }

    #[test]
    fn an_older_generation_never_replaces_a_newer_one_and_modules_are_bounded() {
        let mut s = FleetState::default();
        let d5 = serde_json::to_vec(&desired(5, "v5")).unwrap();
        let d4 = serde_json::to_vec(&desired(4, "v4")).unwrap();
        assert!(absorb(&mut s, records::DESIRED, Some(&d5)).is_some());
        assert!(absorb(&mut s, records::DESIRED, Some(&d4)).is_none());
        assert_eq!(s.desired.as_ref().unwrap().active, "v5");
        for i in 0..30 {
            absorb(&mut s, &records::module_key(&format!("m{i}")), Some(b"\0asm"));
        }
        absorb(&mut s, &records::module_key("v5"), Some(b"\0asm"));
        assert!(s.modules.len() <= SPARE_MODULES + 3);
        assert!(s.modules.contains_key("v5"), "the desired module is kept");
    }
}

//! DynamoDB: the shared state when several hosts consume one topic. Profiles are one item per
//! viewer (`viewer_id`), written with a condition on the revision read; the status history is
//! a second table keyed by viewer and event time, with a TTL where the server supports it.

use super::{CommitOutcome, HistoryRow, Scan, StoreError, Stored, Write};
use crate::config::DynamoConfig;
use crate::profile::ProfileState;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, KeysAndAttributes, PutRequest,
    ScalarAttributeType, TableStatus, TimeToLiveSpecification, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use futures::stream::{self, StreamExt, TryStreamExt};
use liveviewer_wire::time::format_millis;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub struct DynamoStore {
    client: Client,
    config: DynamoConfig,
}

/// Sorts an SDK error into what the pipeline does about it.
fn classify<E, R>(e: &SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = e.code().unwrap_or("");
    let text = match e.message() {
        Some(m) => format!("{code}: {m}"),
        None => aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string().chars().take(300).collect(),
    };
    match code {
        "ResourceNotFoundException" | "UnrecognizedClientException" | "AccessDeniedException"
        | "InvalidSignatureException" | "MissingAuthenticationTokenException" => StoreError::Fatal(text),
        _ => StoreError::Transient(text),
    }
}

impl DynamoStore {
    /// Connects, and creates the tables when missing and `create_tables` is on.
    pub async fn connect(config: &DynamoConfig) -> Result<Self, StoreError> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = &config.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        let sdk = loader.load().await;
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(2))
            .operation_attempt_timeout(Duration::from_secs(5))
            .operation_timeout(Duration::from_secs(15))
            .build();
        let mut builder = aws_sdk_dynamodb::config::Builder::from(&sdk).timeout_config(timeouts);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        let store = DynamoStore { client: Client::from_conf(builder.build()), config: config.clone() };
        store.ensure_tables().await?;
        Ok(store)
    }

    async fn ensure_tables(&self) -> Result<(), StoreError> {
        let c = &self.config;
        self.ensure_table(&c.profiles_table, None).await?;
        let created = self.ensure_table(&c.history_table, Some("at")).await?;
        if created {
            let ttl = TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("expires_at")
                .build()
                .expect("complete TTL spec");
            if let Err(e) =
                self.client.update_time_to_live().table_name(&c.history_table).time_to_live_specification(ttl).send().await
            {
                tracing::info!(table = %c.history_table, error = %classify(&e), "TTL not enabled: this server does not support it");
            }
        }
        Ok(())
    }

    /// Returns whether the table had to be created.
    async fn ensure_table(&self, name: &str, sort_key: Option<&str>) -> Result<bool, StoreError> {
        match self.client.describe_table().table_name(name).send().await {
            Ok(_) => return Ok(false),
            Err(e) if e.code() == Some("ResourceNotFoundException") && self.config.create_tables => {}
            Err(e) if e.code() == Some("ResourceNotFoundException") => {
                return Err(StoreError::Fatal(format!("table {name} does not exist and store.dynamodb.create_tables is off")));
            }
            Err(e) => {
                return Err(match classify(&e) {
                    StoreError::Transient(t) => StoreError::Fatal(format!("cannot reach DynamoDB: {t}")),
                    fatal => fatal,
                })
            }
        }
        let attr = |n: &str| {
            AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build().expect("complete")
        };
        let key = |n: &str, t| KeySchemaElement::builder().attribute_name(n).key_type(t).build().expect("complete");
        let mut req = self
            .client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("viewer_id"))
            .key_schema(key("viewer_id", KeyType::Hash));
        if let Some(sk) = sort_key {
            req = req.attribute_definitions(attr(sk)).key_schema(key(sk, KeyType::Range));
        }
        match req.send().await {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceInUseException") => {} // another host created it
            Err(e) => return Err(StoreError::Fatal(format!("creating table {name}: {}", classify(&e)))),
        }
        for _ in 0..120 {
            let desc = self.client.describe_table().table_name(name).send().await.map_err(|e| classify(&e))?;
            if desc.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                tracing::info!(table = name, "created table");
                return Ok(true);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(StoreError::Fatal(format!("table {name} did not become active")))
    }

    pub async fn ping(&self) -> bool {
        self.client.describe_table().table_name(&self.config.profiles_table).send().await.is_ok()
    }

    pub async fn load(&self, viewers: &[String]) -> Result<HashMap<String, Stored>, StoreError> {
        let mut out = HashMap::with_capacity(viewers.len());
        for chunk in viewers.chunks(100) {
            let mut keys: Vec<HashMap<String, AttributeValue>> = chunk
                .iter()
                .map(|v| HashMap::from([("viewer_id".to_string(), AttributeValue::S(v.clone()))]))
                .collect();
            let mut attempt = 0;
            while !keys.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .projection_expression("viewer_id, #s, rev")
                    .expression_attribute_names("#s", "state")
                    .build()
                    .expect("complete keys");
                let resp = self
                    .client
                    .batch_get_item()
                    .request_items(&self.config.profiles_table, request)
                    .send()
                    .await
                    .map_err(|e| classify(&e))?;
                for item in resp.responses().and_then(|r| r.get(&self.config.profiles_table)).into_iter().flatten() {
                    let stored = decode_item(item)?;
                    out.insert(stored.state.viewer_id.clone(), stored);
                }
                keys = resp
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.config.profiles_table))
                    .map(|k| k.keys().to_vec())
                    .unwrap_or_default();
                if !keys.is_empty() {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 << attempt.min(6))).await;
                }
            }
        }
        Ok(out)
    }

    pub async fn commit(&self, writes: Arc<Vec<Write>>, history: Arc<Vec<HistoryRow>>) -> Result<CommitOutcome, StoreError> {
        // History first: a row is idempotent, and writing it before the profile means a crash
        // between the two leaves nothing the replay would not rewrite.
        self.put_history(history).await?;
        let results: Vec<(String, Result<(), StoreError>, bool)> = stream::iter(0..writes.len())
            .map(|i| {
                let writes = writes.clone();
                async move {
                    let w = &writes[i];
                    let viewer = w.state.viewer_id.clone();
                    match self.put_profile(w).await {
                        Ok(()) => (viewer, Ok(()), false),
                        Err(PutError::Conflict) => (viewer, Ok(()), true),
                        Err(PutError::Refused(reason)) => (viewer, Err(StoreError::Fatal(reason)), false),
                        Err(PutError::Store(e)) => (viewer, Err(e), false),
                    }
                }
            })
            .buffer_unordered(self.config.write_concurrency)
            .collect()
            .await;
        let mut outcome = CommitOutcome::default();
        for (viewer, result, conflict) in results {
            match result {
                Ok(()) if conflict => outcome.conflicts.push(viewer),
                Ok(()) => {}
                Err(StoreError::Fatal(reason)) => outcome.refused.push((viewer, reason)),
                // Some writes landed, some did not: the caller retries the batch, and the ones
                // that landed come back as conflicts, are reloaded and merge to the same state.
                Err(transient) => return Err(transient),
            }
        }
        Ok(outcome)
    }

    async fn put_profile(&self, w: &Write) -> Result<(), PutError> {
        let s = &w.state;
        let mut req = self
            .client
            .put_item()
            .table_name(&self.config.profiles_table)
            .item("viewer_id", AttributeValue::S(s.viewer_id.clone()))
            .item("state", AttributeValue::B(Blob::new(s.encode())))
            .item("rev", AttributeValue::N((w.expected_rev + 1).to_string()))
            .item("last_seen", AttributeValue::N(s.last_seen.unwrap_or(0).to_string()));
        if let Some((status, _)) = s.states.get("status").and_then(|w| w.current()) {
            req = req.item("status", AttributeValue::S(status.to_owned()));
        }
        req = if w.expected_rev == 0 {
            req.condition_expression("attribute_not_exists(viewer_id)")
        } else {
            req.condition_expression("rev = :r").expression_attribute_values(":r", AttributeValue::N(w.expected_rev.to_string()))
        };
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Err(PutError::Conflict),
            // Over 400 KB, or otherwise invalid: retrying will not help.
            Err(e) if e.code() == Some("ValidationException") => Err(PutError::Refused(classify(&e).to_string())),
            Err(e) => Err(PutError::Store(classify(&e))),
        }
    }

    async fn put_history(&self, rows: Arc<Vec<HistoryRow>>) -> Result<(), StoreError> {
        let ttl_s = i64::from(self.config.history_ttl_days) * 86_400;
        let now_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let requests: Vec<WriteRequest> = rows
            .iter()
            .map(|r| {
                let mut item = HashMap::from([
                    ("viewer_id".to_string(), AttributeValue::S(r.viewer_id.clone())),
                    ("at".to_string(), AttributeValue::S(history_sort_key(r.ts, r.event_hash))),
                    ("row".to_string(), AttributeValue::S(serde_json::to_string(r).expect("rows serialize"))),
                    ("status".to_string(), AttributeValue::S(r.status.clone())),
                ]);
                if ttl_s > 0 {
                    item.insert("expires_at".into(), AttributeValue::N((now_s + ttl_s).to_string()));
                }
                WriteRequest::builder().put_request(PutRequest::builder().set_item(Some(item)).build().expect("item")).build()
            })
            .collect();
        stream::iter(requests.chunks(25).map(|c| c.to_vec()).collect::<Vec<_>>())
            .map(|chunk| self.batch_write(chunk))
            .buffer_unordered(4)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn batch_write(&self, mut items: Vec<WriteRequest>) -> Result<(), StoreError> {
        let mut attempt = 0;
        while !items.is_empty() {
            let resp = self
                .client
                .batch_write_item()
                .request_items(&self.config.history_table, items)
                .send()
                .await
                .map_err(|e| classify(&e))?;
            items = resp
                .unprocessed_items()
                .and_then(|u| u.get(&self.config.history_table))
                .cloned()
                .unwrap_or_default();
            if !items.is_empty() {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(20 << attempt.min(6))).await;
            }
        }
        Ok(())
    }

    pub async fn scan(&self, scan: Scan) -> Result<Vec<ProfileState>, StoreError> {
        let mut req = self
            .client
            .scan()
            .table_name(&self.config.profiles_table)
            .projection_expression("viewer_id, #s, rev")
            .expression_attribute_names("#s", "state")
            .consistent_read(true);
        if let Scan::SeenSince(t) = scan {
            req = req
                .filter_expression("last_seen >= :t")
                .expression_attribute_values(":t", AttributeValue::N(t.to_string()));
        }
        let items: Vec<HashMap<String, AttributeValue>> =
            req.into_paginator().items().send().try_collect().await.map_err(|e| classify(&e))?;
        items.iter().map(|i| decode_item(i).map(|s| s.state)).collect()
    }

    pub async fn history(&self, viewer: &str) -> Result<Vec<HistoryRow>, StoreError> {
        let items: Vec<HashMap<String, AttributeValue>> = self
            .client
            .query()
            .table_name(&self.config.history_table)
            .key_condition_expression("viewer_id = :v")
            .expression_attribute_values(":v", AttributeValue::S(viewer.to_owned()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(&e))?;
        items
            .iter()
            .map(|i| match i.get("row") {
                Some(AttributeValue::S(s)) => {
                    serde_json::from_str(s).map_err(|e| StoreError::Fatal(format!("history row: {e}")))
                }
                _ => Err(StoreError::Fatal("history row without its data".into())),
            })
            .collect()
    }
}

enum PutError {
    Conflict,
    Refused(String),
    Store(StoreError),
}

/// Sorts by time: `2026-11-21T21:30:00.123Z#<event hash>`.
fn history_sort_key(ts: i64, event_hash: u64) -> String {
    format!("{}#{event_hash:016x}", format_millis(ts))
}

fn decode_item(item: &HashMap<String, AttributeValue>) -> Result<Stored, StoreError> {
    let state = match item.get("state") {
        Some(AttributeValue::B(b)) => ProfileState::decode(b.as_ref()).map_err(StoreError::Fatal)?,
        _ => return Err(StoreError::Fatal("profile item without its state".into())),
    };
    let rev = match item.get("rev") {
        Some(AttributeValue::N(n)) => n.parse().map_err(|_| StoreError::Fatal(format!("profile rev {n:?}")))?,
        _ => return Err(StoreError::Fatal("profile item without its rev".into())),
    };
    Ok(Stored { state, rev })
}

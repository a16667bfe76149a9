//! DynamoDB: the shared state when several hosts consume one topic. Profiles are one item per
//! viewer (`viewer_id`), written with a condition on the revision read, with readable
//! attributes beside the state (status, media label, last seen, module version, revision) and
//! a TTL for viewers long gone; the status history is a second table keyed by viewer and event
//! time, with a TTL too. Every read on a running host is a key lookup: the one full read,
//! [`DynamoStore::export`], belongs to the `profiles` export command.
//!
//! Here: reads, conditional writes and their outcomes; `tables`: the tables checked and
//! created at start; `item`: how a profile and a history row look as items.

use super::write_limit::WriteLimit;
use super::{CommitOutcome, HistoryCursor, HistoryRow, Loaded, StoreError, Write};
use crate::config::DynamoConfig;
use crate::profile::ProfileState;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
use futures::stream::{self, StreamExt, TryStreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

mod item;
mod tables;
use item::{decode_item, history_sort_key, item_size, summary_attributes, MAX_ITEM_BYTES};

pub struct DynamoStore {
    client: Client,
    config: DynamoConfig,
    /// Profile and history writes in flight, adapted to what the store serves.
    writes: WriteLimit,
}

/// DynamoDB's ways of saying "slow down".
fn is_throttle(code: Option<&str>) -> bool {
    matches!(code, Some("ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded"))
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
        let writes = WriteLimit::new(config.write_concurrency);
        let store = DynamoStore { client: Client::from_conf(builder.build()), config: config.clone(), writes };
        store.ensure_tables().await?;
        Ok(store)
    }

    pub async fn ping(&self) -> bool {
        self.client.describe_table().table_name(&self.config.profiles_table).send().await.is_ok()
    }

    pub async fn load(&self, viewers: &[String]) -> Result<Loaded, StoreError> {
        let mut out = Loaded::default();
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
                    let viewer = match item.get("viewer_id") {
                        Some(AttributeValue::S(v)) => v.clone(),
                        _ => continue,
                    };
                    match decode_item(item) {
                        Ok(stored) => {
                            out.found.insert(viewer, stored);
                        }
                        Err(reason) => out.unreadable.push((viewer, reason)),
                    }
                }
                keys = resp
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.config.profiles_table))
                    .map(|k| k.keys().to_vec())
                    .unwrap_or_default();
                if !keys.is_empty() {
                    attempt += 1;
                    if attempt > UNPROCESSED_ATTEMPTS {
                        // The caller's retry loop waits (and honours shutdown) from here.
                        return Err(StoreError::Transient(format!("{} keys still unprocessed (throttled)", keys.len())));
                    }
                    tokio::time::sleep(Duration::from_millis(20 << attempt.min(6))).await;
                }
            }
        }
        Ok(out)
    }

    /// Writes each profile on its own condition. A throttled or failed item does not fail
    /// the others: it comes back in [`CommitOutcome::retry`] and only it is written again.
    pub async fn commit(&self, writes: Arc<Vec<Write>>, history: Arc<Vec<HistoryRow>>) -> Result<CommitOutcome, StoreError> {
        // History first: a row is idempotent, and writing it before the profile means a crash
        // between the two leaves nothing the replay would not rewrite.
        self.put_history(history).await?;
        let results: Vec<(String, Result<(), PutError>)> = stream::iter(0..writes.len())
            .map(|i| {
                let writes = writes.clone();
                async move {
                    let w = &writes[i];
                    (w.viewer_id.clone(), self.put_profile(w).await)
                }
            })
            .buffer_unordered(self.config.write_concurrency)
            .collect()
            .await;
        let mut outcome = CommitOutcome::default();
        for (viewer, result) in results {
            match result {
                Ok(()) => {}
                Err(PutError::Conflict) => outcome.conflicts.push(viewer),
                Err(PutError::Refused(reason)) => outcome.refused.push((viewer, reason)),
                Err(PutError::Store(StoreError::Transient(reason))) => outcome.retry.push((viewer, reason)),
                Err(PutError::Store(other)) => return Err(other),
            }
        }
        Ok(outcome)
    }

    async fn put_profile(&self, w: &Write) -> Result<(), PutError> {
        let mut item = summary_attributes(&w.summary, self.config.profile_ttl_days);
        item.insert("viewer_id".into(), AttributeValue::S(w.viewer_id.clone()));
        item.insert("state".into(), AttributeValue::B(Blob::new(w.state.clone())));
        item.insert("rev".into(), AttributeValue::N((w.expected_rev + 1).to_string()));
        let size = item_size(&item);
        if size > MAX_ITEM_BYTES {
            return Err(PutError::Refused(format!("the item would be {size} bytes; DynamoDB's limit is {MAX_ITEM_BYTES}")));
        }
        let mut req = self.client.put_item().table_name(&self.config.profiles_table).set_item(Some(item));
        req = if w.expected_rev == 0 {
            req.condition_expression("attribute_not_exists(viewer_id)")
        } else {
            req.condition_expression("rev = :r").expression_attribute_values(":r", AttributeValue::N(w.expected_rev.to_string()))
        };
        let permit = self.writes.acquire().await;
        let result = req.send().await;
        permit.done(result.as_ref().err().is_some_and(|e| is_throttle(e.code())));
        match result {
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
            if attempt > UNPROCESSED_ATTEMPTS {
                // The caller's retry loop waits (and honours shutdown) from here.
                return Err(StoreError::Transient(format!("{} history rows still unprocessed (throttled)", items.len())));
            }
            let permit = self.writes.acquire().await;
            let result = self.client.batch_write_item().request_items(&self.config.history_table, items).send().await;
            let unprocessed = result.as_ref().is_ok_and(|r| r.unprocessed_items().is_some_and(|u| u.values().any(|v| !v.is_empty())));
            // A batch's round trip is not comparable with a single write's: it only counts
            // when the store pushed back.
            if unprocessed || result.as_ref().err().is_some_and(|e| is_throttle(e.code())) {
                permit.done(true);
            } else {
                drop(permit);
            }
            items = result
                .map_err(|e| classify(&e))?
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

    /// Every profile: a full, paginated scan. For the `profiles` export command only.
    pub async fn export(&self) -> Result<Vec<ProfileState>, StoreError> {
        let items: Vec<HashMap<String, AttributeValue>> = self
            .client
            .scan()
            .table_name(&self.config.profiles_table)
            .projection_expression("viewer_id, #s, rev")
            .expression_attribute_names("#s", "state")
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(&e))?;
        let mut out = Vec::with_capacity(items.len());
        for item in &items {
            match decode_item(item) {
                Ok(s) => out.push(s.state),
                Err(reason) => tracing::warn!(item = ?item.get("viewer_id"), %reason, "unreadable profile left out of the export"),
            }
        }
        Ok(out)
    }

    /// Deletes a viewer's profile item (the operator's repair of an unreadable one).
    pub async fn delete(&self, viewer: &str) -> Result<bool, StoreError> {
        let resp = self
            .client
            .delete_item()
            .table_name(&self.config.profiles_table)
            .key("viewer_id", AttributeValue::S(viewer.to_owned()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(resp.attributes().is_some_and(|a| !a.is_empty()))
    }

    /// A viewer's history rows older than `before`, newest first, at most `limit`: one Query
    /// on the viewer's key, backwards from the cursor.
    pub async fn history(&self, viewer: &str, before: Option<HistoryCursor>, limit: usize) -> Result<Vec<HistoryRow>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.config.history_table)
            .key_condition_expression("viewer_id = :v")
            .expression_attribute_values(":v", AttributeValue::S(viewer.to_owned()))
            .scan_index_forward(false)
            .limit(limit.min(1000) as i32)
            .consistent_read(true);
        if let Some(c) = before {
            query = query
                .exclusive_start_key("viewer_id", AttributeValue::S(viewer.to_owned()))
                .exclusive_start_key("at", AttributeValue::S(history_sort_key(c.ts, c.event_hash)));
        }
        let items = query.send().await.map_err(|e| classify(&e))?.items.unwrap_or_default();
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

/// Rounds of unprocessed items waited for inside one call before the caller's retry takes over.
const UNPROCESSED_ATTEMPTS: u32 = 5;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::ProfileState;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// A DynamoDB endpoint that throttles every write of one viewer: what moto and dynalite
    /// cannot be made to do. It answers the table checks and counts each viewer's PutItems.
    async fn throttling_endpoint(throttled: &'static str) -> (String, Arc<Mutex<HashMap<String, usize>>>, Arc<AtomicUsize>) {
        use axum::http::{HeaderMap, StatusCode};
        let puts: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let requests = Arc::new(AtomicUsize::new(0));
        let (p, r) = (puts.clone(), requests.clone());
        let app = axum::Router::new().route(
            "/",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let (puts, requests) = (p.clone(), r.clone());
                async move {
                    requests.fetch_add(1, Ordering::Relaxed);
                    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
                    let op = target.rsplit('.').next().unwrap_or("");
                    let json = |status, body: &str| (status, [("content-type", "application/x-amz-json-1.0")], body.to_owned());
                    match op {
                        "DescribeTable" => json(StatusCode::OK, r#"{"Table":{"TableName":"t","TableStatus":"ACTIVE"}}"#),
                        "BatchWriteItem" => json(StatusCode::OK, r#"{"UnprocessedItems":{}}"#),
                        "PutItem" => {
                            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                            let viewer = v["Item"]["viewer_id"]["S"].as_str().unwrap_or("").to_owned();
                            *puts.lock().unwrap().entry(viewer.clone()).or_insert(0) += 1;
                            if viewer == throttled {
                                json(
                                    StatusCode::BAD_REQUEST,
                                    r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#,
                                )
                            } else {
                                json(StatusCode::OK, "{}")
                            }
                        }
                        _ => json(StatusCode::BAD_REQUEST, r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"not here"}"#),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}"), puts, requests)
    }

    fn write(viewer: &str) -> Write {
        let mut s = ProfileState::new(viewer);
        s.last_seen = Some(1_763_000_000_000);
        Write::new(&s, 0)
    }

    #[tokio::test]
    async fn a_throttled_item_is_retried_alone_and_an_oversized_one_is_never_sent() {
        // SAFETY of the environment: dummy credentials for a local endpoint, set before any
        // thread of this test reads them.
        for (k, v) in [("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"), ("AWS_EC2_METADATA_DISABLED", "true")] {
            unsafe { std::env::set_var(k, v) };
        }
        let (endpoint, puts, _) = throttling_endpoint("b").await;
        let config = DynamoConfig { region: Some("us-east-1".into()), endpoint: Some(endpoint), create_tables: false, ..DynamoConfig::default() };
        let store = DynamoStore::connect(&config).await.unwrap();
        let mut huge = write("huge");
        huge.state = vec![0; MAX_ITEM_BYTES];
        let writes = Arc::new(vec![write("a"), write("b"), write("c"), huge]);
        let outcome = store.commit(writes, Arc::new(Vec::new())).await.unwrap();
        assert_eq!(outcome.retry.iter().map(|(v, _)| v.as_str()).collect::<Vec<_>>(), ["b"], "only the throttled one is to write again");
        assert_eq!(outcome.refused.iter().map(|(v, _)| v.as_str()).collect::<Vec<_>>(), ["huge"]);
        assert!(outcome.refused[0].1.contains("limit"), "{}", outcome.refused[0].1);
        let puts = puts.lock().unwrap().clone();
        assert_eq!((puts.get("a"), puts.get("c")), (Some(&1), Some(&1)), "the others written once: {puts:?}");
        assert_eq!(puts.get("huge"), None, "an item over 400 KB never reaches DynamoDB");
    }
}

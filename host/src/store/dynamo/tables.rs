//! The tables: checked at start, created when missing and `create_tables` is on (on demand
//! billing, TTL on `expires_at` where the server supports it).

use super::{classify, DynamoStore};
use crate::store::StoreError;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use std::time::Duration;

impl DynamoStore {
    pub(super) async fn ensure_tables(&self) -> Result<(), StoreError> {
        let c = &self.config;
        for (table, sort_key) in [(&c.profiles_table, None), (&c.history_table, Some("at"))] {
            if self.ensure_table(table, sort_key).await? {
                let ttl = TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name("expires_at")
                    .build()
                    .expect("complete TTL spec");
                if let Err(e) = self.client.update_time_to_live().table_name(table).time_to_live_specification(ttl).send().await {
                    tracing::info!(%table, error = %classify(&e), "TTL not enabled: this server does not support it");
                }
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
}

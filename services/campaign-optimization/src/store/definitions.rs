//! Each campaign's definition on `campaigns.definitions` (compacted), through
//! the outbox in the transaction that changed it: how engagement learns
//! what a campaign targets, sends and may spend without reading this
//! service's tables.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgConnection;
use suite_bus::CloudEvent;
use suite_domain::{CampaignDefinitionV1, CampaignId, VariantDefinition, WorkspaceId};
use uuid::Uuid;

use crate::error::Error;
use crate::events::SOURCE;

#[derive(sqlx::FromRow)]
struct Row {
    workspace_id: Uuid,
    version: i32,
    status: String,
    target_categories: Vec<String>,
    ladder: serde_json::Value,
    daily_budget_micros: i64,
    channel_costs: Json<std::collections::BTreeMap<String, i64>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    variants: Json<Vec<VariantDefinition>>,
}

fn corrupt(what: &str) -> Error {
    Error::Db(sqlx::Error::Decode(
        format!("stored campaign has an invalid {what}").into(),
    ))
}

/// Enqueues campaign `id`'s current definition on `topic`, in the caller's
/// transaction (after its change, so the event shows it). Nothing happens
/// for an unknown id.
pub async fn publish(conn: &mut PgConnection, topic: &str, id: Uuid) -> Result<(), Error> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT c.workspace_id, c.version, c.status, c.target_categories, c.ladder, \
           c.daily_budget_micros, c.channel_costs, c.created_at, c.updated_at, \
           coalesce((SELECT jsonb_agg(jsonb_build_object('variant_id', v.id, 'position', v.position, \
                       'content', v.content) ORDER BY v.position) \
                     FROM campaign_variants v WHERE v.campaign_id = c.id), '[]'::jsonb) AS variants \
         FROM campaigns c WHERE c.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(()) };
    let definition = CampaignDefinitionV1 {
        campaign_id: CampaignId::from_uuid(id),
        workspace_id: WorkspaceId::from_uuid(row.workspace_id),
        version: row.version,
        status: row.status.parse().map_err(|_| corrupt("status"))?,
        target_categories: row
            .target_categories
            .iter()
            .map(|c| suite_domain::Category::parse(c).map_err(|_| corrupt("category")))
            .collect::<Result<_, _>>()?,
        ladder: row.ladder,
        daily_budget_micros: row.daily_budget_micros,
        channel_costs: row.channel_costs.0,
        variants: row.variants.0,
        created_at: row.created_at,
        updated_at: row.updated_at,
    };
    let data = serde_json::to_value(&definition)
        .map_err(|e| Error::Bus(suite_bus::CloudEventError::from(e).into()))?;
    let event = CloudEvent::new(
        CampaignDefinitionV1::CE_TYPE,
        SOURCE,
        Some(definition.key()),
        data,
    );
    let key = definition.key();
    suite_bus::outbox::enqueue(conn, topic, Some(key.as_bytes()), &event).await?;
    Ok(())
}

//! Send reservations: a send is reserved under its unique key (lead,
//! campaign, step, channel) and committed before the provider is called.

use sqlx::PgPool;
use uuid::Uuid;

use crate::error::Result;
use crate::store::steps::ClaimedStep;

/// The outcome of [`reserve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserved {
    /// A new reservation: the provider may be called.
    Fresh(Uuid),
    /// The key was reserved before, with this id and status.
    Existing {
        /// The earlier reservation.
        id: Uuid,
        /// Its status: `reserved` (outcome unknown), `sent`, `failed` or `indeterminate`.
        status: String,
    },
}

/// The reservation key of a step, also the provider's idempotency key.
pub fn key(step: &ClaimedStep) -> String {
    format!(
        "{}:{}:{}:{}",
        step.lead_id, step.campaign_id, step.step_index, step.channel
    )
}

/// Reserves the send of every step of `steps` (with its
/// provider's name) with one statement, reading the earlier reservations of
/// the keys already taken with a second one (only when there are any).
/// Returns one [`Reserved`] per step, in order.
pub async fn reserve_many(pool: &PgPool, steps: &[(&ClaimedStep, &str)]) -> Result<Vec<Reserved>> {
    if steps.is_empty() {
        return Ok(Vec::new());
    }
    let n = steps.len();
    let (mut ids, mut workspaces, mut leads, mut campaigns, mut variants) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut indexes, mut channels, mut step_ids, mut providers) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (step, provider) in steps {
        ids.push(Uuid::now_v7());
        workspaces.push(step.workspace_id);
        leads.push(step.lead_id);
        campaigns.push(step.campaign_id);
        variants.push(step.variant_id);
        indexes.push(step.step_index as i32);
        channels.push(step.channel.as_str());
        step_ids.push(step.id);
        providers.push(*provider);
    }
    let inserted: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO send_reservations (id, workspace_id, lead_id, campaign_id, variant_id, step_index, \
         channel, step_id, provider) \
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::int[], \
            $7::text[], $8::uuid[], $9::text[]) \
         ON CONFLICT (lead_id, campaign_id, step_index, channel) DO NOTHING RETURNING id",
    )
    .bind(&ids)
    .bind(&workspaces)
    .bind(&leads)
    .bind(&campaigns)
    .bind(&variants)
    .bind(&indexes)
    .bind(&channels)
    .bind(&step_ids)
    .bind(&providers)
    .fetch_all(pool)
    .await?;
    let fresh: std::collections::HashSet<Uuid> = inserted.into_iter().collect();
    let taken: Vec<usize> = (0..n).filter(|&i| !fresh.contains(&ids[i])).collect();
    let mut earlier = std::collections::HashMap::new();
    if !taken.is_empty() {
        let pick = |v: &[Uuid]| taken.iter().map(|&i| v[i]).collect::<Vec<_>>();
        let rows: Vec<(Uuid, Uuid, i32, String, Uuid, String)> = sqlx::query_as(
            "SELECT r.lead_id, r.campaign_id, r.step_index, r.channel, r.id, r.status \
             FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[]) AS k(lead, campaign, idx, channel) \
             JOIN send_reservations r ON r.lead_id = k.lead AND r.campaign_id = k.campaign \
               AND r.step_index = k.idx AND r.channel = k.channel",
        )
        .bind(pick(&leads))
        .bind(pick(&campaigns))
        .bind(taken.iter().map(|&i| indexes[i]).collect::<Vec<_>>())
        .bind(taken.iter().map(|&i| channels[i]).collect::<Vec<_>>())
        .fetch_all(pool)
        .await?;
        for (lead, campaign, index, channel, id, status) in rows {
            earlier.insert((lead, campaign, index, channel), (id, status));
        }
    }
    (0..n)
        .map(|i| {
            if fresh.contains(&ids[i]) {
                return Ok(Reserved::Fresh(ids[i]));
            }
            let wanted = (leads[i], campaigns[i], indexes[i], channels[i].to_owned());
            let (id, status) = earlier.get(&wanted).cloned().ok_or_else(|| {
                crate::error::Error::Corrupt(format!(
                    "send reservation {} neither inserted nor found",
                    key(steps[i].0)
                ))
            })?;
            Ok(Reserved::Existing { id, status })
        })
        .collect()
}

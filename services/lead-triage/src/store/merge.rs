//! How a posted lead becomes a stored record, and how a repeat merges into it.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::view::LeadView;
use crate::lead::{LeadFields, NewLead};

/// A new lead record (its triage is filled in by scoring).
pub fn new_record(new: &NewLead, correlation_id: Option<String>, now: DateTime<Utc>) -> LeadView {
    let id = Uuid::now_v7();
    let lead = &new.fields;
    LeadView {
        id,
        email: new.email.match_key(),
        external_id: lead.external_id.clone(),
        name: lead.name.clone(),
        phone: lead.phone.as_ref().map(|p| p.as_str().to_owned()),
        company: lead.company.clone(),
        title: lead.title.clone(),
        company_size: lead.company_size,
        industry: lead.industry.clone(),
        country: lead.country.clone(),
        timezone: lead.timezone.clone(),
        source: lead.source.clone(),
        utm: Json(serde_json::to_value(&lead.utm).unwrap_or_default()),
        consent: Json(serde_json::to_value(&lead.consent).unwrap_or_default()),
        attributes: Json(serde_json::to_value(&lead.attributes).unwrap_or_default()),
        status: "new".to_owned(),
        score: 0,
        category: "cold".to_owned(),
        breakdown: Json(serde_json::Value::Array(Vec::new())),
        model_version: 0,
        correlation_id: correlation_id.unwrap_or_else(|| id.to_string()),
        created_at: now,
        updated_at: now,
    }
}

/// Merges a repeat into `into`: fields the repeat carries win, objects merge
/// key by key, and an opt-out is never undone by a later submission.
pub fn apply(into: &mut LeadView, lead: &LeadFields, now: DateTime<Utc>) {
    fn set<T: Clone>(slot: &mut Option<T>, value: &Option<T>) {
        if value.is_some() {
            slot.clone_from(value);
        }
    }
    set(&mut into.external_id, &lead.external_id);
    set(&mut into.name, &lead.name);
    set(
        &mut into.phone,
        &lead.phone.as_ref().map(|p| p.as_str().to_owned()),
    );
    set(&mut into.company, &lead.company);
    set(&mut into.title, &lead.title);
    set(&mut into.company_size, &lead.company_size);
    set(&mut into.industry, &lead.industry);
    set(&mut into.country, &lead.country);
    set(&mut into.timezone, &lead.timezone);
    set(&mut into.source, &lead.source);
    merge_object(
        &mut into.utm.0,
        serde_json::to_value(&lead.utm).unwrap_or_default(),
    );
    let opted_out = into
        .consent
        .0
        .get("opt_out")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    merge_object(
        &mut into.consent.0,
        serde_json::to_value(&lead.consent).unwrap_or_default(),
    );
    if opted_out {
        into.consent.0["opt_out"] = serde_json::Value::Bool(true);
    }
    merge_object(
        &mut into.attributes.0,
        serde_json::to_value(&lead.attributes).unwrap_or_default(),
    );
    into.updated_at = now;
}

fn merge_object(into: &mut serde_json::Value, from: serde_json::Value) {
    let serde_json::Value::Object(from) = from else {
        return;
    };
    if !into.is_object() {
        *into = serde_json::Value::Object(serde_json::Map::new());
    }
    if let Some(map) = into.as_object_mut() {
        for (k, v) in from {
            if !v.is_null() {
                map.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::dto::LeadInput;

    fn lead(json: serde_json::Value) -> NewLead {
        serde_json::from_value::<LeadInput>(json)
            .unwrap()
            .validate_into("")
            .unwrap()
    }

    #[test]
    fn repeat_fields_win_and_objects_merge() {
        let now = Utc::now();
        let mut rec = new_record(
            &lead(
                serde_json::json!({"email": "A@Example.com", "name": "Ann", "utm": {"source": "g"}, "attributes": {"a": 1}}),
            ),
            None,
            now,
        );
        assert_eq!(rec.email, "a@example.com");
        apply(&mut rec, &lead(serde_json::json!({"email": "a@example.com", "title": "CTO", "utm": {"medium": "cpc"}, "attributes": {"b": 2}})).fields, now);
        assert_eq!(rec.name.as_deref(), Some("Ann"));
        assert_eq!(rec.title.as_deref(), Some("CTO"));
        assert_eq!(
            rec.utm.0,
            serde_json::json!({"source": "g", "medium": "cpc"})
        );
        assert_eq!(rec.attributes.0, serde_json::json!({"a": 1, "b": 2}));
    }

    #[test]
    fn an_opt_out_is_sticky() {
        let now = Utc::now();
        let mut rec = new_record(
            &lead(serde_json::json!({"email": "a@example.com", "consent": {"opt_out": true}})),
            None,
            now,
        );
        apply(
            &mut rec,
            &lead(serde_json::json!({"email": "a@example.com", "consent": {"email": true}})).fields,
            now,
        );
        assert_eq!(rec.consent.0["opt_out"], true);
        assert_eq!(rec.consent.0["email"], true);
    }
}

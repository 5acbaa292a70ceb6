//! The parts of the document the derives cannot say: one Rust type serves
//! both `LeadInput` (create: email required) and `Traits` (identify: email not
//! allowed), and a tracking call names its lead with exactly one of
//! `lead_id`, `email` or `user_id`.

use utoipa::openapi::schema::{
    AllOfBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::Modify;

/// `$ref` to the `Traits` schema (for `IdentifyCall::traits`).
pub fn traits_ref() -> Ref {
    Ref::from_schema_name("Traits")
}

/// Applies the rules above to the generated components.
pub struct LeadSchemas;

impl Modify for LeadSchemas {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let schemas = &mut components.schemas;
        if let Some(RefOr::T(Schema::Object(lead))) = schemas.get_mut("LeadInput") {
            let mut traits = lead.clone();
            traits.properties.remove("email");
            traits.description = Some(
                "Lead fields to update: any field of a lead but `email` (a lead's email is its identity)."
                    .into(),
            );
            if let Some(RefOr::T(Schema::Object(email))) = lead.properties.get_mut("email") {
                email.schema_type = SchemaType::Type(Type::String);
                email.description = Some(
                    "Email address (required; leads with the same email in a workspace merge)."
                        .into(),
                );
            }
            lead.required.push("email".into());
            schemas.insert("Traits".into(), RefOr::T(Schema::Object(traits)));
        }
        for name in ["TrackEvent", "IdentifyCall"] {
            if let Some(schema) = schemas.get_mut(name) {
                let call = std::mem::replace(schema, RefOr::T(Schema::default()));
                *schema = RefOr::T(Schema::AllOf(
                    AllOfBuilder::new()
                        .item(call)
                        .item(exactly_one_lead_reference())
                        .build(),
                ));
            }
        }
    }
}

/// Exactly one of `lead_id`, `email` (an address) or `user_id` (not blank);
/// the other two absent or null.
fn exactly_one_lead_reference() -> Schema {
    let null = || Schema::Object(ObjectBuilder::new().schema_type(Type::Null).build());
    let id = Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Uuid,
            )))
            .build(),
    );
    let email = Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::Custom("email".into())))
            .max_length(Some(254))
            .build(),
    );
    let user = Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(suite_http::openapi::NOT_BLANK))
            .build(),
    );
    let fields = [("lead_id", id), ("email", email), ("user_id", user)];
    let mut one_of = OneOfBuilder::new().description(Some(
        "Name the lead with exactly one of `lead_id`, `email` or `user_id`.",
    ));
    for (chosen, _) in &fields {
        let mut branch = ObjectBuilder::new().required(*chosen);
        for (name, other) in &fields {
            let property = if name == chosen {
                other.clone()
            } else {
                null()
            };
            branch = branch.property(*name, property);
        }
        one_of = one_of.item(Schema::Object(branch.build()));
    }
    Schema::OneOf(one_of.build())
}

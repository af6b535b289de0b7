//! `lanestack_data`: a value with a lifecycle, like Terraform's `terraform_data`.
//!
//! There is no remote object: the state is the object. `output` mirrors `input` (and is unknown
//! while `input` is), and a change to `triggers_replace` makes the engine replace the resource,
//! which is how a stack ties the replacement of other resources to an arbitrary value.
//!
//! Design decision: the `id` is derived from the address alone (see [`id_for`]) instead of being
//! random. A create that was interrupted between "applied" and "state written" can then be
//! recognised by reading the planned state back, and the id is known at plan time, so resources
//! that refer to it plan without "known after apply". The trade-off: a replaced instance keeps
//! its id, so `id` cannot serve as a "was replaced" signal; use `output` or the replace action.

use lanestack_model::schema::plan_by_schema;
use lanestack_model::{
    ApplyRequest, AttrType, Attribute, Block, PlanRequest, PlanResponse, ReadRequest, ResourceAddress,
    ResourceSchema, Value,
};

use crate::{attr, set_attr};

/// The resource type's name.
pub const TYPE_NAME: &str = "lanestack_data";

/// The schema of `lanestack_data`.
pub fn schema() -> ResourceSchema {
    ResourceSchema::new(
        "A value with a lifecycle: output mirrors input; a change to triggers_replace replaces it.",
        Block::new()
            .attr("input", Attribute::optional(AttrType::Any).describe("Any value; copied to output."))
            .attr(
                "triggers_replace",
                Attribute::optional(AttrType::Any)
                    .force_new()
                    .describe("Any value; a change to it replaces the resource."),
            )
            .attr("output", Attribute::computed(AttrType::Any).describe("The value of input after apply."))
            .attr(
                "id",
                Attribute::computed(AttrType::String).describe("A UUID derived from the resource's address."),
            ),
    )
}

/// The id of the instance at `address`: the first 16 bytes of the SHA-256 of the address text,
/// formatted as a version-8 (custom) UUID.
///
/// Deterministic so that an interrupted create is recognisable and references plan with known
/// values; see the module docs for the trade-off.
pub fn id_for(address: &ResourceAddress) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(address.to_string().as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    // RFC 9562: version 8 in the high nibble of byte 6, variant 0b10 in the top bits of byte 8.
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// The planned state: the schema's facts, with `output` set to `input` (unknown while `input`
/// holds an unknown) and the deterministic `id`.
pub(crate) fn plan(block: &Block, request: PlanRequest<'_>) -> PlanResponse {
    let prior = request.prior_state.map(Value::unmark);
    let mut response = plan_by_schema(block, prior.as_ref(), request.config);
    let input = attr(request.config, "input");
    let output = if input.contains_unknown() { Value::Unknown } else { input.clone() };
    set_attr(&mut response.planned_state, "output", output);
    set_attr(&mut response.planned_state, "id", Value::from(id_for(request.address)));
    response
}

/// Create and update return the planned state with `output` filled in from the (fully known)
/// configuration; delete returns null.
pub(crate) fn apply(request: ApplyRequest<'_>) -> Result<Value, lanestack_model::ProviderError> {
    let Some(planned) = request.planned_state else { return Ok(Value::Null) };
    let mut new_state = planned.unmark();
    set_attr(&mut new_state, "output", attr(request.config, "input").clone());
    set_attr(&mut new_state, "id", Value::from(id_for(request.address)));
    Ok(new_state)
}

/// There is no remote object, so the recorded state is the live one.
pub(crate) fn read(request: ReadRequest<'_>) -> Option<Value> {
    Some(request.state.clone())
}

#[cfg(test)]
mod tests {
    use lanestack_model::{AttrPath, Provider};

    use super::*;
    use crate::BuiltinProvider;

    fn address() -> ResourceAddress {
        "lanestack_data.r[3]".parse().unwrap()
    }

    fn get<'v>(v: &'v Value, name: &str) -> &'v Value {
        attr(v, name)
    }

    #[test]
    fn id_is_a_stable_v8_uuid_per_address() {
        let id = id_for(&address());
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'8');
        assert!(matches!(id.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
        assert_eq!(id, id_for(&address()));
        assert_ne!(id, id_for(&"lanestack_data.r[4]".parse().unwrap()));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn create_plans_output_and_id_and_apply_fills_them() {
        let p = BuiltinProvider::new(".");
        let a = address();
        let input =
            Value::object([("index", Value::from(3)), ("tags", Value::object([("s", Value::from("a"))]))]);
        let config = Value::object([("input", input.clone())]);
        let r = p.plan(PlanRequest { address: &a, prior_state: None, config: &config }).await.unwrap();
        assert!(r.requires_replace.is_empty());
        assert_eq!(get(&r.planned_state, "output"), &input);
        assert_eq!(get(&r.planned_state, "id"), &Value::from(id_for(&a)));
        assert!(!r.planned_state.contains_unknown());

        let new_state = p
            .apply(ApplyRequest {
                address: &a,
                prior_state: None,
                planned_state: Some(&r.planned_state),
                config: &config,
            })
            .await
            .unwrap();
        assert_eq!(new_state, r.planned_state);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn output_is_unknown_while_input_is() {
        let p = BuiltinProvider::new(".");
        let a = address();
        let config = Value::object([("input", Value::object([("prev", Value::Unknown)]))]);
        let r = p.plan(PlanRequest { address: &a, prior_state: None, config: &config }).await.unwrap();
        assert_eq!(get(&r.planned_state, "output"), &Value::Unknown);

        // By apply time the input is known, and output follows it.
        let known = Value::object([("input", Value::object([("prev", Value::from("x"))]))]);
        let new_state = p
            .apply(ApplyRequest {
                address: &a,
                prior_state: None,
                planned_state: Some(&r.planned_state),
                config: &known,
            })
            .await
            .unwrap();
        assert_eq!(get(&new_state, "output"), get(&known, "input"));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn unchanged_config_plans_the_prior_state() {
        let p = BuiltinProvider::new(".");
        let a = address();
        let config = Value::object([("input", Value::from("v")), ("triggers_replace", Value::from(1))]);
        let prior = p.plan(PlanRequest { address: &a, prior_state: None, config: &config }).await.unwrap();
        let r = p
            .plan(PlanRequest { address: &a, prior_state: Some(&prior.planned_state), config: &config })
            .await
            .unwrap();
        assert_eq!(r.planned_state, prior.planned_state);
        assert!(r.requires_replace.is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn input_changes_in_place_and_triggers_replace() {
        let p = BuiltinProvider::new(".");
        let a = address();
        let before = Value::object([("input", Value::from("v1")), ("triggers_replace", Value::from("t1"))]);
        let prior = p.plan(PlanRequest { address: &a, prior_state: None, config: &before }).await.unwrap();
        let prior = prior.planned_state;

        let input_changed =
            Value::object([("input", Value::from("v2")), ("triggers_replace", Value::from("t1"))]);
        let r = p
            .plan(PlanRequest { address: &a, prior_state: Some(&prior), config: &input_changed })
            .await
            .unwrap();
        assert!(r.requires_replace.is_empty());
        assert_eq!(get(&r.planned_state, "output"), &Value::from("v2"));

        let trigger_changed =
            Value::object([("input", Value::from("v1")), ("triggers_replace", Value::from("t2"))]);
        let r = p
            .plan(PlanRequest { address: &a, prior_state: Some(&prior), config: &trigger_changed })
            .await
            .unwrap();
        assert_eq!(r.requires_replace, vec![AttrPath::attr("triggers_replace")]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn read_returns_the_recorded_state_and_delete_returns_null() {
        let p = BuiltinProvider::new(".");
        let a = address();
        let state = Value::object([("input", Value::from(1)), ("output", Value::from(1))]);
        let read = p.read(ReadRequest { address: &a, state: &state }).await.unwrap();
        assert_eq!(read, Some(state.clone()));
        let gone = p
            .apply(ApplyRequest {
                address: &a,
                prior_state: Some(&state),
                planned_state: None,
                config: &Value::Null,
            })
            .await
            .unwrap();
        assert_eq!(gone, Value::Null);
    }
}

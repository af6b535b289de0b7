//! `wait { ... }` of `kubernetes_manifest`: after its apply, wait until the object says its
//! work is done — a Job `Complete`, a claim `Bound`, a snapshot `readyToUse` — so that what
//! depends on it starts after, and a failure (a Job's `Failed` condition) fails the apply with
//! the object's own reason instead of a timeout.
//!
//! ```hcl
//! wait {
//!   conditions         = { Complete = "True" }   # status.conditions[type=Complete].status
//!   failure_conditions = { Failed = "True" }
//!   fields             = { "status.succeeded" = "1" }
//!   timeout_seconds    = 1800
//! }
//! ```
//!
//! Fields are dotted paths into the object (`status.readyToUse`); a value matches when its
//! text is the expected text (`true`, `Bound`, `1`).

use std::time::Duration;

use lanestack_kube::Client;
use lanestack_model::{AttrType, Attribute, Block, ErrorKind, ProviderError, Value};
use serde_json::Value as Json;

/// How long a wait lasts when the block does not say.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The schema of the `wait` block.
pub fn block() -> Block {
    let map = || AttrType::Map(Box::new(AttrType::String));
    Block::new()
        .attr(
            "fields",
            Attribute::optional(map()).describe("Dotted paths into the object and the text each must have."),
        )
        .attr(
            "conditions",
            Attribute::optional(map())
                .describe("Condition types and the status each must have (`Ready = \"True\"`)."),
        )
        .attr(
            "failure_conditions",
            Attribute::optional(map()).describe(
                "Condition types and statuses that end the wait as a failure (`Failed = \"True\"`).",
            ),
        )
        .attr(
            "timeout_seconds",
            Attribute::optional(AttrType::Number).describe("How long to wait (default 600)."),
        )
}

/// A wait, read from the block's value.
#[derive(Clone, Debug, PartialEq)]
pub struct Wait {
    fields: Vec<(String, String)>,
    conditions: Vec<(String, String)>,
    failures: Vec<(String, String)>,
    timeout: Duration,
}

/// Where an object stands against a wait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// Everything holds.
    Done,
    /// A failure condition holds: why.
    Failed(String),
    /// Not yet: what is still missing.
    Waiting(String),
}

impl Wait {
    /// The wait a block's value describes; `None` when there is no block or it asks for nothing.
    pub fn from_value(block: &Value) -> Option<Wait> {
        let pairs = |name: &str| -> Vec<(String, String)> {
            block
                .as_object()
                .and_then(|b| b.get(name))
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned()))).collect()
                })
                .unwrap_or_default()
        };
        let timeout = block
            .as_object()
            .and_then(|b| b.get("timeout_seconds"))
            .and_then(Value::as_f64)
            .filter(|s| s.is_finite() && *s > 0.0)
            .map_or(DEFAULT_TIMEOUT, Duration::from_secs_f64);
        let wait = Wait {
            fields: pairs("fields"),
            conditions: pairs("conditions"),
            failures: pairs("failure_conditions"),
            timeout,
        };
        (!(wait.fields.is_empty() && wait.conditions.is_empty())).then_some(wait)
    }

    /// Where `object` stands.
    pub fn check(&self, object: &Json) -> Check {
        let conditions = object.pointer("/status/conditions").and_then(Json::as_array);
        let condition = |kind: &str| conditions.into_iter().flatten().find(|c| c["type"] == kind);
        for (kind, status) in &self.failures {
            if let Some(c) = condition(kind).filter(|c| c["status"] == status.as_str()) {
                let reason = c["reason"].as_str().unwrap_or_default();
                let message = c["message"].as_str().unwrap_or_default();
                return Check::Failed(format!("condition {kind} is {status}: {reason}: {message}"));
            }
        }
        let mut missing = Vec::new();
        for (path, expected) in &self.fields {
            let pointer: String = path.split('.').map(|step| format!("/{step}")).collect();
            let now = object.pointer(&pointer).map(text);
            if now.as_deref() != Some(expected.as_str()) {
                missing.push(format!(
                    "{path} = {expected:?} (now {})",
                    now.map_or("unset".to_owned(), |n| format!("{n:?}"))
                ));
            }
        }
        for (kind, status) in &self.conditions {
            let now = condition(kind).map(|c| text(&c["status"]));
            if now.as_deref() != Some(status.as_str()) {
                missing.push(format!(
                    "condition {kind} = {status:?} (now {})",
                    now.map_or("absent".to_owned(), |n| format!("{n:?}"))
                ));
            }
        }
        if missing.is_empty() { Check::Done } else { Check::Waiting(missing.join(", ")) }
    }
}

/// A JSON scalar's text (`true`, `1`, `Bound`); anything else as JSON.
fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Reads the object at `path` (backing off to every 2 s) until `wait` holds; returns it then.
pub async fn until(client: &Client, path: &str, what: &str, wait: &Wait) -> Result<Json, ProviderError> {
    let mut backoff = crate::Backoff::new();
    loop {
        let object = client.get(path).await.map_err(|e| crate::from_kube(&e))?;
        match wait.check(&object) {
            Check::Done => return Ok(object),
            Check::Failed(why) => {
                return Err(ProviderError::new(ErrorKind::Failed, format!("{what} failed: {why}")));
            }
            Check::Waiting(missing) if backoff.past(wait.timeout) => {
                return Err(ProviderError::new(
                    ErrorKind::Failed,
                    format!("{what} is not done after {} s: waiting for {missing}", wait.timeout.as_secs()),
                ));
            }
            Check::Waiting(_) => {}
        }
        backoff.pause().await;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn wait(fields: &[(&str, &str)], conditions: &[(&str, &str)]) -> Wait {
        let map = |pairs: &[(&str, &str)]| Value::object(pairs.iter().map(|(k, v)| (*k, Value::from(*v))));
        Wait::from_value(&Value::object([
            ("fields", map(fields)),
            ("conditions", map(conditions)),
            ("failure_conditions", map(&[("Failed", "True")])),
            ("timeout_seconds", Value::from(5)),
        ]))
        .unwrap()
    }

    #[test]
    fn fields_and_conditions_hold_or_say_what_is_missing() {
        let w = wait(&[("status.phase", "Bound"), ("status.readyToUse", "true")], &[("Complete", "True")]);
        assert_eq!(w.timeout, Duration::from_secs(5));
        let pending = json!({"status": {"phase": "Pending"}});
        assert_eq!(
            w.check(&pending),
            Check::Waiting(
                "status.phase = \"Bound\" (now \"Pending\"), status.readyToUse = \"true\" (now unset), condition Complete = \"True\" (now absent)".to_owned()
            )
        );
        let done = json!({"status": {"phase": "Bound", "readyToUse": true, "conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(w.check(&done), Check::Done);
        let failed = json!({"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}});
        assert_eq!(
            w.check(&failed),
            Check::Failed(
                "condition Failed is True: BackoffLimitExceeded: Job has reached the specified backoff limit"
                    .to_owned()
            )
        );
    }

    #[test]
    fn no_block_or_an_empty_one_is_no_wait() {
        assert_eq!(Wait::from_value(&Value::Null), None);
        assert_eq!(
            Wait::from_value(&Value::object([(
                "failure_conditions",
                Value::object([("Failed", Value::from("True"))])
            )])),
            None
        );
        let w = Wait::from_value(&Value::object([(
            "conditions",
            Value::object([("Ready", Value::from("True"))]),
        )]))
        .unwrap();
        assert_eq!(w.timeout, DEFAULT_TIMEOUT);
    }
}

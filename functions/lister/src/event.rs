//! The invocation events the Lambda accepts: an EventBridge scheduled event, or `{}` (a manual
//! test invoke), for a run; [`SWEEP_EVENT`] (the sweep rule's constant input) for a reach
//! sweep. Anything else is refused with a clear error instead of running blindly.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::Value;

/// The `detail-type` of EventBridge schedule events.
pub const SCHEDULED_EVENT: &str = "Scheduled Event";

/// What an accepted invocation asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invocation {
    /// A regular run: list from each checkpoint to now.
    Run,
    /// A reach sweep ([`crate::Lister::sweep`]).
    Sweep,
}

/// The payload of a sweep invocation, `{"action": "sweep"}` (the sweep rule's `Input`).
pub const SWEEP_EVENT: &str = r#"{"action":"sweep"}"#;

/// Reads an invocation payload: a sweep for [`SWEEP_EVENT`], a run for `{}` and for an
/// EventBridge scheduled event, an error for anything else.
pub fn invocation_of(payload: &Value) -> Result<Invocation, EventError> {
    if payload.get("action").and_then(Value::as_str) == Some("sweep")
        && payload.as_object().is_some_and(|m| m.len() == 1)
    {
        return Ok(Invocation::Sweep);
    }
    check_event(payload).map(|()| Invocation::Run)
}

/// An invocation payload the lister does not accept.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// Not a JSON object at all.
    #[error("the lister accepts an EventBridge scheduled event or {{}}, got a JSON {0}; invoke it from its schedule or with {{}}")]
    NotAnObject(&'static str),
    /// An object that is not a well-formed EventBridge event.
    #[error("the payload is not a well-formed EventBridge event ({0}); invoke the lister from its schedule or with {{}}")]
    Malformed(String),
    /// A well-formed EventBridge event of another kind.
    #[error("the lister runs on EventBridge scheduled events, got detail-type {detail_type:?} from {event_source:?}; check the rule that targets it")]
    NotScheduled {
        /// The event's `detail-type`.
        detail_type: String,
        /// The event's `source`.
        event_source: String,
    },
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks an invocation payload: `Ok` for `{}` and for an EventBridge scheduled event.
pub fn check_event(payload: &Value) -> Result<(), EventError> {
    let Value::Object(map) = payload else {
        return Err(EventError::NotAnObject(kind(payload)));
    };
    if map.is_empty() {
        return Ok(());
    }
    let event: EventBridgeEvent<Value> = serde_json::from_value(payload.clone())
        .map_err(|e| EventError::Malformed(e.to_string()))?;
    if event.detail_type != SCHEDULED_EVENT {
        return Err(EventError::NotScheduled {
            detail_type: event.detail_type,
            event_source: event.source,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schedule() -> Value {
        json!({
            "version": "0",
            "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": "2026-03-01T12:00:00Z",
            "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/o365-lister"],
            "detail": {}
        })
    }

    #[test]
    fn accepts_schedule_and_empty_object() {
        check_event(&schedule()).unwrap();
        check_event(&json!({})).unwrap();
        assert_eq!(invocation_of(&schedule()).unwrap(), Invocation::Run);
    }

    #[test]
    fn the_sweep_event_asks_for_a_sweep() {
        let sweep: Value = serde_json::from_str(SWEEP_EVENT).unwrap();
        assert_eq!(invocation_of(&sweep).unwrap(), Invocation::Sweep);
        assert!(invocation_of(&json!({"action": "other"})).is_err());
        assert!(invocation_of(&json!({"action": "sweep", "x": 1})).is_err());
    }

    #[test]
    fn refuses_everything_else_clearly() {
        let mut no_detail_type = schedule();
        no_detail_type
            .as_object_mut()
            .unwrap()
            .remove("detail-type");
        let mut bad_time = schedule();
        bad_time["time"] = json!("yesterday");
        let mut bad_resources = schedule();
        bad_resources["resources"] = json!("arn");
        let mut other = schedule();
        other["detail-type"] = json!("EC2 Instance State-change Notification");
        let cases = [
            (json!("run"), "got a JSON string"),
            (json!([1, 2]), "got a JSON array"),
            (json!(null), "got a JSON null"),
            (json!(7), "got a JSON number"),
            (no_detail_type, "detail-type"),
            (bad_time, "not a well-formed"),
            (bad_resources, "not a well-formed"),
            (json!({"foo": 1}), "not a well-formed"),
            (other, "EC2 Instance"),
        ];
        for (payload, want) in cases {
            let e = check_event(&payload).unwrap_err();
            assert!(e.to_string().contains(want), "{payload}: {e}");
        }
    }
}

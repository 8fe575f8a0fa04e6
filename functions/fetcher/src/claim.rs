//! Step 4: one object per content id. Before downloading, the content id is claimed with a
//! create-only object under `_ids/` holding the data key this delivery computes (from its
//! `contentCreated` and the deployment's compression). When the claim exists, the key it pins
//! is used instead, whatever this message carries. A claim without data (a fetcher killed
//! between the claim and the write) is harmless: the next delivery writes at the pinned key.

use o365_activity::claim::ContentClaim;
use o365_activity::keys::{DataKey, ObjectKey};
use o365_activity::message::QueueMessage;
use o365_activity::store::{ObjectMeta, ObjectStore, PutCondition, PutOutcome};

use crate::failure::Failure;
use crate::outcome::ErrorKind;
use crate::Fetcher;

/// `Content-Type` of claims and reports.
pub(crate) fn json_meta() -> ObjectMeta {
    ObjectMeta {
        content_type: "application/json".to_owned(),
        content_encoding: None,
    }
}

impl<S: ObjectStore> Fetcher<S> {
    /// Claims the message's content id and returns the data key it is (to be) stored under.
    pub(crate) async fn claim_content_id(&self, msg: &QueueMessage) -> Result<DataKey, Failure> {
        let claim_key = self.keys.claim_key(msg);
        let computed = DataKey::for_message(msg, self.compression);
        let claim = ContentClaim {
            data_key: self.keys.key(&ObjectKey::Data(computed.clone())),
            content_id: msg.content_id.clone(),
            claimed_at: self.clock.now(),
            collector_version: o365_activity::COLLECTOR_VERSION.to_owned(),
        };
        let outcome = self
            .store
            .put(
                &claim_key,
                claim.to_json().into_bytes().into(),
                &json_meta(),
                PutCondition::IfNoneMatch,
            )
            .await
            .map_err(|e| Failure::from_store(&e))?;
        if let PutOutcome::Written { .. } = outcome {
            return Ok(computed);
        }
        let pinned = self.read_claim(msg, &claim_key).await?;
        if pinned != computed {
            tracing::info!(
                claim_key,
                pinned = pinned.partition(),
                computed = computed.partition(),
                "content id already claimed under another key; using the pinned key"
            );
        }
        Ok(pinned)
    }

    /// Reads an existing claim; it must pin a data key of this layout for this content id.
    async fn read_claim(&self, msg: &QueueMessage, claim_key: &str) -> Result<DataKey, Failure> {
        // A claim that is unreadable cannot be fixed by retrying, but dropping the message
        // would lose the blob: hand it back (it ends in the DLQ, alarmed) and say what to do.
        let bad = |reason: String| {
            Failure::retry(
                ErrorKind::Storage,
                o365_activity::claim::BadClaim {
                    key: claim_key.to_owned(),
                    reason,
                },
            )
        };
        let obj = self
            .store
            .get(claim_key)
            .await
            .map_err(|e| Failure::from_store(&e))?
            .ok_or_else(|| bad("it vanished right after it was found".into()))?;
        let claim = ContentClaim::parse(claim_key, &obj.body)
            .map_err(|e| Failure::retry(ErrorKind::Storage, e))?;
        match self.keys.parse(&claim.data_key) {
            Some(ObjectKey::Data(d))
                if d.tenant_id == msg.tenant_id
                    && d.content_type == msg.content_type
                    && d.content_id == msg.content_id =>
            {
                Ok(d)
            }
            _ => Err(bad(format!(
                "its data_key {:?} is not this content id's data key under this prefix",
                claim.data_key
            ))),
        }
    }
}

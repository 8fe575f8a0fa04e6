//! Durable local runs: every message the lister sends to the in-process queue is first written
//! to `<out>/_spool/` (one file per message), and removed only once the blob is stored, found
//! already stored, or rejected with an error report. A run cut by its deadline, Ctrl-C or
//! SIGKILL leaves what it listed but did not store in the spool; the next run drains it first.

use std::io::Write;
use std::path::{Path, PathBuf};

use o365_activity::queue::{MemoryQueue, Queue, QueueError, SendReport};
use o365_activity::QueueMessage;
use tokio::time::Instant;

/// Longest content id used as a file name as it is; longer ones are hashed.
const MAX_PLAIN_NAME: usize = 180;

/// The spool directory of one output directory.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

/// FNV-1a, 64 bits: a stable short name for a long content id.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Spool {
    /// The spool under `out` (`<out>/_spool/`), created if absent.
    pub fn open(out: &Path) -> std::io::Result<Spool> {
        let dir = out.join("_spool");
        std::fs::create_dir_all(&dir)?;
        Ok(Spool { dir })
    }

    /// The file of a message: one per tenant, content type and content id.
    fn path(&self, m: &QueueMessage) -> PathBuf {
        let id = if m.content_id.len() <= MAX_PLAIN_NAME {
            m.content_id.clone()
        } else {
            format!("{:016x}", fnv1a(&m.content_id))
        };
        self.dir
            .join(format!("{}_{}_{id}.json", m.tenant_id, m.content_type))
    }

    /// Writes every message (a temporary file renamed into place, so a kill leaves either the
    /// whole message or nothing).
    pub fn put_all(&self, messages: &[QueueMessage]) -> std::io::Result<()> {
        for m in messages {
            let path = self.path(m);
            let tmp = path.with_extension("tmp");
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(m.to_json().as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
        }
        Ok(())
    }

    /// Forgets a message whose blob is stored or permanently rejected.
    pub fn remove(&self, m: &QueueMessage) {
        if let Err(e) = std::fs::remove_file(self.path(m)) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(error = %e, content_id = %m.content_id, "could not remove a spooled message; the next run finds it already stored");
            }
        }
    }

    /// Every spooled message; files that cannot be read are left in place and logged.
    pub fn load(&self) -> Vec<QueueMessage> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            match std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|body| QueueMessage::parse(&body).map_err(|e| e.to_string()))
            {
                Ok(m) => out.push(m),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "unreadable spooled message left in place")
                }
            }
        }
        out.sort_by_key(|m| m.content_created);
        out
    }
}

/// The in-process queue behind the spool: a message is on disk before the lister is told it
/// was sent (and so before the lister commits its window).
#[derive(Debug, Clone)]
pub struct SpooledQueue {
    /// The in-process queue the fetcher drains.
    pub queue: MemoryQueue,
    /// Where the messages are kept until stored.
    pub spool: Spool,
}

impl Queue for SpooledQueue {
    async fn send_all(
        &self,
        messages: &[QueueMessage],
        deadline: Instant,
    ) -> Result<SendReport, QueueError> {
        self.spool.put_all(messages).map_err(|e| QueueError::Call {
            op: "spool",
            queue: self.spool.dir.display().to_string(),
            message: e.to_string(),
        })?;
        self.queue.send_all(messages, deadline).await
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;

    /// A message for blob `id` of one tenant.
    pub(crate) fn msg(id: &str) -> QueueMessage {
        QueueMessage {
            format_version: 1,
            tenant_id: "00000000-0000-0000-0000-000000000001".parse().unwrap(),
            content_type: o365_activity::ContentType::Exchange,
            content_id: id.into(),
            content_uri: "https://manage.office.com/x".into(),
            content_created: chrono::Utc.with_ymd_and_hms(2026, 3, 1, 7, 0, 0).unwrap(),
            content_expiration: chrono::Utc.with_ymd_and_hms(2026, 3, 8, 7, 0, 0).unwrap(),
        }
    }

    #[tokio::test]
    async fn spooled_messages_survive_until_removed() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let long = "a".repeat(400);
        let q = SpooledQueue {
            queue: MemoryQueue::new(),
            spool: spool.clone(),
        };
        q.send_all(
            &[msg("one"), msg(&long)],
            Instant::now() + std::time::Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(q.queue.len(), 2);
        // A new process finds both.
        let again = Spool::open(dir.path()).unwrap();
        assert_eq!(again.load().len(), 2);
        again.remove(&msg("one"));
        again.remove(&msg("one"));
        let left = again.load();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].content_id, long);
        std::fs::write(dir.path().join("_spool/bad.json"), "{").unwrap();
        assert_eq!(again.load().len(), 1);
    }
}

//! Bounded memory: the bytes a batch's concurrent downloads may hold are a budget of MiB,
//! derived from the function's memory (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`). Each download
//! reserves what it may hold at once before it starts and waits while the budget is spent, so
//! a batch of blobs full of records near the size limit cannot push the function out of
//! memory (one out-of-memory failure would send every message of the batch toward the DLQ).

use std::sync::Arc;

use o365_activity::normalize::Limits;
use o365_activity::store::s3::PART_SIZE;
use tokio::sync::{AcquireError, Semaphore, SemaphorePermit};

/// Function memory assumed when `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` is not set (the SAM
/// default of `FetcherMemorySize`, and `o365ctl`).
pub const DEFAULT_MEMORY_MB: u32 = 512;
/// Memory kept outside the budget for the runtime, clients, tenants and allocator slack.
pub const BASELINE_MIB: u32 = 96;
/// Copies of a record a download may hold at once: its raw text and its normalized output
/// before compression (the normalizer builds no parsed tree; measured in BENCHMARKS.md).
const RECORD_COPIES: u32 = 2;
/// Codec and network buffers of one download (compressor window, HTTP body chunks).
const CODEC_BUFFERS_MIB: u32 = 8;

const MIB: usize = 1 << 20;

/// A budget of MiB shared by concurrent downloads.
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    permits: Arc<Semaphore>,
    limit_mib: u32,
    per_download_mib: u32,
}

impl MemoryBudget {
    /// A budget of `limit_mib` for downloads reserving `per_download_mib` each. The limit is
    /// raised to one reservation if lower (the floor), so at least one download always proceeds.
    pub fn new(limit_mib: u32, per_download_mib: u32) -> MemoryBudget {
        let per_download_mib = per_download_mib.max(1);
        let limit_mib = limit_mib
            .max(per_download_mib)
            .min(u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX));
        MemoryBudget {
            permits: Arc::new(Semaphore::new(limit_mib as usize)),
            limit_mib,
            per_download_mib,
        }
    }

    /// The budget of a function with `memory_mb` of memory downloading under `limits`: the
    /// memory less [`BASELINE_MIB`], each download reserving [`per_download_mib`].
    pub fn for_function(memory_mb: u32, limits: &Limits) -> MemoryBudget {
        MemoryBudget::new(
            memory_mb.saturating_sub(BASELINE_MIB),
            per_download_mib(limits),
        )
    }

    /// Waits until one download's reservation fits in the budget; the reservation is
    /// released when the returned permit is dropped.
    pub async fn reserve(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.permits.acquire_many(self.per_download_mib).await
    }

    /// The whole budget, in MiB.
    pub fn limit_mib(&self) -> u32 {
        self.limit_mib
    }

    /// What one download reserves, in MiB.
    pub fn per_download_mib(&self) -> u32 {
        self.per_download_mib
    }

    /// Downloads that fit in the budget at once (at least 1).
    pub fn downloads_at_once(&self) -> u32 {
        self.limit_mib / self.per_download_mib
    }
}

/// What one download may hold at once, in MiB: [`RECORD_COPIES`] copies of the largest
/// record, one upload part and the codec buffers.
pub fn per_download_mib(limits: &Limits) -> u32 {
    let record_mib = limits.max_record_bytes.div_ceil(MIB);
    let part_mib = PART_SIZE.div_ceil(MIB);
    let mib = record_mib
        .saturating_mul(RECORD_COPIES as usize)
        .saturating_add(part_mib)
        .saturating_add(CODEC_BUFFERS_MIB as usize);
    u32::try_from(mib).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn never_more_reserved_than_the_limit() {
        let budget = MemoryBudget::new(100, 30);
        assert_eq!(budget.downloads_at_once(), 3);
        let held = AtomicU32::new(0);
        let peak = AtomicU32::new(0);
        let downloads = (0..10).map(|_| async {
            let _permit = budget.reserve().await.unwrap();
            let now = held.fetch_add(30, Ordering::SeqCst) + 30;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            held.fetch_sub(30, Ordering::SeqCst);
        });
        futures::future::join_all(downloads).await;
        assert_eq!(peak.load(Ordering::SeqCst), 90);
        assert_eq!(held.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn one_download_always_proceeds() {
        // A function too small for even one reservation still downloads, one at a time.
        let budget = MemoryBudget::new(10, 80);
        assert_eq!(budget.limit_mib(), 80);
        assert_eq!(budget.downloads_at_once(), 1);
        let first = tokio::time::timeout(Duration::from_secs(1), budget.reserve())
            .await
            .unwrap()
            .unwrap();
        let second = tokio::time::timeout(Duration::from_millis(20), budget.reserve()).await;
        assert!(second.is_err(), "a second download must wait");
        drop(first);
        assert!(
            tokio::time::timeout(Duration::from_secs(1), budget.reserve())
                .await
                .is_ok(),
            "the released reservation lets the next one proceed"
        );
    }

    #[test]
    fn default_function_memory_bounds_big_record_downloads() {
        // 32 MiB records: 2 × 32 + 8 + 8 = 80 MiB a download; 512 − 96 = 416 → 5 at once,
        // so the default 4 parallel downloads are not slowed.
        let budget = MemoryBudget::for_function(DEFAULT_MEMORY_MB, &Limits::default());
        assert_eq!(budget.per_download_mib(), 80);
        assert_eq!(budget.limit_mib(), 416);
        assert_eq!(budget.downloads_at_once(), 5);
        // A tiny function still fetches one blob at a time.
        assert_eq!(
            MemoryBudget::for_function(128, &Limits::default()).downloads_at_once(),
            1
        );
    }
}

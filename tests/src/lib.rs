//! o365-e2e: the end-to-end harness of o365-collector. It runs the lister and the fetcher as
//! they run in Lambda (an SQS event-source mapping over moto, and an in-test Runtime API for the
//! real binaries) against `o365-sim`, then reconciles the bucket with the simulator's ledger and
//! scans the run's logs for secrets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod blobs;
pub mod event_source;
pub mod lambda_process;
pub mod logs;
pub mod queue_server;
pub mod reconcile;
pub mod runtime_api;
pub mod world;

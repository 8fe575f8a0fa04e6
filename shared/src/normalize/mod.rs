//! Normalization of audit records (written by the normalize/fetcher helper).

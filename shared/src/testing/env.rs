//! Configuration tests of the functions: an environment holding given variables, and the
//! least one a function that reads tenants and queues what it finds (lister, auditor) accepts.

use crate::bootstrap::Env;

/// The variables the lister and the auditor cannot start without; tests add to them.
pub fn queued_function_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("BUCKET", "b"),
        ("QUEUE_URL", "http://127.0.0.1:5000/q"),
        ("TENANTS_SECRET_ARN", "arn:aws:secretsmanager:x"),
    ]
}

/// `read` over an environment holding only `pairs` (of a name given twice, the last wins).
pub fn read_env<T>(pairs: &[(&str, &str)], read: impl FnOnce(&Env<'_>) -> T) -> T {
    let lookup = |k: &str| {
        pairs
            .iter()
            .rev()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_owned())
    };
    read(&Env::new(&lookup))
}

//! The one `main` every Lambda function runs: tracing first, then its configuration and
//! clients built before the first event (a mistake ends the cold start with a log line that
//! says what to fix), then the runtime loop handing each event to the function's handler.

use std::fmt::{Debug, Display};
use std::future::Future;

use futures::Stream;
use lambda_runtime::{service_fn, Diagnostic, IntoFunctionResponse, LambdaEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::env::Env;
use super::logging::{init_tracing, LogFormat};

/// Serves the function `name`: [`init_tracing`] in the [`LogFormat`] of this environment,
/// `build` from the process environment, then each event through `handle`. The built
/// handler lives as long as the process, as a Lambda function's does.
pub async fn serve<T, A, R, Err, Fut, Build, BuildErr, B, S, D, E>(
    name: &'static str,
    build: impl FnOnce(Env<'static>) -> Build,
    handle: impl Fn(&'static T, LambdaEvent<A>) -> Fut,
) -> Result<(), lambda_runtime::Error>
where
    T: 'static,
    Build: Future<Output = Result<T, BuildErr>>,
    BuildErr: Display,
    A: DeserializeOwned,
    Fut: Future<Output = Result<R, Err>>,
    Err: Into<Diagnostic> + Debug,
    R: IntoFunctionResponse<B, S>,
    B: Serialize,
    S: Stream<Item = Result<D, E>> + Unpin + Send + 'static,
    D: Into<bytes::Bytes> + Send,
    E: Into<lambda_runtime::Error> + Send + Debug,
{
    let env = Env::process();
    init_tracing(LogFormat::detect(&env));
    let built = build(env).await.map_err(|e| {
        tracing::error!(function = name, error = %e, "configuration is unusable");
        lambda_runtime::Error::from(e.to_string())
    })?;
    let handler: &'static T = Box::leak(Box::new(built));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<A>| {
        handle(handler, event)
    }))
    .await
}

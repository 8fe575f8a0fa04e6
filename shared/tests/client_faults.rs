//! Exact fault sequences against a scripted HTTP server on 127.0.0.1: each test queues the
//! answers the server gives, in order, and checks what the client did with them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use chrono::{TimeZone, Utc};
use o365_activity::api_error::AfCode;
use o365_activity::client::{
    ActivityClient, ClientError, ClientOptions, RetryPolicy, StartOutcome,
};
use o365_activity::cloud::Endpoints;
use o365_activity::secret::Secret;
use o365_activity::tenants::{Credential, TenantConfig, TokenEndpoint};
use o365_activity::ContentType;
use tokio::time::Instant;

const T: &str = "00000000-0000-0000-0000-000000000001";
const SECRET: &str = "scripted-secret-7c1d";

/// One scripted answer.
#[derive(Clone)]
struct Canned {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    /// Wait this long before answering.
    delay: Option<Duration>,
    /// Send the headers, then `body`, then break the connection.
    break_after_body: bool,
}

fn answer(status: u16, body: &str) -> Canned {
    Canned {
        status,
        headers: Vec::new(),
        body: body.to_string(),
        delay: None,
        break_after_body: false,
    }
}

fn af(status: u16, code: &str) -> Canned {
    answer(
        status,
        &format!(r#"{{"error":{{"code":"{code}","message":"scripted {code}"}}}}"#),
    )
}

impl Canned {
    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }
}

/// What the server saw.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    authorization: Option<String>,
    content_length: Vec<String>,
    body: String,
}

#[derive(Default)]
struct Script {
    base: String,
    api: VecDeque<Canned>,
    token: VecDeque<Canned>,
    seen: Vec<Seen>,
    tokens_issued: usize,
}

type Shared = Arc<Mutex<Script>>;

async fn serve(State(script): State<Shared>, req: Request) -> Response {
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let authorization = req
        .headers()
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_string());
    let content_length = req
        .headers()
        .get_all("content-length")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap();
    let is_token = uri.contains("/oauth2/");
    let canned = {
        let mut s = script.lock().unwrap();
        s.seen.push(Seen {
            method,
            uri,
            authorization,
            content_length,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        });
        let next = if is_token {
            s.token.pop_front()
        } else {
            s.api.pop_front()
        };
        let mut canned = next.unwrap_or_else(|| {
            if is_token {
                s.tokens_issued += 1;
                answer(
                    200,
                    &format!(
                        r#"{{"token_type":"Bearer","expires_in":3599,"access_token":"tok-{}"}}"#,
                        s.tokens_issued
                    ),
                )
            } else {
                answer(200, "[]")
            }
        });
        canned.body = canned.body.replace("{base}", &s.base);
        for h in &mut canned.headers {
            h.1 = h.1.replace("{base}", &s.base);
        }
        canned
    };
    if let Some(d) = canned.delay {
        tokio::time::sleep(d).await;
    }
    let body = if canned.break_after_body {
        use futures::StreamExt;
        // Send what there is, give it time to reach the client, then break the connection.
        let first: Vec<Result<bytes::Bytes, std::io::Error>> = if canned.body.is_empty() {
            Vec::new()
        } else {
            vec![Ok(bytes::Bytes::from(canned.body))]
        };
        let broken = futures::stream::once(async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Err::<bytes::Bytes, _>(std::io::Error::other("scripted break"))
        });
        Body::from_stream(futures::stream::iter(first).chain(broken))
    } else {
        Body::from(canned.body)
    };
    let mut resp = Response::builder().status(canned.status);
    for (k, v) in canned.headers {
        resp = resp.header(k, v);
    }
    resp.body(body).unwrap()
}

async fn server() -> (Shared, String) {
    let script: Shared = Arc::new(Mutex::new(Script::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    script.lock().unwrap().base = base.clone();
    let app = axum::Router::new()
        .fallback(serve)
        .with_state(script.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (script, base)
}

fn options() -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            max_attempts: 5,
        },
        request_timeout: Duration::from_secs(10),
        token_refresh_margin: Duration::from_secs(300),
        ..ClientOptions::default()
    }
}

fn client_with(base: &str, options: ClientOptions) -> ActivityClient {
    let tenant = TenantConfig {
        tenant_id: T.parse().unwrap(),
        client_id: "00000000-0000-0000-0000-000000000c01".into(),
        credential: Credential::Secret(Secret::new(SECRET)),
        endpoints: Endpoints::custom(base, base).unwrap(),
        content_types: ContentType::ALL.to_vec(),
        publisher_id: "00000000-0000-0000-0000-0000000000a1".into(),
        token_endpoint: TokenEndpoint::V2,
    };
    ActivityClient::new(&tenant, options).unwrap()
}

fn client(base: &str) -> ActivityClient {
    client_with(base, options())
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

fn feed(base: &str, rest: &str) -> String {
    format!("{base}/api/v1.0/{T}/activity/feed/{rest}")
}

fn entry(base: &str, id: &str) -> String {
    format!(
        r#"{{"contentType":"Audit.General","contentId":"{id}","contentUri":"{}","contentCreated":"2026-03-01T05:09:02.115Z","contentExpiration":"2026-03-08T04:40:11.520Z"}}"#,
        feed(base, &format!("audit/{id}"))
    )
}

async fn list(c: &ActivityClient) -> Result<Vec<String>, ClientError> {
    let start = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let end = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let entries = c
        .list_content(ContentType::General, start, end, deadline())
        .await?;
    Ok(entries.into_iter().map(|e| e.content_id).collect())
}

fn api_seen(s: &Shared) -> Vec<Seen> {
    s.lock()
        .unwrap()
        .seen
        .iter()
        .filter(|x| !x.uri.contains("/oauth2/"))
        .cloned()
        .collect()
}

fn token_seen(s: &Shared) -> Vec<Seen> {
    s.lock()
        .unwrap()
        .seen
        .iter()
        .filter(|x| x.uri.contains("/oauth2/"))
        .cloned()
        .collect()
}

#[tokio::test]
async fn af429_in_a_403_then_success() {
    let (s, base) = server().await;
    s.lock().unwrap().api.extend([
        af(403, "AF429"),
        answer(200, &format!("[{}]", entry(&base, "a"))),
    ]);
    let c = client(&base);
    assert_eq!(list(&c).await.unwrap(), ["a"]);
    let stats = c.stats();
    assert_eq!((stats.throttles, stats.retries), (1, 1));
    assert_eq!(stats.errors_by_code.get("AF429"), Some(&1));
    let seen = api_seen(&s);
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].uri, seen[1].uri, "the same request again");
    assert!(
        seen[0]
            .uri
            .contains("startTime=2026-03-01T00%3A00%3A00&endTime=2026-03-01T12%3A00%3A00"),
        "{}",
        seen[0].uri
    );
}

#[tokio::test]
async fn five_hundreds_and_408_then_success() {
    let (s, base) = server().await;
    s.lock().unwrap().api.extend([
        af(500, "AF50000"),
        answer(503, "<html>Service Unavailable</html>"),
        answer(408, ""),
        answer(200, &format!("[{}]", entry(&base, "a"))),
    ]);
    let c = client(&base);
    assert_eq!(list(&c).await.unwrap(), ["a"]);
    let stats = c.stats();
    assert_eq!(stats.retries, 3);
    assert_eq!(stats.throttles, 0);
    assert_eq!(stats.errors_by_code.get("AF50000"), Some(&1));
    assert_eq!(stats.errors_by_code.get("HTTP503"), Some(&1));
    assert_eq!(stats.errors_by_code.get("HTTP408"), Some(&1));
}

#[tokio::test]
async fn retries_stop_at_max_attempts_with_a_retryable_error() {
    let (s, base) = server().await;
    s.lock()
        .unwrap()
        .api
        .extend(std::iter::repeat_n(answer(502, "bad gateway"), 10));
    let c = client(&base);
    let e = list(&c).await.unwrap_err();
    assert!(matches!(e, ClientError::Api { status: 502, .. }), "{e}");
    assert!(e.is_retryable());
    assert_eq!(api_seen(&s).len(), 5);
}

#[tokio::test]
async fn permanent_errors_are_not_retried() {
    for code in ["AF20022", "AF20023", "AF20055", "AF20030"] {
        let (s, base) = server().await;
        s.lock().unwrap().api.push_back(af(400, code));
        let c = client(&base);
        let e = list(&c).await.unwrap_err();
        assert_eq!(e.af_code().map(AfCode::as_str), Some(code));
        assert!(!e.is_retryable(), "{code}");
        assert_eq!(api_seen(&s).len(), 1, "{code}");
        assert_eq!(c.stats().retries, 0);
    }
}

#[tokio::test]
async fn retry_after_is_honoured() {
    // A backoff of up to an hour would blow the deadline; `Retry-After: 0` (or a date in the
    // past) says to come back at once, and the client does.
    let (s, base) = server().await;
    s.lock().unwrap().api.extend([
        answer(429, "").header("Retry-After", "0"),
        af(403, "AF429").header("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"),
        answer(200, "[]"),
    ]);
    let mut opts = options();
    opts.retry.initial_backoff = Duration::from_secs(3600);
    opts.retry.max_backoff = Duration::from_secs(3600);
    let c = client_with(&base, opts);
    assert!(list(&c).await.unwrap().is_empty());
    assert_eq!(c.stats().throttles, 2);
}

#[tokio::test]
async fn a_retry_after_past_the_deadline_is_not_slept() {
    let (s, base) = server().await;
    s.lock()
        .unwrap()
        .api
        .push_back(answer(429, "").header("Retry-After", "3600"));
    let c = client(&base);
    let e = list(&c).await.unwrap_err();
    match &e {
        ClientError::DeadlineExceeded { op, attempts, last } => {
            assert_eq!((*op, *attempts), ("ListContent", 1));
            assert!(last.contains("429"), "{last}");
        }
        other => panic!("{other:?}"),
    }
    assert!(e.is_retryable());
}

#[tokio::test]
async fn a_passed_deadline_sends_nothing() {
    let (s, base) = server().await;
    let c = client(&base);
    let start = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let e = c
        .list_content(
            ContentType::General,
            start,
            start + chrono::Duration::hours(1),
            Instant::now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, ClientError::DeadlineExceeded { attempts: 0, .. }),
        "{e}"
    );
    assert!(s.lock().unwrap().seen.is_empty());
}

#[tokio::test]
async fn a_slow_answer_times_out_and_is_retried() {
    let (s, base) = server().await;
    let mut slow = answer(200, "[]");
    slow.delay = Some(Duration::from_secs(5));
    s.lock()
        .unwrap()
        .api
        .extend([slow, answer(200, &format!("[{}]", entry(&base, "b")))]);
    let mut opts = options();
    opts.request_timeout = Duration::from_millis(300);
    let c = client_with(&base, opts);
    assert_eq!(list(&c).await.unwrap(), ["b"]);
    assert_eq!(c.stats().errors_by_code.get("NETWORK"), Some(&1));
}

#[tokio::test]
async fn a_401_refreshes_once_then_gives_up() {
    let (s, base) = server().await;
    let denied = r#"{"Message":"Authorization has been denied for this request."}"#;
    s.lock()
        .unwrap()
        .api
        .extend([answer(401, denied), answer(200, "[]")]);
    let c = client(&base);
    assert!(list(&c).await.unwrap().is_empty());
    let seen = api_seen(&s);
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer tok-1"));
    assert_eq!(seen[1].authorization.as_deref(), Some("Bearer tok-2"));

    s.lock()
        .unwrap()
        .api
        .extend([answer(401, denied), answer(401, denied)]);
    let e = list(&c).await.unwrap_err();
    assert!(matches!(e, ClientError::Api { status: 401, .. }), "{e}");
    assert!(
        !e.to_string().contains("tok-"),
        "no token in error text: {e}"
    );
    assert_eq!(token_seen(&s).len(), 3);

    // A 401 with AF10001 (missing permission) is not a token problem: no refresh.
    s.lock().unwrap().api.push_back(af(401, "AF10001"));
    let e = list(&c).await.unwrap_err();
    assert_eq!(e.af_code(), Some(&AfCode::MissingPermission));
    assert_eq!(token_seen(&s).len(), 3);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (elsewhere, other_base) = server().await;
    let (s, base) = server().await;
    s.lock()
        .unwrap()
        .api
        .push_back(answer(302, "").header("Location", &feed(&other_base, "subscriptions/content")));
    let c = client(&base);
    let e = list(&c).await.unwrap_err();
    assert!(matches!(e, ClientError::Api { status: 302, .. }), "{e}");
    assert!(
        elsewhere.lock().unwrap().seen.is_empty(),
        "the token went nowhere else"
    );
}

#[tokio::test]
async fn paging_follows_links_through_empty_pages() {
    let (s, base) = server().await;
    let next = |n: &str| {
        feed(
            "{base}",
            &format!("subscriptions/content?contentType=Audit.General&nextPage={n}"),
        )
    };
    s.lock().unwrap().api.extend([
        answer(200, &format!("[{}]", entry(&base, "a"))).header("NextPageUri", &next("p2")),
        answer(200, "[]").header("NextPageUri", &next("p3")),
        answer(
            200,
            &format!("[{},{}]", entry(&base, "b"), entry(&base, "c")),
        ),
    ]);
    let c = client(&base);
    assert_eq!(list(&c).await.unwrap(), ["a", "b", "c"]);
    let seen = api_seen(&s);
    assert_eq!(seen.len(), 3);
    assert!(
        seen[1]
            .uri
            .ends_with("nextPage=p2&PublisherIdentifier=00000000-0000-0000-0000-0000000000a1"),
        "{}",
        seen[1].uri
    );
    assert!(seen.iter().all(|x| x.authorization.is_some()));
}

#[tokio::test]
async fn a_rejected_page_token_restarts_the_window() {
    let (s, base) = server().await;
    let next = feed("{base}", "subscriptions/content?nextPage=p2");
    let page1 = answer(200, &format!("[{}]", entry(&base, "a"))).header("NextPageUri", &next);
    s.lock().unwrap().api.extend([
        page1.clone(),
        af(400, "AF20031"),
        page1,
        answer(200, &format!("[{}]", entry(&base, "b"))),
    ]);
    let c = client(&base);
    assert_eq!(
        list(&c).await.unwrap(),
        ["a", "b"],
        "no duplicate from the first pass"
    );
    assert_eq!(api_seen(&s).len(), 4);

    // Bounded: a service that always rejects its page token ends in an error.
    let (s, base) = server().await;
    let next = feed("{base}", "subscriptions/content?nextPage=p2");
    let page1 = answer(200, "[]").header("NextPageUri", &next);
    for _ in 0..10 {
        s.lock()
            .unwrap()
            .api
            .extend([page1.clone(), af(400, "AF20031")]);
    }
    let e = list(&client(&base)).await.unwrap_err();
    assert_eq!(e.af_code(), Some(&AfCode::InvalidNextPage));
    assert_eq!(api_seen(&s).len(), 8, "first pass plus three restarts");
}

#[tokio::test]
async fn a_foreign_next_page_is_refused() {
    let (s, base) = server().await;
    s.lock().unwrap().api.push_back(
        answer(200, "[]").header("NextPageUri", "https://manage.office.com.evil.net/api/v1.0/00000000-0000-0000-0000-000000000001/activity/feed/subscriptions/content?nextPage=x"),
    );
    let e = list(&client(&base)).await.unwrap_err();
    assert!(matches!(e, ClientError::ForeignUri { .. }), "{e}");
    assert_eq!(api_seen(&s).len(), 1);
}

#[tokio::test]
async fn start_outcomes() {
    let (s, base) = server().await;
    s.lock().unwrap().api.extend([
        answer(200, r#"{"contentType":"Audit.General","status":"enabled","webhook":null}"#),
        af(400, "AF20024"),
        answer(403, r#"{"error":{"code":"429","message":"Too many frequent subscription start requests. Please retry again after 8m 46s."}}"#),
    ]);
    let c = client(&base);
    assert_eq!(
        c.start_subscription(ContentType::General, deadline())
            .await
            .unwrap(),
        StartOutcome::Started
    );
    assert_eq!(
        c.start_subscription(ContentType::General, deadline())
            .await
            .unwrap(),
        StartOutcome::AlreadyEnabled
    );
    let e = c
        .start_subscription(ContentType::General, deadline())
        .await
        .unwrap_err();
    assert_eq!(e.af_code(), Some(&AfCode::StartCooldown));
    assert!(!e.is_retryable());
    assert_eq!(
        c.stats().throttles,
        0,
        "the start cool-down is not throttling"
    );
    let seen = api_seen(&s);
    assert!(seen.iter().all(|x| x.method == "POST"));
    assert!(seen.iter().all(|x| x.content_length == ["0"]), "{seen:?}");
    assert!(seen[0].uri.ends_with("/subscriptions/start?contentType=Audit.General&PublisherIdentifier=00000000-0000-0000-0000-0000000000a1"), "{}", seen[0].uri);
}

#[tokio::test]
async fn download_streams_and_retries_a_body_that_breaks_before_any_byte() {
    let (s, base) = server().await;
    let mut broken = answer(200, "");
    broken.break_after_body = true;
    let blob: String = format!(
        "[{}]",
        (0..2000)
            .map(|i| format!(r#"{{"Id":"{i}"}}"#))
            .collect::<Vec<_>>()
            .join(",")
    );
    s.lock().unwrap().api.extend([broken, answer(200, &blob)]);
    let c = client(&base);
    let mut body = c
        .download(&feed(&base, "audit/blob-1"), deadline())
        .await
        .unwrap();
    let mut got = Vec::new();
    while let Some(chunk) = body.chunk().await.unwrap() {
        got.extend_from_slice(&chunk);
    }
    assert_eq!(got, blob.as_bytes());
    let seen = api_seen(&s);
    assert_eq!(seen.len(), 2);
    assert!(
        seen[1]
            .uri
            .ends_with("/audit/blob-1?PublisherIdentifier=00000000-0000-0000-0000-0000000000a1"),
        "{}",
        seen[1].uri
    );
}

#[tokio::test]
async fn download_reports_a_break_after_the_first_bytes() {
    let (s, base) = server().await;
    let mut broken = answer(200, r#"[{"Id":"1"},"#);
    broken.break_after_body = true;
    s.lock().unwrap().api.push_back(broken);
    let c = client(&base);
    let mut body = c
        .download(&feed(&base, "audit/blob-2"), deadline())
        .await
        .unwrap();
    let mut got = Vec::new();
    let err = loop {
        match body.chunk().await {
            Ok(Some(chunk)) => got.extend_from_slice(&chunk),
            Ok(None) => panic!(
                "the body should not end cleanly; got {:?}",
                String::from_utf8_lossy(&got)
            ),
            Err(e) => break e,
        }
    };
    assert_eq!(got, br#"[{"Id":"1"},"#);
    assert!(
        matches!(err, ClientError::Transport { op: "GetBlob", .. }),
        "{err}"
    );
    assert_eq!(
        api_seen(&s).len(),
        1,
        "bytes were handed out: no silent retry"
    );
}

#[tokio::test]
async fn download_errors_are_permanent() {
    for (status, code) in [(400, "AF20051"), (404, "AF20050"), (400, "AF20052")] {
        let (s, base) = server().await;
        s.lock().unwrap().api.push_back(af(status, code));
        let c = client(&base);
        let e = c
            .download(&feed(&base, "audit/x"), deadline())
            .await
            .unwrap_err();
        assert_eq!(e.af_code().map(AfCode::as_str), Some(code));
        assert!(!e.is_retryable());
        assert_eq!(api_seen(&s).len(), 1);
    }
}

#[tokio::test]
async fn token_endpoint_faults() {
    // 503 then success: retried.
    let (s, base) = server().await;
    s.lock().unwrap().token.push_back(answer(503, "busy"));
    let c = client(&base);
    assert!(c.list_subscriptions(deadline()).await.unwrap().is_empty());
    let tokens = token_seen(&s);
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens[0].uri, format!("/{T}/oauth2/v2.0/token"));
    assert!(tokens[0].authorization.is_none());
    assert!(tokens[0].body.contains("grant_type=client_credentials"));
    assert!(
        tokens[0]
            .body
            .contains(&format!("scope={}", urlencode(&format!("{base}/.default")))),
        "{}",
        tokens[0].body
    );
    // A refusal that echoes the secret: permanent, and the secret is scrubbed.
    let (s, base) = server().await;
    s.lock().unwrap().token.push_back(answer(
        401,
        &format!(r#"{{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret {SECRET}"}}"#),
    ));
    let c = client(&base);
    let e = c.list_subscriptions(deadline()).await.unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Token {
                retryable: false,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("AADSTS7000215"), "{e}");
    assert!(!e.to_string().contains(SECRET), "{e}");
    assert_eq!(token_seen(&s).len(), 1);
    assert!(api_seen(&s).is_empty());
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn an_unreachable_service_is_a_retryable_network_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let mut opts = options();
    opts.retry.max_attempts = 2;
    let c = client_with(&base, opts);
    let e = c.list_subscriptions(deadline()).await.unwrap_err();
    match &e {
        ClientError::Token {
            retryable, message, ..
        } => {
            assert!(*retryable);
            assert!(
                message.to_ascii_lowercase().contains("refused"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(e.is_retryable());
    assert_eq!(c.stats().retries, 1);
}

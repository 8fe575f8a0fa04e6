//! Helpers shared by the contract tests: a stopped-clock simulator and plain HTTP calls.
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use chrono::{DateTime, Utc};
use o365_sim::{SimConfig, SimHandle, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID};

pub use o365_sim::testing::t0;

pub const T: &str = DEFAULT_TENANT_ID;

/// A config with a stopped clock at `t0()`, so tests decide when time passes.
pub fn config() -> SimConfig {
    SimConfig {
        seed: 42,
        ..o365_sim::testing::stopped_config()
    }
}

pub struct Ctx {
    pub sim: SimHandle,
    pub http: reqwest::Client,
    pub base: String,
}

pub async fn start(config: SimConfig) -> Ctx {
    let sim = o365_sim::start(config).await.unwrap();
    let base = sim.base_url();
    Ctx {
        sim,
        http: reqwest::Client::new(),
        base,
    }
}

impl Ctx {
    pub fn feed(&self, tenant: &str, rest: &str) -> String {
        format!("{}/api/v1.0/{}/activity/feed/{}", self.base, tenant, rest)
    }

    pub async fn token_response(
        &self,
        tenant: &str,
        form: &[(&str, &str)],
        v2: bool,
    ) -> reqwest::Response {
        let path = if v2 {
            "oauth2/v2.0/token"
        } else {
            "oauth2/token"
        };
        self.http
            .post(format!("{}/{}/{}", self.base, tenant, path))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn token(&self, tenant: &str) -> String {
        let scope = format!("{}/.default", self.base);
        let r = self
            .token_response(
                tenant,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", DEFAULT_CLIENT_ID),
                    ("client_secret", DEFAULT_CLIENT_SECRET),
                    ("scope", &scope),
                ],
                true,
            )
            .await;
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        v["access_token"].as_str().unwrap().to_string()
    }

    pub async fn get(&self, token: &str, url: &str) -> reqwest::Response {
        self.http.get(url).bearer_auth(token).send().await.unwrap()
    }

    pub async fn post(&self, token: &str, url: &str) -> reqwest::Response {
        self.http.post(url).bearer_auth(token).send().await.unwrap()
    }

    /// GET a `/_sim` control path and decode the JSON answer.
    pub async fn control_get(&self, path: &str) -> serde_json::Value {
        self.http
            .get(format!("{}{}", self.base, path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// POST a `/_sim` control path; returns the status and the raw answer.
    pub async fn control_post(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .post(format!("{}{}", self.base, path))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// GET a feed path that must fail: (status, AF code, message).
    pub async fn fails(&self, token: &str, tenant: &str, rest: &str) -> (u16, String, String) {
        error_code(self.get(token, &self.feed(tenant, rest)).await).await
    }

    /// The content listing URL of one type over [from, to).
    pub fn window(&self, tenant: &str, ct: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
        self.feed(
            tenant,
            &format!(
                "subscriptions/content?contentType={ct}&startTime={}&endTime={}",
                from.format("%Y-%m-%dT%H:%M:%S"),
                to.format("%Y-%m-%dT%H:%M:%S")
            ),
        )
    }

    pub async fn start_sub(&self, token: &str, tenant: &str, ct: &str) -> reqwest::Response {
        self.post(
            token,
            &self.feed(tenant, &format!("subscriptions/start?contentType={ct}")),
        )
        .await
    }

    /// Follows `NextPageUri` to the last page; returns every entry and the number of pages.
    pub async fn list_all(&self, token: &str, first: &str) -> (Vec<serde_json::Value>, usize) {
        let mut url = first.to_string();
        let mut out = Vec::new();
        let mut pages = 0;
        loop {
            let r = self.get(token, &url).await;
            assert_eq!(r.status(), 200, "listing {url}");
            pages += 1;
            let next = r
                .headers()
                .get("NextPageUri")
                .map(|v| v.to_str().unwrap().to_string());
            let page: Vec<serde_json::Value> = r.json().await.unwrap();
            out.extend(page);
            match next {
                Some(n) => url = n,
                None => return (out, pages),
            }
        }
    }
}

pub async fn error_code(r: reqwest::Response) -> (u16, String, String) {
    let status = r.status().as_u16();
    let v: serde_json::Value = r.json().await.unwrap();
    (
        status,
        v["error"]["code"].as_str().unwrap_or_default().to_string(),
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

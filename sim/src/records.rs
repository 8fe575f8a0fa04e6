//! Realistic audit records (§11–13) for every content type, with the wire quirks collectors meet.

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

use crate::content_type::ContentType;
use crate::timefmt;

mod aad;
mod dlp;
mod exchange;
mod general;
mod sharepoint;

/// What a generated record needs to know about its tenant.
#[derive(Debug, Clone)]
pub struct TenantCtx {
    /// Tenant GUID, written to `OrganizationId`.
    pub tenant_id: String,
    /// The tenant's default domain, used in UPNs and site URLs.
    pub domain: String,
    /// Short name used in SharePoint host names.
    pub short: String,
}

impl TenantCtx {
    /// Derives a stable fake domain from the tenant's position in the configuration.
    pub fn new(tenant_id: &str, index: usize) -> Self {
        let short = format!("contoso{:02}", index + 1);
        Self {
            tenant_id: tenant_id.to_string(),
            domain: format!("{short}.onmicrosoft.com"),
            short,
        }
    }
}

const USERS: &[&str] = &[
    "ada",
    "grace",
    "alan",
    "linus",
    "margaret",
    "ken",
    "barbara",
    "dennis",
    "katherine",
    "edsger",
    "frances",
    "donald",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)",
    "OneDriveMpc-Transform_Thumbnail/1.0",
    "Microsoft SkyDriveSync 24.201.1006.0005 ship; Windows NT 10.0 (19045)",
];
const FILES: &[(&str, &str)] = &[
    ("plan", "xlsx"),
    ("budget", "xlsx"),
    ("notes", "docx"),
    ("roadmap", "pptx"),
    ("contract", "pdf"),
    ("photo", "jpg"),
    ("export", "csv"),
    ("readme", "txt"),
];

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn guid(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.random())
        .into_uuid()
        .to_string()
}

fn upn(rng: &mut StdRng, t: &TenantCtx) -> String {
    format!("{}@{}", pick(rng, USERS), t.domain)
}

fn puid(rng: &mut StdRng) -> String {
    format!("10032000{:08X}", rng.random::<u32>())
}

fn ipv4(rng: &mut StdRng) -> String {
    let net = pick(rng, &["203.0.113", "198.51.100", "192.0.2"]);
    format!("{}.{}", net, rng.random_range(1..255))
}

/// A `ClientIP` in one of the spellings seen on the wire (§13), or `null` when `allow_null`.
fn client_ip(rng: &mut StdRng, allow_null: bool) -> Value {
    let roll = rng.random_range(0..100);
    match roll {
        0..=59 => json!(ipv4(rng)),
        60..=69 => json!(format!("2001:db8::{:x}", rng.random_range(1..0xffff))),
        70..=74 => json!(format!("{}:{}", ipv4(rng), rng.random_range(1024..65535))),
        75..=79 => json!(format!(
            "[2001:db8::{:x}]:{}",
            rng.random_range(1..0xffff),
            rng.random_range(1024..65535)
        )),
        80..=84 => json!(format!("::ffff:{}", ipv4(rng))),
        85..=86 => json!("::1"),
        87..=91 => json!(""),
        _ if allow_null => Value::Null,
        _ => json!(ipv4(rng)),
    }
}

fn base(
    t: &TenantCtx,
    id: &str,
    at: DateTime<Utc>,
    op: &str,
    record_type: i64,
    user_type: i64,
    workload: &str,
) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("CreationTime".into(), json!(timefmt::record(at)));
    m.insert("Id".into(), json!(id));
    m.insert("Operation".into(), json!(op));
    m.insert("OrganizationId".into(), json!(t.tenant_id));
    m.insert("RecordType".into(), json!(record_type));
    m.insert("UserKey".into(), Value::Null);
    m.insert("UserType".into(), json!(user_type));
    m.insert("Version".into(), json!(1));
    m.insert("Workload".into(), json!(workload));
    m
}

fn set(m: &mut serde_json::Map<String, Value>, key: &str, v: Value) {
    m.insert(key.to_string(), v);
}

/// One record of `ct` with the given `Id` and `CreationTime`, as compact JSON text.
pub fn generate(
    rng: &mut StdRng,
    ct: ContentType,
    t: &TenantCtx,
    id: &str,
    at: DateTime<Utc>,
) -> String {
    let m = match ct {
        ContentType::AzureActiveDirectory => aad::aad(rng, t, id, at),
        ContentType::Exchange => exchange::exchange(rng, t, id, at),
        ContentType::SharePoint => sharepoint::sharepoint(rng, t, id, at),
        ContentType::General => general::general(rng, t, id, at),
        ContentType::DlpAll => dlp::dlp(rng, t, id, at),
    };
    Value::Object(m).to_string()
}

#[cfg(test)]
mod tests;

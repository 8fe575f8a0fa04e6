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

/// A record as a JSON object, its members in the order they are written.
type Record = serde_json::Map<String, Value>;

/// What every record generator starts from: the common fields and the user the record is about.
struct Draft<'a> {
    t: &'a TenantCtx,
    id: &'a str,
    at: DateTime<Utc>,
    /// A UPN of the tenant, drawn first for every record.
    user: String,
}

impl Draft<'_> {
    /// The fields every record carries (§11), `UserKey` left `null` for the workload to fill.
    fn base(&self, op: &str, record_type: i64, user_type: i64, workload: &str) -> Record {
        let mut m = Record::new();
        m.insert("CreationTime".into(), json!(timefmt::record(self.at)));
        m.insert("Id".into(), json!(self.id));
        m.insert("Operation".into(), json!(op));
        m.insert("OrganizationId".into(), json!(self.t.tenant_id));
        m.insert("RecordType".into(), json!(record_type));
        m.insert("UserKey".into(), Value::Null);
        m.insert("UserType".into(), json!(user_type));
        m.insert("Version".into(), json!(1));
        m.insert("Workload".into(), json!(workload));
        m
    }
}

fn set(m: &mut Record, key: &str, v: Value) {
    m.insert(key.to_string(), v);
}

/// `yes` with probability `p`, else `no`.
fn either<T>(rng: &mut StdRng, p: f64, yes: T, no: T) -> T {
    if rng.random_bool(p) {
        yes
    } else {
        no
    }
}

/// One kind of record in a weighted choice: its operations, record types and a third label
/// (workload or item type). One of each list is picked; a list of one costs no randomness.
struct Kind {
    ops: &'static [&'static str],
    record_types: &'static [i64],
    label: &'static str,
}

/// A `Kind` in a constant table.
const fn kind(
    ops: &'static [&'static str],
    record_types: &'static [i64],
    label: &'static str,
) -> Kind {
    Kind {
        ops,
        record_types,
        label,
    }
}

/// Rolls 0..100 and takes the first kind whose bound is above the roll, else `otherwise`;
/// returns its operation, record type and label.
fn choose(
    rng: &mut StdRng,
    kinds: &[(i32, Kind)],
    otherwise: Kind,
) -> (&'static str, i64, &'static str) {
    let roll: i32 = rng.random_range(0..100);
    let kind = kinds
        .iter()
        .find(|(below, _)| roll < *below)
        .map_or(&otherwise, |(_, k)| k);
    let op = one_of(rng, kind.ops);
    (op, one_of(rng, kind.record_types), kind.label)
}

/// One of `items`, drawing from `rng` only when there is a choice.
fn one_of<T: Copy>(rng: &mut StdRng, items: &[T]) -> T {
    match items {
        [only] => *only,
        _ => *pick(rng, items),
    }
}

/// One record of `ct` with the given `Id` and `CreationTime`, as compact JSON text.
pub fn generate(
    rng: &mut StdRng,
    ct: ContentType,
    t: &TenantCtx,
    id: &str,
    at: DateTime<Utc>,
) -> String {
    let user = upn(rng, t);
    let d = Draft { t, id, at, user };
    let m = match ct {
        ContentType::AzureActiveDirectory => aad::aad(rng, &d),
        ContentType::Exchange => exchange::exchange(rng, &d),
        ContentType::SharePoint => sharepoint::sharepoint(rng, &d),
        ContentType::General => general::general(rng, &d),
        ContentType::DlpAll => dlp::dlp(rng, &d),
    };
    Value::Object(m).to_string()
}

#[cfg(test)]
mod tests;

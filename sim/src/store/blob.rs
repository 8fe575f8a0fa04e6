//! A content blob: its listing metadata, its planned records, and how its body is rendered.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::Generator;
use crate::content_type::ContentType;
use crate::records::{self, TenantCtx};
use crate::timefmt;

/// One content blob: listing metadata, record ids, and how to render its body.
#[derive(Debug)]
pub struct Blob {
    /// Index of the tenant in the configuration.
    pub tenant: usize,
    /// Tenant GUID.
    pub tenant_id: String,
    /// Content type.
    pub content_type: ContentType,
    /// `contentId`.
    pub content_id: String,
    /// `contentCreated` of the first listing.
    pub content_created: DateTime<Utc>,
    /// When it becomes listable.
    pub available_at: DateTime<Utc>,
    /// `contentExpiration`.
    pub content_expiration: DateTime<Utc>,
    /// The body of an injected blob, served verbatim.
    pub body: Option<Bytes>,
    /// How to render the body of a generated blob.
    pub recipe: Option<Recipe>,
    /// Record ids in body order, for injected blobs (generated blobs derive them from the recipe).
    pub injected_ids: Vec<String>,
    /// Number of records in the body.
    pub record_count: usize,
    /// Fault tags applied.
    pub fault: Option<String>,
    /// Extra listings (same blob, later `contentCreated`).
    pub relisted_at: Vec<DateTime<Utc>>,
}

/// Where a planned record's text comes from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// Generated from this seed.
    Generated(u64),
    /// A real fixture record of the blob's content type (index), rewritten.
    Fixture(usize),
}

/// One record of a blob, planned but not rendered.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Record `Id` (kept as 16 bytes; a big run holds millions).
    pub id: uuid::Uuid,
    /// Record `CreationTime`.
    pub at: DateTime<Utc>,
    /// Text source.
    pub source: Source,
}

/// Damage applied to a rendered body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// None.
    None,
    /// Cut in the middle.
    Truncated,
    /// Bytes that are neither JSON nor UTF-8 spliced into the middle.
    Malformed,
}

/// Everything needed to render a blob's body deterministically.
#[derive(Debug)]
pub struct Recipe {
    /// Tenant names.
    pub ctx: Arc<TenantCtx>,
    /// Distinct records.
    pub planned: Vec<Planned>,
    /// Body order as indexes into `planned` (repeats are duplicate records).
    pub order: Vec<u32>,
    /// Damage.
    pub cut: Cut,
}

impl Blob {
    /// Record ids in body order (a duplicated record appears twice).
    pub fn record_ids(&self) -> Vec<String> {
        match &self.recipe {
            Some(r) => r
                .order
                .iter()
                .map(|&i| r.planned[i as usize].id.to_string())
                .collect(),
            None => self.injected_ids.clone(),
        }
    }

    /// The text of the `i`-th distinct planned record (the body's record, whatever damage the
    /// body suffers; the Graph view serves it as `auditData`).
    pub fn record_text(&self, recipe: &Recipe, i: usize, generator: &Generator) -> String {
        let p = &recipe.planned[i];
        let text = match p.source {
            Source::Fixture(f) => generator
                .fixtures
                .of(self.content_type)
                .get(f)
                .and_then(|f| {
                    f.rewrite(
                        &p.id.to_string(),
                        &timefmt::record(p.at),
                        &recipe.ctx.tenant_id,
                    )
                }),
            Source::Generated(_) => None,
        };
        text.unwrap_or_else(|| {
            let seed = match p.source {
                Source::Generated(seed) => seed,
                Source::Fixture(f) => f as u64,
            };
            records::generate(
                &mut StdRng::seed_from_u64(seed),
                self.content_type,
                &recipe.ctx,
                &p.id.to_string(),
                p.at,
            )
        })
    }

    /// The JSON array served at `contentUri` (the same bytes every time).
    pub fn render(&self, generator: &Generator) -> Bytes {
        if let Some(body) = &self.body {
            return body.clone();
        }
        let Some(recipe) = &self.recipe else {
            return Bytes::new();
        };
        let mut texts: Vec<Option<(usize, usize)>> = vec![None; recipe.planned.len()];
        let mut body: Vec<u8> = Vec::with_capacity(recipe.order.len() * 1100 + 2);
        body.push(b'[');
        for (n, &i) in recipe.order.iter().enumerate() {
            if n > 0 {
                body.push(b',');
            }
            let i = i as usize;
            if let Some((s, e)) = texts[i] {
                body.extend_from_within(s..e);
                continue;
            }
            let text = self.record_text(recipe, i, generator);
            let start = body.len();
            body.extend_from_slice(text.as_bytes());
            texts[i] = Some((start, body.len()));
        }
        body.push(b']');
        match recipe.cut {
            Cut::None => {}
            Cut::Truncated => body.truncate(body.len() / 2),
            Cut::Malformed => {
                let mid = body.len() / 2;
                body.splice(mid..mid, b"\xff\xfe}{not json".iter().copied());
            }
        }
        Bytes::from(body)
    }
}

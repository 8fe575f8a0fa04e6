//! Listing with paging: follow `NextPageUri` (or the older `NextPageUrl`) verbatim until a
//! page comes without it, and restart the window when the service rejects its own page
//! token (AF20031). [`ActivityClient::list_content_page`] lists one page at a time, so a
//! caller can send and commit each page before asking for the next.

use reqwest::header::HeaderMap;
use reqwest::Method;
use tokio::time::Instant;
use url::Url;

use super::http::Buffered;
use super::{guard, ActivityClient, ClientError, OP_LIST_CONTENT};
use crate::api_error::AfCode;
use crate::listing::{decode_page, ContentListing, DecodedPage, ListingContext};

/// One page of a listing: what was read, what was not, and where the next page is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListingPage {
    /// The page's entries, each decoded alone (see [`decode_page`]).
    pub page: DecodedPage,
    /// The `NextPageUri` as the service sent it (used verbatim); `None` on the last page.
    pub next_page: Option<String>,
}

/// How many times one window is restarted from its first page after AF20031.
const MAX_WINDOW_RESTARTS: u32 = 3;
/// Most pages followed in one window (a server that links pages in a circle stops here).
const MAX_PAGES: usize = 10_000;

/// The next page link of a listing response, when there is one.
pub(crate) fn next_page_link(headers: &HeaderMap) -> Result<Option<&str>, ClientError> {
    for name in ["NextPageUri", "NextPageUrl"] {
        if let Some(value) = headers.get(name) {
            let text = value.to_str().map_err(|_| ClientError::Decode {
                op: OP_LIST_CONTENT,
                message: format!("the {name} header is not ASCII text"),
            })?;
            let text = text.trim();
            if !text.is_empty() {
                return Ok(Some(text));
            }
        }
    }
    Ok(None)
}

impl ActivityClient {
    /// Fetches one listing page at `url` and decodes it entry by entry (`ctx`: what was
    /// asked for, to fill in what an entry leaves out).
    async fn fetch_page(
        &self,
        url: &Url,
        ctx: ListingContext,
        deadline: Instant,
    ) -> Result<ListingPage, ClientError> {
        let reply = self
            .call::<Buffered>(OP_LIST_CONTENT, Method::GET, url, deadline, None)
            .await?;
        let page = decode_page(&reply.body, ctx).map_err(|e| ClientError::Decode {
            op: OP_LIST_CONTENT,
            message: format!("the listing page is not a JSON array: {e}"),
        })?;
        let next_page = next_page_link(&reply.headers)?.map(str::to_owned);
        Ok(ListingPage { page, next_page })
    }

    /// One page of `subscriptions/content` for `[start, end)`: the first page, or the page at
    /// `next_page` (a `NextPageUri` from an earlier page, checked against the tenant's API
    /// root). AF20031 (the service rejected its own page token) comes back as an error for
    /// the caller to restart the window from its first page.
    pub async fn list_content_page(
        &self,
        content_type: crate::content_type::ContentType,
        start: chrono::DateTime<chrono::Utc>,
        end: chrono::DateTime<chrono::Utc>,
        next_page: Option<&str>,
        deadline: Instant,
    ) -> Result<ListingPage, ClientError> {
        let url = match next_page {
            None => self.content_url(content_type, start, end)?,
            Some(next) => guard::with_publisher(self.check_uri(next)?, &self.inner.publisher_id),
        };
        let ctx = ListingContext {
            content_type,
            window_start: start,
        };
        self.fetch_page(&url, ctx, deadline).await
    }

    /// Lists every page of a window starting at `first`; an entry that cannot be read fails
    /// the listing (callers that can report entries alone use `list_content_page`).
    pub(crate) async fn list_pages(
        &self,
        first: &Url,
        ctx: ListingContext,
        deadline: Instant,
    ) -> Result<Vec<ContentListing>, ClientError> {
        let mut restarts = 0;
        'window: loop {
            let mut entries: Vec<ContentListing> = Vec::new();
            let mut url = first.clone();
            for page in 0..MAX_PAGES {
                let reply = match self.fetch_page(&url, ctx, deadline).await {
                    Err(e)
                        if page > 0
                            && e.af_code() == Some(&AfCode::InvalidNextPage)
                            && restarts < MAX_WINDOW_RESTARTS =>
                    {
                        restarts += 1;
                        tracing::warn!(
                            tenant = %self.tenant_id(),
                            restarts,
                            "the service rejected its own nextPage token (AF20031); listing the window again from its first page"
                        );
                        continue 'window;
                    }
                    other => other?,
                };
                if let Some(bad) = reply.page.rejected.first() {
                    return Err(ClientError::Decode {
                        op: OP_LIST_CONTENT,
                        message: format!(
                            "a listing entry does not have the documented shape: {}",
                            bad.reason
                        ),
                    });
                }
                entries.extend(reply.page.entries);
                match reply.next_page {
                    None => return Ok(entries),
                    Some(next) => {
                        url =
                            guard::with_publisher(self.check_uri(&next)?, &self.inner.publisher_id);
                    }
                }
            }
            return Err(ClientError::Decode {
                op: OP_LIST_CONTENT,
                message: format!(
                    "the listing had more than {MAX_PAGES} pages; the service may be linking pages in a circle; list a shorter window"
                ),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn reads_either_spelling() {
        let mut h = HeaderMap::new();
        assert_eq!(next_page_link(&h).unwrap(), None);
        h.insert("nextpageurl", HeaderValue::from_static("https://x/a"));
        assert_eq!(next_page_link(&h).unwrap(), Some("https://x/a"));
        h.insert("NextPageUri", HeaderValue::from_static(" https://x/b "));
        assert_eq!(next_page_link(&h).unwrap(), Some("https://x/b"));
        let mut empty = HeaderMap::new();
        empty.insert("NextPageUri", HeaderValue::from_static(""));
        assert_eq!(next_page_link(&empty).unwrap(), None);
        let mut bad = HeaderMap::new();
        bad.insert("NextPageUri", HeaderValue::from_bytes(b"\xff").unwrap());
        assert!(matches!(
            next_page_link(&bad),
            Err(ClientError::Decode { .. })
        ));
    }
}

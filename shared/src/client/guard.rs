//! The host guard: a bearer token only ever goes to the configured API root, under this
//! tenant's activity-feed path. Every URL the client requests passes through here first.

use url::Url;

use super::ClientError;
use crate::tenant_id::TenantId;

/// The query parameter that selects the throttling bucket (spec §4.2).
pub(crate) const PUBLISHER_PARAM: &str = "PublisherIdentifier";

/// Longest piece of a refused URL quoted back in an error.
const MAX_QUOTED: usize = 200;

/// Checks that `uri` has the API root's scheme, host and port, carries no user info, and
/// that its path is under `{root path}/api/v1.0/{tenant}/activity/feed/` (or `/api/v1/`,
/// the form of the documented `NextPageUri` sample). The fragment, if any, is dropped.
pub(crate) fn check_api_uri(
    api_root: &Url,
    tenant: &TenantId,
    uri: &str,
) -> Result<Url, ClientError> {
    let refuse = || ClientError::ForeignUri {
        uri: quote(uri),
        api_root: api_root.as_str().to_owned(),
    };
    let mut url = Url::parse(uri.trim()).map_err(|_| refuse())?;
    if !same_origin_no_userinfo(&url, api_root) || !path_is_under_feed(api_root, tenant, url.path())
    {
        return Err(refuse());
    }
    url.set_fragment(None);
    Ok(url)
}

/// Whether `url` has `root`'s scheme, host and port and carries no user info.
fn same_origin_no_userinfo(url: &Url, root: &Url) -> bool {
    url.scheme() == root.scheme()
        && url.host() == root.host()
        && url.port_or_known_default() == root.port_or_known_default()
        && url.username().is_empty()
        && url.password().is_none()
}

/// Whether `path` (as the URL parser normalised it: dot segments already resolved) is below
/// this tenant's feed, with no encoded separators a server might decode into another path.
fn path_is_under_feed(api_root: &Url, tenant: &TenantId, path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    // Encoded '/', '\' or '.' could be decoded by a server into a different path.
    if lower.contains("%2f") || lower.contains("%5c") || lower.contains("%2e") {
        return false;
    }
    let base = api_root.path().trim_end_matches('/').to_ascii_lowercase();
    let tenant = tenant.as_str().to_ascii_lowercase();
    ["v1.0", "v1"].iter().any(|version| {
        let prefix = format!("{base}/api/{version}/{tenant}/activity/feed/");
        lower
            .strip_prefix(&prefix)
            .is_some_and(|rest| !rest.is_empty() && !rest.split('/').any(|s| s == ".."))
    })
}

/// The Graph paths a Graph token may go to, below the Graph root: the audit log query API,
/// in v1.0 or beta.
const GRAPH_PATHS: [&str; 2] = [
    "/v1.0/security/auditlog/queries",
    "/beta/security/auditlog/queries",
];

/// Checks that `uri` (a query URL, or an `@odata.nextLink` taken verbatim) has the Graph
/// root's scheme, host and port, no user info, and a path under the audit log query API
/// (`{root path}/v1.0/security/auditLog/queries…` or `/beta/…`). The Graph token goes
/// nowhere else: not to the Management API, not to a host a nextLink names.
pub(crate) fn check_graph_uri(graph_root: &Url, uri: &str) -> Result<Url, ClientError> {
    let refuse = || ClientError::ForeignUri {
        uri: quote(uri),
        api_root: graph_root.as_str().to_owned(),
    };
    let mut url = Url::parse(uri.trim()).map_err(|_| refuse())?;
    let lower = url.path().to_ascii_lowercase();
    let encoded = lower.contains("%2f") || lower.contains("%5c") || lower.contains("%2e");
    let base = graph_root.path().trim_end_matches('/').to_ascii_lowercase();
    let under = GRAPH_PATHS.iter().any(|p| {
        lower
            .strip_prefix(&format!("{base}{p}"))
            .is_some_and(|rest| {
                (rest.is_empty() || rest.starts_with('/')) && !rest.split('/').any(|s| s == "..")
            })
    });
    if !same_origin_no_userinfo(&url, graph_root) || encoded || !under {
        return Err(refuse());
    }
    url.set_fragment(None);
    Ok(url)
}

/// Appends `PublisherIdentifier` unless the URL already has it (any letter case: a server
/// may hand back lower-cased parameters). Existing query text is kept verbatim.
pub(crate) fn with_publisher(mut url: Url, publisher: &str) -> Url {
    let present = url
        .query_pairs()
        .any(|(k, _)| k.eq_ignore_ascii_case(PUBLISHER_PARAM));
    if !present {
        url.query_pairs_mut()
            .append_pair(PUBLISHER_PARAM, publisher);
    }
    url
}

/// A refused URL cut to a readable length and stripped of its query (which could hold
/// anything), for the error message.
fn quote(uri: &str) -> String {
    let no_query = uri.split(['?', '#']).next().unwrap_or_default();
    no_query.chars().take(MAX_QUOTED).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_urls_stay_on_the_graph_audit_api() {
        let root = Url::parse("https://graph.microsoft.com").unwrap();
        for ok in [
            "https://graph.microsoft.com/v1.0/security/auditLog/queries",
            "https://graph.microsoft.com/v1.0/security/auditLog/queries/abc/records?$skiptoken=x",
            "https://graph.microsoft.com/beta/security/auditLog/queries/abc",
            "https://GRAPH.microsoft.com:443/v1.0/security/auditlog/queries/abc#frag",
        ] {
            let url = check_graph_uri(&root, ok).unwrap();
            assert!(url.fragment().is_none(), "{ok}");
        }
        for bad in [
            "https://manage.office.com/v1.0/security/auditLog/queries",
            "https://graph.microsoft.com.evil.net/v1.0/security/auditLog/queries",
            "http://graph.microsoft.com/v1.0/security/auditLog/queries",
            "https://graph.microsoft.com:8443/v1.0/security/auditLog/queries",
            "https://user@graph.microsoft.com/v1.0/security/auditLog/queries",
            "https://graph.microsoft.com/v1.0/users",
            "https://graph.microsoft.com/v1.0/security/auditLog/queriesX",
            "https://graph.microsoft.com/v1.0/security/auditLog/queries/%2e%2e/x",
            "https://graph.microsoft.com/v1.0/security/auditLog/queries/a%2Fb",
            "not a url",
        ] {
            assert!(
                matches!(
                    check_graph_uri(&root, bad),
                    Err(ClientError::ForeignUri { .. })
                ),
                "{bad}"
            );
        }
        let sim = Url::parse("http://127.0.0.1:8080/graph/").unwrap();
        assert!(check_graph_uri(
            &sim,
            "http://127.0.0.1:8080/graph/v1.0/security/auditLog/queries/q"
        )
        .is_ok());
        assert!(check_graph_uri(
            &sim,
            "http://127.0.0.1:8080/v1.0/security/auditLog/queries/q"
        )
        .is_err());
        // The Management guard refuses the Graph host with the same tenant path shape.
        let t: TenantId = "00000000-0000-0000-0000-000000000001".parse().unwrap();
        let manage = Url::parse("https://manage.office.com").unwrap();
        assert!(check_api_uri(
            &manage,
            &t,
            "https://graph.microsoft.com/api/v1.0/00000000-0000-0000-0000-000000000001/activity/feed/x"
        )
        .is_err());
    }

    const T: &str = "00000000-0000-0000-0000-000000000001";
    const FEED: &str =
        "https://manage.office.com/api/v1.0/00000000-0000-0000-0000-000000000001/activity/feed/";

    fn root() -> Url {
        Url::parse("https://manage.office.com").unwrap()
    }

    fn tenant() -> TenantId {
        T.parse().unwrap()
    }

    fn check(uri: &str) -> Result<Url, ClientError> {
        check_api_uri(&root(), &tenant(), uri)
    }

    #[test]
    fn accepts_feed_urls_of_this_tenant() {
        for ok in [
            format!("{FEED}audit/20260301044011520000101$20260301050902115000207$audit_sharepoint$Audit_SharePoint$na0001"),
            format!("{FEED}subscriptions/content?contentType=Audit.SharePoint&nextPage=2026R1"),
            "https://manage.office.com/api/v1/00000000-0000-0000-0000-000000000001/activity/feed/subscriptions/content?nextPage=x".to_string(),
            "HTTPS://MANAGE.OFFICE.COM:443/api/v1.0/00000000-0000-0000-0000-000000000001/activity/feed/audit/x".to_string(),
            format!("{FEED}audit/x#frag"),
        ] {
            let url = check(&ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(url.fragment(), None);
        }
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            // other port
            "https://manage.office.com:8443/api/v1.0/00000000-0000-0000-0000-000000000001/activity/feed/audit/x",
            // look-alike host
            "https://manage.office.com.evil.net/api/v1.0/00000000-0000-0000-0000-000000000001/activity/feed/audit/x",
            // userinfo trick: the host is evil.net
            "https://manage.office.com@evil.net/api/v1.0/00000000-0000-0000-0000-000000000001/activity/feed/audit/x",
            // userinfo on the right host
            "https://user:pw@manage.office.com/api/v1.0/00000000-0000-0000-0000-000000000001/activity/feed/audit/x",
            // other tenant
            "https://manage.office.com/api/v1.0/00000000-0000-0000-0000-000000000002/activity/feed/audit/x",
            // dot segments climbing out of the feed
            "https://manage.office.com/api/v1.0/00000000-0000-0000-0000-000000000001/activity/feed/../../00000000-0000-0000-0000-000000000002/activity/feed/audit/x",
            "https://manage.office.com/api/v1.0/00000000-0000-0000-0000-000000000001/activity/feed/%2e%2e/%2E%2E/x/activity/feed/audit/x",
            // scheme downgrade
            "http://manage.office.com/api/v1.0/00000000-0000-0000-0000-000000000001/activity/feed/audit/x",
            // encoded slashes and backslashes
            "https://manage.office.com/api/v1.0/00000000-0000-0000-0000-000000000001/activity/feed/..%2F..%2Fother",
            "https://manage.office.com/api/v1.0/00000000-0000-0000-0000-000000000001/activity/feed/a%5c..%5cb",
            // outside the feed, or the feed itself
            "https://manage.office.com/api/v1.0/00000000-0000-0000-0000-000000000001/other",
            "https://manage.office.com/api/v1.0/00000000-0000-0000-0000-000000000001/activity/feed/",
            "https://manage.office.com/",
            // not a URL, relative, other schemes
            "audit/x",
            "",
            "not a url",
            "ftp://manage.office.com/api/v1.0/00000000-0000-0000-0000-000000000001/activity/feed/audit/x",
            "//evil.net/api/v1.0/00000000-0000-0000-0000-000000000001/activity/feed/audit/x",
        ] {
            match check(bad) {
                Err(ClientError::ForeignUri { .. }) => {}
                other => panic!("{bad} was not refused: {other:?}"),
            }
        }
    }

    #[test]
    fn respects_a_root_with_port_and_path() {
        let root = Url::parse("http://127.0.0.1:8365/sim/").unwrap();
        let ok = "http://127.0.0.1:8365/sim/api/v1.0/00000000-0000-0000-0000-000000000001/activity/feed/audit/x";
        assert!(check_api_uri(&root, &tenant(), ok).is_ok());
        let no_prefix = "http://127.0.0.1:8365/api/v1.0/00000000-0000-0000-0000-000000000001/activity/feed/audit/x";
        assert!(check_api_uri(&root, &tenant(), no_prefix).is_err());
        let other_port = "http://127.0.0.1:8366/sim/api/v1.0/00000000-0000-0000-0000-000000000001/activity/feed/audit/x";
        assert!(check_api_uri(&root, &tenant(), other_port).is_err());
    }

    #[test]
    fn refusal_does_not_quote_the_query() {
        let e = check("https://evil.net/x?token=abc").unwrap_err();
        assert!(!e.to_string().contains("abc"), "{e}");
    }

    #[test]
    fn publisher_is_appended_once() {
        let url = Url::parse(&format!("{FEED}subscriptions/content?contentType=Audit.General&startTime=2026-03-01T00:00:00&nextPage=A%20B")).unwrap();
        let with = with_publisher(url, "p-1");
        assert_eq!(
            with.query(),
            Some("contentType=Audit.General&startTime=2026-03-01T00:00:00&nextPage=A%20B&PublisherIdentifier=p-1")
        );
        let again = with_publisher(with.clone(), "p-2");
        assert_eq!(again, with);
        let lower = Url::parse(&format!("{FEED}audit/x?publisheridentifier=p-0")).unwrap();
        assert_eq!(with_publisher(lower.clone(), "p-1"), lower);
        let bare = with_publisher(Url::parse(&format!("{FEED}audit/x")).unwrap(), "p-1");
        assert_eq!(bare.query(), Some("PublisherIdentifier=p-1"));
    }
}

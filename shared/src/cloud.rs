//! Clouds and their endpoints: API root, token authority and token audience.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use url::Url;

/// A Microsoft 365 cloud with documented endpoints (spec §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cloud {
    /// Commercial (manage.office.com).
    Enterprise,
    /// GCC (manage-gcc.office.com, global Entra authority).
    Gcc,
    /// GCC High (manage.office365.us, login.microsoftonline.us).
    GccHigh,
    /// DoD (manage.protection.apps.mil, login.microsoftonline.us).
    Dod,
}

/// A cloud name that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown cloud {0:?}: use enterprise, gcc, gcc-high or dod, or give --api-root and --login-root")]
pub struct UnknownCloud(pub String);

impl FromStr for Cloud {
    type Err = UnknownCloud;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "enterprise" | "commercial" => Ok(Cloud::Enterprise),
            "gcc" => Ok(Cloud::Gcc),
            "gcc-high" | "gcchigh" => Ok(Cloud::GccHigh),
            "dod" => Ok(Cloud::Dod),
            _ => Err(UnknownCloud(s.to_owned())),
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cloud::Enterprise => "enterprise",
            Cloud::Gcc => "gcc",
            Cloud::GccHigh => "gcc-high",
            Cloud::Dod => "dod",
        })
    }
}

/// Where to send API calls and token requests, and the audience tokens must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// API root, e.g. `https://manage.office.com` (no trailing slash in `resource`).
    pub api_root: Url,
    /// Token authority root, e.g. `https://login.microsoftonline.com`.
    pub login_root: Url,
    /// Token audience: v1 `resource`; the v2 scope is this plus `/.default`.
    pub resource: String,
    /// Microsoft Graph root of the same cloud (the completeness audit's second source), e.g.
    /// `https://graph.microsoft.com`; see [`crate::graph::endpoints`].
    pub graph_root: Url,
    /// The Graph token audience: the v2 scope is this plus `/.default`.
    pub graph_resource: String,
}

/// Endpoint URLs that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// Not a URL.
    #[error(
        "bad {what} URL {url:?}: {reason}; give an absolute URL such as https://manage.office.com"
    )]
    BadUrl {
        /// Which endpoint.
        what: &'static str,
        /// The value given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
}

impl Cloud {
    /// The documented endpoints of this cloud.
    pub fn endpoints(self) -> Endpoints {
        let (api, login) = match self {
            Cloud::Enterprise => (
                "https://manage.office.com",
                "https://login.microsoftonline.com",
            ),
            Cloud::Gcc => (
                "https://manage-gcc.office.com",
                "https://login.microsoftonline.com",
            ),
            Cloud::GccHigh => (
                "https://manage.office365.us",
                "https://login.microsoftonline.us",
            ),
            Cloud::Dod => (
                "https://manage.protection.apps.mil",
                "https://login.microsoftonline.us",
            ),
        };
        // The literals above are valid absolute URLs; a failure here is a bug in this table.
        #[allow(clippy::expect_used)]
        Endpoints::custom(api, login).expect("documented cloud endpoints are valid URLs")
    }
}

impl Endpoints {
    /// Endpoints from explicit roots (another cloud, or `o365-sim` on 127.0.0.1).
    pub fn custom(api_root: &str, login_root: &str) -> Result<Endpoints, EndpointError> {
        let api = parse_root("API root", api_root)?;
        let login = parse_root("login root", login_root)?;
        let resource = api.as_str().trim_end_matches('/').to_owned();
        let (graph_root, graph_resource) = crate::graph::endpoints::graph_for(&api);
        Ok(Endpoints {
            api_root: api,
            login_root: login,
            resource,
            graph_root,
            graph_resource,
        })
    }

    /// These endpoints with another Graph root and token audience (a simulator, or a cloud
    /// whose Graph host the table does not know).
    pub fn with_graph(
        mut self,
        graph_root: &str,
        graph_resource: &str,
    ) -> Result<Endpoints, EndpointError> {
        self.graph_root = parse_root("Graph root", graph_root)?;
        self.graph_resource = graph_resource.trim().trim_end_matches('/').to_owned();
        Ok(self)
    }

    /// The v2 `scope` value for client credentials.
    pub fn scope(&self) -> String {
        format!("{}/.default", self.resource)
    }
}

fn parse_root(what: &'static str, s: &str) -> Result<Url, EndpointError> {
    let url = Url::parse(s.trim()).map_err(|e| EndpointError::BadUrl {
        what,
        url: s.to_owned(),
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(EndpointError::BadUrl {
            what,
            url: s.to_owned(),
            reason: "scheme must be https (or http for a local simulator) with a host".into(),
        });
    }
    // The client secret and the bearer token go to these roots: never in cleartext over a
    // network, only to a stand-in on this machine.
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(EndpointError::BadUrl {
            what,
            url: s.to_owned(),
            reason: "http:// is accepted only for this machine (127.0.0.0/8, localhost, [::1]), because the client secret and the bearer token would travel in cleartext; use https://".into(),
        });
    }
    Ok(url)
}

/// Whether a URL's host is this machine: 127.0.0.0/8, `[::1]` or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_hosts() {
        let e = Cloud::Enterprise.endpoints();
        assert_eq!(e.api_root.host_str(), Some("manage.office.com"));
        assert_eq!(e.scope(), "https://manage.office.com/.default");
        assert_eq!(
            Cloud::Gcc.endpoints().api_root.host_str(),
            Some("manage-gcc.office.com")
        );
        assert_eq!(
            Cloud::GccHigh.endpoints().login_root.host_str(),
            Some("login.microsoftonline.us")
        );
        assert_eq!(
            Cloud::Dod.endpoints().resource,
            "https://manage.protection.apps.mil"
        );
    }

    #[test]
    fn parses_names_and_custom_roots() {
        assert_eq!("gcc-high".parse::<Cloud>().unwrap(), Cloud::GccHigh);
        assert!("china".parse::<Cloud>().is_err());
        let e = Endpoints::custom("http://127.0.0.1:8080", "http://127.0.0.1:8080/").unwrap();
        assert_eq!(e.resource, "http://127.0.0.1:8080");
        assert!(Endpoints::custom("ftp://x", "http://y").is_err());
        assert!(Endpoints::custom("not a url", "http://y").is_err());
    }

    #[test]
    fn http_roots_only_for_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.3.2.1",
            "http://localhost:4567/",
            "http://LOCALHOST",
            "http://[::1]:9000",
            "https://manage.example.org",
        ] {
            assert!(Endpoints::custom(ok, ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://manage.office.com",
            "http://10.0.0.5:8080",
            "http://128.0.0.1",
            "http://localhost.example.com",
            "http://[::2]",
            "http://0.0.0.0",
        ] {
            let e = Endpoints::custom(bad, "https://login.example.org")
                .unwrap_err()
                .to_string();
            assert!(e.contains("https") && e.contains("API root"), "{bad}: {e}");
            let e = Endpoints::custom("https://manage.example.org", bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains("login root"), "{bad}: {e}");
        }
    }
}

//! Microsoft Graph hosts per cloud: the Graph root that pairs with each Management Activity
//! API root, and the Graph token audience (`{root}/.default` is the v2 scope).

use url::Url;

/// Commercial and GCC Graph (GCC uses the global service).
pub const GRAPH_COMMERCIAL: &str = "https://graph.microsoft.com";
/// GCC High Graph.
pub const GRAPH_GCC_HIGH: &str = "https://graph.microsoft.us";
/// DoD Graph.
pub const GRAPH_DOD: &str = "https://dod-graph.microsoft.us";
/// China (21Vianet) Graph.
pub const GRAPH_CHINA: &str = "https://microsoftgraph.chinacloudapi.cn";

/// Management API host → Graph root of the same cloud.
const BY_MANAGEMENT_HOST: &[(&str, &str)] = &[
    ("manage.office.com", GRAPH_COMMERCIAL),
    ("manage-gcc.office.com", GRAPH_COMMERCIAL),
    ("manage.office365.us", GRAPH_GCC_HIGH),
    ("manage.protection.apps.mil", GRAPH_DOD),
    ("manage.office.cn", GRAPH_CHINA),
    ("manage.chinacloudapi.cn", GRAPH_CHINA),
];

/// The Graph root and token audience that go with a Management API root. A root the table
/// does not know (a simulator on 127.0.0.1, a private stand-in) gets its own origin as the
/// Graph root and the commercial Graph audience; override with
/// [`crate::cloud::Endpoints::with_graph`].
pub fn graph_for(api_root: &Url) -> (Url, String) {
    let host = api_root.host_str().unwrap_or_default().to_ascii_lowercase();
    let known = BY_MANAGEMENT_HOST
        .iter()
        .find(|(h, _)| *h == host)
        .and_then(|(_, g)| Url::parse(g).ok());
    match known {
        Some(root) => {
            let resource = root.as_str().trim_end_matches('/').to_owned();
            (root, resource)
        }
        None => {
            let mut root = api_root.clone();
            root.set_path("/");
            root.set_query(None);
            root.set_fragment(None);
            (root, GRAPH_COMMERCIAL.to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::{Cloud, Endpoints};

    #[test]
    fn graph_host_per_cloud() {
        let host = |c: Cloud| c.endpoints().graph_root.host_str().map(str::to_owned);
        assert_eq!(
            host(Cloud::Enterprise).as_deref(),
            Some("graph.microsoft.com")
        );
        assert_eq!(host(Cloud::Gcc).as_deref(), Some("graph.microsoft.com"));
        assert_eq!(host(Cloud::GccHigh).as_deref(), Some("graph.microsoft.us"));
        assert_eq!(host(Cloud::Dod).as_deref(), Some("dod-graph.microsoft.us"));
        assert_eq!(
            Cloud::Dod.endpoints().graph_resource,
            "https://dod-graph.microsoft.us"
        );
        let cn = Endpoints::custom(
            "https://manage.chinacloudapi.cn",
            "https://login.chinacloudapi.cn",
        )
        .unwrap();
        assert_eq!(
            cn.graph_root.as_str(),
            "https://microsoftgraph.chinacloudapi.cn/"
        );
    }

    #[test]
    fn simulator_roots_and_overrides() {
        let e = Endpoints::custom("http://127.0.0.1:8080/x", "http://127.0.0.1:8080").unwrap();
        assert_eq!(e.graph_root.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(e.graph_resource, GRAPH_COMMERCIAL);
        let e = e
            .with_graph("http://127.0.0.1:9090", "https://graph.example/")
            .unwrap();
        assert_eq!(e.graph_root.as_str(), "http://127.0.0.1:9090/");
        assert_eq!(e.graph_resource, "https://graph.example");
        assert!(
            Endpoints::custom("http://127.0.0.1:8080", "http://127.0.0.1:8080")
                .unwrap()
                .with_graph("http://graph.example", "x")
                .is_err()
        );
    }
}

//! Normalized values derived from a record's members: event time, client address, outcome.
//! Each returns `None` when the input cannot be read; nothing is guessed.

use std::net::{IpAddr, Ipv4Addr};

use chrono::{DateTime, NaiveDate, Utc};

use crate::time::{format_rfc3339_z, parse_record_time};

/// An event time read from `CreationTime`: the instant and its RFC 3339 UTC `Z` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTime {
    /// The instant.
    pub at: DateTime<Utc>,
    /// `YYYY-MM-DDTHH:MM:SS[.fff]Z`.
    pub text: String,
}

fn two(b: &[u8]) -> Option<u32> {
    match b {
        [a @ b'0'..=b'9', c @ b'0'..=b'9'] => Some(u32::from(a - b'0') * 10 + u32::from(c - b'0')),
        _ => None,
    }
}

/// Reads the exact wire form `YYYY-MM-DDTHH:MM:SS` (zone-less, UTC) without a format parser:
/// the form nearly every record uses, on the hot path. Agrees with [`parse_record_time`].
pub fn parse_wire_form(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let year = two(&b[0..2])? * 100 + two(&b[2..4])?;
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, two(&b[5..7])?, two(&b[8..10])?)?;
    let t = date.and_hms_opt(two(&b[11..13])?, two(&b[14..16])?, two(&b[17..19])?)?;
    Some(t.and_utc())
}

/// `CreationTime` as RFC 3339 UTC with `Z`; accepts what [`parse_record_time`] accepts.
pub fn event_time(creation_time: &str) -> Option<EventTime> {
    if let Some(at) = parse_wire_form(creation_time) {
        let mut text = String::with_capacity(20);
        text.push_str(creation_time);
        text.push('Z');
        return Some(EventTime { at, text });
    }
    let at = parse_record_time(creation_time).ok()?;
    Some(EventTime {
        at,
        text: format_rfc3339_z(at),
    })
}

/// A client address read from `ClientIP` (or another member that carries one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr {
    /// The IP; an IPv4-mapped IPv6 address is reported as the IPv4 address.
    pub ip: IpAddr,
    /// The port, when one was given (never 0).
    pub port: Option<u16>,
}

fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn port(s: &str) -> Option<u16> {
    // `u16::from_str` accepts a leading '+'; a port is digits only.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u16>().ok().filter(|p| *p != 0)
}

/// Placeholders the API writes where there is no address; they give no value (and are not
/// an error): `<null>`, `null`, `unknown`, `-` (any case), besides the empty string.
fn is_placeholder(s: &str) -> bool {
    s.is_empty()
        || ["<null>", "null", "unknown", "<unknown>", "-"]
            .iter()
            .any(|p| s.eq_ignore_ascii_case(p))
}

/// Parses the client address spellings seen in feeds:
///
/// | spelling | `client_ip` | `client_port` |
/// |---|---|---|
/// | `192.0.2.1` | `192.0.2.1` | - |
/// | `192.0.2.1:443` | `192.0.2.1` | 443 |
/// | `[192.0.2.1]`, `[192.0.2.1]:443` | `192.0.2.1` | -, 443 |
/// | `2001:db8::1`, `[2001:db8::1]` | `2001:db8::1` | - |
/// | `[2001:db8::1]:443` | `2001:db8::1` | 443 |
/// | `::ffff:192.0.2.1`, `[::ffff:192.0.2.1]:443` | `192.0.2.1` | -, 443 |
/// | `""`, `<null>`, `null`, `unknown`, `-` | - | - |
///
/// Surrounding whitespace is ignored. Host names, zone ids (`fe80::1%eth0`), a port of 0 or
/// above 65535, a port on an unbracketed IPv6 address and anything else give `None`: a bad
/// port rejects the whole value, nothing is guessed.
pub fn client_addr(raw: &str) -> Option<ClientAddr> {
    let s = raw.trim();
    if is_placeholder(s) {
        return None;
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ClientAddr {
            ip: unmap(ip),
            port: None,
        });
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let ip = unmap(inside.parse::<IpAddr>().ok()?);
        return match after {
            "" => Some(ClientAddr { ip, port: None }),
            p => Some(ClientAddr {
                ip,
                port: Some(port(p.strip_prefix(':')?)?),
            }),
        };
    }
    let (host, p) = s.rsplit_once(':')?;
    let ip: Ipv4Addr = host.parse().ok()?;
    Some(ClientAddr {
        ip: IpAddr::V4(ip),
        port: Some(port(p)?),
    })
}

/// The outcome of an operation, from `ResultStatus`, `LogonError` and `Operation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `Succeeded`, `Success`, `True` (any case), JSON `true`; `LogonError` `None`.
    Success,
    /// `Failed`, `Failure`, `False` (any case), JSON `false`; a `LogonError` reason; an
    /// operation named as a failure (`UserLoginFailed`).
    Failure,
    /// `PartiallySucceeded` (any case).
    Partial,
    /// `ResultStatus` is present but says something else (e.g. `InProgress`, a number).
    Unknown,
}

impl Outcome {
    /// The value written in `_o365.outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Partial => "partial",
            Outcome::Unknown => "unknown",
        }
    }
}

/// Classifies a `ResultStatus` string (trimmed, case-insensitive).
pub fn outcome_of_text(s: &str) -> Outcome {
    let t = s.trim();
    let is = |w: &str| t.eq_ignore_ascii_case(w);
    if is("Succeeded") || is("Success") || is("True") {
        Outcome::Success
    } else if is("Failed") || is("Failure") || is("False") {
        Outcome::Failure
    } else if is("PartiallySucceeded") {
        Outcome::Partial
    } else {
        Outcome::Unknown
    }
}

/// Whether an `Operation` name itself says the operation failed: it ends with `Failed` or
/// `Failure` (`UserLoginFailed`, `FileSyncUploadFailed`, ...). Case-sensitive, as the API
/// spells operations in PascalCase.
pub fn operation_failed(operation: &str) -> bool {
    let t = operation.trim();
    t.len() > "Failed".len() && (t.ends_with("Failed") || t.ends_with("Failure"))
}

/// What an Entra STS `LogonError` says: `None` (any case) is a logon without error; any
/// other non-empty text names the reason a logon failed (`InvalidUserNameOrPassword`,
/// `UserStrongAuthClientAuthNRequiredInterrupt`, ...); empty says nothing.
pub fn outcome_of_logon_error(s: &str) -> Option<Outcome> {
    let t = s.trim();
    if t.is_empty() {
        None
    } else if t.eq_ignore_ascii_case("None") {
        Some(Outcome::Success)
    } else {
        Some(Outcome::Failure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_time_forms() {
        for (input, want) in [
            ("2026-03-01T04:41:07", "2026-03-01T04:41:07Z"),
            ("2026-03-01T04:41:07Z", "2026-03-01T04:41:07Z"),
            ("2026-03-01T04:41:07.5", "2026-03-01T04:41:07.500Z"),
            ("2026-03-01T04:41:07.0000000", "2026-03-01T04:41:07Z"),
            ("2026-03-01T05:41:07+01:00", "2026-03-01T04:41:07Z"),
            ("2026-03-01 04:41:07", "2026-03-01T04:41:07Z"),
        ] {
            assert_eq!(event_time(input).unwrap().text, want, "{input}");
        }
        for bad in ["", "x", "2026-02-30T00:00:00", "2026-03-01T24:00:00"] {
            assert_eq!(event_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn wire_form_agrees_with_the_general_parser() {
        for s in [
            "2026-03-01T04:41:07",
            "0001-01-01T00:00:00",
            "9999-12-31T23:59:59",
            "2024-02-29T12:00:00",
            "2023-02-29T12:00:00",
        ] {
            assert_eq!(parse_wire_form(s), parse_record_time(s).ok(), "{s}");
        }
        for s in [
            "2026-3-01T04:41:07",
            "2026-03-01T04:41:07",
            "2026-03-01T04:41:60",
        ] {
            let t = event_time(s).unwrap();
            assert_eq!(t.text, format_rfc3339_z(t.at), "{s}");
            assert_eq!(Some(t.at), parse_record_time(s).ok(), "{s}");
        }
    }

    #[test]
    fn client_ip_spellings() {
        let v = |s: &str| client_addr(s).map(|a| (a.ip.to_string(), a.port));
        assert_eq!(v("1.2.3.4"), Some(("1.2.3.4".into(), None)));
        assert_eq!(v(" 1.2.3.4 "), Some(("1.2.3.4".into(), None)));
        assert_eq!(v("1.2.3.4:443"), Some(("1.2.3.4".into(), Some(443))));
        assert_eq!(
            v("[2001:db8::1]:443"),
            Some(("2001:db8::1".into(), Some(443)))
        );
        assert_eq!(v("[2001:db8::1]"), Some(("2001:db8::1".into(), None)));
        assert_eq!(v("2001:db8::1"), Some(("2001:db8::1".into(), None)));
        assert_eq!(v("::ffff:1.2.3.4"), Some(("1.2.3.4".into(), None)));
        assert_eq!(v("[::ffff:1.2.3.4]:80"), Some(("1.2.3.4".into(), Some(80))));
        assert_eq!(v("::1"), Some(("::1".into(), None)));
        assert_eq!(
            v("[192.0.2.1]:1234"),
            Some(("192.0.2.1".into(), Some(1234)))
        );
        assert_eq!(v("[192.0.2.1]"), Some(("192.0.2.1".into(), None)));
        assert_eq!(v("::ffff:c000:201"), Some(("192.0.2.1".into(), None)));
        assert_eq!(
            v("\t10.0.0.1:65535\n"),
            Some(("10.0.0.1".into(), Some(65535)))
        );
        for bad in [
            "",
            "  ",
            "host.example.com",
            "host.example.com:443",
            "1.2.3.4:",
            "1.2.3.4:0",
            "1.2.3.4:65536",
            "1.2.3.4:+1",
            "1.2.3",
            "[2001:db8::1]443",
            "[2001:db8::1]:x",
            "[1.2.3.4]:0",
            "[1.2.3.4]80",
            "[1.2.3.4",
            "[host.example]:80",
            "2001:db8::1:443x",
            "fe80::1%eth0",
            "<unknown>",
            "<null>",
            "null",
            "-",
            "Unknown",
            "1.2.3.4 5",
        ] {
            assert_eq!(v(bad), None, "{bad}");
        }
    }

    #[test]
    fn outcomes() {
        for (s, o) in [
            ("Succeeded", Outcome::Success),
            ("Success", Outcome::Success),
            ("success", Outcome::Success),
            ("True", Outcome::Success),
            ("TRUE", Outcome::Success),
            ("Failed", Outcome::Failure),
            ("failed", Outcome::Failure),
            ("Failure", Outcome::Failure),
            ("False", Outcome::Failure),
            ("PartiallySucceeded", Outcome::Partial),
            ("InProgress", Outcome::Unknown),
            ("", Outcome::Unknown),
        ] {
            assert_eq!(outcome_of_text(s), o, "{s}");
        }
    }

    #[test]
    fn failure_operations_and_logon_errors() {
        for op in [
            "UserLoginFailed",
            "FileSyncUploadFailed",
            "MessageDeliveryFailure",
        ] {
            assert!(operation_failed(op), "{op}");
        }
        for op in [
            "UserLoggedIn",
            "Failed",
            "FailedLogin",
            "userloginfailed",
            "",
        ] {
            assert!(!operation_failed(op), "{op}");
        }
        assert_eq!(outcome_of_logon_error("None"), Some(Outcome::Success));
        assert_eq!(outcome_of_logon_error(" none "), Some(Outcome::Success));
        assert_eq!(
            outcome_of_logon_error("InvalidUserNameOrPassword"),
            Some(Outcome::Failure)
        );
        assert_eq!(outcome_of_logon_error(""), None);
    }
}

//! Reads the few members normalization needs from one raw record, borrowing from its text,
//! while serde_json validates the whole record. No `Value` tree is built.
//!
//! Wrong types never fail a record: a member of an unexpected type is read as
//! [`Scalar::Other`] and simply yields no normalized value.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::values::{self, ClientAddr, Outcome};

/// A member value as far as normalization cares: strings (borrowed when unescaped), numbers,
/// booleans and null; arrays and objects are validated and skipped.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    /// A string.
    Str(Cow<'a, str>),
    /// A non-negative integer.
    UInt(u64),
    /// A negative integer.
    Int(i64),
    /// A number with a fraction or exponent.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// An array or object.
    Other,
}

impl Scalar<'_> {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }

    /// An integer sent as a number or a string of digits, with [`crate::record::lenient_int`]'s rules.
    pub fn lenient_int(&self) -> Option<i64> {
        let v = match self {
            Scalar::UInt(n) => Value::from(*n),
            Scalar::Int(n) => Value::from(*n),
            Scalar::Float(f) => Value::from(*f),
            Scalar::Str(s) => Value::String(s.to_string()),
            _ => return None,
        };
        crate::record::lenient_int(&v)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::UInt(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

/// The members normalization reads; everything else is validated and skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    CreationTime,
    RecordType,
    UserType,
    ClientIp,
    ClientIpEarly,
    ClientIpAddress,
    ActorIpAddress,
    ExtendedProperties,
    ResultStatus,
    LogonError,
    Operation,
    Reserved,
    Other,
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(match v {
            "CreationTime" => Key::CreationTime,
            "RecordType" => Key::RecordType,
            "UserType" => Key::UserType,
            "ClientIP" => Key::ClientIp,
            "ClientIp" => Key::ClientIpEarly,
            "ClientIPAddress" => Key::ClientIpAddress,
            "ActorIpAddress" => Key::ActorIpAddress,
            "ExtendedProperties" => Key::ExtendedProperties,
            "ResultStatus" => Key::ResultStatus,
            "LogonError" => Key::LogonError,
            "Operation" => Key::Operation,
            super::O365_MEMBER => Key::Reserved,
            _ => Key::Other,
        })
    }
}

/// The members of one record that normalization reads, borrowed from its text.
/// When a member appears twice the last one counts, as in a parsed JSON value.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RecordFields<'a> {
    /// Number of members (duplicates counted).
    pub members: usize,
    /// Whether a top-level `_o365` member is present.
    pub has_reserved: bool,
    /// `CreationTime`.
    pub creation_time: Option<Scalar<'a>>,
    /// `RecordType`.
    pub record_type: Option<Scalar<'a>>,
    /// `UserType`.
    pub user_type: Option<Scalar<'a>>,
    /// `ClientIP`.
    pub client_ip: Option<Scalar<'a>>,
    /// `ClientIp` (the early documented spelling of the member name).
    pub client_ip_early: Option<Scalar<'a>>,
    /// `ClientIPAddress` (Exchange mailbox audit).
    pub client_ip_address: Option<Scalar<'a>>,
    /// `ActorIpAddress` (Entra).
    pub actor_ip_address: Option<Scalar<'a>>,
    /// The first address read from an `ExtendedProperties` entry named for an IP (Entra).
    pub extended_addr: Option<ClientAddr>,
    /// `ResultStatus`.
    pub result_status: Option<Scalar<'a>>,
    /// `LogonError` (Entra sign-ins).
    pub logon_error: Option<Scalar<'a>>,
    /// `Operation`.
    pub operation: Option<Scalar<'a>>,
}

impl RecordFields<'_> {
    /// The client address, from the first member in this order that holds a readable one:
    /// `ClientIP`, `ClientIp`, `ClientIPAddress`, `ActorIpAddress`, then an
    /// `ExtendedProperties` entry named `ClientIP`, `ClientIPAddress`, `ActorIpAddress` or
    /// `IpAddress` (any case). Empty, placeholder and unreadable values are passed over.
    pub fn client_addr(&self) -> Option<ClientAddr> {
        [
            &self.client_ip,
            &self.client_ip_early,
            &self.client_ip_address,
            &self.actor_ip_address,
        ]
        .into_iter()
        .filter_map(|v| v.as_ref().and_then(Scalar::as_str))
        .find_map(values::client_addr)
        .or(self.extended_addr)
    }

    /// The outcome, from the first signal in this order that says something:
    /// 1. `Operation` named as a failure (`UserLoginFailed`): `failure`;
    /// 2. `LogonError` with a reason (anything but empty or `None`): `failure`;
    /// 3. `ResultStatus` (not null): its spelling ([`values::outcome_of_text`]), JSON
    ///    booleans, `unknown` for anything else;
    /// 4. `LogonError` `None`: `success`.
    ///
    /// Otherwise none.
    pub fn outcome(&self) -> Option<Outcome> {
        let op = self.operation.as_ref().and_then(Scalar::as_str);
        if op.is_some_and(values::operation_failed) {
            return Some(Outcome::Failure);
        }
        let logon = self
            .logon_error
            .as_ref()
            .and_then(Scalar::as_str)
            .and_then(values::outcome_of_logon_error);
        if logon == Some(Outcome::Failure) {
            return logon;
        }
        let status = match &self.result_status {
            None | Some(Scalar::Null) => None,
            Some(Scalar::Str(s)) => Some(values::outcome_of_text(s)),
            Some(Scalar::Bool(true)) => Some(Outcome::Success),
            Some(Scalar::Bool(false)) => Some(Outcome::Failure),
            Some(_) => Some(Outcome::Unknown),
        };
        status.or(logon)
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = RecordFields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = RecordFields::default();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            out.members += 1;
            let slot = match key {
                Key::CreationTime => &mut out.creation_time,
                Key::RecordType => &mut out.record_type,
                Key::UserType => &mut out.user_type,
                Key::ClientIp => &mut out.client_ip,
                Key::ClientIpEarly => &mut out.client_ip_early,
                Key::ClientIpAddress => &mut out.client_ip_address,
                Key::ActorIpAddress => &mut out.actor_ip_address,
                Key::ResultStatus => &mut out.result_status,
                Key::LogonError => &mut out.logon_error,
                Key::Operation => &mut out.operation,
                Key::ExtendedProperties => {
                    out.extended_addr = map.next_value_seed(ExtendedAddr { entry: false })?;
                    continue;
                }
                Key::Reserved | Key::Other => {
                    out.has_reserved |= key == Key::Reserved;
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = Some(map.next_value::<Scalar<'de>>()?);
        }
        Ok(out)
    }
}

impl<'de> Deserialize<'de> for RecordFields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FieldsVisitor)
    }
}

/// Whether an `ExtendedProperties` entry's `Name` names a client IP.
fn is_ip_name(name: &str) -> bool {
    ["ClientIP", "ClientIPAddress", "ActorIpAddress", "IpAddress"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
}

/// An `ExtendedProperties` entry's member name: `Some(true)` for `Name`, `Some(false)` for
/// `Value`, `None` for any other (read without allocating).
struct EntryKey;

impl<'de> DeserializeSeed<'de> for EntryKey {
    type Value = Option<bool>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<bool>, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for EntryKey {
    type Value = Option<bool>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<bool>, E> {
        Ok(match v {
            "Name" => Some(true),
            "Value" => Some(false),
            _ => None,
        })
    }
}

/// Reads a client address out of `ExtendedProperties` (`entry: false`: the array) or one of
/// its entries (`entry: true`: `{"Name":…,"Value":…}`): the first entry named for an IP that
/// holds a readable address. Any other shape is validated and yields nothing.
#[derive(Clone, Copy)]
struct ExtendedAddr {
    entry: bool,
}

impl<'de> DeserializeSeed<'de> for ExtendedAddr {
    type Value = Option<ClientAddr>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ExtendedAddr {
    type Value = Option<ClientAddr>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        let seed = ExtendedAddr { entry: true };
        while let Some(addr) = if self.entry {
            seq.next_element::<IgnoredAny>()?.map(|_| None)
        } else {
            seq.next_element_seed(seed)?
        } {
            found = found.or(addr);
        }
        Ok(found)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut name, mut value) = (None, None);
        while let Some(key) = map.next_key_seed(EntryKey)? {
            match key {
                Some(true) if self.entry => name = Some(map.next_value::<Scalar<'de>>()?),
                Some(false) if self.entry => value = Some(map.next_value::<Scalar<'de>>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let named = name
            .as_ref()
            .and_then(Scalar::as_str)
            .is_some_and(is_ip_name);
        Ok(value
            .as_ref()
            .and_then(Scalar::as_str)
            .filter(|_| named)
            .and_then(values::client_addr))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Validates one record's text as a JSON object and reads its normalization fields.
pub fn read_fields(text: &str) -> Result<RecordFields<'_>, serde_json::Error> {
    serde_json::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_borrowed_fields_and_counts_members() {
        let f = read_fields(
            r#"{"CreationTime":"2026-01-01T00:00:00","RecordType":"25","UserType":2,"ClientIP":null,"ResultStatus":"Succeeded","X":{"a":[1,2]},"_o365":1}"#,
        )
        .unwrap();
        assert_eq!(f.members, 7);
        assert!(f.has_reserved);
        assert!(matches!(
            f.creation_time,
            Some(Scalar::Str(Cow::Borrowed("2026-01-01T00:00:00")))
        ));
        assert_eq!(f.record_type.unwrap().lenient_int(), Some(25));
        assert_eq!(f.user_type.unwrap().lenient_int(), Some(2));
        assert_eq!(f.client_ip, Some(Scalar::Null));
        assert_eq!(f.result_status.unwrap().as_str(), Some("Succeeded"));
    }

    #[test]
    fn wrong_types_do_not_fail_and_duplicates_take_the_last() {
        let f = read_fields(r#"{"CreationTime":[1],"RecordType":{"a":1},"UserType":1.5,"UserType":3,"ClientIP":"a\"b"}"#)
            .unwrap();
        assert_eq!(f.creation_time, Some(Scalar::Other));
        assert_eq!(f.record_type.unwrap().lenient_int(), None);
        assert_eq!(f.user_type.unwrap().lenient_int(), Some(3));
        assert_eq!(f.client_ip.unwrap().as_str(), Some("a\"b"));
        assert_eq!(read_fields("{}").unwrap().members, 0);
    }

    #[test]
    fn invalid_json_is_an_error() {
        for bad in [
            "{",
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":"\x"}"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":01}"#,
            r#"{"a":tru}"#,
            r#"{"a":1]"#,
            r#"{"a":1} x"#,
            "[1]",
        ] {
            assert!(read_fields(bad).is_err(), "{bad}");
        }
    }

    /// `(client_ip, client_port)` and outcome of a record text.
    fn norm(text: &str) -> (Option<(String, Option<u16>)>, Option<&'static str>) {
        let f = read_fields(text).unwrap();
        (
            f.client_addr().map(|a| (a.ip.to_string(), a.port)),
            f.outcome().map(Outcome::as_str),
        )
    }

    #[test]
    fn client_address_from_every_member_in_order() {
        let ip = |t: &str| norm(t).0;
        let some = |i: &str, p: Option<u16>| Some((i.to_owned(), p));
        assert_eq!(ip(r#"{"ClientIP":"192.0.2.1"}"#), some("192.0.2.1", None));
        assert_eq!(
            ip(r#"{"ClientIp":"192.0.2.1:80"}"#),
            some("192.0.2.1", Some(80))
        );
        assert_eq!(
            ip(r#"{"ClientIPAddress":"[192.0.2.1]:1234"}"#),
            some("192.0.2.1", Some(1234))
        );
        assert_eq!(
            ip(r#"{"ActorIpAddress":"[2001:db8::5]:443"}"#),
            some("2001:db8::5", Some(443))
        );
        assert_eq!(
            ip(
                r#"{"ExtendedProperties":[{"Name":"UserAgent","Value":"x"},{"Value":"::ffff:192.0.2.9","Name":"ipAddress"}]}"#
            ),
            some("192.0.2.9", None)
        );
        // Precedence: ClientIP, ClientIp, ClientIPAddress, ActorIpAddress, ExtendedProperties,
        // whatever the order of the members in the record.
        assert_eq!(
            ip(
                r#"{"ExtendedProperties":[{"Name":"ClientIP","Value":"192.0.2.5"}],"ActorIpAddress":"192.0.2.4","ClientIPAddress":"192.0.2.3","ClientIp":"192.0.2.2","ClientIP":"192.0.2.1"}"#
            ),
            some("192.0.2.1", None)
        );
        assert_eq!(
            ip(
                r#"{"ActorIpAddress":"192.0.2.4","ClientIPAddress":"192.0.2.3","ClientIp":"192.0.2.2"}"#
            ),
            some("192.0.2.2", None)
        );
        assert_eq!(
            ip(r#"{"ActorIpAddress":"192.0.2.4","ClientIPAddress":"192.0.2.3"}"#),
            some("192.0.2.3", None)
        );
        // Empty, placeholder, null and unreadable values are passed over.
        assert_eq!(
            ip(
                r#"{"ClientIP":"","ClientIp":"<null>","ClientIPAddress":null,"ActorIpAddress":"proxy.example","ExtendedProperties":[{"Name":"ClientIP","Value":"[2001:db8::7]"}]}"#
            ),
            some("2001:db8::7", None)
        );
        assert_eq!(ip(r#"{"ClientIP":"","ActorIpAddress":"<null>"}"#), None);
        assert_eq!(
            ip(
                r#"{"ExtendedProperties":[{"Name":"UserAgent","Value":"192.0.2.1"},{"Name":"ClientIP","Value":7},{"Name":"ClientIP"}]}"#
            ),
            None
        );
        for odd in [
            r#"{"ExtendedProperties":{"Name":"ClientIP","Value":"192.0.2.1"}}"#,
            r#"{"ExtendedProperties":"192.0.2.1"}"#,
            r#"{"ExtendedProperties":[1,"a",null,[{"Name":"ClientIP","Value":"192.0.2.1"}]]}"#,
        ] {
            assert_eq!(ip(odd), None, "{odd}");
        }
    }

    #[test]
    fn outcome_from_every_signal() {
        let out = |t: &str| norm(t).1;
        assert_eq!(out(r#"{"ResultStatus":"True"}"#), Some("success"));
        assert_eq!(out(r#"{"ResultStatus":"Failed"}"#), Some("failure"));
        assert_eq!(out(r#"{"Operation":"UserLoginFailed"}"#), Some("failure"));
        assert_eq!(
            out(
                r#"{"Operation":"UserLoginFailed","ResultStatus":"Succeeded","LogonError":"None"}"#
            ),
            Some("failure")
        );
        assert_eq!(
            out(
                r#"{"Operation":"UserLoggedIn","ResultStatus":"Succeeded","LogonError":"InvalidUserNameOrPassword"}"#
            ),
            Some("failure")
        );
        assert_eq!(
            out(r#"{"Operation":"UserLoggedIn","ResultStatus":"Succeeded","LogonError":"None"}"#),
            Some("success")
        );
        assert_eq!(out(r#"{"LogonError":"None"}"#), Some("success"));
        assert_eq!(
            out(r#"{"LogonError":"","ResultStatus":"InProgress"}"#),
            Some("unknown")
        );
        assert_eq!(out(r#"{"LogonError":null,"Operation":7}"#), None);
        assert_eq!(out(r#"{"Operation":"FileAccessed"}"#), None);
    }

    /// The workload-by-workload table of the README ("Output lines"), one row per case.
    #[test]
    fn outcome_table_by_workload() {
        let out = |t: &str| norm(t).1;
        for (workload, record, want) in [
            (
                "Exchange admin",
                r#"{"Workload":"Exchange","RecordType":1,"Operation":"Set-Mailbox","ResultStatus":"True"}"#,
                Some("success"),
            ),
            (
                "Exchange admin",
                r#"{"Workload":"Exchange","RecordType":1,"Operation":"Set-Mailbox","ResultStatus":"False"}"#,
                Some("failure"),
            ),
            (
                "Exchange mailbox",
                r#"{"Workload":"Exchange","RecordType":2,"Operation":"MailItemsAccessed","ResultStatus":"Succeeded"}"#,
                Some("success"),
            ),
            (
                "Exchange mailbox",
                r#"{"Workload":"Exchange","RecordType":3,"Operation":"MoveToDeletedItems","ResultStatus":"PartiallySucceeded"}"#,
                Some("partial"),
            ),
            (
                "SharePoint / OneDrive",
                r#"{"Workload":"SharePoint","RecordType":6,"Operation":"FileAccessed"}"#,
                None,
            ),
            (
                "Entra directory",
                r#"{"Workload":"AzureActiveDirectory","RecordType":8,"Operation":"Update user.","ResultStatus":"Success"}"#,
                Some("success"),
            ),
            (
                "Entra directory",
                r#"{"Workload":"AzureActiveDirectory","RecordType":8,"Operation":"Add member to group.","ResultStatus":"Failure"}"#,
                Some("failure"),
            ),
            (
                "Entra sign-in",
                r#"{"Workload":"AzureActiveDirectory","RecordType":15,"Operation":"UserLoggedIn","ResultStatus":"Succeeded"}"#,
                Some("success"),
            ),
            (
                "Entra sign-in",
                r#"{"Workload":"AzureActiveDirectory","RecordType":15,"Operation":"UserLoggedIn","ResultStatus":"Succeeded","LogonError":"None"}"#,
                Some("success"),
            ),
            (
                "Entra sign-in",
                r#"{"Workload":"AzureActiveDirectory","RecordType":15,"Operation":"UserLoginFailed","ResultStatus":"Succeeded","LogonError":"InvalidUserNameOrPassword"}"#,
                Some("failure"),
            ),
            (
                "Entra sign-in",
                r#"{"Workload":"AzureActiveDirectory","RecordType":15,"Operation":"UserLoginFailed","ResultStatus":"Succeeded"}"#,
                Some("failure"),
            ),
            (
                "Entra sign-in",
                r#"{"Workload":"AzureActiveDirectory","RecordType":15,"Operation":"UserLoggedIn","ResultStatus":"Succeeded","LogonError":"UserStrongAuthClientAuthNRequiredInterrupt"}"#,
                Some("failure"),
            ),
            (
                "Teams",
                r#"{"Workload":"MicrosoftTeams","RecordType":25,"Operation":"MemberAdded"}"#,
                None,
            ),
            (
                "DLP",
                r#"{"Workload":"Exchange","RecordType":13,"Operation":"DlpRuleMatch"}"#,
                None,
            ),
            (
                "any",
                r#"{"Operation":"X","ResultStatus":"InProgress"}"#,
                Some("unknown"),
            ),
            (
                "any",
                r#"{"Operation":"X","ResultStatus":true}"#,
                Some("success"),
            ),
            (
                "any",
                r#"{"Operation":"X","ResultStatus":0}"#,
                Some("unknown"),
            ),
        ] {
            assert_eq!(out(record), want, "{workload}: {record}");
        }
    }
}

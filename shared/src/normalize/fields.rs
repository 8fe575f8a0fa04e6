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
mod tests;

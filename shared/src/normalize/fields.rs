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
    ResultStatus,
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
            "ResultStatus" => Key::ResultStatus,
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
    /// `ResultStatus`.
    pub result_status: Option<Scalar<'a>>,
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
                Key::ResultStatus => &mut out.result_status,
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
}

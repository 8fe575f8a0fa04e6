//! Serde for the crate's string-like types (tenant id, content type): written as their text,
//! read through their `FromStr`, so one parser decides what is valid wherever a value comes from.

use std::fmt::Display;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// Reads a string and parses it with `T::from_str`; the parse error becomes the serde error.
pub(crate) fn deserialize_parsed<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

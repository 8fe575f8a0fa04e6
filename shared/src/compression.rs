//! Output compression codecs: gzip (what every consumer reads; the default) and zstd.

use std::fmt;
use std::str::FromStr;

/// How output objects are compressed; decides the object key's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// gzip at a level 1..=9 (default 6).
    Gzip {
        /// Compression level.
        level: u32,
    },
    /// zstd at a level 1..=19 (default 1).
    Zstd {
        /// Compression level.
        level: i32,
    },
}

impl Default for Compression {
    fn default() -> Self {
        Compression::Gzip { level: 6 }
    }
}

impl Compression {
    /// The object key suffix: `.json.gz` or `.json.zst`.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::Gzip { .. } => "json.gz",
            Compression::Zstd { .. } => "json.zst",
        }
    }

    /// The HTTP `Content-Encoding` value for the object.
    pub fn content_encoding(self) -> &'static str {
        match self {
            Compression::Gzip { .. } => "gzip",
            Compression::Zstd { .. } => "zstd",
        }
    }
}

/// A compression setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad compression {0:?}: use gzip, gzip:1..9, zstd or zstd:1..19")]
pub struct BadCompression(pub String);

impl FromStr for Compression {
    type Err = BadCompression;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadCompression(s.to_owned());
        let lower = s.trim().to_ascii_lowercase();
        let (name, level) = match lower.split_once([':', '-']) {
            Some((n, l)) => (n.to_owned(), Some(l.to_owned())),
            None => (lower.clone(), None),
        };
        match name.as_str() {
            "gzip" | "gz" => {
                let level = match level {
                    Some(l) => l.parse::<u32>().map_err(|_| bad())?,
                    None => 6,
                };
                if !(1..=9).contains(&level) {
                    return Err(bad());
                }
                Ok(Compression::Gzip { level })
            }
            "zstd" | "zst" => {
                let level = match level {
                    Some(l) => l.parse::<i32>().map_err(|_| bad())?,
                    None => 1,
                };
                if !(1..=19).contains(&level) {
                    return Err(bad());
                }
                Ok(Compression::Zstd { level })
            }
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compression::Gzip { level } => write!(f, "gzip:{level}"),
            Compression::Zstd { level } => write!(f, "zstd:{level}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(
            "gzip".parse::<Compression>().unwrap(),
            Compression::Gzip { level: 6 }
        );
        assert_eq!(
            "gzip:1".parse::<Compression>().unwrap(),
            Compression::Gzip { level: 1 }
        );
        assert_eq!(
            "zstd".parse::<Compression>().unwrap(),
            Compression::Zstd { level: 1 }
        );
        assert_eq!(
            "ZSTD-3".parse::<Compression>().unwrap(),
            Compression::Zstd { level: 3 }
        );
        for bad in ["gzip:0", "gzip:10", "zstd:0", "brotli", "gzip:x"] {
            assert!(bad.parse::<Compression>().is_err(), "{bad}");
        }
        let c = Compression::Zstd { level: 1 };
        assert_eq!(c.to_string().parse::<Compression>().unwrap(), c);
    }
}

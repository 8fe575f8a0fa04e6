//! One reader of a function's environment, with one error type that names the variable and
//! says what to set. Values are trimmed; an empty variable counts as unset.

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;

/// A configuration mistake found in the environment; the message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// A required variable is not set.
    #[error("{var} is not set: {hint}")]
    Missing {
        /// The variable.
        var: &'static str,
        /// What to put there.
        hint: &'static str,
    },
    /// A variable has an unusable value. Never used for variables that may hold secrets.
    #[error("{var}={value:?} is invalid: {problem}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What is wrong and what to use.
        problem: String,
    },
    /// Two variables that exclude each other are both set.
    #[error("both {first} and {second} are set: {hint}")]
    Conflict {
        /// The first variable.
        first: &'static str,
        /// The second variable.
        second: &'static str,
        /// Which one to keep.
        hint: &'static str,
    },
}

/// A variable lookup: the process environment in Lambda, a map in tests.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl std::fmt::Debug for Env<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Env")
    }
}

fn process_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl Env<'static> {
    /// The process environment.
    pub fn process() -> Env<'static> {
        Env {
            lookup: &process_var,
        }
    }
}

impl<'a> Env<'a> {
    /// An environment read through `lookup` (tests pass a map).
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Env<'a> {
        Env { lookup }
    }

    /// The value as set, untrimmed (for variables whose spaces matter to nobody but their
    /// reader, such as `client_secret_env` references).
    pub fn raw(&self, var: &str) -> Option<String> {
        (self.lookup)(var)
    }

    /// The trimmed value; unset or blank is `None`.
    pub fn optional(&self, var: &str) -> Option<String> {
        self.raw(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The trimmed value, or [`EnvError::Missing`] with `hint`.
    pub fn required(&self, var: &'static str, hint: &'static str) -> Result<String, EnvError> {
        self.optional(var).ok_or(EnvError::Missing { var, hint })
    }

    /// The value parsed with [`FromStr`]; unset is `None`, unparsable names the parser's
    /// complaint.
    pub fn parsed<T>(&self, var: &'static str) -> Result<Option<T>, EnvError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.optional(var) {
            None => Ok(None),
            Some(v) => v.parse::<T>().map(Some).map_err(|e| EnvError::Invalid {
                var,
                value: v,
                problem: e.to_string(),
            }),
        }
    }

    /// A whole number within `range`, `default` when unset.
    pub fn number<T>(
        &self,
        var: &'static str,
        default: T,
        range: RangeInclusive<T>,
    ) -> Result<T, EnvError>
    where
        T: FromStr + PartialOrd + Display + Copy,
    {
        match self.optional(var) {
            None => Ok(default),
            Some(v) => v
                .parse::<T>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| EnvError::Invalid {
                    var,
                    problem: format!(
                        "expected a whole number from {} to {} (default {default})",
                        range.start(),
                        range.end()
                    ),
                    value: v,
                }),
        }
    }

    /// Exactly one of two variables that exclude each other: `Ok(Left)` / `Ok(Right)` with its
    /// value, [`EnvError::Conflict`] when both are set, [`EnvError::Missing`] (naming `first`)
    /// when neither is.
    pub fn one_of(
        &self,
        first: &'static str,
        second: &'static str,
        hint: &'static str,
    ) -> Result<Either, EnvError> {
        match (self.optional(first), self.optional(second)) {
            (Some(a), None) => Ok(Either::First(a)),
            (None, Some(b)) => Ok(Either::Second(b)),
            (Some(_), Some(_)) => Err(EnvError::Conflict {
                first,
                second,
                hint,
            }),
            (None, None) => Err(EnvError::Missing { var: first, hint }),
        }
    }
}

/// Which of two exclusive variables was set, with its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Either {
    /// The first one.
    First(String),
    /// The second one.
    Second(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn map(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn blank_is_unset_and_values_are_trimmed() {
        let lookup = map(&[("A", "  x "), ("B", "   ")]);
        let env = Env::new(&lookup);
        assert_eq!(env.optional("A").as_deref(), Some("x"));
        assert_eq!(env.optional("B"), None);
        assert_eq!(
            env.required("B", "set B"),
            Err(EnvError::Missing {
                var: "B",
                hint: "set B"
            })
        );
    }

    #[test]
    fn numbers_within_range() {
        let lookup = map(&[("N", "7"), ("BIG", "99"), ("WORD", "seven")]);
        let env = Env::new(&lookup);
        assert_eq!(env.number("N", 1u32, 1..=10), Ok(7));
        assert_eq!(env.number("UNSET", 3u32, 1..=10), Ok(3));
        for var in ["BIG", "WORD"] {
            let e = env.number(var, 3u32, 1..=10).unwrap_err().to_string();
            assert!(
                e.contains(var) && e.contains("from 1 to 10 (default 3)"),
                "{e}"
            );
        }
    }

    #[test]
    fn exactly_one_of_two() {
        let lookup = map(&[("A", "a"), ("B", "b")]);
        let env = Env::new(&lookup);
        assert!(matches!(
            env.one_of("A", "B", "one"),
            Err(EnvError::Conflict { .. })
        ));
        assert_eq!(env.one_of("A", "C", "one"), Ok(Either::First("a".into())));
        assert_eq!(env.one_of("C", "B", "one"), Ok(Either::Second("b".into())));
        assert!(matches!(
            env.one_of("C", "D", "one"),
            Err(EnvError::Missing { var: "C", .. })
        ));
    }
}

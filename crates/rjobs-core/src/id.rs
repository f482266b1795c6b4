//! Ids: 24 lowercase hex characters, laid out like a MongoDB ObjectId — 4 bytes of seconds since
//! the epoch, 5 random bytes fixed per generator, 3 bytes of counter — so they sort by creation
//! time, which gives list endpoints and iteration order a stable, meaningful order for free.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use rand::RngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Timestamp;

/// A 24-hex-character id, always stored lower case.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(String);

/// The text was not 24 hexadecimal characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a 24-character hexadecimal id")]
pub struct InvalidId;

impl Id {
    /// Parses an id, accepting upper-case hex and normalising it to lower case.
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        if s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Id(s.to_ascii_lowercase()))
        } else {
            Err(InvalidId)
        }
    }

    /// The id as lower-case hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Builds an id from 12 raw bytes.
    pub fn from_bytes(bytes: [u8; 12]) -> Self {
        Id(hex::encode(bytes))
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}

impl FromStr for Id {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Id::parse(s)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl schemars::JsonSchema for Id {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Id".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "pattern": "^[0-9a-f]{24}$"})
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Id::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Generates ids: the timestamp comes from the caller (who got it from the [`crate::Clock`]).
#[derive(Debug)]
pub struct IdGen {
    random: [u8; 5],
    counter: AtomicU32,
}

impl Default for IdGen {
    fn default() -> Self {
        Self::new()
    }
}

impl IdGen {
    /// A generator with fresh random process bytes and a random counter start.
    pub fn new() -> Self {
        let mut rng = rand::thread_rng();
        let mut random = [0u8; 5];
        rng.fill_bytes(&mut random);
        IdGen {
            random,
            counter: AtomicU32::new(rng.next_u32() & 0x00ff_ffff),
        }
    }

    /// A new id stamped with `now`.
    pub fn next(&self, now: Timestamp) -> Id {
        let secs = u32::try_from(now.as_millis().div_euclid(1000)).unwrap_or(u32::MAX);
        let count = self.counter.fetch_add(1, Ordering::Relaxed) & 0x00ff_ffff;
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&secs.to_be_bytes());
        b[4..9].copy_from_slice(&self.random);
        b[9..].copy_from_slice(&count.to_be_bytes()[1..]);
        Id::from_bytes(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let cases = [
            ("575ec8687ae143cd83dc4a97", Some("575ec8687ae143cd83dc4a97")),
            ("575EC8687AE143CD83DC4A97", Some("575ec8687ae143cd83dc4a97")),
            ("575ec8687ae143cd83dc4a9", None),
            ("575ec8687ae143cd83dc4a977", None),
            ("575ec8687ae143cd83dc4a9g", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(
                Id::parse(input).ok().map(|i| i.0),
                want.map(String::from),
                "{input}"
            );
        }
    }

    #[test]
    fn ids_sort_by_time_and_are_unique() {
        let g = IdGen::new();
        let a = g.next(Timestamp::from_millis(1_700_000_000_000));
        let b = g.next(Timestamp::from_millis(1_700_000_001_000));
        assert!(a < b);
        assert!(a.as_str().starts_with(&format!("{:08x}", 1_700_000_000u32)));
        let many: std::collections::HashSet<_> = (0..10_000)
            .map(|_| g.next(Timestamp::from_millis(1_700_000_000_000)))
            .collect();
        assert_eq!(many.len(), 10_000);
    }

    proptest::proptest! {
        #[test]
        fn generated_ids_round_trip(ms in 0i64..4_000_000_000_000) {
            let id = IdGen::new().next(Timestamp::from_millis(ms));
            proptest::prop_assert_eq!(Id::parse(id.as_str()).unwrap(), id);
        }
    }
}

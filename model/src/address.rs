//! Resource addresses: `azure_subnet.anf`, `lanestack_data.shard[2]`, `data.azure_x.y["k"]`.
//!
//! An address is an immutable value whose text form round-trips through `Display`/`FromStr`;
//! it is how users name resources on the command line (`--target`, `--replace`, `state show`)
//! and how state, plans and JSON output refer to them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Whether an address names a managed resource or a data source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    /// A `resource` block: lanestack creates, updates and deletes it.
    Managed,
    /// A `data` block: lanestack only reads it.
    Data,
}

/// Which instance of a resource block with `count` or `for_each`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InstanceKey {
    /// `count.index`.
    Int(i64),
    /// `each.key`.
    Str(String),
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceKey::Int(i) => write!(f, "[{i}]"),
            InstanceKey::Str(s) => write!(f, "[{}]", serde_json::Value::String(s.clone())),
        }
    }
}

/// The address of a resource block (all its instances): `lanestack_data.shard`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockAddress {
    /// Managed resource or data source.
    pub mode: Mode,
    /// The resource type, `<provider>_<kind>`.
    pub type_name: String,
    /// The block's name.
    pub name: String,
}

impl BlockAddress {
    /// A managed resource block's address.
    pub fn managed(type_name: impl Into<String>, name: impl Into<String>) -> BlockAddress {
        BlockAddress { mode: Mode::Managed, type_name: type_name.into(), name: name.into() }
    }

    /// The address of one instance of this block.
    pub fn instance(&self, key: Option<InstanceKey>) -> ResourceAddress {
        ResourceAddress { block: self.clone(), key }
    }

    /// The provider's name: the type name's prefix before the first `_`.
    pub fn provider(&self) -> &str {
        provider_of(&self.type_name)
    }
}

/// The provider name of a resource type: the prefix before the first `_`.
pub fn provider_of(type_name: &str) -> &str {
    type_name.split_once('_').map_or(type_name, |(p, _)| p)
}

impl fmt::Display for BlockAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mode == Mode::Data {
            f.write_str("data.")?;
        }
        write!(f, "{}.{}", self.type_name, self.name)
    }
}

/// The address of one resource instance: `lanestack_data.shard[2]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceAddress {
    /// The block the instance belongs to.
    pub block: BlockAddress,
    /// The instance key, when the block has `count` or `for_each`.
    pub key: Option<InstanceKey>,
}

impl ResourceAddress {
    /// A managed resource without instance key.
    pub fn managed(type_name: impl Into<String>, name: impl Into<String>) -> ResourceAddress {
        BlockAddress::managed(type_name, name).instance(None)
    }

    /// The resource type.
    pub fn type_name(&self) -> &str {
        &self.block.type_name
    }
}

impl fmt::Display for ResourceAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.block)?;
        if let Some(k) = &self.key {
            write!(f, "{k}")?;
        }
        Ok(())
    }
}

/// A malformed resource address.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid resource address {text:?}: {reason} (expected TYPE.NAME, TYPE.NAME[0], TYPE.NAME[\"key\"] or data.TYPE.NAME)"
)]
pub struct ParseAddressError {
    text: String,
    reason: &'static str,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl FromStr for ResourceAddress {
    type Err = ParseAddressError;

    fn from_str(s: &str) -> Result<ResourceAddress, ParseAddressError> {
        let err = |reason| ParseAddressError { text: s.to_owned(), reason };
        let (head, key) = match s.find('[') {
            Some(open) => {
                let rest = &s[open..];
                if !rest.ends_with(']') || rest.len() < 3 {
                    return Err(err("unclosed instance key"));
                }
                let inner = &rest[1..rest.len() - 1];
                let key = if inner.starts_with('"') {
                    let k: String =
                        serde_json::from_str(inner).map_err(|_| err("bad quoted instance key"))?;
                    InstanceKey::Str(k)
                } else {
                    InstanceKey::Int(
                        inner.parse().map_err(|_| err("instance key is not a number or a quoted string"))?,
                    )
                };
                (&s[..open], Some(key))
            }
            None => (s, None),
        };
        let parts: Vec<&str> = head.split('.').collect();
        let (mode, type_name, name) = match parts.as_slice() {
            ["data", t, n] => (Mode::Data, *t, *n),
            [t, n] => (Mode::Managed, *t, *n),
            _ => return Err(err("wrong number of parts")),
        };
        if !is_name(type_name) || !is_name(name) {
            return Err(err("type and name must be identifiers"));
        }
        Ok(ResourceAddress {
            block: BlockAddress { mode, type_name: type_name.to_owned(), name: name.to_owned() },
            key,
        })
    }
}

impl Serialize for ResourceAddress {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ResourceAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ResourceAddress, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for text in
            ["azure_subnet.anf", "lanestack_data.x[0]", r#"lanestack_data.x["a.b"]"#, "data.azure_x.y"]
        {
            let a: ResourceAddress = text.parse().unwrap();
            assert_eq!(a.to_string(), text);
        }
    }

    #[test]
    fn rejects_garbage() {
        for text in ["", "a", "a.b.c.d", "a.b[", "a.b[x]", "1a.b", "a.b[]"] {
            assert!(text.parse::<ResourceAddress>().is_err(), "{text}");
        }
    }

    #[test]
    fn provider_is_the_type_prefix() {
        assert_eq!(ResourceAddress::managed("azure_subnet", "x").block.provider(), "azure");
        assert_eq!(provider_of("lanestack_data"), "lanestack");
    }
}

//! Keeping sensitive values out of everything people and machines read.
//!
//! Two tools live here. [`Secrets`] is the one switch every renderer takes (text, markdown,
//! JSON): [`Secrets::Redact`] by default, so that a sensitive part is written as the
//! [`REDACTED`] marker (or `null` in JSON, flagged in `*_sensitive`); [`Secrets::Show`] only
//! when the user asked for it (the CLI decides, and refuses in CI unless forced).
//!
//! [`Seal`] is how a saved plan keeps secrets out of its file yet lets apply notice when one
//! changed: every known sensitive part is replaced by `sealed:sha256:<hex>` of a per-file random salt
//! and the part's canonical JSON. Equal secrets in one file get equal seals (so diffs of a
//! saved plan show the same changes as the plan did), and the salt makes a dictionary of
//! likely secrets useless across files. Design decision: a hash rather than encryption, because
//! there is no key to manage and apply never needs the secret back from the file: it
//! re-obtains it from the same inputs as the plan (variables) or from state, and checks it
//! against the seal.

use lanestack_model::Value;
use sha2::{Digest, Sha256};

/// What a sensitive part is shown as, in text and markdown.
pub const REDACTED: &str = "(sensitive)";

/// Whether renderers may show sensitive values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Secrets {
    /// Replace every sensitive part with a redaction marker (the default, and the only safe
    /// choice for anything that leaves the machine: CI logs, PR comments, files).
    #[default]
    Redact,
    /// Show sensitive values. For local debugging only.
    Show,
}

impl Secrets {
    /// The value as it may be shown: unchanged (still marked, so renderers redact it) under
    /// [`Secrets::Redact`], with every mark removed under [`Secrets::Show`].
    pub fn prepare(self, v: &Value) -> Value {
        match self {
            Secrets::Redact => v.clone(),
            Secrets::Show => v.unmark(),
        }
    }
}

/// The salt of a saved plan's sealed secrets. Must not be used to hide anything from a
/// determined reader with the inputs at hand: it only proves equality.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seal {
    salt: String,
}

/// The prefix of every sealed value.
const PREFIX: &str = "sealed:sha256:";

impl Seal {
    /// A seal with this salt (read from a saved plan).
    pub fn new(salt: impl Into<String>) -> Seal {
        Seal { salt: salt.into() }
    }

    /// A seal with a fresh random salt.
    pub fn fresh() -> Seal {
        Seal::new(crate::state::new_uuid())
    }

    /// The salt, to store beside the sealed values.
    pub fn salt(&self) -> &str {
        &self.salt
    }

    /// The sealed form of a value: `sealed:sha256:<hex>` of the salt and the value's canonical JSON
    /// (marks removed, object keys sorted).
    pub fn seal(&self, v: &Value) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.salt.as_bytes());
        hasher.update([0u8]);
        hasher.update(v.unmark().to_json().to_string().as_bytes());
        let digest = hasher.finalize();
        let mut out = String::with_capacity(PREFIX.len() + 64);
        out.push_str(PREFIX);
        for byte in digest {
            out.push_str(&format!("{byte:02x}"));
        }
        out
    }

    /// Whether a value has the form of a seal (as the sensitive parts of a plan read from a
    /// file have, until [`crate::planfile::unseal`] puts the secrets back).
    pub fn is_seal(v: &Value) -> bool {
        v.as_str().and_then(|s| s.strip_prefix(PREFIX)).is_some_and(|hex| {
            hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
    }

    /// Whether `secret` is the value that was sealed as `sealed`.
    pub fn matches(&self, sealed: &Value, secret: &Value) -> bool {
        sealed.as_str().is_some_and(|s| s == self.seal(secret))
    }

    /// Whether a part should be sealed: a known, non-null value (a null or unknown part holds no
    /// secret).
    pub fn applies_to(part: &Value) -> bool {
        !part.is_null() && !part.contains_unknown()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_are_salted_and_prove_equality() {
        let a = Seal::new("salt-a");
        let b = Seal::new("salt-b");
        let secret = Value::from("hunter2").mark_sensitive();
        let sealed = a.seal(&secret);
        assert!(sealed.starts_with("sealed:sha256:") && !sealed.contains("hunter2"), "{sealed}");
        assert!(Seal::is_seal(&Value::from(sealed.clone())));
        assert!(!Seal::is_seal(&Value::from("sha256:0123")), "an image digest is no seal");
        assert_eq!(sealed, a.seal(&Value::from("hunter2")), "marks do not change the seal");
        assert_ne!(sealed, b.seal(&secret), "another salt, another seal");
        assert!(a.matches(&Value::from(sealed.clone()), &Value::from("hunter2")));
        assert!(!a.matches(&Value::from(sealed), &Value::from("hunter3")));
    }

    #[test]
    fn show_removes_marks_and_redact_keeps_them() {
        let v = Value::object([("k", Value::from("s").mark_sensitive())]);
        assert_eq!(Secrets::Redact.prepare(&v), v);
        assert!(!Secrets::Show.prepare(&v).contains_sensitive());
    }
}

//! Schemas: what a provider says about each resource type's attributes.
//!
//! The engine checks a stack against these schemas (unknown, missing and mistyped attributes
//! are diagnostics with spans), and [`plan_by_schema`] turns a schema into the provider facts
//! most resource types need (planned state, attributes that force replacement), so that a simple
//! provider can answer `plan` in one line.

use std::collections::BTreeMap;
use std::fmt;

use crate::path::{AttrPath, PathStep};
use crate::provider::PlanResponse;
use crate::value::Value;

/// The type of an attribute's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttrType {
    /// Any value at all (like Terraform's `any` / dynamic).
    Any,
    /// A string. Numbers and booleans convert to strings.
    String,
    /// A number. Strings that parse as numbers convert.
    Number,
    /// A boolean. The strings "true" and "false" convert.
    Bool,
    /// A list whose elements all have one type.
    List(Box<AttrType>),
    /// A map from string keys to values of one type.
    Map(Box<AttrType>),
    /// An object with these attributes (all optional).
    Object(BTreeMap<String, AttrType>),
}

impl fmt::Display for AttrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrType::Any => f.write_str("any"),
            AttrType::String => f.write_str("string"),
            AttrType::Number => f.write_str("number"),
            AttrType::Bool => f.write_str("bool"),
            AttrType::List(e) => write!(f, "list({e})"),
            AttrType::Map(e) => write!(f, "map({e})"),
            AttrType::Object(attrs) => {
                f.write_str("object({")?;
                for (i, (k, t)) in attrs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} = {t}")?;
                }
                f.write_str("})")
            }
        }
    }
}

impl AttrType {
    /// Converts `v` to this type the way Terraform does (numbers and booleans to strings and
    /// back), or says why it cannot. Unknown values and nulls pass unchanged; sensitive marks are
    /// kept.
    pub fn convert(&self, v: Value) -> Result<Value, TypeMismatch> {
        let mismatch = |v: &Value, at: AttrPath| TypeMismatch {
            path: at,
            expected: self.to_string(),
            found: v.type_name().to_owned(),
        };
        match (self, v) {
            (_, v @ (Value::Null | Value::Unknown)) | (AttrType::Any, v) => Ok(v),
            (t, Value::Sensitive(inner)) => Ok(t.convert(*inner)?.mark_sensitive()),
            (AttrType::String, v @ Value::String(_)) => Ok(v),
            (AttrType::String, Value::Number(n)) => Ok(Value::String(n.to_string())),
            (AttrType::String, Value::Bool(b)) => Ok(Value::String(b.to_string())),
            (AttrType::Number, v @ Value::Number(_)) => Ok(v),
            (AttrType::Number, Value::String(s)) => match s.trim().parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Value::from_f64(f)),
                _ => Err(mismatch(&Value::String(s), AttrPath::root())),
            },
            (AttrType::Bool, v @ Value::Bool(_)) => Ok(v),
            (AttrType::Bool, Value::String(s)) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
            (AttrType::List(elem), Value::List(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, e)| elem.convert(e).map_err(|m| m.under(PathStep::Index(i))))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::List),
            (AttrType::Map(elem), Value::Object(m)) => m
                .into_iter()
                .map(|(k, e)| match elem.convert(e) {
                    Ok(e) => Ok((k, e)),
                    Err(m) => Err(m.under(PathStep::Attr(k))),
                })
                .collect::<Result<crate::map::Map, _>>()
                .map(Value::Object),
            (AttrType::Object(attrs), Value::Object(m)) => {
                let mut out = crate::map::Map::new();
                for (k, e) in m {
                    let Some(t) = attrs.get(&k) else {
                        return Err(TypeMismatch {
                            path: AttrPath::attr(k.clone()),
                            expected: format!("one of the attributes of {self}"),
                            found: format!("unexpected attribute {k:?}"),
                        });
                    };
                    out.insert(k.clone(), t.convert(e).map_err(|m| m.under(PathStep::Attr(k)))?);
                }
                Ok(Value::Object(out))
            }
            (_, v) => Err(mismatch(&v, AttrPath::root())),
        }
    }
}

/// A value that does not fit an [`AttrType`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}expected {expected}, found {found}", if path.is_root() { String::new() } else { format!("at {path}: ") })]
pub struct TypeMismatch {
    /// Where inside the value the mismatch is.
    pub path: AttrPath,
    /// The expected type, in words.
    pub expected: String,
    /// What was found, in words.
    pub found: String,
}

impl TypeMismatch {
    fn under(mut self, step: PathStep) -> TypeMismatch {
        let mut steps = vec![step];
        steps.extend(self.path.steps().iter().cloned());
        self.path = AttrPath::from(steps);
        self
    }
}

/// Who sets an attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// The stack must set it.
    Required,
    /// The stack may set it; otherwise it is null.
    Optional,
    /// The provider or the server sets it; the stack must not.
    Computed,
    /// The stack may set it; otherwise the provider or server chooses it.
    OptionalComputed,
}

/// How two values of an attribute are compared: values that normalise to the same thing are
/// the same, and the engine shows no change between them (the server's form is kept). Defaults
/// that the server fills in are not a normalisation: declare them [`Presence::OptionalComputed`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Normalize {
    /// Compared as they are (the default).
    #[default]
    None,
    /// A string holding a JSON document: whitespace and key order do not matter.
    Json,
    /// A string holding a YAML document: formatting, key order and quoting do not matter.
    Yaml,
    /// A string compared without regard to case (Azure resource ids, regions).
    CaseInsensitive,
    /// A list whose order does not matter (set semantics).
    Set,
}

/// Who decides an attribute's value once the object exists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Owner {
    /// The stack: a difference from the configuration is a change to make (the default).
    #[default]
    User,
    /// The server, unless the stack sets it: when the stack leaves it unset, whatever the
    /// server holds is kept and never shown as a change.
    Server,
    /// The stack at creation only; afterwards something else owns it (a node count that an
    /// autoscaler changes): later differences are neither changes nor replacements.
    InitialOnly,
}

/// One attribute of a resource type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// The value's type.
    pub ty: AttrType,
    /// Who sets it.
    pub presence: Presence,
    /// A change to it cannot be made in place: the resource is replaced.
    pub force_new: bool,
    /// Its value is never displayed.
    pub sensitive: bool,
    /// One sentence for `--help`-style docs and diagnostics.
    pub description: String,
    /// How values are compared (top-level attributes only).
    pub normalize: Normalize,
    /// Who owns the value once the object exists (top-level attributes only).
    pub owner: Owner,
}

impl Attribute {
    fn new(ty: AttrType, presence: Presence) -> Attribute {
        Attribute {
            ty,
            presence,
            force_new: false,
            sensitive: false,
            description: String::new(),
            normalize: Normalize::None,
            owner: Owner::User,
        }
    }
    /// Sets how values are compared.
    pub fn normalize(mut self, normalize: Normalize) -> Attribute {
        self.normalize = normalize;
        self
    }
    /// Sets who owns the value once the object exists.
    pub fn owned_by(mut self, owner: Owner) -> Attribute {
        self.owner = owner;
        self
    }
    /// A required attribute.
    pub fn required(ty: AttrType) -> Attribute {
        Attribute::new(ty, Presence::Required)
    }
    /// An optional attribute.
    pub fn optional(ty: AttrType) -> Attribute {
        Attribute::new(ty, Presence::Optional)
    }
    /// A computed attribute.
    pub fn computed(ty: AttrType) -> Attribute {
        Attribute::new(ty, Presence::Computed)
    }
    /// An optional attribute that the provider fills in when absent.
    pub fn optional_computed(ty: AttrType) -> Attribute {
        Attribute::new(ty, Presence::OptionalComputed)
    }
    /// Marks the attribute as forcing replacement when it changes.
    pub fn force_new(mut self) -> Attribute {
        self.force_new = true;
        self
    }
    /// Marks the attribute sensitive.
    pub fn sensitive(mut self) -> Attribute {
        self.sensitive = true;
        self
    }
    /// Sets the description.
    pub fn describe(mut self, text: impl Into<String>) -> Attribute {
        self.description = text.into();
        self
    }
    /// True when the stack may set this attribute.
    pub fn settable(&self) -> bool {
        self.presence != Presence::Computed
    }
}

/// How a nested block repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    /// At most one block; its value is an object (or null).
    Single,
    /// Any number of blocks; the value is a list of objects.
    List,
}

/// A nested block type inside a resource (`network_profile { ... }`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NestedBlock {
    /// How it repeats.
    pub nesting: Nesting,
    /// Its contents.
    pub block: Block,
    /// A change inside it forces replacement.
    pub force_new: bool,
}

/// The attributes and nested blocks of a resource type, or of a nested block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Block {
    /// Attributes by name.
    pub attributes: BTreeMap<String, Attribute>,
    /// Nested block types by name.
    pub blocks: BTreeMap<String, NestedBlock>,
}

impl Block {
    /// An empty block.
    pub fn new() -> Block {
        Block::default()
    }
    /// Adds an attribute.
    pub fn attr(mut self, name: &str, attribute: Attribute) -> Block {
        self.attributes.insert(name.to_owned(), attribute);
        self
    }
    /// Adds a nested block type.
    pub fn block(mut self, name: &str, nesting: Nesting, block: Block) -> Block {
        self.blocks.insert(name.to_owned(), NestedBlock { nesting, block, force_new: false });
        self
    }
    /// The names of every attribute and nested block, for "did you mean" suggestions.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.attributes.keys().chain(self.blocks.keys()).map(String::as_str)
    }
}

/// Everything a provider says about one resource type (or data source).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceSchema {
    /// Its attributes and nested blocks.
    pub block: Block,
    /// One sentence about what it is.
    pub description: String,
    /// Whether it holds data that a delete or replace would lose (volumes, claims,
    /// registries): plan reviews flag every change to it.
    pub data_bearing: bool,
}

impl ResourceSchema {
    /// A schema with this block.
    pub fn new(description: impl Into<String>, block: Block) -> ResourceSchema {
        ResourceSchema { block, description: description.into(), data_bearing: false }
    }
}

/// Everything a provider says about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProviderSchema {
    /// The attributes of its `provider "<name>" { ... }` block.
    pub provider: Block,
    /// Managed resource types by full type name (`azure_subnet`).
    pub resources: BTreeMap<String, ResourceSchema>,
    /// Data source types by full type name.
    pub data_sources: BTreeMap<String, ResourceSchema>,
}

/// Computes the provider facts for a resource from its schema alone: the planned state is the
/// config, with computed attributes carried over from the prior state (or unknown when the
/// resource is new or replaced), and every changed `force_new` attribute forces replacement.
///
/// `config` must already be unmarked and converted to the schema's types.
pub fn plan_by_schema(block: &Block, prior: Option<&Value>, config: &Value) -> PlanResponse {
    let mut requires_replace = Vec::new();
    if let Some(prior) = prior {
        for (name, attr) in &block.attributes {
            if attr.force_new && attr.settable() {
                let path = AttrPath::attr(name.clone());
                let was = prior.get(&path).unwrap_or(&Value::Null);
                let now = config.get(&path).unwrap_or(&Value::Null);
                let carried = attr.presence == Presence::OptionalComputed && now.is_null();
                if was != now && !carried {
                    requires_replace.push(path);
                }
            }
        }
        for (name, nested) in &block.blocks {
            let path = AttrPath::attr(name.clone());
            if nested.force_new && prior.get(&path) != config.get(&path) {
                requires_replace.push(path);
            }
        }
    }
    let keep_computed = prior.filter(|_| requires_replace.is_empty());
    let mut planned = crate::map::Map::with_capacity(block.attributes.len() + block.blocks.len());
    for (name, attr) in &block.attributes {
        let path = AttrPath::attr(name.clone());
        let set = config.get(&path).cloned().unwrap_or(Value::Null);
        let value = match attr.presence {
            Presence::Required | Presence::Optional => set,
            Presence::Computed => {
                keep_computed.map_or(Value::Unknown, |p| p.get(&path).cloned().unwrap_or(Value::Null))
            }
            Presence::OptionalComputed if set.is_null() => {
                keep_computed.map_or(Value::Unknown, |p| p.get(&path).cloned().unwrap_or(Value::Null))
            }
            Presence::OptionalComputed => set,
        };
        planned.insert(name.clone(), value);
    }
    for name in block.blocks.keys() {
        let path = AttrPath::attr(name.clone());
        planned.insert(name.clone(), config.get(&path).cloned().unwrap_or(Value::Null));
    }
    PlanResponse { planned_state: Value::Object(planned), requires_replace }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> Block {
        Block::new()
            .attr("name", Attribute::required(AttrType::String).force_new())
            .attr("size", Attribute::optional(AttrType::Number))
            .attr("id", Attribute::computed(AttrType::String))
    }

    #[test]
    fn new_resources_have_unknown_computed_attributes() {
        let config = Value::object([("name", Value::from("a")), ("size", Value::from(1))]);
        let r = plan_by_schema(&block(), None, &config);
        assert_eq!(r.planned_state.get(&AttrPath::attr("id")), Some(&Value::Unknown));
        assert!(r.requires_replace.is_empty());
    }

    #[test]
    fn force_new_change_replaces_and_forgets_computed() {
        let prior =
            Value::object([("name", Value::from("a")), ("size", Value::Null), ("id", Value::from("x"))]);
        let config = Value::object([("name", Value::from("b"))]);
        let r = plan_by_schema(&block(), Some(&prior), &config);
        assert_eq!(r.requires_replace, vec![AttrPath::attr("name")]);
        assert_eq!(r.planned_state.get(&AttrPath::attr("id")), Some(&Value::Unknown));
    }

    #[test]
    fn in_place_change_keeps_computed() {
        let prior =
            Value::object([("name", Value::from("a")), ("size", Value::from(1)), ("id", Value::from("x"))]);
        let config = Value::object([("name", Value::from("a")), ("size", Value::from(2))]);
        let r = plan_by_schema(&block(), Some(&prior), &config);
        assert!(r.requires_replace.is_empty());
        assert_eq!(r.planned_state.get(&AttrPath::attr("id")), Some(&Value::from("x")));
    }

    #[test]
    fn conversion_follows_terraform() {
        assert_eq!(AttrType::String.convert(Value::from(3)), Ok(Value::from("3")));
        assert_eq!(AttrType::Number.convert(Value::from("4")), Ok(Value::from(4)));
        let err = AttrType::List(Box::new(AttrType::Number))
            .convert(Value::List(vec![Value::from(1), Value::from("x")]))
            .unwrap_err();
        assert_eq!(err.to_string(), "at [1]: expected number, found string");
    }
}

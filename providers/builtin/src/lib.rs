//! The built-in provider, named `lanestack`.
//!
//! [`BuiltinProvider`] implements [`lanestack_model::Provider`] for two resource types that need
//! no cloud:
//!
//! - `lanestack_data` ([`mod@data`]): a value with a lifecycle, like Terraform's `terraform_data`.
//!   Its `output` mirrors its `input`, and a change to `triggers_replace` replaces it.
//! - `lanestack_file` ([`mod@file`]): a local file, like Terraform's `local_file`.
//!
//! and one data source, `lanestack_download` ([`mod@download`]): a file from a URL, pinned by
//! its SHA-256 and kept under the stack's `.lanestack/downloads/`. Relative paths
//!   resolve against the base directory the provider was built with (the CLI passes the stack
//!   directory), never against the process's working directory, so that a stack means the same
//!   thing wherever it is run from.
//!
//! Like every provider it reports facts and carries out single steps; the engine chooses between
//! update and replace and orders the steps.

pub mod data;
pub mod download;
pub mod file;

use std::path::{Path, PathBuf};

use lanestack_model::{
    ApplyRequest, AttrPath, Block, BoxFuture, DataRequest, ErrorKind, PlanRequest, PlanResponse, Provider,
    ProviderError, ProviderSchema, ReadRequest, ResourceAddress, Value,
};

/// The provider's name, as used in type prefixes (`lanestack_data`).
pub const PROVIDER_NAME: &str = "lanestack";

/// The built-in provider. Cheap to share: it holds only its schema and base directory.
#[derive(Debug)]
pub struct BuiltinProvider {
    schema: ProviderSchema,
    // Copies of the two resource blocks, so that `plan` needs no fallible map lookup.
    data_block: Block,
    file_block: Block,
    base_dir: PathBuf,
}

/// The resource types this provider serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Data,
    File,
}

impl Kind {
    fn of(address: &ResourceAddress) -> Result<Kind, ProviderError> {
        match address.type_name() {
            data::TYPE_NAME => Ok(Kind::Data),
            file::TYPE_NAME => Ok(Kind::File),
            other => Err(ProviderError::new(
                ErrorKind::Invalid,
                format!("{address}: the lanestack provider has no resource type {other:?}"),
            )),
        }
    }
}

impl BuiltinProvider {
    /// A provider whose `lanestack_file` resolves relative paths against `base_dir` (the stack
    /// directory).
    pub fn new(base_dir: impl Into<PathBuf>) -> BuiltinProvider {
        let (data_schema, file_schema) = (data::schema(), file::schema());
        let (data_block, file_block) = (data_schema.block.clone(), file_schema.block.clone());
        let mut schema = ProviderSchema::default();
        schema.resources.insert(data::TYPE_NAME.to_owned(), data_schema);
        schema.resources.insert(file::TYPE_NAME.to_owned(), file_schema);
        schema.data_sources.insert(download::TYPE_NAME.to_owned(), download::schema());
        BuiltinProvider { schema, data_block, file_block, base_dir: base_dir.into() }
    }

    /// The directory relative `lanestack_file` paths resolve against.
    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    fn block(&self, kind: Kind) -> &Block {
        match kind {
            Kind::Data => &self.data_block,
            Kind::File => &self.file_block,
        }
    }
}

impl Provider for BuiltinProvider {
    fn name(&self) -> &str {
        PROVIDER_NAME
    }

    fn schema(&self) -> &ProviderSchema {
        &self.schema
    }

    fn configure<'a>(&'a self, config: &'a Value) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            match config.as_object() {
                Some(attrs) if !attrs.is_empty() => Err(ProviderError::new(
                    ErrorKind::Invalid,
                    "the lanestack provider takes no configuration; remove the attributes of its provider block",
                )),
                _ => Ok(()),
            }
        })
    }

    fn validate(&self, address: &ResourceAddress, config: &Value) -> Vec<(AttrPath, String)> {
        if address.type_name() == download::TYPE_NAME {
            return download::validate(config);
        }
        match Kind::of(address) {
            Ok(Kind::Data) => Vec::new(),
            Ok(Kind::File) => file::validate(config),
            Err(e) => vec![(AttrPath::root(), e.message)],
        }
    }

    fn plan<'a>(&'a self, request: PlanRequest<'a>) -> BoxFuture<'a, Result<PlanResponse, ProviderError>> {
        Box::pin(async move {
            let kind = Kind::of(request.address)?;
            let block = self.block(kind);
            match kind {
                Kind::Data => Ok(data::plan(block, request)),
                Kind::File => file::plan(block, request),
            }
        })
    }

    fn apply<'a>(&'a self, request: ApplyRequest<'a>) -> BoxFuture<'a, Result<Value, ProviderError>> {
        Box::pin(async move {
            match Kind::of(request.address)? {
                Kind::Data => data::apply(request),
                Kind::File => file::apply(&self.base_dir, request),
            }
        })
    }

    fn read<'a>(&'a self, request: ReadRequest<'a>) -> BoxFuture<'a, Result<Option<Value>, ProviderError>> {
        Box::pin(async move {
            match Kind::of(request.address)? {
                Kind::Data => Ok(data::read(request)),
                Kind::File => file::read(&self.base_dir, request),
            }
        })
    }

    fn read_data<'a>(&'a self, request: DataRequest<'a>) -> BoxFuture<'a, Result<Value, ProviderError>> {
        Box::pin(async move {
            if request.address.type_name() == download::TYPE_NAME {
                return download::read(&self.base_dir, request).await;
            }
            Err(ProviderError::new(
                ErrorKind::Invalid,
                format!(
                    "{}: the lanestack provider has no data source {:?}",
                    request.address,
                    request.address.type_name()
                ),
            ))
        })
    }
}

/// The attribute `name` of an object value, or null.
fn attr<'v>(v: &'v Value, name: &str) -> &'v Value {
    v.as_object().and_then(|m| m.get(name)).unwrap_or(&Value::Null)
}

/// Sets attribute `name` of `v` (which must be an object; anything else is left alone).
fn set_attr(v: &mut Value, name: &str, new: Value) {
    if let Value::Object(m) = v {
        m.insert(name.to_owned(), new);
    }
}

/// Lowercase hex of the SHA-256 of `bytes`.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn unknown_types_are_invalid_not_panics() {
        let p = BuiltinProvider::new(".");
        let address = ResourceAddress::managed("lanestack_nope", "x");
        let config = Value::object([("a", Value::from(1))]);
        let err = p.plan(PlanRequest { address: &address, prior_state: None, config: &config }).await;
        assert_eq!(err.unwrap_err().kind, ErrorKind::Invalid);
        assert_eq!(p.validate(&address, &config).len(), 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn configure_accepts_only_an_empty_block() {
        let p = BuiltinProvider::new(".");
        assert!(p.configure(&Value::Null).await.is_ok());
        assert!(p.configure(&Value::object::<&str>([])).await.is_ok());
        let bad = Value::object([("region", Value::from("x"))]);
        assert_eq!(p.configure(&bad).await.unwrap_err().kind, ErrorKind::Invalid);
    }

    #[test]
    fn schema_names_both_types_and_the_download_data_source() {
        let p = BuiltinProvider::new(".");
        assert_eq!(p.name(), "lanestack");
        assert_eq!(p.schema().resources.keys().collect::<Vec<_>>(), ["lanestack_data", "lanestack_file"]);
        assert_eq!(p.schema().data_sources.keys().collect::<Vec<_>>(), ["lanestack_download"]);
    }

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}

//! `lanestack_file`: a local file, like Terraform's `local_file`.
//!
//! Every settable attribute forces replacement, as in `local_file`: a file has no identity apart
//! from its path and bytes, so "update in place" would only be a rewrite under another name.
//! `sha256` (and `id`, which equals it) is computed at plan time whenever the content is known,
//! so a content change shows the new hash in the plan.
//!
//! Writes are atomic (a temporary file in the same directory, then a rename), so an interrupted
//! apply leaves either the old file or the new one, never half of one. `read` reports drift: a
//! missing file reads as gone, and changed bytes or mode read back as the new content, hash and
//! mode, so the engine plans a replacement. File content never appears in an error message, and
//! content that came from `sensitive_content` is read back into `sensitive_content`.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use lanestack_model::schema::plan_by_schema;
use lanestack_model::{
    ApplyRequest, AttrPath, AttrType, Attribute, Block, ErrorKind, PlanRequest, PlanResponse, ProviderError,
    ReadRequest, ResourceSchema, Value,
};

use crate::{attr, set_attr, sha256_hex};

/// The resource type's name.
pub const TYPE_NAME: &str = "lanestack_file";

/// The mode a file gets when the stack sets no `file_permission`.
pub const DEFAULT_PERMISSION: &str = "0644";

/// The schema of `lanestack_file`.
pub fn schema() -> ResourceSchema {
    ResourceSchema::new(
        "A local file; relative paths resolve against the stack directory.",
        Block::new()
            .attr(
                "path",
                Attribute::required(AttrType::String)
                    .force_new()
                    .describe("Where to write the file; relative to the stack directory."),
            )
            .attr(
                "content",
                Attribute::optional(AttrType::String).force_new().describe("The file's content."),
            )
            .attr(
                "sensitive_content",
                Attribute::optional(AttrType::String)
                    .force_new()
                    .sensitive()
                    .describe("The file's content, never displayed. Set this or content, not both."),
            )
            .attr(
                "file_permission",
                Attribute::optional_computed(AttrType::String)
                    .force_new()
                    .describe("The file's mode in octal, like \"0600\"; \"0644\" when not set."),
            )
            .attr(
                "sha256",
                Attribute::computed(AttrType::String).describe("The SHA-256 of the content, in hex."),
            )
            .attr("id", Attribute::computed(AttrType::String).describe("Equal to sha256.")),
    )
}

/// A failed file operation, kept as the source of the [`ProviderError`] the engine sees.
///
/// It names the operation and the path, never the content.
#[derive(Debug, thiserror::Error)]
#[error("cannot {op} {}", path.display())]
pub struct FileOpError {
    /// What was being done ("write", "remove", "read", ...).
    pub op: &'static str,
    /// The file or directory.
    pub path: PathBuf,
    /// The underlying IO error.
    #[source]
    pub source: std::io::Error,
}

fn io_error(op: &'static str, path: &Path, source: std::io::Error) -> ProviderError {
    let kind = match source.kind() {
        std::io::ErrorKind::NotFound => ErrorKind::NotFound,
        _ => ErrorKind::Failed,
    };
    let err = FileOpError { op, path: path.to_owned(), source };
    ProviderError::new(kind, format!("{err}: {}", err.source)).with_source(err)
}

/// Parses an octal mode like "0644" or "755": three or four octal digits.
pub fn parse_permission(text: &str) -> Option<u32> {
    let ok = (3..=4).contains(&text.len()) && text.bytes().all(|b| (b'0'..=b'7').contains(&b));
    if ok { u32::from_str_radix(text, 8).ok() } else { None }
}

/// Cross-attribute rules: exactly one of `content` and `sensitive_content`, and an octal
/// `file_permission`. Unknown values count as set and are otherwise not judged.
pub(crate) fn validate(config: &Value) -> Vec<(AttrPath, String)> {
    let mut problems = Vec::new();
    let content = attr(config, "content");
    let sensitive = attr(config, "sensitive_content");
    match (content.is_null(), sensitive.is_null()) {
        (false, false) => problems.push((
            AttrPath::attr("sensitive_content"),
            "set content or sensitive_content, not both".to_owned(),
        )),
        (true, true) => problems.push((
            AttrPath::root(),
            "set one of content and sensitive_content (sensitive_content for secrets)".to_owned(),
        )),
        (false, true) | (true, false) => {}
    }
    let permission = attr(config, "file_permission");
    if !permission.is_null() && !permission.is_unknown() {
        // Never echo the value back: it is not secret, but the rule is simpler when no message
        // of this provider quotes a stack value.
        let valid = permission.as_str().and_then(parse_permission).is_some();
        if !valid {
            problems.push((
                AttrPath::attr("file_permission"),
                "must be an octal mode of three or four digits 0-7, like \"0644\"".to_owned(),
            ));
        }
    }
    problems
}

/// Which attribute holds the content in this value, and the content (which may be unknown).
fn content_of(v: &Value) -> (&'static str, &Value) {
    let sensitive = attr(v, "sensitive_content");
    if sensitive.is_null() { ("content", attr(v, "content")) } else { ("sensitive_content", sensitive) }
}

/// The planned state: the schema's facts, with the default permission filled in before the
/// force-new comparison (so that removing an explicit mode replaces the file) and the hash
/// computed whenever the content is known.
pub(crate) fn plan(block: &Block, request: PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
    let mut config = request.config.clone();
    if attr(&config, "file_permission").is_null() {
        set_attr(&mut config, "file_permission", Value::from(DEFAULT_PERMISSION));
    }
    let prior = request.prior_state.map(Value::unmark);
    let mut response = plan_by_schema(block, prior.as_ref(), &config);
    let hash = match content_of(&config).1 {
        Value::Unknown => Value::Unknown,
        content => Value::from(sha256_hex(content.as_str().unwrap_or_default().as_bytes())),
    };
    set_attr(&mut response.planned_state, "sha256", hash.clone());
    set_attr(&mut response.planned_state, "id", hash);
    Ok(response)
}

/// Create (and update, which the schema makes impossible but is handled the same) writes the
/// file atomically; delete removes it, and a file that is already gone is not an error.
pub(crate) fn apply(base_dir: &Path, request: ApplyRequest<'_>) -> Result<Value, ProviderError> {
    let Some(planned) = request.planned_state else {
        let prior = request.prior_state.map(Value::unmark).unwrap_or_default();
        let path = resolve(base_dir, &prior)?;
        return match std::fs::remove_file(&path) {
            Ok(()) => Ok(Value::Null),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Null),
            Err(e) => Err(io_error("remove", &path, e)),
        };
    };
    let config = request.config;
    let path = resolve(base_dir, config)?;
    let content = content_of(config).1.as_str().unwrap_or_default().to_owned();
    let permission_text = match attr(config, "file_permission").as_str() {
        Some(p) => p.to_owned(),
        None => DEFAULT_PERMISSION.to_owned(),
    };
    let Some(mode) = parse_permission(&permission_text) else {
        return Err(ProviderError::new(
            ErrorKind::Invalid,
            format!("{}: file_permission must be an octal mode like \"0644\"", request.address),
        ));
    };
    write_atomically(&path, content.as_bytes(), mode)?;

    let hash = Value::from(sha256_hex(content.as_bytes()));
    let mut new_state = planned.unmark();
    set_attr(&mut new_state, "file_permission", Value::from(permission_text));
    set_attr(&mut new_state, "sha256", hash.clone());
    set_attr(&mut new_state, "id", hash);
    Ok(new_state)
}

/// Reads the file back: gone when it is missing, the recorded state when nothing changed, and
/// otherwise the recorded state with the live content, hash and mode.
pub(crate) fn read(base_dir: &Path, request: ReadRequest<'_>) -> Result<Option<Value>, ProviderError> {
    let recorded = request.state;
    let path = resolve(base_dir, &recorded.unmark())?;
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("read", &path, e)),
    };
    let metadata = std::fs::metadata(&path).map_err(|e| io_error("inspect", &path, e))?;
    let mut live = recorded.clone();

    let hash = sha256_hex(&bytes);
    if attr(recorded, "sha256").as_str() != Some(hash.as_str()) {
        // Keep the content in whichever attribute held it, so sensitive content stays sensitive.
        let (slot, _) = content_of(recorded);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        set_attr(&mut live, slot, Value::from(text));
        set_attr(&mut live, "sha256", Value::from(hash.clone()));
        set_attr(&mut live, "id", Value::from(hash));
    }

    let mode = metadata.permissions().mode() & 0o7777;
    let recorded_mode = attr(recorded, "file_permission").as_str().and_then(parse_permission);
    if recorded_mode != Some(mode) {
        set_attr(&mut live, "file_permission", Value::from(format!("{mode:04o}")));
    }
    Ok(Some(live))
}

/// The file's path: `path` from `v`, relative to `base_dir` unless absolute.
fn resolve(base_dir: &Path, v: &Value) -> Result<PathBuf, ProviderError> {
    match attr(v, "path").as_str() {
        Some(p) if !p.is_empty() => Ok(base_dir.join(p)),
        _ => Err(ProviderError::new(ErrorKind::Invalid, "lanestack_file needs a non-empty path")),
    }
}

/// Writes `bytes` to `path` with `mode` by way of a temporary file in the same directory and a
/// rename, creating missing parent directories.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ProviderError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| io_error("create directory", &dir, e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.lanestack-tmp-{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_error("write", &tmp, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_error("rename into place", path, e)
    })
}

#[cfg(test)]
mod tests {
    use lanestack_model::{Provider, ResourceAddress};

    use super::*;
    use crate::BuiltinProvider;

    struct Fixture {
        dir: tempfile::TempDir,
        provider: BuiltinProvider,
        address: ResourceAddress,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let provider = BuiltinProvider::new(dir.path());
        Fixture { dir, provider, address: ResourceAddress::managed(TYPE_NAME, "cfg") }
    }

    impl Fixture {
        async fn plan(&self, prior: Option<&Value>, config: &Value) -> PlanResponse {
            self.provider
                .plan(PlanRequest { address: &self.address, prior_state: prior, config })
                .await
                .unwrap()
        }

        async fn create(&self, config: &Value) -> Value {
            let planned = self.plan(None, config).await.planned_state;
            self.provider
                .apply(ApplyRequest {
                    address: &self.address,
                    prior_state: None,
                    planned_state: Some(&planned),
                    config,
                })
                .await
                .unwrap()
        }

        async fn read(&self, state: &Value) -> Option<Value> {
            self.provider.read(ReadRequest { address: &self.address, state }).await.unwrap()
        }
    }

    fn config(pairs: &[(&str, &str)]) -> Value {
        Value::object(pairs.iter().map(|(k, v)| (*k, Value::from(*v))))
    }

    #[test]
    fn validate_wants_exactly_one_content_and_an_octal_mode() {
        assert!(validate(&config(&[("path", "a"), ("content", "x")])).is_empty());
        assert!(
            validate(&config(&[("path", "a"), ("sensitive_content", "x"), ("file_permission", "600")]))
                .is_empty()
        );
        assert_eq!(validate(&config(&[("path", "a")])).len(), 1);
        let both = validate(&config(&[("path", "a"), ("content", "x"), ("sensitive_content", "y")]));
        assert_eq!(both[0].0, AttrPath::attr("sensitive_content"));
        for bad in ["0648", "rw-r--r--", "64", "00644", ""] {
            let problems = validate(&config(&[("path", "a"), ("content", "x"), ("file_permission", bad)]));
            assert_eq!(problems.len(), 1, "{bad}");
            assert_eq!(problems[0].0, AttrPath::attr("file_permission"));
        }
        let unknown = Value::object([("path", Value::from("a")), ("content", Value::Unknown)]);
        assert!(validate(&unknown).is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn plan_knows_the_hash_and_default_mode_when_content_is_known() {
        let f = fixture();
        let r = f.plan(None, &config(&[("path", "out/a.txt"), ("content", "hello")])).await;
        let hash = sha256_hex(b"hello");
        assert_eq!(attr(&r.planned_state, "sha256"), &Value::from(hash.clone()));
        assert_eq!(attr(&r.planned_state, "id"), &Value::from(hash));
        assert_eq!(attr(&r.planned_state, "file_permission"), &Value::from("0644"));

        let unknown = Value::object([("path", Value::from("a")), ("content", Value::Unknown)]);
        let r = f.plan(None, &unknown).await;
        assert_eq!(attr(&r.planned_state, "sha256"), &Value::Unknown);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn create_writes_atomically_with_mode_and_parents_relative_to_base() {
        let f = fixture();
        let c = config(&[("path", "out/deep/a.txt"), ("content", "hello\n"), ("file_permission", "0600")]);
        let state = f.create(&c).await;
        let path = f.dir.path().join("out/deep/a.txt");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello\n");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777, 0o600);
        assert_eq!(attr(&state, "sha256"), &Value::from(sha256_hex(b"hello\n")));
        assert!(!state.contains_unknown());
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
        // Nothing changed: read returns the state as recorded.
        assert_eq!(f.read(&state).await, Some(state.clone()));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn unchanged_config_plans_no_replacement() {
        let f = fixture();
        let c = config(&[("path", "a.txt"), ("content", "x")]);
        let state = f.create(&c).await;
        let r = f.plan(Some(&state), &c).await;
        assert!(r.requires_replace.is_empty());
        assert_eq!(r.planned_state, state);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn every_settable_attribute_forces_replacement() {
        let f = fixture();
        let c = config(&[("path", "a.txt"), ("content", "x"), ("file_permission", "0600")]);
        let state = f.create(&c).await;
        let content = f
            .plan(Some(&state), &config(&[("path", "a.txt"), ("content", "y"), ("file_permission", "0600")]))
            .await;
        assert_eq!(content.requires_replace, vec![AttrPath::attr("content")]);
        assert_eq!(attr(&content.planned_state, "sha256"), &Value::from(sha256_hex(b"y")));
        let moved = f
            .plan(Some(&state), &config(&[("path", "b.txt"), ("content", "x"), ("file_permission", "0600")]))
            .await;
        assert_eq!(moved.requires_replace, vec![AttrPath::attr("path")]);
        // Dropping the explicit mode means the default, which differs: replace.
        let default_mode = f.plan(Some(&state), &config(&[("path", "a.txt"), ("content", "x")])).await;
        assert_eq!(default_mode.requires_replace, vec![AttrPath::attr("file_permission")]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_missing_file_reads_as_gone() {
        let f = fixture();
        let state = f.create(&config(&[("path", "a.txt"), ("content", "x")])).await;
        std::fs::remove_file(f.dir.path().join("a.txt")).unwrap();
        assert_eq!(f.read(&state).await, None);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn edited_content_and_mode_read_back_as_drift() {
        let f = fixture();
        let c = config(&[("path", "a.txt"), ("content", "x")]);
        let state = f.create(&c).await;
        let path = f.dir.path().join("a.txt");
        std::fs::write(&path, "edited").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let live = f.read(&state).await.unwrap();
        assert_eq!(attr(&live, "content"), &Value::from("edited"));
        assert_eq!(attr(&live, "sha256"), &Value::from(sha256_hex(b"edited")));
        assert_eq!(attr(&live, "file_permission"), &Value::from("0755"));
        // The engine then sees the config differ from the live object and replaces it.
        let r = f.plan(Some(&live), &c).await;
        assert_eq!(r.requires_replace, vec![AttrPath::attr("content"), AttrPath::attr("file_permission")]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn sensitive_content_stays_sensitive_and_out_of_errors() {
        let f = fixture();
        let c = config(&[("path", "secret.txt"), ("sensitive_content", "hunter2")]);
        let state = f.create(&c).await;
        assert!(attr(&state, "content").is_null());
        std::fs::write(f.dir.path().join("secret.txt"), "hunter3").unwrap();
        let live = f.read(&state).await.unwrap();
        assert!(attr(&live, "content").is_null());
        assert_eq!(attr(&live, "sensitive_content"), &Value::from("hunter3"));

        // A write that fails (the path is a directory) names the path, not the content.
        std::fs::create_dir(f.dir.path().join("dir")).unwrap();
        let bad = config(&[("path", "dir"), ("sensitive_content", "hunter2")]);
        let planned = f.plan(None, &bad).await.planned_state;
        let err = f
            .provider
            .apply(ApplyRequest {
                address: &f.address,
                prior_state: None,
                planned_state: Some(&planned),
                config: &bad,
            })
            .await
            .unwrap_err();
        let chain = format!("{err} {:?}", err.source);
        assert!(chain.contains("dir"), "{chain}");
        assert!(!chain.contains("hunter2"), "{chain}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn delete_removes_the_file_and_tolerates_its_absence() {
        let f = fixture();
        let state = f.create(&config(&[("path", "a.txt"), ("content", "x")])).await;
        let delete = ApplyRequest {
            address: &f.address,
            prior_state: Some(&state),
            planned_state: None,
            config: &Value::Null,
        };
        assert_eq!(f.provider.apply(delete).await.unwrap(), Value::Null);
        assert!(!f.dir.path().join("a.txt").exists());
        assert_eq!(f.provider.apply(delete).await.unwrap(), Value::Null);
    }

    #[test]
    fn permissions_parse_as_octal() {
        assert_eq!(parse_permission("0644"), Some(0o644));
        assert_eq!(parse_permission("755"), Some(0o755));
        assert_eq!(parse_permission("0800"), None);
        assert_eq!(parse_permission("+x"), None);
    }
}

//! `image_build`: an image built from files (and an optional build command), pushed to a
//! repository.
//!
//! - **Identity**: `source_digest`, the sha256 of everything the image is made from: the
//!   build's command, environment and input files (or, without a build, the layers' source
//!   files), the layers' description, the base's manifest digest, the platform and the
//!   settings. Computed at plan time from the files on disk; the same at apply, or the apply
//!   stops (the files changed after the plan was reviewed).
//! - **Plan**: unchanged identity, no change; a new one, an update whose `digest` and `ref` are
//!   known after apply. A new `repository` is a replacement. A base given by tag is resolved
//!   to its digest when planning, so a moved tag rebuilds.
//! - **Apply**: runs the build command, packs the layers, copies (or mounts, within one
//!   registry) the base's layers, pushes what the registry lacks, then the configuration and
//!   the manifest, under `tag` when set. The previous image stays in the registry: jobs that
//!   run it by digest keep running.
//! - **Refresh**: the manifest must still be there (gone: planned again), and the tag must
//!   still point at it (moved by someone else: the plan shows the tag being set back).
//! - **Destroy** deletes the manifest by digest, unless `keep_remotely`.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use lanestack_model::{
    AttrPath, AttrType, Attribute, Block, ErrorKind, Nesting, PathStep, PlanResponse, ProviderError,
    ResourceSchema, Value, schema::plan_by_schema,
};
use sha2::{Digest, Sha256};

use crate::layer::{self, LayerSpec};
use crate::oci::{self, Added, Base, Platform};
use crate::registry::Client;
use lanestack_oci::Reference;

/// The resource type's name.
pub const TYPE_NAME: &str = "image_build";

/// The platform an image is built for unless the stack says.
const DEFAULT_PLATFORM: &str = "linux/amd64";

/// Names left out of a build's input directories unless the stack says otherwise: version
/// control, build output and lanestack's own state.
const DEFAULT_EXCLUDE: [&str; 3] = [".git", "target", ".lanestack"];

/// How many lines of a failed build command's output an error quotes.
const OUTPUT_LINES: usize = 30;

/// The schema of `image_build`.
pub fn schema() -> ResourceSchema {
    let s = || AttrType::String;
    let strings = || AttrType::List(Box::new(AttrType::String));
    let map = || AttrType::Map(Box::new(AttrType::String));
    let block = Block::new()
        .attr(
            "repository",
            Attribute::required(s())
                .force_new()
                .describe("registry/repository to push to, without tag (lanes.azurecr.io/lanestack-trainer)."),
        )
        .attr("tag", Attribute::optional(s()).describe("A tag to push the image under as well."))
        .attr(
            "base",
            Attribute::optional(s()).describe(
                "The base image (registry/repository@sha256:… or :tag, resolved when planning); none: from scratch.",
            ),
        )
        .attr("platform", Attribute::optional(s()).describe("os/architecture, default linux/amd64."))
        .attr("entrypoint", Attribute::optional(strings()).describe("The image's entrypoint."))
        .attr("cmd", Attribute::optional(strings()).describe("The image's default arguments."))
        .attr("env", Attribute::optional(map()).describe("Environment variables, over the base's."))
        .attr("working_dir", Attribute::optional(s()).describe("The working directory."))
        .attr("user", Attribute::optional(s()).describe("The user (name or uid[:gid])."))
        .attr("labels", Attribute::optional(map()).describe("Labels, over the base's."))
        .attr(
            "keep_remotely",
            Attribute::optional(AttrType::Bool).describe("Leave the image in the registry on destroy."),
        )
        .attr(
            "source_digest",
            Attribute::computed(s()).describe("sha256 of everything the image is made from: its identity."),
        )
        .attr("base_digest", Attribute::computed(s()).describe("The base's manifest digest."))
        .attr("digest", Attribute::computed(s()).describe("The pushed manifest's digest."))
        .attr("ref", Attribute::computed(s()).describe("registry/repository@sha256:…, what a job runs."))
        .attr("id", Attribute::computed(s()).describe("The same as ref."))
        .block(
            "build",
            Nesting::Single,
            Block::new()
                .attr(
                    "command",
                    Attribute::required(strings()).describe("The program and its arguments (no shell)."),
                )
                .attr(
                    "working_dir",
                    Attribute::optional(s()).describe("Where it runs, relative to the stack (default: the stack)."),
                )
                .attr("env", Attribute::optional(map()).describe("Variables added to its environment."))
                .attr(
                    "inputs",
                    Attribute::required(strings())
                        .describe("Files and directories (relative to the stack) whose content the image is built from."),
                )
                .attr(
                    "exclude",
                    Attribute::optional(strings())
                        .describe("Names left out of input directories (default .git, target, .lanestack)."),
                ),
        )
        .block(
            "layer",
            Nesting::List,
            Block::new()
                .attr("source", Attribute::required(s()).describe("A file or directory, relative to the stack."))
                .attr(
                    "target",
                    Attribute::required(s()).describe("Its absolute path in the image (a directory's: its contents go there)."),
                )
                .attr("mode", Attribute::optional(s()).describe("The files' mode, in octal (\"0755\").")),
        );
    ResourceSchema::new(
        "An OCI image built without a daemon (deterministic layers on an optional base) and pushed to a registry.",
        block,
    )
}

fn attr<'v>(v: &'v Value, name: &str) -> &'v Value {
    v.get(&AttrPath::attr(name)).unwrap_or(&Value::Null)
}

fn text(v: &Value, name: &str) -> Option<String> {
    attr(v, name).as_str().map(str::to_owned)
}

fn strings(v: &Value, name: &str) -> Option<Vec<String>> {
    attr(v, name).as_list().map(|l| l.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
}

fn string_map(v: &Value, name: &str) -> BTreeMap<String, String> {
    attr(v, name)
        .as_object()
        .map(|m| m.iter().filter_map(|(k, x)| x.as_str().map(|s| (k.clone(), s.to_owned()))).collect())
        .unwrap_or_default()
}

fn invalid(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorKind::Invalid, message)
}

/// Checks what the schema cannot: references, platform, modes, targets, a non-empty command.
pub fn validate(config: &Value) -> Vec<(AttrPath, String)> {
    let mut problems = Vec::new();
    if let Some(repository) = text(config, "repository") {
        match Reference::parse(&repository) {
            Ok(r) if r.tag.is_some() || r.digest.is_some() => problems.push((
                AttrPath::attr("repository"),
                "the repository takes no tag or digest: set tag instead".to_owned(),
            )),
            Ok(r) if repository != r.name() => problems
                .push((AttrPath::attr("repository"), format!("name the registry in full: {:?}", r.name()))),
            Ok(_) => {}
            Err(e) => problems.push((AttrPath::attr("repository"), e)),
        }
    }
    if let Some(tag) = text(config, "tag")
        && let Err(e) = Reference::parse(&format!("r.io/x:{tag}"))
    {
        problems.push((
            AttrPath::attr("tag"),
            e.replace("\"r.io/x:", "\"").replace("is not an image reference", "is not a tag"),
        ));
    }
    if let Some(base) = text(config, "base")
        && let Err(e) = Reference::parse(&base)
    {
        problems.push((AttrPath::attr("base"), e));
    }
    if let Some(platform) = text(config, "platform")
        && let Err(e) = Platform::parse(&platform)
    {
        problems.push((AttrPath::attr("platform"), e));
    }
    if let Some(command) = attr(config, "build").get(&AttrPath::attr("command")).and_then(Value::as_list)
        && command.first().is_none_or(|program| program.as_str() == Some(""))
    {
        problems.push((AttrPath::attr("build"), "the build command is empty".to_owned()));
    }
    for (i, layer) in attr(config, "layer").as_list().unwrap_or_default().iter().enumerate() {
        let at =
            |name: &str| AttrPath::attr("layer").join(PathStep::Index(i)).join(PathStep::Attr(name.into()));
        if let Some(mode) = text(layer, "mode")
            && parse_mode(&mode).is_none()
        {
            problems.push((at("mode"), format!("the mode {mode:?} is not an octal file mode like \"0755\"")));
        }
        if let Some(target) = text(layer, "target")
            && (!target.starts_with('/')
                || target.trim_matches('/').is_empty()
                || target.split('/').any(|c| c == "." || c == ".."))
        {
            problems.push((
                at("target"),
                format!("the target {target:?} must be an absolute path below / without . or .."),
            ));
        }
    }
    if attr(config, "layer").as_list().is_none_or(<[Value]>::is_empty) && text(config, "base").is_none() {
        problems.push((AttrPath::root(), "an image needs a base or at least one layer".to_owned()));
    }
    problems
}

fn parse_mode(mode: &str) -> Option<u32> {
    u32::from_str_radix(mode, 8).ok().filter(|m| *m <= 0o7777)
}

/// The attributes that describe the image's content (all but where it goes and what is
/// computed).
const CONTENT: [&str; 10] =
    ["base", "platform", "entrypoint", "cmd", "env", "working_dir", "user", "labels", "build", "layer"];

/// The identity of the image described by `config` on the base `base_digest`: see the module.
pub fn source_digest(
    base_dir: &Path,
    config: &Value,
    base_digest: Option<&str>,
) -> Result<String, ProviderError> {
    let mut description = serde_json::Map::new();
    for name in CONTENT {
        description.insert(name.to_owned(), attr(config, name).to_json());
    }
    description.insert("base_digest".into(), serde_json::json!(base_digest));
    let mut hasher = Sha256::new();
    hasher.update(serde_json::to_vec(&description).unwrap_or_default());
    let build = attr(config, "build");
    let unreadable = |what: &str, e: std::io::Error| invalid(format!("cannot read the {what} {e}"));
    if build.is_null() {
        for layer in attr(config, "layer").as_list().unwrap_or_default() {
            let source = text(layer, "source").unwrap_or_default();
            hasher.update(source.as_bytes());
            layer::hash_tree(&mut hasher, &base_dir.join(&source), &[])
                .map_err(|e| unreadable("layer source", e))?;
        }
    } else {
        let exclude = strings(build, "exclude")
            .unwrap_or_else(|| DEFAULT_EXCLUDE.iter().map(|s| (*s).to_owned()).collect());
        for input in strings(build, "inputs").unwrap_or_default() {
            hasher.update(input.as_bytes());
            layer::hash_tree(&mut hasher, &base_dir.join(&input), &exclude)
                .map_err(|e| unreadable("build input", e))?;
        }
    }
    Ok(lanestack_oci::digest_of_hash(&hasher.finalize()))
}

/// [`source_digest`] on a blocking thread: the inputs may be large trees, and reading them must
/// not hold up the other resources' IO.
async fn hash_inputs(
    base_dir: &Path,
    config: &Value,
    base_digest: Option<&str>,
) -> Result<String, ProviderError> {
    let (dir, config, base) = (base_dir.to_path_buf(), config.clone(), base_digest.map(str::to_owned));
    tokio::task::spawn_blocking(move || source_digest(&dir, &config, base.as_deref())).await.map_err(|e| {
        ProviderError::new(ErrorKind::Failed, format!("hashing the image's inputs stopped: {e}"))
    })?
}

/// The facts: see the module.
pub async fn plan(
    block: &Block,
    base_dir: &Path,
    client: Option<&Client>,
    prior: Option<&Value>,
    config: &Value,
) -> Result<PlanResponse, ProviderError> {
    let mut response = plan_by_schema(block, prior, config);
    let content_known = CONTENT.iter().all(|name| !attr(config, name).contains_unknown());
    let base_digest = match attr(config, "base") {
        Value::Null => Value::Null,
        Value::String(base) => match resolve_base(client, base).await? {
            Some(digest) => Value::from(digest),
            None => Value::Unknown,
        },
        _ => Value::Unknown,
    };
    let source = if content_known && !base_digest.is_unknown() {
        Value::from(hash_inputs(base_dir, config, base_digest.as_str()).await?)
    } else {
        Value::Unknown
    };
    let same = response.requires_replace.is_empty()
        && !source.is_unknown()
        && prior.is_some_and(|p| attr(p, "source_digest") == &source);
    let planned = &mut response.planned_state;
    planned.set(&AttrPath::attr("source_digest"), source);
    planned.set(&AttrPath::attr("base_digest"), base_digest);
    for name in ["digest", "ref", "id"] {
        let value = match prior {
            Some(p) if same => attr(p, name).clone(),
            _ => Value::Unknown,
        };
        planned.set(&AttrPath::attr(name), value);
    }
    Ok(response)
}

/// The digest of the base image `base`: its own when pinned, the registry's answer for a tag
/// (`None` while there is no client to ask: the provider's configuration is not known yet).
async fn resolve_base(client: Option<&Client>, base: &str) -> Result<Option<String>, ProviderError> {
    let reference = Reference::parse(base).map_err(invalid)?;
    if let Some(digest) = reference.digest {
        return Ok(Some(digest));
    }
    let Some(client) = client else { return Ok(None) };
    match client
        .manifest_digest(reference.api_host(), &reference.repository, reference.manifest_reference())
        .await?
    {
        Some(digest) => Ok(Some(digest)),
        None => Err(ProviderError::new(ErrorKind::NotFound, format!("the base image {base} does not exist"))),
    }
}

/// Builds and pushes the image `planned` describes; returns the new state.
pub async fn apply(base_dir: &Path, client: &Client, planned: &Value) -> Result<Value, ProviderError> {
    let repository = Reference::parse(&text(planned, "repository").unwrap_or_default()).map_err(invalid)?;
    let (host, repo) = (repository.api_host().to_owned(), repository.repository.clone());
    let base_digest = match (attr(planned, "base_digest").as_str(), text(planned, "base")) {
        (Some(digest), _) => Some(digest.to_owned()),
        (None, Some(base)) => resolve_base(Some(client), &base).await?,
        (None, None) => None,
    };
    let source = hash_inputs(base_dir, planned, base_digest.as_deref()).await?;
    if let Some(reviewed) = attr(planned, "source_digest").as_str()
        && reviewed != source
    {
        return Err(ProviderError::new(
            ErrorKind::Conflict,
            format!(
                "the image's inputs changed since the plan (their digest was {reviewed}, it is {source} now): \
                 plan again to review what would be built"
            ),
        ));
    }
    let build = attr(planned, "build");
    if !build.is_null() {
        run(base_dir, build).await?;
    }
    let platform = Platform::parse(&text(planned, "platform").unwrap_or_else(|| DEFAULT_PLATFORM.to_owned()))
        .map_err(invalid)?;
    let base = match (&base_digest, text(planned, "base")) {
        (Some(digest), Some(base)) => {
            let base = Reference::parse(&base).map_err(invalid)?;
            Some((fetch_base(client, &base, digest, &platform).await?, base))
        }
        _ => None,
    };

    // Layers: packed off the async threads (tar and gzip of a large binary take seconds).
    let mut specs = Vec::new();
    for l in attr(planned, "layer").as_list().unwrap_or_default() {
        let source = text(l, "source").unwrap_or_default();
        let target = text(l, "target").unwrap_or_default();
        let mode = text(l, "mode").and_then(|m| parse_mode(&m));
        specs.push((
            LayerSpec { source: base_dir.join(&source), target: target.clone(), mode },
            format!("lanestack: {source} -> {target}"),
        ));
    }
    let packed = tokio::task::spawn_blocking(move || {
        specs
            .into_iter()
            .map(|(spec, created_by)| layer::pack(&spec).map(|l| (l, created_by)))
            .collect::<std::io::Result<Vec<_>>>()
    })
    .await
    .map_err(|e| ProviderError::new(ErrorKind::Failed, format!("packing the layers stopped: {e}")))?
    .map_err(|e| invalid(format!("cannot pack a layer: {e}")))?;

    let settings = oci::Settings {
        entrypoint: strings(planned, "entrypoint"),
        cmd: strings(planned, "cmd"),
        env: string_map(planned, "env"),
        working_dir: text(planned, "working_dir"),
        user: text(planned, "user"),
        labels: string_map(planned, "labels"),
    };
    let added: Vec<Added> =
        packed.iter().map(|(layer, created_by)| Added::of(layer, created_by.clone())).collect();
    let image = oci::assemble(base.as_ref().map(|(b, _)| b), &added, &settings, &platform);

    // Blobs first (the base's, ours, the configuration), then the manifest that names them.
    if let Some((base, base_ref)) = &base {
        for descriptor in &base.layers {
            let digest = descriptor["digest"].as_str().unwrap_or_default();
            copy_blob(client, base_ref, &host, &repo, digest).await?;
        }
    }
    for (layer, _) in packed {
        client.push_blob_file(&host, &repo, &layer.digest, layer.size, layer.file).await?;
    }
    let config = Bytes::from(image.config);
    client.push_blob(&host, &repo, &layer::sha256(&config), config).await?;
    let manifest = Bytes::from(image.manifest);
    let digest = layer::sha256(&manifest);
    let reference = text(planned, "tag").unwrap_or_else(|| digest.clone());
    client.put_manifest(&host, &repo, &reference, image.media_type, manifest).await?;

    let image_ref = format!("{}@{digest}", repository.name());
    let mut state = planned.clone();
    state.set(&AttrPath::attr("source_digest"), Value::from(source));
    state.set(&AttrPath::attr("base_digest"), base_digest.map_or(Value::Null, Value::from));
    state.set(&AttrPath::attr("digest"), Value::from(digest));
    state.set(&AttrPath::attr("ref"), Value::from(image_ref.clone()));
    state.set(&AttrPath::attr("id"), Value::from(image_ref));
    Ok(state)
}

/// The base image's single-platform manifest and configuration.
async fn fetch_base(
    client: &Client,
    base: &Reference,
    digest: &str,
    platform: &Platform,
) -> Result<Base, ProviderError> {
    let failed = |why: String| ProviderError::new(ErrorKind::Failed, format!("the base image {base}: {why}"));
    let host = base.api_host();
    let gone = || {
        ProviderError::new(
            ErrorKind::NotFound,
            format!("the base image {base} ({digest}) is not in its registry"),
        )
    };
    let mut manifest = client.manifest(host, &base.repository, digest).await?.ok_or_else(gone)?;
    if oci::is_index(&manifest) {
        let chosen = oci::pick_platform(&manifest, platform).map_err(failed)?;
        manifest = client.manifest(host, &base.repository, &chosen).await?.ok_or_else(gone)?;
    }
    let config_digest = Base::config_digest(&manifest).map_err(failed)?;
    let config = client.blob(host, &base.repository, &config_digest).await?;
    Base::new(&manifest, &config).map_err(failed)
}

/// Makes the base's blob `digest` part of `repo`: already there, mounted (same registry), or
/// downloaded and uploaded.
async fn copy_blob(
    client: &Client,
    base: &Reference,
    host: &str,
    repo: &str,
    digest: &str,
) -> Result<(), ProviderError> {
    if client.blob_exists(host, repo, digest).await? {
        return Ok(());
    }
    if base.api_host() == host && client.mount_blob(host, repo, digest, &base.repository).await? {
        return Ok(());
    }
    // Through a temporary file: a base layer may be gigabytes (CUDA's runtime).
    let (file, size) = client.blob_to_file(base.api_host(), &base.repository, digest).await?;
    client.push_blob_file(host, repo, digest, size, file).await?;
    Ok(())
}

/// Runs the build command; its output is quoted only when it fails.
async fn run(base_dir: &Path, build: &Value) -> Result<(), ProviderError> {
    let command = strings(build, "command").unwrap_or_default();
    let Some((program, args)) = command.split_first() else {
        return Err(invalid("the build command is empty"));
    };
    let dir = base_dir.join(text(build, "working_dir").unwrap_or_default());
    let shown = command.join(" ");
    let output = tokio::process::Command::new(program)
        .args(args)
        .current_dir(&dir)
        .envs(string_map(build, "env"))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| invalid(format!("cannot run the build command `{shown}` in {}: {e}", dir.display())))?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(OUTPUT_LINES)..].join("\n");
    Err(ProviderError::new(
        ErrorKind::Failed,
        format!("the build command `{shown}` failed ({}); the end of its output:\n{tail}", output.status),
    ))
}

/// The image as the registry has it: gone when its manifest is; its tag cleared when the tag
/// now points elsewhere.
pub async fn read(client: &Client, state: &Value) -> Result<Option<Value>, ProviderError> {
    let (Some(repository), Some(digest)) = (text(state, "repository"), text(state, "digest")) else {
        return Ok(None);
    };
    let r = Reference::parse(&repository).map_err(invalid)?;
    if client.manifest_digest(r.api_host(), &r.repository, &digest).await?.is_none() {
        return Ok(None);
    }
    let mut live = state.clone();
    if let Some(tag) = text(state, "tag")
        && client.manifest_digest(r.api_host(), &r.repository, &tag).await?.as_deref()
            != Some(digest.as_str())
    {
        live.set(&AttrPath::attr("tag"), Value::Null);
    }
    Ok(Some(live))
}

/// Deletes the image's manifest (by digest), unless `keep_remotely`.
pub async fn delete(client: &Client, prior: &Value) -> Result<(), ProviderError> {
    if attr(prior, "keep_remotely") == &Value::Bool(true) {
        return Ok(());
    }
    let (Some(repository), Some(digest)) = (text(prior, "repository"), text(prior, "digest")) else {
        return Ok(());
    };
    let r = Reference::parse(&repository).map_err(invalid)?;
    client.delete_manifest(r.api_host(), &r.repository, &digest).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, Value)]) -> Value {
        Value::object(pairs.iter().cloned())
    }

    fn layer_block(source: &str, target: &str) -> Value {
        Value::List(vec![config(&[("source", Value::from(source)), ("target", Value::from(target))])])
    }

    #[test]
    fn validation_points_at_what_is_wrong() {
        let problems = validate(&config(&[
            ("repository", Value::from("lanes.azurecr.io/trainer:1")),
            ("tag", Value::from("-bad")),
            ("platform", Value::from("linux")),
            (
                "layer",
                Value::List(vec![config(&[
                    ("source", Value::from("a")),
                    ("target", Value::from("rel/path")),
                    ("mode", Value::from("0999")),
                ])]),
            ),
        ]));
        let shown: Vec<String> = problems.iter().map(|(p, m)| format!("{p}: {m}")).collect();
        assert_eq!(shown.len(), 5, "{shown:#?}");
        assert!(shown[0].starts_with("repository: the repository takes no tag"), "{shown:#?}");
        assert!(shown[1].starts_with("tag: ") && shown[1].contains("is not a tag"), "{shown:#?}");
        assert!(
            shown.iter().any(|s| s.contains("0999")) && shown.iter().any(|s| s.contains("rel/path")),
            "{shown:#?}"
        );
        let none = validate(&config(&[("repository", Value::from("trainer"))]));
        assert!(none.iter().any(|(_, m)| m.contains("docker.io/library/trainer")), "{none:?}");
        assert!(none.iter().any(|(_, m)| m.contains("needs a base or at least one layer")), "{none:?}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_identity_follows_the_files_and_settings() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bin"), b"v1").unwrap();
        let c = |entry: &str| {
            config(&[
                ("repository", Value::from("lanes.azurecr.io/t")),
                ("entrypoint", Value::List(vec![Value::from(entry)])),
                ("layer", layer_block("bin", "/bin/t")),
            ])
        };
        let first = plan(&schema().block, dir.path(), None, None, &c("/bin/t")).await.unwrap().planned_state;
        let digest = attr(&first, "source_digest").clone();
        assert!(digest.as_str().is_some_and(|d| d.starts_with("sha256:")));
        assert!(attr(&first, "digest").is_unknown());
        // The same inputs: the same identity, and a prior image stays as it is.
        let mut prior = first.clone();
        prior.set(&AttrPath::attr("digest"), Value::from("sha256:pushed"));
        let again = plan(&schema().block, dir.path(), None, Some(&prior), &c("/bin/t")).await.unwrap();
        assert_eq!(attr(&again.planned_state, "digest"), &Value::from("sha256:pushed"));
        assert_eq!(again.planned_state, prior);
        // Another file content or setting: a new identity, the digest unknown until apply.
        std::fs::write(dir.path().join("bin"), b"v2").unwrap();
        let changed =
            plan(&schema().block, dir.path(), None, Some(&prior), &c("/bin/t")).await.unwrap().planned_state;
        assert_ne!(attr(&changed, "source_digest"), &digest);
        assert!(attr(&changed, "digest").is_unknown() && attr(&changed, "ref").is_unknown());
        let other =
            plan(&schema().block, dir.path(), None, Some(&prior), &c("/bin/u")).await.unwrap().planned_state;
        assert_ne!(attr(&other, "source_digest"), attr(&changed, "source_digest"));
        // A missing source is an error naming it.
        std::fs::remove_file(dir.path().join("bin")).unwrap();
        let e = plan(&schema().block, dir.path(), None, None, &c("/bin/t")).await.unwrap_err();
        assert!(e.message.contains("cannot read the layer source") && e.message.contains("bin"), "{e}");
        // An unknown setting (known after another resource's apply): an unknown identity.
        let unknown = config(&[
            ("repository", Value::from("r.io/t")),
            ("env", Value::Unknown),
            ("layer", layer_block("x", "/x")),
        ]);
        let p = plan(&schema().block, dir.path(), None, None, &unknown).await.unwrap().planned_state;
        assert!(attr(&p, "source_digest").is_unknown());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_failing_build_command_quotes_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let build = config(&[
            (
                "command",
                Value::List(
                    ["sh", "-c", "echo compiling; echo 'error[E0308]: mismatched types' >&2; exit 3"]
                        .map(Value::from)
                        .to_vec(),
                ),
            ),
            ("inputs", Value::List(vec![])),
        ]);
        let e = run(dir.path(), &build).await.unwrap_err();
        assert!(e.message.contains("exit status: 3") && e.message.contains("error[E0308]"), "{e}");
        let missing = config(&[("command", Value::List(vec![Value::from("no-such-program-here")]))]);
        let e = run(dir.path(), &missing).await.unwrap_err();
        assert!(e.message.starts_with("cannot run the build command `no-such-program-here`"), "{e}");
        assert_eq!(e.kind, ErrorKind::Invalid);
    }
}

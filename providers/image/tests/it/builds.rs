//! Builds pushed to a real registry, read back as a container runtime would.

use std::io::Read;

use lanestack_image::ImageProvider;
use lanestack_image::registry::{Client, Settings};
use lanestack_model::{
    ApplyRequest, AttrPath, ErrorKind, PlanRequest, PlanResponse, Provider, ReadRequest, ResourceAddress,
    Value,
};

use crate::{Registry, stack_dir};

fn address() -> ResourceAddress {
    ResourceAddress::managed("image_build", "trainer")
}

fn attr<'v>(v: &'v Value, name: &str) -> &'v Value {
    v.get(&AttrPath::attr(name)).unwrap_or(&Value::Null)
}

fn text(v: &Value, name: &str) -> String {
    attr(v, name).as_str().unwrap_or_default().to_owned()
}

fn list(items: &[&str]) -> Value {
    Value::List(items.iter().map(|s| Value::from(*s)).collect())
}

fn layer(source: &str, target: &str) -> Value {
    Value::object([("source", Value::from(source)), ("target", Value::from(target))])
}

async fn provider(dir: &std::path::Path) -> ImageProvider {
    let p = ImageProvider::new(dir);
    p.configure(&Value::Null).await.unwrap();
    p
}

async fn plan(p: &ImageProvider, prior: Option<&Value>, config: &Value) -> PlanResponse {
    p.plan(PlanRequest { address: &address(), prior_state: prior, config }).await.unwrap()
}

async fn apply(p: &ImageProvider, prior: Option<&Value>, planned: &Value, config: &Value) -> Value {
    p.apply(ApplyRequest { address: &address(), prior_state: prior, planned_state: Some(planned), config })
        .await
        .unwrap()
}

/// Plans and applies `config` over `prior`.
async fn converge(p: &ImageProvider, prior: Option<&Value>, config: &Value) -> Value {
    let planned = plan(p, prior, config).await.planned_state;
    apply(p, prior, &planned, config).await
}

/// The files of an image's layer blob: (path, mode, content).
fn files(blob: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(blob));
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mode = entry.header().mode().unwrap();
        let path = entry.path().unwrap().display().to_string();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        out.push((path, mode, content));
    }
    out
}

fn client() -> Client {
    Client::new(Settings::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_is_pushed_read_back_rebuilt_on_change_and_deleted() {
    let registry = Registry::start();
    let (_dir, root) = stack_dir(&[("bin/trainer", b"#!trainer v1"), ("share/config.toml", b"lr = 0.01")]);
    std::fs::set_permissions(root.join("bin/trainer"), std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .unwrap();
    let p = provider(&root).await;
    let repository = format!("{}/lanes/trainer", registry.host);
    let config = Value::object([
        ("repository", Value::from(repository.as_str())),
        ("tag", Value::from("0.1.0")),
        (
            "layer",
            Value::List(vec![
                layer("bin/trainer", "/usr/local/bin/lanestack-trainer"),
                layer("share", "/etc/trainer"),
            ]),
        ),
        ("entrypoint", list(&["/usr/local/bin/lanestack-trainer"])),
        ("env", Value::object([("RUST_LOG", Value::from("info"))])),
    ]);
    let state = converge(&p, None, &config).await;
    let digest = text(&state, "digest");
    assert_eq!(text(&state, "ref"), format!("{repository}@{digest}"));

    // What a runtime pulls: the tag resolves to the digest, the manifest names the config and
    // the two layers, and the layers hold the files with their modes.
    let c = client();
    let by_tag = c.manifest(&registry.host, "lanes/trainer", "0.1.0").await.unwrap().unwrap();
    assert_eq!(by_tag.digest, digest);
    assert_eq!(by_tag.media_type, "application/vnd.oci.image.manifest.v1+json");
    let manifest: serde_json::Value = serde_json::from_slice(&by_tag.bytes).unwrap();
    let image_config = c
        .blob(&registry.host, "lanes/trainer", manifest["config"]["digest"].as_str().unwrap())
        .await
        .unwrap();
    let image_config: serde_json::Value = serde_json::from_slice(&image_config).unwrap();
    assert_eq!(image_config["config"]["Entrypoint"], serde_json::json!(["/usr/local/bin/lanestack-trainer"]));
    assert_eq!(image_config["config"]["Env"], serde_json::json!(["RUST_LOG=info"]));
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    let first = c.blob(&registry.host, "lanes/trainer", layers[0]["digest"].as_str().unwrap()).await.unwrap();
    assert_eq!(
        files(&first).last().unwrap(),
        &("usr/local/bin/lanestack-trainer".to_owned(), 0o755, b"#!trainer v1".to_vec())
    );
    let second =
        c.blob(&registry.host, "lanes/trainer", layers[1]["digest"].as_str().unwrap()).await.unwrap();
    assert!(files(&second).contains(&("etc/trainer/config.toml".to_owned(), 0o644, b"lr = 0.01".to_vec())));

    // Nothing changed: the plan keeps everything, and a refresh finds it as recorded.
    let again = plan(&p, Some(&state), &config).await;
    assert_eq!(again.planned_state, state);
    let live = p.read(ReadRequest { address: &address(), state: &state }).await.unwrap();
    assert_eq!(live.as_ref(), Some(&state));

    // A changed file: an update with the digest known after apply, then a new image whose
    // unchanged layer is the same blob; the previous image stays (jobs may run it).
    std::fs::write(root.join("bin/trainer"), b"#!trainer v2").unwrap();
    let changed = plan(&p, Some(&state), &config).await;
    assert!(changed.requires_replace.is_empty());
    assert!(attr(&changed.planned_state, "digest").is_unknown());
    let new_state = apply(&p, Some(&state), &changed.planned_state, &config).await;
    let new_digest = text(&new_state, "digest");
    assert_ne!(new_digest, digest);
    let new_manifest = c.manifest(&registry.host, "lanes/trainer", &new_digest).await.unwrap().unwrap();
    let new_manifest: serde_json::Value = serde_json::from_slice(&new_manifest.bytes).unwrap();
    assert_ne!(new_manifest["layers"][0]["digest"], layers[0]["digest"]);
    assert_eq!(new_manifest["layers"][1]["digest"], layers[1]["digest"]);
    assert!(c.manifest(&registry.host, "lanes/trainer", &digest).await.unwrap().is_some());
    assert_eq!(
        c.manifest_digest(&registry.host, "lanes/trainer", "0.1.0").await.unwrap(),
        Some(new_digest.clone())
    );

    // The old image's record now sees its tag moved: the plan would set it back.
    let old = p.read(ReadRequest { address: &address(), state: &state }).await.unwrap().unwrap();
    assert_eq!(attr(&old, "tag"), &Value::Null);

    // Destroy deletes the manifest; a refresh then finds nothing.
    p.apply(ApplyRequest {
        address: &address(),
        prior_state: Some(&new_state),
        planned_state: None,
        config: &Value::Null,
    })
    .await
    .unwrap();
    assert!(c.manifest(&registry.host, "lanes/trainer", &new_digest).await.unwrap().is_none());
    assert_eq!(p.read(ReadRequest { address: &address(), state: &new_state }).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_inputs_give_the_same_digest_anywhere() {
    let registry = Registry::start();
    let files = [("app/run", b"#!/bin/sh\necho hi\n".as_slice()), ("app/data/a.json", b"{}")];
    let (_a, one) = stack_dir(&files);
    let (_b, two) = stack_dir(&files);
    let config = |repo: &str| {
        Value::object([
            ("repository", Value::from(format!("{}/{repo}", registry.host))),
            ("layer", Value::List(vec![layer("app", "/app")])),
            ("cmd", list(&["/app/run"])),
        ])
    };
    let first = converge(&provider(&one).await, None, &config("one")).await;
    let second = converge(&provider(&two).await, None, &config("two")).await;
    assert_eq!(text(&first, "source_digest"), text(&second, "source_digest"));
    assert_eq!(text(&first, "digest"), text(&second, "digest"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_on_a_base_given_by_tag_carries_the_base_layers_and_rebuilds_when_the_tag_moves() {
    let registry = Registry::start();
    let (_dir, root) = stack_dir(&[("base/lib/libmpi.so.40", b"mpi"), ("bin/trainer", b"trainer")]);
    let p = provider(&root).await;
    let base_config = Value::object([
        ("repository", Value::from(format!("{}/base/runtime", registry.host))),
        ("tag", Value::from("bookworm")),
        ("layer", Value::List(vec![layer("base/lib", "/usr/lib")])),
        ("env", Value::object([("PATH", Value::from("/usr/bin")), ("LANG", Value::from("C"))])),
        ("cmd", list(&["bash"])),
    ]);
    let base = converge(&p, None, &base_config).await;
    let config = Value::object([
        ("repository", Value::from(format!("{}/lanes/trainer", registry.host))),
        ("base", Value::from(format!("{}/base/runtime:bookworm", registry.host))),
        ("layer", Value::List(vec![layer("bin/trainer", "/usr/local/bin/trainer")])),
        ("entrypoint", list(&["/usr/local/bin/trainer"])),
        ("env", Value::object([("LANG", Value::from("C.UTF-8"))])),
    ]);
    let planned = plan(&p, None, &config).await.planned_state;
    assert_eq!(attr(&planned, "base_digest"), attr(&base, "digest"), "the tag is resolved when planning");
    let image = apply(&p, None, &planned, &config).await;

    let c = client();
    let manifest =
        c.manifest(&registry.host, "lanes/trainer", &text(&image, "digest")).await.unwrap().unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.bytes).unwrap();
    let layers: Vec<&str> =
        manifest["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap()).collect();
    assert_eq!(layers.len(), 2);
    // The base's layer is in the new repository too (mounted within the registry).
    assert!(c.blob_exists(&registry.host, "lanes/trainer", layers[0]).await.unwrap());
    let config_blob = c
        .blob(&registry.host, "lanes/trainer", manifest["config"]["digest"].as_str().unwrap())
        .await
        .unwrap();
    let image_config: serde_json::Value = serde_json::from_slice(&config_blob).unwrap();
    assert_eq!(image_config["config"]["Env"], serde_json::json!(["PATH=/usr/bin", "LANG=C.UTF-8"]));
    assert!(image_config["config"].get("Cmd").is_none(), "a new entrypoint drops the base's Cmd");
    assert_eq!(image_config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);

    // Someone pushes a new base under the tag: the image is planned again.
    std::fs::write(root.join("base/lib/libmpi.so.40"), b"mpi, patched").unwrap();
    let replanned = plan(&p, Some(&base), &base_config).await.planned_state;
    apply(&p, Some(&base), &replanned, &base_config).await;
    let after = plan(&p, Some(&image), &config).await.planned_state;
    assert_ne!(attr(&after, "base_digest"), attr(&image, "base_digest"));
    assert!(attr(&after, "digest").is_unknown());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_command_makes_the_files_and_its_inputs_are_the_identity() {
    let registry = Registry::start();
    let (_dir, root) = stack_dir(&[("src/main.txt", b"fn main() {}"), ("src/target/junk", b"ignored")]);
    let p = provider(&root).await;
    let config = Value::object([
        ("repository", Value::from(format!("{}/built", registry.host))),
        (
            "build",
            Value::object([
                (
                    "command",
                    list(&[
                        "sh",
                        "-c",
                        "mkdir -p out && cat src/main.txt > out/app && printf \"$FLAVOUR\" >> out/app",
                    ]),
                ),
                ("env", Value::object([("FLAVOUR", Value::from(" // release"))])),
                ("inputs", list(&["src"])),
            ]),
        ),
        ("layer", Value::List(vec![layer("out/app", "/app")])),
    ]);
    let planned = plan(&p, None, &config).await.planned_state;
    let state = apply(&p, None, &planned, &config).await;
    let c = client();
    let manifest = c.manifest(&registry.host, "built", &text(&state, "digest")).await.unwrap().unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.bytes).unwrap();
    let blob =
        c.blob(&registry.host, "built", manifest["layers"][0]["digest"].as_str().unwrap()).await.unwrap();
    assert_eq!(files(&blob).last().unwrap().2, b"fn main() {} // release");

    // Build output and excluded names are not inputs; the sources are.
    std::fs::write(root.join("out/app"), b"stale").unwrap();
    std::fs::write(root.join("src/target/junk"), b"changed").unwrap();
    assert_eq!(plan(&p, Some(&state), &config).await.planned_state, state);
    std::fs::write(root.join("src/main.txt"), b"fn main() { train() }").unwrap();
    let changed = plan(&p, Some(&state), &config).await.planned_state;
    assert!(attr(&changed, "digest").is_unknown());

    // Sources edited after the plan was reviewed: the apply refuses to build something else.
    std::fs::write(root.join("src/main.txt"), b"fn main() { unreviewed() }").unwrap();
    let e = p
        .apply(ApplyRequest {
            address: &address(),
            prior_state: Some(&state),
            planned_state: Some(&changed),
            config: &config,
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict);
    assert!(e.message.contains("changed since the plan"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_remotely_leaves_the_image_and_registry_errors_are_clear() {
    let registry = Registry::start();
    let (_dir, root) = stack_dir(&[("f", b"x")]);
    let p = provider(&root).await;
    let config = Value::object([
        ("repository", Value::from(format!("{}/kept", registry.host))),
        ("keep_remotely", Value::Bool(true)),
        ("layer", Value::List(vec![layer("f", "/f")])),
    ]);
    let state = converge(&p, None, &config).await;
    p.apply(ApplyRequest {
        address: &address(),
        prior_state: Some(&state),
        planned_state: None,
        config: &Value::Null,
    })
    .await
    .unwrap();
    assert!(client().manifest(&registry.host, "kept", &text(&state, "digest")).await.unwrap().is_some());

    // A base that is not there fails the plan with its name.
    let missing = Value::object([
        ("repository", Value::from(format!("{}/x", registry.host))),
        ("base", Value::from(format!("{}/no/such:tag", registry.host))),
    ]);
    let e =
        p.plan(PlanRequest { address: &address(), prior_state: None, config: &missing }).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(e.message.contains("no/such:tag") && e.message.contains("does not exist"), "{e}");
}

/// Pushes a blob of `len` pseudo-random bytes in chunks of 1000 through `client`, then reads
/// it back into a file: what a layer of hundreds of MB does, with bounded memory.
pub async fn chunked_round_trip(client: &Client, host: &str, len: usize) {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let digest = lanestack_image::layer::sha256(&bytes);
    let mut file = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut file, &bytes).unwrap();
    std::io::Seek::rewind(&mut file).unwrap();
    assert!(client.push_blob_file(host, "chunked", &digest, len as u64, file).await.unwrap());
    let (mut back, size) = client.blob_to_file(host, "chunked", &digest).await.unwrap();
    let mut content = Vec::new();
    back.read_to_end(&mut content).unwrap();
    assert_eq!((size, content == bytes), (len as u64, true));
    // Already there: nothing is sent again.
    let again = tempfile::tempfile().unwrap();
    assert!(!client.push_blob_file(host, "chunked", &digest, len as u64, again).await.unwrap());
    // A file shorter than announced: refused, not stored under the digest.
    let mut short = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut short, &bytes[..len / 2]).unwrap();
    std::io::Seek::rewind(&mut short).unwrap();
    let other = lanestack_image::layer::sha256(&bytes[..len / 2 + 1]);
    let e = client.push_blob_file(host, "chunked", &other, len as u64, short).await.unwrap_err();
    assert!(e.message.contains("changed while it was uploaded"), "{}", e.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_blobs_go_up_in_chunks_and_come_down_to_files() {
    let registry = Registry::start();
    let client = Client::new(Settings { chunk_size: 1000, ..Settings::default() }).unwrap();
    chunked_round_trip(&client, &registry.host, 10_500).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_in_another_registry_is_copied_over() {
    let (upstream, ours) = (Registry::start(), Registry::start());
    let (_dir, root) = stack_dir(&[("base/lib.so", b"runtime"), ("bin/app", b"app")]);
    let p = provider(&root).await;
    let base = converge(
        &p,
        None,
        &Value::object([
            ("repository", Value::from(format!("{}/runtime", upstream.host))),
            ("layer", Value::List(vec![layer("base", "/usr/lib")])),
        ]),
    )
    .await;
    let image = converge(
        &p,
        None,
        &Value::object([
            ("repository", Value::from(format!("{}/app", ours.host))),
            ("base", Value::from(text(&base, "ref"))),
            ("layer", Value::List(vec![layer("bin/app", "/app")])),
        ]),
    )
    .await;
    let c = client();
    let manifest = c.manifest(&ours.host, "app", &text(&image, "digest")).await.unwrap().unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.bytes).unwrap();
    let base_layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let copied = c.blob(&ours.host, "app", base_layer).await.unwrap();
    assert!(files(&copied).contains(&("usr/lib/lib.so".to_owned(), 0o644, b"runtime".to_vec())));
}

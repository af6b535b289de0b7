//! The emulated container registries as an image client sees them: connected to
//! `<name>.azurecr.io` at the emulator's address over HTTPS with its CA, through ACR's bearer
//! flow; one OCI scenario held to Debian's `docker-registry` (distribution 2.8); ACR's
//! authentication; persistence in the data directory; and the registry's life with its ARM
//! resource.

use lanestack_emulator::{Emulator, EmulatorConfig, principal};
use serde_json::{Value, json};
use sha2::Digest as _;

use super::rt;

const ACR: &str = "2025-04-01";
const RG: &str = "/subscriptions/sub-1/resourceGroups/rg1";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", sha2::Sha256::digest(bytes))
}

fn registry_id(name: &str) -> String {
    format!("{RG}/providers/Microsoft.ContainerRegistry/registries/{name}")
}

/// An HTTPS emulator and an ARM client holding a token.
pub(crate) struct Cloud {
    pub(crate) emulator: Emulator,
    arm: reqwest::Client,
    token: String,
}

impl Cloud {
    pub(crate) async fn start(config: EmulatorConfig) -> Cloud {
        let config = EmulatorConfig { https: true, lro_retry_after_secs: 0, lro_polls: 0, ..config };
        let emulator = Emulator::start(config).await.unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let arm = reqwest::Client::builder()
            .tls_certs_only(
                reqwest::Certificate::from_pem_bundle(emulator.ca_certificate_pem().unwrap().as_bytes())
                    .unwrap(),
            )
            .build()
            .unwrap();
        let token = Cloud::entra_token(&arm, &emulator).await;
        Cloud { emulator, arm, token }
    }

    async fn entra_token(arm: &reqwest::Client, emulator: &Emulator) -> String {
        lanestack_testkit::entra_token(arm, &emulator.endpoint()).await
    }

    async fn arm(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}?api-version={ACR}", self.emulator.endpoint());
        let mut req = self.arm.request(method.parse().unwrap(), url).bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Creates rg1 (if needed) and registry `name` in it.
    pub(crate) async fn registry(&self, name: &str, admin: bool) {
        self.arm("PUT", RG, Some(json!({ "location": "westeurope" }))).await;
        let body = json!({ "location": "westeurope", "sku": { "name": "Basic" },
                           "properties": { "adminUserEnabled": admin } });
        let (status, body) = self.arm("PUT", &registry_id(name), Some(body)).await;
        assert!(status == 200 || status == 201, "{body}");
    }

    /// A client that connects `<name>.azurecr.io` to the emulator and trusts only its CA.
    pub(crate) fn client(&self, name: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .resolve(&format!("{name}.azurecr.io"), self.emulator.addr())
            .tls_certs_only(
                reqwest::Certificate::from_pem_bundle(self.emulator.ca_certificate_pem().unwrap().as_bytes())
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    /// The base URL of registry `name` (its login server, at the emulator's port).
    pub(crate) fn base(&self, name: &str) -> String {
        format!("https://{name}.azurecr.io:{}", self.emulator.addr().port())
    }

    /// A registry client authenticating as the emulator's service principal.
    pub(crate) fn target(&self, name: &str) -> Target {
        Target {
            http: self.client(name),
            base: self.base(name),
            basic: Some((principal::CLIENT_ID.to_owned(), principal::CLIENT_SECRET.to_owned())),
            token: std::sync::Mutex::new(None),
        }
    }
}

/// One answer, as the scenario compares it.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    /// The error codes of the distribution envelope, in order.
    pub(crate) fn codes(&self) -> Vec<String> {
        self.json()["errors"]
            .as_array()
            .map(|e| e.iter().map(|e| e["code"].as_str().unwrap_or_default().to_owned()).collect())
            .unwrap_or_default()
    }
    /// The `Location` header's path, without scheme, host or query (distribution answers
    /// absolute URLs with a `_state` query, ACR and the emulator a bare path).
    fn location_path(&self) -> Option<String> {
        let location = self.header("location")?;
        let path = match location.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]).to_owned(),
            None => location,
        };
        Some(path.split('?').next().unwrap_or_default().to_owned())
    }
}

/// A registry under test: distribution, or an emulated ACR through the bearer flow.
pub(crate) struct Target {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    /// The Basic credentials the token endpoint takes; `None` for a registry without auth.
    basic: Option<(String, String)>,
    token: std::sync::Mutex<Option<String>>,
}

/// A `key="value"` parameter of a `WWW-Authenticate` challenge.
pub(crate) fn challenge_param(challenge: &str, key: &str) -> Option<String> {
    let start = challenge.find(&format!("{key}=\""))? + key.len() + 2;
    let len = challenge[start..].find('"')?;
    Some(challenge[start..start + len].to_owned())
}

impl Target {
    /// Sends a request (`path` relative to the base, or a `Location` to follow); on a 401,
    /// gets a token for the challenged scope and `extra_scopes`, and sends it again.
    pub(crate) async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        extra_scopes: &[&str],
    ) -> Answer {
        let url = if path.starts_with("http") { path.to_owned() } else { format!("{}{path}", self.base) };
        let mut answer = self.once(method, &url, headers, body).await;
        if answer.status == 401
            && let Some((user, password)) = &self.basic
        {
            let challenge = answer.header("www-authenticate").expect("a 401 carries a challenge");
            let realm = challenge_param(&challenge, "realm").unwrap();
            let mut query = vec![("service".to_owned(), challenge_param(&challenge, "service").unwrap())];
            query.extend(challenge_param(&challenge, "scope").map(|s| ("scope".to_owned(), s)));
            query.extend(extra_scopes.iter().map(|s| ("scope".to_owned(), (*s).to_owned())));
            let r = self
                .http
                .get(format!("{realm}?{}", form(&query)))
                .basic_auth(user, Some(password))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "token for {challenge}");
            let token: Value = r.json().await.unwrap();
            *self.token.lock().unwrap() = Some(token["access_token"].as_str().unwrap().to_owned());
            answer = self.once(method, &url, headers, body).await;
        }
        answer
    }

    async fn once(&self, method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        let mut req = self.http.request(method.parse().unwrap(), url).body(body.to_vec());
        if let Some(token) = self.token.lock().unwrap().clone() {
            req = req.bearer_auth(token);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.bytes().await.unwrap().to_vec();
        assert_eq!(
            headers.get("docker-distribution-api-version").and_then(|v| v.to_str().ok()),
            Some("registry/2.0"),
            "{method} {url}"
        );
        Answer { status, headers, body }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, &[], b"", &[]).await
    }
}

/// Percent-encodes a query or form.
pub(crate) fn form(pairs: &[(String, String)]) -> String {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

/// A URL to `location` with `digest` added to its query.
fn with_digest(location: &str, digest: &str) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={digest}")
}

/// What one step of the scenario observed: the status, error codes and the headers that
/// matter, normalised so that two conforming registries agree.
fn observe(answer: &Answer) -> Value {
    let mut seen = json!({ "status": answer.status, "codes": answer.codes() });
    for name in ["docker-content-digest", "range", "docker-upload-uuid"] {
        if let Some(v) = answer.header(name) {
            // An upload's id differs between servers; that it is there does not.
            seen[name] = if name == "docker-upload-uuid" { json!(true) } else { json!(v) };
        }
    }
    if let Some(path) = answer.location_path() {
        // Upload ids differ: keep the path up to them.
        seen["location"] = json!(match path.rsplit_once("/uploads/") {
            Some((head, _)) => format!("{head}/uploads/<id>"),
            None => path,
        });
    }
    if answer.status == 200 && answer.codes().is_empty() {
        for name in ["content-length", "content-type"] {
            seen[name] = json!(answer.header(name));
        }
    }
    seen
}

/// The OCI scenario, run against any registry: every step's observation, by name.
pub(crate) async fn scenario(t: &Target) -> Vec<(&'static str, Value)> {
    let mut seen = Vec::new();
    let mut step = |name: &'static str, v: Value| seen.push((name, v));
    let (app, other, third) = ("/v2/lab/app", "/v2/lab/other", "/v2/lab/third");
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let layer = b"chunk1chunk2";
    let (config_digest, layer_digest) = (digest(config), digest(layer));
    let missing = digest(b"nobody pushed this");

    step("base", observe(&t.get("/v2/").await));
    let r = t.send("HEAD", &format!("{app}/blobs/{missing}"), &[], b"", &[]).await;
    assert!(r.body.is_empty());
    step("head missing blob", observe(&r));
    step("get missing blob", observe(&t.get(&format!("{app}/blobs/{missing}")).await));
    step("get invalid digest", observe(&t.get(&format!("{app}/blobs/sha256:zz")).await));

    // Monolithic: a session, then one PUT with the whole blob.
    let r = t.send("POST", &format!("{app}/blobs/uploads/"), &[], b"", &[]).await;
    step("open session", observe(&r));
    let location = r.header("location").unwrap();
    let r = t
        .send(
            "PUT",
            &with_digest(&location, &config_digest),
            &[("content-type", "application/octet-stream")],
            config,
            &[],
        )
        .await;
    step("monolithic put", observe(&r));

    // Chunked, with Content-Range, the upload's status between chunks, and a wrong digest.
    let octets = ("content-type", "application/octet-stream");
    let r = t.send("POST", &format!("{app}/blobs/uploads/"), &[], b"", &[]).await;
    let location = r.header("location").unwrap();
    let r = t.send("PATCH", &location, &[octets, ("content-range", "0-5")], &layer[..6], &[]).await;
    step("first chunk", observe(&r));
    let location = r.header("location").unwrap();
    let r = t.get(&location).await;
    step("upload status", observe(&r));
    let r = t.send("PATCH", &location, &[octets, ("content-range", "6-11")], &layer[6..], &[]).await;
    step("second chunk", observe(&r));
    let location = r.header("location").unwrap();
    let r = t.send("PUT", &with_digest(&location, &config_digest), &[], b"", &[]).await;
    step("close with a wrong digest", observe(&r));
    let r = t.send("PUT", &with_digest(&location, &layer_digest), &[], b"", &[]).await;
    step("close", observe(&r));

    let r = t.send("HEAD", &format!("{app}/blobs/{layer_digest}"), &[], b"", &[]).await;
    step("head blob", observe(&r));
    let r = t.get(&format!("{app}/blobs/{layer_digest}")).await;
    assert_eq!(r.body, layer);
    step("get blob", observe(&r));
    step("blob of another repository", observe(&t.get(&format!("{other}/blobs/{layer_digest}")).await));

    // Mounts: from a repository that has the blob, and of one nobody has (a plain session).
    let mount = |d: &str| format!("{other}/blobs/uploads/?mount={d}&from=lab/app");
    let pull_app = ["repository:lab/app:pull"];
    step("mount", observe(&t.send("POST", &mount(&layer_digest), &[], b"", &pull_app).await));
    step("mount of a missing blob", observe(&t.send("POST", &mount(&missing), &[], b"", &pull_app).await));
    step(
        "mounted blob",
        observe(&t.send("HEAD", &format!("{other}/blobs/{layer_digest}"), &[], b"", &[]).await),
    );

    // Manifests.
    let manifest = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len() }],
    })
    .to_string()
    .into_bytes();
    let manifest_digest = digest(&manifest);
    let oci = [("content-type", OCI_MANIFEST)];
    let put = |repo: &str, reference: &str| format!("{repo}/manifests/{reference}");
    step(
        "manifest with missing blobs",
        observe(&t.send("PUT", &put(third, "v1"), &oci, &manifest, &[]).await),
    );
    step("manifest by tag", observe(&t.send("PUT", &put(app, "v1"), &oci, &manifest, &[]).await));
    step(
        "manifest by digest",
        observe(&t.send("PUT", &put(app, &manifest_digest), &oci, &manifest, &[]).await),
    );
    step(
        "manifest by a wrong digest",
        observe(&t.send("PUT", &put(app, &missing), &oci, &manifest, &[]).await),
    );
    step(
        "manifest not json",
        observe(&t.send("PUT", &put(app, "bad"), &oci, b"{\"schemaVersion\":", &[]).await),
    );
    let text = [("content-type", "text/plain")];
    step(
        "manifest of an unknown type",
        observe(&t.send("PUT", &put(app, "bad"), &text, &manifest, &[]).await),
    );
    let accept = [("accept", ACCEPT)];
    let r = t.send("GET", &put(app, "v1"), &accept, b"", &[]).await;
    assert_eq!(r.body, manifest);
    step("get manifest by tag", observe(&r));
    step(
        "head manifest by digest",
        observe(&t.send("HEAD", &put(app, &manifest_digest), &accept, b"", &[]).await),
    );
    step("missing tag", observe(&t.send("GET", &put(app, "nope"), &accept, b"", &[]).await));
    for tag in ["v2", "latest"] {
        t.send("PUT", &put(app, tag), &oci, &manifest, &[]).await;
    }
    let r = t.get(&format!("{app}/tags/list")).await;
    let mut tags = r.json();
    // distribution 2.8 lists tags unsorted; the spec (and the emulator) sorts them.
    if let Some(list) = tags["tags"].as_array_mut() {
        list.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    }
    step("tags", json!({ "status": r.status, "body": tags }));
    step("tags of an unknown repository", observe(&t.get("/v2/lab/nobody/tags/list").await));

    // An index of the image, and one of a manifest the repository does not hold.
    let index = |d: &str| {
        json!({ "schemaVersion": 2, "mediaType": OCI_INDEX,
                "manifests": [{ "mediaType": OCI_MANIFEST, "digest": d, "size": manifest.len() }] })
        .to_string()
        .into_bytes()
    };
    let oci_index = [("content-type", OCI_INDEX)];
    step(
        "index",
        observe(&t.send("PUT", &put(app, "multi"), &oci_index, &index(&manifest_digest), &[]).await),
    );
    step(
        "index of a missing manifest",
        observe(&t.send("PUT", &put(app, "broken"), &oci_index, &index(&missing), &[]).await),
    );

    let r = t.get("/v2/_catalog").await;
    let listed = r.json()["repositories"].as_array().is_some_and(|l| l.contains(&json!("lab/app")));
    step("catalog", json!({ "status": r.status, "lists lab/app": listed }));

    // Deletes: an upload, a manifest (by digest only), a blob.
    let r = t.send("POST", &format!("{app}/blobs/uploads/"), &[], b"", &[]).await;
    let location = r.header("location").unwrap();
    step("cancel upload", observe(&t.send("DELETE", &location, &[], b"", &[]).await));
    step("cancel it again", observe(&t.send("DELETE", &location, &[], b"", &[]).await));
    step("delete manifest by tag", observe(&t.send("DELETE", &put(app, "v1"), &[], b"", &[]).await));
    step("delete manifest", observe(&t.send("DELETE", &put(app, &manifest_digest), &[], b"", &[]).await));
    step("deleted manifest's tag", observe(&t.send("GET", &put(app, "v1"), &accept, b"", &[]).await));
    step("delete it again", observe(&t.send("DELETE", &put(app, &manifest_digest), &[], b"", &[]).await));
    step(
        "delete blob",
        observe(&t.send("DELETE", &format!("{other}/blobs/{layer_digest}"), &[], b"", &[]).await),
    );
    step("deleted blob", observe(&t.get(&format!("{other}/blobs/{layer_digest}")).await));
    step("still in the first repository", observe(&t.get(&format!("{app}/blobs/{layer_digest}")).await));
    seen
}

/// Debian's `docker-registry` (distribution 2.8), from the shared test kit.
pub(crate) struct Distribution {
    _registry: lanestack_testkit::DockerRegistry,
    pub(crate) base: String,
}

impl Distribution {
    pub(crate) async fn start() -> Distribution {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let registry = lanestack_testkit::DockerRegistry::start();
        Distribution { base: registry.base(), _registry: registry }
    }

    fn target(&self) -> Target {
        Target {
            http: reqwest::Client::new(),
            base: self.base.clone(),
            basic: None,
            token: std::sync::Mutex::new(None),
        }
    }
}

#[test]
fn the_oci_scenario_gives_distributions_answers() {
    rt().block_on(async {
        let distribution = Distribution::start().await;
        let expected = scenario(&distribution.target()).await;
        let cloud = Cloud::start(EmulatorConfig::default()).await;
        cloud.registry("laneslab", false).await;
        let got = scenario(&cloud.target("laneslab")).await;
        assert_eq!(got.len(), expected.len());
        // The scenario exercises the paths it names (distribution agreeing with itself on
        // nothing would pass trivially).
        let status = |step: &str| expected.iter().find(|(s, _)| *s == step).map(|(_, v)| v["status"].clone());
        assert_eq!(status("close"), Some(json!(201)));
        assert_eq!(status("mount"), Some(json!(201)));
        assert_eq!(status("delete manifest"), Some(json!(202)));
        for ((step, want), (_, have)) in expected.iter().zip(&got) {
            assert_eq!(have, want, "step {step:?}: the emulator (left) and distribution (right) differ");
        }
    });
}

/// `GET /v2/` and a repository's 401s, and the token for a scope.
async fn token_by_basic(
    http: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
    scopes: &[&str],
) -> (u16, Value) {
    let mut query = vec![("service".to_owned(), base_host(base))];
    query.extend(scopes.iter().map(|s| ("scope".to_owned(), (*s).to_owned())));
    let r = http
        .get(format!("{base}/oauth2/token?{}", form(&query)))
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The login server of a base URL (`name.azurecr.io`).
fn base_host(base: &str) -> String {
    base.trim_start_matches("https://").split(':').next().unwrap().to_owned()
}

async fn send(http: &reqwest::Client, method: &str, url: &str, token: Option<&str>, body: &[u8]) -> Answer {
    let mut req = http.request(method.parse().unwrap(), url).body(body.to_vec());
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    Answer { status, headers, body: r.bytes().await.unwrap().to_vec() }
}

#[test]
fn acr_authentication_challenges_issues_scoped_tokens_and_keeps_them_to_their_registry() {
    rt().block_on(async {
        let cloud = Cloud::start(EmulatorConfig::default()).await;
        cloud.registry("laneslab", true).await;
        cloud.registry("otherlab", false).await;
        let (http, base) = (cloud.client("laneslab"), cloud.base("laneslab"));
        let port = cloud.emulator.addr().port();

        // The challenges: /v2/ without a scope, a repository with the action it needs.
        let r = send(&http, "GET", &format!("{base}/v2/"), None, b"").await;
        assert_eq!(r.status, 401);
        assert_eq!(r.header("docker-distribution-api-version").as_deref(), Some("registry/2.0"));
        let realm = format!("https://laneslab.azurecr.io:{port}/oauth2/token");
        assert_eq!(
            r.header("www-authenticate").unwrap(),
            format!("Bearer realm=\"{realm}\",service=\"laneslab.azurecr.io\"")
        );
        let r = send(&http, "GET", &format!("{base}/v2/a/b/manifests/v1"), None, b"").await;
        assert_eq!((r.status, r.codes()), (401, vec!["UNAUTHORIZED".to_owned()]));
        assert!(r.header("www-authenticate").unwrap().ends_with(",scope=\"repository:a/b:pull\""));
        let r = send(&http, "POST", &format!("{base}/v2/a/b/blobs/uploads/"), None, b"").await;
        assert!(r.header("www-authenticate").unwrap().ends_with(",scope=\"repository:a/b:pull,push\""));
        let r = send(&http, "DELETE", &format!("{base}/v2/a/b/manifests/{}", digest(b"x")), None, b"").await;
        assert!(r.header("www-authenticate").unwrap().ends_with(",scope=\"repository:a/b:delete\""));

        // The service principal's credentials get a token; a wrong password does not.
        let (status, body) =
            token_by_basic(&http, &base, principal::CLIENT_ID, "wrong", &["repository:a/b:pull"]).await;
        assert_eq!((status, body["errors"][0]["code"].as_str()), (401, Some("UNAUTHORIZED")));
        let (status, body) = token_by_basic(
            &http,
            &base,
            principal::CLIENT_ID,
            principal::CLIENT_SECRET,
            &["repository:a/b:pull"],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let pull = body["access_token"].as_str().unwrap().to_owned();
        let r = send(&http, "GET", &format!("{base}/v2/"), Some(&pull), b"").await;
        assert_eq!((r.status, r.json()), (200, json!({})));
        // A pull-only token reads but cannot push.
        let r = send(&http, "GET", &format!("{base}/v2/a/b/tags/list"), Some(&pull), b"").await;
        assert_eq!(r.codes(), ["NAME_UNKNOWN"]);
        let r = send(&http, "POST", &format!("{base}/v2/a/b/blobs/uploads/"), Some(&pull), b"").await;
        assert_eq!((r.status, r.codes()), (401, vec!["UNAUTHORIZED".to_owned()]));
        // Nor is it any good at another registry.
        let (other_http, other) = (cloud.client("otherlab"), cloud.base("otherlab"));
        let r = send(&other_http, "GET", &format!("{other}/v2/a/b/tags/list"), Some(&pull), b"").await;
        assert_eq!(r.status, 401);
        let r = send(&other_http, "GET", &format!("{other}/v2/"), Some(&pull), b"").await;
        assert_eq!(r.status, 401);

        // The admin user, with listCredentials' passwords, where it is enabled only.
        let (status, creds) =
            cloud.arm("POST", &format!("{}/listCredentials", registry_id("laneslab")), None).await;
        assert_eq!(status, 200);
        assert_eq!(creds["username"], "laneslab");
        let password2 = creds["passwords"][1]["value"].as_str().unwrap();
        assert_eq!(token_by_basic(&http, &base, "laneslab", password2, &[]).await.0, 200);
        let (_, creds) =
            cloud.arm("POST", &format!("{}/listCredentials", registry_id("otherlab")), None).await;
        let password = creds["passwords"][0]["value"].as_str().unwrap();
        assert_eq!(token_by_basic(&other_http, &other, "otherlab", password, &[]).await.0, 401);

        // An Entra token exchanged for a refresh token, then access tokens by refresh_token
        // grant, and by Basic with the null GUID user, as docker does.
        let entra = Cloud::entra_token(&cloud.arm, &cloud.emulator).await;
        let exchange = |token: &str| {
            form(&[
                ("grant_type".into(), "access_token".into()),
                ("service".into(), "laneslab.azurecr.io".into()),
                ("tenant".into(), principal::TENANT_ID.into()),
                ("access_token".into(), token.into()),
            ])
        };
        let r = http.post(format!("{base}/oauth2/exchange")).body(exchange("forged")).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let r = http.post(format!("{base}/oauth2/exchange")).body(exchange(&entra)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let refresh = r.json::<Value>().await.unwrap()["refresh_token"].as_str().unwrap().to_owned();
        let grant = form(&[
            ("grant_type".into(), "refresh_token".into()),
            ("service".into(), "laneslab.azurecr.io".into()),
            ("scope".into(), "repository:a/b:pull,push".into()),
            ("refresh_token".into(), refresh.clone()),
        ]);
        let r = http.post(format!("{base}/oauth2/token")).body(grant.clone()).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let push = r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
        let r = send(&http, "POST", &format!("{base}/v2/a/b/blobs/uploads/"), Some(&push), b"").await;
        assert_eq!(r.status, 202);
        let null_user = "00000000-0000-0000-0000-000000000000";
        assert_eq!(token_by_basic(&http, &base, null_user, &refresh, &[]).await.0, 200);
        // The refresh token is this registry's only.
        let r = other_http.post(format!("{other}/oauth2/token")).body(grant).send().await.unwrap();
        assert_eq!(r.status(), 401);

        // A login server of no registry.
        let (ghost_http, ghost) = (cloud.client("ghostlab"), cloud.base("ghostlab"));
        let r = send(&ghost_http, "GET", &format!("{ghost}/v2/"), None, b"").await;
        assert_eq!((r.status, r.codes()), (404, vec!["NAME_UNKNOWN".to_owned()]));
        // None of these went through ARM's checks: all are logged, none as ARM's 401.
        let log = cloud.emulator.requests();
        assert!(log.iter().any(|e| e.path == "/oauth2/exchange" && e.status == 200));
    });
}

/// Pushes `layer` and a manifest tagged `v1` to `lab/app` and returns the manifest's digest.
async fn push_image(t: &Target, layer: &[u8]) -> String {
    let layer_digest = digest(layer);
    let r =
        t.send("POST", &format!("/v2/lab/app/blobs/uploads/?digest={layer_digest}"), &[], layer, &[]).await;
    assert_eq!(r.status, 201, "a monolithic POST stores the blob at once");
    let manifest = json!({ "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": layer_digest, "size": layer.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len() }] })
    .to_string();
    let r = t
        .send("PUT", "/v2/lab/app/manifests/v1", &[("content-type", OCI_MANIFEST)], manifest.as_bytes(), &[])
        .await;
    assert_eq!(r.status, 201);
    r.header("docker-content-digest").unwrap()
}

#[test]
fn registries_persist_in_the_data_directory_with_the_ca_of_the_first_run() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let config = || EmulatorConfig { data_dir: Some(dir.path().to_owned()), ..EmulatorConfig::default() };
        let layer: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let (first_ca, manifest_digest) = {
            let cloud = Cloud::start(config()).await;
            cloud.registry("laneslab", false).await;
            let digest = push_image(&cloud.target("laneslab"), &layer).await;
            (cloud.emulator.ca_certificate_pem().unwrap().to_owned(), digest)
        };
        let blob = dir
            .path()
            .join("registries/laneslab/blobs/sha256")
            .join(digest(&layer).trim_start_matches("sha256:"));
        assert_eq!(std::fs::metadata(&blob).unwrap().len(), layer.len() as u64);
        assert!(!std::fs::read_to_string(dir.path().join("arm.json")).unwrap().contains(&digest(&layer)));

        // A second emulator on the same directory: a new server certificate, signed by the CA
        // kept from the first, which a client told about then still trusts for the wildcard.
        let cloud = Cloud::start(config()).await;
        assert_eq!(cloud.emulator.ca_certificate_pem().unwrap(), first_ca);
        let http = reqwest::Client::builder()
            .resolve("laneslab.azurecr.io", cloud.emulator.addr())
            .tls_certs_only(reqwest::Certificate::from_pem_bundle(first_ca.as_bytes()).unwrap())
            .build()
            .unwrap();
        let t = Target { http, ..cloud.target("laneslab") };
        let r = t.send("GET", "/v2/lab/app/manifests/v1", &[("accept", OCI_MANIFEST)], b"", &[]).await;
        assert_eq!((r.status, r.header("docker-content-digest")), (200, Some(manifest_digest)));
        let r = t.get(&format!("/v2/lab/app/blobs/{}", digest(&layer))).await;
        assert_eq!(r.body, layer);
        let r = t.get("/v2/lab/app/tags/list").await;
        assert_eq!(r.json(), json!({ "name": "lab/app", "tags": ["v1"] }));

        // A client trusting another CA is refused at the handshake.
        let stranger = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let other_ca = params.self_signed(&stranger).unwrap().pem();
        let http = reqwest::Client::builder()
            .resolve("laneslab.azurecr.io", cloud.emulator.addr())
            .tls_certs_only(reqwest::Certificate::from_pem_bundle(other_ca.as_bytes()).unwrap())
            .build()
            .unwrap();
        assert!(http.get(format!("{}/v2/", cloud.base("laneslab"))).send().await.is_err());
    });
}

#[test]
fn deleting_the_arm_registry_deletes_its_content() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let cloud = Cloud::start(EmulatorConfig {
            data_dir: Some(dir.path().to_owned()),
            ..EmulatorConfig::default()
        })
        .await;
        cloud.registry("laneslab", false).await;
        push_image(&cloud.target("laneslab"), b"layer").await;
        assert!(dir.path().join("registries/laneslab/index.json").exists());
        let (status, _) = cloud.arm("DELETE", &registry_id("laneslab"), None).await;
        assert!(status == 200 || status == 202, "{status}");
        // The delete's operation ends on its first poll (no polls configured): the GET sees it gone.
        let mut gone = false;
        for _ in 0..20 {
            if cloud.arm("GET", &registry_id("laneslab"), None).await.0 == 404 {
                gone = true;
                break;
            }
        }
        assert!(gone, "the registry's delete did not end");
        assert!(!dir.path().join("registries/laneslab").exists());
        let r = cloud.target("laneslab").get("/v2/").await;
        assert_eq!(r.codes(), ["NAME_UNKNOWN"]);
        // A registry of the same name starts empty.
        cloud.registry("laneslab", false).await;
        let r = cloud.target("laneslab").get("/v2/lab/app/tags/list").await;
        assert_eq!(r.codes(), ["NAME_UNKNOWN"]);
        // Requests to the registry are logged like any other.
        let log = cloud.emulator.requests();
        assert!(
            log.iter().any(|e| e.method == "PUT" && e.path == "/v2/lab/app/manifests/v1" && e.status == 201)
        );
    });
}

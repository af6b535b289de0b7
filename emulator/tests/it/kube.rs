//! The Kubernetes API of each managed cluster, as a client holding the cluster's kubeconfig
//! sees it: discovery, auth, secrets and namespaces with the real server's rules and `Status`
//! errors, server-side apply, dry runs, and its life with the cluster and the data directory.

use base64::Engine as _;
use lanestack_emulator::{Emulator, EmulatorConfig};
use serde_json::{Value, json};

use super::{AKS, Client, RG, rt};

pub(crate) const CLUSTER: &str =
    "/subscriptions/sub-1/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/k";

fn cluster_body() -> Value {
    json!({
        "location": "westeurope",
        "identity": { "type": "SystemAssigned" },
        "properties": { "dnsPrefix": "k", "kubernetesVersion": "1.31", "agentPoolProfiles": [{
            "name": "agentpool", "count": 1, "vmSize": "Standard_DS2_v2", "mode": "System",
        }] },
    })
}

/// A field of the kubeconfig (`server`, `token`, `certificate-authority-data`).
pub(crate) fn field<'a>(config: &'a str, name: &str) -> Option<&'a str> {
    config.lines().find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
}

pub(crate) fn kubeconfig(reply: &Value) -> String {
    let value = reply["kubeconfigs"][0]["value"].as_str().unwrap();
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(value).unwrap()).unwrap()
}

/// A client of one cluster's Kubernetes API, from its kubeconfig.
pub(crate) struct Kube {
    pub(crate) http: reqwest::Client,
    pub(crate) server: String,
    pub(crate) token: String,
}

pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

impl Kube {
    pub(crate) async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        content_type: &str,
    ) -> Answer {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.server))
            .bearer_auth(&self.token)
            .header("user-agent", "emu-test/1.0 (linux)");
        if let Some(b) = body {
            req = req.header("content-type", content_type).body(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        Answer { status, body: serde_json::from_str(&text).unwrap_or(Value::Null) }
    }
    pub(crate) async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None, "").await
    }
    pub(crate) async fn post(&self, path: &str, body: Value) -> Answer {
        self.send("POST", path, Some(body.to_string().into_bytes()), "application/json").await
    }
    pub(crate) async fn put(&self, path: &str, body: Value) -> Answer {
        self.send("PUT", path, Some(body.to_string().into_bytes()), "application/json").await
    }
    pub(crate) async fn merge(&self, path: &str, body: Value) -> Answer {
        self.send("PATCH", path, Some(body.to_string().into_bytes()), "application/merge-patch+json").await
    }
    pub(crate) async fn apply(&self, path: &str, body: Value) -> Answer {
        self.send("PATCH", path, Some(body.to_string().into_bytes()), "application/apply-patch+yaml").await
    }
    pub(crate) async fn delete(&self, path: &str) -> Answer {
        self.send("DELETE", path, None, "").await
    }
}

/// Creates rg1 and the cluster `k` through ARM and returns a client from its kubeconfig.
pub(crate) async fn cluster(c: &Client) -> Kube {
    c.group().await;
    cluster_again(c).await
}

/// Creates the cluster `k` (its resource group exists), waits for its provisioning, and
/// returns a client from its kubeconfig.
async fn cluster_again(c: &Client) -> Kube {
    let r = c.call("PUT", CLUSTER, AKS, Some(cluster_body())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let op = r.header("azure-asyncoperation").unwrap().to_owned();
    while c.raw("GET", &op, None, &[]).await.body["status"] == "InProgress" {}
    let r = c.call("POST", &format!("{CLUSTER}/listClusterUserCredential"), AKS, None).await;
    assert_eq!(r.status, 200);
    let config = kubeconfig(&r.body);
    Kube {
        http: c.http.clone(),
        server: field(&config, "server").unwrap().to_owned(),
        token: field(&config, "token").unwrap().to_owned(),
    }
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code })
}

/// The body without `details`, to compare the rest exactly.
fn without_details(v: &Value) -> Value {
    let mut v = v.clone();
    v.as_object_mut().unwrap().remove("details");
    v
}

/// An HTTPS emulator with rg1 and the cluster `k` made through ARM, and the cluster's kubeconfig.
pub(crate) async fn https_cluster() -> (Emulator, String) {
    https_cluster_with(EmulatorConfig::default()).await
}

/// [`https_cluster`] with `config` (HTTPS and no `Retry-After` wait added).
pub(crate) async fn https_cluster_with(config: EmulatorConfig) -> (Emulator, String) {
    let config = EmulatorConfig { https: true, lro_retry_after_secs: 0, ..config };
    let emulator = Emulator::start(config).await.unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pem = emulator.ca_certificate_pem().unwrap().to_owned();
    let arm = reqwest::Client::builder()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let base = emulator.endpoint();
    let token = lanestack_testkit::entra_token(&arm, &base).await;
    let token = token.as_str();
    let put = |url: String, body: Value| arm.put(url).bearer_auth(token).json(&body).send();
    let r =
        put(format!("{base}{RG}?api-version=2024-03-01"), json!({ "location": "westeurope" })).await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        put(format!("{base}{CLUSTER}?api-version={AKS}"), cluster_body()).await.unwrap().status(),
        201
    );
    let r: Value = arm
        .post(format!("{base}{CLUSTER}/listClusterUserCredential?api-version={AKS}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (emulator, kubeconfig(&r))
}

#[test]
fn the_kubeconfig_reaches_the_cluster_api_over_https_with_its_ca_and_token() {
    rt().block_on(async {
        let (emulator, config) = https_cluster().await;
        let pem = emulator.ca_certificate_pem().unwrap().to_owned();
        let base = emulator.endpoint();
        let token = "an ARM token is not a cluster token";
        let server = field(&config, "server").unwrap();
        assert_eq!(server, emulator.kubernetes_server(&CLUSTER.to_uppercase()));
        assert!(server.starts_with("https://127.0.0.1:"), "{server}");
        // The kubeconfig's CA is the emulator's, and a client trusting only it verifies the server.
        let ca = base64::engine::general_purpose::STANDARD
            .decode(field(&config, "certificate-authority-data").unwrap())
            .unwrap();
        assert_eq!(ca, pem.as_bytes());
        let http = reqwest::Client::builder()
            .tls_certs_only(reqwest::Certificate::from_pem_bundle(&ca).unwrap())
            .build()
            .unwrap();
        let kube = Kube {
            http: http.clone(),
            server: server.to_owned(),
            token: field(&config, "token").unwrap().to_owned(),
        };
        let r = kube.get("/api/v1/namespaces").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["kind"], "NamespaceList");
        let names: Vec<&str> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["default", "kube-node-lease", "kube-public", "kube-system"]);
        let ns = &r.body["items"][0];
        assert!(ns.get("kind").is_none(), "list items carry no kind: {ns}");
        assert_eq!(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "default");
        assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(ns["status"]["phase"], "Active");

        // Discovery.
        let r = kube.get("/api").await;
        assert_eq!(
            (r.status, &r.body["kind"], &r.body["versions"]),
            (200, &json!("APIVersions"), &json!(["v1"]))
        );
        assert_eq!(r.body["serverAddressByClientCIDRs"][0]["serverAddress"], emulator.addr().to_string());
        let r = kube.get("/api/v1").await;
        assert_eq!((&r.body["kind"], &r.body["groupVersion"]), (&json!("APIResourceList"), &json!("v1")));
        let resources = r.body["resources"].as_array().unwrap();
        let ns = resources.iter().find(|r| r["name"] == "namespaces").unwrap();
        assert_eq!(
            (&ns["namespaced"], &ns["kind"], &ns["shortNames"]),
            (&json!(false), &json!("Namespace"), &json!(["ns"]))
        );
        let secrets = resources.iter().find(|r| r["name"] == "secrets").unwrap();
        assert_eq!((&secrets["namespaced"], &secrets["kind"]), (&json!(true), &json!("Secret")));
        assert!(secrets["verbs"].as_array().unwrap().contains(&json!("patch")));
        let r = kube.get("/apis").await;
        let group = |name: &str| {
            let v1 = json!({ "groupVersion": format!("{name}/v1"), "version": "v1" });
            json!({ "name": name, "versions": [v1], "preferredVersion": v1 })
        };
        let groups = ["apps", "batch", "rbac.authorization.k8s.io", "storage.k8s.io", "apiextensions.k8s.io"];
        assert_eq!(
            r.body,
            json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups.map(group) })
        );
        let r = kube.get("/version").await;
        assert!(r.body["gitVersion"].as_str().unwrap().starts_with("v1.30."), "{}", r.body);
        let r = kube.get("/api/v1/pods").await;
        assert_eq!((r.status, &r.body["reason"]), (404, &json!("NotFound")));

        // Auth: the kubeconfig's bearer token only.
        let unauthorized = status(401, "Unauthorized", "Unauthorized");
        for bearer in [None, Some(token), Some("forged")] {
            let mut req = http.get(format!("{server}/api/v1/namespaces"));
            if let Some(t) = bearer {
                req = req.bearer_auth(t);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status().as_u16(), 401);
            assert_eq!(r.json::<Value>().await.unwrap(), unauthorized);
        }
        // An unknown cluster key: 404 with a Status, whatever the token.
        let r = http
            .get(format!("{base}/k8s/0123456789abcdef/api"))
            .bearer_auth(&kube.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404);
        assert_eq!(r.json::<Value>().await.unwrap()["kind"], "Status");
        // Every request is in the log, without ARM's api-version checks.
        let log = emulator.requests();
        let kube_calls: Vec<_> = log.iter().filter(|e| e.path.starts_with("/k8s/")).collect();
        assert_eq!(kube_calls.len(), 10);
        assert_eq!(kube_calls.iter().filter(|e| e.status == 401).count(), 3);
    });
}

#[test]
fn lanestack_kubes_client_reads_the_kubeconfig_and_works_against_the_api() {
    rt().block_on(async {
        let (_emulator, config) = https_cluster().await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(&path, &config).unwrap();
        let config = lanestack_kube::Config::from_kubeconfig(&path, None).unwrap();
        let client = lanestack_kube::Client::new(&config).unwrap();
        let collection = lanestack_kube::resource_path("v1", Some("default"), "secrets", None);
        let secret = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "s" }, "stringData": { "k": "v" } });
        let created = client.create(&collection, &secret).await.unwrap();
        assert_eq!(created["data"]["k"], "dg==");
        let again = client.create(&collection, &secret).await.unwrap_err();
        assert!(matches!(again, lanestack_kube::Error::AlreadyExists(_)), "{again}");
        let item = lanestack_kube::resource_path("v1", Some("default"), "secrets", Some("s"));
        assert_eq!(client.get(&item).await.unwrap(), created);
        let bad = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "t" }, "data": { "a b": "dg==" } });
        let err = client.create(&collection, &bad).await.unwrap_err();
        let api = err.api().unwrap();
        assert_eq!((api.code, api.reason.as_str(), api.causes.len()), (422, "Invalid", 1));
        client.delete(&item).await.unwrap();
        assert!(matches!(client.get(&item).await.unwrap_err(), lanestack_kube::Error::NotFound(_)));
    });
}

#[test]
fn secrets_follow_the_api_servers_rules_and_errors() {
    rt().block_on(async {
        let c = Client::start(EmulatorConfig::default()).await;
        let kube = cluster(&c).await;
        let at = |name: &str| format!("/api/v1/namespaces/default/secrets/{name}");
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let r = kube
            .post(
                "/api/v1/namespaces/default/secrets?fieldManager=creator",
                json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "s", "labels": { "app": "x" } },
                        "data": { "a": b64("one") }, "stringData": { "b": "two" } }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let s = r.body;
        assert_eq!(s["data"], json!({ "a": b64("one"), "b": b64("two") }));
        assert!(s.get("stringData").is_none());
        assert_eq!((&s["type"], &s["kind"], &s["apiVersion"]), (&json!("Opaque"), &json!("Secret"), &json!("v1")));
        assert_eq!(s["metadata"]["namespace"], "default");
        assert_eq!(s["metadata"]["uid"].as_str().unwrap().len(), 36);
        let ts = s["metadata"]["creationTimestamp"].as_str().unwrap();
        assert!(ts.len() == 20 && ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{ts}");
        let rv: u64 = s["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
        let mf = &s["metadata"]["managedFields"];
        assert_eq!(mf.as_array().unwrap().len(), 1);
        assert_eq!((&mf[0]["manager"], &mf[0]["operation"], &mf[0]["apiVersion"]), (&json!("creator"), &json!("Update"), &json!("v1")));
        assert_eq!(
            mf[0]["fieldsV1"],
            json!({ "f:data": { ".": {}, "f:a": {}, "f:b": {} }, "f:metadata": { "f:labels": { ".": {}, "f:app": {} } }, "f:type": {} })
        );
        assert_eq!(kube.get(&at("s")).await.body, s);

        // The auth scheme is case-insensitive.
        let r = kube.http.get(format!("{}{}", kube.server, at("s"))).header("authorization", format!("bearer {}", kube.token)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        // Lists: in the namespace and across all; items carry no kind.
        let r = kube.get("/api/v1/namespaces/default/secrets").await;
        assert_eq!((&r.body["kind"], r.body["items"].as_array().unwrap().len()), (&json!("SecretList"), 1));
        assert!(r.body["items"][0].get("kind").is_none());
        assert_eq!(r.body["metadata"]["resourceVersion"], s["metadata"]["resourceVersion"]);
        let r = kube.get("/api/v1/secrets?labelSelector=app%3Dx").await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
        let r = kube.get("/api/v1/secrets?labelSelector=app%3Dy").await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 0);

        // PUT: a stale resourceVersion is a conflict; the current one (or none) replaces.
        let mut stale = s.clone();
        stale["metadata"]["resourceVersion"] = json!((rv - 1).to_string());
        let r = kube.put(&at("s"), stale).await;
        assert_eq!((r.status, &r.body["reason"]), (409, &json!("Conflict")));
        assert_eq!(
            r.body["message"],
            "Operation cannot be fulfilled on secrets \"s\": the object has been modified; please apply your changes to the latest version and try again"
        );
        let mut next = s.clone();
        next["data"] = json!({ "a": b64("uno") });
        let r = kube.put(&at("s"), next).await;
        assert_eq!(r.status, 200);
        let rv2: u64 = r.body["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
        assert!(rv2 > rv);
        assert_eq!(r.body["data"], json!({ "a": b64("uno") }));
        assert_eq!(r.body["metadata"]["uid"], s["metadata"]["uid"]);
        assert_eq!(r.body["metadata"]["creationTimestamp"], s["metadata"]["creationTimestamp"]);
        // The user agent names the manager when no fieldManager is given.
        let managers: Vec<&str> =
            r.body["metadata"]["managedFields"].as_array().unwrap().iter().map(|e| e["manager"].as_str().unwrap()).collect();
        assert_eq!(managers, ["creator", "emu-test"]);

        // Merge patch: null removes a key.
        let r = kube.merge(&at("s"), json!({ "data": { "a": null, "c": b64("three") } })).await;
        assert_eq!((r.status, &r.body["data"]), (200, &json!({ "c": b64("three") })));

        // Errors, exactly.
        let r = kube.post("/api/v1/namespaces/default/secrets", json!({ "metadata": { "name": "s" } })).await;
        assert_eq!(without_details(&r.body), status(409, "AlreadyExists", "secrets \"s\" already exists"));
        let r = kube.get(&at("nope")).await;
        let mut not_found = status(404, "NotFound", "secrets \"nope\" not found");
        not_found["details"] = json!({ "name": "nope", "kind": "secrets" });
        assert_eq!(r.body, not_found);
        let r = kube.put(&at("nope"), json!({ "metadata": { "name": "nope" } })).await;
        assert_eq!(r.status, 404);
        let r = kube.post("/api/v1/namespaces/ghost/secrets", json!({ "metadata": { "name": "s" } })).await;
        assert_eq!(without_details(&r.body), status(404, "NotFound", "namespaces \"ghost\" not found"));
        let r = kube.post("/api/v1/namespaces/default/secrets", json!({ "metadata": { "name": "b" }, "data": { "k": "not base64!" } })).await;
        assert_eq!((r.status, &r.body["reason"]), (400, &json!("BadRequest")));
        assert_eq!(r.body["message"], "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte 3");
        let r = kube.post("/api/v1/namespaces/default/secrets", json!({ "metadata": { "name": "b" }, "data": { "bad key": b64("v") } })).await;
        assert_eq!((r.status, &r.body["reason"]), (422, &json!("Invalid")));
        let why = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
        assert_eq!(r.body["message"], format!("Secret \"b\" is invalid: data[bad key]: Invalid value: \"bad key\": {why}"));
        assert_eq!(
            r.body["details"],
            json!({ "name": "b", "kind": "Secret", "causes": [{ "reason": "FieldValueInvalid", "message": format!("Invalid value: \"bad key\": {why}"), "field": "data[bad key]" }] })
        );
        let r = kube.post("/api/v1/namespaces/default/secrets", json!({ "metadata": { "name": "Bad_Name" } })).await;
        assert_eq!(r.status, 422);
        assert!(r.body["message"].as_str().unwrap().starts_with("Secret \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"), "{}", r.body);
        let r = kube.post("/api/v1/namespaces/default/secrets", json!({ "metadata": { "name": "l", "labels": { "a/b/c": "v", "ok": "bad value" } } })).await;
        assert_eq!(r.status, 422);
        let causes = r.body["details"]["causes"].as_array().unwrap();
        assert_eq!(causes.len(), 2, "{}", r.body);
        assert!(causes.iter().all(|c| c["field"] == "metadata.labels"));
        assert!(causes[1]["message"].as_str().unwrap().starts_with("Invalid value: \"bad value\": a valid label must be an empty string"), "{}", r.body);
        let big = "x".repeat(1 << 20);
        let r = kube.post("/api/v1/namespaces/default/secrets", json!({ "metadata": { "name": "big" }, "stringData": { "k": big } })).await;
        assert_eq!(r.body["message"], "Secret \"big\" is invalid: data: Too long: must have at most 1048576 bytes");
        assert_eq!(r.body["details"]["causes"][0]["reason"], "FieldValueTooLong");
        // Built-in types require their keys.
        let r = kube.post("/api/v1/namespaces/default/secrets", json!({ "metadata": { "name": "tls" }, "type": "kubernetes.io/tls", "data": { "tls.crt": b64("c") } })).await;
        assert_eq!(r.body["message"], "Secret \"tls\" is invalid: data[tls.key]: Required value");
        assert_eq!(r.body["details"]["causes"][0], json!({ "reason": "FieldValueRequired", "message": "Required value", "field": "data[tls.key]" }));
        let r = kube.merge(&at("s"), json!({ "type": "example.com/custom" })).await;
        assert_eq!(r.body["message"], "Secret \"s\" is invalid: type: Invalid value: \"example.com/custom\": field is immutable");
        let r = kube.send("PATCH", &at("s"), Some(b"[]".to_vec()), "application/json-patch+json").await;
        assert_eq!((r.status, &r.body["reason"]), (415, &json!("UnsupportedMediaType")));
        let r = kube.post(&at("s"), json!({})).await;
        assert_eq!((r.status, &r.body["reason"]), (405, &json!("MethodNotAllowed")));
        let r = kube.put(&at("s"), json!({ "metadata": { "name": "other" } })).await;
        assert_eq!(r.body["message"], "the name of the object (other) does not match the name on the URL (s)");

        // Immutable: data frozen, and immutable cannot be unset.
        let r = kube.merge(&at("s"), json!({ "immutable": true })).await;
        assert_eq!(r.status, 200);
        let r = kube.merge(&at("s"), json!({ "stringData": { "c": "changed" } })).await;
        assert_eq!(r.body["message"], "Secret \"s\" is invalid: data: Forbidden: field is immutable when `immutable` is set");
        assert_eq!(r.body["details"]["causes"][0]["reason"], "FieldValueForbidden");
        let r = kube.merge(&at("s"), json!({ "immutable": false })).await;
        assert_eq!(r.body["message"], "Secret \"s\" is invalid: immutable: Forbidden: field is immutable when `immutable` is set");
        // Labels still change.
        assert_eq!(kube.merge(&at("s"), json!({ "metadata": { "labels": { "v": "2" } } })).await.status, 200);

        // DELETE: a Success Status, then gone.
        let uid = s["metadata"]["uid"].clone();
        let r = kube.delete(&at("s")).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.body,
            json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": { "name": "s", "kind": "secrets", "uid": uid } })
        );
        assert_eq!(kube.get(&at("s")).await.status, 404);
        assert_eq!(kube.delete(&at("s")).await.status, 404);
    });
}

#[test]
fn a_deleted_namespace_terminates_then_goes_with_its_content() {
    rt().block_on(async {
        let c = Client::start(EmulatorConfig { lro_polls: 2, ..EmulatorConfig::default() }).await;
        let kube = cluster(&c).await;
        let r = kube.delete("/api/v1/namespaces/default").await;
        assert_eq!(
            without_details(&r.body),
            status(403, "Forbidden", "namespaces \"default\" is forbidden: this namespace may not be deleted")
        );
        let r = kube.post("/api/v1/namespaces", json!({ "metadata": { "name": "Team" } })).await;
        assert_eq!((r.status, &r.body["details"]["causes"][0]["field"]), (422, &json!("metadata.name")));
        let r = kube.post("/api/v1/namespaces", json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "team" } })).await;
        assert_eq!(r.status, 201);
        assert_eq!(r.body["metadata"]["labels"], json!({ "kubernetes.io/metadata.name": "team" }));
        assert_eq!(r.body["status"], json!({ "phase": "Active" }));
        let r = kube.post("/api/v1/namespaces/team/secrets", json!({ "metadata": { "name": "s" }, "stringData": { "k": "v" } })).await;
        assert_eq!(r.status, 201);

        let r = kube.delete("/api/v1/namespaces/team").await;
        assert_eq!((r.status, &r.body["kind"], &r.body["status"]["phase"]), (200, &json!("Namespace"), &json!("Terminating")));
        assert!(r.body["metadata"]["deletionTimestamp"].is_string());
        let r = kube.delete("/api/v1/namespaces/team").await;
        assert_eq!((r.status, &r.body["reason"]), (409, &json!("Conflict")));
        let r = kube.post("/api/v1/namespaces/team/secrets", json!({ "metadata": { "name": "t" } })).await;
        assert_eq!(
            without_details(&r.body),
            status(403, "Forbidden", "secrets \"t\" is forbidden: unable to create new content in namespace team because it is being terminated")
        );
        // Its secrets are still there while it terminates; two GETs see it Terminating.
        assert_eq!(kube.get("/api/v1/namespaces/team/secrets/s").await.status, 200);
        for _ in 0..2 {
            let r = kube.get("/api/v1/namespaces/team").await;
            assert_eq!((r.status, &r.body["status"]["phase"]), (200, &json!("Terminating")));
        }
        let r = kube.get("/api/v1/namespaces/team").await;
        assert_eq!(without_details(&r.body), status(404, "NotFound", "namespaces \"team\" not found"));
        assert_eq!(kube.get("/api/v1/namespaces/team/secrets/s").await.status, 404);
        assert_eq!(kube.get("/api/v1/secrets").await.body["items"], json!([]));
        // A namespace of the same name starts empty.
        assert_eq!(kube.post("/api/v1/namespaces", json!({ "metadata": { "name": "team" } })).await.status, 201);
        assert_eq!(kube.get("/api/v1/namespaces/team/secrets").await.body["items"], json!([]));
    });
}

#[test]
fn server_side_apply_owns_fields_and_reports_conflicts() {
    rt().block_on(async {
        let c = Client::start(EmulatorConfig::default()).await;
        let kube = cluster(&c).await;
        let at = "/api/v1/namespaces/default/secrets/cfg";
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let config = |data: Value| {
            json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "cfg", "labels": { "app": "web" } }, "data": data })
        };
        // fieldManager is required.
        let r = kube.apply(at, config(json!({ "a": b64("1") }))).await;
        assert_eq!((r.status, &r.body["reason"]), (422, &json!("Invalid")));
        assert_eq!(r.body["message"], "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch");

        // Apply creates.
        let r = kube.apply(&format!("{at}?fieldManager=ssa"), config(json!({ "a": b64("1"), "b": b64("2") }))).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["type"], "Opaque");
        let mf = r.body["metadata"]["managedFields"].as_array().unwrap().clone();
        assert_eq!(mf.len(), 1);
        let entry = &mf[0];
        assert_eq!((&entry["manager"], &entry["operation"], &entry["apiVersion"], &entry["fieldsType"]), (&json!("ssa"), &json!("Apply"), &json!("v1"), &json!("FieldsV1")));
        assert!(entry["time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(entry["fieldsV1"], json!({ "f:data": { "f:a": {}, "f:b": {} }, "f:metadata": { "f:labels": { "f:app": {} } } }));
        let rv = r.body["metadata"]["resourceVersion"].clone();
        // The same apply again changes nothing, not even the resourceVersion.
        let r = kube.apply(&format!("{at}?fieldManager=ssa"), config(json!({ "a": b64("1"), "b": b64("2") }))).await;
        assert_eq!((r.status, &r.body["metadata"]["resourceVersion"]), (200, &rv));

        // Re-applying without b removes it.
        let r = kube.apply(&format!("{at}?fieldManager=ssa"), config(json!({ "a": b64("1") }))).await;
        assert_eq!(r.body["data"], json!({ "a": b64("1") }));
        assert_eq!(r.body["metadata"]["managedFields"][0]["fieldsV1"]["f:data"], json!({ "f:a": {} }));

        // force is for apply only.
        let r = kube.merge(&format!("{at}?fieldManager=x&force=true"), json!({})).await;
        assert_eq!(r.body["message"], "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch");
        // Another manager changes a: it owns a now.
        let r = kube.merge(&format!("{at}?fieldManager=kubectl-edit"), json!({ "data": { "a": b64("edited") } })).await;
        assert_eq!(r.status, 200);
        let mf = r.body["metadata"]["managedFields"].as_array().unwrap().clone();
        assert_eq!(mf.len(), 2);
        assert_eq!(mf[0]["fieldsV1"], json!({ "f:metadata": { "f:labels": { "f:app": {} } } }));
        assert_eq!((&mf[1]["manager"], &mf[1]["operation"]), (&json!("kubectl-edit"), &json!("Update")));
        assert_eq!(mf[1]["fieldsV1"], json!({ "f:data": { "f:a": {} } }));

        // Applying another value for a conflicts.
        let r = kube.apply(&format!("{at}?fieldManager=ssa"), config(json!({ "a": b64("1") }))).await;
        assert_eq!(r.status, 409);
        assert_eq!(r.body["reason"], "Conflict");
        assert_eq!(r.body["message"], "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using v1: .data.a");
        assert_eq!(
            r.body["details"]["causes"],
            json!([{ "reason": "FieldManagerConflict", "message": "conflict with \"kubectl-edit\" using v1", "field": ".data.a" }])
        );
        // The same value is shared ownership, no conflict.
        let r = kube.apply(&format!("{at}?fieldManager=ssa"), config(json!({ "a": b64("edited") }))).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let mf = r.body["metadata"]["managedFields"].as_array().unwrap().clone();
        assert_eq!(mf[0]["fieldsV1"]["f:data"], json!({ "f:a": {} }));
        assert_eq!(mf[1]["fieldsV1"]["f:data"], json!({ "f:a": {} }));
        // Force takes it over: the editor's entry, left empty, is dropped.
        let r = kube.apply(&format!("{at}?fieldManager=ssa&force=true"), config(json!({ "a": b64("forced") }))).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["data"]["a"], b64("forced"));
        let mf = r.body["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(mf.len(), 1);
        assert_eq!(mf[0]["manager"], "ssa");

        // YAML bodies too.
        let yaml = format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: cfg\n  labels:\n    app: web\ndata:\n  a: {}\n", b64("yaml"));
        let r = kube.send("PATCH", &format!("{at}?fieldManager=ssa"), Some(yaml.into_bytes()), "application/apply-patch+yaml").await;
        assert_eq!((r.status, &r.body["data"]["a"]), (200, &json!(b64("yaml"))));
        // Apply in a missing namespace is refused as a create would be.
        let r = kube.apply("/api/v1/namespaces/ghost/secrets/cfg?fieldManager=ssa", json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "cfg" } })).await;
        assert_eq!((r.status, &r.body["message"]), (404, &json!("namespaces \"ghost\" not found")));
    });
}

#[test]
fn dry_runs_validate_and_store_nothing() {
    rt().block_on(async {
        let c = Client::start(EmulatorConfig::default()).await;
        let kube = cluster(&c).await;
        let list_rv = |b: &Value| b["metadata"]["resourceVersion"].clone();
        let before = list_rv(&kube.get("/api/v1/secrets").await.body);
        let r = kube.post("/api/v1/namespaces/default/secrets?dryRun=All", json!({ "metadata": { "name": "d" }, "stringData": { "k": "v" } })).await;
        assert_eq!(r.status, 201);
        assert!(r.body["metadata"]["uid"].is_string());
        assert!(r.body["metadata"].get("resourceVersion").is_none(), "{}", r.body);
        let r = kube.post("/api/v1/namespaces/default/secrets?dryRun=All", json!({ "metadata": { "name": "D" } })).await;
        assert_eq!(r.status, 422);
        let r = kube.post("/api/v1/namespaces/default/secrets?dryRun=Some", json!({ "metadata": { "name": "d" } })).await;
        assert_eq!(
            r.body["message"],
            "CreateOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: \"Some\": supported values: \"All\""
        );
        assert_eq!(kube.get("/api/v1/namespaces/default/secrets/d").await.status, 404);
        assert_eq!(list_rv(&kube.get("/api/v1/secrets").await.body), before);

        let r = kube.post("/api/v1/namespaces/default/secrets", json!({ "metadata": { "name": "d" }, "stringData": { "k": "v" } })).await;
        let stored = r.body;
        let path = "/api/v1/namespaces/default/secrets/d";
        let r = kube.merge(&format!("{path}?dryRun=All"), json!({ "stringData": { "k": "w" } })).await;
        assert_eq!((r.status, &r.body["metadata"]["resourceVersion"]), (200, &stored["metadata"]["resourceVersion"]));
        assert_ne!(r.body["data"], stored["data"]);
        let r = kube.apply(&format!("{path}?dryRun=All&fieldManager=x"), json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "d" }, "data": { "z": "eg==" } })).await;
        assert_eq!(r.status, 200);
        let r = kube.delete(&format!("{path}?dryRun=All")).await;
        assert_eq!(r.body["status"], "Success");
        let r = kube.delete("/api/v1/namespaces/kube-node-lease?dryRun=All").await;
        assert_eq!(r.body["status"]["phase"], "Terminating");
        assert_eq!(kube.get(path).await.body, stored);
        assert_eq!(kube.get("/api/v1/namespaces/kube-node-lease").await.body["status"]["phase"], "Active");
        assert_eq!(list_rv(&kube.get("/api/v1/secrets").await.body), stored["metadata"]["resourceVersion"]);
    });
}

#[test]
fn deleting_the_cluster_takes_its_api_and_objects_along() {
    rt().block_on(async {
        let c = Client::start(EmulatorConfig { lro_polls: 0, ..EmulatorConfig::default() }).await;
        let kube = cluster(&c).await;
        let r = kube.post("/api/v1/namespaces/default/secrets", json!({ "metadata": { "name": "s" } })).await;
        assert_eq!(r.status, 201);
        let r = c.call("DELETE", CLUSTER, AKS, None).await;
        assert_eq!(r.status, 202);
        assert_eq!(super::settle(&c, &r).await, 204);
        let r = kube.get("/api/v1/namespaces/default/secrets/s").await;
        assert_eq!(r.status, 404);
        assert_eq!(r.body["message"], "the server could not find the requested resource");
        // The same cluster again: the same server, a new token (the old one is refused), and
        // a fresh API.
        let again = cluster_again(&c).await;
        assert_eq!(again.server, kube.server);
        assert_ne!(again.token, kube.token);
        assert_eq!(kube.get("/api/v1/namespaces/default").await.status, 401);
        assert_eq!(again.get("/api/v1/namespaces/default/secrets/s").await.status, 404);
        assert_eq!(again.get("/api/v1/namespaces/default").await.status, 200);
    });
}

#[test]
fn kubernetes_objects_persist_in_the_data_directory() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let config = || EmulatorConfig { data_dir: Some(dir.path().to_owned()), ..EmulatorConfig::default() };
        let c = Client::start(config()).await;
        let kube = cluster(&c).await;
        let r = kube
            .post(
                "/api/v1/namespaces/default/secrets",
                json!({ "metadata": { "name": "kept" }, "stringData": { "k": "v" } }),
            )
            .await;
        assert_eq!(r.status, 201);
        let kept = r.body;
        assert!(dir.path().join("kube.json").exists());
        drop(c);

        let c = Client::start(config()).await;
        let r = c.call("POST", &format!("{CLUSTER}/listClusterUserCredential"), AKS, None).await;
        let config = kubeconfig(&r.body);
        let kube = Kube {
            http: c.http.clone(),
            server: field(&config, "server").unwrap().to_owned(),
            token: field(&config, "token").unwrap().to_owned(),
        };
        assert_eq!(kube.get("/api/v1/namespaces/default/secrets/kept").await.body, kept);
        // resourceVersions go on from where they were.
        let r =
            kube.post("/api/v1/namespaces/default/secrets", json!({ "metadata": { "name": "new" } })).await;
        let rv = |v: &Value| v["metadata"]["resourceVersion"].as_str().unwrap().parse::<u64>().unwrap();
        assert!(rv(&r.body) > rv(&kept));
        assert_ne!(r.body["metadata"]["uid"], kept["metadata"]["uid"]);
    });
}

#[path = "../../../kube/tests/it/ssa.rs"]
pub(crate) mod ssa;

/// The server-side apply scenario that `lanestack-kube`'s tests run against the real API
/// server, here on a Secret's data: the same managedFields, removals, conflict messages and
/// causes, force and shared ownership.
#[test]
fn server_side_apply_gives_the_real_servers_results() {
    rt().block_on(async {
        let (_emulator, config) = https_cluster().await;
        let dir = tempfile::tempdir().unwrap();
        let config = lanestack_kube::Config::from_kubeconfig_text(&config, None, dir.path()).unwrap();
        let client = lanestack_kube::Client::new(&config).unwrap();
        let subject = ssa::Subject {
            path: lanestack_kube::resource_path("v1", Some("default"), "secrets", Some("anf")),
            api_version: "v1",
            map: "data",
            object: |data| {
                json!({
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "anf", "namespace": "default", "labels": {"team": "ml"}},
                    "type": "Opaque",
                    "data": data,
                })
            },
            value: |text| json!(base64::engine::general_purpose::STANDARD.encode(text)),
            also_owned: json!({"f:type": {}}),
        };
        ssa::server_side_apply(&client, &subject).await;
    });
}

/// A POST is a create whatever is stored under its name: validated as a new object, then
/// refused as AlreadyExists — not judged as an update of the stored one (an immutable secret's
/// data "changing").
#[test]
fn a_create_over_an_existing_name_is_already_exists_even_for_an_immutable_secret() {
    rt().block_on(async {
        let c = Client::start(EmulatorConfig::default()).await;
        let kube = cluster(&c).await;
        let secret = |data: &str| {
            json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "s" }, "immutable": true,
                    "stringData": { "k": data } })
        };
        let collection = "/api/v1/namespaces/default/secrets";
        assert_eq!(kube.post(collection, secret("one")).await.status, 201);
        for query in ["", "?dryRun=All"] {
            let r = kube.post(&format!("{collection}{query}"), secret("two")).await;
            assert_eq!(
                without_details(&r.body),
                status(409, "AlreadyExists", "secrets \"s\" already exists"),
                "{query}"
            );
        }
    });
}

//! The Run:ai control plane under `/runai`, as an application holding client credentials sees
//! it: tokens, clusters (one per AKS cluster), departments, node pools, and projects whose
//! namespaces appear in the cluster; Run:ai's `{code, message}` errors; nothing a client sends
//! gets a 5xx.

use lanestack_emulator::{Emulator, EmulatorConfig, principal};
use serde_json::{Value, json};

use super::kube::{Kube, cluster};
use super::{Client, rt};

struct Runai {
    http: reqwest::Client,
    base: String,
    token: String,
}

struct Answer {
    status: u16,
    body: Value,
}

async fn token(http: &reqwest::Client, base: &str, id: &str, secret: &str) -> Answer {
    let form = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}");
    let r = http
        .post(format!("{base}/api/v2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    Answer { status, body: serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null) }
}

impl Runai {
    async fn new(emulator: &Emulator, http: &reqwest::Client) -> Runai {
        let base = format!("{}/runai", emulator.endpoint());
        let t = token(http, &base, principal::CLIENT_ID, principal::CLIENT_SECRET).await;
        assert_eq!(t.status, 200, "{}", t.body);
        let token = t.body["access_token"].as_str().unwrap().to_owned();
        Runai { http: http.clone(), base, token }
    }

    async fn send(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> Answer {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        Answer { status, body: serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null) }
    }
    async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> Answer {
        self.send("POST", path, Some(body.to_string().into_bytes())).await
    }
    async fn put(&self, path: &str, body: Value) -> Answer {
        self.send("PUT", path, Some(body.to_string().into_bytes())).await
    }
}

/// An emulator (projects take `polls` reads to settle) with the AKS cluster `k`, a client of
/// its Kubernetes API and one of the Run:ai control plane, and the cluster's Run:ai uuid.
async fn setup(polls: u32) -> (Client, Kube, Runai, String) {
    let c = Client::start(EmulatorConfig { lro_polls: polls, ..EmulatorConfig::default() }).await;
    let kube = cluster(&c).await;
    let runai = Runai::new(&c.emulator, &c.http).await;
    let clusters = runai.get("/api/v1/clusters").await;
    assert_eq!(clusters.status, 200);
    let uuid = clusters.body[0]["uuid"].as_str().unwrap().to_owned();
    (c, kube, runai, uuid)
}

fn project(name: &str, cluster: &str, deserved: f64, limit: f64) -> Value {
    json!({
        "name": name,
        "clusterId": cluster,
        "resources": [{ "nodePool": { "name": "default" }, "gpu": { "deserved": deserved, "limit": limit, "overQuotaWeight": 2 } }],
    })
}

#[test]
fn tokens_are_issued_for_the_application_only() {
    rt().block_on(async {
        let c = Client::start(EmulatorConfig::default()).await;
        let base = format!("{}/runai", c.emulator.endpoint());
        let wrong = token(&c.http, &base, principal::CLIENT_ID, "not-the-secret").await;
        assert_eq!(wrong.status, 401);
        assert_eq!(wrong.body["code"], 401);
        assert!(wrong.body["message"].is_string());
        assert!(!wrong.body.to_string().contains("not-the-secret"));
        let other = token(&c.http, &base, "someone", principal::CLIENT_SECRET).await;
        assert_eq!(other.status, 401);
        let r = c.http.post(format!("{base}/api/v2/token")).body("grant_type=password").send().await.unwrap();
        assert_eq!(r.status().as_u16(), 400);
        let right = token(&c.http, &base, principal::CLIENT_ID, principal::CLIENT_SECRET).await;
        assert_eq!(right.status, 200);
        assert_eq!(right.body["token_type"], "Bearer");
        assert_eq!(right.body["expires_in"], 3600);
        // Without a token, or with a forged one, nothing else answers.
        let r = c.http.get(format!("{base}/api/v1/clusters")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
        let r = c.http.get(format!("{base}/api/v1/clusters")).bearer_auth("forged").send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
        assert_eq!(r.json::<Value>().await.unwrap()["code"], 401);
    });
}

#[test]
fn every_aks_cluster_is_a_connected_runai_cluster() {
    rt().block_on(async {
        let (c, _kube, runai, uuid) = setup(0).await;
        let clusters = runai.get("/api/v1/clusters").await.body;
        assert_eq!(clusters.as_array().unwrap().len(), 1);
        assert_eq!(clusters[0]["name"], "k");
        assert_eq!(clusters[0]["status"]["state"], "Connected");
        assert!(clusters[0]["version"].is_string());
        assert_eq!(uuid.len(), 36);
        assert_eq!(runai.get(&format!("/api/v1/clusters/{uuid}")).await.body["name"], "k");
        assert_eq!(runai.get("/api/v1/clusters/00000000-0000-0000-0000-000000000000").await.status, 404);
        // The uuid is derived from the ARM id: another emulator with the same cluster agrees.
        let (c2, _, runai2, uuid2) = setup(0).await;
        assert_eq!(uuid, uuid2);
        drop((c2, runai2));
        let departments =
            runai.get(&format!("/api/v1/org-unit/departments?filterBy=clusterId=={uuid}")).await;
        assert_eq!(departments.body["departments"][0]["name"], "default");
        let pools = runai.get(&format!("/api/v1/node-pools?filterBy=clusterId=={uuid}")).await;
        assert_eq!(pools.body["nodePools"][0]["name"], "default");
        let r = runai.get("/api/v1/node-pools?filterBy=color==red").await;
        assert_eq!((r.status, r.body["code"].clone()), (400, json!(400)));
        drop(c);
    });
}

#[test]
fn a_project_makes_its_namespace_and_becomes_ready() {
    rt().block_on(async {
        let (_c, kube, runai, uuid) = setup(2).await;
        let r = runai.post("/api/v1/org-unit/projects", project("lane-detection", &uuid, 3.0, -1.0)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_owned();
        assert_eq!(r.body["status"]["phase"], "Creating");
        assert_eq!(r.body["status"]["namespace"], "runai-lane-detection");
        let department = runai.get(&format!("/api/v1/org-unit/departments?filterBy=clusterId=={uuid}")).await;
        assert_eq!(r.body["parentId"], department.body["departments"][0]["id"]);
        assert_eq!(r.body["resources"][0]["gpu"]["deserved"], 3);
        // The namespace is there, labelled with the project's queue.
        let ns = kube.get("/api/v1/namespaces/runai-lane-detection").await;
        assert_eq!(ns.status, 200);
        assert_eq!(ns.body["metadata"]["labels"]["runai/queue"], "lane-detection");
        // Two reads, then Ready.
        let path = format!("/api/v1/org-unit/projects/{id}");
        assert_eq!(runai.get(&path).await.body["status"]["phase"], "Creating");
        assert_eq!(runai.get(&path).await.body["status"]["phase"], "Creating");
        assert_eq!(runai.get(&path).await.body["status"]["phase"], "Ready");
        // Found by name and cluster.
        let found = runai
            .get(&format!("/api/v1/org-unit/projects?filterBy=name==lane-detection,clusterId=={uuid}"))
            .await;
        assert_eq!(found.body["projects"].as_array().unwrap().len(), 1);
        let none = runai.get("/api/v1/org-unit/projects?filterBy=name==other").await;
        assert_eq!(none.body["projects"], json!([]));
        // The name is taken in this cluster.
        let again =
            runai.post("/api/v1/org-unit/projects", project("lane-detection", &uuid, 1.0, -1.0)).await;
        assert_eq!((again.status, again.body["code"].clone()), (409, json!(409)));
        // A quota update in place.
        let updated =
            runai.put(&path, json!({ "resources": project("x", &uuid, 5.0, 8.0)["resources"] })).await;
        assert_eq!(updated.status, 200, "{}", updated.body);
        assert_eq!(updated.body["status"]["phase"], "Updating");
        for _ in 0..3 {
            runai.get(&path).await;
        }
        let now = runai.get(&path).await.body;
        assert_eq!(
            (now["status"]["phase"].clone(), now["resources"][0]["gpu"]["limit"].clone()),
            (json!("Ready"), json!(8))
        );
        // Delete: Deleting for two reads, then gone with its namespace.
        let r = runai.send("DELETE", &path, None).await;
        assert_eq!(r.status, 202);
        assert_eq!(runai.get(&path).await.body["status"]["phase"], "Deleting");
        assert_eq!(runai.get(&path).await.body["status"]["phase"], "Deleting");
        assert_eq!(runai.get(&path).await.status, 404);
        assert_eq!(runai.send("DELETE", &path, None).await.status, 404);
        let mut gone = false;
        for _ in 0..5 {
            if kube.get("/api/v1/namespaces/runai-lane-detection").await.status == 404 {
                gone = true;
                break;
            }
        }
        assert!(gone, "the project's namespace is deleted with it");
    });
}

#[test]
fn projects_are_validated_as_runai_does() {
    rt().block_on(async {
        let (_c, _kube, runai, uuid) = setup(0).await;
        let refused = [
            project("Lane", &uuid, 1.0, -1.0),
            project("-lane", &uuid, 1.0, -1.0),
            project("lane-", &uuid, 1.0, -1.0),
            project("lane_detection", &uuid, 1.0, -1.0),
            project(&"a".repeat(64), &uuid, 1.0, -1.0),
            project("lane", &uuid, -1.0, -1.0),
            project("lane", &uuid, 4.0, 2.0),
            project("lane", "00000000-0000-0000-0000-000000000000", 1.0, -1.0),
            json!({ "name": "lane", "clusterId": uuid }),
            json!({ "name": "lane", "clusterId": uuid, "resources": [{ "nodePool": { "name": "gpu" }, "gpu": { "deserved": 1 } }] }),
            json!({ "name": "lane", "clusterId": uuid, "parentId": "nope", "resources": [] }),
            json!({ "clusterId": uuid, "resources": [] }),
        ];
        for body in refused {
            let r = runai.post("/api/v1/org-unit/projects", body.clone()).await;
            assert_eq!(r.status, 400, "{body} -> {}", r.body);
            assert_eq!(r.body["code"], 400);
            assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
        assert_eq!(runai.get("/api/v1/org-unit/projects").await.body["projects"], json!([]));
        // A name of 57 characters makes a namespace of 63: allowed.
        let long = "a".repeat(57);
        assert_eq!(runai.post("/api/v1/org-unit/projects", project(&long, &uuid, 0.0, -1.0)).await.status, 201);
        let longer = "a".repeat(58);
        assert_eq!(runai.post("/api/v1/org-unit/projects", project(&longer, &uuid, 0.0, -1.0)).await.status, 400);
    });
}

#[test]
fn projects_survive_a_restart_but_tokens_do_not() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let config = EmulatorConfig { data_dir: Some(dir.path().to_owned()), ..EmulatorConfig::default() };
        let (c, _kube, runai, uuid) = setup_with(config.clone()).await;
        let id =
            runai.post("/api/v1/org-unit/projects", project("p", &uuid, 1.0, -1.0)).await.body["id"].clone();
        drop(c);
        // Another process on the same data: a new port (the old one may not be free yet).
        let emulator = Emulator::start(config).await.unwrap();
        let base = format!("{}/runai", emulator.endpoint());
        let runai = Runai { http: reqwest::Client::new(), base, ..runai };
        let stale = runai.get(&format!("/api/v1/org-unit/projects/{}", id.as_str().unwrap())).await;
        assert_eq!(stale.status, 401);
        let fresh = Runai::new(&emulator, &runai.http).await;
        let p = fresh.get(&format!("/api/v1/org-unit/projects/{}", id.as_str().unwrap())).await;
        assert_eq!((p.status, p.body["name"].clone()), (200, json!("p")));
    });
}

async fn setup_with(config: EmulatorConfig) -> (Client, Kube, Runai, String) {
    let c = Client::start(config).await;
    let kube = cluster(&c).await;
    let runai = Runai::new(&c.emulator, &c.http).await;
    let uuid = runai.get("/api/v1/clusters").await.body[0]["uuid"].as_str().unwrap().to_owned();
    (c, kube, runai, uuid)
}

#[test]
fn malformed_requests_are_answered_never_failed() {
    rt().block_on(async {
        let (_c, _kube, runai, uuid) = setup(0).await;
        let bodies: Vec<Vec<u8>> = [
            json!(null),
            json!([1]),
            json!("x"),
            json!({}),
            json!({ "name": 5, "clusterId": [], "resources": "all" }),
            json!({ "name": "a", "clusterId": uuid, "resources": [1, "x", null] }),
            json!({ "name": "a", "clusterId": uuid, "resources": [{ "nodePool": 7, "gpu": "lots" }] }),
            json!({ "name": "a", "clusterId": uuid, "resources": [{ "nodePool": { "id": 1 }, "gpu": { "deserved": "1" } }] }),
            json!({ "name": "a", "clusterId": uuid, "resources": [{ "nodePool": { "name": "default" }, "gpu": { "deserved": 1e308, "limit": -1e308 } }] }),
            json!({ "name": "a", "clusterId": uuid, "requestedNamespace": 3, "resources": [] }),
        ]
        .iter()
        .map(|v| v.to_string().into_bytes())
        .chain([b"{".to_vec(), b"\xff\xfe".to_vec(), Vec::new(), "[".repeat(10_000).into_bytes()])
        .collect();
        let paths = [
            "/api/v1/org-unit/projects",
            "/api/v1/org-unit/projects/1",
            "/api/v1/org-unit/projects/-1",
            "/api/v1/org-unit/projects/99999999999999999999999",
            "/api/v1/org-unit/projects/%00",
            "/api/v1/org-unit/departments/x",
            "/api/v1/clusters/..",
            "/api/v2/token",
            "/api/v1/org-unit/projects?filterBy=%ff%fe",
            "/api/v1/org-unit/projects?filterBy=name==&limit=-3&offset=x",
            "/api/v1/org-unit/projects?filterBy=,,,phase=@",
            "/",
            "//x//y",
        ];
        for path in paths {
            for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
                for body in &bodies {
                    let r = runai.send(method, path, Some(body.clone())).await;
                    assert!(r.status < 500, "{method} {path} {:?} -> {}", String::from_utf8_lossy(body), r.status);
                }
            }
        }
    });
}

//! No input makes the emulator's Kubernetes API fail: every malformed body, sent with every
//! write verb to every kind, is answered — refused with a `Status` (4xx), or accepted — never
//! with a 5xx or a dropped connection (a handler that panicked).

use lanestack_emulator::EmulatorConfig;
use serde_json::{Value, json};

use super::kube::cluster;
use super::{Client, rt};

fn bodies() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = [
        json!(null),
        json!([1, 2]),
        json!("text"),
        json!(7),
        json!({}),
        json!({"metadata": "x"}),
        json!({"metadata": {"name": 5}}),
        json!({"metadata": {"name": "a", "namespace": ["x"]}}),
        json!({"metadata": {"name": "a", "labels": [1]}}),
        json!({"metadata": {"name": "a", "annotations": {"k": 1}}}),
        json!({"metadata": {"name": "a", "managedFields": "x"}}),
        json!({"metadata": {"name": "a", "resourceVersion": 3}}),
        json!({"apiVersion": 5, "kind": [], "metadata": {"name": "a"}}),
        json!({"metadata": {"name": "a"}, "spec": "x", "status": 7}),
        json!({"metadata": {"name": "a"}, "data": [1], "stringData": 5, "type": {}}),
        json!({"metadata": {"name": "a"}, "spec": {"selector": "x", "template": [], "replicas": "many"}}),
        json!({"metadata": {"name": "a"}, "spec": {"resources": {"requests": {"storage": "lots"}}, "accessModes": "RWX"}}),
        json!({"metadata": {"name": "a"}, "spec": {"group": 1, "names": "x", "versions": {"v1": true}}}),
        json!({"metadata": {"name": "a"}, "rules": "all", "roleRef": 1, "subjects": {}}),
        json!({"metadata": {"name": "a"}, "spec": {"template": {"spec": {"containers": "x", "restartPolicy": 1}}}}),
    ]
    .iter()
    .map(|v| v.to_string().into_bytes())
    .collect();
    let mut deep = String::new();
    for _ in 0..200 {
        deep.push_str("{\"a\":");
    }
    deep.push('1');
    deep.push_str(&"}".repeat(200));
    out.extend([b"{".to_vec(), b"\xff\xfe".to_vec(), Vec::new(), deep.into_bytes()]);
    out
}

#[test]
fn malformed_writes_are_answered_never_failed() {
    rt().block_on(async {
        let c = Client::start(EmulatorConfig::default()).await;
        let kube = cluster(&c).await;
        let crd = include_str!("../../../kube/tests/data/external-snapshotter-afb2f0d/snapshot.storage.k8s.io_volumesnapshotclasses.yaml");
        let crd: Value = lanestack_kube::yaml::document(crd).unwrap();
        assert_eq!(kube.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd).await.status, 201);
        let collections = [
            "/api/v1/namespaces",
            "/api/v1/namespaces/default/secrets",
            "/api/v1/namespaces/default/configmaps",
            "/api/v1/namespaces/default/persistentvolumeclaims",
            "/apis/apps/v1/namespaces/default/deployments",
            "/apis/batch/v1/namespaces/default/jobs",
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            "/apis/storage.k8s.io/v1/storageclasses",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            "/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses",
        ];
        // Objects named `a` to update, so that PUT and PATCH reach the update paths too.
        let labels = json!({"app": "a"});
        let template = json!({"metadata": {"labels": labels}, "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}});
        let seeds = [
            ("/api/v1/namespaces", json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}})),
            ("/api/v1/namespaces/default/secrets", json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}, "immutable": true})),
            ("/api/v1/namespaces/default/configmaps", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}})),
            ("/apis/storage.k8s.io/v1/storageclasses", json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "a"}, "provisioner": "p"})),
            ("/api/v1/namespaces/default/persistentvolumeclaims", json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "a"},
                "spec": {"storageClassName": "a", "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})),
            ("/apis/apps/v1/namespaces/default/deployments", json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"},
                "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}})),
            ("/apis/batch/v1/namespaces/default/jobs", json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "a"}, "spec": {"template": template}})),
            ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "a"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"}})),
            ("/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses", json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass", "metadata": {"name": "a"},
                "driver": "d", "deletionPolicy": "Delete"})),
        ];
        for (collection, object) in seeds {
            let r = kube.post(collection, object).await;
            assert_eq!(r.status, 201, "{collection}: {}", r.body);
        }
        // The controllers get their reads in between, on claims and jobs with odd updates.
        kube.get("/api/v1/namespaces/default/persistentvolumeclaims/a").await;
        let mut answered = 0;
        for collection in collections {
            for body in bodies() {
                let item = format!("{collection}/a");
                for (method, path, content_type) in [
                    ("POST", collection.to_owned(), "application/json"),
                    ("PUT", item.clone(), "application/json"),
                    ("PATCH", item.clone(), "application/merge-patch+json"),
                    ("PATCH", format!("{item}?fieldManager=fuzz"), "application/apply-patch+yaml"),
                    ("PATCH", format!("{item}/status"), "application/merge-patch+json"),
                ] {
                    let r = kube.send(method, &path, Some(body.clone()), content_type).await;
                    assert!(
                        r.status < 500,
                        "{method} {path} with {:?}: {} {}",
                        String::from_utf8_lossy(&body),
                        r.status,
                        r.body
                    );
                    if r.status >= 400 {
                        assert_eq!(r.body["kind"], "Status", "{method} {path}: {}", r.body);
                    }
                    answered += 1;
                }
            }
        }
        assert_eq!(answered, collections.len() * bodies().len() * 5);
        // And the API still works afterwards.
        assert_eq!(kube.get("/api/v1/namespaces/default").await.status, 200);
    });
}

/// A request to a registry: method, path (and query), headers, body.
type Garbage = (&'static str, String, Vec<(&'static str, String)>, Vec<u8>);

/// Garbage to a registry's login server — bad digests, names and references, manifests that are
/// not JSON or not manifests, odd ranges, unknown uploads, bad Basic headers and forms — is
/// refused with a 4xx in the distribution envelope, never a 5xx or a dropped connection.
#[test]
fn malformed_registry_requests_are_answered_never_failed() {
    use super::registry::{Cloud, form};
    rt().block_on(async {
        let cloud = Cloud::start(EmulatorConfig::default()).await;
        cloud.registry("laneslab", false).await;
        let (http, base) = (cloud.client("laneslab"), cloud.base("laneslab"));
        let scopes: Vec<(String, String)> = [
            ("service", "laneslab.azurecr.io"),
            ("scope", "repository:a:pull,push,delete"),
            ("scope", "registry:catalog:*"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let token: Value = http
            .get(format!("{base}/oauth2/token?{}", form(&scopes)))
            .basic_auth(
                lanestack_emulator::principal::CLIENT_ID,
                Some(lanestack_emulator::principal::CLIENT_SECRET),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = token["access_token"].as_str().unwrap().to_owned();
        let upload =
            http.post(format!("{base}/v2/a/blobs/uploads/")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(upload.status(), 202);
        let session = upload.headers()["location"].to_str().unwrap().to_owned();
        let manifest = "application/vnd.oci.image.manifest.v1+json";
        let index = "application/vnd.oci.image.index.v1+json";
        let digest = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        let deep = format!("{}1{}", "[".repeat(300), "]".repeat(300));
        let bodies: Vec<Vec<u8>> = [
            "",
            "{",
            "null",
            "[]",
            "7",
            "{\"schemaVersion\":\"2\"}",
            "{\"schemaVersion\":2}",
            "{\"schemaVersion\":2,\"config\":[],\"layers\":{}}",
            "{\"schemaVersion\":2,\"config\":{\"digest\":5},\"layers\":[7]}",
            "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:../../etc/passwd\"},\"layers\":[]}",
            "{\"schemaVersion\":2,\"manifests\":[{\"digest\":null}]}",
            "{\"schemaVersion\":2,\"mediaType\":[],\"manifests\":\"x\"}",
            &deep,
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([b"\xff\xfe\x00".to_vec()])
        .collect();
        let mut requests: Vec<Garbage> = Vec::new();
        for body in &bodies {
            for (content_type, reference) in [
                (manifest, "v1"),
                (index, "v1"),
                (manifest, digest),
                ("text/plain", "v1"),
                (manifest, "sha256:x"),
            ] {
                requests.push((
                    "PUT",
                    format!("/v2/a/manifests/{reference}"),
                    vec![("content-type", content_type.to_owned())],
                    body.clone(),
                ));
            }
            for path in ["/oauth2/token", "/oauth2/exchange"] {
                requests.push(("POST", path.to_owned(), vec![], body.clone()));
            }
        }
        let odd_paths = [
            "/v2/a/blobs/sha256:zz",
            "/v2/a/blobs/sha256:",
            "/v2/a/blobs/..%2F..%2Fetc",
            "/v2/a/blobs/sha512:00",
            "/v2/A/tags/list",
            "/v2/a//b/tags/list",
            "/v2/a/manifests/-x",
            "/v2/a/manifests/%FF",
            "/v2/a/tags/list?n=-1",
            "/v2/a/tags/list?n=99999999999999999999999",
            "/v2/a/tags/list?n=0&last=%FF",
            "/v2/_catalog?n=x",
            "/v2/a/blobs/uploads/not-an-upload",
            "/v2/a/blobs/uploads/?digest=sha256:zz",
            "/v2/a/blobs/uploads/?mount=x&from=..",
            "/v2/a/blobs/uploads/?mount=%00&from=A",
            "/v2/",
            "/v2/a",
            "/oauth2/token?scope=%%%&service=",
        ];
        for path in odd_paths {
            for method in ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS"] {
                requests.push((method, path.to_owned(), vec![], b"x".to_vec()));
            }
        }
        for range in
            ["", "x", "0-", "-1-5", "5-0", "0-18446744073709551615", "18446744073709551615-0", "1-1", "0-0"]
        {
            requests.push((
                "PATCH",
                session.clone(),
                vec![("content-range", range.to_owned())],
                b"ab".to_vec(),
            ));
        }
        for query in ["", "?digest=", "?digest=sha256:zz", &format!("?digest={digest}")] {
            requests.push(("PUT", format!("{session}{query}"), vec![], b"x".to_vec()));
        }
        for basic in [
            "Basic",
            "Basic !!!",
            "Basic ",
            "Basic Og==",
            "Basic /w==",
            "Bearer",
            "Bearer ",
            "basic dTpw dTpw",
        ] {
            requests.push((
                "GET",
                "/oauth2/token?service=laneslab.azurecr.io".to_owned(),
                vec![("authorization", basic.to_owned())],
                vec![],
            ));
        }
        let mut answered = 0;
        for (method, path, headers, body) in &requests {
            let url = format!("{base}{path}");
            let mut req = http.request(method.parse().unwrap(), &url).body(body.clone());
            if !headers.iter().any(|(k, _)| *k == "authorization") {
                req = req.bearer_auth(&token);
            }
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            let r = req.send().await.unwrap_or_else(|e| panic!("{method} {path}: no answer: {e}"));
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            assert!(
                status < 500,
                "{method} {path} {headers:?} with {:?}: {status} {text}",
                String::from_utf8_lossy(body)
            );
            if status >= 400 && *method != "HEAD" {
                let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                assert!(body["errors"][0]["code"].is_string(), "{method} {path}: {text}");
            }
            answered += 1;
        }
        assert_eq!(answered, requests.len());
        // And the registry still works afterwards.
        let r = http.get(format!("{base}/v2/")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200);
    });
}

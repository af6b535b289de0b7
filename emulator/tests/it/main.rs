//! The emulator over HTTP: ARM's protocol as a client sees it (auth, api-version, error codes,
//! long-running operations, ETags, throttling, paging, cascading deletes).

use lanestack_emulator::{Bucket, ConfigFile, Emulator, EmulatorConfig, Faults, Rule, Throttling};
use serde_json::{Value, json};

mod builtins;
mod custom;
mod kube;
mod malformed;
mod registry;
mod runai;

// The real API server of `lanestack-kube`'s tests (etcd + apiextensions-apiserver), which the
// custom resource scenario holds the emulator to.
#[allow(dead_code)]
#[path = "../../../kube/tests/it/server.rs"]
mod server;
#[allow(dead_code)]
#[path = "../../../kube/tests/it/crds.rs"]
mod snapshot_crds;
#[allow(dead_code)]
#[path = "../../../kube/tests/it/webhook.rs"]
mod webhook;

const RG: &str = "/subscriptions/sub-1/resourceGroups/rg1";
const NET: &str = "2024-05-01";

struct Client {
    emulator: Emulator,
    http: reqwest::Client,
    token: String,
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

impl Client {
    async fn start(config: EmulatorConfig) -> Client {
        let emulator = Emulator::start(EmulatorConfig { lro_retry_after_secs: 0, ..config }).await.unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        let token = lanestack_testkit::entra_token(&http, &emulator.endpoint()).await;
        Client { emulator, http, token }
    }

    async fn raw(&self, method: &str, url: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Reply {
        let url = if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{url}", self.emulator.endpoint())
        };
        let mut req = self.http.request(method.parse().unwrap(), url).bearer_auth(&self.token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        Reply { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::Null) }
    }

    async fn call(&self, method: &str, path: &str, api: &str, body: Option<Value>) -> Reply {
        self.raw(method, &format!("{path}?api-version={api}"), body, &[]).await
    }

    async fn group(&self) {
        let r = self.call("PUT", RG, "2024-03-01", Some(json!({ "location": "West Europe" }))).await;
        assert_eq!(r.status, 201);
    }

    async fn vnet(&self, name: &str, prefix: &str) -> Reply {
        self.call(
            "PUT",
            &format!("{RG}/providers/Microsoft.Network/virtualNetworks/{name}"),
            NET,
            Some(json!({ "location": "westeurope", "properties": { "addressSpace": { "addressPrefixes": [prefix] } } })),
        )
        .await
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn tokens_and_api_version_are_required() {
    rt().block_on(async {
        let c = Client::start(EmulatorConfig::default()).await;
        let url = format!("{}{RG}?api-version=2024-03-01", c.emulator.endpoint());
        let r = c.http.get(&url).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
        assert!(r.headers().contains_key("www-authenticate"));
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "AuthenticationFailed");
        let r = c.http.get(&url).bearer_auth("forged").send().await.unwrap();
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
        let r = c.raw("GET", RG, None, &[]).await;
        assert_eq!((r.status, r.code()), (400, "MissingApiVersionParameter"));
        // A wrong secret gets AAD's error, not a token.
        let config = EmulatorConfig { client_secret: Some("right".into()), ..EmulatorConfig::default() };
        let strict = Emulator::start(config).await.unwrap();
        let r = c
            .http
            .post(format!("{}/t/oauth2/v2.0/token", strict.endpoint()))
            .body("grant_type=client_credentials&client_id=app&client_secret=wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
        // Workload identity: a federated token as client assertion, instead of the secret.
        let config = EmulatorConfig { federated_token: Some("fed".into()), ..EmulatorConfig::default() };
        let strict = Emulator::start(config).await.unwrap();
        let assertion = |token: &str| {
            format!(
                "grant_type=client_credentials&client_id=app&client_assertion_type=\
                 urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={token}"
            )
        };
        let url = format!("{}/t/oauth2/v2.0/token", strict.endpoint());
        let r = c.http.post(&url).body(assertion("forged")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
        let r = c.http.post(&url).body(assertion("fed")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert!(r.json::<Value>().await.unwrap()["access_token"].is_string());
    });
}

#[test]
fn managed_identity_tokens_need_the_metadata_header_and_work_for_arm() {
    rt().block_on(async {
        let c = Client::start(EmulatorConfig::default()).await;
        let base = c.emulator.endpoint();
        let imds = format!(
            "{base}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F"
        );
        // Without `Metadata: true` IMDS refuses, as the real one does against SSRF.
        let r = c.http.get(&imds).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 400);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
        let r = c.http.get(&imds).header("Metadata", "true").send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["resource"], "https://management.azure.com/");
        assert!(body["expires_in"].is_string(), "{body}");
        let token = body["access_token"].as_str().unwrap();
        let r = c.http.get(format!("{base}{RG}?api-version=2024-03-01")).bearer_auth(token).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 404);
        // App Service's form: its header instead of `Metadata`.
        let r = c
            .http
            .get(format!("{base}/msi/token?api-version=2019-08-01&resource=x"))
            .header("X-IDENTITY-HEADER", "h")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    });
}

#[test]
fn injected_resets_close_the_connection_without_an_answer() {
    rt().block_on(async {
        let faults = Faults { reset_rate: 1.0, ..Faults::default() };
        // The token endpoint is never reset, so the client still gets its token.
        let c = Client::start(EmulatorConfig { faults, ..EmulatorConfig::default() }).await;
        let url = format!("{}{RG}?api-version=2024-03-01", c.emulator.endpoint());
        let err =
            c.http.put(&url).bearer_auth(&c.token).json(&json!({ "location": "westeurope" })).send().await;
        assert!(err.is_err(), "{err:?}");
        let log = c.emulator.requests();
        let last = log.last().unwrap();
        assert_eq!(last.status, 0);
        // Half the resets come after the change is made: either way the log says so.
        assert!(matches!(last.note.as_deref(), Some("reset" | "created")), "{last:?}");
    });
}

#[test]
fn fault_rules_target_one_resource_type_and_method() {
    rt().block_on(async {
        // Every PUT of a subnet fails; everything else is untouched.
        let rule = Rule {
            resource_type: Some("microsoft.network/virtualNetworks/SUBNETS".into()),
            method: Some("PUT".into()),
            transient_rate: Some(1.0),
            ..Rule::default()
        };
        let faults = Faults { rules: vec![rule], ..Faults::default() };
        let c = Client::start(EmulatorConfig { faults, ..EmulatorConfig::default() }).await;
        c.group().await;
        assert_eq!(c.vnet("v", "10.1.0.0/16").await.status, 201);
        let subnet = format!("{RG}/providers/Microsoft.Network/virtualNetworks/v/subnets/s");
        let body = json!({ "properties": { "addressPrefixes": ["10.1.1.0/24"] } });
        for _ in 0..5 {
            let r = c.call("PUT", &subnet, NET, Some(body.clone())).await;
            assert!(matches!(r.status, 500 | 503), "{}", r.status);
            assert!(matches!(r.code(), "InternalServerError" | "ServiceUnavailable"));
        }
        // Reads of subnets are not PUTs: the rule does not apply.
        assert_eq!(c.call("GET", &subnet, NET, None).await.status, 404);
        assert_eq!(c.vnet("w", "10.2.0.0/16").await.status, 201);
    });
}

#[test]
fn fault_rules_come_from_the_config_file_and_bad_rates_are_refused() {
    let text = r#"{"faults": {"rules": [{"resource_type": "Microsoft.NetApp/netAppAccounts", "method": "DELETE", "reset_rate": 0.5, "latency_ms": 20}]}}"#;
    let config = ConfigFile::parse(text).unwrap().apply(EmulatorConfig::default());
    let rule = config.faults.rule(Some("Microsoft.NetApp/netAppAccounts"), "DELETE").expect("the rule");
    assert_eq!((rule.reset_rate, rule.latency_ms), (Some(0.5), Some(20)));
    assert!(config.faults.rule(Some("Microsoft.NetApp/netAppAccounts"), "GET").is_none());
    assert!(config.faults.rule(None, "DELETE").is_none(), "operation polls have no type");
    let bad = r#"{"faults": {"rules": [{"transient_rate": 2}]}}"#;
    assert!(ConfigFile::parse(bad).unwrap_err().contains("rules[].transient_rate"));
    let unknown = r#"{"faults": {"rules": [{"kind": "x"}]}}"#;
    assert!(ConfigFile::parse(unknown).is_err(), "unknown fields are refused");
}

#[test]
fn errors_carry_arm_codes() {
    rt().block_on(async {
        let c = Client::start(EmulatorConfig::default()).await;
        let r = c.vnet("v", "10.0.0.0/16").await;
        assert_eq!((r.status, r.code()), (404, "ResourceGroupNotFound"));
        c.group().await;
        let r = c.call("GET", &format!("{RG}/providers/Microsoft.Network/virtualNetworks/nope"), NET, None).await;
        assert_eq!((r.status, r.code()), (404, "ResourceNotFound"));
        let r = c
            .call("PUT", &format!("{RG}/providers/Microsoft.Network/virtualNetworks/nope/subnets/s"), NET, Some(json!({ "properties": { "addressPrefix": "10.0.0.0/24" } })))
            .await;
        assert_eq!((r.status, r.code()), (404, "ParentResourceNotFound"));
        let r = c.call("GET", &format!("{RG}/providers/Microsoft.Nope/things/x"), NET, None).await;
        assert_eq!((r.status, r.code()), (404, "InvalidResourceNamespace"));
        let r = c.call("GET", &format!("{RG}/providers/Microsoft.Network/things/x"), NET, None).await;
        assert_eq!((r.status, r.code()), (404, "InvalidResourceType"));
        assert_eq!(c.vnet("v", "10.0.0.0/16").await.status, 201);
        let r = c
            .call("PUT", &format!("{RG}/providers/Microsoft.Network/virtualNetworks/v/subnets/s"), NET, Some(json!({ "properties": { "addressPrefix": "10.5.0.0/24" } })))
            .await;
        assert_eq!((r.status, r.code()), (400, "NetcfgSubnetRangeOutsideVnet"));
        let account = format!("{RG}/providers/Microsoft.NetApp/netAppAccounts/a");
        assert_eq!(c.call("PUT", &account, "2025-01-01", Some(json!({ "location": "westeurope" }))).await.status, 201);
        let small = json!({ "location": "westeurope", "properties": { "size": 1u64 << 40, "serviceLevel": "Premium" } });
        let r = c.call("PUT", &format!("{account}/capacityPools/p"), "2025-01-01", Some(small)).await;
        assert_eq!((r.status, r.code()), (400, "InvalidParameter"));
        let r = c
            .call("PUT", &format!("{RG}/providers/Microsoft.Network/virtualNetworks/v/virtualNetworkPeerings/p"), NET, Some(json!({ "properties": { "remoteVirtualNetwork": { "id": format!("{RG}/providers/Microsoft.Network/virtualNetworks/gone") } } })))
            .await;
        assert_eq!((r.status, r.code()), (400, "InvalidResourceReference"));
    });
}

#[test]
fn long_running_operations_follow_arm() {
    rt().block_on(async {
        let config = EmulatorConfig {
            lro_polls: 2,
            faults: Faults { fail_operations: vec!["BAD".into()], ..Faults::default() },
            ..EmulatorConfig::default()
        };
        let c = Client::start(config).await;
        c.group().await;
        // PUT: 201 + Azure-AsyncOperation, provisioningState Updating until the operation ends.
        let r = c.vnet("v", "10.0.0.0/16").await;
        assert_eq!(r.status, 201);
        assert_eq!(r.body["properties"]["provisioningState"], "Updating");
        assert!(r.header("etag").is_some_and(|e| e.starts_with("W/\"")));
        let status_url = r.header("azure-asyncoperation").unwrap().to_owned();
        let first = c.raw("GET", &status_url, None, &[]).await;
        assert_eq!(first.body["status"], "InProgress");
        assert_eq!(first.header("retry-after"), Some("0"));
        let again = c.raw("GET", &status_url, None, &[]).await;
        assert_eq!(again.body["status"], "Succeeded");
        let vnet = format!("{RG}/providers/Microsoft.Network/virtualNetworks/v");
        assert_eq!(
            c.call("GET", &vnet, NET, None).await.body["properties"]["provisioningState"],
            "Succeeded"
        );

        // A failed operation: status Failed with an error; the object stays, Failed.
        let r = c.vnet("bad", "10.1.0.0/16").await;
        let status_url = r.header("azure-asyncoperation").unwrap().to_owned();
        c.raw("GET", &status_url, None, &[]).await;
        let end = c.raw("GET", &status_url, None, &[]).await;
        assert_eq!(end.body["status"], "Failed");
        assert!(end.body["error"]["code"].is_string());

        // NetApp PATCH: 202 + Location, polled to 200 with the object.
        let account = format!("{RG}/providers/Microsoft.NetApp/netAppAccounts/a");
        let r = c.call("PUT", &account, "2025-01-01", Some(json!({ "location": "westeurope" }))).await;
        assert_eq!(r.body["properties"]["provisioningState"], "Creating");
        let op = r.header("azure-asyncoperation").unwrap().to_owned();
        c.raw("GET", &op, None, &[]).await;
        c.raw("GET", &op, None, &[]).await;
        let r = c.call("PATCH", &account, "2025-01-01", Some(json!({ "tags": { "a": "b" } }))).await;
        assert_eq!(r.status, 202);
        let location = r.header("location").unwrap().to_owned();
        assert_eq!(c.raw("GET", &location, None, &[]).await.status, 202);
        let done = c.raw("GET", &location, None, &[]).await;
        assert_eq!((done.status, &done.body["tags"]["a"]), (200, &json!("b")));

        // DELETE: 202 + Location, polled to 204; then 404.
        let r = c.call("DELETE", &vnet, NET, None).await;
        assert_eq!(r.status, 202);
        let location = r.header("location").unwrap().to_owned();
        assert_eq!(c.call("GET", &vnet, NET, None).await.body["properties"]["provisioningState"], "Deleting");
        assert_eq!(c.raw("GET", &location, None, &[]).await.status, 202);
        assert_eq!(c.raw("GET", &location, None, &[]).await.status, 204);
        assert_eq!(c.call("GET", &vnet, NET, None).await.status, 404);
        // Deleting what is gone is a 204.
        assert_eq!(c.call("DELETE", &vnet, NET, None).await.status, 204);
    });
}

#[test]
fn etags_guard_writes() {
    rt().block_on(async {
        let c = Client::start(EmulatorConfig { lro_polls: 0, ..EmulatorConfig::default() }).await;
        c.group().await;
        let etag = c.vnet("v", "10.0.0.0/16").await.header("etag").unwrap().to_owned();
        let vnet = format!("{RG}/providers/Microsoft.Network/virtualNetworks/v?api-version={NET}");
        let body = json!({ "location": "westeurope", "properties": { "addressSpace": { "addressPrefixes": ["10.0.0.0/15"] } } });
        let r = c.raw("PUT", &vnet, Some(body.clone()), &[("If-Match", "W/\"stale\"")]).await;
        assert_eq!((r.status, r.code()), (412, "PreconditionFailed"));
        let r = c.raw("PUT", &vnet, Some(body.clone()), &[("If-None-Match", "*")]).await;
        assert_eq!(r.status, 412);
        let r = c.raw("PUT", &vnet, Some(body), &[("If-Match", &etag)]).await;
        assert_eq!(r.status, 200);
        assert_ne!(r.header("etag"), Some(etag.as_str()));
    });
}

#[test]
fn throttling_answers_429_with_headers() {
    rt().block_on(async {
        let config = EmulatorConfig {
            throttling: Some(Throttling {
                reads: Bucket { capacity: 2.0, refill_per_sec: 0.001 },
                writes: Bucket { capacity: 5.0, refill_per_sec: 0.001 },
            }),
            ..EmulatorConfig::default()
        };
        let c = Client::start(config).await;
        c.group().await;
        let first = c.call("GET", RG, "2024-03-01", None).await;
        assert_eq!(first.header("x-ms-ratelimit-remaining-subscription-reads"), Some("1"));
        let second = c.call("GET", RG, "2024-03-01", None).await;
        assert_eq!(second.header("x-ms-ratelimit-remaining-subscription-reads"), Some("0"));
        let third = c.call("GET", RG, "2024-03-01", None).await;
        assert_eq!((third.status, third.code()), (429, "SubscriptionRequestsThrottled"));
        assert!(third.header("retry-after").is_some_and(|s| s.parse::<u64>().unwrap() >= 1));
        // Writes have their own bucket.
        let w = c.vnet("v", "10.0.0.0/16").await;
        assert_eq!(w.header("x-ms-ratelimit-remaining-subscription-writes"), Some("3"));
    });
}

#[test]
fn ids_match_case_insensitively_lists_page_and_parents_take_children_along() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let config = EmulatorConfig { lro_polls: 0, page_size: 1, data_dir: Some(dir.path().into()), ..EmulatorConfig::default() };
        let c = Client::start(config.clone()).await;
        c.group().await;
        c.vnet("Aks-Vnet", "10.0.0.0/16").await;
        c.vnet("other", "10.1.0.0/16").await;
        let r = c.call("GET", "/SUBSCRIPTIONS/sub-1/RESOURCEGROUPS/RG1/providers/microsoft.network/virtualnetworks/aks-vnet", NET, None).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["id"], format!("{RG}/providers/Microsoft.Network/virtualNetworks/Aks-Vnet"));
        let page = c.call("GET", &format!("{RG}/providers/Microsoft.Network/virtualNetworks"), NET, None).await;
        assert_eq!(page.body["value"].as_array().unwrap().len(), 1);
        let next = page.body["nextLink"].as_str().unwrap().to_owned();
        let page2 = c.raw("GET", &next, None, &[]).await;
        assert_eq!(page2.body["value"][0]["name"], "other");
        assert!(page2.body.get("nextLink").is_none());

        // A new process on the same data directory sees the same cloud.
        drop(c);
        let c = Client::start(config).await;
        assert_eq!(c.emulator.object_count(), 3);
        let r = c.call("DELETE", RG, "2024-03-01", None).await;
        assert_eq!(r.status, 202);
        assert_eq!(c.emulator.object_count(), 0);
        let r = c.call("GET", &format!("{RG}/providers/Microsoft.Network/virtualNetworks/other"), NET, None).await;
        assert_eq!((r.status, r.code()), (404, "ResourceGroupNotFound"));
        assert!(dir.path().join("requests.jsonl").exists());
    });
}

#[test]
fn https_with_a_ca_generated_at_start() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let config = EmulatorConfig { https: true, data_dir: Some(dir.path().to_owned()), ..EmulatorConfig::default() };
        let emulator = Emulator::start(config).await.unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        assert!(emulator.endpoint().starts_with("https://127.0.0.1:"));
        let pem = std::fs::read(emulator.ca_certificate_file().unwrap()).unwrap();
        assert_eq!(pem, emulator.ca_certificate_pem().unwrap().as_bytes());
        let token_url = format!("{}/t/oauth2/v2.0/token", emulator.endpoint());
        let form = "grant_type=client_credentials&client_id=app&client_secret=s";
        // A client that does not trust the CA cannot connect.
        let untrusting = reqwest::Client::new();
        assert!(untrusting.post(&token_url).body(form).send().await.is_err());
        // One that trusts it explicitly gets a token, and operation URLs in https.
        let http = reqwest::Client::builder()
            .tls_certs_only(reqwest::Certificate::from_pem_bundle(&pem).unwrap())
            .build()
            .unwrap();
        let token: Value = http.post(&token_url).body(form).send().await.unwrap().json().await.unwrap();
        let token = token["access_token"].as_str().unwrap();
        let r = http
            .put(format!("{}{RG}?api-version=2024-03-01", emulator.endpoint()))
            .bearer_auth(token)
            .json(&json!({ "location": "westeurope" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        let r = http
            .put(format!("{}{RG}/providers/Microsoft.Network/virtualNetworks/v?api-version={NET}", emulator.endpoint()))
            .bearer_auth(token)
            .json(&json!({ "location": "westeurope", "properties": { "addressSpace": { "addressPrefixes": ["10.0.0.0/16"] } } }))
            .send()
            .await
            .unwrap();
        let op = r.headers().get("azure-asyncoperation").unwrap().to_str().unwrap().to_owned();
        assert!(op.starts_with("https://"), "{op}");
    });
}

const NETAPP: &str = "2025-01-01";
const AKS: &str = "2025-05-01";

/// A vnet with a subnet delegated to NetApp volumes (`anf`) and a plain one (`nodes`).
async fn network(c: &Client) -> (String, String) {
    c.group().await;
    assert_eq!(c.vnet("v", "10.1.0.0/16").await.status, 201);
    let subnet = |name: &str, prefix: &str, delegated: bool| {
        let delegations = if delegated {
            json!([{ "name": "netapp", "properties": { "serviceName": "Microsoft.NetApp/volumes" } }])
        } else {
            json!([])
        };
        (
            format!("{RG}/providers/Microsoft.Network/virtualNetworks/v/subnets/{name}"),
            json!({ "properties": { "addressPrefixes": [prefix], "delegations": delegations } }),
        )
    };
    let (anf, body) = subnet("anf", "10.1.1.0/24", true);
    assert_eq!(c.call("PUT", &anf, NET, Some(body)).await.status, 201);
    let (nodes, body) = subnet("nodes", "10.1.2.0/24", false);
    assert_eq!(c.call("PUT", &nodes, NET, Some(body)).await.status, 201);
    (anf, nodes)
}

/// Polls a `Location` URL until the operation is done; returns the final status.
async fn settle(c: &Client, first: &Reply) -> u16 {
    let mut url = first.header("location").unwrap().to_owned();
    for _ in 0..20 {
        let r = c.raw("GET", &url, None, &[]).await;
        if r.status != 202 {
            return r.status;
        }
        url = r.header("location").unwrap_or(&url).to_owned();
    }
    panic!("the operation never ended");
}

#[test]
fn volumes_move_between_pools_with_pool_change() {
    rt().block_on(async {
        let c = Client::start(EmulatorConfig::default()).await;
        let (anf, nodes) = network(&c).await;
        let account = format!("{RG}/providers/Microsoft.NetApp/netAppAccounts/a");
        assert_eq!(c.call("PUT", &account, NETAPP, Some(json!({ "location": "westeurope" }))).await.status, 201);
        for (pool, level) in [("std", "Standard"), ("prem", "Premium")] {
            let body = json!({ "location": "westeurope", "properties": { "serviceLevel": level, "size": 4u64 << 40 } });
            let r = c.call("PUT", &format!("{account}/capacityPools/{pool}"), NETAPP, Some(body)).await;
            assert_eq!(r.status, 201);
            let status = r.header("azure-asyncoperation").unwrap().to_owned();
            while c.raw("GET", &status, None, &[]).await.body["status"] == "InProgress" {}
        }
        let volume = format!("{account}/capacityPools/std/volumes/vol");
        let body = |subnet: &str| {
            json!({ "location": "westeurope", "properties": {
                "creationToken": "vol", "subnetId": subnet, "usageThreshold": 100u64 << 30,
            } })
        };
        // Only on a subnet delegated to Microsoft.NetApp/volumes.
        let r = c.call("PUT", &volume, NETAPP, Some(body(&nodes))).await;
        assert_eq!((r.status, r.code()), (400, "InvalidParameter"));
        let mut bad = body(&anf);
        bad["properties"]["protocolTypes"] = json!(["NFSv5"]);
        let r = c.call("PUT", &volume, NETAPP, Some(bad)).await;
        assert_eq!((r.status, r.code()), (400, "InvalidParameter"));
        let r = c.call("PUT", &volume, NETAPP, Some(body(&anf))).await;
        assert_eq!(r.status, 201);
        // Busy while it is created: a pool change waits for the creation to end.
        let early = c
            .call("POST", &format!("{volume}/poolChange"), NETAPP, Some(json!({ "newPoolResourceId": format!("{account}/capacityPools/prem") })))
            .await;
        assert_eq!((early.status, early.code()), (409, "AnotherOperationInProgress"));
        let status = r.header("azure-asyncoperation").unwrap().to_owned();
        while c.raw("GET", &status, None, &[]).await.body["status"] == "InProgress" {}
        assert_eq!(r.body["name"], "a/std/vol");
        assert_eq!(r.body["properties"]["serviceLevel"], "Standard");
        let fs = r.body["properties"]["fileSystemId"].clone();

        let moved = format!("{account}/capacityPools/prem/volumes/vol");
        let r = c
            .call("POST", &format!("{volume}/poolChange"), NETAPP, Some(json!({ "newPoolResourceId": format!("{account}/capacityPools/prem") })))
            .await;
        assert_eq!(r.status, 202);
        assert!(r.header("retry-after").is_some());
        assert_eq!(settle(&c, &r).await, 200);
        assert_eq!(c.call("GET", &volume, NETAPP, None).await.status, 404);
        let r = c.call("GET", &moved, NETAPP, None).await;
        assert_eq!(r.status, 200);
        assert_eq!((r.body["name"].as_str(), r.body["properties"]["serviceLevel"].as_str()), (Some("a/prem/vol"), Some("Premium")));
        assert_eq!(r.body["properties"]["fileSystemId"], fs);
        // The creation token cannot change; GET is the only verb on an action path.
        let r = c.call("PATCH", &moved, NETAPP, Some(json!({ "properties": { "creationToken": "other" } }))).await;
        assert_eq!((r.status, r.code()), (400, "PropertyChangeNotAllowed"));
        let r = c.call("GET", &format!("{moved}/poolChange"), NETAPP, None).await;
        assert_eq!(r.status, 405);
        // A pool holding a volume cannot be deleted; the one it left can.
        let r = c.call("DELETE", &format!("{account}/capacityPools/prem"), NETAPP, None).await;
        assert_eq!((r.status, r.code()), (409, "CannotDeleteResource"));
        let r = c.call("DELETE", &format!("{account}/capacityPools/std"), NETAPP, None).await;
        assert_eq!(r.status, 202);
    });
}

#[test]
fn managed_clusters_provision_slowly_and_hand_out_a_kubeconfig() {
    rt().block_on(async {
        let c = Client::start(EmulatorConfig::default()).await;
        let (anf, nodes) = network(&c).await;
        let cluster = format!("{RG}/providers/Microsoft.ContainerService/managedClusters/k");
        let body = |subnet: &str| {
            json!({
                "location": "westeurope",
                "identity": { "type": "SystemAssigned" },
                "properties": { "dnsPrefix": "k", "kubernetesVersion": "1.31", "agentPoolProfiles": [{
                    "name": "agentpool", "count": 3, "vmSize": "Standard_DS2_v2", "mode": "System", "vnetSubnetID": subnet,
                }] },
            })
        };
        let r = c.call("PUT", &cluster, AKS, Some(body(&anf))).await;
        assert_eq!((r.status, r.code()), (400, "SubnetIsDelegated"));
        let r = c.call("PUT", &cluster, AKS, Some(body(&nodes))).await;
        assert_eq!(r.status, 201);
        assert_eq!(r.body["properties"]["provisioningState"], "Creating");
        let status = r.header("azure-asyncoperation").unwrap().to_owned();
        let mut polls = 0;
        loop {
            polls += 1;
            let s = c.raw("GET", &status, None, &[]).await;
            if s.body["status"] != "InProgress" {
                assert_eq!(s.body["status"], "Succeeded");
                break;
            }
        }
        assert!(polls >= 4, "{polls}");
        let r = c.call("GET", &cluster, AKS, None).await;
        let fqdn = r.body["properties"]["fqdn"].as_str().unwrap().to_owned();
        assert!(r.body["identity"]["principalId"].is_string());
        assert_eq!(r.body["properties"]["nodeResourceGroup"], "MC_rg1_k_westeurope");
        assert!(r.body["properties"]["identityProfile"]["kubeletidentity"]["objectId"].is_string());
        // The pool exists as a child too.
        let r = c.call("GET", &format!("{cluster}/agentPools/agentpool"), AKS, None).await;
        assert_eq!((r.status, r.body["properties"]["count"].as_u64()), (200, Some(3)));
        // A dns prefix cannot change.
        let mut other = body(&nodes);
        other["properties"]["dnsPrefix"] = json!("other");
        let r = c.call("PUT", &cluster, AKS, Some(other)).await;
        assert_eq!((r.status, r.code()), (400, "PropertyChangeNotAllowed"));

        let r = c.call("POST", &format!("{cluster}/listClusterUserCredential"), AKS, None).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["kubeconfigs"][0]["name"], "clusterUser");
        use base64::Engine as _;
        let config = base64::engine::general_purpose::STANDARD
            .decode(r.body["kubeconfigs"][0]["value"].as_str().unwrap())
            .unwrap();
        let config = String::from_utf8(config).unwrap();
        // The server is the cluster's Kubernetes API on the emulator (plain HTTP here: no CA).
        let server = c.emulator.kubernetes_server(&cluster);
        assert!(server.starts_with(&format!("{}/k8s/", c.emulator.endpoint())), "{server}");
        assert!(config.contains(&format!("server: {server}\n")), "{config}");
        assert!(!config.contains("certificate-authority-data"), "{config}");
        assert!(!fqdn.is_empty());
    });
}

#[test]
fn role_assignments_are_unique_and_immutable() {
    rt().block_on(async {
        let c = Client::start(EmulatorConfig::default()).await;
        c.group().await;
        let role = "/subscriptions/sub-1/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d";
        let at = |name: &str| format!("{RG}/providers/Microsoft.Authorization/roleAssignments/{name}");
        let body = |principal: &str| json!({ "properties": { "roleDefinitionId": role, "principalId": principal } });
        let a = "0b7c3b2e-0000-4000-8000-000000000001";
        let r = c.call("PUT", &at("not-a-guid"), AUTH, Some(body("p"))).await;
        assert_eq!((r.status, r.code()), (400, "InvalidRoleAssignmentId"));
        let r = c.call("PUT", &at(a), AUTH, Some(body("p"))).await;
        assert_eq!(r.status, 201);
        assert_eq!(r.body["properties"]["scope"], RG);
        // The same PUT again is fine; another principal under the same name is not.
        assert_eq!(c.call("PUT", &at(a), AUTH, Some(body("p"))).await.status, 200);
        let r = c.call("PUT", &at(a), AUTH, Some(body("q"))).await;
        assert_eq!((r.status, r.code()), (400, "RoleAssignmentUpdateNotPermitted"));
        // One assignment per scope, role and principal.
        let r = c.call("PUT", &at("0b7c3b2e-0000-4000-8000-000000000002"), AUTH, Some(body("p"))).await;
        assert_eq!((r.status, r.code()), (409, "RoleAssignmentExists"));
        let r = c.call("DELETE", &at(a), AUTH, None).await;
        assert_eq!((r.status, r.body["name"].as_str()), (200, Some(a)));
        assert_eq!(c.call("DELETE", &at(a), AUTH, None).await.status, 204);
    });
}

const AUTH: &str = "2022-04-01";

//! The image provider and Azure Container Registry's authentication, in the local cloud: the
//! registry is reached under its login server's name (`connect_to`, the emulator's CA), and
//! credentials come as a service principal, or as the identity token that `az acr login`
//! leaves in Docker's configuration file.

use lanestack_emulator::{Emulator, EmulatorConfig, principal};
use lanestack_image::ImageProvider;
use lanestack_model::{
    ApplyRequest, AttrPath, ErrorKind, PlanRequest, Provider, ReadRequest, ResourceAddress, Value,
};
use serde_json::{Value as Json, json};

use crate::stack_dir;

const RG: &str = "/subscriptions/sub-1/resourceGroups/rg1";

/// The local cloud with one registry, `laneslab`, and an ARM client.
struct Cloud {
    emulator: Emulator,
    http: reqwest::Client,
    entra: String,
}

impl Cloud {
    async fn start() -> Cloud {
        let config = EmulatorConfig {
            https: true,
            lro_retry_after_secs: 0,
            lro_polls: 0,
            ..EmulatorConfig::default()
        };
        let emulator = Emulator::start(config).await.unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ca =
            reqwest::Certificate::from_pem_bundle(emulator.ca_certificate_pem().unwrap().as_bytes()).unwrap();
        let http = reqwest::Client::builder()
            .tls_certs_only(ca)
            .resolve("laneslab.azurecr.io", emulator.addr())
            .build()
            .unwrap();
        let entra = lanestack_testkit::entra_token(&http, &emulator.endpoint()).await;
        let cloud = Cloud { emulator, http, entra };
        cloud.arm(RG, json!({ "location": "westeurope" })).await;
        let registry = format!("{RG}/providers/Microsoft.ContainerRegistry/registries/laneslab");
        cloud.arm(&registry, json!({ "location": "westeurope", "sku": { "name": "Basic" } })).await;
        cloud
    }

    async fn arm(&self, path: &str, body: Json) {
        let url = format!("{}{path}?api-version=2025-04-01", self.emulator.endpoint());
        let r = self.http.put(url).bearer_auth(&self.entra).json(&body).send().await.unwrap();
        assert!(r.status().is_success(), "PUT {path}: {}", r.status());
    }

    /// What `az acr login` does: an Entra token exchanged for the registry's refresh token.
    async fn identity_token(&self) -> String {
        let port = self.emulator.addr().port();
        let form = format!(
            "grant_type=access_token&service=laneslab.azurecr.io&tenant={}&access_token={}",
            principal::TENANT_ID,
            self.entra
        );
        let r = self
            .http
            .post(format!("https://laneslab.azurecr.io:{port}/oauth2/exchange"))
            .body(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Json>().await.unwrap()["refresh_token"].as_str().unwrap().to_owned()
    }

    /// The image provider's block for this cloud, with `extra` attributes.
    fn block(&self, ca_file: &std::path::Path, extra: &[(&str, &str)]) -> Value {
        let mut pairs = vec![
            ("connect_to", self.emulator.addr().to_string()),
            ("ca_certificate_file", ca_file.display().to_string()),
        ];
        pairs.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        Value::object(pairs.into_iter().map(|(k, v)| (k, Value::from(v))))
    }
}

fn image(tag: &str) -> Value {
    Value::object([
        ("repository", Value::from("laneslab.azurecr.io/lanes/trainer")),
        ("tag", Value::from(tag)),
        (
            "layer",
            Value::List(vec![Value::object([
                ("source", Value::from("bin")),
                ("target", Value::from("/bin/t")),
            ])]),
        ),
    ])
}

async fn push(p: &ImageProvider, config: &Value) -> Result<Value, lanestack_model::ProviderError> {
    let address = ResourceAddress::managed("image_build", "t");
    let planned = p.plan(PlanRequest { address: &address, prior_state: None, config }).await?.planned_state;
    p.apply(ApplyRequest { address: &address, prior_state: None, planned_state: Some(&planned), config })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_principal_or_an_identity_token_pushes_to_acr_and_a_wrong_secret_is_refused() {
    let cloud = Cloud::start().await;
    let (_dir, root) = stack_dir(&[("bin", b"trainer")]);
    let ca = root.join("ca.pem");
    std::fs::write(&ca, cloud.emulator.ca_certificate_pem().unwrap()).unwrap();
    let address = ResourceAddress::managed("image_build", "t");

    // A service principal, as --emulator injects it.
    let p = ImageProvider::new(&root);
    let principal =
        cloud.block(&ca, &[("username", principal::CLIENT_ID), ("password", principal::CLIENT_SECRET)]);
    p.configure(&principal).await.unwrap();
    let state = push(&p, &image("sp")).await.unwrap();
    let digest = state.get(&AttrPath::attr("digest")).and_then(Value::as_str).unwrap().to_owned();
    assert_eq!(
        p.read(ReadRequest { address: &address, state: &state }).await.unwrap().as_ref(),
        Some(&state)
    );
    // The pushes went to the registry by name, through ACR's token endpoint.
    let log = cloud.emulator.requests();
    assert!(log.iter().any(|e| e.path == "/oauth2/token" && e.status == 200));
    assert!(log.iter().any(|e| e.path == "/v2/lanes/trainer/manifests/sp" && e.status == 201));

    // `az acr login`'s identity token, from Docker's configuration file.
    let docker = root.join("config.json");
    let token = cloud.identity_token().await;
    std::fs::write(
        &docker,
        json!({ "auths": { "laneslab.azurecr.io": { "auth": "", "identitytoken": token } } }).to_string(),
    )
    .unwrap();
    let p = ImageProvider::new(&root);
    p.configure(&cloud.block(&ca, &[("docker_config_file", "config.json")])).await.unwrap();
    let again = push(&p, &image("docker-login")).await.unwrap();
    assert_eq!(again.get(&AttrPath::attr("digest")).and_then(Value::as_str), Some(digest.as_str()));

    // A wrong secret: refused, said so, and never shown.
    let p = ImageProvider::new(&root);
    p.configure(&cloud.block(&ca, &[("username", principal::CLIENT_ID), ("password", "not-the-secret")]))
        .await
        .unwrap();
    let e = push(&p, &image("refused")).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized);
    assert!(e.message.contains("laneslab.azurecr.io refused a token as lanestack-emulator"), "{e}");
    assert!(!e.message.contains("not-the-secret"), "{e}");

    // No credentials at all: the error says where to give them.
    let p = ImageProvider::new(&root);
    p.configure(&cloud.block(&ca, &[])).await.unwrap();
    let e = push(&p, &image("anonymous")).await.unwrap_err();
    assert!(e.message.contains("anonymously") && e.message.contains("registry_auth"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_certificate_from_another_ca_is_refused() {
    let cloud = Cloud::start().await;
    let other = Emulator::start(EmulatorConfig { https: true, ..EmulatorConfig::default() }).await.unwrap();
    let (_dir, root) = stack_dir(&[("bin", b"trainer")]);
    let ca = root.join("other-ca.pem");
    std::fs::write(&ca, other.ca_certificate_pem().unwrap()).unwrap();
    let p = ImageProvider::new(&root);
    p.configure(
        &cloud.block(&ca, &[("username", principal::CLIENT_ID), ("password", principal::CLIENT_SECRET)]),
    )
    .await
    .unwrap();
    let e = push(&p, &image("x")).await.unwrap_err();
    assert!(
        e.message.contains("laneslab.azurecr.io") && e.message.to_lowercase().contains("certificate"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_blobs_go_up_in_chunks_to_acr_too() {
    let cloud = Cloud::start().await;
    let settings = lanestack_image::registry::Settings {
        connect_to: Some(cloud.emulator.addr()),
        ca_pem: Some(cloud.emulator.ca_certificate_pem().unwrap().as_bytes().to_vec()),
        default_credentials: Some(lanestack_image::registry::Credentials {
            username: principal::CLIENT_ID.to_owned(),
            password: principal::CLIENT_SECRET.to_owned(),
        }),
        chunk_size: 1000,
        ..lanestack_image::registry::Settings::default()
    };
    let client = lanestack_image::registry::Client::new(settings).unwrap();
    crate::builds::chunked_round_trip(&client, "laneslab.azurecr.io", 10_500).await;
}

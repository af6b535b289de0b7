//! The credential chain against the emulator: the Azure CLI's login (a fake `az` on the search
//! path), managed identity (the emulator's IMDS and App Service token routes; never the real
//! 169.254.169.254), the chain's order, and what it says when every source fails.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use lanestack_azure::client::{ArmClient, RetryPolicy};
use lanestack_azure::credential::{AzureCli, IdentityKind, ManagedIdentity, Proof, ServicePrincipal, Source};
use lanestack_emulator::{Emulator, EmulatorConfig};
use lanestack_model::ErrorKind;

use lanestack_azure::AzureProvider;

use crate::harness::{Cloud, SUB, quiet, rt};

/// Asks the emulator's token endpoint for a token, as `az login` would have.
async fn emulator_token(emulator: &Emulator) -> String {
    lanestack_testkit::entra_token(&reqwest::Client::new(), &emulator.endpoint()).await
}

/// Writes an executable `az` into `dir` running `body`; it records its arguments in
/// `dir/args`.
fn fake_az(dir: &Path, body: &str) {
    let script = format!("#!/bin/sh\necho \"$@\" > '{}/args'\n{body}\n", dir.display());
    let path = dir.join("az");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn search_path(dir: &Path) -> std::ffi::OsString {
    // The fake first, then the system's, so `sh` and `echo` are found.
    let mut paths = vec![dir.to_path_buf()];
    paths.extend(["/usr/bin", "/bin"].map(Into::into));
    std::env::join_paths(paths).unwrap()
}

/// Reads a resource group that does not exist: `Ok(None)` proves the token was accepted.
async fn probe(emulator: &Emulator, sources: Vec<Source>) -> Result<Option<serde_json::Value>, String> {
    let client = ArmClient::new(&emulator.endpoint(), sources, RetryPolicy::fast(), None).unwrap();
    client.get(&format!("/subscriptions/{SUB}/resourceGroups/rg-none"), "2024-03-01").await.map_err(|e| {
        assert_eq!(e.kind, ErrorKind::Unauthorized, "{e}");
        e.message
    })
}

fn imds(emulator: &Emulator) -> Source {
    Source::ManagedIdentity(ManagedIdentity {
        kind: IdentityKind::Imds,
        endpoint: format!("{}/metadata/identity/oauth2/token", emulator.endpoint()),
        client_id: None,
    })
}

#[test]
fn the_azure_cli_login_gives_the_token() {
    rt().block_on(async {
        let emulator = Emulator::start(quiet()).await.unwrap();
        let token = emulator_token(&emulator).await;
        let bin = tempfile::tempdir().unwrap();
        fake_az(
            bin.path(),
            &format!(
                "cat <<EOF\n{{\"accessToken\": \"{token}\", \"expiresOn\": \"2030-01-01 00:00:00.000000\", \
                 \"expires_on\": 1893456000, \"subscription\": \"{SUB}\", \"tenant\": \"t\", \"tokenType\": \"Bearer\"}}\nEOF"
            ),
        );
        let cli = Source::AzureCli(AzureCli { search_path: Some(search_path(bin.path())) });
        assert_eq!(probe(&emulator, vec![cli]).await, Ok(None));
        let args = std::fs::read_to_string(bin.path().join("args")).unwrap();
        assert_eq!(
            args.trim(),
            format!("account get-access-token --resource {}/ --output json", emulator.endpoint())
        );
    });
}

#[test]
fn without_a_cli_login_the_chain_falls_back_to_the_managed_identity() {
    rt().block_on(async {
        let emulator = Emulator::start(quiet()).await.unwrap();
        let bin = tempfile::tempdir().unwrap();
        fake_az(bin.path(), "echo \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1");
        let cli = Source::AzureCli(AzureCli { search_path: Some(search_path(bin.path())) });
        assert_eq!(probe(&emulator, vec![cli, imds(&emulator)]).await, Ok(None));
    });
}

#[test]
fn app_service_identities_use_their_endpoint_and_header() {
    rt().block_on(async {
        let emulator = Emulator::start(quiet()).await.unwrap();
        for kind in [IdentityKind::AppService("h".into()), IdentityKind::LegacyAppService("s".into())] {
            let source = Source::ManagedIdentity(ManagedIdentity {
                kind,
                endpoint: format!("{}/msi/token", emulator.endpoint()),
                client_id: Some("user-assigned".into()),
            });
            assert_eq!(probe(&emulator, vec![source]).await, Ok(None));
        }
        let paths: Vec<String> = emulator.requests().iter().map(|e| e.path.clone()).collect();
        assert!(paths.iter().filter(|p| p.as_str() == "/msi/token").count() == 2, "{paths:?}");
    });
}

#[test]
fn when_every_source_fails_the_error_says_what_each_said() {
    rt().block_on(async {
        let emulator = Emulator::start(quiet()).await.unwrap();
        let empty = tempfile::tempdir().unwrap();
        let sources = vec![
            Source::AzureCli(AzureCli { search_path: Some(empty.path().as_os_str().to_owned()) }),
            Source::ManagedIdentity(ManagedIdentity {
                // The emulator's ARM side, not an identity endpoint: it wants a bearer token.
                kind: IdentityKind::AppService("hidden-header-value".into()),
                endpoint: format!("{}/nowhere/token", emulator.endpoint()),
                client_id: None,
            }),
        ];
        let message = probe(&emulator, sources).await.unwrap_err();
        assert!(message.contains("Azure CLI: `az` is not on the PATH"), "{message}");
        assert!(message.contains("managed identity: "), "{message}");
        assert!(message.contains("answered 401 AuthenticationFailed"), "{message}");
        assert!(!message.contains("hidden-header-value"), "{message}");
    });
}

#[test]
fn a_refused_service_principal_ends_the_chain_without_asking_the_cli() {
    rt().block_on(async {
        let config = EmulatorConfig { client_secret: Some("right".into()), ..quiet() };
        let emulator = Emulator::start(config).await.unwrap();
        let bin = tempfile::tempdir().unwrap();
        fake_az(bin.path(), "exit 1");
        let sources = vec![
            Source::ServicePrincipal(ServicePrincipal {
                tenant_id: "t".into(),
                client_id: "c".into(),
                proof: Proof::Secret("wrong-secret-value".into()),
                authority_host: emulator.endpoint(),
            }),
            Source::AzureCli(AzureCli { search_path: Some(search_path(bin.path())) }),
            imds(&emulator),
        ];
        let message = probe(&emulator, sources).await.unwrap_err();
        assert!(message.contains("invalid_client"), "{message}");
        assert!(!message.contains("wrong-secret-value"), "{message}");
        assert!(!bin.path().join("args").exists(), "az was asked after a refusal");
    });
}

#[test]
fn a_provider_without_a_service_principal_applies_with_the_managed_identity_its_settings_name() {
    rt().block_on(async {
        // No `az` on the search path; the identity endpoint is the emulator's, never IMDS's.
        let empty = tempfile::tempdir().unwrap();
        let provider = AzureProvider::with_retry(RetryPolicy::fast())
            .with_azure_cli_search_path(empty.path().as_os_str().to_owned());
        let settings = "  managed_identity_endpoint = \"{e}/metadata/identity/oauth2/token\"\n";
        let mut cloud = Cloud::start_provider(quiet(), provider, Some(settings)).await;
        cloud.write(
            r#"
resource "azure_resource_group" "rg" {
  name     = "rg-mi"
  location = "westeurope"
}
"#,
        );
        cloud.apply().await;
        assert!(!cloud.plan().await.has_changes());
        let log = cloud.emulator.requests();
        assert!(log.iter().any(|e| e.path == "/metadata/identity/oauth2/token" && e.status == 200));
        assert!(log.iter().all(|e| !e.path.ends_with("/oauth2/v2.0/token")), "a service principal was used");
    });
}

#[test]
fn a_relative_ca_certificate_file_is_read_from_the_stack_directory() {
    rt().block_on(async {
        use lanestack_model::{Provider as _, Value};
        let emulator = Emulator::start(EmulatorConfig { https: true, ..quiet() }).await.unwrap();
        let stack = tempfile::tempdir().unwrap();
        std::fs::write(stack.path().join("ca.pem"), emulator.ca_certificate_pem().unwrap()).unwrap();
        let block = Value::object([
            ("subscription_id", Value::from(SUB)),
            ("endpoint", Value::from(emulator.endpoint())),
            ("authority_host", Value::from(emulator.endpoint())),
            ("tenant_id", Value::from("tenant")),
            ("client_id", Value::from("lanestack")),
            ("client_secret", Value::from("s3cret")),
            ("ca_certificate_file", Value::from("ca.pem")),
        ]);
        // The working directory (the crate's) has no ca.pem: only the stack's directory does.
        let e = AzureProvider::with_retry(RetryPolicy::fast()).configure(&block).await.unwrap_err();
        assert!(e.message.starts_with("could not read ca_certificate_file ca.pem"), "{e}");
        let provider = AzureProvider::with_retry(RetryPolicy::fast()).with_base_dir(stack.path());
        provider.configure(&block).await.unwrap();
    });
}

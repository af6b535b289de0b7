//! The in-cluster path end to end: a service-account directory and the service's environment,
//! a bearer token checked by the server's delegated authentication (TokenReview, answered by
//! the test's webhook), the token file read again for every request, and the token never in
//! an error.

use std::time::{Duration, UNIX_EPOCH};

use lanestack_kube::snapshot::{self, SnapshotError};
use lanestack_kube::{Client, Config, Error, resource_path};

use crate::crds::install_snapshot_crds;
use crate::server::ApiServer;
use crate::webhook::TokenReviewWebhook;

const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.good-service-account-token";
const WRONG: &str = "eyJhbGciOiJSUzI1NiJ9.some-other-token";

#[tokio::test(flavor = "current_thread")]
async fn in_cluster_service_account_token_creates_a_snapshot() {
    let server = ApiServer::start(TokenReviewWebhook::start(TOKEN, "training")).await;
    install_snapshot_crds(&server.admin(), "training").await;

    let sa = tempfile::tempdir().unwrap();
    std::fs::write(sa.path().join("token"), TOKEN).unwrap();
    std::fs::write(sa.path().join("ca.crt"), &server.server_ca_pem).unwrap();
    std::fs::write(sa.path().join("namespace"), "training").unwrap();
    let port = server.port.to_string();
    let env = |name: &str| match name {
        "KUBERNETES_SERVICE_HOST" => Some("127.0.0.1".to_owned()),
        "KUBERNETES_SERVICE_PORT" => Some(port.clone()),
        "HOSTNAME" => Some("scnn-launcher".to_owned()),
        _ => None,
    };
    let config = Config::infer_from(env, sa.path()).unwrap();
    assert_eq!(config.server, server.url);
    assert!(!format!("{config:?}").contains(TOKEN));
    let client = Client::new(&config).unwrap();
    let namespace = client.default_namespace().to_owned();
    assert_eq!(namespace, "training");

    let job = snapshot::job_name(env).unwrap();
    let name = snapshot::snapshot_name("data", &job, UNIX_EPOCH + Duration::from_secs(1_735_689_600));
    assert_eq!(name, "snap-data-scnn-20250101-000000");
    let created = snapshot::create_volume_snapshot(&client, &namespace, &name, "data").await.unwrap();
    assert_eq!((created.namespace.as_str(), created.name.as_str()), ("training", name.as_str()));
    let path = resource_path(snapshot::API_VERSION, Some("training"), "volumesnapshots", Some(&name));
    assert_eq!(client.get(&path).await.unwrap()["spec"]["source"]["persistentVolumeClaimName"], "data");
    assert!(
        server.webhook.reviews().iter().any(|r| r.authenticated),
        "the server asked the webhook: {:?}",
        server.webhook.reviews()
    );

    // A rotated-out token (the file is read again for each request) is refused, and neither
    // token shows in the error.
    std::fs::write(sa.path().join("token"), WRONG).unwrap();
    let e = snapshot::create_volume_snapshot(&client, &namespace, "snap-other", "data").await.unwrap_err();
    let SnapshotError::Failed { source: Error::Unauthorized(api), .. } = &e else { panic!("{e:?}") };
    assert_eq!(api.code, 401);
    for shown in [e.to_string(), format!("{e:?}"), format!("{client:?}")] {
        assert!(!shown.contains(TOKEN) && !shown.contains(WRONG), "{shown}");
        assert!(!shown.contains("good-service-account") && !shown.contains("some-other-token"), "{shown}");
    }
    assert!(e.to_string().contains("401 Unauthorized"), "{e}");

    // The good token back in the file: accepted again, without a new client.
    std::fs::write(sa.path().join("token"), format!("{TOKEN}\n")).unwrap();
    client.get(&path).await.unwrap();
}

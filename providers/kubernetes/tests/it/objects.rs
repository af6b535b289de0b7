//! Namespaces and secrets in an emulated AKS cluster: what lanestack owns and what it leaves
//! to others, drift, replacement of immutable secrets, refusal to adopt, and namespace
//! deletion that waits for the namespace controller.

use lanestack_kube::{Error, resource_path};
use lanestack_model::{Action, Value};
use serde_json::json;

use crate::cluster::{Cluster, actions};

const OBJECTS: &str = r#"
resource "kubernetes_namespace" "ml" {
  metadata {
    name   = "ml"
    labels = { team = "lanes" }
  }
}

resource "kubernetes_secret" "token" {
  metadata {
    name        = "token"
    namespace   = kubernetes_namespace.ml.metadata.name
    annotations = { purpose = "registry" }
  }
  data        = { user = "scnn", password = "p4ss" }
  binary_data = { blob = "AP8=" }
}
"#;

fn secret_path() -> String {
    resource_path("v1", Some("ml"), "secrets", Some("token"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_are_applied_read_back_and_others_additions_left_alone() {
    let cluster = Cluster::start(0).await;
    cluster.write(OBJECTS);
    cluster.apply().await;
    let kubectl = cluster.kubectl();

    // What the API holds: base64 data, our labels and annotations, lanestack as the applier.
    let live = kubectl.get(&secret_path()).await.unwrap();
    assert_eq!(live["data"], json!({"user": "c2Nubg==", "password": "cDRzcw==", "blob": "AP8="}));
    assert_eq!(live["type"], "Opaque");
    assert_eq!(live["metadata"]["annotations"], json!({"purpose": "registry"}));
    let managers: Vec<(&str, &str)> = live["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["manager"].as_str().unwrap(), e["operation"].as_str().unwrap()))
        .collect();
    assert_eq!(managers, [("lanestack", "Apply")]);
    let ns = kubectl.get(&resource_path("v1", None, "namespaces", Some("ml"))).await.unwrap();
    assert_eq!(ns["metadata"]["labels"]["team"], "lanes");
    // State: plain text where it is text, base64 where it was given so, the id known.
    assert_eq!(cluster.attr("kubernetes_secret.token", "data.password"), Value::from("p4ss"));
    assert_eq!(cluster.attr("kubernetes_secret.token", "binary_data.blob"), Value::from("AP8="));
    assert_eq!(cluster.attr("kubernetes_secret.token", "id"), Value::from("ml/token"));
    assert_eq!(
        cluster.attr("kubernetes_secret.token", "metadata.uid"),
        Value::from(live["metadata"]["uid"].as_str().unwrap())
    );

    // Others add a label (the server itself adds kubernetes.io/metadata.name), an annotation
    // and a key: not ours, so neither removed nor shown.
    let ns_path = resource_path("v1", None, "namespaces", Some("ml"));
    kubectl
        .merge_patch(
            &format!("{ns_path}?fieldManager=ops"),
            &json!({"metadata": {"labels": {"owner": "ops"}}}),
        )
        .await
        .unwrap();
    kubectl
        .merge_patch(
            &format!("{}?fieldManager=ops", secret_path()),
            &json!({"metadata": {"annotations": {"rotated-by": "vault"}}, "data": {"theirs": "eA=="}}),
        )
        .await
        .unwrap();
    let plan = cluster.plan().await;
    assert!(actions(&plan).is_empty(), "{:?}", actions(&plan));
    assert!(plan.drift.iter().all(|d| !d.address.to_string().starts_with("kubernetes_")), "{:?}", plan.drift);

    // Our own change applies and leaves theirs in place.
    cluster.write(&OBJECTS.replace("team = \"lanes\"", "team = \"perception\"").replace("p4ss", "n3w"));
    let plan = cluster.apply().await;
    assert_eq!(
        actions(&plan),
        [
            ("kubernetes_namespace.ml".to_owned(), Action::Update),
            ("kubernetes_secret.token".to_owned(), Action::Update)
        ]
    );
    let ns = kubectl.get(&ns_path).await.unwrap();
    assert_eq!(ns["metadata"]["labels"]["team"], "perception");
    assert_eq!(ns["metadata"]["labels"]["owner"], "ops");
    let live = kubectl.get(&secret_path()).await.unwrap();
    assert_eq!(live["data"]["password"], "bjN3");
    assert_eq!(live["data"]["theirs"], "eA==");
    assert_eq!(live["metadata"]["annotations"]["rotated-by"], "vault");

    // The API server's own rules run at plan time (a dry run): a label value it refuses fails
    // the plan with its message, and nothing changes.
    cluster.write(&OBJECTS.replace("team = \"lanes\"", "team = \"not valid!\""));
    let diags = cluster.try_plan(lanestack_engine::plan::PlanMode::Normal).await.unwrap_err();
    let text = format!("{diags:?}");
    assert!(
        text.contains("the API server refuses the object (dry run)") && text.contains("metadata.labels"),
        "{text}"
    );
    assert_eq!(kubectl.get(&ns_path).await.unwrap()["metadata"]["labels"]["team"], "perception");

    // A key lanestack stops setting is removed; theirs stays.
    cluster.write(&OBJECTS.replace("binary_data = { blob = \"AP8=\" }", ""));
    cluster.apply().await;
    let live = kubectl.get(&secret_path()).await.unwrap();
    assert!(live["data"].get("blob").is_none(), "{live}");
    assert_eq!(live["data"]["theirs"], "eA==");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_of_our_field_is_drift_that_the_next_apply_reverts() {
    let cluster = Cluster::start(0).await;
    cluster.write(OBJECTS);
    cluster.apply().await;
    let kubectl = cluster.kubectl();
    kubectl
        .merge_patch(
            &format!("{}?fieldManager=kubectl-edit", secret_path()),
            &json!({"data": {"password": "aGFja2Vk"}}),
        )
        .await
        .unwrap();
    let plan = cluster.plan().await;
    assert_eq!(actions(&plan), [("kubernetes_secret.token".to_owned(), Action::Update)]);
    let drift: Vec<String> = plan.drift.iter().map(|d| d.address.to_string()).collect();
    assert_eq!(drift, ["kubernetes_secret.token"]);
    let report = cluster.apply_plan(&plan).await;
    assert!(report.succeeded(), "{report:?}");
    let live = kubectl.get(&secret_path()).await.unwrap();
    assert_eq!(live["data"]["password"], "cDRzcw==");
    assert!(actions(&cluster.plan().await).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_immutable_secret_is_replaced_to_change_and_an_unmanaged_one_is_not_adopted() {
    let cluster = Cluster::start(0).await;
    let immutable = OBJECTS.replace("binary_data = { blob = \"AP8=\" }", "immutable = true");
    cluster.write(&immutable);
    cluster.apply().await;
    let uid = cluster.attr("kubernetes_secret.token", "metadata.uid");

    cluster.write(&immutable.replace("p4ss", "n3w"));
    let plan = cluster.plan().await;
    assert_eq!(actions(&plan), [("kubernetes_secret.token".to_owned(), Action::DeleteThenCreate)]);
    let change = plan.effective().next().unwrap();
    assert_eq!(change.change.replace_paths, ["data".parse().unwrap()]);
    let report = cluster.apply_plan(&plan).await;
    assert!(report.succeeded(), "{report:?}");
    assert_ne!(cluster.attr("kubernetes_secret.token", "metadata.uid"), uid);
    let live = cluster.kubectl().get(&secret_path()).await.unwrap();
    assert_eq!((live["data"]["password"].as_str(), live["immutable"].as_bool()), (Some("bjN3"), Some(true)));

    // Someone made a secret by hand; the stack declaring it does not take it over.
    let kubectl = cluster.kubectl();
    let by_hand = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "handmade"}, "stringData": {"k": "v"}});
    kubectl.create(&resource_path("v1", Some("ml"), "secrets", None), &by_hand).await.unwrap();
    cluster.write(&format!(
        "{immutable}\nresource \"kubernetes_secret\" \"handmade\" {{\n  metadata {{\n    name = \"handmade\"\n    namespace = \"ml\"\n  }}\n  data = {{ k = \"mine\" }}\n}}\n"
    ).replace("p4ss", "n3w"));
    let plan = cluster.plan().await;
    let report = cluster.apply_plan(&plan).await;
    let failed: Vec<String> = report.failed.iter().map(|(a, _, m)| format!("{a}: {m}")).collect();
    assert_eq!(
        failed,
        [
            "kubernetes_secret.handmade: Secret ml/handmade already exists and is not managed by this stack; import it or delete it first"
        ]
    );
    let live = kubectl.get(&resource_path("v1", Some("ml"), "secrets", Some("handmade"))).await.unwrap();
    assert_eq!(live["data"]["k"], "dg==", "the existing secret was changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_delete_waits_until_the_namespace_and_its_content_are_gone() {
    // The namespace controller needs three reads of the namespace to finish.
    let cluster = Cluster::start(3).await;
    cluster.write(OBJECTS);
    cluster.apply().await;
    let kubectl = cluster.kubectl();
    // A secret that lanestack does not manage, inside the namespace: it goes with it.
    let theirs = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "theirs"}});
    kubectl.create(&resource_path("v1", Some("ml"), "secrets", None), &theirs).await.unwrap();

    cluster.write("");
    let plan = cluster.plan().await;
    let deletes: Vec<String> = plan
        .effective()
        .filter(|c| c.change.action == Action::Delete)
        .map(|c| c.change.address.to_string())
        .collect();
    assert_eq!(deletes, ["kubernetes_namespace.ml", "kubernetes_secret.token"]);
    let report = cluster.apply_plan(&plan).await;
    assert!(report.succeeded(), "{report:?}");
    // When the apply is done, so is the namespace: no Terminating namespace left behind.
    for path in [
        resource_path("v1", None, "namespaces", Some("ml")),
        resource_path("v1", Some("ml"), "secrets", Some("theirs")),
    ] {
        let e = kubectl.get(&path).await.unwrap_err();
        assert!(matches!(e, Error::NotFound(_)), "{path}: {e}");
    }
    let namespace_reads = cluster
        .emulator
        .as_ref()
        .unwrap()
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/api/v1/namespaces/ml"))
        .count();
    assert!(namespace_reads >= 3, "{namespace_reads}");
}

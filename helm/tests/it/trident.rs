//! The real trident-operator chart (the upstream copy under the lane-detection stack's
//! manifests), rendered and compared with Trident's operator bundle.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lanestack_helm::chart::Chart;
use lanestack_helm::value::Val;
use lanestack_helm::yaml_in::parse_document;
use lanestack_helm::{RenderOptions, Rendered, render};

fn upstream() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../stacks/lane-detection/manifests/trident-71dd716")
}

fn render_with(values: &[&str]) -> Rendered {
    let chart = Chart::load(&upstream().join("helm/trident-operator")).unwrap();
    let options = RenderOptions {
        release_name: "trident".to_owned(),
        namespace: "trident".to_owned(),
        values: values.iter().map(|v| (*v).to_owned()).collect(),
        kube_version: Some("1.30.0".to_owned()),
        ..RenderOptions::default()
    };
    render(&chart, &options).unwrap()
}

fn doc(r: &Rendered, key: &str) -> Val {
    let text = r
        .manifests
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in {:?}", r.manifests.keys().collect::<Vec<_>>()));
    parse_document(text).unwrap()
}

fn at(v: &Val, path: &str) -> Val {
    let mut cur = v.clone();
    for step in path.split('.') {
        cur = match (&cur, step.parse::<usize>()) {
            (Val::List(l), Ok(i)) => l.get(i).cloned().unwrap_or(Val::Nil),
            (Val::Map(m), _) => m.borrow().get(step).cloned().unwrap_or(Val::Nil),
            _ => Val::Nil,
        };
    }
    cur
}

fn s(v: &Val, path: &str) -> String {
    at(v, path).go_string()
}

const DEPLOYMENT: &str = "apps/Deployment/trident/trident-operator";
const ORCHESTRATOR: &str = "trident.netapp.io/TridentOrchestrator//trident";

#[test]
fn default_values_render_the_operator_in_install_order() {
    let r = render_with(&[]);
    assert_eq!(
        r.order,
        [
            "core/ServiceAccount/trident/trident-operator",
            "rbac.authorization.k8s.io/ClusterRole//trident-operator",
            "rbac.authorization.k8s.io/ClusterRoleBinding//trident-operator",
            DEPLOYMENT,
            ORCHESTRATOR,
        ]
    );
    assert!(r.hooks.is_empty(), "{:?}", r.hooks.keys());
    let d = doc(&r, DEPLOYMENT);
    assert_eq!(s(&d, "spec.template.spec.containers.0.image"), "docker.io/netapp/trident-operator:26.10.0");
    assert_eq!(s(&d, "spec.template.spec.containers.0.imagePullPolicy"), "IfNotPresent");
    assert_eq!(s(&d, "spec.template.spec.containers.0.command"), "[/trident-operator -debug]");
    assert_eq!(s(&d, "spec.template.spec.containers.0.resources"), "map[requests:map[cpu:10m memory:40Mi]]");
    assert_eq!(
        s(
            &d,
            "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.0.matchExpressions.0.values"
        ),
        "[arm64 amd64]"
    );
    assert_eq!(s(&d, "metadata.namespace"), "trident");
    let role = doc(&r, "rbac.authorization.k8s.io/ClusterRole//trident-operator");
    let Val::List(rules) = at(&role, "rules") else { panic!("no rules") };
    assert_eq!(rules.len(), 40);
    let sa = doc(&r, "core/ServiceAccount/trident/trident-operator");
    assert_eq!(s(&sa, "metadata.labels.app"), "operator.trident.netapp.io");
    assert_eq!(s(&sa, "metadata.annotations"), "<nil>");
    let torc = doc(&r, ORCHESTRATOR);
    assert_eq!(s(&torc, "spec.namespace"), "trident");
    assert_eq!(s(&torc, "spec.debug"), "<nil>");
    assert_eq!(s(&torc, "spec.autosupportImage"), "docker.io/netapp/trident-autosupport:26.06");
    assert_eq!(s(&torc, "spec.tridentImage"), "docker.io/netapp/trident:26.10.0");
    assert_eq!(s(&torc, "spec.probePort"), "17546");
    assert_eq!(s(&torc, "spec.k8sTimeout"), "0");
    assert_eq!(s(&torc, "spec.imagePullPolicy"), "IfNotPresent");
    assert_eq!(s(&torc, "spec.enableAutoBackendConfig"), "false");
    assert!(
        r.notes.contains("Your release is named 'trident' and is installed into the 'trident' namespace."),
        "{}",
        r.notes
    );
    assert!(r.notes.contains("https://github.com/NetApp/trident"));
    assert_eq!(
        r.crds.keys().collect::<Vec<_>>(),
        [
            "apiextensions.k8s.io/CustomResourceDefinition//tridentconfigurators.trident.netapp.io",
            "apiextensions.k8s.io/CustomResourceDefinition//tridentorchestrators.trident.netapp.io"
        ]
    );
}

#[test]
fn values_change_the_output() {
    let r = render_with(&[
        "tridentDebug: true\nimageRegistry: registry.example/netapp\n",
        "tridentExcludeAutosupport: true\ncloudProvider: Azure\n",
    ]);
    let torc = doc(&r, ORCHESTRATOR);
    assert_eq!(s(&torc, "spec.debug"), "true");
    assert_eq!(s(&torc, "spec.excludeAutosupport"), "true");
    assert_eq!(s(&torc, "spec.imageRegistry"), "registry.example/netapp");
    assert_eq!(s(&torc, "spec.tridentImage"), "registry.example/netapp/trident:26.10.0");
    assert_eq!(s(&torc, "spec.autosupportImage"), "registry.example/netapp/trident-autosupport:26.06");
    assert_eq!(s(&torc, "spec.cloudProvider"), "Azure");
    let d = doc(&r, DEPLOYMENT);
    assert_eq!(
        s(&d, "spec.template.spec.containers.0.image"),
        "registry.example/netapp/trident-operator:26.10.0"
    );
    // Azure without a workload identity: the operator reads the node's azure.json.
    assert_eq!(s(&d, "spec.template.spec.containers.0.env.2.name"), "AZURE_CREDENTIAL_FILE");
    assert_eq!(s(&d, "spec.template.spec.volumes.0.hostPath.path"), "/etc/kubernetes");
    assert_eq!(
        s(&d, "spec.template.metadata.labels"),
        "map[app:operator.trident.netapp.io name:trident-operator]"
    );

    // With a workload identity: the pod label and the service account's annotation instead.
    let r = render_with(&[
        "cloudProvider: Azure\ncloudIdentity: \"'azure.workload.identity/client-id: 0000-1111'\"\n",
    ]);
    let d = doc(&r, DEPLOYMENT);
    assert_eq!(
        s(&d, "spec.template.metadata.labels.azure\u{2e}workload\u{2e}identity/use"),
        "<nil>",
        "a dotted key is not a path here"
    );
    let Val::Map(labels) = at(&d, "spec.template.metadata.labels") else { panic!() };
    assert_eq!(
        labels.borrow().get("azure.workload.identity/use").map(Val::go_string).as_deref(),
        Some("true")
    );
    assert_eq!(s(&d, "spec.template.spec.volumes"), "<nil>");
    let sa = doc(&r, "core/ServiceAccount/trident/trident-operator");
    let Val::Map(ann) = at(&sa, "metadata.annotations") else { panic!("no annotations") };
    assert_eq!(
        ann.borrow().get("azure.workload.identity/client-id").map(Val::go_string).as_deref(),
        Some("0000-1111")
    );
}

#[test]
fn configurators_add_a_service_and_a_hook() {
    let r = render_with(&[
        "anfConfigurator:\n  enabled: true\n  capacityPools: [pool-a]\n  virtualNetwork: vnet\n  subnet: anf\n",
    ]);
    assert!(r.manifests.contains_key("core/Service/trident/trident-operator"));
    assert!(
        r.manifests.contains_key("trident.netapp.io/TridentConfigurator//netapp-anf-backend-configurator")
    );
    assert_eq!(r.hooks.keys().collect::<Vec<_>>(), ["core/Pod/trident/trident-post-install-upgrade-hook"]);
    let d = doc(&r, DEPLOYMENT);
    assert_eq!(
        s(&d, "spec.template.spec.containers.0.command"),
        "[/trident-operator -configurator-reconcile-interval=30m0s -debug]"
    );
    let conf = doc(&r, "trident.netapp.io/TridentConfigurator//netapp-anf-backend-configurator");
    assert_eq!(s(&conf, "spec.capacityPools"), "[pool-a]");
    // Service before Deployment, as Helm installs them.
    let pos = |k: &str| r.order.iter().position(|o| o == k).unwrap();
    assert!(pos("core/Service/trident/trident-operator") < pos(DEPLOYMENT));
}

#[test]
fn include_crds_puts_them_first() {
    let chart = Chart::load(&upstream().join("helm/trident-operator")).unwrap();
    let options = RenderOptions {
        release_name: "trident".into(),
        namespace: "trident".into(),
        include_crds: true,
        kube_version: Some("1.30.0".into()),
        ..RenderOptions::default()
    };
    let r = render(&chart, &options).unwrap();
    assert!(r.order[0].starts_with("apiextensions.k8s.io/CustomResourceDefinition//"));
    assert_eq!(r.manifests.len(), 7);
}

#[test]
fn the_charts_kube_version_refuses_old_clusters() {
    let chart = Chart::load(&upstream().join("helm/trident-operator")).unwrap();
    let options = RenderOptions {
        release_name: "trident".into(),
        kube_version: Some("1.23.4".into()),
        ..RenderOptions::default()
    };
    assert_eq!(
        render(&chart, &options).unwrap_err().0,
        "chart requires kubeVersion: >= 1.24.0-0 which is incompatible with Kubernetes v1.23.4"
    );
}

/// The bundle's objects by the same keys as the chart's.
fn bundle() -> BTreeMap<String, Val> {
    let text = std::fs::read_to_string(upstream().join("bundle.yaml")).unwrap();
    let mut out = BTreeMap::new();
    for d in lanestack_helm::render::split_manifests(&text) {
        let v = parse_document(&d).unwrap();
        if matches!(v, Val::Nil) {
            continue;
        }
        let key = lanestack_helm::render::key(
            &s(&v, "apiVersion"),
            &s(&v, "kind"),
            &s(&v, "metadata.namespace").replace("<nil>", ""),
            &s(&v, "metadata.name"),
        );
        out.insert(key, v);
    }
    out
}

#[test]
fn the_chart_renders_what_the_operator_bundle_holds() {
    let r = render_with(&[]);
    let b = bundle();
    // The bundle names the namespace `trident` too. Objects in both must agree, but for what
    // the chart adds (documented in docs/helm.md): the Deployment's affinity, resources,
    // `-debug` and `imagePullPolicy`.
    let mut compared = 0;
    for (key, text) in &r.manifests {
        let Some(theirs) = b.get(key) else { continue };
        let ours = parse_document(text).unwrap();
        compared += 1;
        if key == DEPLOYMENT {
            assert_eq!(
                s(&ours, "spec.template.spec.containers.0.image"),
                s(theirs, "spec.template.spec.containers.0.image")
            );
            assert_eq!(
                s(&ours, "spec.template.spec.serviceAccountName"),
                s(theirs, "spec.template.spec.serviceAccountName")
            );
            for same in [
                "spec.selector",
                "spec.strategy",
                "spec.template.metadata.labels",
                "spec.template.spec.affinity",
                "spec.template.spec.containers.0.imagePullPolicy",
                "spec.template.spec.containers.0.resources",
            ] {
                assert_eq!(s(&ours, same), s(theirs, same), "{same}");
            }
            // The two differences docs/helm.md records.
            assert_eq!(s(&ours, "spec.template.spec.containers.0.command"), "[/trident-operator -debug]");
            assert_eq!(
                s(theirs, "spec.template.spec.containers.0.command"),
                "[/trident-operator --log-level=debug]"
            );
            assert_eq!(
                s(&ours, "spec.template.spec.containers.0.securityContext"),
                "map[readOnlyRootFilesystem:true]"
            );
            assert_eq!(
                s(theirs, "spec.template.spec.containers.0.securityContext.capabilities.drop"),
                "[all]"
            );
            continue;
        }
        if key.contains("ClusterRole/") {
            // The chart's role is a little newer than the bundle's at the same commit: it adds
            // `delete` on volumesnapshotclasses, `get` on CRDs, and more PSP names (see
            // docs/helm.md). Every other rule is the same.
            let (Val::List(a), Val::List(b)) = (at(&ours, "rules"), at(theirs, "rules")) else { panic!() };
            let shared = a.iter().filter(|r| b.iter().any(|t| t.deep_equal(r))).count();
            assert_eq!((a.len(), b.len(), shared), (40, 39, 35), "{key}");
            continue;
        }
        assert_eq!(ours.go_string(), theirs.go_string(), "{key}");
    }
    assert!(
        compared >= 4,
        "only {compared} objects in common: bundle has {:?}",
        b.keys().collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_data_source_reads_the_chart_relative_to_the_stack() {
    use lanestack_helm::HelmProvider;
    use lanestack_model::{BlockAddress, DataRequest, Mode, Provider, Value};

    let p = HelmProvider::new(upstream().join("helm"));
    assert_eq!(p.schema().data_sources.keys().collect::<Vec<_>>(), ["helm_template"]);
    let address =
        BlockAddress { mode: Mode::Data, type_name: "helm_template".to_owned(), name: "trident".to_owned() }
            .instance(None);
    let config = Value::object([
        ("chart", Value::from("trident-operator")),
        ("release_name", Value::from("trident")),
        ("namespace", Value::from("trident")),
        ("values", Value::List(vec![Value::from("tridentDebug: true\n")])),
        ("set", Value::object([("imagePullPolicy", Value::from("Always"))])),
        ("kube_version", Value::from("1.30.0")),
    ]);
    let v = p.read_data(DataRequest { address: &address, config: &config }).await.unwrap();
    let get = |k: &str| v.get(&k.parse().unwrap()).cloned().unwrap_or_default();
    assert_eq!(get("chart_version"), Value::from("100.2610.0"));
    assert_eq!(get("app_version"), Value::from("26.10.0"));
    assert_eq!(get("order").as_list().map(<[Value]>::len), Some(5));
    let deployment = get("manifests")
        .as_object()
        .and_then(|m| m.get(DEPLOYMENT))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap();
    assert!(deployment.contains("imagePullPolicy: Always"), "{deployment}");
    let id = get("id");
    // The same inputs give the same id; another value another.
    let again = p.read_data(DataRequest { address: &address, config: &config }).await.unwrap();
    assert_eq!(again.get(&"id".parse().unwrap()), Some(&id));
    let mut other = config.clone();
    if let Value::Object(m) = &mut other {
        m.insert("values".to_owned(), Value::List(vec![Value::from("tridentDebug: false\n")]));
    }
    let third = p.read_data(DataRequest { address: &address, config: &other }).await.unwrap();
    assert_ne!(third.get(&"id".parse().unwrap()), Some(&id));
    // Errors name the template and line, not the values.
    let mut bad = config.clone();
    if let Value::Object(m) = &mut bad {
        m.insert("values".to_owned(), Value::List(vec![Value::from("tridentLogFormat: [secret-value]\n")]));
    }
    let e = p.read_data(DataRequest { address: &address, config: &bad }).await.unwrap_err();
    assert!(e.message.contains("trident-operator/templates/_helpers.tpl:"), "{}", e.message);
    assert!(!e.message.contains("secret-value"), "{}", e.message);
}

//! Charts: values merging, set paths, kubeVersion, hooks, CRDs, NOTES, partials, ordering.

use lanestack_helm::chart::Chart;
use lanestack_helm::{RenderOptions, render};

use crate::files;

const CHART: &str =
    "apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: \"4.5\"\nkubeVersion: \">=1.25.0-0\"\n";

fn demo() -> Chart {
    Chart::from_files(files(&[
        ("Chart.yaml", CHART),
        ("values.yaml", "image: {repo: r, tag: t}\nkeep: yes\ndrop: me\nreplicas: 1\n"),
        ("templates/_helpers.tpl", "{{ define \"demo.name\" }}{{ .Chart.Name }}-{{ .Release.Name }}{{ end }}this text is not output\n"),
        (
            "templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ include \"demo.name\" . }}\ndata:\n  image: {{ .Values.image.repo }}:{{ .Values.image.tag }}\n  keep: {{ .Values.keep | quote }}\n  drop: {{ .Values.drop | default \"gone\" | quote }}\n  replicas: {{ .Values.replicas | quote }}\n  template: {{ .Template.Name }}\n  kube: {{ .Capabilities.KubeVersion.Version }}\n  snap: {{ .Capabilities.APIVersions.Has \"snapshot.storage.k8s.io/v1\" | quote }}\n  apps: {{ .Capabilities.APIVersions.Has \"apps/v1\" | quote }}\n  file: {{ .Files.Get \"files/x.txt\" | quote }}\n  chart: {{ .Chart.Version }}/{{ .Chart.AppVersion }}\n",
        ),
        ("templates/multi.yaml", "---\n# a comment-only document\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n---\napiVersion: example.com/v1\nkind: Zebra\nmetadata:\n  name: z\n  namespace: {{ .Release.Namespace }}\n---\napiVersion: example.com/v1\nkind: Aardvark\nmetadata:\n  name: a\n"),
        ("templates/hook.yaml", "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-install\n"),
        ("templates/empty.yaml", "{{ if false }}never{{ end }}\n"),
        ("templates/NOTES.txt", "Installed {{ .Release.Name }}."),
        ("crds/thing.yaml", "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: things.example.com\n"),
        ("files/x.txt", "hello"),
    ]))
    .unwrap()
}

fn options() -> RenderOptions {
    RenderOptions {
        release_name: "rel".into(),
        namespace: "ns1".into(),
        kube_version: Some("v1.30.2".into()),
        ..RenderOptions::default()
    }
}

#[test]
fn a_chart_renders_with_merged_values_set_paths_and_built_in_objects() {
    let mut o = options();
    o.values = vec!["image: {tag: from-file}\n".into(), "drop: null\n".into()];
    o.set.insert("image.repo".into(), "set-repo".into());
    o.set.insert("replicas".into(), "3".into());
    o.api_versions = vec!["snapshot.storage.k8s.io/v1".into()];
    let r = render(&demo(), &o).unwrap();
    let cm = &r.manifests["core/ConfigMap//demo-rel"];
    for line in [
        "image: set-repo:from-file",
        "keep: \"true\"",
        "drop: \"gone\"",
        "replicas: \"3\"",
        "template: demo/templates/cm.yaml",
        "kube: v1.30.2",
        "snap: \"true\"",
        "apps: \"true\"",
        "file: \"hello\"",
        "chart: 1.2.3/4.5",
    ] {
        assert!(cm.contains(line), "{line:?} not in\n{cm}");
    }
    assert_eq!(
        r.order,
        [
            "core/Namespace//ns",
            "core/ConfigMap//demo-rel",
            "example.com/Aardvark//a",
            "example.com/Zebra/ns1/z"
        ]
    );
    assert_eq!(r.hooks.keys().collect::<Vec<_>>(), ["batch/Job//migrate"]);
    assert_eq!(
        r.crds.keys().collect::<Vec<_>>(),
        ["apiextensions.k8s.io/CustomResourceDefinition//things.example.com"]
    );
    assert_eq!(r.notes, "Installed rel.");
    assert_eq!(r.sources["core/ConfigMap//demo-rel"], "demo/templates/cm.yaml");
}

#[test]
fn chart_errors_are_clear() {
    let mut o = options();
    o.kube_version = Some("1.24.9".into());
    assert_eq!(
        render(&demo(), &o).unwrap_err().0,
        "chart requires kubeVersion: >=1.25.0-0 which is incompatible with Kubernetes v1.24.9"
    );
    let mut o = options();
    o.release_name = "Bad_Name".into();
    assert!(render(&demo(), &o).unwrap_err().0.contains("release name"));
    let mut o = options();
    o.values = vec!["a: [unclosed\n".into()];
    assert!(render(&demo(), &o).unwrap_err().0.starts_with("values[0]: yaml: line"));
    let mut o = options();
    o.set.insert("a[0]".into(), "x".into());
    assert!(render(&demo(), &o).unwrap_err().0.contains("list indexes"));

    let broken = |t: &str| {
        let c = Chart::from_files(files(&[("Chart.yaml", CHART), ("templates/x.yaml", t)])).unwrap();
        render(&c, &options()).unwrap_err().0
    };
    assert_eq!(
        broken("a: 1\nb: {{ nope }}\n"),
        "parse error at (demo/templates/x.yaml:2: function \"nope\" not defined)"
    );
    assert_eq!(
        broken("a: [1\n"),
        "YAML parse error on demo/templates/x.yaml: yaml: line 2: while parsing a flow sequence, expected ',' or ']'"
    );
    assert!(broken("apiVersion: v1\nkind: A\nmetadata: {name: a}\n---\napiVersion: v1\nkind: A\nmetadata: {name: a}\n").contains("more than once: core/A//a"));
    assert!(broken("kind: A\n").contains("without apiVersion"));
}

#[test]
fn a_packaged_chart_loads_like_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let tgz = dir.path().join("demo-1.2.3.tgz");
    let file = std::fs::File::create(&tgz).unwrap();
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(file, flate2::Compression::default()));
    for (path, text) in [
        ("demo/Chart.yaml", CHART),
        (
            "demo/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n",
        ),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, text.as_bytes()).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
    let r = render(&Chart::load(&tgz).unwrap(), &options()).unwrap();
    assert_eq!(r.order, ["core/ConfigMap//rel"]);
}

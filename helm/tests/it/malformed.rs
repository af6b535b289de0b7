//! Malformed templates and values: every one an error or an output, never a panic.

use lanestack_helm::chart::Chart;
use lanestack_helm::{RenderOptions, render};

use crate::files;

const SEEDS: &[&str] = &[
    "{{- define \"x\" -}}a: {{ .Values.a | default \"d\" | quote }}{{- end }}\n{{ include \"x\" . | nindent 2 }}\n",
    "{{ range $k, $v := .Values.m }}{{ $k }}: {{ $v | toYaml | indent 2 }}{{ else }}{}{{ end }}",
    "{{ if and .Values.a (or .Values.b (not .Values.c)) }}{{ printf \"%s-%d\" .Release.Name 3 }}{{ else if eq .Values.a \"x\" }}y{{ end }}",
    "{{ with $x := .Values.m }}{{ $x.k | upper }}{{ end }}{{/* c */}}{{ `raw` }}{{ 'c' }}{{ 0x1f }}{{ (list 1 2).x }}",
    "{{ tpl \"{{ .Values.a }}\" . }}{{ $_ := set .Values \"k\" 1 }}{{ range until 3 }}{{ break }}{{ end }}",
];

fn options() -> RenderOptions {
    RenderOptions { release_name: "r".into(), namespace: "n".into(), ..RenderOptions::default() }
}

/// A small deterministic generator (no dependency, same cases every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
}

#[test]
fn truncated_and_mutated_templates_never_panic() {
    let noise = [
        "{{", "}}", "{{-", "-}}", "(", ")", "|", "$", ".", "\"", "`", "'", "/*", "*/", "end", "else",
        "range", ":=", "=", ",", "\n", "nil", "-", "1e", "0x",
    ];
    let mut rng = Lcg(7);
    let mut cases = 0;
    for seed in SEEDS {
        let chars: Vec<char> = seed.chars().collect();
        for cut in 0..=chars.len() {
            let t: String = chars[..cut].iter().collect();
            check(&t, "a: 1\nm: {k: v}\n");
            cases += 1;
        }
        for _ in 0..300 {
            let mut t = chars.clone();
            for _ in 0..(1 + rng.next() % 3) {
                let at = rng.next() % (t.len() + 1);
                if rng.next().is_multiple_of(2) && at < t.len() {
                    t.remove(at);
                } else {
                    let n = noise[rng.next() % noise.len()];
                    for (i, c) in n.chars().enumerate() {
                        t.insert(at + i, c);
                    }
                }
            }
            check(&t.into_iter().collect::<String>(), "a: 1\nm: {k: v}\n");
            cases += 1;
        }
    }
    assert!(cases > 1500);
}

#[test]
fn malformed_values_and_hostile_templates_are_errors() {
    for values in
        ["a: [1\n", "a: &x 1\nb: *y\n", "- list\n", "a:\n  - b\n c: d\n", "\t", "{{", "a: !!binary x\n"]
    {
        check("{{ .Values }}", values);
    }
    // Deep nesting, recursion, huge output: errors, not a crashed process.
    check(&format!("{{{{ {}1{} }}}}", "(".repeat(500), ")".repeat(500)), "");
    check(&"{{ if 1 }}".repeat(300), "");
    check("{{ define \"a\" }}{{ include \"a\" . }}{{ end }}{{ include \"a\" . }}", "");
    check("{{ define \"a\" }}{{ template \"a\" . }}{{ end }}{{ template \"a\" . }}", "");
    check("{{ $d := dict }}{{ $_ := set $d \"self\" $d }}{{ toYaml $d }}{{ toJson $d }}{{ $d }}", "");
    check("{{ range until 1000000 }}{{ range until 1000000 }}{{ end }}{{ end }}", "");
    check("{{ range until 100000 }}{{ repeat 10000 \"x\" }}{{ end }}", "");
    check(
        "{{ trunc -100 \"é\" }}{{ substr 1 2 \"é\" }}{{ substr 5 1 \"abc\" }}{{ index \"é\" 1 }}{{ slice \"é\" 1 }}",
        "",
    );
    check(
        "{{ printf \"%\" }}{{ printf \"%!\" 1 }}{{ printf \"%999999999d\" 1 }}{{ printf \"%.99999999f\" 1.5 }}",
        "",
    );
    check(
        "{{ fromYaml \"a: [\" }}{{ fromYamlArray \"{\" }}{{ b64dec \"@@\" }}{{ regexMatch \"(\" \"x\" }}",
        "",
    );
    check("{{ semverCompare \">=\" \"1\" }}{{ until -5 }}{{ untilStep 0 10 0 }}{{ div 1 0 }}", "");
}

fn check(template: &str, values: &str) {
    let chart = match Chart::from_files(files(&[
        ("Chart.yaml", "apiVersion: v2\nname: fuzz\nversion: 0.1.0\n"),
        ("values.yaml", values),
        ("templates/t.yaml", template),
    ])) {
        Ok(c) => c,
        Err(_) => return,
    };
    if let Err(e) = render(&chart, &options()) {
        assert_ne!(e.0, "rendering failed unexpectedly", "a panic on {template:?} / {values:?}");
    }
}

//! Go text/template semantics and Helm's functions, table-driven: (template, data, output).

use crate::{ok, run};

fn table(cases: &[(&str, &str, &str)]) {
    let mut failures = Vec::new();
    for (src, data, want) in cases {
        match run(src, data) {
            Ok(got) if got == *want => {}
            Ok(got) => failures.push(format!("{src:?}\n   want {want:?}\n    got {got:?}")),
            Err(e) => failures.push(format!("{src:?}\n   want {want:?}\n  error {e}")),
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn trimming_and_comments() {
    table(&[
        ("a  {{- \"b\" -}}  c", "", "abc"),
        ("a\n  {{- /* note */}}\nb", "", "a\nb"),
        ("a {{/* x */}} b", "", "a  b"),
        ("x:\n{{- if true }}\n  y: 1\n{{- end }}\n", "", "x:\n  y: 1\n"),
        ("{{- 3 }}", "", "3"),
        ("{{ -3 }}", "", "-3"),
    ]);
}

#[test]
fn fields_pipelines_and_variables() {
    table(&[
        ("{{ .a.b }}", "a: {b: x}", "x"),
        ("{{ .a.missing }}", "a: {b: x}", "<no value>"),
        ("{{ .a.b | upper | printf \"%s!\" }}", "a: {b: x}", "X!"),
        ("{{ $x := .a }}{{ $x.b }}", "a: {b: yy}", "yy"),
        ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", "", "2"),
        ("{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}", "", "21"),
        ("{{ range .l }}{{ $.top }}{{ . }}{{ end }}", "top: T\nl: [a, b]", "TaTb"),
        ("{{ (.a).b }}", "a: {b: z}", "z"),
        ("{{ (dict \"k\" \"v\").k }}", "", "v"),
        ("{{ with $v := .a }}{{ $v.b }}{{ end }}", "a: {b: w}", "w"),
        ("{{ print 1 2 \"a\" \"b\" 3 }}", "", "1 2ab3"),
        ("{{ println \"a\" 1 }}", "", "a 1\n"),
        ("{{ .num }}", "num: 1000000", "1e+06"),
        ("{{ .num }}", "num: 30", "30"),
        ("{{ .f }}", "f: 0.5", "0.5"),
        ("{{ .l }} {{ .m }}", "l: [1, a]\nm: {b: 2, a: 1}", "[1 a] map[a:1 b:2]"),
        ("{{ 'a' }} {{ 0x10 }} {{ 1e3 }} {{ `raw\\n` }} {{ \"\\u00e9\\t\" }}", "", "97 16 1000 raw\\n é\t"),
    ]);
}

#[test]
fn control_structures() {
    table(&[
        ("{{ if .x }}y{{ else if .z }}z{{ else }}n{{ end }}", "z: 1", "z"),
        ("{{ if .x }}y{{ else }}n{{ end }}", "x: []", "n"),
        ("{{ if .x }}y{{ else }}n{{ end }}", "x: '0'", "y"),
        ("{{ if .x }}y{{ else }}n{{ end }}", "x: 0", "n"),
        ("{{ if .x }}y{{ else }}n{{ end }}", "x: {}", "n"),
        ("{{ range $k, $v := .m }}{{ $k }}={{ $v }};{{ end }}", "m: {b: 2, a: 1, c: 3}", "a=1;b=2;c=3;"),
        ("{{ range $i, $v := .l }}{{ $i }}:{{ $v }} {{ end }}", "l: [x, z]", "0:x 1:z "),
        ("{{ range $v := .l }}{{ $v }}{{ end }}", "l: [x, z]", "xz"),
        ("{{ range .l }}{{ . }}{{ end }}", "l: [y, n, on]", "truefalsetrue"),
        ("{{ range .l }}{{ . }}{{ else }}empty{{ end }}", "l: []", "empty"),
        ("{{ range .missing }}{{ . }}{{ else }}none{{ end }}", "", "none"),
        ("{{ range .l }}{{ if eq . 3 }}{{ break }}{{ end }}{{ . }}{{ end }}", "", ""),
        ("{{ range until 6 }}{{ if eq . 3 }}{{ break }}{{ end }}{{ . }}{{ end }}", "", "012"),
        ("{{ range until 5 }}{{ if eq (mod . 2) 0 }}{{ continue }}{{ end }}{{ . }}{{ end }}", "", "13"),
        ("{{ range 3 }}{{ . }}{{ end }}", "", "012"),
        ("{{ with .a }}{{ .b }}{{ else }}no{{ end }}", "a: {b: 1}", "1"),
        ("{{ with .a }}{{ .b }}{{ else }}no{{ end }}", "a: ''", "no"),
        ("{{ with .a }}x{{ else with .b }}{{ . }}{{ end }}", "b: B", "B"),
    ]);
}

#[test]
fn define_template_include_and_indentation() {
    let defs = "{{- define \"lbl\" -}}\napp: {{ .name }}\ntier: web\n{{- end -}}\n";
    table(&[
        (&format!("{defs}{{{{ template \"lbl\" . }}}}"), "name: a", "app: a\ntier: web"),
        (
            &format!("{defs}labels:\n{{{{- include \"lbl\" . | nindent 2 }}}}"),
            "name: a",
            "labels:\n  app: a\n  tier: web",
        ),
        (
            &format!("{defs}labels:\n{{{{ include \"lbl\" . | indent 4 }}}}"),
            "name: a",
            "labels:\n    app: a\n    tier: web",
        ),
        ("{{ block \"b\" . }}default {{ .x }}{{ end }}", "x: 1", "default 1"),
        (
            "{{ define \"r\" }}{{ if gt . 0 }}{{ . }}{{ include \"r\" (sub . 1) }}{{ end }}{{ end }}{{ include \"r\" 3 }}",
            "",
            "321",
        ),
        ("{{ tpl \"{{ .a }}-{{ .b }}\" . }}", "a: 1\nb: x", "1-x"),
    ]);
}

#[test]
fn comparisons_and_logic() {
    table(&[
        ("{{ eq 1 2 3 1 }}", "", "true"),
        ("{{ eq \"a\" \"b\" }}", "", "false"),
        ("{{ eq .missing \"a\" }}", "", "false"),
        ("{{ eq .missing nil }}", "", "true"),
        ("{{ ne .s \"\" }}", "s: x", "true"),
        ("{{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1.5 2.5 }}", "", "true true true false"),
        ("{{ and 1 0 2 }}|{{ and 1 2 }}|{{ or 0 \"\" }}|{{ or 0 \"x\" 3 }}", "", "0|2||x"),
        ("{{ or .a .b }}", "b: B", "B"),
        ("{{ and false (fail \"not evaluated\") }}", "", "false"),
        ("{{ or true (fail \"not evaluated\") }}", "", "true"),
        ("{{ not 0 }} {{ not \"x\" }}", "", "true false"),
        (
            "{{ if .tridentDebug | printf \"%v\" | eq \"true\" }}on{{ else }}off{{ end }}",
            "tridentDebug: true",
            "on",
        ),
        ("{{ len .l }} {{ len \"abc\" }} {{ len .m }}", "l: [1, 2]\nm: {a: 1}", "2 3 1"),
        (
            "{{ index .l 1 }} {{ index .m \"k\" }} {{ index .nn \"a\" \"b\" }}",
            "l: [x, z]\nm: {k: v}\nnn: {a: {b: deep}}",
            "z v deep",
        ),
    ]);
}

#[test]
fn printf_verbs() {
    table(&[
        ("{{ printf \"%s-%d-%v-%t-%q\" \"a\" 3 .x true \"q\" }}", "x: [1, 2]", "a-3-[1 2]-true-\"q\""),
        ("{{ printf \"%5.2f|%-4s|%04d|%x\" 3.14159 \"ab\" 7 255 }}", "", " 3.14|ab  |0007|ff"),
        ("{{ printf \"%d\" .num }}", "num: 3", "%!d(float64=3)"),
        ("{{ printf \"%v\" .missing }}", "", "<nil>"),
        ("{{ printf \"%s\" (int .num) }}", "num: 3", "%!s(int=3)"),
    ]);
}

#[test]
fn sprig_functions() {
    table(&[
        (
            "{{ .x | default \"d\" }} {{ .yv | default \"d\" }} {{ .z | default 5 }}",
            "yv: set\nz: 0",
            "d set 5",
        ),
        (
            "{{ quote .s }} {{ squote .s }} {{ quote .missing }} {{ quote 3 }}",
            "s: a\"b",
            "\"a\\\"b\" 'a\"b'  \"3\"",
        ),
        (
            "{{ upper \"a\" }}{{ lower \"B\" }} {{ title \"hello world\" }} {{ trim \"  x \" }}",
            "",
            "Ab Hello World x",
        ),
        (
            "{{ trimSuffix \"-\" \"a-\" }} {{ trimPrefix \"'\" \"'q\" }} {{ trunc 3 \"abcdef\" }} {{ trunc -2 \"abcdef\" }}",
            "",
            "a q abc ef",
        ),
        (
            "{{ contains \"b\" \"abc\" }} {{ hasPrefix \"cattle.io/\" \"cattle.io/x\" }} {{ hasSuffix \"z\" \"abc\" }}",
            "",
            "true true false",
        ),
        (
            "{{ replace \"+\" \"_\" \"1.0+meta\" }} {{ repeat 3 \"ab\" }} {{ nospace \"a b c\" }} {{ cat \"a\" 1 .missing \"b\" }}",
            "",
            "1.0_meta ababab abc a 1 b",
        ),
        (
            "{{ first .l }} {{ last .l }} {{ rest .l }} {{ initial .l }} {{ reverse .l }}",
            "l: [a, b, c]",
            "a c [b c] [a b] [c b a]",
        ),
        (
            "{{ has \"nfs\" .p }} {{ has \"iscsi\" .p }} {{ has \"x\" .missing }}",
            "p: [nfs, smb]",
            "true false false",
        ),
        (
            "{{ $l := list }}{{ $l = append $l 1 }}{{ $l = append $l \"two\" }}{{ $l }} {{ len $l }}",
            "",
            "[1 two] 2",
        ),
        (
            "{{ uniq (list 1 1 2) }} {{ without (list 1 2 3) 2 }} {{ compact (list \"\" \"a\" 0) }} {{ sortAlpha (list \"b\" \"a\") }}",
            "",
            "[1 2] [1 3] [a] [a b]",
        ),
        (
            "{{ $d := dict \"a\" 1 \"b\" 2 }}{{ $_ := set $d \"c\" 3 }}{{ $d }} {{ get $d \"a\" }} [{{ get $d \"z\" }}] {{ hasKey $d \"b\" }}",
            "",
            "map[a:1 b:2 c:3] 1 [] true",
        ),
        (
            "{{ keys .m }} {{ pluck \"a\" .m (dict \"a\" 9) }} {{ unset (deepCopy .m) \"a\" }} {{ .m.a }}",
            "m: {b: 2, a: 1}",
            "[a b] [1 9] map[b:2] 1",
        ),
        (
            "{{ merge (dict \"a\" 1) (dict \"a\" 2 \"b\" 2) }} {{ mergeOverwrite (dict \"a\" 1) (dict \"a\" 2 \"b\" 2) }}",
            "",
            "map[a:1 b:2] map[a:2 b:2]",
        ),
        (
            "{{ coalesce .a \"\" .b \"c\" }} {{ ternary \"y\" \"n\" true }} {{ empty .l }} {{ empty 0 }} {{ empty \"x\" }}",
            "b: B\nl: []",
            "B y true true false",
        ),
        (
            "{{ add 1 2 3 }} {{ sub 5 2 }} {{ mul 2 3 }} {{ div 7 2 }} {{ mod 7 2 }} {{ add1 .num }} {{ max 1 5 3 }} {{ min 4 2 }}",
            "num: 2",
            "6 3 6 3 1 3 5 2",
        ),
        (
            "{{ int \"42\" }} {{ int .f }} {{ int64 \"x\" }} {{ toString 3 }} {{ atoi \"7\" }} {{ float64 \"1.5\" }}",
            "f: 3.9",
            "42 3 0 3 7 1.5",
        ),
        (
            "{{ b64enc \"hello\" }} {{ b64dec \"aGVsbG8=\" }} {{ sha256sum \"\" }}",
            "",
            "aGVsbG8= hello e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        (
            "{{ toJson .m }} {{ toJson (list 1 \"<a>\" nil 1.5) }}",
            "m: {b: 2, a: {c: true}}",
            "{\"a\":{\"c\":true},\"b\":2} [1,\"\\u003ca\\u003e\",null,1.5]",
        ),
        (
            "{{ (fromYaml \"a: 1\\nb: [x]\").b }} {{ (fromYaml \"- x\").Error }}",
            "",
            "[x] cannot unmarshal []interface {} into a map",
        ),
        (
            "{{ lookup \"v1\" \"Namespace\" \"\" \"x\" }} {{ if lookup \"v1\" \"Secret\" \"a\" \"b\" }}found{{ else }}none{{ end }}",
            "",
            "map[] none",
        ),
        (
            "{{ semverCompare \">=1.24.0-0\" \"v1.30.0\" }} {{ semverCompare \"<1.20\" \"1.30.0\" }}",
            "",
            "true false",
        ),
        (
            "{{ regexSplit \": \" \"azure.workload.identity/client-id: abc\" 2 }} {{ regexMatch \"^[a-z]+$\" \"abc\" }} {{ regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"${1}W\" }}",
            "",
            "[azure.workload.identity/client-id abc] true -W-xxW-",
        ),
        (
            "{{ kindOf .l }} {{ kindIs \"map\" .m }} {{ typeOf .num }} {{ typeOf 1 }}",
            "l: []\nm: {}\nnum: 1",
            "slice true float64 int",
        ),
        (
            "{{ join \",\" .l }} {{ splitList \",\" \"a,b\" }} {{ (split \".\" \"a.b\")._1 }} {{ substr 1 3 \"abcd\" }}",
            "l: [a, 1, b]",
            "a,1,b [a b] b bc",
        ),
        (
            "{{ dig \"a\" \"b\" \"def\" .m }} {{ dig \"a\" \"z\" \"def\" .m }}",
            "m: {a: {b: found}}",
            "found def",
        ),
        (
            "{{ until 3 }} {{ untilStep 0 10 4 }} {{ concat (list 1) (list 2 3) }} {{ prepend (list 2) 1 }}",
            "",
            "[0 1 2] [0 4 8] [1 2 3] [1 2]",
        ),
    ]);
}

#[test]
fn errors_name_the_template_and_line() {
    let cases = [
        ("a\n{{ foo }}", "", "t.yaml:2: function \"foo\" not defined"),
        ("a\nb\n{{ required \"need x\" .x }}", "", "t.yaml:3: error calling required: need x"),
        ("{{ fail \"boom\" }}", "", "t.yaml:1: error calling fail: boom"),
        ("\n{{ .a.b.c }}", "a: {}", "t.yaml:2: nil pointer evaluating interface {}.c"),
        ("{{ .s.x }}", "s: str", "t.yaml:1: can't evaluate field x in type string"),
        ("{{ eq .num 1 }}", "num: 1", "t.yaml:1: error calling eq: incompatible types for comparison"),
        ("{{ lt .m 1 }}", "m: {}", "t.yaml:1: error calling lt: invalid type for comparison"),
        ("{{ trunc 3 .missing }}", "", "t.yaml:1: invalid value; expected string"),
        ("{{ trunc .num \"abc\" }}", "num: 3", "t.yaml:1: wrong type for value; expected int; got float64"),
        (
            "{{ include \"nope\" . }}",
            "",
            "t.yaml:1: error calling include: template: no template \"nope\" associated with template \"gotpl\"",
        ),
        ("{{ if }}{{ end }}", "", "t.yaml:1: missing value for if"),
        ("{{ range . }}", "", "t.yaml:1: unexpected EOF: {{range}} has no {{end}}"),
        ("{{ index .l 5 }}", "l: [1]", "t.yaml:1: error calling index: index out of range: 5"),
        ("{{ len .missing }}", "", "t.yaml:1: error calling len: len of nil pointer"),
        ("{{ div 1 0 }}", "", "t.yaml:1: error calling div: runtime error: integer divide by zero"),
        (
            "{{ define \"x\" }}{{ include \"x\" . }}{{ end }}{{ include \"x\" . }}",
            "",
            "t.yaml:1: rendering template has a nested reference name: x: unable to execute template",
        ),
    ];
    for (src, data, want) in cases {
        assert_eq!(run(src, data).unwrap_err(), want, "{src}");
    }
}

#[test]
fn secrets_in_values_are_not_echoed_by_errors() {
    let e = run("{{ eq .secret 1 }}", "secret: hunter2-value").unwrap_err();
    assert!(!e.contains("hunter2"), "{e}");
    let e = run("{{ .secret.x }}", "secret: hunter2-value").unwrap_err();
    assert!(!e.contains("hunter2"), "{e}");
    let e = run("{{ trunc .secret \"x\" }}", "secret: hunter2-value").unwrap_err();
    assert!(!e.contains("hunter2"), "{e}");
}

#[test]
fn to_yaml_golden_cases() {
    let data = r#"
m:
  zeta: 1
  alpha: "x"
  a10: 1
  a2: 2
  A: 3
  a_b: 4
  a-b: 5
  nest:
    list: [1, "two", {k: v, j: [a]}]
    empty_map: {}
    empty_list: []
    nothing: null
s:
  'yes': "yes"
  true: "true"
  num: "123"
  float: "1.5"
  date: "2024-01-01"
  empty: ""
  colon: "a: b"
  dash: "- x"
  star: "*x"
  hash: "a #b"
  tab: "a\tb"
  lead: " a"
  multi: "line1\nline2"
  multitrail: "line1\nline2\n"
  multispace: "a \nb"
  plain: "hello world"
  octal: "0777"
  sexa: "1:20"
  big: 1000000
  half: 0.5
  tilde: "~"
  quote: "it's"
  url: "http://x.y/z?a=1"
"#;
    let got = ok("{{ toYaml .m }}\n---\n{{ toYaml .s }}", data);
    let want = r#"A: 3
a-b: 5
a_b: 4
a2: 2
a10: 1
alpha: x
nest:
  empty_list: []
  empty_map: {}
  list:
  - 1
  - two
  - j:
    - a
    k: v
  nothing: null
zeta: 1
---
big: 1000000
colon: 'a: b'
dash: '- x'
date: "2024-01-01"
empty: ""
float: "1.5"
half: 0.5
hash: 'a #b'
lead: ' a'
multi: |-
  line1
  line2
multispace: "a \nb"
multitrail: |
  line1
  line2
num: "123"
octal: "0777"
plain: hello world
quote: it's
sexa: "1:20"
star: '*x'
tab: "a\tb"
tilde: "~"
"true": "true"
url: http://x.y/z?a=1
"yes": "yes""#;
    assert_eq!(got, want);
    assert_eq!(ok("{{ toYaml .x }}", "x: abc"), "abc");
    assert_eq!(ok("{{ toYaml .x }}", "x: {}"), "{}");
    assert_eq!(ok("{{ toYaml .x }}", "x: []"), "[]");
    assert_eq!(ok("{{ toYaml .missing }}", ""), "null");
}

#[test]
fn to_yaml_folds_long_strings_at_80_columns() {
    let long = "word ".repeat(30);
    let got = ok("{{ toYaml . }}", &format!("key: \"{}\"", long.trim()));
    let lines: Vec<&str> = got.lines().collect();
    assert!(lines.len() > 1, "{got}");
    assert!(lines[1].starts_with("  word"), "{got}");
    assert_eq!(got.replace("\n  ", " "), format!("key: {}", long.trim()));
}

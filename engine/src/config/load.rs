//! Reading `*.hcl` files into a [`Stack`].
//!
//! Each file is parsed with hcl-edit (spans on every node) and its top-level blocks are turned
//! into the stack's items by [`super::blocks`]. Problems are collected: a file with a syntax error
//! contributes a diagnostic and nothing else, the other files still load, and references are
//! checked once everything is loaded (uses may precede declarations). The whole pass is linear
//! in the size of the input: every item goes into a map once, and the parsed tree is consumed
//! rather than cloned.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use hcl::edit::structure::{Block, Structure};

use super::blocks::{self, Ctx};
use super::refs::{self, span_of};
use super::{Loaded, Stack};
use crate::diag::{Diagnostic, Diagnostics, FileId, Span, did_you_mean};

/// The top-level block types of the stack language.
const BLOCK_TYPES: [&str; 6] = ["variable", "locals", "provider", "resource", "data", "output"];

/// Loads every `*.hcl` file of `dir` (sorted by name, not recursive).
pub fn load_dir(dir: &Path) -> Loaded {
    let mut diags = Diagnostics::new();
    let mut files = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut paths: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "hcl") && p.is_file())
                .collect();
            paths.sort();
            for path in paths {
                match std::fs::read_to_string(&path) {
                    Ok(text) => files.push((path, text)),
                    Err(e) => diags.push(
                        Diagnostic::error(
                            "lanestack::unreadable_file",
                            format!("Cannot read {}", path.display()),
                        )
                        .detail(e.to_string()),
                    ),
                }
            }
            if files.is_empty() && diags.is_empty() {
                diags.push(
                    Diagnostic::error(
                        "lanestack::empty_stack",
                        format!("No .hcl files in {}", dir.display()),
                    )
                    .hint("a stack is a directory of `*.hcl` files; check the path"),
                );
            }
        }
        Err(e) => diags.push(
            Diagnostic::error(
                "lanestack::unreadable_dir",
                format!("Cannot read the stack directory {}", dir.display()),
            )
            .detail(e.to_string()),
        ),
    }
    let mut loaded = load_sources(dir.to_path_buf(), files);
    diags.extend(std::mem::take(&mut loaded.diagnostics));
    loaded.diagnostics = diags;
    loaded
}

/// Loads a stack from file contents already in memory (a saved plan's copy, or a test's).
/// `files` are (display path, text) pairs.
pub fn load_sources(dir: PathBuf, files: Vec<(PathBuf, String)>) -> Loaded {
    let mut stack = Stack { dir, ..Stack::default() };
    let mut diags = Diagnostics::new();
    let mut seen = HashMap::new();
    for (path, text) in files {
        let file = stack.sources.add(path, text);
        let text = stack.sources.get(file).text.clone();
        match hcl::edit::parser::parse_body(&text) {
            Ok(body) => {
                let mut ctx = Ctx { file, diags: &mut diags, seen: &mut seen };
                for structure in body {
                    top_level(&mut ctx, &mut stack, structure);
                }
            }
            Err(e) => diags.push(syntax_error(file, &text, &e)),
        }
    }
    diags.extend(refs::check_refs(&stack));
    diags.sort();
    Loaded { stack, diagnostics: diags }
}

/// A parse error as a diagnostic, pointing at the character where the parser stopped.
pub(crate) fn syntax_error(file: FileId, text: &str, e: &hcl::edit::parser::Error) -> Diagnostic {
    let start = e.location().offset().min(text.len());
    // Point at one whole character (or nothing at the end of the input).
    let end = text[start..].chars().next().map_or(start, |c| start + c.len_utf8());
    let message = e.message().trim();
    // hcl-edit rejects a repeated attribute while parsing; say so plainly and name both places.
    if message.contains("redefined attribute") {
        let key: String =
            text[start..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-').collect();
        let here = Span::new(file, start..start + key.len());
        let mut d =
            Diagnostic::error("lanestack::duplicate_attribute", format!("Attribute `{key}` is set twice"))
                .at(here, "set again here")
                .hint("remove one of them");
        if let Some(first) = earlier_assignment(&text[..start], &key) {
            d = d.related(Span::new(file, first..first + key.len()), "first set here");
        }
        return d;
    }
    let label = if message.is_empty() { "here".to_owned() } else { message.to_owned() };
    Diagnostic::error("lanestack::syntax_error", "Syntax error").at(Span::new(file, start..end), label)
}

/// The offset of the last line before `before` that assigns `key` (`key =` at the line start).
fn earlier_assignment(before: &str, key: &str) -> Option<usize> {
    let mut found = None;
    let mut pos = 0;
    for line in before.split('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(key) {
            let rest = rest.trim_start();
            if rest.starts_with('=') && !rest.starts_with("==") {
                found = Some(pos + line.len() - trimmed.len());
            }
        }
        pos += line.len() + 1;
    }
    found
}

fn top_level(ctx: &mut Ctx<'_>, stack: &mut Stack, structure: Structure) {
    let block = match structure {
        Structure::Block(b) => b,
        Structure::Attribute(a) => {
            ctx.diags.push(
                Diagnostic::error(
                    "lanestack::top_level_attribute",
                    "Attributes are not allowed at the top level",
                )
                .at(span_of(ctx.file, &a.key), "outside any block")
                .hint(format!("put `{}` inside a `locals` block to name a value", a.key.as_str())),
            );
            return;
        }
    };
    let kind = block.ident.as_str().to_owned();
    match kind.as_str() {
        "variable" => blocks::variable(ctx, stack, block),
        "locals" => blocks::locals(ctx, stack, block),
        "provider" => blocks::provider(ctx, stack, block),
        "resource" => blocks::resource(ctx, stack, block, lanestack_model::Mode::Managed),
        "data" => blocks::resource(ctx, stack, block, lanestack_model::Mode::Data),
        "output" => blocks::output(ctx, stack, block),
        other => unknown_block(ctx, &block, other),
    }
}

fn unknown_block(ctx: &mut Ctx<'_>, block: &Block, kind: &str) {
    let hint = match did_you_mean(kind, BLOCK_TYPES) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("the block types are {}", BLOCK_TYPES.map(|b| format!("`{b}`")).join(", ")),
    };
    ctx.diags.push(
        Diagnostic::error("lanestack::unknown_block_type", format!("Unknown block type `{kind}`"))
            .at(span_of(ctx.file, &block.ident), "not a block type of the stack language")
            .hint(hint),
    );
}

//! The import-order check (issue 14 item 6): every module of `src/` sits in a layer, and may
//! use modules of its own layer and lower ones only; within a layer the modules may not form a
//! cycle. The check reads the source: every `crate::…` path (also inside `use crate::{a, b::c}`
//! groups) and every `super::…` / `self::…` path, resolved against the module the file (or
//! its inline `mod x { … }`) is, outside comments and string literals. Std only, so it runs
//! wherever the tests build.
//!
//! A new module fails this test until it is placed in [`LAYERS`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// Module path prefix → layer, lowest layer first. A module belongs to the longest prefix
/// that names it (`network::client` is layer 3 while the rest of `network` is layer 4).
///
/// Layer 3 ends with `state`. The issue's wording puts the state above the services; we read
/// `AppState` as what it is: the bag of infrastructure handles (pool, clock, mailer, caches,
/// clients, buffers) that every service takes as its argument. It holds no service and calls
/// none, so it sits at the top of the infrastructure layer: services and `network` may use it,
/// it may not use them. That is what keeps the graph acyclic without threading a dozen handles
/// through every service call.
const LAYERS: &[(&str, u8)] = &[
    // 0: pure helpers and leaf utilities.
    ("domain", 0),
    ("clock", 0),
    ("instruments", 0),
    ("secrets", 0),
    ("cache", 0),
    ("trigger", 0),
    // 1: configuration.
    ("config", 1),
    // 2: storage.
    ("db", 2),
    // 3: infrastructure, and the state that holds it.
    ("error", 3),
    ("keys", 3),
    ("email", 3),
    ("principal", 3),
    ("clicks", 3),
    ("rate_limit", 3),
    ("link_cache", 3),
    ("uploads", 3),
    ("views", 3),
    ("network::client", 3),
    ("stripe", 3),
    ("webhooks", 3),
    ("state", 3),
    // 4: services (they take the state).
    ("service", 4),
    ("network", 4),
    ("webhooks::deliver", 4),
    ("webhooks::attempt", 4),
    ("jobs", 4),
    // 5: the HTTP API.
    ("http", 5),
    // 6: assembling and running the application.
    ("startup", 6),
    ("server", 6),
    ("telemetry", 6),
    ("transfer", 6),
    // 7: the simulators, test peers: nothing in the application may use them.
    ("network_sim", 7),
    ("stripe_sim", 7),
    // 8: the command line (it starts the simulators too).
    ("cli", 8),
];

/// Pairs the order would allow but that stay apart (issue 14 item 6): storage gets only its
/// own options, not the configuration, and the error type only reads `sqlx::Error`, not `db`.
const APART: &[(&str, &str)] = &[("db", "config"), ("error", "db")];

/// Files that are crate roots, not modules: `lib.rs` only declares the modules, and
/// `main.rs` is the binary, which uses the library by its name.
const ROOTS: &[&str] = &["lib.rs", "main.rs"];

type Module = Vec<String>;

fn show(m: &[String]) -> String {
    m.join("::")
}

/// The longest entry of [`LAYERS`] that is a prefix of `path`: (entry, layer).
fn placement(path: &[String]) -> Option<(&'static str, u8)> {
    LAYERS
        .iter()
        .filter(|(entry, _)| {
            let parts: Vec<&str> = entry.split("::").collect();
            parts.len() <= path.len() && parts.iter().zip(path).all(|(a, b)| a == b)
        })
        .max_by_key(|(entry, _)| entry.split("::").count())
        .copied()
}

/// `src/network/client.rs` → `network::client`; `src/service/payouts/mod.rs` →
/// `service::payouts`.
fn module_of(relative: &Path) -> Module {
    let mut parts: Module = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.last_mut() {
        *last = last.trim_end_matches(".rs").to_string();
    }
    if parts.last().is_some_and(|l| l == "mod") {
        parts.pop();
    }
    parts
}

/// The source with comments and the contents of string and char literals blanked (newlines
/// kept, so positions and line numbers stay).
fn code_only(src: &str) -> Vec<char> {
    let s: Vec<char> = src.chars().collect();
    let mut out = s.clone();
    let blank = |out: &mut Vec<char>, from: usize, to: usize| {
        for c in &mut out[from..to.min(s.len())] {
            if *c != '\n' {
                *c = ' ';
            }
        }
    };
    let mut i = 0;
    while i < s.len() {
        let next = s.get(i + 1).copied();
        if s[i] == '/' && next == Some('/') {
            let end = (i..s.len()).find(|&j| s[j] == '\n').unwrap_or(s.len());
            blank(&mut out, i, end);
            i = end;
        } else if s[i] == '/' && next == Some('*') {
            let (mut depth, mut j) = (0usize, i);
            while j < s.len() {
                if s[j] == '/' && s.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 2;
                } else if s[j] == '*' && s.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if s[i] == 'r'
            && (i == 0
                || !is_ident(s[i - 1])
                || (s[i - 1] == 'b' && (i < 2 || !is_ident(s[i - 2]))))
            && matches!(next, Some('"' | '#'))
            && {
                let hashes = (i + 1..s.len()).take_while(|&j| s[j] == '#').count();
                s.get(i + 1 + hashes) == Some(&'"')
            }
        {
            // Raw string: r"…", r#"…"#, br"…".
            let hashes = (i + 1..s.len()).take_while(|&j| s[j] == '#').count();
            let body = i + 2 + hashes;
            let mut j = body;
            while j < s.len() {
                if s[j] == '"' && (j + 1..j + 1 + hashes).all(|k| s.get(k) == Some(&'#')) {
                    break;
                }
                j += 1;
            }
            blank(&mut out, body, j);
            i = j + 1 + hashes;
        } else if s[i] == '"' {
            let mut j = i + 1;
            while j < s.len() && s[j] != '"' {
                j += if s[j] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, i + 1, j);
            i = j + 1;
        } else if s[i] == '\'' && next == Some('\\') {
            // An escaped char literal: '\n', '\'', '\u{…}'.
            let end = (i + 3..s.len()).find(|&j| s[j] == '\'').unwrap_or(s.len());
            blank(&mut out, i + 1, end);
            i = end + 1;
        } else if s[i] == '\'' && s.get(i + 2) == Some(&'\'') {
            blank(&mut out, i + 1, i + 2);
            i += 3;
        } else {
            // Anything else, lifetimes included.
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The paths a `use` tree or path starting at `i` names, with `prefix` before them: a brace
/// group gives one path per member (nested groups too).
fn expand(code: &[char], mut i: usize, prefix: Module) -> Vec<Module> {
    let mut segments = prefix;
    loop {
        while i < code.len() && code[i].is_whitespace() {
            i += 1;
        }
        if code.get(i) == Some(&'{') {
            let mut members = Vec::new();
            let (mut depth, mut start, mut j) = (0usize, i + 1, i + 1);
            while j < code.len() {
                match code[j] {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        members.push((start, j));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        members.push((start, j));
                        start = j + 1;
                    }
                    _ => {}
                }
                j += 1;
            }
            return members
                .into_iter()
                .filter(|(a, b)| code[*a..*b].iter().any(|c| !c.is_whitespace()))
                .flat_map(|(a, b)| {
                    let mut member: Vec<char> = code[a..b].to_vec();
                    member.push(' ');
                    expand(&member, 0, segments.clone())
                })
                .collect();
        }
        let start = i;
        while i < code.len() && is_ident(code[i]) {
            i += 1;
        }
        if i == start {
            return vec![segments];
        }
        let name: String = code[start..i].iter().collect();
        if name != "self" {
            segments.push(name);
        }
        if code.get(i) == Some(&':') && code.get(i + 1) == Some(&':') {
            i += 2;
        } else {
            return vec![segments];
        }
    }
}

/// Which inline modules (`mod tests { … }`) are open at each position.
fn inline_modules(code: &[char]) -> Vec<Module> {
    let mut at = Vec::with_capacity(code.len());
    let mut stack: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut pending: Option<String> = None;
    let mut i = 0;
    while i < code.len() {
        let c = code[i];
        if is_ident(c) && (i == 0 || !is_ident(code[i - 1])) {
            let end = (i..code.len())
                .find(|&j| !is_ident(code[j]))
                .unwrap_or(code.len());
            let word: String = code[i..end].iter().collect();
            if word == "mod" {
                let mut j = end;
                while j < code.len() && code[j].is_whitespace() {
                    j += 1;
                }
                let name_end = (j..code.len())
                    .find(|&k| !is_ident(code[k]))
                    .unwrap_or(code.len());
                pending = Some(code[j..name_end].iter().collect());
            }
            for _ in i..end {
                at.push(stack.iter().map(|(n, _)| n.clone()).collect());
            }
            i = end;
            continue;
        }
        match c {
            '{' => {
                depth += 1;
                if let Some(name) = pending.take() {
                    stack.push((name, depth));
                }
            }
            '}' => {
                if stack.last().is_some_and(|(_, d)| *d == depth) {
                    stack.pop();
                }
                depth = depth.saturating_sub(1);
            }
            ';' => pending = None,
            _ => {}
        }
        at.push(stack.iter().map(|(n, _)| n.clone()).collect());
        i += 1;
    }
    at
}

/// One `crate::`, `super::` or `self::` path in a file: (line, the module using it, the path
/// from the crate root).
fn references(src: &str, module: &[String]) -> Vec<(usize, Module, Module)> {
    let code = code_only(src);
    let inline = inline_modules(&code);
    let mut found = Vec::new();
    let mut i = 0;
    while i < code.len() {
        if !is_ident(code[i]) || (i > 0 && (is_ident(code[i - 1]) || code[i - 1] == '$')) {
            i += 1;
            continue;
        }
        let end = (i..code.len())
            .find(|&j| !is_ident(code[j]))
            .unwrap_or(code.len());
        let word: String = code[i..end].iter().collect();
        let after_colons = code.get(end) == Some(&':') && code.get(end + 1) == Some(&':');
        // `a::super::x` does not occur; a path starts here when nothing joins it on the left.
        let joined = i >= 2 && code[i - 1] == ':' && code[i - 2] == ':';
        if !after_colons || joined || !matches!(word.as_str(), "crate" | "super" | "self") {
            i = end;
            continue;
        }
        let mut here: Module = module.to_vec();
        here.extend(inline[i].iter().cloned());
        let mut base = match word.as_str() {
            "crate" => Vec::new(),
            _ => here.clone(),
        };
        let mut j = end + 2;
        if word == "super" {
            base.pop();
            // Further `super::` segments.
            loop {
                let k = (j..code.len())
                    .find(|&k| !code[k].is_whitespace())
                    .unwrap_or(j);
                let is_super = code[k..].starts_with(&['s', 'u', 'p', 'e', 'r', ':', ':']);
                if !is_super {
                    break;
                }
                base.pop();
                j = k + 7;
            }
        }
        let line = code[..i].iter().filter(|c| **c == '\n').count() + 1;
        for path in expand(&code, j, base) {
            if !path.is_empty() {
                found.push((line, here.clone(), path));
            }
        }
        i = end;
    }
    found
}

/// Every breach of the layers in `files` (path, module, source): upward uses, modules the
/// table does not place, cycles within a layer.
fn check(files: &[(String, Module, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    // unit → unit → first place it is used.
    let mut edges: BTreeMap<&str, BTreeMap<&str, String>> = BTreeMap::new();
    for (path, module, src) in files {
        let Some((from_unit, from_layer)) = placement(module) else {
            problems.push(format!(
                "{path}: module {} is in no layer: add it to LAYERS in tests/layers.rs",
                show(module)
            ));
            continue;
        };
        for (line, user, target) in references(src, module) {
            let Some((to_unit, to_layer)) = placement(&target) else {
                problems.push(format!(
                    "{path}:{line}: {} -> {}: the target is in no layer",
                    show(&user),
                    show(&target)
                ));
                continue;
            };
            if to_layer > from_layer {
                problems.push(format!(
                    "{path}:{line}: {} -> {} (layer {from_layer} -> layer {to_layer})",
                    show(&user),
                    show(&target)
                ));
            } else if APART.contains(&(from_unit, to_unit)) {
                problems.push(format!(
                    "{path}:{line}: {} -> {} (kept apart: see APART)",
                    show(&user),
                    show(&target)
                ));
            } else if to_unit != from_unit {
                edges
                    .entry(from_unit)
                    .or_default()
                    .entry(to_unit)
                    .or_insert_with(|| format!("{path}:{line}"));
            }
        }
    }
    problems.extend(cycles(&edges));
    problems
}

/// Cycles among the units of one layer (across layers the order check already rules them out).
fn cycles(edges: &BTreeMap<&str, BTreeMap<&str, String>>) -> Vec<String> {
    let mut reported = BTreeSet::new();
    let mut out = Vec::new();
    for &start in edges.keys() {
        // Depth-first from `start`, looking for a way back to it.
        let mut stack: Vec<(&str, Vec<&str>)> = vec![(start, vec![start])];
        let mut seen = BTreeSet::new();
        while let Some((unit, trail)) = stack.pop() {
            for &next in edges.get(unit).map(|m| m.keys()).into_iter().flatten() {
                if next == start {
                    let mut members: Vec<&str> = trail.clone();
                    members.sort_unstable();
                    if reported.insert(members) {
                        let mut text = String::from("cycle within a layer:");
                        for pair in trail.iter().chain([&start]).collect::<Vec<_>>().windows(2) {
                            let at = &edges[pair[0]][pair[1]];
                            let _ = write!(text, " {} -> {} ({at});", pair[0], pair[1]);
                        }
                        out.push(text);
                    }
                } else if seen.insert(next) {
                    let mut longer = trail.clone();
                    longer.push(next);
                    stack.push((next, longer));
                }
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

fn module(path: &str) -> Module {
    path.split("::").map(str::to_string).collect()
}

#[test]
fn every_module_uses_only_its_layer_and_lower_ones() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    let files: Vec<(String, Module, String)> = paths
        .iter()
        .filter_map(|p| {
            let relative = p.strip_prefix(&src).unwrap();
            if ROOTS.iter().any(|r| relative == Path::new(r)) {
                return None;
            }
            let text = std::fs::read_to_string(p).unwrap();
            let shown = Path::new("src").join(relative).display().to_string();
            Some((shown, module_of(relative), text))
        })
        .collect();
    assert!(files.len() > 50, "found only {} files in src/", files.len());
    let problems = check(&files);
    assert!(
        problems.is_empty(),
        "{} module order problem(s) (see tests/layers.rs):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_check_reports_what_breaks_the_order() {
    let file = |path: &str, module_path: &str, src: &str| {
        (path.to_string(), module(module_path), src.to_string())
    };
    let files = vec![
        file(
            "src/db/x.rs",
            "db::x",
            "use crate::{clock::Clock, http::{auth::Auth, self}};\n\
             // crate::service::in_a_comment\n\
             /* crate::service::in_a_block /* nested */ crate::jobs::still */\n\
             const S: &str = \"crate::service::in_a_string\";\n\
             const R: &str = r#\"crate::service::raw \"quoted\" \"#;\n\
             const C: char = '\"';\n\
             fn f<'a>(_: &'a str) { crate::service::links::resolve(); }\n\
             #[cfg(test)]\n\
             mod tests {\n    use super::*;\n    use super::super::config::Config;\n}\n",
        ),
        file("src/newcomer.rs", "newcomer", "pub fn f() {}\n"),
        file(
            "src/network/client.rs",
            "network::client",
            "use super::vendor_token;\n",
        ),
        file("src/keys.rs", "keys", "use crate::email::Mailer;\n"),
        file(
            "src/error.rs",
            "error",
            "fn f() { crate::db::is_unavailable(); }\n",
        ),
        file("src/email/mod.rs", "email", "use crate::keys::mint;\n"),
    ];
    let problems = check(&files);
    let expected = [
        "src/db/x.rs:1: db::x -> http::auth::Auth (layer 2 -> layer 5)",
        "src/db/x.rs:1: db::x -> http (layer 2 -> layer 5)",
        "src/db/x.rs:7: db::x -> service::links::resolve (layer 2 -> layer 4)",
        "src/newcomer.rs: module newcomer is in no layer",
        "src/network/client.rs:1: network::client -> network::vendor_token (layer 3 -> layer 4)",
        "src/error.rs:1: error -> db::is_unavailable (kept apart: see APART)",
        "cycle within a layer: email -> keys (src/email/mod.rs:1); keys -> email (src/keys.rs:1);",
    ];
    for e in expected {
        assert!(
            problems.iter().any(|p| p.starts_with(e)),
            "not reported: {e}\nreported:\n{}",
            problems.join("\n")
        );
    }
    // Nothing else: not the comments, the strings, the char, the test module's `super::*`
    // (db::x itself) or its `super::super::config` (db::config, inside db).
    assert_eq!(
        problems.len(),
        expected.len(),
        "reported:\n{}",
        problems.join("\n")
    );
}

#[test]
fn modules_map_from_their_files() {
    assert_eq!(
        module_of(Path::new("network/client.rs")),
        module("network::client")
    );
    assert_eq!(
        module_of(Path::new("service/payouts/run.rs")),
        module("service::payouts::run")
    );
    assert_eq!(
        module_of(Path::new("service/payouts/mod.rs")),
        module("service::payouts")
    );
    assert_eq!(
        placement(&module("network::client::X")),
        Some(("network::client", 3))
    );
    assert_eq!(
        placement(&module("network::sync::drain")),
        Some(("network", 4))
    );
    assert_eq!(placement(&module("networking")), None);
}

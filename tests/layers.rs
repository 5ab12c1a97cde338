//! The import-order check (issue 14 item 6): every module of `src/` sits in a layer, and may
//! use modules of its own layer and lower ones only; within a layer the modules may not form a
//! cycle. The check reads the source: every `crate::…` path (also inside `use crate::{a, b::c}`
//! groups) and every `super::…` / `self::…` path, resolved against the module the file (or
//! its inline `mod x { … }`) is, outside comments and string literals. Std only, so it runs
//! wherever the tests build.
//!
//! A new module fails this test until it is placed in [`LAYERS`].

#[path = "layers/source.rs"]
mod source;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use source::references;

/// Module path prefix → layer, lowest layer first. A module belongs to the longest prefix
/// that names it (`network::client` is layer 3 while the rest of `network` is layer 4).
///
/// Layer 3 ends with `state`. The wording puts the state above the services; we read
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

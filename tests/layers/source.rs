//! Reading the source: comments and literals blanked, and the `crate::`, `super::` and
//! `self::` paths a file names, resolved to paths from the crate root.

use super::Module;

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
pub(super) fn references(src: &str, module: &[String]) -> Vec<(usize, Module, Module)> {
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

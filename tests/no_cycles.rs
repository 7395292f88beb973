//! No import circles among the crate's modules: the graph of the paths
//! each file of `src/` names with `crate::…` or `super::…` (outside its
//! comments and its `#[cfg(test)] mod tests`) has no cycle. A file's edge
//! goes to the deepest module such a path names (`crate::request::words::fold`
//! → `request::words`; `super::fold` in `request/text.rs` → `request`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use regex::Regex;

/// Module path (`request::words`) → the file's code without comments and tests.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut out = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap().with_extension("");
        let mut parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts == ["main"] {
            continue; // the binary: it names the library as `duty_desk`
        }
        if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
            parts.pop();
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let text = match text.find("#[cfg(test)]\nmod ") {
            Some(at) => &text[..at],
            None => &text[..],
        };
        let code: String = text
            .lines()
            .map(|l| match l.find("//") {
                Some(at) => &l[..at],
                None => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        out.insert(parts.join("::"), code);
    }
    out
}

/// Each module's edges: the modules its `crate::`/`super::` paths name.
fn edges(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let path = Regex::new(r"\b(crate|super)((?:::(?:[A-Za-z_][A-Za-z0-9_]*|\{[^}]*\}))+)").unwrap();
    let mut out = BTreeMap::new();
    for (module, code) in modules {
        let mut to = BTreeSet::new();
        for c in path.captures_iter(code) {
            let base: Vec<&str> = match &c[1] {
                "crate" => Vec::new(),
                _ => {
                    let mut m: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
                    m.pop();
                    m
                }
            };
            let rest = c[2].trim_start_matches("::");
            // `a::{b, c::d}`: one path per item of the group.
            let paths: Vec<String> = match rest.find('{') {
                Some(open) => {
                    let head = &rest[..open];
                    let inner = rest[open + 1..].trim_end_matches('}');
                    inner
                        .split(',')
                        .map(|i| format!("{head}{}", i.trim()))
                        .collect()
                }
                None => vec![rest.to_string()],
            };
            for p in paths {
                let mut segs = base.clone();
                segs.extend(p.split("::").filter(|s| !s.is_empty() && *s != "self"));
                // The deepest module the path names.
                let target = (0..=segs.len())
                    .rev()
                    .map(|k| segs[..k].join("::"))
                    .find(|m| modules.contains_key(m))
                    .unwrap_or_default();
                if &target != module {
                    to.insert(target);
                }
            }
        }
        out.insert(module.clone(), to);
    }
    out
}

#[test]
fn the_module_graph_has_no_cycle() {
    let modules = modules();
    assert!(modules.contains_key("request::text"), "found the modules");
    let edges = edges(&modules);
    // Depth-first, with the path walked so far: a module met again on it
    // closes a cycle.
    fn visit(
        m: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        cycles: &mut Vec<String>,
    ) {
        if let Some(at) = path.iter().position(|p| p == m) {
            let mut cycle = path[at..].to_vec();
            cycle.push(m.to_string());
            cycles.push(cycle.join(" → "));
            return;
        }
        if !done.insert(m.to_string()) {
            return;
        }
        path.push(m.to_string());
        for next in edges.get(m).into_iter().flatten() {
            visit(next, edges, path, done, cycles);
        }
        path.pop();
    }
    let mut cycles = Vec::new();
    let mut done = BTreeSet::new();
    for m in edges.keys() {
        visit(m, &edges, &mut Vec::new(), &mut done, &mut cycles);
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

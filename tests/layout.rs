//! The README's Layout section against the tree: every module of `src/` (and every
//! submodule of `src/app/` named in its line) is listed, and everything listed exists. Also
//! the house rules on the tree that clippy cannot see: no import circle among the top-level
//! modules of `src/`, and which files are still over 800 lines (the list may only shrink).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Layout section's code block: (indented, name, description) per entry line.
fn layout_entries() -> Vec<(bool, String, String)> {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let section = readme
        .split("\n## Layout\n")
        .nth(1)
        .expect("a Layout section");
    let block = section
        .split("```\n")
        .nth(1)
        .expect("a code block in the Layout section");
    block
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let indented = l.starts_with("  ");
            let t = l.trim_start();
            let (name, rest) = t.split_once(' ').unwrap_or((t, ""));
            // Continuation lines of a description are indented further and hold no name.
            let is_entry = name.ends_with('/') || name.ends_with(".rs");
            let deep = l.len() - t.len() > 2;
            (is_entry && !deep).then(|| (indented, name.to_string(), rest.trim().to_string()))
        })
        .collect()
}

#[test]
fn the_readme_layout_lists_every_module_and_nothing_else() {
    let entries = layout_entries();
    let listed_src: BTreeSet<String> = entries
        .iter()
        .filter(|(indented, _, _)| *indented)
        .map(|(_, n, _)| n.clone())
        .collect();
    let actual_src: BTreeSet<String> = std::fs::read_dir(root().join("src"))
        .expect("src")
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            if e.path().is_dir() {
                format!("{name}/")
            } else {
                name
            }
        })
        .filter(|n| n.ends_with('/') || n.ends_with(".rs"))
        .collect();
    assert_eq!(
        listed_src, actual_src,
        "README's Layout (left) and src/ (right) differ"
    );
    for (indented, name, _) in &entries {
        if !indented {
            assert!(
                root().join(name.trim_end_matches('/')).exists(),
                "README's Layout lists {name}, which does not exist"
            );
        }
    }
    // The viewer's line names each of its modules.
    let app = entries
        .iter()
        .find(|(_, n, _)| n == "app/")
        .map(|(_, _, d)| d.clone())
        .expect("app/ listed");
    for e in std::fs::read_dir(root().join("src/app"))
        .expect("src/app")
        .flatten()
    {
        let name = e.file_name().to_string_lossy().to_string();
        let module = name.trim_end_matches(".rs");
        if module == "mod" {
            continue;
        }
        assert!(
            app.contains(module),
            "README's app/ line does not name {module}"
        );
    }
}

/// The top-level module a `crate::x::...` path or a file under `src/x/` belongs to.
fn top_modules_used(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("readable").flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_import_circle_among_the_top_level_modules() {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).expect("under src");
        let first = rel
            .components()
            .next()
            .map(|c| {
                c.as_os_str()
                    .to_string_lossy()
                    .trim_end_matches(".rs")
                    .to_string()
            })
            .expect("a name");
        if first == "main" || first == "lib" || first == "cli" {
            continue;
        }
        let text = std::fs::read_to_string(&f).expect("source");
        // Test modules may reach anywhere; comments name what they like.
        let code: String = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or("")
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let used = top_modules_used(&code);
        graph
            .entry(first.clone())
            .or_default()
            .extend(used.into_iter().filter(|u| *u != first));
    }
    // Depth-first search for a cycle.
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let at = stack.iter().position(|s| s == n).unwrap_or(0);
                let mut cycle = stack[at..].to_vec();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, graph, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        let mut stack = Vec::new();
        if let Some(c) = visit(n, &graph, &mut state, &mut stack) {
            panic!("import circle: {}", c.join(" → "));
        }
    }
    // The core never reaches the viewer.
    for (m, used) in &graph {
        if m != "app" {
            assert!(!used.contains("app"), "{m} imports the viewer");
        }
    }
}

#[test]
fn files_over_800_lines_are_only_the_known_ones() {
    // Issue 25's split is not finished: these are left, and the list may only shrink.
    let known = [
        "app/markups.rs",
        "app/paths.rs",
        "app/ui.rs",
        "app/scene.rs",
    ];
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for f in files {
        let rel = f
            .strip_prefix(&src)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        let lines = std::fs::read_to_string(&f).expect("source").lines().count();
        if lines > 800 {
            assert!(
                known.contains(&rel.as_str()),
                "src/{rel} has {lines} lines (over 800): split it"
            );
        }
    }
}

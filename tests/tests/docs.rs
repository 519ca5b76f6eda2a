//! The documents belong to the project (issue 11, point 16): no tracked file points outside
//! the repository, every rule id (R-…) that the code, the tests or the documents cite is
//! defined in `docs/RULES.md` (and every rule of the original rulebook is there), and the
//! repository paths the documents name exist.
//!
//! "Tracked" means `git ls-files` when the tests run in a git checkout, else every file under
//! the repository root but `target/` and `.git/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use regex::Regex;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the repository root")
        .to_path_buf()
}

/// Repository-relative paths of the tracked files.
fn tracked_files() -> Vec<PathBuf> {
    let root = repo_root();
    let git = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(&root)
        .output();
    match git {
        Ok(out) if out.status.success() && !out.stdout.is_empty() => out
            .stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
            .filter(|p| root.join(p).is_file())
            .collect(),
        _ => {
            let mut files = Vec::new();
            walk(&root, &root, &mut files);
            files
        }
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable directory") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name == "target" || name == ".git" {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, out);
        } else {
            out.push(
                path.strip_prefix(root)
                    .expect("under the root")
                    .to_path_buf(),
            );
        }
    }
}

/// The tracked text files (valid UTF-8 without NUL) with their contents.
fn text_files() -> Vec<(PathBuf, String)> {
    let root = repo_root();
    tracked_files()
        .into_iter()
        .filter_map(|p| {
            let bytes = std::fs::read(root.join(&p)).ok()?;
            let text = String::from_utf8(bytes).ok()?;
            (!text.contains('\0')).then_some((p, text))
        })
        .collect()
}

/// What would point outside the repository: the sibling folders the project was once built
/// beside, and the machine's work folder. Spelled in pieces so this file does not match.
fn outside_pointers() -> Vec<String> {
    vec![
        ["..", "/shared"].concat(),
        ["shared", "/spec"].concat(),
        ["shared", "/examples"].concat(),
        ["shared", "/data"].concat(),
        ["DOMAIN", ".md"].concat(),
        ["/work", "/"].concat(),
        ["..", "/seeds"].concat(),
    ]
}

#[test]
fn no_tracked_file_points_outside_the_repository() {
    let needles = outside_pointers();
    let mut found = Vec::new();
    for (path, text) in text_files() {
        for (n, line) in text.lines().enumerate() {
            for needle in &needles {
                if line.contains(needle.as_str()) {
                    found.push(format!("{}:{}: `{needle}`", path.display(), n + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "these lines point outside the repository (point to docs/RULES.md or docs/INTERFACE.md \
         instead):\n{}",
        found.join("\n")
    );
}

fn rule_id_pattern() -> Regex {
    Regex::new(r"\bR-[A-Z]+(?:-[A-Z]+)*(?:-[0-9]+)?\b").expect("a valid pattern")
}

/// The rule ids written in a text.
fn rule_ids(text: &str) -> BTreeSet<String> {
    rule_id_pattern()
        .find_iter(text)
        .map(|m| m.as_str().to_string())
        .collect()
}

fn rules_md() -> String {
    std::fs::read_to_string(repo_root().join("docs/RULES.md")).expect("docs/RULES.md")
}

#[test]
fn every_rule_id_cited_is_defined_in_rules_md() {
    let defined = rule_ids(&rules_md());
    let mut missing: BTreeMap<String, String> = BTreeMap::new();
    for (path, text) in text_files() {
        for (n, line) in text.lines().enumerate() {
            for id in rule_ids(line) {
                if !defined.contains(&id) {
                    missing
                        .entry(id)
                        .or_insert_with(|| format!("{}:{}", path.display(), n + 1));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "rule ids cited but not defined in docs/RULES.md (first citation shown):\n{}",
        missing
            .iter()
            .map(|(id, at)| format!("{id} ({at})"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Every rule of the rulebook the ledger was built to (version 1), so that none is dropped
/// from the user documentation unnoticed.
const RULEBOOK_V1: &[&str] = &[
    "R-ADJ",
    "R-ALERT",
    "R-ALERT-1",
    "R-ALERT-2",
    "R-ALERT-3",
    "R-CACO",
    "R-CACO-1",
    "R-CACO-2",
    "R-CACO-3",
    "R-CACO-4",
    "R-CACO-5",
    "R-CACO-6",
    "R-CACO-7",
    "R-COVER",
    "R-CREDIT-ORDER",
    "R-CSP",
    "R-DET",
    "R-DET-1",
    "R-DET-2",
    "R-DET-3",
    "R-ELIG",
    "R-EVAL",
    "R-IDEM-1",
    "R-IDEM-2",
    "R-KIND",
    "R-LOTID",
    "R-MACC",
    "R-MACC-1",
    "R-MACC-2",
    "R-MACC-3",
    "R-MACC-4",
    "R-MACC-5",
    "R-SETTLE",
    "R-SHORT",
    "R-SHORT-1",
    "R-SHORT-2",
    "R-SHORT-3",
];

#[test]
fn rules_md_explains_every_rule_of_the_rulebook() {
    let text = rules_md();
    let defined = rule_ids(&text);
    let missing: Vec<&&str> = RULEBOOK_V1
        .iter()
        .filter(|id| !defined.contains(**id))
        .collect();
    assert!(missing.is_empty(), "docs/RULES.md lacks {missing:?}");
    // Each numbered rule is explained where it is introduced in bold, not only cited.
    for id in RULEBOOK_V1
        .iter()
        .filter(|id| id.ends_with(char::is_numeric))
    {
        assert!(
            text.contains(&format!("**{id}**")),
            "docs/RULES.md cites {id} but never introduces it (as **{id}**)"
        );
    }
}

#[test]
fn the_repository_paths_the_documents_name_exist() {
    let root = repo_root();
    let pattern = Regex::new(
        r"`((?:docs|tests|tools|ledger-core|ledger-store|ledger-replay|scripts|benches)/[A-Za-z0-9_./-]+)`",
    )
    .expect("a valid pattern");
    let mut dangling = Vec::new();
    for (path, text) in text_files() {
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            for c in pattern.captures_iter(line) {
                let named = c[1].trim_end_matches('.');
                if !root.join(named).exists() {
                    dangling.push(format!("{}:{}: `{named}`", path.display(), n + 1));
                }
            }
        }
    }
    assert!(
        dangling.is_empty(),
        "documents name paths that do not exist:\n{}",
        dangling.join("\n")
    );
}

/// `ledger ARGS... --help`, which must succeed.
fn help(args: &[&str]) -> String {
    let mut all: Vec<&str> = args.to_vec();
    all.push("--help");
    let out = Command::new(tests::ledger_bin())
        .args(&all)
        .env_remove("LEDGER_DATA")
        .output()
        .expect("the ledger binary runs");
    assert!(out.status.success(), "ledger {all:?} failed");
    String::from_utf8(out.stdout).expect("UTF-8 help")
}

/// The subcommands a help text lists (`  name   what it does` under `Commands:`).
fn subcommands(help: &str) -> Vec<String> {
    let Some(at) = help.find("Commands:\n") else {
        return Vec::new();
    };
    help[at + "Commands:\n".len()..]
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|name| name != "help")
        .collect()
}

/// The long options a help text lists (`      --name <X>`, `  -h, --help`).
fn long_options(help: &str) -> Vec<String> {
    let option = Regex::new(r"^\s+(?:-[A-Za-z], )?(--[a-z][a-z-]*)").expect("a valid pattern");
    help.lines()
        .filter_map(|l| option.captures(l).map(|c| c[1].to_string()))
        .filter(|o| o != "--help" && o != "--version")
        .collect()
}

#[test]
fn interface_md_names_every_verb_and_option_of_the_binary() {
    let interface =
        std::fs::read_to_string(repo_root().join("docs/INTERFACE.md")).expect("docs/INTERFACE.md");
    let mut missing = Vec::new();
    let mut verbs: Vec<Vec<String>> = subcommands(&help(&[]))
        .into_iter()
        .map(|v| vec![v])
        .collect();
    assert!(verbs.len() > 10, "ledger --help lists the verbs: {verbs:?}");
    let mut i = 0;
    while i < verbs.len() {
        let verb = verbs[i].clone();
        let args: Vec<&str> = verb.iter().map(String::as_str).collect();
        let text = help(&args);
        let named = format!("`ledger {}", verb.join(" "));
        if !interface.contains(&named) {
            missing.push(format!("the verb {named}`"));
        }
        for option in long_options(&text) {
            let spelled = Regex::new(&format!(r"[\s`]{option}(?:[^a-z-]|$)")).expect("a pattern");
            if !spelled.is_match(&interface) {
                missing.push(format!("{option} of {named}`"));
            }
        }
        for sub in subcommands(&text) {
            let mut deeper = verb.clone();
            deeper.push(sub);
            verbs.push(deeper);
        }
        i += 1;
    }
    assert!(
        missing.is_empty(),
        "docs/INTERFACE.md does not name:\n{}",
        missing.join("\n")
    );
}

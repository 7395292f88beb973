//! Scores `understand` over the golden letters in `fixtures/`.
//!
//! Each `NAME.eml` has a `NAME.json` beside it with the expected fields, in
//! the conventions of the labelled samples: `action` (the verdict),
//! `role`, `full_name` (null or a list of acceptable spellings), `class`,
//! `description` (the text the specialist reads, pinned), `missing`. Every
//! field of every fixture must match: the fixtures are the regression
//! suite (the development corpus in `corpus/` measures). On a mismatch it
//! writes `NAME.actual.json` next to the fixture (git ignores those) and
//! names it.

use std::path::{Path, PathBuf};

use duty_desk::request::{Context, Verdict, understand};
use serde_json::Value;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The installation the fixtures were written for.
fn context() -> Context {
    Context {
        own_addresses: vec![
            "eljur-support@gimn12-school.ru".into(),
            "uvk-mtl@mail.ru".into(),
        ],
        staff_domains: vec!["example.org".into()],
        staff_addresses: vec![],
        max_message_size: 30 * 1024 * 1024,
    }
}

#[derive(Default)]
struct Score {
    total: usize,
    right: usize,
}

impl Score {
    fn add(&mut self, ok: bool) {
        self.total += 1;
        if ok {
            self.right += 1;
        }
    }
    fn ratio(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.right as f64 / self.total as f64
        }
    }
}

#[test]
fn golden_fixtures() {
    let dir = fixtures_dir();
    let mut emls: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    emls.sort();
    assert!(
        emls.len() >= 60,
        "expected at least 60 fixtures in {}, found {}",
        dir.display(),
        emls.len()
    );

    let ctx = context();
    let fields = [
        "verdict",
        "role",
        "full_name",
        "class",
        "description",
        "missing",
    ];
    let mut scores: Vec<Score> = fields.iter().map(|_| Score::default()).collect();
    let mut false_ignore = Vec::new();
    let mut false_etiquette = Vec::new();
    let mut mismatched = Vec::new();

    for eml in &emls {
        let json = eml.with_extension("json");
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("{}: {e}", json.display())),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", json.display()));
        let raw = std::fs::read(eml).expect("fixture readable");
        let req = understand(&raw, &ctx);
        let actual = req.inspect_json(&eml.file_name().unwrap_or_default().to_string_lossy());

        let exp_action = expected["action"].as_str().unwrap_or_default();
        let checks = [
            actual["verdict"] == expected["action"],
            actual["role"] == expected["role"],
            match &expected["full_name"] {
                Value::Null => actual["full_name"].is_null(),
                Value::Array(names) => names.contains(&actual["full_name"]),
                other => &actual["full_name"] == other,
            },
            actual["class"] == expected["class"],
            actual["description"] == expected["description"],
            actual["missing"] == expected["missing"],
        ];
        for (score, ok) in scores.iter_mut().zip(checks) {
            score.add(ok);
        }
        let name = eml
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if req.verdict == Verdict::Ignore && exp_action != "ignore" {
            false_ignore.push(name.clone());
        }
        if req.verdict == Verdict::Etiquette && exp_action != "etiquette" {
            false_etiquette.push(name.clone());
        }
        let out = eml.with_extension("actual.json");
        if checks.iter().all(|ok| *ok) {
            let _ = std::fs::remove_file(&out);
        } else {
            let wrong: Vec<&str> = fields
                .iter()
                .zip(checks)
                .filter(|(_, ok)| !ok)
                .map(|(f, _)| *f)
                .collect();
            let mut doc = actual.clone();
            doc["mismatched"] = serde_json::json!(wrong);
            let _ = std::fs::write(
                &out,
                serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n",
            );
            mismatched.push(format!("{name}: {} → {}", wrong.join(", "), out.display()));
        }
    }

    eprintln!("{} fixtures", emls.len());
    for (f, s) in fields.iter().zip(&scores) {
        eprintln!(
            "  {f:<12} {}/{} = {:.1} %",
            s.right,
            s.total,
            100.0 * s.ratio()
        );
    }
    for m in &mismatched {
        eprintln!("  mismatch {m}");
    }
    assert!(false_ignore.is_empty(), "false ignore: {false_ignore:?}");
    assert!(
        false_etiquette.is_empty(),
        "false etiquette: {false_etiquette:?}"
    );
    assert!(
        mismatched.is_empty(),
        "{} fixtures differ from their labels: {mismatched:#?}",
        mismatched.len()
    );
}

//! Hostile model specs, generated: the shipped specs with bytes flipped, cut or inserted, and
//! with any value replaced by a hostile one (0, negative, huge, NaN, ±∞, the wrong type). Loading
//! never panics: a named error, or a spec whose input tensor, class table and decoder can be built.

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;

use super::*;
use crate::infer::classes::ClassTable;
use crate::infer::decode::Decoder;
use crate::infer::preprocess::Preprocessor;

/// The shipped specs' texts, and a folder holding the files they name (linked, not copied).
fn shipped() -> &'static (Vec<String>, tempfile::TempDir) {
    static SHIPPED: OnceLock<(Vec<String>, tempfile::TempDir)> = OnceLock::new();
    SHIPPED.get_or_init(|| {
        let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        let dir = tempfile::tempdir().expect("tmp");
        let mut texts = Vec::new();
        for entry in std::fs::read_dir(&models).expect("models/") {
            let path = entry.expect("entry").path();
            let name = path.file_name().expect("name").to_owned();
            match path.extension().and_then(|e| e.to_str()) {
                Some("toml") => texts.push(std::fs::read_to_string(&path).expect("spec")),
                Some("onnx" | "txt") => {
                    std::os::unix::fs::symlink(&path, dir.path().join(name)).expect("link")
                }
                _ => {}
            }
        }
        texts.sort();
        assert!(texts.len() >= 4, "the shipped specs");
        (texts, dir)
    })
}

/// Values a hand-edited or hostile spec can hold.
const HOSTILE: &[&str] = &[
    "0",
    "-1",
    "1",
    "4294967296",
    "99999",
    "1e309",
    "-1e309",
    "nan",
    "inf",
    "-inf",
    "0.0",
    "\"\"",
    "\"x\"",
    "[]",
    "[0.0, 0.0]",
    "[nan, nan, nan]",
    "[0.0, 0.0, 0.0]",
    "true",
    "{}",
    "\"cross_class\"",
    "\"none\"",
];

/// Loads `text` as a spec beside the shipped models; whatever it holds, never a panic.
fn load(text: &[u8]) -> Result<(), TestCaseError> {
    let dir = &shipped().1;
    let path = dir
        .path()
        .join(format!("fuzz-{:?}.toml", std::thread::current().id()));
    std::fs::write(&path, text).expect("write");
    match LoadedSpec::load(&path) {
        Ok(spec) => {
            // What the agent builds from a spec it accepted.
            let input = &spec.spec.input;
            prop_assert!(
                (1..=MAX_INPUT_SIDE).contains(&input.width),
                "{}",
                input.width
            );
            prop_assert!(
                (1..=MAX_INPUT_SIDE).contains(&input.height),
                "{}",
                input.height
            );
            let p = Preprocessor::new(input);
            prop_assert_eq!(p.tensor().len(), p.shape().iter().product::<usize>());
            ClassTable::new(&spec.class_names, &spec.spec.postprocess);
            Decoder::new(&spec.spec.decoder);
        }
        Err(e) => {
            let text = e.to_string();
            prop_assert!(text.contains("fuzz-"), "the file is named: {}", text);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// A value of a shipped spec replaced by a hostile one.
    #[test]
    fn any_value_gives_a_named_error_or_a_usable_spec(
        which in 0usize..4,
        line in any::<usize>(),
        value in prop::sample::select(HOSTILE),
    ) {
        let texts = &shipped().0;
        let text = &texts[which % texts.len()];
        let lines: Vec<&str> = text.lines().collect();
        let assignments: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].contains(" = ") && !lines[i].starts_with('#'))
            .collect();
        let i = assignments[line % assignments.len()];
        let key = lines[i].split(" = ").next().unwrap_or_default();
        let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        edited[i] = format!("{key} = {value}");
        load(edited.join("\n").as_bytes())?;
    }

    /// Bytes flipped, inserted or cut anywhere.
    #[test]
    fn any_damage_gives_a_named_error_or_a_usable_spec(
        which in 0usize..4,
        flips in prop::collection::vec((any::<usize>(), 1u8..=255), 0..6),
        insert in prop::option::of((any::<usize>(), "[ -~\n]{1,20}")),
        cut in prop::option::of(any::<usize>()),
    ) {
        let texts = &shipped().0;
        let mut bytes = texts[which % texts.len()].clone().into_bytes();
        for (at, x) in flips {
            let n = bytes.len();
            bytes[at % n] ^= x;
        }
        if let Some((at, more)) = insert {
            let at = at % bytes.len();
            bytes.splice(at..at, more.into_bytes());
        }
        if let Some(cut) = cut {
            let n = bytes.len();
            bytes.truncate(cut % n);
        }
        load(&bytes)?;
    }
}

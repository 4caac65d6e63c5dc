//! Hostile config files, generated from the shipped examples: bytes flipped, inserted and cut off.
//! Parsing and validating never panics: a file is either refused with a named error or checked
//! with every problem named by its path.

mod common;

use proptest::prelude::*;
use roadeye::config::LoadedConfig;

/// The shipped example configs, as text.
fn examples() -> Vec<String> {
    [
        "roadeye.toml",
        "demo.toml",
        "intersection.toml",
        "service-hall.toml",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(common::root().join("configs").join(f)).expect("example"))
    .collect()
}

/// One edit of a file's bytes.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Cut(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let noise = prop_oneof![
        Just(b"\"".to_vec()),
        Just(b"]".to_vec()),
        Just(b"[[cameras]]\n".to_vec()),
        Just(b"= -1e400\n".to_vec()),
        Just(b"= nan\n".to_vec()),
        Just(b"points = [[0.5, 0.5]]\n".to_vec()),
        Just(b"\xff\xfe".to_vec()),
        prop::collection::vec(any::<u8>(), 1..8),
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Flip(at, b)),
        (any::<usize>(), noise).prop_map(|(at, bytes)| Edit::Insert(at, bytes)),
        any::<usize>().prop_map(Edit::Cut),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_damaged_config_is_refused_or_checked_never_a_panic(
        which in 0usize..4,
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let mut bytes = examples()[which].clone().into_bytes();
        for e in edits {
            let n = bytes.len().max(1);
            match e {
                Edit::Flip(at, b) => { if let Some(x) = bytes.get_mut(at % n) { *x ^= b | 1; } }
                Edit::Insert(at, more) => { let at = at % (bytes.len() + 1); bytes.splice(at..at, more); }
                Edit::Cut(at) => bytes.truncate(at % n),
            }
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("box.toml");
        std::fs::write(&path, &bytes).expect("write");
        match LoadedConfig::load(&path) {
            Err(e) => prop_assert!(e.to_string().contains("box.toml"), "an error that does not name the file: {e}"),
            Ok(cfg) => {
                for p in roadeye::config::validate::validate(&cfg) {
                    let text = p.to_string();
                    prop_assert!(!text.is_empty());
                }
            }
        }
    }
}

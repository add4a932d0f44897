//! The scenario catalogue (`scenarios/`) against the rules its conclusions
//! need: every scenario of conclusion C3, C4 or C4b (a connection that dies
//! on a dead path, by retransmissions or keepalive) checks its death time
//! against the model with a `dies` expectation, and that check is the one the
//! report's predicted/measured columns show. The one exception is C3's and
//! C4's counterpart, a path that is bad but not dead (a lossy link, a long
//! delay): its connection must be shown to survive instead, ESTABLISHED
//! throughout with no error.

use std::path::{Path, PathBuf};
use teardown_core::scenario::{EventKind, Expectation, Profile, Scenario, TcpState, When};

/// Shows its connection surviving: ESTABLISHED throughout on the client and
/// no `error` event from it.
fn survives(sc: &Scenario) -> bool {
    let established = sc.expects.iter().any(|e| {
        matches!(
            e.check,
            Expectation::Socket {
                state: TcpState::Established,
                when: When::Throughout,
                ..
            }
        )
    });
    let no_error = sc.expects.iter().any(|e| {
        matches!(
            &e.check,
            Expectation::Event {
                kind: EventKind::Error,
                happens: false,
                ..
            }
        )
    });
    established && no_error
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "toml") {
            out.push(p);
        }
    }
}

fn catalogue(profile: Profile) -> Vec<Scenario> {
    let mut paths = Vec::new();
    files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios"),
        &mut paths,
    );
    paths.sort();
    assert!(paths.len() >= 16, "scenarios missing: {paths:?}");
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            Scenario::parse(&p.display().to_string(), &text, profile)
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

#[test]
fn every_c3_and_c4_scenario_checks_its_death_against_the_model() {
    for profile in [Profile::Fast, Profile::Faithful] {
        let dead_path: Vec<Scenario> = catalogue(profile)
            .into_iter()
            .filter(|s| ["C3", "C4", "C4b"].contains(&s.conclusion.as_str()))
            .collect();
        assert!(dead_path.len() >= 5, "{:?}", dead_path.len());
        assert_eq!(
            dead_path.iter().filter(|s| survives(s)).count(),
            2,
            "c3-lossy-link and c4-long-delay-keepalive show a bad path that is not dead"
        );
        for sc in &dead_path {
            if survives(sc) {
                assert!(
                    sc.expects
                        .iter()
                        .all(|e| !matches!(e.check, Expectation::Dies { .. })),
                    "{}: both survives and dies",
                    sc.name
                );
                continue;
            }
            let key = teardown_core::verdict::key_check(&sc.expects)
                .unwrap_or_else(|| panic!("{}: no model check", sc.name));
            assert!(
                matches!(sc.expects[key].check, Expectation::Dies { .. }),
                "{} ({}): its key check is no `dies` expectation",
                sc.name,
                sc.conclusion
            );
        }
    }
}

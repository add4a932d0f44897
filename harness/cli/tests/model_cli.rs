//! `teardown model`: the CLI prints the model's predictions (no root needed).

use std::process::Command;

fn model(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_teardown"))
        .arg("model")
        .args(args)
        .output()
        .expect("running teardown model")
}

#[test]
fn defaults_predict_933_s_and_7875_s() {
    let out = model(&["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let death = v["dead_path"]["death"].as_f64().unwrap();
    assert!((death - 932.984).abs() < 0.01, "death {death}");
    assert_eq!(v["dead_path"]["budget"].as_f64().unwrap(), 924.6);
    assert_eq!(v["keepalive"]["death"].as_f64().unwrap(), 7875.0);
    assert_eq!(v["keepalive"]["probes"].as_array().unwrap().len(), 9);
    assert!((v["orphan_fin"]["death"].as_f64().unwrap() - 106.488).abs() < 0.01);
    assert_eq!(v["time_wait"].as_f64().unwrap(), 60.0);
    assert_eq!(v["fin_wait2"].as_f64().unwrap(), 60.0);
}

#[test]
fn flags_change_the_prediction() {
    let out = model(&["--json", "--retries2", "3", "--keepalive", "15,15,9"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!((v["dead_path"]["death"].as_f64().unwrap() - 6.648).abs() < 0.01);
    assert_eq!(v["keepalive"]["death"].as_f64().unwrap(), 150.0);
    let out = model(&["--json", "--user-timeout-ms", "5000"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!((v["dead_path"]["death"].as_f64().unwrap() - 5.408).abs() < 0.01);
}

#[test]
fn text_output_names_the_death_and_bad_flags_exit_2() {
    let out = model(&[]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("death (ETIMEDOUT, no FIN, no RST) at 933.0 s"),
        "{text}"
    );
    assert!(
        text.contains("death (RST, ETIMEDOUT) at 7875.0 s"),
        "{text}"
    );
    let out = model(&["--keepalive", "1,2"]);
    assert_eq!(out.status.code(), Some(2));
    let out = model(&["--rto-max-ms", "0"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_tail_loss_probe_takes_the_rtt_the_flight_and_sack() {
    let json = |args: &[&str]| -> serde_json::Value {
        let out = model(&[&["--json"], args].concat());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // A 100 ms RTT: RTO 300 ms derived; one segment (an orphan FIN): the probe at the RTO's cap.
    let v = json(&["--rtt-ms", "100"]);
    assert_eq!(v["knobs"]["rto"].as_f64().unwrap(), 0.3);
    assert_eq!(v["knobs"]["srtt"].as_f64().unwrap(), 0.1);
    assert_eq!(v["dead_path"]["tail_loss_probe"].as_f64().unwrap(), 0.3);
    // Eleven segments after a 10 ms RTT: 2*10 + 2 ms = 22 ms, in whole
    // jiffies (usecs_to_jiffies rounds up; HZ=250): 24 ms.
    let v = json(&["--rtt-ms", "10", "--in-flight", "11"]);
    assert!((v["dead_path"]["tail_loss_probe"].as_f64().unwrap() - 0.024).abs() < 1e-9);
    // Without SACK, no probe.
    let v = json(&["--no-sack"]);
    assert!(v["dead_path"]["tail_loss_probe"].is_null());
    // --help names every knob and what turns the probe off.
    let help = Command::new(env!("CARGO_BIN_EXE_teardown"))
        .args(["model", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for knob in [
        "--srtt-ms",
        "--rtt-ms",
        "--rto-min-ms",
        "--in-flight",
        "--no-sack",
        "tcp_early_retrans",
        "loss recovery",
    ] {
        assert!(help.contains(knob), "`{knob}` missing from:\n{help}");
    }
}

#[test]
fn a_passive_open_retransmits_its_syn_ack_from_one_second_and_drops_the_request() {
    // tcp_synack_retries 5 (the default): 1, 3, 7, 15, 31 s, dropped at 63 s;
    // 2 (the fast profile of x-passive-open-ack-lost): 1, 3 s, dropped at 7 s.
    for (retries, times, death) in [
        ("5", vec![1.0, 3.0, 7.0, 15.0, 31.0], 63.0),
        ("2", vec![1.0, 3.0], 7.0),
    ] {
        let out = model(&["--json", "--synack-retries", retries]);
        assert!(out.status.success());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let got: Vec<f64> = v["syn_recv"]["retransmissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_f64().unwrap())
            .collect();
        assert_eq!(got, times);
        assert_eq!(v["syn_recv"]["death"].as_f64().unwrap(), death);
    }
    let text = String::from_utf8(model(&["--synack-retries", "2"]).stdout).unwrap();
    assert!(
        text.contains("SYN-ACK retransmissions (2) 1.000 3.000") && text.contains("dropped"),
        "{text}"
    );
}

//! `ledger serve` read by Microsoft's Python SDKs (azure-mgmt-consumption,
//! azure-mgmt-billingbenefits) and fuzzed by schemathesis against its own `/openapi.json`.
//!
//! Both need a Python virtual environment with those packages: `scripts/setup-python.sh`
//! makes it (at `$LEDGER_PYTHON_VENV`, default `target/python-venv`), and these tests run that
//! script themselves when the venv is missing. They fail when it cannot be made; they skip
//! (loudly) only when the venv is missing *and* `LEDGER_SKIP_PYTHON_TESTS=1`.

mod serve_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serve_common::*;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The venv's directory, made if needed; `None` only when skipping is asked for.
fn venv() -> Option<PathBuf> {
    static VENV: OnceLock<Option<PathBuf>> = OnceLock::new();
    VENV.get_or_init(|| {
        let dir = std::env::var_os("LEDGER_PYTHON_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace().join("target/python-venv"));
        // Ready when it has every package the tests import (a venv made before a package was
        // added is brought up to date by the setup script).
        let ready = |d: &Path| {
            d.join("bin/schemathesis").exists()
                && Command::new(d.join("bin/python"))
                    .args(["-c", "import azure.mgmt.consumption, azure.mgmt.billingbenefits, schemathesis"])
                    .output()
                    .is_ok_and(|o| o.status.success())
        };
        if ready(&dir) {
            return Some(dir);
        }
        if std::env::var("LEDGER_SKIP_PYTHON_TESTS").as_deref() == Ok("1") {
            eprintln!(
                "\n*** SKIPPED: the Python venv {} is missing and LEDGER_SKIP_PYTHON_TESTS=1: the Azure SDK and schemathesis tests of `ledger serve` did NOT run. Run scripts/setup-python.sh. ***\n",
                dir.display()
            );
            return None;
        }
        let script = workspace().join("scripts/setup-python.sh");
        let out = Command::new("bash")
            .arg(&script)
            .env("LEDGER_PYTHON_VENV", &dir)
            .output()
            .expect("run scripts/setup-python.sh");
        assert!(
            out.status.success() && ready(&dir),
            "scripts/setup-python.sh could not make the venv {} (set LEDGER_SKIP_PYTHON_TESTS=1 to skip these tests on a machine without PyPI):\n{}\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Some(dir)
    })
    .clone()
}

#[test]
fn the_azure_sdk_reads_what_the_cli_prints() {
    let Some(venv) = venv() else { return };
    let fixture = Fixture::generated(5_000, 3);
    let lots = fixture.path("lots.json");
    let events = fixture.path("events.json");
    std::fs::write(&lots, ledger_ok(&fixture.data(), &["lots", "--json"])).unwrap();
    std::fs::write(&events, ledger_ok(&fixture.data(), &["events", "--json"])).unwrap();
    // A small page size, so that the SDK follows many nextLinks.
    let server = Server::start(
        &fixture.data(),
        &["--token", "sdk-token", "--page-size", "7"],
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/sdk_check.py");
    let out = Command::new(venv.join("bin/python"))
        .arg(&script)
        .args([
            "--base-url",
            &format!("http://{}", server.addr),
            "--token",
            "sdk-token",
        ])
        .arg("--lots")
        .arg(&lots)
        .arg("--events")
        .arg(&events)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "sdk_check.py failed:\n{stdout}\n{stderr}\nserver:\n{}",
        server.stderr()
    );
    assert!(stdout.contains("all equal to the CLI's JSON"), "{stdout}");
    println!("{stdout}");
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}

#[test]
fn the_billing_benefits_sdk_reads_the_worked_examples() {
    let Some(venv) = venv() else { return };
    // Generated accounts (figures from the CLI's JSON) and the worked example of
    // tests/fixtures/benefits (figures stated in its expect.json) in one ledger.
    let fixture = Fixture::generated(3_000, 2);
    let worked = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/benefits");
    ledger_ok(
        &fixture.data(),
        &["agreement", worked.join("agreement.toml").to_str().unwrap()],
    );
    ledger_ok(
        &fixture.data(),
        &["ingest", worked.join("charges.csv").to_str().unwrap()],
    );
    let lots = fixture.path("lots.json");
    let caco = fixture.path("caco.json");
    std::fs::write(&lots, ledger_ok(&fixture.data(), &["lots", "--json"])).unwrap();
    std::fs::write(&caco, ledger_ok(&fixture.data(), &["caco", "--json"])).unwrap();
    let tokens = fixture.path("tokens.toml");
    std::fs::write(
        &tokens,
        "[[token]]\ntoken = \"bb-admin\"\naccounts = [\"*\"]\n\n\
         [[token]]\ntoken = \"bb-northwind\"\naccounts = [\"northwind\"]\n",
    )
    .unwrap();
    // One item per page: the SDK follows every nextLink.
    let server = Server::start(
        &fixture.data(),
        &["--tokens", tokens.to_str().unwrap(), "--page-size", "1"],
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/bb_check.py");
    let out = Command::new(venv.join("bin/python"))
        .arg(&script)
        .args(["--base-url", &format!("http://{}", server.addr)])
        .args(["--token", "bb-admin"])
        .arg("--expect")
        .arg(worked.join("expect.json"))
        .arg("--lots")
        .arg(&lots)
        .arg("--caco")
        .arg(&caco)
        .args([
            "--restricted-token",
            "bb-northwind",
            "--hidden-account",
            "contoso",
        ])
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "bb_check.py failed:\n{stdout}\n{stderr}\nserver:\n{}",
        server.stderr()
    );
    assert!(stdout.contains("all as expected"), "{stdout}");
    println!("{stdout}");
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}

#[test]
fn schemathesis_finds_no_failure_against_openapi_json() {
    let Some(venv) = venv() else { return };
    let fixture = Fixture::generated(2_000, 2);
    // Writes allowed (on this throwaway ledger): the request schemas of the write endpoints are
    // fuzzed too, and must be as strict as the server (see tests/schemathesis.toml).
    let server = Server::start(
        &fixture.data(),
        &["--token", "fuzz-token", "--allow-writes"],
    );
    let examples = std::env::var("LEDGER_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "40".into());
    let report = fixture.path("schemathesis-junit.xml");
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis.toml");
    let mut command = Command::new(venv.join("bin/schemathesis"));
    command
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(format!("http://{}/openapi.json", server.addr))
        .args(["-H", "Authorization: Bearer fuzz-token"])
        .args([
            "--checks",
            "all",
            "--max-examples",
            &examples,
            "--seed",
            "20261122",
        ])
        .args([
            "--no-color",
            "--generation-database",
            "none",
            "--request-timeout",
            "30",
        ])
        .args(["--report", "junit", "--report-junit-path"])
        .arg(&report)
        .current_dir(fixture.dir.path());
    let out = command.output().expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis failed ({:?}):\n{stdout}\n{stderr}\nserver:\n{}",
        out.status.code(),
        server.stderr()
    );
    let summary: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("generated") || l.contains("passed") || l.contains("Operations"))
        .collect();
    println!("schemathesis: {}", summary.join(" | "));
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}

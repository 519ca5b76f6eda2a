//! `ledger ingest az://...` straight from Blob Storage (issue 15), against Azurite, Azure
//! Storage's emulator: `scripts/setup-azurite.sh` installs it (npm), the test starts
//! `azurite-blob` on a free loopback port, uploads sample exports with `object_store`'s put,
//! ingests them by URL (a prefix holding two blobs, one blob, the `https://` form) and compares
//! with ingesting the same files locally: the same `lots`, `events`, `invoices --json` and log
//! head. A missing blob is refused naming it, and nothing is appended. If Azurite cannot be
//! installed or started, the test fails (it never skips).

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use ledger_gen::parquet::{csv_to_parquet, CostType, ParquetOptions, TimeType};
use object_store::azure::MicrosoftAzureBuilder;
use object_store::path::Path as BlobPath;
use object_store::ObjectStoreExt as _;
use sha2::Sha256;
use tests::{fixtures_dir, run_command, text, Ledger};

/// Azurite's well-known development account and key.
const ACCOUNT: &str = "devstoreaccount1";
const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const CONTAINER: &str = "exports";

/// A running `azurite-blob`, stopped when dropped.
struct Azurite {
    child: Child,
    port: u16,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn start_azurite() -> Azurite {
    let setup = Command::new("bash")
        .arg(repo_root().join("scripts/setup-azurite.sh"))
        .stdin(Stdio::null())
        .output()
        .expect("runs scripts/setup-azurite.sh");
    assert!(
        setup.status.success(),
        "scripts/setup-azurite.sh failed:\n{}",
        text(&setup.stderr)
    );
    let bin = text(&setup.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string();
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    let child = Command::new(&bin)
        .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
        .args(["--inMemoryPersistence", "--skipApiVersionCheck", "--silent"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    let mut azurite = Azurite { child, port };
    let deadline = Instant::now() + Duration::from_secs(90);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = azurite.child.try_wait() {
            panic!("azurite-blob exited before listening: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "azurite-blob did not listen on port {port} within 90 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    azurite
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            _ => 63,
        }
    };
    let mut out = Vec::new();
    for chunk in text.trim_end_matches('=').as_bytes().chunks(4) {
        let n = chunk.iter().fold(0u32, |n, &c| (n << 6) | value(c)) << (6 * (4 - chunk.len()));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, &b| (n << 8) | b as u32) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
        for _ in chunk.len()..3 {
            out.push('=');
        }
    }
    out
}

/// Create the container with a Shared Key signed `PUT ?restype=container` (object_store has
/// no call for it).
fn create_container(port: u16) {
    let date = "Mon, 07 Dec 2026 00:00:00 GMT";
    let version = "2021-08-06";
    let string_to_sign = format!(
        "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{ACCOUNT}/{ACCOUNT}/{CONTAINER}\nrestype:container"
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(&base64_decode(KEY)).expect("a key");
    mac.update(string_to_sign.as_bytes());
    let signature = base64_encode(&mac.finalize().into_bytes());
    let request = format!(
        "PUT /{ACCOUNT}/{CONTAINER}?restype=container HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         x-ms-date: {date}\r\nx-ms-version: {version}\r\nContent-Length: 0\r\n\
         Authorization: SharedKey {ACCOUNT}:{signature}\r\nConnection: close\r\n\r\n"
    );
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connects to azurite");
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer.lines().next().unwrap_or_default().to_string();
    assert!(status.contains(" 201 "), "creating the container: {answer}");
}

/// Upload local files as blobs with object_store's put.
fn upload(port: u16, blobs: &[(&str, &Path)]) {
    let store = MicrosoftAzureBuilder::new()
        .with_account(ACCOUNT)
        .with_access_key(KEY)
        .with_container_name(CONTAINER)
        .with_endpoint(format!("http://127.0.0.1:{port}/{ACCOUNT}"))
        .with_allow_http(true)
        .build()
        .expect("an object store for azurite");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for (name, file) in blobs {
            let bytes = std::fs::read(file).unwrap();
            store
                .put(&BlobPath::from(*name), bytes.into())
                .await
                .unwrap_or_else(|e| panic!("uploading {name}: {e}"));
        }
    });
}

fn ledger_for(account: &str) -> Ledger {
    let ledger = Ledger::new();
    ledger.write(
        "agreement.toml",
        format!(
            "account = \"{account}\"\ncurrency = \"USD\"\n[[macc]]\nid = \"macc-1\"\namount = \"100000\"\nstart = \"2020-01-01\"\nend = \"2026-12-31\"\n"
        ),
    );
    ledger.ok(&["agreement", "agreement.toml"]);
    ledger
}

/// `ledger ingest ARGS` with Azurite's environment: (exit success, stdout, stderr).
fn ingest_remote(ledger: &Ledger, port: u16, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["ingest"];
    all.extend_from_slice(args);
    let mut cmd = ledger.command(&all);
    cmd.env("AZURE_STORAGE_USE_EMULATOR", "true").env(
        "AZURITE_BLOB_STORAGE_URL",
        format!("http://127.0.0.1:{port}"),
    );
    let out = run_command(cmd, "ledger ingest (blob)");
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// The log head line and the read views.
fn views(ledger: &Ledger, said: &str) -> (String, String, String, String) {
    let head = said
        .lines()
        .find(|l| l.starts_with("Log head: "))
        .unwrap_or_else(|| panic!("no log head in:\n{said}"))
        .to_string();
    (
        head,
        ledger.ok(&["lots", "--json"]),
        ledger.ok(&["events", "--json"]),
        ledger.ok(&["invoices", "--json"]),
    )
}

#[test]
fn exports_in_blob_storage_ingest_as_their_local_copies() {
    let azurite = start_azurite();
    create_container(azurite.port);

    // Two exports under one prefix: the EA cost details (CSV) and the FOCUS sample (Parquet).
    let work = Ledger::new();
    let ea = fixtures_dir().join("data/finops-toolkit/EA_ActualCost_Small.csv");
    let focus = work.path("focus_sample.parquet");
    let options = ParquetOptions {
        snappy: true,
        costs: CostType::Decimal { scale: 11 },
        times: TimeType::MillisUtc,
        row_group_rows: 500,
        cost_columns: vec!["BilledCost".into()],
        time_columns: [
            "ChargePeriodStart",
            "BillingPeriodStart",
            "BillingPeriodEnd",
        ]
        .map(String::from)
        .to_vec(),
    };
    csv_to_parquet(
        &fixtures_dir().join("data/focus-sample-data/focus_sample.csv"),
        &focus,
        &options,
    )
    .unwrap();
    upload(
        azurite.port,
        &[
            ("costs/a-ea/EA_ActualCost_Small.csv", &ea),
            ("costs/b-focus/focus_sample.parquet", &focus),
        ],
    );

    // Local: the same two files in the blobs' name order.
    let local = ledger_for("8611537");
    let said = local.ok(&["ingest", ea.to_str().unwrap(), focus.to_str().unwrap()]);
    let expected = views(&local, &said);

    // A prefix: both blobs, fetched then ingested.
    let remote = ledger_for("8611537");
    let (ok, said, progress) = ingest_remote(&remote, azurite.port, &["az://exports/costs"]);
    assert!(ok, "ingest az://exports/costs failed:\n{progress}");
    assert!(
        progress.contains("exports/costs/a-ea/EA_ActualCost_Small.csv (1/2)")
            && progress.contains("exports/costs/b-focus/focus_sample.parquet (2/2)"),
        "a progress line per blob on stderr:\n{progress}"
    );
    assert_eq!(
        views(&remote, &said),
        expected,
        "az:// prefix vs local files"
    );
    remote.assert_audit_and_replay_pass();

    // One blob, by its https URL.
    let local_one = ledger_for("8611537");
    let said = local_one.ok(&["ingest", ea.to_str().unwrap()]);
    let expected_one = views(&local_one, &said);
    let one = ledger_for("8611537");
    let url = format!(
        "https://{ACCOUNT}.blob.core.windows.net/exports/costs/a-ea/EA_ActualCost_Small.csv"
    );
    let (ok, said, progress) = ingest_remote(&one, azurite.port, &[&url]);
    assert!(ok, "ingest {url} failed:\n{progress}");
    assert_eq!(views(&one, &said), expected_one, "https blob vs local file");

    // A missing blob: refused naming it, nothing appended (not even the local file before it,
    // which alone would settle an invoice).
    let before = one.fingerprint();
    let (ok, _, said) = ingest_remote(
        &one,
        azurite.port,
        &[focus.to_str().unwrap(), "az://exports/costs/missing.csv"],
    );
    assert!(!ok, "a missing blob must fail");
    assert!(
        said.contains("az://exports/costs/missing.csv") && said.contains("nothing was ingested"),
        "{said}"
    );
    assert_eq!(one.fingerprint(), before, "nothing appended");
}

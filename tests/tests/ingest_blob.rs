//! `ledger ingest az://...` straight from Blob Storage (issue 15), against Azurite, Azure
//! Storage's emulator: `scripts/setup-azurite.sh` installs it (npm), the test starts
//! `azurite-blob` on a free loopback port, uploads sample exports with `object_store`'s put,
//! ingests them by URL (a prefix holding two blobs, one blob, the `https://` form) and compares
//! with ingesting the same files locally: the same `lots`, `events`, `invoices --json` and log
//! head. A missing blob is refused naming it, and nothing is appended. An export run laid out
//! as Azure delivers it (a `manifest.json` and four `part_*` files, half gzip, one invoice
//! spanning them) reads from the container exactly as the same folder on disk does: by its
//! folder, by its manifest, and as an export root of several runs. If Azurite cannot be
//! installed or started, the test fails (it never skips).

mod export_layout;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use export_layout::{manifest, sample, shuffled, write_manifest, write_parts};
use hmac::{Hmac, Mac};
use ledger_gen::parquet::{csv_to_parquet, CostType, ParquetOptions, TimeType};
use object_store::azure::MicrosoftAzureBuilder;
use object_store::path::Path as BlobPath;
use object_store::ObjectStoreExt as _;
use serde_json::Value;
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

/// The four parts (half gzip, rows shuffled) and the manifest of run `run_id` written under
/// `folder` of `work`, and uploaded under `prefix/` in the container.
fn upload_run(
    azurite: &Azurite,
    work: &Ledger,
    folder: &str,
    prefix: &str,
    run_id: &str,
    submitted: &str,
    seed: u64,
) {
    let (header, rows) = sample();
    let parts = write_parts(work, folder, &header, &shuffled(rows, seed), true);
    let m = manifest(
        run_id,
        submitted,
        "TheLastMonth",
        "2024-09-30T00:00:00",
        &parts,
    );
    let manifest_path = write_manifest(work, folder, &m);
    let mut files = vec![manifest_path];
    files.extend(parts.into_iter().map(|p| p.path));
    let named: Vec<(String, &Path)> = files
        .iter()
        .map(|f| {
            let name = f.file_name().unwrap().to_str().unwrap();
            (format!("{prefix}/{name}"), f.as_path())
        })
        .collect();
    let blobs: Vec<(&str, &Path)> = named.iter().map(|(n, f)| (n.as_str(), *f)).collect();
    upload(azurite.port, &blobs);
}

#[test]
fn an_export_run_in_a_container_reads_as_the_same_folder_on_disk() {
    let azurite = start_azurite();
    create_container(azurite.port);
    let work = Ledger::new();
    let run = "focus-daily/20240901-20240930/202410010000/run-1";
    upload_run(
        &azurite,
        &work,
        "run-1",
        run,
        "run-1",
        "2024-10-01T00:10:00Z",
        0x9e37_79b9_7f4a_7c15,
    );

    // The same rows in one local plain CSV.
    let (header, rows) = sample();
    let local = ledger_for("8611537");
    local.write("all.csv", header + &rows.concat());
    let said = local.ok(&["ingest", "all.csv"]);
    let expected = views(&local, &said);

    // By its folder: one run of four parts, named by its URL; progress per blob.
    let by_folder = ledger_for("8611537");
    let url = format!("az://{CONTAINER}/{run}");
    let (ok, said, progress) = ingest_remote(&by_folder, azurite.port, &[&url]);
    assert!(ok, "ingest {url} failed:\n{progress}");
    let first = said.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!(
            "{url}/manifest.json (FOCUS, 4 parts): 1,000 rows, 51 lines in 1 invoices: 1 settled"
        )) && said.lines().count() == 2,
        "one run read through its manifest, named by its URL:\n{said}"
    );
    for (i, blob) in ["manifest.json", "part_0_0001.csv", "part_0_0004.csv.gz"]
        .iter()
        .zip([1, 2, 5])
        .map(|(b, i)| (i, b))
    {
        let line = format!("fetching az://{CONTAINER}/{run}/{blob} ({i}/5)");
        assert!(progress.contains(&line), "{line} not in:\n{progress}");
    }
    assert_eq!(views(&by_folder, &said), expected, "run folder vs one CSV");
    by_folder.assert_audit_and_replay_pass();

    // By its manifest: the parts beside it come with it.
    let by_manifest = ledger_for("8611537");
    let url = format!("az://{CONTAINER}/{run}/manifest.json");
    let (ok, said, progress) = ingest_remote(&by_manifest, azurite.port, &[&url]);
    assert!(ok, "ingest {url} failed:\n{progress}");
    assert_eq!(views(&by_manifest, &said), expected, "manifest vs one CSV");

    // An export root holding a second delivery of the same month: every run, oldest first,
    // the repeat skipped by run id and content digest.
    upload_run(
        &azurite,
        &work,
        "run-2",
        "focus-daily/20240901-20240930/202410020000/run-2",
        "run-2",
        "2024-10-02T00:10:00Z",
        3,
    );
    let by_root = ledger_for("8611537");
    let url = format!("az://{CONTAINER}/focus-daily");
    let (ok, said, progress) = ingest_remote(&by_root, azurite.port, &[&url, "--json"]);
    assert!(ok, "ingest {url} failed:\n{progress}");
    let outcome: Value = serde_json::from_str(&said).unwrap();
    let files = outcome["files"].as_array().unwrap();
    let ids: Vec<&str> = files
        .iter()
        .map(|f| f["run"]["id"].as_str().unwrap_or("none"))
        .collect();
    assert_eq!(ids, ["run-1", "run-2"], "{outcome}");
    assert_eq!(
        (
            files[0]["settled"].as_u64(),
            files[1]["alreadySettled"].as_u64()
        ),
        (Some(1), Some(1)),
        "{outcome}"
    );
    assert_eq!(by_root.head_hash(), local.head_hash(), "the log's head");
    assert_eq!(
        (
            by_root.ok(&["lots", "--json"]),
            by_root.ok(&["events", "--json"]),
            by_root.ok(&["invoices", "--json"]),
        ),
        (expected.1, expected.2, expected.3),
        "export root vs one CSV"
    );
}

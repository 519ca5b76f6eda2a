//! Issue 11 point 5 over HTTP: an upload holding a date the log cannot keep (year 0, or an
//! expiry derived past 9999-12-31) is refused like any refused file, changes nothing, and
//! the server (and a restarted one) keeps serving the ledger.

mod serve_common;

use std::time::Duration;

use serve_common::*;

const HEADER: &str = "invoice_id,invoice_date,billing_profile,charge_date,kind,amount,currency\n";

#[test]
fn uploads_with_dates_the_log_cannot_keep_are_refused_and_the_server_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let agreement = dir.path().join("agreement.toml");
    std::fs::write(
        &agreement,
        "account = \"contoso\"\ncurrency = \"USD\"\n\n[[macc]]\nid = \"m\"\namount = \"1000\"\nstart = \"2025-01-01\"\nend = \"2026-12-31\"\n",
    )
    .unwrap();
    ledger_ok(&data, &["agreement", agreement.to_str().unwrap()]);
    let head = |data: &std::path::Path| -> String {
        let audit: serde_json::Value =
            serde_json::from_str(&ledger_ok(data, &["audit", "--json"])).unwrap();
        audit["headHash"].as_str().unwrap().to_string()
    };
    let before = head(&data);

    let mut server = Server::start(&data, &["--allow-writes", "--token", "w"]);
    let auth = ("Authorization", "Bearer w");
    for (body, mentions) in [
        (
            format!("{HEADER}INV-0,0000-09-05,Contoso,2025-08-10,usage,1.00,USD\n"),
            vec!["charges.csv:2", "column 2 (invoice_date)", "0000-09-05"],
        ),
        (
            format!("{HEADER}INV-9,9999-07-05,Contoso,9999-06-01,prepayment_purchase,1.00,USD\n"),
            vec!["charges.csv:2", "INV-9", "9999-06-01 + 12 months"],
        ),
    ] {
        let response = server.request("POST", "/ledger/charges", &[auth], body.as_bytes());
        let message = response.assert_azure_error(422, "InvalidChargeFile");
        for m in mentions {
            assert!(message.contains(m), "{message:?} does not mention {m:?}");
        }
    }
    let response = server.request(
        "POST",
        "/ledger/agreements?name=year0.toml",
        &[auth],
        b"account = \"other\"\ncurrency = \"USD\"\n\n[[macc]]\nid = \"m\"\namount = \"10\"\nstart = 0000-05-01\nend = 2028-04-30\n",
    );
    let message = response.assert_azure_error(422, "InvalidAgreement");
    assert!(message.contains("year0.toml:7"), "{message}");
    // A good upload still goes in.
    let good = format!("{HEADER}INV-1,2025-09-05,Contoso,2025-08-10,usage,1.00,USD\n");
    let response = server.request("POST", "/ledger/charges", &[auth], good.as_bytes());
    assert_eq!(response.status, 200, "{}", response.text());
    server.terminate(Duration::from_secs(30));

    let after = head(&data);
    assert_ne!(before, after, "the good upload was not recorded");
    // The ledger can be served again (before the fix the year-0 upload made it unreadable).
    let mut again = Server::start(&data, &[]);
    assert_eq!(again.get("/api", None).status, 200);
    again.terminate(Duration::from_secs(30));
    ledger_ok(&data, &["audit"]);
}

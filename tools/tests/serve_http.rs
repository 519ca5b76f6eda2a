//! `ledger serve` over HTTP, with the real binary: the lists equal the CLI's JSON page by page,
//! filters and dates, bad requests (each a 4xx with an Azure error body, never a 500), the
//! token, the lock, writes over HTTP, request logs and graceful shutdown.

mod serve_common;

use std::time::Duration;

use serde_json::Value;
use serve_common::*;

const API: &str = "api-version=2024-08-01";

fn lots_url(account: &str, query: &str) -> String {
    format!(
        "{}/providers/Microsoft.Consumption/lots?{API}{query}",
        account_base(account)
    )
}

fn events_url(account: &str, query: &str) -> String {
    format!(
        "{}/providers/Microsoft.Consumption/events?{API}{query}",
        account_base(account)
    )
}

#[test]
fn lists_equal_the_cli_json_page_by_page() {
    let fixture = Fixture::generated(6_000, 3);
    let cli_lots = fixture.cli_json("lots");
    let cli_events = fixture.cli_json("events");
    let cli_caco = fixture.cli_json("caco");
    let cli_invoices = fixture.cli_json("invoices");
    let cli_events_text = ledger_ok(
        &fixture.data(),
        &["events", "--json", "--account", COLON_ACCOUNT],
    );
    let server = Server::start(&fixture.data(), &["--page-size", "7"]);
    let accounts: Vec<String> = server.get("/api", None).json()["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(accounts.len(), 3);
    assert!(accounts.iter().any(|a| a == COLON_ACCOUNT), "{accounts:?}");
    for account in &accounts {
        let (lots, _) = server.get_all(&lots_url(account, ""), None);
        assert_eq!(lots, for_account(&cli_lots, account), "lots of {account}");
        let (events, pages) = server.get_all(&events_url(account, ""), None);
        assert_eq!(
            events,
            for_account(&cli_events, account),
            "events of {account}"
        );
        assert!(pages > 3, "{pages} pages of 7: the test should page");
        // $top overrides the page size.
        let (events_top, pages_top) = server.get_all(&events_url(account, "&$top=1000"), None);
        assert_eq!((events_top, pages_top), (events.clone(), 1));
        // CACO and invoices: the CLI's documents for this account.
        let caco = server
            .get(&format!("{}/caco", account_base(account)), None)
            .json();
        let want: Vec<&Value> = cli_caco["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["account"] == account.as_str())
            .collect();
        assert_eq!(
            caco["value"].as_array().unwrap().iter().collect::<Vec<_>>(),
            want,
            "caco of {account}"
        );
        let invoices = server.get(&format!("{}/invoices?{API}", account_base(account)), None);
        assert_eq!(invoices.header("api-version"), Some("2024-08-01"));
        let want: Vec<&Value> = cli_invoices["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["account"] == account.as_str())
            .collect();
        assert_eq!(
            invoices.json()["value"]
                .as_array()
                .unwrap()
                .iter()
                .collect::<Vec<_>>(),
            want,
            "invoices of {account}"
        );
    }
    // Amounts are the CLI's exact decimal text, not a float's rendering.
    let raw = server
        .get(&events_url(COLON_ACCOUNT, "&$top=1000"), None)
        .text();
    assert_eq!(amount_texts(&raw), amount_texts(&cli_events_text));
}

/// The text of every `"value": NUMBER` of a JSON document, in order.
fn amount_texts(json: &str) -> Vec<String> {
    json.split("\"value\":")
        .skip(1)
        .filter_map(|rest| {
            let number: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_digit() || "-.eE+".contains(*c))
                .collect();
            (!number.is_empty()).then_some(number)
        })
        .collect()
}

#[test]
fn alerts_equal_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let agreement = dir.path().join("agreement.toml");
    std::fs::write(
        &agreement,
        "account = \"alerts-co\"\ncurrency = \"USD\"\ncredit_order = \"expiring-first\"\n\n\
         [[macc]]\nid = \"macc-big\"\namount = \"1000000\"\nstart = \"2024-01-01\"\nend = \"2025-12-31\"\n",
    )
    .unwrap();
    let charges = dir.path().join("charges.csv");
    std::fs::write(
        &charges,
        "invoice_id,invoice_date,billing_profile,charge_date,kind,amount,currency\n\
         INV-1,2025-02-05,Engineering,2025-01-15,usage,12345.67,USD\n\
         INV-2,2025-03-05,Engineering,2025-02-15,usage,23456.78,USD\n",
    )
    .unwrap();
    ledger_ok(&data, &["agreement", agreement.to_str().unwrap()]);
    ledger_ok(&data, &["ingest", charges.to_str().unwrap()]);
    let as_of = "2025-10-15";
    let cli: Value =
        serde_json::from_str(&ledger_ok(&data, &["alerts", "--as-of", as_of, "--json"])).unwrap();
    assert!(!cli["value"].as_array().unwrap().is_empty(), "{cli}");
    let server = Server::start(&data, &[]);
    let base = account_base("alerts-co");
    for query in [
        format!("asOf={as_of}"),
        format!("asof={as_of}T00:00:00.0000000Z&api-version=2024-08-01"),
    ] {
        let response = server.get(&format!("{base}/alerts?{query}"), None);
        assert_eq!(response.status, 200, "{}", response.text());
        assert_eq!(response.json(), cli, "{query}");
    }
}

#[test]
fn filters_dates_and_paths_as_azure_clients_send_them() {
    let fixture = Fixture::generated(3_000, 2);
    let cli_lots = fixture.cli_json("lots");
    let cli_events = fixture.cli_json("events");
    let server = Server::start(&fixture.data(), &[]);
    let account = COLON_ACCOUNT;
    let lots = for_account(&cli_lots, account);
    let events = for_account(&cli_events, account);

    // $filter: case-insensitive names and values, AND, '+' for spaces, %24 for $.
    let (got, _) = server.get_all(
        &lots_url(account, "&$filter=SOURCE+eq+%27consumptioncommitment%27"),
        None,
    );
    let want: Vec<Value> = lots
        .iter()
        .filter(|l| l["properties"]["source"] == "ConsumptionCommitment")
        .cloned()
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);
    let lot = lots.last().unwrap();
    let name = lot["name"].as_str().unwrap();
    let status = lot["properties"]["status"]
        .as_str()
        .unwrap()
        .to_ascii_uppercase();
    let (got, _) = server.get_all(
        &lots_url(
            account,
            &format!("&%24filter=lotId%20eq%20%27{name}%27%20AND%20status%20eq%20%27{status}%27"),
        ),
        None,
    );
    assert_eq!(got, vec![lot.clone()]);
    let (got, _) = server.get_all(&lots_url(account, "&$filter=source%20eq%20%27ConsumptionCommitment%27%20and%20source%20eq%20%27PurchasedCredit%27"), None);
    assert!(got.is_empty(), "two different sources match nothing");
    let (got, _) = server.get_all(
        &events_url(account, "&$filter=lotsource%20eq%20%27PromotionalCredit%27"),
        None,
    );
    let want: Vec<Value> = events
        .iter()
        .filter(|e| e["properties"]["lotSource"] == "PromotionalCredit")
        .cloned()
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);

    // startDate / endDate, as dates and as date-times, inclusive.
    let dates: Vec<&str> = events
        .iter()
        .map(|e| &e["properties"]["transactionDate"].as_str().unwrap()[..10])
        .collect();
    let (from, to) = (dates[dates.len() / 4], dates[dates.len() / 2]);
    let want: Vec<Value> = events
        .iter()
        .filter(|e| {
            let d = &e["properties"]["transactionDate"].as_str().unwrap()[..10];
            from <= d && d <= to
        })
        .cloned()
        .collect();
    let (got, _) = server.get_all(
        &events_url(account, &format!("&startDate={from}&endDate={to}")),
        None,
    );
    assert_eq!(got, want);
    let (got, _) = server.get_all(
        &events_url(
            account,
            &format!("&startdate={from}T00:00:00Z&ENDDATE={to}T23:59:59.0000000Z"),
        ),
        None,
    );
    assert_eq!(got, want);
    let (got, _) = server.get_all(
        &events_url(account, &format!("&startDate={to}&endDate={from}")),
        None,
    );
    assert!(got.is_empty() || from == to);

    // Billing-profile events (Events_ListByBillingProfile).
    let profile = events
        .iter()
        .find_map(|e| e["properties"]["billingProfileDisplayName"].as_str())
        .unwrap();
    let url = format!(
        "{}/billingProfiles/{}/providers/Microsoft.Consumption/events?{API}&startDate=1900-01-01&endDate=2999-12-31",
        account_base(account),
        profile.replace(' ', "%20")
    );
    let (got, _) = server.get_all(&url, None);
    let want: Vec<Value> = events
        .iter()
        .filter(|e| e["properties"]["billingProfileDisplayName"] == profile)
        .cloned()
        .collect();
    assert_eq!(got, want);

    // ARM paths match case-insensitively; a trailing slash is fine.
    let upper = lots_url(account, "").replace(
        "/providers/Microsoft.Consumption/lots",
        "/PROVIDERS/microsoft.consumption/Lots/",
    );
    assert_eq!(server.get_all(&upper, None).0, lots);
    // The account list and the account resource.
    let list = server
        .get("/providers/Microsoft.Billing/billingAccounts", None)
        .json();
    assert!(list["value"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["name"] == account));
    let one = server.get(&account_base(account), None).json();
    assert_eq!(one["properties"]["currency"], "USD");
}

#[test]
fn bad_requests_get_azure_errors_never_a_500() {
    let fixture = Fixture::generated(1_000, 1);
    let server = Server::start(&fixture.data(), &["--token", "s3cret"]);
    let t = Some("s3cret");
    let account = server.get("/api", t).json()["accounts"][0]
        .as_str()
        .unwrap()
        .to_string();
    let base = account_base(&account);

    // Token.
    server
        .get(&lots_url(&account, ""), None)
        .assert_azure_error(401, "AuthenticationFailed");
    server
        .get(&lots_url(&account, ""), Some("wrong"))
        .assert_azure_error(401, "InvalidAuthenticationToken");
    let basic = server.request(
        "GET",
        &lots_url(&account, ""),
        &[("Authorization", "Basic czNjcmV0")],
        b"",
    );
    basic.assert_azure_error(401, "InvalidAuthenticationToken");
    assert_eq!(basic.header("www-authenticate"), Some("Bearer"));
    assert_eq!(
        server
            .request(
                "GET",
                &lots_url(&account, ""),
                &[("Authorization", "bearer s3cret")],
                b""
            )
            .status,
        200
    );

    // Unknown paths and accounts.
    server.get("/nope", t).assert_azure_error(404, "NotFound");
    server
        .get(
            &format!("{base}/providers/Microsoft.Consumption/usageDetails?{API}"),
            t,
        )
        .assert_azure_error(404, "NotFound");
    server
        .get(
            &format!("{base}/providers/Microsoft.Consumption/lots/x?{API}"),
            t,
        )
        .assert_azure_error(404, "NotFound");
    server
        .get(&format!("{base}/%FF/caco"), t)
        .assert_azure_error(404, "NotFound");
    let message = server
        .get(&lots_url("no-such-account", ""), t)
        .assert_azure_error(404, "BillingAccountNotFound");
    assert!(message.contains(&account), "{message}");

    // api-version.
    server
        .get(&format!("{base}/providers/Microsoft.Consumption/lots"), t)
        .assert_azure_error(400, "MissingApiVersionParameter");
    server
        .get(
            &format!("{base}/providers/Microsoft.Consumption/lots?api-version=latest"),
            t,
        )
        .assert_azure_error(400, "InvalidApiVersionParameter");
    server
        .get(&format!("{base}/caco?api-version=1"), t)
        .assert_azure_error(400, "InvalidApiVersionParameter");
    server
        .get(&lots_url(&account, "&api-version=2024-08-01"), t)
        .assert_azure_error(400, "InvalidQueryParameter");

    // $filter.
    for bad in [
        "source%20ne%20%27x%27",
        "source%20eq%20x",
        "source%20eq%20%27x",
        "nosuchfield%20eq%20%27x%27",
        "source%20eq%20%27x%27%20or%20status%20eq%20%27y%27",
        "",
        "lotsource%20eq%20%27x%27",
    ] {
        let message = server
            .get(&lots_url(&account, &format!("&$filter={bad}")), t)
            .assert_azure_error(400, "InvalidFilter");
        assert!(message.contains("eq"), "{message}");
    }
    server
        .get(
            &events_url(&account, "&$filter=status%20eq%20%27Active%27"),
            t,
        )
        .assert_azure_error(400, "InvalidFilter");

    // Dates.
    for bad in [
        "2025-02-30",
        "2025-1-1",
        "yesterday",
        "2025-01-01T25:00:00Z",
        "2025-01-01T00:00:00",
        "",
    ] {
        server
            .get(&events_url(&account, &format!("&startDate={bad}")), t)
            .assert_azure_error(400, "InvalidDate");
        server
            .get(&events_url(&account, &format!("&endDate={bad}")), t)
            .assert_azure_error(400, "InvalidDate");
    }
    server
        .get(&format!("{base}/alerts"), t)
        .assert_azure_error(400, "MissingParameter");
    server
        .get(&format!("{base}/alerts?asOf=2025-13-01"), t)
        .assert_azure_error(400, "InvalidDate");
    server
        .get(&format!("{base}/billingProfiles/x/providers/Microsoft.Consumption/events?{API}&startDate=2025-01-01"), t)
        .assert_azure_error(400, "MissingParameter");

    // Paging parameters.
    for bad in [
        "$top=0",
        "$top=1001",
        "$top=ten",
        "$skiptoken=abc",
        "$skiptoken=-1",
    ] {
        let response = server.get(&lots_url(&account, &format!("&{bad}")), t);
        assert_eq!(response.status, 400, "{bad}: {}", response.text());
    }
    let position = server.get("/api", t).json()["logPosition"]
        .as_u64()
        .unwrap();
    let past_the_end = server.get(
        &lots_url(&account, &format!("&$skiptoken={position}.999999")),
        t,
    );
    assert_eq!(past_the_end.status, 200);
    assert_eq!(past_the_end.json(), serde_json::json!({ "value": [] }));
    for bad in ["999999", "1.2.3", "1.", ".5", "1.-5"] {
        server
            .get(&lots_url(&account, &format!("&$skiptoken={bad}")), t)
            .assert_azure_error(400, "InvalidSkipToken");
    }
    // A position this server never listed from: the token has expired (or never was).
    server
        .get(
            &lots_url(&account, &format!("&$skiptoken={}.0", position + 1)),
            t,
        )
        .assert_azure_error(410, "ContinuationTokenExpired");

    // Methods.
    let response = server.request(
        "DELETE",
        &lots_url(&account, ""),
        &[("Authorization", "Bearer s3cret")],
        b"",
    );
    response.assert_azure_error(405, "MethodNotAllowed");
    assert_eq!(response.header("allow"), Some("GET, HEAD"));
    let response = server.request(
        "GET",
        "/ledger/charges",
        &[("Authorization", "Bearer s3cret")],
        b"",
    );
    response.assert_azure_error(405, "MethodNotAllowed");
    assert_eq!(response.header("allow"), Some("POST"));
    // Writes on a read-only server.
    server
        .request(
            "POST",
            "/ledger/charges",
            &[("Authorization", "Bearer s3cret")],
            b"x",
        )
        .assert_azure_error(403, "WritesDisabled");

    // Size limits: a huge query string, huge headers.
    let huge = "a".repeat(20_000);
    server
        .get(&lots_url(&account, &format!("&$filter={huge}")), t)
        .assert_azure_error(414, "RequestUriTooLong");
    let big_header = "b".repeat(20_000);
    server
        .request(
            "GET",
            &lots_url(&account, ""),
            &[
                ("Authorization", "Bearer s3cret"),
                ("X-Padding", &big_header),
            ],
            b"",
        )
        .assert_azure_error(431, "RequestHeaderFieldsTooLarge");
    let many: Vec<(String, String)> = (0..80).map(|i| (format!("X-H{i}"), "v".into())).collect();
    let mut headers: Vec<(&str, &str)> =
        many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    headers.push(("Authorization", "Bearer s3cret"));
    server
        .request("GET", &lots_url(&account, ""), &headers, b"")
        .assert_azure_error(431, "RequestHeaderFieldsTooLarge");
    // Far beyond those, hyper itself refuses (its own 4xx, no body); never a 5xx.
    let enormous = "c".repeat(200_000);
    let response = server.get(&lots_url(&account, &format!("&$filter={enormous}")), t);
    assert!((400..500).contains(&response.status), "{}", response.status);

    // A bounded fuzz of odd requests: always a 4xx or 200 with JSON, never a 5xx.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let pieces = [
        "%",
        "%2",
        "%zz",
        "%00",
        "..",
        "/",
        "//",
        "?",
        "&",
        "=",
        "$filter=",
        "'",
        "''",
        "eq",
        "and",
        "%27",
        "+",
        "startDate=",
        "endDate=",
        "2025-01-01",
        "T",
        "Z",
        "$top=",
        "$skiptoken=",
        "api-version=",
        "2024-08-01",
        "lots",
        "events",
        "caco",
        "alerts",
        "asOf=",
        "providers",
        "Microsoft.Consumption",
        "\u{e9}",
        "%F0%9F%92%A9",
        "%C3%28",
        "9999999999999999999999",
        "-1",
        ";",
        "#",
    ];
    for _ in 0..400 {
        let mut target = format!("{base}/");
        for _ in 0..(next() % 8) {
            target.push_str(pieces[(next() % pieces.len() as u64) as usize]);
        }
        let target: String = target.chars().filter(|c| c.is_ascii_graphic()).collect();
        let response = server.get(&target, t);
        assert!(
            response.status < 500,
            "GET {target}: {} {}",
            response.status,
            response.text()
        );
        if response.status >= 400 {
            assert!(
                response.json()["error"]["code"].is_string(),
                "GET {target}: {}",
                response.text()
            );
        }
    }
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}

#[test]
fn the_server_leaves_the_ledger_free_logs_requests_and_stops_on_sigterm() {
    let fixture = Fixture::generated(500, 1);
    let mut server = Server::start_with_env(
        &fixture.data(),
        &[],
        &[("RUST_LOG", "info"), ("NO_COLOR", "1")],
    );
    let account = server.get("/api", None).json()["accounts"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(server.get(&lots_url(&account, ""), None).status, 200);
    // The server holds no lock (issue 13): the CLI reads, and even opens the log, while it runs.
    ledger_ok(&fixture.data(), &["lots"]);
    ledger_ok(&fixture.data(), &["audit"]);
    // Request logs: method, path, status, latency.
    std::thread::sleep(Duration::from_millis(100));
    let log = server.stderr();
    assert!(
        log.contains("method=GET")
            && log.contains("/providers/Microsoft.Consumption/lots")
            && log.contains("status=200")
            && log.contains("latency_ms="),
        "{log}"
    );
    // SIGTERM: a clean stop, and the ledger is free again.
    let status = server.terminate(Duration::from_secs(20));
    assert!(status.success(), "{status:?}: {}", server.stderr());
    ledger_ok(&fixture.data(), &["lots"]);
}

#[test]
fn writes_over_http_stage_like_the_cli() {
    let fixture = Fixture::generated(2_000, 1);
    // Another account's agreement and charges, generated apart, to send over HTTP.
    let other = tempfile::tempdir().unwrap();
    let csv = other.path().join("more.csv");
    ledger_ok(
        &fixture.data(),
        &[
            "gen",
            "--lines",
            "1500",
            "--accounts",
            "2",
            "--seed",
            "7",
            "--out",
            csv.to_str().unwrap(),
        ],
    );
    let agreement_path = std::fs::read_dir(other.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("agreement-fabrikam"))
        .expect("a fabrikam agreement");
    let agreement = std::fs::read(&agreement_path).unwrap();
    // Only fabrikam's lines (contoso's agreement would differ from the fixture's).
    let all = std::fs::read_to_string(&csv).unwrap();
    let mut lines = all.lines();
    let header = lines.next().unwrap();
    let mut charges = format!("{header}\n");
    for line in lines.filter(|l| l.contains(",fabrikam,")) {
        charges.push_str(line);
        charges.push('\n');
    }

    let mut server = Server::start(&fixture.data(), &["--allow-writes", "--token", "w"]);
    let auth = ("Authorization", "Bearer w");
    let before = server.get("/api", Some("w")).json();

    // A refused charge file changes nothing: 400 with the CLI's message, naming the upload.
    let response = server.request(
        "POST",
        "/ledger/charges?name=more.csv",
        &[auth],
        charges.as_bytes(),
    );
    let message = response.assert_azure_error(422, "InvalidChargeFile");
    assert!(
        message.starts_with("more.csv:") && message.contains("fabrikam"),
        "{message}"
    );
    let response = server.request("POST", "/ledger/charges", &[auth], b"a,b,c\n1,2,3\n");
    let message = response.assert_azure_error(422, "InvalidChargeFile");
    assert!(
        message.starts_with("charges.csv:1: the header is not one the ledger reads"),
        "{message}"
    );
    let response = server.request(
        "POST",
        "/ledger/agreements?name=bad.toml",
        &[auth],
        b"account = \"x\"\ncurrency = 5\n",
    );
    let message = response.assert_azure_error(422, "InvalidAgreement");
    assert!(message.starts_with("bad.toml:"), "{message}");
    server
        .request("POST", "/ledger/agreements?name=../x", &[auth], b"")
        .assert_azure_error(400, "InvalidParameter");
    // Issue 11 point 12: what breaks the documented request schema is a 400 (an empty or
    // blank body, a JSON agreement without account and currency); a well-formed body the
    // ledger refuses is a 422 (above). The OpenAPI document says both.
    for (path, content_type, body) in [
        ("/ledger/charges", "text/csv", &b""[..]),
        ("/ledger/charges", "text/csv", b" \r\n\t\n"),
        ("/ledger/agreements", "application/toml", b""),
        ("/ledger/agreements", "application/json", b"{}"),
        ("/ledger/agreements", "application/json", b"[1]"),
        (
            "/ledger/agreements",
            "application/json",
            b"{\"account\": \"\", \"currency\": \"USD\"}",
        ),
        (
            "/ledger/agreements",
            "application/json",
            b"{\"account\": \"x\"",
        ),
    ] {
        server
            .request("POST", path, &[auth, ("Content-Type", content_type)], body)
            .assert_azure_error(400, "InvalidRequestBody");
    }
    // A well-formed JSON agreement with a key the reader does not know, and one with a huge
    // number: judged by the reader (422), not called malformed.
    for body in [
        &b"{\"account\": \"x\", \"currency\": \"USD\", \"colour\": 1}"[..],
        b"{\"account\": \"x\", \"currency\": \"USD\", \"rulebook\": 1e400}",
    ] {
        server
            .request(
                "POST",
                "/ledger/agreements",
                &[auth, ("Content-Type", "application/json")],
                body,
            )
            .assert_azure_error(422, "InvalidAgreement");
    }
    let doc = server.get("/openapi.json", Some("w")).json();
    let post = &doc["paths"]["/ledger/charges"]["post"];
    assert_eq!(
        post["requestBody"]["content"]["text/csv"]["schema"]["minLength"],
        1
    );
    for status in ["400", "422"] {
        assert!(post["responses"][status].is_object(), "{status}");
    }
    assert_eq!(
        doc["components"]["schemas"]["AgreementJson"]["required"],
        serde_json::json!(["account", "currency"])
    );
    assert_eq!(
        server.get("/api", Some("w")).json(),
        before,
        "refusals changed nothing"
    );

    // The agreement, then the charges: recorded and served at once.
    let response = server.request(
        "POST",
        "/ledger/agreements",
        &[auth, ("Content-Type", "application/toml")],
        &agreement,
    );
    assert_eq!(response.status, 200, "{}", response.text());
    let outcome = response.json();
    assert_eq!(
        (
            outcome["account"].as_str(),
            outcome["recorded"].as_bool(),
            outcome["version"].as_u64()
        ),
        (Some("fabrikam"), Some(true), Some(1))
    );
    let response = server.request("POST", "/ledger/agreements", &[auth], &agreement);
    assert_eq!(
        response.json()["recorded"],
        false,
        "the same agreement again records nothing"
    );
    let response = server.request(
        "POST",
        "/ledger/charges?name=more.csv",
        &[auth, ("Content-Type", "text/csv")],
        charges.as_bytes(),
    );
    assert_eq!(response.status, 200, "{}", response.text());
    let outcome = response.json();
    assert!(
        outcome["files"][0]["settled"].as_u64().unwrap() > 0,
        "{outcome}"
    );
    assert_eq!(outcome["files"][0]["file"], "more.csv");
    let (served_lots, _) = server.get_all(&lots_url("fabrikam", ""), Some("w"));
    let (served_events, _) = server.get_all(&events_url("fabrikam", ""), Some("w"));
    assert!(!served_events.is_empty());
    // Ingesting the same file again: already settled, nothing changes.
    let response = server.request(
        "POST",
        "/ledger/charges?name=more.csv",
        &[auth],
        charges.as_bytes(),
    );
    assert_eq!(
        response.json()["files"][0]["alreadySettled"].as_u64(),
        outcome["files"][0]["settled"].as_u64()
    );
    // Too large a body.
    let mut small = Server::start(
        &fixture.path("new-ledger"),
        &["--allow-writes", "--max-upload-bytes", "10"],
    );
    small
        .request("POST", "/ledger/charges", &[], &[b'x'; 100])
        .assert_azure_error(413, "RequestEntityTooLarge");
    small.terminate(Duration::from_secs(20));

    // After a clean stop the CLI reads what the server served: the writes were durable.
    assert!(server.terminate(Duration::from_secs(20)).success());
    let cli_lots = fixture.cli_json("lots");
    let cli_events = fixture.cli_json("events");
    assert_eq!(for_account(&cli_lots, "fabrikam"), served_lots);
    assert_eq!(for_account(&cli_events, "fabrikam"), served_events);
    ledger_ok(&fixture.data(), &["audit"]);
}

#[test]
fn openapi_describes_every_endpoint_that_answers() {
    let fixture = Fixture::generated(500, 1);
    let server = Server::start(&fixture.data(), &["--token", "k"]);
    let doc = server.get("/openapi.json", Some("k")).json();
    assert_eq!(doc["openapi"], "3.0.3");
    assert_eq!(doc["security"], serde_json::json!([{ "bearer": [] }]));
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 11, "{:?}", paths.keys());
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            // Path parameters take the document's examples (from this ledger).
            let mut concrete = path.clone();
            for p in op["parameters"].as_array().unwrap() {
                if p["in"] == "path" {
                    let name = p["name"].as_str().unwrap();
                    let example = p["example"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{path}: {name} has no example"));
                    let encoded = example
                        .replace('%', "%25")
                        .replace('/', "%2F")
                        .replace(' ', "%20");
                    concrete = concrete.replace(&format!("{{{name}}}"), &encoded);
                }
            }
            let mut query = Vec::new();
            for p in op["parameters"].as_array().unwrap() {
                if p["in"] == "query" && p["required"] == true {
                    let value = if p["name"] == "api-version" {
                        "2024-08-01"
                    } else {
                        "2025-01-01"
                    };
                    query.push(format!("{}={value}", p["name"].as_str().unwrap()));
                }
            }
            let target = format!("{concrete}?{}", query.join("&"));
            let response = server.request(
                &method.to_ascii_uppercase(),
                &target,
                &[("Authorization", "Bearer k")],
                b"",
            );
            let documented = op["responses"].as_object().unwrap();
            assert!(
                documented.contains_key(&response.status.to_string()),
                "{method} {target}: {} is not among the documented {:?}",
                response.status,
                documented.keys()
            );
            assert_ne!(response.status, 404, "{method} {target}");
        }
    }
}

/// Issue 11 point 10: writes beyond loopback need a token, and a blank token is no token.
#[test]
fn writes_beyond_loopback_need_a_real_token() {
    let fixture = Fixture::generated(200, 1);
    let data = fixture.data();
    let out = serve_refused(&data, &["--addr", "0.0.0.0:0", "--allow-writes"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--allow-writes") && stderr.contains("needs --token"),
        "{stderr}"
    );
    for blank in ["", "   ", "\t"] {
        let out = serve_refused(&data, &["--addr", "127.0.0.1:0", "--token", blank]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{blank:?}: {stderr}");
        assert!(stderr.contains("empty or only whitespace"), "{stderr}");
    }
    let out = serve_refused(&data, &["--addr", "127.0.0.1:0", "--token", "two words"]);
    assert_eq!(out.status.code(), Some(2));
    // Nothing was opened or changed by the refusals; with a token, writes beyond loopback
    // start, and reads beyond loopback without one still start (with a warning).
    let mut server = Server::start_at(&data, "0.0.0.0:0", &["--allow-writes", "--token", "w"], &[]);
    assert_eq!(server.get("/api", Some("w")).status, 200);
    assert!(server.terminate(Duration::from_secs(20)).success());
    let mut server = Server::start_at(&data, "0.0.0.0:0", &[], &[]);
    assert_eq!(server.get("/api", None).status, 200);
    assert!(server.terminate(Duration::from_secs(20)).success());
    assert!(server.stderr().contains("beyond loopback, without --token"));
}

/// Connect to the server; reads time out after 30 s (far beyond every timeout under test).
fn connect(server: &Server) -> std::net::TcpStream {
    let stream = std::net::TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

/// Read until the server closes the connection (EOF or reset): what it sent, and whether it
/// closed before the read timeout.
fn read_until_closed(stream: &mut std::net::TcpStream) -> (Vec<u8>, bool) {
    use std::io::Read;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (bytes, true),
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (bytes, false)
            }
            Err(_) => return (bytes, true),
        }
    }
}

fn upload_folders(data: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(data.join("staging"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("upload-"))
                .collect()
        })
        .unwrap_or_default()
}

/// Issue 11 point 11: slow and idle clients are cut, connections and uploads are capped,
/// uploads are spooled under the ledger's staging folder (never the system's temporary one).
#[test]
fn slow_and_idle_clients_are_cut_and_uploads_are_bounded() {
    use std::io::Write;
    use std::time::Instant;
    let fixture = Fixture::generated(300, 1);
    let data = fixture.data();
    // An upload folder left by a killed server is removed at start.
    let stale = data.join("staging").join("upload-999999-left");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("charges.csv"), "x").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(
        &data,
        &[
            "--allow-writes",
            "--header-timeout",
            "1s",
            "--idle-timeout",
            "2s",
            "--max-connections",
            "3",
            "--max-uploads",
            "1",
        ],
        &[("TMPDIR", tmp.path().to_str().unwrap())],
    );
    assert!(!stale.exists(), "the stale upload folder is removed");

    // Half a header, then nothing: cut after the header timeout.
    let mut half = connect(&server);
    let started = Instant::now();
    half.write_all(b"GET /api HTTP/1.1\r\nHost: x\r\n").unwrap();
    let (answer, closed) = read_until_closed(&mut half);
    let waited = started.elapsed();
    assert!(closed, "a half header is held for 30 s");
    assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));
    assert!(waited >= Duration::from_millis(900), "{waited:?}");

    // A header trickled a byte at a time does not extend its time.
    let mut trickle = connect(&server);
    let started = Instant::now();
    let request = b"GET /api HTTP/1.1\r\nHost: x\r\nX-Slow: abcdefghijklmnop\r\n\r\n";
    let mut sent = 0;
    for byte in request {
        if trickle.write_all(&[*byte]).is_err() {
            break;
        }
        sent += 1;
        std::thread::sleep(Duration::from_millis(150));
    }
    let (answer, closed) = read_until_closed(&mut trickle);
    assert!(
        closed && answer.is_empty(),
        "{sent} bytes trickled in {:?} were answered",
        started.elapsed()
    );
    assert!(sent < request.len(), "all {sent} bytes were read");

    // A client that connects and sends nothing is cut after the idle timeout.
    let mut idle = connect(&server);
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut idle);
    assert!(closed);
    assert!(started.elapsed() >= Duration::from_millis(1900));

    // A keep-alive connection: answered, then closed once idle.
    let mut kept = connect(&server);
    kept.write_all(b"GET /api HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (answer, closed) = read_until_closed(&mut kept);
    assert!(closed, "a kept-alive connection left idle is closed");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));

    // Past --max-connections, a connection is told 503 and closed; the others still work.
    let held: Vec<_> = (0..3).map(|_| connect(&server)).collect();
    std::thread::sleep(Duration::from_millis(200));
    server
        .get("/api", None)
        .assert_azure_error(503, "ServerBusy");
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.get("/api", None).status, 200);

    // An upload that stalls: spooled under DATA/staging, holds the only upload slot (a second
    // upload is told 503), and is answered 408 after the idle timeout.
    let mut slow = connect(&server);
    slow.write_all(
        b"POST /ledger/charges HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\ninvoice_id,",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let folders = upload_folders(&data);
    assert_eq!(folders.len(), 1, "{folders:?}");
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "nothing in the system's temporary folder"
    );
    server
        .request("POST", "/ledger/charges", &[], b"invoice_id\n")
        .assert_azure_error(503, "ServerBusy");
    let (answer, closed) = read_until_closed(&mut slow);
    assert!(closed);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("RequestTimeout"), "{answer}");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        upload_folders(&data).is_empty(),
        "the upload folder is removed"
    );
    // The slot is free again.
    let response = server.request("POST", "/ledger/charges", &[], b"a,b\n1,2\n");
    response.assert_azure_error(422, "InvalidChargeFile");
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}

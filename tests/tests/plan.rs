//! Forecast and plan (issue 16), end to end: the run rate behind `alerts`' actual monthly
//! rate, forecast dates, expiring credits in `alerts`, MACC milestones on the MACC lot.

use serde_json::Value;
use tests::{Dec, Ledger};

const AGREEMENT: &str = r#"
account = "contoso"
currency = "USD"

[[macc]]
id = "macc-2025"
amount = "120000"
start = "2025-01-01"
end = "2025-12-31"
  [[macc.milestones]]
  id = "M1"
  due = "2025-09-30"
  target = "60000"

[[caco]]
id = "caco-1"
start = "2025-01-01"
  [[caco.milestones]]
  id = "Year"
  start = "2025-01-01"
  end = "2025-12-31"
  target = "20000"
  award = "100"

[[credit]]
id = "aco-1"
kind = "aco"
amount = "600"
start = "2025-01-01"
expires = "2025-12-31"

[[credit]]
id = "aco-2"
kind = "aco"
amount = "250"
start = "2025-08-01"
expires = "2025-09-30"
"#;

/// January to April and June (May's invoice is not settled yet). Usage of 1,000.00 a month,
/// part of it paid by credits; one-off purchases (prepayment, an up-front reservation, a MACC
/// shortfall purchase) that must not read as burn; support, which counts nowhere; eligible
/// Marketplace (MACC only); a refund of usage in June.
const CHARGES: &str = "\
invoice_id,invoice_date,period_start,period_end,billing_profile,charge_date,kind,amount,currency
INV-01,2025-02-05,2025-01-01,2025-01-31,Eng,2025-01-15,usage,1000,USD
INV-02,2025-03-05,2025-02-01,2025-02-28,Eng,2025-02-10,prepayment_purchase,3000,USD
INV-02,2025-03-05,2025-02-01,2025-02-28,Eng,2025-02-15,usage,1000,USD
INV-02,2025-03-05,2025-02-01,2025-02-28,Eng,2025-02-15,support,100,USD
INV-03,2025-04-05,2025-03-01,2025-03-31,Eng,2025-03-01,reservation_purchase,2400,USD
INV-03,2025-04-05,2025-03-01,2025-03-31,Eng,2025-03-15,usage,1000,USD
INV-03,2025-04-05,2025-03-01,2025-03-31,Eng,2025-03-20,macc_shortfall_purchase,15000,USD
INV-04,2025-05-05,2025-04-01,2025-04-30,Eng,2025-04-15,usage,1000,USD
INV-04,2025-05-05,2025-04-01,2025-04-30,Eng,2025-04-15,marketplace_eligible,200,USD
INV-06,2025-07-05,2025-06-01,2025-06-30,Eng,2025-06-15,usage,1000,USD
INV-06,2025-07-05,2025-06-01,2025-06-30,Eng,2025-06-20,refund,-100,USD
";

fn ledger() -> Ledger {
    let l = Ledger::new();
    let agreement = l.write("agreement.toml", AGREEMENT);
    let charges = l.write("charges.csv", CHARGES);
    l.ok(&["agreement".as_ref(), agreement.as_os_str()]);
    l.ok(&["ingest".as_ref(), charges.as_os_str()]);
    l
}

fn row<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["value"]
        .as_array()
        .expect("a value array")
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no alert {id} in {doc:#}"))
}

fn amount(v: &Value) -> Dec {
    Dec::from_json(v).unwrap_or_else(|| panic!("{v} is not an amount"))
}

fn dec(s: &str) -> Dec {
    Dec::parse(s).expect("a decimal")
}

/// R-ALERT-2 (issue 16, run rate): eligible spend by charge month, before credits, without
/// one-off purchases, kinds that count when paid; May (no settled invoice) is left out, not
/// counted as zero; `--window N` narrows it.
#[test]
fn actual_monthly_rate_is_the_run_rate_by_charge_month() {
    let l = ledger();
    let doc = l.json(&["alerts", "--as-of", "2025-07-10"]);
    // MACC: usage 1,000 × 5 + eligible Marketplace 200 − refund 100 over the 5 settled months
    // of January..June: 5,100 / 5.
    for id in ["macc-2025", "M1"] {
        assert_eq!(
            amount(&row(&doc, id)["actualMonthlyRate"]),
            dec("1020"),
            "{id}: {doc:#}"
        );
    }
    // CACO: eligible Marketplace counts toward no CACO: 4,900 / 5.
    for id in ["caco-1", "Year"] {
        assert_eq!(
            amount(&row(&doc, id)["actualMonthlyRate"]),
            dec("980"),
            "{id}"
        );
    }
    // Two months: May (not settled) is left out, June's 900 is the whole window.
    let doc = l.json(&["alerts", "--as-of", "2025-07-10", "--window", "2"]);
    assert_eq!(
        amount(&row(&doc, "macc-2025")["actualMonthlyRate"]),
        dec("900")
    );
    // Starting later: a window that opens with the commitment counts only its months.
    let doc = l.json(&["alerts", "--as-of", "2025-02-20"]);
    assert_eq!(
        amount(&row(&doc, "macc-2025")["actualMonthlyRate"]),
        dec("1000")
    );
    l.usage_error(&["alerts", "--as-of", "2025-07-10", "--window", "0"]);
}

/// R-ALERT-3 (issue 16, forecast dates): a completion later than twice the term reads "not at
/// this rate" (text) and is null with a reason (JSON), never a year like 7710; one within it
/// is a date.
#[test]
fn forecasts_beyond_twice_the_term_read_not_at_this_rate() {
    let l = ledger();
    let doc = l.json(&["alerts", "--as-of", "2025-07-10"]);
    // The MACC: about 97,000 left at 1,020.00 a month is years past 2026-12-31.
    let macc = row(&doc, "macc-2025");
    assert_eq!(macc["forecastCompletion"], Value::Null, "{macc:#}");
    assert_eq!(
        macc["forecastReason"],
        "not at this rate: later than twice the term"
    );
    // The CACO milestone is reached within twice its term: a date, no reason.
    let year = row(&doc, "Year");
    let date = year["forecastCompletion"].as_str().expect("a date");
    assert!(date > "2025-07-10" && date <= "2026-12-30", "{date}");
    assert_eq!(year["forecastReason"], Value::Null);
    let text = l.ok(&["alerts", "--as-of", "2025-07-10"]);
    let line = text
        .lines()
        .find(|l| l.starts_with("macc-2025"))
        .expect("the MACC's row");
    assert!(line.contains("not at this rate"), "{text}");
    let dates = text
        .split_whitespace()
        .filter(|w| w.len() == 10 && w.as_bytes()[4] == b'-' && w.as_bytes()[7] == b'-');
    for date in dates {
        assert!(date < "2100", "{date} in\n{text}");
    }
}

/// Issue 16 (credit alerts): a credit lot with a balance expiring within 90, 60, 30 days is in
/// `alerts` with the amount at risk (text and JSON); not before it starts, not once spent
/// (aco-1 paid January), not after it expired.
#[test]
fn expiring_credits_appear_in_alerts_with_the_amount_at_risk() {
    let l = ledger();
    for (as_of, level, days) in [
        ("2025-08-15", 60, 46),
        ("2025-07-02", 90, 90),
        ("2025-09-15", 30, 15),
    ] {
        let doc = l.json(&["alerts", "--as-of", as_of]);
        let credits = doc["credits"].as_array().expect("a credits array");
        let lots: Vec<&str> = credits.iter().filter_map(|c| c["lot"].as_str()).collect();
        if as_of == "2025-07-02" {
            assert!(lots.is_empty(), "aco-2 starts in August: {doc:#}");
            continue;
        }
        assert_eq!(lots, ["aco-2"], "aco-1 has no balance left: {doc:#}");
        let c = &credits[0];
        assert_eq!(c["alert"], level, "{as_of}");
        assert_eq!(c["daysLeft"], days, "{as_of}");
        assert_eq!(c["kind"], "aco");
        assert_eq!(c["expires"], "2025-09-30");
        assert_eq!(c["currency"], "USD");
        assert_eq!(amount(&c["amountAtRisk"]), dec("250"));
        let text = l.ok(&["alerts", "--as-of", as_of]);
        let line = text
            .lines()
            .find(|l| l.starts_with("aco-2"))
            .unwrap_or_else(|| panic!("no aco-2 row:\n{text}"));
        assert!(
            line.contains("250.00") && line.contains(&level.to_string()),
            "{line}"
        );
    }
    let doc = l.json(&["alerts", "--as-of", "2025-10-01"]);
    assert_eq!(doc["credits"], serde_json::json!([]), "expired: {doc:#}");
}

/// Issue 16 (visibility): MACC milestones on the MACC lot in `lots --json` and the `lots`
/// table: status, target, progress, shortfall; after `close`, the missed milestone's shortfall.
#[test]
fn macc_milestones_are_on_the_macc_lot() {
    let l = ledger();
    let milestone = |doc: &Value| -> Value {
        let lot = doc["value"]
            .as_array()
            .expect("lots")
            .iter()
            .find(|l| l["name"] == "macc-2025")
            .expect("the MACC lot")
            .clone();
        let ms = lot["properties"]["milestones"]
            .as_array()
            .expect("milestones");
        assert_eq!(ms.len(), 1, "{lot:#}");
        ms[0].clone()
    };
    let before = milestone(&l.json(&["lots"]));
    assert_eq!(before["id"], "M1");
    assert_eq!(before["dueDate"], "2025-09-30");
    assert_eq!(before["status"], "Active");
    assert_eq!(amount(&before["target"]), dec("60000"));
    // Decrements so far: 400 (January, after the ACO's 600) + 3,000 (the prepayment) + 400
    // (March's reservation after 2,000 of prepayment) + 1,000 + 15,000 (the shortfall
    // purchase) + 1,200 (April) + 1,000 − 100 (June and its refund).
    assert_eq!(amount(&before["progress"]), dec("21900"));
    assert_eq!(before["shortfall"], Value::Null);
    // Credit lots carry no milestones.
    let lots = l.json(&["lots"]);
    let aco = lots["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "aco-1")
        .expect("aco-1");
    assert_eq!(aco["properties"].get("milestones"), None);
    let text = l.ok(&["lots"]);
    assert!(text.contains("MACC milestones"), "{text}");
    let row = text
        .lines()
        .find(|r| r.split_whitespace().take(2).eq(["macc-2025", "M1"]))
        .unwrap_or_else(|| panic!("no M1 row:\n{text}"));
    assert_mentions_all(row, &["2025-09-30", "Active", "60,000.00", "21,900.00"]);

    l.ok(&["close", "--through", "2025-10-31"]);
    let after = milestone(&l.json(&["lots"]));
    assert_eq!(after["status"], "Missed", "{after:#}");
    assert_eq!(amount(&after["progress"]), dec("21900"));
    assert_eq!(amount(&after["shortfall"]), dec("38100"));
    let text = l.ok(&["lots"]);
    let row = text
        .lines()
        .find(|r| r.split_whitespace().take(2).eq(["macc-2025", "M1"]))
        .unwrap_or_else(|| panic!("no M1 row:\n{text}"));
    assert_mentions_all(row, &["Missed", "38,100.00"]);
}

fn assert_mentions_all(line: &str, needles: &[&str]) {
    for n in needles {
        assert!(line.contains(n), "{n:?} not in {line:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// `ledger plan` and what-if into the future.

/// The issue's example: a 12,000 MACC for 2025, 6,000 left after June (1,000 of usage a month,
/// split between two billing profiles, plus support, which counts nowhere), a 600 ACO credit
/// from July.
const EXAMPLE: &str = r#"
account = "contoso"
currency = "USD"

[[macc]]
id = "m1"
amount = "12000"
start = "2025-01-01"
end = "2025-12-31"

[[credit]]
id = "aco-july"
kind = "aco"
amount = "600"
start = "2025-07-01"
expires = "2025-12-31"
"#;

/// The same MACC with a CACO milestone for the third quarter whose award, once earned, pays
/// later usage that would have counted toward the MACC.
const AWARD: &str = r#"
account = "contoso"
currency = "USD"

[[macc]]
id = "m1"
amount = "12000"
start = "2025-01-01"
end = "2025-12-31"

[[caco]]
id = "caco-1"
start = "2025-07-01"
  [[caco.milestones]]
  id = "Q3"
  start = "2025-07-01"
  end = "2025-09-30"
  target = "3600"
  award = "1500"
"#;

/// January to June: 600 of usage on Eng and 400 on Ops a month, 100 of support.
fn first_half() -> String {
    let mut csv = String::from(
        "invoice_id,invoice_date,period_start,period_end,billing_profile,charge_date,kind,amount,currency\n",
    );
    for m in 1..=6 {
        let head = format!(
            "INV-{m:02},2025-{:02}-05,2025-{m:02}-01,2025-{m:02}-28",
            m + 1
        );
        for (profile, kind, amount) in [
            ("Eng", "usage", 600),
            ("Ops", "usage", 400),
            ("Ops", "support", 100),
        ] {
            csv.push_str(&format!(
                "{head},{profile},2025-{m:02}-15,{kind},{amount},USD\n"
            ));
        }
    }
    csv
}

fn ledger_with(agreement: &str) -> Ledger {
    let l = Ledger::new();
    let a = l.write("agreement.toml", agreement);
    let c = l.write("charges.csv", first_half());
    l.ok(&["agreement".as_ref(), a.as_os_str()]);
    l.ok(&["ingest".as_ref(), c.as_os_str()]);
    l
}

fn plan_row<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["value"]
        .as_array()
        .expect("a value array")
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no plan row {id} in {doc:#}"))
}

/// Issue 16 (plan): the issue's example. The ACO pays 600 of July's usage, which then does not
/// count toward the MACC, so 1,000.00 a month leaves 600.00 short and 1,100.00 is needed.
#[test]
fn plan_needs_1100_a_month_when_a_july_aco_pays_usage_first() {
    let l = ledger_with(EXAMPLE);
    let doc = l.json(&["plan", "--as-of", "2025-07-10"]);
    let rows = doc["value"].as_array().expect("value");
    assert_eq!(rows.len(), 1, "{doc:#}");
    let m1 = plan_row(&doc, "m1");
    assert_eq!(m1["kind"], "macc");
    assert_eq!(m1["account"], "contoso");
    assert_eq!(m1["currency"], "USD");
    assert_eq!(m1["deadline"], "2025-12-31");
    assert_eq!(m1["monthsLeft"], 6);
    assert_eq!(amount(&m1["remaining"]), dec("6000"));
    assert_eq!(amount(&m1["runRate"]), dec("1000"), "support is not burn");
    assert_eq!(amount(&m1["requiredMonthly"]), dec("1100"), "{m1:#}");
    assert_eq!(amount(&m1["gapMonthly"]), dec("100"));
    assert_eq!(amount(&m1["projectedShortfall"]), dec("600"));
    assert_eq!(m1["projectedCompletion"], Value::Null);
    assert_eq!(m1["awardAtRisk"], Value::Null);
    let text = l.ok(&["plan", "--as-of", "2025-07-10"]);
    let line = text
        .lines()
        .find(|r| r.starts_with("m1 "))
        .unwrap_or_else(|| panic!("no m1 row:\n{text}"));
    assert_mentions_all(
        line,
        &[
            "macc",
            "2025-12-31",
            "6,000.00",
            "1,000.00",
            "1,100.00",
            "600.00",
        ],
    );
    // A narrower window and another as-of month: 5 months left from August.
    let doc = l.json(&["plan", "--as-of", "2025-08-01", "--window", "3"]);
    assert_eq!(plan_row(&doc, "m1")["monthsLeft"], 5);
    l.usage_error(&["plan", "--as-of", "2025-07-10", "--window", "0"]);
    l.fails(&["plan", "--as-of", "2025-07-10", "--account", "nobody"]);
}

/// Issue 16 (plan): meeting is not monotone. From 1,200.00 a month the Q3 milestone is met and
/// its 1,500.00 award pays usage that would have counted toward m1, so m1 ends short until
/// 1,250.00; 1,000.00 meets m1 but is not the answer (every larger amount must meet too).
#[test]
fn required_monthly_is_past_the_award_that_absorbs_usage() {
    let l = ledger_with(AWARD);
    let doc = l.json(&["plan", "--as-of", "2025-07-10"]);
    let m1 = plan_row(&doc, "m1");
    assert_eq!(amount(&m1["requiredMonthly"]), dec("1250"), "{doc:#}");
    assert_eq!(amount(&m1["projectedShortfall"]), dec("0"));
    assert_eq!(m1["projectedCompletion"], "2026-01-05");
    let q3 = plan_row(&doc, "caco-1/Q3");
    assert_eq!(q3["kind"], "caco_milestone");
    assert_eq!(q3["monthsLeft"], 3);
    assert_eq!(amount(&q3["requiredMonthly"]), dec("1200"));
    // The CACO started in July: no month of its own measured, so its run rate is 0.00 and the
    // award is at risk.
    assert_eq!(amount(&q3["runRate"]), dec("0"));
    assert_eq!(amount(&q3["awardAtRisk"]), dec("1500"));
    // The same futures through what-if: 1,000.00 and 1,250.00 meet m1, 1,200.00 does not.
    for (monthly, m1_short) in [("1000", false), ("1200", true), ("1250", false)] {
        l.write(
            "spend.toml",
            format!(
                "through = \"2025-12-31\"\n[[change]]\nop = \"add\"\nmonthly = \"{monthly}\"\n\
                 kind = \"usage\"\nbilling_profile = \"Eng\"\nfrom = \"2025-07\"\nto = \"2025-12\"\n"
            ),
        );
        let text = l.ok(&["whatif", "spend.toml"]);
        assert_eq!(
            text.contains("m1: Active → Expired"),
            m1_short,
            "{monthly} a month:\n{text}"
        );
    }
}

/// Issue 16 (what-if): `project` adds the run rate's mix (no support) for July to December,
/// `through` evaluates every deadline on the fork: the shortfall is the plan's projected one;
/// `scale` and `growth` (compounding) change the projected months.
#[test]
fn whatif_project_through_evaluates_the_deadlines_plan_projects() {
    let l = ledger_with(EXAMPLE);
    let plan = l.json(&["plan", "--as-of", "2025-07-10"]);
    let shortfall = amount(&plan_row(&plan, "m1")["projectedShortfall"]);
    l.write(
        "project.toml",
        "name = \"run rate\"\nthrough = \"2025-12-31\"\n[[change]]\nop = \"project\"\nfrom = \"2025-07\"\nto = \"2025-12\"\n",
    );
    let text = l.ok(&["whatif", "project.toml"]);
    assert!(
        text.contains("m1: Active → Expired, shortfall 600.00"),
        "{text}"
    );
    assert_eq!(shortfall, dec("600"));
    let doc = l.json(&["whatif", "project.toml"]);
    let invoices = doc["scenario"]["invoices"].as_array().expect("invoices");
    let july = invoices
        .iter()
        .find(|i| i["invoiceNumber"] == "WHATIF-2025-07")
        .unwrap_or_else(|| panic!("no July invoice: {doc:#}"));
    assert_eq!(
        amount(&july["charges"]),
        dec("1000"),
        "usage only: {july:#}"
    );
    assert_eq!(july["synthetic"], true);
    // Without through, nothing is evaluated: the MACC is still open at the end of the fork.
    l.write(
        "open.toml",
        "[[change]]\nop = \"project\"\nfrom = \"2025-07\"\nto = \"2025-12\"\n",
    );
    let text = l.ok(&["whatif", "open.toml"]);
    assert!(!text.contains("Expired"), "{text}");
    // 10 % more a month, compounding: December is 1,000 × 1.1^5 = 1,610.51; m1 completes.
    l.write(
        "grow.toml",
        "through = \"2025-12-31\"\n[[change]]\nop = \"project\"\nfrom = \"2025-07\"\nto = \"2025-12\"\ngrowth = \"0.1\"\n",
    );
    let doc = l.json(&["whatif", "grow.toml"]);
    let december = doc["scenario"]["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["invoiceNumber"] == "WHATIF-2025-12")
        .expect("December")
        .clone();
    assert_eq!(amount(&december["charges"]), dec("1610.51"));
    let text = l.ok(&["whatif", "grow.toml"]);
    assert!(text.contains("m1: Active → Completed"), "{text}");
    // scale = 1.1 is exactly the plan's required 1,100.00 a month: m1 completes.
    l.write(
        "scale.toml",
        "through = \"2025-12-31\"\n[[change]]\nop = \"project\"\nfrom = \"2025-07\"\nto = \"2025-12\"\nscale = \"1.1\"\n",
    );
    let text = l.ok(&["whatif", "scale.toml"]);
    assert!(text.contains("m1: Active → Completed"), "{text}");
}

/// Issue 16 (what-if consequences): a CACO milestone missed on the fork names the award it
/// forfeits.
#[test]
fn whatif_through_lists_forfeited_awards() {
    let l = ledger_with(AWARD);
    l.write(
        "project.toml",
        "through = \"2025-12-31\"\n[[change]]\nop = \"project\"\nfrom = \"2025-07\"\nto = \"2025-12\"\n",
    );
    let text = l.ok(&["whatif", "project.toml"]);
    assert!(
        text.contains("Q3: Active → Missed, 1,500.00 ACO award forfeited"),
        "{text}"
    );
}

/// Issue 16 (what-if): a bad `project` or `through` is refused naming the file, line and key.
#[test]
fn bad_project_changes_are_refused_with_their_line() {
    let l = ledger_with(EXAMPLE);
    for (text, want) in [
        (
            "[[change]]\nop = \"project\"\nfrom = \"2025-07\"\nto = \"2025-12\"\ngrowth = \"-1.5\"\n",
            "bad.toml:5: change[0] growth: is -1.5; expected -1 or more",
        ),
        (
            "[[change]]\nop = \"project\"\nfrom = \"2025-07\"\nto = \"2025-12\"\nmonthly = \"5\"\n",
            "bad.toml:5: change[0] monthly: does not apply to op = \"project\"",
        ),
        (
            "[[change]]\nop = \"project\"\nfrom = \"2025-07\"\nto = \"2025-12\"\nwindow = 0\n",
            "bad.toml:5: change[0] window: is 0; expected a whole number of months from 1 to 120",
        ),
        (
            "through = \"2025-13-01\"\n",
            "bad.toml:1: through: '2025-13-01' is not a date",
        ),
    ] {
        l.write("bad.toml", text);
        let err = l.fails(&["whatif", "bad.toml"]);
        assert!(err.contains(want), "for\n{text}\ngot {err}\nwant {want}");
    }
}

/// Issue 16 (plan): MACC and CACO milestones get rows with their parent in the id; the award
/// of a CACO milestone missed at the run rate is at risk.
#[test]
fn plan_rows_for_milestones_name_their_parent() {
    let l = ledger();
    let doc = l.json(&["plan", "--as-of", "2025-07-10"]);
    let ids: Vec<&str> = doc["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    // By deadline, then MACCs before CACO milestones.
    assert_eq!(ids, ["macc-2025/M1", "macc-2025", "caco-1/Year"], "{doc:#}");
    let m1 = plan_row(&doc, "macc-2025/M1");
    assert_eq!(m1["kind"], "macc_milestone");
    assert_eq!(m1["deadline"], "2025-09-30");
    assert_eq!(m1["monthsLeft"], 3);
    assert_eq!(amount(&m1["remaining"]), dec("38100"));
    assert_eq!(m1["awardAtRisk"], Value::Null);
    let year = plan_row(&doc, "caco-1/Year");
    assert_eq!(year["kind"], "caco_milestone");
    assert_eq!(amount(&year["runRate"]), dec("980"));
    assert!(year["awardAtRisk"].is_number(), "{year:#}");
}

/// Issue 16 (uncertainty): `plan --simulate N --seed S` draws N futures from the window's
/// months. Months alike give no spread (every future is the run rate: the projected shortfall
/// at P10, P50 and P90, never met); months that vary give a spread, the same for a seed.
#[test]
fn simulate_draws_futures_from_the_windows_months_deterministically() {
    let l = ledger_with(EXAMPLE);
    let doc = l.json(&["plan", "--as-of", "2025-07-10", "--simulate", "50"]);
    let sim = &plan_row(&doc, "m1")["simulation"];
    assert_eq!(sim["runs"], 50, "{doc:#}");
    assert_eq!(sim["seed"], 0);
    assert_eq!(amount(&sim["probabilityMet"]), dec("0"));
    for p in ["shortfallP10", "shortfallP50", "shortfallP90"] {
        assert_eq!(amount(&sim[p]), dec("600"), "{p}: {sim:#}");
    }
    l.usage_error(&["plan", "--as-of", "2025-07-10", "--seed", "3"]);

    // January to June: 700, 1,300, 900, 1,100, 800, 1,200 (the same 1,000.00 run rate).
    let v = Ledger::new();
    let a = v.write("agreement.toml", EXAMPLE);
    let mut csv = String::from(
        "invoice_id,invoice_date,period_start,period_end,billing_profile,charge_date,kind,amount,currency\n",
    );
    for (m, amount) in (1..=6).zip([700, 1300, 900, 1100, 800, 1200]) {
        csv.push_str(&format!(
            "V-{m:02},2025-{:02}-05,2025-{m:02}-01,2025-{m:02}-28,Eng,2025-{m:02}-15,usage,{amount},USD\n",
            m + 1
        ));
    }
    let c = v.write("charges.csv", csv);
    v.ok(&["agreement".as_ref(), a.as_os_str()]);
    v.ok(&["ingest".as_ref(), c.as_os_str()]);
    let args = [
        "plan",
        "--as-of",
        "2025-07-10",
        "--simulate",
        "400",
        "--seed",
        "7",
    ];
    let first = v.json(&args);
    assert_eq!(first, v.json(&args), "the same seed draws the same futures");
    let sim = &plan_row(&first, "m1")["simulation"];
    let p = amount(&sim["probabilityMet"]);
    assert!(p > dec("0") && p < dec("1"), "{sim:#}");
    let (p10, p50, p90) = (
        amount(&sim["shortfallP10"]),
        amount(&sim["shortfallP50"]),
        amount(&sim["shortfallP90"]),
    );
    assert!(p10 <= p50 && p50 <= p90 && p10 < p90, "{sim:#}");
    let text = v.ok(&args);
    assert!(
        text.contains("400 futures per row") && text.contains("P(meet)"),
        "{text}"
    );
}

//! What-if replays (issue 4): each change kind, replaced terms, several scenarios in parallel
//! equal to one by one, an empty scenario equal to the recorded ledger, and a log that the
//! replay never touches.

use std::sync::Arc;

use ledger_core::agreement::{
    AccountTerms, CacoBasis, CacoMilestoneTerms, CacoTerms, CreditTerms, MaccMilestoneTerms,
    MaccTerms,
};
use ledger_core::{
    Agreement, ChargeKind, ChargeLine, CreditKind, Date, Fact, Factor, Invoice, KindSet, Money,
    StrRef,
};
use ledger_replay::load::load;
use ledger_replay::whatif::{self, Change, LineFilter, Scenario, WhatIfError};
use ledger_replay::write::stage;
use ledger_replay::Projections;
use ledger_store::{agreement_content_hash, invoice_content_hash, Appender, Store};

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}
fn m(s: &str) -> Money {
    Money::parse(s).unwrap()
}

const ACCOUNT: &str = "contoso";

fn agreement() -> Agreement {
    Agreement {
        account: ACCOUNT.into(),
        currency: "USD".into(),
        terms: AccountTerms::default(),
        maccs: vec![MaccTerms {
            id: "macc-2025".into(),
            amount: m("50000"),
            start: d("2025-01-01"),
            end: d("2025-12-31"),
            purchased: None,
            enrollment_end: None,
            renewed: None,
            shortfall_credit_months: 12,
            milestones: vec![MaccMilestoneTerms {
                id: "M1".into(),
                due: d("2025-03-31"),
                target: m("12000"),
            }],
        }],
        cacos: vec![CacoTerms {
            id: "caco-1".into(),
            start: d("2025-01-01"),
            basis: CacoBasis::Period,
            award_months: 12,
            milestones: vec![
                CacoMilestoneTerms {
                    id: "Milestone1".into(),
                    start: d("2025-01-01"),
                    end: d("2025-03-31"),
                    target: m("9000"),
                    award: m("1000"),
                },
                CacoMilestoneTerms {
                    id: "Milestone2".into(),
                    start: d("2025-04-01"),
                    end: d("2025-06-30"),
                    target: m("9000"),
                    award: m("2000"),
                },
            ],
        }],
        credits: vec![CreditTerms {
            id: "aco-1".into(),
            kind: CreditKind::Aco,
            amount: m("500"),
            start: d("2025-01-01"),
            expires: d("2025-12-31"),
            covers: None,
        }],
    }
}

/// `(profile, charge date, kind, amount, service)`.
type Line<'a> = (&'a str, &'a str, ChargeKind, &'a str, Option<&'a str>);

fn invoice(id: &str, date: &str, month: &str, lines: &[Line]) -> Fact {
    let start = d(&format!("{month}-01"));
    let mut profiles: Vec<String> = Vec::new();
    let mut strings: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for (profile, charge_date, kind, amount, service) in lines {
        let p = match profiles.iter().position(|x| x == profile) {
            Some(i) => i,
            None => {
                profiles.push(profile.to_string());
                profiles.len() - 1
            }
        };
        let service = match service {
            None => StrRef::NONE,
            Some(s) => match strings.iter().position(|x| x == s) {
                Some(i) => StrRef::new(i as u32),
                None => {
                    strings.push(s.to_string());
                    StrRef::new(strings.len() as u32 - 1)
                }
            },
        };
        out.push(ChargeLine {
            amount: m(amount),
            charge_date: d(charge_date),
            kind: *kind,
            profile: p as u16,
            corrects_kind: None,
            line_id: StrRef::NONE,
            service,
            publisher: StrRef::NONE,
            description: StrRef::NONE,
            corrects: StrRef::NONE,
        });
    }
    let mut inv = Invoice {
        account: ACCOUNT.into(),
        id: id.into(),
        date: d(date),
        period_start: start,
        period_end: start.month_end(),
        currency: "USD".into(),
        content_hash: [0; 32],
        profiles,
        strings,
        lines: out,
    };
    inv.content_hash = invoice_content_hash(&inv);
    Fact::Invoice(inv)
}

fn month_invoice(month: &str, date: &str) -> Fact {
    let day = format!("{month}-15");
    invoice(
        &format!("INV-{month}"),
        date,
        month,
        &[
            (
                "Engineering",
                &day,
                ChargeKind::Usage,
                "4000",
                Some("Virtual Machines"),
            ),
            ("Finance", &day, ChargeKind::Usage, "1000", Some("Storage")),
            ("Finance", &day, ChargeKind::Marketplace, "200", None),
        ],
    )
}

/// The recorded ledger: January to April and June (no May invoice), a prepayment bought in
/// February after a Storage line, and a close through July.
fn facts() -> Vec<Fact> {
    let agreement = agreement();
    let content_hash = agreement_content_hash(&agreement);
    vec![
        Fact::Agreement {
            agreement,
            content_hash,
        },
        month_invoice("2025-01", "2025-02-05"),
        invoice(
            "INV-2025-02",
            "2025-03-05",
            "2025-02",
            &[
                (
                    "Finance",
                    "2025-02-10",
                    ChargeKind::Usage,
                    "1000",
                    Some("Storage"),
                ),
                (
                    "Engineering",
                    "2025-02-11",
                    ChargeKind::PrepaymentPurchase,
                    "3000",
                    None,
                ),
                (
                    "Engineering",
                    "2025-02-15",
                    ChargeKind::Usage,
                    "4000",
                    Some("Virtual Machines"),
                ),
            ],
        ),
        month_invoice("2025-03", "2025-04-05"),
        month_invoice("2025-04", "2025-05-05"),
        month_invoice("2025-06", "2025-07-05"),
        Fact::Close {
            account: ACCOUNT.into(),
            through: d("2025-07-31"),
        },
    ]
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    baseline: Projections,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("data"), "whatif test").unwrap();
    let mut projections = Projections::new();
    for fact in facts() {
        let mut appender = Appender::new(store.head());
        let staged = stage(&mut projections, &mut appender, &fact)
            .unwrap()
            .expect("not a repeat");
        store.append(&staged.records).unwrap();
    }
    store.flush().unwrap();
    let baseline = load(&store).unwrap();
    assert_eq!(baseline, projections);
    Fixture {
        _dir: dir,
        store,
        baseline,
    }
}

fn scenario(name: &str, changes: Vec<Change>) -> Scenario {
    Scenario {
        name: name.into(),
        changes,
        agreement_override: None,
        through: None,
    }
}

fn usage_from(from: &str) -> LineFilter {
    LineFilter {
        kinds: Some(KindSet::of(&[ChargeKind::Usage])),
        from: Some(d(from)),
        ..LineFilter::default()
    }
}

fn run_one(f: &Fixture, s: Scenario) -> Projections {
    whatif::run(&f.store, &f.baseline, &[s])
        .unwrap()
        .pop()
        .unwrap()
}

fn invoice_ids(p: &Projections) -> Vec<String> {
    p.ledger.accounts[ACCOUNT]
        .invoices
        .iter()
        .map(|s| s.id.clone())
        .collect()
}

fn charges(p: &Projections, id: &str) -> Money {
    p.ledger.accounts[ACCOUNT].invoice(id).unwrap().charges
}

fn lot_ids(p: &Projections) -> Vec<String> {
    p.ledger.accounts[ACCOUNT]
        .lots
        .iter()
        .map(|l| l.terms.id.clone())
        .collect()
}

#[test]
fn baseline_facts_settle_as_designed() {
    let f = fixture();
    let figures = whatif::figures(&f.baseline);
    let a = &figures.accounts[0];
    let status: Vec<(&str, &str)> = a
        .caco_milestones
        .iter()
        .map(|m| (m.id.as_str(), m.status))
        .collect();
    assert_eq!(
        status,
        [("Milestone1", "Completed"), ("Milestone2", "Completed")]
    );
    assert_eq!(
        invoice_ids(&f.baseline),
        [
            "INV-2025-01",
            "INV-2025-02",
            "INV-2025-03",
            "INV-2025-04",
            "INV-2025-06"
        ]
    );
    assert!(lot_ids(&f.baseline).contains(&"INV-2025-02/2".to_string()));
}

#[test]
fn an_empty_scenario_replays_to_exactly_the_recorded_projections() {
    let f = fixture();
    let p = run_one(&f, scenario("nothing", vec![]));
    assert_eq!(p, f.baseline, "the what-if fold is the ingest fold");
    // A scale by one changes no amount: every invoice passes through.
    let p = run_one(
        &f,
        scenario(
            "times one",
            vec![Change::Scale {
                filter: LineFilter::default(),
                factor: Factor::parse("1.000").unwrap(),
            }],
        ),
    );
    assert_eq!(p, f.baseline);
    assert_eq!(whatif::figures(&p), whatif::figures(&f.baseline));
}

#[test]
fn scale_cuts_usage_from_a_date_and_misses_a_milestone() {
    let f = fixture();
    let p = run_one(
        &f,
        scenario(
            "cut",
            vec![Change::Scale {
                filter: usage_from("2025-04-01"),
                factor: Factor::parse("0.5").unwrap(),
            }],
        ),
    );
    // Before April nothing changes; from April usage is halved (marketplace is not usage).
    assert_eq!(
        charges(&p, "INV-2025-03"),
        charges(&f.baseline, "INV-2025-03")
    );
    assert_eq!(charges(&p, "INV-2025-04"), m("2700"));
    assert_eq!(charges(&p, "INV-2025-06"), m("2700"));
    assert_eq!(
        caco_milestone_status(&f.baseline, "Milestone2"),
        "Completed"
    );
    assert_eq!(caco_milestone_status(&p, "Milestone2"), "Missed");
    assert_eq!(
        billed(&f.baseline).checked_sub(billed(&p)).unwrap(),
        m("5000"),
        "the billed total falls by 5,000.00"
    );
    // The award lot of Milestone2 never opens.
    assert!(lot_ids(&f.baseline).contains(&"caco-1/Milestone2/award".to_string()));
    assert!(!lot_ids(&p).contains(&"caco-1/Milestone2/award".to_string()));
}

#[test]
fn scale_rounds_half_even_only_beyond_24_places() {
    let f = fixture();
    let p = run_one(
        &f,
        scenario(
            "third",
            vec![Change::Scale {
                filter: LineFilter {
                    service: Some("Storage".into()),
                    ..LineFilter::default()
                },
                factor: Factor::parse("0.333").unwrap(),
            }],
        ),
    );
    // 1000 × 0.333 = 333 exactly; 4000 and 200 unchanged.
    assert_eq!(charges(&p, "INV-2025-01"), m("4533"));
}

#[test]
fn drop_removes_lines_and_keeps_the_recorded_lot_ids() {
    let f = fixture();
    let p = run_one(
        &f,
        scenario(
            "no storage",
            vec![Change::Drop {
                filter: LineFilter {
                    service: Some("Storage".into()),
                    ..LineFilter::default()
                },
            }],
        ),
    );
    for id in ["INV-2025-01", "INV-2025-02", "INV-2025-03", "INV-2025-04"] {
        let before = charges(&f.baseline, id);
        assert_eq!(
            charges(&p, id),
            before.checked_sub(m("1000")).unwrap(),
            "{id}"
        );
    }
    let summary = p.ledger.accounts[ACCOUNT].invoice("INV-2025-02").unwrap();
    assert_eq!(summary.line_count, 2);
    // The prepayment was line 2; with line 1 dropped it is first, yet its lot keeps its id.
    let acct = &p.ledger.accounts[ACCOUNT];
    let prepayment = acct
        .credit_index("INV-2025-02/2")
        .expect("the recorded lot id");
    assert_eq!(acct.lots[prepayment].terms.amount, m("3000"));
    assert!(acct.credit_index("INV-2025-02/1").is_none());

    // A filter on a billing profile and a kind set.
    let p = run_one(
        &f,
        scenario(
            "no finance marketplace",
            vec![Change::Drop {
                filter: LineFilter {
                    billing_profile: Some("Finance".into()),
                    kinds: Some(KindSet::of(&[ChargeKind::Marketplace])),
                    to: Some(d("2025-03-31")),
                    ..LineFilter::default()
                },
            }],
        ),
    );
    assert_eq!(charges(&p, "INV-2025-01"), m("5000"));
    assert_eq!(charges(&p, "INV-2025-03"), m("5000"));
    assert_eq!(charges(&p, "INV-2025-04"), m("5200"));
}

#[test]
fn add_goes_into_the_months_invoice_or_a_whatif_invoice_in_its_place() {
    let f = fixture();
    let p = run_one(
        &f,
        scenario(
            "grow",
            vec![Change::Add {
                monthly: m("3000"),
                kind: ChargeKind::Usage,
                billing_profile: "Research".into(),
                account: None,
                service: Some("AI".into()),
                from_month: d("2025-04-01"),
                to_month: d("2025-08-31"),
            }],
        ),
    );
    // April and June have invoices: the line joins them (with a new billing profile).
    assert_eq!(charges(&p, "INV-2025-04"), m("8200"));
    assert_eq!(charges(&p, "INV-2025-06"), m("8200"));
    // May has none: WHATIF-2025-05, dated 2025-06-05, settles just before the June invoice.
    // July is covered by the close through July 31: it settles before the close. August comes
    // after everything recorded.
    assert_eq!(
        invoice_ids(&p),
        [
            "INV-2025-01",
            "INV-2025-02",
            "INV-2025-03",
            "INV-2025-04",
            "WHATIF-2025-05",
            "INV-2025-06",
            "WHATIF-2025-07",
            "WHATIF-2025-08"
        ]
    );
    let acct = &p.ledger.accounts[ACCOUNT];
    let may = acct.invoice("WHATIF-2025-05").unwrap();
    assert_eq!(
        (may.date, may.period_start, may.period_end, may.charges),
        (d("2025-06-05"), d("2025-05-01"), d("2025-05-31"), m("3000"))
    );
    assert!(may.synthetic);
    // The added April to June spend counts toward Milestone2, which now completes on the May
    // what-if invoice: its 2,000 award opens then and pays 2,000 of June's usage, which
    // counts toward no CACO (R-ELIG): 10,000 + 9,000 − 2,000.
    let baseline_m2 = &f.baseline.ledger.accounts[ACCOUNT].cacos[0].milestones[1];
    let m2 = &acct.cacos[0].milestones[1];
    assert_eq!(baseline_m2.progress, m("10000"));
    assert_eq!(m2.progress, m("17000"));
    let award = acct.credit_index("caco-1/Milestone2/award").unwrap();
    assert_eq!(acct.lots[award].opened, d("2025-06-05"));
    // The Events API view names the engine-made invoice, with ids beyond any log seq.
    let events = &p.views[ACCOUNT].lot_events;
    let may_event = events
        .iter()
        .find(|e| e.invoice.as_deref() == Some("WHATIF-2025-05"))
        .expect("a decrement of the May what-if invoice");
    assert!(may_event.seq >= whatif::WHATIF_SEQ_BASE);
    assert_eq!(may_event.charges, m("-3000"));
}

#[test]
fn add_refuses_what_cannot_be_settled() {
    let f = fixture();
    let bad =
        |change: Change| match whatif::run(&f.store, &f.baseline, &[scenario("bad", vec![change])])
        {
            Err(WhatIfError::Change {
                change, message, ..
            }) => (change, message),
            other => panic!("expected a change error, got {other:?}"),
        };
    let add = |monthly: &str, kind: ChargeKind, account: Option<&str>| Change::Add {
        monthly: m(monthly),
        kind,
        billing_profile: "Engineering".into(),
        account: account.map(str::to_string),
        service: None,
        from_month: d("2025-01-01"),
        to_month: d("2025-02-01"),
    };
    let (index, message) = bad(add("-5", ChargeKind::Usage, None));
    assert_eq!(index, 1);
    assert!(
        message.contains("only refund lines may be negative"),
        "{message}"
    );
    let (_, message) = bad(add("5", ChargeKind::Refund, None));
    assert!(message.contains("must be negative"), "{message}");
    let (_, message) = bad(add("5", ChargeKind::Usage, Some("fabrikam")));
    assert!(message.contains("no account 'fabrikam'"), "{message}");
    let (_, message) = bad(Change::Scale {
        filter: LineFilter::default(),
        factor: Factor::parse("-1").unwrap(),
    });
    assert!(message.contains("negative"), "{message}");
}

fn replaced_terms(agreement: &Agreement) -> Result<Agreement, String> {
    let mut a = agreement.clone();
    a.maccs[0].amount = m("30000");
    a.cacos[0].milestones[1].target = m("30000");
    Ok(a)
}

#[test]
fn replaced_terms_change_the_outcome() {
    let f = fixture();
    let mut s = scenario("harder", vec![]);
    s.agreement_override = Some(Arc::new(replaced_terms));
    let p = run_one(&f, s);
    let acct = &p.ledger.accounts[ACCOUNT];
    assert_eq!(acct.maccs[0].terms.amount, m("30000"));
    assert_eq!(
        caco_milestone_status(&f.baseline, "Milestone2"),
        "Completed"
    );
    assert_eq!(caco_milestone_status(&p, "Milestone2"), "Missed");
    let remaining = |p: &Projections| whatif::figures(p).accounts[0].maccs[0].remaining;
    assert_ne!(
        remaining(&p),
        remaining(&f.baseline),
        "the MACC's remaining changes"
    );

    // An override that fails names the scenario and the account.
    let mut s = scenario("broken", vec![]);
    s.agreement_override = Some(Arc::new(|_: &Agreement| Err("no such key".to_string())));
    match whatif::run(&f.store, &f.baseline, &[s]) {
        Err(e @ WhatIfError::Agreement { .. }) => assert_eq!(
            e.to_string(),
            "scenario broken: the agreement of account contoso: no such key"
        ),
        other => panic!("expected an agreement error, got {other:?}"),
    }
}

fn several() -> Vec<Scenario> {
    let mut harder = scenario("harder", vec![]);
    harder.agreement_override = Some(Arc::new(replaced_terms));
    vec![
        scenario(
            "cut",
            vec![Change::Scale {
                filter: usage_from("2025-04-01"),
                factor: Factor::parse("0.5").unwrap(),
            }],
        ),
        scenario(
            "grow",
            vec![
                Change::Drop {
                    filter: LineFilter {
                        kinds: Some(KindSet::of(&[ChargeKind::Marketplace])),
                        ..LineFilter::default()
                    },
                },
                Change::Add {
                    monthly: m("2500.125"),
                    kind: ChargeKind::Usage,
                    billing_profile: "Engineering".into(),
                    account: Some(ACCOUNT.into()),
                    service: None,
                    from_month: d("2025-03-01"),
                    to_month: d("2025-09-30"),
                },
            ],
        ),
        harder,
        scenario("nothing", vec![]),
    ]
}

#[test]
fn several_scenarios_in_parallel_equal_one_by_one() {
    let f = fixture();
    let scenarios = several();
    let together = whatif::run(&f.store, &f.baseline, &scenarios).unwrap();
    assert_eq!(together.len(), scenarios.len());
    for (s, p) in scenarios.iter().zip(&together) {
        let alone = run_one(&f, s.clone());
        assert_eq!(&alone, p, "scenario {}", s.name);
    }
    // Deterministic across runs too, and the scenarios really differ.
    assert_eq!(
        whatif::run(&f.store, &f.baseline, &scenarios).unwrap(),
        together
    );
    assert_ne!(together[0], together[1]);
    assert_eq!(together[3], f.baseline);
}

#[test]
fn without_the_spend_view_the_folds_differ_only_in_it() {
    let f = fixture();
    let scenarios = several();
    let all = whatif::run(&f.store, &f.baseline, &scenarios).unwrap();
    let lean = whatif::run_keeping(
        &f.store,
        &f.baseline,
        &scenarios,
        whatif::Views::WithoutSpend,
    )
    .unwrap();
    assert_eq!(all.len(), lean.len());
    for ((s, full), lean) in scenarios.iter().zip(all).zip(lean) {
        assert!(
            full.views.values().any(|v| !v.spend.is_empty()),
            "scenario {}: the full fold keeps the spend view",
            s.name
        );
        assert!(lean.views.values().all(|v| v.spend.is_empty()));
        let mut without = full.clone();
        for views in without.views.values_mut() {
            views.spend.clear();
        }
        assert_eq!(lean, without, "scenario {}", s.name);
        assert_eq!(whatif::figures(&lean), whatif::figures(&full));
    }
}

#[test]
fn a_failing_scenario_fails_alone_and_the_first_error_is_reported() {
    let f = fixture();
    let mut broken = scenario("broken", vec![]);
    broken.agreement_override = Some(Arc::new(|_: &Agreement| Err("bad".to_string())));
    let mut scenarios = several();
    scenarios.insert(1, broken);
    match whatif::run(&f.store, &f.baseline, &scenarios) {
        Err(WhatIfError::Agreement { scenario, .. }) => assert_eq!(scenario, "broken"),
        other => panic!("expected the broken scenario's error, got {other:?}"),
    }
}

#[test]
fn the_log_is_untouched() {
    let f = fixture();
    let head = f.store.head();
    let records: Vec<Vec<u8>> = (0..head.next_seq)
        .map(|seq| f.store.raw_get(seq).unwrap())
        .collect();
    whatif::run(&f.store, &f.baseline, &several()).unwrap();
    assert_eq!(f.store.head(), head);
    for (seq, bytes) in records.iter().enumerate() {
        assert_eq!(
            f.store.raw_get(seq as u64).as_ref(),
            Some(bytes),
            "record {seq}"
        );
    }
    assert_eq!(f.store.raw_get(head.next_seq), None);
    assert_eq!(load(&f.store).unwrap(), f.baseline);
}

/// The status of a CACO milestone in the comparison's figures.
fn caco_milestone_status(p: &Projections, id: &str) -> &'static str {
    whatif::figures(p).accounts[0]
        .caco_milestones
        .iter()
        .find(|m| m.id == id)
        .map(|m| m.status)
        .unwrap_or_else(|| panic!("no CACO milestone {id}"))
}

/// The billed total of the comparison's figures.
fn billed(p: &Projections) -> Money {
    whatif::figures(p).accounts[0].billed.billed
}

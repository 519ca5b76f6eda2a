//! A recorded resettle is re-derived by the audit (issue 11, correcting recorded decisions):
//! the genuine one passes, one whose corrections were forged (with decisions that fold) is
//! found.

use ledger_core::agreement::{AccountTerms, Agreement, MaccTerms};
use ledger_core::event::AdjustmentTarget;
use ledger_core::fact::Fact;
use ledger_core::resettle::Correction;
use ledger_core::{ChargeKind, Ledger, Money};
use ledger_replay::audit::audit;
use ledger_replay::resettle::plan;
use ledger_store::{agreement_content_hash, Appender, Store};

mod common;
use common::{d, invoice, line, m};

fn append(store: &Store, ledger: &mut Ledger, fact: &Fact) {
    let applied = ledger.apply(fact).unwrap();
    let version = ledger
        .account(&applied.account)
        .unwrap()
        .terms
        .rulebook_version;
    let mut appender = Appender::new(store.head());
    let mut records = Vec::new();
    let seq = appender.fact(fact, &mut records).unwrap();
    appender
        .decisions(
            &applied.account,
            version,
            seq,
            &applied.events,
            &mut records,
        )
        .unwrap();
    store.append(&records).unwrap();
}

/// A ledger decided under rulebook 1: the refund reopened the MACC (398.38 left).
fn rulebook_1_ledger() -> (tempfile::TempDir, Store, Ledger) {
    let agreement = Agreement {
        account: "acme".into(),
        currency: "USD".into(),
        terms: AccountTerms {
            rulebook_version: 1,
            ..AccountTerms::default()
        },
        maccs: vec![MaccTerms {
            id: "m".into(),
            amount: m("5000"),
            start: d("2025-01-01"),
            end: d("2025-12-31"),
            purchased: None,
            enrollment_end: None,
            renewed: None,
            shortfall_credit_months: 12,
            milestones: vec![],
        }],
        cacos: vec![],
        credits: vec![],
    };
    let facts = vec![
        Fact::Agreement {
            content_hash: agreement_content_hash(&agreement),
            agreement,
        },
        invoice(
            "INV-4",
            "2025-05-05",
            vec![line("2025-04-10", ChargeKind::Usage, "3310.61")],
        ),
        invoice(
            "INV-5",
            "2025-06-05",
            vec![
                line("2025-05-13", ChargeKind::Usage, "1200"),
                line("2025-05-30", ChargeKind::Usage, "700"),
                line("2025-05-31", ChargeKind::Refund, "-398.38"),
            ],
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "test").unwrap();
    let mut ledger = Ledger::new();
    for fact in &facts {
        append(&store, &mut ledger, fact);
    }
    (dir, store, ledger)
}

#[test]
fn a_genuine_resettle_audits_clean() {
    let (_dir, store, mut ledger) = rulebook_1_ledger();
    let fact = plan(&store, ledger.account("acme").unwrap(), 2)
        .unwrap()
        .expect("rulebook 2 corrects the MACC");
    append(&store, &mut ledger, &fact);
    let report = audit(&store).unwrap();
    assert!(report.passed(), "{:?}", report.finding);
    assert!(plan(&store, ledger.account("acme").unwrap(), 2)
        .unwrap()
        .is_none());
}

#[test]
fn a_forged_resettle_is_found_by_the_audit() {
    let (_dir, store, mut ledger) = rulebook_1_ledger();
    let forged = Fact::Resettle {
        account: "acme".into(),
        version: 2,
        corrections: vec![Correction {
            target: "m".into(),
            target_kind: AdjustmentTarget::Macc,
            decremented: m("4900"),
            adjusted: Money::ZERO,
            balance: m("100"),
            completed: None,
        }],
    };
    append(&store, &mut ledger, &forged);
    let finding = audit(&store)
        .unwrap()
        .finding
        .expect("the forgery is found");
    assert_eq!(finding.kind, "decisions");
    assert!(
        finding
            .message
            .contains("recorded resettle of account acme"),
        "{}",
        finding.message
    );
}

//! Facts the replay tests build: dates, amounts, charge lines and invoices of account `acme`.
#![allow(dead_code)]

use ledger_core::fact::{ChargeLine, Fact, Invoice, StrRef};
use ledger_core::{ChargeKind, Date, Money};
use ledger_store::invoice_content_hash;

pub fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}
pub fn m(s: &str) -> Money {
    Money::parse(s).unwrap()
}

pub fn line(date: &str, kind: ChargeKind, amount: &str) -> ChargeLine {
    ChargeLine {
        amount: m(amount),
        charge_date: d(date),
        kind,
        profile: 0,
        corrects_kind: None,
        line_id: StrRef::NONE,
        service: StrRef::NONE,
        publisher: StrRef::NONE,
        description: StrRef::NONE,
        corrects: StrRef::NONE,
    }
}

pub fn invoice(id: &str, date: &str, lines: Vec<ChargeLine>) -> Fact {
    let date = d(date);
    let start = date.month_start().sub_months(1);
    let mut inv = Invoice {
        account: "acme".into(),
        id: id.into(),
        date,
        period_start: start,
        period_end: start.month_end(),
        currency: "USD".into(),
        content_hash: [0; 32],
        profiles: vec!["Engineering".into()],
        strings: vec![],
        lines,
    };
    inv.content_hash = invoice_content_hash(&inv);
    Fact::Invoice(inv)
}

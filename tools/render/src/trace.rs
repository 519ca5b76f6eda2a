//! A lot's trace (`ledger audit trace --lot`): as text (each event, then at most 20 of the
//! line portions behind it) and as CSV (one row per portion).

use ledger_app::replay::trace::LotTrace;
use ledger_app::replay::why_not::WhyNot;

use crate::amount::amount;
use crate::table::{Align, Table};
use crate::text::indent;

/// A lot's trace: each event, then the line portions behind it.
pub fn text(trace: &LotTrace) -> String {
    let mut out = format!("Trace of lot {} (account {})\n", trace.lot, trace.account);
    if trace.events.is_empty() {
        out.push_str("No events.\n");
        return out;
    }
    for e in &trace.events {
        out.push_str(&format!(
            "\n{}  {} ({})  {}{}  amount {}{}\n",
            e.date,
            e.event,
            e.rule,
            e.invoice
                .as_deref()
                .map(|i| format!("invoice {i}"))
                .unwrap_or_default(),
            e.billing_profile
                .as_deref()
                .map(|p| format!(", profile {p}"))
                .unwrap_or_default(),
            amount(e.amount),
            e.balance_after
                .map(|b| format!(", balance after {}", amount(b)))
                .unwrap_or_default()
        ));
        if let Some(d) = &e.description {
            out.push_str(&format!("  {d}\n"));
        }
        if e.portions.is_empty() {
            continue;
        }
        let mut t = Table::new(&[
            ("line", Align::Right),
            ("line id", Align::Left),
            ("charge date", Align::Left),
            ("kind", Align::Left),
            ("paid by", Align::Left),
            ("portion", Align::Right),
            ("counted", Align::Right),
            ("rule", Align::Left),
        ]);
        let mut shown = 0;
        for p in &e.portions {
            if shown == 20 {
                break;
            }
            shown += 1;
            let rule = match &p.cover_rule {
                Some(c) => format!("{}; {}", p.elig_rule, c),
                None => p.elig_rule.clone(),
            };
            t.row(vec![
                p.line_position.to_string(),
                p.line_id.clone().unwrap_or_default(),
                p.charge_date.to_string(),
                p.kind.name().to_string(),
                p.covered_by.clone().unwrap_or_else(|| p.payer.clone()),
                amount(p.portion_amount),
                amount(p.counted),
                rule,
            ]);
        }
        out.push_str(&indent(&t.render()));
        if e.portions.len() > shown {
            out.push_str(&format!(
                "  ... and {} more portions (use --csv for all)\n",
                e.portions.len() - shown
            ));
        }
    }
    out
}

/// The trace as CSV: one row per portion (an event without portions gets one row).
pub fn csv(trace: &LotTrace) -> String {
    let mut out = String::from(
        "seq,event,rule,date,invoice,billing_profile,amount,balance_after,line_position,line_id,charge_date,kind,line_amount,payer,covered_by,portion_amount,counted,elig_rule,cover_rule\n",
    );
    let field = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    for e in &trace.events {
        let head = [
            e.seq.to_string(),
            e.event.clone(),
            e.rule.clone(),
            e.date.to_string(),
            e.invoice.clone().unwrap_or_default(),
            e.billing_profile.clone().unwrap_or_default(),
            e.amount.to_plain_string(),
            e.balance_after
                .map(|b| b.to_plain_string())
                .unwrap_or_default(),
        ];
        let head: Vec<String> = head.iter().map(|s| field(s)).collect();
        if e.portions.is_empty() {
            out.push_str(&head.join(","));
            out.push_str(",,,,,,,,,,,\n");
            continue;
        }
        for p in &e.portions {
            let tail = [
                p.line_position.to_string(),
                p.line_id.clone().unwrap_or_default(),
                p.charge_date.to_string(),
                p.kind.name().to_string(),
                p.line_amount.to_plain_string(),
                p.payer.clone(),
                p.covered_by.clone().unwrap_or_default(),
                p.portion_amount.to_plain_string(),
                p.counted.to_plain_string(),
                p.elig_rule.clone(),
                p.cover_rule.clone().unwrap_or_default(),
            ];
            let tail: Vec<String> = tail.iter().map(|s| field(s)).collect();
            out.push_str(&head.join(","));
            out.push(',');
            out.push_str(&tail.join(","));
            out.push('\n');
        }
    }
    out
}

/// `audit trace --lot M --why-not`: one row per portion (or part of one) that did not count
/// toward M, with the reason.
pub fn why_not_text(why: &WhyNot) -> String {
    let mut out = format!(
        "What did not count toward MACC {} (account {})\n",
        why.lot, why.account
    );
    if why.lines.is_empty() {
        out.push_str("Every charge-line portion counted.\n");
        return out;
    }
    let mut t = Table::new(&[
        ("invoice", Align::Left),
        ("line", Align::Right),
        ("line id", Align::Left),
        ("charge date", Align::Left),
        ("kind", Align::Left),
        ("paid by", Align::Left),
        ("amount", Align::Right),
        ("reason", Align::Left),
    ]);
    let mut total = ledger_app::core::Money::ZERO;
    for l in &why.lines {
        total = total.checked_add(l.amount).unwrap_or(total);
        t.row(vec![
            l.invoice.clone(),
            l.line_position.to_string(),
            l.line_id.clone().unwrap_or_default(),
            l.charge_date.to_string(),
            l.kind.name().to_string(),
            l.covered_by.clone().unwrap_or_else(|| l.payer.clone()),
            amount(l.amount),
            l.reason.text(),
        ]);
    }
    out.push_str(&t.render());
    out.push_str(&format!(
        "{} portions, {} in all\n",
        why.lines.len(),
        amount(total)
    ));
    out
}

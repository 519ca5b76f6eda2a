//! `ledger gen --format focus`: the same synthetic charge lines as FOCUS 1.2 rows with
//! Microsoft's `x_` columns, so that native and FOCUS ingest can be compared on equal data.
//!
//! [`FocusWriter`] sits between the generator and the file: it takes the native CSV the
//! generator writes (a header, then unquoted lines in [`super::HEADER`] order) and writes one
//! FOCUS row per line, streaming, with no per-line allocation. Each kind is written the way
//! the ledger's FOCUS mapping (`input/mapping.rs`) reads it back as the same kind:
//!
//! | native kind | ChargeCategory | other columns |
//! | --- | --- | --- |
//! | `usage` | Usage | PricingCategory Standard, publisher Microsoft (Cloud Provider) |
//! | `reservation_usage` | Usage | PricingCategory Committed, CommitmentDiscountStatus Used |
//! | `reservation_purchase` | Purchase | CommitmentDiscountId, ChargeFrequency Recurring |
//! | `prepayment_purchase` | Purchase | ServiceName Azure Prepayment |
//! | `marketplace_eligible`, `marketplace` | Usage | the publisher, x_PublisherCategory Vendor |
//! | `support` | Purchase | ServiceName Azure Support |
//! | `tax` | Tax | |
//! | `refund` | Usage | ChargeClass Correction, a negative BilledCost |
//!
//! BilledCost is the native amount (so invoice totals agree; reservation usage keeps its
//! amount although real exports bill it at 0). Marketplace eligibility is not in FOCUS: the
//! agreements get `eligible_publishers` listing the generator's eligible publishers
//! ([`with_eligible_publishers`]). What differs from the native file: invoices are dated the
//! first of the next month (the FOCUS convention, the day after the billing period) instead of
//! the fifth, and lines carry no `line_id` or `corrects` (a refund restores the MACC head, as
//! the native refunds name it; the prepayment lot is named `{invoice}/{n}`).

use std::io::{self, Write};

use ledger_core::Date;

use super::catalog::MARKETPLACE_ELIGIBLE;

/// The FOCUS header the writer emits.
pub const FOCUS_HEADER: &str = "BilledCost,BillingAccountId,BillingAccountName,BillingCurrency,BillingPeriodEnd,BillingPeriodStart,\
ChargeCategory,ChargeClass,ChargeDescription,ChargeFrequency,ChargePeriodEnd,ChargePeriodStart,CommitmentDiscountId,\
CommitmentDiscountStatus,CommitmentDiscountType,EffectiveCost,InvoiceId,InvoiceIssuerName,PricingCategory,ProviderName,\
PublisherName,ServiceName,ServiceProviderName,x_BillingProfileId,x_BillingProfileName,x_PublisherCategory\n";

/// How one native kind is written as FOCUS.
#[derive(Clone, Copy)]
struct Shape {
    category: &'static [u8],
    class: &'static [u8],
    frequency: &'static [u8],
    /// A CommitmentDiscountId is written.
    commitment: bool,
    status: &'static [u8],
    ctype: &'static [u8],
    pricing: &'static [u8],
    /// EffectiveCost is the amount (else 0: purchases are amortized elsewhere).
    effective: bool,
    /// A Marketplace publisher (x_PublisherCategory Vendor).
    vendor: bool,
}

const USAGE: Shape = Shape {
    category: b"Usage",
    class: b"",
    frequency: b"Usage-Based",
    commitment: false,
    status: b"",
    ctype: b"",
    pricing: b"Standard",
    effective: true,
    vendor: false,
};
const RESERVATION_USAGE: Shape = Shape {
    commitment: true,
    status: b"Used",
    ctype: b"Reservation",
    pricing: b"Committed",
    ..USAGE
};
const RESERVATION_PURCHASE: Shape = Shape {
    category: b"Purchase",
    frequency: b"Recurring",
    commitment: true,
    ctype: b"Reservation",
    effective: false,
    ..USAGE
};
const PREPAYMENT_PURCHASE: Shape = Shape {
    category: b"Purchase",
    frequency: b"One-Time",
    effective: false,
    ..USAGE
};
const MARKETPLACE: Shape = Shape {
    vendor: true,
    ..USAGE
};
const SUPPORT: Shape = Shape {
    category: b"Purchase",
    frequency: b"Recurring",
    ..USAGE
};
const TAX: Shape = Shape {
    category: b"Tax",
    frequency: b"Recurring",
    pricing: b"",
    ..USAGE
};
const REFUND: Shape = Shape {
    class: b"Correction",
    ..USAGE
};

/// Native columns, in [`super::HEADER`] order.
const INVOICE_ID: usize = 0;
const PERIOD_START: usize = 2;
const PERIOD_END: usize = 3;
const ACCOUNT: usize = 4;
const BILLING_PROFILE: usize = 5;
const CHARGE_DATE: usize = 6;
const KIND: usize = 7;
const AMOUNT: usize = 8;
const CURRENCY: usize = 9;
const SERVICE: usize = 10;
const PUBLISHER: usize = 11;
const NATIVE_COLUMNS: usize = 14;

/// One date's FOCUS spellings: `YYYY-MM-DDT00:00:00Z` and the next day's.
#[derive(Default)]
struct DateText {
    native: Vec<u8>,
    start: Vec<u8>,
    next: Vec<u8>,
}

impl DateText {
    fn set(&mut self, native: &[u8]) -> io::Result<()> {
        if self.native == native {
            return Ok(());
        }
        let text = std::str::from_utf8(native).map_err(|_| bad("a date is not UTF-8"))?;
        let date = Date::parse(text).map_err(|_| bad("a date is not YYYY-MM-DD"))?;
        self.native = native.to_vec();
        self.start = format!("{date}T00:00:00Z").into_bytes();
        self.next = format!("{}T00:00:00Z", date.add_days(1)).into_bytes();
        Ok(())
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("gen --format focus: {what}"),
    )
}

/// Converts the generator's native CSV to FOCUS rows as it is written.
pub struct FocusWriter<W: Write> {
    inner: W,
    /// Bytes of an unfinished native line.
    pending: Vec<u8>,
    out: Vec<u8>,
    header_done: bool,
    charge: DateText,
    period_start: DateText,
    period_end: DateText,
    /// FOCUS bytes written.
    pub bytes: u64,
}

impl<W: Write> FocusWriter<W> {
    pub fn new(inner: W) -> FocusWriter<W> {
        FocusWriter {
            inner,
            pending: Vec::with_capacity(1 << 10),
            out: Vec::with_capacity(1 << 17),
            header_done: false,
            charge: DateText::default(),
            period_start: DateText::default(),
            period_end: DateText::default(),
            bytes: 0,
        }
    }

    /// Write what is buffered and hand back the inner writer; a native line left unfinished
    /// is an error.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.pending.is_empty() {
            return Err(bad("the native output ended inside a line"));
        }
        self.drain()?;
        Ok(self.inner)
    }

    fn drain(&mut self) -> io::Result<()> {
        self.inner.write_all(&self.out)?;
        self.bytes += self.out.len() as u64;
        self.out.clear();
        Ok(())
    }

    fn line(&mut self, line: &[u8]) -> io::Result<()> {
        if !self.header_done {
            self.header_done = true;
            self.out.extend_from_slice(FOCUS_HEADER.as_bytes());
            return Ok(());
        }
        let mut f: [&[u8]; NATIVE_COLUMNS] = [&[]; NATIVE_COLUMNS];
        let mut n = 0;
        for field in line.split(|&b| b == b',') {
            if n == NATIVE_COLUMNS {
                return Err(bad("a native line has too many fields"));
            }
            f[n] = field;
            n += 1;
        }
        if n != NATIVE_COLUMNS {
            return Err(bad("a native line has too few fields"));
        }
        self.charge.set(f[CHARGE_DATE])?;
        self.period_start.set(f[PERIOD_START])?;
        self.period_end.set(f[PERIOD_END])?;
        let kind = f[KIND];
        let amount = f[AMOUNT];
        let service = f[SERVICE];
        let shape = match kind {
            b"usage" => &USAGE,
            b"reservation_usage" => &RESERVATION_USAGE,
            b"reservation_purchase" => &RESERVATION_PURCHASE,
            b"prepayment_purchase" => &PREPAYMENT_PURCHASE,
            b"marketplace_eligible" | b"marketplace" => &MARKETPLACE,
            b"support" => &SUPPORT,
            b"tax" => &TAX,
            b"refund" => &REFUND,
            b"macc_shortfall_purchase" | b"milestone_shortfall_purchase" => {
                return Err(bad("the generator does not write shortfall purchases"))
            }
            _ => return Err(bad("an unknown kind")),
        };
        let Shape {
            category,
            class,
            frequency,
            commitment,
            status,
            ctype,
            pricing,
            effective,
            vendor,
        } = *shape;
        let o = &mut self.out;
        let account = f[ACCOUNT];
        o.extend_from_slice(amount);
        o.extend_from_slice(b",/providers/Microsoft.Billing/billingAccounts/");
        o.extend_from_slice(account);
        o.push(b',');
        o.extend_from_slice(account);
        o.push(b',');
        o.extend_from_slice(f[CURRENCY]);
        o.push(b',');
        o.extend_from_slice(&self.period_end.next);
        o.push(b',');
        o.extend_from_slice(&self.period_start.start);
        o.push(b',');
        o.extend_from_slice(category);
        o.push(b',');
        o.extend_from_slice(class);
        o.push(b',');
        o.extend_from_slice(if service.is_empty() { kind } else { service });
        o.push(b',');
        o.extend_from_slice(frequency);
        o.push(b',');
        o.extend_from_slice(&self.charge.next);
        o.push(b',');
        o.extend_from_slice(&self.charge.start);
        o.push(b',');
        if commitment {
            o.extend_from_slice(b"/providers/Microsoft.Capacity/reservationOrders/");
            o.extend_from_slice(account);
            o.extend_from_slice(b"-commitment");
        }
        o.push(b',');
        o.extend_from_slice(status);
        o.push(b',');
        o.extend_from_slice(ctype);
        o.push(b',');
        o.extend_from_slice(if effective { amount } else { b"0" });
        o.push(b',');
        o.extend_from_slice(f[INVOICE_ID]);
        o.extend_from_slice(b",Microsoft,");
        o.extend_from_slice(pricing);
        o.extend_from_slice(b",Microsoft,");
        o.extend_from_slice(if vendor { f[PUBLISHER] } else { b"Microsoft" });
        o.push(b',');
        o.extend_from_slice(service);
        o.extend_from_slice(b",Microsoft,");
        o.extend_from_slice(account);
        o.push(b',');
        o.extend_from_slice(f[BILLING_PROFILE]);
        o.extend_from_slice(if vendor {
            &b",Vendor\n"[..]
        } else {
            &b",Cloud Provider\n"[..]
        });
        if self.out.len() >= 1 << 16 {
            self.drain()?;
        }
        Ok(())
    }
}

impl<W: Write> Write for FocusWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let (line, tail) = rest.split_at(end);
            if self.pending.is_empty() {
                self.line(line)?;
            } else {
                let mut whole = std::mem::take(&mut self.pending);
                whole.extend_from_slice(line);
                self.line(&whole)?;
                whole.clear();
                self.pending = whole;
            }
            rest = &tail[1..];
        }
        self.pending.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain()?;
        self.inner.flush()
    }
}

/// The agreement with `eligible_publishers` listing the generator's eligible Marketplace
/// publishers, inserted after its `currency` key (top-level keys precede the tables).
pub fn with_eligible_publishers(agreement_toml: &str) -> String {
    let mut publishers: Vec<&str> = MARKETPLACE_ELIGIBLE.iter().map(|(p, _)| *p).collect();
    publishers.sort_unstable();
    publishers.dedup();
    let list = publishers
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let key = format!("# Marketplace eligibility is not in FOCUS files: the agreement names it.\neligible_publishers = [{list}]\n");
    let mut out = String::with_capacity(agreement_toml.len() + key.len());
    let mut inserted = false;
    for line in agreement_toml.split_inclusive('\n') {
        out.push_str(line);
        if !inserted && line.starts_with("currency = ") {
            out.push_str(&key);
            inserted = true;
        }
    }
    if !inserted {
        out.insert_str(0, &key);
    }
    out
}

/// [`super::generate`], written as FOCUS: the same lines, the agreements with
/// `eligible_publishers`; `bytes` counts the FOCUS output.
pub fn generate_focus(
    options: &super::GenOptions,
    out: &mut dyn Write,
) -> io::Result<super::GenOutput> {
    let mut writer = FocusWriter::new(out);
    let mut output = super::generate(options, &mut writer)?;
    let bytes = {
        writer.flush()?;
        writer.bytes
    };
    writer.finish()?;
    output.bytes = bytes;
    for account in &mut output.accounts {
        account.agreement_toml = with_eligible_publishers(&account.agreement_toml);
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{generate, GenOptions};

    #[test]
    fn every_native_line_becomes_one_focus_row_and_agreements_name_eligible_publishers() {
        let options = GenOptions {
            lines: 3000,
            accounts: 2,
            seed: 7,
            months: None,
        };
        let mut native = Vec::new();
        generate(&options, &mut native).unwrap();
        let mut focus = Vec::new();
        let output = generate_focus(&options, &mut focus).unwrap();
        let focus = String::from_utf8(focus).unwrap();
        assert_eq!(output.bytes as usize, focus.len());
        assert!(focus.starts_with(FOCUS_HEADER));
        let columns = FOCUS_HEADER.trim_end().split(',').count();
        assert_eq!(
            focus.lines().count(),
            native
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count()
        );
        for line in focus.lines() {
            assert_eq!(line.split(',').count(), columns, "{line}");
        }
        for account in &output.accounts {
            // That the agreement is valid is checked where it is read (the golden and
            // end-to-end tests record generated agreements); here: it lists the publisher.
            let agreement: toml::Table = toml::from_str(&account.agreement_toml).unwrap();
            let publishers = agreement["eligible_publishers"].as_array().unwrap();
            assert!(publishers.iter().any(|p| p.as_str() == Some("Datadog")));
        }
    }
}

//! Writing charge lines: the hot loop. Every line is assembled from byte slices prepared once
//! (per run, per account, or per invoice) plus a hand-formatted amount, into one reused buffer
//! handed to the output in large chunks. Nothing is allocated per line.

use std::io::{self, Write};

use super::catalog;
use super::month::{date_bytes, Month};
use super::plan::{AccountPlan, MARKETPLACE_ELIGIBLE_BELOW, RESERVATION_USAGE_BELOW, USAGE_BELOW};
use super::rng::Rng;

/// The native CSV header, in the column order of every generated line.
pub const HEADER: &str =
    "invoice_id,invoice_date,period_start,period_end,account,billing_profile,charge_date,kind,amount,currency,service,publisher,line_id,corrects\n";

const FLUSH_AT: usize = 1 << 16;

/// A chunking writer that counts bytes.
pub struct Out<'a> {
    w: &'a mut dyn Write,
    pub buf: Vec<u8>,
    pub bytes: u64,
}

impl<'a> Out<'a> {
    pub fn new(w: &'a mut dyn Write) -> Out<'a> {
        Out {
            w,
            buf: Vec::with_capacity(FLUSH_AT + 4096),
            bytes: 0,
        }
    }

    #[inline]
    fn maybe_flush(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.w.write_all(&self.buf)?;
        self.bytes += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
}

const DIGITS2: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Append `n` in decimal, at least `min_digits` digits (zero-padded).
#[inline]
fn push_u64(buf: &mut Vec<u8>, mut n: u64, min_digits: usize) {
    let mut tmp = [b'0'; 20];
    let mut i = 20;
    while n >= 100 {
        let d = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        tmp[i] = DIGITS2[d];
        tmp[i + 1] = DIGITS2[d + 1];
    }
    if n >= 10 {
        let d = n as usize * 2;
        i -= 2;
        tmp[i] = DIGITS2[d];
        tmp[i + 1] = DIGITS2[d + 1];
    } else {
        i -= 1;
        tmp[i] = b'0' + n as u8;
    }
    let start = i.min(20 - min_digits.min(20));
    buf.extend_from_slice(&tmp[start..]);
}

const POW10: [u64; 11] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
];

/// Append `mantissa × 10^-scale` (scale 1..=10) with exactly `scale` places.
#[inline]
pub fn push_amount(buf: &mut Vec<u8>, negative: bool, mantissa: u64, scale: usize) {
    if negative {
        buf.push(b'-');
    }
    let p = POW10[scale];
    push_u64(buf, mantissa / p, 1);
    buf.push(b'.');
    push_u64(buf, mantissa % p, scale);
}

/// Amounts inside the generator: units of 10^-10 of a currency unit.
const UNITS_PER_CENT: u64 = 100_000_000;

/// Byte slices shared by every account.
pub struct Catalog {
    usage_tail: Vec<Vec<u8>>,
    usage_table: [u8; 256],
    reservation_usage_tail: Vec<Vec<u8>>,
    marketplace_eligible_tail: Vec<Vec<u8>>,
    marketplace_tail: Vec<Vec<u8>>,
    support_tail: Vec<u8>,
    tax_tail: Vec<u8>,
    reservation_tail: Vec<Vec<u8>>,
}

/// `,USD,{service},{publisher},{line_id},{corrects}\n`: everything after the amount.
fn tail(service: &str, publisher: &str, line_id: &str, corrects: &str) -> Vec<u8> {
    format!(",USD,{service},{publisher},{line_id},{corrects}\n").into_bytes()
}

impl Catalog {
    pub fn new() -> Catalog {
        let mut usage_table = [0u8; 256];
        let mut b = 0usize;
        for (i, (_, w)) in catalog::USAGE_SERVICES.iter().enumerate() {
            for _ in 0..*w {
                usage_table[b] = i as u8;
                b += 1;
            }
        }
        Catalog {
            usage_tail: catalog::USAGE_SERVICES
                .iter()
                .map(|(s, _)| tail(s, "", "", ""))
                .collect(),
            usage_table,
            reservation_usage_tail: catalog::RESERVATION_USAGE_SERVICES
                .iter()
                .map(|s| tail(s, "", "", ""))
                .collect(),
            marketplace_eligible_tail: catalog::MARKETPLACE_ELIGIBLE
                .iter()
                .map(|(p, s)| tail(s, p, "", ""))
                .collect(),
            marketplace_tail: catalog::MARKETPLACE_OTHER
                .iter()
                .map(|(p, s)| tail(s, p, "", ""))
                .collect(),
            support_tail: tail(catalog::SUPPORT_SERVICE, "", "", ""),
            tax_tail: tail("", "", "", ""),
            reservation_tail: catalog::RESERVATION_PURCHASES
                .iter()
                .map(|s| tail(s, "", "", ""))
                .collect(),
        }
    }
}

/// Byte slices of one account.
pub struct AccountBytes {
    profile_cols: Vec<Vec<u8>>,
    prepay_tail: Vec<u8>,
    refund_tail: Vec<u8>,
}

impl AccountBytes {
    pub fn new(plan: &AccountPlan) -> AccountBytes {
        AccountBytes {
            profile_cols: plan
                .profiles
                .iter()
                .map(|p| format!("{p},").into_bytes())
                .collect(),
            prepay_tail: tail(
                catalog::PREPAYMENT_SERVICE,
                "",
                plan.prepay.as_ref().map_or("", |p| p.line_id.as_str()),
                "",
            ),
            refund_tail: tail(catalog::REFUND_SERVICE, "", "", &plan.macc_id),
        }
    }
}

/// A line other than the bulk of usage: support, reservations, prepayment, refund.
struct Special<'a> {
    day: u32,
    profile: u8,
    kind: &'static [u8],
    cents: i64,
    tail: &'a [u8],
}

/// Write the columns every line of invoice `month` shares into `prefix`; returns each day's
/// `YYYY-MM-DD,` (index = day of the month).
fn invoice_columns(plan: &AccountPlan, month: Month, prefix: &mut Vec<u8>) -> [[u8; 11]; 32] {
    let label = month.label();
    let days = month.days();
    prefix.clear();
    let _ = write!(prefix, "{}-{label},", plan.account);
    prefix.extend_from_slice(&date_bytes(month.add(1).day(5)));
    prefix.push(b',');
    prefix.extend_from_slice(&date_bytes(month.first()));
    prefix.push(b',');
    prefix.extend_from_slice(&date_bytes(month.last()));
    prefix.push(b',');
    prefix.extend_from_slice(plan.account.as_bytes());
    prefix.push(b',');
    let mut dates = [[0u8; 11]; 32];
    for d in 1..=days {
        dates[d as usize][..10].copy_from_slice(&date_bytes(month.day(d)));
        dates[d as usize][10] = b',';
    }
    dates
}

/// The special lines of invoice `m` (support, the prepayment, reservations, a refund) in
/// day order.
fn specials_of<'a>(
    plan: &AccountPlan,
    bytes: &'a AccountBytes,
    cat: &'a Catalog,
    m: u32,
    days: u32,
) -> Vec<Special<'a>> {
    let mi = m as usize;
    let mut specials: Vec<Special> = Vec::new();
    specials.push(Special {
        day: 1,
        profile: plan.support_profile,
        kind: b"support,",
        cents: plan.support_cents,
        tail: &cat.support_tail,
    });
    if let Some(p) = plan.prepay.as_ref().filter(|p| p.month == m) {
        specials.push(Special {
            day: p.day,
            profile: p.profile,
            kind: b"prepayment_purchase,",
            cents: p.cents,
            tail: &bytes.prepay_tail,
        });
    }
    for r in &plan.reservations {
        specials.push(Special {
            day: r.day.min(days),
            profile: r.profile,
            kind: b"reservation_purchase,",
            cents: r.cents,
            tail: &cat.reservation_tail[r.service],
        });
    }
    if plan.refunds[mi] > 0 {
        specials.push(Special {
            day: 15,
            profile: plan.refund_profile,
            kind: b"refund,",
            cents: -plan.refunds[mi],
            tail: &bytes.refund_tail,
        });
    }
    specials.sort_by_key(|s| s.day);
    specials
}

/// The kind of a bulk line, its column and its tail, from the random word `b`: `usage` below
/// [`USAGE_BELOW`] in 1024, then `reservation_usage`, `marketplace_eligible`, `marketplace`.
#[inline]
fn bulk_kind(cat: &Catalog, b: u64) -> (usize, &'static [u8], &[u8]) {
    let pick = b & 1023;
    if pick < USAGE_BELOW {
        (
            0,
            b"usage,",
            &cat.usage_tail[cat.usage_table[((b >> 18) & 255) as usize] as usize],
        )
    } else if pick < RESERVATION_USAGE_BELOW {
        (
            1,
            b"reservation_usage,",
            &cat.reservation_usage_tail[((b >> 18) & 3) as usize],
        )
    } else if pick < MARKETPLACE_ELIGIBLE_BELOW {
        (
            2,
            b"marketplace_eligible,",
            &cat.marketplace_eligible_tail[((b >> 18) & 7) as usize],
        )
    } else {
        (
            3,
            b"marketplace,",
            &cat.marketplace_tail[((b >> 18) & 7) as usize],
        )
    }
}

/// Write invoice `m` of `plan`; returns the number of lines written.
pub fn write_invoice(
    out: &mut Out,
    plan: &AccountPlan,
    bytes: &AccountBytes,
    cat: &Catalog,
    m: u32,
    rng: &mut Rng,
    prefix: &mut Vec<u8>,
) -> io::Result<u64> {
    let n = plan.lines[m as usize];
    if n == 0 {
        return Ok(0);
    }
    let mi = m as usize;
    let month = plan.start.add(m as i64);
    let days = month.days();

    // The columns every line of this invoice shares, and its dates, formatted once.
    let dates = invoice_columns(plan, month, prefix);
    let full = plan.full[mi];
    let specials = if full {
        specials_of(plan, bytes, cat, m, days)
    } else {
        Vec::new()
    };
    let n_bulk = if full { n - plan.special_lines(m) } else { n };

    // Mean amount of a bulk line of each kind, in 10^-10 units, so the month's lines add up to
    // the planned spend on average: amount = mean × 4·u1·u2 with u1, u2 uniform in [0, 1).
    let per_share = |cents: i64, share: u64| -> u128 {
        if n_bulk == 0 {
            return 0;
        }
        cents.max(0) as u128 * UNITS_PER_CENT as u128 * 1024 / (n_bulk as u128 * share as u128)
    };
    let mean = [
        per_share(plan.usage[mi], USAGE_BELOW),
        per_share(plan.usage[mi], USAGE_BELOW),
        per_share(
            plan.marketplace_eligible[mi],
            MARKETPLACE_ELIGIBLE_BELOW - RESERVATION_USAGE_BELOW,
        ),
        per_share(plan.marketplace[mi], 1024 - MARKETPLACE_ELIGIBLE_BELOW),
    ];

    // Taxable amounts per profile, in 10^-10 units.
    let mut taxable = [0u128; 8];
    let mut si = 0;
    let buf = &mut out.buf;
    let special = |buf: &mut Vec<u8>, s: &Special, taxable: &mut [u128; 8]| {
        buf.extend_from_slice(prefix);
        buf.extend_from_slice(&bytes.profile_cols[s.profile as usize]);
        buf.extend_from_slice(&dates[s.day as usize]);
        buf.extend_from_slice(s.kind);
        push_amount(buf, s.cents < 0, s.cents.unsigned_abs(), 2);
        buf.extend_from_slice(s.tail);
        if s.cents > 0 && s.kind != b"prepayment_purchase,".as_slice() {
            taxable[s.profile as usize] += s.cents as u128 * UNITS_PER_CENT as u128;
        }
    };

    let mut day: u32 = 1;
    let mut acc: u64 = 0;
    for _ in 0..n_bulk {
        while si < specials.len() && specials[si].day <= day {
            special(buf, &specials[si], &mut taxable);
            si += 1;
        }
        let a = rng.next_u64();
        let b = rng.next_u64();
        let (kind, kind_col, tail) = bulk_kind(cat, b);
        let profile = plan.profile_table[((b >> 10) & 255) as usize] as usize;
        let raw = ((mean[kind] * (a >> 32) as u128 * (a & 0xFFFF_FFFF) as u128) >> 62) as u64;
        // One usage line in eight is metered finely: 6 to 10 places, like real meters.
        let scale = if kind == 0 && (b >> 26) & 7 == 0 {
            6 + ((b >> 29) & 7) as usize % 5
        } else {
            2
        };
        let q = POW10[10 - scale];
        let mantissa = ((raw + q / 2) / q).max(1);
        taxable[profile] += mantissa as u128 * q as u128;

        buf.extend_from_slice(prefix);
        buf.extend_from_slice(&bytes.profile_cols[profile]);
        buf.extend_from_slice(&dates[day as usize]);
        buf.extend_from_slice(kind_col);
        push_amount(buf, false, mantissa, scale);
        buf.extend_from_slice(tail);
        if buf.len() >= FLUSH_AT {
            out.w.write_all(buf)?;
            out.bytes += buf.len() as u64;
            buf.clear();
        }

        acc += days as u64;
        while acc >= n_bulk {
            acc -= n_bulk;
            day += 1;
        }
    }
    for s in &specials[si..] {
        special(buf, s, &mut taxable);
    }
    if full {
        // One tax line per billing profile, on the last day.
        let sums = taxable;
        for (p, &sum) in sums.iter().enumerate().take(plan.profiles.len()) {
            let cents = ((sum * plan.tax_permille as u128 / 1000 + UNITS_PER_CENT as u128 / 2)
                / UNITS_PER_CENT as u128)
                .max(1) as i64;
            special(
                buf,
                &Special {
                    day: days,
                    profile: p as u8,
                    kind: b"tax,",
                    cents,
                    tail: &cat.tax_tail,
                },
                &mut taxable,
            );
        }
    }
    out.maybe_flush()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gen_amounts_are_hand_formatted_exactly() {
        let mut b = Vec::new();
        push_amount(&mut b, false, 12345, 2);
        b.push(b' ');
        push_amount(&mut b, true, 5, 2);
        b.push(b' ');
        push_amount(&mut b, false, 1, 10);
        b.push(b' ');
        push_amount(&mut b, false, 123_456_789_012_345, 6);
        b.push(b' ');
        push_amount(&mut b, false, 100, 2);
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "123.45 -0.05 0.0000000001 123456789.012345 1.00"
        );
        let mut b = Vec::new();
        push_u64(&mut b, 0, 1);
        push_u64(&mut b, 7, 3);
        push_u64(&mut b, u64::MAX, 1);
        assert_eq!(String::from_utf8(b).unwrap(), "000718446744073709551615");
    }
}

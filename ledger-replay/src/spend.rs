//! Summing an invoice's lines by (charge date, kind), for the run-rate spend view.
//!
//! Every fold (ingest, replay, audit, each what-if scenario) sums every line, so this is a
//! hot loop. An invoice's charge dates lie within a month or so of each other, so the sums are
//! kept in a dense table indexed by (day, kind) over a window of [`WINDOW_DAYS`] days around
//! the first line's date, in one pass, instead of a map entry per line; an invoice with a line
//! outside the window is summed in a map instead. Both give the same sums in the same
//! (date, kind) order.

use std::collections::BTreeMap;

use ledger_core::{ChargeKind, ChargeLine, Date, Money};

/// One (charge date, kind) and the sum of its lines' amounts.
pub type SpendSum = ((Date, ChargeKind), Money);

/// Days of the dense table: from [`WINDOW_BEFORE`] days before the first line's date on.
pub const WINDOW_DAYS: usize = 93;
/// Days of the dense table before the first line's date.
pub const WINDOW_BEFORE: usize = 46;

/// `lines` summed by (charge date, `kind_of(line)`), ascending. Every key that occurs has an
/// entry, also when its sum is zero; an addition that would overflow leaves the sum as it was.
pub fn sum_lines(
    lines: &[ChargeLine],
    kind_of: impl Fn(&ChargeLine) -> ChargeKind,
) -> Vec<SpendSum> {
    let Some(first) = lines.first() else {
        return Vec::new();
    };
    let base = first.charge_date.add_days(-(WINDOW_BEFORE as i32));
    dense(lines, base, &kind_of).unwrap_or_else(|| sparse(lines, kind_of))
}

#[inline]
fn add(sum: &mut Money, amount: Money) {
    *sum = sum.checked_add(amount).unwrap_or(*sum);
}

/// The sums in a table of [`WINDOW_DAYS`] days × kinds from `base`; `None` when a line's date
/// falls outside it.
fn dense(
    lines: &[ChargeLine],
    base: Date,
    kind_of: impl Fn(&ChargeLine) -> ChargeKind,
) -> Option<Vec<SpendSum>> {
    // A slot's sum, and whether a line fell in it (a sum may be zero).
    let mut slots = vec![(Money::ZERO, false); WINDOW_DAYS * ChargeKind::COUNT];
    let from = base.day_number();
    for line in lines {
        let day = line.charge_date.day_number().wrapping_sub(from) as u32 as usize;
        if day >= WINDOW_DAYS {
            return None;
        }
        let (sum, seen) = &mut slots[day * ChargeKind::COUNT + kind_of(line).index()];
        *seen = true;
        add(sum, line.amount);
    }
    let mut out = Vec::new();
    for (day, kinds) in slots.chunks_exact(ChargeKind::COUNT).enumerate() {
        for (&kind, &(sum, seen)) in ChargeKind::ALL.iter().zip(kinds) {
            if seen {
                out.push(((base.add_days(day as i32), kind), sum));
            }
        }
    }
    Some(out)
}

/// The sums in a map: for dates spread too wide for the table.
fn sparse(lines: &[ChargeLine], kind_of: impl Fn(&ChargeLine) -> ChargeKind) -> Vec<SpendSum> {
    let mut sums: BTreeMap<(Date, ChargeKind), Money> = BTreeMap::new();
    for line in lines {
        add(
            sums.entry((line.charge_date, kind_of(line)))
                .or_insert(Money::ZERO),
            line.amount,
        );
    }
    sums.into_iter().collect()
}

/// Decode a map of the spend view in one pass. The encoding (bincode, the snapshot's) writes a
/// map as its length then its entries in key order, the same bytes as a sequence of pairs; the
/// pairs are built into the map at once instead of one search per entry. As a decoded map
/// would, a repeated key keeps its last value.
pub fn sorted_map<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<(Date, ChargeKind), Money>, D::Error> {
    let pairs: Vec<SpendSum> = serde::Deserialize::deserialize(deserializer)?;
    Ok(pairs.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::StrRef;

    fn line(day: i32, kind: ChargeKind, units: i128) -> ChargeLine {
        ChargeLine {
            amount: Money::from_units(units),
            charge_date: Date::from_day_number(20_000 + day).unwrap(),
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

    /// Lines in a scrambled order over `span` days, every kind.
    fn lines(span: i32) -> Vec<ChargeLine> {
        let mut out = Vec::new();
        for i in 0..400i32 {
            let day = (i * 37) % span;
            let kind = ChargeKind::ALL[(i as usize * 7) % ChargeKind::COUNT];
            let units = if i % 5 == 0 { -3 } else { i as i128 * 1_000 };
            out.push(line(day, kind, units));
        }
        out
    }

    #[test]
    fn the_dense_table_sums_as_the_map_does() {
        let kind = |l: &ChargeLine| l.kind;
        for span in [1, 2, 31, WINDOW_BEFORE as i32 + 1, 2 * WINDOW_DAYS as i32] {
            let lines = lines(span);
            assert_eq!(sum_lines(&lines, kind), sparse(&lines, kind), "span {span}");
            // The first line in the middle: days before it and after it in the window.
            let mut middle = lines.clone();
            middle.rotate_left(lines.len() / 2);
            assert_eq!(
                sum_lines(&middle, kind),
                sparse(&middle, kind),
                "span {span}"
            );
            let base = middle[0].charge_date.add_days(-(WINDOW_BEFORE as i32));
            let in_table = dense(&middle, base, kind).is_some();
            assert_eq!(
                in_table,
                span <= WINDOW_BEFORE as i32 + 1,
                "span {span}: in the table"
            );
        }
        let cancel = [
            line(0, ChargeKind::Tax, 3),
            line(2, ChargeKind::Usage, 5),
            line(0, ChargeKind::Tax, -3),
        ];
        let sums = sum_lines(&cancel, kind);
        assert_eq!(sums, sparse(&cancel, kind));
        assert_eq!(sums.len(), 2, "a zero sum is kept");
    }

    #[test]
    fn the_spend_view_decodes_from_the_bytes_of_a_map() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct View {
            #[serde(deserialize_with = "sorted_map")]
            spend: BTreeMap<(Date, ChargeKind), Money>,
        }
        let spend: BTreeMap<_, _> = sum_lines(&lines(31), |l| l.kind).into_iter().collect();
        let bytes = ledger_store::encode_blob(&View {
            spend: spend.clone(),
        });
        let decoded: View = ledger_store::decode_blob(&bytes).unwrap();
        assert_eq!(decoded.spend, spend);
        assert!(spend.len() > 100);
    }

    #[test]
    fn a_wide_span_sums_in_the_map_and_an_overflow_keeps_the_sum() {
        let mut wide = lines(WINDOW_DAYS as i32 + 1);
        wide.push(line(0, ChargeKind::Usage, i128::MAX));
        wide.push(line(0, ChargeKind::Usage, i128::MAX));
        let kind = |l: &ChargeLine| l.kind;
        assert_eq!(sum_lines(&wide, kind), sparse(&wide, kind));
        let narrow = &wide[wide.len() - 2..];
        assert_eq!(
            sum_lines(narrow, kind),
            vec![(
                (narrow[0].charge_date, ChargeKind::Usage),
                Money::from_units(i128::MAX)
            )]
        );
        assert!(sum_lines(&[], kind).is_empty());
    }
}

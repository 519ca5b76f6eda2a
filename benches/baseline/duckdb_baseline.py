#!/usr/bin/env python3
"""DuckDB baseline for the scale benchmark (issue 6).

Computes, from the same generated native CSV the ledger ingests, the per-invoice MACC-eligible
totals and the MACC's remaining balance after each invoice: the "read every line, group, sum"
core of what the ledger does, without its credit allocation or rules. Two steps, each timed in
its own process so they compare with the ledger's ingest and cold replay:

  load  CSV -> a persisted DuckDB table        (compare: ledger ingest)
  query the table -> per-invoice totals         (compare: ledger replay, a fresh process)

Usage: duckdb_baseline.py load CSV DBFILE | duckdb_baseline.py query DBFILE AGREEMENT.toml...
Prints one JSON object: {"step", "seconds", "rows", "invoices", "checksum"}.
"""
import json
import sys
import time
import tomllib

import duckdb

# Kinds whose paid portion counts toward a MACC (R-ELIG, "paid" column).
MACC_KINDS = ("usage", "reservation_purchase", "prepayment_purchase", "marketplace_eligible",
              "macc_shortfall_purchase", "milestone_shortfall_purchase")


def load(csv_path, db_path):
    started = time.perf_counter()
    con = duckdb.connect(db_path)
    con.execute("DROP TABLE IF EXISTS lines")
    con.execute(
        "CREATE TABLE lines AS SELECT * FROM read_csv(?, header=true, all_varchar=false, "
        "types={'amount': 'DECIMAL(38,10)', 'invoice_date': 'DATE', 'charge_date': 'DATE'})",
        [csv_path],
    )
    rows = con.execute("SELECT count(*) FROM lines").fetchone()[0]
    con.close()
    return {"step": "load", "seconds": time.perf_counter() - started, "rows": rows}


def query(db_path, agreements):
    started = time.perf_counter()
    maccs = {}
    for path in agreements:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
        maccs[doc["account"]] = sum(float(m["amount"]) for m in doc.get("macc", []))
    con = duckdb.connect(db_path, read_only=True)
    kinds = ", ".join(f"'{k}'" for k in MACC_KINDS)
    result = con.execute(
        f"""
        WITH per_invoice AS (
            SELECT account, invoice_id, min(invoice_date) AS invoice_date,
                   sum(amount) FILTER (WHERE kind IN ({kinds})) AS eligible
            FROM lines GROUP BY account, invoice_id
        )
        SELECT account, invoice_id, eligible,
               sum(eligible) OVER (PARTITION BY account ORDER BY invoice_date, invoice_id) AS cumulative
        FROM per_invoice ORDER BY account, invoice_date, invoice_id
        """
    ).fetchall()
    con.close()
    checksum = 0.0
    for account, _invoice, eligible, cumulative in result:
        remaining = max(0.0, maccs.get(account, 0.0) - float(cumulative or 0))
        checksum += float(eligible or 0) + remaining
    return {"step": "query", "seconds": time.perf_counter() - started, "invoices": len(result), "checksum": checksum}


def main():
    step = sys.argv[1]
    if step == "load":
        out = load(sys.argv[2], sys.argv[3])
    elif step == "query":
        out = query(sys.argv[2], sys.argv[3:])
    else:
        sys.exit("usage: duckdb_baseline.py load CSV DB | query DB AGREEMENT...")
    print(json.dumps(out))


if __name__ == "__main__":
    main()

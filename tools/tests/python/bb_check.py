#!/usr/bin/env python3
"""Read a running `ledger serve` with Microsoft's Python SDK for Microsoft.BillingBenefits,
azure-mgmt-billingbenefits 1.0.0b2, and check what it reads:

- against a worked example's figures, stated in its expect.json (--expect): the MACC and its
  milestones, the conditional credit (CACO) and its milestones, the credits, and the credits
  balance summary (through azure-mgmt-consumption);
- against the CLI's own JSON for every other account (--lots: `ledger lots --json`, --caco:
  `ledger caco --json`): MACC amounts and milestone shortfalls, CACO milestones, credit lots.

Run by tools/tests/serve_python.rs; by hand:

    python bb_check.py --base-url http://127.0.0.1:8080 --token T --expect expect.json \\
        --lots lots.json --caco caco.json [--restricted-token R --hidden-account A]

Exit status 0 when everything matches; 1 with one line per difference otherwise.
"""

import argparse
import datetime
import decimal
import json
import sys
import time
import urllib.parse

from azure.core.credentials import AccessToken
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.billingbenefits import BillingBenefitsMgmtClient
from azure.mgmt.billingbenefits import models as bb
from azure.mgmt.consumption import ConsumptionManagementClient

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
ACCOUNT_PREFIX = "/providers/Microsoft.Billing/billingAccounts/"
H = {"enforce_https": False}


class StaticToken:
    """A credential that hands out the server's token."""

    def __init__(self, token):
        self.token = token

    def get_token(self, *scopes, **kwargs):
        return AccessToken(self.token, int(time.time()) + 3600)


class Checker:
    def __init__(self):
        self.problems = []
        self.checked = 0

    def eq(self, where, got, want):
        self.checked += 1
        if got != want:
            self.problems.append(f"{where}: the SDK read {got!r}, expected {want!r}")

    def true(self, where, condition, detail=""):
        self.checked += 1
        if not condition:
            self.problems.append(f"{where}: {detail}")


def number(x):
    """An amount as the SDK reads it (a float) and as it is expected (exact text), made
    comparable: the SDK types amounts as float, so the expectation goes through the same
    nearest double."""
    if x is None:
        return None
    return decimal.Decimal(str(float(x)))


def when(text):
    """'2025-06-30T23:59:59Z' as the aware datetime the SDK gives."""
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def enum(c, where, value, kind, want):
    """The value must be a member of the SDK's enum (not a plain string) and equal `want`."""
    c.true(where, isinstance(value, kind), f"{value!r} is not a {kind.__name__}")
    c.eq(where, value, kind(want))


def scope_of(account):
    return f"providers/Microsoft.Billing/billingAccounts/{account}"


def check_shortfall(c, where, got, want):
    c.true(where, got is not None, "no shortfall")
    if got is None:
        return
    c.eq(f"{where}: charge", number(got.charge.amount), number(want["charge"]))
    c.eq(f"{where}: systemId", got.system_id, want["systemId"])
    c.eq(f"{where}: startAt", got.start_at, when(want["startAt"]))
    c.eq(f"{where}: endAt", got.end_at, when(want["endAt"]))


def check_worked_maccs(c, client, account, expect):
    listed = list(client.applicable_maccs.list(account, **H))
    c.eq(f"{account}: MACC ids", [m.name for m in listed], [m["id"] for m in expect["maccs"]])
    for got, want in zip(listed, expect["maccs"]):
        where = f"{account}: MACC {want['id']}"
        c.true(where, isinstance(got, bb.ApplicableMacc), type(got).__name__)
        c.eq(f"{where}: commitment", number(got.commitment.amount), number(want["commitment"]))
        c.eq(f"{where}: currency", got.commitment.currency_code, expect["currency"])
        enum(c, f"{where}: status", got.status, bb.MaccStatus, want["status"])
        c.eq(f"{where}: ledgerStatus", got.properties["ledgerStatus"], want["ledgerStatus"])
        c.eq(f"{where}: remaining", number(got.properties["remainingCommitment"]["amount"]), number(want["remaining"]))
        c.eq(f"{where}: startAt", got.start_at, when(want["startAt"]))
        c.eq(f"{where}: endAt", got.end_at, when(want["endAt"]))
        check_shortfall(c, f"{where}: shortfall", got.shortfall, want["shortfall"])
        c.eq(f"{where}: milestones", [m.milestone_id for m in got.milestones], [m["id"] for m in want["milestones"]])
        for gm, wm in zip(got.milestones, want["milestones"]):
            at = f"{where}: milestone {wm['id']}"
            c.true(at, isinstance(gm, bb.MaccMilestone), type(gm).__name__)
            c.eq(f"{at}: commitment", number(gm.commitment.amount), number(wm["commitment"]))
            c.eq(f"{at}: endAt", gm.end_at, when(wm["endAt"]))
            enum(c, f"{at}: status", gm.status, bb.MaccMilestoneStatus, wm["status"])
            c.eq(f"{at}: cumulative", number(gm["cumulative"]["amount"]), number(wm["cumulative"]))
            check_shortfall(c, f"{at}: shortfall", gm.shortfall, wm["shortfall"])
        # The same MACC by its resource group (the billing account) and name.
        one = client.maccs.get(account, want["id"], **H)
        c.eq(f"{where}: get", one.as_dict()["properties"], got.as_dict()["properties"])
    by_group = list(client.maccs.list_by_resource_group(account, **H))
    c.eq(f"{account}: maccs.list_by_resource_group", [m.name for m in by_group], [m.name for m in listed])


def check_worked_conditional_credits(c, client, account, expect):
    # The scope with and without its leading slash: the SDK encodes it as one segment.
    for scope in (scope_of(account), "/" + scope_of(account)):
        listed = list(client.conditional_credits.scope_list(scope, **H))
        where = f"{account}: conditional credits at {scope!r}"
        c.eq(f"{where}: ids", [x.name for x in listed], [x["id"] for x in expect["conditionalCredits"]])
    for got, want in zip(listed, expect["conditionalCredits"]):
        where = f"{account}: conditional credit {want['id']}"
        p = got.properties
        c.eq(f"{where}: properties type", type(p).__name__, "PrimaryConditionalCreditProperties")
        enum(c, f"{where}: status", p.status, bb.ConditionalCreditStatus, want["status"])
        c.eq(f"{where}: ledgerStatus", p["ledgerStatus"], want["ledgerStatus"])
        c.eq(f"{where}: commitment", number(p["commitmentAmount"]["amount"]), number(want["commitmentAmount"]))
        c.eq(f"{where}: remaining", number(p["remainingCommitment"]["amount"]), number(want["remaining"]))
        c.eq(f"{where}: startAt", p.start_at, when(want["startAt"]))
        c.eq(f"{where}: endAt", p.end_at, when(want["endAt"]))
        c.eq(f"{where}: milestones", [m.milestone_id for m in p.milestones], [m["id"] for m in want["milestones"]])
        for gm, wm in zip(p.milestones, want["milestones"]):
            at = f"{where}: milestone {wm['id']}"
            c.eq(f"{at}: spendTarget", number(gm.spend_target.amount), number(wm["spendTarget"]))
            c.eq(f"{at}: award", number(gm.award.credit.amount), number(wm["award"]))
            c.eq(f"{at}: progress", number(gm["progress"]["amount"]), number(wm["progress"]))
            enum(c, f"{at}: status", gm.status, bb.MilestoneStatus, wm["status"])
            lot = wm["awardLot"]
            c.eq(f"{at}: award lot", gm.award.system_id, lot and lot["systemId"])
            if lot:
                c.eq(f"{at}: award start", gm.award.start_at, when(lot["startAt"]))
                c.eq(f"{at}: award end", gm.award.end_at, when(lot["endAt"]))
                c.eq(f"{at}: award duration", gm.award.duration, lot["duration"])
        one = client.conditional_credits.get(account, want["id"], **H)
        c.eq(f"{where}: get properties type", type(one.properties).__name__, "PrimaryConditionalCreditProperties")
        c.eq(f"{where}: get", one.properties.as_dict(), p.as_dict())


def check_worked_credits(c, client, account, expect):
    listed = list(client.credits.list_applicable(scope_of(account), **H))
    c.eq(f"{account}: credit ids", [x.name for x in listed], [x["id"] for x in expect["credits"]])
    for got, want in zip(listed, expect["credits"]):
        where = f"{account}: credit {want['id']}"
        c.eq(f"{where}: credit", number(got.credit.amount), number(want["credit"]))
        enum(c, f"{where}: status", got.status, bb.CreditStatus, want["status"])
        c.eq(f"{where}: startAt", got.start_at, when(want["startAt"]))
        c.eq(f"{where}: endAt", got.end_at, when(want["endAt"]))
        c.eq(f"{where}: productCode", got.product_code, want["kind"])
        dims = {d.key: d.value for d in got.breakdown[0].dimensions}
        c.eq(f"{where}: remainingAmount", number(dims["remainingAmount"]), number(want["remaining"]))
        c.eq(f"{where}: usedAmount", number(dims["usedAmount"]), number(want["used"]))
        # A name with '/' (an award, a shortfall credit) is one percent-encoded segment.
        one = client.credits.get(account, want["id"], **H)
        c.eq(f"{where}: get", one.as_dict()["properties"], got.as_dict()["properties"])


def check_worked_summary(c, consumption, account, expect):
    want = expect["creditSummary"]
    got = consumption.credits.get(account, want["profile"], **H)
    where = f"{account}: credits balance summary of {want['profile']}"
    c.eq(f"{where}: current", number(got.balance_summary.current_balance.value), number(want["currentBalance"]))
    c.eq(f"{where}: expired", number(got.expired_credit.value), number(want["expiredCredit"]))
    c.eq(f"{where}: estimated", got.is_estimated_balance, False)


def lots_of(lots, account):
    return [l for l in lots if urllib.parse.unquote(l["id"][len(ACCOUNT_PREFIX):].split("/", 1)[0]) == account]


def check_cli_account(c, client, account, lots, cacos):
    """Every figure the SDK reads equals what `ledger lots --json` and `ledger caco --json`
    printed for this account."""
    names = {l["name"]: l["properties"] for l in lots}
    macc_lots = [l for l in lots if l["properties"]["kind"] == "macc"]
    maccs = list(client.applicable_maccs.list(account, **H))
    c.eq(f"{account}: MACCs", [m.name for m in maccs], [l["name"] for l in macc_lots])
    for m, lot in zip(maccs, macc_lots):
        where = f"{account}: MACC {m.name}"
        p = lot["properties"]
        c.eq(f"{where}: commitment", number(m.commitment.amount), number(p["originalAmount"]["value"]))
        c.eq(f"{where}: remaining", number(m.properties["remainingCommitment"]["amount"]), number(p["closedBalance"]["value"]))
        c.eq(f"{where}: ledgerStatus", m.properties["ledgerStatus"], p["status"])
        for ms in m.milestones:
            # A missed milestone's shortfall became the lot `{macc}/{milestone}/shortfall`.
            credit = names.get(f"{m.name}/{ms.milestone_id}/shortfall")
            at = f"{where}: milestone {ms.milestone_id}"
            if credit is None:
                c.true(at, ms.status != bb.MaccMilestoneStatus.SHORTFALL_CHARGED, "ShortfallCharged without a shortfall credit")
            else:
                enum(c, f"{at}: status", ms.status, bb.MaccMilestoneStatus, "ShortfallCharged")
                c.eq(f"{at}: shortfall", number(ms.shortfall.charge.amount), number(credit["originalAmount"]["value"]))
    ccs = list(client.conditional_credits.scope_list("/" + scope_of(account), **H))
    c.eq(f"{account}: CACOs", [x.name for x in ccs], [x["id"] for x in cacos])
    for cc, caco in zip(ccs, cacos):
        where = f"{account}: CACO {cc.name}"
        c.eq(f"{where}: properties type", type(cc.properties).__name__, "PrimaryConditionalCreditProperties")
        c.eq(f"{where}: remaining", number(cc.properties["remainingCommitment"]["amount"]), number(caco["remainingCommitment"]))
        for gm, wm in zip(cc.properties.milestones, caco["milestones"]):
            at = f"{where}: milestone {wm['id']}"
            c.eq(f"{at}: target", number(gm.spend_target.amount), number(wm["consumptionTarget"]))
            c.eq(f"{at}: award", number(gm.award.credit.amount), number(wm["acoAward"]))
            c.eq(f"{at}: progress", number(gm["progress"]["amount"]), number(wm["progress"]))
            enum(c, f"{at}: status", gm.status, bb.MilestoneStatus, wm["status"])
    credit_lots = [l for l in lots if l["properties"]["kind"] != "macc"]
    credits = list(client.credits.list_applicable(scope_of(account), **H))
    c.eq(f"{account}: credits", [x.name for x in credits], [l["name"] for l in credit_lots])
    status = {"Inactive": "NotStarted", "Active": "Active", "Complete": "Exhausted", "Expired": "Expired", "Canceled": "Canceled"}
    for got, lot in zip(credits, credit_lots):
        where = f"{account}: credit {got.name}"
        p = lot["properties"]
        c.eq(f"{where}: credit", number(got.credit.amount), number(p["originalAmount"]["value"]))
        c.eq(f"{where}: closedBalance", number(got["properties"]["closedBalance"]["amount"]), number(p["closedBalance"]["value"]))
        enum(c, f"{where}: status", got.status, bb.CreditStatus, status[p["status"]])
    return len(maccs), len(ccs), len(credits)


def expect_not_found(c, what, call):
    c.checked += 1
    try:
        call()
    except ResourceNotFoundError:
        return
    except Exception as e:  # noqa: BLE001 - report whatever the SDK raised
        c.problems.append(f"{what}: expected ResourceNotFoundError, got {type(e).__name__}: {e}")
        return
    c.problems.append(f"{what}: expected ResourceNotFoundError, the call succeeded")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--expect", required=True, help="a worked example's expect.json")
    parser.add_argument("--lots", required=True, help="output of `ledger lots --json`")
    parser.add_argument("--caco", required=True, help="output of `ledger caco --json`")
    parser.add_argument("--restricted-token", help="a --tokens token that may not read --hidden-account")
    parser.add_argument("--hidden-account")
    args = parser.parse_args()

    with open(args.expect) as f:
        expect = json.load(f)
    with open(args.lots) as f:
        lots = json.load(f, parse_float=decimal.Decimal)["value"]
    with open(args.caco) as f:
        cacos = json.load(f, parse_float=decimal.Decimal)["value"]

    client = BillingBenefitsMgmtClient(StaticToken(args.token), SUBSCRIPTION, base_url=args.base_url)
    consumption = ConsumptionManagementClient(StaticToken(args.token), SUBSCRIPTION, base_url=args.base_url)
    c = Checker()
    worked = expect["account"]
    check_worked_maccs(c, client, worked, expect)
    check_worked_conditional_credits(c, client, worked, expect)
    check_worked_credits(c, client, worked, expect)
    check_worked_summary(c, consumption, worked, expect)

    accounts = sorted({urllib.parse.unquote(l["id"][len(ACCOUNT_PREFIX):].split("/", 1)[0]) for l in lots} - {worked})
    totals = [0, 0, 0]
    for account in accounts:
        counts = check_cli_account(c, client, account, lots_of(lots, account), [x for x in cacos if x["account"] == account])
        totals = [a + b for a, b in zip(totals, counts)]
    every = list(client.credits.list_by_subscription(**H))
    c.eq("credits.list_by_subscription", len(every), len([l for l in lots if l["properties"]["kind"] != "macc"]))

    expect_not_found(c, "an unknown MACC", lambda: client.maccs.get(worked, "no-such-macc", **H))
    expect_not_found(c, "an unknown billing account", lambda: list(client.applicable_maccs.list("no-such-account", **H)))
    if args.restricted_token:
        restricted = BillingBenefitsMgmtClient(StaticToken(args.restricted_token), SUBSCRIPTION, base_url=args.base_url)
        expect_not_found(c, "an account the token may not read", lambda: list(restricted.credits.list_applicable(scope_of(args.hidden_account), **H)))
        expect_not_found(c, "a MACC of an account the token may not read", lambda: restricted.maccs.get(args.hidden_account, "macc-2024", **H))

    for problem in c.problems[:50]:
        print(f"bb_check: {problem}", file=sys.stderr)
    if c.problems:
        print(f"bb_check: {len(c.problems)} differences in {c.checked} checks", file=sys.stderr)
        return 1
    print(
        f"bb_check: the worked example {worked} and {len(accounts)} more accounts ({totals[0]} MACCs, "
        f"{totals[1]} conditional credits, {totals[2]} credits) read with azure-mgmt-billingbenefits; "
        f"{c.checked} checks, all as expected"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

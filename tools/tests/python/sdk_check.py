#!/usr/bin/env python3
"""Read a running `ledger serve` with Microsoft's own Python SDK, azure-mgmt-consumption, and
check every value against what `ledger lots --json` and `ledger events --json` printed.

Run by tools/tests/serve_sdk.rs (which builds the ledger, runs the CLI, starts the server and
passes the files and the URL); it can also be run by hand:

    python sdk_check.py --base-url http://127.0.0.1:8080 --token T \
        --lots lots.json --events events.json

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
from azure.core.rest import HttpRequest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.mgmt.consumption import ConsumptionManagementClient

ACCOUNT_PREFIX = "/providers/Microsoft.Billing/billingAccounts/"


class StaticToken:
    """A credential that hands out the server's --token (or anything, when it has none)."""

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
            self.problems.append(f"{where}: the SDK read {got!r}, the CLI printed {want!r}")


def account_of(resource_id):
    """The billing account of an id like /providers/Microsoft.Billing/billingAccounts/A/..."""
    assert resource_id.startswith(ACCOUNT_PREFIX), resource_id
    return urllib.parse.unquote(resource_id[len(ACCOUNT_PREFIX):].split("/", 1)[0])


def azure_datetime(text):
    """The CLI's '2021-05-05T00:00:00.0000000Z' as the aware datetime the SDK gives."""
    if text is None:
        return None
    assert text.endswith(".0000000Z"), text
    return datetime.datetime.strptime(text[: -len(".0000000Z")], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)


def amount(a):
    return None if a is None else (a.currency, a.value)


def cli_amount(a):
    """The CLI's exact amount as the SDK can read it: azure-core parses JSON numbers with
    json.loads, i.e. into binary doubles, and the model turns that double into a Decimal. So an
    amount of 16 or more significant digits comes back as the nearest double, whatever the
    server sends; the exact text is checked separately (check_exact_text)."""
    return None if a is None else (a["currency"], decimal.Decimal(str(float(a["value"]))))


def check_lots(c, client, account, want, filter_text=None):
    kwargs = {"enforce_https": False}
    if filter_text is not None:
        kwargs["filter"] = filter_text
    got = list(client.lots.list_by_billing_account(account, **kwargs))
    where = f"lots of {account}" + (f" ($filter={filter_text})" if filter_text else "")
    c.eq(f"{where}: count", len(got), len(want))
    for g, w in zip(got, want):
        p = w["properties"]
        at = f"{where}: lot {w['name']}"
        c.eq(f"{at}: id", g.id, w["id"])
        c.eq(f"{at}: name", g.name, w["name"])
        c.eq(f"{at}: type", g.type, w["type"])
        c.eq(f"{at}: eTag", g.e_tag, w["eTag"])
        c.eq(f"{at}: source", g.source, p["source"])
        c.eq(f"{at}: status", g.status, p["status"])
        c.eq(f"{at}: originalAmount", amount(g.original_amount), cli_amount(p["originalAmount"]))
        c.eq(f"{at}: closedBalance", amount(g.closed_balance), cli_amount(p["closedBalance"]))
        c.eq(f"{at}: startDate", g.start_date, azure_datetime(p["startDate"]))
        c.eq(f"{at}: expirationDate", g.expiration_date, azure_datetime(p["expirationDate"]))
        c.eq(f"{at}: purchasedDate", g.purchased_date, azure_datetime(p.get("purchasedDate")))
        c.eq(f"{at}: usedAmount", amount(g.used_amount), cli_amount(p["usedAmount"]))
        c.eq(f"{at}: creditCurrency", g.credit_currency, p["creditCurrency"])
        c.eq(f"{at}: billingCurrency", g.billing_currency, p["billingCurrency"])
        c.eq(
            f"{at}: closedBalanceInBillingCurrency",
            amount(g.closed_balance_in_billing_currency),
            cli_amount(p["closedBalanceInBillingCurrency"]),
        )
        c.eq(f"{at}: isEstimatedBalance", g.is_estimated_balance, p["isEstimatedBalance"])
    return len(got)


def check_events(c, client, account, want, filter_text=None):
    kwargs = {"enforce_https": False}
    if filter_text is not None:
        kwargs["filter"] = filter_text
    got = list(client.events.list_by_billing_account(account, **kwargs))
    where = f"events of {account}" + (f" ($filter={filter_text})" if filter_text else "")
    c.eq(f"{where}: count", len(got), len(want))
    for g, w in zip(got, want):
        p = w["properties"]
        at = f"{where}: event {w['name']}"
        c.eq(f"{at}: id", g.id, w["id"])
        c.eq(f"{at}: name", g.name, w["name"])
        c.eq(f"{at}: transactionDate", g.transaction_date, azure_datetime(p["transactionDate"]))
        c.eq(f"{at}: description", g.description, p["description"])
        c.eq(f"{at}: billingProfileDisplayName", g.billing_profile_display_name, p["billingProfileDisplayName"])
        c.eq(f"{at}: lotId", g.lot_id, p["lotId"])
        c.eq(f"{at}: lotSource", g.lot_source, p["lotSource"])
        c.eq(f"{at}: charges", amount(g.charges), cli_amount(p["charges"]))
        c.eq(f"{at}: closedBalance", amount(g.closed_balance), cli_amount(p["closedBalance"]))
        c.eq(f"{at}: eventType", g.event_type, p["eventType"])
        c.eq(f"{at}: invoiceNumber", g.invoice_number, p["invoiceNumber"])
        c.eq(f"{at}: billingAccountId", g.billing_account_id, p["billingAccountId"])
        c.eq(f"{at}: billingProfileId", g.billing_profile_id, p["billingProfileId"])
        for field, python in [
            ("newCredit", "new_credit"),
            ("adjustments", "adjustments"),
            ("creditExpired", "credit_expired"),
            ("canceledCredit", "canceled_credit"),
        ]:
            c.eq(f"{at}: {field}", amount(getattr(g, python)), cli_amount(p[field]))
        c.eq(f"{at}: isEstimatedBalance", g.is_estimated_balance, p["isEstimatedBalance"])
    return len(got)


def check_profile_events(c, client, account, want, profile, start, end):
    got = list(
        client.events.list_by_billing_profile(account, profile, start_date=start, end_date=end, enforce_https=False)
    )
    expected = [
        w
        for w in want
        if (w["properties"]["billingProfileDisplayName"] or "").lower() == profile.lower()
        and start <= w["properties"]["transactionDate"][:10] <= end
    ]
    where = f"events of {account} / billing profile {profile} from {start} to {end}"
    c.eq(f"{where}: ids", [g.id for g in got], [w["id"] for w in expected])
    return len(got)


def check_exact_text(c, client, base_url, account, what, want):
    """Page through lots or events with the SDK's pipeline and compare the JSON, parsed with
    exact decimals, to the CLI's."""
    quoted = urllib.parse.quote(account, safe="")
    url = f"{base_url}{ACCOUNT_PREFIX}{quoted}/providers/Microsoft.Consumption/{what}?api-version=2024-08-01"
    got = []
    pages = 0
    while url and pages < 10_000:
        response = client._client.send_request(HttpRequest("GET", url), enforce_https=False)
        response.raise_for_status()
        page = json.loads(response.text(), parse_float=decimal.Decimal)
        got.extend(page["value"])
        url = page.get("nextLink")
        pages += 1
    c.eq(f"{what} of {account}, exact JSON over {pages} pages", got, want)


def expect_error(c, what, call, error_type, code, status):
    c.checked += 1
    try:
        call()
    except error_type as e:
        got_code = e.error.code if e.error is not None else None
        if e.status_code != status or got_code != code:
            c.problems.append(f"{what}: expected {status} {code}, got {e.status_code} {got_code}: {e.message}")
        return
    except Exception as e:  # noqa: BLE001 - report whatever the SDK raised
        c.problems.append(f"{what}: expected {error_type.__name__} {status} {code}, got {type(e).__name__}: {e}")
        return
    c.problems.append(f"{what}: expected {status} {code}, the call succeeded")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token", default="unused")
    parser.add_argument("--lots", required=True, help="output of `ledger lots --json`")
    parser.add_argument("--events", required=True, help="output of `ledger events --json`")
    args = parser.parse_args()

    # Exact decimals, as the CLI wrote them (never through a binary float).
    with open(args.lots) as f:
        lots = json.load(f, parse_float=decimal.Decimal)["value"]
    with open(args.events) as f:
        events = json.load(f, parse_float=decimal.Decimal)["value"]
    accounts = sorted({account_of(l["id"]) for l in lots} | {account_of(e["id"]) for e in events})
    if not accounts or not events:
        print("sdk_check: the CLI printed no lots or no events; nothing to compare", file=sys.stderr)
        return 1

    subscription = "00000000-0000-0000-0000-000000000000"
    client = ConsumptionManagementClient(StaticToken(args.token), subscription, base_url=args.base_url)
    c = Checker()
    read_lots = read_events = 0
    for account in accounts:
        account_lots = [l for l in lots if account_of(l["id"]) == account]
        account_events = [e for e in events if account_of(e["id"]) == account]
        read_lots += check_lots(c, client, account, account_lots)
        read_events += check_events(c, client, account, account_events)
        # $filter, as Azure documents it (lower-case values, upper-case AND).
        check_lots(
            c,
            client,
            account,
            [l for l in account_lots if l["properties"]["source"] == "ConsumptionCommitment"],
            "source eq 'consumptioncommitment'",
        )
        if account_lots:
            first = account_lots[0]
            check_lots(
                c,
                client,
                account,
                [l for l in account_lots if l["name"] == first["name"]],
                f"lotid eq '{first['name']}' AND status eq '{first['properties']['status'].lower()}'",
            )
        check_events(
            c,
            client,
            account,
            [e for e in account_events if e["properties"]["lotSource"] == "ConsumptionCommitment"],
            "lotsource eq 'ConsumptionCommitment'",
        )
        check_events(
            c,
            client,
            account,
            [e for e in account_events if e["properties"]["eventType"] == "NewCredit"],
            "eventType eq 'NewCredit'",
        )
        profiles = sorted({e["properties"]["billingProfileDisplayName"] for e in account_events} - {None})
        if profiles:
            # The lots of a billing profile are the account's lots.
            by_profile = list(client.lots.list_by_billing_profile(account, profiles[0], enforce_https=False))
            c.eq(f"lots of {account} / billing profile {profiles[0]}: ids", [g.id for g in by_profile], [l["id"] for l in account_lots])
            dates = sorted(e["properties"]["transactionDate"][:10] for e in account_events)
            check_profile_events(c, client, account, account_events, profiles[0], dates[0], dates[len(dates) // 2])

    # The bytes the server sends carry the exact decimals (through the SDK's own pipeline, read
    # without a float in between).
    for account in accounts:
        check_exact_text(c, client, args.base_url, account, "lots", [l for l in lots if account_of(l["id"]) == account])
        check_exact_text(c, client, args.base_url, account, "events", [e for e in events if account_of(e["id"]) == account])

    # Errors reach the SDK as Azure errors it understands.
    expect_error(
        c,
        "an unknown billing account",
        lambda: list(client.lots.list_by_billing_account("no-such-account", enforce_https=False)),
        ResourceNotFoundError,
        "BillingAccountNotFound",
        404,
    )
    expect_error(
        c,
        "a bad $filter",
        lambda: list(client.lots.list_by_billing_account(accounts[0], filter="source ne 'x'", enforce_https=False)),
        HttpResponseError,
        "InvalidFilter",
        400,
    )
    if args.token != "unused":
        wrong = ConsumptionManagementClient(StaticToken(args.token + "-wrong"), subscription, base_url=args.base_url)
        expect_error(
            c,
            "a wrong token",
            lambda: list(wrong.lots.list_by_billing_account(accounts[0], enforce_https=False)),
            ClientAuthenticationError,
            "InvalidAuthenticationToken",
            401,
        )

    for problem in c.problems[:50]:
        print(f"sdk_check: {problem}", file=sys.stderr)
    if c.problems:
        print(f"sdk_check: {len(c.problems)} differences in {c.checked} checks", file=sys.stderr)
        return 1
    print(
        f"sdk_check: {len(accounts)} accounts, {read_lots} lots and {read_events} events read with "
        f"azure-mgmt-consumption; {c.checked} checks, all equal to the CLI's JSON"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

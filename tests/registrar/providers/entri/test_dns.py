"""Entri's DNS record rules (registrar.providers.entri.dns): what the admin form and
`replace_dns_records` let through, normalised, and what they refuse before anything is
sent. The adapter's class-level `clean_dns_records` hook is these rules, read without a
client."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from registrar.providers.entri.adapter import EntriProvider
from registrar.providers.entri.dns import clean_dns_records
from registrar.providers.registry import adapter_class
from tests.registrar.providers.entri.shapes import DNS_RECORDS_UPDATE, PLACE_ORDER_BODY

GOOD_RECORDS = [
    {"host": "@", "type": "A", "value": "192.168.1.1", "ttl": 3600},
    {"host": "www", "type": "AAAA", "value": "2001:DB8:0:0::1", "ttl": 300},
    {"host": "WWW2", "type": "cname", "value": "Site.Example.NET", "ttl": "3600"},
    {"host": "@", "type": "MX", "value": "10 mail.example.com", "ttl": 86400},
    {"host": "@", "type": "TXT", "value": "v=spf1 include:_spf.example.com ~all", "ttl": 60},
    {"host": "sel._domainkey", "type": "TXT", "value": '"' + "a" * 255 + '" "' + "b" * 40 + '"'},
    {"host": "lab", "type": "NS", "value": "ns1.example.net.", "ttl": 3600},
    {"host": "_sip._tcp", "type": "SRV", "value": "10 5 5060 sip.example.com", "ttl": 3600},
    {"host": "@", "type": "CAA", "value": '0 issue "letsencrypt.org"', "ttl": 3600},
    {"host": "*.shop", "type": "A", "value": "203.0.113.7", "ttl": 600},
    {"host": "café", "type": "A", "value": "203.0.113.8", "ttl": 600},
]


def test_clean_dns_records_accepts_and_normalises_good_records():
    cleaned = clean_dns_records(copy.deepcopy(GOOD_RECORDS))
    assert cleaned[1]["value"] == "2001:db8::1"
    assert cleaned[2] == {"host": "www2", "type": "CNAME", "value": "site.example.net",
                          "ttl": 3600}
    assert cleaned[6]["value"] == "ns1.example.net."
    assert cleaned[10]["host"] == "xn--caf-dma"
    assert "ttl" not in cleaned[5]
    assert clean_dns_records(cleaned) == cleaned  # idempotent: services clean again


def test_clean_dns_records_accepts_the_documents_examples():
    records = DNS_RECORDS_UPDATE["dns_records"]
    assert clean_dns_records(records) == records
    assert clean_dns_records(PLACE_ORDER_BODY["defaultDnsRecords"]) == (
        PLACE_ORDER_BODY["defaultDnsRecords"])


def record(type_: str, value: Any, host: Any = "www", ttl: Any = 3600) -> dict[str, Any]:
    return {"host": host, "type": type_, "value": value, "ttl": ttl}


HOSTILE_RECORDS = {
    "cname to an ipv4": record("CNAME", "192.0.2.1"),
    "cname to an ipv6": record("CNAME", "2001:db8::1"),
    "cname to a bracketed ip": record("CNAME", "[::1]"),
    "cname at the apex": record("CNAME", "site.example.net", host="@"),
    "a with ipv6": record("A", "2001:db8::1"),
    "a with a name": record("A", "example.com"),
    "a with leading zeros": record("A", "010.0.0.1"),
    "a unspecified": record("A", "0.0.0.0"),  # noqa: S104 - a hostile value, not a bind
    "aaaa with ipv4": record("AAAA", "192.0.2.1"),
    "aaaa ipv4 mapped": record("AAAA", "::ffff:192.0.2.1"),
    "aaaa with a zone id": record("AAAA", "fe80::1%eth0"),
    "ttl zero": record("A", "192.0.2.1", ttl=0),
    "ttl 10**9": record("A", "192.0.2.1", ttl=10**9),
    "ttl below 60": record("A", "192.0.2.1", ttl=59),
    "ttl as float": record("A", "192.0.2.1", ttl=300.5),
    "ttl as bool": record("A", "192.0.2.1", ttl=True),
    "ttl as words": record("A", "192.0.2.1", ttl="an hour"),
    "ttl of 5000 digits": record("A", "192.0.2.1", ttl="9" * 5000),
    "unknown type": record("PTR", "example.com"),
    "type missing": {"host": "www", "value": "192.0.2.1", "ttl": 3600},
    "mx without priority": record("MX", "mail.example.com", host="@"),
    "mx priority too high": record("MX", "70000 mail.example.com", host="@"),
    "mx to an ip": record("MX", "10 192.0.2.25", host="@"),
    "mx with unicode digits": record("MX", "²0 mail.example.com", host="@"),
    "empty value": record("A", ""),
    "blank value": record("TXT", "   "),
    "value not a string": record("A", 3232235777),
    "newline in value": record("TXT", "v=spf1\nevil"),
    "nul in value": record("TXT", "abc\x00def"),
    "txt string too long": record("TXT", "a" * 256),
    "txt quoted string too long": record("TXT", '"' + "a" * 256 + '"'),
    "txt unbalanced quotes": record("TXT", '"abc'),
    "txt non-ascii over 255 bytes": record("TXT", "é" * 128),
    "host with a space": record("A", "192.0.2.1", host="w w"),
    "host absolute": record("A", "192.0.2.1", host="www.example.com."),
    "host empty": record("A", "192.0.2.1", host=""),
    "host wildcard inside": record("A", "192.0.2.1", host="www.*"),
    "host path": record("A", "192.0.2.1", host="../admin"),
    "host with at inside": record("A", "192.0.2.1", host="@.www"),
    "cname target with a port": record("CNAME", "site.example.net:443"),
    "cname target single label": record("CNAME", "localhost"),
    "cname target numeric tld": record("CNAME", "host.123"),
    "ns at the apex": record("NS", "ns1.example.net", host="@"),
    "srv without service labels": record("SRV", "10 5 5060 sip.example.com", host="sip"),
    "srv missing port": record("SRV", "10 5 sip.example.com", host="_sip._tcp"),
    "caa flags too big": record("CAA", '256 issue "letsencrypt.org"', host="@"),
    "caa without value": record("CAA", "0 issue", host="@"),
    "caa unbalanced quotes": record("CAA", '0 issue "letsencrypt.org', host="@"),
    "caa empty quoted value": record("CAA", '0 issue ""', host="@"),
    "host bad underscore label": record("A", "192.0.2.1", host="_"),
    "host smuggling a dot": record("A", "192.0.2.1", host="www\u3002evil"),
    "host longer than 253": record("A", "192.0.2.1", host=".".join(["a" * 63] * 4)),
    "unknown field": {**record("A", "192.0.2.1"), "priority": 10},
    "not an object": "www A 192.0.2.1 3600",
}


@pytest.mark.parametrize("hostile", HOSTILE_RECORDS.values(), ids=HOSTILE_RECORDS.keys())
def test_clean_dns_records_rejects_hostile_records(hostile):
    with pytest.raises(ValidationError) as caught:
        clean_dns_records([{"host": "ok", "type": "A", "value": "192.0.2.9", "ttl": 300},
                           hostile])
    assert caught.value.messages
    assert all(message.startswith("Record 2: ") for message in caught.value.messages)


@pytest.mark.parametrize("records", ["www A 192.0.2.1", {"host": "www"}, 42, None,
                                     [record("A", "192.0.2.1")] * 501])
def test_clean_dns_records_wants_a_list(records):
    with pytest.raises(ValidationError):
        clean_dns_records(records)


def test_clean_dns_records_reports_every_problem_and_conflicts():
    with pytest.raises(ValidationError) as caught:
        clean_dns_records([record("A", "::1"), record("AAAA", "192.0.2.1")])
    assert [m[:9] for m in caught.value.messages] == ["Record 1:", "Record 2:"]
    with pytest.raises(ValidationError, match="CNAME"):
        clean_dns_records([record("CNAME", "a.example.net"), record("A", "192.0.2.1")])
    with pytest.raises(ValidationError, match="twice"):
        clean_dns_records([record("A", "192.0.2.1"), record("A", "192.0.2.1", ttl=60)])


def test_the_adapters_hook_applies_these_rules_without_a_client():
    for clean in (EntriProvider.clean_dns_records, adapter_class("entri").clean_dns_records):
        assert clean(copy.deepcopy(GOOD_RECORDS)) == clean_dns_records(GOOD_RECORDS)
        with pytest.raises(ValidationError) as caught:
            clean([record("CNAME", "192.0.2.1")])
        assert caught.value.messages[0].startswith("Record 1: ")

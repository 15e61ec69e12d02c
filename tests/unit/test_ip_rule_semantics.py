"""IP rule semantics of one scope: deny always wins; any allow rule turns the scope into an allow list."""

from __future__ import annotations

import pytest

from membank.auth.ip_rules import normalise_cidr, rules_allow
from membank.errors import ValidationFailed
from membank.storage.ports import IpRule, IpRuleAction


def _rule(cidr: str, action: IpRuleAction) -> IpRule:
    return IpRule(f"r-{cidr}-{action}", "t1", normalise_cidr(cidr), action, "", 0.0)


def test_no_rules_let_everyone_pass() -> None:
    assert rules_allow([], "203.0.113.1") and rules_allow([], None)


def test_deny_rules_refuse_only_what_they_cover() -> None:
    rules = [_rule("203.0.113.0/24", "deny")]
    assert not rules_allow(rules, "203.0.113.77")
    assert rules_allow(rules, "198.51.100.1")
    assert rules_allow(rules, None)  # an unknown address is not in a deny range


def test_an_allow_rule_makes_an_allow_list() -> None:
    rules = [_rule("198.51.100.0/24", "allow")]
    assert rules_allow(rules, "198.51.100.9")
    assert not rules_allow(rules, "203.0.113.1")
    assert not rules_allow(rules, None)
    assert not rules_allow(rules, "not-an-address")


def test_deny_wins_over_a_wider_or_equal_allow() -> None:
    rules = [_rule("10.0.0.0/8", "allow"), _rule("10.1.0.0/16", "deny"), _rule("10.2.3.4", "deny")]
    assert rules_allow(rules, "10.9.9.9")
    assert not rules_allow(rules, "10.1.2.3")
    assert not rules_allow([*rules, _rule("10.2.3.4", "allow")], "10.2.3.4")


def test_ipv6_and_ipv4_mapped_addresses() -> None:
    rules = [_rule("2001:db8::/32", "allow"), _rule("192.0.2.0/24", "allow")]
    assert rules_allow(rules, "2001:db8::1")
    assert not rules_allow(rules, "2001:db9::1")
    assert rules_allow(rules, "::ffff:192.0.2.5")  # an IPv4 client on an IPv6 socket


def test_cidrs_are_normalised_and_validated() -> None:
    assert normalise_cidr("10.1.2.3/8") == "10.0.0.0/8"
    assert normalise_cidr(" 203.0.113.5 ") == "203.0.113.5/32"
    assert normalise_cidr("2001:DB8::1/32") == "2001:db8::/32"
    for bad in ("", "10.0.0.0/33", "300.1.1.1", "example.com", "::/129"):
        with pytest.raises(ValidationFailed) as refused:
            normalise_cidr(bad)
        assert refused.value.details["errors"][0]["field"] == "cidr"

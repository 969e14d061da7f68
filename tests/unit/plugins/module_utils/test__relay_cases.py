# -*- coding: utf-8 -*-
# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import email

import pytest

from ansible_collections.mailrelay.smtp.plugins.module_utils import _relay_cases as rc
from ansible_collections.mailrelay.smtp.plugins.module_utils._smtp_probe import parse_reply


def reply(text):
    return parse_reply([text])


def ctx(role="inbound_relay", **kwargs):
    defaults = dict(own_domains=["own.example", "other.example"], server_name="mx.own.example",
                    server_ip="198.51.100.7", username="alice@own.example", other_sender="bob@own.example")
    defaults.update(kwargs)
    return rc.CaseContext(role, **defaults)


def by_name(cases):
    return dict((case.name, case) for case in cases)


# --- catalogue --------------------------------------------------------------

@pytest.mark.parametrize("role", rc.ROLES)
def test_names_and_tokens_are_unique_and_tokens_never_prefix_each_other(role):
    cases = rc.build_cases(ctx(role), "abc123")
    names = [case.name for case in cases]
    tokens = [case.token for case in cases]
    assert len(set(names)) == len(names)
    assert len(set(tokens)) == len(tokens)
    for token in tokens:
        assert all(other == token or not other.startswith(token) for other in tokens)
        assert token.startswith("relayaudit-abc123-")


@pytest.mark.parametrize("role", rc.ROLES)
def test_every_mail_case_carries_its_token_in_a_judged_recipient(role):
    for case in rc.build_cases(ctx(role), "abc123"):
        if (case.mail_from is None or case.kind == rc.MUST_ACCEPT or case.name.startswith("unauth-own-domain")
                or case.name in rc.LOCAL_ACCOUNT_CASES):
            continue
        judged = [arg for arg, is_judged in case.rcpts if is_judged]
        assert judged and all(case.token in arg for arg in judged), case.name
        assert all("{t}" not in arg for arg, _j in case.rcpts)


def test_inbound_relay_catalogue_spells_the_classic_tricks():
    cases = by_name(rc.build_cases(ctx(), "abc123"))
    t = cases["percent-hack@own.example"].token
    expected = {
        "percent-hack@own.example": "<%s%%example.net@own.example>",
        "double-at@own.example": "<%s@example.net@own.example>",
        "quoted-local-part@own.example": '<"%s@example.net"@own.example>',
        "bang-path@own.example": "<example.net!%s@own.example>",
        "escaped-at@own.example": "<%s\\@example.net@own.example>",
        "percent-hack-trailing-dot@own.example": "<%s%%example.net@own.example.>",
        "percent-hack-mixed-case@own.example": "<%s%%example.net@OwN.eXaMpLe>",
        "lookalike-suffix@own.example": "<%s@audit-own.example>",
        "lookalike-prefix@own.example": "<%s@own.example.example.net>",
        "source-route-multi-hop@own.example": "<@own.example,@mx.own.example:%s@example.net>",
        "percent-chain@own.example": "<%s%%example.net%%own.example@own.example>",
    }
    for name, template in expected.items():
        case = cases[name]
        assert case.rcpts == [(template % case.token, True)], name
    assert t
    assert cases["percent-hack-server-ip"].rcpts[0][0].endswith("%example.net@[198.51.100.7]>")
    assert cases["source-route-server-name"].rcpts[0][0].startswith("<@mx.own.example:")
    assert cases["bang-path"].rcpts[0][0] == "<example.net!%s>" % cases["bang-path"].token
    assert cases["bare-recipient"].rcpts[0][0] == "%s@example.net" % cases["bare-recipient"].token
    assert cases["null-sender"].mail_from == "<>"
    assert cases["server-ip-sender"].mail_from == "<relay-audit@[198.51.100.7]>"
    assert cases["own-sender@other.example"].mail_from == "<relay-audit@other.example>"
    assert cases["ip-literal-recipient"].rcpts[0][0].endswith("@[192.0.2.1]>")
    # Own domains must be accepted, one case each, at the existing recipient.
    assert cases["own-domain-accepted@own.example"].kind == rc.MUST_ACCEPT
    assert cases["own-domain-accepted@other.example"].rcpts == [("<postmaster@other.example>", True)]
    second = cases["second-recipient-foreign@own.example"]
    assert second.rcpts[0] == ("<postmaster@own.example>", False)
    assert second.rcpts[1][1] is True
    assert all(case.source for case in cases.values())


def test_ipv6_server_literal():
    cases = by_name(rc.build_cases(ctx(server_ip="2001:db8::25"), "abc123"))
    assert "@[IPv6:2001:db8::25]>" in cases["percent-hack-server-ip"].rcpts[0][0]


def test_hub_runs_relay_attempts_and_local_destinations_only():
    cases = rc.build_cases(ctx("hub"), "abc123")
    refused = [case.name for case in cases if case.kind == rc.MUST_REFUSE]
    assert refused == ["local-ip-literal", "localhost-recipient", "unqualified-recipient"]
    assert set(case.kind for case in cases if case.name not in refused) == {rc.RELAY_ATTEMPT}
    assert "foreign-recipient" in by_name(cases)


def test_inbound_relay_refuses_local_destinations_subdomains_and_unknown_recipients():
    cases = by_name(rc.build_cases(ctx(), "abc123"))
    plain = cases["postmaster-unqualified"]
    assert plain.kind == rc.MUST_ACCEPT and plain.rcpts == [("<postmaster>", True)]
    expected = {
        "local-ip-literal": "<root@[198.51.100.7]>",
        "localhost-recipient": "<postmaster@localhost>",
        "unqualified-recipient": "<root>",
        "subdomain@own.example": "<%s@relay-audit-sub.own.example>",
        "subdomain@other.example": "<%s@relay-audit-sub.other.example>",
        "unknown-recipient@own.example": "<%s@own.example>",
    }
    for name, template in expected.items():
        assert cases[name].kind == rc.MUST_REFUSE and cases[name].phase == rc.PHASE_SESSION, name
        expected_rcpt = template % cases[name].token if "%s" in template else template
        assert cases[name].rcpts == [(expected_rcpt, True)], name
        assert cases[name].source, name


def test_submission_brute_force_series_only_when_the_limit_is_given():
    cases = rc.build_cases(ctx("submission", own_domains=["own.example"]), "abc123")
    assert not any(case.expect_rate_limit for case in cases)
    limited = rc.build_cases(ctx("submission", own_domains=["own.example"], auth_rate_limit=3), "abc123")
    series = [case for case in limited if case.expect_rate_limit]
    # Last, so that the lock-out it causes touches no other case.
    assert limited[-4:] == series
    assert [case.name for case in series] == ["auth-rate-warm-up-1", "auth-rate-warm-up-2", "auth-rate-warm-up-3", "auth-over-rate"]
    assert all(case.kind == rc.MUST_ACCEPT and case.phase == rc.PHASE_AUTH for case in series[:-1])
    assert series[0].mail_from == "<alice@own.example>" and series[0].rcpts == [("<alice@own.example>", True)]
    assert series[-1].kind == rc.WRONG_PASSWORD and not any(case.skip_reason for case in series)
    local = by_name(limited)["auth-local-ip-literal"]
    assert local.phase == rc.PHASE_AUTH and local.kind == rc.MUST_REFUSE


def test_brute_force_verdicts():
    warm_up = rc.Case("auth-rate-warm-up-1", "", rc.MUST_ACCEPT, rc.PHASE_AUTH, "s", "<a@own.example>",
                      [("<a@own.example>", True)], expect_rate_limit="warm-up")
    over = rc.Case("auth-over-rate", "", rc.WRONG_PASSWORD, rc.PHASE_TLS, "s", expect_rate_limit="over")

    def outcome(code):
        result = rc.CaseOutcome()
        result.tls_established = True
        result.auth_reply = reply("%d 5.7.8 some text" % code if code >= 500 else "%d 4.7.1 some text" % code if code >= 400 else "%d 2.7.0 ok" % code)
        return result
    assert rc.judge(warm_up, outcome(235))[0] == rc.PASS
    assert rc.judge(warm_up, outcome(450))[0] == rc.PASS
    assert rc.judge(warm_up, outcome(535))[0] == rc.INCONCLUSIVE
    assert rc.judge(over, outcome(450))[0] == rc.PASS
    verdict, reason = rc.judge(over, outcome(535))
    assert verdict == rc.FAIL and "no rate limit" in reason
    # 454: the server could not check the credentials (its SASL service is down), which is no rate limit.
    assert rc.judge(warm_up, outcome(454))[0] == rc.INCONCLUSIVE
    assert rc.judge(over, outcome(454))[0] == rc.INCONCLUSIVE
    # A warm-up refused over the rate (a series less than a minute before) shows the limit; the over-rate
    # attempt may then meet a new rate window and be checked again.
    refused_warm_up = rc.first_rate_refusal([(warm_up, outcome(235)), (warm_up, outcome(450)), (over, outcome(535))])
    assert refused_warm_up == ("auth-rate-warm-up-1", "450 4.7.1 some text")
    verdict, reason = rc.judge(over, outcome(535), rate_refusal=refused_warm_up)
    assert verdict == rc.PASS and "auth-rate-warm-up-1 was refused with 450" in reason
    # Neither a temporary authentication failure nor a wrong password accepted counts as the limit.
    assert rc.first_rate_refusal([(warm_up, outcome(454)), (warm_up, outcome(235)), (warm_up, None)]) is None
    assert rc.judge(over, outcome(235), rate_refusal=refused_warm_up)[0] == rc.FAIL
    # Without a limit the whole series is accepted: the over-rate attempt fails.
    assert rc.first_rate_refusal([(warm_up, outcome(235)), (over, outcome(535))]) is None


def test_implicit_tls_case_requires_tls_1_2():
    cases = by_name(rc.build_cases(ctx("submission", tls="implicit"), "abc123"))
    assert "starttls-offered" not in cases
    case = cases["implicit-tls"]
    assert case.kind == rc.STARTTLS and "RFC 8314" in case.source
    result = rc.CaseOutcome()
    result.tls_established, result.tls_version = True, "TLSv1.3"
    assert rc.judge(case, result)[0] == rc.PASS
    result.tls_version = "TLSv1.1"
    assert rc.judge(case, result)[0] == rc.FAIL


def test_submission_catalogue_and_skips():
    cases = by_name(rc.build_cases(ctx("submission", own_domains=["own.example"]), "abc123"))
    assert cases["auth-relay"].kind == rc.MUST_DELIVER and cases["auth-relay"].phase == rc.PHASE_AUTH
    assert cases["auth-relay"].mail_from == "<alice@own.example>"
    assert cases["auth-sender-spoof"].mail_from == "<bob@own.example>"
    assert cases["auth-before-starttls"].phase == rc.PHASE_CLEARTEXT
    assert cases["unauth-own-domain@own.example"].kind == rc.MUST_REFUSE
    assert cases["foreign-recipient"].phase == rc.PHASE_SESSION
    assert not any(case.skip_reason for case in cases.values())

    bare = by_name(rc.build_cases(ctx("submission", username=None, other_sender=None), "abc123"))
    assert bare["auth-relay"].skip_reason == "no username given"
    assert bare["auth-wrong-password"].skip_reason == "no username given"
    assert bare["auth-sender-spoof"].skip_reason
    assert bare["foreign-recipient"].mail_from == "<relay-audit@example.net>"

    implicit = by_name(rc.build_cases(ctx("submission", tls="implicit"), "abc123"))
    assert implicit["auth-before-starttls"].skip_reason.startswith("implicit TLS")
    assert implicit["unauth-relay-cleartext"].skip_reason
    none = by_name(rc.build_cases(ctx("submission", tls="none"), "abc123"))
    assert none["starttls-offered"].skip_reason and none["auth-relay"].skip_reason


def test_own_recipient_forms():
    assert rc.own_recipient_for("own.example", "postmaster") == "postmaster@own.example"
    assert rc.own_recipient_for("own.example", "info@own.example") == "info@own.example"
    assert rc.own_recipient_for("other.example", "info@own.example") == "postmaster@other.example"


def test_unknown_role_is_refused():
    with pytest.raises(ValueError):
        rc.build_cases(ctx("smarthost"), "abc123")


def test_select_cases_with_globs():
    cases = rc.build_cases(ctx(), "abc123")
    picked = rc.select_cases(cases, include=["percent-hack*"], exclude=["*@other.example"])
    assert [c.name for c in picked] == [
        "percent-hack-server-ip", "percent-hack-server-name", "percent-hack@own.example",
        "percent-hack-trailing-dot@own.example", "percent-hack-mixed-case@own.example"]
    assert rc.select_cases(cases) == cases
    assert rc.unmatched_patterns(cases, ["percent-hack*", "percnet-hack"]) == ["percnet-hack"]


def test_probe_message_carries_the_token_everywhere():
    case = by_name(rc.build_cases(ctx(), "abc123"))["foreign-recipient"]
    raw = rc.build_probe_message(case, "probe.example.net")
    message = email.message_from_bytes(raw)
    assert message["Message-ID"] == rc.probe_message_id(case.token)
    assert case.token in message["Subject"]
    assert case.token in message.get_payload()
    assert len(raw) < 1024


# --- verdicts -----------------------------------------------------------------

def relay_case(rcpts=None, kind=rc.RELAY_ATTEMPT, phase=rc.PHASE_SESSION):
    return rc.Case("t", "test", kind, phase, "test", "<a@example.net>",
                   rcpts or [("<relayaudit-x-001@example.net>", True)], token="relayaudit-x-001")


def outcome(mail="250 2.1.0 Ok", rcpts=("250 2.1.5 Ok",), data=None, final=None, error=None, tls=False, auth=None):
    result = rc.CaseOutcome()
    result.mail_reply = reply(mail) if mail else None
    result.rcpt_replies = [reply(r) for r in rcpts]
    result.data_reply = reply(data) if data else None
    result.data_final = reply(final) if final else None
    result.error = error
    result.tls_established = tls
    result.auth_reply = reply(auth) if auth else None
    return result


ARRIVAL = {"peer": "127.0.3.25", "mail_from": "a@example.net", "rcpt_to": ["relayaudit-x-001@example.net"]}


@pytest.mark.parametrize("case_outcome, capture, verdict, words", [
    (outcome(rcpts=["554 5.7.1 Relay access denied"]), None, rc.PASS, "refused at RCPT TO: 554"),
    (outcome(mail="553 5.7.1 sender rejected", rcpts=[]), None, rc.PASS, "refused at MAIL FROM"),
    (outcome(mail="451 4.3.0 later", rcpts=[]), None, rc.INCONCLUSIVE, "temporarily refused at MAIL"),
    (outcome(rcpts=["450 4.7.1 greylisted"]), None, rc.INCONCLUSIVE, "temporarily refused at RCPT"),
    (outcome(rcpts=["550 5.1.2 <x>: Recipient address rejected: Domain not found"]), None, rc.INCONCLUSIVE,
     "does not resolve"),
    (outcome(rcpts=[]), None, rc.INCONCLUSIVE, "no reply to RCPT TO"),
    (outcome(mail=None, rcpts=[], error="x:25 closed the connection"), None, rc.INCONCLUSIVE, "closed the connection"),
    (outcome(), None, rc.FAIL, "no capture listener"),
    (outcome(data="354 go", final="250 queued"), rc.CaptureEvidence(5, relays=[ARRIVAL]), rc.FAIL,
     "a copy reached the capture listener from 127.0.3.25"),
    (outcome(data="354 go", final="250 queued"), rc.CaptureEvidence(5, bounces=[ARRIVAL]), rc.BOUNCED,
     "then bounced"),
    (outcome(data="354 go", final="250 queued"), rc.CaptureEvidence(5), rc.PASS, "no copy reached the capture listener within 5s"),
    (outcome(data="554 5.7.1 no data"), rc.CaptureEvidence(5), rc.PASS, "refused at DATA"),
    (outcome(data="354 go", final="550 5.7.1 content refused"), rc.CaptureEvidence(5), rc.PASS, "refused after DATA"),
    (outcome(data="354 go", final="451 4.3.0 later"), rc.CaptureEvidence(5), rc.INCONCLUSIVE, "temporarily"),
    (outcome(data="354 go"), rc.CaptureEvidence(5), rc.INCONCLUSIVE, "end of the message"),
])
def test_relay_attempt_verdicts(case_outcome, capture, verdict, words):
    got, reason = rc.judge(relay_case(), case_outcome, capture)
    assert got == verdict
    assert words in reason


def test_only_judged_recipients_decide():
    case = relay_case(rcpts=[("<postmaster@own.example>", False), ("<relayaudit-x-001@example.net>", True)])
    assert rc.judge(case, outcome(rcpts=["250 ok", "554 5.7.1 denied"]))[0] == rc.PASS
    assert rc.judge(case, outcome(rcpts=["250 ok", "250 ok"]))[0] == rc.FAIL
    assert rc.judge(case, outcome(rcpts=["250 ok"], error="timeout"))[0] == rc.INCONCLUSIVE


def test_must_refuse_fails_on_acceptance_even_with_a_capture():
    case = relay_case(kind=rc.MUST_REFUSE)
    verdict, reason = rc.judge(case, outcome(), rc.CaptureEvidence(5))
    assert verdict == rc.FAIL and "must refuse" in reason
    assert rc.judge(case, outcome(rcpts=["554 no"]))[0] == rc.PASS


def test_must_accept_verdicts():
    case = relay_case(rcpts=[("<postmaster@own.example>", True)], kind=rc.MUST_ACCEPT)
    assert rc.judge(case, outcome())[0] == rc.PASS
    assert rc.judge(case, outcome(rcpts=["554 5.7.1 Relay access denied"]))[0] == rc.FAIL
    assert rc.judge(case, outcome(mail="550 no", rcpts=[]))[0] == rc.FAIL
    assert rc.judge(case, outcome(rcpts=["451 later"]))[0] == rc.INCONCLUSIVE


def test_must_deliver_verdicts():
    case = relay_case(kind=rc.MUST_DELIVER, phase=rc.PHASE_AUTH)
    ok = dict(auth="235 2.7.0 ok", tls=True)
    assert rc.judge(case, outcome(**ok))[0] == rc.PASS
    assert rc.judge(case, outcome(auth="535 5.7.8 bad", tls=True))[0] == rc.FAIL
    assert rc.judge(case, outcome(rcpts=["554 denied"], **ok))[0] == rc.FAIL
    delivered = outcome(data="354 go", final="250 ok", **ok)
    assert rc.judge(case, delivered, rc.CaptureEvidence(3, relays=[ARRIVAL]))[0] == rc.PASS
    verdict, reason = rc.judge(case, delivered, rc.CaptureEvidence(3))
    assert verdict == rc.FAIL and "did not reach" in reason
    assert rc.judge(case, delivered, rc.CaptureEvidence(3, bounces=[ARRIVAL]))[0] == rc.FAIL
    assert rc.judge(case, delivered, rc.CaptureEvidence(3), expect_delivery=False)[0] == rc.PASS
    # Without TLS the authenticated case proves nothing.
    assert rc.judge(case, outcome(auth="235 ok", error="STARTTLS is not offered"))[0] == rc.INCONCLUSIVE


def test_auth_before_tls_verdicts():
    case = rc.Case("auth-before-starttls", "x", rc.AUTH_BEFORE_TLS, rc.PHASE_CLEARTEXT, "x")
    result = rc.CaseOutcome()
    result.auth_offered_cleartext = ["PLAIN", "LOGIN"]
    result.auth_reply = reply("535 5.7.8 failed")
    verdict, reason = rc.judge(case, result)
    assert verdict == rc.FAIL and "offered before STARTTLS" in reason
    result.auth_offered_cleartext = []
    assert rc.judge(case, result)[1].startswith("server checked credentials")
    for text, expected in [("503 5.5.1 Error: authentication not enabled", rc.PASS),
                           ("530 5.7.0 Must issue a STARTTLS command first", rc.PASS),
                           ("235 2.7.0 ok", rc.FAIL), ("334 ", rc.FAIL),
                           ("454 4.7.0 Temporary authentication failure", rc.INCONCLUSIVE)]:
        result.auth_reply = reply(text)
        assert rc.judge(case, result)[0] == expected, text
    result.auth_offered_cleartext = None
    assert rc.judge(case, result)[0] == rc.INCONCLUSIVE


def test_starttls_and_wrong_password_verdicts():
    starttls = rc.Case("starttls-offered", "x", rc.STARTTLS, rc.PHASE_TLS, "x")
    result = rc.CaseOutcome()
    result.tls_established, result.tls_version, result.tls_verified = True, "TLSv1.3", True
    assert rc.judge(starttls, result) == (rc.PASS, "TLS established (TLSv1.3, certificate verified)")
    result = rc.CaseOutcome()
    result.starttls_offered = False
    assert rc.judge(starttls, result) == (rc.FAIL, "STARTTLS is not offered")
    result = rc.CaseOutcome()
    result.starttls_offered, result.error = True, "TLS handshake with x:587 failed: certificate verify failed"
    assert rc.judge(starttls, result)[0] == rc.FAIL

    wrong = rc.Case("auth-wrong-password", "x", rc.WRONG_PASSWORD, rc.PHASE_TLS, "x")
    assert rc.judge(wrong, outcome(auth="535 5.7.8 failed", tls=True))[0] == rc.PASS
    assert rc.judge(wrong, outcome(auth="235 2.7.0 ok", tls=True))[0] == rc.FAIL
    assert rc.judge(wrong, outcome(auth="454 4.7.0 later", tls=True))[0] == rc.INCONCLUSIVE
    assert rc.judge(wrong, outcome(auth="535 no", tls=False))[0] == rc.INCONCLUSIVE


def test_skipped_and_unrun_cases():
    case = relay_case()
    case.skip_reason = "no username given"
    assert rc.judge(case, None) == (rc.SKIPPED, "no username given")
    assert rc.judge(relay_case(), None)[0] == rc.SKIPPED


def test_summary_counts_and_names():
    results = [{"name": "a", "verdict": rc.PASS}, {"name": "b", "verdict": rc.FAIL},
               {"name": "c", "verdict": rc.BOUNCED}, {"name": "d", "verdict": rc.INCONCLUSIVE}]
    text, counts, names = rc.summarize("mx:25 (inbound_relay)", results)
    assert counts == {"pass": 1, "fail": 1, "bounced": 1, "inconclusive": 1, "skipped": 0}
    assert names[rc.FAIL] == ["b"]
    assert text == ("mx:25 (inbound_relay): 4 cases, 1 passed, 1 failed, 1 inconclusive, 1 bounced, 0 skipped; "
                    "failed: b; inconclusive: d")
    many = [{"name": "n%02d" % i, "verdict": rc.FAIL} for i in range(13)]
    assert rc.summarize("x", many)[0].endswith("n09 and 3 more")

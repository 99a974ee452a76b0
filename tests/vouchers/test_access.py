"""Who may do each step of the voucher scheme: firm, provider, bureau staff, other firms, anonymous."""

from __future__ import annotations

from decimal import Decimal

from market.core.vocab import OrgKind
from tests.vouchers.conftest import (
    API,
    EVIDENCE,
    PROGRAMME,
    SCORES,
    admit_provider,
    book,
    ok,
    open_programme,
    refused,
)


def _try(client, method, url, who: dict[str, dict], expected: dict[str, tuple[int, str | None]], body=None):
    """Every role in `expected` except the allowed one (status 2xx) first; the allowed one last."""
    order = sorted(expected, key=lambda role: expected[role][0] < 300)
    result = None
    for role in order:
        status, code = expected[role]
        response = client.request(method, url, json=body, headers=who[role])
        assert response.status_code == status, f"{role} {method} {url}: {response.status_code} {response.text}"
        if code is not None:
            assert response.json()["error"]["code"] == code, f"{role}: {response.text}"
        if status < 300:
            result = response.json()
    return result


def test_every_step_per_role(vclient, parties, world):
    c = vclient
    who = {**parties.all_roles(), "registrar": parties.registrar.headers}
    denied_org = (403, "role_required")

    programme = _try(
        c,
        "POST",
        f"{API}/programmes",
        who,
        {
            "anonymous": (401, "not_authenticated"),
            "firm": denied_org,
            "provider": denied_org,
            "other_firm": denied_org,
            "registrar": denied_org,
            "bureau": (201, None),
        },
        PROGRAMME,
    )
    pid = programme["id"]
    assert ok(c.get(f"{API}/programmes"))["total"] == 1  # programmes are public

    catalogue = {"catalogue": [{"category": "testing_certification", "name": "检测", "price": "8000.00"}]}
    applied = _try(
        c,
        "POST",
        f"{API}/providers",
        who,
        {"anonymous": (401, None), "bureau": (403, "role_required"), "provider": (201, None)},
        catalogue,
    )
    assert ok(c.get(f"{API}/providers"))["total"] == 0  # not public before approval
    refused(c.get(f"{API}/providers/{applied['id']}"), 404, "provider_not_found")
    _try(
        c,
        "POST",
        f"{API}/providers/{applied['id']}/decision",
        who,
        {
            "anonymous": (401, None),
            "firm": denied_org,
            "provider": denied_org,
            "other_firm": denied_org,
            "registrar": denied_org,
            "bureau": (200, None),
        },
        {"action": "approve"},
    )
    assert ok(c.get(f"{API}/providers"))["total"] == 1

    body = {"firm_kind": "sme", "requested_amount": "30000.00", "purpose": "检测"}
    voucher = _try(
        c,
        "POST",
        f"{API}/programmes/{pid}/applications",
        who,
        {
            "anonymous": (401, None),
            "bureau": (403, "role_required"),
            "provider": (403, "firm_not_eligible"),
            "firm": (201, None),
        },
        body,
    )
    vid = voucher["id"]
    _try(
        c,
        "POST",
        f"{API}/vouchers/{vid}/approve",
        who,
        {
            "anonymous": (401, None),
            "firm": denied_org,
            "provider": denied_org,
            "other_firm": denied_org,
            "registrar": denied_org,
            "bureau": (200, None),
        },
        {},
    )
    _try(
        c,
        "GET",
        f"{API}/vouchers/{vid}",
        who,
        {
            "anonymous": (401, None),
            "provider": (404, "voucher_not_found"),
            "other_firm": (404, "voucher_not_found"),
            "registrar": (200, None),
            "bureau": (200, None),
            "firm": (200, None),
        },
    )
    assert ok(c.get(f"{API}/vouchers", headers=who["other_firm"]))["total"] == 0

    booking_body = {
        "provider_org_id": parties.provider.org_id,
        "category": "testing_certification",
        "scope": "检测",
        "price": "10000.00",
        "voucher_amount": "9000.00",
        "settlement": "general",
    }
    booking = _try(
        c,
        "POST",
        f"{API}/vouchers/{vid}/bookings",
        who,
        {
            "anonymous": (401, None),
            "provider": (404, None),
            "other_firm": (404, None),
            "bureau": (403, "forbidden"),
            "firm": (201, None),
        },
        booking_body,
    )
    bid = booking["id"]
    _try(
        c,
        "GET",
        f"{API}/bookings/{bid}",
        who,
        {
            "anonymous": (401, None),
            "other_firm": (404, "booking_not_found"),
            "provider": (200, None),
            "bureau": (200, None),
            "firm": (200, None),
        },
    )
    _try(
        c,
        "POST",
        f"{API}/bookings/{bid}/deliver",
        who,
        {
            "anonymous": (401, None),
            "other_firm": (404, None),
            "firm": (403, "forbidden"),
            "bureau": (403, "forbidden"),
            "provider": (200, None),
        },
        EVIDENCE,
    )
    _try(
        c,
        "POST",
        f"{API}/bookings/{bid}/confirm",
        who,
        {
            "anonymous": (401, None),
            "other_firm": (404, None),
            "provider": (403, "forbidden"),
            "bureau": (403, "forbidden"),
            "firm": (200, None),
        },
        SCORES,
    )
    claim_body = {"contract_reference": "SC-1", "payment_proof": "回单", "paid_amount": "10000.00"}
    claim = _try(
        c,
        "POST",
        f"{API}/bookings/{bid}/claim",
        who,
        {
            "anonymous": (401, None),
            "other_firm": (404, None),
            "provider": (403, "wrong_claimant"),
            "bureau": (403, "wrong_claimant"),
            "firm": (201, None),
        },
        claim_body,
    )
    _try(
        c,
        "GET",
        f"{API}/claims/{claim['id']}",
        who,
        {
            "anonymous": (401, None),
            "other_firm": (404, None),
            "provider": (200, None),
            "bureau": (200, None),
            "firm": (200, None),
        },
    )
    _try(
        c,
        "POST",
        f"{API}/claims/{claim['id']}/review",
        who,
        {
            "anonymous": (401, None),
            "firm": denied_org,
            "provider": denied_org,
            "other_firm": denied_org,
            "registrar": denied_org,
            "bureau": (200, None),
        },
        {"approve": True},
    )

    _try(
        c,
        "GET",
        f"{API}/programmes/{pid}/figures",
        who,
        {
            "anonymous": (401, None),
            "firm": denied_org,
            "provider": denied_org,
            "other_firm": denied_org,
            "registrar": (200, None),
            "bureau": (200, None),
        },
    )
    _try(
        c,
        "POST",
        f"{API}/provincial-awards",
        who,
        {"anonymous": (401, None), "provider": denied_org, "registrar": denied_org, "bureau": (201, None)},
        {"provider_org_id": parties.provider.org_id, "awarded_on": "2026-05-01", "amount": "1000.00", "reference": "x"},
    )

    rel = {"provider_org_id": parties.provider.org_id, "firm_org_id": parties.firm_b.org_id, "kind": "same controller"}
    _try(
        c,
        "POST",
        f"{API}/relationships",
        who,
        {
            "anonymous": (401, None),
            "firm": (403, "forbidden"),
            "other_firm": (403, "forbidden"),
            "provider": (201, None),
        },
        rel,
    )

    _try(
        c,
        "POST",
        f"{API}/vouchers/{vid}/void",
        who,
        {
            "anonymous": (401, None),
            "firm": denied_org,
            "provider": denied_org,
            "other_firm": denied_org,
            "registrar": denied_org,
            "bureau": (200, None),
        },
        {"description": "虚假发票"},
    )
    _try(
        c,
        "GET",
        f"{API}/findings/{parties.firm.org_id}",
        who,
        {
            "anonymous": (401, None),
            "other_firm": (403, "forbidden"),
            "provider": (403, "forbidden"),
            "bureau": (200, None),
            "firm": (200, None),
        },
    )


def test_provider_lifecycle_and_catalogue(vclient, parties):
    c, officer, p = vclient, parties.officer, parties.provider
    provider = admit_provider(c, officer, p, ["testing_certification"])
    programme = open_programme(c, officer)
    body = {"firm_kind": "sme", "requested_amount": "20000.00", "purpose": "x"}
    applied = ok(
        c.post(f"{API}/programmes/{programme['id']}/applications", json=body, headers=parties.firm.headers), 201
    )
    voucher = ok(c.post(f"{API}/vouchers/{applied['id']}/approve", json={}, headers=officer.headers))

    ok(
        c.post(
            f"{API}/providers/{provider['id']}/decision",
            json={"action": "suspend", "note": "投诉核查"},
            headers=officer.headers,
        )
    )
    refused(
        book(c, parties.firm, voucher["id"], p, "testing_certification", "1000.00", "900.00", "general"),
        403,
        "provider_not_approved",
    )
    refused(
        c.post(f"{API}/providers/{provider['id']}/decision", json={"action": "suspend"}, headers=officer.headers),
        409,
        "invalid_state",
    )
    ok(c.post(f"{API}/providers/{provider['id']}/decision", json={"action": "approve"}, headers=officer.headers))
    refused(
        book(c, parties.firm, voucher["id"], p, "consulting", "1000.00", "900.00", "general"), 422, "not_in_catalogue"
    )
    refused(
        book(c, parties.firm, voucher["id"], p, "testing_certification", "1000.00", "900.01", "general"),
        422,
        "voucher_share_exceeded",
    )
    ok(book(c, parties.firm, voucher["id"], p, "testing_certification", "1000.00", "900.00", "general"), 201)
    ok(c.post(f"{API}/providers/{provider['id']}/decision", json={"action": "remove"}, headers=officer.headers))
    refused(
        c.post(
            f"{API}/providers",
            json={"catalogue": [{"category": "consulting", "name": "x", "price": "1.00"}]},
            headers=p.headers,
        ),
        409,
        "provider_removed",
    )
    refused(
        c.post(
            f"{API}/providers",
            json={"catalogue": [{"category": "catering", "name": "x", "price": "1.00"}]},
            headers=parties.provider_b.headers,
        ),
        422,
        "unknown_category",
    )


def test_application_rules_over_http(vclient, parties, world):
    c, officer = vclient, parties.officer
    programme = open_programme(c, officer, eligible_firm_kinds=["sme"])
    url = f"{API}/programmes/{programme['id']}/applications"
    body = {"firm_kind": "sme", "requested_amount": "20000.00", "purpose": "x"}
    refused(
        c.post(url, json={**body, "firm_kind": "maker_team"}, headers=parties.firm.headers),
        422,
        "firm_kind_not_eligible",
    )
    refused(
        c.post(url, json={**body, "requested_amount": "50000.01"}, headers=parties.firm.headers),
        422,
        "above_firm_ceiling",
    )
    outsider = world.member(OrgKind.enterprise, region_code="330106")
    refused(c.post(url, json=body, headers=outsider.headers), 403, "firm_outside_city")
    unverified = world.member(OrgKind.enterprise, verified=False)
    refused(c.post(url, json=body, headers=unverified.headers), 403, "org_not_verified")
    applied = ok(c.post(url, json=body, headers=parties.firm.headers), 201)
    refused(c.post(url, json=body, headers=parties.firm.headers), 409, "duplicate_application")
    refused(
        c.post(f"{API}/vouchers/{applied['id']}/approve", json={"granted_amount": "20000.01"}, headers=officer.headers),
        422,
        "bad_granted_amount",
    )
    granted = ok(
        c.post(f"{API}/vouchers/{applied['id']}/approve", json={"granted_amount": "15000.00"}, headers=officer.headers)
    )
    assert granted["value"] == granted["balance"] == "15000.00"
    refused(c.post(f"{API}/vouchers/{applied['id']}/approve", json={}, headers=officer.headers), 409, "invalid_state")
    # programme terms are edited by the bureau; the budget cannot drop below what is committed
    refused(
        c.patch(
            f"{API}/programmes/{programme['id']}",
            json={"total_budget": "14999.99", "per_firm_ceiling": "10000.00"},
            headers=officer.headers,
        ),
        409,
        "budget_below_committed",
    )
    edited = ok(
        c.patch(
            f"{API}/programmes/{programme['id']}",
            json={"province_share": "0.5", "city_share": "0.4"},
            headers=officer.headers,
        )
    )
    assert (Decimal(edited["province_share"]), Decimal(edited["city_share"])) == (Decimal("0.5"), Decimal("0.4"))
    refused(
        c.patch(f"{API}/programmes/{programme['id']}", json={"city_share": "0.6"}, headers=officer.headers),
        422,
        "shares_out_of_range",
    )
    refused(
        c.post(f"{API}/programmes", json={**PROGRAMME, "face_value": "1000.00"}, headers=officer.headers),
        422,
        "value_rule_required",
    )


def test_same_organisation_and_out_of_city(vclient, parties, world):
    c, officer = vclient, parties.officer
    # a firm that is also an admitted provider may not serve itself
    admit_provider(c, officer, parties.firm, ["testing_certification"])
    programme = open_programme(c, officer)
    body = {"firm_kind": "sme", "requested_amount": "20000.00", "purpose": "x"}
    applied = ok(
        c.post(f"{API}/programmes/{programme['id']}/applications", json=body, headers=parties.firm.headers), 201
    )
    voucher = ok(c.post(f"{API}/vouchers/{applied['id']}/approve", json={}, headers=officer.headers))
    refused(
        book(c, parties.firm, voucher["id"], parties.firm, "testing_certification", "1000.00", "900.00", "general"),
        403,
        "related_party",
    )
    # a provider outside the city serves only where the programme allows 通用通兑
    shanghai = world.member(OrgKind.intermediary, region_code="310104")
    admit_provider(c, officer, shanghai, ["testing_certification"])
    refused(
        book(c, parties.firm, voucher["id"], shanghai, "testing_certification", "1000.00", "900.00", "general"),
        403,
        "out_of_city_not_allowed",
    )
    ok(c.patch(f"{API}/programmes/{programme['id']}", json={"out_of_city_allowed": True}, headers=officer.headers))
    ok(book(c, parties.firm, voucher["id"], shanghai, "testing_certification", "1000.00", "900.00", "general"), 201)


def test_reject_cancel_close_and_lists_per_role(vclient, parties):
    c = vclient
    who = {**parties.all_roles(), "registrar": parties.registrar.headers}
    denied_org = (403, "role_required")
    admit_provider(c, parties.officer, parties.provider, ["testing_certification"])
    programme = open_programme(c, parties.officer)
    pid = programme["id"]
    body = {"firm_kind": "sme", "requested_amount": "20000.00", "purpose": "x"}
    to_reject = ok(c.post(f"{API}/programmes/{pid}/applications", json=body, headers=parties.firm_b.headers), 201)
    _try(
        c,
        "POST",
        f"{API}/vouchers/{to_reject['id']}/reject",
        who,
        {
            "anonymous": (401, None),
            "firm": denied_org,
            "provider": denied_org,
            "other_firm": denied_org,
            "registrar": denied_org,
            "bureau": (200, None),
        },
        {"note": "不符合条件"},
    )

    applied = ok(c.post(f"{API}/programmes/{pid}/applications", json=body, headers=parties.firm.headers), 201)
    voucher = ok(c.post(f"{API}/vouchers/{applied['id']}/approve", json={}, headers=parties.officer.headers))
    booking = ok(
        book(c, parties.firm, voucher["id"], parties.provider, "testing_certification", "1000.00", "900.00", "general"),
        201,
    )
    _try(
        c,
        "POST",
        f"{API}/bookings/{booking['id']}/cancel",
        who,
        {"anonymous": (401, None), "other_firm": (404, None), "bureau": (403, "forbidden"), "firm": (200, None)},
    )

    for path in ("/vouchers", "/bookings", "/claims"):
        assert c.get(f"{API}{path}").status_code == 401
        assert ok(c.get(f"{API}{path}", headers=who["other_firm"]))["total"] == 0
    assert ok(c.get(f"{API}/vouchers", headers=who["bureau"]))["total"] == 2
    assert ok(c.get(f"{API}/bookings", headers=who["provider"]))["total"] == 1
    assert ok(c.get(f"{API}/providers?status=pending", headers=who["bureau"]))["total"] == 0

    _try(
        c,
        "POST",
        f"{API}/programmes/{pid}/close",
        who,
        {
            "anonymous": (401, None),
            "firm": denied_org,
            "provider": denied_org,
            "registrar": denied_org,
            "bureau": (200, None),
        },
    )
    refused(
        c.post(f"{API}/programmes/{pid}/applications", json=body, headers=parties.other_firm.headers),
        409,
        "programme_closed",
    )

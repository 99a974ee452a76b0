"""Bad input to the voucher API: a clear 4xx in the one error shape, never a 500."""

from __future__ import annotations

import pytest

from tests.vouchers.conftest import API, PROGRAMME, admit_provider, issue_voucher, open_programme


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/programmes", {**PROGRAMME, "total_budget": "-1.00"}, 422, "budget_not_positive"),
        ("POST", "/programmes", {**PROGRAMME, "total_budget": "1.001"}, 422, None),
        ("POST", "/programmes", {**PROGRAMME, "eligible_categories": ["catering"]}, 422, "unknown_category"),
        ("POST", "/programmes", {**PROGRAMME, "valid_until": "2025-01-01"}, 422, "bad_validity"),
        ("POST", "/programmes", {**PROGRAMME, "year": "next"}, 422, None),
        (
            "POST",
            "/programmes/999/applications",
            {"firm_kind": "sme", "requested_amount": "1.00", "purpose": "x"},
            404,
            "programme_not_found",
        ),
        ("POST", "/vouchers/999/approve", {}, 404, "voucher_not_found"),
        (
            "POST",
            "/vouchers/{vid}/bookings",
            {
                "provider_org_id": 99999,
                "category": "consulting",
                "scope": "x",
                "price": "1.00",
                "voucher_amount": "0.50",
                "settlement": "general",
            },
            404,
            "provider_not_found",
        ),
        (
            "POST",
            "/vouchers/{vid}/bookings",
            {
                "provider_org_id": "{p}",
                "category": "testing_certification",
                "scope": "x",
                "price": "-5.00",
                "voucher_amount": "-1.00",
                "settlement": "general",
            },
            422,
            "amount_not_positive",
        ),
        (
            "POST",
            "/vouchers/{vid}/bookings",
            {
                "provider_org_id": "{p}",
                "category": "testing_certification",
                "scope": "x",
                "price": "10.00",
                "voucher_amount": "1.00",
                "settlement": "barter",
            },
            422,
            None,
        ),
        ("POST", "/bookings/999/deliver", {"evidence": [{"kind": "r", "reference": "x"}]}, 404, "booking_not_found"),
        ("POST", "/claims/999/review", {"approve": True}, 404, "claim_not_found"),
        ("POST", "/providers/999/decision", {"action": "approve"}, 404, "provider_not_found"),
        ("POST", "/providers/{pid}/decision", {"action": "promote"}, 422, None),
        (
            "POST",
            "/relationships",
            {"provider_org_id": 99999, "firm_org_id": 99998, "kind": "x"},
            404,
            "organisation_not_found",
        ),
        (
            "POST",
            "/provincial-awards",
            {"provider_org_id": "{p}", "awarded_on": "2026-02-30", "amount": "1.00", "reference": "x"},
            422,
            None,
        ),
        (
            "POST",
            "/provincial-awards",
            {"provider_org_id": "{p}", "awarded_on": "2026-02-03", "amount": "0.00", "reference": "x"},
            422,
            "amount_not_positive",
        ),
        ("GET", "/programmes/{prog}/figures?format=pdf", None, 422, "invalid_format"),
        ("POST", "/vouchers/999/void", {"description": "x"}, 404, "voucher_not_found"),
    ],
)
def test_bad_input_is_a_clear_4xx(vclient, parties, method, path, body, status, code):
    c, officer = vclient, parties.officer
    provider = admit_provider(c, officer, parties.provider, ["testing_certification"])
    programme = open_programme(c, officer)
    voucher = issue_voucher(c, officer, parties.firm, programme["id"], "1000.00")
    ids = {"{vid}": voucher["id"], "{pid}": provider["id"], "{p}": parties.provider.org_id, "{prog}": programme["id"]}
    for key, value in ids.items():
        path = path.replace(key, str(value))
        if body:
            body = {k: (value if v == key else v) for k, v in body.items()}
    as_bureau = (
        "/approve" in path
        or "/review" in path
        or "/decision" in path
        or "/relationships" in path
        or "/provincial-awards" in path
        or "/void" in path
        or "/figures" in path
        or path == "/programmes"
    )
    headers = officer.headers if as_bureau else parties.firm.headers
    response = c.request(method, API + path, json=body, headers=headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] and error["message"]
    if code:
        assert error["code"] == code

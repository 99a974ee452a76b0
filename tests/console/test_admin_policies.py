"""Subsidy policies in the console: a policy's parameters edited through the API's service (a new version, audited,
the API's validation errors beside the fields), and a result's working with its amounts formatted."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from market.accounts.roles import Role
from market.core.audit import AuditEntry
from market.core.db import session_scope
from market.subsidies.models import SubsidyPolicy
from tests.console.conftest import sign_in
from tests.console.test_admin_pages import _frozen_run, ledger  # noqa: F401  # the ledger fixture
from tests.factories import World

URL = "/console/admin/subsidies/policies/nb2014-seller"


def _first(pattern: str, text: str) -> str:
    found = re.search(pattern, text, flags=re.S)
    assert found, pattern
    return found.group(1)


def _form(page: str) -> dict[str, str | list[str]]:
    """The edit form as the page fills it (text inputs, selected options, the checkbox, bracket rows)."""
    form = page[page.index('id="policy-form"') :]
    form = form[: form.index("</form>")]
    data: dict[str, str | list[str]] = {}
    rows: dict[str, list[str]] = {"bracket_rate": [], "bracket_upto": []}
    for attrs in re.findall(r"<input ([^>]*)>", form):
        named, valued = re.search(r'name="(\w+)"', attrs), re.search(r'value="([^"]*)"', attrs)
        if not named or not valued or 'type="checkbox"' in attrs or named.group(1) == "csrf_token":
            continue
        if named.group(1) in rows:
            rows[named.group(1)].append(valued.group(1))
        else:
            data[named.group(1)] = valued.group(1)
    for name, body in re.findall(r'<select id="[^"]*" name="(\w+)"[^>]*>(.*?)</select>', form, flags=re.S):
        data[name] = _first(r'<option value="([^"]*)" selected', body)
    data["csrf_token"] = _first(r'name="csrf_token" value="([^"]*)"', form)
    if 'name="value_added_only" checked' in form:
        data["value_added_only"] = "on"
    data["description"] = ""
    return data | rows


def _versions() -> tuple[int, int]:
    with session_scope() as s:
        policy = s.scalar(sa.select(SubsidyPolicy).where(SubsidyPolicy.code == "nb2014-seller"))
        assert policy is not None
        audited = s.scalar(
            sa.select(sa.func.count()).where(
                AuditEntry.entity_type == "subsidy_policy",
                AuditEntry.entity_id == policy.id,
                AuditEntry.action == "new_version",
            )
        )
        return policy.current_version, audited or 0


def test_admin_edits_a_policys_parameters_as_a_new_version(client: TestClient, world: World) -> None:
    admin = world.bureau(Role.bureau_admin)
    sign_in(client, admin)
    listing = client.get("/console/admin/subsidies")
    assert f'href="{URL}"' in listing.text
    page = client.get(URL)
    assert page.status_code == 200 and 'id="policy-form"' in page.text and "v1" in page.text
    form = _form(page.text)
    assert form["bracket_rate"] == ["0.05", "", ""] and form["basis"]
    # the API's schema refuses a cap that is no amount: the message stands beside that field, nothing is written
    r = client.post(URL, data={**form, "cap_per_contract": "五十万"}, follow_redirects=False)
    assert r.status_code == 422 and 'id="cap_per_contract-error"' in r.text, r.status_code
    assert 'value="五十万"' in r.text  # what was typed is shown back
    # the service's rule on brackets, as the API answers it
    r = client.post(URL, data={**form, "bracket_rate": ["0.05", "", ""], "bracket_upto": ["100", "", ""]})
    assert r.status_code == 422 and "policy_bad_brackets" in r.text
    assert _versions() == (1, 0)
    r = client.post(
        URL,
        data={**form, "bracket_rate": ["0.06", "", ""], "bracket_upto": ["", "", ""], "cap_per_year": "3000000"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"])
    assert "新版本 v2" in page.text and "3,000,000.00" in page.text
    assert _versions() == (2, 1)
    api = client.get("/api/v1/subsidies/policies/nb2014-seller", headers=admin.headers).json()
    assert api["spec"]["brackets"] == [{"rate": "0.06", "upto": None}] and api["spec"]["cap_per_year"] == "3000000"
    old = api["versions"][0]["spec"]
    for kept in ("contract_types", "seller_entity_types", "seller_regions", "beneficiary"):  # not on the form: kept
        assert api["spec"][kept] == old[kept], kept


@pytest.mark.parametrize("role", [Role.registrar, Role.expert, Role.org_admin])
def test_others_may_not_edit_a_policy(client: TestClient, world: World, role: Role) -> None:
    admin = world.bureau(Role.bureau_admin)
    sign_in(client, admin)
    form = _form(client.get(URL).text)
    member = world.expert() if role == Role.expert else world.member() if role == Role.org_admin else world.bureau(role)
    csrf = sign_in(client, member)
    page = client.get(URL)
    if role == Role.registrar:  # bureau staff read policies, as in the API; the form is not theirs
        assert page.status_code == 200 and 'id="policy-form"' not in page.text
    else:
        assert page.status_code == 403
    r = client.post(URL, data={**form, "csrf_token": csrf})
    assert r.status_code == 403 and ("subsidy_role_required" in r.text or role != Role.registrar)
    client.cookies.clear()
    assert client.post(URL, data=form, follow_redirects=False).status_code in (303, 403)
    assert _versions() == (1, 0)


def test_a_results_working_shows_formatted_amounts(
    client: TestClient,
    world: World,
    ledger: dict[str, int],  # noqa: F811
) -> None:
    officer, admin, second = world.bureau(Role.programme_officer), world.bureau(), world.bureau()
    run_id = _frozen_run(client, officer, admin, second)
    sign_in(client, officer)
    page = client.get(f"/console/admin/subsidies/runs/{run_id}")
    result_path = page.text.split('href="/console/admin/subsidies/results/')[1].split('"')[0]
    result = client.get(f"/console/admin/subsidies/results/{result_path}")
    assert result.status_code == 200
    table = result.text[result.text.index('id="contributions"') :]
    table = table[: table.index("</table>")]
    cells = re.findall(r'<td class="num">([^<]*)</td>', table)
    assert "10,000,000.00" in cells and "2,000,000.00" in cells, cells
    assert all(re.fullmatch(r"-?\d{1,3}(,\d{3})*\.\d{2}|—", c) for c in cells), cells  # every amount formatted

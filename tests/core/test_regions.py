"""The GB/T 2260 code table and the one region-prefix helper."""

import pytest

from market.contracts import rules as contract_rules
from market.core import regions
from market.core.vocab import OrgKind


@pytest.mark.parametrize(
    ("code", "prefix"),
    [
        ("330000", "33"),
        ("330200", "3302"),
        ("330212", "330212"),
        ("330110", "330110"),  # 余杭区: a district code ending in 0 is still the district, not "33011"
        ("330100", "3301"),
        ("3302", "3302"),
        (" 330205 ", "330205"),
    ],
)
def test_region_prefix(code, prefix):
    assert regions.region_prefix(code) == prefix
    assert contract_rules.region_prefix is regions.region_prefix  # one helper, not two


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("33", "浙江省"),
        ("330000", "浙江省"),
        ("3302", "宁波市"),
        ("330200", "宁波市"),
        ("330212", "鄞州区"),
        ("330110", "余杭区"),
        ("331100", "丽水市"),
        ("330299", "宁波市 330299"),
        ("", "境外"),
        ("999999", "999999"),
    ],
)
def test_region_name(code, name):
    assert regions.region_name(code) == name


def test_table_has_zhejiang_cities_and_ningbo_districts():
    table = regions.names()
    assert all(f"33{c:02d}00" in table for c in range(1, 12))
    for code in ("330203", "330205", "330206", "330211", "330212", "330213", "330225", "330226", "330281", "330282"):
        assert table[code]


API = "/api/v1"


def test_directory_filter_330110_is_yuhang_only(client, world):
    yuhang = world.member(OrgKind.enterprise, region_code="330110")
    world.member(OrgKind.enterprise, region_code="330111")  # 富阳区: under the old "33011" prefix it matched too
    r = client.get(f"{API}/organisations", params={"region_code": "330110"})
    assert r.status_code == 200
    assert [o["id"] for o in r.json()["items"]] == [yuhang.org_id]
    r = client.get(f"{API}/organisations", params={"region_code": "330100"})
    assert r.json()["total"] == 2

"""Each resource type through the official client: create, then list with an advanced query."""

import pytest
from losant_rest import LosantError


@pytest.fixture(scope="module")
def app(admin):
    return admin.applications.post(application={"name": "resources"})["id"]


def test_devices_with_tag_and_prefix_queries(admin, app):
    for i in range(6):
        d = admin.devices.post(applicationId=app, device={
            "name": f"pump-{i}" if i < 4 else f"valve-{i}",
            "tags": [{"key": "site", "value": "north" if i % 2 == 0 else "south"}]})
        assert d["id"] == d["deviceId"] and d["deviceClass"] == "standalone"
    north = admin.devices.get(applicationId=app, query={"tags": {"site": "north"}})
    assert sorted(d["name"] for d in north["items"]) == ["pump-0", "pump-2", "valve-4"]
    pumps = admin.devices.get(applicationId=app, query={"name": {"$startsWith": "PUMP", "$ci": True}}, perPage="2")
    assert pumps["totalCount"] == 4 and pumps["count"] == 2
    both = admin.devices.get(applicationId=app, query={"$and": [{"tags": {"$tagKey": "site", "$tagValue": "south"}}, {"name": {"$startsWith": "pump"}}]})
    assert sorted(d["name"] for d in both["items"]) == ["pump-1", "pump-3"]
    with pytest.raises(LosantError) as e:
        admin.devices.get(applicationId=app, query={"$or": [{"tags": {"$tagValue": 5}}]})
    assert e.value.status == 400 and "$or[0].tags" in e.value.data["message"]


def test_data_table_rows_with_a_typed_query(admin, app):
    table = admin.data_tables.post(applicationId=app, dataTable={"name": "readings", "columns": [
        {"name": "level", "dataType": "number", "constraint": "required"},
        {"name": "site", "dataType": "string", "constraint": "optional"}]})
    for level, site in [(1, "a"), (5, "b"), (10, "a"), (20, "c")]:
        row = admin.data_table_rows.post(applicationId=app, dataTableId=table["id"], dataTableRow={"level": level, "site": site})
        assert row["level"] == level and "createdAt" in row and "id" in row
    hits = admin.data_table_rows.query(applicationId=app, dataTableId=table["id"], query={"level": {"$gte": 5}, "site": {"$ne": "c"}})
    assert sorted(r["level"] for r in hits["items"]) == [5, 10]
    listed = admin.data_table_rows.get(applicationId=app, dataTableId=table["id"], limit="2", offset="1")
    assert listed["totalCount"] == 4 and len(listed["items"]) == 2


def test_experience_groups_and_users(admin, app):
    root = admin.experience_groups.post(applicationId=app, experienceGroup={"name": "Root", "groupTags": {"tier": "gold"}})
    child = admin.experience_groups.post(applicationId=app, experienceGroup={"name": "Child", "parentId": root["id"]})
    assert child["parentId"] == root["id"]
    user = admin.experience_users.post(applicationId=app, experienceUser={
        "email": "ada@example.com", "password": "correct horse battery", "firstName": "Ada",
        "experienceGroupIds": [child["id"]], "userTags": {"role": "ops"}})
    assert "password" not in user and user["email"] == "ada@example.com"
    admin.experience_users.post(applicationId=app, experienceUser={"email": "bob@example.com", "password": "another long one", "firstName": "Bob"})
    under_root = admin.experience_groups.get(applicationId=app, query={"ancestorId": root["id"]})
    assert [g["name"] for g in under_root["items"]] == ["Child"]
    gold = admin.experience_groups.get(applicationId=app, query={"groupTags": {"tier": "gold"}})
    assert [g["name"] for g in gold["items"]] == ["Root"]
    ops = admin.experience_users.get(applicationId=app, query={"userTags": {"role": "ops"}})
    assert [u["email"] for u in ops["items"]] == ["ada@example.com"]
    in_child = admin.experience_users.get(applicationId=app, query={"experienceGroupId": child["id"]})
    assert [u["firstName"] for u in in_child["items"]] == ["Ada"]
    with pytest.raises(LosantError) as e:
        admin.experience_users.post(applicationId=app, experienceUser={"email": "ada@example.com", "password": "x" * 12})
    assert e.value.status == 400 and "email" in e.value.data["message"]

"""Applications and application API tokens through the official client, with its exact calls."""

import requests
import pytest
from losant_rest import LosantError


def test_application_lifecycle(admin):
    app = admin.applications.post(application={"name": "Python App", "description": "d"})
    assert app["id"] == app["applicationId"]
    assert app["name"] == "Python App"
    got = admin.application.get(applicationId=app["id"])
    assert got == app
    patched = admin.application.patch(applicationId=app["id"], application={"name": "Renamed"})
    assert patched["name"] == "Renamed"
    page = admin.applications.get(filterField="name", filter="ren*", perPage=10)
    assert page["totalCount"] == 1 and page["count"] == 1 and page["perPage"] == 10
    assert admin.application.delete(applicationId=app["id"]) == {"success": True}
    with pytest.raises(LosantError) as e:
        admin.application.get(applicationId=app["id"])
    assert e.value.status == 404
    assert e.value.data == {"type": "NotFound", "message": "Application was not found"}


def test_tokens_and_scopes(server, admin):
    app = admin.applications.post(application={"name": "Tokens"})
    tok = admin.application_api_tokens.post(
        applicationId=app["id"], apiToken={"name": "reader", "scope": ["all.Application.read"]})
    assert tok["status"] == "active" and tok["ownerId"] == app["id"]
    secret = tok.pop("token")
    reader = server.client(secret)
    assert reader.application.get(applicationId=app["id"])["name"] == "Tokens"
    with pytest.raises(LosantError) as e:
        reader.application.patch(applicationId=app["id"], application={"name": "no"})
    assert e.value.status == 403 and e.value.data["type"] == "Forbidden"
    listed = admin.application_api_tokens.get(applicationId=app["id"])
    assert listed["totalCount"] == 1 and "token" not in listed["items"][0]
    one = admin.application_api_token.get(applicationId=app["id"], apiTokenId=tok["id"])
    assert one["scope"] == ["all.Application.read"]
    off = admin.application_api_token.patch(
        applicationId=app["id"], apiTokenId=tok["id"], apiToken={"status": "inactive"})
    assert off["status"] == "inactive"
    with pytest.raises(LosantError) as e:
        reader.application.get(applicationId=app["id"])
    assert e.value.status == 401 and e.value.data["type"] == "Unauthorized"
    assert admin.application_api_token.delete(
        applicationId=app["id"], apiTokenId=tok["id"]) == {"success": True}


def test_validation_errors_name_the_field(admin):
    with pytest.raises(LosantError) as e:
        admin.applications.post(application={"name": "x", "colour": "red"})
    assert e.value.status == 400 and e.value.data["type"] == "Validation"
    assert "colour" in e.value.data["message"]
    with pytest.raises(LosantError) as e:
        admin.applications.get(perPage="many")
    assert "perPage" in e.value.data["message"]


def test_js_client_sends_empty_object_on_delete(server, admin):
    app = admin.applications.post(application={"name": "js"})
    r = requests.delete(f"{server.url}/applications/{app['id']}", json={},
                        headers={"Authorization": "Bearer py-admin-token"})
    assert r.status_code == 200 and r.json() == {"success": True}

"""The resource job definition endpoints through the official client: every call, every
documented error, and the response contracts of the original's published schemas."""

import pytest
import requests
from losant_rest import LosantError

from contract import ERROR, SUCCESS, check, check_job, check_jobs

MISSING = "575ec8687ae143cd83dc4a97"


@pytest.fixture(scope="module")
def app(admin):
    return admin.applications.post(application={"name": "jobs"})["id"]


def err(call):
    with pytest.raises(LosantError) as e:
        call()
    check(e.value.data, ERROR, required=("type", "message"))
    return e.value.status, e.value.data["type"], e.value.data["message"]


def test_create_get_patch_delete(admin, app):
    job = admin.resource_jobs.post(applicationId=app, resourceJob={
        "name": "Example Resource Job", "queryJson": "{ \"name\": \"my device\"}",
        "resourceType": "device"})
    check_job(job)
    assert job["applicationId"] == app
    assert (job["maxIterationConcurrency"], job["iterationDelay"], job["iterationTimeout"]) == (1, 0, 60000)
    assert (job["defaultContext"], job["retryOnFailure"], job["maxIterationRetries"]) == ("{}", False, 1)
    assert "lastExecutionRequested" not in job
    assert admin.resource_job.get(applicationId=app, resourceJobId=job["id"]) == job
    patched = admin.resource_job.patch(applicationId=app, resourceJobId=job["id"], resourceJob={
        "maxIterationConcurrency": 10, "iterationDelay": 500, "retryOnTimeout": True,
        "maxIterationRetries": 3, "retryDelay": 1000, "description": "polls"})
    check_job(patched)
    assert patched["maxIterationConcurrency"] == 10 and patched["retryOnTimeout"] is True
    assert patched["creationDate"] == job["creationDate"]
    done = admin.resource_job.delete(applicationId=app, resourceJobId=job["id"], includeWorkflows="true")
    check(done, SUCCESS, required=("success",))
    assert err(lambda: admin.resource_job.get(applicationId=app, resourceJobId=job["id"]))[:2] == (404, "NotFound")


def test_patch_answers_201(server, app):
    h = {"Authorization": "Bearer py-admin-token"}
    r = requests.post(f"{server.url}/applications/{app}/resource-jobs", headers=h,
                      json={"name": "p", "resourceType": "experienceUser"})
    assert r.status_code == 201
    r2 = requests.patch(f"{server.url}/applications/{app}/resource-jobs/{r.json()['id']}",
                        headers=h, json={"name": "q"})
    assert r2.status_code == 201 and r2.json()["name"] == "q"


def test_list_sort_page_filter(admin, app):
    other = admin.applications.post(application={"name": "list"})["id"]
    for name, rt in [("b job", "device"), ("A job", "experienceGroup"), ("c other", "device")]:
        admin.resource_jobs.post(applicationId=other, resourceJob={"name": name, "resourceType": rt})
    page = admin.resource_jobs.get(applicationId=other)
    check_jobs(page)
    assert [j["name"] for j in page["items"]] == ["A job", "b job", "c other"]
    assert (page["count"], page["totalCount"], page["sortField"], page["sortDirection"]) == (3, 3, "name", "asc")
    desc = admin.resource_jobs.get(applicationId=other, sortField="name", sortDirection="desc", perPage="2", page="0")
    check_jobs(desc)
    assert [j["name"] for j in desc["items"]] == ["c other", "b job"] and desc["totalCount"] == 3
    glob = admin.resource_jobs.get(applicationId=other, filterField="name", filter="*JOB")
    assert glob["totalCount"] == 2 and glob["filter"] == "*JOB"
    by_type = admin.resource_jobs.get(applicationId=other, filterField="resourceType", filter="experience*")
    assert [j["name"] for j in by_type["items"]] == ["A job"]
    for bad in [{"sortField": "color"}, {"sortDirection": "sideways"}, {"perPage": "x"}, {"filterField": "queryJson"}]:
        status, kind, msg = err(lambda: admin.resource_jobs.get(applicationId=other, **bad))
        assert (status, kind) == (400, "Validation") and list(bad)[0] in msg


INVALID = [
    ({"resourceType": "device"}, "name"),
    ({"name": "x"}, "resourceType"),
    ({"name": "", "resourceType": "device"}, "name"),
    ({"name": "x" * 256, "resourceType": "device"}, "name"),
    ({"name": "x", "resourceType": "gadget"}, "resourceType"),
    ({"name": "x", "resourceType": "device", "description": "d" * 32768}, "description"),
    ({"name": "x", "resourceType": "device", "queryJson": "{"}, "queryJson"),
    ({"name": "x", "resourceType": "device", "queryJson": "{\"colour\": 1}"}, "colour"),
    ({"name": "x", "resourceType": "device", "queryJson": "{\"$or\": [{}, {\"tags\": {\"$tagValue\": 5}}]}"}, "$or[1].tags"),
    ({"name": "x", "resourceType": "device", "defaultContext": "[1]"}, "defaultContext"),
    ({"name": "x", "resourceType": "device", "defaultContext": "{"}, "defaultContext"),
    ({"name": "x", "resourceType": "device", "maxIterationConcurrency": 0}, "maxIterationConcurrency"),
    ({"name": "x", "resourceType": "device", "maxIterationConcurrency": 101}, "maxIterationConcurrency"),
    ({"name": "x", "resourceType": "device", "maxIterationConcurrency": "10"}, "maxIterationConcurrency"),
    ({"name": "x", "resourceType": "device", "iterationDelay": 60001}, "iterationDelay"),
    ({"name": "x", "resourceType": "device", "iterationDelay": -1}, "iterationDelay"),
    ({"name": "x", "resourceType": "device", "iterationTimeout": 59999}, "iterationTimeout"),
    ({"name": "x", "resourceType": "device", "iterationTimeout": 900001}, "iterationTimeout"),
    ({"name": "x", "resourceType": "device", "maxIterationRetries": 0}, "maxIterationRetries"),
    ({"name": "x", "resourceType": "device", "maxIterationRetries": 6}, "maxIterationRetries"),
    ({"name": "x", "resourceType": "device", "retryDelay": 30001}, "retryDelay"),
    ({"name": "x", "resourceType": "device", "retryOnFailure": "yes"}, "retryOnFailure"),
    ({"name": "x", "resourceType": "device", "lastUpdated": "2020-01-01T00:00:00.000Z"}, "lastUpdated"),
    ({"name": "x", "resourceType": "dataTableRow"}, "dataTableId"),
    ({"name": "x", "resourceType": "dataTableRow", "dataTableId": MISSING}, "dataTableId"),
    ({"name": "x", "resourceType": "dataTableRow", "dataTableId": "abc"}, "dataTableId"),
]


@pytest.mark.parametrize("body,field", INVALID)
def test_every_invalid_field_is_a_400_naming_it(admin, app, body, field):
    before = admin.resource_jobs.get(applicationId=app)["totalCount"]
    status, kind, msg = err(lambda: admin.resource_jobs.post(applicationId=app, resourceJob=body))
    assert (status, kind) == (400, "Validation") and field in msg, msg
    assert admin.resource_jobs.get(applicationId=app)["totalCount"] == before, "nothing created"


def test_patch_rules(admin, app):
    job = admin.resource_jobs.post(applicationId=app, resourceJob={"name": "p", "resourceType": "device"})
    status, kind, msg = err(lambda: admin.resource_job.patch(
        applicationId=app, resourceJobId=job["id"], resourceJob={"resourceType": "experienceUser"}))
    assert (status, kind) == (400, "Validation") and "resourceType" in msg
    status, _, msg = err(lambda: admin.resource_job.patch(
        applicationId=app, resourceJobId=job["id"], resourceJob={"iterationDelay": 70000}))
    assert status == 400 and "iterationDelay" in msg and "60000" in msg
    assert admin.resource_job.get(applicationId=app, resourceJobId=job["id"]) == job, "unchanged"


def test_templated_query_and_table_are_accepted(admin, app):
    table = admin.data_tables.post(applicationId=app, dataTable={
        "name": "readings", "columns": [{"name": "level", "dataType": "number", "constraint": "optional"}]})
    job = admin.resource_jobs.post(applicationId=app, resourceJob={
        "name": "rows", "resourceType": "dataTableRow", "dataTableId": table["id"],
        "queryJson": "{\"level\": {\"$gt\": 5}}"})
    assert job["dataTableId"] == table["id"]
    status, _, msg = err(lambda: admin.resource_jobs.post(applicationId=app, resourceJob={
        "name": "rows", "resourceType": "dataTableRow", "dataTableId": table["id"],
        "queryJson": "{\"level\": {\"$gt\": \"high\"}}"}))
    assert status == 400 and "level" in msg
    templ = admin.resource_jobs.post(applicationId=app, resourceJob={
        "name": "t", "resourceType": "dataTableRow", "dataTableId": "{{ctx.table}}",
        "queryJson": "{\"level\": {{ctx.level}}}"})
    check_job(templ)


def test_not_found_and_auth(server, admin, app):
    assert err(lambda: admin.resource_jobs.get(applicationId=MISSING))[:2] == (404, "NotFound")
    status, kind, msg = err(lambda: admin.resource_job.get(applicationId=app, resourceJobId=MISSING))
    assert (status, kind) == (404, "NotFound") and "resource job" in msg.lower()
    assert err(lambda: admin.resource_job.delete(applicationId=app, resourceJobId=MISSING))[0] == 404
    assert err(lambda: server.client(None).resource_jobs.get(applicationId=app))[:2] == (401, "Unauthorized")
    assert err(lambda: server.client("wrong").resource_jobs.get(applicationId=app))[:2] == (401, "Unauthorized")

    def token(scope):
        t = admin.application_api_tokens.post(applicationId=app, apiToken={"name": scope, "scope": [scope]})
        return server.client(t["token"])

    job = admin.resource_jobs.post(applicationId=app, resourceJob={"name": "s", "resourceType": "device"})
    jid = job["id"]
    calls = {
        "resourceJobs.get": lambda c: c.resource_jobs.get(applicationId=app),
        "resourceJobs.post": lambda c: c.resource_jobs.post(applicationId=app, resourceJob={"name": "n", "resourceType": "device"}),
        "resourceJob.get": lambda c: c.resource_job.get(applicationId=app, resourceJobId=jid),
        "resourceJob.patch": lambda c: c.resource_job.patch(applicationId=app, resourceJobId=jid, resourceJob={"name": "s"}),
    }
    accepts = {
        "resourceJobs.get": ["all.Application", "all.Application.read", "all.Application.bounded", "resourceJobs.*", "resourceJobs.get"],
        "resourceJobs.post": ["all.Application", "all.Application.bounded", "resourceJobs.*", "resourceJobs.post"],
        "resourceJob.get": ["all.Application", "all.Application.read", "all.Application.bounded", "resourceJob.*", "resourceJob.get"],
        "resourceJob.patch": ["all.Application", "all.Application.bounded", "resourceJob.*", "resourceJob.patch"],
    }
    refuses = {
        "resourceJobs.get": ["resourceJob.*", "resourceJobs.post", "devices.get"],
        "resourceJobs.post": ["all.Application.read", "resourceJob.*", "resourceJobs.get"],
        "resourceJob.get": ["resourceJobs.*", "resourceJob.patch"],
        "resourceJob.patch": ["all.Application.read", "resourceJob.get", "resourceJobs.*"],
    }
    for action, call in calls.items():
        for scope in accepts[action]:
            call(token(scope))
        for scope in refuses[action]:
            status, kind, msg = err(lambda: call(token(scope)))
            assert (status, kind) == (403, "Forbidden") and action in msg
    other = admin.applications.post(application={"name": "other"})["id"]
    foreign = admin.application_api_tokens.post(applicationId=other, apiToken={"name": "f"})["token"]
    assert err(lambda: server.client(foreign).resource_job.get(applicationId=app, resourceJobId=jid))[:2] == (403, "Forbidden")
    assert err(lambda: token("resourceJob.*").resource_job.delete(applicationId=app, resourceJobId=MISSING))[0] == 404
    assert token("resourceJob.delete").resource_job.delete(applicationId=app, resourceJobId=jid) == {"success": True}


def test_js_client_sends_empty_object_on_delete(server, admin, app):
    job = admin.resource_jobs.post(applicationId=app, resourceJob={"name": "js", "resourceType": "device"})
    r = requests.delete(f"{server.url}/applications/{app}/resource-jobs/{job['id']}?includeWorkflows=true",
                        json={}, headers={"Authorization": "Bearer py-admin-token"})
    assert r.status_code == 200 and r.json() == {"success": True}
    r = requests.delete(f"{server.url}/applications/{app}/resource-jobs/{job['id']}?includeWorkflows=maybe",
                        json={}, headers={"Authorization": "Bearer py-admin-token"})
    assert r.status_code == 400 and "includeWorkflows" in r.json()["message"]

"""Executions through the official client: execute, logs and cancelExecution, with an external
worker acknowledging over the extension endpoint, and the signed report link."""

import csv
import io
import time

import pytest
import requests
from losant_rest import LosantError

from contract import SUCCESS, SUCCESS_WITH_EXECUTION_ID, check

H = {"Authorization": "Bearer py-admin-token"}


@pytest.fixture(scope="module")
def app(admin):
    a = admin.applications.post(application={"name": "exec"})["id"]
    for name in ["pump-1", "pump-2", "pump-3", "valve-1"]:
        admin.devices.post(applicationId=a, device={"name": name})
    return a


def wait(pred, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def base(server, app, job):
    return f"{server.url}/applications/{app}/resource-jobs/{job}"


def test_execute_ack_logs_report(server, admin, app):
    job = admin.resource_jobs.post(applicationId=app, resourceJob={
        "name": "poll", "resourceType": "device", "maxIterationConcurrency": 10,
        "queryJson": "{\"name\": {\"$startsWith\": \"{{ctx.prefix}}\"}}"})
    res = admin.resource_job.execute(applicationId=app, resourceJobId=job["id"],
                                     executionOptions={"templateContext": "{\"prefix\": \"pump\"}"})
    check(res, SUCCESS_WITH_EXECUTION_ID, required=("success", "executionId"))
    ex = res["executionId"]
    url = base(server, app, job["id"]) + f"/executions/{ex}"
    items = wait(lambda: (lambda r: r["items"] if r["totalCount"] == 3 else None)(
        requests.get(url + "/iterations?status=inProgress", headers=H).json()))
    for it in items:
        ok = it["resourceName"] != "pump-2"
        r = requests.post(url + f"/iterations/{it['id']}/acknowledge", headers=H,
                          json={"success": ok, "message": f"polled {it['resourceName']}"})
        assert r.status_code == 200, r.text
    dup = requests.post(url + f"/iterations/{items[0]['id']}/acknowledge", headers=H, json={"success": True})
    assert dup.status_code == 409 and dup.json()["type"] == "Conflict"
    log = wait(lambda: (lambda l: l if l and l[0]["status"] == "completed" else None)(
        admin.resource_job.logs(applicationId=app, resourceJobId=job["id"], limit="5")))
    assert len(log) == 1
    entry = log[0]
    assert entry["id"] == ex and entry["resourceJobExecutionId"] == ex
    assert entry["executionSummary"] == {"succeeded": 2, "failed": 1, "timedOut": 0, "inProgress": 0, "remaining": 0}
    assert entry["queryJson"] == "{\"name\": {\"$startsWith\": \"pump\"}}"
    assert entry["templateContext"] == "{\"prefix\": \"pump\"}" and entry["sourceType"] == "user"
    got = admin.resource_job.get(applicationId=app, resourceJobId=job["id"])
    assert "lastExecutionRequested" in got
    report = requests.get(entry["executionReportUrl"])  # signed: no token needed
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(report.text)))
    assert [r["resourceName"] for r in rows] == ["pump-1", "pump-2", "pump-3"]
    assert {r["resourceName"]: r["status"] for r in rows}["pump-2"] == "failed"
    assert rows[0]["message"] == "polled pump-1"
    tampered = requests.get(entry["executionReportUrl"].replace("signature=", "signature=00"))
    assert tampered.status_code == 403
    later = admin.resource_job.logs(applicationId=app, resourceJobId=job["id"], since=str(int(time.time() * 1000) + 60000))
    assert later == []


def test_cancel_execution(server, admin, app):
    job = admin.resource_jobs.post(applicationId=app, resourceJob={"name": "slow", "resourceType": "device"})
    ex = admin.resource_job.execute(applicationId=app, resourceJobId=job["id"], executionOptions={})["executionId"]
    ok = admin.resource_job.cancel_execution(applicationId=app, resourceJobId=job["id"], executionId=ex)
    check(ok, SUCCESS, required=("success",))
    again = requests.post(base(server, app, job["id"]) + f"/cancelExecution?executionId={ex}", headers=H, json={})
    assert again.status_code == 200 and again.json() == {"success": True}, "idempotent; the JS client sends {}"
    url = base(server, app, job["id"]) + f"/executions/{ex}"
    inflight = requests.get(url + "/iterations?status=inProgress", headers=H).json()["items"]
    for it in inflight:
        requests.post(url + f"/iterations/{it['id']}/acknowledge", headers=H, json={"success": True})
    log = wait(lambda: (lambda l: l if l[0]["status"] == "canceled" else None)(
        admin.resource_job.logs(applicationId=app, resourceJobId=job["id"])))
    assert log[0]["cancelSourceType"] == "user"
    summary = log[0]["executionSummary"]
    assert summary["succeeded"] + summary["remaining"] == 4 and summary["inProgress"] == 0
    with pytest.raises(LosantError) as e:
        admin.resource_job.cancel_execution(applicationId=app, resourceJobId=job["id"], executionId="575ec8687ae143cd83dc4a97")
    assert e.value.status == 404 and e.value.data["type"] == "NotFound"


def test_execute_errors(admin, app):
    job = admin.resource_jobs.post(applicationId=app, resourceJob={"name": "e", "resourceType": "device"})
    for opts, field in [({"templateContext": "[]"}, "templateContext"),
                        ({"queryJson": "{\"nope\": 1}"}, "queryJson"),
                        ({"queryJson": "{"}, "queryJson"),
                        ({"color": "red"}, "color")]:
        with pytest.raises(LosantError) as e:
            admin.resource_job.execute(applicationId=app, resourceJobId=job["id"], executionOptions=opts)
        assert e.value.status == 400 and field in e.value.data["message"], e.value.data
    assert admin.resource_job.logs(applicationId=app, resourceJobId=job["id"]) == []
    with pytest.raises(LosantError) as e:
        admin.resource_job.execute(applicationId=app, resourceJobId="575ec8687ae143cd83dc4a97", executionOptions={})
    assert e.value.status == 404

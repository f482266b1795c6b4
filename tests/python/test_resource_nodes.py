"""The resource nodes in a flow created with the official client: a resource job over devices
runs Function → Delay → Function → Device: Update → Table: Insert Row → Table: Get Rows →
Job: Acknowledge on each device. Afterwards the devices' tags and the table's rows, read back
through the client, really changed — for every device but the one whose Function throws: that
run ends with the script's error in the flow log, its iteration times out, and its device and
the table are untouched."""

import csv
import io
import json
import time

import pytest
import requests

from conftest import Server

DELAY_S = 0.3


@pytest.fixture(scope="module")
def fast():
    s = Server({"RJOBS_LIMITS__MIN_ITERATION_TIMEOUT_MS": "1000"})
    yield s
    s.stop()


def node(id_, type_, config, nxt):
    return {"id": id_, "type": type_, "config": config, "outputIds": [[nxt] if nxt else []]}


def wait_status(c, app, job, status, timeout=30):
    end = time.time() + timeout
    logs = []
    while time.time() < end:
        logs = c.resource_job.logs(applicationId=app, resourceJobId=job, limit="10")
        if logs and logs[0]["status"] == status:
            return logs
        time.sleep(0.1)
    raise AssertionError(f"execution did not reach {status}: {logs}")


def test_function_delay_device_update_and_table_rows(fast):
    c = fast.client()
    app = c.applications.post(application={"name": "rollout"})["id"]
    names = ["pump-1", "pump-2", "pump-3", "pump-4", "pump-5"]
    devices = {n: c.devices.post(applicationId=app, device={
        "name": n, "tags": [{"key": "site", "value": "north"}]})["id"] for n in names}
    table = c.data_tables.post(applicationId=app, dataTable={"name": "results", "columns": [
        {"name": "device", "dataType": "string", "constraint": "required"},
        {"name": "firmware", "dataType": "string", "constraint": "optional"},
        {"name": "score", "dataType": "number", "constraint": "optional"}]})["id"]
    job = c.resource_jobs.post(applicationId=app, resourceJob={
        "name": "fw", "resourceType": "device", "maxIterationConcurrency": 3,
        "iterationTimeout": 1000})["id"]
    flow = c.flows.post(applicationId=app, flow={
        "name": "rollout",
        "triggers": [{"type": "resourceJobIteration", "key": job, "config": {}, "outputIds": [["plan"]]}],
        "nodes": [
            node("plan", "RawFunctionNode", {"script": (
                "var n = Number(payload.data.device.name.split('-')[1]);"
                "if (n === 4) { throw new Error('no firmware for ' + payload.data.device.name); }"
                "payload.working = {firmware: 'v' + (n * 2), score: n * 10, t0: Date.now()};")}, "wait"),
            node("wait", "DelayNode", {"delay": str(DELAY_S)}, "clock"),
            node("clock", "RawFunctionNode", {"script": "payload.working.waited = Date.now() - payload.working.t0;"}, "dev"),
            node("dev", "UpdateDeviceNode", {
                "deviceIdTemplate": "{{data.device.id}}",
                "deviceTemplate": ("{\"tags\": [{\"key\": \"site\", \"value\": \"north\"},"
                                   " {\"key\": \"firmware\", \"value\": \"{{working.firmware}}\"}]}"),
                "resultPath": "working.device"}, "row"),
            node("row", "DataTableInsertRowNode", {
                "dataTableIdTemplate": table, "dataMethod": "individualFields",
                "rowFields": [{"columnTemplate": "device", "valueTemplate": "{{data.device.id}}"},
                              {"columnTemplate": "firmware", "valueTemplate": "{{working.firmware}}"},
                              {"columnTemplate": "score", "valueTemplate": "{{working.score}}"}],
                "resultPath": "working.row"}, "find"),
            node("find", "DataTableQueryNode", {
                "dataTableIdTemplate": table,
                "queryTemplate": "{\"device\": \"{{data.device.id}}\"}",
                "resultPath": "working.found"}, "ack"),
            node("ack", "ResourceJobAcknowledgeNode", {
                "successExpression": ("{{working.found.count}} === 1 && "
                                      "{{working.found.items.0.id}} === {{working.row.id}}"),
                "messageTemplate": "{{working.device.tags.1.value}} after {{working.waited}} ms"}, ""),
        ]})
    c.resource_job.execute(applicationId=app, resourceJobId=job, executionOptions={})
    logs = wait_status(c, app, job, "completed")
    summary = logs[0]["executionSummary"]
    assert (summary["succeeded"], summary["failed"], summary["timedOut"]) == (4, 0, 1), summary

    # The report: each iteration's message came from the flow's own Device: Update result, and
    # each waited out the Delay.
    rows = list(csv.DictReader(io.StringIO(requests.get(logs[0]["executionReportUrl"]).text)))
    by_name = {r["resourceName"]: r for r in rows}
    assert by_name["pump-4"]["status"] == "timedOut"
    for n in ["pump-1", "pump-2", "pump-3", "pump-5"]:
        r = by_name[n]
        firmware, _, waited, _ = r["message"].split()
        assert r["status"] == "succeeded" and firmware == f"v{int(n[-1]) * 2}", r
        assert float(waited) >= DELAY_S * 1000 - 20, r

    # The devices, read back through the client.
    for n, did in devices.items():
        tags = [(t["key"], t["value"]) for t in c.device.get(applicationId=app, deviceId=did)["tags"]]
        want = [("site", "north")] if n == "pump-4" else [("site", "north"), ("firmware", f"v{int(n[-1]) * 2}")]
        assert tags == want, (n, tags)

    # The table: one row per successful device, typed as its columns.
    got = c.data_table_rows.get(applicationId=app, dataTableId=table, limit="100")
    assert got["totalCount"] == 4
    by_device = {r["device"]: r for r in got["items"]}
    assert set(by_device) == {devices[n] for n in names if n != "pump-4"}
    for n in ["pump-1", "pump-2", "pump-3", "pump-5"]:
        r = by_device[devices[n]]
        assert (r["firmware"], r["score"]) == (f"v{int(n[-1]) * 2}", int(n[-1]) * 10), r
    hits = c.data_table_rows.query(applicationId=app, dataTableId=table, query={"score": {"$gte": 30}})
    assert sorted(r["score"] for r in hits["items"]) == [30, 50]

    # The flow log: four successful runs and the Function's error for pump-4.
    runs = c.flow.get_log_entries(applicationId=app, flowId=flow["id"], limit="10")
    assert sorted(r["status"] for r in runs) == ["error", "success", "success", "success", "success"], runs
    errors = [r for r in runs if r["status"] == "error"]
    assert "no firmware for pump-4" in json.dumps(errors[0]), errors[0]

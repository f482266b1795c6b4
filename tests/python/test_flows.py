"""Workflows through the official client, end to end: Job: Iteration → HttpNode against a local
HTTP server → Job: Acknowledge with an expression on the response status and a message template;
a serial accumulator through a jsonTemplate; Job: Timeout and Job: Complete flows with DebugNode
output in the flow log; Job: Execute chaining a second job with a context."""

import csv
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from losant_rest import LosantError

from conftest import Server

H = {"Authorization": "Bearer py-admin-token"}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        name = self.path.rsplit("/", 1)[-1]
        status = 500 if name == "pump-2" else 200
        body = json.dumps({"state": "ok" if status == 200 else "broken", "name": name}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def upstream():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


@pytest.fixture(scope="module")
def fast():
    s = Server({"RJOBS_LIMITS__MIN_ITERATION_TIMEOUT_MS": "1000"})
    yield s
    s.stop()


def wait_status(c, app, job, status, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        logs = c.resource_job.logs(applicationId=app, resourceJobId=job, limit="10")
        if logs and logs[0]["status"] == status:
            return logs
        time.sleep(0.1)
    raise AssertionError(f"execution did not reach {status}: {logs}")


def trigger(kind, job, first):
    return {"type": kind, "key": job, "config": {}, "outputIds": [[first]],
            "meta": {"category": "trigger", "name": kind}}


def test_http_then_acknowledge(fast, upstream):
    c = fast.client()
    app = c.applications.post(application={"name": "flows"})["id"]
    for n in ["pump-1", "pump-2", "pump-3"]:
        c.devices.post(applicationId=app, device={"name": n})
    job = c.resource_jobs.post(applicationId=app, resourceJob={
        "name": "poll", "resourceType": "device", "maxIterationConcurrency": 10})["id"]
    flow = c.flows.post(applicationId=app, flow={
        "name": "poll via http",
        "triggers": [trigger("resourceJobIteration", job, "http")],
        "nodes": [
            {"id": "http", "type": "HttpNode", "outputIds": [["ack"]], "config": {
                "method": "GET", "uriTemplate": upstream + "/state/{{data.device.name}}",
                "responsePath": "data.resp"}},
            {"id": "ack", "type": "ResourceJobAcknowledgeNode", "outputIds": [], "config": {
                "successExpression": "{{data.resp.statusCode}} === 200",
                "messageTemplate": "{{data.device.name}} is {{data.resp.body.state}}"}},
        ]})
    assert flow["id"] == flow["flowId"] and flow["enabled"] is True
    listed = c.flows.get(applicationId=app, triggerFilter=[{"type": "resourceJobIteration", "key": job}])
    assert listed["totalCount"] == 1
    c.resource_job.execute(applicationId=app, resourceJobId=job, executionOptions={})
    logs = wait_status(c, app, job, "completed")
    assert logs[0]["executionSummary"]["succeeded"] == 2 and logs[0]["executionSummary"]["failed"] == 1
    rows = list(csv.DictReader(io.StringIO(requests.get(logs[0]["executionReportUrl"]).text)))
    assert [(r["resourceName"], r["status"], r["message"]) for r in rows] == [
        ("pump-1", "succeeded", "pump-1 is ok"),
        ("pump-2", "failed", "pump-2 is broken"),
        ("pump-3", "succeeded", "pump-3 is ok")]
    runs = c.flow.get_log_entries(applicationId=app, flowId=flow["id"], limit="10")
    assert len(runs) == 3 and all(r["status"] == "success" for r in runs)


def test_serial_accumulator(fast):
    c = fast.client()
    app = c.applications.post(application={"name": "acc"})["id"]
    for n in ["a", "b", "c"]:
        c.devices.post(applicationId=app, device={"name": n})
    job = c.resource_jobs.post(applicationId=app, resourceJob={"name": "count", "resourceType": "device"})["id"]
    c.flows.post(applicationId=app, flow={
        "name": "count",
        "triggers": [trigger("resourceJobIteration", job, "ack")],
        "nodes": [{"id": "ack", "type": "ResourceJobAcknowledgeNode", "outputIds": [], "config": {
            "successExpression": "true",
            "accumulatorMethod": "jsonTemplate",
            "accumulatorValue": "{\"n\": {{add (defaultTo data.accumulator.n 0) 1}}, \"last\": \"{{data.device.name}}\"}"}}]})
    c.resource_job.execute(applicationId=app, resourceJobId=job, executionOptions={})
    logs = wait_status(c, app, job, "completed")
    assert json.loads(logs[0]["accumulator"]) == {"n": 3, "last": "c"}
    rows = list(csv.DictReader(io.StringIO(requests.get(logs[0]["executionReportUrl"]).text)))
    assert [json.loads(r["accumulator"])["n"] for r in rows] == [1, 2, 3]


def test_timeout_complete_and_execute_chain(fast):
    c = fast.client()
    app = c.applications.post(application={"name": "chain"})["id"]
    for n in ["x-1", "y-1", "y-2"]:
        c.devices.post(applicationId=app, device={"name": n})
    first = c.resource_jobs.post(applicationId=app, resourceJob={
        "name": "never acked", "resourceType": "device", "iterationTimeout": 1000,
        "queryJson": "{\"name\": \"x-1\"}"})["id"]
    second = c.resource_jobs.post(applicationId=app, resourceJob={
        "name": "chained", "resourceType": "device",
        "queryJson": "{\"name\": {\"$startsWith\": \"{{ctx.prefix}}\"}}",
        "defaultContext": "{\"prefix\": \"nothing\"}"})["id"]
    timeout_flow = c.flows.post(applicationId=app, flow={
        "name": "on timeout",
        "triggers": [trigger("resourceJobIterationTimeout", first, "dbg")],
        "nodes": [{"id": "dbg", "type": "DebugNode", "outputIds": [],
                   "config": {"message": "timed out {{data.iterationId}} attempt {{data.attemptNumber}}"}}]})
    complete_flow = c.flows.post(applicationId=app, flow={
        "name": "on complete",
        "triggers": [trigger("resourceJobComplete", first, "dbg")],
        "nodes": [
            {"id": "dbg", "type": "DebugNode", "outputIds": [["exec"]],
             "config": {"message": "done success={{data.success}} timedOut={{data.execution.executionSummary.timedOut}}"}},
            {"id": "exec", "type": "ResourceJobExecuteNode", "outputIds": [], "config": {
                "resourceJobIdTemplate": second, "contextTemplateType": "jsonTemplate",
                "contextTemplate": "{\"prefix\": \"y\"}", "resultPath": "data.chained"}}]})
    ack_second = c.flows.post(applicationId=app, flow={
        "name": "ack second",
        "triggers": [trigger("resourceJobIteration", second, "ack")],
        "nodes": [{"id": "ack", "type": "ResourceJobAcknowledgeNode", "outputIds": [],
                   "config": {"successExpression": "true", "messageTemplate": "ctx {{data.execution.context.prefix}}"}}]})
    c.resource_job.execute(applicationId=app, resourceJobId=first, executionOptions={})
    wait_status(c, app, first, "completed")
    logs2 = wait_status(c, app, second, "completed")
    assert logs2[0]["sourceType"] == "flow" and logs2[0]["sourceId"] == complete_flow["id"]
    assert logs2[0]["templateContext"] == "{\"prefix\": \"y\"}"
    assert logs2[0]["executionSummary"]["succeeded"] == 2
    t_runs = c.flow.get_log_entries(applicationId=app, flowId=timeout_flow["id"], limit="5")
    assert any("timed out" in json.dumps(r["debug"]) for r in t_runs), t_runs
    c_runs = c.flow.get_log_entries(applicationId=app, flowId=complete_flow["id"], limit="5")
    assert any("done success=true timedOut=1" in json.dumps(r["debug"]) for r in c_runs), c_runs
    # includeWorkflows deletes the flows keyed to the job, and only those.
    c.resource_job.delete(applicationId=app, resourceJobId=first, includeWorkflows="true")
    with pytest.raises(LosantError):
        c.flow.get(applicationId=app, flowId=timeout_flow["id"])
    assert c.flow.get(applicationId=app, flowId=ack_second["id"])["name"] == "ack second"


def test_flow_validation(fast):
    c = fast.client()
    app = c.applications.post(application={"name": "bad flows"})["id"]
    job = "575ec8687ae143cd83dc4a97"
    cases = [
        ({"name": "t", "triggers": [{"type": "deviceState", "key": job, "config": {}, "outputIds": [[]]}], "nodes": []}, "resourceJobIteration"),
        ({"name": "t", "triggers": [{"type": "timer", "config": {}, "outputIds": [[]]}], "nodes": []}, "triggers[0].config"),
        ({"name": "t", "triggers": [{"type": "timer", "config": {"cron": "* * *"}, "outputIds": [[]]}], "nodes": []}, "triggers[0].config.cron"),
        ({"name": "t", "triggers": [{"type": "timer", "config": {"cron": "0 9 * * *", "tz": "Mars/Base"}, "outputIds": [[]]}], "nodes": []}, "triggers[0].config.tz"),
        ({"name": "n", "triggers": [trigger("resourceJobIteration", job, "a")],
          "nodes": [{"id": "a", "type": "EmailNode", "config": {}, "outputIds": [[]]}]}, "EmailNode"),
        ({"name": "d", "triggers": [trigger("resourceJobIteration", job, "zz")], "nodes": []}, "zz"),
        ({"name": "c", "triggers": [trigger("resourceJobIteration", job, "a")],
          "nodes": [{"id": "a", "type": "DebugNode", "config": {}, "outputIds": [["b"]]},
                    {"id": "b", "type": "DebugNode", "config": {}, "outputIds": [["a"]]}]}, "cycle"),
    ]
    for body, needle in cases:
        with pytest.raises(LosantError) as e:
            c.flows.post(applicationId=app, flow=body)
        assert e.value.status == 400 and needle in e.value.data["message"], e.value.data
    assert c.flows.get(applicationId=app)["totalCount"] == 0

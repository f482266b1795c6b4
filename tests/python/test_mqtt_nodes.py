"""The MQTT and logic nodes in flows created with the official client: a job's flow branches on
the device name with a SwitchNode, sends a Device: Command over the local broker (the flow run
succeeds once the command is handed to the connected broker), or ends with a ThrowErrorNode's
message; JSON Encode / Decode on the way. Bad configs are 400s naming the field."""

import os
import time

import pytest
import requests
from losant_rest import LosantError

from conftest import Server


@pytest.fixture(scope="module")
def mqtt():
    s = Server({"RJOBS_LIMITS__MIN_ITERATION_TIMEOUT_MS": "500",
                "RJOBS_MQTT__URL": "mqtt://127.0.0.1:1883",
                "RJOBS_MQTT__SHARE_GROUP": f"py{os.getpid()}"})
    yield s
    s.stop()


def test_switch_command_and_throw(mqtt):
    c = mqtt.client()
    app = c.applications.post(application={"name": "mqtt nodes"})["id"]
    for n in ["pump-1", "fan-1", "pump-2"]:
        c.devices.post(applicationId=app, device={"name": n})
    job = c.resource_jobs.post(applicationId=app, resourceJob={
        "name": "fw", "resourceType": "device", "maxIterationConcurrency": 10,
        "iterationTimeout": 500})["id"]
    end = time.time() + 10
    while requests.get(mqtt.url + "/health").json()["mqtt"]["state"] != "connected":
        assert time.time() < end, "the server did not connect to the broker"
        time.sleep(0.1)
    flow = c.flows.post(applicationId=app, flow={
        "name": "route",
        "triggers": [{"type": "resourceJobIteration", "key": job, "config": {}, "outputIds": [["enc"]]}],
        "nodes": [
            {"id": "enc", "type": "JsonEncodeNode", "outputIds": [["dec"]],
             "config": {"source": "data.device.name", "destination": "working.text"}},
            {"id": "dec", "type": "JsonDecodeNode", "outputIds": [["sw"]],
             "config": {"source": "working.text", "destination": "working.name"}},
            {"id": "sw", "type": "SwitchNode", "outputIds": [["cmd"], ["bail"]],
             "config": {"switchTemplate": "{{working.name}}",
                        "cases": [{"caseTemplate": "fan-1", "caseLabel": "fans"}]}},
            {"id": "cmd", "type": "DeviceSendCommandNode", "outputIds": [[]],
             "config": {"deviceIdTemplate": "{{data.device.id}}", "commandNameTemplate": "update",
                        "payloadTemplate": "{\"it\": \"{{data.iterationId}}\"}"}},
            {"id": "bail", "type": "ThrowErrorNode", "outputIds": [[]],
             "config": {"messageTemplate": "no firmware for {{working.name}}"}},
        ]})
    c.resource_job.execute(applicationId=app, resourceJobId=job, executionOptions={})
    end = time.time() + 20
    runs = []
    while time.time() < end:
        runs = c.flow.get_log_entries(applicationId=app, flowId=flow["id"], limit="10")
        if len(runs) == 3:
            break
        time.sleep(0.1)
    statuses = sorted(r["status"] for r in runs)
    assert statuses == ["error", "success", "success"], runs
    errors = [r for r in runs if r["status"] == "error"]
    assert "no firmware for fan-1" in str(errors[0]), errors


def test_bad_node_configs_are_400s(mqtt):
    c = mqtt.client()
    app = c.applications.post(application={"name": "bad mqtt flows"})["id"]
    job = "575ec8687ae143cd83dc4a97"
    trig = [{"type": "resourceJobIteration", "key": job, "config": {}, "outputIds": [["a"]]}]
    cases = [
        ({"type": "DeviceSendCommandNode", "config": {"deviceIdTemplate": "x"}}, "nodes[0].config.commandNameTemplate"),
        ({"type": "MqttMessageNode", "config": {"topicTemplate": "a/#"}}, "nodes[0].config.topicTemplate"),
        ({"type": "MqttMessageNode", "config": {"topicTemplate": "a", "qos": 5}}, "nodes[0].config.qos"),
        ({"type": "SwitchNode", "config": {}}, "nodes[0].config.switchTemplate"),
        ({"type": "ThrowErrorNode", "config": {}}, "nodes[0].config.messageTemplate"),
        ({"type": "JsonDecodeNode", "config": {"source": "a"}}, "nodes[0].config.destination"),
    ]
    for node, needle in cases:
        body = {"name": "n", "triggers": trig, "nodes": [{"id": "a", "outputIds": [[]], **node}]}
        with pytest.raises(LosantError) as e:
            c.flows.post(applicationId=app, flow=body)
        assert e.value.status == 400 and e.value.data["type"] == "Validation", e.value.data
        assert e.value.data["message"].startswith(needle), e.value.data

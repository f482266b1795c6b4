"""`/openapi.json` is a valid OpenAPI 3.1 document whose operations the official client's calls hit."""

import requests
from openapi_spec_validator import validate
from openapi_spec_validator.versions import consts  # noqa: F401  (the package supports 3.1)


def test_openapi_validates_as_3_1(server):
    doc = requests.get(f"{server.url}/openapi.json").json()
    assert doc["openapi"] == "3.1.0"
    validate(doc)
    ops = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    for expected in [("POST", "/applications/{applicationId}/resource-jobs/{resourceJobId}/execute"),
                     ("GET", "/applications/{applicationId}/resource-jobs/{resourceJobId}/logs"),
                     ("POST", "/applications/{applicationId}/devices/bulk")]:
        assert expected in ops
    execute = doc["paths"]["/applications/{applicationId}/resource-jobs/{resourceJobId}/execute"]["post"]
    assert "resourceJob.execute" in execute["x-accepted-scopes"]

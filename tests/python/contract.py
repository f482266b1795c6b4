"""Response contracts: the field names and types of the original API's published schemas
(`resourceJob`, `resourceJobs`, `success`, `error` in Losant/losant-rest-js lib/schemas), restated
here as checks. A response may carry only fields the original defines, each of the right type.
"""

import re

HEX24 = re.compile(r"^[A-Fa-f\d]{24}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
TEMPLATE = re.compile(r".*{{.+}}.*")


def hex24(v):
    return isinstance(v, str) and HEX24.match(v)


def text(lo, hi):
    return lambda v: isinstance(v, str) and lo <= len(v) <= hi


def integer(lo, hi):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def date(v):
    return isinstance(v, str) and DATE.match(v)


def boolean(v):
    return isinstance(v, bool)


def one_of(*values):
    return lambda v: v in values


RESOURCE_JOB = {
    "id": hex24,
    "resourceJobId": hex24,
    "name": text(1, 255),
    "description": text(0, 32767),
    "applicationId": hex24,
    "dataTableId": lambda v: hex24(v) or (text(4, 255)(v) and TEMPLATE.match(v)),
    "queryJson": text(0, 8192),
    "resourceType": one_of("dataTableRow", "device", "experienceGroup", "experienceUser"),
    # The original's enum is {1, 10}; rjobs accepts 1-100 (SPEC §5), checked as an integer.
    "maxIterationConcurrency": integer(1, 100),
    "iterationDelay": integer(0, 60000),
    "iterationTimeout": integer(1, 900000),
    "creationDate": date,
    "lastUpdated": date,
    "lastExecutionRequested": date,
    "defaultContext": text(0, 32767),
    "retryOnTimeout": boolean,
    "retryOnFailure": boolean,
    "maxIterationRetries": integer(1, 5),
    "retryDelay": integer(0, 30000),
}

ENVELOPE = {
    "items": lambda v: isinstance(v, list),
    "count": integer(0, 10**12),
    "totalCount": integer(0, 10**12),
    "perPage": integer(0, 10**12),
    "page": integer(0, 10**12),
    "filter": lambda v: isinstance(v, str),
    "filterField": lambda v: isinstance(v, str),
    "sortField": lambda v: isinstance(v, str),
    "sortDirection": one_of("asc", "desc", "ASC", "DESC", ""),
    "applicationId": hex24,
}

SUCCESS = {"success": lambda v: v is True}
SUCCESS_WITH_EXECUTION_ID = {"success": lambda v: v is True, "executionId": hex24}
ERROR = {"type": lambda v: isinstance(v, str), "message": lambda v: isinstance(v, str)}


def check(obj, contract, required=()):
    """Asserts `obj` has only contract fields, each valid, and every `required` one."""
    assert isinstance(obj, dict), obj
    extra = set(obj) - set(contract)
    assert not extra, f"fields the original does not define: {sorted(extra)}"
    for k, v in obj.items():
        assert contract[k](v), f"{k}={v!r} does not match the original's schema"
    missing = set(required) - set(obj)
    assert not missing, f"missing fields: {sorted(missing)}"


def check_job(job):
    check(job, RESOURCE_JOB, required=(
        "id", "resourceJobId", "name", "applicationId", "queryJson", "resourceType",
        "maxIterationConcurrency", "iterationDelay", "iterationTimeout", "creationDate",
        "lastUpdated", "defaultContext", "retryOnTimeout", "retryOnFailure",
        "maxIterationRetries", "retryDelay"))
    assert job["id"] == job["resourceJobId"]


def check_jobs(page):
    check(page, ENVELOPE, required=("items", "count", "totalCount", "perPage", "page"))
    for item in page["items"]:
        check_job(item)

"""Fixtures for the dashboard's browser tests: the real rjobs binary on a free port (once on
SQLite, once on a fresh PostgreSQL database), an HTTP API helper to create data and play the
external worker, and Playwright pages on Debian's chromium that fail the test on any JavaScript
error or console error.

The binary comes from RJOBS_BIN (default: target/debug/rjobs). Screenshots go to
target/ui-screenshots/<backend>-<name>.png. PostgreSQL is the one at 127.0.0.1:5432 (trust auth,
user postgres) that scripts/ensure-postgres starts.
"""

import os
import pathlib
import subprocess
import tempfile
import threading
import time
import uuid

import pytest
import requests
from playwright.sync_api import sync_playwright

ROOT = pathlib.Path(__file__).resolve().parents[2]
ADMIN = "browser-admin-token"
SHOTS = ROOT / "target" / "ui-screenshots"
CHROMIUM = os.environ.get("RJOBS_CHROMIUM", "/usr/bin/chromium")


def psql(sql):
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True,
                   stdout=subprocess.DEVNULL)


class Server:
    def __init__(self, backend):
        self.backend = backend
        self.dir = tempfile.TemporaryDirectory()
        self.pg_db = None
        if backend == "postgres":
            self.pg_db = f"rjobs_ui_{uuid.uuid4().hex[:12]}"
            psql(f"CREATE DATABASE {self.pg_db}")
            db = f"postgres://postgres@127.0.0.1:5432/{self.pg_db}"
        else:
            db = f"sqlite://{self.dir.name}/rjobs.db"
        binary = os.environ.get("RJOBS_BIN", str(ROOT / "target" / "debug" / "rjobs"))
        env = {k: v for k, v in os.environ.items() if k != "RJOBS_BIN"}
        env["RJOBS_ADMIN_TOKEN"] = ADMIN
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--database-url", db],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        for line in self.proc.stdout:
            if line.startswith("rjobs listening on "):
                self.url = line.split()[-1]
                break
        else:
            raise RuntimeError("rjobs exited before listening")
        # Keep draining stdout so the server never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=15)
        self.dir.cleanup()
        if self.pg_db:
            psql(f"DROP DATABASE IF EXISTS {self.pg_db} WITH (FORCE)")


class Api:
    """The HTTP API with the admin token."""

    def __init__(self, base):
        self.base = base
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"Bearer {ADMIN}"

    def call(self, method, path, **kw):
        r = self.s.request(method, self.base + path, timeout=30, **kw)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, json=body, **kw)

    def fleet(self, app_name, devices, job_name, **job):
        """An application with `devices` named devices and a device job over all of them."""
        app = self.post("/applications", {"name": app_name})["id"]
        self.post(f"/applications/{app}/devices/bulk", [{"name": n} for n in devices])
        body = {"name": job_name, "resourceType": "device", **job}
        jid = self.post(f"/applications/{app}/resource-jobs", body)["id"]
        return app, jid

    def execute(self, app, job, body=None):
        return self.post(f"/applications/{app}/resource-jobs/{job}/execute", body or {})["executionId"]

    def execution(self, app, job, exe):
        return self.get(f"/applications/{app}/resource-jobs/{job}/executions/{exe}")

    def ack_some(self, app, job, exe, outcome, limit=100, wait_ms=0):
        """Claims up to `limit` started attempts and acknowledges each with outcome(item) →
        (success, message). Returns how many were acknowledged."""
        x = f"/applications/{app}/resource-jobs/{job}/executions/{exe}"
        items = self.post(f"{x}/iterations/claim", {"limit": limit, "waitMs": wait_ms})["items"]
        if not items:
            return 0
        acks = []
        for it in items:
            ok, msg = outcome(it)
            acks.append({"iterationId": it["id"], "attempt": it["attempt"], "success": ok, "message": msg})
        results = self.post(f"{x}/acknowledge", {"items": acks})["results"]
        assert all(r["status"] == "applied" for r in results), results
        return len(items)


class Worker(threading.Thread):
    """An external worker acknowledging an execution's iterations at a bounded pace until it is
    stopped or the execution is final."""

    def __init__(self, api, app, job, exe, outcome, batch=4, pause=0.15, deadline=90):
        super().__init__(daemon=True)
        self.api, self.app, self.job, self.exe = api, app, job, exe
        self.outcome, self.batch, self.pause = outcome, batch, pause
        self.deadline = time.monotonic() + deadline
        self.halt = threading.Event()
        self.error = None
        self.acked = 0

    def run(self):
        try:
            while not self.halt.is_set() and time.monotonic() < self.deadline:
                self.acked += self.api.ack_some(self.app, self.job, self.exe, self.outcome,
                                                limit=self.batch, wait_ms=200)
                st = self.api.execution(self.app, self.job, self.exe)["status"]
                if st in ("completed", "canceled", "errored"):
                    return
                time.sleep(self.pause)
        except Exception as e:  # reported by join_checked
            self.error = e

    def join_checked(self):
        self.halt.set()
        self.join(timeout=30)
        assert self.error is None, self.error


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request):
    s = Server(request.param)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def api(server):
    return Api(server.url)


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


class Page:
    """A page with error capture: every JavaScript error and console error fails the test, except
    messages a test declares it expects (allow)."""

    def __init__(self, page, server, name):
        self.page = page
        self.server = server
        self.name = name
        self.errors = []
        self.allowed = []
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.log = []
        page.on("console", self._console)

    def _console(self, m):
        self.log.append(f"{m.type}: {m.text}")
        if m.type == "error":
            self.errors.append(f"console: {m.text}")

    def allow(self, fragment):
        self.allowed.append(fragment)

    def open(self, path):
        self.page.goto(self.server.url + path)

    def login(self, token=ADMIN):
        self.page.get_by_label("API token").fill(token)
        self.page.get_by_role("button", name="Log in").click()

    def shot(self, label):
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{self.server.backend}-{label}.png"), full_page=True)

    def unexpected(self):
        return [e for e in self.errors if not any(a in e for a in self.allowed)]


@pytest.fixture
def ui(browser, server, request):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    p = Page(page, server, request.node.name)
    yield p
    errors = p.unexpected()
    ctx.close()
    assert not errors, f"JavaScript or console errors: {errors}"

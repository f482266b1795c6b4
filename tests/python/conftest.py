"""Fixtures for driving a real rjobs server with the official `losant-rest` Python client.

The server binary comes from RJOBS_BIN (default: the workspace's target/debug/rjobs); each test
module gets its own server on a free port with a fresh SQLite database.
"""

import os
import pathlib
import subprocess
import tempfile

import pytest
from losant_rest import Client

ROOT = pathlib.Path(__file__).resolve().parents[2]
ADMIN = "py-admin-token"


class Server:
    def __init__(self, extra_env=None):
        self.dir = tempfile.TemporaryDirectory()
        binary = os.environ.get("RJOBS_BIN", str(ROOT / "target" / "debug" / "rjobs"))
        env = {k: v for k, v in os.environ.items() if k != "RJOBS_BIN"}
        # The flow tests call HTTP servers on loopback, which the outbound policy refuses by default.
        env.update({"RJOBS_ADMIN_TOKEN": ADMIN, "RJOBS_OUTBOUND__ALLOW_NETS": "127.0.0.1/32",
                    **(extra_env or {})})
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0",
             "--database-url", f"sqlite://{self.dir.name}/rjobs.db"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        for line in self.proc.stdout:
            if line.startswith("rjobs listening on "):
                self.url = line.split()[-1]
                break
        else:
            raise RuntimeError("rjobs exited before listening")

    def client(self, token=ADMIN):
        return Client(auth_token=token, url=self.url)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.dir.cleanup()


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def admin(server):
    return server.client()

"""The dashboard in a real browser (Debian's chromium through Playwright), against the real
binary on SQLite and on PostgreSQL: log in, open every deep link, watch a running execution reach
`completed`, filter failures (exactly the failed resources, with their messages), re-run them,
cancel one, pause and resume one, create a job with a dry-run preview. Any JavaScript error or
console error fails the test (see conftest.Page)."""

import re

import requests
from playwright.sync_api import expect

from conftest import ADMIN, Worker


def fails(name):
    """The outcome rule of the simulated worker: every sixth sensor fails, with a message."""
    return int(name[-2:]) % 6 == 1


def outcome(item):
    n = item["resourceName"]
    return (False, f"{n}: no reply from the sensor") if fails(n) else (True, "polled")


def exec_path(app, job, exe):
    return f"/ui/applications/{app}/resource-jobs/{job}/executions/{exe}"


def rows(page):
    """(resource name, status, message) of each row of the iterations table."""
    return page.evaluate("""() => [...document.querySelectorAll('table.iterations tbody tr[data-status]')]
        .map(r => [r.querySelector('th').firstChild.textContent, r.dataset.status,
                   r.querySelector('td.message').textContent])""")


def test_login_deep_links_keyboard_and_logout(ui, api):
    app, job = api.fleet("Deep links", ["d-01", "d-02"], "deep job")
    exe = api.execute(app, job)
    page = ui.page
    ui.open("/ui/applications")
    expect(page.get_by_role("heading", name="Log in to rjobs")).to_be_visible()
    token = page.get_by_label("API token")
    expect(token).to_have_attribute("type", "password")
    expect(token).to_be_focused()
    ui.shot("login")
    # A wrong token is refused (the browser logs the 401 of that one check).
    ui.allow("status of 401")
    ui.login("not-a-token")
    expect(page.get_by_role("alert")).to_contain_text("did not accept this token")
    assert page.evaluate("sessionStorage.length") == 0
    # The right one, submitted with the keyboard.
    token.fill(ADMIN)
    token.press("Enter")
    expect(page.get_by_role("heading", name="Applications", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Deep links")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('rjobs.token')") == ADMIN
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []
    ui.shot("applications")

    # Each deep link loads directly (the server answers the shell, the app routes).
    for path, heading in [
        ("/ui/applications", "Applications"),
        (f"/ui/applications/{app}/resource-jobs", "Resource jobs of Deep links"),
        (f"/ui/applications/{app}/resource-jobs/{job}", "deep job"),
        (exec_path(app, job, exe), "Execution of deep job"),
        ("/ui/no/such/page", "Page not found"),
    ]:
        ui.open(path)
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    ui.shot("not-found")

    # Keyboard: a page puts focus on its heading; Tab goes on to the first link of the page (with
    # a visible focus ring) and Enter follows it. The skip link comes first in the tab order.
    ui.open(f"/ui/applications/{app}/resource-jobs")
    expect(page.get_by_role("link", name="deep job")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="deep job")).to_be_focused()
    assert page.evaluate("document.activeElement.matches(':focus-visible')")
    assert page.evaluate("""() => document.querySelector('a, button, input, select, textarea')
        .textContent""") == "Skip to content"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("deep job")
    assert page.url.endswith(f"/ui/applications/{app}/resource-jobs/{job}")
    # The breadcrumb goes back up.
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Applications").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Applications")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in to rjobs")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_watch_a_run_complete_filter_failures_and_rerun(ui, api):
    names = [f"sensor-{i:02d}" for i in range(48)]
    failing = sorted(n for n in names if fails(n))
    app, job = api.fleet("Sensors", names, "poll sensors", maxIterationConcurrency=6)
    exe = api.execute(app, job)
    page = ui.page
    ui.open(exec_path(app, job, exe))
    ui.login()
    badge = page.locator(".status-line .badge")
    bar = page.get_by_role("progressbar", name="Execution progress")
    expect(badge).to_have_text("In progress")
    expect(page.locator(".conn")).to_have_text("(live)")
    expect(bar).to_have_attribute("aria-valuenow", "0")

    worker = Worker(api, app, job, exe, outcome)
    worker.start()
    # The page follows the run: part way...
    page.wait_for_function("""() => { const v = +document.querySelector('[role=progressbar]')
        .getAttribute('aria-valuenow'); return v > 0 && v < 100; }""")
    expect(page.locator("#count-rate")).to_have_text(re.compile(r"^\d+(\.\d)? /s$"))
    ui.shot("execution-running")
    # ... to the end.
    expect(badge).to_have_text("Completed", timeout=60_000)
    worker.join_checked()
    expect(bar).to_have_attribute("aria-valuenow", "100")
    expect(page.locator(".conn")).to_have_text("(finished)")
    summary = api.execution(app, job, exe)["executionSummary"]
    assert summary == {"succeeded": len(names) - len(failing), "failed": len(failing),
                       "timedOut": 0, "inProgress": 0, "remaining": 0}
    for key, value in summary.items():
        expect(page.locator(f"#count-{key}")).to_have_text(str(value))
    expect(page.locator(".chart rect.bar").first).to_be_attached()
    expect(page.locator(".chart figcaption")).to_contain_text(f"{len(failing)} failed")

    # The report link downloads the CSV: one line per resource plus the header.
    with page.expect_download() as dl:
        page.get_by_role("link", name="Download the report (CSV)").click()
    csv = open(dl.value.path(), encoding="utf-8").read().strip().splitlines()
    assert len(csv) == len(names) + 1, csv[:3]
    ui.shot("execution-completed")

    # The failed filter shows exactly the failed resources, with their messages.
    page.get_by_label("Show iterations").select_option("failed")
    expect(page.locator("table.iterations caption")).to_have_text(f"{len(failing)} iterations with status Failed")
    got = rows(page)
    assert sorted(r[0] for r in got) == failing
    assert all(r[1] == "failed" and r[2] == f"{r[0]}: no reply from the sensor" for r in got), got
    assert page.url.endswith(f"{exec_path(app, job, exe)}?status=failed")
    ui.shot("execution-failed-filter")
    # The filtered view is a link: a reload shows the same rows (and the chart from the records).
    page.reload()
    expect(page.get_by_label("Show iterations")).to_have_value("failed")
    expect(page.locator("table.iterations caption")).to_have_text(f"{len(failing)} iterations with status Failed")
    assert sorted(r[0] for r in rows(page)) == failing
    expect(page.locator(".chart rect.bar").first).to_be_attached()
    page.get_by_label("Show iterations").select_option("succeeded")
    expect(page.locator("table.iterations caption")).to_have_text(
        f"{len(names) - len(failing)} iterations with status Succeeded")

    # Re-run what failed: a new execution over exactly those resources.
    page.get_by_role("button", name="Re-run failed and timed out").click()
    page.wait_for_url(re.compile(rf"/executions/(?!{exe})[0-9a-f]{{24}}$"))
    rerun = page.url.rsplit("/", 1)[-1]
    expect(page.locator("#count-total")).to_have_text(str(len(failing)))
    retry = Worker(api, app, job, rerun, lambda it: (True, "answered this time"))
    retry.start()
    retry.join(timeout=60)
    retry.join_checked()
    expect(page.locator(".status-line .badge")).to_have_text("Completed", timeout=60_000)
    x = api.execution(app, job, rerun)
    assert x["rerunOf"]["executionId"] == exe
    assert x["executionSummary"]["succeeded"] == len(failing)

    # The job page lists both runs with their summaries.
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="poll sensors").click()
    history = page.locator("table.history tbody tr")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text(f"{len(failing)} succeeded, 0 failed")
    expect(history.nth(1)).to_contain_text(f"{len(names) - len(failing)} succeeded, {len(failing)} failed")
    expect(history.nth(1)).to_contain_text("Completed")
    ui.shot("job")


def test_cancel_a_running_execution(ui, api):
    names = [f"valve-{i:02d}" for i in range(30)]
    app, job = api.fleet("Valves", names, "close valves", maxIterationConcurrency=5)
    exe = api.execute(app, job)
    page = ui.page
    ui.open(exec_path(app, job, exe))
    ui.login()
    badge = page.locator(".status-line .badge")
    expect(badge).to_have_text("In progress")
    expect(page.locator("#count-inProgress")).to_have_text("5")
    page.get_by_role("button", name="Cancel execution").click()
    confirm = page.get_by_role("button", name="Yes, cancel it")
    expect(confirm).to_be_focused()
    page.keyboard.press("Enter")
    # The five in flight may still finish: the execution is canceling until they do.
    expect(badge).to_have_text("Canceling")
    assert api.execution(app, job, exe)["status"] == "canceling"
    ui.shot("execution-canceling")
    assert api.ack_some(app, job, exe, lambda it: (True, "closed")) == 5
    expect(badge).to_have_text("Canceled")
    x = api.execution(app, job, exe)
    assert x["status"] == "canceled" and x["executionSummary"]["succeeded"] == 5, x
    expect(page.locator("#count-succeeded")).to_have_text("5")
    expect(page.get_by_role("button", name="Cancel execution")).to_be_hidden()
    expect(page.get_by_role("link", name="Download the report (CSV)")).to_be_visible()
    ui.shot("execution-canceled")


def test_pause_and_resume_with_the_keyboard(ui, api):
    names = [f"pump-{i:02d}" for i in range(24)]
    app, job = api.fleet("Pumps", names, "drain pumps", maxIterationConcurrency=4)
    exe = api.execute(app, job)
    page = ui.page
    ui.open(exec_path(app, job, exe))
    ui.login()
    badge = page.locator(".status-line .badge")
    expect(badge).to_have_text("In progress")
    assert api.ack_some(app, job, exe, lambda it: (True, "ok")) == 4
    expect(page.locator("#count-succeeded")).to_have_text("4")

    page.get_by_role("button", name="Pause").focus()
    page.keyboard.press("Enter")
    expect(badge).to_have_text("Paused")
    assert api.execution(app, job, exe)["status"] == "paused"
    # Attempts in flight still take their acks; nothing new starts while paused.
    expect(page.locator("#count-inProgress")).to_have_text("4")
    assert api.ack_some(app, job, exe, lambda it: (True, "ok")) == 4
    expect(page.locator("#count-succeeded")).to_have_text("8")
    expect(page.locator("#count-inProgress")).to_have_text("0")
    page.wait_for_timeout(1000)
    assert api.execution(app, job, exe)["executionSummary"]["inProgress"] == 0
    expect(page.locator("#count-remaining")).to_have_text("16")
    ui.shot("execution-paused")

    resume = page.get_by_role("button", name="Resume")
    expect(resume).to_be_focused()
    page.keyboard.press("Space")
    expect(badge).to_have_text("In progress")
    worker = Worker(api, app, job, exe, lambda it: (True, "ok"))
    worker.start()
    expect(badge).to_have_text("Completed", timeout=60_000)
    worker.join_checked()
    expect(page.locator("#count-succeeded")).to_have_text("24")


def test_create_a_job_with_the_query_editor_and_a_dry_run_preview(ui, api):
    app = api.post("/applications", {"name": "Plant"})["id"]
    api.post(f"/applications/{app}/devices/bulk",
             [{"name": f"pump-{i}"} for i in range(5)] + [{"name": f"valve-{i}"} for i in range(3)])
    page = ui.page
    ui.open(f"/ui/applications/{app}/resource-jobs")
    ui.login()
    expect(page.get_by_role("heading", level=1)).to_have_text("Resource jobs of Plant")
    expect(page.get_by_text("No resource jobs yet")).to_be_visible()
    # Every form control has a label.
    unlabeled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter(e => e.labels.length === 0).map(e => e.name)""")
    assert unlabeled == []
    page.get_by_label("Name", exact=True).fill("pumps only")
    query = page.get_by_label("Query (JSON)")
    query.fill('{"name": {"$startsWith": "pump"}')
    expect(query).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#query-error")).to_contain_text("Not valid JSON")
    page.get_by_role("button", name="Create job").click()
    expect(query).to_be_focused()
    ui.shot("create-job-invalid-query")
    query.fill('{"name": {"$startsWith": "pump"}}')
    expect(query).to_have_attribute("aria-invalid", "false")
    page.get_by_role("button", name="Create job").click()

    # The new job's page opens with the dry-run preview: what it would hit, nothing started.
    expect(page.get_by_role("heading", level=1)).to_have_text("pumps only")
    expect(page.locator(".preview-count")).to_contain_text("5 resources would be iterated")
    sample = page.locator("ul.sample li")
    expect(sample).to_have_count(5)
    assert all(t.startswith("pump-") for t in sample.all_inner_texts())
    jobs = api.get(f"/applications/{app}/resource-jobs")["items"]
    assert [j["name"] for j in jobs] == ["pumps only"]
    assert api.get(f"/applications/{app}/resource-jobs/{jobs[0]['id']}/logs") == []
    ui.shot("job-preview")
    # A one-run override previews too, then executes.
    page.get_by_label("Query for this run (JSON)").fill('{"name": "valve-1"}')
    page.get_by_role("button", name="Preview (dry run)").click()
    expect(page.locator(".preview-count")).to_contain_text("1 resource would be iterated")
    page.get_by_role("button", name="Execute").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Execution of pumps only")
    expect(page.locator("#count-total")).to_have_text("1")
    exe = page.url.rsplit("/", 1)[-1]
    api.ack_some(app, jobs[0]["id"], exe, lambda it: (True, "ok"), wait_ms=2000)
    expect(page.locator(".status-line .badge")).to_have_text("Completed")
    # Back on the application's list, the job shows its last run's status.
    ui.open(f"/ui/applications/{app}/resource-jobs")
    expect(page.locator("table.jobs tbody tr")).to_contain_text("Completed")
    ui.shot("jobs")


def test_event_stream_reader_in_the_browser(ui, api):
    app, job = api.fleet("Stream", ["s-01", "s-02", "s-03"], "stream job",
                         maxIterationConcurrency=10)
    exe = api.execute(app, job)
    api.ack_some(app, job, exe, lambda it: (it["resourceName"] != "s-02", "msg"), wait_ms=2000)
    page = ui.page
    ui.open("/ui/applications")
    ui.login()
    expect(page.get_by_role("heading", level=1)).to_have_text("Applications")
    # The parser, fed awkward chunks: CRLF split across chunks, multi-line data, comments.
    parsed = page.evaluate("""async () => {
        const { SseParser } = await import('/ui/assets/stream.js');
        const p = new SseParser(); const out = [];
        for (const c of ['event: progress\\r', '\\ndata: {"a":', '1}\\nid: 3-0\\r\\n', '\\n: keep-alive\\n\\n',
                         'data: x\\ndata:y\\n\\nretry: 50\\nevent: done\\ndata\\n\\n'])
            out.push(...p.push(c));
        return { out, retry: p.retry, last: p.lastEventId };
    }""")
    assert parsed["out"] == [
        {"event": "progress", "data": '{"a":1}', "id": "3-0"},
        {"event": "message", "data": "x\ny", "id": "3-0"},
        {"event": "done", "data": "", "id": "3-0"},
    ]
    assert parsed["retry"] == 50 and parsed["last"] == "3-0"
    # follow() on the real stream of a finished execution, with the bearer token (no token in
    # the URL): progress, status, the iterations, done; then it stops by itself.
    got = page.evaluate("""async (url) => {
        const { follow } = await import('/ui/assets/stream.js');
        return await new Promise((resolve) => {
            const events = [];
            const f = follow(url, {
                onEvent: (e) => events.push([e.event, e.data.status || null, e.id]),
                onState: (s) => { if (s === 'closed') resolve({ events, last: f.lastEventId() }); },
                onFatal: (s, m) => resolve({ fatal: s, m }),
            });
        });
    }""", f"/applications/{app}/resource-jobs/{job}/executions/{exe}/events?iterations=true")
    kinds = [e[0] for e in got["events"]]
    assert kinds[:2] == ["progress", "status"] and kinds[-1] == "done", got
    assert kinds.count("iteration") == 3
    assert sorted(e[1] for e in got["events"] if e[0] == "iteration") == ["failed", "succeeded", "succeeded"]
    assert got["events"][-1][1] == "completed"
    assert re.fullmatch(r"\d+-\d+", got["last"]), got
    # Resuming after the last iteration's id sends no iteration again.
    again = page.evaluate("""async ([url, last]) => {
        const r = await fetch(url, { headers: { Authorization: 'Bearer ' + sessionStorage.getItem('rjobs.token'),
                                                'Last-Event-ID': last } });
        return await r.text();
    }""", [f"/applications/{app}/resource-jobs/{job}/executions/{exe}/events?iterations=true", got["last"]])
    assert "event: iteration" not in again and "event: done" in again
    # The chart's buckets account for every finished iteration, each in the bar of its instant.
    b = page.evaluate("""async () => {
        const { bucket } = await import('/ui/assets/chart.js');
        const t = 1_700_000_000_000;
        return bucket([{ t, succeeded: 2, failed: 0, timedOut: 0 },
                       { t: t + 400, succeeded: 5, failed: 1, timedOut: 0 },
                       { t: t + 2600, succeeded: 9, failed: 1, timedOut: 2 },
                       { t: t + 3000, succeeded: 10, failed: 3, timedOut: 2 }], 30);
    }""")
    assert b["seconds"] == 0.25 and len(b["bars"]) == 12, b
    assert sum(x["succeeded"] for x in b["bars"]) == 8
    assert sum(x["failed"] for x in b["bars"]) == 3 and sum(x["timedOut"] for x in b["bars"]) == 2
    assert b["bars"][1]["succeeded"] == 3 and b["bars"][10]["timedOut"] == 2, b
    # The API itself still needs the token.
    assert requests.get(api.base + "/applications").status_code == 401

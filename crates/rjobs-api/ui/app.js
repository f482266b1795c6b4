// The dashboard's entry: the login gate, the router (every /ui/... URL is a page of this app, so
// deep links load directly: the server answers them all with the same shell) and the layout
// (breadcrumbs, focus on the new page's heading, a live region for announcements).

import { api, clearToken, onUnauthorized, paths, setToken, token } from "./api.js";
import { h, link, notice, replace, field } from "./dom.js";
import * as applications from "./page-applications.js";
import * as jobs from "./page-jobs.js";
import * as job from "./page-job.js";
import * as execution from "./page-execution.js";

const ROUTES = [
  { re: /^\/ui\/applications\/?$/, page: applications, keys: [] },
  { re: /^\/ui\/applications\/([^/]+)\/resource-jobs\/?$/, page: jobs, keys: ["app"] },
  { re: /^\/ui\/applications\/([^/]+)\/resource-jobs\/([^/]+)\/?$/, page: job, keys: ["app", "job"] },
  {
    re: /^\/ui\/applications\/([^/]+)\/resource-jobs\/([^/]+)\/executions\/([^/]+)\/?$/,
    page: execution, keys: ["app", "job", "exec"],
  },
];

/** Which page a path is, with its parameters; null for none. */
export function route(pathname) {
  for (const r of ROUTES) {
    const m = r.re.exec(pathname);
    if (m) {
      const params = {};
      r.keys.forEach((k, i) => { params[k] = decodeURIComponent(m[i + 1]); });
      return { page: r.page, params };
    }
  }
  return null;
}

const main = document.getElementById("main");
const crumbs = document.getElementById("crumbs");
const logout = document.getElementById("logout");
const live = document.getElementById("announce");
let cleanup = null;
// True while the login form checks a token: its 401 is that form's message, not a logout.
let verifying = false;

function announce(text) {
  live.textContent = "";
  // A new text node after clearing makes screen readers speak it even when it repeats.
  setTimeout(() => { live.textContent = text; }, 50);
}

function setCrumbs(items) {
  replace(crumbs, items.map(([label, href], i) => h("li", {},
    i === items.length - 1 ? h("span", { "aria-current": "page" }, label) : link(href, label))));
}

export function navigate(href, { replaceState = false } = {}) {
  if (replaceState) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  render();
}

function login(message) {
  stop();
  logout.hidden = true;
  setCrumbs([["Log in", location.pathname]]);
  document.title = "Log in · rjobs";
  const [tokenField, input] = field("API token",
    h("input", { type: "password", name: "token", autocomplete: "off", required: true, spellcheck: "false" }),
    "The admin token rjobs serve printed on its first start (RJOBS_TOKEN=…), or an application API token. It is kept for this browser session only.");
  const status = h("div", {});
  const form = h("form", { class: "card login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title", tabindex: "-1" }, "Log in to rjobs"),
    message ? notice("error", message) : null,
    tokenField,
    h("button", { type: "submit", class: "primary" }, "Log in"),
    status);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const t = input.value.trim();
    if (!t) return;
    setToken(t);
    verifying = true;
    try {
      await api(paths.apps(), { query: { perPage: 1 } });
    } catch (e) {
      // 403: an application token, which cannot list applications but can open one.
      if (e.status !== 403) {
        clearToken();
        replace(status, notice("error", e.status === 401
          ? "The server did not accept this token."
          : e.message));
        input.focus();
        return;
      }
    } finally {
      verifying = false;
    }
    announce("Logged in");
    render();
  });
  replace(main, form);
  input.focus();
}

function stop() {
  if (cleanup) {
    try {
      cleanup();
    } catch (e) {
      console.warn("page cleanup failed", e);
    }
  }
  cleanup = null;
}

async function render() {
  stop();
  if (!token()) {
    login();
    return;
  }
  logout.hidden = false;
  if (location.pathname === "/ui" || location.pathname === "/ui/") {
    history.replaceState(null, "", "/ui/applications");
  }
  const r = route(location.pathname);
  const container = h("div", { class: "page" });
  replace(main, container);
  if (!r) {
    setCrumbs([["Applications", "/ui/applications"], ["Not found", location.pathname]]);
    container.append(h("h1", { tabindex: "-1" }, "Page not found"),
      notice("error", `There is no dashboard page at ${location.pathname}.`),
      h("p", {}, link("/ui/applications", "Go to the applications")));
    container.querySelector("h1").focus();
    return;
  }
  const ctx = {
    params: r.params,
    query: new URLSearchParams(location.search),
    main: container,
    setCrumbs,
    announce,
    navigate,
    setTitle: (t) => { document.title = `${t} · rjobs`; },
    focusHeading: () => container.querySelector("h1")?.focus({ preventScroll: true }),
  };
  try {
    const done = await r.page.render(ctx);
    if (main.firstChild === container) cleanup = typeof done === "function" ? done : null;
    else if (typeof done === "function") done();
  } catch (e) {
    if (main.firstChild === container) container.append(notice("error", e.message));
  }
}

document.addEventListener("click", (ev) => {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = ev.target.closest("a[href]");
  if (!a || a.target || a.hasAttribute("download")) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith("/ui/")) return;
  if (url.pathname === location.pathname && url.search === location.search && url.hash) return;
  ev.preventDefault();
  navigate(url.pathname + url.search);
});

window.addEventListener("popstate", render);
logout.addEventListener("click", () => {
  clearToken();
  announce("Logged out");
  login();
});
onUnauthorized(() => {
  if (verifying) return;
  clearToken();
  login("The server did not accept the token (it may have been revoked). Log in again.");
});

render();

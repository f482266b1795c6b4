// The API client: the token lives in sessionStorage only (gone when the browser session ends,
// never in a cookie, a URL or localStorage), every call sends it as a bearer token, and every
// failure becomes an ApiError carrying the server's {"type", "message"}.

const KEY = "rjobs.token";
let unauthorized = () => {};

export function token() {
  return sessionStorage.getItem(KEY);
}

export function setToken(t) {
  sessionStorage.setItem(KEY, t);
}

export function clearToken() {
  sessionStorage.removeItem(KEY);
}

/** Called with the error when the server answers 401 (the token is wrong or was revoked). */
export function onUnauthorized(f) {
  unauthorized = f;
}

export class ApiError extends Error {
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

/** The headers of an authenticated request. */
export function authHeaders(extra = {}) {
  return { Authorization: `Bearer ${token() || ""}`, ...extra };
}

/** Builds a path with query parameters (undefined / null / "" are left out). */
export function withQuery(path, query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const qs = q.toString();
  return qs ? `${path}?${qs}` : path;
}

/** Calls the API; resolves to the parsed JSON body, rejects with ApiError. */
export async function api(path, { method = "GET", body, query, signal } = {}) {
  const headers = authHeaders({ Accept: "application/json" });
  const init = { method, headers, signal, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(withQuery(path, query), init);
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, "NetworkError", `The server could not be reached (${e.message})`);
  }
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!resp.ok) {
    const err = new ApiError(resp.status, data?.type || "Error",
      data?.message || `The server answered ${resp.status}`);
    if (resp.status === 401) unauthorized(err);
    throw err;
  }
  return data;
}

/** Path helpers, each segment encoded. */
const e = encodeURIComponent;
export const paths = {
  apps: () => "/applications",
  app: (a) => `/applications/${e(a)}`,
  jobs: (a) => `/applications/${e(a)}/resource-jobs`,
  job: (a, j) => `/applications/${e(a)}/resource-jobs/${e(j)}`,
  exec: (a, j, x) => `/applications/${e(a)}/resource-jobs/${e(j)}/executions/${e(x)}`,
};

// The execution event stream read with fetch() and a ReadableStream. EventSource cannot send an
// Authorization header, and putting the token in the URL would leak it into logs and history, so
// this parses text/event-stream itself (the WHATWG rules: `event:`, `data:` lines joined with
// "\n", `id:`, `retry:`, comments, CR/LF/CRLF line ends) and reconnects with `Last-Event-ID`, so
// the server continues after the last event seen: none lost, none repeated.

import { authHeaders } from "./api.js";

/** An incremental text/event-stream parser: push text chunks, get whole events back. */
export class SseParser {
  constructor() {
    this.buf = "";
    this.reset();
    this.lastEventId = "";
    this.retry = null;
  }

  reset() {
    this.event = "";
    this.data = [];
    this.hasData = false;
  }

  /** Feeds a chunk; returns the events it completed as {event, data, id}. */
  push(chunk) {
    this.buf += chunk;
    const out = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      if (!m) break;
      // A lone CR at the very end may be the first half of a CRLF split across chunks.
      if (m[0] === "\r" && m.index === this.buf.length - 1) break;
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    return out;
  }

  line(line) {
    if (line === "") {
      if (!this.hasData) {
        this.reset();
        return null;
      }
      const ev = { event: this.event || "message", data: this.data.join("\n"), id: this.lastEventId };
      this.reset();
      return ev;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (name) {
      case "event":
        this.event = value;
        break;
      case "data":
        this.data.push(value);
        this.hasData = true;
        break;
      case "id":
        if (!value.includes("\0")) this.lastEventId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break;
    }
    return null;
  }
}

/** Statuses after which reconnecting cannot help. */
const FATAL = new Set([400, 401, 403, 404]);

/**
 * Follows the stream at `url` until a `done` event or `stop()`. Handlers: onEvent({event, data
 * (parsed JSON), id}), onState("open" | "reconnecting" | "closed", detail), onFatal(status,
 * message). Returns {stop, lastEventId()}.
 */
export function follow(url, { onEvent, onState = () => {}, onFatal = () => {} }) {
  const ctl = new AbortController();
  let lastEventId = "";
  let delay = 1000;
  let stopped = false;

  async function once() {
    const headers = authHeaders({ Accept: "text/event-stream" });
    if (lastEventId) headers["Last-Event-ID"] = lastEventId;
    const resp = await fetch(url, { headers, signal: ctl.signal, cache: "no-store" });
    if (!resp.ok) {
      let message = `The event stream answered ${resp.status}`;
      try {
        message = (await resp.json()).message || message;
      } catch {
        // not JSON: keep the status line
      }
      return { fatal: FATAL.has(resp.status), status: resp.status, message };
    }
    onState("open");
    const parser = new SseParser();
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { ended: true };
      for (const ev of parser.push(value)) {
        if (ev.id) lastEventId = ev.id;
        if (parser.retry !== null) delay = parser.retry;
        let data = null;
        try {
          data = JSON.parse(ev.data);
        } catch {
          data = ev.data;
        }
        onEvent({ event: ev.event, data, id: ev.id });
        if (ev.event === "done") {
          reader.cancel().catch(() => {});
          return { done: true };
        }
      }
    }
  }

  (async () => {
    while (!stopped) {
      let r;
      try {
        r = await once();
      } catch (e) {
        if (stopped || e.name === "AbortError") break;
        r = { ended: true, message: e.message };
      }
      if (r.done) break;
      if (r.fatal) {
        onFatal(r.status, r.message);
        break;
      }
      if (stopped) break;
      onState("reconnecting", r.message || "the stream ended");
      await new Promise((res) => setTimeout(res, delay));
    }
    stopped = true;
    onState("closed");
  })();

  return {
    stop() {
      stopped = true;
      ctl.abort();
    },
    lastEventId: () => lastEventId,
  };
}

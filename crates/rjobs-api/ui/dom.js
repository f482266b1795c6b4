// Building DOM nodes without innerHTML: every string a server or user gave is a text node or an
// attribute value, so nothing in the data can inject markup or script (and the CSP forbids inline
// handlers anyway). `h` makes HTML elements, `s` SVG ones.

const SVG = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2), v);
    } else if (k === "class") {
      el.setAttribute("class", Array.isArray(v) ? v.filter(Boolean).join(" ") : v);
    } else if (k === "dataset") {
      Object.assign(el.dataset, v);
    } else if (k === "value" && "value" in el) {
      el.value = v;
    } else {
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

/** Appends strings (as text), numbers, nodes and nested arrays; skips null/false. */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** An HTML element: h("a", {href}, "text", child, ...). */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

/** Replaces every child of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A link inside the app (the router intercepts its clicks). */
export function link(href, ...children) {
  return h("a", { href }, ...children);
}

/** A message box: kind is "error" or "info"; errors are announced (role=alert). */
export function notice(kind, text) {
  return h("p", { class: ["notice", kind], role: kind === "error" ? "alert" : "status" },
    h("strong", {}, kind === "error" ? "Error: " : "Note: "), text);
}

/** A labelled form field: returns [wrapper, control]. `hint` is tied with aria-describedby. */
let fieldSeq = 0;
export function field(label, control, hint) {
  const id = control.id || `f${++fieldSeq}`;
  control.id = id;
  const parts = [h("label", { for: id }, label), control];
  if (hint) {
    const hid = `${id}-hint`;
    control.setAttribute("aria-describedby", hid);
    parts.push(h("small", { id: hid, class: "hint" }, hint));
  }
  return [h("div", { class: "field" }, ...parts), control];
}

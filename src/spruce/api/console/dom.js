// Small DOM helpers shared by the console's views: h() builds elements (never innerHTML with data),
// formatting, panels, timers that the router clears, and the API-key and confirmation dialogs.
"use strict";

const view = document.getElementById("view");
let timers = [];

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function fmtBytes(n) {
  if (n === undefined || n === null || n < 0) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function fmtDuration(s) {
  const d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${m}m`;
  if (m) return `${m}m ${Math.floor(s % 60)}s`;
  return `${s.toFixed(1)}s`;
}

function banner(message, kind) {
  const el = document.getElementById("banner");
  if (!message) { el.hidden = true; return; }
  el.textContent = message;
  el.className = `banner ${kind || "error"}`;
  el.hidden = false;
}

function errorBox(err) {
  return h("p", { class: "error" }, err.message || String(err));
}

function every(ms, fn) {
  fn();
  timers.push(setInterval(fn, ms));
}

function panel(title, ...body) {
  return h("section", { class: "panel" }, h("h2", {}, title), ...body);
}

// ------------------------------------------------------------------ API key and confirmation

// One prompt at a time: requests refused together (the page's first calls) all wait for it.
let keyPrompt = null;

function askKey() {
  if (keyPrompt) return keyPrompt;
  const dialog = document.getElementById("key-dialog");
  const input = document.getElementById("key-input");
  input.value = Api.key();
  keyPrompt = new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      keyPrompt = null;
      resolve();
    }, { once: true });
    dialog.showModal();
  });
  return keyPrompt;
}

document.getElementById("key-form").addEventListener("submit", () => {
  Api.setKey(document.getElementById("key-input").value.trim());
});
document.getElementById("key-cancel").addEventListener("click", () => {
  document.getElementById("key-dialog").close();
});
document.getElementById("key-button").addEventListener("click", async () => {
  await askKey();
  route();
});
Api.onUnauthorized = askKey;

function confirmDelete(title, text, word) {
  const dialog = document.getElementById("confirm-dialog");
  const input = document.getElementById("confirm-input");
  const ok = document.getElementById("confirm-ok");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-word").textContent = word;
  input.value = "";
  ok.disabled = true;
  input.oninput = () => { ok.disabled = input.value !== word; };
  document.getElementById("confirm-cancel").onclick = () => dialog.close("cancel");
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

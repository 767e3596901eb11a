// A small interactive reference built from /openapi.json: every operation with its parameters,
// request and response schemas, and a form that sends it.
"use strict";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  return node;
}

function resolve(spec, schema) {
  if (schema && schema.$ref) return spec.components.schemas[schema.$ref.split("/").pop()];
  return schema;
}

// A sample JSON body from a schema, to start the "try it" editor from.
function sample(schema, depth) {
  if (!schema || depth > 4) return null;
  if (schema.type === "object") {
    const out = {};
    for (const k of schema.required || Object.keys(schema.properties || {}).slice(0, 3)) {
      out[k] = sample((schema.properties || {})[k], depth + 1);
    }
    return out;
  }
  if (schema.type === "array") return [sample(schema.items, depth + 1)];
  if (schema.enum) return schema.enum[0];
  return { string: "", integer: 1, number: 0.1, boolean: false }[schema.type] ?? null;
}

function operation(spec, path, method, op) {
  const params = op.parameters || [];
  const inputs = {};
  const form = el("div", { class: "try" });
  for (const p of params) {
    inputs[p.name] = el("input", { placeholder: `${p.name} (${p.in}${p.required ? ", required" : ""})` });
    form.append(el("label", {}, `${p.name} `, inputs[p.name]));
  }
  const reqSchema = op.requestBody ? resolve(spec, op.requestBody.content["application/json"].schema) : null;
  const body = reqSchema ? el("textarea", { rows: 6 }) : null;
  if (body) { body.value = JSON.stringify(sample(reqSchema, 0), null, 2); form.append(body); }
  const out = el("pre", { class: "json" });
  const send = el("button", { class: "primary", type: "button" }, "Send");
  send.addEventListener("click", async () => {
    let url = path;
    const query = {};
    for (const p of params) {
      const v = inputs[p.name].value;
      if (p.in === "path") url = url.replace(`{${p.name}}`, encodeURIComponent(v));
      else if (v) query[p.name] = p.schema && p.schema.type === "array" ? v.split(",") : v;
    }
    try {
      const payload = body ? JSON.parse(body.value || "{}") : undefined;
      const res = await Api.request(method.toUpperCase(), url + qs(query), payload);
      out.textContent = typeof res === "string" ? res : JSON.stringify(res, null, 2);
    } catch (err) {
      out.textContent = `${err.status || ""} ${err.message}`;
    }
  });
  form.append(send, out);
  const responses = Object.entries(op.responses).map(([code, r]) => {
    const content = r.content && (r.content["application/json"] || Object.values(r.content)[0]);
    const schema = content && resolve(spec, content.schema);
    return el("details", {}, el("summary", {}, `${code} ${r.description}`),
      schema ? el("pre", { class: "json" }, JSON.stringify(schema, null, 2)) : "");
  });
  return el("details", { class: "op", "data-path": `${path} ${op.summary}`.toLowerCase() },
    el("summary", {}, el("span", { class: `method ${method.toUpperCase()}` }, method.toUpperCase()),
      el("code", {}, path), el("span", { class: "muted" }, op.summary)),
    el("div", { class: "body" },
      reqSchema ? el("details", {}, el("summary", {}, "Request body schema"), el("pre", { class: "json" }, JSON.stringify(reqSchema, null, 2))) : "",
      el("h3", {}, "Responses"), responses,
      el("h3", {}, "Try it"), form));
}

async function main() {
  const ops = document.getElementById("ops");
  let spec;
  try {
    spec = await Api.get("/openapi.json");
  } catch (err) {
    ops.textContent = err.message;
    return;
  }
  document.title = spec.info.title;
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) ops.append(operation(spec, path, method, op));
  }
  document.getElementById("filter").addEventListener("input", (ev) => {
    const q = ev.target.value.toLowerCase();
    for (const node of ops.children) node.hidden = q && !node.dataset.path.includes(q);
  });
}

Api.onUnauthorized = async () => {
  const key = window.prompt("API key for this server (kept in this tab only)");
  Api.setKey(key || "");
};
main();

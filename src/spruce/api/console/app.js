// The Spruce console: hash routes #/indexes, #/index/NAME, #/server. DOM built with h() (never
// innerHTML with data), panels whose endpoint answers 404 are hidden (imports, backups, text search
// arrive with other server versions).
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

function askKey() {
  const dialog = document.getElementById("key-dialog");
  const input = document.getElementById("key-input");
  input.value = Api.key();
  return new Promise((resolve) => {
    const done = () => {
      dialog.removeEventListener("close", done);
      resolve();
    };
    dialog.addEventListener("close", done);
    dialog.showModal();
  });
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

// ------------------------------------------------------------------ indexes

async function indexesView() {
  const list = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  view.append(h("div", { class: "columns" },
    panel("Indexes", list),
    panel("Create an index", createForm())));
  try {
    const [data, status] = await Promise.all([Api.get("/indexes"), Api.optional("/admin/status").catch(() => null)]);
    const records = {};
    for (const ix of (status && status.indexes) || []) records[ix.name] = ix.records;
    list.replaceChildren(indexTable(data.indexes || [], records));
  } catch (err) {
    list.replaceChildren(errorBox(err));
  }
}

function indexTable(indexes, records) {
  if (!indexes.length) return h("p", { class: "muted" }, "No indexes yet: create one on the right.");
  return h("table", { id: "index-table" },
    h("thead", {}, h("tr", {}, ["Name", "Type", "Dimension", "Metric", "Records", "Model", "Host", "Protection"]
      .map((t) => h("th", {}, t)))),
    h("tbody", {}, indexes.map((ix) => h("tr", {},
      h("td", {}, h("a", { href: `#/index/${encodeURIComponent(ix.name)}`, "data-index": ix.name }, ix.name)),
      h("td", {}, ix.vector_type || "dense"),
      h("td", {}, ix.dimension ?? "–"),
      h("td", {}, ix.metric),
      h("td", { class: "num" }, records[ix.name] ?? "–"),
      h("td", {}, ix.embed ? ix.embed.model : "–"),
      h("td", { class: "mono" }, ix.host),
      h("td", {}, ix.deletion_protection)))));
}

function createForm() {
  const status = h("p", { class: "muted", id: "create-status" });
  const kind = h("select", { id: "create-kind", name: "kind" },
    h("option", { value: "dense" }, "Dense vectors"),
    h("option", { value: "sparse" }, "Sparse vectors"),
    h("option", { value: "model" }, "For a model (integrated embedding)"));
  const dense = h("div", { class: "when-dense" },
    h("label", {}, "Dimension ", h("input", { id: "create-dimension", type: "number", min: 1, max: 20000, value: 1536 })));
  const metric = h("label", { class: "when-dense" }, "Metric ",
    h("select", { id: "create-metric" }, ["cosine", "dotproduct", "euclidean"].map((m) => h("option", {}, m))));
  const model = h("div", { class: "when-model", hidden: true },
    h("label", {}, "Model ", h("input", { id: "create-model", value: "multilingual-e5-large" })),
    h("label", {}, "Text field ", h("input", { id: "create-field", value: "text" })));
  kind.addEventListener("change", () => {
    for (const el of [dense, metric]) el.hidden = kind.value !== "dense";
    model.hidden = kind.value !== "model";
  });
  const form = h("form", { id: "create-form" },
    h("label", {}, "Name ", h("input", { id: "create-name", required: true, pattern: "[a-z0-9]([a-z0-9-]*[a-z0-9])?", maxlength: 45, placeholder: "movies" })),
    h("label", {}, "Kind ", kind),
    dense, metric, model,
    h("label", { class: "check" }, h("input", { id: "create-protect", type: "checkbox" }), " Deletion protection"),
    h("button", { id: "create-submit", class: "primary", type: "submit" }, "Create index"),
    status);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = form.querySelector("#create-name").value.trim();
    const protection = form.querySelector("#create-protect").checked ? "enabled" : "disabled";
    status.textContent = "Creating…";
    try {
      if (kind.value === "model") {
        await Api.post("/indexes/create-for-model", {
          name, cloud: "aws", region: "us-east-1", deletion_protection: protection,
          embed: { model: form.querySelector("#create-model").value.trim(), field_map: { text: form.querySelector("#create-field").value.trim() } },
        });
      } else {
        const body = { name, vector_type: kind.value, deletion_protection: protection, spec: { serverless: { cloud: "aws", region: "us-east-1" } } };
        if (kind.value === "dense") {
          body.dimension = Number(form.querySelector("#create-dimension").value);
          body.metric = form.querySelector("#create-metric").value;
        } else {
          body.metric = "dotproduct";
        }
        await Api.post("/indexes", body);
      }
      location.hash = `#/index/${encodeURIComponent(name)}`;
    } catch (err) {
      status.textContent = "";
      status.append(errorBox(err));
    }
  });
  return form;
}

// ------------------------------------------------------------------ one index

async function indexView(name) {
  let info;
  try {
    info = await Api.get(`/indexes/${encodeURIComponent(name)}`);
  } catch (err) {
    view.append(panel(`Index ${name}`, errorBox(err)));
    return;
  }
  const url = (path) => Api.dataUrl(info.host, path);
  const state = { namespace: "" };
  const nsSelects = [];

  const head = h("div", { class: "index-head" },
    h("h1", {}, info.name),
    h("span", { class: "tag" }, info.vector_type || "dense"),
    info.dimension ? h("span", { class: "tag" }, `${info.dimension}-d`) : null,
    h("span", { class: "tag" }, info.metric),
    info.embed ? h("span", { class: "tag" }, `model ${info.embed.model}`) : null,
    h("span", { class: "mono muted" }, info.host));

  // Stats and namespaces, refreshed every few seconds (the count follows SDK upserts).
  const total = h("strong", { id: "stat-total" }, "…");
  const nsTable = h("div", {});
  const statsPanel = panel("Statistics",
    h("p", {}, "Records: ", total),
    h("p", { class: "muted", id: "stat-detail" }),
    h("h3", {}, "Namespaces"), nsTable);
  async function refreshStats() {
    try {
      const [stats, nss] = await Promise.all([
        Api.get(url("/describe_index_stats")),
        Api.get(url("/namespaces?limit=100")),
      ]);
      total.textContent = String(stats.totalVectorCount);
      statsPanel.querySelector("#stat-detail").textContent =
        `dimension ${stats.dimension ?? "–"} · metric ${stats.metric} · ${Object.keys(stats.namespaces).length} namespaces`;
      const names = nss.namespaces.map((n) => n.name);
      nsTable.replaceChildren(nss.namespaces.length ? h("table", { id: "ns-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "Namespace"), h("th", {}, "Records"))),
        h("tbody", {}, nss.namespaces.map((n) => h("tr", {},
          h("td", {}, h("a", { href: "#", onclick: (e) => { e.preventDefault(); setNamespace(n.name === "__default__" ? "" : n.name); } }, n.name)),
          h("td", { class: "num" }, n.record_count))))) : h("p", { class: "muted" }, "No namespaces yet."));
      for (const sel of nsSelects) fillNamespaces(sel, names);
    } catch (err) {
      total.textContent = "?";
      nsTable.replaceChildren(errorBox(err));
    }
  }
  function fillNamespaces(sel, names) {
    const want = ["__default__", ...names.filter((n) => n !== "__default__")];
    const have = Array.from(sel.options).map((o) => o.value);
    if (want.join("\n") === have.join("\n")) return;
    const current = sel.value;
    sel.replaceChildren(...want.map((n) => h("option", { value: n }, n)));
    sel.value = want.includes(current) ? current : "__default__";
  }
  function nsSelect(id) {
    const sel = h("select", { id }, h("option", { value: "__default__" }, "__default__"));
    sel.addEventListener("change", () => setNamespace(sel.value === "__default__" ? "" : sel.value));
    nsSelects.push(sel);
    return sel;
  }
  function setNamespace(ns) {
    state.namespace = ns;
    for (const sel of nsSelects) sel.value = ns || "__default__";
    browse(null);
  }

  // Record browser: list ids by prefix, one page at a time; fetch shows metadata and first values.
  const prefix = h("input", { id: "browse-prefix", placeholder: "id prefix" });
  const rows = h("div", { id: "browse-rows" });
  const detail = h("pre", { id: "record-detail", class: "json", hidden: true });
  const tokens = [];
  let nextToken = null;
  const prevBtn = h("button", { type: "button", onclick: () => { tokens.pop(); browse(tokens.pop() || null); } }, "◀ Prev");
  const nextBtn = h("button", { type: "button", onclick: () => browse(nextToken) }, "Next ▶");
  async function browse(token) {
    if (token === null) tokens.length = 0;
    tokens.push(token);
    try {
      const page = await Api.get(url("/vectors/list" + qs({ namespace: state.namespace, prefix: prefix.value, limit: 20, paginationToken: token })));
      nextToken = page.pagination ? page.pagination.next : null;
      prevBtn.disabled = tokens.length <= 1;
      nextBtn.disabled = !nextToken;
      rows.replaceChildren(page.vectors.length ? h("ul", { class: "ids" }, page.vectors.map((v) =>
        h("li", {}, h("a", { href: "#", onclick: (e) => { e.preventDefault(); showRecord(v.id); } }, v.id))))
        : h("p", { class: "muted" }, "No records."));
    } catch (err) {
      rows.replaceChildren(errorBox(err));
    }
  }
  async function showRecord(id) {
    try {
      const res = await Api.get(url("/vectors/fetch" + qs({ ids: id, namespace: state.namespace })));
      const rec = res.vectors[id];
      if (!rec) { detail.textContent = `${id}: not found`; detail.hidden = false; return; }
      const values = rec.values || [];
      const shown = {
        id: rec.id,
        metadata: rec.metadata || {},
        values: values.length ? `[${values.slice(0, 8).map((x) => x.toFixed(4)).join(", ")}${values.length > 8 ? `, … ${values.length - 8} more` : ""}]` : "(none)",
      };
      if (rec.sparseValues) shown.sparseValues = `${rec.sparseValues.indices.length} non-zeros`;
      detail.textContent = JSON.stringify(shown, null, 2);
      detail.hidden = false;
    } catch (err) {
      detail.textContent = err.message;
      detail.hidden = false;
    }
  }
  prefix.addEventListener("input", () => browse(null));
  const browser = panel("Records",
    h("div", { class: "row" }, h("label", {}, "Namespace ", nsSelect("browse-ns")), prefix),
    rows, h("div", { class: "row" }, prevBtn, nextBtn), detail);

  const queryPanel = panel("Query", queryForm(info, url, () => state.namespace, nsSelect("q-ns")));
  const managePanel = panel("Configure", configureForm(info));

  const main = h("div", { class: "index-grid" }, statsPanel, queryPanel, browser, managePanel);
  view.append(head, main);
  every(3000, refreshStats);
  browse(null);

  // Panels for endpoints this server may not have: shown only when they answer.
  importsPanel(url).then((p) => { if (p) main.append(p); });
  backupsPanel(info).then((p) => { if (p) main.append(p); });
}

function queryForm(info, url, namespace, nsSel) {
  const modes = ["vector", "id"];
  if (info.embed) modes.push("text");
  const mode = h("select", { id: "q-mode" }, modes.map((m) => h("option", { value: m }, `by ${m}`)));
  const vector = h("textarea", { id: "q-vector", rows: 3, placeholder: info.dimension ? `[${info.dimension} numbers]` : "[numbers]" });
  const qid = h("input", { id: "q-id", placeholder: "record id", hidden: true });
  const text = h("input", { id: "q-text", placeholder: "search text", hidden: true });
  const topK = h("input", { id: "q-topk", type: "number", min: 1, max: 10000, value: 10 });
  const filter = h("textarea", { id: "q-filter", rows: 2, placeholder: '{"genre": {"$eq": "comedy"}}' });
  const filterNote = h("span", { class: "muted", id: "q-filter-note" });
  const results = h("div", { id: "results" });
  mode.addEventListener("change", () => {
    vector.hidden = mode.value !== "vector";
    qid.hidden = mode.value !== "id";
    text.hidden = mode.value !== "text";
  });
  function parsedFilter() {
    const raw = filter.value.trim();
    if (!raw) { filterNote.textContent = ""; return null; }
    const value = JSON.parse(raw);
    if (typeof value !== "object" || Array.isArray(value)) throw new Error("the filter must be a JSON object");
    filterNote.textContent = "✓ valid JSON";
    return value;
  }
  filter.addEventListener("input", () => {
    try { parsedFilter(); } catch (err) { filterNote.textContent = `✗ ${err.message}`; }
  });
  const form = h("form", { id: "query-form" },
    h("div", { class: "row" }, h("label", {}, "Namespace ", nsSel), mode, h("label", {}, "top_k ", topK)),
    vector, qid, text,
    h("label", {}, "Filter (JSON) ", filterNote), filter,
    h("button", { id: "q-run", class: "primary", type: "submit" }, "Run query"),
    results);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    results.replaceChildren(h("p", { class: "muted" }, "Searching…"));
    try {
      const flt = parsedFilter();
      const k = Number(topK.value);
      let matches;
      if (mode.value === "text") {
        const ns = namespace() || "__default__";
        const query = { inputs: { text: text.value }, top_k: k };
        if (flt) query.filter = flt;
        const res = await Api.post(url(`/records/namespaces/${encodeURIComponent(ns)}/search`), { query });
        matches = (res.result ? res.result.hits : []).map((hit) => ({ id: hit._id, score: hit._score, metadata: hit.fields }));
      } else {
        const body = { topK: k, namespace: namespace(), includeMetadata: true };
        if (flt) body.filter = flt;
        if (mode.value === "id") body.id = qid.value.trim();
        else {
          const values = JSON.parse(vector.value.trim().startsWith("[") ? vector.value : `[${vector.value}]`);
          if (!Array.isArray(values)) throw new Error("the vector must be a JSON array of numbers");
          body.vector = values;
        }
        matches = (await Api.post(url("/query"), body)).matches;
      }
      results.replaceChildren(resultsTable(matches));
    } catch (err) {
      results.replaceChildren(errorBox(err));
    }
  });
  return form;
}

function resultsTable(matches) {
  if (!matches.length) return h("p", { class: "muted" }, "No matches.");
  return h("table", { id: "results-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "Id"), h("th", {}, "Score"), h("th", {}, "Metadata"))),
    h("tbody", {}, matches.map((m, i) => h("tr", {},
      h("td", { class: "num" }, i + 1),
      h("td", { class: "mono" }, m.id),
      h("td", { class: "num" }, Number(m.score).toFixed(4)),
      h("td", { class: "mono small" }, m.metadata ? JSON.stringify(m.metadata) : "")))));
}

function configureForm(info) {
  const protect = h("input", { id: "cfg-protect", type: "checkbox", checked: info.deletion_protection === "enabled" });
  const tags = h("textarea", { id: "cfg-tags", rows: 2 }, JSON.stringify(info.tags || {}));
  const note = h("p", { class: "muted" });
  const save = h("button", { type: "button", class: "primary" }, "Save");
  save.addEventListener("click", async () => {
    try {
      const body = { deletion_protection: protect.checked ? "enabled" : "disabled" };
      const parsed = JSON.parse(tags.value || "{}");
      const old = info.tags || {};
      // Pinecone merges tags; an empty value removes one.
      for (const k of Object.keys(old)) if (!(k in parsed)) parsed[k] = "";
      body.tags = parsed;
      Object.assign(info, await Api.patch(`/indexes/${encodeURIComponent(info.name)}`, body));
      note.textContent = "Saved.";
    } catch (err) {
      note.replaceChildren(errorBox(err));
    }
  });
  const remove = h("button", { type: "button", class: "danger", id: "delete-index" }, "Delete index…");
  remove.addEventListener("click", async () => {
    if (!await confirmDelete(`Delete ${info.name}?`, "Every record in every namespace of this index is deleted. This cannot be undone.", info.name)) return;
    try {
      await Api.del(`/indexes/${encodeURIComponent(info.name)}`);
      location.hash = "#/indexes";
    } catch (err) {
      note.replaceChildren(errorBox(err));
    }
  });
  return h("div", {},
    h("label", { class: "check" }, protect, " Deletion protection"),
    h("label", {}, "Tags (JSON object)"), tags,
    h("div", { class: "row" }, save, remove), note,
    h("details", {}, h("summary", {}, "Description (JSON)"), h("pre", { class: "json" }, JSON.stringify(info, null, 2))));
}

async function importsPanel(url) {
  const first = await Api.optional(url("/bulk/imports")).catch(() => null);
  if (first === null) return null;
  const list = h("div", { id: "imports" });
  const uri = h("input", { id: "import-uri", placeholder: "s3://bucket/prefix/ or file:///path/" });
  const note = h("p", { class: "muted" });
  function render(data) {
    const items = (data && data.data) || [];
    list.replaceChildren(items.length ? h("table", {},
      h("thead", {}, h("tr", {}, ["Id", "URI", "Status", "Progress", "Records"].map((t) => h("th", {}, t)))),
      // ImportModel is camelCase on the wire (percentComplete, recordsImported).
      h("tbody", {}, items.map((op) => {
        const pct = op.percentComplete ?? op.percent_complete ?? 0;
        return h("tr", {},
          h("td", { class: "mono" }, op.id), h("td", { class: "mono small" }, op.uri),
          h("td", {}, op.status, op.error ? h("div", { class: "error small" }, op.error) : null),
          h("td", {}, h("progress", { max: 100, value: pct }), ` ${Math.round(pct)}%`),
          h("td", { class: "num" }, op.recordsImported ?? op.records_imported ?? "–"));
      })))
      : h("p", { class: "muted" }, "No imports."));
  }
  render(first);
  timers.push(setInterval(async () => { try { render(await Api.get(url("/bulk/imports"))); } catch (err) { /* next tick */ } }, 2000));
  const start = h("button", { type: "button" }, "Start import");
  start.addEventListener("click", async () => {
    try {
      await Api.post(url("/bulk/imports"), { uri: uri.value.trim(), errorMode: { onError: "abort" } });
      note.textContent = "Started.";
    } catch (err) { note.replaceChildren(errorBox(err)); }
  });
  return panel("Imports", list, h("div", { class: "row" }, uri, start), note);
}

async function backupsPanel(info) {
  const path = `/indexes/${encodeURIComponent(info.name)}/backups`;
  const first = await Api.optional(path).catch(() => null);
  if (first === null) return null;
  const list = h("div", { id: "backups" });
  const note = h("p", { class: "muted" });
  function render(data) {
    const items = (data && data.data) || [];
    list.replaceChildren(items.length ? h("table", {},
      h("thead", {}, h("tr", {}, ["Backup", "Name", "Status", "Records", "Created"].map((t) => h("th", {}, t)))),
      h("tbody", {}, items.map((b) => h("tr", {},
        h("td", { class: "mono small" }, b.backup_id), h("td", {}, b.name || ""), h("td", {}, b.status),
        h("td", { class: "num" }, b.record_count ?? "–"), h("td", { class: "small" }, b.created_at || "")))))
      : h("p", { class: "muted" }, "No backups."));
  }
  render(first);
  const create = h("button", { type: "button" }, "Back up now");
  create.addEventListener("click", async () => {
    try {
      await Api.post(path, { name: `${info.name}-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-")}` });
      render(await Api.get(path));
      note.textContent = "Backup created.";
    } catch (err) { note.replaceChildren(errorBox(err)); }
  });
  return panel("Backups", list, create, note);
}

// ------------------------------------------------------------------ server

async function serverView() {
  const body = h("div", { id: "server-status" }, h("p", { class: "muted" }, "Loading…"));
  view.append(panel("Server", body));
  every(3000, async () => {
    try {
      const s = await Api.get("/admin/status");
      const kv = (k, v, id) => h("tr", {}, h("th", {}, k), h("td", { id }, v));
      body.replaceChildren(
        h("table", { class: "kv" },
          kv("Version", s.version, "srv-version"),
          kv("Data directory", s.data_dir || "(in memory)", "srv-data"),
          kv("Uptime", fmtDuration(s.uptime_seconds), "srv-uptime"),
          kv("Resident memory", `${fmtBytes(s.process.rss_bytes)} (peak ${fmtBytes(s.process.peak_rss_bytes)})`, "srv-rss"),
          kv("Open files / threads", `${s.process.open_files} / ${s.process.threads}`),
          kv("Graph builds", `${s.graph_builds.running} running, ${s.graph_builds.queued} queued, ${s.graph_builds.finished} done (${s.graph_builds.seconds_total.toFixed(1)} s)`, "srv-builds"),
          kv("Rows searched", `${s.rows_searched.exact} exactly, ${s.rows_searched.graph} by graph`)),
        h("h3", {}, "Storage"),
        s.indexes.length ? h("table", { id: "storage-table" },
          h("thead", {}, h("tr", {}, ["Index", "Namespace", "Records", "Segments", "With graph", "Memtable rows", "WAL", "fsyncs"].map((t) => h("th", {}, t)))),
          h("tbody", {}, s.indexes.flatMap((ix) => (ix.namespaces.length ? ix.namespaces : [{ name: "–", records: 0, segments: 0, segments_with_graph: 0, memtable_rows: 0 }]).map((ns, i) => h("tr", {},
            h("td", {}, i === 0 ? ix.name : ""), h("td", {}, ns.name), h("td", { class: "num" }, ns.records),
            h("td", { class: "num" }, ns.segments), h("td", { class: "num" }, ns.segments_with_graph),
            h("td", { class: "num" }, ns.memtable_rows),
            h("td", { class: "num" }, i === 0 ? fmtBytes(ix.wal_bytes) : ""), h("td", { class: "num" }, i === 0 ? ix.wal_fsyncs : ""))))))
          : h("p", { class: "muted" }, "No indexes."));
    } catch (err) {
      body.replaceChildren(errorBox(err));
    }
  });
}

// ------------------------------------------------------------------ routing

async function route() {
  for (const t of timers) clearInterval(t);
  timers = [];
  banner(null);
  view.replaceChildren();
  const hash = location.hash || "#/indexes";
  const [, page, arg] = hash.split("/");
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === page);
  if (page === "index" && arg) await indexView(decodeURIComponent(arg));
  else if (page === "server") await serverView();
  else await indexesView();
  document.body.dataset.ready = hash;
}

window.addEventListener("hashchange", route);
route();
Api.get("/admin/status").then((s) => {
  document.getElementById("version").textContent = `v${s.version}`;
}).catch(() => {});

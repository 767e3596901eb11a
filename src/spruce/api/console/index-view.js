// One index (#/index/NAME): statistics and namespaces, record browser, query, configure, and the
// panels for endpoints this server may not have (imports, backups), shown only when they answer.
"use strict";

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
    h("span", { class: "mono muted" }, info.host),
    h("a", { href: url("/docs"), target: "_blank", rel: "noopener", class: "small" }, "data-plane API docs"));

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

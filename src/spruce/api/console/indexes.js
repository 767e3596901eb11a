// The index list and the create form (#/indexes).
"use strict";

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
    h("label", {}, "Name ", h("input", { id: "create-name", required: true, pattern: "[a-z0-9]([a-z0-9\\-]*[a-z0-9])?", maxlength: 45, placeholder: "movies" })),
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

// The server panel (#/server), from GET /admin/status.
"use strict";

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

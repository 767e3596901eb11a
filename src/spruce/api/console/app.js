// The Spruce console: hash routes #/indexes, #/index/NAME, #/server (views in the other files).
"use strict";

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

import { h } from "./dom.js";
import { connectLive, sinceText } from "./live.js";

const LIVE = new Set(["preparing", "ready", "started", "closing"]);
const liveBody = document.querySelector("#live-sessions tbody");
const recentBody = document.querySelector("#recent-sessions tbody");
const emptyNote = document.querySelector(".empty");
const orphanBody = document.querySelector("#orphan-sessions tbody");
const orphansReadonly = document.querySelector("#orphans")?.hasAttribute("data-readonly");
const csrfToken = document.querySelector("#orphans input[name=csrfmiddlewaretoken]")?.value ?? "";

const age = (iso) => h("time", { datetime: iso, "data-age": true }, sinceText(iso));
const sessionLink = (s) => h("a", { href: s.url }, s.session_id);

function rowCells(s) {
  return [
    h("td", {}, sessionLink(s)),
    h("td", {}, h("span", { class: `badge status-${s.status}`, "data-field": "status" }, s.status)),
    h("td", {}, age(s.created_at)),
    h("td", {}, s.creator || "—"), h("td", {}, s.source), h("td", {}, s.protocol), h("td", {}, s.account),
  ];
}

function orphanActions(s) {
  if (orphansReadonly) return null;
  const form = (action, label, cls) => h("form", { method: "post", action: `/audit/orphans/${s.id}/${action}/` },
    h("input", { type: "hidden", name: "csrfmiddlewaretoken", value: csrfToken }),
    h("button", { type: "submit", class: cls }, label));
  return h("div", { class: "actions" }, form("adopt", "Adopt", null), form("close", "Close", "danger"));
}

// Orphans keep their own table with Adopt/Close while they are live and unadopted.
function upsertOrphan(s) {
  let row = orphanBody.querySelector(`[data-orphan-row="${CSS.escape(String(s.id))}"]`);
  if (!s.is_orphan || !LIVE.has(s.status) || s.status === "closing") { row?.remove(); return; }
  if (!row) {
    row = document.createElement("tr");
    row.dataset.orphanRow = s.id;
    orphanBody.prepend(row);
  }
  row.replaceChildren(
    h("td", {}, sessionLink(s)),
    h("td", {}, h("span", { class: `badge status-${s.status}` }, s.status)),
    h("td", {}, age(s.created_at)),
    h("td", {}, s.source), h("td", {}, s.account),
    h("td", {}, orphanActions(s)),
  );
}

function upsert(s) {
  if (orphanBody) upsertOrphan(s);
  let row = document.querySelector(`[data-session-row="${CSS.escape(String(s.id))}"]`);
  if (!row) {
    row = document.createElement("tr");
    row.dataset.sessionRow = s.id;
  }
  row.replaceChildren(...rowCells(s));
  const body = LIVE.has(s.status) ? liveBody : recentBody;
  if (row.parentElement !== body) body.prepend(row);
  emptyNote.hidden = liveBody.children.length > 0;
}

function tickAges() {
  document.querySelectorAll("[data-age]").forEach((el) => { el.textContent = sinceText(el.getAttribute("datetime")); });
}

connectLive("/ws/dashboard/", { onMessage: (msg) => { if (msg.type === "session") upsert(msg.session); } });
tickAges();
setInterval(tickAges, 5000);

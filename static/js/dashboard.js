import { h } from "./dom.js";
import { connectLive, sinceText } from "./live.js";
import { sourceLabel, statusLabel } from "./labels.js";

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
    h("td", {}, h("span", { class: `badge status-${s.status}`, "data-field": "status" }, statusLabel(s.status))),
    h("td", {}, age(s.created_at)),
    h("td", {}, s.creator || "—"), h("td", {}, sourceLabel(s.source)), h("td", {}, s.protocol), h("td", {}, s.account),
  ];
}

function orphanActions(s) {
  if (orphansReadonly) return null;
  const form = (action, label, cls) => h("form", { method: "post", action: `/audit/orphans/${s.id}/${action}/` },
    h("input", { type: "hidden", name: "csrfmiddlewaretoken", value: csrfToken }),
    h("button", { type: "submit", class: cls }, label));
  return h("div", { class: "actions" }, form("adopt", gettext("Adopt"), null), form("close", gettext("Close"), "danger"));
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
    h("td", {}, h("span", { class: `badge status-${s.status}` }, statusLabel(s.status))),
    h("td", {}, age(s.created_at)),
    h("td", {}, sourceLabel(s.source)), h("td", {}, s.account),
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

// The concurrency card: redrawn from the console's figures whenever a session changed, at most
// once a second however many change at once.
const concurrency = document.getElementById("concurrency");
let concurrencyDue = null;

function concurrencyRow(held) {
  const inUse = h("td", {}, String(held.in_use));
  if (held.unconfirmed) {
    inUse.append(" ", h("span", { class: "muted" },
      interpolate(gettext("(%(n)s not yet confirmed closed)"), { n: held.unconfirmed }, true)));
  }
  return h("tr", held.free === 0 ? { class: "problem-warning" } : {},
    h("th", { scope: "row" }, held.account), inUse,
    h("td", {}, held.limit === null ? gettext("unknown") : String(held.limit)),
    h("td", {}, held.free === null ? "—" : String(held.free)));
}

async function redrawConcurrency() {
  concurrencyDue = null;
  try {
    const response = await fetch(concurrency.dataset.url, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const { accounts } = await response.json();
    concurrency.querySelector("tbody").replaceChildren(...accounts.map(concurrencyRow));
  } catch {
    // The next change tries again; the card keeps what it last showed.
  }
}

function concurrencyChanged() {
  if (concurrency && concurrencyDue === null) concurrencyDue = setTimeout(redrawConcurrency, 1000);
}

connectLive("/ws/dashboard/", {
  onMessage: (msg) => {
    if (msg.type !== "session") return;
    upsert(msg.session);
    concurrencyChanged();
  },
});
tickAges();
setInterval(tickAges, 5000);

// The script editor: add, remove and reorder cues, insert SSML tags, and warn as the text changes.
import { h } from "./dom.js";

const form = document.getElementById("script-editor");
const list = document.getElementById("cues");
const template = document.getElementById("cue-template");
const total = form.querySelector("[name=cues-TOTAL_FORMS]");
const csrfToken = form.querySelector("[name=csrfmiddlewaretoken]").value;
const assetSelect = form.querySelector("[name=asset]");
const assetCodes = JSON.parse(document.getElementById("asset-codes").textContent);
let actionCodes = JSON.parse(document.getElementById("action-codes").textContent);

function codesKnown() { return assetSelect.value ? assetCodes[assetSelect.value] ?? null : null; }

function cues() { return [...list.querySelectorAll("[data-cue]")]; }

function renumber() {
  let number = 0;
  for (const cue of cues()) {
    const deleted = cue.querySelector("[name$=-DELETE]").checked;
    cue.classList.toggle("deleted", deleted);
    if (!deleted) number += 1;
    cue.querySelector(".cue-number").textContent = deleted ? "–" : number;
    cue.querySelector("[name$=-ORDER]").value = deleted ? "" : number;
  }
}

function applyKind(cue) {
  cue.dataset.kind = cue.querySelector("[name$=-kind]").value;
}

function fillActions(cue) {
  const select = cue.querySelector("[data-action-select]");
  const codes = actionCodes.length ? actionCodes : [];
  select.replaceChildren(...(codes.length
    ? codes.map((code) => h("option", { value: code }, code))
    : [h("option", { value: "" }, "(type a code)")]));
}

function insertAtCursor(textarea, before, after = "") {
  const { selectionStart: start, selectionEnd: end, value } = textarea;
  const selected = value.slice(start, end);
  textarea.value = value.slice(0, start) + before + selected + after + value.slice(end);
  const caret = start + before.length + selected.length + after.length;
  textarea.focus();
  textarea.setSelectionRange(caret, caret);
  textarea.dispatchEvent(new Event("input", { bubbles: true }));
}

function ssmlTool(cue, tool) {
  const textarea = cue.querySelector("textarea[name$=-text]");
  if (tool === "break") {
    const ms = Math.max(50, Number(cue.querySelector("[data-break-ms]").value) || 500);
    insertAtCursor(textarea, `<break time="${Math.round(ms)}ms"/>`);
  } else if (tool === "action") {
    const code = cue.querySelector("[data-action-select]").value || window.prompt("Action code (e.g. waving_hand)")?.trim();
    if (code) insertAtCursor(textarea, `<insert-action type="${code.replace(/"/g, "")}"/>`);
  } else if (tool === "phoneme") {
    const selected = textarea.value.slice(textarea.selectionStart, textarea.selectionEnd).trim();
    if (!selected) { window.alert("Select the character(s) to give pinyin for first."); return; }
    const pinyin = window.prompt(`Pinyin for “${selected}”: one syllable per character with its tone 1-5, e.g. zhong4`);
    if (!pinyin?.trim()) return;
    const { selectionStart: start, selectionEnd: end, value } = textarea;
    textarea.value = `${value.slice(0, start)}<phoneme alphabet="py" ph="${pinyin.trim().replace(/"/g, "")}">${selected}</phoneme>${value.slice(end)}`;
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }
}

const checks = new WeakMap();

function scheduleCheck(cue) {
  clearTimeout(checks.get(cue));
  checks.set(cue, setTimeout(() => check(cue), 350));
}

async function check(cue) {
  const text = cue.querySelector("textarea[name$=-text]").value;
  const sizeEl = cue.querySelector("[data-size]");
  const problemsEl = cue.querySelector("[data-problems]");
  if (cue.dataset.kind !== "text") { problemsEl.replaceChildren(); sizeEl.textContent = ""; return; }
  try {
    const response = await fetch(form.dataset.checkUrl, {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
      body: JSON.stringify({ text, action_codes: codesKnown() }),
    });
    const result = await response.json();
    sizeEl.textContent = `${result.bytes} / ${result.limit} bytes`;
    sizeEl.classList.toggle("over", result.bytes > result.limit);
    problemsEl.replaceChildren(...result.problems.map((p) => h("li", { class: `problem-${p.severity}` }, p.message)));
  } catch {
    sizeEl.textContent = "";
  }
}

function wire(cue) {
  applyKind(cue);
  fillActions(cue);
  cue.querySelector("[name$=-kind]").addEventListener("change", () => { applyKind(cue); check(cue); });
  cue.querySelector("[name$=-DELETE]").addEventListener("change", renumber);
  cue.querySelector("textarea[name$=-text]").addEventListener("input", () => scheduleCheck(cue));
  cue.querySelectorAll("[data-ssml]").forEach((button) => button.addEventListener("click", () => ssmlTool(cue, button.dataset.ssml)));
  cue.querySelectorAll("[data-move]").forEach((button) => button.addEventListener("click", () => {
    const sibling = button.dataset.move === "-1" ? cue.previousElementSibling : cue.nextElementSibling;
    if (!sibling) return;
    if (button.dataset.move === "-1") sibling.before(cue); else sibling.after(cue);
    renumber();
    button.focus();
  }));
  check(cue);
}

function addCue(kind) {
  const index = Number(total.value);
  const cue = template.content.firstElementChild.cloneNode(true);
  // The empty form's names, ids and label targets carry "__prefix__" where the form's number goes.
  for (const node of [cue, ...cue.querySelectorAll("*")]) {
    for (const { name, value } of [...node.attributes]) {
      if (value.includes("__prefix__")) node.setAttribute(name, value.replaceAll("__prefix__", String(index)));
    }
  }
  list.append(cue);
  total.value = index + 1;
  cue.querySelector("[name$=-kind]").value = kind;
  wire(cue);
  renumber();
  cue.querySelector(kind === "pause" ? "[name$=-pause_seconds]" : "textarea[name$=-text]").focus();
}

assetSelect.addEventListener("change", () => {
  actionCodes = codesKnown() ?? [];
  cues().forEach((cue) => { fillActions(cue); check(cue); });
});
// Asked here rather than in an onsubmit attribute: the Content-Security-Policy runs no inline code.
document.querySelectorAll("form[data-confirm]").forEach((confirmed) => confirmed.addEventListener("submit", (event) => {
  if (!window.confirm(confirmed.dataset.confirm)) event.preventDefault();
}));
document.getElementById("add-cue").addEventListener("click", () => addCue("text"));
document.getElementById("add-pause").addEventListener("click", () => addCue("pause"));

cues().forEach(wire);
renumber();

// Draws the account's concurrency (sessions open per time slice) as plain SVG bars, with the
// purchased limit as a dashed line. Data comes from the page's json_script, no library involved.
import { hourMinute, monthDay } from "./when.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 800;
const HEIGHT = 220;
const PAD = { left: 36, right: 8, top: 10, bottom: 24 };

function el(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function timeLabel(date, spanMs) {
  return spanMs > 2 * 86400000 ? monthDay(date) : hourMinute(date);
}

function draw(container, data) {
  const values = data.values;
  const top = Math.max(data.peak, data.limit ?? 0, 1);
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const y = (v) => PAD.top + plotH - (v / top) * plotH;
  const barW = plotW / Math.max(values.length, 1);
  const svg = el("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: "none", "aria-hidden": "true" });

  svg.append(el("line", { class: "axis", x1: PAD.left, y1: PAD.top + plotH, x2: WIDTH - PAD.right, y2: PAD.top + plotH }));
  svg.append(el("line", { class: "axis", x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: PAD.top + plotH }));
  svg.append(el("text", { x: PAD.left - 6, y: y(top) + 4, "text-anchor": "end" }, String(top)));
  svg.append(el("text", { x: PAD.left - 6, y: y(0) + 4, "text-anchor": "end" }, "0"));

  values.forEach((v, i) => {
    if (v <= 0) return;
    const bar = el("rect", { class: "bar", x: PAD.left + i * barW, y: y(v), width: Math.max(barW - 0.5, 0.5), height: y(0) - y(v) });
    bar.append(el("title", {}, interpolate(gettext("%(count)s open"), { count: v }, true)));
    svg.append(bar);
  });

  if (data.limit) {
    svg.append(el("line", { class: "limit", x1: PAD.left, x2: WIDTH - PAD.right, y1: y(data.limit), y2: y(data.limit) }));
    svg.append(el("text", { x: WIDTH - PAD.right, y: y(data.limit) - 4, "text-anchor": "end" }, interpolate(gettext("limit %(limit)s"), { limit: data.limit }, true)));
  }

  const since = new Date(data.since);
  const until = new Date(data.until);
  const span = until - since;
  for (let k = 0; k <= 4; k += 1) {
    const x = PAD.left + (plotW * k) / 4;
    const anchor = k === 0 ? "start" : k === 4 ? "end" : "middle";
    svg.append(el("text", { x, y: HEIGHT - 6, "text-anchor": anchor }, timeLabel(new Date(since.getTime() + (span * k) / 4), span)));
  }
  container.replaceChildren(svg);
}

const container = document.getElementById("concurrency-chart");
const source = document.getElementById("concurrency-data");
if (container && source) draw(container, JSON.parse(source.textContent));

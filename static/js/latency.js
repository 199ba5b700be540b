// The session page's start latency: the median and 95th percentile of how long the avatar took to
// start speaking what was sent, kept up to date from the session socket. Nearest-rank
// percentiles, the rule the console's latency module uses, from the latest utterances the page
// was rendered with plus every one spoken since.
import { format } from "./labels.js";

const summary = document.getElementById("start-latency");

export function percentile(ordered, p) {
  if (!ordered.length) return null;
  return ordered[Math.max(0, Math.ceil((p / 100) * ordered.length) - 1)];
}

if (summary) {
  const starts = new Map(Object.entries(JSON.parse(document.getElementById("start-latencies").textContent)));

  const show = () => {
    const ordered = [...starts.values()].sort((a, b) => a - b);
    summary.textContent = ordered.length
      ? format(ngettext(
        "Started speaking after %(p50)s ms (median), %(p95)s ms (p95), of %(n)s utterance.",
        "Started speaking after %(p50)s ms (median), %(p95)s ms (p95), of %(n)s utterances.", ordered.length),
      { p50: percentile(ordered, 50), p95: percentile(ordered, 95), n: ordered.length })
      : gettext("No utterance spoken yet.");
  };

  document.addEventListener("session-message", (event) => {
    const msg = event.detail;
    if (msg.type !== "utterance" || msg.start_ms == null || starts.get(msg.req_id) === msg.start_ms) return;
    starts.set(msg.req_id, msg.start_ms);
    show();
  });
}

// Posts what the player measured about a session's video (time to first frame, stalls) to the
// console. keepalive lets a report sent while the page goes away still arrive.
export function playerReporter(url, csrfToken) {
  if (!url) return () => {};
  return (report, { keepalive = false } = {}) => {
    fetch(url, {
      method: "POST", keepalive, body: JSON.stringify(report),
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
    }).catch(() => {});
  };
}

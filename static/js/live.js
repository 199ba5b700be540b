// A WebSocket to the console that reconnects with backoff and reports its state.
export function connectLive(path, { onMessage, onState = () => {} }) {
  let socket = null;
  let delay = 500;
  let stopped = false;

  function open() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}${path}`);
    onState("connecting");
    socket.addEventListener("open", () => { delay = 500; onState("connected"); });
    socket.addEventListener("message", (event) => {
      let data;
      try { data = JSON.parse(event.data); } catch { return; }
      // Messages the console sends together (an event and the utterance state it caused) share a frame.
      if (data.type === "batch") data.messages.forEach(onMessage);
      else onMessage(data);
    });
    socket.addEventListener("close", (event) => {
      // 4403/4404: not allowed or gone; retrying would not help.
      if (stopped || event.code === 4403 || event.code === 4404) { onState("closed"); return; }
      onState("reconnecting");
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 10000);
    });
  }

  open();
  return {
    send(obj) {
      if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(obj)); return true; }
      return false;
    },
    close() { stopped = true; socket?.close(); },
  };
}

export function sinceText(iso) {
  const seconds = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

// A page on an origin of its own that talks to the gateway as Tencent's Web SDK does: JSON
// bodies, a Language header (so the browser preflights every call), the video played with hls.js.

window.callGateway = async (url, payload) => {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Language: "en-US" },
    body: JSON.stringify({ Header: {}, Payload: payload }),
  });
  return response.json();
};

window.playHls = (url) => {
  const video = document.getElementById("avatar");
  const hls = new Hls({ lowLatencyMode: true });
  window.hlsErrors = [];
  hls.on(Hls.Events.ERROR, (_event, data) => window.hlsErrors.push(`${data.type}: ${data.details}`));
  hls.loadSource(url);
  hls.attachMedia(video);
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
};

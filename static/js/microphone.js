// The microphone, for the chat box and the presenter view: getUserMedia → the pcm-capture
// AudioWorklet → 16 kHz 16-bit mono PCM in 160 ms (5120-byte) packets, each handed on as soon as it
// is captured, Base64-encoded for the session socket.

const INSECURE = "This page cannot use a microphone here (it needs HTTPS or localhost).";

function problem(err) {
  if (err?.name === "NotAllowedError" || err?.name === "SecurityError") {
    return "Microphone permission was denied. Allow the microphone for this site in the browser and try again.";
  }
  if (err?.name === "NotFoundError" || err?.name === "OverconstrainedError") {
    return "No microphone was found. Connect one and try again.";
  }
  if (err?.name === "NotReadableError") return "The microphone is in use by another program or could not be opened.";
  return `The microphone could not be opened: ${err?.message ?? err}`;
}

function toBase64(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x2000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x2000));
  return btoa(binary);
}

function release(capture) {
  capture.stream?.getTracks().forEach((track) => track.stop());
  capture.context?.close();
}

export class Microphone {
  // onPacket(pcm, final): each full packet; on stop, what is left with final true (only when
  // something was sent: a press too short to fill one packet has nothing to finish).
  // onLevel(level): the input level, 0..1, about every 50 ms; 0 once released.
  // sampleRate, packetBytes: what the console takes (the chat box passes the server's limits).
  constructor({ onPacket, onLevel = () => {}, sampleRate = 16000, packetBytes = 5120 }) {
    this.onPacket = onPacket;
    this.onLevel = onLevel;
    this.sampleRate = sampleRate;
    this.packetBytes = packetBytes;
    this.capture = null;
  }

  get active() {
    return this.capture !== null;
  }

  // Resolves once capturing; rejects with a message for the person (permission, no device, …).
  // A stop() while the browser still asks for permission is kept: the microphone is then let go.
  async start() {
    if (this.capture) return;
    if (!navigator.mediaDevices?.getUserMedia) throw new Error(INSECURE);
    const capture = (this.capture = { stream: null, context: null, node: null, sentAny: false });
    const wanted = () => this.capture === capture;
    try {
      capture.stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
      });
      if (!wanted()) return release(capture);
      capture.context = new AudioContext();
      await capture.context.audioWorklet.addModule(new URL("./pcm-worklet.js", import.meta.url));
      if (!wanted()) return release(capture);
    } catch (err) {
      if (wanted()) this.capture = null;
      release(capture);
      throw new Error(problem(err));
    }
    const source = capture.context.createMediaStreamSource(capture.stream);
    capture.node = new AudioWorkletNode(capture.context, "pcm-capture", {
      processorOptions: { targetRate: this.sampleRate, packetBytes: this.packetBytes },
    });
    capture.node.port.onmessage = ({ data }) => this.#receive(capture, data);
    // A silent route to the output keeps the worklet running without playing the voice back.
    const mute = capture.context.createGain();
    mute.gain.value = 0;
    source.connect(capture.node).connect(mute).connect(capture.context.destination);
  }

  stop() {
    const capture = this.capture;
    if (!capture) return;
    this.capture = null;
    // The worklet answers with the last packet, then the microphone is let go (see #receive);
    // still starting, start() lets it go when its wait is over.
    if (capture.node) capture.node.port.postMessage({ flush: true });
  }

  #receive(capture, data) {
    if (data.level !== undefined) this.onLevel(data.level);
    if (!data.pcm) return;
    const pcm = toBase64(data.pcm);
    if (!data.final) {
      capture.sentAny = true;
      this.onPacket(pcm, false);
      return;
    }
    if (pcm || capture.sentAny) this.onPacket(pcm, true);
    release(capture);
    this.onLevel(0);
  }
}

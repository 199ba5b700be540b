// Microphone capture (microphone.js): mono input at the context's rate → 16 kHz signed 16-bit
// little-endian PCM, posted in packets of `packetBytes` (160 ms = 5120 bytes) as soon as each is
// full, plus a level (RMS, 0..1) about every 50 ms for the meter. {flush: true} posts what is left.
class PcmCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { targetRate, packetBytes } = options.processorOptions;
    this.step = sampleRate / targetRate; // input samples per output sample
    this.packetSamples = packetBytes / 2;
    this.packet = new Int16Array(this.packetSamples);
    this.filled = 0;
    this.pos = 0; // read position, where index 0 is the last sample of the previous block
    this.last = 0;
    this.levelSum = 0;
    this.levelCount = 0;
    this.levelEvery = Math.round(sampleRate / 20);
    this.stopped = false;
    this.port.onmessage = ({ data }) => {
      if (data?.flush) {
        const rest = this.packet.slice(0, this.filled);
        this.port.postMessage({ pcm: rest.buffer, final: true }, [rest.buffer]);
        this.filled = 0;
        this.stopped = true;
      }
    };
  }

  push(value) {
    const clamped = Math.max(-1, Math.min(1, value));
    this.packet[this.filled++] = clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff;
    if (this.filled === this.packetSamples) {
      // The buffer is transferred, not copied: start a new one.
      const full = this.packet;
      this.packet = new Int16Array(this.packetSamples);
      this.filled = 0;
      this.port.postMessage({ pcm: full.buffer, final: false }, [full.buffer]);
    }
  }

  process(inputs) {
    if (this.stopped) return false;
    const block = inputs[0]?.[0];
    if (!block || block.length === 0) return true;
    const n = block.length;
    // Linear interpolation across [last, ...block]; the position carries over between blocks so
    // the output rate is exact over time.
    while (this.pos < n) {
      const i = Math.floor(this.pos);
      const frac = this.pos - i;
      const a = i === 0 ? this.last : block[i - 1];
      const b = block[i];
      this.push(a + (b - a) * frac);
      this.pos += this.step;
    }
    this.pos -= n;
    this.last = block[n - 1];
    for (let k = 0; k < n; k++) this.levelSum += block[k] * block[k];
    this.levelCount += n;
    if (this.levelCount >= this.levelEvery) {
      this.port.postMessage({ level: Math.min(1, Math.sqrt(this.levelSum / this.levelCount) * 3) });
      this.levelSum = 0;
      this.levelCount = 0;
    }
    return true;
  }
}

registerProcessor("pcm-capture", PcmCapture);

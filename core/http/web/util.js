'use strict';
// Helpers the page needs and browsers lack: an incremental MD5 (movies.check and movies.upload
// name content by it) and a 16-bit PCM WAV encoder (the melody plugin reads WAV).

const KinoUtil = (() => {
  const S = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
    5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
    4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
    6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21];
  const K = new Uint32Array(64);
  for (let i = 0; i < 64; i++) K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 4294967296) >>> 0;

  class Md5 {
    constructor() {
      this.h = new Uint32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]);
      this.buf = new Uint8Array(64);
      this.fill = 0;
      this.len = 0;
      this.w = new Uint32Array(16);
    }
    block(b, o) {
      const w = this.w;
      for (let i = 0; i < 16; i++) {
        const j = o + i * 4;
        w[i] = (b[j] | (b[j + 1] << 8) | (b[j + 2] << 16) | (b[j + 3] << 24)) >>> 0;
      }
      let [a, bb, c, d] = this.h;
      for (let i = 0; i < 64; i++) {
        let f, g;
        if (i < 16) { f = (bb & c) | (~bb & d); g = i; }
        else if (i < 32) { f = (d & bb) | (~d & c); g = (5 * i + 1) % 16; }
        else if (i < 48) { f = bb ^ c ^ d; g = (3 * i + 5) % 16; }
        else { f = c ^ (bb | ~d); g = (7 * i) % 16; }
        const t = d;
        d = c;
        c = bb;
        const x = (a + f + K[i] + w[g]) >>> 0;
        bb = (bb + ((x << S[i]) | (x >>> (32 - S[i])))) >>> 0;
        a = t;
      }
      this.h[0] += a; this.h[1] += bb; this.h[2] += c; this.h[3] += d;
    }
    update(bytes) {
      this.len += bytes.length;
      let i = 0;
      if (this.fill > 0) {
        const n = Math.min(64 - this.fill, bytes.length);
        this.buf.set(bytes.subarray(0, n), this.fill);
        this.fill += n;
        i = n;
        if (this.fill < 64) return;
        this.block(this.buf, 0);
        this.fill = 0;
      }
      for (; i + 64 <= bytes.length; i += 64) this.block(bytes, i);
      if (i < bytes.length) {
        this.buf.set(bytes.subarray(i), 0);
        this.fill = bytes.length - i;
      }
    }
    hex() {
      const bits = this.len * 8;
      const pad = new Uint8Array(((this.fill < 56) ? 56 : 120) - this.fill + 8);
      pad[0] = 0x80;
      const v = new DataView(pad.buffer);
      v.setUint32(pad.length - 8, bits >>> 0, true);
      v.setUint32(pad.length - 4, Math.floor(bits / 4294967296), true);
      const len = this.len;
      this.update(pad);
      this.len = len;
      let out = '';
      for (const word of this.h) {
        for (let k = 0; k < 4; k++) out += ((word >>> (8 * k)) & 0xff).toString(16).padStart(2, '0');
      }
      return out;
    }
  }

  // MD5 of a File, read in slices so a large movie never sits in memory whole.
  async function md5File(file, onProgress) {
    const m = new Md5();
    const step = 4 * 1024 * 1024;
    for (let at = 0; at < file.size; at += step) {
      m.update(new Uint8Array(await file.slice(at, at + step).arrayBuffer()));
      if (onProgress) onProgress(Math.min(at + step, file.size) / file.size);
    }
    return m.hex();
  }

  // Mono 16-bit PCM WAV of float samples in [-1, 1].
  function wav(samples, rate) {
    const out = new DataView(new ArrayBuffer(44 + samples.length * 2));
    const text = (at, s) => { for (let i = 0; i < s.length; i++) out.setUint8(at + i, s.charCodeAt(i)); };
    text(0, 'RIFF'); out.setUint32(4, 36 + samples.length * 2, true); text(8, 'WAVE');
    text(12, 'fmt '); out.setUint32(16, 16, true); out.setUint16(20, 1, true); out.setUint16(22, 1, true);
    out.setUint32(24, rate, true); out.setUint32(28, rate * 2, true); out.setUint16(32, 2, true);
    out.setUint16(34, 16, true); text(36, 'data'); out.setUint32(40, samples.length * 2, true);
    for (let i = 0; i < samples.length; i++) {
      const s = Math.max(-1, Math.min(1, samples[i]));
      out.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
    }
    return new Blob([out.buffer], { type: 'audio/wav' });
  }

  return { Md5, md5File, wav };
})();

// Reads a QR code from the camera, with the core's decoder (the browser's
// BarcodeDetector where it has one, else the bundled jsQR, loaded as a
// second script only when needed).

import { qrDecoder } from '../core/qr.js';

async function makeDetector() {
  const dec = await qrDecoder();
  if (!dec.wantsImageData) return (video) => dec.decode(video);
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  return async (video) => {
    const w = video.videoWidth;
    const h = video.videoHeight;
    if (!w || !h) return null;
    // A phone camera gives 1080p or more; 640 px wide is plenty for a QR
    // code that fills part of the frame and keeps a slow phone responsive.
    const scale = Math.min(1, 640 / w);
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    return dec.decode(ctx.getImageData(0, 0, canvas.width, canvas.height));
  };
}

// A human sentence for a getUserMedia failure.
export function cameraError(e) {
  const name = e && e.name;
  if (name === 'NotAllowedError' || name === 'SecurityError') {
    return 'The camera is not allowed for this page. Allow it in the browser\'s site settings, or type the key.';
  }
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'This device has no camera the page can use. Type the key instead.';
  if (name === 'NotReadableError') return 'The camera is busy in another app. Close it and try again, or type the key.';
  if (!globalThis.isSecureContext) return 'The camera needs a secure page (https). Type the key instead.';
  return `The camera could not start (${(e && e.message) || 'unknown reason'}). Type the key instead.`;
}

// Starts the camera into video and calls onText(text) for each QR code
// read until onText returns true (accepted). Returns a stop() function.
// Throws (rejects) when the camera cannot start.
export async function startScan(video, onText) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    const e = new Error('no camera access in this browser');
    e.name = globalThis.isSecureContext ? 'NotFoundError' : 'SecurityError';
    throw e;
  }
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: false,
    video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
  });
  let stopped = false;
  let timer = null;
  const stop = () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    for (const t of stream.getTracks()) t.stop();
    video.srcObject = null;
  };
  try {
    video.srcObject = stream;
    await video.play();
    const detect = await makeDetector();
    let last = '';
    const tick = async () => {
      if (stopped) return;
      try {
        const text = await detect(video);
        if (!stopped && text && text !== last) {
          last = text;
          if (onText(text)) { stop(); return; }
        }
      } catch { /* a frame that could not be read: try the next */ }
      if (!stopped) timer = setTimeout(tick, 120);
    };
    tick();
  } catch (e) {
    stop();
    throw e;
  }
  return stop;
}

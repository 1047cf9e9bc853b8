// QR codes of offers: encoding (qrcode-generator, bundled) and decoding
// (BarcodeDetector where the browser has it, else jsQR, loaded on demand
// as the second classic script jsqr.js; see build.mjs).

import qrcode from 'qrcode-generator';

/**
 * The modules of a QR code of text (byte mode, error correction M, the
 * smallest version that fits): { size, dark(row, col) }.
 */
export function qrMatrix(text) {
  const q = qrcode(0, 'M');
  q.addData(text, 'Byte');
  q.make();
  const size = q.getModuleCount();
  return { size, dark: (r, c) => q.isDark(r, c) };
}

/**
 * An inline SVG of the QR code of text, one path, quiet zone of margin
 * modules (4, as the standard asks), scaled by its container (inline SVG
 * needs no Content-Type, unlike an <img> of an .svg under Mosquitto's
 * http_dir). label is its accessible name.
 */
export function qrSvg(text, { margin = 4, label = 'QR code' } = {}) {
  const { size, dark } = qrMatrix(text);
  const n = size + 2 * margin;
  let d = '';
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      if (dark(r, c)) d += `M${c + margin} ${r + margin}h1v1h-1z`;
    }
  }
  const esc = String(label).replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${n} ${n}" role="img" aria-label="${esc}" ` +
    `shape-rendering="crispEdges"><rect width="${n}" height="${n}" fill="#fff"/><path d="${d}" fill="#000"/></svg>`;
}

let jsqrLoading = null;

/**
 * Loads the jsQR decoder (the classic script src, default "jsqr.js" beside
 * the page) once; resolves to the jsQR function.
 */
export function loadJsQR(src = 'jsqr.js') {
  if (globalThis.cardexJsQR) return Promise.resolve(globalThis.cardexJsQR);
  if (!jsqrLoading) {
    jsqrLoading = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = src;
      s.async = true;
      s.onload = () => (globalThis.cardexJsQR ? resolve(globalThis.cardexJsQR) : reject(new Error('the QR decoder did not load')));
      s.onerror = () => {
        jsqrLoading = null;
        reject(new Error('the QR decoder could not be loaded'));
      };
      document.head.appendChild(s);
    });
  }
  return jsqrLoading;
}

/**
 * A decoder of video frames: BarcodeDetector (QR only) when present, else
 * jsQR. Resolves to { kind, decode(source) }, where decode takes a
 * <video>/<canvas> (BarcodeDetector) or ImageData (jsQR: the caller draws
 * the frame into a canvas) and resolves to the text of a QR code or null.
 */
export async function qrDecoder({ src } = {}) {
  if (typeof globalThis.BarcodeDetector === 'function') {
    try {
      const formats = await globalThis.BarcodeDetector.getSupportedFormats();
      if (formats.includes('qr_code')) {
        const det = new globalThis.BarcodeDetector({ formats: ['qr_code'] });
        return {
          kind: 'barcode-detector',
          wantsImageData: false,
          decode: async (source) => {
            const found = await det.detect(source);
            return found.length ? found[0].rawValue : null;
          },
        };
      }
    } catch {
      // fall through to jsQR
    }
  }
  const jsQR = await loadJsQR(src);
  return {
    kind: 'jsqr',
    wantsImageData: true,
    decode: async (img) => {
      const r = jsQR(img.data, img.width, img.height, { inversionAttempts: 'attemptBoth' });
      return r ? r.data : null;
    },
  };
}

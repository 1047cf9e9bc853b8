// The QR decoder as a second classic script (see build.mjs): the page loads
// it only for camera scanning in a browser without BarcodeDetector, which
// keeps its 46 KiB out of what every phone downloads at start.
import jsQR from 'jsqr';

globalThis.cardexJsQR = jsQR;

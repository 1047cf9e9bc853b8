// The page's stand-in for the worker-timers package MQTT.js's keepalive can
// use: the window's own timers. worker-timers runs them in a Worker made
// from a blob: URL, which a Content-Security-Policy with worker-src 'self'
// (the nginx sample's) refuses, and a phone freezes a page in the
// background, workers and all. mqtt-web.js asks for the native timers; this
// keeps the worker variant pointing at the same ones.
module.exports = {
  setInterval: (fn, ms) => globalThis.setInterval(fn, ms),
  clearInterval: (id) => globalThis.clearInterval(id),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (id) => globalThis.clearTimeout(id),
};

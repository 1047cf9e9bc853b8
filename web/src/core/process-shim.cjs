// `process` for the page's copy of MQTT.js and readable-stream
// (build-options.mjs): what they use of it, nextTick above all. The npm
// process package defers nextTick with setTimeout, which a busy phone
// clamps and delays; the microtask queue runs the callbacks as soon as the
// current task ends, as Node does (in order, before any timer).
const process = {
  browser: true,
  env: {},
  argv: [],
  version: '',
  versions: {},
  platform: 'browser',
  title: 'browser',
  nextTick(fn, ...args) {
    queueMicrotask(() => fn(...args));
  },
  cwd: () => '/',
  emitWarning: () => {},
  on: () => process,
  once: () => process,
  off: () => process,
  removeListener: () => process,
  listeners: () => [],
};
module.exports = process;

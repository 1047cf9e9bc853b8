// MQTT.js's `debug` logging, compiled out of the page (build-options.mjs):
// it would print nothing unless turned on, and the page logs no traffic.
// CommonJS, as the modules that require('debug') call what they get.
function debug() {
  const log = () => {};
  log.enabled = false;
  log.extend = () => log;
  return log;
}
debug.enable = () => {};
debug.disable = () => '';
debug.enabled = () => false;
module.exports = debug;

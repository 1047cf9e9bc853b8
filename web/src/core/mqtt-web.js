// MQTT.js for the page, built from its own modules: the client and the
// browser WebSocket transport, without the TCP, TLS, SOCKS, WeChat and
// Alipay transports and the Node polyfills its prebuilt dist bundle
// carries (105 KiB gzipped against about 80). build.mjs sends every import
// of 'mqtt' here; Node (the tests) uses the package itself. connect()
// takes what mqtt.connect takes for a ws:// or wss:// URL.
import MqttClient from 'mqtt/lib/client';
import { browserStreamBuilder } from 'mqtt/lib/connect/ws';

export function connect(url, options = {}) {
  const u = new URL(url);
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new Error('the broker URL must start with ws:// or wss://');
  const opts = {
    // The window's timers (see native-timers.cjs), not a blob: worker.
    timerVariant: 'native',
    ...options,
    protocol: u.protocol.slice(0, -1),
    hostname: u.hostname,
    host: u.hostname,
    port: Number(u.port) || (u.protocol === 'wss:' ? 443 : 80),
    path: u.pathname + u.search,
  };
  if (opts.clean === false && !opts.clientId) throw new Error('Missing clientId for unclean clients');
  const client = new MqttClient((c) => browserStreamBuilder(c, opts), opts);
  client.on('error', () => {});
  return client;
}

export default { connect };

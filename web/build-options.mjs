// The esbuild options of the page, shared by build.mjs and the browser
// tests of the core (test/browser/), so that what is tested is what ships.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/* What the page may weigh, gzipped, at start (jsqr.js, loaded on demand, apart). */
export const BUDGET_GZ = 150 * 1024;

/*
 * Every import of 'mqtt' gets MQTT.js's client and browser transport alone
 * (src/core/mqtt-web.js), its `debug` logging is compiled out, its
 * keepalive runs on the window's timers (src/core/native-timers.cjs), and
 * process.nextTick on the microtask queue (src/core/process-shim.cjs).
 */
const mqttWeb = {
  name: 'mqtt-web',
  setup(build) {
    build.onResolve({ filter: /^mqtt$/ }, () => ({ path: join(here, 'src/core/mqtt-web.js') }));
    build.onResolve({ filter: /^debug$/ }, () => ({ path: join(here, 'src/core/no-debug.cjs') }));
    build.onResolve({ filter: /^worker-timers$/ }, () => ({ path: join(here, 'src/core/native-timers.cjs') }));
    build.onResolve({ filter: /^process\/?$/ }, () => ({ path: join(here, 'src/core/process-shim.cjs') }));
  },
};

/**
 * One classic script (IIFE): Mosquitto's http_dir sends no Content-Type,
 * which module scripts need. Safari 15 is the oldest phone browser with
 * everything else the page needs (WebCrypto X25519 aside, which the page
 * checks at run time).
 */
export function pageOptions({ dev = false } = {}) {
  return {
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['es2020', 'safari15', 'chrome96', 'firefox100'],
    minify: !dev,
    sourcemap: dev ? 'inline' : false,
    legalComments: 'none',
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': dev ? '"development"' : '"production"', global: 'globalThis' },
    inject: [join(here, 'src/core/node-shims.js')],
    plugins: [mqttWeb],
  };
}

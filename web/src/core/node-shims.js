// The two Node globals MQTT.js's modules use (Buffer, process.nextTick),
// injected by build.mjs into the page's bundle.
import { Buffer } from 'buffer';
import process from './process-shim.cjs';

export { Buffer, process };

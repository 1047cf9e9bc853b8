// The core as the page bundles it, exposed to the browser tests of the
// core (core.test.js); the page's own screens are tested apart.
import * as core from '../../src/core/index.js';

globalThis.cardexCore = core;

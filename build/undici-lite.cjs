'use strict';
// What the ocikit CLI carries of undici (lib/lazy.ts: Agent, EnvHttpProxyAgent, and the Dispatcher
// API), taken from undici's own modules instead of its index, which loads every feature
// (fetch, WebSocket, caches, mocks) and takes several times as long to load. build/bundle.ts bundles
// this file into the CLI in place of the `undici` package, and gives these modules stand-ins for
// node:http and node:http2 (see STUBS there). undici's version is pinned by package-lock.json; a
// change in its layout fails the build, not a user's command.
const Dispatcher = require('undici/lib/dispatcher/dispatcher.js');
const Agent = require('undici/lib/dispatcher/agent.js');
const EnvHttpProxyAgent = require('undici/lib/dispatcher/env-http-proxy-agent.js');
const api = require('undici/lib/api/index.js');

// As undici's index does: every dispatcher gets request(), stream(), pipeline(), connect() and
// upgrade() (ocikit calls request(); the proxy agent's CONNECT tunnels call connect()).
Object.assign(Dispatcher.prototype, api);

module.exports = { Agent, EnvHttpProxyAgent };

// The hub's entry module. The Rust build (build/index.js) provides fetch, scheduled and the
// aggregator Durable Object; the `worker` crate has no tail handler, so this module adds
// `tail()`, forwarding the runtime's trace events with env and ctx to Rust. The forwarder is
// taken off the entrypoint's prototype so it cannot be called over RPC.
//
// `vigil-config` is `vigil.config.json` (an alias in wrangler.toml): wrangler bundles it, so
// editing it needs no Rust rebuild. Its text is left where the Rust settings read it once per
// isolate; variables that are set win over its sections.
import Hub from "../build/index.js";
import configFile from "vigil-config";

globalThis.VIGIL_CONFIG_FILE = JSON.stringify(configFile);

export * from "../build/index.js";

const tailIntoHub = Hub.prototype.tail_into_hub;
delete Hub.prototype.tail_into_hub;

export default class extends Hub {
  tail(events) {
    return tailIntoHub.call(this, events, this.env, this.ctx);
  }
}

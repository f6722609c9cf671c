// The hub's entry module. The Rust build (build/index.js) provides fetch, scheduled and the
// aggregator Durable Object; the `worker` crate has no tail handler and no named entrypoints,
// so this module adds them:
// - `tail()` forwards the runtime's trace events with env and ctx to Rust;
// - `HubJobs` runs work the cron hands off (a batch of probe checks, the hourly housekeeping) in
//   an invocation of its own, reached only through the `HUB_JOBS` service binding, never from
//   the Internet.
// The Rust functions behind them are taken off the entrypoint's prototype so they cannot be
// called over RPC.
//
// `vigil-config` is `vigil.config.json` (an alias in wrangler.toml): wrangler bundles it, so
// editing it needs no Rust rebuild. Its text is left where the Rust settings read it once per
// isolate; variables that are set win over its sections.
import { WorkerEntrypoint } from "cloudflare:workers";
import Hub from "../build/index.js";
import configFile from "vigil-config";

export * from "../build/index.js";

globalThis.VIGIL_CONFIG_FILE = JSON.stringify(configFile);

const tailIntoHub = Hub.prototype.tail_into_hub;
delete Hub.prototype.tail_into_hub;
const hubJob = Hub.prototype.hub_job;
delete Hub.prototype.hub_job;

export default class extends Hub {
  tail(events) {
    return tailIntoHub.call(this, events, this.env, this.ctx);
  }
}

export class HubJobs extends WorkerEntrypoint {
  async fetch(request) {
    try {
      const path = new URL(request.url).pathname;
      return new Response(await hubJob(path, await request.text(), this.env));
    } catch (error) {
      return new Response(String(error), { status: 500 });
    }
  }
}

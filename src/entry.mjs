// The hub's entry module. The Rust build (build/index.js) provides fetch, scheduled and the
// aggregator Durable Object; the `worker` crate has no tail handler, so this module adds
// `tail()`, forwarding the runtime's trace events with env and ctx to Rust. The forwarder is
// taken off the entrypoint's prototype so it cannot be called over RPC.
import Hub from "../build/index.js";

export * from "../build/index.js";

const tailIntoHub = Hub.prototype.tail_into_hub;
delete Hub.prototype.tail_into_hub;

export default class extends Hub {
  tail(events) {
    return tailIntoHub.call(this, events, this.env, this.ctx);
  }
}

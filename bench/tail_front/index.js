// The tail benchmark's front worker (not tailed itself): spreads requests over the shop copies
// bound as P0..P{N-1}, round robin, so 1 and 10 producers serve the same traffic.
let next = 0;

export default {
  async fetch(request, env) {
    const producers = Number(env.PRODUCERS);
    const target = env[`P${next++ % producers}`];
    return target.fetch(request);
  },
};

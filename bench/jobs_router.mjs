// The Free scenario's HUB_JOBS service in bench/cpu.py: sends each job to the copy of the hub
// that runs only that kind (`/evaluate` to `vigil-evaluate`, ...), so that each kind's CPU is
// profiled in an isolate of its own. In production all of them are the hub itself.
export default {
  fetch(request, env) {
    const kind = new URL(request.url).pathname.slice(1);
    const copy = env[kind.replaceAll("-", "_").toUpperCase()];
    return copy ? copy.fetch(request) : new Response(`no copy runs ${kind}`, { status: 500 });
  },
};

// V8's sampling profiler of one worker's isolate, over wrangler's inspector (bench/cpu.py).
// Usage: node cpu_profiler.mjs WS_URL INTERVAL_US. Reads `start` / `stop` lines on stdin and
// answers each with one JSON line: `{"started": true}`, or the profile `Profiler.stop` returns.
import readline from "node:readline";
import WebSocket from "../node_modules/ws/index.js";

const [url, interval] = process.argv.slice(2);
const socket = new WebSocket(url);
const pending = new Map();
let nextId = 0;

function call(method, params = {}) {
  return new Promise((resolve) => {
    nextId += 1;
    pending.set(nextId, resolve);
    socket.send(JSON.stringify({ id: nextId, method, params }));
  });
}

socket.on("message", (data) => {
  const message = JSON.parse(data);
  const resolve = pending.get(message.id);
  if (resolve) {
    pending.delete(message.id);
    resolve(message);
  }
});

socket.on("open", async () => {
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: Number(interval) });
  console.log(JSON.stringify({ ready: true }));
  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (line === "start") {
      await call("Profiler.start");
      console.log(JSON.stringify({ started: true }));
    } else if (line === "stop") {
      const answer = await call("Profiler.stop");
      console.log(JSON.stringify(answer.result.profile));
    }
  }
  process.exit(0);
});

// A small shop API that knows nothing about Vigil. The hub sees its requests per route
// template, its 5xx, its uncaught exceptions, its cron runs and its log lines through
// `tail_consumers` alone.

const PRODUCTS = new Map([
  ["1", { id: "1", name: "Lantern", price: 24 }],
  ["2", { id: "2", name: "Thermos", price: 31 }],
]);

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") {
      return new Response("ok\n");
    }
    const parts = url.pathname.split("/").filter(Boolean);
    if (parts[0] === "products" && parts.length === 2) {
      const product = PRODUCTS.get(parts[1]);
      if (!product) {
        return Response.json({ error: "no such product" }, { status: 404 });
      }
      console.log("product viewed", product.id);
      return Response.json(product);
    }
    if (url.pathname === "/checkout") {
      if (url.searchParams.get("unavailable") === "1") {
        console.warn("payment provider unavailable");
        return Response.json({ error: "try again later" }, { status: 503 });
      }
      return Response.json({ ok: true });
    }
    if (url.pathname === "/crash") {
      // An uncaught exception: outcome "exception" in production.
      throw new TypeError("cart is undefined");
    }
    if (url.pathname === "/chatty") {
      // Many large log lines in one invocation (the runtime truncates what it forwards).
      const lines = Math.min(Number(url.searchParams.get("lines") ?? "10"), 5000);
      const line = "x".repeat(Math.min(Number(url.searchParams.get("size") ?? "100"), 100000));
      for (let i = 0; i < lines; i++) console.log(i, line);
      return new Response("said a lot\n");
    }
    return Response.json({ error: "not found" }, { status: 404 });
  },

  async scheduled(controller) {
    console.log("restocking", controller.cron);
  },
};

// The demo order API that `npm start` serves, so the demo knowledge base's order lookup
// (config/knowledge/orders.yaml, `order_status`) answers out of the box:
//   GET http://127.0.0.1:8088/orders/<number>  (Authorization: Bearer $SHOP_API_TOKEN)
// Known numbers answer 200 with { order_no, status: { zh, en }, eta }; any other number is 404, so
// the bot hands the customer over to a person (the console, or Slack when configured).
// Run alone: node scripts/demo-orders.mjs  (DEMO_ORDERS_PORT, SHOP_API_TOKEN to change).
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';

/** The demo's orders (documented in docs/console.md, "The demo"). */
export const DEMO_ORDERS = {
  '10001001': { status: { zh: '已发货，运输中', en: 'shipped, in transit' }, eta: '2026-12-09' },
  '10001002': { status: { zh: '仓库备货中', en: 'being packed' }, eta: '2026-12-11' },
  '10001003': { status: { zh: '已签收', en: 'delivered' }, eta: '2026-12-05' },
};

export const DEMO_ORDERS_PORT = 8088;

/** Starts the demo order API on 127.0.0.1:`port`; resolves to the server, or undefined when the port is taken. */
export function startDemoOrders({ port = DEMO_ORDERS_PORT, token } = {}) {
  const server = createServer((req, res) => {
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    if (token && req.headers.authorization !== `Bearer ${token}`) return send(401, { error: 'missing or wrong Bearer token' });
    const m = /^\/orders\/(\d{6,20})$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
    if (req.method !== 'GET' || !m) return send(404, { error: 'not found' });
    const order = DEMO_ORDERS[m[1]];
    if (!order) return send(404, { error: `no order ${m[1]}` });
    return send(200, { order_no: m[1], ...order });
  });
  return new Promise((resolve) => {
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.env.DEMO_ORDERS_PORT ?? DEMO_ORDERS_PORT);
  const server = await startDemoOrders({ port, token: process.env.SHOP_API_TOKEN });
  if (!server) {
    console.error(`demo order API: port ${port} is taken`);
    process.exit(1);
  }
  console.log(`demo order API on http://127.0.0.1:${port}/orders/<number> (orders ${Object.keys(DEMO_ORDERS).join(', ')})`);
}

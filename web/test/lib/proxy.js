// A TCP relay between a terminal and the broker whose network can be cut
// and restored, as a phone loses and finds its network: down() drops every
// connection and refuses new ones, up() lets them through again.
import net from 'node:net';

export async function relay(targetUrl) {
  const target = new URL(targetUrl);
  const sockets = new Set();
  let open = true;
  const server = net.createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `ws://127.0.0.1:${port}${target.pathname}`,
    down() {
      open = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    up() {
      open = true;
    },
    close() {
      this.down();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

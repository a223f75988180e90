/*
 * Loopback TCP helpers shared by the handler's and the PHP connector's tests:
 * a listening server, its port, and a relay that records what a client sends
 * (to prove a token never crosses the wire in clear text).
 */
import { createServer, Server, Socket } from 'node:net';

/** Listens on a free loopback port. */
export function listen(server: Server): Promise<Server> {
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolvePromise(server));
  });
}

/** The port `server` listens on. */
export function portOf(server: Server): number {
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('not listening');
  return addr.port;
}

/** Closes `server`. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolvePromise) => server.close(() => resolvePromise()));
}

/** A TCP relay to 127.0.0.1:port that records what the client sends. */
export async function recordingRelay(port: number) {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = await listen(
    createServer((client) => {
      const upstream = new Socket();
      sockets.add(client);
      sockets.add(upstream);
      upstream.connect(port, '127.0.0.1');
      client.on('data', (d) => chunks.push(Buffer.from(d)));
      client.pipe(upstream);
      upstream.pipe(client);
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    }),
  );
  return {
    server,
    clientBytes: () => Buffer.concat(chunks),
    close: async () => {
      for (const s of sockets) s.destroy();
      await closeServer(server);
    },
  };
}

import { createServer } from 'node:net';

/**
 * A loopback port nothing listens on, for "connection refused": binds a
 * free port and releases it. Another process could take the port in
 * between, which on a test machine is unlikely enough; callers that must be
 * sure can check that a connect is refused before relying on it.
 */
export async function refusedPort(host = '127.0.0.1'): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, host, () => resolve());
  });
  const addr = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (!addr || typeof addr === 'string') throw new Error('refusedPort: no TCP address');
  return addr.port;
}

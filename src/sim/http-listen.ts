import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { simCertificate } from './tls.js';

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>;

export interface Listening {
  /** `http://127.0.0.1:<port>` or `https://...`, without a trailing slash. */
  origin: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Starts an HTTP(S) server on 127.0.0.1 (port 0 = a free one) that hands
 * each request with its whole body to `handler`. close() also destroys
 * open sockets, so a test whose client hangs on a slow answer still ends.
 */
export async function listen(handler: Handler, opts: { https?: boolean; port?: number } = {}): Promise<Listening> {
  const sockets = new Set<Socket>();
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      Promise.resolve(handler(req, res, Buffer.concat(chunks).toString('utf8'))).catch((err: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end(`simulator bug: ${(err as Error).message}`);
        } else res.destroy();
      });
    });
  };
  let server: Server;
  if (opts.https) {
    const { cert, key } = simCertificate();
    server = createHttpsServer({ cert, key }, onRequest);
  } else server = createHttpServer(onRequest);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `${opts.https ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A simulated delay; the server keeps working when the client gives up, as real servers do. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

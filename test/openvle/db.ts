import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import type { MariaDbConfig } from '../../src/openvle/config/mariadb.js';

/** The machine's MariaDB (root, empty password) unless MARIADB_TEST_URL says otherwise. */
export function serverConfig(database = ''): MariaDbConfig {
  const url = process.env.MARIADB_TEST_URL;
  if (url) {
    const u = new URL(url);
    return { host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username || 'root'), password: decodeURIComponent(u.password), database, source: 'DATABASE_URL' };
  }
  return { host: '127.0.0.1', port: 3306, user: 'root', password: '', database, source: 'MARIADB_*' };
}

/** A uniquely named database of the test's own; `drop()` removes it. */
export async function testDatabase(prefix = 'ovt'): Promise<{ config: MariaDbConfig; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const root = serverConfig();
  const conn = await mysql.createConnection({ host: root.host, port: root.port, user: root.user, password: root.password });
  await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await conn.end();
  return {
    config: { ...root, database: name },
    drop: async () => {
      const c = await mysql.createConnection({ host: root.host, port: root.port, user: root.user, password: root.password });
      await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await c.end();
    },
  };
}

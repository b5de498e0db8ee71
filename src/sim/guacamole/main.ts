// Starts the simulated Guacamole by hand:
//   npx tsx src/sim/guacamole/main.ts [--port 8080] [--https] [--context-path /guacamole] [--data-source mysql]
// and prints the variables a client needs. Ctrl-C stops it.
import { parseArgs } from 'node:util';
import { startGuacamoleSim } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    https: { type: 'boolean', default: false },
    'context-path': { type: 'string', default: '/guacamole' },
    'data-source': { type: 'string', default: 'mysql' },
    username: { type: 'string', default: 'guacadmin' },
    password: { type: 'string', default: 'guacadmin' },
  },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be a port number (got '${values.port}')`);
  process.exit(2);
}
const sim = await startGuacamoleSim({
  port,
  https: values.https,
  contextPath: values['context-path'],
  dataSources: [values['data-source']!, `${values['data-source']}-shared`],
  admins: { [values.username!]: values.password! },
});
console.log(`Guacamole simulator listening at ${sim.url}`);
console.log(`GUACAMOLE_URL="${sim.url}"`);
console.log(`GUACAMOLE_DB_TYPE="${sim.dataSource}"`);
console.log(`GUACAMOLE_USERNAME="${sim.admin.username}"`);
console.log(`GUACAMOLE_PASSWORD="${sim.admin.password}"`);
if (values.https) console.log('GUACAMOLE_VERIFY_SSL="False"   # self-signed certificate');
const stop = (): void => {
  void sim.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

/**
 * Starts the Proxmox VE simulator by hand:
 *   npx tsx src/sim/proxmox/main.ts --port 8006 [--https] [--task-ms 2000]
 * It creates nodes pve-a and pve-b, pool OpenVLE-VMs and a template 9000
 * on pve-a, prints the URL and the API token, and runs until interrupted.
 */
import { parseArgs } from 'node:util';
import { startProxmoxSim } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8006' },
    https: { type: 'boolean', default: false },
    'task-ms': { type: 'string', default: '2000' },
  },
});
const port = Number(values.port);
const taskMs = Number(values['task-ms']);
if (!Number.isInteger(port) || port < 0 || port > 65535 || !Number.isFinite(taskMs) || taskMs < 0) {
  process.stderr.write('usage: main.ts --port <0-65535> [--https] [--task-ms <ms>]\n');
  process.exit(2);
}
const sim = await startProxmoxSim({ port, https: values.https });
sim.state.addTemplate(9000, 'pve-a', 'tpl-ubuntu-2404');
sim.state.setTaskDuration('default', taskMs);
process.stdout.write(
  [
    `PVE_URL=${sim.url}`,
    `PVE_USER=${sim.token.user}`,
    `PVE_TOKEN_NAME=${sim.token.tokenId}`,
    `PVE_TOKEN_VALUE=${sim.token.secret}`,
    ...(sim.tls ? [`PVE_FINGERPRINT=${sim.tls.fingerprint256}`] : []),
    '',
  ].join('\n'),
);
const stop = () => void sim.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

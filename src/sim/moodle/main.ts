// Starts the simulated Moodle by hand:
//   npx tsx src/sim/moodle/main.ts [--port 8081] [--https] [--token T] [--duplicate-delay-ms 0] [--debug]
// with one category and one template course, and prints the variables a
// client needs. Ctrl-C stops it.
import { parseArgs } from 'node:util';
import { startMoodleSim } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    https: { type: 'boolean', default: false },
    token: { type: 'string', default: 'sim-moodle-token' },
    'duplicate-delay-ms': { type: 'string', default: '0' },
    debug: { type: 'boolean', default: false },
  },
});
const port = Number(values.port);
const delay = Number(values['duplicate-delay-ms']);
if (!Number.isInteger(port) || port < 0 || port > 65535 || !Number.isInteger(delay) || delay < 0) {
  console.error('--port must be a port number and --duplicate-delay-ms a whole number of milliseconds');
  process.exit(2);
}
const sim = await startMoodleSim({ port, https: values.https, tokens: { [values.token!]: {} }, duplicateDelayMs: delay, debug: values.debug });
const category = sim.addCategory('OpenVLE');
const template = sim.addCourse({ fullname: 'Linux Lab – Template', shortname: 'LINUX-TPL', categoryid: category });
console.log(`Moodle simulator listening at ${sim.endpoint}`);
console.log(`MOODLE_ENABLED="True"`);
console.log(`MOODLE_URL="${sim.url}"`);
console.log(`MOODLE_TOKEN="${sim.token}"`);
if (values.https) console.log('MOODLE_VERIFY_SSL="False"   # self-signed certificate');
console.log(`# template course id ${template} (LINUX-TPL) in category ${category}`);
const stop = (): void => {
  void sim.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

/**
 * Starts the SMTP simulator by hand, for the demo or for poking at it with
 * a real client:
 *
 *   node --import tsx src/sim/smtp/main.ts --port 2525 [--tls none|starttls|implicit]
 *     [--user U --password P] [--scenario '{"kind":"greylist"}']
 *
 * It prints one line per accepted message and per refusal, and stops on
 * SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { checkScenario, startSmtpSim, type SmtpScenario, type SmtpSimTls } from './index.js';

function fail(message: string): never {
  process.stderr.write(`smtp-sim: ${message}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string', default: '2525' },
        host: { type: 'string', default: '127.0.0.1' },
        tls: { type: 'string', default: 'starttls' },
        user: { type: 'string' },
        password: { type: 'string' },
        scenario: { type: 'string', default: '{"kind":"accept"}' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(
      'usage: smtp-sim --port N [--host 127.0.0.1] [--tls none|starttls|implicit] [--user U --password P] [--scenario JSON]\n' +
        'scenarios: accept, refuse-greeting, auth-unavailable, greylist, reject-recipients, reject-data, silent, drop\n',
    );
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be a port number (got '${values.port}')`);
  if (!['none', 'starttls', 'implicit'].includes(values.tls!)) fail(`--tls must be none, starttls or implicit (got '${values.tls}')`);
  if ((values.user === undefined) !== (values.password === undefined)) fail('--user and --password go together');
  let scenario: SmtpScenario;
  try {
    const parsed: unknown = values.scenario!.trim().startsWith('{') ? JSON.parse(values.scenario!) : { kind: values.scenario };
    scenario = parsed as SmtpScenario;
    checkScenario(scenario);
  } catch (err) {
    fail(`--scenario: ${(err as Error).message}`);
  }

  const sim = await startSmtpSim({
    host: values.host,
    port,
    tls: values.tls as SmtpSimTls,
    auth: values.user !== undefined ? { username: values.user, password: values.password! } : undefined,
    scenario,
  });
  process.stdout.write(`SMTP simulator listening on ${sim.host}:${sim.port} (tls ${sim.tls}, scenario ${JSON.stringify(sim.scenario)})\n`);

  // Reports what arrived since the last look; the simulator keeps plain arrays, no events.
  let seenMessages = 0;
  let seenRejections = 0;
  const report = setInterval(() => {
    for (; seenMessages < sim.messages.length; seenMessages++) {
      const m = sim.messages[seenMessages]!;
      process.stdout.write(`accepted ${m.queueId} ${m.messageId ?? '(no Message-ID)'} from <${m.envelope.from}> to ${m.envelope.to.map((t) => `<${t}>`).join(', ')}\n`);
    }
    for (; seenRejections < sim.rejections.length; seenRejections++) {
      const r = sim.rejections[seenRejections]!;
      process.stdout.write(`${r.code === 0 ? 'cut connection' : `replied ${r.code}`} at ${r.stage}${r.address ? ` <${r.address}>` : ''}\n`);
    }
  }, 200);

  const stop = () => {
    clearInterval(report);
    void sim.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => fail((err as Error).message));

/** `openvle-rq config`: OpenVLE's effective configuration from the environment, secrets masked. */
import { Command } from 'commander';
import { describeConfig, loadConfig } from '../openvle/index.js';
import { action } from './common.js';

export function configCommand(): Command {
  return new Command('config')
    .summary("print OpenVLE's effective configuration (secrets masked)")
    .description('Prints the configuration read from the environment as section.key = value, secrets masked.\nExits 1 with one line per bad variable when it is invalid.')
    .action(action(runConfig));
}

async function runConfig(): Promise<number> {
  // ConfigError: one line per bad variable on stderr, exit 1 (see die()).
  const config = loadConfig(process.env);
  process.stdout.write(describeConfig(config).join('\n') + '\n');
  return 0;
}

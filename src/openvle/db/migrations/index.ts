import { migration001 } from './001-tasks.js';
import { migration002 } from './002-domain.js';
import { migration003 } from './003-vm-states.js';
import { migration004 } from './004-mail-guacamole.js';
import { migration005 } from './005-event-notices.js';

/**
 * A schema change: statements run in order, each on its own (no
 * multi-statement strings). TS modules rather than .sql files, so that
 * they ship in dist with the code that needs them.
 */
export interface Migration {
  version: number;
  name: string;
  up: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [migration001, migration002, migration003, migration004, migration005];

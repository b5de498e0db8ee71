import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ENGINE_VERSION } from '../../src/index.js';

test('the engine version is the one package.json declares', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(ENGINE_VERSION, pkg.version);
});

test("the Lua scripts' fallback TTLs are the engine's defaults", async () => {
  const { DEFAULT_RESULT_TTL, DEFAULT_FAILURE_TTL, MAX_SECONDS } = await import('../../src/index.js');
  const lua = readFileSync(new URL('../../lua/include/ttl.lua', import.meta.url), 'utf8');
  const constant = (name: string) => Number(new RegExp(`^local ${name} = (\\d+)$`, 'm').exec(lua)?.[1]);
  assert.equal(constant('DEFAULT_RESULT_TTL'), DEFAULT_RESULT_TTL);
  assert.equal(constant('ONE_YEAR'), DEFAULT_FAILURE_TTL);
  assert.equal(constant('MAX_TTL'), MAX_SECONDS);
});

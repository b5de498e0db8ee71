// RQ fidelity, round two (issue 15), at the command line: what `openvle-rq
// enqueue` stores is compared with what Debian's Python RQ 1.13 `rq enqueue
// -S rq.serializers.JSONSerializer` stores for the same arguments.
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import { describe, test } from 'node:test';
import { uniq } from '../helpers/util.js';
import { cliRedis, rqCli, run } from './helpers.js';

describe('enqueue keeps numbers as RQ does', () => {
  const fx = cliRedis();

  async function data(id: string): Promise<string> {
    const raw = await fx.redis.hgetBuffer(`rq:job:${id}`, 'data');
    assert.ok(raw, `job ${id} has data`);
    return inflateSync(raw).toString('utf8');
  }

  test("floats stay floats and integers stay exact: ':1.0' '%2.0' 'k:=[1.0,1e2]' ':12345678901234567890'", async () => {
    const argv = ['tasks.echo', ':1.0', '%2.0', 'k:=[1.0,1e2]', ':12345678901234567890', '%(1, 2.5)', "%{'a': 3.0}"];
    const ours = uniq('ours');
    const theirs = uniq('py');
    const r = await run(['enqueue', '-u', fx.url, '--job-id', ours, ...argv]);
    assert.equal(r.code, 0, r.stderr);
    const p = await rqCli(['enqueue', '-u', fx.url, '-S', 'rq.serializers.JSONSerializer', '--job-id', theirs, ...argv]);
    assert.equal(p.code, 0, p.stderr);
    const expected = '["tasks.echo", null, [1.0, 2.0, 12345678901234567890, [1, 2.5], {"a": 3.0}], {"k": [1.0, 100.0]}]';
    assert.equal(await data(theirs), expected, 'Python RQ 1.13 stores');
    assert.equal(await data(ours), expected);
    // and the description, as RQ's get_call_string writes it
    assert.equal(
      await fx.redis.hget(`rq:job:${ours}`, 'description'),
      await fx.redis.hget(`rq:job:${theirs}`, 'description'),
    );
  });
});

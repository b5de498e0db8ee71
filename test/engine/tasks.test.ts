import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TaskRegistry, taskModulePrefix } from '../../src/index.js';

test('taskModulePrefix: the file base name, from a path or a file URL (query ignored)', () => {
  assert.equal(taskModulePrefix('/srv/app/tasks.ts'), 'tasks');
  assert.equal(taskModulePrefix('relative/mails.mjs'), 'mails');
  assert.equal(taskModulePrefix('file:///srv/app/pve.js?v=2'), 'pve');
});

test("registerModule: a module whose names another module's functions hold is refused whole; the same module again is fine", () => {
  const t = new TaskRegistry();
  const add = (a: number, b: number) => a + b;
  assert.deepEqual(t.registerModule('tasks', { add, notAFunction: 1 }), ['tasks.add']);
  assert.deepEqual(t.registerModule('tasks', { add }), ['tasks.add']);
  assert.throws(() => t.registerModule('tasks', { other: () => 0, add: () => 0 }), /would replace task\(s\) registered by another module: tasks\.add/);
  assert.equal(t.get('tasks.add'), add);
  assert.equal(t.has('tasks.other'), false);
});

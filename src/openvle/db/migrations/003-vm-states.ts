import type { Migration } from './index.js';

// What the Proxmox tasks need beyond migration 2: a clone that failed for
// good must be visible on its row (the event flow reads it), and the
// periodic sync marks VMs Proxmox no longer has instead of deleting their
// rows (their Tasks and connections still refer to them). MODIFY of the
// ENUM and ADD COLUMN IF NOT EXISTS can be repeated after a cut-off run.
export const migration003: Migration = {
  version: 3,
  name: 'vms: failed and missing states, last error, last sync',
  up: [
    `ALTER TABLE vms MODIFY status ENUM('cloning','stopped','running','paused','unknown','deleting','error','failed','missing') NOT NULL DEFAULT 'cloning'`,
    `ALTER TABLE vms ADD COLUMN IF NOT EXISTS last_error TEXT NULL AFTER clone_upid`,
    `ALTER TABLE vms ADD COLUMN IF NOT EXISTS synced_at DATETIME(3) NULL AFTER last_error`,
  ],
};

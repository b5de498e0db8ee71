import type { Migration } from './index.js';

// What the mail and Guacamole tasks need beyond migration 2
// (docs/schema.md, "Migration 4").
export const migration004: Migration = {
  version: 4,
  name: 'sent_mails.job_id (a retried send finds its row), vms.ip_address (Guacamole connection host)',
  up: [
    // One row per send job: a retry of the same job (or a re-run after a
    // crash) finds the row it made, so it never renders or sends a second mail.
    `ALTER TABLE sent_mails ADD COLUMN IF NOT EXISTS job_id VARCHAR(128) NULL AFTER task_id`,
    `ALTER TABLE sent_mails ADD UNIQUE INDEX IF NOT EXISTS sent_mails_job_id (job_id)`,
    // The address Guacamole connects to (the guest agent's IPv4 as the
    // backend or the Proxmox sync records it); NULL: the VM's name is used
    // as the host name.
    `ALTER TABLE vms ADD COLUMN IF NOT EXISTS ip_address VARCHAR(45) NULL AFTER node`,
  ],
};

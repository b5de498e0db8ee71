import type { Migration } from './index.js';

// The Task tables are shared with the Python backend: their shape is a
// contract (issue 10, item 6). Change them only with the backend.
export const migration001: Migration = {
  version: 1,
  name: 'tasks and sub_tasks',
  up: [
    `CREATE TABLE IF NOT EXISTS tasks (
       id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
       name VARCHAR(255) NOT NULL,
       type VARCHAR(255) NOT NULL,
       queue VARCHAR(64) NOT NULL,
       job_id VARCHAR(128) NULL,
       status ENUM('queued','running','success','failed','canceled') NOT NULL DEFAULT 'queued',
       progress TINYINT UNSIGNED NOT NULL DEFAULT 0,
       event_id BIGINT UNSIGNED NULL,
       created_by BIGINT UNSIGNED NULL,
       result JSON NULL,
       error TEXT NULL,
       created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
       updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
       UNIQUE KEY tasks_job_id (job_id),
       KEY tasks_status_updated (status, updated_at),
       KEY tasks_queue (queue),
       KEY tasks_event (event_id),
       CONSTRAINT tasks_progress_range CHECK (progress <= 100)
     ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    `CREATE TABLE IF NOT EXISTS sub_tasks (
       id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
       task_id BIGINT UNSIGNED NOT NULL,
       attempt INT NOT NULL,
       action VARCHAR(255) NOT NULL,
       status ENUM('processing','success','error') NOT NULL DEFAULT 'processing',
       error_message TEXT NULL,
       worker VARCHAR(255) NOT NULL,
       started_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
       ended_at DATETIME(3) NULL,
       UNIQUE KEY sub_tasks_task_attempt (task_id, attempt),
       KEY sub_tasks_status (status),
       CONSTRAINT sub_tasks_task FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE
     ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
  ],
};

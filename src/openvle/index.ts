// The OpenVLE foundation in one import, for the CLI (worker, serve, tasks, task retry, config, migrate).
export * from './queues.js';
export * from './roles.js';
export { EnvReader, ConfigError, mask, type Env } from './config/env.js';
export { loadConfig, describeConfig, OPENVLE_SECTIONS, type ConfigSection, type Sections, type ConfigOf, type OpenVleConfig } from './config/config.js';
export { mariadbConfigFromEnv, describeMariaDb, type MariaDbConfig } from './config/mariadb.js';
export { workerConfigFromEnv, mongoConfigFromEnv, type WorkerConfig, type MongoConfig } from './config/worker.js';
export { createPool, createDatabaseIfMissing, type Pool, type PoolOptions } from './db/pool.js';
export { migrate, appliedVersions, MigrationError, type MigrateOptions } from './db/migrate.js';
export { MIGRATIONS, type Migration } from './db/migrations/index.js';
export { startOpenVle, openMigratedPool, needsDatabase, DatabaseUnavailableError, type OpenVleRuntime } from './runtime.js';
export * from './tracking/index.js';
export { OPENVLE_APP, SCHEDULE_FILE } from './app.js';

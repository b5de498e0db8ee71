export { guacamoleConfigFromEnv, type GuacamoleConfig } from './config.js';
export { classifyGuacamole, parseGuacamoleError, type GuacamoleFailure } from './classify.js';
export {
  GuacamoleClient,
  type CallOptions,
  type GuacConnection,
  type GuacConnectionGroup,
  type GuacSharingProfile,
  type GuacUser,
  type PermissionPatch,
} from './client.js';
export {
  ensureConnection,
  ensureUser,
  grantConnection,
  revokeConnection,
  deleteConnection,
  type ConnectionSpec,
  type EnsuredConnection,
  type UserSpec,
  type Grant,
} from './recipes.js';

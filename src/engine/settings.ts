/** The reconcilers' settings from the configuration: one derivation for the daemon and `plan`. */
import type { Config } from '../config.js';
import type { EngineSettings } from './context.js';

/** @param lifecycleGraceMs default 6 × STATUS_POLL_SECONDS (Coolify's status lags the containers). */
export function engineSettings(config: Config, lifecycleGraceMs?: number): EngineSettings {
  return {
    environment: config.coolify.environment,
    defaultServerUuid: config.coolify.serverUuid,
    destinationUuid: config.coolify.destinationUuid,
    routerBaseUrl: config.routerBaseUrl,
    statusPollMs: config.statusPollSeconds * 1000,
    deleteRetentionMs: config.deleteRetentionSeconds * 1000,
    resyncIntervalMs: config.resyncIntervalSeconds * 1000,
    lifecycleGraceMs: lifecycleGraceMs ?? 6 * config.statusPollSeconds * 1000,
  };
}

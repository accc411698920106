/** The Coolify API simulator: in-process for tests, standalone through `npm run coolify-sim`. */
export { startCoolifySim, type CoolifySim, type CoolifySimOptions } from './server.js';
export type { RequestLogEntry } from './app.js';
export type { Ability, SimTokenConfig } from './auth.js';
export { FAULT_HEADER, type SimFaults } from './faults.js';
export type { SimEdits } from './edits.js';
export type { SimState, SimService, SimProject } from './state.js';

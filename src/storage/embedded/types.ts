/** Small shared types of the embedded engine (the logger type is every engine's: ../logger.ts). */
export { silentEngineLogger, type EngineLogger } from '../logger.js';

/** Pulsar binary protocol framing (no networking): frames, stream splitting, batches, command builders. */
export * from './frame.js';
export * from './splitter.js';
export * from './batch.js';
export * from './commands.js';

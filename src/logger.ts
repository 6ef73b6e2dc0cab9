/**
 * The operational log: pino JSON lines on stdout, pretty-printed when stdout is
 * a terminal (or logPretty=true). The audit log is a separate stream (security).
 */
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

export function createLogger(level: string, pretty: 'auto' | 'true' | 'false'): Logger {
  const usePretty = pretty === 'true' || (pretty === 'auto' && process.stdout.isTTY === true);
  const options: LoggerOptions = { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  if (usePretty) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } });
  }
  return pino(options);
}

/** A logger that drops everything (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

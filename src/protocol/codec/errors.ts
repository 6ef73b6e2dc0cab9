/**
 * Errors thrown by the Kafka wire codec.
 *
 * Every failure to decode untrusted bytes is a KafkaCodecError (truncation, bad
 * lengths, varints that are too long, nulls where the version forbids them).
 * Callers can therefore catch one class and close the connection.
 */
export class KafkaCodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KafkaCodecError';
  }
}

/**
 * An apiKey the codec does not know, or a version outside the message's
 * validVersions. Distinct so a server can answer UNSUPPORTED_VERSION (error
 * code 35) instead of dropping the connection. The request header fields that
 * could be read are attached for that purpose (-1 / null when unknown).
 */
export class UnsupportedVersionError extends KafkaCodecError {
  constructor(
    readonly apiKey: number,
    readonly apiVersion: number,
    readonly what: string,
    readonly correlationId = -1,
    readonly clientId: string | null = null,
  ) {
    super(`unsupported ${what}: apiKey ${apiKey} version ${apiVersion}`);
    this.name = 'UnsupportedVersionError';
  }
}

/**
 * SaslAuthenticate (36): one SASL message of the exchange selected by
 * SaslHandshake. On failure: SASL_AUTHENTICATION_FAILED with the reason (never
 * the credential), sent after failedAuthenticationDelayMs (applied by runSaslStep), then the connection
 * closes, as Kafka does. v1+ carries the session lifetime (KIP-368): the
 * earlier of the token's expiry and connectionsMaxReauthMs.
 */
import type { ApiEntry } from '../dispatch/registry.js';
import { NO_RESOURCES } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode } from '../protocol/errors.js';
import type { SaslAuthenticateRequest, SaslAuthenticateResponse } from '../protocol/generated/index.js';
import { EMPTY_BUFFER } from '../protocol/codec/types.js';
import { runSaslStep } from '../security/sasl/session-auth.js';

export const saslAuthenticate: ApiEntry<SaslAuthenticateRequest, SaslAuthenticateResponse> = {
  apiKey: API_KEYS.SaslAuthenticate,
  minVersion: 0,
  maxVersion: 2,
  rule: 'pre-auth',
  authz: NO_RESOURCES,
  async handle(ctx, request) {
    const session = ctx.session;
    if (!session.sasl || session.sasl.selectedMechanism === null) {
      ctx.closeAfterResponse = true;
      return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, errorMessage: 'SaslAuthenticate without a preceding SaslHandshake', authBytes: EMPTY_BUFFER, sessionLifetimeMs: 0n };
    }
    const { step, sessionLifetimeMs } = await runSaslStep(ctx.gateway, ctx.conn, session, request.authBytes, ctx.log);
    switch (step.kind) {
      case 'success':
        session.saslVersion = ctx.apiVersion;
        return { errorCode: ErrorCode.NONE, errorMessage: null, authBytes: EMPTY_BUFFER, sessionLifetimeMs: BigInt(sessionLifetimeMs) };
      case 'challenge':
        return { errorCode: ErrorCode.NONE, errorMessage: null, authBytes: step.bytes, sessionLifetimeMs: 0n };
      case 'failure':
        ctx.closeAfterResponse = true;
        return { errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: `Authentication failed: ${step.reason}`, authBytes: EMPTY_BUFFER, sessionLifetimeMs: 0n };
    }
  },
};

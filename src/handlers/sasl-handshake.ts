/**
 * SaslHandshake (17): pick the mechanism. v0 means the legacy framing: the next
 * frame is a raw SASL token, not a SaslAuthenticate request.
 */
import type { ApiEntry } from '../dispatch/registry.js';
import { NO_RESOURCES } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode } from '../protocol/errors.js';
import type { SaslHandshakeRequest, SaslHandshakeResponse } from '../protocol/generated/index.js';

export const saslHandshake: ApiEntry<SaslHandshakeRequest, SaslHandshakeResponse> = {
  apiKey: API_KEYS.SaslHandshake,
  minVersion: 0,
  maxVersion: 1,
  rule: 'pre-auth',
  authz: NO_RESOURCES,
  handle(ctx, request) {
    const settings = ctx.gateway.security.sasl;
    const session = ctx.session;
    const mechanisms = settings ? [...settings.mechanisms] : [];
    if (!session.sasl) {
      // Kafka: SASL on a listener that does not use it is an illegal state; the client gets the error and we close.
      ctx.closeAfterResponse = true;
      ctx.log.info({ conn: ctx.conn.id, listener: ctx.conn.listenerName }, 'SaslHandshake on a listener without SASL');
      return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms };
    }
    if (session.authenticated && (ctx.apiVersion === 0 || session.saslVersion < 1)) {
      ctx.closeAfterResponse = true;
      return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms };
    }
    if (!session.sasl.selectMechanism(request.mechanism)) {
      ctx.log.info({ conn: ctx.conn.id, mechanism: request.mechanism.slice(0, 40), enabled: mechanisms }, 'unsupported SASL mechanism');
      ctx.gateway.security.audit?.authentication(ctx.conn.id, { mechanism: request.mechanism.slice(0, 40), success: false, reason: 'unsupported mechanism' });
      ctx.closeAfterResponse = true;
      return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms };
    }
    session.saslRawNext = ctx.apiVersion === 0;
    return { errorCode: ErrorCode.NONE, mechanisms };
  },
};

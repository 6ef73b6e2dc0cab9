/**
 * BaseCommand builders for what a Pulsar client sends, plus commandBody() to
 * reach the sub-command of a decoded BaseCommand. Pure values: encode them
 * with encodeCommand / encodePayloadCommand (./frame.ts). Ids (producer,
 * consumer, request, sequence, ledger, entry) are uint64, hence bigint.
 */
import {
  BaseCommandType,
  PULSAR_MESSAGES,
  ProtocolVersion,
  PulsarProtoError,
  CommandAckAckType,
  type BaseCommand,
  type CommandAck,
  type CommandAuthResponse,
  type CommandCloseConsumer,
  type CommandCloseProducer,
  type CommandConnect,
  type CommandFlow,
  type CommandGetLastMessageId,
  type CommandLookupTopic,
  type CommandPartitionedTopicMetadata,
  type CommandProducer,
  type CommandRedeliverUnacknowledgedMessages,
  type CommandSeek,
  type CommandSend,
  type CommandSubscribe,
  type CommandUnsubscribe,
} from '../proto/index.js';

/**
 * Protocol version the builders announce by default: v19. v18 is the least for
 * broker entry metadata; v20 would oblige the client to follow TOPIC_MIGRATED.
 */
export const DEFAULT_PROTOCOL_VERSION: number = ProtocolVersion.v19;

/** BaseCommand property holding the sub-command of each type (field number = type value). */
const FIELD_BY_TYPE: ReadonlyMap<number, keyof BaseCommand> = new Map(
  PULSAR_MESSAGES.BaseCommand!.fields.filter((f) => f.type === 'message').map((f) => [f.number, f.name as keyof BaseCommand]),
);

/** The BaseCommand property name for a command type, e.g. "lookupTopic" for LOOKUP. */
export function commandField(type: number): keyof BaseCommand | undefined {
  return FIELD_BY_TYPE.get(type);
}

/** The sub-command matching cmd.type; throws PulsarProtoError when it is absent (a malformed command). */
export function commandBody(cmd: BaseCommand): object {
  const field = FIELD_BY_TYPE.get(cmd.type);
  const body = field === undefined ? undefined : cmd[field];
  if (body === undefined || body === null || typeof body !== 'object') {
    throw new PulsarProtoError(`command of type ${cmd.type} without its ${field ?? 'body'}`);
  }
  return body;
}

export function connectCommand(c: CommandConnect): BaseCommand {
  return { type: BaseCommandType.CONNECT, connect: { ...c, protocolVersion: c.protocolVersion ?? DEFAULT_PROTOCOL_VERSION } };
}

export function authResponseCommand(c: CommandAuthResponse): BaseCommand {
  return { type: BaseCommandType.AUTH_RESPONSE, authResponse: { ...c, protocolVersion: c.protocolVersion ?? DEFAULT_PROTOCOL_VERSION } };
}

export function pingCommand(): BaseCommand {
  return { type: BaseCommandType.PING, ping: {} };
}

export function pongCommand(): BaseCommand {
  return { type: BaseCommandType.PONG, pong: {} };
}

export function lookupCommand(c: CommandLookupTopic): BaseCommand {
  return { type: BaseCommandType.LOOKUP, lookupTopic: c };
}

export function partitionedMetadataCommand(c: CommandPartitionedTopicMetadata): BaseCommand {
  return { type: BaseCommandType.PARTITIONED_METADATA, partitionMetadata: c };
}

export function producerCommand(c: CommandProducer): BaseCommand {
  return { type: BaseCommandType.PRODUCER, producer: c };
}

/** SEND: frame it with encodePayloadCommand(sendCommand(...), metadata, payload). */
export function sendCommand(c: CommandSend): BaseCommand {
  return { type: BaseCommandType.SEND, send: c };
}

export function subscribeCommand(c: CommandSubscribe): BaseCommand {
  return { type: BaseCommandType.SUBSCRIBE, subscribe: c };
}

export function flowCommand(c: CommandFlow): BaseCommand {
  return { type: BaseCommandType.FLOW, flow: c };
}

/** SEEK to a message id or to a publish time: exactly one of the two. */
export function seekCommand(c: CommandSeek): BaseCommand {
  if ((c.messageId == null) === (c.messagePublishTime == null)) {
    throw new PulsarProtoError('SEEK needs exactly one of messageId and messagePublishTime');
  }
  return { type: BaseCommandType.SEEK, seek: c };
}

export function getLastMessageIdCommand(c: CommandGetLastMessageId): BaseCommand {
  return { type: BaseCommandType.GET_LAST_MESSAGE_ID, getLastMessageId: c };
}

/** ACK: at least one message id; a cumulative ack takes exactly one. */
export function ackCommand(c: CommandAck): BaseCommand {
  const n = c.messageId?.length ?? 0;
  if (n === 0) throw new PulsarProtoError('ACK without a message id');
  if (c.ackType === CommandAckAckType.Cumulative && n !== 1) throw new PulsarProtoError(`cumulative ACK with ${n} message ids`);
  return { type: BaseCommandType.ACK, ack: c };
}

/** REDELIVER_UNACKNOWLEDGED_MESSAGES: the given messages (Shared / Key_Shared subscriptions), or every unacknowledged one when none is given. */
export function redeliverUnacknowledgedCommand(c: CommandRedeliverUnacknowledgedMessages): BaseCommand {
  return { type: BaseCommandType.REDELIVER_UNACKNOWLEDGED_MESSAGES, redeliverUnacknowledgedMessages: c };
}

export function unsubscribeCommand(c: CommandUnsubscribe): BaseCommand {
  return { type: BaseCommandType.UNSUBSCRIBE, unsubscribe: c };
}

export function closeProducerCommand(c: CommandCloseProducer): BaseCommand {
  return { type: BaseCommandType.CLOSE_PRODUCER, closeProducer: c };
}

export function closeConsumerCommand(c: CommandCloseConsumer): BaseCommand {
  return { type: BaseCommandType.CLOSE_CONSUMER, closeConsumer: c };
}

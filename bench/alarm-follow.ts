/**
 * A durable JetStream consumer on the non-crowd alarm subjects, as the city brain reads them: every alarm with
 * the time it was received (for the latency benchmark and the end-to-end tests). Validates each message against
 * its kind's schema.
 */
import { AckPolicy, connect, DeliverPolicy, type ConsumerMessages, type NatsConnection } from 'nats';
import { ALERT_STREAM, DEFAULT_SUBSCRIBER_USER, validateWireAlert, type WireAlertV1 } from '../alerts/index.js';
import type { AlarmV1 } from '../common/alarm-schemas.js';

export interface ReceivedAlarm { readonly subject: string; readonly alarm: AlarmV1; readonly receivedAt: number }

export interface AlarmFollower {
  readonly received: readonly ReceivedAlarm[];
  stop(): Promise<void>;
}

/** Starts a durable consumer `durable` (deliver all, explicit ack) on the alert stream; keeps the watch-list, frequency and stranger alarms. */
export async function followAlarms(url: string, durable: string): Promise<AlarmFollower> {
  const nc: NatsConnection = await connect({ servers: url, user: DEFAULT_SUBSCRIBER_USER.user, pass: DEFAULT_SUBSCRIBER_USER.pass });
  const jsm = await nc.jetstreamManager();
  await jsm.consumers.add(ALERT_STREAM, {
    // The whole alert stream (crowd alerts are skipped below), as the subscriber user's permissions allow.
    durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All,
  });
  const consumer = await nc.jetstream().consumers.get(ALERT_STREAM, durable);
  const received: ReceivedAlarm[] = [];
  const messages: ConsumerMessages = await consumer.consume({ max_messages: 100 });
  const done = (async () => {
    for await (const m of messages) {
      const receivedAt = Date.now();
      const wire: WireAlertV1 | null = validateWireAlert(m.json());
      m.ack();
      if (wire && wire.kind !== 'crowd') received.push({ subject: m.subject, alarm: wire as AlarmV1, receivedAt });
    }
  })();
  return {
    received,
    async stop() { messages.stop(); await done.catch(() => undefined); await nc.drain(); },
  };
}

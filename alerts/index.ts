/**
 * Alerts stage: takes CrowdAlertEvents from the crowd rule (tracking), turns them into crowd alerts (schema v1),
 * keeps them in a RocksDB outbox until JetStream acks them, and publishes them on
 * citybrain.alerts.crowd.<district>.<camera>.<zone> (stream CITYBRAIN_ALERTS). Zone counts and stream health go
 * out best-effort on citybrain.events.<kind>.<...>. See alerts/README.md.
 */
export { startNatsServer, defaultNatsConfigPath, type NatsServerHandle, type NatsServerOptions } from './server.js';
export {
  openAlertSink, messageIdFor, ALERT_SINK_STATES, ALERT_STREAM_LIMITS, DEFAULT_OUTBOX_LIMIT,
  type AlertContext, type AlertSink, type AlertSinkEvent, type AlertSinkOptions, type AlertSinkState, type AlertSinkStatus,
} from './sink.js';
export { ALERT_SCHEMA_VERSION, ALERT_V1_FIELDS, validateAlert, type CrowdAlertV1 } from './schema.js';
export { alertSubject, eventSubject, sanitizeToken, ALERT_SUBJECTS, ALERT_SUBJECT_PREFIX, EVENT_SUBJECTS, EVENT_KINDS, type EventKind } from './subjects.js';
export {
  ALERT_STREAM, DEFAULT_ADMIN_USER, DEFAULT_CORE_USER, DEFAULT_SUBSCRIBER_USER, natsSettingsFromEnv, type NatsCredentials, type NatsEnvSettings,
} from './credentials.js';

/**
 * Alerts stage: takes CrowdAlertEvents from the crowd rule (tracking) and AlarmEvents from the live alarm rules
 * (watchlist/), turns them into wire alarms (schema v1 of each kind, common/alarm-schemas.ts), keeps them in a
 * RocksDB outbox until JetStream acks them, and publishes them on citybrain.alerts.crowd.<district>.<camera>.<zone>
 * and citybrain.alerts.<watchlist|frequency|stranger>.<district>.<camera> (stream CITYBRAIN_ALERTS). Zone counts and
 * stream health go out best-effort on citybrain.events.<kind>.<...>. See alerts/README.md.
 */
export { startNatsServer, defaultNatsConfigPath, jetstreamKeyEnv, natsConfigKey, JETSTREAM_KEY_ENV, JETSTREAM_KEY_FILE, type NatsServerHandle, type NatsServerOptions } from './server.js';
export {
  openAlertSink, messageIdFor, alarmMessageIdFor, crowdV1View, ALERT_SINK_STATES, ALERT_STREAM_LIMITS, DEFAULT_OUTBOX_LIMIT, CROWD_SCHEMAS,
  type CrowdSchema, type AlertContext, type AlertSink, type AlertSinkEvent, type AlertSinkOptions, type AlertSinkState, type AlertSinkStatus,
} from './sink.js';
export { ALERT_SCHEMA_VERSION, ALERT_V1_FIELDS, validateAlert, validateAlertV2, validateAnyWireAlert, type CrowdAlertV2, validateAlarm, validateWireAlert, isAlarmKind, renderAlertSchemas, type CrowdAlertV1 } from './schema.js';
export {
  ALARM_KINDS, ALERT_KINDS, type AlarmKind, type AlarmV1, type AlertKind, type FrequencyAlarmV1, type FrequencyAppearanceV1,
  type StrangerAlarmV1, type WatchlistAlarmV1, type WireAlertV1, type WireAlert,
} from '../common/alarm-schemas.js';
export { alertSubject, alertV2Subject, ALERT_V2_PREFIX, ALERT_V2_SUBJECTS, alarmSubject, alertKindFilter, eventSubject, sanitizeToken, ALERT_SUBJECTS, ALERT_SUBJECT_PREFIX, EVENT_SUBJECTS, EVENT_KINDS, type EventKind } from './subjects.js';
export {
  ALERT_STREAM, ALERT_STREAM_V2, DEFAULT_ADMIN_USER, DEFAULT_CORE_USER, DEFAULT_SUBSCRIBER_USER, natsSettingsFromEnv, natsTlsOptions, natsTlsFrom, type NatsCredentials, type NatsEnvSettings, type NatsTls,
} from './credentials.js';
export { mintOperatorCreds, CORE_PERMISSIONS, SUBSCRIBER_PERMISSIONS, ACCOUNT_JETSTREAM, OPERATOR_CONF, type MintOptions, type MintedCreds, type NatsPermissions } from './operator.js';

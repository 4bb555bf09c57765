/**
 * Two languages, Simplified Chinese and English, switchable at any time; the choice is kept in localStorage.
 * Times are shown in the viewer's own time zone with Intl.DateTimeFormat in the chosen language.
 */
export const LANGS = ['zh-CN', 'en'] as const;
export type Lang = (typeof LANGS)[number];

const en = {
  appTitle: 'cvcore console',
  signIn: 'Sign in',
  signOut: 'Sign out',
  tokenLabel: 'API token',
  tokenHint: 'Paste the token your administrator issued. It stays in this browser only.',
  signInFailed: 'The token was not accepted',
  role: 'Role',
  departments: 'Departments',
  navSearch: 'Search',
  navFaces: 'Face search',
  navLive: 'Live dashboard',
  navAudit: 'Audit log',
  from: 'From',
  to: 'To',
  cameras: 'Cameras',
  allCameras: 'All my cameras',
  clearSelection: 'Clear',
  cls: 'Class',
  any: 'Any',
  vehicleType: 'Vehicle type',
  colour: 'Colour',
  gender: 'Gender',
  ageBand: 'Age band',
  search: 'Search',
  searching: 'Searching…',
  noResults: 'Nothing matched these filters.',
  next: 'Next',
  previous: 'Previous',
  page: 'Page',
  map: 'Camera locations (click to select)',
  noLocation: 'no location',
  track: 'Track',
  back: 'Back',
  camera: 'Camera',
  timeSpan: 'Time span',
  duration: 'Duration',
  attributes: 'Attributes',
  noAttributes: 'No attributes recorded',
  hits: 'Detections',
  score: 'Score',
  department: 'Department',
  district: 'District',
  liveView: 'Live view',
  closeLive: 'Close live view',
  liveUnavailable: 'This camera is not live right now.',
  liveNote: 'Live video is the camera\'s MPEG-1 stream over WebSocket; it starts once the core offers it.',
  faceDrop: 'Drop a photo here, or choose one',
  faceChoose: 'Choose photo',
  detectedFace: 'Detected face',
  matches: 'Matches',
  similarity: 'Similarity',
  noFace: 'No face was found in this photo. Try a clearer, frontal photo.',
  notImage: 'This file is not an image the core can read (JPEG or PNG).',
  tooLarge: 'The photo is too large.',
  noMatches: 'No stored face is similar enough within these filters.',
  faceSearchUnavailable: 'Face search is not available on this core yet.',
  health: 'Camera health',
  zones: 'Zone counts',
  alerts: 'Crowd alerts',
  noAlerts: 'No crowd alerts yet.',
  connected: 'Live updates connected',
  disconnected: 'Live updates disconnected; polling',
  people: 'people',
  threshold: 'threshold',
  severity: 'Severity',
  raised: 'raised',
  updated: 'updated',
  cleared: 'cleared',
  low: 'low', medium: 'medium', high: 'high', critical: 'critical',
  snapshot: 'Snapshot',
  noSnapshot: 'no snapshot',
  auditTitle: 'Who searched what, when',
  at: 'When',
  who: 'Who',
  action: 'Action',
  query: 'Query',
  results: 'Results',
  adminOnly: 'Only administrators can see the audit log.',
  error: 'Error',
  loading: 'Loading…',
  language: 'Language',
  state_connecting: 'connecting', state_live: 'live', state_stalled: 'stalled', state_backoff: 'retrying', state_failed: 'failed', state_stopped: 'stopped',
  cls_person: 'person', cls_car: 'car', cls_bus: 'bus', cls_truck: 'truck', cls_motorcycle: 'motorcycle', cls_bicycle: 'bicycle',
  noCameras: 'This token sees no cameras.',
  cluster: 'Cluster',
  clusterShards: 'shards',
  clusterReplicas: 'replicas',
  node: 'Node',
  nodeRoles: 'Roles',
  nodeAlive: 'Alive',
  nodeCameras: 'Cameras / capacity',
  nodeDraining: 'draining',
  yes: 'yes',
  no: 'no',
  shardsWithoutReplica: 'Shards without a live replica',
  unassignedCameras: 'Unassigned cameras',
  none: 'none',
  consumers: 'Index consumers',
  shard: 'Shard',
  pending: 'Pending',
  ackPending: 'Awaiting ack',
};

export type Key = keyof typeof en;

const zh: Record<Key, string> = {
  appTitle: 'cvcore 控制台',
  signIn: '登录',
  signOut: '退出',
  tokenLabel: 'API 令牌',
  tokenHint: '粘贴管理员发放的令牌。令牌只保存在本浏览器中。',
  signInFailed: '令牌未被接受',
  role: '角色',
  departments: '部门',
  navSearch: '检索',
  navFaces: '人脸检索',
  navLive: '实时看板',
  navAudit: '审计日志',
  from: '开始',
  to: '结束',
  cameras: '摄像机',
  allCameras: '我的全部摄像机',
  clearSelection: '清除',
  cls: '类别',
  any: '不限',
  vehicleType: '车型',
  colour: '颜色',
  gender: '性别',
  ageBand: '年龄段',
  search: '检索',
  searching: '检索中…',
  noResults: '没有符合条件的结果。',
  next: '下一页',
  previous: '上一页',
  page: '页',
  map: '摄像机位置（点击选择）',
  noLocation: '无位置',
  track: '轨迹',
  back: '返回',
  camera: '摄像机',
  timeSpan: '时间段',
  duration: '时长',
  attributes: '属性',
  noAttributes: '未记录属性',
  hits: '检测次数',
  score: '置信度',
  department: '部门',
  district: '辖区',
  liveView: '实时画面',
  closeLive: '关闭实时画面',
  liveUnavailable: '该摄像机当前不在线。',
  liveNote: '实时画面为经 WebSocket 传输的 MPEG-1 视频流，核心提供后即可播放。',
  faceDrop: '将照片拖到此处，或选择照片',
  faceChoose: '选择照片',
  detectedFace: '检测到的人脸',
  matches: '匹配结果',
  similarity: '相似度',
  noFace: '照片中未检测到人脸，请换一张清晰的正面照片。',
  notImage: '该文件不是核心可读取的图片（JPEG 或 PNG）。',
  tooLarge: '照片过大。',
  noMatches: '在当前条件下没有足够相似的人脸。',
  faceSearchUnavailable: '该核心尚未提供人脸检索。',
  health: '摄像机状态',
  zones: '区域人数',
  alerts: '人群聚集告警',
  noAlerts: '暂无人群聚集告警。',
  connected: '实时推送已连接',
  disconnected: '实时推送已断开，改为轮询',
  people: '人',
  threshold: '阈值',
  severity: '级别',
  raised: '触发',
  updated: '更新',
  cleared: '解除',
  low: '低', medium: '中', high: '高', critical: '严重',
  snapshot: '快照',
  noSnapshot: '无快照',
  auditTitle: '谁在何时检索了什么',
  at: '时间',
  who: '操作者',
  action: '操作',
  query: '查询条件',
  results: '结果',
  adminOnly: '只有管理员可以查看审计日志。',
  error: '错误',
  loading: '加载中…',
  language: '语言',
  state_connecting: '连接中', state_live: '在线', state_stalled: '卡顿', state_backoff: '重试中', state_failed: '故障', state_stopped: '已停止',
  cls_person: '行人', cls_car: '小汽车', cls_bus: '公交车', cls_truck: '货车', cls_motorcycle: '摩托车', cls_bicycle: '自行车',
  noCameras: '此令牌看不到任何摄像机。',
  cluster: '集群',
  clusterShards: '个分片',
  clusterReplicas: '个副本',
  node: '节点',
  nodeRoles: '角色',
  nodeAlive: '存活',
  nodeCameras: '摄像机 / 容量',
  nodeDraining: '排空中',
  yes: '是',
  no: '否',
  shardsWithoutReplica: '无存活副本的分片',
  unassignedCameras: '未分配的摄像机',
  none: '无',
  consumers: '索引消费者',
  shard: '分片',
  pending: '待投递',
  ackPending: '待确认',
};

const LANG_KEY = 'cvcore.console.lang';
const tables: Record<Lang, Record<Key, string>> = { en, 'zh-CN': zh };

export function initialLang(): Lang {
  try {
    const saved = localStorage.getItem(LANG_KEY);
    if (saved && (LANGS as readonly string[]).includes(saved)) return saved as Lang;
  } catch { /* no storage */ }
  return navigator.language.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}

export function rememberLang(lang: Lang): void {
  try { localStorage.setItem(LANG_KEY, lang); } catch { /* no storage */ }
}

export type Translate = (key: Key) => string;
export function translator(lang: Lang): Translate {
  const table = tables[lang];
  return (key) => table[key] ?? en[key];
}
/** A label for a value that may or may not have a translation (a class, a state), falling back to the value. */
export function label(t: Translate, prefix: 'cls_' | 'state_', value: string): string {
  const key = `${prefix}${value}` as Key;
  return key in en ? t(key) : value;
}

export interface Formatters { dateTime(ms: number): string; time(ms: number): string; duration(ms: number): string; percent(x: number): string }
export function formatters(lang: Lang): Formatters {
  const dt = new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'medium' });
  const tm = new Intl.DateTimeFormat(lang, { timeStyle: 'medium' });
  const pct = new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 1 });
  return {
    dateTime: (ms) => dt.format(ms),
    time: (ms) => tm.format(ms),
    duration: (ms) => {
      const s = Math.max(0, Math.round(ms / 1000));
      const m = Math.floor(s / 60);
      return m > 0 ? `${m}:${String(s % 60).padStart(2, '0')}` : `${s}s`;
    },
    percent: (x) => pct.format(x),
  };
}

// Texts of the console, zh and en; the language follows the browser (navigator.languages).
const TEXTS = {
  en: {
    title: 'Switchboard console', signInTitle: 'Sign in to the console', token: 'API token (role agent or admin)',
    displayName: 'Your name, shown to customers', signIn: 'Sign in', signingIn: 'Signing in…', signOut: 'Sign out',
    inbox: 'Inbox', dashboard: 'Dashboard', queues: 'Queues', settings: 'Settings', filters: 'Filters', status: 'Status', channel: 'Channel',
    assignee: 'Assignee', search: 'Search', searchHint: 'Name, identity or text', any: 'Any', anyone: 'Anyone', me: 'Me',
    unassigned: 'Unassigned', open: 'Open', waiting_agent: 'Waiting', agent: 'With an agent', resolved: 'Resolved', bot: 'Bot',
    empty: 'Nothing waiting for a person.', choose: 'Choose a conversation.', live: 'Live', offline: 'Reconnecting…',
    high: 'Urgent', waiting: 'waiting', claim: 'Claim', resolve: 'Resolve', returnToBot: 'Return to bot', back: 'Back to the list',
    summary: 'Hand-over summary', suggestions: 'Suggested replies', use: 'Use', noSuggestions: 'No suggestions.',
    history: 'History', profile: 'Customer', identities: 'Identities', notes: 'Internal notes', reply: 'Reply to the customer',
    send: 'Send reply', addNote: 'Add internal note', saveAnswer: 'Save as answer (pending review)', question: 'Question',
    answer: 'Answer', save: 'Save', cancel: 'Cancel', saved: 'Saved for review.', assignedTo: 'Assigned to', csat: 'CSAT',
    csatPending: 'CSAT asked, no answer yet', customer: 'Customer', botName: 'Bot', system: 'System', reason: 'Reason',
    unreachable: 'unreachable', failed: 'not delivered', sessionEnds: 'Session ends', conversations: 'Conversations', visitor: 'Visitor', skip: 'Skip to the inbox', actions: 'Actions',
    reason_low_confidence: 'the bot was unsure', reason_asked_for_human: 'asked for a person', reason_three_strikes: 'three misses in a row',
    reason_angry: 'upset customer', reason_workflow: 'a workflow', reason_bot_error: 'bot error', reason_action_failed: 'a lookup failed',
  },
  zh: {
    title: 'Switchboard 客服台', signInTitle: '登录客服台', token: 'API 令牌（agent 或 admin 角色）',
    displayName: '您的称呼（客户可见）', signIn: '登录', signingIn: '正在登录…', signOut: '退出登录',
    inbox: '收件箱', dashboard: '数据看板', queues: '队列', settings: '设置', filters: '筛选', status: '状态', channel: '渠道',
    assignee: '负责人', search: '搜索', searchHint: '姓名、身份或内容', any: '全部', anyone: '所有人', me: '我',
    unassigned: '未分配', open: '进行中', waiting_agent: '等待人工', agent: '人工处理中', resolved: '已解决', bot: '机器人',
    empty: '暂无等待人工的会话。', choose: '请选择一个会话。', live: '实时', offline: '正在重连…',
    high: '紧急', waiting: '等待', claim: '认领', resolve: '标记解决', returnToBot: '交还机器人', back: '返回列表',
    summary: '转接摘要', suggestions: '建议回复', use: '使用', noSuggestions: '暂无建议。',
    history: '历史消息', profile: '客户信息', identities: '身份', notes: '内部备注', reply: '回复客户',
    send: '发送回复', addNote: '添加内部备注', saveAnswer: '保存为待审核答案', question: '问题',
    answer: '答案', save: '保存', cancel: '取消', saved: '已保存，等待审核。', assignedTo: '负责人', csat: '满意度',
    csatPending: '已发送满意度调查，尚未回复', customer: '客户', botName: '机器人', system: '系统', reason: '原因',
    unreachable: '无法送达', failed: '发送失败', sessionEnds: '会话到期', conversations: '会话列表', visitor: '访客', skip: '跳到收件箱', actions: '操作',
    reason_low_confidence: '机器人没有把握', reason_asked_for_human: '客户要求人工', reason_three_strikes: '连续三次未解决',
    reason_angry: '客户情绪不满', reason_workflow: '工作流转接', reason_bot_error: '机器人出错', reason_action_failed: '查询失败',
  },
};

export const lang = (navigator.languages?.[0] ?? navigator.language ?? 'en').toLowerCase().startsWith('zh') ? 'zh' : 'en';
const T = TEXTS[lang];
export function t(key) {
  return T[key] ?? TEXTS.en[key] ?? key;
}
document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';

/** "3 min" / "3 分钟" since `at`. */
export function ago(at, now = Date.now()) {
  const s = Math.max(0, Math.round((now - at) / 1000));
  const [n, u] = s < 60 ? [s, 's'] : s < 3600 ? [Math.floor(s / 60), 'm'] : s < 86400 ? [Math.floor(s / 3600), 'h'] : [Math.floor(s / 86400), 'd'];
  const units = lang === 'zh' ? { s: '秒', m: '分钟', h: '小时', d: '天' } : { s: 's', m: 'min', h: 'h', d: 'd' };
  return lang === 'zh' ? `${n} ${units[u]}` : `${n} ${units[u]}`;
}

export function time(at) {
  return new Date(at).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en', { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

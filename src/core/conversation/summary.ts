import type { MessageAuthor } from '../types.js';

const MAX = 600;

/** `text` on one line, cut to at most `n` characters (with an ellipsis). */
export function clip(text: string, n: number): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
}

/**
 * Extractive summary for agents when no LLM is configured: what the customer asked (first and
 * latest questions) and what the bot last answered.
 */
export function extractiveSummary(messages: { author: MessageAuthor; text: string }[], locale: string): string {
  const zh = locale === 'zh';
  const asked = messages.filter((m) => m.author === 'customer' && m.text.trim());
  const bot = messages.filter((m) => m.author === 'bot');
  const parts: string[] = [];
  const first = asked[0];
  const latest = asked.at(-1);
  if (first) parts.push(`${zh ? '客户问题' : 'Customer asked'}: "${clip(first.text, 200)}"`);
  if (latest && latest !== first) parts.push(`${zh ? '最近' : 'Latest'}: "${clip(latest.text, 200)}"`);
  if (asked.length > 2) parts.push(zh ? `（共 ${asked.length} 条客户消息）` : `(${asked.length} customer messages)`);
  const lastBot = bot.at(-1);
  if (lastBot) parts.push(`${zh ? '机器人已回答' : 'Bot answered'}: "${clip(lastBot.text, 200)}"`);
  else parts.push(zh ? '机器人尚未回答。' : 'The bot has not answered yet.');
  return clip(parts.join(zh ? '；' : '; '), MAX);
}

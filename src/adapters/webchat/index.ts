/**
 * Web chat channel: the hub's own chat page at `/`, and an embeddable widget for other sites.
 *
 * Routes (on the hub's HTTP server):
 * - `GET /` the chat page (sets the visitor cookie); `GET /widget.js` the one script both the page and
 *   embeds load; `GET /webchat/widget.css`; `GET /webchat/session` (embeds); WebSocket `/webchat/ws`.
 * - Embed on any site: `<script src="https://hub.example/widget.js" data-hub="https://hub.example"
 *   async></script>` adds a floating button and a chat panel (in a shadow root, so the host's CSS
 *   does not leak in). The site's origin must be in `allowedOrigins` (or `*`).
 *
 * Visitor identity: a random 128-bit id, signed with HMAC-SHA256 (`<id>.<sig>`, verified in constant
 * time; a bad or missing signature means a new visitor, an unsigned id is never trusted), in the
 * HttpOnly cookie `sb_wc` (Path=/, 1 year; read from `RequestInfo.cookies`, which the hub's server
 * parses for page, session and WebSocket requests alike). On http the cookie is `SameSite=Lax`; on https (TLS, an
 * `X-Forwarded-Proto` from a proxy `server.trustProxy` trusts, or an https `publicUrl`) it is `SameSite=None; Secure` so embeds can
 * use it. Because browsers often block third-party cookies (and on http they cannot work at all),
 * `/webchat/session` also returns the signed token to an allowed cross-origin caller; widget.js
 * keeps it in the host site's localStorage and passes it as `?token=` on the WebSocket URL. The
 * token is thus readable by the embedding site's scripts: that is the price of cross-site embeds.
 * The hub's own page never receives the token (cookie only). The key is `cookieSecret`, or one
 * generated once into `<dataDir>/webchat-secret` so cookies survive restarts.
 *
 * Protocol (JSON text frames). Client -> hub: `{type:'message', id, text}` (id: the client's message
 * id, 1-64 of [A-Za-z0-9_-]), `{type:'button', id?, value, label}`, `{type:'history'}`. Hub -> client:
 * `hello {visitorId, locale?}` then `history {messages}` on connect, `message {id, author,
 * authorName?, text, buttons?}`, `typing {on}`, `ack {id}` (the message is durably queued),
 * `error {code, message, id?}` with code BAD_FRAME | UNKNOWN_TYPE | TOO_LARGE | INPUT_INVALID |
 * RATE_LIMITED | UNAVAILABLE. A bad frame is answered with an error and the socket stays open;
 * frames over 128 KiB get TOO_LARGE unparsed; over 2 MiB `ws` closes that one socket (1009).
 * platformMessageId is `<visitorId>:<client id>`, so a resend after a reconnect is answered once.
 *
 * Delivery: `connection: stateless`. A socket lives in whichever process the browser reached;
 * `send` publishes on bus topic `webchat:<visitorId>` and every process forwards to its sockets of
 * that visitor (all tabs). Nobody connected: the message is still stored and shows from history.
 * After an ack the hub publishes the customer's message (for other tabs) and `typing on`; a reply
 * turns it off, else it goes off after 15 s.
 *
 * Limits: per visitor `rateLimit` messages (and 5x that per IP), in process memory; per client IP
 * 50 per 10 s each on page loads, session calls and WebSocket upgrades, counted in Redis by the hub's
 * server (every gateway shares them; the IP as `server.trustProxy` says); 20 tabs per visitor per
 * process; static assets are not limited (cached, ETag). Locale: `?lang=` (navigator.language) on the WebSocket URL, else
 * Accept-Language; the UI picks zh/en from navigator.language.
 */
import type { AdapterDeps } from '../define.js';
import { defineAdapter } from '../define.js';
import { webchatConfigSchema, type WebchatConfig } from './config.js';

export type { WebchatAdapter } from './adapter.js';
export { webchatConfigSchema, type WebchatConfig } from './config.js';

/** `channels.webchat`; its server side (ws, the page) loads when enabled. */
export const webchatAdapter = defineAdapter({
  channel: 'webchat',
  configSchema: webchatConfigSchema,
  create: async (config: WebchatConfig, deps: AdapterDeps) => new (await import('./adapter.js')).WebchatAdapter(config, deps),
});

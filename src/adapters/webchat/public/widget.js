/*
 * Switchboard web chat widget. Plain JS, no build step.
 * - On the hub page (`data-mode="page"`): a full-page chat; the visitor is the HttpOnly cookie.
 * - Anywhere else: `<script src="https://hub.example/widget.js" data-hub="https://hub.example" async></script>`
 *   adds a floating button and a panel; the visitor token from /webchat/session is kept in localStorage.
 * All message text is inserted as text nodes (never innerHTML).
 */
(function () {
  'use strict';
  if (window.__switchboardWebchat) return;
  window.__switchboardWebchat = true;

  var script = document.currentScript;
  var attr = function (name) {
    return script ? script.getAttribute(name) : null;
  };
  var mode = attr('data-mode') === 'page' ? 'page' : 'embed';
  var hub = (attr('data-hub') || (script && script.src ? new URL(script.src, location.href).origin : location.origin)).replace(/\/+$/, '');
  var lang = navigator.language || 'en';
  // Identity (docs/identity.md): a link token from this page's ?sb_link= (used once, then taken off
  // the address), and a signed user: data-user-id + data-user-hash, or window.SwitchboardSettings.
  var linkToken = (function () {
    try {
      var u = new URL(location.href);
      var t = u.searchParams.get('sb_link');
      if (t) {
        u.searchParams.delete('sb_link');
        history.replaceState(history.state, '', u.toString());
      }
      return t;
    } catch (e) {
      return null;
    }
  })();
  var linkId = null;
  var signed = window.SwitchboardSettings || {};
  var userId = attr('data-user-id') || signed.userId || null;
  var userHash = attr('data-user-hash') || signed.userHash || null;
  var zh = /^zh/i.test(lang);
  var T = zh
    ? {
        title: '在线客服', online: '在线 · 通常几秒内回复', connecting: '连接中…', reconnecting: '连接已断开，正在重连…',
        placeholder: '输入消息，按 Enter 发送', send: '发送', typing: '客服正在输入', open: '联系客服', close: '关闭',
        hello: '您好！', welcome: '有什么可以帮您？直接输入问题即可。', agent: '人工客服',
        failed: '发送失败', brand: '由 Switchboard 提供支持',
      }
    : {
        title: 'Support', online: 'Online · usually replies in seconds', connecting: 'Connecting…', reconnecting: 'Connection lost, reconnecting…',
        placeholder: 'Type a message, press Enter to send', send: 'Send', typing: 'Support is typing', open: 'Chat with us', close: 'Close',
        hello: 'Hi there!', welcome: 'How can we help? Just type your question.', agent: 'Agent',
        failed: 'Not sent', brand: 'Powered by Switchboard',
      };
  var TOKEN_KEY = 'switchboard-webchat-token:' + hub;

  // ---------- DOM helpers ----------
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  var SVG_NS = 'http://www.w3.org/2000/svg';
  function icon(paths) {
    var s = document.createElementNS(SVG_NS, 'svg');
    s.setAttribute('viewBox', '0 0 24 24');
    s.setAttribute('fill', 'none');
    s.setAttribute('stroke', 'currentColor');
    s.setAttribute('stroke-width', '2');
    s.setAttribute('stroke-linecap', 'round');
    s.setAttribute('stroke-linejoin', 'round');
    s.setAttribute('aria-hidden', 'true');
    paths.forEach(function (d) {
      var p = document.createElementNS(SVG_NS, 'path');
      p.setAttribute('d', d);
      s.appendChild(p);
    });
    return s;
  }
  var ICON_CHAT = ['M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z', 'M8.5 12h.01M12 12h.01M15.5 12h.01'];
  var ICON_SEND = ['M22 2 11 13', 'M22 2 15 22l-4-9-9-4 20-7z'];
  var ICON_CLOSE = ['M18 6 6 18', 'M6 6l12 12'];

  /** Text with http(s) links made clickable, built from text nodes only. */
  function appendText(parent, text) {
    var re = /https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;
    var last = 0;
    var m;
    while ((m = re.exec(text))) {
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      var a = el('a', null, m[0]);
      a.href = m[0];
      a.target = '_blank';
      a.rel = 'noopener noreferrer nofollow';
      parent.appendChild(a);
      last = m.index + m[0].length;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  // ---------- build the widget ----------
  var host = el('div');
  host.id = 'switchboard-webchat';
  host.className = 'sb-' + mode;
  var root = host.attachShadow({ mode: 'open' });
  var css = el('link');
  css.rel = 'stylesheet';
  css.href = hub + '/webchat/widget.css';
  root.appendChild(css);
  var shell = el('div', 'sb-' + mode);
  var wrap = el('div', 'sb-wrap');
  shell.appendChild(wrap);
  root.appendChild(shell);
  var ready = function () {
    wrap.classList.add('sb-ready');
  };
  css.addEventListener('load', ready);
  setTimeout(ready, 3000);

  var panel = el('div', 'sb-panel');
  panel.setAttribute('role', mode === 'embed' ? 'dialog' : 'main');
  var header = el('div', 'sb-header');
  var avatar = el('div', 'sb-avatar');
  avatar.appendChild(icon(ICON_CHAT));
  var heading = el('div', 'sb-heading');
  var titleEl = el('div', 'sb-title', T.title);
  var statusEl = el('div', 'sb-status', T.connecting);
  heading.appendChild(titleEl);
  heading.appendChild(statusEl);
  header.appendChild(avatar);
  header.appendChild(heading);
  var list = el('div', 'sb-list');
  list.setAttribute('role', 'log');
  list.setAttribute('aria-live', 'polite');
  var empty = el('div', 'sb-empty');
  var emptyIcon = el('div', 'sb-empty-icon');
  emptyIcon.appendChild(icon(ICON_CHAT));
  empty.appendChild(emptyIcon);
  empty.appendChild(el('strong', null, T.hello));
  empty.appendChild(el('span', null, T.welcome));
  list.appendChild(empty);
  var typingRow = el('div', 'sb-row sb-from-bot sb-typing');
  typingRow.setAttribute('aria-label', T.typing);
  typingRow.hidden = true;
  var typingBubble = el('div', 'sb-bubble');
  for (var i = 0; i < 3; i++) typingBubble.appendChild(el('span', 'sb-dot'));
  typingRow.appendChild(typingBubble);
  list.appendChild(typingRow);
  var form = el('form', 'sb-composer');
  var input = el('textarea', 'sb-input');
  input.rows = 1;
  input.maxLength = 5000;
  input.placeholder = T.placeholder;
  input.setAttribute('aria-label', T.placeholder);
  var sendBtn = el('button', 'sb-send');
  sendBtn.type = 'submit';
  sendBtn.setAttribute('aria-label', T.send);
  sendBtn.title = T.send;
  sendBtn.appendChild(icon(ICON_SEND));
  form.appendChild(input);
  form.appendChild(sendBtn);
  panel.appendChild(header);
  panel.appendChild(list);
  panel.appendChild(form);
  panel.appendChild(el('div', 'sb-brand', T.brand));

  var launcher, badge;
  if (mode === 'embed') {
    var closeBtn = el('button', 'sb-close');
    closeBtn.type = 'button';
    closeBtn.setAttribute('aria-label', T.close);
    closeBtn.appendChild(icon(ICON_CLOSE));
    closeBtn.addEventListener('click', function () {
      setOpen(false);
    });
    header.appendChild(closeBtn);
    launcher = el('button', 'sb-launcher');
    launcher.type = 'button';
    launcher.setAttribute('aria-label', T.open);
    launcher.title = T.open;
    launcher.appendChild(icon(ICON_CHAT));
    badge = el('span', 'sb-badge');
    badge.hidden = true;
    launcher.appendChild(badge);
    launcher.addEventListener('click', function () {
      setOpen(panel.hidden);
    });
    panel.hidden = true;
    wrap.appendChild(panel);
    wrap.appendChild(launcher);
  } else {
    wrap.appendChild(panel);
  }

  function setTitle(t) {
    var chosen = t && (zh ? t.zh : t.en);
    titleEl.textContent = chosen || T.title;
    if (mode === 'page') document.title = titleEl.textContent;
  }
  if (mode === 'page') {
    var d = document.documentElement.dataset;
    document.documentElement.lang = zh ? 'zh-CN' : 'en';
    setTitle({ zh: d.titleZh, en: d.titleEn });
  } else {
    setTitle(null);
  }

  // ---------- messages ----------
  var known = {}; // message ids on screen (history ids, reply ids, client ids)
  var pending = []; // [{id, frame, row, sent}] not yet acknowledged, in send order

  function isKnown(id) {
    return known[id] || known[id + '#0'];
  }
  function nearBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 120;
  }
  function scrollDown() {
    list.scrollTop = list.scrollHeight;
  }
  function firstPendingRow() {
    return pending.length ? pending[0].row : typingRow;
  }

  function renderRow(m, before) {
    var row = el('div', 'sb-row sb-from-' + (m.author || 'bot'));
    row.dataset.id = m.id;
    if (m.author === 'agent') row.appendChild(el('div', 'sb-name', m.authorName || T.agent));
    var bubble = el('div', 'sb-bubble');
    appendText(bubble, String(m.text || ''));
    if (m.at) bubble.title = new Date(m.at).toLocaleString(lang);
    row.appendChild(bubble);
    if (m.buttons && m.buttons.length) {
      var box = el('div', 'sb-buttons');
      m.buttons.forEach(function (b) {
        var chip = el('button', 'sb-chip', b.label);
        chip.type = 'button';
        chip.addEventListener('click', function () {
          disableButtons();
          sendButton(b);
        });
        box.appendChild(chip);
      });
      row.appendChild(box);
    }
    // Only the newest reply's buttons stay clickable.
    if (m.author !== 'customer') disableButtons();
    list.insertBefore(row, before || typingRow);
    known[m.id] = true;
    empty.hidden = true;
    return row;
  }
  function disableButtons() {
    var chips = list.querySelectorAll('.sb-chip');
    for (var j = 0; j < chips.length; j++) chips[j].disabled = true;
  }
  function setMeta(row, text) {
    var meta = row.querySelector('.sb-meta');
    if (!meta) {
      meta = el('div', 'sb-meta');
      row.appendChild(meta);
    }
    meta.textContent = text;
  }

  function mergeHistory(items) {
    var before = firstPendingRow();
    items.forEach(function (m) {
      if (isKnown(m.id)) return;
      if (m.author === 'customer' && !m.text) return; // a sign-in or a link, not something typed
      if (m.author === 'customer') {
        // A message typed here (client id) comes back from history under its stored id.
        var rows = list.querySelectorAll('.sb-from-customer:not([data-bound])');
        for (var j = 0; j < rows.length; j++) {
          var b = rows[j].querySelector('.sb-bubble');
          if (b && b.textContent === m.text) {
            rows[j].dataset.bound = '1';
            known[m.id] = true;
            return;
          }
        }
      }
      var row = renderRow(m, before);
      row.dataset.bound = '1';
    });
    var last = items[items.length - 1];
    if (last && last.author === 'customer' && !pending.length) disableButtons();
    scrollDown();
  }

  function newId() {
    return 'c' + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
  }
  function queue(frame, text) {
    var row = renderRow({ id: frame.id, author: 'customer', text: text });
    row.classList.add('sb-pending');
    pending.push({ id: frame.id, frame: frame, row: row, sent: false });
    scrollDown();
    flush();
  }
  function sendText(text) {
    text = text.trim();
    if (!text) return;
    queue({ type: 'message', id: newId(), text: text }, text);
  }
  function sendButton(b) {
    queue({ type: 'button', id: newId(), value: b.value, label: b.label }, b.label);
  }
  function flush() {
    if (!ws || ws.readyState !== 1 || !helloSeen) return;
    pending.forEach(function (p) {
      if (p.sent) return;
      p.sent = true;
      ws.send(JSON.stringify(p.frame));
    });
  }
  function settle(id, failure) {
    for (var j = 0; j < pending.length; j++) {
      if (pending[j].id !== id) continue;
      var p = pending.splice(j, 1)[0];
      p.row.classList.remove('sb-pending');
      if (failure) {
        p.row.classList.add('sb-failed');
        setMeta(p.row, T.failed + ' · ' + failure);
      }
      return true;
    }
    return false;
  }
  function retryLater(id) {
    pending.forEach(function (p) {
      if (p.id === id) p.sent = false;
    });
    setTimeout(flush, 2000);
  }

  var typingTimer = null;
  function setTyping(on) {
    clearTimeout(typingTimer);
    var stick = nearBottom();
    typingRow.hidden = !on;
    if (on) typingTimer = setTimeout(function () { typingRow.hidden = true; }, 20000);
    if (stick) scrollDown();
  }

  function onFrame(f) {
    if (!f || typeof f.type !== 'string') return;
    switch (f.type) {
      case 'hello':
        helloSeen = true;
        attempt = 0;
        setStatus(true);
        if (userId) ws.send(JSON.stringify({ type: 'identify', userId: String(userId), userHash: userHash ? String(userHash) : undefined }));
        if (linkToken) {
          linkId = linkId || newId();
          ws.send(JSON.stringify({ type: 'link', id: linkId, token: linkToken }));
        }
        break;
      case 'history':
        mergeHistory(Array.isArray(f.messages) ? f.messages : []);
        flush();
        break;
      case 'message':
        if (isKnown(f.id)) return;
        var stick = nearBottom() || f.author === 'customer';
        if (f.author !== 'customer') setTyping(false);
        renderRow(f);
        if (stick) scrollDown();
        if (mode === 'embed' && panel.hidden && f.author !== 'customer') badge.hidden = false;
        break;
      case 'typing':
        setTyping(!!f.on);
        break;
      case 'ack':
        if (linkId && f.id === linkId) linkToken = linkId = null;
        settle(f.id);
        break;
      case 'error':
        if (f.id && (f.code === 'RATE_LIMITED' || f.code === 'UNAVAILABLE')) retryLater(f.id);
        else if (!(f.id && settle(f.id, f.message)) && window.console) console.warn('[switchboard webchat]', f.code, f.message);
        break;
    }
  }

  // ---------- connection ----------
  var ws = null;
  var helloSeen = false;
  var attempt = 0;
  var started = false;
  var reconnectTimer = null;

  function setStatus(online) {
    statusEl.textContent = online ? T.online : attempt ? T.reconnecting : T.connecting;
    statusEl.classList.toggle('sb-online', online);
  }
  function storedToken() {
    try {
      return localStorage.getItem(TOKEN_KEY);
    } catch (e) {
      return null;
    }
  }
  function embedSession() {
    var t = storedToken();
    var url = hub + '/webchat/session' + (t ? '?token=' + encodeURIComponent(t) : '');
    return fetch(url, { credentials: 'include' })
      .then(function (r) {
        if (!r.ok) throw new Error('session ' + r.status);
        return r.json();
      })
      .then(function (s) {
        if (s.title) setTitle(s.title);
        if (s.token) {
          try {
            localStorage.setItem(TOKEN_KEY, s.token);
          } catch (e) {
            /* storage blocked: the cookie still works on https */
          }
        }
        return s.token || null;
      });
  }
  function open(token) {
    var url = hub.replace(/^http/, 'ws') + '/webchat/ws?lang=' + encodeURIComponent(lang) + (token ? '&token=' + encodeURIComponent(token) : '');
    helloSeen = false;
    ws = new WebSocket(url);
    ws.onmessage = function (ev) {
      var f;
      try {
        f = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      onFrame(f);
    };
    ws.onclose = function () {
      ws = null;
      helloSeen = false;
      pending.forEach(function (p) {
        p.sent = false;
      });
      scheduleReconnect();
    };
  }
  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    setStatus(false);
    if (mode === 'page') return open(null);
    embedSession().then(open, scheduleReconnect);
  }
  function scheduleReconnect() {
    if (reconnectTimer) return;
    attempt++;
    setStatus(false);
    var delay = Math.min(15000, 500 * Math.pow(2, attempt - 1)) * (0.75 + Math.random() * 0.5);
    reconnectTimer = setTimeout(connect, delay);
  }
  window.addEventListener('online', function () {
    if (started && !ws) connect();
  });
  function start() {
    if (started) return;
    started = true;
    connect();
  }

  function setOpen(on) {
    panel.hidden = !on;
    launcher.setAttribute('aria-expanded', String(on));
    try {
      sessionStorage.setItem(TOKEN_KEY + ':open', on ? '1' : '');
    } catch (e) {
      /* ignore */
    }
    if (on) {
      badge.hidden = true;
      start();
      setTimeout(function () {
        input.focus();
        scrollDown();
      }, 50);
    }
  }

  // ---------- input ----------
  function autosize() {
    input.style.height = 'auto';
    input.style.height = Math.max(42, Math.min(input.scrollHeight, 120)) + 'px';
  }
  input.addEventListener('input', autosize);
  input.addEventListener('keydown', function (e) {
    // Enter sends; Shift+Enter is a new line; never while an IME (pinyin...) is composing.
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submit();
    }
  });
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    submit();
  });
  function submit() {
    var text = input.value;
    if (!text.trim()) return;
    input.value = '';
    autosize();
    sendText(text);
    input.focus();
  }

  function mount() {
    document.body.appendChild(host);
    if (mode === 'page') {
      start();
      input.focus();
    } else {
      var wasOpen = false;
      try {
        wasOpen = sessionStorage.getItem(TOKEN_KEY + ':open') === '1';
      } catch (e) {
        /* ignore */
      }
      if (wasOpen) setOpen(true);
    }
  }
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount);
})();

// The playground's "mini program": the real @wxauth/client SDK on a tiny browser `wx` (fetch +
// localStorage), with the WeChat client's part (wx.login, the getPhoneNumber button, wx.getWeRunData)
// played by the simulator through /playground/wx/*. Every wx call is traced so the page can explain it.
import { createAuthClient, createWxPlatform, isWxAuthError } from '/playground/sdk.js';

const $ = (id) => document.getElementById(id);
const STORAGE_KEY = 'wxauth-playground';
const SESSION_ENTRY = `${STORAGE_KEY}:session`;
const OPENID_KEY = `${STORAGE_KEY}:openid`;
const CLOCK_KEY = `${STORAGE_KEY}:clock`;
const LOG_KEY = `${STORAGE_KEY}:log`;

/** What the wx adapter saw during the current action. */
let trace = [];
/** The device clock's offset: "Skip 16 minutes" moves it, as if the phone had been in a pocket. */
let skewMs = Number(sessionStorage.getItem(CLOCK_KEY) ?? 0);

const postJson = async (url, body) => {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const data = await res.json();
  if (!res.ok) throw new Error(data.error?.message ?? `HTTP ${res.status}`);
  return data;
};

/** A wx-like runtime for the browser. Like wx.request, `success` fires for ANY status that arrived. */
const browserWx = {
  login(option) {
    const entry = { kind: 'login', openid: $('openid').value.trim() };
    trace.push(entry);
    postJson('/playground/wx/login', { openid: entry.openid })
      .then((body) => {
        entry.code = body.code;
        option.success?.({ code: body.code, errMsg: 'login:ok' });
      })
      .catch((error) => {
        entry.error = error.message;
        option.fail?.({ errMsg: `login:fail ${error.message}` });
      });
  },
  request(option) {
    const method = option.method ?? 'GET';
    const headers = { 'content-type': 'application/json', ...option.header };
    const url = new URL(option.url);
    const entry = {
      kind: 'request',
      method,
      path: url.pathname,
      body: option.data,
      auth: 'authorization' in headers,
    };
    trace.push(entry);
    const body =
      method === 'GET' || method === 'HEAD' || option.data === undefined
        ? undefined
        : typeof option.data === 'string'
          ? option.data
          : JSON.stringify(option.data);
    fetch(url, { method, headers, body }).then(
      async (res) => {
        const text = await res.text();
        let data = text;
        try {
          data = JSON.parse(text);
        } catch {
          // not JSON: wx.request hands over the text
        }
        const header = {};
        res.headers.forEach((value, name) => {
          header[name] = value;
        });
        entry.status = res.status;
        entry.response = data;
        option.success?.({ data, statusCode: res.status, header, errMsg: 'request:ok' });
      },
      (error) => {
        entry.error = error.message;
        option.fail?.({ errMsg: `request:fail ${error.message}` });
      },
    );
  },
  getStorageSync: (key) => localStorage.getItem(key) ?? '',
  setStorageSync: (key, value) => localStorage.setItem(key, value),
  removeStorageSync: (key) => localStorage.removeItem(key),
};

const dev = await fetch('/__dev').then((res) => res.json());
const auth = createAuthClient({
  baseURL: location.origin,
  appId: dev.appId,
  storageKey: STORAGE_KEY,
  platform: createWxPlatform(browserWx),
  now: () => Date.now() + skewMs,
});
auth.onChange((_state, reason) => {
  trace.push({ kind: 'change', reason });
  // Another user, or none: what the old one's lists showed no longer applies.
  if (reason !== 'refresh' && reason !== 'user') {
    $('session-list').innerHTML = '';
    $('steps').innerHTML = '';
  }
});

// ---------------------------------------------------------------------------------------------
// Rendering

const short = (text, keep = 18) =>
  typeof text === 'string' && text.length > keep * 2 + 3 ? `${text.slice(0, keep)}…${text.slice(-6)}` : text;

/** Long strings (tokens) shortened for display; the real values stay in storage. */
const forDisplay = (value) =>
  JSON.stringify(value, (key, v) => (typeof v === 'string' && /token|code$/i.test(key) ? short(v) : v), 2);

const claimsOf = (jwt) => {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part));
  } catch {
    return null;
  }
};

const clockText = () => `device clock +${Math.round(skewMs / 60_000)} min`;
const when = (ms) => new Date(ms).toLocaleTimeString();

function renderStatus() {
  const state = auth.getState();
  const status = $('status');
  status.dataset.state = state.loggedIn ? 'in' : 'out';
  status.textContent = state.loggedIn ? 'Logged in' : 'Logged out';
  $('user-id').textContent = state.user?.id ?? '–';
  $('user-phone').textContent = state.user?.phone ?? '–';
  $('user-wechat').textContent = state.user?.wechat.map((w) => w.openid).join(', ') || '–';
  if (state.accessTokenExpiresAt) {
    const left = Math.round((state.accessTokenExpiresAt - (Date.now() + skewMs)) / 1000);
    $('token-expiry').textContent =
      left > 0
        ? `valid for ${Math.floor(left / 60)}m ${left % 60}s`
        : `expired ${Math.floor(-left / 60)}m ago`;
  } else {
    $('token-expiry').textContent = '–';
  }
  $('clock').textContent = clockText();
}

function renderStorage() {
  const raw = localStorage.getItem(SESSION_ENTRY);
  const box = $('storage');
  if (!raw) {
    box.innerHTML = `<h3>Storage: <code>${SESSION_ENTRY}</code></h3><pre>(empty: nothing to restore on the next launch)</pre>`;
    return;
  }
  const saved = JSON.parse(raw);
  const claims = claimsOf(saved.accessToken);
  const view = {
    accessToken: `${short(saved.accessToken)}  (JWT, ES256)`,
    claims: claims && {
      sub: claims.sub,
      sid: claims.sid,
      app_id: claims.app_id,
      'exp (server clock)': when(claims.exp * 1000),
    },
    refreshToken: `${short(saved.refreshToken)}  (opaque, rotated on every refresh)`,
    'accessExpiresAt (device clock)': when(saved.accessExpiresAt),
    user: {
      id: saved.user.id,
      phone: saved.user.phone,
      wechat: saved.user.wechat.map((w) => `${w.appId}/${w.openid}`),
    },
  };
  box.innerHTML = `<h3>Storage: <code>${SESSION_ENTRY}</code>, the one key the SDK writes. No session_key: it never leaves the server.</h3><pre></pre>`;
  box.querySelector('pre').textContent = JSON.stringify(view, null, 2);
}

function render() {
  renderStatus();
  renderStorage();
}

const log = JSON.parse(sessionStorage.getItem(LOG_KEY) ?? '[]');

function renderLog() {
  const list = $('log');
  list.innerHTML = '';
  for (const item of log) {
    const li = document.createElement('li');
    li.className = item.ok ? 'ok' : 'error';
    li.innerHTML = `<h3></h3><p></p><ul class="trace"></ul>`;
    const h3 = li.querySelector('h3');
    h3.textContent = item.title;
    const tag = document.createElement('span');
    tag.className = `tag ${item.ok ? 'ok' : 'error'}`;
    tag.textContent = item.ok ? 'ok' : (item.errorCode ?? 'error');
    h3.append(tag);
    li.querySelector('p').textContent = item.explanation;
    const ul = li.querySelector('.trace');
    for (const entry of item.trace) ul.append(traceLine(entry));
    list.append(li);
  }
}

function traceLine(entry) {
  const li = document.createElement('li');
  if (entry.kind === 'login') {
    li.innerHTML = `<span class="arrow">wx</span> wx.login() <span class="arrow">→</span> <span class="s2"></span>`;
    li.querySelector('.s2').textContent = entry.code
      ? `code ${short(entry.code, 8)}`
      : `fail: ${entry.error}`;
  } else if (entry.kind === 'change') {
    li.innerHTML = `<span class="arrow">◆</span> onChange: <b></b>`;
    li.querySelector('b').textContent = entry.reason;
  } else if (entry.kind === 'note') {
    li.innerHTML = `<span class="arrow">·</span> <span></span>`;
    li.querySelector('span:last-child').textContent = entry.text;
  } else {
    const status = entry.status ?? 'fail';
    li.innerHTML = `<span class="arrow">→</span> <span class="req"></span> <span class="arrow">→</span> <span class="s${String(status)[0]}">${status}</span>`;
    li.querySelector('.req').textContent = `${entry.method} ${entry.path}`;
    if (entry.auth)
      li.querySelector('.req').insertAdjacentHTML('afterend', ' <span class="bearer">Bearer</span>');
    const details = document.createElement('details');
    details.innerHTML = '<summary>request and response</summary><pre></pre>';
    details.querySelector('pre').textContent =
      `${entry.body ? `body ${forDisplay(entry.body)}\n` : ''}answer ${forDisplay(entry.response ?? entry.error)}`;
    li.append(details);
  }
  return li;
}

function remember(item) {
  log.unshift(item);
  log.length = Math.min(log.length, 40);
  sessionStorage.setItem(LOG_KEY, JSON.stringify(log));
  renderLog();
}

// ---------------------------------------------------------------------------------------------
// What the trace shows, in words

const has = (entries, path, status) =>
  entries.some(
    (e) => e.kind === 'request' && e.path === path && (status === undefined || e.status === status),
  );

function explainTrace(entries) {
  const says = [];
  if (has(entries, '/v1/auth/token/refresh', 200))
    says.push(
      'The access token had expired by the device clock, so the SDK refreshed it first: POST /v1/auth/token/refresh rotated the refresh token. The old one is retired; presenting it again later would end the session (reuse detection), which is why the SDK never runs two refreshes at once.',
    );
  if (has(entries, '/v1/auth/token/refresh', 401))
    says.push(
      'The refresh was refused: the session had ended on the server. The SDK dropped it and logged in again with one fresh wx.login.',
    );
  else if (has(entries, '/v1/auth/wechat/login') && !entries.some((e) => e.explicitLogin))
    says.push(
      'There was no usable session, so the SDK ran wx.login first and exchanged the code; calls made meanwhile would all have waited for this one login.',
    );
  if (entries.some((e) => e.kind === 'request' && e.status === 401 && e.path !== '/v1/auth/token/refresh'))
    says.push('The server answered 401: the SDK renewed the session once and retried the request once.');
  return says.join(' ');
}

/** Runs one user action: traces it, then logs what happened and why. */
async function act(button, title, explain, action) {
  trace = [];
  button.disabled = true;
  let outcome;
  let error;
  try {
    outcome = await action();
  } catch (err) {
    error = err;
  }
  button.disabled = false;
  const entries = trace;
  trace = [];
  const base = typeof explain === 'function' ? explain(outcome, error) : explain;
  const failure = error
    ? isWxAuthError(error)
      ? ` The SDK threw ${error.code} (HTTP ${error.status || 'none'}): “${error.message}”`
      : ` Failed: ${error.message}`
    : '';
  remember({
    title,
    ok: !error,
    errorCode: isWxAuthError(error) ? error.code : undefined,
    explanation: [base, explainTrace(entries), failure].filter(Boolean).join(' '),
    trace: entries,
  });
  render();
  return outcome;
}

const on = (id, title, explain, action) => {
  const button = $(id);
  button.addEventListener('click', () => act(button, title, explain, action));
};

// ---------------------------------------------------------------------------------------------
// The steps

const newOpenid = () => `o_play_${Math.random().toString(36).slice(2, 10)}`;
$('openid').value = localStorage.getItem(OPENID_KEY) || newOpenid();
localStorage.setItem(OPENID_KEY, $('openid').value);
$('openid').addEventListener('change', () => localStorage.setItem(OPENID_KEY, $('openid').value.trim()));
$('new-user').addEventListener('click', () => {
  $('openid').value = newOpenid();
  localStorage.setItem(OPENID_KEY, $('openid').value);
});

on(
  'login',
  'Log in with WeChat',
  (result) =>
    result
      ? `wx.login() gave the mini program a one-time code (valid 5 minutes). auth.login() sent it to POST /v1/auth/wechat/login; the server exchanged it with WeChat (code2Session) for the openid and the session_key, kept the session_key sealed on its side, and answered with its own tokens. ${result.isNewUser ? 'A new user was created.' : 'A known user, or a session that was still usable (then no call at all).'}`
      : 'auth.login() could not log in.',
  () => {
    trace.push({ kind: 'note', text: 'auth.login()', explicitLogin: true });
    return auth.login();
  },
);

on(
  'me',
  'GET /v1/me',
  'auth.request() attached the access token (Authorization: Bearer) and checked statusCode itself: wx.request reports "success" for any status, a 401 or 500 included.',
  async () => (await auth.request({ url: '/v1/me' })).data,
);

$('skip').addEventListener('click', () => {
  skewMs += 16 * 60_000;
  sessionStorage.setItem(CLOCK_KEY, String(skewMs));
  remember({
    title: 'Skip 16 minutes',
    ok: true,
    explanation:
      'The device clock moved on 16 minutes: the 15-minute access token has expired. The next call refreshes it first (one refresh, however many calls are waiting).',
    trace: [],
  });
  render();
});

$('restart').addEventListener('click', () => {
  sessionStorage.setItem(`${STORAGE_KEY}:restarting`, '1');
  location.reload();
});

on(
  'sessions',
  'List sessions',
  (sessions) =>
    sessions
      ? `GET /v1/sessions: ${sessions.length} active session(s) of this user, one per device or login. "End" revokes one (DELETE /v1/sessions/{id}); the device holding it is logged out within seconds.`
      : 'Listing sessions failed.',
  async () => {
    const sessions = await auth.listSessions();
    renderSessions(sessions);
    return sessions;
  },
);

function renderSessions(sessions) {
  const list = $('session-list');
  list.innerHTML = '';
  for (const session of sessions) {
    const li = document.createElement('li');
    li.innerHTML = '<span></span><button type="button" class="ghost">End</button>';
    li.querySelector('span').innerHTML =
      `<code></code> ${session.current ? '<span class="current">this device</span>' : ''}`;
    li.querySelector('code').textContent =
      `${session.id.slice(0, 8)}… since ${when(session.createdAt * 1000)}`;
    const end = li.querySelector('button');
    end.addEventListener('click', () =>
      act(
        end,
        'End a session',
        session.current
          ? 'DELETE /v1/sessions/{id} ended this very session. The tokens in storage are now dead; the next call gets a 401, the refresh is refused, and the SDK logs in afresh.'
          : 'DELETE /v1/sessions/{id} ended another session of this user.',
        async () => {
          await auth.revokeSession(session.id);
          renderSessions(await auth.listSessions().catch(() => []));
        },
      ),
    );
    list.append(li);
  }
}

const e164 = () => `+86${$('phone').value.trim()}`;

on(
  'sms-send',
  'Send an SMS code',
  'POST /v1/auth/sms/send. In dev mode no SMS leaves the machine: the code waits in the dev inbox (GET /__dev/sms?phone=…). The server allows one code a minute per number.',
  () => auth.sendSmsCode($('phone').value.trim()),
);

on(
  'sms-inbox',
  'Read the dev SMS inbox',
  (code) =>
    code
      ? `GET /__dev/sms?phone=${e164()} shows the newest code, ${code}; it is now in the code field. On a real phone the user would read it from the SMS.`
      : 'The inbox has no code for this number yet: send one first.',
  async () => {
    const res = await fetch(`/__dev/sms?phone=${encodeURIComponent(e164())}`);
    const { messages } = await res.json();
    trace.push({ kind: 'note', text: `GET /__dev/sms → ${messages.length} message(s)` });
    if (messages[0]) $('sms-code').value = messages[0].code;
    return messages[0]?.code;
  },
);

on(
  'sms-login',
  'Log in with SMS',
  (result) =>
    result
      ? `auth.loginWithSms() sent the number and code to POST /v1/auth/sms/login; the code is single-use and wrong guesses are counted. This session belongs to the phone account ${result.user.id.slice(0, 8)}…${result.isNewUser ? ' (new)' : ''}.`
      : 'The SMS login was refused.',
  () => {
    trace.push({ kind: 'note', text: 'auth.loginWithSms(phone, code)', explicitLogin: true });
    return auth.loginWithSms($('phone').value.trim(), $('sms-code').value.trim());
  },
);

/** Plays the getPhoneNumber button: the simulator issues the phone code WeChat would. */
async function tapPhoneButton() {
  const { code } = await postJson('/playground/wx/phone-code', { phoneNumber: $('phone').value.trim() });
  trace.push({
    kind: 'note',
    text: `getPhoneNumber button → event.detail.code ${short(code, 8)}`,
    explicitLogin: true,
  });
  return { type: 'getphonenumber', detail: { errMsg: 'getPhoneNumber:ok', code } };
}

on(
  'phone-login',
  'One-tap phone login',
  (result) =>
    result
      ? `The button's event went to auth.phoneLogin() as is. With a fresh wx.login code, POST /v1/auth/wechat/phone-login asked WeChat for the number (getuserphonenumber) and logged in one user holding both the WeChat identity and the phone.`
      : 'The one-tap login was refused (a phone already owned by another account answers phone_conflict).',
  async () => auth.phoneLogin(await tapPhoneButton()),
);

on(
  'bind-phone',
  'Bind a phone to this user',
  (phone) =>
    phone
      ? `auth.bindPhone(event) → POST /v1/me/phone bound ${phone}. The server wants a login from the last 5 minutes; when it is older the SDK logs in again silently and retries once.`
      : 'Binding failed.',
  async () => auth.bindPhone(await tapPhoneButton()),
);

const wechatOpenid = () => {
  const state = auth.getState();
  const identity = state.user?.wechat.find((w) => w.appId === dev.appId);
  if (!identity) throw new Error('Log in with WeChat first: open data belongs to a WeChat identity.');
  return identity.openid;
};

on(
  'decrypt',
  'Decrypt WeChat open data',
  (result, error) =>
    isWxAuthError(error, 'session_key_stale')
      ? 'The server could not open the data: it was sealed with a session_key the server never saw. The SDK logged in again (one wx.login), so the server now holds the current key — but data sealed with the old key can never be opened. Click the button again: wx.getWeRunData seals the data anew.'
      : result
        ? 'wx.getWeRunData returned the steps encrypted with the session_key, which only WeChat and the server know. auth.decrypt() posted them to /v1/wechat/decrypt; the server opened them and checked the watermark against this app.'
        : 'Decryption failed.',
  async () => {
    const sealed = await postJson('/playground/wx/werun', { openid: wechatOpenid() });
    trace.push({
      kind: 'note',
      text: `wx.getWeRunData() → encryptedData ${short(sealed.encryptedData, 10)}, iv`,
      explicitLogin: true,
    });
    const data = await auth.decrypt(sealed);
    renderSteps(data.stepInfoList ?? []);
    return data;
  },
);

function renderSteps(list) {
  const box = $('steps');
  box.innerHTML = '<table></table>';
  const table = box.querySelector('table');
  for (const day of list) {
    const row = table.insertRow();
    row.insertCell().textContent = new Date(day.timestamp * 1000).toLocaleDateString();
    row.insertCell().textContent = `${day.step} steps`;
  }
}

on(
  'rotate',
  'A wx.login elsewhere replaced the session_key',
  "WeChat replaced this user's session_key (as a wx.login whose code never reached the server would). The server still holds the old key, so the next decrypt fails with session_key_stale — watch how the SDK handles it.",
  async () => postJson('/playground/wx/rotate-session-key', { openid: wechatOpenid() }),
);

on(
  'logout',
  'Log out',
  'auth.logout() cleared the local state at once (onChange fired before any request), then POST /v1/auth/logout ended the session on the server. Offline, only the second half would be skipped.',
  () => auth.logout(),
);

on(
  'logout-all',
  'Log out everywhere',
  'auth.logout({ all: true }): every session of this user ends, on every device.',
  () => auth.logout({ all: true }),
);

$('clear-log').addEventListener('click', () => {
  log.length = 0;
  sessionStorage.removeItem(LOG_KEY);
  renderLog();
});

// ---------------------------------------------------------------------------------------------
// Launch

const restarted = sessionStorage.getItem(`${STORAGE_KEY}:restarting`) === '1';
sessionStorage.removeItem(`${STORAGE_KEY}:restarting`);
const launch = auth.getState();
remember({
  title: restarted ? 'App restarted' : 'App launched',
  ok: true,
  explanation: launch.loggedIn
    ? `createAuthClient() restored the session from storage (${SESSION_ENTRY}) synchronously: a returning user makes no wx.login and no request. An expired access token would be refreshed on the first call; a dead session would trigger one fresh login.`
    : 'createAuthClient() found nothing in storage: logged out. Start with step 1.',
  trace: [],
});
render();
setInterval(renderStatus, 1000);
document.body.dataset.ready = 'true';

// The wallboard (docs/wallboard.md). No build step: a plain ES module, run as the daemon serves it.
// The token lives in sessionStorage only: it goes in the Authorization header of fetch calls, never
// in a URL; the event stream is opened with a one-time ticket (single use, 30 s).
const TOKEN_KEY = 'pbx-wallboard-token';
const API = '/api/v1';
const REFRESH_GAP_MS = 500; // figures are fetched at most once per 500 ms, after events
const STATES = [['ready', 'ready'], ['onCall', 'on call'], ['wrapUp', 'wrap-up'], ['paused', 'paused']];
/** The page shrinks its type down to this share of full size to fit the screen; below it, it scrolls. */
const FIT_MIN = 0.6;
/** `/wallboard?queues=sales,support`: only these queues, and only their members among the agents. */
const ONLY_QUEUES = new Set((new URLSearchParams(window.location.search).get('queues') ?? '').split(',').map((q) => q.trim()).filter(Boolean));

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
};
const svgEl = (tag, attrs = {}) => {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
};

/** What the page knows: per queue its settings and figures, per agent its state and since when. */
const state = {
  queues: new Map(), // name -> { settings, live, today, intervals, waiting: Map(callId -> joinedAtMs) }
  agents: new Map(), // number -> { name, state, pauseReason, since }
  lastEventId: null,
};

class Unauthorized extends Error {}

async function api(path, init = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const res = await fetch(API + path, { ...init, headers: { ...init.headers, authorization: `Bearer ${token}` } });
  if (res.status === 401) throw new Unauthorized();
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

// ---------------------------------------------------------------- figures (debounced fetch)

let refreshTimer = null;
let lastRefresh = 0;
let refreshing = null;
let refreshAgain = false;

function scheduleRefresh() {
  if (refreshTimer) return;
  const wait = Math.max(0, lastRefresh + REFRESH_GAP_MS - Date.now());
  refreshTimer = setTimeout(() => { refreshTimer = null; void refresh(); }, wait);
}

async function refresh() {
  if (refreshing) { refreshAgain = true; return; }
  lastRefresh = Date.now();
  refreshing = load().catch(failed).finally(() => {
    refreshing = null;
    if (refreshAgain) { refreshAgain = false; scheduleRefresh(); }
  });
}

async function load() {
  const [allQueues, agents, live] = await Promise.all([api('/queues'), api('/agents/live'), api('/reports/queues/live')]);
  const queues = { items: ONLY_QUEUES.size ? allQueues.items.filter((q) => ONLY_QUEUES.has(q.name)) : allQueues.items };
  const todayRow = live.items.find((r) => r.window === 'today');
  const [views, intervals, members] = await Promise.all([
    Promise.all(queues.items.map((q) => api(`/queues/${encodeURIComponent(q.name)}/live`))),
    todayRow ? api(`/reports/queues?interval=30m&from=${encodeURIComponent(todayRow.from)}`) : { items: [] },
    ONLY_QUEUES.size ? Promise.all(queues.items.map((q) => api(`/queues/${encodeURIComponent(q.name)}/members`))) : null,
  ]);
  const shown = members ? new Set(members.flatMap((m) => m.items.map((a) => a.agent))) : null;
  const now = Date.now();
  const next = new Map();
  queues.items.forEach((q, i) => {
    const view = views[i];
    next.set(q.name, {
      settings: q,
      live: view,
      today: live.items.find((r) => r.queue === q.name && r.window === 'today') ?? null,
      intervals: intervals.items.filter((r) => r.queue === q.name),
      waiting: new Map(view.waiting.map((w) => [w.callId, now - w.waitingSeconds * 1000])),
    });
  });
  state.queues = next;
  state.agents = new Map(agents.items.filter((a) => !shown || shown.has(a.number)).map((a) => [a.number, { name: a.name, state: a.state, pauseReason: a.pauseReason, since: now - a.secondsInState * 1000 }]));
  render();
}

function failed(err) {
  if (err instanceof Unauthorized) return logout('The token was refused (401). Paste a valid one.');
  $('link').textContent = 'error: ' + err.message;
  $('link').className = 'bad';
}

// ---------------------------------------------------------------- the event stream

let source = null;
let retryMs = 1000;

async function openStream() {
  let ticket;
  try {
    ticket = (await api('/events/tickets', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).ticket;
  } catch (err) {
    if (err instanceof Unauthorized) return logout('The token was refused (401). Paste a valid one.');
    return retryStream();
  }
  const q = new URLSearchParams({ ticket });
  if (state.lastEventId) q.set('lastEventId', state.lastEventId);
  source = new EventSource(`${API}/events?${q}`);
  source.onopen = () => {
    retryMs = 1000;
    $('link').textContent = 'live';
    $('link').className = 'ok';
  };
  // A ticket opens one connection: when the stream closes, a new ticket, then resume after the last id.
  source.onerror = () => {
    if (source.readyState !== EventSource.CLOSED) return;
    retryStream();
  };
  for (const type of ['queue.joined', 'queue.left', 'agent.state', 'call.answered', 'call.ended']) {
    source.addEventListener(type, (msg) => { state.lastEventId = msg.lastEventId; onEvent(JSON.parse(msg.data)); });
  }
  source.addEventListener('resync', () => scheduleRefresh());
}

function retryStream() {
  source?.close();
  source = null;
  $('link').textContent = 'reconnecting';
  $('link').className = 'warn';
  setTimeout(() => { if (sessionStorage.getItem(TOKEN_KEY)) { void openStream(); scheduleRefresh(); } }, retryMs);
  retryMs = Math.min(retryMs * 2, 30000);
}

/** What an event changes is shown at once; the figures it moves are fetched again (debounced). */
function onEvent(ev) {
  const at = Math.min(Date.parse(ev.at), Date.now());
  const queue = ev.queue ? state.queues.get(ev.queue) : undefined;
  if (ev.type === 'queue.joined' && queue) queue.waiting.set(ev.callId, at);
  if (ev.type === 'queue.left' && queue) queue.waiting.delete(ev.callId);
  if (ev.type === 'agent.state' && (!ONLY_QUEUES.size || state.agents.has(ev.agent))) {
    const agent = state.agents.get(ev.agent) ?? { name: ev.agent };
    state.agents.set(ev.agent, { ...agent, state: ev.state, pauseReason: ev.pause?.name ?? null, since: at });
  }
  render();
  scheduleRefresh();
}

// ---------------------------------------------------------------- drawing

const pad = (n) => String(n).padStart(2, '0');
function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  return s >= 3600 ? `${Math.floor(s / 3600)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}` : `${Math.floor(s / 60)}:${pad(s % 60)}`;
}

function figure(label, value, cls = '', name = '') {
  return el('div', { class: 'figure' }, el('span', { class: 'label' }, label), el('span', { class: `value ${cls}`, 'data-figure': name }, value));
}

/** Colours from the queue's settings (docs/wallboard.md#colours). */
function longestWaitClass(q, seconds) {
  const limit = q.settings.maxWaitSeconds ?? q.settings.slSeconds * 3;
  if (seconds > limit) return 'bad';
  if (seconds > q.settings.slSeconds) return 'warn';
  return 'ok';
}

function longestWaitMs(q, now) {
  let oldest = now;
  for (const joined of q.waiting.values()) oldest = Math.min(oldest, joined);
  return now - oldest;
}

function slChart(q) {
  const W = 480, H = 100;
  const target = q.settings.slPercent;
  const svg = svgEl('svg', { class: 'chart', viewBox: `0 0 ${W} ${H + 14}`, role: 'img', 'aria-label': `service level by half hour today, target ${target}%` });
  const slot = W / 48;
  // Slots from local midnight (today's row of the live report), so a bar sits at its time of day.
  const dayStart = Date.parse(q.today?.from ?? q.intervals[0]?.from ?? '');
  for (const row of q.intervals) {
    if (row.serviceLevelPercent === null) continue;
    const i = Math.round((Date.parse(row.from) - dayStart) / 1800000);
    const h = (row.serviceLevelPercent / 100) * H;
    const bar = svgEl('rect', { x: i * slot + 1, y: H - h, width: slot - 2, height: Math.max(h, 1), class: row.serviceLevelPercent >= target ? 'bar-ok' : 'bar-bad' });
    bar.append(svgEl('title'));
    bar.firstChild.textContent = `${row.from.slice(11, 16)} ${Math.round(row.serviceLevelPercent)}%`;
    svg.append(bar);
  }
  svg.append(svgEl('line', { class: 'axis', x1: 0, x2: W, y1: H, y2: H }));
  const y = H - (target / 100) * H;
  svg.append(svgEl('line', { class: 'target', x1: 0, x2: W, y1: y, y2: y }));
  for (const hour of [0, 6, 12, 18]) {
    const t = svgEl('text', { x: hour * 2 * slot, y: H + 12 });
    t.textContent = `${pad(hour)}:00`;
    svg.append(t);
  }
  return svg;
}

function queueCard(q, now) {
  const { today, live, settings } = q;
  const waiting = q.waiting.size;
  const sl = today?.serviceLevelPercent ?? live.today.serviceLevelPercent;
  const slClass = sl === null || sl === undefined ? '' : sl >= settings.slPercent ? 'ok' : 'bad';
  const a = live.agents;
  const waitClass = waiting > 0 && a.ready === 0 ? 'bad' : waiting > 0 ? 'warn' : 'ok';
  const wait = longestWaitMs(q, now);
  return el('article', { class: 'queue', 'data-queue': settings.name },
    el('h2', {}, settings.name),
    el('div', { class: 'figures' },
      figure('waiting now', String(waiting), waitClass, 'waiting'),
      figure('longest wait', duration(wait), longestWaitClass(q, wait / 1000), 'longest-wait'),
      figure(`service level (target ${settings.slPercent}% in ${settings.slSeconds} s)`, sl === null || sl === undefined ? '–' : `${Math.round(sl)}%`, slClass, 'service-level'),
      figure('answered today', String(today?.answered ?? live.today.answered), '', 'answered'),
      figure('abandoned today', String(today?.abandoned ?? live.today.abandoned), (today?.abandoned ?? live.today.abandoned) > 0 ? 'warn' : '', 'abandoned'),
      figure('offered today', String(today?.offered ?? live.today.offered), '', 'offered'),
    ),
    el('div', { class: 'agents-by-state' }, ...STATES.map(([k, label]) => el('span', { 'data-agents': k }, `${label} ${a[k]}`))),
    slChart(q),
  );
}

function render() {
  const now = Date.now();
  $('queues').replaceChildren(...[...state.queues.values()].map((q) => queueCard(q, now)));
  const rows = [...state.agents.entries()].filter(([, a]) => a.state !== 'logged-out').sort(([x], [y]) => x.localeCompare(y));
  $('agents').tBodies[0].replaceChildren(...rows.map(([number, a]) =>
    el('tr', { 'data-agent': number },
      el('td', {}, `${number} ${a.name ?? ''}`),
      el('td', { class: `state-${a.state}`, 'data-field': 'state' }, a.state === 'paused' && a.pauseReason ? `paused (${a.pauseReason})` : a.state),
      el('td', { class: 'time', 'data-since': String(a.since) }, duration(now - a.since)))));
  tick();
  fit();
}

/**
 * No scrolling on a wall: when the board is taller or wider than the screen, all its type (every
 * size is in rem) is made smaller in steps of 5 %, down to FIT_MIN; below that, the page scrolls.
 * CSSOM, not a style attribute, so the CSP (no inline style) allows it.
 */
function fit() {
  const root = document.documentElement;
  const page = document.scrollingElement ?? root;
  const over = () => page.scrollHeight > page.clientHeight || page.scrollWidth > page.clientWidth;
  let scale = 1;
  root.style.setProperty('--fit', '1');
  while (over() && scale > FIT_MIN) {
    scale = Math.max(FIT_MIN, Math.round((scale - 0.05) * 100) / 100);
    root.style.setProperty('--fit', String(scale));
  }
  root.dataset.fit = String(scale);
}

/** The clocks tick here, in the page: no request. */
function tick() {
  const now = Date.now();
  $('clock').textContent = new Date(now).toLocaleTimeString();
  for (const td of document.querySelectorAll('td[data-since]')) td.textContent = duration(now - Number(td.dataset.since));
  for (const q of state.queues.values()) {
    const node = document.querySelector(`[data-queue="${CSS.escape(q.settings.name)}"] [data-figure="longest-wait"]`);
    if (!node) continue;
    const wait = longestWaitMs(q, now);
    node.textContent = duration(wait);
    node.className = `value ${longestWaitClass(q, wait / 1000)}`;
  }
}

// ---------------------------------------------------------------- login

function logout(message = '') {
  sessionStorage.removeItem(TOKEN_KEY);
  source?.close();
  source = null;
  $('board').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message;
}

function start() {
  $('login').hidden = true;
  $('board').hidden = false;
  void refresh();
  void openStream();
}

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $('token');
  sessionStorage.setItem(TOKEN_KEY, input.value.trim());
  input.value = '';
  start();
});
$('logout').addEventListener('click', () => logout());
window.addEventListener('resize', () => { if (!$('board').hidden) fit(); });
setInterval(tick, 1000);
if (sessionStorage.getItem(TOKEN_KEY)) start();
else logout();

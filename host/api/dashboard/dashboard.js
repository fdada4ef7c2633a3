// The sandhost dashboard: plain JavaScript over the HTTP API of the server that served it.
// The first render comes from ordinary requests; live updates follow over the event stream.
'use strict';

const PAGE_SIZE = 25;
const OUTCOME_COLORS = {
  succeeded: '#2e8540', failed: '#c0392b', timed_out: '#e67e22', crashed: '#8e1b10', exited: '#a569bd',
  resource_limit: '#d4ac0d', load_failed: '#566573', protocol_error: '#7d3c98', result_too_large: '#b9770e',
  spawn_failed: '#5d6d7e', cancelled: '#95a5a6', worker_lost: '#1f618d',
};
const STATES = ['waiting', 'delayed', 'blocked', 'active', 'completed', 'dead', 'cancelled'];

const state = {
  token: sessionStorage.getItem('sandhost.token') || '',
  tab: 'jobs',
  filters: { queue: '', state: '', task: '' },
  pages: [null],       // the cursor of each page seen, the first page's is null
  next: null,          // the cursor of the page after this one
  selected: null,      // the job shown below the list
  started: false,
};

class Unauthorized extends Error {}

// ---- helpers ------------------------------------------------------------------------------

function $(id) { return document.getElementById(id); }

// An element with attributes (class, data-*, on*) and children (nodes or text).
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name === 'class') node.className = value;
    else node.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function badge(text, kind) { return el('span', { class: 'state ' + (kind || text) }, text); }

function formatTime(text) {
  if (!text) return '–';
  const date = new Date(text);
  const today = new Date();
  const time = date.toLocaleTimeString([], { hour12: false });
  return date.toDateString() === today.toDateString() ? time : date.toLocaleDateString() + ' ' + time;
}

function formatAge(text) {
  if (!text) return '–';
  const seconds = Math.max(0, Math.round((Date.now() - new Date(text).getTime()) / 1000));
  if (seconds < 120) return seconds + ' s ago';
  if (seconds < 7200) return Math.round(seconds / 60) + ' min ago';
  return Math.round(seconds / 3600) + ' h ago';
}

function formatDuration(ms) {
  if (ms === undefined || ms === null) return '–';
  if (ms < 1000) return ms + ' ms';
  if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s';
  return Math.floor(ms / 60000) + ' min ' + Math.round((ms % 60000) / 1000) + ' s';
}

function formatKiB(kib) {
  if (kib === undefined || kib === null) return '–';
  if (kib < 1024) return kib + ' KiB';
  if (kib < 1024 * 1024) return (kib / 1024).toFixed(1) + ' MiB';
  return (kib / 1024 / 1024).toFixed(2) + ' GiB';
}

function short(value) {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 120 ? text.slice(0, 119) + '…' : text;
}

function pretty(value) {
  return el('pre', {}, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
}

function showError(message) {
  const banner = $('error');
  banner.textContent = message || '';
  banner.hidden = !message;
}

// ---- the API ------------------------------------------------------------------------------

async function api(path, options) {
  const headers = { Accept: 'application/json' };
  if (state.token) headers.Authorization = 'Bearer ' + state.token;
  const response = await fetch(path, Object.assign({ cache: 'no-store' }, options || {}, { headers }));
  if (response.status === 401) {
    askForToken(state.token ? 'That token was refused.' : '');
    throw new Unauthorized();
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new Error(body && body.error ? body.error.message : response.status + ' ' + response.statusText);
  }
  return body;
}

// Runs an action of a button; its errors go to the banner.
async function act(button, action) {
  button.disabled = true;
  try {
    await action();
    showError('');
  } catch (error) {
    if (!(error instanceof Unauthorized)) showError(error.message);
  } finally {
    button.disabled = false;
  }
}

function askForToken(message) {
  document.querySelector('main').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message;
  $('login-error').hidden = !message;
  $('token').focus();
}

// ---- queues and the chart -----------------------------------------------------------------

// POSTs a queue's bulk action (retry, cancel) again while more jobs match and the last request
// changed some (the API changes at most 1,000 a request); the last answer.
async function bulkUntilDone(queue, action, changed) {
  let outcome;
  do {
    outcome = await api('/api/v1/queues/' + encodeURIComponent(queue) + '/' + action, { method: 'POST' });
  } while (outcome.more && outcome[changed] > 0);
  return outcome;
}

// The jobs of a queue a cancel takes by default: those that have not started.
function notStarted(queue) { return queue.counts.waiting + queue.counts.delayed + queue.counts.blocked; }

async function loadQueues() {
  const { queues } = await api('/api/v1/queues');
  const body = $('queues').tBodies[0];
  body.replaceChildren(...queues.map((queue) => el('tr', { 'data-queue': queue.name },
    el('td', {}, queue.name, queue.configured ? null : el('span', { class: 'muted' }, ' (not configured)')),
    el('td', {}, queue.paused ? badge('paused') : badge('running', 'ok')),
    STATES.map((s) => el('td', { class: 'number', 'data-state': s }, queue.counts[s])),
    // How long the job that may run and has waited longest has waited.
    el('td', { class: 'number latency', title: queue.earliest_due ? 'earliest due ' + formatTime(queue.earliest_due) : '' },
      queue.latency_ms > 0 ? formatDuration(queue.latency_ms) : '–'),
    el('td', {}, queue.configured ? el('button', {
      type: 'button', class: queue.paused ? 'resume' : 'pause danger',
      onclick: (event) => act(event.target, async () => {
        await api('/api/v1/queues/' + encodeURIComponent(queue.name) + (queue.paused ? '/resume' : '/pause'), { method: 'POST' });
        await loadQueues();
      }),
    }, queue.paused ? 'Resume' : 'Pause') : null,
    // Every dead job of the queue runs again (1,000 a request; the API says when more remain).
    queue.counts.dead > 0 ? el('button', {
      type: 'button', class: 'retry-dead',
      onclick: (event) => act(event.target, async () => {
        const outcome = await bulkUntilDone(queue.name, 'retry', 'retried');
        await loadQueues();
        if (outcome.refused_count > 0) {
          throw new Error(outcome.refused_count + ' dead job(s) of ' + queue.name + ' not retried: ' +
            outcome.refused.map((r) => r.error).slice(0, 3).join('; '));
        }
      }),
    }, 'Retry dead') : null,
    // Every job of the queue that has not started is cancelled, once the user says so.
    notStarted(queue) > 0 ? el('button', {
      type: 'button', class: 'cancel-pending danger',
      onclick: (event) => act(event.target, async () => {
        const count = notStarted(queue);
        if (!window.confirm('Cancel the ' + count + ' waiting, delayed and blocked job(s) of queue ' + queue.name +
            '? Jobs that depend on them become dead.')) return;
        await bulkUntilDone(queue.name, 'cancel', 'cancelled');
        await refreshJobs();
      }),
    }, 'Cancel pending') : null))));
  const select = $('filter-queue');
  const chosen = select.value;
  select.replaceChildren(el('option', { value: '' }, 'all'), ...queues.map((q) => el('option', { value: q.name }, q.name)));
  select.value = chosen;
}

async function loadChart() {
  const { minutes } = await api('/api/v1/stats/attempts?minutes=60');
  const svg = $('chart-svg');
  const ns = 'http://www.w3.org/2000/svg';
  const width = 720;
  const height = 150;
  const barWidth = width / minutes.length;
  const total = (m) => Object.values(m.outcomes).reduce((a, b) => a + b, 0);
  const peak = Math.max(1, ...minutes.map(total));
  const seen = new Set();
  const shapes = [];
  minutes.forEach((minute, i) => {
    let y = height;
    for (const [outcome, count] of Object.entries(minute.outcomes)) {
      seen.add(outcome);
      const h = (count / peak) * (height - 10);
      y -= h;
      const rect = document.createElementNS(ns, 'rect');
      rect.setAttribute('x', (i * barWidth + 1).toFixed(1));
      rect.setAttribute('y', y.toFixed(1));
      rect.setAttribute('width', Math.max(1, barWidth - 2).toFixed(1));
      rect.setAttribute('height', h.toFixed(1));
      rect.setAttribute('fill', OUTCOME_COLORS[outcome] || '#999');
      const title = document.createElementNS(ns, 'title');
      title.textContent = formatTime(minute.start) + ': ' + count + ' ' + outcome;
      rect.append(title);
      shapes.push(rect);
    }
  });
  const axis = document.createElementNS(ns, 'line');
  axis.setAttribute('x1', 0); axis.setAttribute('x2', width);
  axis.setAttribute('y1', height); axis.setAttribute('y2', height);
  axis.setAttribute('stroke', '#b8c2cd');
  const label = document.createElementNS(ns, 'text');
  label.setAttribute('x', 4); label.setAttribute('y', 12); label.setAttribute('font-size', 11); label.setAttribute('fill', '#66707c');
  label.textContent = 'max ' + peak + '/min';
  svg.replaceChildren(axis, label, ...shapes);
  $('chart-legend').replaceChildren(...[...seen].sort().map((outcome) =>
    el('span', {}, legendSwatch(outcome), outcome)));
  if (!seen.size) $('chart-legend').append(el('span', {}, 'no attempt ended in the last hour'));
}

function legendSwatch(outcome) {
  const swatch = el('i');
  swatch.style.background = OUTCOME_COLORS[outcome] || '#999';
  return swatch;
}

// ---- jobs ---------------------------------------------------------------------------------

function jobsQuery() {
  const query = new URLSearchParams({ limit: PAGE_SIZE });
  for (const [name, value] of Object.entries(state.filters)) if (value) query.set(name, value);
  const cursor = state.pages[state.pages.length - 1];
  if (cursor) query.set('cursor', cursor);
  return query;
}

function jobActions(job, after) {
  const buttons = [];
  // A delayed job (a delay, a retry's backoff) may run now.
  if (job.state === 'delayed') {
    buttons.push(el('button', {
      type: 'button', class: 'promote', 'data-job': job.id, title: 'Due ' + formatTime(job.run_at),
      onclick: (event) => { event.stopPropagation(); act(event.target, async () => { await api('/api/v1/jobs/' + job.id + '/promote', { method: 'POST' }); await after(); }); },
    }, 'Run now'));
  }
  if (['waiting', 'delayed', 'blocked', 'active'].includes(job.state) && !job.cancel_requested) {
    buttons.push(el('button', {
      type: 'button', class: 'cancel danger', 'data-job': job.id,
      onclick: (event) => { event.stopPropagation(); act(event.target, async () => { await api('/api/v1/jobs/' + job.id + '/cancel', { method: 'POST' }); await after(); }); },
    }, 'Cancel'));
  }
  if (['dead', 'cancelled'].includes(job.state)) {
    buttons.push(el('button', {
      type: 'button', class: 'retry', 'data-job': job.id,
      onclick: (event) => { event.stopPropagation(); act(event.target, async () => { await api('/api/v1/jobs/' + job.id + '/retry', { method: 'POST' }); await after(); }); },
    }, 'Retry'));
  }
  // A finished job is deleted with its record (payload, result, output), once asked.
  if (['completed', 'dead', 'cancelled'].includes(job.state)) {
    buttons.push(el('button', {
      type: 'button', class: 'delete danger', 'data-job': job.id,
      onclick: (event) => {
        event.stopPropagation();
        if (!window.confirm('Delete job ' + job.id + ' and its attempts? Its payload, result and output are gone for good.')) return;
        act(event.target, async () => {
          await api('/api/v1/jobs/' + job.id, { method: 'DELETE' });
          if (state.selected === job.id) {
            state.selected = null;
            $('job').hidden = true;
          }
          await after();
        });
      },
    }, 'Delete'));
  }
  return buttons;
}

async function refreshJobs() {
  await Promise.all([loadJobs(), state.selected ? loadJob(state.selected) : null, loadQueues()]);
}

async function loadJobs() {
  const { jobs, next } = await api('/api/v1/jobs?' + jobsQuery());
  state.next = next;
  const body = $('jobs').tBodies[0];
  body.replaceChildren(...jobs.map((job) => el('tr', {
    'data-job': job.id, 'data-state': job.state, class: job.id === state.selected ? 'selected' : null,
    onclick: () => { state.selected = job.id; loadJob(job.id).catch(report); markSelected(); },
  },
  el('td', { class: 'number' }, job.id),
  el('td', {}, job.queue),
  el('td', {}, job.task),
  el('td', { class: 'job-state' }, badge(job.state), job.cancel_requested ? el('span', { class: 'muted' }, ' cancelling') : null),
  el('td', { class: 'number' }, job.attempt_count),
  el('td', {}, formatTime(job.updated_at)),
  el('td', { class: 'note' }, job.error ? el('span', { class: 'error' }, short(job.error)) : short(job.result)),
  el('td', {}, jobActions(job, refreshJobs)))));
  if (!jobs.length) body.append(el('tr', {}, el('td', { colspan: 8, class: 'muted' }, 'no jobs')));
  $('older').disabled = !next;
  $('newer').disabled = state.pages.length < 2;
  $('page-info').textContent = 'page ' + state.pages.length;
}

function markSelected() {
  for (const row of $('jobs').tBodies[0].rows) row.classList.toggle('selected', Number(row.dataset.job) === state.selected);
}

async function loadJob(id) {
  const job = await api('/api/v1/jobs/' + id);
  $('job').hidden = false;
  $('job-title').replaceChildren('Job ' + job.id + ' ', badge(job.state));
  $('job-actions').replaceChildren(...jobActions(job, refreshJobs));
  const progress = $('job-progress');
  progress.hidden = !job.progress;
  if (job.progress) {
    progress.querySelector('.bar').style.width = Math.min(100, Math.max(0, job.progress.percent)) + '%';
    progress.querySelector('span').textContent = job.progress.percent.toFixed(0) + '% ' + (job.progress.message || '');
  }
  const fields = [
    ['queue', job.queue], ['task', job.task], ['priority', job.priority], ['key', job.key],
    ['attempts', job.attempt_count + (job.max_attempts ? ' (at most ' + job.max_attempts + ')' : '')],
    ['created', formatTime(job.created_at)], ['updated', formatTime(job.updated_at)],
    ['runs not before', job.state === 'delayed' ? formatTime(job.run_at) : null],
    ['expires', job.expires_at ? formatTime(job.expires_at) : null],
    ['depends on', job.depends_on.length ? job.depends_on.join(', ') : null],
    ['schedule', job.schedule], ['running on', job.lease ? job.lease.holder : null],
    ['payload', pretty(job.payload)], ['result', job.result === null ? null : pretty(job.result)],
    ['error', job.error ? el('span', { class: 'error' }, job.error) : null],
  ];
  $('job-fields').replaceChildren(...fields.filter(([, value]) => value !== null && value !== undefined && value !== '')
    .flatMap(([name, value]) => [el('dt', {}, name), el('dd', {}, value)]));
  const body = $('attempts').tBodies[0];
  body.replaceChildren();
  for (const attempt of job.attempts) {
    const tails = el('tr', { class: 'tails', hidden: true }, el('td', { colspan: 9 },
      el('h3', {}, 'stdout'), pretty(attempt.stdout_tail || '(nothing)'),
      el('h3', {}, 'stderr'), pretty(attempt.stderr_tail || '(nothing)'),
      attempt.result !== undefined ? [el('h3', {}, 'result'), pretty(attempt.result)] : null));
    body.append(el('tr', { 'data-attempt': attempt.number, onclick: () => { tails.hidden = !tails.hidden; } },
      el('td', { class: 'number' }, attempt.number),
      el('td', {}, badge(attempt.outcome), attempt.isolation && attempt.isolation !== 'spawn' ? el('span', { class: 'muted' }, ' ' + attempt.isolation) : null),
      el('td', { class: 'error' }, attempt.error || ''),
      el('td', {}, attempt.signal ? attempt.signal + ' (' + attempt.signal_number + ')' + (attempt.core_dumped ? ', core' : '') : ''),
      el('td', { class: 'number' }, attempt.exit_code === undefined ? '' : attempt.exit_code),
      el('td', { class: 'number' }, formatDuration(attempt.duration_ms)),
      el('td', { class: 'number' }, formatKiB(attempt.max_rss_kb)),
      el('td', { class: 'number' }, attempt.pid === undefined ? '' : attempt.pid),
      el('td', { class: 'muted' }, attempt.host)), tails);
  }
  if (!job.attempts.length) body.append(el('tr', {}, el('td', { colspan: 9, class: 'muted' }, 'no attempt has ended yet')));
}

// ---- hosts, plugins, schedules -----------------------------------------------------------

async function loadHosts() {
  const { hosts } = await api('/api/v1/hosts');
  $('hosts').replaceChildren(...hosts.map((host) => el('div', { class: 'host', 'data-host': host.name },
    el('h3', {}, host.name, badge(host.stopped_at ? 'stopped' : host.alive ? 'alive' : 'silent'),
      el('span', { class: 'muted' }, 'sandhost ' + host.version + ', heartbeat ' + formatAge(host.heartbeat_at))),
    el('p', { class: 'muted' }, host.holder + ' · started ' + formatTime(host.started_at) +
      (host.stopped_at ? ' · stopped ' + formatTime(host.stopped_at) : '') +
      ' · queues ' + host.queues.map((q) => q.name).join(', ')),
    host.running.length ? el('table', {}, el('thead', {}, el('tr', {}, ['job', 'attempt', 'queue', 'task', 'pid'].map((h) => el('th', {}, h)))),
      el('tbody', {}, host.running.map((r) => el('tr', {}, el('td', {}, r.job), el('td', {}, r.attempt), el('td', {}, r.queue), el('td', {}, r.task), el('td', {}, r.pid))))) : null,
    el('h3', {}, 'Workers'),
    host.workers.length ? el('table', {}, el('thead', {}, el('tr', {}, ['pid', 'mode', 'state', 'plugin', 'RSS'].map((h) => el('th', {}, h)))),
      el('tbody', {}, host.workers.map((w) => el('tr', {}, el('td', {}, w.pid), el('td', {}, w.mode), el('td', {}, w.role), el('td', {}, w.plugin), el('td', {}, formatKiB(w.rss_kb)))))) :
      el('p', { class: 'muted' }, 'no worker running'))));
  if (!hosts.length) $('hosts').append(el('p', { class: 'muted' }, 'no host has served this store yet'));
}

async function loadPlugins() {
  const { plugins } = await api('/api/v1/plugins');
  $('plugins').tBodies[0].replaceChildren(...plugins.map((plugin) => el('tr', { 'data-plugin': plugin.name },
    el('td', {}, plugin.name),
    el('td', {}, plugin.version),
    el('td', {}, badge(plugin.health)),
    el('td', {}, plugin.tasks.map((task) => el('div', { title: task.description }, task.name))),
    el('td', {}, plugin.hosts.map((h) => el('div', {}, h.host + (h.alive ? '' : ' (not alive)'),
      h.error ? el('div', { class: 'error' }, h.error) : null,
      h.broken ? el('div', { class: 'error' }, 'refused until ' + formatTime(h.broken.until) + ' after ' + h.broken.failures + ' failures: ' + h.broken.error) : null))))));
  if (!plugins.length) $('plugins').tBodies[0].append(el('tr', {}, el('td', { colspan: 5, class: 'muted' }, 'no host has published its plugins yet')));
}

async function loadSchedules() {
  const { schedules } = await api('/api/v1/schedules');
  $('schedules').tBodies[0].replaceChildren(...schedules.map((s) => el('tr', { 'data-schedule': s.name },
    el('td', {}, s.name), el('td', {}, s.queue), el('td', {}, s.task),
    el('td', {}, s.trigger.cron ? 'cron ' + s.trigger.cron : 'every ' + s.trigger.every),
    el('td', {}, formatTime(s.last_fire)), el('td', {}, formatTime(s.next_fire)),
    // Its job enqueued now; the schedule's own periods go on as before.
    el('td', {}, el('button', {
      type: 'button', class: 'run-schedule', 'data-schedule': s.name,
      onclick: (event) => act(event.target, async () => {
        const job = await api('/api/v1/schedules/' + encodeURIComponent(s.name) + '/run', { method: 'POST' });
        event.target.textContent = 'Enqueued job ' + job.id;
      }),
    }, 'Run now')))));
  if (!schedules.length) $('schedules').tBodies[0].append(el('tr', {}, el('td', { colspan: 7, class: 'muted' }, 'no schedules configured')));
}

// ---- tabs and live updates -----------------------------------------------------------------

const TAB_LOADERS = {
  jobs: () => Promise.all([loadQueues(), loadJobs(), loadChart(), state.selected ? loadJob(state.selected) : null]),
  hosts: loadHosts,
  plugins: loadPlugins,
  schedules: loadSchedules,
};

function report(error) {
  if (!(error instanceof Unauthorized)) showError(error.message);
}

async function showTab(tab) {
  state.tab = TAB_LOADERS[tab] ? tab : 'jobs';
  for (const section of document.querySelectorAll('.tab')) section.hidden = section.id !== 'tab-' + state.tab;
  for (const link of document.querySelectorAll('nav a')) link.classList.toggle('current', link.dataset.tab === state.tab);
  await TAB_LOADERS[state.tab]();
  showError('');
}

// Refreshes what events touched, at most once per interval each.
const pending = new Map();
function soon(name, action, delay) {
  if (pending.has(name)) return;
  pending.set(name, setTimeout(() => { pending.delete(name); action().catch(report); }, delay));
}

function onEvent(type, event) {
  if (type === 'gap') { soon('all', () => TAB_LOADERS[state.tab](), 200); return; }
  if (type.startsWith('job.') || type.startsWith('queue.')) {
    if (state.tab === 'jobs') {
      soon('queues', loadQueues, 300);
      // Only the first page follows new jobs: a later one stays where the reader left it.
      if (state.pages.length === 1) soon('jobs', loadJobs, 300);
      if (event && event.job === state.selected) soon('job', () => loadJob(state.selected), 200);
      if (type === 'job.finished') soon('chart', loadChart, 2000);
    }
  }
  if (type.startsWith('host.') && state.tab === 'hosts') soon('hosts', loadHosts, 300);
}

function setLive(on) {
  $('live').className = 'live ' + (on ? 'on' : 'off');
  $('live').textContent = on ? 'live' : 'offline';
}

// The event stream, read with fetch so that it can carry the token; resumes after a break
// from the last event it saw.
async function follow() {
  let last = null;
  for (;;) {
    try {
      const headers = { Accept: 'text/event-stream' };
      if (state.token) headers.Authorization = 'Bearer ' + state.token;
      if (last) headers['Last-Event-ID'] = last;
      const response = await fetch('/api/v1/events', { headers, cache: 'no-store' });
      if (response.status === 401) { setLive(false); askForToken('That token was refused.'); return; }
      if (!response.ok || !response.body) throw new Error('events: ' + response.status);
      setLive(true);
      if (last) onEvent('gap');  // whatever happened while away
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let type = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) last = line.slice(4);
            else if (line.startsWith('event: ')) type = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (type !== 'message') onEvent(type, data ? JSON.parse(data) : null);
        }
      }
    } catch (error) {
      // Reconnects below.
    }
    setLive(false);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

async function start() {
  try {
    await showTab((location.hash || '#jobs').slice(1));
  } catch (error) {
    report(error);
    if (error instanceof Unauthorized) return;
  }
  document.body.dataset.ready = 'true';  // the first render is done (tests wait for it)
  if (!state.started) {
    state.started = true;
    follow();
    setInterval(() => { if (state.tab === 'jobs') loadChart().catch(report); }, 30000);
    setInterval(() => { if (state.tab === 'hosts') loadHosts().catch(report); }, 5000);
  }
}

function init() {
  // A token may come in the address once (#token=...): it moves to this tab's storage.
  if (location.hash.startsWith('#token=')) {
    state.token = decodeURIComponent(location.hash.slice(7));
    sessionStorage.setItem('sandhost.token', state.token);
    history.replaceState(null, '', location.pathname + '#jobs');
  }
  $('change-token').hidden = !state.token;
  $('change-token').addEventListener('click', () => askForToken(''));
  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    state.token = $('token').value.trim();
    sessionStorage.setItem('sandhost.token', state.token);
    $('login').hidden = true;
    document.querySelector('main').hidden = false;
    $('change-token').hidden = false;
    start();
  });
  $('filters').addEventListener('submit', (event) => {
    event.preventDefault();
    state.filters = { queue: $('filter-queue').value, state: $('filter-state').value, task: $('filter-task').value.trim() };
    state.pages = [null];
    loadJobs().catch(report);
  });
  $('older').addEventListener('click', () => { if (state.next) { state.pages.push(state.next); loadJobs().catch(report); } });
  $('newer').addEventListener('click', () => { if (state.pages.length > 1) { state.pages.pop(); loadJobs().catch(report); } });
  window.addEventListener('hashchange', () => showTab(location.hash.slice(1)).catch(report));
  start();
}

init();

'use strict';
// The Kino page: every action is a registry command through POST /api/<command> (the session
// is an HttpOnly cookie; X-Kino-Csrf marks the request as the page's own), movies play from
// GET /movies/<id>. Errors are shown as the shell shows them: the code, then what happened and
// what to do.

const $ = (id) => document.getElementById(id);
const PAGE = 20;
const state = { me: null, offset: 0, total: 0, timer: null };

class KinoError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

async function api(command, args) {
  let r;
  try {
    r = await fetch('/api/' + command, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-Kino-Csrf': '1' },
      body: JSON.stringify(args || {}),
    });
  } catch (e) {
    throw new KinoError('unavailable', 'the server cannot be reached; check the connection and try again');
  }
  return reply(r, await r.text());
}

function reply(r, text) {
  let j = null;
  try { j = JSON.parse(text); } catch (e) { /* not JSON: reported below */ }
  if (!j) throw new KinoError('internal', 'HTTP ' + r.status + ' without a reply');
  if (!j.ok) throw new KinoError(j.error.code, j.error.message);
  return j;
}

// A download command: the payload is the body, the reply is in X-Kino-Reply.
async function fetchPayload(command, args) {
  const r = await fetch('/api/' + command, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-Kino-Csrf': '1' },
    body: JSON.stringify(args || {}),
  });
  if (!r.ok) reply(r, await r.text());
  return { reply: JSON.parse(decodeURIComponent(r.headers.get('X-Kino-Reply') || '{}')), blob: await r.blob() };
}

function say(text, ok) {
  const m = $('msg');
  m.textContent = text;
  m.classList.toggle('ok', !!ok);
  m.classList.remove('hidden');
}

function quiet() { $('msg').classList.add('hidden'); }

function shown(e) {
  if (e instanceof KinoError) say(e.code + ': ' + e.message);
  else say('internal: ' + e.message);
  if (e.code === 'unauthenticated' && state.me) signedOut();
}

async function guarded(fn) {
  try { quiet(); await fn(); } catch (e) { shown(e); }
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function button(text, cls, onClick) {
  const b = el('button', text, cls);
  b.type = 'button';
  b.addEventListener('click', () => guarded(onClick));
  return b;
}

function size(n) {
  if (n >= 1 << 30) return (n / (1 << 30)).toFixed(1) + ' GiB';
  if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + ' MiB';
  if (n >= 1 << 10) return (n / (1 << 10)).toFixed(1) + ' KiB';
  return n + ' B';
}

// Sign in, sign up, sign out.

async function login() {
  const r = await api('auth.login', { name: $('name').value, password: $('password').value });
  $('password').value = '';
  await signedIn(r.data);
}

async function register() {
  await api('auth.register', { name: $('name').value, password: $('password').value });
  await login();
}

async function signedIn(me) {
  state.me = me;
  $('who').textContent = me.name + (me.role === 'admin' ? ' (admin)' : '');
  $('auth').classList.add('hidden');
  $('app').classList.remove('hidden');
  $('logout').classList.remove('hidden');
  document.querySelectorAll('.admin-only').forEach((e) => e.classList.toggle('hidden', me.role !== 'admin'));
  if (me.notice) {
    $('notice').textContent = 'Notice: ' + me.notice.title + ' — ' + me.notice.content;
    $('notice').classList.remove('hidden');
  }
  await vipLine();
  await movies();
}

function signedOut() {
  state.me = null;
  $('app').classList.add('hidden');
  $('auth').classList.remove('hidden');
  $('logout').classList.add('hidden');
  $('notice').classList.add('hidden');
  $('who').textContent = '';
  stopPlayer();
}

async function logout() {
  await api('auth.logout');
  signedOut();
}

// Movies.

async function vipLine() {
  const r = await api('vip.status');
  const vip = r.data.is_vip || r.data.vip;
  $('vip').textContent = vip ? 'You are VIP: free movies start at once.' : 'Free movies start after a short wait; VIPs skip it.';
  $('buy-vip').classList.toggle('hidden', !!vip);
}

async function movies() {
  const args = { kind: $('kind').value, limit: PAGE, offset: state.offset };
  const q = $('search').value.trim();
  if (q) args.q = q;
  const r = await api('movies.list', args);
  const list = $('movies');
  list.replaceChildren();
  for (const m of r.data) {
    const li = el('li');
    li.dataset.id = m.id;
    li.append(el('span', m.name, 'name'), el('span', m.free ? 'free' : 'charged', m.free ? 'tag' : 'tag charge'),
      el('span', size(m.size)));
    li.append(button('Play', 'play', () => play(m)));
    if (!m.free) li.append(button('Buy', 'buy secondary', () => buy(m)));
    if (state.me && state.me.role === 'admin') li.append(button('Delete', 'delete secondary', () => del(m)));
    list.append(li);
  }
  const page = r.page || { offset: 0, count: r.data.length, total: r.data.length };
  state.total = page.total;
  $('paging').textContent = page.count ? (page.offset + 1) + '–' + (page.offset + page.count) + ' of ' + page.total : 'no movies';
  $('prev').disabled = state.offset === 0;
  $('next').disabled = page.offset + page.count >= page.total;
}

function stopPlayer() {
  clearInterval(state.timer);
  const v = $('player');
  v.pause();
  v.removeAttribute('src');
  v.load();
  $('player-box').classList.add('hidden');
}

async function play(m) {
  stopPlayer();
  const r = await api('movies.get', { movie_id: m.id });
  if (!m.free) {
    // A charged movie not bought: say so instead of a broken player.
    const probe = await fetch('/movies/' + m.id, { headers: { Range: 'bytes=0-0' }, credentials: 'same-origin' });
    if (!probe.ok) reply(probe, await probe.text());
  }
  $('player-box').classList.remove('hidden');
  $('now-playing').textContent = m.name;
  let left = r.data.wait_s || 0;
  const wait = $('wait');
  if (left > 0) {
    wait.textContent = 'Starting in ' + left + ' s (VIPs start at once)';
    wait.classList.remove('hidden');
    state.timer = setInterval(() => {
      left -= 1;
      if (left > 0) wait.textContent = 'Starting in ' + left + ' s (VIPs start at once)';
      else { wait.classList.add('hidden'); clearInterval(state.timer); }
    }, 1000);
  } else {
    wait.classList.add('hidden');
  }
  const v = $('player');
  v.src = '/movies/' + m.id;
  v.play().catch(() => { /* autoplay refused: the controls are there */ });
}

async function buy(m) {
  const r = await api('movies.buy', { movie_id: m.id });
  say('Bought ' + m.name + (r.data.price !== undefined ? ' for ' + r.data.price : '') + '. Press Play.', true);
}

async function del(m) {
  if (!window.confirm('Delete ' + m.name + '?')) return;
  await api('movies.delete', { movie_id: m.id });
  await movies();
}

// Records and notices.

async function records() {
  const r = await api('movies.records', { limit: 100 });
  const list = $('records');
  list.replaceChildren();
  for (const x of r.data) list.append(el('li', (x.name || ('movie ' + x.movie_id)) + ' — ' + (x.downloaded_at || '') + ' — ' + size(x.bytes || 0)));
  if (!r.data.length) list.append(el('li', 'No downloads yet.'));
}

async function notices() {
  const r = await api('notices.list', { limit: 50 });
  const list = $('notices');
  list.replaceChildren();
  for (const n of r.data) {
    const li = el('li');
    li.append(el('strong', n.title), el('span', n.content, 'name'), el('small', n.created_at || n.published_at || ''));
    list.append(li);
  }
  if (!r.data.length) list.append(el('li', 'No notices.'));
}

// Admin.

function upload() {
  return new Promise((resolve, reject) => {
    const file = $('upload-file').files[0];
    if (!file) { reject(new KinoError('bad_args', 'pick a file to upload first')); return; }
    const bar = $('upload-progress');
    const pct = $('upload-pct');
    const show = (p) => { bar.value = p; pct.textContent = p + ' %'; };
    show(0);
    pct.textContent = 'hashing…';
    KinoUtil.md5File(file).then(async (md5) => {
      const seen = await api('movies.check', { md5 });
      if (seen.data.exists) {
        show(100);
        say(file.name + ' is already in the library (movie ' + seen.data.id + '): nothing to send.', true);
        resolve();
        return;
      }
      const x = new XMLHttpRequest();
      x.open('POST', '/api/movies.upload');
      x.setRequestHeader('X-Kino-Csrf', '1');
      x.setRequestHeader('X-Kino-Args', encodeURIComponent(JSON.stringify({ name: file.name, md5, free: $('upload-free').checked })));
      x.upload.onprogress = (e) => { if (e.lengthComputable) show(Math.floor((e.loaded * 100) / e.total)); };
      x.onerror = () => reject(new KinoError('unavailable', 'the upload was cut off; try again'));
      x.onload = () => {
        try {
          const r = reply(x, x.responseText);
          show(100);
          say('Uploaded ' + r.data.name + ' as movie ' + r.data.id + '.', true);
          movies().then(resolve, reject);
        } catch (e) { reject(e); }
      };
      x.send(file);
    }, reject);
  });
}

async function publish() {
  await api('notices.publish', { title: $('notice-title').value, content: $('notice-content').value });
  $('notice-title').value = '';
  $('notice-content').value = '';
  say('Notice published.', true);
}

async function users() {
  const r = await api('auth.users');
  const list = $('users');
  list.replaceChildren();
  for (const u of r.data) {
    const li = el('li');
    li.append(el('span', u.name + ' (' + u.role + ')' + (u.locked ? ' — locked' : ''), 'name'));
    if (u.name !== state.me.name) {
      li.append(button(u.locked ? 'Unlock' : 'Lock', 'secondary', async () => {
        await api(u.locked ? 'auth.unlock' : 'auth.lock', { name: u.name });
        await users();
      }));
    }
    list.append(li);
  }
}

async function admin() {
  await users();
  const s = await api('movies.stats');
  const v = await api('vip.stats');
  $('stats').textContent = JSON.stringify({ movies: s.data, vip: v.data }, null, 2);
}

// Melody: record from the microphone (MediaRecorder, decoded and written as WAV here) or pick
// a WAV, transcribe, then show the notes, the score and a MIDI link.

const rec = { recorder: null, chunks: [] };

async function toggleRecord() {
  if (rec.recorder) { rec.recorder.stop(); return; }
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  rec.chunks = [];
  rec.recorder = new MediaRecorder(stream);
  rec.recorder.ondataavailable = (e) => rec.chunks.push(e.data);
  rec.recorder.onstop = () => {
    stream.getTracks().forEach((t) => t.stop());
    rec.recorder = null;
    $('rec').textContent = 'Record';
    guarded(async () => {
      const audio = await new Blob(rec.chunks).arrayBuffer();
      const ctx = new AudioContext();
      const decoded = await ctx.decodeAudioData(audio);
      await transcribe(KinoUtil.wav(decoded.getChannelData(0), decoded.sampleRate));
    });
  };
  rec.recorder.start();
  $('rec').textContent = 'Stop';
}

async function transcribe(blob) {
  $('melody-status').textContent = 'Transcribing…';
  const r = await fetch('/api/melody.transcribe', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'X-Kino-Csrf': '1', 'X-Kino-Args': encodeURIComponent(JSON.stringify({ title: $('melody-title').value || 'untitled' })) },
    body: blob,
  });
  const t = reply(r, await r.text()).data;
  $('melody-status').textContent = t.notes.length + ' notes, ' + Math.round(t.tempo_bpm) + ' bpm';
  const notes = $('notes');
  notes.replaceChildren();
  for (const n of t.notes) notes.append(el('li', n.name + '  ' + n.onset_s.toFixed(2) + '–' + n.offset_s.toFixed(2) + ' s'));
  const png = await fetchPayload('melody.fetch', { key: t.key, format: 'png' });
  $('score').src = URL.createObjectURL(png.blob);
  $('score').classList.remove('hidden');
  const midi = await fetchPayload('melody.fetch', { key: t.key, format: 'midi' });
  $('midi').href = URL.createObjectURL(midi.blob);
  $('midi').download = midi.reply.data ? midi.reply.data.file_name : 'melody.mid';
  $('midi').classList.remove('hidden');
}

// Wiring.

function tab(name) {
  document.querySelectorAll('nav .tab').forEach((b) => b.classList.toggle('active', b.dataset.tab === name));
  document.querySelectorAll('.pane').forEach((p) => p.classList.toggle('hidden', p.id !== 'tab-' + name));
  if (name !== 'movies') stopPlayer();
  const load = { movies, records, notices, admin }[name];
  if (load) guarded(load);
}

document.addEventListener('DOMContentLoaded', () => {
  $('auth-form').addEventListener('submit', (e) => { e.preventDefault(); guarded(login); });
  $('register').addEventListener('click', () => guarded(register));
  $('logout').addEventListener('click', () => guarded(logout));
  $('buy-vip').addEventListener('click', () => guarded(async () => {
    const r = await api('vip.buy');
    say('You are VIP now' + (r.data.price !== undefined ? ' (paid ' + r.data.price + ')' : '') + '.', true);
    await vipLine();
  }));
  $('kind').addEventListener('change', () => { state.offset = 0; guarded(movies); });
  let typing = null;
  $('search').addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => { state.offset = 0; guarded(movies); }, 250);
  });
  $('prev').addEventListener('click', () => { state.offset = Math.max(0, state.offset - PAGE); guarded(movies); });
  $('next').addEventListener('click', () => { state.offset += PAGE; guarded(movies); });
  $('player').addEventListener('error', () => {
    if ($('player').getAttribute('src')) say('unavailable: the movie could not be played; try again, or download it with the shell');
  });
  document.querySelectorAll('nav .tab').forEach((b) => b.addEventListener('click', () => tab(b.dataset.tab)));
  $('upload-go').addEventListener('click', () => guarded(upload));
  $('notice-go').addEventListener('click', () => guarded(publish));
  $('rec').addEventListener('click', () => guarded(toggleRecord));
  $('wav-file').addEventListener('change', () => guarded(async () => {
    const f = $('wav-file').files[0];
    if (f) await transcribe(f);
  }));
  // A session cookie from before a reload: whoami says whether it is still alive.
  fetch('/api/whoami', { credentials: 'same-origin' })
    .then((r) => r.json())
    .then((j) => { if (j.ok && j.data && j.data.name) guarded(() => signedIn(j.data)); })
    .catch(() => { /* not signed in */ });
});

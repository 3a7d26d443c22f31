// Browser code, part 2 of 2: the page's state, its calls to /api/*, the live
// stream, the composer and the editor dialog. State comes from GET /api/state and
// is kept current by /api/events; a reconnect reloads it, so nothing is missed.
// Ephemeral replies live only in this page, for the person who caused them.
'use strict';

const $ = (id) => document.getElementById(id);

const state = {
  tenant: '', people: [], channels: [], messages: new Map(),
  person: localStorage.getItem('signoff.person') || 'alice',
  channel: localStorage.getItem('signoff.channel') || 'general',
  ephemerals: [], busyCards: new Set(), unread: new Set(),
};
let nextEphemeralId = 1;

function deliveryId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** GET when `body` is undefined, else POST JSON; throws the server's `error` sentence. */
async function api(path, body) {
  const init = body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  const res = await fetch(path, init);
  const data = await res.json().catch(() => null);
  if (res.ok) return data;
  const said = data && typeof data.error === 'string' ? data.error : `request failed (HTTP ${res.status})`;
  throw new Error(data && data.correlationId ? `${said} (reference ${data.correlationId})` : said);
}

const localNotice = (text) => ({ parts: [{ kind: 'text', text }], quote: null });

function addEphemeral(entry) {
  state.ephemerals.push({ id: nextEphemeralId++, at: Date.now(), person: state.person, channel: state.channel, ...entry });
  renderMessages();
}

async function loadState() {
  const data = await api('/api/state');
  Object.assign(state, { tenant: data.tenant, people: data.people, channels: data.channels });
  // Signed in (beyond loopback): you are your session's person, and the switcher only shows it.
  if (data.me) state.person = data.me;
  $('person').disabled = Boolean(data.me);
  state.messages = new Map(data.messages.map((m) => [m.id, m]));
  if (!state.people.some((p) => p.id === state.person) && state.people[0]) state.person = state.people[0].id;
  if (!visibleChannels().some((c) => c.id === state.channel)) state.channel = 'general';
  render();
}

/** Shared channels, and the DMs of the person being played. */
function visibleChannels() {
  return state.channels.filter((c) => c.dmOf === null || c.dmOf === state.person);
}

function renderSidebar() {
  const entry = (c) => el('li', {}, el('button', {
    type: 'button', testid: `channel-${c.id}`,
    class: [c.id === state.channel ? 'active' : '', state.unread.has(c.id) ? 'unread' : ''].join(' ').trim(),
    onclick: () => selectChannel(c.id),
  }, c.dmOf === null ? `# ${c.id}` : `${c.id} (you)`));
  $('channels').replaceChildren(...visibleChannels().filter((c) => c.dmOf === null).map(entry));
  $('dms').replaceChildren(...visibleChannels().filter((c) => c.dmOf !== null).map(entry));
}

function renderTopbar() {
  const select = $('person');
  select.replaceChildren(...state.people.map((p) => el('option', { value: p.id }, `${p.displayName} (@${p.id})`)));
  select.value = state.person;
  const me = state.people.find((p) => p.id === state.person);
  $('groups').textContent = me && me.groups.length > 0 ? `groups: ${me.groups.join(', ')}` : 'no groups';
  const channel = state.channels.find((c) => c.id === state.channel);
  $('channel-name').textContent = channel && channel.dmOf !== null ? `Direct messages: ${channel.id}` : `# ${state.channel}`;
}

function contentNode(message) {
  if (message.kind === 'text') return noticeNode(message.notice);
  return cardNode(message.card, state.busyCards.has(message.id), (action) => clickAction(message, action));
}

function messageItem(message, inChannel) {
  const replies = inChannel.filter((r) => r.parentId === message.id)
    .map((r) => el('div', { testid: 'thread-reply' }, messageNode(r, contentNode(r))));
  const node = messageNode(message, [contentNode(message), replies.length > 0 ? el('div', { class: 'thread' }, replies) : null]);
  return { at: Date.parse(message.createdAt), node };
}

/** The channel's messages with their threads, and this person's ephemeral replies where they happened. */
function renderMessages() {
  const list = $('messages');
  const isAtBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const inChannel = [...state.messages.values()].filter((m) => m.channel === state.channel)
    .sort((a, b) => Number(a.id) - Number(b.id));
  const items = inChannel.filter((m) => m.parentId === null).map((m) => messageItem(m, inChannel));
  for (const entry of state.ephemerals) {
    if (entry.person !== state.person || entry.channel !== state.channel) continue;
    items.push({ at: entry.at, node: ephemeralNode(entry, () => dismissEphemeral(entry.id)) });
  }
  items.sort((a, b) => a.at - b.at);
  const nodes = items.length > 0 ? items.map((item) => item.node) : [el('p', { class: 'empty' }, 'No messages yet.')];
  list.replaceChildren(...nodes);
  if (isAtBottom) list.scrollTop = list.scrollHeight;
}

function render() {
  renderSidebar();
  renderTopbar();
  renderMessages();
}

function dismissEphemeral(id) {
  state.ephemerals = state.ephemerals.filter((e) => e.id !== id);
  renderMessages();
}

function selectChannel(id) {
  state.channel = id;
  state.unread.delete(id);
  localStorage.setItem('signoff.channel', id);
  render();
  $('composer').focus();
}

function selectPerson(id) {
  state.person = id;
  localStorage.setItem('signoff.person', id);
  if (!visibleChannels().some((c) => c.id === state.channel)) state.channel = 'general';
  render();
}

/** A reply to a click or a submission: open the dialog it asks for, or show its notice to this person. */
function showReply(data) {
  if (data.reply.kind === 'open_editor') openEditor(data.reply.form);
  else if (data.notice) addEphemeral({ notice: data.notice });
}

async function clickAction(message, action) {
  state.busyCards.add(message.id);
  renderMessages();
  try {
    showReply(await api('/api/action', {
      user: state.person, channel: message.channel, messageRef: message.ref, reviewRef: message.card.reviewRef,
      action, version: message.card.version, deliveryId: deliveryId(),
    }));
  } catch (err) {
    addEphemeral({ notice: localNotice(err.message), isError: true });
  } finally {
    state.busyCards.delete(message.id);
    renderMessages();
  }
}

async function sendCommand(event) {
  event.preventDefault();
  const composer = $('composer');
  const typed = composer.value.trim();
  if (typed === '') return;
  const match = /^\/signoff(?:\s+([\s\S]*))?$/i.exec(typed);
  if (!match) return addEphemeral({ echo: typed, notice: localNotice('Commands start with /signoff. Try /signoff help.') });
  $('send').disabled = true;
  try {
    const data = await api('/api/command', { user: state.person, channel: state.channel, text: match[1] || '', deliveryId: deliveryId() });
    composer.value = '';
    // A channel reply arrives as a message on the live stream; an ephemeral one only here.
    if (data.reply.visibility === 'ephemeral') addEphemeral({ echo: typed, notice: data.notice });
    else if ($('live').dataset.state !== 'open') await loadState();
  } catch (err) {
    addEphemeral({ echo: typed, notice: localNotice(err.message), isError: true });
  } finally {
    $('send').disabled = false;
    composer.focus();
  }
}

function editorFieldNode(field) {
  const attrs = { id: `editor-${field.name}`, name: field.name, testid: `editor-field-${field.name}`, maxlength: field.maxChars };
  const input = field.isMultiline ? el('textarea', attrs) : el('input', { ...attrs, type: 'text' });
  input.value = field.value;
  return el('div', { class: 'editor-field', 'data-field': field.name },
    el('label', { for: attrs.id }, field.label), input);
}

/** Puts each error under its field (or at the top when no field has that name). */
function showEditorErrors(form, errors) {
  form.querySelectorAll('.field-error').forEach((node) => node.remove());
  for (const [name, text] of Object.entries(errors)) {
    const error = el('p', { class: 'field-error', testid: 'editor-error', 'data-field': name }, text);
    const holder = [...form.querySelectorAll('.editor-field')].find((node) => node.dataset.field === name);
    if (holder) holder.append(error);
    else form.prepend(error);
  }
}

function openEditor(spec) {
  const dialog = $('editor');
  const label = { edit: 'Save', reject: 'Reject', delegate: 'Delegate' }[spec.purpose] || 'Submit';
  const submit = el('button', { type: 'submit', testid: 'editor-submit' }, label);
  const form = el('form', { novalidate: true },
    el('h2', {}, spec.title),
    spec.fields.map(editorFieldNode),
    el('div', { class: 'editor-buttons' },
      el('button', { type: 'button', class: 'cancel', testid: 'editor-cancel', onclick: () => dialog.close() }, 'Cancel'),
      submit));
  form.addEventListener('submit', (event) => submitEditor(event, spec, form, submit));
  dialog.replaceChildren(form);
  dialog.showModal();
  const first = form.querySelector('input, textarea');
  if (first) first.focus();
}

async function submitEditor(event, spec, form, submit) {
  event.preventDefault();
  const fields = Object.fromEntries(spec.fields.map((f) => [f.name, form.elements.namedItem(f.name).value]));
  submit.disabled = true;
  try {
    const data = await api('/api/submission', {
      user: state.person, purpose: spec.purpose, reviewRef: spec.reviewRef, version: spec.version, fields, deliveryId: deliveryId(),
    });
    if (data.reply.kind === 'errors') return showEditorErrors(form, data.reply.errors);
    $('editor').close();
    showReply(data);
  } catch (err) {
    showEditorErrors(form, { '': err.message });
  } finally {
    submit.disabled = false;
  }
}

// The stream can be open while the bot cannot reach its database: the dot says which.
const live = { isOpen: false, isDbUp: true };

function setLive(isOpen) {
  live.isOpen = isOpen;
  const [stateName, text] = !live.isOpen ? ['closed', 'reconnecting…'] : live.isDbUp ? ['open', 'live'] : ['db-down', 'database unreachable'];
  $('live').dataset.state = stateName;
  $('live').textContent = text;
}

/** Asks /readyz every few seconds (it answers 503 within 2 s, naming `database: down`, when the database does not answer). */
async function watchDatabase() {
  const res = await fetch('/readyz', { signal: AbortSignal.timeout(4000) }).catch(() => null);
  const body = res && !res.ok ? await res.json().catch(() => null) : null;
  live.isDbUp = Boolean(res && (res.ok || (body && body.checks && body.checks.database === 'up')));
  setLive(live.isOpen);
  setTimeout(watchDatabase, 5000);
}

/** Follows /api/events; reloads state on every (re)connect, retries with back-off when the stream is refused. */
function connectLive(retryMs = 1000) {
  const source = new EventSource('/api/events');
  source.addEventListener('open', () => {
    setLive(true);
    retryMs = 1000;
    loadState().catch(() => setLive(false));
  });
  source.addEventListener('message', (event) => {
    const { message } = JSON.parse(event.data);
    state.messages.set(message.id, message);
    if (message.channel !== state.channel) state.unread.add(message.channel);
    render();
  });
  source.addEventListener('world', () => loadState().catch(() => undefined));
  source.addEventListener('error', () => {
    setLive(false);
    if (source.readyState !== EventSource.CLOSED) return;
    source.close();
    setTimeout(() => connectLive(Math.min(retryMs * 2, 30000)), retryMs);
  });
}

$('composer-form').addEventListener('submit', sendCommand);
$('person').addEventListener('change', (event) => selectPerson(event.target.value));
loadState().catch((err) => addEphemeral({ notice: localNotice(`Could not load the chat: ${err.message}`), isError: true }));
connectLive();
watchDatabase();

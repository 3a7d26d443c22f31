// Browser code, part 1 of 2 (page.ts inlines it before page-app.js): builds DOM
// nodes from the view models of adapters/console/console-render.ts. Every piece of
// data goes in as a text node or a plain attribute, never as markup, so card text
// like `<script>` or `<https://evil|Approve>` shows literally (RELIABILITY 82).
// No href or src is ever taken from data.
'use strict';

/** createElement with attributes and children; strings become text nodes. */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name === 'testid') node.dataset.testid = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

/** Text and non-pinging mentions (`@Bob Brown`), from a notice's or status's segments. */
function segmentNodes(parts) {
  return parts.map((part) => (part.kind === 'mention'
    ? el('span', { class: 'mention', 'data-user': part.userId, title: `@${part.userId}` }, `@${part.name}`)
    : document.createTextNode(part.text)));
}

/**
 * The status line, with the live tally ("1 of 2 approvals") as its own element: marked
 * where the line already says it (the desk writes "Waiting for review: 1 of 2 approvals"),
 * else added after it, so it is never said twice.
 */
function statusNodes(status) {
  if (status.tally === null) return segmentNodes(status.parts);
  const tallyNode = () => el('span', { class: 'tally', testid: 'card-tally' }, status.tally);
  const i = status.parts.findIndex((p) => p.kind === 'text' && p.text.includes(status.tally));
  if (i === -1) return [...segmentNodes(status.parts), ' · ', tallyNode()];
  const text = status.parts[i].text;
  const at = text.indexOf(status.tally);
  return [
    ...segmentNodes(status.parts.slice(0, i)), text.slice(0, at), tallyNode(),
    text.slice(at + status.tally.length), ...segmentNodes(status.parts.slice(i + 1)),
  ];
}

function noticeNode(notice) {
  return el('div', { class: 'notice' },
    el('div', { class: 'notice-text' }, segmentNodes(notice.parts)),
    notice.quote === null ? null : el('blockquote', { class: 'quote' }, notice.quote),
    notice.image ? el('img', { class: 'notice-image', src: notice.image.url, alt: notice.image.alt, testid: 'notice-image' }) : null);
}

function shortTime(iso) {
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? '' : at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function fieldsNode(fields) {
  if (fields.length === 0) return null;
  return el('dl', { class: 'fields' }, fields.map((f) => [el('dt', {}, f.label), el('dd', {}, f.value)]));
}

function diffNode(diff) {
  if (!diff) return null;
  return el('section', { class: 'block', testid: 'card-diff' },
    el('div', { class: 'block-label' }, 'What the edit changed'),
    el('div', { class: 'diff' },
      el('div', { class: 'before' }, el('div', { class: 'block-label' }, 'Before'), el('pre', {}, diff.before)),
      el('div', { class: 'after' }, el('div', { class: 'block-label' }, 'After'), el('pre', {}, diff.after))));
}

function proposedActionNode(action) {
  if (!action) return null;
  const rows = action.fields.map((f) => el('tr', {},
    el('td', {}, el('code', {}, f.name)),
    el('td', {}, f.old === null ? el('em', {}, '(new)') : f.old),
    el('td', {}, f.new, f.isTruncated ? el('div', { class: 'truncated' }, 'shortened for display') : null)));
  return el('section', { class: 'block on-approval', testid: 'card-action' },
    el('div', { class: 'block-label' }, 'On approval'),
    el('p', { class: 'call' }, el('code', {}, action.method), ' ', el('code', {}, action.host), ' via ', el('code', {}, action.tool)),
    el('table', { class: 'changes' },
      el('thead', {}, el('tr', {}, el('th', {}, 'Field'), el('th', {}, 'Now'), el('th', {}, 'After approval'))),
      el('tbody', {}, rows)));
}

/** The buttons of a pending card; `onAction(action)` is called on a click. */
function actionButtons(card, isBusy, onAction) {
  if (card.status.kind !== 'pending' || card.actions.length === 0) return null;
  return el('div', { class: 'actions' }, card.actions.map(({ action, label }) => el('button', {
    type: 'button', class: action, testid: `action-${action}`, disabled: isBusy, onclick: () => onAction(action),
  }, label)));
}

function cardNode(card, isBusy, onAction) {
  const status = card.status;
  return el('article', { class: 'card', testid: 'card', 'data-status': status.kind, 'data-version': card.version },
    el('header', { class: 'card-head' },
      el('h3', { class: 'card-title', testid: 'card-title' }, card.title),
      el('span', { class: 'run-id' }, `run ${card.runId} · v${card.version}`)),
    fieldsNode(card.fields),
    el('section', { class: 'block draft' },
      el('div', { class: 'block-label' }, card.body.label),
      el('pre', { testid: 'card-body' }, card.body.text)),
    diffNode(card.diff),
    proposedActionNode(card.proposedAction),
    el('footer', { class: 'card-foot' },
      el('span', { class: 'status', testid: 'card-status', title: status.at ?? undefined }, statusNodes(status)),
      card.costLabel === null ? null : el('span', { class: 'cost' }, `Cost so far: ${card.costLabel}`),
      actionButtons(card, isBusy, onAction)));
}

/** One message: byline, then a card or a notice. */
function messageNode(message, content) {
  return el('div', { class: 'message', testid: 'message', 'data-id': message.id },
    el('div', { class: 'byline' },
      el('span', { class: 'author' }, message.author.name),
      message.author.isBot ? el('span', { class: 'bot-badge' }, 'bot') : null,
      el('span', { class: 'time', title: message.createdAt }, shortTime(message.createdAt))),
    content);
}

/** A reply shown only to the person who caused it; dismissible. */
function ephemeralNode(entry, onDismiss) {
  return el('div', { class: entry.isError ? 'ephemeral error' : 'ephemeral', testid: 'ephemeral' },
    el('div', { class: 'ephemeral-head' },
      el('span', {}, 'Only visible to you'),
      el('button', { type: 'button', 'aria-label': 'Dismiss', onclick: onDismiss }, '✕')),
    entry.echo ? el('div', { class: 'echo' }, el('code', {}, entry.echo)) : null,
    noticeNode(entry.notice));
}

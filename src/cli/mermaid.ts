/**
 * A flow's statechart as a Mermaid `stateDiagram-v2`, generated from the XState
 * machine itself (`machine.root`), so the picture cannot drift from the code:
 * nested states as composite blocks (parallel regions split by `--`), the initial
 * state of each level as `[*] -->`, final states as `--> [*]`, every transition
 * labelled with the event the engine records in run_events (guards in brackets,
 * `after` delays and eventless `always` named as such), and each state's invoked
 * steps and reviews as its description line (in its label, for a composite state).
 */
import type { AnyStateMachine, AnyStateNode } from 'xstate';

type Transition = { source: AnyStateNode; targets: readonly AnyStateNode[]; label: string };

export function toMermaid(machine: AnyStateMachine): string {
  const lines = ['stateDiagram-v2'];
  const crossing: Transition[] = [];
  writeChildren(machine.root, 1, lines, crossing);
  for (const t of crossing) writeTransition(t, 1, lines);
  return `${lines.join('\n')}\n`;
}

/** Declares the children of `node`, its initial arrow and the transitions that stay on this level. */
function writeChildren(node: AnyStateNode, depth: number, lines: string[], crossing: Transition[]): void {
  const pad = '  '.repeat(depth);
  const children = Object.values(node.states) as AnyStateNode[];
  children.forEach((child, index) => {
    if (node.type === 'parallel' && index > 0) lines.push(`${pad}--`);
    writeState(child, depth, lines, crossing);
  });
  const initial = node.type === 'compound' ? node.initial.target : [];
  for (const target of initial) lines.push(`${pad}[*] --> ${mermaidId(target)}`);
  for (const child of children) {
    for (const t of transitionsOf(child)) {
      const isLocal = t.targets.every((target) => target.parent === node);
      if (isLocal) writeTransition(t, depth, lines);
      else crossing.push(t);
    }
    if (child.type === 'final') lines.push(`${pad}${mermaidId(child)} --> [*]`);
  }
}

function writeState(node: AnyStateNode, depth: number, lines: string[], crossing: Transition[]): void {
  const pad = '  '.repeat(depth);
  const id = mermaidId(node);
  const invoked = node.invoke.map((inv) => (typeof inv.src === 'string' ? inv.src : inv.id));
  const notes = [...(invoked.length > 0 ? [`invokes ${invoked.join(', ')}`] : [])];
  if (node.type === 'history') notes.push(`history (${node.history})`);
  const isComposite = Object.keys(node.states).length > 0;
  // Mermaid refuses a description line on a composite state ("Group nodes can only have label"): it goes in the label.
  lines.push(`${pad}state "${label([node.key, ...(isComposite ? notes : [])].join(' · '))}" as ${id}`);
  if (!isComposite) {
    for (const note of notes) lines.push(`${pad}${id} : ${label(note)}`);
    return;
  }
  lines.push(`${pad}state ${id} {`);
  writeChildren(node, depth + 1, lines, crossing);
  lines.push(`${pad}}`);
}

/** Every transition leaving `node`: on events, after delays, and eventless ones. Targetless ones loop back. */
function transitionsOf(node: AnyStateNode): Transition[] {
  const found: Transition[] = [];
  const delays = new Map(node.after.map((a) => [a.eventType, a.delay]));
  for (const [eventType, defs] of node.transitions) {
    const delay = delays.get(eventType);
    const event = delay === undefined ? eventType : `after ${typeof delay === 'number' ? `${delay} ms` : delay}`;
    for (const def of defs) found.push(transition(node, def, event));
  }
  for (const def of node.always ?? []) found.push(transition(node, def, 'always'));
  return found;
}

function transition(
  node: AnyStateNode,
  def: { target?: readonly AnyStateNode[] | undefined; guard?: unknown },
  event: string,
): Transition {
  const guard = guardName(def.guard);
  const targets = def.target && def.target.length > 0 ? def.target : [node];
  return { source: node, targets, label: guard ? `${event} [${guard}]` : event };
}

function guardName(guard: unknown): string | null {
  if (!guard) return null;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string')
    return (guard as { type: string }).type;
  return 'guarded';
}

function writeTransition(t: Transition, depth: number, lines: string[]): void {
  const pad = '  '.repeat(depth);
  for (const target of t.targets)
    lines.push(`${pad}${mermaidId(t.source)} --> ${mermaidId(target)} : ${label(t.label)}`);
}

/** Mermaid ids are one flat namespace of word characters: the state's path, joined. */
function mermaidId(node: AnyStateNode): string {
  return ['s', ...node.path].map((part) => part.replace(/\W/g, '_')).join('__');
}

/** Text Mermaid shows as is: no quotes, statement separators, comment or entity markers. */
function label(text: string): string {
  return text.replace(/["';#{}%\n\r]/g, ' ').trim();
}

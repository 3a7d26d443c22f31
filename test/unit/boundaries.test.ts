/**
 * The architecture as a test (STYLE §4, §5; docs/architecture.md): every module
 * sits on a floor and imports only from floors below it (or from itself);
 * adapters stay thin, the core stays platform-free, flows stay pure, and raw
 * SQL strings stay in migrations. `findViolations` is pure and takes a map of
 * file → source text, so the last tests feed it made-up trees and show that
 * it does report what it must.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/** A module, the path (a folder ending in `/`, or a file) it owns, and its floor: higher floors may import lower ones. */
export const MODULES: readonly { name: string; path: string; floor: number }[] = [
  { name: 'errors', path: 'src/errors.ts', floor: 0 },
  { name: 'chat', path: 'src/chat/', floor: 1 },
  { name: 'store', path: 'src/store/', floor: 2 },
  { name: 'ops', path: 'src/ops/', floor: 3 },
  { name: 'engine', path: 'src/engine/', floor: 4 },
  // Same floor, neither imports the other: the engine knows reviews by name, and
  // whoever needs both (authoring, main) composes them from above.
  { name: 'steps', path: 'src/steps/', floor: 5 },
  { name: 'review', path: 'src/review/', floor: 5 },
  { name: 'triggers', path: 'src/triggers/', floor: 6 },
  { name: 'authoring', path: 'src/authoring/', floor: 7 },
  { name: 'flows', path: 'flows/', floor: 8 },
  { name: 'adapters', path: 'adapters/', floor: 9 },
  // Config knows every module's settings type (each module declares its own) and
  // only main reads it, handing each module its slice.
  { name: 'config', path: 'src/config.ts', floor: 10 },
  { name: 'main', path: 'src/main.ts', floor: 11 },
  // Command-line entry points (`npm run web:invite`, …): like main, they read config and compose modules.
  { name: 'cli', path: 'src/cli/', floor: 11 },
];

/** Rules on package imports and on where adapters may reach, beside the floors. */
const RULES: readonly { from: string; isBad: (target: string) => boolean; why: string }[] = [
  {
    from: 'adapters/',
    // A relative target inside src/ resolves to `src/...`; adapters see only the chat port, errors and ops.
    isBad: (t) => t.startsWith('src/') && !/^src\/(errors\.ts$|chat\/|ops\/)/.test(t),
    why: 'adapters reach src/ only through errors.ts, chat/ and ops/ (never the engine or the store; STYLE §4)',
  },
  {
    from: 'src/',
    isBad: (t) => /^(@slack\/|discord\.js$|@discordjs\/)/.test(t),
    why: 'chat SDKs belong in adapters/ (STYLE §4)',
  },
  {
    from: 'flows/',
    isBad: (t) => /^(@slack\/|discord\.js$|@discordjs\/)/.test(t),
    why: 'chat SDKs belong in adapters/ (STYLE §4)',
  },
  {
    from: 'flows/',
    isBad: (t) => /^(postgres|openai)(\/|$)|^node:(http|https|net|fs|dns|child_process)(\/|$)/.test(t),
    why: 'flows do no I/O: no database, model SDK or node networking (STYLE §2, §4)',
  },
];

/**
 * Upward imports known today, each `file -> target`, each with the change that
 * removes it. The test fails when an entry is no longer needed, so the list
 * only shrinks; delete it when empty.
 */
/** Upward imports still to remove, each with its issue; empty since issue 10 took them out. */
export const KNOWN_VIOLATIONS: readonly string[] = [];

export interface Violation {
  file: string;
  target: string;
  why: string;
}

export function moduleOf(path: string): (typeof MODULES)[number] | undefined {
  return MODULES.find((m) => (m.path.endsWith('/') ? path.startsWith(m.path) : path === m.path));
}

/** Import and export-from specifiers (also `import type`, `import()`, `require`), never those in comments or strings. */
export function specifiersOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** A relative specifier as a repo path (`src/store/x.ts`); a package name as it is. */
function targetOf(file: string, spec: string): string {
  return spec.startsWith('.') ? posix.normalize(posix.join(posix.dirname(file), spec)) : spec;
}

/** Every broken rule in `files` (repo-relative path with `/` → source text). Pure. */
export function findViolations(files: Readonly<Record<string, string>>): Violation[] {
  const found: Violation[] = [];
  for (const [file, source] of Object.entries(files)) {
    const from = moduleOf(file);
    if (!from) {
      found.push({ file, target: file, why: 'is on no floor: add its module to MODULES and docs/architecture.md' });
      continue;
    }
    for (const target of specifiersOf(source).map((s) => targetOf(file, s))) {
      const why = floorBreak(from, target) ?? RULES.find((r) => file.startsWith(r.from) && r.isBad(target))?.why;
      if (why) found.push({ file, target, why });
    }
  }
  return found;
}

/** Why importing `target` from module `from` runs against the floors, or undefined when it does not. */
function floorBreak(from: (typeof MODULES)[number], target: string): string | undefined {
  const isRepoPath = /^(src|flows|adapters)\//.test(target);
  if (!isRepoPath) return target.startsWith('../') ? 'reaches outside the repository' : undefined;
  const to = moduleOf(target);
  if (!to) return 'imports a file on no floor';
  if (to === from || to.floor < from.floor) return undefined;
  if (to.floor === from.floor)
    return `${from.name} and ${to.name} share floor ${to.floor} and do not import each other`;
  return `upward import: ${from.name} (floor ${from.floor}) must not import ${to.name} (floor ${to.floor})`;
}

export const describeViolation = (v: Violation): string => `${v.file} -> ${v.target}`;

const ROOT = join(import.meta.dirname, '..', '..');

function sourcesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return sourcesUnder(path);
    return /\.(ts|js|mjs)$/.test(name) ? [path.split(sep).join('/')] : [];
  });
}

function readTree(): Record<string, string> {
  const paths = ['src', 'flows', 'adapters'].flatMap(sourcesUnder);
  return Object.fromEntries(paths.map((p) => [p, readFileSync(join(ROOT, p), 'utf8')]));
}

describe('boundaries', () => {
  const tree = readTree();
  const violations = findViolations(tree);

  it('no import runs up a floor, and every rule beside the floors holds', () => {
    const unexpected = violations.filter((v) => !KNOWN_VIOLATIONS.includes(describeViolation(v)));
    expect(unexpected.map((v) => `${describeViolation(v)}: ${v.why}`)).toEqual([]);
  });

  it('every known violation is still there (otherwise remove it from KNOWN_VIOLATIONS)', () => {
    const seen = new Set(violations.map(describeViolation));
    expect(KNOWN_VIOLATIONS.filter((k) => !seen.has(k))).toEqual([]);
  });

  it('reads every source file (the walk found the tree)', () => {
    expect(Object.keys(tree)).toEqual(expect.arrayContaining(['src/main.ts', 'src/errors.ts', 'src/store/client.ts']));
  });

  it('no sql.unsafe outside the migration runner', () => {
    const hits = Object.entries(tree).filter(([p, text]) => p !== 'src/store/migrate.ts' && /\.unsafe\(/.test(text));
    expect(hits.map(([p]) => p)).toEqual([]);
  });

  it('only config.ts reads process.env (PATH for child processes aside)', () => {
    const hits = Object.entries(tree).filter(
      ([p, text]) => p !== 'src/config.ts' && /process\.env(?!\.PATH\b)/.test(text),
    );
    expect(hits.map(([p]) => p)).toEqual([]);
  });
});

describe('the boundary checker', () => {
  const cases: { name: string; files: Record<string, string>; expected: string[] }[] = [
    {
      name: 'an upward import (the store importing the engine)',
      files: { 'src/store/x.ts': "import { y } from '../engine/y.ts';", 'src/engine/y.ts': 'export const y = 1;' },
      expected: ['src/store/x.ts -> src/engine/y.ts'],
    },
    {
      name: 'an upward `import type` spread over lines, and an export-from',
      files: {
        'src/chat/x.ts': "import type {\n  Row,\n} from '../store/row.ts';\nexport { z } from '../ops/z.ts';",
      },
      expected: ['src/chat/x.ts -> src/store/row.ts', 'src/chat/x.ts -> src/ops/z.ts'],
    },
    {
      name: 'steps and review importing each other',
      files: { 'src/review/x.ts': "import { t } from '../steps/tools/t.ts';" },
      expected: ['src/review/x.ts -> src/steps/tools/t.ts'],
    },
    {
      name: 'the engine importing config.ts',
      files: { 'src/engine/x.ts': "import type { Config } from '../config.ts';" },
      expected: ['src/engine/x.ts -> src/config.ts'],
    },
    {
      name: 'an adapter importing the store',
      files: { 'adapters/slack/x.ts': "import { sql } from '../../src/store/client.ts';" },
      expected: ['adapters/slack/x.ts -> src/store/client.ts'],
    },
    {
      name: 'the core importing a chat SDK, a flow importing postgres',
      files: {
        'src/review/x.ts': "import { App } from '@slack/bolt';",
        'flows/f.flow.ts': "import postgres from 'postgres';",
      },
      expected: ['src/review/x.ts -> @slack/bolt', 'flows/f.flow.ts -> postgres'],
    },
    {
      name: 'a file on no floor',
      files: { 'src/utils/x.ts': 'export const x = 1;' },
      expected: ['src/utils/x.ts -> src/utils/x.ts'],
    },
    {
      name: 'nothing, for imports that go down or stay in their module, and imports in comments or strings',
      files: {
        'src/engine/x.ts':
          "import { a } from './a.ts';\nimport type { Sql } from '../store/client.ts';\n// import '../main.ts'",
        'flows/f.flow.ts':
          "import { defineFlow } from '../src/authoring/index.ts';\nconst s = \"import '../src/main.ts'\";",
        'src/main.ts': "import { readConfig } from './config.ts';\nimport { a } from '../adapters/slack/a.ts';",
      },
      expected: [],
    },
  ];

  it.each(cases)('reports $name', ({ files, expected }) => {
    expect(findViolations(files).map(describeViolation)).toEqual(expected);
  });
});

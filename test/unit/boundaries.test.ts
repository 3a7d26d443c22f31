/**
 * The architecture as a test (STYLE §4, §5): adapters stay thin, the core
 * stays platform-free, flows stay pure, and raw SQL strings stay in migrations.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  const abs = join(ROOT, dir);
  return readdirSync(abs).flatMap((name) => {
    const path = join(abs, name);
    if (statSync(path).isDirectory()) return sources(relative(ROOT, path));
    return /\.(ts|js|mjs)$/.test(name) ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]!);
}

function offenders(dirs: string[], isBad: (spec: string, file: string) => boolean): string[] {
  return dirs.flatMap(sources).flatMap((file) =>
    importsOf(file).filter((spec) => isBad(spec, file)).map((spec) => `${relative(ROOT, file)} imports ${spec}`));
}

describe('boundaries', () => {
  it('adapters never import the engine or the store', () => {
    expect(offenders(['adapters'], (spec) => /src\/(engine|store)\b/.test(spec))).toEqual([]);
  });

  it('the core and flows never import a chat SDK', () => {
    expect(offenders(['src', 'flows'], (spec) => /^(@slack\/bolt|discord\.js)/.test(spec))).toEqual([]);
  });

  it('flows do no I/O: no postgres, openai or node networking', () => {
    expect(offenders(['flows'], (spec) => /^(postgres|openai|node:(http|https|net|fs))/.test(spec))).toEqual([]);
  });

  it('no sql.unsafe outside the migration runner', () => {
    const hits = ['src', 'flows', 'adapters'].flatMap(sources)
      .filter((f) => !f.endsWith(join('store', 'migrate.ts')) && /\.unsafe\(/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(ROOT, f));
    expect(hits).toEqual([]);
  });

  it('only config.ts reads process.env (PATH for child processes aside)', () => {
    const hits = ['src', 'flows', 'adapters'].flatMap(sources)
      .filter((f) => !f.endsWith(join('src', 'config.ts')) && /process\.env(?!\.PATH\b)/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(ROOT, f));
    expect(hits).toEqual([]);
  });
});

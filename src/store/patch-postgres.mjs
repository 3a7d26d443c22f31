/* global console, URL */
/**
 * postinstall: mends a defect of postgres.js 3.4.9 that takes the whole bot
 * down when Postgres restarts or a connection is cut (RELIABILITY 35; found by
 * test/e2e/pg-restart.test.ts). A small write is flushed from a setImmediate;
 * when the connection closed in between, `nextWrite` calls `socket.write` on
 * null and throws from the immediate, where no caller can catch it
 * (https://github.com/porsager/postgres/issues/1154, /issues/1208, PR #1209,
 * still open upstream). Teardown also clears that immediate without forgetting
 * it, so a reconnected connection never flushes a small write again.
 *
 * The mend, in each copy of connection.js (ESM, CommonJS, Cloudflare): with no
 * socket, drop the buffered write and reject what was waiting with
 * CONNECTION_CLOSED (a catchable error the engine already retries), and forget
 * the timer and the buffer at teardown. Idempotent; says so and leaves the file
 * alone when the code is not the 3.4.x it was written for (an upgrade: check
 * the upstream fix and delete this script).
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const MARK = '/* signoff: patched, see src/store/patch-postgres.mjs */';
const NEXT_WRITE = `  function nextWrite(fn) {
    const x = socket.write(chunk, fn)`;
const GUARDED = `  function nextWrite(fn) {
    ${MARK}
    if (!socket) {
      nextWriteTimer !== null && clearImmediate(nextWriteTimer)
      chunk = nextWriteTimer = null
      error(Errors.connection('CONNECTION_CLOSED', options))
      return false
    }
    const x = socket.write(chunk, fn)`;
const TEARDOWN = '    clearImmediate(nextWriteTimer)\n';
const FORGET = '    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n';

const root = path.join(fileURLToPath(new URL('../..', import.meta.url)), 'node_modules/postgres');
for (const rel of ['src/connection.js', 'cjs/src/connection.js', 'cf/src/connection.js']) {
  const file = path.join(root, rel);
  if (!existsSync(file)) continue;
  const text = readFileSync(file, 'utf8');
  if (text.includes(MARK)) continue;
  if (!text.includes(NEXT_WRITE) || text.split(TEARDOWN).length !== 3) {
    console.warn(
      `patch-postgres: ${rel} is not the code this mend was written for; left alone (see src/store/patch-postgres.mjs)`,
    );
    continue;
  }
  writeFileSync(file, text.replace(NEXT_WRITE, GUARDED).replaceAll(TEARDOWN, FORGET));
  console.log(`patch-postgres: mended ${rel}`);
}

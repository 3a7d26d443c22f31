/**
 * A process that starts an embedded Postgres and never stops it, for the orphan tests
 * in test/integration/store/embedded.test.ts: they SIGKILL this process and watch what
 * the server does. Prints one JSON line `{"port": N}` once the server is ready.
 * Usage: node --import tsx test/helpers/embedded-child.ts <dataDir>
 */
import { startEmbeddedPostgres } from '../../src/store/embedded.ts';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: embedded-child.ts <dataDir>');

const server = await startEmbeddedPostgres({ dataDir, durable: false });
process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
// The open server keeps this process alive until the test kills it.

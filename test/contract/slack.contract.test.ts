/**
 * The chat-port contract (RELIABILITY 45–61) run against the Slack adapter, through a fake Slack:
 * over signed HTTP requests, and over Socket Mode envelopes.
 */
import { chatPortContract } from './chat-port.contract.ts';
import { makeSlackDriver } from './slack-driver.ts';

chatPortContract('slack (HTTP)', (db) => makeSlackDriver(db, 'http'));
chatPortContract('slack (Socket Mode)', (db) => makeSlackDriver(db, 'socket'));

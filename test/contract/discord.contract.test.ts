/**
 * The chat-port contract (RELIABILITY 45–61) run against the Discord adapter, through a fake Discord:
 * over the gateway (INTERACTION_CREATE), and over signed HTTP interactions.
 */
import { chatPortContract } from './chat-port.contract.ts';
import { makeDiscordDriver } from './discord-driver.ts';

chatPortContract('discord (gateway)', (db) => makeDiscordDriver(db, 'gateway'));
chatPortContract('discord (HTTP interactions)', (db) => makeDiscordDriver(db, 'http'));

/** The chat-port contract (RELIABILITY 45–61) run against the local web chat. */
import { chatPortContract } from './chat-port.contract.ts';
import { makeConsoleDriver } from './console-driver.ts';

chatPortContract('console', makeConsoleDriver);

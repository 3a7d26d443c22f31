/**
 * The per-host circuit breaker (RELIABILITY 73) on an injected clock: it opens
 * after five failures in a row, fails fast with `retryLater` carrying the time
 * left, lets one trial through when the cool-off ends, and closes on success.
 */
import { describe, expect, it } from 'vitest';
import { isSignoffError } from '../../src/errors.ts';
import { CircuitBreaker } from '../../src/steps/tools/circuit.ts';

function breaker() {
  const clock = { now: 1_000_000 };
  return { clock, circuit: new CircuitBreaker({ coolOffMs: 30_000, now: () => clock.now }) };
}

function refusal(fn: () => void): { message: string; retryAfterMs: unknown } {
  try {
    fn();
  } catch (err) {
    if (!isSignoffError(err, 'step_failed')) throw err;
    return { message: err.message, retryAfterMs: err.details?.retryAfterMs };
  }
  throw new Error('expected a refusal');
}

function fail(circuit: CircuitBreaker, host: string, times: number) {
  for (let i = 0; i < times; i += 1) {
    circuit.admit(host);
    circuit.record(host, 'failure');
  }
}

describe('CircuitBreaker', () => {
  it('opens after five failures in a row and fails fast with the time left', () => {
    const { clock, circuit } = breaker();
    fail(circuit, 'api.example.com', 5);
    expect(circuit.stateOf('api.example.com')).toBe('open');
    clock.now += 10_000;
    const refused = refusal(() => circuit.admit('api.example.com'));
    expect(refused.message).toMatch(/circuit open/);
    expect(refused.retryAfterMs).toBe(20_000);
    expect(() => circuit.admit('other.example.com')).not.toThrow();
  });

  it('a success in between resets the count', () => {
    const { circuit } = breaker();
    fail(circuit, 'h', 4);
    circuit.admit('h');
    circuit.record('h', 'success');
    fail(circuit, 'h', 4);
    expect(circuit.stateOf('h')).toBe('closed');
  });

  it('half-open lets one trial through; its success closes the circuit', () => {
    const { clock, circuit } = breaker();
    fail(circuit, 'h', 5);
    clock.now += 30_000;
    expect(circuit.stateOf('h')).toBe('half-open');
    circuit.admit('h');
    expect(refusal(() => circuit.admit('h')).message).toMatch(/trial call is in flight/);
    circuit.record('h', 'success');
    expect(circuit.stateOf('h')).toBe('closed');
    expect(() => circuit.admit('h')).not.toThrow();
  });

  it('a failed trial opens it again for a full cool-off; a neutral one frees the trial', () => {
    const { clock, circuit } = breaker();
    fail(circuit, 'h', 5);
    clock.now += 30_000;
    circuit.admit('h');
    circuit.record('h', 'neutral');
    circuit.admit('h');
    circuit.record('h', 'failure');
    expect(refusal(() => circuit.admit('h')).retryAfterMs).toBe(30_000);
  });
});

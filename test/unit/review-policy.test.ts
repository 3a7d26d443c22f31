/**
 * The pure review core against RELIABILITY section E (cases 45–57): who may decide,
 * quorum and veto, races resolved by applying one verdict and re-judging the other,
 * expiry, and edits that invalidate earlier approvals. The store will add the
 * conditional writes and audit rows; here we pin the decisions and the exact words.
 */
import { describe, expect, it } from 'vitest';
import { isSignoffError } from '../../src/errors.ts';
import {
  applyDecision,
  applyEdit,
  applyExpiry,
  contentSha256,
  judgeClick,
  parsePolicy,
  tally,
  type ClickVerdict,
  type ReviewClick,
  type ReviewPolicy,
  type ReviewState,
} from '../../src/review/policy.ts';

/** 14:MM:SS UTC on a fixed day: the DB clock as the store would pass it. */
const at = (minute: number, second = 0) =>
  `2026-03-02T14:${String(minute).padStart(2, '0')}:${String(second).padStart(2, '0')}.000Z`;

function pending(overrides: Partial<ReviewState> = {}): ReviewState {
  return {
    version: 1,
    contentSha256: contentSha256({ draft: 'v1' }),
    requestedBy: 'REQ',
    status: 'pending',
    decisions: [],
    ...overrides,
  };
}

function click(reviewer: string, overrides: Partial<ReviewClick> = {}): ReviewClick {
  return { reviewer, action: 'approve', version: 1, at: at(2), reviewerGroups: [], ...overrides };
}

/** Judges a click that must be accepted and records it, as the store's write would. */
function decide(policy: ReviewPolicy, state: ReviewState, c: ReviewClick): ReviewState {
  const verdict = judgeClick(policy, state, c);
  if (verdict.kind !== 'accepted') throw new Error(`expected accepted, got ${JSON.stringify(verdict)}`);
  return applyDecision(policy, state, verdict.decision);
}

const refused = (code: string, message: string): ClickVerdict => ({ kind: 'refused', code, message }) as ClickVerdict;

describe('parsePolicy', () => {
  it('fills the documented defaults', () => {
    expect(parsePolicy({})).toEqual({
      approvers: {},
      quorum: 1,
      vetoOnReject: true,
      allowSelfApproval: false,
      allowEdit: true,
      editorMayApprove: false,
    });
  });

  it('deduplicates ids and orders reminders earliest first', () => {
    const policy = parsePolicy({
      approvers: { users: ['A', 'A', 'B'] },
      expiresInMs: 60_000,
      remindAtMs: [10_000, 30_000, 10_000],
    });
    expect([policy.approvers.users, policy.remindAtMs]).toEqual([
      ['A', 'B'],
      [30_000, 10_000],
    ]);
  });

  it('51: rejects an unsatisfiable quorum when the request is created, counting each user once', () => {
    for (const users of [
      ['A', 'B'],
      ['A', 'A', 'B'],
    ]) {
      try {
        parsePolicy({ approvers: { users }, quorum: 3 });
        expect.unreachable();
      } catch (err) {
        expect(isSignoffError(err, 'flow_invalid')).toBe(true);
        expect((err as Error).message).toBe(
          'review policy is invalid: unsatisfiable quorum: 3 approvals needed but only 2 approvers listed',
        );
      }
    }
    // A group can hold any number of people, so the same quorum is fine with one.
    expect(parsePolicy({ approvers: { users: ['A'], groups: ['leads'] }, quorum: 3 }).quorum).toBe(3);
  });

  it('reports every problem at once, schema and meaning', () => {
    expect(() => parsePolicy({ quorum: 0, colour: 'red' })).toThrow(/quorum: .*; policy: Unrecognized key: "colour"/);
    expect(() => parsePolicy({ remindAtMs: [1000], defaultDecision: 'approve' })).toThrow(
      'review policy is invalid: remindAtMs needs expiresInMs; defaultDecision needs expiresInMs',
    );
    expect(() => parsePolicy({ expiresInMs: 1000, remindAtMs: [1000] })).toThrow(
      /every reminder must come before expiry/,
    );
  });
});

describe('judgeClick: who may decide', () => {
  it('45: the requester cannot approve their own run, and nothing changes', () => {
    const state = pending();
    const before = structuredClone(state);
    expect(judgeClick(parsePolicy({}), state, click('REQ'))).toEqual(
      refused('self_approval', 'you requested this run'),
    );
    expect(state).toEqual(before);
  });

  it('45: self-approval is accepted when the policy allows it, and then counts', () => {
    const verdict = judgeClick(parsePolicy({ allowSelfApproval: true }), pending(), click('REQ'));
    expect(verdict).toMatchObject({
      kind: 'accepted',
      outcome: 'approved',
      tally: { approvals: 1, needed: 1, rejections: 0 },
    });
  });

  it('46: someone not on the list or in the group is refused, naming what they lack', () => {
    const state = pending();
    expect(
      judgeClick(
        parsePolicy({ approvers: { groups: ['release-managers'] } }),
        state,
        click('U9', { reviewerGroups: ['support'] }),
      ),
    ).toEqual(refused('not_allowed', 'you are not in release-managers'));
    expect(judgeClick(parsePolicy({ approvers: { users: ['A'] } }), state, click('U9'))).toEqual(
      refused('not_allowed', 'you are not on the approver list'),
    );
    expect(
      judgeClick(
        parsePolicy({ approvers: { users: ['A'], groups: ['ops', 'sre'] } }),
        state,
        click('U9', { action: 'reject' }),
      ),
    ).toEqual(refused('not_allowed', 'you are not on the approver list or in ops or sre'));
  });

  it('47: the live lookup decides: a member removed since the card was posted is refused', () => {
    const policy = parsePolicy({ approvers: { groups: ['release-managers'] } });
    expect(judgeClick(policy, pending(), click('U1', { reviewerGroups: ['release-managers'] })).kind).toBe('accepted');
    expect(judgeClick(policy, pending(), click('U1', { reviewerGroups: [] }))).toEqual(
      refused('not_allowed', 'you are not in release-managers'),
    );
  });

  it('48: a failed group lookup fails closed, never approves', () => {
    const policy = parsePolicy({ approvers: { users: ['A'], groups: ['release-managers'] } });
    expect(judgeClick(policy, pending(), click('U1', { reviewerGroups: 'lookup_failed' }))).toEqual(
      refused('lookup_failed', "couldn't check your groups just now; please try again"),
    );
    // A user listed by id needs no lookup, so its failure does not matter.
    expect(judgeClick(policy, pending(), click('A', { reviewerGroups: 'lookup_failed' })).kind).toBe('accepted');
  });
});

describe('judgeClick: races and duplicates', () => {
  it('49: two approvers at once, quorum 1: the first write wins, the second is told who and when', () => {
    const policy = parsePolicy({});
    const state = pending();
    const first = click('A', { at: at(2, 10) });
    const second = click('B', { at: at(2, 11) });
    expect(judgeClick(policy, state, second).kind).toBe('accepted');
    const decided = decide(policy, state, first);
    expect(decided.status).toBe('approved');
    expect(judgeClick(policy, decided, second)).toEqual(
      refused('already_decided', 'already approved by <@A> at 14:02'),
    );
  });

  it('50: the same user twice counts once; after the outcome every click is already decided', () => {
    const policy = parsePolicy({ quorum: 2 });
    const once = decide(policy, pending(), click('A'));
    expect(judgeClick(policy, once, click('A', { at: at(3) }))).toEqual(
      refused('duplicate', 'you already approved this at 14:02'),
    );
    expect(tally(policy, once)).toEqual({ approvals: 1, needed: 2, rejections: 0 });
    const approved = decide(policy, once, click('B', { at: at(7) }));
    expect(approved.status).toBe('approved');
    expect(judgeClick(policy, approved, click('A', { at: at(8) }))).toEqual(
      refused('already_decided', 'already approved by <@A> and <@B> at 14:07'),
    );
  });

  it('52: approve vs reject: whichever is applied first wins and the other is told', () => {
    const policy = parsePolicy({});
    const approve = click('A', { at: at(3) });
    const reject = click('B', { action: 'reject', at: at(3), reason: 'wrong customer' });
    const rejected = decide(policy, pending(), reject);
    expect([rejected.status, rejected.decisions[0]?.reason]).toEqual(['rejected', 'wrong customer']);
    expect(judgeClick(policy, rejected, approve)).toEqual(
      refused('already_decided', 'already rejected by <@B> at 14:03'),
    );
    const approved = decide(policy, pending(), approve);
    expect(judgeClick(policy, approved, reject)).toEqual(
      refused('already_decided', 'already approved by <@A> at 14:03'),
    );
  });
});

describe('judgeClick: quorum 2-of-3 (51)', () => {
  const policy = parsePolicy({ approvers: { users: ['A', 'B', 'C'] }, quorum: 2 });

  it('two distinct approvers decide it', () => {
    const one = decide(policy, pending(), click('A'));
    expect(one.status).toBe('pending');
    const verdict = judgeClick(policy, one, click('B', { at: at(4) }));
    expect(verdict).toMatchObject({
      kind: 'accepted',
      outcome: 'approved',
      tally: { approvals: 2, needed: 2, rejections: 0 },
    });
  });

  it('the requester and the last editor do not count', () => {
    const state = pending({ requestedBy: 'A', version: 2, lastEditor: 'B' });
    expect(judgeClick(policy, state, click('A', { version: 2 }))).toEqual(
      refused('self_approval', 'you requested this run'),
    );
    expect(judgeClick(policy, state, click('B', { version: 2 }))).toEqual(
      refused('editor_cannot_approve', 'you edited this version, so someone else must approve it'),
    );
    // Even if such decisions were recorded, the tally leaves them out.
    const recorded = {
      ...state,
      decisions: ['A', 'B', 'C'].map((reviewer) => ({ reviewer, decision: 'approve' as const, version: 2, at: at(3) })),
    };
    expect(tally(policy, recorded)).toEqual({ approvals: 1, needed: 2, rejections: 0 });
  });

  it('one reject vetoes; without veto a rejection needs the quorum too', () => {
    const one = decide(policy, pending(), click('A'));
    expect(judgeClick(policy, one, click('C', { action: 'reject' }))).toMatchObject({
      kind: 'accepted',
      outcome: 'rejected',
    });
    const noVeto = parsePolicy({ approvers: { users: ['A', 'B', 'C'] }, quorum: 2, vetoOnReject: false });
    const rejectedOnce = decide(noVeto, pending(), click('C', { action: 'reject' }));
    expect([rejectedOnce.status, tally(noVeto, rejectedOnce)]).toEqual([
      'pending',
      { approvals: 0, needed: 2, rejections: 1 },
    ]);
    expect(decide(noVeto, rejectedOnce, click('B', { action: 'reject' })).status).toBe('rejected');
  });
});

describe('expiry (53)', () => {
  const policy = parsePolicy({ expiresInMs: 5 * 60_000 });
  const state = pending({ expiresAt: at(5) });

  it('a click at or after expiresAt is refused as expired, even before the sweeper runs', () => {
    expect(judgeClick(policy, state, click('A', { at: at(5) }))).toEqual(
      refused('expired', 'this review expired at 14:05'),
    );
    expect(judgeClick(policy, state, click('A', { at: '2026-03-02T14:04:59.999Z' })).kind).toBe('accepted');
  });

  it('expires exactly once, and later clicks are told it expired', () => {
    expect(applyExpiry(policy, state, at(4))).toBe(state);
    const expired = applyExpiry(policy, state, at(5));
    expect(expired.status).toBe('expired');
    expect(applyExpiry(policy, expired, at(9))).toBe(expired);
    expect(judgeClick(policy, expired, click('A', { at: at(6) }))).toEqual(
      refused('expired', 'this review expired at 14:05'),
    );
  });

  it('applies the default decision at expiry and says so', () => {
    const byDefault = parsePolicy({ expiresInMs: 5 * 60_000, defaultDecision: 'approve' });
    const approved = applyExpiry(byDefault, state, at(6));
    expect(approved.status).toBe('approved');
    expect(judgeClick(byDefault, approved, click('A', { at: at(7) }))).toEqual(
      refused('already_decided', 'already approved by default at 14:05'),
    );
  });
});

describe('edits (56, 57)', () => {
  const policy = parsePolicy({ quorum: 2 });

  it('an edit makes version + 1 and earlier approvals stop counting', () => {
    const approvedOnce = decide(policy, pending(), click('A'));
    expect(judgeClick(policy, approvedOnce, click('B', { action: 'edit' }))).toEqual({
      kind: 'edit_allowed',
      tally: { approvals: 1, needed: 2, rejections: 0 },
    });
    const edited = applyEdit(approvedOnce, { editor: 'B', newContentSha256: contentSha256({ draft: 'v2' }) });
    expect([edited.version, edited.lastEditor, edited.contentSha256]).toEqual([2, 'B', contentSha256({ draft: 'v2' })]);
    expect(tally(policy, edited)).toEqual({ approvals: 0, needed: 2, rejections: 0 });
  });

  it('57: approving the old version after the edit committed is stale', () => {
    const edited = applyEdit(pending(), { editor: 'B', newContentSha256: contentSha256({ draft: 'v2' }) });
    expect(judgeClick(policy, edited, click('A', { version: 1 }))).toEqual(
      refused('stale_version', 'this card is out of date: the draft was edited, so review the new version'),
    );
    expect(judgeClick(policy, edited, click('A', { version: 2 })).kind).toBe('accepted');
  });

  it('a version no card ever showed is named as such, not as an edit someone missed', () => {
    expect(judgeClick(policy, pending(), click('A', { version: 99 }))).toEqual(
      refused('stale_version', 'this card names version 99, which does not exist (the latest is 1); reload the card'),
    );
  });

  it('56: the editor cannot approve their own edit unless the policy allows it', () => {
    const edited = applyEdit(pending(), { editor: 'B', newContentSha256: contentSha256({ draft: 'v2' }) });
    expect(judgeClick(policy, edited, click('B', { version: 2 })).kind).toBe('refused');
    expect(judgeClick(parsePolicy({ editorMayApprove: true }), edited, click('B', { version: 2 }))).toMatchObject({
      kind: 'accepted',
      outcome: 'approved',
    });
  });

  it('56: a decided review cannot be edited; a policy can forbid edits', () => {
    const approved = decide(parsePolicy({}), pending(), click('A'));
    expect(judgeClick(policy, approved, click('B', { action: 'edit' })).kind).toBe('refused');
    expect(() => applyEdit(approved, { editor: 'B', newContentSha256: 'x' })).toThrow(/already decided/);
    expect(judgeClick(parsePolicy({ allowEdit: false }), pending(), click('B', { action: 'edit' }))).toEqual(
      refused('edit_not_allowed', 'editing is not allowed for this review'),
    );
  });

  it('an edit that changes nothing keeps the version and its approvals', () => {
    const state = decide(policy, pending(), click('A'));
    expect(applyEdit(state, { editor: 'B', newContentSha256: state.contentSha256 })).toBe(state);
  });
});

describe('contentSha256', () => {
  it('hashes canonical JSON: key order does not matter, content does', () => {
    const a = contentSha256({ b: 1, a: { d: [1, 2], c: 'x' } });
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(contentSha256({ a: { c: 'x', d: [1, 2] }, b: 1 })).toBe(a);
    expect(contentSha256({ a: { c: 'x', d: [2, 1] }, b: 1 })).not.toBe(a);
  });
});

/**
 * The one module a flow file imports. A flow is an XState machine made with
 * this module's `setup`, whose actors are its steps and reviews, each declared
 * once; `defineFlow` reads them back from the machine. See README "Write a flow".
 */
export { defineFlow, effect, type FlowDefinition, type FlowTrigger } from './define.ts';
export type { ScheduleSlot, ScheduleTrigger } from '../triggers/schedules.ts';
export type { Digest, DigestTarget } from '../steps/reports.ts';
export {
  review,
  type ProposedToolCall,
  type Review,
  type ReviewApproved,
  type ReviewContent,
  type ReviewEvent,
  type ReviewExpired,
  type ReviewOutcome,
  type ReviewRejected,
  type ReviewRequest,
} from './review.ts';
export { setup, type ReviewEventsOf } from './setup.ts';
export {
  modelStep,
  step,
  toolStep,
  type ModelStepOptions,
  type ModelStepOutput,
  type Step,
  type StepContext,
  type StepLimits,
} from './steps.ts';
export {
  blockedError,
  permanentError,
  retryLater,
  type Flow,
  type TriggerSpec,
  type WebhookTrigger,
} from '../engine/flow.ts';
export { assign } from 'xstate';

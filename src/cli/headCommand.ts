/**
 * `finetune --head` / `--head-only`: trains the acceptance head for a model (the base, a base with
 * an adapter, or a fully fine-tuned checkpoint) on the pipeline's own suggestions at cuts of the
 * folder's TRAINING files (the same split as finetune and quality with the same seed), and writes
 * head.safetensors + head.json into --out, next to the adapter when there is one.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readOutcomeLog } from '../completion/outcomeLog';
import { UserError } from '../engine/errors';
import { splitWorkspace } from '../quality/workspaceSplit';
import type { HeadTrainer } from '../training/fineTune';
import type { HeadJson } from '../training/fineTuneProtocol';
import { AcceptanceHead, loadAcceptanceHead, type HeadMeta } from '../training/head/acceptanceHead';
import { adaptChoiceRule, compareHeads, type ChoiceExample } from '../completion/context/ruleAdaptation';
import { usableRule } from '../completion/context/candidateChoice';
import { describeHead } from '../training/head/headMetrics';
import { collectLogExamples } from './headLogExamples';
import { collectHeadExamples, isValidationFile, trainAcceptanceHead, type Labelling } from './headTraining';
import { openPipelineRunner } from './pipelineRunner';

/** Cuts of the training files the head learns from. */
export const DEFAULT_HEAD_CUTS = 500;

export interface HeadJob {
  readonly folder: string;
  /** As --model takes it (embedded, a preset or a folder). */
  readonly model?: string;
  /** An adapter the states come from (its head is trained for it). */
  readonly adapter?: string;
  readonly out: string;
  readonly seed: number;
  readonly cuts: number;
  readonly include?: string[];
  readonly exclude?: string[];
  readonly device?: string;
  readonly threads?: string;
  readonly labelling?: Labelling;
  /** GPT-1's λ, recorded in head.json (the frozen transformer makes it irrelevant to the head). */
  readonly lambda?: number;
  /** The editor's accept/reject log: its requests become examples too (headLogExamples.ts). */
  readonly suggestionLog?: string;
  /**
   * The folder whose head's workspace-candidate rule the new head keeps (default: the checkpoint the
   * states come from). The rule reads no model state, so a head trained for an adapter or a fully
   * fine-tuned copy can carry its base's; without one the workspace candidates would be off.
   */
  readonly ruleFrom?: string;
  /** Adapt that rule to the folder's cuts (ruleAdaptation.ts; default true): slower collection, since every candidate is read. */
  readonly adaptRule?: boolean;
  readonly signal?: AbortSignal;
  /** Requests asked so far of all the head needs (cuts, then the log's). */
  readonly onProgress?: (done: number, total: number) => void;
}

export async function trainHeadJob(job: HeadJob, log: (line: string) => void = (l) => process.stderr.write(l + '\n')): Promise<HeadJson> {
  const t0 = performance.now();
  const split = await splitWorkspace(job.folder, { seed: job.seed, include: job.include, exclude: job.exclude });
  if (split.train.length === 0) throw new UserError(`finetune --head: no training files in ${split.folder}`);
  const runner = await openPipelineRunner('finetune', {
    model: job.model, adapter: job.adapter, device: job.device, threads: job.threads, workspace: split.folder, 'no-head': true, 'min-confidence': '0',
  });
  try {
    const E = runner.loaded.engine.model.config.nEmbd;
    log(`head: the completion pipeline at ${job.cuts} cuts of ${split.train.length} training files…`);
    const logged = job.suggestionLog === undefined ? { outcomes: [], malformed: 0 } : readOutcomeLog(job.suggestionLog);
    const total = job.cuts + logged.outcomes.length;
    const progress = (offset: number, what: string) => (done: number, of: number) => {
      job.onProgress?.(offset + done, total);
      if (done % 100 === 0 || done === of) log(`head: ${done}/${of} ${what}`);
    };
    const ruleHead = loadAcceptanceHead(job.ruleFrom ?? runner.loaded.checkpointDir, E);
    const baseRule = (ruleHead?.meta as { candidates?: unknown } | undefined)?.candidates;
    // With a rule to adapt, the workspace candidates are offered at each cut too (read by the model: slower).
    const adaptRule = job.adaptRule !== false && usableRule(baseRule) && baseRule.hidden !== undefined;
    const examples = await collectHeadExamples(runner, split.folder, split.train, job.cuts, job.seed + 1, progress(0, 'cuts'), job.signal, adaptRule);
    if (logged.outcomes.length > 0) log(`head: ${logged.outcomes.length} requests of the suggestion log${logged.malformed > 0 ? ` (${logged.malformed} unreadable lines left out)` : ''}…`);
    const fromLog = await collectLogExamples(runner, logged.outcomes, progress(job.cuts, 'logged requests'), job.signal);
    examples.push(...fromLog);
    const scored = examples.filter((e) => e.state !== undefined);
    if (scored.length < 20) {
      throw new UserError(`finetune --head: only ${scored.length} suggestions were shown at ${examples.length} cuts of ${split.folder}'s training files; a head needs at least 20 (add code files, or raise --head-cuts)`);
    }
    const cutsOf = `${examples.length - fromLog.length} cuts of the training files of ${path.basename(split.folder)} (seed ${job.seed})`;
    const trained = trainAcceptanceHead(examples, E, {
      labelling: job.labelling, lambda: job.lambda ?? 0,
      candidates: baseRule,
      trainedOn: cutsOf + (fromLog.length > 0 ? ` and ${fromLog.length} requests of the editor's suggestion log` : ''),
    });
    let head = trained.head;
    let rule: HeadJson['rule'];
    let headChoice: HeadJson['head'];
    if (adaptRule) {
      const choices: ChoiceExample[] = examples.flatMap((e) => (e.choice === undefined ? [] : [{ file: e.file, expected: e.expected, ...e.choice }]));
      if (ruleHead !== undefined) {
        // The base model's head (fitted on many repositories) against the one these cuts trained, on held-back files.
        const held = choices.filter((e) => isValidationFile(e.file));
        const c = compareHeads(baseRule, held, (x) => ruleHead.suggestion(x), trained.validationP);
        headChoice = { kept: c.trainedHelps ? 'trained' : 'base', validationCuts: c.cuts, base: c.base, trained: c.trained };
        if (!c.trainedHelps) head = new AcceptanceHead(ruleHead.suggestionHead, ruleHead.promptHead, { ...ruleHead.meta, candidates: baseRule } as HeadMeta);
      }
      // The rule reads the head's P of each candidate: it is adapted with the head it will run with.
      const adapted = adaptChoiceRule(baseRule, choices, {
        headP: (x) => head.suggestion(x),
        isValidation: (e) => isValidationFile(e.file),
        trainedOn: `adapted from ${baseRule.trainedOn ?? 'the base model\'s rule'} on ${cutsOf}`,
      });
      const v = adapted.validation;
      rule = { adapted: adapted.adapted, cuts: adapted.cuts, validationCuts: v.cuts, baseNll: v.baseNll, adaptedNll: v.adaptedNll, baseRight: v.baseRight, adaptedRight: v.adaptedRight, baseWrong: v.baseWrong, adaptedWrong: v.adaptedWrong };
      head = new AcceptanceHead(head.suggestionHead, head.promptHead, { ...head.meta, candidates: adapted.rule } as HeadMeta);
    }
    fs.mkdirSync(job.out, { recursive: true });
    head.save(job.out);
    const result: HeadJson = {
      out: job.out, examples: trained.head.meta.examples, exact: trained.head.meta.positives,
      fromSuggestionLog: fromLog.filter((e) => e.state !== undefined).length, validation: trained.validation,
      skipBelow: head.meta.skipBelow, seconds: (performance.now() - t0) / 1000,
      ...(rule !== undefined ? { rule } : {}),
      ...(headChoice !== undefined ? { head: headChoice } : {}),
    };
    log(`${describeHead(result)}; wrote ${path.join(job.out, 'head.safetensors')}`);
    return result;
  } finally {
    await runner.dispose();
  }
}

/** The fine-tuning run's head trainer (src/fineTuneChild.ts passes it in): trainHeadJob for what the run wrote. */
export const pipelineHeadTrainer: HeadTrainer = (request) =>
  trainHeadJob(
    {
      folder: request.folder, model: request.model, adapter: request.adapter, out: request.out, seed: request.seed,
      cuts: request.cuts ?? DEFAULT_HEAD_CUTS, include: request.include, exclude: request.exclude, device: request.device,
      threads: request.threads === undefined ? undefined : String(request.threads), lambda: request.lambda,
      suggestionLog: request.suggestionLog, ruleFrom: request.base, signal: request.signal, onProgress: request.onProgress,
    },
    // The run reports progress through its messages; these lines would go nowhere in the child.
    () => undefined,
  );

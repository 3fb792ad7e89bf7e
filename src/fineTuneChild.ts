/**
 * Entry of the fine-tuning child process (bundled to dist/fineTuneProcess.js): training's process
 * loop (src/training/fineTuneProcess.ts) with the completion-quality judge and the acceptance-head
 * trainer, which run the editor's pipeline and so live above training.
 */
import { pipelineQualityJudge } from './cli/fineTuneQuality';
import { pipelineHeadTrainer } from './cli/headCommand';
import { serveFineTune } from './training/fineTuneProcess';

serveFineTune({ judge: pipelineQualityJudge, trainHead: pipelineHeadTrainer });
